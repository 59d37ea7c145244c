"""Checks for lesson 05: LayerNorm, the GELU MLP, and the pre-norm transformer block."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn import layers
from gptlab.course.checks.core import Case, CheckSpec, Mistake, module_invoker, reference_module
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say

# --- LayerNorm(d, eps=1e-5) ----------------------------------------------------------------------


def _layernorm_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    return [
        Case("(B=2, T=5, d=8)", (randn(2, 5, 8) * 3 + 1,), init={"d": 8}),
        Case("one vector (1, 1, 16)", (randn(1, 1, 16),), init={"d": 16}),
        Case("two batch dimensions (2, 3, 4, 6)", (randn(2, 3, 4, 6),), init={"d": 6}),
        Case("nearly constant rows (std 0.001)", (randn(3, 4, 8) * 1e-3,), init={"d": 8}),
        # A large mean with a spread to match: with std 1 around 100, float32 rounding alone moves correct outputs by
        # up to 6e-5 (fused kernel vs two-pass), more than the tolerance; with std 10 they agree to 5e-6.
        Case("a mean far from 0 (10x + 100)", (randn(2, 8) * 10 + 100,), init={"d": 8}),
    ]


class _WrongAxis(layers.LayerNorm):
    def forward(self, x):
        mean, var = x.mean(dim=0, keepdim=True), x.var(dim=0, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class _UnbiasedVariance(layers.LayerNorm):
    def forward(self, x):
        mean, var = x.mean(dim=-1, keepdim=True), x.var(dim=-1, keepdim=True)  # unbiased: divides by d - 1
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class _EpsOutsideRoot(layers.LayerNorm):
    def forward(self, x):
        mean, std = x.mean(dim=-1, keepdim=True), x.std(dim=-1, keepdim=True, unbiased=False)
        return (x - mean) / (std + self.eps) * self.weight + self.bias


class _NoAffine(layers.LayerNorm):
    def forward(self, x):
        mean, var = x.mean(dim=-1, keepdim=True), x.var(dim=-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps)


class _NoCentering(layers.LayerNorm):
    def forward(self, x):
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return x / torch.sqrt(var + self.eps) * self.weight + self.bias


class _FunctionalLayerNorm(layers.LayerNorm):
    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


class _Rsqrt(layers.LayerNorm):
    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        return centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight + self.bias


check_layer_norm = make_check(CheckSpec(
    exercise="layer_norm",
    reference=layers.LayerNorm,
    make_cases=_layernorm_cases,
    invoke=module_invoker(layers.LayerNorm),
    mistakes=[
        Mistake("wrong-axis", _WrongAxis,
                "LayerNorm normalises each vector over its own features, the last axis (dim=-1); you normalised over the batch "
                "(dim=0), which is what BatchNorm does"),
        Mistake("unbiased-variance", _UnbiasedVariance,
                "use the biased variance (divide by d, unbiased=False) as torch.nn.LayerNorm does; torch.var divides by d - 1 by default"),
        Mistake("eps-outside-root", _EpsOutsideRoot,
                "eps goes inside the square root: sqrt(var + eps), not std + eps; the difference shows on nearly constant rows"),
        Mistake("no-affine", _NoAffine,
                "after normalising, scale by self.weight and shift by self.bias (the learned parameters)"),
        Mistake("no-centering", _NoCentering,
                "subtract the mean before dividing by the standard deviation"),
    ],
    variants=[_FunctionalLayerNorm, _Rsqrt],
    hints=[
        "For each vector along the last axis: subtract its mean, divide by its standard deviation, then scale and shift.",
        "mean and var are (..., 1) with dim=-1, keepdim=True; use var(unbiased=False) and sqrt(var + eps); weight and bias are (d,).",
        "Key lines: mean = x.mean(-1, keepdim=True); var = x.var(-1, keepdim=True, unbiased=False); "
        "return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias",
    ],
))

# --- MLP(d) ----------------------------------------------------------------------------------------


def _mlp_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    return [
        Case("(B=2, T=5, d=8)", (torch.randn(2, 5, 8, generator=g) * 2,), init={"d": 8}),
        Case("one position (1, 1, 4)", (torch.randn(1, 1, 4, generator=g) * 2,), init={"d": 4}),
        Case("(B=3, T=2, d=16)", (torch.randn(3, 2, 16, generator=g) * 2,), init={"d": 16}),
    ]


class _Relu(layers.MLP):
    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)))


class _ExactGelu(layers.MLP):
    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class _ReluAfterProjection(layers.MLP):
    def forward(self, x):
        return F.relu(self.c_proj(layers.gelu(self.c_fc(x))))


class _SeedFFN(layers.MLP):
    """Seed 001's FFN(x) = ReLU(W₂ · ReLU(W₁x + b₁)) + b₂: ReLU twice, the second before the output bias."""

    def forward(self, x):
        return F.relu(F.linear(F.relu(self.c_fc(x)), self.c_proj.weight)) + self.c_proj.bias


