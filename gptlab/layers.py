"""The pieces a GPT is built from, written the way the lessons teach them.

Each function here is the reference that a lesson's check compares the learner's version against,
and the version the rest of the package uses.
"""

from __future__ import annotations

import torch


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
