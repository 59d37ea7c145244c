"""Checks for lesson 09 (looking inside): scoring how "previous-token" an attention head is.

Taught in: solutions/09_looking_inside.ipynb
"""

from __future__ import annotations

import torch

from gptlab.topics import interpret as inspect_attention
from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say

# --- previous_token_score(weights) ---------------------------------------------------------------


def _causal_maps(*shape, generator, dtype=torch.float32, sharpness=2.0):
    """Random attention maps (..., T, T): causal rows that sum to 1, like a real head's."""
    T = shape[-1]
    scores = torch.randn(*shape, T, generator=generator, dtype=dtype) * sharpness
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(dim=-1)


def _previous_token_head(T, dtype=torch.float32):
    """A perfect previous-token head: row 0 looks at itself, row i at i - 1."""
    maps = torch.zeros(T, T, dtype=dtype)
    maps[0, 0] = 1.0
    maps[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    return maps


def _first_token_head(T, dtype=torch.float32):
    maps = torch.zeros(T, T, dtype=dtype)
    maps[:, 0] = 1.0
    return maps


def _score_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    T = int(torch.randint(6, 12, (1,), generator=g))
    mixed = torch.stack([_previous_token_head(7), _first_token_head(7), _causal_maps(1, 7, generator=g)[0]])
    return [
        Case(f"one layer: 4 heads, T = {T}", (_causal_maps(4, T, generator=g),)),
        Case("every layer at once: (2 layers, 3 heads, T = 5)", (_causal_maps(2, 3, 5, generator=g),)),
        Case("a perfect previous-token head, a first-token head and a random one (T = 7)", (mixed,)),
        Case("two tokens (T = 2), 2 heads", (_causal_maps(2, 2, generator=g),)),
        Case("one (T, T) map, T = 9, sharp attention", (_causal_maps(1, 9, generator=g, sharpness=6.0)[0],)),
        Case("float64, 3 heads, T = 6", (_causal_maps(3, 6, generator=g, dtype=torch.float64),)),
    ]


def _divides_by_T(weights):
    T = weights.shape[-1]
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).sum(dim=-1) / T


def _own_token(weights):
    return weights.diagonal(dim1=-2, dim2=-1)[..., 1:].mean(dim=-1)


def _next_token(weights):
    return weights.diagonal(offset=1, dim1=-2, dim2=-1).mean(dim=-1)


def _sum_not_mean(weights):
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).sum(dim=-1)


def _one_number(weights):
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean()


def _first_column(weights):
    return weights[..., 1:, 0].mean(dim=-1)


def _loop(weights):
    T = weights.shape[-1]
    total = torch.zeros(weights.shape[:-2], dtype=weights.dtype)
    for i in range(1, T):
        total = total + weights[..., i, i - 1]
    return total / (T - 1)


def _mask(weights):
    T = weights.shape[-1]
    below = torch.ones(T, T, dtype=torch.bool).tril(-1) & ~torch.ones(T, T, dtype=torch.bool).tril(-2)
    return (weights * below).sum(dim=(-2, -1)) / (T - 1)


def _gather(weights):
    T = weights.shape[-1]
    rows = weights[..., 1:, :]                                   # queries 1..T-1
    previous = torch.arange(T - 1).expand(*rows.shape[:-1])[..., None]
    return rows.gather(-1, previous).squeeze(-1).mean(dim=-1)


