"""The one decoding loop: sequences that generate together, one token each per step, each at its own length.

    decoder = Decoder(model, capacity=4)
    rows = decoder.add([prompt_a, prompt_b], Sampling(temperature=0), max_tokens=20, stop_ids={eot})
    while not all(row.finish_reason for row in rows):
        for row, token in decoder.step():
            ...                                   # row.ids grows by one token per step
    decoder.drop(rows)

Every sampler in gptlab goes through here: lesson 08's generate and stream (n samples of one prompt), the
fine-tuned model's answers (many prompts of different lengths), the pixel GPT's drawings (only grey levels
allowed), the seq2seq decoder, and the server (requests join and leave between steps: continuous batching).

A step: (1) bring every row's next-token logits up to date in as few forward passes as possible — new rows
are prefilled together when their prompts have the same length, rows that ran past the model's context are
rebuilt from their last block_size tokens (learned absolute positions cannot slide), and all the others feed
their one new token through the KV cache in a single batched pass; (2) choose a token per row (temperature,
top-k, top-p; rows that share one `Sampling` and one generator draw together, in order); (3) append it, and
finish the row on a stop id or when its budget of tokens is spent. A finished row keeps its place (and keeps
drawing, unread) until the caller drops it, so n samples drawn together stay exactly reproducible.

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

from gptlab.generation.sampling import _check_sampling, _is_int, next_token_probs
from gptlab.nn.kv_cache import make_caches

__all__ = ["Decoder", "Row", "Sampling", "decode_many"]


@dataclass(frozen=True)
class Sampling:
    """How a row chooses its next token: temperature (0: greedy), then top-k, then top-p, among `allowed_ids`
    (None: every id; a pixel GPT allows only its grey levels). Rows that share one Sampling object and one
    generator draw in one call, in the order they were added."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    allowed_ids: tuple[int, ...] | None = None

    def __post_init__(self):
        _check_sampling(self.temperature, self.top_k, self.top_p)
        if self.allowed_ids is not None:
            if not self.allowed_ids or not all(_is_int(i) and i >= 0 for i in self.allowed_ids):
                raise ValueError(f"allowed_ids must be a non-empty sequence of token ids; got {self.allowed_ids!r}")
            object.__setattr__(self, "allowed_ids", tuple(self.allowed_ids))

    def pick(self, logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """(n, V) logits -> (n,) token ids."""
        allowed = None
        if self.allowed_ids is not None:
            allowed = torch.tensor(self.allowed_ids, device=logits.device)
            logits = logits.index_select(-1, allowed)  # choose among the allowed ids only, then map back
        if self.temperature == 0:
            chosen = logits.argmax(dim=-1)  # greedy: the first of equal maxima, as Hugging Face does
        else:
            probs = next_token_probs(logits, self.temperature, self.top_k, self.top_p)
            chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        return chosen if allowed is None else allowed[chosen]


@dataclass(eq=False)
class Row:
    """One sequence in a Decoder: its ids (prompt, then what it generated) and why it stopped (None: still going)."""

    ids: list[int]
    prompt_length: int
    sampling: Sampling
    max_tokens: int
    stop_ids: frozenset[int] = frozenset()
    generator: torch.Generator | None = None
    tag: object = None  # whatever the caller needs to find its request again
    finish_reason: str | None = None  # "stop" (drew a stop id) or "length" (max_tokens reached)
    logits: torch.Tensor | None = field(default=None, repr=False)  # (V,) for the next token, when up to date
    last_logits: torch.Tensor | None = field(default=None, repr=False)  # (V,) the last token was drawn from
    slot: int = -1  # its row in the KV caches
    finished_at: int | None = None  # len(ids) when it finished
    _fed: int = 0  # how many of ids the model has read into the cache (or, without a cache, into logits)

    @property
    def generated(self) -> list[int]:
        """Every id drawn after the prompt (a finished row that was not dropped keeps drawing, unread)."""
        return self.ids[self.prompt_length:]

    @property
    def output(self) -> list[int]:
        """What the row generated before it finished, without the stop id that finished it."""
        end = self.finished_at if self.finished_at is not None else len(self.ids)
        if self.finish_reason == "stop":
            end -= 1
        return self.ids[self.prompt_length:end]


class Decoder:
    """A batch of up to `capacity` rows decoding together (see the module's docstring)."""

    def __init__(self, model, capacity: int, *, use_cache: bool = True):
        if not hasattr(model, "config") or not hasattr(model.config, "block_size"):
            raise TypeError(f"model must be a gptlab GPT (with .config.block_size); got {type(model).__name__}")
        if not _is_int(capacity) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1; got {capacity!r}")
        self.model, self.capacity, self.use_cache = model, capacity, use_cache
        self.block = model.config.block_size
        self.device = next(model.parameters()).device
        self.caches = make_caches(model, capacity) if use_cache else None
        self.rows: list[Row] = []  # in the order they were added

    def add(self, prompts: Sequence[Sequence[int]], sampling: Sampling = Sampling(), max_tokens: int = 16, *,
            stop_ids: Iterable[int] = (), generator: torch.Generator | None = None, tags: Sequence | None = None) -> list[Row]:
        """New rows, one per prompt (a list of ids, at least one each); they are prefilled at the next step."""
        if len(self.rows) + len(prompts) > self.capacity:
            raise ValueError(f"{len(prompts)} more rows do not fit: {len(self.rows)} of {self.capacity} are in use")
        if not _is_int(max_tokens) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1; got {max_tokens!r}")
        vocab = self.model.config.vocab_size
        new = []
        for i, prompt in enumerate(prompts):
            ids = [int(t) for t in prompt]
            if not ids or min(ids) < 0 or max(ids) >= vocab:
                raise ValueError(f"prompt {i} must hold at least one token id in 0..{vocab - 1}")
            new.append(Row(ids, len(ids), sampling, max_tokens, frozenset(stop_ids), generator,
                           tags[i] if tags is not None else None, slot=len(self.rows) + len(new)))
        self.rows += new
        return new

    def drop(self, rows: Iterable[Row]) -> None:
        """Remove rows (finished or not); the others move down into the freed cache rows."""
        gone = set(map(id, rows))
        kept = [row for row in self.rows if id(row) not in gone]
        for slot, row in enumerate(sorted(kept, key=lambda r: r.slot)):
            if row.slot != slot and self.caches is not None:
                for cache in self.caches:
                    cache.copy_row(cache, row.slot, slot)
            row.slot = slot
        self.rows = kept

    def step(self) -> list[tuple[Row, int]]:
        """One token for every row: (row, token) in the order the rows were added."""
        if not self.rows:
            return []
        with torch.no_grad():
            self._refresh()
            chosen: dict[int, int] = {}
            groups: dict[tuple[int, int], list[Row]] = {}
            for row in self.rows:
                groups.setdefault((id(row.sampling), id(row.generator)), []).append(row)
            for members in groups.values():
                logits = torch.stack([row.logits for row in members])  # (n, V)
                for row, token in zip(members, members[0].sampling.pick(logits, members[0].generator).tolist()):
                    chosen[id(row)] = token
        out = []
        for row in self.rows:
            token = chosen[id(row)]
            row.ids.append(token)
            row.last_logits, row.logits = row.logits, None
            if row.finish_reason is None:
                if token in row.stop_ids:
                    row.finish_reason, row.finished_at = "stop", len(row.ids)
                elif len(row.ids) - row.prompt_length >= row.max_tokens:
                    row.finish_reason, row.finished_at = "length", len(row.ids)
            out.append((row, token))
        return out

    # --- bringing the logits up to date -------------------------------------------------------------

    def _refresh(self) -> None:
        stale = [row for row in self.rows if row.logits is None]
        if not self.use_cache:
            self._full_windows(stale)
            return
        one = [row for row in stale if row._fed and row._fed == len(row.ids) - 1 and row._fed < self.block]
        rebuild = [row for row in stale if row not in one]
        if one:
            self._move_to_front(one)
            ids = torch.tensor([[row.ids[-1]] for row in one], device=self.device)  # (B, 1)
            logits = self.model(ids, caches=self.caches)[0][:, -1]  # one position of work per row
            for row, row_logits in zip(one, logits):
                row.logits, row._fed = row_logits, len(row.ids)
        if rebuild:
            self._prefill(rebuild)

    def _move_to_front(self, rows: list[Row]) -> None:
        """Give `rows` the first cache rows (the batched pass writes rows 0..B-1), swapping others out of the way."""
        wanted = {id(row) for row in rows}
        front = sorted(rows, key=lambda r: r.slot)
        if [row.slot for row in front] == list(range(len(front))):
            return
        others = sorted((row for row in self.rows if id(row) not in wanted), key=lambda r: r.slot)
        order = front + others
        spare = make_caches(self.model, len(order))
        for cache, store in zip(self.caches, spare):
            for i, row in enumerate(order):
                store.copy_row(cache, row.slot, i)
            for i in range(len(order)):
                cache.copy_row(store, i, i)
        for i, row in enumerate(order):
            row.slot = i

    def _prefill(self, rows: list[Row]) -> None:
        """Read each row's last block_size tokens into a fresh cache row; rows of equal length in one pass."""
        by_length: dict[int, list[Row]] = {}
        for row in rows:
            by_length.setdefault(min(len(row.ids), self.block), []).append(row)
        for length, members in by_length.items():
            ids = torch.tensor([row.ids[-length:] for row in members], device=self.device)  # (G, T)
            fresh = make_caches(self.model, len(members))
            logits = self.model(ids, caches=fresh)[0][:, -1]
            for i, row in enumerate(members):
                for cache, new in zip(self.caches, fresh):
                    cache.copy_row(new, i, row.slot)
                row.logits, row._fed = logits[i], len(row.ids)

    def _full_windows(self, rows: list[Row]) -> None:
        """Without a cache: every step reads each row's whole window again (rows of equal length together)."""
        by_length: dict[int, list[Row]] = {}
        for row in rows:
            by_length.setdefault(min(len(row.ids), self.block), []).append(row)
        for length, members in by_length.items():
            ids = torch.tensor([row.ids[-length:] for row in members], device=self.device)
            logits = self.model(ids)[0][:, -1]
            for row, row_logits in zip(members, logits):
                row.logits, row._fed = row_logits, len(row.ids)


def decode_many(model, prompts: Sequence[Sequence[int]], sampling: Sampling = Sampling(), max_tokens: int = 16, *,
                stop_ids: Iterable[int] = (), generator: torch.Generator | None = None,
                use_cache: bool = True) -> list[list[int]]:
    """The ids each prompt generates (up to a stop id, left out, or max_tokens), every prompt in one batch.

    Rows stay in the batch until the last one is done, so a row sees exactly the forward passes it would see
    decoding alone with the others (sampled rows draw together, in order, from `generator`). The model is put
    in eval mode and back.
    """
    was_training = model.training
    model.eval()
    try:
        decoder = Decoder(model, len(prompts), use_cache=use_cache)
        rows = decoder.add(prompts, sampling, max_tokens, stop_ids=stop_ids, generator=generator)
        while any(row.finish_reason is None for row in rows):
            decoder.step()
    finally:
        model.train(was_training)
    return [row.output for row in rows]
