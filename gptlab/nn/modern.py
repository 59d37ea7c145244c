"""The pieces of the modern (Llama-layout) block, as lesson 14 builds them: RMSNorm, rotary position embeddings,
the SwiGLU MLP, and grouped-query attention.

Glossary (paper ↔ code): d_model = n_embd = C, h = n_head = nh, the key/value heads n_kv_head = nkv (each shared
by nh // nkv query heads), d_k = head size hs, T = sequence length, B = batch size. Parameter names inside the
attention and the MLP are Llama's (q_proj, k_proj, v_proj, o_proj; gate_proj, up_proj, down_proj), so a Hugging
Face Llama checkpoint maps onto them by renaming its containers only (gptlab.nn.modern_model).

Taught in: solutions/14_modern_gpt.ipynb
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn.layers import MLP, LayerNorm

__all__ = ["GroupedQueryAttention", "ModernBlock", "RMSNorm", "SwiGLU", "apply_rope", "gqa_attention", "repeat_kv",
           "rope_angles", "rotate_half", "swiglu_hidden"]


class RMSNorm(nn.Module):
    """Divide each vector by its root mean square, then scale: y = x / sqrt(mean(x²) + eps) · weight.

    LayerNorm without the centring and without the bias: one reduction instead of two, and it trains as well.
    eps sits inside the square root, as in Llama and torch.nn.RMSNorm. (..., d) -> (..., d).

    Taught in: solutions/14_modern_gpt.ipynb
    """

    def __init__(self, d: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In float32 at least, as Llama does: mean(x²) of bfloat16 values loses digits.
        h = x if x.dtype in (torch.float32, torch.float64) else x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., d), root mean square 1
        return self.weight * h.to(x.dtype)


# --- rotary position embeddings ------------------------------------------------------------------


def rope_angles(positions: torch.Tensor, hs: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles for `positions` (any shape P), in the halves layout: (*P, hs) each.

    Feature pair i (features i and i + hs/2) turns by positions · base^(-2i/hs): pair 0 once a position, the last
    pair slowest. Example: hs=4, base=100, position 1 -> angles [1, 0.1, 1, 0.1].

    Taught in: solutions/14_modern_gpt.ipynb
    """
    if hs % 2:
        raise ValueError(f"rotary embeddings rotate pairs of features: the head size must be even; got {hs}")
    # The same float32 arithmetic as Hugging Face's Llama, so loaded checkpoints agree to the last digits.
    inv_freq = 1.0 / (base ** (torch.arange(0, hs, 2, dtype=torch.int64, device=positions.device).float() / hs))  # (hs/2,)
    freqs = positions[..., None].float() * inv_freq  # (*P, hs/2)
    angles = torch.cat((freqs, freqs), dim=-1)  # (*P, hs): pair i's angle at i and i + hs/2
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last axis: a quarter turn of every pair (i, i + hs/2)."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., hs/2) each
    return torch.cat((-x2, x1), dim=-1)  # (..., hs)


def apply_rope(x: torch.Tensor, base: float = 10000.0, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate each head's features by its position: x (..., T, hs) -> (..., T, hs), Llama's halves layout.

    Positions are 0 … T-1 unless given ((T,), or (B, T) for x of shape (B, nh, T, hs)). Pair i = (x[i], x[i+hs/2])
    turns by the angle position · base^(-2i/hs). Then q_m · k_n depends on m - n only: attention sees how far
    apart two tokens are, not where they are.

    Taught in: solutions/14_modern_gpt.ipynb
    """
    T, hs = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    cos, sin = rope_angles(positions, hs, base)  # (T, hs) or (B, T, hs)
    if cos.dim() == 3 and x.dim() == 4:
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, T, hs): the same angles for every head
    return (x * cos + rotate_half(x) * sin).to(x.dtype)  # (..., T, hs)


# --- the SwiGLU MLP --------------------------------------------------------------------------------


def swiglu_hidden(d: int, multiple_of: int = 1) -> int:
    """The hidden width that gives a SwiGLU MLP (3 matrices) GPT-2's MLP's parameters (2 matrices of d × 4d):
    3 · d · h = 8 · d², so h = 8d/3, rounded up to a multiple of `multiple_of` (Llama: 256). d=768 -> 2048.

    Taught in: solutions/14_modern_gpt.ipynb
    """
    hidden = int(8 * d / 3)
    return multiple_of * -(-hidden // multiple_of)


class SwiGLU(nn.Module):
    """The gated MLP of Llama and Qwen: down_proj(silu(gate_proj(x)) * up_proj(x)), no biases.

    gate_proj and up_proj: d -> hidden, down_proj: hidden -> d. The gate's SiLU decides, feature by feature,
    how much of the linear up_proj path passes. (..., d) -> (..., d).

    Taught in: solutions/14_modern_gpt.ipynb
    """

    def __init__(self, d: int, hidden: int | None = None, bias: bool = False):
        super().__init__()
        hidden = hidden or swiglu_hidden(d)
        self.gate_proj = nn.Linear(d, hidden, bias=bias)
        self.up_proj = nn.Linear(d, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, d, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (..., d) -> (..., hidden) -> (..., d)


# --- grouped-query attention -------------------------------------------------------------------------


def repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(B, nkv, T, hs) -> (B, nkv · groups, T, hs): key/value head j serves query heads j·groups … j·groups+groups-1.

    Each head is repeated in place (k0 k0 k1 k1), not the whole stack (k0 k1 k0 k1): query heads are grouped
    consecutively, as Llama's checkpoints are trained.

    Taught in: solutions/14_modern_gpt.ipynb
    """
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)  # (B, nh, T, hs)


