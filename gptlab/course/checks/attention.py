"""Checks for lessons 03 and 04: the causal mask, scaled dot-product attention, one head, multi-head attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn import attention
from gptlab.course.checks.core import Case, CheckSpec, Mistake, future_hidden, module_invoker, reference_module, sums_to_one
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say

# --- causal_mask(T) ------------------------------------------------------------------------------


def _mask_cases(seed: int) -> list[Case]:
    T = int(torch.randint(6, 20, (1,), generator=torch.Generator().manual_seed(seed)))
    return [Case("T = 1", (1,)), Case("T = 2", (2,)), Case("T = 5", (5,)), Case(f"T = {T}", (T,))]


check_causal_mask = make_check(CheckSpec(
    exercise="causal_mask",
    reference=attention.causal_mask,
    make_cases=_mask_cases,
    mistakes=[
        Mistake("excludes-diagonal", lambda T: torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1),
                "the diagonal must be True: a token may attend to itself (and the first token has nothing else to attend to)"),
        Mistake("allows-the-future", lambda T: torch.ones(T, T, dtype=torch.bool).triu(),
                "your mask lets each token see the tokens after it and hides the ones before: use tril (lower triangle), not triu"),
        Mistake("inverted", lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(),
                "your mask is inverted: True must mark where attention is ALLOWED (j <= i), not where it is blocked"),
        Mistake("float-mask", lambda T: torch.ones(T, T).tril(),
                "return a bool mask (dtype=torch.bool); yours holds floats 1.0/0.0, which masked_fill cannot use as a condition"),
        Mistake("no-mask", lambda T: torch.ones(T, T, dtype=torch.bool),
                "every position is allowed: the mask must hide the future (j > i)"),
    ],
    variants=[
        lambda T: torch.arange(T)[None, :] <= torch.arange(T)[:, None],
        lambda T: ~torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1),
    ],
    hints=[
        "Row i is the query, column j the key: position i may look at j when j <= i.",
        "torch.ones(T, T, dtype=torch.bool) is all True; one function keeps its lower triangle.",
        "Key line: return torch.ones(T, T, dtype=torch.bool).tril()",
    ],
))

# --- scaled_dot_product_attention(q, k, v, causal=False) -----------------------------------------


def _attention_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def qkv(*lead, T, d_k, d_v, dtype=torch.float32, scale=1.0):
        return tuple(torch.randn(*lead, T, d, generator=g, dtype=dtype) * scale for d in (d_k, d_k, d_v))

    return [
        Case("B=2, T=4, d_k=d_v=8", qkv(2, T=4, d_k=8, d_v=8)),
        Case("causal, B=2, T=5", qkv(2, T=5, d_k=8, d_v=8), {"causal": True}),
        Case("two batch dimensions (2, 3), d_k=6 ≠ d_v=4, causal", qkv(2, 3, T=5, d_k=6, d_v=4), {"causal": True}),
        Case("d_k=16 ≠ d_v=3", qkv(3, T=6, d_k=16, d_v=3)),
        Case("one position (T = 1), causal", qkv(2, T=1, d_k=4, d_v=4), {"causal": True}),
        Case("large logits, causal", qkv(1, T=6, d_k=8, d_v=8, scale=6.0), {"causal": True}),
        Case("float64, causal", qkv(2, T=4, d_k=8, d_v=5, dtype=torch.float64), {"causal": True}),
    ]


def _scores(q, k, scale):
    return q @ k.transpose(-2, -1) / scale


def _future(q, k):
    T_q, T_k = q.shape[-2], k.shape[-2]
    return ~torch.ones(T_q, T_k, dtype=torch.bool).tril()


def _attend(scores, v, dim=-1):
    weights = torch.softmax(scores, dim=dim)
    return weights @ v, weights


def _wrong_axis(q, k, v, causal=False):
    s = _scores(q, k, math.sqrt(q.shape[-1]))
    return _attend(s.masked_fill(_future(q, k), float("-inf")) if causal else s, v, dim=-2)


def _make_scaled(scale_of):
    def attend(q, k, v, causal=False):
        s = _scores(q, k, scale_of(q, v))
        return _attend(s.masked_fill(_future(q, k), float("-inf")) if causal else s, v)
    return attend


def _seed_001(q, k, v, causal=False):
    """Seed 001's `torch.softmax(Q @ K.t() / √d_k, dim=1) @ V`, batched: dim=1 is no longer the keys, and no mask."""
    weights = torch.softmax(_scores(q, k, math.sqrt(q.shape[-1])), dim=1)
    return weights @ v, weights


