"""Checks for lesson 02: the sinusoidal positional encoding and the input embedding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptlab.nn import layers
from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say

# --- sinusoidal_positions(T, d) ------------------------------------------------------------------


def _positions_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    T, d = (int(v) for v in torch.randint(6, 40, (2,), generator=g))
    return [
        Case("one position (T = 1, d = 2)", (1, 2)),
        Case("T = 8, d = 16", (8, 16)),
        Case(f"T = {T}, d = {2 * d}", (T, 2 * d)),
        Case("T = 100, d = 64", (100, 64)),
    ]


def _angles(T, d, exponent):
    return torch.arange(T, dtype=torch.float32)[:, None] / 10000 ** exponent  # (T, d/2)


def _interleave(first, second):
    return torch.stack([first, second], dim=-1).flatten(-2)  # (T, d/2, 2) -> (T, d)


def _sin_cos_swapped(T, d):
    a = _angles(T, d, torch.arange(0, d, 2) / d)
    return _interleave(torch.cos(a), torch.sin(a))


def _forgot_the_two(T, d):
    a = _angles(T, d, torch.arange(d // 2) / d)
    return _interleave(torch.sin(a), torch.cos(a))


def _column_index_exponent(T, d):
    j = torch.arange(d, dtype=torch.float32)
    a = torch.arange(T, dtype=torch.float32)[:, None] / 10000 ** (j / d)  # cos columns use (2i+1)/d
    pe = torch.sin(a)
    pe[:, 1::2] = torch.cos(a[:, 1::2])
    return pe


def _concatenated(T, d):
    a = _angles(T, d, torch.arange(0, d, 2) / d)
    return torch.cat([torch.sin(a), torch.cos(a)], dim=-1)


def _multiplied_frequency(T, d):
    a = torch.arange(T, dtype=torch.float32)[:, None] * 10000 ** (torch.arange(0, d, 2) / d)
    return _interleave(torch.sin(a), torch.cos(a))


def _seed_formula(T, d):
    """The seed article's pos(i) = sin((2i - 1)·d / 10000) + cos(2i·d / 10000): one number per position, in every column."""
    i = torch.arange(T, dtype=torch.float32)
    return (torch.sin((2 * i - 1) * d / 10000) + torch.cos(2 * i * d / 10000))[:, None].repeat(1, d)


def _classic_exp_log(T, d):
    position = torch.arange(T).unsqueeze(1).float()
    div_term = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def _loops(T, d):
    pe = torch.zeros(T, d)
    for pos in range(T):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


check_sinusoidal_positions = make_check(CheckSpec(
    exercise="sinusoidal_positions",
    reference=layers.sinusoidal_positions,
    make_cases=_positions_cases,
    mistakes=[
        Mistake("sin-cos-swapped", _sin_cos_swapped,
                "sin and cos are swapped: even columns 2i take sin, odd columns 2i+1 take cos (row 0 should start 0, 1, 0, 1, …)"),
        Mistake("exponent-missing-2", _forgot_the_two,
                "the exponent should be 2i/d where 2i is the even column index; you used i/d, so the clocks turn too slowly"),
        Mistake("exponent-column-index", _column_index_exponent,
                "each sin/cos pair shares one frequency: column 2i+1 uses 10000^(2i/d), the same as column 2i, "
                "not 10000^((2i+1)/d)"),
        Mistake("concatenated", _concatenated,
                "you put all the sines first and all the cosines after; the encoding interleaves them: "
                "PE[:, 0::2] = sin, PE[:, 1::2] = cos"),
        Mistake("frequency-multiplied", _multiplied_frequency,
                "divide the position by 10000^(2i/d); you multiplied, so later columns spin faster instead of slower"),
        Mistake("seed-formula", _seed_formula,
                "this is the seed article's sin((2i-1)·d/10000) + cos(2i·d/10000): one number per position, the same in "
                "every column, so the column index is gone (a LayerNorm would even erase it). Each column j has its own "
                "frequency: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))"),
    ],
    variants=[_classic_exp_log, _loops],
    hints=[
        "Build a (T, 1) column of positions and a (d/2,) row of the even column indices 2i; broadcasting gives every angle.",
        "angle = pos / 10000 ** (2i / d) has shape (T, d/2); fill pe[:, 0::2] with sin(angle) and pe[:, 1::2] with cos(angle).",
        "Key lines: angle = torch.arange(T)[:, None] / 10000 ** (torch.arange(0, d, 2) / d); "
        "pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()",
    ],
))

# --- input_embedding(idx, wte, wpe) --------------------------------------------------------------


def _embedding_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    V, block, C = 9, 12, 6  # ids stay below block_size so a wrong lookup gives numbers, not an IndexError
    wte, wpe = torch.randn(V, C, generator=g), torch.randn(block, C, generator=g)

    def ids(*shape):
        return torch.randint(0, V, shape, generator=g)

    return [
        Case("a batch (B=2, T=5)", (ids(2, 5), wte, wpe)),
        Case("one token (B=3, T=1)", (ids(3, 1), wte, wpe)),
        Case("a full block (B=1, T=12)", (ids(1, 12), wte, wpe)),
        Case("two batch dimensions (2, 3, 4)", (ids(2, 3, 4), wte, wpe)),
    ]


