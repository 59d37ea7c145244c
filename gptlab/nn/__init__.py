"""The network a learner reads: attention, the layers of a block, the GPT itself, its KV cache, LoRA.

    from gptlab.nn import GPT, GPTConfig
    model = GPT(GPTConfig.preset("course"))

Read it in the order of the architecture, as the lessons build it: `attention` (lessons 03–04), `layers`
(softmax, positions, LayerNorm, the MLP, the block: lessons 00, 02, 05), `model` (lesson 06), `gpt2`
(GPT-2's file format, lesson 06), `kv_cache` (lesson 08), `lora` (lesson 10), `modern` and `modern_model`
(RMSNorm, RoPE, SwiGLU, grouped-query attention and the Llama-layout GPT, lesson 14). Nothing here imports
the rest of gptlab.
"""

from gptlab.nn.attention import CausalSelfAttention, Head, MultiHeadAttention, causal_mask, scaled_dot_product_attention
from gptlab.nn.kv_cache import GrowingCache, KVCache, cached_step, make_caches
from gptlab.nn.layers import MLP, Block, LayerNorm, gelu, input_embedding, sinusoidal_positions, softmax
from gptlab.nn.lora import LoRALinear, add_lora, lora_parameter_count, merge_lora
from gptlab.nn.model import GPT, PRESETS, GPTConfig
from gptlab.nn.modern import GroupedQueryAttention, ModernBlock, RMSNorm, SwiGLU, apply_rope
from gptlab.nn.modern_model import ModernConfig, ModernGPT

__all__ = ["Block", "CausalSelfAttention", "GPT", "GrowingCache", "GPTConfig", "Head", "KVCache", "LayerNorm", "LoRALinear", "MLP",
           "MultiHeadAttention", "PRESETS", "add_lora", "cached_step", "causal_mask", "gelu", "input_embedding", "lora_parameter_count",
           "make_caches", "merge_lora", "GroupedQueryAttention", "ModernBlock", "ModernConfig", "ModernGPT", "RMSNorm",
           "SwiGLU", "apply_rope", "scaled_dot_product_attention", "sinusoidal_positions", "softmax"]
