"""The KV cache: each attention layer keeps the keys and values it has computed, so a new token costs one position.

In a causal model the keys and values of a position never change once computed, so a layer can keep them
and attend from one new query to all of them. Two caches, one idea:

* `cached_step` is lesson 08's exercise written with the library's pieces: the past is a list of (k, v)
  tensors that grow by ``torch.cat`` (the simplest cache; Hugging Face's "legacy" format).
* `KVCache` keeps the keys and values in buffers allocated once, one row per sequence, each row with its own
  length: several prompts of different lengths decode together, and a sequence can join or leave the batch
  between steps (gptlab.generation.Decoder does that; the server's batching builds on it).

With learned absolute positions the window cannot slide: past `block_size` tokens a row is rebuilt from its
last `block_size` tokens, exactly what an uncached model would read (gptlab.generation does that too).

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

import torch

__all__ = ["GrowingCache", "KVCache", "SlidingCache", "cached_step", "make_caches"]


class KVCache:
    """One attention layer's keys and values for up to `batch_size` sequences: (batch_size, n_head, max_length, head_size).

    Row b holds `lengths[b]` positions. `update(k, v)` takes the new positions' keys and values for the first B
    rows, (B, n_head, T_new, head_size), writes each row's after its own length, and returns views of the stored
    keys and values, (B, n_head, T_k, head_size) with T_k the longest row. When the rows' lengths differ, `mask`
    says which keys each new query may see, (B, 1, T_new, T_k) bool (query j of row b sees the keys up to its own
    position, lengths[b] + j); when they agree it is None and the usual causal mask applies. `positions(B, T_new)`
    gives the new tokens' positions, for the position embedding.

    Allocating once and writing in place avoids the copy that torch.cat makes of the whole prefix at every step.

    Taught in: solutions/08_generation.ipynb
    """

    def __init__(self, batch_size: int, n_head: int, head_size: int, max_length: int,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None):
        for name, value in (("batch_size", batch_size), ("n_head", n_head), ("head_size", head_size), ("max_length", max_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"KVCache {name} must be a positive int; got {value!r}")
        shape = (batch_size, n_head, max_length, head_size)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.lengths = [0] * batch_size  # positions stored per row (Python ints: read at every step, never synced)
        self.mask: torch.Tensor | None = None

    @property
    def max_length(self) -> int:
        return self.k.shape[2]

    @property
    def length(self) -> int:
        """The number of positions stored, when every row holds the same number (the usual case of one prompt)."""
        if len(set(self.lengths)) != 1:
            raise ValueError(f"the rows of this cache hold different numbers of positions ({self.lengths}); "
                             "read cache.lengths")
        return self.lengths[0]

    def positions(self, B: int, T: int, device=None) -> torch.Tensor:
        """Positions of T new tokens in the first B rows: (T,) when the rows agree, else (B, T)."""
        starts = self.lengths[:B]
        if len(set(starts)) == 1:
            return torch.arange(starts[0], starts[0] + T, device=device)  # (T,)
        return torch.tensor(starts, device=device)[:, None] + torch.arange(T, device=device)  # (B, T)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, nh, T_new, hs) after each of the first B rows' positions; return all their keys and values."""
        if k.shape != v.shape or k.dim() != 4:
            raise ValueError(f"k and v must both have shape (B, n_head, T_new, head_size); got {tuple(k.shape)} and {tuple(v.shape)}")
        B, nh, T, hs = k.shape
        if B > self.k.shape[0] or (nh, hs) != (self.k.shape[1], self.k.shape[3]):
            raise ValueError(f"this cache holds (B ≤ {self.k.shape[0]}, n_head, ·, head_size) = {tuple(self.k.shape[:2])[1:]}, "
                             f"{self.k.shape[3]}; got keys of shape {tuple(k.shape)}")
        starts = self.lengths[:B]
        end = max(starts) + T
        if end > self.max_length:
            raise ValueError(f"the cache holds {self.max_length} positions; {max(starts)} are used and {T} more do not fit "
                             "(reset() it and refill it from the last block_size tokens)")
        if len(set(starts)) == 1:  # every row at the same position: one slice, and the usual causal mask
            self.k[:B, :, starts[0]:end] = k
            self.v[:B, :, starts[0]:end] = v
            self.mask = None
        else:  # each row writes at its own length; queries see keys up to their own position only
            where = torch.tensor(starts, device=k.device)[:, None] + torch.arange(T, device=k.device)  # (B, T)
            rows = torch.arange(B, device=k.device)[:, None]  # (B, 1)
            self.k[rows, :, where] = k.transpose(1, 2)  # advanced indices first: (B, T, nh, hs)
            self.v[rows, :, where] = v.transpose(1, 2)
            self.mask = (torch.arange(end, device=k.device) <= where[:, :, None])[:, None]  # (B, 1, T, end)
        for b in range(B):
            self.lengths[b] += T
        return self.k[:B, :, :end], self.v[:B, :, :end]

    def reset(self, row: int | None = None) -> None:
        """Forget every position (or one row's); the buffers are kept and overwritten."""
        if row is None:
            self.lengths = [0] * len(self.lengths)
        else:
            self.lengths[row] = 0

    def copy_row(self, source: "KVCache", source_row: int, row: int) -> None:
        """Make row `row` hold what `source`'s row `source_row` holds (to move a sequence between caches or rows)."""
        n = source.lengths[source_row]
        self.k[row, :, :n] = source.k[source_row, :, :n]
        self.v[row, :, :n] = source.v[source_row, :, :n]
        self.lengths[row] = n

    def __repr__(self) -> str:
        B, nh, L, hs = self.k.shape
        return f"KVCache(batch_size={B}, n_head={nh}, head_size={hs}, max_length={L}, lengths={self.lengths})"


