"""Looking inside a GPT: every layer's attention weights for a text, and scores for the patterns heads learn.

    capture = capture_attention(model, tokenizer, "The cat sat on the mat.")
    capture.attentions   # one (1, n_head, T, T) tensor per layer: the format bertviz's views expect
    capture.tokens       # one readable label per position ("␣cat", "‹你›" for part of a character)

The weights are recorded with forward hooks on every `MultiHeadAttention` of the model (each block's
`attn`): a pre-hook asks the module for `return_weights=True`, a hook stores the weights and hands the block
the output it expects. The model's code is not changed, and the hooks are removed afterwards, even on an
error. Any model built from gptlab's `MultiHeadAttention` works, not only `GPT`.

Row i of a (T, T) map is the query at position i, column j the key at position j; each row sums to 1 and
the causal mask makes every weight above the diagonal 0.

Taught in: solutions/09_looking_inside.ipynb
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from gptlab.nn.attention import MultiHeadAttention

__all__ = ["AttentionCapture", "EmptyTextError", "ablate_heads", "attention_modules", "capture_attention",
           "first_token_score", "induction_score", "previous_token_score", "record_attention", "token_labels"]

VISIBLE = {" ": "␣", "\n": "↵", "\t": "→", "\r": "␍"}


class EmptyTextError(ValueError):
    """The text to look at has no tokens."""


@dataclass
class AttentionCapture:
    """What `capture_attention` returns: the tokens of a text and every layer's attention to them.

    attentions: one tensor of shape (1, n_head, T, T) per layer (bertviz's format, batch of one);
    tokens: T readable labels; ids: the T token ids; notice: a sentence if the text was cropped, else None.

    Taught in: solutions/09_looking_inside.ipynb
    """

    attentions: list[torch.Tensor]
    tokens: list[str]
    ids: list[int]
    text: str = ""
    dropped: int = 0  # tokens cropped off the end of the text
    notice: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def n_layer(self) -> int:
        return len(self.attentions)

    @property
    def n_head(self) -> int:
        return int(self.attentions[0].shape[1])

    @property
    def T(self) -> int:
        return len(self.tokens)

    def layer(self, layer: int) -> torch.Tensor:
        """The maps of one layer, (n_head, T, T)."""
        if not 0 <= layer < self.n_layer:
            raise IndexError(f"layer {layer} does not exist: the model has layers 0 to {self.n_layer - 1}")
        return self.attentions[layer][0]

    def head(self, layer: int, head: int) -> torch.Tensor:
        """One head's map, (T, T)."""
        maps = self.layer(layer)
        if not 0 <= head < maps.shape[0]:
            raise IndexError(f"head {head} does not exist: each layer has heads 0 to {maps.shape[0] - 1}")
        return maps[head]

    def stacked(self) -> torch.Tensor:
        """All maps at once, (n_layer, n_head, T, T)."""
        return torch.stack([a[0] for a in self.attentions])


def attention_modules(model: torch.nn.Module) -> list[MultiHeadAttention]:
    """The model's attention modules in the order the forward pass runs them (block 0 first)."""
    found = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    if not found:
        raise TypeError(f"{type(model).__name__} has no gptlab MultiHeadAttention module to record; "
                        "build its blocks from gptlab.nn.layers.Block or gptlab.nn.attention.MultiHeadAttention")
    return found


@contextlib.contextmanager
def record_attention(model: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Inside the block, every forward pass appends each attention module's weights (B, nh, T_q, T_k).

    Example::

        with record_attention(model) as weights:
            model(idx)
        # weights[i] is layer i's (B, n_head, T, T)

    Taught in: solutions/09_looking_inside.ipynb
    """
    recorded: list[torch.Tensor] = []
    handles = []

    def ask_for_weights(module, args, kwargs):
        return args, {**kwargs, "return_weights": True}

    def keep_weights(module, args, kwargs, output):
        y, weights = output
        recorded.append(weights.detach())
        return y  # what the block expects when it did not ask for the weights itself

    try:
        for module in attention_modules(model):
            handles.append(module.register_forward_pre_hook(ask_for_weights, with_kwargs=True))
            handles.append(module.register_forward_hook(keep_weights, with_kwargs=True))
        yield recorded
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def ablate_heads(model: torch.nn.Module, heads: Sequence[tuple[int, int]], mode: str = "zero") -> Iterator[None]:
    """Inside the block, the given (layer, head) pairs no longer contribute: their output is replaced.

    A head's output is its slice of the concatenated heads, just before the output projection ``c_proj``.
    mode "zero" writes 0 there; mode "mean" writes that slice's mean over the batch and the positions of the
    same forward pass (the head still adds its average, but nothing that depends on the token). The model's
    code is not changed and the hooks are removed afterwards, even on an error.

        with ablate_heads(model, [(1, 3)]):        # layer 1, head 3 switched off
            logits, _ = model(idx)

    Taught in: solutions/09_looking_inside.ipynb
    """
    if mode not in ("zero", "mean"):
        raise ValueError(f"mode must be 'zero' or 'mean'; got {mode!r}")
    modules = attention_modules(model)
    by_layer: dict[int, list[int]] = {}
    for pair in heads:
        layer, head = (int(v) for v in pair)
        if not 0 <= layer < len(modules) or not 0 <= head < modules[layer].n_heads:
            raise ValueError(f"no head ({layer}, {head}): the model has {len(modules)} layers of "
                             f"{modules[0].n_heads} heads, numbered from 0")
        by_layer.setdefault(layer, []).append(head)

    def replace(chosen, size):
        def hook(module, args):
            (y,) = args                                              # (B, T, C): the heads side by side
            y = y.clone()
            for head in chosen:
                part = y[..., head * size:(head + 1) * size]
                part.copy_(part.mean(dim=(0, 1), keepdim=True).expand_as(part) if mode == "mean" else torch.zeros_like(part))
            return (y,)
        return hook

    handles = []
    try:
        for layer, chosen in by_layer.items():
            module = modules[layer]
            handles.append(module.c_proj.register_forward_pre_hook(replace(chosen, module.d_model // module.n_heads)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def token_labels(tokenizer, ids: Sequence[int], style: str = "text") -> list[str]:
    """One readable label per token id, even when byte-level BPE splits a character across tokens.

    Spaces show as ␣ and newlines as ↵. A token holding only part of a multi-byte UTF-8 character (common
    for Chinese: 3 bytes, often split) shows that character in ‹ › — ``‹你›`` — so every token stays
    readable; style="hex" shows such bytes as ``\\xe4\\xbd`` instead. Tokenizers without byte tokens
    (e.g. CharTokenizer) label each id with its decoded text; with tokenizer=None the labels are the ids.

    Example: for "你好" split as [b"\\xe4\\xbd", b"\\xa0\\xe5\\xa5\\xbd"] the labels are ["‹你›", "‹你›好"].

    Taught in: solutions/09_looking_inside.ipynb
    """
    if style not in ("text", "hex"):
        raise ValueError(f"style must be 'text' or 'hex'; got {style!r}")
    ids = [int(i) for i in ids]
    if tokenizer is None:  # no tokenizer: the ids themselves
        return [str(i) for i in ids]
    pieces = getattr(tokenizer, "token_bytes", None)
    if pieces is None:
        return [_visible(tokenizer.decode([i])) for i in ids]
    chunks = [pieces[i] for i in ids]
    data = b"".join(chunks)
    # The character each byte belongs to: (start, end) of its UTF-8 sequence in `data`, or None if invalid.
    owner: list[tuple[int, int] | None] = [None] * len(data)
    position = 0
    while position < len(data):
        length = _utf8_length(data, position)
        if length:
            for k in range(position, position + length):
                owner[k] = (position, position + length)
            position += length
        else:
            position += 1
    labels, start = [], 0
    for chunk in chunks:
        end = start + len(chunk)
        labels.append(_label(data, owner, start, end, style))
        start = end
    return labels


def _utf8_length(data: bytes, position: int) -> int:
    """Length of the valid UTF-8 character starting at `position`, or 0."""
    for length in (1, 2, 3, 4):
        try:
            data[position:position + length].decode("utf-8")
            return length
        except UnicodeDecodeError:
            continue
    return 0


def _label(data: bytes, owner, start: int, end: int, style: str) -> str:
    out, k = [], start
    while k < end:
        span = owner[k]
        if span is None:
            out.append(f"\\x{data[k]:02x}")
            k += 1
            continue
        char = data[span[0]:span[1]].decode("utf-8")
        if span[0] >= start and span[1] <= end:  # the whole character is in this token
            out.append(_visible(char))
            k = span[1]
            continue
        stop = min(span[1], end)
        out.append("".join(f"\\x{b:02x}" for b in data[k:stop]) if style == "hex" else f"‹{char}›")
        k = stop
    return "".join(out)


def _visible(text: str) -> str:
    return "".join(VISIBLE.get(char, char) for char in text)


def capture_attention(model: torch.nn.Module, tokenizer, text: str | None = None, *, ids: Sequence[int] | None = None,
                      max_tokens: int | None = None, label_style: str = "text") -> AttentionCapture:
    """Run `model` on `text` (or on token `ids`) and return every layer's attention and the token labels.

    A text longer than the model's block_size (or `max_tokens`) is cropped to its first tokens, and the
    capture's `notice` says so. An empty text raises EmptyTextError with a sentence a learner can act on.
    The model runs in eval mode (no dropout) without gradients; its training flag is restored.

    Example::

        capture = capture_attention(model, tok, "To be, or not to be")
        capture.attentions[0].shape   # (1, n_head, T, T)

    Taught in: solutions/09_looking_inside.ipynb
    """
    if (text is None) == (ids is None):
        raise TypeError("pass either a text or a list of token ids (ids=...), not both")
    if ids is None:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        ids = tokenizer.encode(text) if text.strip() else []
    else:
        ids = [int(i) for i in (ids.flatten().tolist() if isinstance(ids, torch.Tensor) else ids)]
    if not ids:
        raise EmptyTextError("the text is empty: type a sentence (at least one character that is not a space) "
                             "to see what the model attends to")
    limit = _block_size(model)
    why = f"the model's block_size of {limit}" if limit else ""
    if max_tokens is not None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1; got {max_tokens}")
        if not limit or max_tokens < limit:
            limit, why = max_tokens, f"max_tokens={max_tokens}"
    dropped, notice = 0, None
    if limit and len(ids) > limit:
        dropped = len(ids) - limit
        notice = (f"The text has {len(ids)} tokens, more than {why}: showing its first {limit} tokens "
                  f"({dropped} cropped).")
        ids = ids[:limit]
    device = next(model.parameters()).device
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), record_attention(model) as weights:
            model(idx)
    finally:
        model.train(was_training)
    attentions = [w.float().cpu() for w in weights]
    return AttentionCapture(attentions=attentions, tokens=token_labels(tokenizer, ids, label_style), ids=list(ids),
                            text=text if text is not None else "", dropped=dropped, notice=notice)


def _block_size(model) -> int | None:
    config = getattr(model, "config", None)
    return getattr(config, "block_size", None)


# --- scores for the patterns heads learn -----------------------------------------------------------


def _check_maps(weights: torch.Tensor, minimum: int = 2) -> None:
    if not isinstance(weights, torch.Tensor) or weights.dim() < 2 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"expected attention maps of shape (..., T, T); got {getattr(weights, 'shape', type(weights).__name__)}")
    if weights.shape[-1] < minimum:
        raise ValueError(f"need at least {minimum} positions to score this pattern; got T = {weights.shape[-1]}")


def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """How much a head attends to the token just before: the mean of weights[..., i, i-1] over i = 1..T-1.

    weights (..., T, T) -> scores (...), each in [0, 1]; 1 means every query looks only at its predecessor.

    Taught in: solutions/09_looking_inside.ipynb
    """
    _check_maps(weights)
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1)


def first_token_score(weights: torch.Tensor) -> torch.Tensor:
    """How much a head attends to position 0: the mean of weights[..., i, 0] over i = 1..T-1 (row 0 has no choice).

    Taught in: solutions/09_looking_inside.ipynb
    """
    _check_maps(weights)
    return weights[..., 1:, 0].mean(dim=-1)


def induction_score(weights: torch.Tensor, period: int) -> torch.Tensor:
    """On a sequence that repeats with `period`, the mean weight from each query i ≥ period to key i - period + 1.

    That key is the token that came *after* the previous occurrence of the current token: an induction head
    attends there and copies it, which is how a model continues a sequence it has already seen once.

    Taught in: solutions/09_looking_inside.ipynb
    """
    _check_maps(weights)
    T = weights.shape[-1]
    if not 1 <= period < T:
        raise ValueError(f"period must be between 1 and T - 1 = {T - 1}; got {period}")
    return weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)[..., 1:].mean(dim=-1)