def _multiplied(idx, wte, wpe):
    return wte[idx] * wpe[torch.arange(idx.shape[-1])]


def _positions_by_token(idx, wte, wpe):
    return wte[idx] + wpe[idx]


def _no_positions(idx, wte, wpe):
    return wte[idx]


def _positions_from_one(idx, wte, wpe):
    return wte[idx] + wpe[1:idx.shape[-1] + 1]


def _with_f_embedding(idx, wte, wpe):
    return F.embedding(idx, wte) + F.embedding(torch.arange(idx.shape[-1]), wpe)


def _one_hot_product(idx, wte, wpe):
    one_hot = F.one_hot(idx, wte.shape[0]).to(wte.dtype)  # (..., T, V)
    return one_hot @ wte + wpe[: idx.shape[-1]]


check_input_embedding = make_check(CheckSpec(
    exercise="input_embedding",
    reference=layers.input_embedding,
    make_cases=_embedding_cases,
    mistakes=[
        Mistake("multiplied", _multiplied,
                "the token and position vectors are added, not multiplied: a product lets a near-zero position "
                "coordinate erase the token's"),
        Mistake("positions-by-token-id", _positions_by_token,
                "you looked positions up by token id (wpe[idx]); look them up by position: wpe[torch.arange(T)]"),
        Mistake("no-positions", _no_positions,
                "the position embedding is missing: without it the model cannot tell 'dog bites man' from 'man bites dog'"),
        Mistake("positions-from-one", _positions_from_one,
                "positions start at 0: the first token takes wpe[0], not wpe[1]"),
    ],
    variants=[_with_f_embedding, _one_hot_product],
    hints=[
        "Two lookups and one addition: a row of wte per token id, a row of wpe per position 0 … T-1.",
        "wte[idx] is (B, T, C); wpe[torch.arange(T)] is (T, C) and broadcasts over the batch when added.",
        "Key line: return wte[idx] + wpe[torch.arange(idx.shape[-1])]",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _first_row(case, expected, actual):
    """Position 0 has every angle 0: sin(0) = 0 in the even columns, cos(0) = 1 in the odd ones."""
    if actual.shape != expected.shape or torch.allclose(actual[0].double(), expected[0].double(), atol=1e-5):
        return None
    shown = ", ".join(f"{float(v):.3g}" for v in actual[0, :6])
    return say("positions.sinusoidal.first_row", shown=shown)


def _in_range(case, expected, actual):
    largest = float(actual.abs().max())
    if largest > 1 + 1e-5:
        return say("positions.sinusoidal.range", largest=largest)
    return None


check_sinusoidal_positions.spec.properties += [_in_range, _first_row]
check_sinusoidal_positions.spec.combined += [
    lambda T, d: _interleave(*reversed([f(_angles(T, d, torch.arange(d // 2) / d)) for f in (torch.sin, torch.cos)])),
    lambda T, d: torch.cat([f(torch.arange(T, dtype=torch.float32)[:, None] * 10000 ** (torch.arange(0, d, 2) / d))
                            for f in (torch.sin, torch.cos)], dim=-1),  # concatenated + the frequency multiplied
]


def _embedding_rows(case, expected, actual):
    """Read back which row of wpe each position got, and whether it was added to the token's vector or multiplied."""
    idx, wte, wpe = case.args
    if actual.shape != expected.shape:
        return None
    tokens = wte[idx]  # (..., T, C)
    for how, rest in (("added", actual - tokens), ("multiplied", actual / tokens)):
        found = []
        for t in range(idx.shape[-1]):
            rows = [[r for r in range(wpe.shape[0]) if torch.allclose(vector, wpe[r], atol=1e-4)]
                    for vector in rest[..., t, :].reshape(-1, wpe.shape[-1])]
            if not all(rows):
                break
            found.append(sorted({r[0] for r in rows}))
        else:
            wrong = next((t for t, rows in enumerate(found) if rows != [t]), None)
            if how == "added" and wrong is None:
                return None
            where = ("" if wrong is None else
                     say("positions.embedding.wrong_rows" if len(found[wrong]) > 1 else "positions.embedding.wrong_row",
                         position=wrong, rows=", ".join(map(str, found[wrong]))))
            return say("positions.embedding.rows", how=say(f"positions.embedding.{how}"), where=where)
    return None


check_input_embedding.spec.properties += [_embedding_rows]
check_input_embedding.spec.combined += [
    lambda idx, wte, wpe: wte[idx] * wpe[idx],                       # multiplied + positions by token id
    lambda idx, wte, wpe: wte[idx] * wpe[1:idx.shape[-1] + 1],       # multiplied + positions from one
]
