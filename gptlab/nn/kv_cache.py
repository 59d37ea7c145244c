"""The KV cache: each attention layer keeps the keys and values it has computed, so a new token costs one position.

In a causal model the keys and values of a position never change once computed. With learned absolute
positions the window cannot slide: past `block_size` tokens the cache is rebuilt from the last
`block_size` tokens (gptlab.generation does that), exactly what an uncached model would read.

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

import torch

__all__ = ["KVCache", "make_caches"]


class KVCache:
    """One attention layer's keys and values, in buffers allocated once: (B, n_head, max_length, head_size).

    `update(k, v)` writes the new positions' keys and values (B, n_head, T_new, head_size) after the
    `length` already stored and returns views of everything stored so far, (B, n_head, length, head_size).
    Allocating once and writing in place avoids the copy that torch.cat makes of the whole prefix at
    every step. gptlab.nn.attention.MultiHeadAttention calls update(); GPT.forward reads `length` to know
    where the new tokens' positions start.

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
        self.length = 0

    @property
    def max_length(self) -> int:
        return self.k.shape[2]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, nh, T_new, hs) after the cached positions; return all keys and values (views)."""
        if k.shape != v.shape or k.dim() != 4:
            raise ValueError(f"k and v must both have shape (B, n_head, T_new, head_size); got {tuple(k.shape)} and {tuple(v.shape)}")
        B, nh, T, hs = k.shape
        if (B, nh, hs) != (self.k.shape[0], self.k.shape[1], self.k.shape[3]):
            raise ValueError(f"this cache holds (B, n_head, ·, head_size) = {(self.k.shape[0], self.k.shape[1], self.k.shape[3])}; "
                             f"got keys of shape {tuple(k.shape)}")
        end = self.length + T
        if end > self.max_length:
            raise ValueError(f"the cache holds {self.max_length} positions; {self.length} are used and {T} more do not fit "
                             "(reset() it and refill it from the last block_size tokens)")
        self.k[:, :, self.length:end] = k
        self.v[:, :, self.length:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def reset(self) -> None:
        """Forget every position (the buffers are kept and overwritten)."""
        self.length = 0

    def __repr__(self) -> str:
        B, nh, L, hs = self.k.shape
        return f"KVCache(batch_size={B}, n_head={nh}, head_size={hs}, length={self.length}/{L})"


def make_caches(model, batch_size: int, max_length: int | None = None) -> list[KVCache]:
    """One KVCache per block of `model`, on its device and in its dtype, holding up to block_size positions.

    Taught in: solutions/08_generation.ipynb
    """
    config = model.config
    parameter = next(model.parameters())
    length = config.block_size if max_length is None else max_length
    return [KVCache(batch_size, config.n_head, config.n_embd // config.n_head, length, parameter.dtype, parameter.device)
            for _ in range(config.n_layer)]
