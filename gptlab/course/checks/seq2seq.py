"""Checks for lesson 11: attention with a padding mask, and cross-attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptlab.nn import attention
from gptlab.topics.seq2seq import model as seq2seq
from gptlab.course.checks.core import Case, CheckSpec, Mistake, module_invoker, reference_module, sums_to_one
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say

# --- attend_with_padding(q, k, v, key_padding_mask) ------------------------------------------------


def _lengths(g: torch.Generator, B: int, T: int) -> torch.Tensor:
    """The first sequence is full, the others padded, so a mask that hides the wrong thing always shows."""
    rest = torch.randint(1, T, (B - 1,), generator=g) if T > 1 else torch.ones(B - 1, dtype=torch.long)
    return torch.cat([torch.tensor([T]), rest])


def _mask_from_lengths(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T)[None, :] < lengths[:, None]  # (B, T), True at real tokens


def _padding_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def case(name, B, T_q, T_k, d, d_v, dtype=torch.float32, scale=1.0, full=False):
        q = torch.randn(B, T_q, d, generator=g, dtype=dtype) * scale
        k = torch.randn(B, T_k, d, generator=g, dtype=dtype) * scale
        v = torch.randn(B, T_k, d_v, generator=g, dtype=dtype)
        lengths = torch.full((B,), T_k) if full else _lengths(g, B, T_k)
        return Case(name, (q, k, v, _mask_from_lengths(lengths, T_k)))

    return [
        case("B=2, T=5, d=8, one sequence padded", 2, 5, 5, 8, 8),
        case("B=3, T=7, d=4, d_v=6", 3, 7, 7, 4, 6),
        case("no padding at all", 2, 4, 4, 8, 8, full=True),
        case("large scores", 3, 6, 6, 8, 8, scale=4.0),
        case("float64", 2, 5, 5, 6, 3, dtype=torch.float64),
        case("3 queries, 6 keys (as in cross-attention)", 2, 3, 6, 8, 8),
    ]


def _scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, T_q, T_k)


def _masks_queries(q, k, v, key_padding_mask):
    scores = _scores(q, k).masked_fill(~key_padding_mask[:, :, None], float("-inf"))  # hides rows, not columns
    weights = scores.softmax(-1)
    return weights @ v, weights


def _filled_with_zero(q, k, v, key_padding_mask):
    weights = _scores(q, k).masked_fill(~key_padding_mask[:, None, :], 0.0).softmax(-1)
    return weights @ v, weights


def _inverted(q, k, v, key_padding_mask):
    weights = _scores(q, k).masked_fill(key_padding_mask[:, None, :], float("-inf")).softmax(-1)
    return weights @ v, weights


def _zeroed_after_softmax(q, k, v, key_padding_mask):
    weights = _scores(q, k).softmax(-1) * key_padding_mask[:, None, :]
    return weights @ v, weights


def _mask_ignored(q, k, v, key_padding_mask):
    weights = _scores(q, k).softmax(-1)
    return weights @ v, weights


def _large_negative_einsum(q, k, v, key_padding_mask):
    scores = torch.einsum("bid,bjd->bij", q, k) / q.shape[-1] ** 0.5
    weights = torch.where(key_padding_mask.unsqueeze(1), scores, torch.tensor(-1e9, dtype=scores.dtype)).softmax(-1)
    return torch.einsum("bij,bjd->bid", weights, v), weights


def _additive_mask(q, k, v, key_padding_mask):
    bias = torch.zeros(key_padding_mask.shape, dtype=q.dtype).masked_fill(~key_padding_mask, float("-inf"))
    weights = torch.softmax(_scores(q, k) + bias[:, None, :], dim=-1)
    return weights @ v, weights


def _renormalised(q, k, v, key_padding_mask):
    e = (_scores(q, k) - _scores(q, k).amax(-1, keepdim=True)).exp() * key_padding_mask[:, None, :]
    weights = e / e.sum(-1, keepdim=True)
    return weights @ v, weights


check_padding_mask = make_check(CheckSpec(
    exercise="padding_mask",
    reference=seq2seq.attend_with_padding,
    make_cases=_padding_cases,
    mistakes=[
        Mistake("masks-queries", _masks_queries,
                "you masked the queries (rows) instead of the keys (columns): padding must never be *looked at*, so "
                "hide key j from every query with key_padding_mask[:, None, :] (B, 1, T_k); a padded query may look "
                "at real words, and its own output is simply ignored later"),
        Mistake("mask-filled-with-zero", _filled_with_zero,
                "padded scores must become -inf before the softmax; a score of 0 still gets weight exp(0) > 0"),
        Mistake("mask-inverted", _inverted,
                "your mask is inverted: True marks a REAL token (attend to it), False marks padding (hide it)"),
        Mistake("zeroed-after-softmax", _zeroed_after_softmax,
                "you zeroed the padded weights after the softmax, so the rows no longer sum to 1; mask the scores "
                "with -inf before it"),
        Mistake("mask-ignored", _mask_ignored,
                "the padding mask is not used: every query still attends to the padded keys"),
    ],
    variants=[_large_negative_einsum, _additive_mask, _renormalised],
    hints=[
        "Same as lesson 03's attention, with one more mask: key j is hidden from every query when key_padding_mask[b, j] is False.",
        "Shapes: scores (B, T_q, T_k); key_padding_mask (B, T_k) -> key_padding_mask[:, None, :] (B, 1, T_k) broadcasts "
        "over the queries. Fill with float('-inf') before the softmax over dim=-1.",
        "Key lines: scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]); "
        "weights = scores.masked_fill(~key_padding_mask[:, None, :], float('-inf')).softmax(-1); return weights @ v, weights",
    ],
))

# --- CrossAttention(d_model, n_heads): forward(x, context, key_padding_mask=None) --------------------


def _cross_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def case(name, B, T, S, C, nh, masked=True):
        x, context = torch.randn(B, T, C, generator=g), torch.randn(B, S, C, generator=g)
        kwargs = {"key_padding_mask": _mask_from_lengths(_lengths(g, B, S), S)} if masked else {}
        return Case(name, (x, context), kwargs, init={"d_model": C, "n_heads": nh})

    return [
        case("B=2, T=4 targets, S=6 sources, d_model=8, 2 heads, padded", 2, 4, 6, 8, 2),
        case("B=3, T=5, S=7, d_model=16, 4 heads, padded", 3, 5, 7, 16, 4),
        case("no padding mask, T=3, S=5", 2, 3, 5, 12, 3, masked=False),
        case("one target position (T=1), S=4", 2, 1, 4, 8, 2),
        case("T = S = 5, padded", 2, 5, 5, 8, 2),
    ]


class _Reference(seq2seq.CrossAttention):
    """The package's module written out step by step, so each mistake below changes one step."""

    def project(self, x, context):
        C = self.d_model
        return self.c_attn(x)[..., :C], *self.c_attn(context)[..., C:].split(C, dim=-1)

    def mask(self, key_padding_mask, T, S):
        return None if key_padding_mask is None else key_padding_mask[:, None, None, :]

    def forward(self, x, context, key_padding_mask=None):
        B, T, C = x.shape
        q, k, v = self.project(x, context)
        heads = lambda t: t.view(B, t.shape[1], self.n_heads, C // self.n_heads).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=self.mask(key_padding_mask, T, context.shape[1]))
        return self.c_proj(y.transpose(1, 2).reshape(B, q.shape[1], C))


class _QueriesFromEncoder(_Reference):
    def project(self, x, context):
        return super().project(context, x)


class _IgnoresContext(_Reference):
    def project(self, x, context):
        return self.c_attn(x).split(self.d_model, dim=-1)


class _CausalCrossAttention(_Reference):
    def mask(self, key_padding_mask, T, S):
        causal = torch.ones(T, S, dtype=torch.bool).tril()
        return causal if key_padding_mask is None else key_padding_mask[:, None, None, :] & causal


class _PaddingIgnored(_Reference):
    def mask(self, key_padding_mask, T, S):
        return None


class _MaskInverted(_Reference):
    def mask(self, key_padding_mask, T, S):
        return None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]


