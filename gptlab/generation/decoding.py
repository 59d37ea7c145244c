"""Text generation: sampling (temperature, top-k, top-p), stop strings, n samples, and the KV cache.

    from gptlab.generation import generate, stream
    [completion] = generate(model, "ROMEO:", max_tokens=40, temperature=0.8, top_p=0.95, stop="\\n\\n",
                            seed=0, tokenizer=tok)
    completion.text, completion.token_ids, completion.finish_reason      # finish_reason: "stop" | "length"
    for chunk in stream(model, "ROMEO:", max_tokens=40, tokenizer=tok):  # the same, one token at a time
        print(chunk.text, end="")

The arguments mean what they mean in the completions APIs of hosted models (prompt, max_tokens, n, stop,
temperature, top_p). A GPT scores the next token; generating is a loop: score, turn the scores into a
distribution (temperature, then top-k, then top-p), draw a token, append it, repeat.

The KV cache: in a causal model the keys and values of a position never change once computed, so each
attention layer keeps them (`KVCache`), and each new token costs the work of one position instead of the
whole prefix. With learned absolute positions the window cannot slide: past `block_size` tokens the cache
is rebuilt from the last `block_size` tokens, exactly what the uncached loop sees.

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from gptlab.data.batches import is_integer_dtype
from gptlab.generation.loop import Decoder, Sampling
from gptlab.generation.sampling import _is_int
from gptlab.generation.text import IncrementalDecoder

__all__ = ["Chunk", "Completion", "generate", "stream"]

FINISH_REASONS = ("stop", "length")


# --- results ------------------------------------------------------------------------------------------


@dataclass
class Completion:
    """One generated sample: its token ids, its text (None without a tokenizer) and why it stopped.

    finish_reason is "stop" (a stop string appeared; neither text nor token_ids include it) or "length"
    (max_tokens reached). With a stop string, `text` ends exactly before it; `token_ids` keep the tokens
    that lie wholly before it, so a token holding both text and the start of the stop string is left out
    of token_ids while its leading text stays in `text`.

    Taught in: solutions/08_generation.ipynb
    """

    index: int
    token_ids: list[int]
    text: str | None
    finish_reason: str


@dataclass
class Chunk:
    """One piece of a streamed completion: new text and the ids it came from, for sample `index`.

    Joining the chunks of one index gives exactly its Completion's text and token_ids. Text that might be
    the start of a stop string, or half a UTF-8 character, is held back until it is known not to be.
    The last chunk of a sample has finish_reason set (otherwise None).

    Taught in: solutions/08_generation.ipynb
    """

    index: int
    text: str
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None


# --- input checks -----------------------------------------------------------------------------------


def _check_stop(stop, tokenizer) -> list[str]:
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, (list, tuple)) or not all(isinstance(s, str) for s in stops):
        raise TypeError(f"stop must be a string or a list of strings; got {stop!r}")
    if any(s == "" for s in stops):
        raise ValueError("a stop string must not be empty (it would stop before the first token)")
    if stops and tokenizer is None:
        raise ValueError("stop strings are matched in the decoded text: pass tokenizer=... as well")
    return list(dict.fromkeys(stops))


def _prompt_tensor(prompt_ids, tokenizer, vocab_size: int) -> torch.Tensor:
    hint = ("a GPT needs at least one token to predict from; to start from nothing, give it the "
            "<|endoftext|> token, e.g. tokenizer.encode('<|endoftext|>', allowed_special='all')")
    if isinstance(prompt_ids, str):
        if tokenizer is None:
            raise TypeError("prompt_ids is a string: pass tokenizer=... to encode it, or pass token ids")
        if prompt_ids == "":
            raise ValueError(f"the prompt is empty: {hint}")
        prompt_ids = tokenizer.encode(prompt_ids)
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dim() == 2 and prompt_ids.shape[0] == 1:
            prompt_ids = prompt_ids[0]
        if prompt_ids.dim() != 1 or not is_integer_dtype(prompt_ids.dtype):
            raise TypeError(f"prompt_ids must be a 1-D tensor (or list) of integer token ids; got {prompt_ids.dtype} "
                            f"of shape {tuple(prompt_ids.shape)} (use n=... for several samples of one prompt)")
        ids = prompt_ids.detach().cpu().long()
    elif isinstance(prompt_ids, Sequence) and all(_is_int(i) for i in prompt_ids):
        ids = torch.tensor(list(prompt_ids), dtype=torch.long)
    else:
        raise TypeError(f"prompt_ids must be a list of int token ids, a 1-D tensor, or a string with tokenizer=...; "
                        f"got {type(prompt_ids).__name__}")
    if ids.numel() == 0:
        raise ValueError(f"the prompt is empty: {hint}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise ValueError(f"prompt token id {bad} is outside the model's vocabulary 0..{vocab_size - 1}")
    return ids


# --- the text side of each sample ------------------------------------------------------------------


class _Sample:
    """The text-side state of one of the n samples: decoder, stop matching, what has been released."""

    def __init__(self, index: int, tokenizer, stops: list[str]):
        self.index, self.stops = index, stops
        self.decoder = IncrementalDecoder(tokenizer) if tokenizer is not None else None
        self.ids: list[int] = []
        self.text = ""  # complete characters decoded so far
        self.ends: list[int | None] = []  # per token: len(text) after it if it ends on a character boundary
        self.released_text = 0  # how much of text has been streamed
        self.released_ids = 0
        self.finish_reason: str | None = None

    def _ids_before(self, position: int) -> int:
        """How many leading tokens lie wholly before `position` in the text (ending on a character boundary)."""
        count = 0
        for i, end in enumerate(self.ends):
            if end is not None and end <= position:
                count = i + 1
            elif end is not None:
                break
        return count

    def push(self, token: int, last: bool) -> Chunk:
        self.ids.append(token)
        if self.decoder is None:  # ids only
            self.released_ids = len(self.ids)
            self.finish_reason = "length" if last else None
            return Chunk(self.index, "", [token], self.finish_reason)
        old = len(self.text)
        self.text += self.decoder.push(token)
        self.ends.append(len(self.text) if self.decoder.at_boundary else None)
        cut = None
        if self.stops:
            longest = max(len(s) for s in self.stops)
            start = max(0, old - longest + 1)  # a stop string may begin in text that came before this token
            found = [p for p in (self.text.find(s, start) for s in self.stops) if p >= 0]
            cut = min(found) if found else None
        if cut is not None:
            self.text, self.finish_reason = self.text[:cut], "stop"
            self.ids = self.ids[:self._ids_before(cut)]
            safe = cut
        elif last:
            self.text += self.decoder.finish()
            self.finish_reason, safe = "length", len(self.text)
        else:
            safe = len(self.text) - self._held_back()
        if self.finish_reason == "length":
            id_count = len(self.ids)
        else:
            id_count = max(self.released_ids, self._ids_before(safe))
        chunk = Chunk(self.index, self.text[self.released_text:safe], self.ids[self.released_ids:id_count], self.finish_reason)
        self.released_text, self.released_ids = max(self.released_text, safe), id_count
        return chunk

    def finish(self) -> Chunk:
        """The sample drew a stop id: it ends here, and any text held back for a stop string is released."""
        self.text += self.decoder.finish() if self.decoder is not None else ""
        self.finish_reason = "stop"
        chunk = Chunk(self.index, self.text[self.released_text:], self.ids[self.released_ids:], "stop")
        self.released_text, self.released_ids = len(self.text), len(self.ids)
        return chunk

    def _held_back(self) -> int:
        """Length of the longest end of the text that could be the beginning of a stop string."""
        for size in range(min(len(self.text), max((len(s) for s in self.stops), default=1) - 1), 0, -1):
            tail = self.text[-size:]
            if any(s.startswith(tail) for s in self.stops):
                return size
        return 0


def stream(model, prompt_ids, max_tokens: int = 16, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, n: int = 1, stop: str | Sequence[str] | None = None, seed: int | None = None,
           use_cache: bool = True, tokenizer=None, *, stop_ids: Sequence[int] = (),
           allowed_ids: Sequence[int] | None = None) -> Iterator[Chunk]:
    """generate(), one token at a time: yields a Chunk per sample and step, the last one with finish_reason.

    The n samples run as one batch; a sample that has finished yields nothing more. Arguments as generate().

    Taught in: solutions/08_generation.ipynb
    """
    if not hasattr(model, "config") or not hasattr(model.config, "block_size"):
        raise TypeError(f"model must be a gptlab GPT (with .config.block_size); got {type(model).__name__}")
    sampling = Sampling(temperature, top_k, top_p, tuple(allowed_ids) if allowed_ids is not None else None)
    if not _is_int(max_tokens) or max_tokens < 0:
        raise ValueError(f"max_tokens must be an int >= 0; got {max_tokens!r}")
    if not _is_int(n) or n < 1:
        raise ValueError(f"n (the number of samples) must be an int >= 1; got {n!r}")
    if seed is not None and not _is_int(seed):
        raise TypeError(f"seed must be an int or None; got {seed!r}")
    stops = _check_stop(stop, tokenizer)
    prompt = _prompt_tensor(prompt_ids, tokenizer, model.config.vocab_size)
    if not all(_is_int(i) for i in stop_ids):
        raise TypeError(f"stop_ids must be token ids (ints); got {stop_ids!r}")
    return _stream(model, prompt, max_tokens, sampling, n, stops, frozenset(stop_ids), seed, use_cache, tokenizer)


def _stream(model, prompt, max_tokens, sampling, n, stops, stop_ids, seed, use_cache, tokenizer) -> Iterator[Chunk]:
    samples = [_Sample(i, tokenizer, stops) for i in range(n)]
    if max_tokens == 0:
        for sample in samples:
            yield Chunk(sample.index, "", [], "length")
        return
    generator = None
    if seed is not None:  # a private generator: the same seed gives the same text, whatever ran before
        generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    was_training = model.training
    model.eval()  # no dropout while generating; the mode is restored at the end
    # The n samples are n rows of one batch that draw together; a finished one keeps its row (unread) until all
    # are done, so the same seed gives the same n texts whatever stops when.
    decoder = Decoder(model, n, use_cache=use_cache)
    decoder.add([prompt.tolist()] * n, sampling, max_tokens, stop_ids=stop_ids, generator=generator)
    try:
        for step in range(max_tokens):
            last = step + 1 == max_tokens
            for sample, (row, token) in zip(samples, decoder.step()):
                if sample.finish_reason is None:
                    chunk = sample.finish() if token in stop_ids else sample.push(token, last)
                    if chunk.text or chunk.token_ids or chunk.finish_reason:
                        yield chunk
            if all(s.finish_reason for s in samples):
                break
    finally:
        model.train(was_training)


def generate(model, prompt_ids, max_tokens: int = 16, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, n: int = 1, stop: str | Sequence[str] | None = None, seed: int | None = None,
             use_cache: bool = True, tokenizer=None, *, stop_ids: Sequence[int] = (),
             allowed_ids: Sequence[int] | None = None) -> list[Completion]:
    """n completions of a prompt, each with its token ids, its text and why it stopped.

    prompt_ids: token ids (a list or 1-D tensor; or a string, with tokenizer). At least one token: to start
    from nothing, give <|endoftext|>. Longer than block_size, it is cropped to the last block_size tokens.
    max_tokens: how many tokens to generate at most. temperature: divides the logits; 0 means greedy.
    top_k: keep the k most likely tokens. top_p: keep the most likely tokens up to probability mass p.
    n: how many samples, drawn as one batch. stop: a string or list of strings; a sample ends when its text
    contains one, and neither its text nor its ids include it (needs tokenizer). seed: makes the draws
    reproducible (None uses torch's global generator). use_cache: the KV cache (same tokens, much faster).
    tokenizer: decodes the text (incrementally: never half a UTF-8 character) and matches stop strings.
    stop_ids: token ids that end a sample (not included), such as <|endoftext|>. allowed_ids: only these ids
    may be drawn. The loop itself is gptlab.generation.loop.Decoder.

    Taught in: solutions/08_generation.ipynb
    """
    chunks = stream(model, prompt_ids, max_tokens, temperature, top_k, top_p, n, stop, seed, use_cache, tokenizer,
                    stop_ids=stop_ids, allowed_ids=allowed_ids)
    texts: list[list[str]] = [[] for _ in range(n)]
    ids: list[list[int]] = [[] for _ in range(n)]
    reasons: list[str] = ["length"] * n
    for chunk in chunks:
        texts[chunk.index].append(chunk.text)
        ids[chunk.index].extend(chunk.token_ids)
        if chunk.finish_reason:
            reasons[chunk.index] = chunk.finish_reason
    return [Completion(i, ids[i], "".join(texts[i]) if tokenizer is not None else None, reasons[i]) for i in range(n)]