def gqa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Causal attention with rotary positions and shared key/value heads.

    q (B, nh, T, hs), k and v (B, nkv, T, hs) with nh a multiple of nkv -> (B, nh, T, hs). Rotates q and k (never
    v: positions belong in the scores, not in what is read), repeats each key/value head for its group of
    nh // nkv query heads, then softmax(q kᵀ / √hs + causal mask) v.

    Taught in: solutions/14_modern_gpt.ipynb
    """
    nh, nkv = q.shape[1], k.shape[1]
    if nh % nkv:
        raise ValueError(f"the {nh} query heads must split evenly into groups over the {nkv} key/value heads")
    q, k = apply_rope(q, base), apply_rope(k, base)  # (B, nh, T, hs), (B, nkv, T, hs)
    k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)  # (B, nh, T, hs)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with n_kv_head key/value heads shared by groups of the n_head query heads, and RoPE.

    n_kv_head = n_head is multi-head attention; n_kv_head = 1 is multi-query attention. A KV cache stores only the
    n_kv_head heads: n_head / n_kv_head times less memory per token. x (B, T, C) -> (B, T, C).

    Taught in: solutions/14_modern_gpt.ipynb
    """

    def __init__(self, n_embd: int, n_head: int, n_kv_head: int | None = None, head_dim: int | None = None,
                 rope_base: float = 10000.0, bias: bool = False, rope: bool = True):
        super().__init__()
        n_kv_head = n_kv_head or n_head
        if n_head % n_kv_head:
            raise ValueError(f"n_head ({n_head}) must be a multiple of n_kv_head ({n_kv_head})")
        head_dim = head_dim or n_embd // n_head
        self.n_head, self.n_kv_head, self.head_dim, self.rope_base, self.rope = n_head, n_kv_head, head_dim, rope_base, rope
        self.q_proj = nn.Linear(n_embd, n_head * head_dim, bias=bias)
        self.k_proj = nn.Linear(n_embd, n_kv_head * head_dim, bias=bias)
        self.v_proj = nn.Linear(n_embd, n_kv_head * head_dim, bias=bias)
        self.o_proj = nn.Linear(n_head * head_dim, n_embd, bias=bias)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None, cache=None) -> torch.Tensor:
        """positions: (T,) or (B, T), the tokens' places (default 0 … T-1); cache: as MultiHeadAttention's."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        if self.rope:
            q, k = apply_rope(q, self.rope_base, positions), apply_rope(k, self.rope_base, positions)
        mask = None
        if cache is not None:
            k, v = cache.update(k, v)  # (B, nkv, T_k, hs): keys are stored rotated, so they never need redoing
            mask = cache.mask
        causal = mask is None and q.shape[-2] > 1
        if causal and q.shape[-2] != k.shape[-2]:  # the T new queries are the last T of T_k positions
            T_k = k.shape[-2]
            mask, causal = torch.ones(T, T_k, dtype=torch.bool, device=x.device).tril(diagonal=T_k - T), False
        groups = self.n_head // self.n_kv_head
        y = F.scaled_dot_product_attention(q, repeat_kv(k, groups), repeat_kv(v, groups), attn_mask=mask,
                                           is_causal=causal)  # (B, nh, T, hs)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim))  # (B, T, C)


class ModernBlock(nn.Module):
    """The Llama block: x + attn(ln_1(x)), then x + mlp(ln_2(x)); RMSNorm, GQA with RoPE, SwiGLU. The same
    pre-norm order as GPT-2's block; only the parts changed.

    Taught in: solutions/14_modern_gpt.ipynb
    """

    def __init__(self, n_embd: int, n_head: int, n_kv_head: int | None = None, hidden: int | None = None,
                 rope_base: float = 10000.0, eps: float = 1e-6, head_dim: int | None = None, *,
                 norm: str = "rms", mlp: str = "swiglu", rope: bool = True):
        super().__init__()
        # norm="layer", mlp="gelu", rope=False put GPT-2's part back in one place: what each change buys is measured
        # one change at a time (benchmarks/train.py).
        make_norm = (lambda: RMSNorm(n_embd, eps)) if norm == "rms" else (lambda: LayerNorm(n_embd, bias=False))
        self.ln_1 = make_norm()
        self.attn = GroupedQueryAttention(n_embd, n_head, n_kv_head, head_dim, rope_base, rope=rope)
        self.ln_2 = make_norm()
        self.mlp = SwiGLU(n_embd, hidden) if mlp == "swiglu" else MLP(n_embd, bias=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None, cache=None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), positions=positions, cache=cache)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)