class _NoNonlinearity(layers.MLP):
    def forward(self, x):
        return self.c_proj(self.c_fc(x))


class _TorchGelu(layers.MLP):
    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class _GeluModule(layers.MLP):
    def __init__(self, d):
        super().__init__(d)
        self.act = nn.GELU(approximate="tanh")  # no parameters: the state dict keeps GPT-2's names

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


check_mlp = make_check(CheckSpec(
    exercise="mlp",
    reference=layers.MLP,
    make_cases=_mlp_cases,
    invoke=module_invoker(layers.MLP),
    mistakes=[
        Mistake("relu", _Relu, "GPT-2 uses GELU, not ReLU, between c_fc and c_proj"),
        Mistake("exact-gelu", _ExactGelu,
                "GPT-2 uses GELU's tanh approximation: F.gelu(x, approximate='tanh'); the exact (erf) form differs by up to 5e-4"),
        Mistake("relu-after-projection", _ReluAfterProjection,
                "there is one nonlinearity only: a ReLU after c_proj makes every update to the residual stream ≥ 0"),
        Mistake("seed-ffn", _SeedFFN,
                "this is the seed article's ReLU(W₂ · ReLU(W₁x + b₁)) + b₂: an extra ReLU after c_proj's product, so "
                "every update is ≥ b₂. GPT-2's MLP has one nonlinearity, GELU, between c_fc and c_proj: "
                "c_proj(gelu(c_fc(x)))"),
        Mistake("no-nonlinearity", _NoNonlinearity,
                "without GELU between the two layers they collapse into one linear map"),
    ],
    variants=[_TorchGelu, _GeluModule],
    hints=[
        "Widen, bend, narrow: c_fc takes d to 4d, GELU (tanh form), c_proj takes 4d back to d.",
        "(..., d) -c_fc-> (..., 4d) -gelu-> (..., 4d) -c_proj-> (..., d); GPT-2's GELU is F.gelu(h, approximate='tanh').",
        "Key line: return self.c_proj(F.gelu(self.c_fc(x), approximate='tanh'))",
    ],
))

# --- Block(d_model, n_heads) ----------------------------------------------------------------------


def _block_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    return [
        Case("B=2, T=5, d_model=8, 2 heads", (torch.randn(2, 5, 8, generator=g),), init={"d_model": 8, "n_heads": 2}),
        Case("one position, d_model=12, 3 heads", (torch.randn(1, 1, 12, generator=g),), init={"d_model": 12, "n_heads": 3}),
        Case("B=3, T=6, d_model=16, 4 heads", (torch.randn(3, 6, 16, generator=g) * 3,), init={"d_model": 16, "n_heads": 4}),
    ]


class _PostNorm(layers.Block):
    def forward(self, x):
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))


class _NoAttentionResidual(layers.Block):
    def forward(self, x):
        x = self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _NoMlpResidual(layers.Block):
    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return self.mlp(self.ln_2(x))


class _OneNormTwice(layers.Block):
    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_1(x))


class _NormAfterSublayer(layers.Block):
    def forward(self, x):
        x = x + self.ln_1(self.attn(x))
        return x + self.ln_2(self.mlp(x))


class _Named(layers.Block):
    def forward(self, x):
        attended = self.attn(self.ln_1(x))
        residual = x + attended
        return residual + self.mlp(self.ln_2(residual))


class _Parallel(layers.Block):
    def forward(self, x):
        for norm, sublayer in ((self.ln_1, self.attn), (self.ln_2, self.mlp)):
            x = x + sublayer(norm(x))
        return x


