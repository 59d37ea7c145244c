"""The properties that name what is wrong in lesson 14's combined mistakes (two catalog mistakes at once, so that
no single hint matches), and the larger of those implementations: RMSNorm's root mean square after undoing the
weight, each RoPE pair's length and turn, the SwiGLU formula a module computes, which kv head a query head reads.
`modern` attaches them to its specs.

Taught in: solutions/14_modern_gpt.ipynb
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptlab.nn import modern
from gptlab.course.checks.core import reference_module
from gptlab.course.messages import say


def rms_statistics(case, expected, actual):
    """Undo the weight the learner's module was given: each vector's root mean square over its features must be the
    reference's (1, or less where eps matters), and RMSNorm does not centre."""
    if actual.shape != expected.shape:
        return None
    weight = reference_module(modern.RMSNorm, case).weight.detach().double()

    def rms(t):
        return t.double().pow(2).mean(-1).sqrt()

    a, e = actual.double(), expected.double()
    centred = say("modern.rms.centred") if a.mean(-1).abs().max() < 1e-4 else ""
    if centred and torch.allclose(rms(a), rms(e / weight), rtol=1e-2, atol=1e-4):
        return say("modern.rms.unscaled", centred=centred)
    mine, want = rms(a / weight), rms(e / weight)
    if not torch.allclose(mine, want, rtol=1e-3, atol=1e-6):
        ratio = mine[want > 1e-3] / want[want > 1e-3]
        low, high = f"{float(ratio.min()):.3g}", f"{float(ratio.max()):.3g}"
        return say("modern.rms.ratio", rms=float(want.max()),
                   ratio=low if low == high else say("modern.rms.ratio_range", low=low, high=high))
    return None


class CentredNoWeight(modern.RMSNorm):
    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        return centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps)


class SumEpsOutside(modern.RMSNorm):
    def forward(self, x):
        return x / (torch.sqrt(x.pow(2).sum(-1, keepdim=True)) + self.eps) * self.weight


def rope_turns(case, expected, actual):
    """Each pair (x[i], x[i + hs/2]) must keep its length and turn by m · base^(-2i/hs) at position m."""
    x = case.args[0]
    base = case.args[1] if len(case.args) > 1 else 10000.0
    if actual.shape != x.shape:
        return None
    half = x.shape[-1] // 2
    z_in = torch.complex(x[..., :half].double(), x[..., half:].double())
    z_out = torch.complex(actual[..., :half].double(), actual[..., half:].double())
    if not torch.allclose(z_out.abs(), z_in.abs(), rtol=1e-4, atol=1e-5):
        return say("modern.rope.length")
    turn = torch.angle(z_out / z_in)  # (..., T, hs/2)
    T = x.shape[-2]
    want = (torch.arange(T, dtype=torch.float64)[:, None] * base ** (-2 * torch.arange(half, dtype=torch.float64) / (2 * half)))
    wrong = (torch.remainder(turn - want + math.pi, 2 * math.pi) - math.pi).abs() > 1e-3
    if wrong.any():
        index = tuple(int(i) for i in wrong.nonzero()[0])
        m, i = index[-2], index[-1]
        return say("modern.rope.turn", pair=i, position=m, turn=float(turn[index]), want=float(want[m, i]))
    return None


# None: no activation at all ("modern.swiglu.no_activation" names it)
ACTIVATIONS = {"SiLU": F.silu, "GELU": F.gelu, "sigmoid": torch.sigmoid, "ReLU": F.relu, None: lambda t: t}


def swiglu_formula(case, expected, actual):
    """Rebuild the learner's module's weights and find which activation, where, gives their output."""
    if actual.shape != expected.shape:
        return None
    mlp = reference_module(modern.SwiGLU, case).requires_grad_(False)
    x = case.args[0]
    gate, up = mlp.gate_proj(x), mlp.up_proj(x)
    for name, act in ACTIVATIONS.items():
        for formula, hidden in (("down_proj({act}(gate_proj(x)) * up_proj(x))", act(gate) * up),
                                ("down_proj(gate_proj(x) * {act}(up_proj(x)))", gate * act(up)),
                                ("down_proj({act}(gate_proj(x) * up_proj(x)))", act(gate * up)),
                                ("down_proj({act}(gate_proj(x)))", act(gate))):
            if torch.allclose(mlp.down_proj(hidden), actual, atol=1e-4, rtol=1e-3):
                shown = formula.format(act=name if name is not None else say("modern.swiglu.no_activation"))
                return say("modern.swiglu.formula", formula=shown)
    return None


class GeluAfterProduct(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(F.gelu(self.gate_proj(x) * self.up_proj(x)))


class SigmoidNoUp(modern.SwiGLU):
    def forward(self, x):
        return self.down_proj(torch.sigmoid(self.gate_proj(x)))


def gqa_first_position(case, expected, actual):
    """Position 0 sees only itself, so query head h's output there is the value of the kv head it reads: h // groups."""
    q, k, v = case.args[:3]
    if actual.shape != expected.shape:
        return None
    n_head, n_kv = q.shape[1], k.shape[1]
    for h in range(n_head):
        out = actual[:, h, 0]
        reads = [j for j in range(n_kv) if torch.allclose(out, v[:, j, 0], atol=1e-5)]
        if not reads:
            return say("modern.gqa.leak", head=h)
        if reads[0] != h // (n_head // n_kv) and n_kv > 1:
            return say("modern.gqa.group", head=h, reads=reads[0], groups=n_head // n_kv, want=h // (n_head // n_kv))
    return None