def make_caches(model, batch_size: int, max_length: int | None = None) -> list[KVCache]:
    """One KVCache per block of `model`, on its device and in its dtype, holding up to block_size positions.

    Taught in: solutions/08_generation.ipynb
    """
    config = model.config
    parameter = next(model.parameters())
    length = config.block_size if max_length is None else max_length
    # A grouped-query model (lesson 14) caches only its key/value heads, which may be of their own size.
    n_kv_head = getattr(config, "n_kv_head", None) or config.n_head
    head_size = getattr(config, "head_dim", None) or config.n_embd // config.n_head
    return [KVCache(batch_size, n_kv_head, head_size, length, parameter.dtype, parameter.device)
            for _ in range(config.n_layer)]


class GrowingCache:
    """A KV cache of plain tensors that grow by torch.cat along the time axis: (B, n_head, T, head_size) each."""

    def __init__(self, k: torch.Tensor | None = None, v: torch.Tensor | None = None):
        self.k, self.v, self.mask = k, v, None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def positions(self, B: int, T: int, device=None) -> torch.Tensor:
        return torch.arange(self.length, self.length + T, device=device)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)  # along the time axis
        self.k, self.v = k, v
        return k, v


class SlidingCache(GrowingCache):
    """A GrowingCache that keeps the last `window` positions only, for a model with rotary positions.

    Keys are stored already rotated by their absolute positions, and RoPE's scores depend only on the distance
    between query and key, so dropping the oldest key changes nothing about the others: the model runs past its
    context at one position per token. (With learned positions the window cannot slide; see the module's note.)
    The results are not those of re-reading the last `window` tokens from scratch: each kept key was computed
    when older tokens were still in view, which is what lets a cache like this stream.

    Taught in: solutions/14_modern_gpt.ipynb
    """

    def __init__(self, window: int):
        super().__init__()
        self.window, self.seen = window, 0

    def positions(self, B: int, T: int, device=None) -> torch.Tensor:
        return torch.arange(self.seen, self.seen + T, device=device)  # absolute: they keep counting past the window

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append k, v (B, nkv, T_new, hs); keep and return the last `window` positions' keys and values."""
        if k.shape[2] > self.window:
            raise ValueError(f"{k.shape[2]} new positions do not fit a window of {self.window}")
        self.seen += k.shape[2]
        k, v = super().update(k, v)  # (B, nkv, T_kept + T_new, hs)
        self.k, self.v = k[:, :, -self.window:], v[:, :, -self.window:]  # (B, nkv, ≤ window, hs)
        return self.k, self.v


def cached_step(model, idx: torch.Tensor, past=None):
    """Run the new tokens idx (B, T_new) through `model`, reusing the keys and values in `past`.

    past: None (nothing yet), or one (k, v) pair per block, each (B, n_head, T_past, head_size).
    Returns logits (B, T_new, V) and `present`: per block, (k, v) with the new positions appended,
    (B, n_head, T_past + T_new, head_size). The same numbers as model(whole sequence), for the new positions.
    The reference for lesson 08's exercise: the model's own forward pass, with GrowingCache layers.

    Taught in: solutions/08_generation.ipynb
    """
    caches = [GrowingCache(*pair) for pair in past] if past is not None else [GrowingCache() for _ in model.transformer.h]
    logits, _ = model(idx, caches=caches)
    return logits, [(cache.k, cache.v) for cache in caches]