def _masks_the_past(q, k, v, causal=False):
    s = _scores(q, k, math.sqrt(q.shape[-1]))
    if causal:
        s = s.masked_fill(torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril(-1), float("-inf"))
    return _attend(s, v)


def _mask_excludes_diagonal(q, k, v, causal=False):
    s = _scores(q, k, math.sqrt(q.shape[-1]))
    if causal:
        s = s.masked_fill(~torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril(-1), float("-inf"))
    return _attend(s, v)


def _mask_with_zero(q, k, v, causal=False):
    s = _scores(q, k, math.sqrt(q.shape[-1]))
    return _attend(s.masked_fill(_future(q, k), 0.0) if causal else s, v)


def _mask_after_softmax(q, k, v, causal=False):
    weights = torch.softmax(_scores(q, k, math.sqrt(q.shape[-1])), dim=-1)
    if causal:
        weights = weights.masked_fill(_future(q, k), 0.0)
    return weights @ v, weights


def _causal_ignored(q, k, v, causal=False):
    return _attend(_scores(q, k, math.sqrt(q.shape[-1])), v)


def _einsum(q, k, v, causal=False):
    scores = torch.einsum("...id,...jd->...ij", q, k) / q.shape[-1] ** 0.5
    if causal:
        scores = scores.masked_fill(~torch.ones(scores.shape[-2:], dtype=torch.bool).tril(), -1e9)
    weights = scores.softmax(dim=-1)
    return torch.einsum("...ij,...jd->...id", weights, v), weights


def _fused_output(q, k, v, causal=False):
    weights = torch.softmax(_scores(q, k, math.sqrt(q.shape[-1])).masked_fill(_future(q, k), float("-inf"))
                            if causal else _scores(q, k, math.sqrt(q.shape[-1])), dim=-1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal), weights


def _logsumexp(q, k, v, causal=False):
    s = _scores(q, k, math.sqrt(q.shape[-1]))
    if causal:
        s = s.masked_fill(_future(q, k), float("-inf"))
    weights = (s - s.logsumexp(dim=-1, keepdim=True)).exp()
    return weights @ v, weights


check_scaled_dot_product_attention = make_check(CheckSpec(
    exercise="scaled_dot_product_attention",
    reference=lambda q, k, v, causal=False: attention.scaled_dot_product_attention(q, k, v, causal=causal),
    make_cases=_attention_cases,
    mistakes=[
        Mistake("softmax-wrong-axis", _wrong_axis,
                "each row of the attention weights should sum to 1; yours sum along the wrong axis (softmax over dim=-2?). "
                "Each query distributes its attention over the keys: softmax over dim=-1"),
        Mistake("scaled-by-d_k", _make_scaled(lambda q, v: q.shape[-1]),
                "divide the scores by √d_k, not by d_k: the variance of q·k grows like d_k, so its standard deviation is √d_k"),
        Mistake("no-scale", _make_scaled(lambda q, v: 1.0),
                "the scores are not scaled: divide q kᵀ by √d_k, or large d_k saturates the softmax"),
        Mistake("scaled-by-sqrt-T", _make_scaled(lambda q, v: math.sqrt(q.shape[-2])),
                "you divided by √T, the number of positions; the scale is √d_k, the length of the vectors in each dot "
                "product (q.shape[-1]): it is what the variance of q·k grows with, whatever the sequence length"),
        Mistake("seed-001", _seed_001,
                "this is the seed article's attention, softmax(Q Kᵀ / √d_k, dim=1) with no mask: with a batch axis in "
                "front, dim=1 is not the keys' axis, and nothing hides the future. Softmax over dim=-1 (the keys), "
                "after filling the future's scores with -inf when causal=True"),
        Mistake("masks-the-past", _masks_the_past,
                "your causal mask hides the past and keeps the future: position i must see j <= i (the lower triangle, "
                "tril), and the scores above the diagonal become -inf"),
        Mistake("scaled-by-d_v", _make_scaled(lambda q, v: math.sqrt(v.shape[-1])),
                "scale by √d_k, the size of the vectors in the dot product (q.shape[-1]); you used v's size d_v"),
        Mistake("mask-excludes-diagonal", _mask_excludes_diagonal,
                "your causal mask hides the diagonal too: the first token then has nothing to attend to and its row becomes NaN"),
        Mistake("mask-filled-with-zero", _mask_with_zero,
                "masked scores must become -inf before the softmax; a score of 0 still gets weight exp(0) > 0, so the future leaks in"),
        Mistake("mask-after-softmax", _mask_after_softmax,
                "you zeroed the future after the softmax, so the rows no longer sum to 1; mask the scores with -inf before it"),
        Mistake("causal-ignored", _causal_ignored,
                "with causal=True, position i must not see positions after it; your function ignores the flag"),
    ],
    variants=[_einsum, _fused_output, _logsumexp],
    # On the 'large logits' case the output is a small sum of values of size ~6: float32 rounding of logits near 100
    # moves correct implementations (yours vs torch's fused kernel) apart by up to ~2e-5 there. The mistakes are O(1).
    atol=1e-4,
    hints=[
        "Scores first: every query against every key, scaled by √d_k. Then the mask, then a softmax over the keys, then mix the values.",
        "q kᵀ: q @ k.transpose(-2, -1) is (..., T, T); hide the future with scores.masked_fill(~mask, float('-inf')) "
        "before torch.softmax(scores, dim=-1); weights @ v is (..., T, d_v).",
        "Key lines: scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]); "
        "weights = scores.masked_fill(~causal_mask(T), float('-inf')).softmax(-1) if causal else scores.softmax(-1); "
        "return weights @ v, weights",
    ],
))