class _SplitWeights(seq2seq.CrossAttention):
    def forward(self, x, context, key_padding_mask=None):
        B, T, C = x.shape
        w_q, w_k, w_v = self.c_attn.weight.chunk(3, dim=0)
        b_q, b_k, b_v = self.c_attn.bias.chunk(3)
        q, k, v = F.linear(x, w_q, b_q), F.linear(context, w_k, b_k), F.linear(context, w_v, b_v)
        hs = C // self.n_heads
        outs = []
        for h in range(self.n_heads):
            part = slice(h * hs, (h + 1) * hs)
            mask = None if key_padding_mask is None else key_padding_mask[:, None, :]
            out, _ = attention.scaled_dot_product_attention(q[..., part], k[..., part], v[..., part], mask=mask)
            outs.append(out)
        return self.c_proj(torch.cat(outs, dim=-1))


class _Einsum(seq2seq.CrossAttention):
    def forward(self, x, context, key_padding_mask=None):
        C, nh = self.d_model, self.n_heads
        q = self.c_attn(x)[..., :C].unflatten(-1, (nh, C // nh))
        k, v = (t.unflatten(-1, (nh, C // nh)) for t in self.c_attn(context)[..., C:].split(C, dim=-1))
        scores = torch.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(C // nh)
        if key_padding_mask is not None:
            scores = scores.masked_fill(~key_padding_mask[:, None, None, :], float("-inf"))
        return self.c_proj(torch.einsum("bhij,bjhd->bihd", scores.softmax(-1), v).flatten(-2))


check_cross_attention = make_check(CheckSpec(
    exercise="cross_attention",
    reference=seq2seq.CrossAttention,
    make_cases=_cross_cases,
    invoke=module_invoker(seq2seq.CrossAttention),
    mistakes=[
        Mistake("queries-from-encoder", _QueriesFromEncoder,
                "you took the queries from the encoder's output and the keys/values from the decoder: it is the other "
                "way round. Each target position asks (q from x) and the source answers (k, v from context), so the "
                "output has one row per target position"),
        Mistake("ignores-context", _IgnoresContext,
                "q, k and v all come from x, so this is self-attention again: the keys and values must come from "
                "the encoder's output, context"),
        Mistake("causal-mask-on-cross-attention", _CausalCrossAttention,
                "no causal mask in cross-attention: the whole source is known before decoding starts, so target "
                "position i may read every source word, not only the first i + 1"),
        Mistake("padding-mask-ignored", _PaddingIgnored,
                "key_padding_mask is not used: the decoder attends to the encoder's padded positions; hide them with "
                "key_padding_mask[:, None, None, :] (B, 1, 1, S)"),
        Mistake("padding-mask-inverted", _MaskInverted,
                "your padding mask is inverted: True marks a real source word (attend), False marks padding (hide)"),
    ],
    variants=[_SplitWeights, _Einsum],
    hints=[
        "Cross-attention is lesson 04's attention with two inputs: queries from the decoder (x), keys and values from "
        "the encoder's output (context), padded source positions hidden, and no causal mask.",
        "Shapes: q = c_attn(x)[..., :C] is (B, T, C); k, v = c_attn(context)[..., C:].split(C, dim=-1) are (B, S, C); "
        "heads as in lesson 04 -> weights (B, nh, T, S); the mask key_padding_mask[:, None, None, :] is (B, 1, 1, S).",
        "Key lines: y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask) on (B, nh, ·, hs) heads; "
        "return self.c_proj(y.transpose(1, 2).reshape(B, T, C))",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _padded_keys_hidden(case, expected, actual):
    """Every query must give weight 0 to a padded key (key_padding_mask False), whatever else it does."""
    mask = case.args[3]
    weights = actual[1]
    if weights.shape != expected[1].shape:
        return None
    leaked = weights.masked_select(~mask[:, None, :].expand_as(weights)).abs() > 1e-6
    if leaked.any():
        return say("seq2seq.padding.leaked", count=int(leaked.sum()))
    return None


check_padding_mask.spec.properties += [sums_to_one("each row of the attention weights", item=1), _padded_keys_hidden]
def _masks_queries_with_zero(q, k, v, key_padding_mask):
    """The rows hidden instead of the columns, and with 0 instead of -inf."""
    weights = _scores(q, k).masked_fill(~key_padding_mask[:, :, None], 0.0).softmax(-1)
    return weights @ v, weights


check_padding_mask.spec.combined += [
    lambda q, k, v, key_padding_mask: _zeroed_after_softmax(q, k, v, ~key_padding_mask),  # inverted + after the softmax
    _masks_queries_with_zero,                                                              # the queries masked, with 0
]


def _attend_with(module, x, context, mask):
    """The reference's cross-attention with the given boolean mask (True: may read), broadcast to (B, nh, T, S)."""
    B, T, C = x.shape
    q = module.c_attn(x)[..., :C]
    k, v = module.c_attn(context)[..., C:].split(C, dim=-1)
    heads = lambda t: t.view(B, t.shape[1], module.n_heads, C // module.n_heads).transpose(1, 2)  # noqa: E731
    y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask)
    return module.c_proj(y.transpose(1, 2).reshape(B, T, C))


def _source_read(case, expected, actual):
    """The shape says where the queries come from; then which source positions each target position reads."""
    x, context = case.args
    if actual.shape != expected.shape:
        return say("seq2seq.cross.shape", want=tuple(expected.shape), got=tuple(actual.shape),
                   why=say("seq2seq.cross.from_context") if actual.shape[1] == context.shape[1] else "")
    pad = case.kwargs.get("key_padding_mask")
    if pad is None:
        return None
    module = reference_module(seq2seq.CrossAttention, case).requires_grad_(False)
    pad = pad[:, None, None, :]  # (B, 1, 1, S)
    causal = torch.ones(x.shape[1], context.shape[1], dtype=torch.bool).tril()  # (T, S)
    for reads, mask in (("everything", None), ("padding", ~pad), ("causal", pad & causal),
                        ("causal_with_padding", causal), ("causal_padding", ~pad & causal)):
        if torch.allclose(_attend_with(module, x, context, mask), actual, atol=1e-4, rtol=1e-3):
            return say("seq2seq.cross.reads", reads=say(f"seq2seq.cross.reads.{reads}"))
    return None


class _CausalPaddingIgnored(_Reference):
    def mask(self, key_padding_mask, T, S):
        return torch.ones(T, S, dtype=torch.bool).tril()


class _FromEncoderPaddingIgnored(_QueriesFromEncoder, _PaddingIgnored):
    pass


check_cross_attention.spec.properties += [_source_read]
check_cross_attention.spec.combined += [_CausalPaddingIgnored, _FromEncoderPaddingIgnored]
