"""Checks for the warm-up exercises of lesson 00 (softmax)."""

from __future__ import annotations

import torch

from gptlab.nn import layers
from gptlab.course.checks.core import Case, CheckSpec, Mistake, overflows, sums_to_one
from gptlab.course.checks.notebook import make_check


def _softmax_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, dtype=torch.float32):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return [
        Case("a vector of 5 logits", (randn(5),)),
        Case("a batch of 3 rows of 7", (randn(3, 7),)),
        Case("two batch dimensions (2, 3, 4)", (randn(2, 3, 4),)),
        Case("a square matrix (4, 4)", (randn(4, 4),)),
        Case("large logits (about 1000)", (randn(2, 5) * 3 + 1000,)),
        Case("rows on very different scales", (torch.stack([randn(6), randn(6) - 1000]),)),
        Case("one logit per row (n = 1)", (randn(3, 1),)),
        Case("float64 input", (randn(2, 6, dtype=torch.float64) * 5,)),
    ]


# --- the catalog: mistakes learners really make -----------------------------------------------


def _no_max_subtraction(x):
    exps = x.exp()
    return exps / exps.sum(dim=-1, keepdim=True)


def _first_axis(x):
    exps = (x - x.amax(dim=0, keepdim=True)).exp()
    return exps / exps.sum(dim=0, keepdim=True)


def _fixed_dim_1(x):
    exps = (x - x.amax(dim=1, keepdim=True)).exp()
    return exps / exps.sum(dim=1, keepdim=True)


def _not_normalised(x):
    return (x - x.amax(dim=-1, keepdim=True)).exp()


def _global_max(x):
    exps = (x - x.max()).exp()
    return exps / exps.sum(dim=-1, keepdim=True)


def _normalised_over_everything(x):
    exps = (x - x.amax(dim=-1, keepdim=True)).exp()
    return exps / exps.sum()


SOFTMAX_MISTAKES = [
    Mistake("no-max-subtraction", _no_max_subtraction,
            "exp overflows to inf on large logits like 1000, giving NaN: subtract each row's maximum first "
            "(it cancels out, so the result is unchanged)"),
    Mistake("wrong-axis-first", _first_axis,
            "each row of the output should sum to 1; yours sum along the wrong axis (softmax over dim=0?); "
            "use dim=-1, the last axis"),
    Mistake("wrong-axis-dim-1", _fixed_dim_1,
            "dim=1 is the last axis only for matrices: with two batch dimensions (2, 3, 4) it normalises "
            "the wrong axis, and a vector has no dim 1; use dim=-1"),
    Mistake("not-normalised", _not_normalised,
            "the rows do not sum to 1: you exponentiated but forgot to divide by the row's sum"),
    Mistake("global-max", _global_max,
            "you subtracted the maximum of the whole tensor; a row far below it underflows to 0/0 = NaN. "
            "Subtract each row's own maximum (amax(dim=-1, keepdim=True))"),
    Mistake("normalised-over-everything", _normalised_over_everything,
            "you divided by the sum over the whole tensor, so all rows together sum to 1; divide each row by "
            "its own sum (sum(dim=-1, keepdim=True))"),
]


def _builtin(x):
    return torch.softmax(x, dim=-1)


def _via_logsumexp(x):
    return (x - x.logsumexp(dim=-1, keepdim=True)).exp()


def _max_values(x):
    exps = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return exps / torch.sum(exps, dim=-1, keepdim=True)


check_softmax = make_check(CheckSpec(
    exercise="softmax",
    reference=layers.softmax,
    make_cases=_softmax_cases,
    mistakes=SOFTMAX_MISTAKES,
    variants=[_builtin, _via_logsumexp, _max_values],
    hints=[
        "softmax(x) is exp(x) divided by the sum of exp(x) along the last axis; but exp(1000) is inf. "
        "What could you subtract from every logit of a row without changing the result?",
        "Shapes: x is (..., n). x.amax(dim=-1, keepdim=True) is (..., 1) and broadcasts back over the row; "
        "so does .sum(dim=-1, keepdim=True).",
        "Key lines: exps = (x - x.amax(dim=-1, keepdim=True)).exp(); return exps / exps.sum(dim=-1, keepdim=True)",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------

check_softmax.spec.properties += [overflows(), sums_to_one("each row of the output")]
check_softmax.spec.combined += [
    lambda x: x.exp() / x.exp().sum(dim=0, keepdim=True),  # no max subtraction + the wrong axis
    lambda x: (x - x.max()).exp(),                         # a global max + no normalisation
]