# --- Head(d_model, head_size) --------------------------------------------------------------------


def _head_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def shared_prefix(B, T, d, prefix):
        x = torch.randn(B, T, d, generator=g)
        x[1:, :prefix] = x[0, :prefix]  # the sequences differ only after `prefix` tokens: a causal head agrees there
        return x

    return [
        Case("B=2, T=5, d_model=8, head_size=4; the two sequences share their first 3 tokens",
             (shared_prefix(2, 5, 8, 3),), init={"d_model": 8, "head_size": 4}),
        Case("B=3, T=7, d_model=16, head_size=8", (torch.randn(3, 7, 16, generator=g),), init={"d_model": 16, "head_size": 8}),
        Case("one position, d_model=12, head_size=3", (torch.randn(2, 1, 12, generator=g),),
             init={"d_model": 12, "head_size": 3}),
        Case("B=2, T=6, d_model=12, head_size=6, large inputs; shared first 2 tokens",
             (shared_prefix(2, 6, 12, 2) * 3,), init={"d_model": 12, "head_size": 6}),
    ]


class _HeadReference(attention.Head):
    """The reference written out, so that each mistake below changes one step."""

    def scores(self, q, k):
        return q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])           # (B, T, T)

    def mask(self, scores):
        T = scores.shape[-1]
        return scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))

    def mix(self, weights, x):
        return weights @ self.value(x)                                    # (B, T, hs)

    def forward(self, x):
        q, k = self.query(x), self.key(x)
        return self.mix(torch.softmax(self.mask(self.scores(q, k)), dim=-1), x)


class _HeadNoScale(_HeadReference):
    def scores(self, q, k):
        return q @ k.transpose(-2, -1)


class _HeadScaledByModelWidth(_HeadReference):
    def scores(self, q, k):
        return q @ k.transpose(-2, -1) / math.sqrt(self.query.in_features)


class _HeadNoMask(_HeadReference):
    def mask(self, scores):
        return scores


class _HeadWithBias(_HeadReference):
    def __init__(self, d_model, head_size):
        super().__init__(d_model, head_size)
        self.query, self.key, self.value = (nn.Linear(d_model, head_size) for _ in range(3))


class _HeadKeysQueriesSwapped(_HeadReference):
    def scores(self, q, k):
        return k @ q.transpose(-2, -1) / math.sqrt(k.shape[-1])


class _HeadValueSkipped(_HeadReference):
    def mix(self, weights, x):
        return weights @ x


class _HeadFusedKernel(nn.Module):
    def __init__(self, d_model, head_size):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(d_model, head_size, bias=False) for _ in range(3))

    def forward(self, x):
        return F.scaled_dot_product_attention(self.query(x), self.key(x), self.value(x), is_causal=True)


class _HeadByWeights(nn.Module):
    """x @ Wᵀ by hand, the mask by arange, and the exp normalised by its sum."""

    def __init__(self, d_model, head_size):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(d_model, head_size, bias=False) for _ in range(3))

    def forward(self, x):
        q, k, v = (x @ layer.weight.T for layer in (self.query, self.key, self.value))
        T = x.shape[1]
        future = torch.arange(T)[None, :] > torch.arange(T)[:, None]
        scores = (torch.einsum("btd,bsd->bts", q, k) * q.shape[-1] ** -0.5).masked_fill(future, float("-inf"))
        e = (scores - scores.amax(-1, keepdim=True)).exp()
        return (e / e.sum(-1, keepdim=True)) @ v


