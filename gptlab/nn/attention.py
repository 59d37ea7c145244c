"""Attention, as lessons 03 and 04 build it, and the one module every later lesson reuses.

Glossary (paper ↔ code): d_model = n_embd = C, h = n_head = nh, d_k = d_v = head size hs = C // nh,
T = sequence length, B = batch size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool, True where position i may attend to position j: j <= i (the diagonal included).

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)

    Taught in: solutions/03_self_attention.ipynb
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int; got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def _check_attention_inputs(q, k, v, mask):
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            raise TypeError(f"{name} must be a tensor of shape (..., T, d); got {getattr(t, 'shape', type(t).__name__)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k to be multiplied; got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of positions; got {k.shape[-2]} and {v.shape[-2]}")
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"the mask must be bool (True = may attend); got dtype {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, (*q.shape[:-1], k.shape[-2]))
        except RuntimeError:
            raise ValueError(f"a mask of shape {tuple(mask.shape)} does not broadcast to the attention weights' "
                             f"shape {(*q.shape[:-1], k.shape[-2])}") from None


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v, returning the output and the weights.

    q: (..., T_q, d_k), k: (..., T_k, d_k), v: (..., T_k, d_v) -> out (..., T_q, d_v), weights (..., T_q, T_k).
    `mask` is bool, True where attention is allowed (broadcast to the weights); `causal` adds the causal mask.

    Taught in: solutions/03_self_attention.ipynb
    """
    _check_attention_inputs(q, k, v, mask)
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if causal:
        T_q, T_k = q.shape[-2], k.shape[-2]
        # Queries are the last T_q of T_k positions (T_q < T_k when a KV cache holds the prefix).
        allowed = torch.ones(T_q, T_k, dtype=torch.bool, device=q.device).tril(diagonal=T_k - T_q)
        mask = allowed if mask is None else mask & allowed
    if mask is not None:
        # -inf, not a large negative number times 0: exp(-inf) is exactly 0, so masked keys get no weight.
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k), each row sums to 1
    return weights @ v, weights  # (..., T_q, d_v)


class Head(nn.Module):
    """One causal attention head with its own query, key and value projections (no biases, as in nanoGPT's lecture).

    x (B, T, d_model) -> (B, T, head_size): q, k, v = query(x), key(x), value(x), then causal scaled dot-product
    attention scaled by √head_size. Lesson 04 shows that n_heads of these, side by side, are one fused
    `c_attn` sliced by head (MultiHeadAttention below).

    Taught in: solutions/03_self_attention.ipynb
    """

    def __init__(self, d_model: int, head_size: int):
        super().__init__()
        self.query = nn.Linear(d_model, head_size, bias=False)
        self.key = nn.Linear(d_model, head_size, bias=False)
        self.value = nn.Linear(d_model, head_size, bias=False)

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        """x: (B, T, d_model) -> (B, T, head_size); with return_weights, also the weights (B, T, T)."""
        q, k, v = self.query(x), self.key(x), self.value(x)  # 3 × (B, T, hs)
        out, weights = scaled_dot_product_attention(q, k, v, causal=True)  # (B, T, hs), (B, T, T)
        return (out, weights) if return_weights else out


class MultiHeadAttention(nn.Module):
    """Multi-head attention with GPT-2's parameter names, reused by every later lesson.

    c_attn: d_model -> 3·d_model (q, k, v at once); c_proj: d_model -> d_model. Heads split the
    *feature* dimension: each of the n_heads heads sees every position through its own d_model/n_heads
    features. forward(x) is self-attention; forward(x, context=enc) is cross-attention (queries from x,
    keys and values from `context`, using the k and v parts of the same c_attn).

    Taught in: solutions/04_multi_head.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0, causal: bool = True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}) to split the features into heads")
        self.d_model, self.n_heads, self.causal, self.dropout = d_model, n_heads, causal, dropout
        self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        B, T, C = t.shape
        return t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, key_padding_mask: torch.Tensor | None = None,
                cache=None, return_weights: bool = False):
        """x: (B, T, C) -> (B, T, C); with return_weights, also the weights (B, nh, T, T_k).

        key_padding_mask: (B, T_k) bool, True for real tokens, False for padding (never attended to).
        cache: an object with `update(k, v) -> (k_all, v_all)` that keeps this layer's keys and values, and a
        `mask` (None, or the (B, 1, T, T_k) keys each new query may see when the rows differ in length).
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"expected x of shape (B, T, {self.d_model}); got {tuple(x.shape)}")
        if context is None:
            q, k, v = self.c_attn(x).split(self.d_model, dim=2)  # 3 × (B, T, C)
        else:
            w_q, w_kv = self.c_attn.weight.split([self.d_model, 2 * self.d_model], dim=0)
            b_q, b_kv = (self.c_attn.bias.split([self.d_model, 2 * self.d_model]) if self.c_attn.bias is not None else (None, None))
            q = F.linear(x, w_q, b_q)
            k, v = F.linear(context, w_kv, b_kv).split(self.d_model, dim=2)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, nh, T, hs)
        mask = None
        if cache is not None:
            k, v = cache.update(k, v)  # (B, nh, T_past + T, hs)
            mask = cache.mask  # (B, 1, T, T_k) when the rows hold different lengths (causal already), else None
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (x.shape[0], k.shape[-2]):
                raise ValueError(f"key_padding_mask must be bool of shape (B, T_k) = {(x.shape[0], k.shape[-2])}; "
                                 f"got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
            padding = key_padding_mask[:, None, None, :]  # (B, 1, 1, T_k): the same keys hidden from every query
            mask = padding if mask is None else mask & padding
        causal = self.causal and context is None and (cache is None or cache.mask is None)
        if causal and mask is None and q.shape[-2] == 1:
            causal = False  # one new query (generating with a cache) is the last position: every key is visible
        if causal and (mask is not None or q.shape[-2] != k.shape[-2]):
            # One explicit mask for both: the fused kernel's is_causal cannot be combined with a mask, and
            # with a cache the T new queries are the *last* T of T_k positions.
            T_q, T_k = q.shape[-2], k.shape[-2]
            allowed = torch.ones(T_q, T_k, dtype=torch.bool, device=x.device).tril(diagonal=T_k - T_q)
            mask, causal = (allowed if mask is None else mask & allowed), False
        if return_weights:
            y, weights = scaled_dot_product_attention(q, k, v, causal=causal, mask=mask)  # explicit: gives the weights
        else:
            # The fused kernel: the same numbers with less memory and time, but it cannot return the weights.
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                               dropout_p=self.dropout if self.training else 0.0)
            weights = None
        y = y.transpose(1, 2).contiguous().view(x.shape[0], x.shape[1], self.d_model)  # (B, T, C): heads side by side
        y = self.resid_dropout(self.c_proj(y))
        return (y, weights) if return_weights else y


class CausalSelfAttention(MultiHeadAttention):
    """The causal self-attention of a GPT: MultiHeadAttention(d_model, n_heads, causal=True).

    Taught in: solutions/04_multi_head.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__(d_model, n_heads, bias=bias, dropout=dropout, causal=True)