check_previous_token_score = make_check(CheckSpec(
    exercise="previous_token_score",
    reference=inspect_attention.previous_token_score,
    make_cases=_score_cases,
    mistakes=[
        Mistake("divides-by-T", _divides_by_T,
                "you average over T queries, but only T - 1 of them have a previous token (query 0 has none): "
                "a perfect previous-token head must score exactly 1"),
        Mistake("own-token", _own_token,
                "you measured attention to the token itself (the main diagonal); the previous token of query i is "
                "key i - 1, one step below the diagonal: diagonal(offset=-1)"),
        Mistake("next-token", _next_token,
                "you read above the diagonal (key i + 1, the next token), which the causal mask makes 0; row i is the "
                "query, column j the key, and the previous token is column i - 1: offset=-1"),
        Mistake("sum-not-mean", _sum_not_mean,
                "you summed the weights on the previous token; average them over the T - 1 queries so the score is "
                "between 0 and 1 whatever the length"),
        Mistake("one-number", _one_number,
                "return one score per head: average over the last axis only (mean(dim=-1)) and keep the leading "
                "axes (heads, layers)"),
        Mistake("first-token", _first_column,
                "you measured attention to the first token (column 0); the previous token of query i is column i - 1"),
    ],
    variants=[_loop, _mask, _gather],
    hints=[
        "Row i of a map is query i and its weights over keys 0..i. The previous token of query i is key i - 1: "
        "average weights[..., i, i - 1] over the queries that have one (i = 1..T-1).",
        "Those entries lie one step below the diagonal of the last two axes: "
        "weights.diagonal(offset=-1, dim1=-2, dim2=-1) has shape (..., T - 1).",
        "Key line: return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1)",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _score_properties(range_key: str, perfect_key: str, *, below_zero: bool):
    """The properties of a head score (one per map, in [0, 1], 1 for a perfect head), named by message keys;
    below_zero: also diagnose scores under 0 (the range message then names the lowest)."""
    def check(case, expected, actual):
        if not isinstance(actual, torch.Tensor):
            return None
        if actual.shape != expected.shape:
            return say("inspection.score.shape", want=tuple(expected.shape), got=tuple(actual.shape))
        low, high = float(actual.min()), float(actual.max())
        if high > 1 + 1e-6 or (below_zero and low < -1e-6):
            return say(range_key, low=low, high=high) if below_zero else say(range_key, high=high)
        perfect = (expected - 1).abs() < 1e-6
        if perfect.any() and not torch.allclose(actual[perfect], expected[perfect], atol=1e-6):
            return say(perfect_key, score=float(actual[perfect][0]))
        return None
    return check


_score_shape_and_range = _score_properties("inspection.previous_token.range", "inspection.previous_token.perfect",
                                           below_zero=False)


check_previous_token_score.spec.properties += [_score_shape_and_range]
check_previous_token_score.spec.combined += [
    lambda weights: weights.diagonal(offset=-1, dim1=-2, dim2=-1).sum() / weights.shape[-1],  # one number + divides by T
    lambda weights: weights.diagonal(dim1=-2, dim2=-1).sum(dim=-1),                            # own token + a sum
]

# --- induction_score(weights, period) ------------------------------------------------------------


def _induction_head(T, period, dtype=torch.float32):
    """A perfect induction head on a sequence repeating every `period` tokens: query i >= period looks at key
    i - period + 1 (the token after the previous copy of token i); earlier queries look at themselves."""
    maps = torch.eye(T, dtype=dtype)
    rows = torch.arange(period, T)
    maps[rows] = 0.0
    maps[rows, rows - period + 1] = 1.0
    return maps


def _duplicate_token_head(T, period, dtype=torch.float32):
    """A perfect duplicate-token head: query i >= period looks at key i - period, the earlier copy of itself."""
    maps = torch.eye(T, dtype=dtype)
    rows = torch.arange(period, T)
    maps[rows] = 0.0
    maps[rows, rows - period] = 1.0
    return maps


def _induction_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    period = int(torch.randint(4, 7, (1,), generator=g))
    T = 2 * period
    heads = torch.stack([_induction_head(T, period), _duplicate_token_head(T, period),
                         _previous_token_head(T), _causal_maps(1, T, generator=g)[0]])
    return [
        Case(f"an induction, a duplicate-token, a previous-token and a random head (period {period}, T = {T})",
             (heads, period)),
        Case("every layer at once: (2 layers, 3 heads), period 5, T = 10", (_causal_maps(2, 3, 10, generator=g), 5)),
        Case("a sequence of 3 copies: period 4, T = 12, 4 heads", (_causal_maps(4, 12, generator=g), 4)),
        Case("one (T, T) map, period 3, T = 7 (the second copy is cut short)", (_causal_maps(1, 7, generator=g)[0], 3)),
        Case("period 1 (every token repeats the last), T = 6, sharp attention",
             (_causal_maps(2, 6, generator=g, sharpness=6.0), 1)),
        Case("float64, a perfect induction head beside 2 random ones, period 6, T = 12",
             (torch.cat([_induction_head(12, 6, torch.float64)[None], _causal_maps(2, 12, generator=g, dtype=torch.float64)]), 6)),
    ]


def _duplicate_token(weights, period):
    return weights.diagonal(offset=-period, dim1=-2, dim2=-1).mean(dim=-1)


def _includes_boundary(weights, period):
    return weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1).mean(dim=-1)


def _divides_by_T_induction(weights, period):
    T = weights.shape[-1]
    return weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)[..., 1:].sum(dim=-1) / T


def _previous_token_instead(weights, period):
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1)


