"""The modern GPT (the Llama layout), in nanoGPT's shape: lesson 06's model with lesson 14's parts.

What changed from GPT-2 (gptlab.nn.model): no position table (rotary embeddings turn q and k inside attention),
RMSNorm instead of LayerNorm, the SwiGLU MLP, n_kv_head key/value heads shared by groups of query heads, no
biases. The container names stay nanoGPT's (transformer.wte, h.N.ln_1, attn, ln_2, mlp, ln_f, lm_head); inside
attention and the MLP they are Llama's, so `from_pretrained` loads a Hugging Face LlamaForCausalLM directory by
renaming the containers (LLAMA_NAMES).

Taught in: solutions/14_modern_gpt.ipynb
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.data.batches import is_integer_dtype
from gptlab.nn.gpt2 import CheckpointError, check_state, read_weights
from gptlab.nn.layers import LayerNorm
from gptlab.nn.modern import ModernBlock, RMSNorm, swiglu_hidden

__all__ = ["LLAMA_NAMES", "ModernConfig", "ModernGPT", "count_modern_parameters", "kv_cache_bytes_per_token"]


@dataclass
class ModernConfig:
    vocab_size: int = 2048
    block_size: int = 256  # the training context; RoPE has no table, so a sliding KV cache may read past it
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int | None = None  # None: n_head (multi-head attention)
    n_embd: int = 128
    hidden: int | None = None  # the SwiGLU width; None: 8/3 · n_embd (GPT-2's MLP's parameters)
    head_dim: int | None = None  # None: n_embd // n_head
    rope_base: float = 10000.0
    norm_eps: float = 1e-6
    tie_weights: bool = True
    # One change at a time (benchmarks/train.py): GPT-2's part in place of the modern one.
    norm: str = "rms"  # "rms" | "layer"
    mlp: str = "swiglu"  # "swiglu" | "gelu"
    rope: bool = True  # False: a learned position table (wpe), as GPT-2

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModernConfig.{name} must be a positive int; got {value!r}")
        self.n_kv_head = self.n_kv_head or self.n_head
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.n_kv_head})")
        self.head_dim = self.head_dim or self.n_embd // self.n_head
        if self.head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head size; got {self.head_dim}")
        self.hidden = self.hidden or swiglu_hidden(self.n_embd)
        if self.norm not in ("rms", "layer") or self.mlp not in ("swiglu", "gelu"):
            raise ValueError(f"norm must be 'rms' or 'layer' and mlp 'swiglu' or 'gelu'; got {self.norm!r}, {self.mlp!r}")


class ModernGPT(nn.Module):
    config_class = ModernConfig

    def __init__(self, config: ModernConfig):
        super().__init__()
        self.config = c = config
        blocks = (ModernBlock(c.n_embd, c.n_head, c.n_kv_head, c.hidden, c.rope_base, c.norm_eps, c.head_dim,
                              norm=c.norm, mlp=c.mlp, rope=c.rope) for _ in range(c.n_layer))
        parts = dict(wte=nn.Embedding(c.vocab_size, c.n_embd), h=nn.ModuleList(blocks),
                     ln_f=RMSNorm(c.n_embd, c.norm_eps) if c.norm == "rms" else LayerNorm(c.n_embd, bias=False))
        if not c.rope:
            parts["wpe"] = nn.Embedding(c.block_size, c.n_embd)
        self.transformer = nn.ModuleDict(parts)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight", "c_proj.weight")):
                # As GPT-2: the two updates per block to the residual stream, scaled by 1/sqrt(2·n_layer).
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameters, each shared tensor counted once; non_embedding leaves out wte (and wpe) when tied."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.transformer.wte.weight.numel() if self.config.tie_weights else 0
            total -= self.transformer.wpe.weight.numel() if "wpe" in self.transformer else 0
        return total

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, caches=None):
        """idx (B, T) token ids -> logits (B, T, V), and the mean cross-entropy if targets are given (as GPT's).

        caches: one KV cache per block (gptlab.nn.kv_cache). With rotary positions a position past block_size
        is only a larger angle, so a cache that drops its oldest keys (SlidingCache) can run on without a rebuild.
        """
        if not isinstance(idx, torch.Tensor) or not is_integer_dtype(idx.dtype) or idx.dim() != 2:
            raise TypeError(f"idx must be a (B, T) tensor of integer token ids; got {getattr(idx, 'dtype', type(idx))} "
                            f"{tuple(getattr(idx, 'shape', ()))}")
        B, T = idx.shape
        positions = caches[0].positions(B, T, idx.device) if caches else torch.arange(T, device=idx.device)  # (T,) | (B, T)
        if T > self.config.block_size or (not self.config.rope and int(positions.max()) >= self.config.block_size):
            raise ValueError(f"a sequence of {int(positions.max()) + 1} tokens is longer than block_size "
                             f"{self.config.block_size}; crop it to the last {self.config.block_size} tokens")
        x = self.transformer.wte(idx)  # (B, T, C)
        if not self.config.rope:
            x = x + self.transformer.wpe(positions)  # (B, T, C)
        for i, block in enumerate(self.transformer.h):
            x = block(x, positions=positions, cache=caches[i] if caches else None)  # (B, T, C)
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}; got {tuple(targets.shape)}")
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "ModernGPT":
        """Load a directory written by Hugging Face's save_pretrained for a LlamaForCausalLM (default RoPE)."""
        path = Path(path)
        model = cls(read_llama_config(path))
        hf, source = read_weights(path)
        expected = model.state_dict()
        state = check_state({rename_llama(name): tensor for name, tensor in hf.items()}, expected, source)
        with torch.no_grad():
            model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
        return model.eval()


# Hugging Face Llama -> gptlab: the containers only; q_proj … down_proj keep their names.
LLAMA_NAMES = (("model.embed_tokens.", "transformer.wte."), ("model.layers.", "transformer.h."),
               (".self_attn.", ".attn."), (".input_layernorm.", ".ln_1."), (".post_attention_layernorm.", ".ln_2."),
               ("model.norm.", "transformer.ln_f."))


def rename_llama(name: str) -> str:
    for theirs, ours in LLAMA_NAMES:
        name = name.replace(theirs, ours)
    return name


def read_llama_config(path: Path) -> ModernConfig:
    """config.json of a Hugging Face Llama → ModernConfig. Only the default RoPE (no scaling) is supported."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{path} has no config.json: is it a directory written by save_pretrained?")
    hf = json.loads(config_file.read_text())
    if hf.get("model_type") != "llama":
        raise CheckpointError(f"{config_file} describes a {hf.get('model_type')!r} model, not Llama")
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise CheckpointError(f"{config_file}: RoPE type {rope.get('rope_type')!r} is not supported (only 'default')")
    if hf.get("attention_bias") or hf.get("mlp_bias") or hf.get("hidden_act", "silu") != "silu":
        raise CheckpointError(f"{config_file}: biases or an activation other than SiLU are not the Llama layout")
    return ModernConfig(vocab_size=hf["vocab_size"], block_size=hf["max_position_embeddings"],
                        n_layer=hf["num_hidden_layers"], n_head=hf["num_attention_heads"],
                        n_kv_head=hf.get("num_key_value_heads"), n_embd=hf["hidden_size"],
                        hidden=hf["intermediate_size"], head_dim=hf.get("head_dim"),
                        rope_base=float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))),
                        norm_eps=hf.get("rms_norm_eps", 1e-6), tie_weights=hf.get("tie_word_embeddings", False))


def count_modern_parameters(config: ModernConfig) -> int:
    """Parameters of ModernGPT(config) by formula, the tied matrix counted once (as ModernGPT(config).num_params()).

    Taught in: solutions/14_modern_gpt.ipynb
    """
    C, V, L, hs = config.n_embd, config.vocab_size, config.n_layer, config.head_dim
    attention = C * config.n_head * hs * 2 + C * config.n_kv_head * hs * 2  # q_proj, o_proj; k_proj, v_proj
    mlp = 3 * C * config.hidden if config.mlp == "swiglu" else 8 * C * C
    block = attention + mlp + 2 * C  # two norms, weights only
    positions = 0 if config.rope else config.block_size * C
    return V * C + positions + L * block + C + (0 if config.tie_weights else V * C)


def kv_cache_bytes_per_token(n_layer: int, n_kv_head: int, head_dim: int, bytes_per_value: int = 2) -> int:
    """Bytes a KV cache holds per token: keys and values (2) × layers × key/value heads × head size × bytes.
    Llama 3.2 1B (16 layers, 8 kv heads of 64, bfloat16): 2 · 16 · 8 · 64 · 2 = 32,768 bytes.

    Taught in: solutions/14_modern_gpt.ipynb
    """
    return 2 * n_layer * n_kv_head * head_dim * bytes_per_value