check_head = make_check(CheckSpec(
    exercise="head",
    reference=attention.Head,
    make_cases=_head_cases,
    invoke=module_invoker(attention.Head),
    mistakes=[
        Mistake("no-scale", _HeadNoScale,
                "the scores are not scaled: divide q kᵀ by √head_size (the length of the vectors in each dot product), "
                "or the softmax saturates as the head grows"),
        Mistake("scaled-by-d_model", _HeadScaledByModelWidth,
                "you divided by √d_model, the width of x; the dot products are between q and k of length head_size, "
                "so the scale is √head_size (q.shape[-1])"),
        Mistake("no-causal-mask", _HeadNoMask,
                "the head is not causal: each position sees the tokens after it. Call your attention with causal=True "
                "(or fill the scores above the diagonal with -inf before the softmax)"),
        Mistake("bias", _HeadWithBias,
                "your projections have biases; the reference's have none: nn.Linear(d_model, head_size, bias=False) "
                "for query, key and value"),
        Mistake("keys-queries-swapped", _HeadKeysQueriesSwapped,
                "you multiplied k qᵀ: row i of the scores must be query i against every key, q @ k.transpose(-2, -1) "
                "(swapped, position i is scored by the others' queries, and the mask keeps the wrong pairs)"),
        Mistake("value-skipped", _HeadValueSkipped,
                "you averaged x itself, not the values: the weights multiply self.value(x), which is (B, T, head_size)"),
    ],
    variants=[_HeadFusedKernel, _HeadByWeights],
    hints=[
        "Three projections of the same x: q = self.query(x), k = self.key(x), v = self.value(x); then your causal "
        "scaled dot-product attention on them.",
        "Shapes: x (B, T, d_model) -> q, k, v each (B, T, head_size); the scores q kᵀ are (B, T, T); the output "
        "weights @ v is (B, T, head_size).",
        "Key lines: q, k, v = self.query(x), self.key(x), self.value(x); "
        "out, _ = scaled_dot_product_attention(q, k, v, causal=True); return out",
    ],
))


def _head_sees_the_future(case, expected, actual):
    """Sequences that share their first tokens must get the same outputs there: later tokens are not visible yet."""
    x = case.args[0]
    if x.shape[0] < 2 or actual.shape != expected.shape:
        return None
    prefix = 0
    while prefix < x.shape[1] and torch.equal(x[0, prefix], x[1, prefix]):
        prefix += 1
    if prefix == 0 or not torch.allclose(expected[0, :prefix], expected[1, :prefix], atol=1e-6):
        return None
    if torch.allclose(actual[0, :prefix], actual[1, :prefix], atol=1e-5):
        return None
    return say("attention.head.sees_future", prefix=prefix)


def _head_width(case, expected, actual):
    d_model, head_size = case.init["d_model"], case.init["head_size"]
    if actual.shape[:-1] == expected.shape[:-1] and actual.shape[-1] == d_model != head_size:
        return say("attention.head.width", d_model=d_model, head_size=head_size)
    return None


check_head.spec.properties += [_head_width, _head_sees_the_future]


class _HeadNoMaskScaledByModelWidth(_HeadNoMask, _HeadScaledByModelWidth):
    """The causal mask forgotten and the wrong scale, √d_model."""


class _HeadValueSkippedNoScale(_HeadValueSkipped, _HeadNoScale):
    """x averaged instead of the values, and the scores not scaled."""


class _HeadNoMaskSwapped(_HeadNoMask, _HeadKeysQueriesSwapped):
    """No causal mask, and k qᵀ instead of q kᵀ."""


check_head.spec.combined += [_HeadNoMaskScaledByModelWidth, _HeadValueSkippedNoScale, _HeadNoMaskSwapped]

# --- CausalSelfAttention(d_model, n_heads) -------------------------------------------------------