def _above_diagonal(weights, period):
    return weights.diagonal(offset=period - 1, dim1=-2, dim2=-1)[..., 1:].mean(dim=-1)


def _one_number_induction(weights, period):
    return weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)[..., 1:].mean()


def _two_after(weights, period):
    return weights.diagonal(offset=-(period - 2), dim1=-2, dim2=-1)[..., 2:].mean(dim=-1)


def _induction_loop(weights, period):
    T = weights.shape[-1]
    total = torch.zeros(weights.shape[:-2], dtype=weights.dtype)
    for i in range(period, T):
        total = total + weights[..., i, i - period + 1]
    return total / (T - period)


def _induction_gather(weights, period):
    T = weights.shape[-1]
    rows = weights[..., period:, :]                                  # the queries with an earlier copy
    keys = (torch.arange(period, T) - period + 1).expand(*rows.shape[:-1])[..., None]
    return rows.gather(-1, keys).squeeze(-1).mean(dim=-1)


def _induction_mask(weights, period):
    T = weights.shape[-1]
    i = torch.arange(T)
    stripe = (i[:, None] - i[None, :] == period - 1) & (i[:, None] >= period)
    return (weights * stripe).sum(dim=(-2, -1)) / (T - period)


check_induction_score = make_check(CheckSpec(
    exercise="induction_score",
    reference=inspect_attention.induction_score,
    make_cases=_induction_cases,
    mistakes=[
        Mistake("duplicate-token", _duplicate_token,
                "you measured attention to the earlier copy of the current token itself (key i - period): that is a "
                "duplicate-token head. An induction head looks one step further, at the token that came AFTER the "
                "earlier copy: key i - period + 1"),
        Mistake("includes-boundary", _includes_boundary,
                "you also averaged query period - 1, the last token of the first copy: it has no earlier copy yet (its "
                "stripe entry is key 0). Only queries i = period .. T-1 are in a repeat: drop the first entry of the "
                "stripe ([..., 1:])"),
        Mistake("divides-by-T", _divides_by_T_induction,
                "you divided by T, but only the T - period queries of the repeat have an earlier copy: a perfect "
                "induction head must score exactly 1 — take the mean over those queries"),
        Mistake("previous-token", _previous_token_instead,
                "you measured attention to the previous token (offset -1), which does not depend on the period; an "
                "induction head at query i attends to key i - period + 1: diagonal(offset=-(period - 1))"),
        Mistake("above-diagonal", _above_diagonal,
                "you read above the diagonal (offset +(period - 1)), where the causal mask makes every weight 0; row i "
                "is the query, and its key i - period + 1 lies below the diagonal: offset=-(period - 1)"),
        Mistake("one-number", _one_number_induction,
                "return one score per head: average over the last axis only (mean(dim=-1)) and keep the leading axes "
                "(heads, layers)"),
        Mistake("two-after", _two_after,
                "you looked two tokens past the earlier copy (key i - period + 2); the token to copy is the one right "
                "after it: key i - period + 1"),
    ],
    variants=[_induction_loop, _induction_gather, _induction_mask],
    hints=[
        "On a sequence that repeats every `period` tokens, query i (for i >= period) has an earlier copy of its "
        "token at i - period. An induction head attends to the token after it, key i - period + 1. Average "
        "weights[..., i, i - period + 1] over i = period .. T-1.",
        "Those entries lie on a stripe period - 1 steps below the diagonal: weights.diagonal(offset=-(period - 1), "
        "dim1=-2, dim2=-1) holds queries period - 1 .. T-1; the first of them has no earlier copy.",
        "Key line: return weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)[..., 1:].mean(dim=-1)",
    ],
))


_induction_properties = _score_properties("inspection.induction.range", "inspection.induction.perfect", below_zero=True)


check_induction_score.spec.properties += [_induction_properties]
check_induction_score.spec.combined += [
    lambda weights, period: weights.diagonal(offset=-period, dim1=-2, dim2=-1).sum(dim=-1) / weights.shape[-1],  # copy itself + divides by T
    lambda weights, period: weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1).sum(dim=-1),               # boundary kept + a sum
]
