"""The GPT model, in one readable file (after nanoGPT's model.py), built from the lessons' pieces.

Glossary (paper ↔ code): d_model = n_embd = C, h = n_head = nh, d_k = head size hs = C // nh,
N = n_layer, context length = block_size, V = vocab_size, B = batch, T = sequence length.
Parameter names are GPT-2's (transformer.wte, wpe, h.N.ln_1, attn.c_attn, …, ln_f, lm_head), so
GPT-2 checkpoints load key by key.

Taught in: solutions/06_gpt_model.ipynb
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.data.batches import is_integer_dtype
from gptlab.nn.gpt2 import load_gpt2_directory
from gptlab.nn.layers import Block, LayerNorm


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024  # the longest context the model reads; also the size of the position table
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms, as in GPT-2
    tie_weights: bool = True  # the output layer reuses the token embedding matrix, as in GPT-2

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int; got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    @classmethod
    def preset(cls, name: str, **overrides) -> "GPTConfig":
        """A named configuration: the course's tiny models, or GPT-2 small / medium / large / xl."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


PRESETS = {
    "tiny": dict(vocab_size=512, block_size=64, n_layer=2, n_head=2, n_embd=64),
    "course": dict(vocab_size=2048, block_size=256, n_layer=4, n_head=4, n_embd=128),
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768),  # 124M
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024),  # 350M
    "gpt2-large": dict(n_layer=36, n_head=20, n_embd=1280),  # 774M
    "gpt2-xl": dict(n_layer=48, n_head=25, n_embd=1600),  # 1558M
}


class GPT(nn.Module):
    config_class = GPTConfig  # what gptlab.nn.gpt2 builds from a Hugging Face config.json

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        C = config.n_embd
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, C),  # token embedding
            wpe=nn.Embedding(config.block_size, C),  # learned position embedding
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(Block(C, config.n_head, bias=config.bias, dropout=config.dropout) for _ in range(config.n_layer)),
            ln_f=LayerNorm(C, bias=config.bias),  # pre-norm blocks leave the stream unnormalised: one last LayerNorm
        ))
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        if config.tie_weights:
            # One matrix maps ids to vectors and vectors back to scores: fewer parameters, and it works better.
            self.transformer.wte.weight = self.lm_head.weight
        init_gpt2_(self, config.n_layer)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameters, each shared tensor counted once; non_embedding leaves out wpe (and wte if untied)."""
        total = sum(p.numel() for p in self.parameters())  # .parameters() yields a tied tensor once
        if non_embedding:
            total -= self.transformer.wpe.weight.numel()
            if not self.config.tie_weights:
                total -= self.transformer.wte.weight.numel()
        return total

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, caches=None):
        """idx (B, T) token ids -> logits (B, T, V), and the mean cross-entropy if targets are given.

        targets[:, t] is the token that follows idx[:, t] (already shifted); positions equal to -100 are
        ignored. caches: one KV cache per block (see gptlab.generation), for generating token by token.
        """
        if not isinstance(idx, torch.Tensor) or not is_integer_dtype(idx.dtype):
            raise TypeError(f"idx must be a tensor of integer token ids; got {getattr(idx, 'dtype', type(idx).__name__)}")
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (B, T); got {tuple(idx.shape)} (add a batch dimension with idx[None])")
        B, T = idx.shape
        # Positions continue after what the cache holds: (T,), or (B, T) when its rows hold different lengths.
        positions = caches[0].positions(B, T, idx.device) if caches else torch.arange(T, device=idx.device)
        length = int(positions.max()) + 1 if caches else T
        if length > self.config.block_size:
            raise ValueError(f"a sequence of {length} tokens is longer than block_size {self.config.block_size}; "
                             f"crop it to the last {self.config.block_size} tokens")
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))  # (B, T, C)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache=caches[i] if caches else None)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}; got {tuple(targets.shape)}")
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "GPT":
        """Load a directory written by Hugging Face's save_pretrained for a GPT-2 model."""
        return load_gpt2_directory(cls, Path(path))


def init_gpt2_(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation, in place: every Linear and Embedding weight from N(0, 0.02²), biases 0, and the
    projections that write into the residual stream (c_proj) scaled down by √(2·n_layer). Any module with
    GPT-2's names gets it, the GPT a learner assembles from their own parts included.

    Taught in: solutions/06_gpt_model.ipynb
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
    for name, parameter in model.named_parameters():
        if name.endswith("c_proj.weight"):
            # each block adds two updates to the residual stream; scaled so its variance does not grow with depth
            nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))


def count_parameters(config: GPTConfig) -> int:
    """Parameters of GPT(config) by formula, the tied matrix counted once: GPT(config).num_params() without
    building the model (GPT-2 small: 124,439,808).

    Taught in: solutions/06_gpt_model.ipynb
    """
    V, C, L = config.vocab_size, config.n_embd, config.n_layer
    b = 1 if config.bias else 0
    layer_norm = C + b * C  # weight (+ bias)
    attention = C * 3 * C + b * 3 * C + C * C + b * C  # c_attn and c_proj
    mlp = C * 4 * C + b * 4 * C + 4 * C * C + b * C  # c_fc and c_proj
    block = 2 * layer_norm + attention + mlp  # = 12·C² + 13·C with biases
    embeddings = V * C + config.block_size * C
    head = 0 if config.tie_weights else V * C
    return embeddings + L * block + layer_norm + head


def config_from_dict(values: dict, config_class: type = GPTConfig):
    """A config_class (GPTConfig, or any dataclass config such as ModernConfig) from its fields as a dict."""
    known = {f.name for f in fields(config_class)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {config_class.__name__} fields {sorted(unknown)}; known: {sorted(known)}")
    return config_class(**values)

