"""From logits to a distribution: temperature, top-k, top-p (nucleus), in the order generation applies them.

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

import math

import torch

__all__ = ["next_token_probs", "temperature_softmax", "top_k_logits", "top_k_probs", "top_p_logits", "top_p_probs"]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_sampling(temperature, top_k, top_p) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or math.isnan(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 means greedy); got {temperature!r}")
    if math.isinf(temperature):
        raise ValueError("temperature must be finite (a very large temperature is close to uniform sampling)")
    if top_k is not None and (not _is_int(top_k) or top_k < 1):
        raise ValueError(f"top_k must be None (no limit) or an int >= 1; got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be None or a number in (0, 1] (1 keeps every token); got {top_p!r}")


def temperature_softmax(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / temperature) over the last axis: (..., V) -> (..., V), each row sums to 1.

    The temperature divides the *logits*, before the softmax: T < 1 sharpens the distribution, T > 1
    flattens it, T -> 0 puts all the mass on the largest logit (greedy decoding; use temperature=0 in
    generate for that, since dividing by 0 is undefined).

    Taught in: solutions/08_generation.ipynb
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 here; got {temperature!r} (generate treats 0 as greedy)")
    return torch.softmax(logits / temperature, dim=-1)


def top_k_logits(logits: torch.Tensor, k: int) -> torch.Tensor:
    """The logits with every token below the k-th largest set to -inf (a new tensor; ties at the cut-off kept).

    The cut-off is a *value*, the k-th largest logit: tokens tied with it are equally likely, so they are
    all kept (as nanoGPT and Hugging Face do) rather than some dropped by an arbitrary order.

    Taught in: solutions/08_generation.ipynb
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be an int >= 1; got {k!r}")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_k_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
    """The distribution restricted to the k most likely tokens, renormalised: (..., V) -> (..., V).

    Taught in: solutions/08_generation.ipynb
    """
    return torch.softmax(top_k_logits(logits, k), dim=-1)


def top_p_logits(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the fewest most likely tokens whose probabilities add up to at least p.

    Sorted from most to least likely, a token is kept if the mass *before* it is still below p, so the
    token that crosses p is kept, and the most likely token always is. The rest become -inf.

    Taught in: solutions/08_generation.ipynb
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1]; got {p!r}")
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # the mass of the tokens ranked above each one
    remove_sorted = before >= p
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def top_p_probs(logits: torch.Tensor, p: float) -> torch.Tensor:
    """The nucleus distribution: top-p filtering, then renormalised. (..., V) -> (..., V).

    Taught in: solutions/08_generation.ipynb
    """
    return torch.softmax(top_p_logits(logits, p), dim=-1)


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """The distribution generate() draws from: temperature, then top-k, then top-p (Hugging Face's order).

    temperature=0 gives a one-hot distribution on the largest logit (greedy).

    Taught in: solutions/08_generation.ipynb
    """
    _check_sampling(temperature, top_k, top_p)
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_logits(logits, top_k)
    if top_p is not None and top_p < 1:
        logits = top_p_logits(logits, top_p)
    return torch.softmax(logits, dim=-1)
