"""Muon on the blocks' matrices, AdamW on everything else: the optimiser split that current speed-runs use.

    config = TrainConfig(optimizer="muon", lr=4e-3)
    optimizer = configure_optimizer(model, config)   # a MuonWithAdamW

Muon (torch.optim.Muon) replaces each weight matrix's update by the nearest orthogonal matrix to its momentum
(five Newton-Schulz iterations), so every direction of the matrix moves by the same amount. It is meant for
the hidden matrices only: the token embedding (tied to the output head) and the vectors (norm gains, biases)
stay with AdamW. ``adjust_lr_fn="match_rms_adamw"`` scales Muon's step to the size of an AdamW step, so one
learning rate (and one schedule) drives both halves.

What it does at the course's scale is measured in benchmarks/train.py (benchmarks/README.md, "Muon").
"""

from __future__ import annotations

import torch

__all__ = ["MuonWithAdamW", "muon_parameters"]


def muon_parameters(model: torch.nn.Module) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """(matrices for Muon, everything else): the 2-D weights inside the transformer blocks, and the rest.

    The blocks are model.transformer.h (GPT and ModernGPT); a parameter shared with a module outside them
    (the tied embedding) goes to AdamW."""
    blocks = getattr(getattr(model, "transformer", None), "h", None)
    if blocks is None:
        raise TypeError("optimizer='muon' needs a gptlab GPT or ModernGPT (blocks at model.transformer.h)")
    inside = {id(p) for p in blocks.parameters() if p.requires_grad and p.dim() == 2}
    outside = {id(p) for name, p in model.named_parameters(remove_duplicate=False) if not name.startswith("transformer.h.")}
    matrices, rest, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (matrices if id(p) in inside and id(p) not in outside else rest).append(p)
    return matrices, rest


class MuonWithAdamW:
    """Two optimisers stepped as one: the loop sets each group's lr, checkpoints save one state dict.

    Groups, in order: Muon's (the blocks' matrices, decayed), AdamW's decayed (embeddings), AdamW's
    undecayed (vectors). state_dict() numbers the parameters across both, as a single optimiser would."""

    def __init__(self, model: torch.nn.Module, lr: float, weight_decay: float, betas: tuple[float, float],
                 momentum: float = 0.95, fused: bool = False):
        matrices, rest = muon_parameters(model)
        self.muon = torch.optim.Muon(matrices, lr=lr, weight_decay=weight_decay, momentum=momentum,
                                     adjust_lr_fn="match_rms_adamw")
        decay = [p for p in rest if p.dim() >= 2]
        no_decay = [p for p in rest if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        self.adamw = torch.optim.AdamW(groups, lr=lr, betas=betas, **({"fused": True} if fused else {}))
        self.optimizers = (self.muon, self.adamw)

    @property
    def param_groups(self) -> list[dict]:
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        state, groups, offset = {}, [], 0
        for optimizer in self.optimizers:
            saved = optimizer.state_dict()
            for group in saved["param_groups"]:
                groups.append({**group, "params": [index + offset for index in group["params"]]})
            state.update({index + offset: value for index, value in saved["state"].items()})
            offset += sum(len(group["params"]) for group in saved["param_groups"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, saved: dict) -> None:
        groups, offset = list(saved["param_groups"]), 0
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state has {len(groups)} parameter groups, this optimiser {len(self.param_groups)}")
        for optimizer in self.optimizers:
            mine, groups = groups[:len(optimizer.param_groups)], groups[len(optimizer.param_groups):]
            count = sum(len(group["params"]) for group in mine)
            indices = range(offset, offset + count)
            optimizer.load_state_dict({
                "state": {int(i) - offset: v for i, v in saved["state"].items() if int(i) in indices},
                "param_groups": [{**group, "params": [i - offset for i in group["params"]]} for group in mine]})
            offset += count
