"""Checks for lesson 14: RMSNorm, rotary position embeddings, the SwiGLU MLP, grouped-query attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn import modern
from gptlab.course.checks.core import Case, CheckSpec, Mistake, module_invoker
from gptlab.course.checks.notebook import make_check

# --- RMSNorm(d, eps=1e-6) --------------------------------------------------------------------------


def _rms_norm_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    with_zero_row = randn(2, 3, 8)
    with_zero_row[1, 2] = 0.0  # a padding vector, say: eps keeps 0 / 0 away
    return [
        Case("(B=2, T=5, d=8), mean 1", (randn(2, 5, 8) * 3 + 1,), init={"d": 8}),
        Case("one vector (1, 1, 16)", (randn(1, 1, 16),), init={"d": 16}),
        Case("two batch dimensions (2, 3, 4, 6)", (randn(2, 3, 4, 6),), init={"d": 6}),
        Case("tiny values (std 0.001, where eps matters)", (randn(3, 4, 8) * 1e-3,), init={"d": 8}),
        Case("one row of zeros", (with_zero_row,), init={"d": 8}),
    ]


def _mean_square(x):
    return x.pow(2).mean(-1, keepdim=True)


class _MeanSubtracted(modern.RMSNorm):
    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        return centred / torch.sqrt(_mean_square(centred) + self.eps) * self.weight


class _EpsOutsideRoot(modern.RMSNorm):
    def forward(self, x):
        return x / (torch.sqrt(_mean_square(x)) + self.eps) * self.weight


class _NoEps(modern.RMSNorm):
    def forward(self, x):
        return x / torch.sqrt(_mean_square(x)) * self.weight


class _NoWeight(modern.RMSNorm):
    def forward(self, x):
        return x * torch.rsqrt(_mean_square(x) + self.eps)


class _SumNotMean(modern.RMSNorm):
    def forward(self, x):
        return x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + self.eps) * self.weight


class _FunctionalRMSNorm(modern.RMSNorm):
    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class _Written(modern.RMSNorm):
    def forward(self, x):
        rms = (x * x).mean(dim=-1, keepdim=True).add(self.eps).sqrt()
        return self.weight * (x / rms)


check_rms_norm = make_check(CheckSpec(
    exercise="rms_norm",
    reference=modern.RMSNorm,
    make_cases=_rms_norm_cases,
    invoke=module_invoker(modern.RMSNorm),
    mistakes=[
        Mistake("mean-subtracted", _MeanSubtracted,
                "you subtracted the mean, as LayerNorm does; RMSNorm drops the centring (and the bias): divide x itself "
                "by its root mean square, sqrt(mean(x²) + eps)"),
        Mistake("eps-outside-root", _EpsOutsideRoot,
                "eps goes inside the square root: sqrt(mean(x²) + eps), not sqrt(mean(x²)) + eps; the difference "
                "shows on tiny vectors"),
        Mistake("no-eps", _NoEps,
                "add eps inside the square root: a vector of zeros (padding) gives 0 / 0 = NaN without it"),
        Mistake("no-weight", _NoWeight, "after normalising, scale by self.weight (the learned per-feature gain)"),
        Mistake("sum-not-mean", _SumNotMean,
                "divide by the root *mean* square, mean(x²) over the d features; with sum(x²) every vector shrinks "
                "to length 1 instead of √d"),
    ],
    variants=[_FunctionalRMSNorm, _Written],
    hints=[
        "LayerNorm without two steps: do not subtract the mean, do not add a bias. Divide each vector by its root "
        "mean square, then scale by weight.",
        "mean(x²) over the last axis is (..., 1) with dim=-1, keepdim=True; eps goes inside the square root; "
        "weight is (d,).",
        "Key line: return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight",
    ],
))

# --- apply_rope(x, base=10000.0) --------------------------------------------------------------------


def _rope_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, dtype=torch.float32):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return [
        Case("(B=2, nh=3, T=5, hs=8)", (randn(2, 3, 5, 8),)),
        Case("one position (T=1), hs=2", (randn(1, 1, 1, 2),)),
        Case("Llama 3's base 500000, T=16, hs=16", (randn(1, 2, 16, 16), 500000.0)),
        Case("hs=6 (3 pairs), T=7, no head axis", (randn(2, 7, 6),)),
        Case("T=64 positions, hs=4, base 100", (randn(1, 1, 64, 4), 100.0)),
        Case("float64, (T=6, hs=8)", (randn(6, 8, dtype=torch.float64),)),
    ]


def _angles(x, base, start=0, exponent=2.0):
    T, hs = x.shape[-2], x.shape[-1]
    inv_freq = base ** (-exponent * torch.arange(hs // 2, dtype=torch.float64) / hs)  # (hs/2,)
    angles = torch.arange(start, start + T, dtype=torch.float64)[:, None] * inv_freq  # (T, hs/2)
    return angles.cos().to(x.dtype), angles.sin().to(x.dtype)


def _halves(x, cos, sin, sign=1.0):
    x1, x2 = x.chunk(2, dim=-1)
    sin = sign * sin
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def _interleaved(x, base=10000.0):
    cos, sin = _angles(x, base)
    even, odd = x[..., 0::2], x[..., 1::2]  # pairs (0, 1), (2, 3), …: the original RoFormer / Meta layout
    return torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1).flatten(-2)


def _positions_from_one(x, base=10000.0):
    return _halves(x, *_angles(x, base, start=1))


def _ignores_base(x, base=10000.0):
    return _halves(x, *_angles(x, 10000.0))


def _exponent_without_two(x, base=10000.0):
    return _halves(x, *_angles(x, base, exponent=1.0))


def _rotates_backwards(x, base=10000.0):
    return _halves(x, *_angles(x, base), sign=-1.0)


def _explicit_halves(x, base=10000.0):
    return _halves(x, *_angles(x, base))


def _complex(x, base=10000.0):
    cos, sin = _angles(x.double(), base)
    x1, x2 = x.double().chunk(2, dim=-1)
    turned = torch.complex(x1, x2) * torch.complex(cos, sin)  # a rotation is a multiplication by e^{iθ}
    return torch.cat([turned.real, turned.imag], dim=-1).to(x.dtype)


def _rotate_half_form(x, base=10000.0):
    cos, sin = _angles(x, base)
    cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
    return x * cos + modern.rotate_half(x) * sin


check_rope = make_check(CheckSpec(
    exercise="rope",
    reference=modern.apply_rope,
    make_cases=_rope_cases,
    mistakes=[
        Mistake("interleaved-pairs", _interleaved,
                "you rotated interleaved pairs (x0, x1), (x2, x3), …; this model (like Llama's checkpoints in Hugging "
                "Face's layout) pairs feature i with feature i + hs/2: split the last axis into two halves"),
        Mistake("positions-from-one", _positions_from_one,
                "positions start at 0: the first token is not rotated at all (angle 0), the second by θ_i, …"),
        Mistake("ignores-base", _ignores_base,
                "use the `base` you are given: Llama 3 uses 500000 and Qwen3 1000000, not always 10000"),
        Mistake("exponent-without-two", _exponent_without_two,
                "pair i turns at base^(-2i/hs), i = 0 … hs/2 - 1: with base^(-i/hs) the slowest pair turns far too "
                "fast, and long distances look alike"),
        Mistake("rotates-backwards", _rotates_backwards,
                "your rotation turns the wrong way: the first half becomes x1·cos - x2·sin and the second x2·cos + "
                "x1·sin (rotate_half is (-x2, x1), not (x2, -x1))"),
    ],
    variants=[_explicit_halves, _complex, _rotate_half_form],
    hints=[
        "Position m turns feature pair i = (x[i], x[i + hs/2]) by the angle m · base^(-2i/hs): a 2-D rotation per "
        "pair, one speed per pair.",
        "angles: positions (T, 1) times base ** (-2·arange(hs/2)/hs) -> (T, hs/2); x1, x2 = x.chunk(2, -1), each "
        "(..., T, hs/2); the output is (..., T, hs).",
        "Key lines: cos, sin = angles.cos(), angles.sin(); return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)",
    ],
))

# --- SwiGLU(d, hidden) --------------------------------------------------------------------------------


def _swiglu_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    return [
        Case("(B=2, T=5, d=8), hidden 16", (torch.randn(2, 5, 8, generator=g) * 2,), init={"d": 8, "hidden": 16}),
        Case("one position (1, 1, 4), hidden 12", (torch.randn(1, 1, 4, generator=g) * 2,), init={"d": 4, "hidden": 12}),
        Case("(B=3, T=2, d=12), hidden 32", (torch.randn(3, 2, 12, generator=g) * 2,), init={"d": 12, "hidden": 32}),
    ]


class _GateOnUp(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(self.gate_proj(x) * F.silu(self.up_proj(x)))


class _Gelu(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(F.gelu(self.gate_proj(x)) * self.up_proj(x))


class _SigmoidGate(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(torch.sigmoid(self.gate_proj(x)) * self.up_proj(x))


class _SiluAfterProduct(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x) * self.up_proj(x)))


class _NoUpPath(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)))


class _WrittenSilu(modern.SwiGLU):
    def forward(self, x):
        gate = self.gate_proj(x)
        return self.down_proj(gate * torch.sigmoid(gate) * self.up_proj(x))


class _SiluModule(modern.SwiGLU):
    def __init__(self, d, hidden=None):
        super().__init__(d, hidden)
        self.act = nn.SiLU()  # no parameters: the state dict keeps Llama's names

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


check_swiglu = make_check(CheckSpec(
    exercise="swiglu",
    reference=modern.SwiGLU,
    make_cases=_swiglu_cases,
    invoke=module_invoker(modern.SwiGLU),
    mistakes=[
        Mistake("silu-on-up", _GateOnUp,
                "the SiLU belongs on gate_proj's output, and up_proj's stays linear: down_proj(silu(gate_proj(x)) * "
                "up_proj(x)); the two are not interchangeable once weights are loaded by name"),
        Mistake("gelu", _Gelu, "SwiGLU's gate is SiLU (x · sigmoid(x), F.silu), not GELU (that would be GeGLU)"),
        Mistake("sigmoid-gate", _SigmoidGate,
                "a plain sigmoid gate is the original GLU; SwiGLU multiplies by silu(gate) = gate · sigmoid(gate)"),
        Mistake("silu-after-product", _SiluAfterProduct,
                "apply the SiLU to the gate alone, then multiply: silu(gate_proj(x)) * up_proj(x), not silu(gate * up)"),
        Mistake("no-up-path", _NoUpPath,
                "you left out up_proj: the gate multiplies a second, linear projection of x, feature by feature"),
    ],
    variants=[_WrittenSilu, _SiluModule],
    hints=[
        "Two projections of x to the hidden width: one through SiLU (the gate), one linear; multiply them feature "
        "by feature, then project back to d.",
        "(..., d) -gate_proj-> (..., hidden) -silu-> times (..., d) -up_proj-> (..., hidden), then -down_proj-> (..., d).",
        "Key line: return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))",
    ],
))

# --- gqa_attention(q, k, v, base=10000.0) ------------------------------------------------------------


def _gqa_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def qkv(B, nh, nkv, T, hs):
        return torch.randn(B, nh, T, hs, generator=g), torch.randn(B, nkv, T, hs, generator=g), \
            torch.randn(B, nkv, T, hs, generator=g)

    return [
        Case("B=2, 4 query heads over 2 kv heads, T=5, hs=8", qkv(2, 4, 2, 5, 8)),
        Case("6 query heads over 3 kv heads, T=6, hs=4", qkv(1, 6, 3, 6, 4)),
        Case("multi-query: 3 heads over 1 kv head, T=4", qkv(2, 3, 1, 4, 8)),
        Case("multi-head: 2 over 2, T=3", qkv(1, 2, 2, 3, 6)),
        Case("one position (T=1), 4 over 2", qkv(1, 4, 2, 1, 4)),
        Case("base 500000, 8 over 2 kv heads, T=9, hs=16", (*qkv(1, 8, 2, 9, 16), 500000.0)),
    ]


def _grouped(k, v, q):
    groups = q.shape[1] // k.shape[1]
    return k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)


def _repeat_wrong_order(q, k, v, base=10000.0):
    groups = q.shape[1] // k.shape[1]
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    return F.scaled_dot_product_attention(q, k.repeat(1, groups, 1, 1), v.repeat(1, groups, 1, 1), is_causal=True)


def _rotates_values(q, k, v, base=10000.0):
    q, k, v = (modern.apply_rope(t, base) for t in (q, k, v))
    return F.scaled_dot_product_attention(q, *_grouped(k, v, q), is_causal=True)


def _queries_only(q, k, v, base=10000.0):
    q = modern.apply_rope(q, base)
    return F.scaled_dot_product_attention(q, *_grouped(k, v, q), is_causal=True)


def _no_causal_mask(q, k, v, base=10000.0):
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    return F.scaled_dot_product_attention(q, *_grouped(k, v, q))


def _no_scale(q, k, v, base=10000.0):
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    k, v = _grouped(k, v, q)
    T = q.shape[-2]
    scores = (q @ k.transpose(-2, -1)).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _enable_gqa(q, k, v, base=10000.0):
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


def _expand_reshape(q, k, v, base=10000.0):
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    B, nkv, T, hs = k.shape
    groups = q.shape[1] // nkv
    k, v = (t[:, :, None].expand(B, nkv, groups, T, hs).reshape(B, nkv * groups, T, hs) for t in (k, v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _per_group(q, k, v, base=10000.0):
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    groups = q.shape[1] // k.shape[1]
    outs = [F.scaled_dot_product_attention(q[:, h:h + 1], k[:, h // groups:h // groups + 1], v[:, h // groups:h // groups + 1],
                                           is_causal=True) for h in range(q.shape[1])]
    return torch.cat(outs, dim=1)


check_gqa_attention = make_check(CheckSpec(
    exercise="gqa_attention",
    reference=modern.gqa_attention,
    make_cases=_gqa_cases,
    mistakes=[
        Mistake("repeat-wrong-order", _repeat_wrong_order,
                "your key/value heads are repeated as a whole stack (k0 k1 k0 k1): query head h must read kv head "
                "h // groups, so repeat each head in place (k0 k0 k1 k1), with repeat_interleave(groups, dim=1)"),
        Mistake("rotates-values", _rotates_values,
                "rotate q and k only: positions belong in the scores q·k, not in the values that are read and mixed"),
        Mistake("queries-only", _queries_only,
                "rotate the keys too: q_m · k_n depends on m - n only when both are turned by their own positions"),
        Mistake("no-causal-mask", _no_causal_mask,
                "this is a GPT: each position attends to itself and the past only (is_causal=True or a tril mask)"),
        Mistake("no-scale", _no_scale, "divide the scores by √hs before the softmax, as in lesson 03"),
    ],
    variants=[_enable_gqa, _expand_reshape, _per_group],
    hints=[
        "Three steps: rotate q and k by their positions (your apply_rope), give every query head its group's key and "
        "value head, then causal attention as in lesson 04.",
        "q (B, nh, T, hs); k, v (B, nkv, T, hs); groups = nh // nkv; k.repeat_interleave(groups, dim=1) is "
        "(B, nh, T, hs); the output is (B, nh, T, hs).",
        "Key lines: q, k = apply_rope(q, base), apply_rope(k, base); k, v = k.repeat_interleave(g, 1), "
        "v.repeat_interleave(g, 1); return F.scaled_dot_product_attention(q, k, v, is_causal=True)",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------
# (the properties and the larger implementations sit in modern_combined, to keep this module readable)

from gptlab.course.checks import modern_combined as _combined  # noqa: E402


check_rms_norm.spec.properties += [_combined.rms_statistics]
check_rms_norm.spec.combined += [_combined.CentredNoWeight, _combined.SumEpsOutside]


check_rope.spec.properties += [_combined.rope_turns]
check_rope.spec.combined += [
    lambda x, base=10000.0: _halves(x, *_angles(x, base, start=1), sign=-1.0),   # positions from 1 + backwards
    lambda x, base=10000.0: _halves(x, *_angles(x, 10000.0, exponent=1.0)),       # base ignored + no 2 in the exponent
]


check_swiglu.spec.properties += [_combined.swiglu_formula]
check_swiglu.spec.combined += [_combined.GeluAfterProduct, _combined.SigmoidNoUp]


def _queries_only_wrong_order(q, k, v, base=10000.0):
    groups = q.shape[1] // k.shape[1]
    q = modern.apply_rope(q, base)
    return F.scaled_dot_product_attention(q, k.repeat(1, groups, 1, 1), v.repeat(1, groups, 1, 1), is_causal=True)


def _no_mask_no_scale(q, k, v, base=10000.0):
    q, k = modern.apply_rope(q, base), modern.apply_rope(k, base)
    k, v = _grouped(k, v, q)
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


check_gqa_attention.spec.properties += [_combined.gqa_first_position]
check_gqa_attention.spec.combined += [_queries_only_wrong_order, _no_mask_no_scale]