def _mha_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    return [
        Case("B=2, T=5, d_model=8, 2 heads", (torch.randn(2, 5, 8, generator=g),), init={"d_model": 8, "n_heads": 2}),
        Case("B=3, T=7, d_model=16, 4 heads", (torch.randn(3, 7, 16, generator=g),), init={"d_model": 16, "n_heads": 4}),
        Case("one position, d_model=12, 3 heads", (torch.randn(2, 1, 12, generator=g),), init={"d_model": 12, "n_heads": 3}),
        Case("B=1, T=6, d_model=12, 3 heads", (torch.randn(1, 6, 12, generator=g) * 2,), init={"d_model": 12, "n_heads": 3}),
    ]


class _Reference(attention.CausalSelfAttention):
    """The package's module written out step by step, so each mistake below changes one step."""

    def attend(self, q, k, v, B, T, C):  # overridden by the mistakes below
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return y.transpose(1, 2).reshape(B, T, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        return self.c_proj(self.attend(q, k, v, B, T, C))


class _ReshapeWithoutTranspose(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.reshape(B, nh, T, C // nh) for t in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)


class _MergeWithoutTranspose(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v, is_causal=True).reshape(B, T, C)


class _NoCausalMask(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, C)


class _ScaledByModelWidth(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1 / math.sqrt(C))
        return y.transpose(1, 2).reshape(B, T, C)


class _NoScale(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0).transpose(1, 2).reshape(B, T, C)


class _ScaledBySqrtT(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1 / math.sqrt(T))
        return y.transpose(1, 2).reshape(B, T, C)


class _HeadsInterleaved(_Reference):
    """view(B, T, hs, nh) instead of (B, T, nh, hs): head h gets features h, h + nh, h + 2·nh, … (merged back alike)."""

    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, C // nh, nh).permute(0, 3, 1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return y.permute(0, 2, 3, 1).reshape(B, T, C)


class _MasksThePast(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        allowed = torch.ones(T, T, dtype=torch.bool).triu()
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return y.transpose(1, 2).reshape(B, T, C)


class _QueryKeySwapped(_Reference):
    def forward(self, x):
        B, T, C = x.shape
        k, q, v = self.c_attn(x).split(C, dim=2)
        return self.c_proj(self.attend(q, k, v, B, T, C))


class _NoOutputProjection(_Reference):
    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        return self.attend(q, k, v, B, T, C)


class _HeadByHead(_Reference):
    def attend(self, q, k, v, B, T, C):
        hs = C // self.n_heads
        outs = []
        for h in range(self.n_heads):
            part = slice(h * hs, (h + 1) * hs)
            out, _ = attention.scaled_dot_product_attention(q[..., part], k[..., part], v[..., part], causal=True)
            outs.append(out)
        return torch.cat(outs, dim=-1)


class _Einops(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.unflatten(-1, (nh, C // nh)).permute(0, 2, 1, 3) for t in (q, k, v))
        scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(C // nh)
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        return torch.einsum("bhij,bhjd->bihd", scores.softmax(-1), v).flatten(-2)


check_causal_self_attention = make_check(CheckSpec(
    exercise="causal_self_attention",
    reference=attention.CausalSelfAttention,
    make_cases=_mha_cases,
    invoke=module_invoker(attention.CausalSelfAttention),
    mistakes=[
        Mistake("reshape-without-transpose", _ReshapeWithoutTranspose,
                "you reshaped (B, T, C) straight to (B, nh, T, hs), which scrambles positions and features; view it as "
                "(B, T, nh, hs) first, then transpose(1, 2)"),
        Mistake("merge-without-transpose", _MergeWithoutTranspose,
                "merging heads in the wrong order: transpose (B, nh, T, hs) back to (B, T, nh, hs) before reshaping to (B, T, C)"),
        Mistake("no-causal-mask", _NoCausalMask,
                "the attention is not causal: each position sees the future (is_causal=True, or the causal mask)"),
        Mistake("scaled-by-d_model", _ScaledByModelWidth,
                "scale by √(head size) = √(d_model / n_heads), the length of the vectors each head multiplies, not √d_model"),
        Mistake("no-scale", _NoScale,
                "the scores are not scaled: each head divides q kᵀ by √(head size) = √(d_model / n_heads) "
                "(F.scaled_dot_product_attention does it for you unless you pass scale=1)"),
        Mistake("scaled-by-sqrt-T", _ScaledBySqrtT,
                "you scaled by √T, the number of positions; the scale is √(head size) = √(d_model / n_heads), the "
                "length of the vectors each head multiplies"),
        Mistake("heads-interleaved", _HeadsInterleaved,
                "your heads take every n_heads-th feature (a view as (B, T, hs, nh)): head h must take the contiguous "
                "slice h·hs … (h+1)·hs - 1, so view as (B, T, nh, hs), then transpose(1, 2)"),
        Mistake("masks-the-past", _MasksThePast,
                "your mask hides the past and keeps the future (an upper triangle): position i may attend to j <= i, "
                "the lower triangle (is_causal=True does it)"),
        Mistake("q-k-swapped", _QueryKeySwapped,
                "c_attn's output is q, k, v in that order along the last axis; you took k first"),
        Mistake("no-output-projection", _NoOutputProjection,
                "the heads' outputs must go through c_proj, which mixes what the heads found"),
    ],
    variants=[_HeadByHead, _Einops],
    hints=[
        "One c_attn gives q, k and v side by side: split them, give each head its own slice of the features, attend, put the heads back side by side, project.",
        "Shapes: (B, T, 3C) -split-> 3 × (B, T, C) -view-> (B, T, nh, hs) -transpose(1, 2)-> (B, nh, T, hs); "
        "attention gives (B, nh, T, hs) -transpose(1, 2)-> (B, T, nh, hs) -reshape-> (B, T, C).",
        "Key lines: q, k, v = self.c_attn(x).split(C, dim=2); q = q.view(B, T, nh, C // nh).transpose(1, 2) (same for k, v); "
        "y = F.scaled_dot_product_attention(q, k, v, is_causal=True); return self.c_proj(y.transpose(1, 2).reshape(B, T, C))",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _mask_property(case, expected, actual):
    """The causal mask's two rules, read from the values whatever the dtype: the diagonal allowed, the future not."""
    a = actual != 0
    if a.shape != expected.shape:
        return None
    dtype = "" if actual.dtype == torch.bool else say("attention.mask.dtype", dtype=actual.dtype)
    T = a.shape[-1]
    if a[torch.ones(T, T, dtype=torch.bool).triu(1)].any():
        return say("attention.mask.future", dtype=dtype)
    if not a.diagonal().all():
        return say("attention.mask.diagonal", dtype=dtype)
    return None


check_causal_mask.spec.properties += [_mask_property]
check_causal_mask.spec.combined += [
    lambda T: torch.ones(T, T).tril(diagonal=-1),  # the diagonal excluded + a float mask
    lambda T: torch.ones(T, T),                    # no mask + a float mask
]


def _wrong_axis_scaled_by_d_k(q, k, v, causal=False):
    s = _scores(q, k, q.shape[-1])
    return _attend(s.masked_fill(_future(q, k), float("-inf")) if causal else s, v, dim=-2)


check_scaled_dot_product_attention.spec.properties += [sums_to_one("each row of the attention weights", item=1),
                                                       future_hidden(item=1)]
check_scaled_dot_product_attention.spec.combined += [
    _wrong_axis_scaled_by_d_k,                                                  # the wrong axis + scaled by d_k
    lambda q, k, v, causal=False: _attend(_scores(q, k, 1.0), v),               # no scale + causal ignored
]


def _first_position_sees_the_future(case, expected, actual):
    """Position 0 may attend to itself only, so its output is c_proj(v₀) whatever the scale or the order of q and k:
    if it differs on a case of several positions, later tokens leaked into it (or v₀ took another path)."""
    if actual.shape != expected.shape or actual.shape[1] < 2:
        return None
    if torch.allclose(actual[:, 0], expected[:, 0], atol=1e-4, rtol=1e-3):
        return None
    module = reference_module(attention.CausalSelfAttention, case).requires_grad_(False)
    C = actual.shape[-1]
    value = module.c_attn(case.args[0])[..., 2 * C:]  # (B, T, C): every head's v, side by side
    if torch.allclose(actual[:, 0], value[:, 0], atol=1e-4, rtol=1e-3):
        return say("attention.self_attention.unprojected")
    return say("attention.self_attention.first_position")


class _NoMaskNoScale(_Reference):
    def attend(self, q, k, v, B, T, C):
        nh = self.n_heads
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v, scale=1.0).transpose(1, 2).reshape(B, T, C)


class _NoMaskQueryKeySwapped(_NoCausalMask):
    def forward(self, x):
        B, T, C = x.shape
        k, q, v = self.c_attn(x).split(C, dim=2)
        return self.c_proj(self.attend(q, k, v, B, T, C))


check_causal_self_attention.spec.properties += [_first_position_sees_the_future]
check_causal_self_attention.spec.combined += [_NoMaskNoScale, _NoMaskQueryKeySwapped]
