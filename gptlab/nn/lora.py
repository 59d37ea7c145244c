"""LoRA (Hu et al., 2021), from scratch: train a low-rank update B·A next to a frozen weight W.

    y = x Wᵀ + b + (alpha / r) · x Aᵀ Bᵀ        A: (r, in), random;  B: (out, r), zero

B starts at zero, so at the start the layer computes exactly what the base layer does; only A and B
train (r·(in + out) numbers instead of in·out). Afterwards the update folds into the weight,
W' = W + (alpha / r)·B·A, and the model is a plain GPT again, as fast as before.

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

import math

import torch
from torch import nn

DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj")  # the attention projections of every block


class LoRALinear(nn.Module):
    """A frozen nn.Linear `base` plus a trainable low-rank update: base(x) + (alpha / r) · (x @ A.T) @ B.T."""

    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear; got {type(base).__name__}")
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ValueError(f"the rank r must be a positive int; got {r!r}")
        if r > min(base.in_features, base.out_features):
            raise ValueError(f"rank r={r} is larger than the layer ({base.in_features} → {base.out_features}); "
                             "a low-rank update needs r <= min(in, out)")
        self.base = base
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        for parameter in self.base.parameters():
            parameter.requires_grad_(False)
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initialises its weight
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain nn.Linear with W + scaling·B·A: the same outputs, no extra work per call."""
        linear = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        linear = linear.to(dtype=self.base.weight.dtype, device=self.base.weight.device)
        with torch.no_grad():
            linear.weight.copy_(self.base.weight + self.scaling * (self.B @ self.A))
            if self.base.bias is not None:
                linear.bias.copy_(self.base.bias)
        return linear

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


def add_lora(model: nn.Module, r: int = 4, alpha: float = 8.0, targets: tuple[str, ...] = DEFAULT_TARGETS,
             layer: type = LoRALinear) -> list[str]:
    """Freeze every parameter of `model`, then wrap each nn.Linear whose name ends with one of `targets`
    in `layer(base, r, alpha)` (LoRALinear, or your own class), in place. Returns the names wrapped."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    names = [name for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and name.endswith(tuple(targets))]
    if not names:
        raise ValueError(f"no nn.Linear in the model has a name ending with {targets}")
    for name in names:
        parent, child = _parent(model, name)
        setattr(parent, child, layer(getattr(parent, child), r=r, alpha=alpha))
    return names


def merge_lora(model: nn.Module) -> int:
    """Replace every LoRALinear in `model` by its merged nn.Linear (in place); returns how many were merged.

    The merged weights are trainable again (requires_grad=True), like any fresh layer.
    """
    names = [name for name, module in model.named_modules() if _is_adapter(module)]
    for name in names:
        parent, child = _parent(model, name)
        setattr(parent, child, merged_linear(getattr(parent, child)))
    return len(names)


def _is_adapter(module: nn.Module) -> bool:
    return isinstance(getattr(module, "base", None), nn.Linear) and isinstance(getattr(module, "A", None), nn.Parameter)


@torch.no_grad()
def merged_linear(adapter: nn.Module) -> nn.Linear:
    """An nn.Linear equal to `adapter` (a LoRALinear, or any layer with a `base` nn.Linear whose output is
    base(x) plus a linear function of x). For another class the update is measured, not read from A and B:
    feeding the identity matrix, row i of adapter(I) - base(I) is the update's column i."""
    if isinstance(adapter, LoRALinear):
        return adapter.merged()
    base = adapter.base
    eye = torch.eye(base.in_features, dtype=base.weight.dtype, device=base.weight.device)
    delta = (adapter(eye) - base(eye)).T  # (out, in)
    linear = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None).to(base.weight)
    linear.weight.copy_(base.weight + delta)
    if base.bias is not None:
        linear.bias.copy_(base.bias)
    return linear


def lora_parameter_count(model: nn.Module) -> int:
    """How many numbers the adapters hold (every A and B)."""
    return sum(m.A.numel() + m.B.numel() for m in model.modules() if _is_adapter(m))