check_block = make_check(CheckSpec(
    exercise="block",
    reference=layers.Block,
    make_cases=_block_cases,
    invoke=module_invoker(layers.Block),
    mistakes=[
        Mistake("post-norm", _PostNorm,
                "that is post-norm (the 2017 Transformer's order); GPT-2 normalises *before* each sublayer: x + attn(ln_1(x))"),
        Mistake("no-attention-residual", _NoAttentionResidual,
                "the attention's output must be added to x (x = x + attn(ln_1(x))), not replace it: the residual stream carries x through"),
        Mistake("no-mlp-residual", _NoMlpResidual,
                "the MLP's output must be added to x (x + mlp(ln_2(x))), not replace it"),
        Mistake("ln_1-twice", _OneNormTwice,
                "each sublayer has its own LayerNorm: ln_1 before attention, ln_2 before the MLP"),
        Mistake("norm-after-sublayer", _NormAfterSublayer,
                "the LayerNorm goes on the sublayer's input, not its output: x + attn(ln_1(x))"),
    ],
    variants=[_Named, _Parallel],
    hints=[
        "Two residual updates, each reading a normalised copy of the stream: attention first, then the MLP.",
        "Every tensor stays (B, T, d_model); ln_1 feeds attn, ln_2 feeds mlp, and each result is added to x.",
        "Key lines: x = x + self.attn(self.ln_1(x)); x = x + self.mlp(self.ln_2(x)); return x",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _normalised_stats(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = z.double()
    return z.mean(-1), z.var(-1, unbiased=False)


def _layer_norm_statistics(case, expected, actual):
    """Undo the weight and bias the learner's module was given: what is left must have each vector's mean 0 over the
    last axis and the reference's variance (1, or a little less where eps matters)."""
    if actual.shape != expected.shape:
        return None
    ln = reference_module(layers.LayerNorm, case).requires_grad_(False)
    x = case.args[0]
    if torch.allclose(actual.double(), ((x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True, unbiased=False)).double(),
                      atol=1e-2):
        return say("blocks.layer_norm.unscaled")
    mine, want = _normalised_stats((actual - ln.bias) / ln.weight), _normalised_stats((expected - ln.bias) / ln.weight)
    if (mine[0] - want[0]).abs().max() > 1e-3:
        return say("blocks.layer_norm.mean", mean=float(mine[0].abs().max()))
    if not torch.allclose(mine[1], want[1], rtol=1e-3, atol=1e-6):
        ratio = mine[1] / want[1]
        return say("blocks.layer_norm.variance", variance=float(want[1].max()), low=float(ratio.min()),
                   high=float(ratio.max()))
    return None


class _NoCenteringEpsOutside(layers.LayerNorm):
    def forward(self, x):
        return x / (x.std(dim=-1, keepdim=True, unbiased=False) + self.eps) * self.weight + self.bias


class _WrongAxisUnbiased(layers.LayerNorm):
    def forward(self, x):
        mean, var = x.mean(dim=0, keepdim=True), x.var(dim=0, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


check_layer_norm.spec.properties += [_layer_norm_statistics]
check_layer_norm.spec.combined += [_NoCenteringEpsOutside, _WrongAxisUnbiased]


def _mlp_never_negative(case, expected, actual):
    if actual.shape == expected.shape and (expected < 0).any() and not (actual < 0).any():
        return say("blocks.mlp.never_negative")
    return None


class _ReluTwice(layers.MLP):
    def forward(self, x):
        return F.relu(self.c_proj(F.relu(self.c_fc(x))))


class _LinearThenRelu(layers.MLP):
    def forward(self, x):
        return F.relu(self.c_proj(self.c_fc(x)))


check_mlp.spec.properties += [_mlp_never_negative]
check_mlp.spec.combined += [_ReluTwice, _LinearThenRelu]


def _block_output_normalised(case, expected, actual):
    """A pre-norm block never normalises the stream itself: if its output is a LayerNorm's, a norm is misplaced."""
    if actual.shape != expected.shape or actual.shape[-1] < 4:
        return None
    block = reference_module(layers.Block, case).requires_grad_(False)
    for name in ("ln_1", "ln_2"):
        ln = getattr(block, name)
        mean, var = _normalised_stats((actual - ln.bias) / ln.weight)
        if mean.abs().max() < 1e-3 and (var - 1).abs().max() < 1e-2:
            return say("blocks.block.normalised", name=name)
    return None


class _PostNormOneNorm(layers.Block):
    def forward(self, x):
        x = self.ln_1(x + self.attn(x))
        return self.ln_1(x + self.mlp(x))


class _NormAfterNoMlpResidual(layers.Block):
    def forward(self, x):
        x = x + self.ln_1(self.attn(x))
        return self.ln_2(self.mlp(x))


check_block.spec.properties += [_block_output_normalised]
check_block.spec.combined += [_PostNormOneNorm, _NormAfterNoMlpResidual]
