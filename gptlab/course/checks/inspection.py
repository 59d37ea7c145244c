"""Checks for lesson 09 (looking inside): scoring how "previous-token" an attention head is.

Taught in: solutions/09_looking_inside.ipynb
"""

from __future__ import annotations

import torch

from gptlab.topics import interpret as inspect_attention
from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check

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


def _score_shape_and_range(case, expected, actual):
    if not isinstance(actual, torch.Tensor):
        return None
    if actual.shape != expected.shape:
        return (f"there is one score per (T, T) map, so the output should have shape {tuple(expected.shape)} (the "
                f"leading axes kept); yours has shape {tuple(actual.shape)}")
    if float(actual.max()) > 1 + 1e-6:
        return (f"a score is an average of attention weights, each between 0 and 1, so it lies in [0, 1]; yours reach "
                f"{float(actual.max()):.3g}")
    perfect = (expected - 1).abs() < 1e-6
    if perfect.any() and not torch.allclose(actual[perfect], expected[perfect], atol=1e-6):
        return (f"a perfect previous-token head must score exactly 1; yours gives it {float(actual[perfect][0]):.3g}")
    return None


check_previous_token_score.spec.properties += [_score_shape_and_range]
check_previous_token_score.spec.combined += [
    lambda weights: weights.diagonal(offset=-1, dim1=-2, dim2=-1).sum() / weights.shape[-1],  # one number + divides by T
    lambda weights: weights.diagonal(dim1=-2, dim2=-1).sum(dim=-1),                            # own token + a sum
]
