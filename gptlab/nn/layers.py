"""The pieces a GPT is built from, written the way the lessons teach them.

Each function here is the reference that a lesson's check compares the learner's version against,
and the version the rest of the package uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn.attention import CausalSelfAttention


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, stable for large logits: (..., n) -> (..., n), each row sums to 1.

    Subtracting the row's maximum changes nothing mathematically (it cancels between numerator and
    denominator) but keeps exp() from overflowing: the largest term becomes exp(0) = 1.

    >>> softmax(torch.tensor([1000.0, 1000.0]))
    tensor([0.5000, 0.5000])

    Taught in: solutions/00_welcome.ipynb
    """
    shifted = x - x.amax(dim=-1, keepdim=True)
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


# --- lesson 02: embeddings and positions ---------------------------------------------------------


def sinusoidal_positions(T: int, d: int) -> torch.Tensor:
    """The fixed positional encoding of "Attention Is All You Need", interleaved: (T, d).

    PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
    Each pair of columns is a clock turning at its own speed, from once every 2π positions (i = 0)
    to once every 10000·2π positions.

    Taught in: solutions/02_embeddings.ipynb
    """
    if not isinstance(T, int) or not isinstance(d, int) or T < 1 or d < 2 or d % 2:
        raise ValueError(f"need T >= 1 and an even d >= 2; got T={T!r}, d={d!r}")
    position = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    two_i = torch.arange(0, d, 2, dtype=torch.float32)  # (d/2,): the even column indices 2i
    angle = position / 10000 ** (two_i / d)  # (T, d/2)
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def input_embedding(idx: torch.Tensor, wte: torch.Tensor, wpe: torch.Tensor) -> torch.Tensor:
    """Token embedding plus position embedding: idx (B, T) int -> (B, T, C).

    wte is the (vocab_size, C) token table, wpe the (block_size, C) position table. They are *added*:
    the sum keeps both signals in one vector, which the first layer can read apart.

    Taught in: solutions/02_embeddings.ipynb
    """
    if idx.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"idx must hold integer token ids; got dtype {idx.dtype}")
    T = idx.shape[-1]
    if T > wpe.shape[0]:
        raise ValueError(f"a sequence of {T} tokens is longer than the {wpe.shape[0]} positions the table holds")
    return wte[idx] + wpe[torch.arange(T, device=idx.device)]  # (B, T, C) + (T, C) broadcasts over B


# --- lesson 05: the block ---------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """Normalise each vector over its last axis, then scale and shift: matches torch.nn.LayerNorm.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the *biased* variance (divide by d, not d-1)
    and eps inside the square root.

    Taught in: solutions/05_block.ipynb
    """

    def __init__(self, d: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}, bias={self.bias is not None}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The formula above, as the lesson writes it out, in PyTorch's fused kernel: the same numbers
        # (tests/test_layers.py), one pass over memory instead of five, which training notices.
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU with the tanh approximation GPT-2 uses (F.gelu(x, approximate="tanh")).

    Taught in: solutions/05_block.ipynb
    """
    # 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), fused: the same numbers, faster.
    return F.gelu(x, approximate="tanh")


class MLP(nn.Module):
    """The feed-forward part of a block, GPT-2 names: c_fc (d -> 4d), GELU, c_proj (4d -> d).

    One nonlinearity only: the output projection stays linear, so the update it adds to the residual
    stream can be negative as well as positive.

    Taught in: solutions/05_block.ipynb
    """

    def __init__(self, d: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d, bias=bias)
        self.c_proj = nn.Linear(4 * d, d, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(gelu(self.c_fc(x))))  # (..., d) -> (..., 4d) -> (..., d)


class Block(nn.Module):
    """A transformer block in GPT-2's pre-norm order: x + attn(ln_1(x)), then x + mlp(ln_2(x)).

    Taught in: solutions/05_block.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, n_heads, bias=bias, dropout=dropout)
        self.ln_2 = LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, bias=bias, dropout=dropout)

    def forward(self, x: torch.Tensor, cache=None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache=cache)  # (B, T, C): the residual stream carries x through
        x = x + self.mlp(self.ln_2(x))
        return x
