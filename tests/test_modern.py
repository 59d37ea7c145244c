"""Lesson 14's modern GPT: its parts against torch's and Hugging Face's, and a Llama checkpoint loaded to 1e-5."""

import pytest
import torch
import torch.nn.functional as F

from gptlab.nn.kv_cache import SlidingCache, make_caches
from gptlab.nn.modern import (GroupedQueryAttention, RMSNorm, SwiGLU, apply_rope, gqa_attention, repeat_kv, rope_angles,
                              swiglu_hidden)
from gptlab.nn.modern_model import ModernConfig, ModernGPT, count_modern_parameters, kv_cache_bytes_per_token

transformers = pytest.importorskip("transformers")
from transformers.models.llama import modeling_llama as hf_llama  # noqa: E402

TINY = dict(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)


def llama(tmp_path, tie: bool, seed: int = 0):
    """A small random LlamaForCausalLM, weights moved off their tiny init (sharper logits), saved offline."""
    config = transformers.LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=88, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                      tie_word_embeddings=tie, rope_theta=500000.0, rms_norm_eps=1e-5)
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    model.save_pretrained(tmp_path)
    return model


@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_a_hugging_face_llama_loads_with_the_same_logits_and_parameter_count(tmp_path, tie):
    hf = llama(tmp_path, tie)
    ours = ModernGPT.from_pretrained(tmp_path)
    idx = torch.randint(0, 97, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs, mine = hf(idx).logits, ours(idx)[0]
    assert theirs.abs().max() > 1  # not a comparison of near-zero numbers
    torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)
    assert ours.num_params() == hf.num_parameters() == count_modern_parameters(ours.config)
    assert (ours.config.rope_base, ours.config.n_kv_head, ours.config.hidden, ours.config.norm_eps) == (500000.0, 2, 88, 1e-5)


def test_parameter_counts_match_hugging_faces_for_llama_3_2_1b_shape_without_building_it():
    """Llama 3.2 1B's published config: 1,235,814,400 parameters (tied embeddings)."""
    config = ModernConfig(vocab_size=128256, block_size=131072, n_layer=16, n_head=32, n_kv_head=8, n_embd=2048,
                          hidden=8192, head_dim=64, rope_base=500000.0, tie_weights=True)
    assert count_modern_parameters(config) == 1_235_814_400


def test_rope_matches_hugging_faces_rotary_embedding():
    config = transformers.LlamaConfig(hidden_size=64, num_attention_heads=4, rope_theta=10000.0)
    rotary = hf_llama.LlamaRotaryEmbedding(config)
    q, k = torch.randn(2, 4, 9, 16), torch.randn(2, 2, 9, 16)
    positions = torch.arange(9)[None].expand(2, -1)
    cos, sin = rotary(q, positions)
    q_hf, k_hf = hf_llama.apply_rotary_pos_emb(q, k, cos, sin)
    torch.testing.assert_close(apply_rope(q), q_hf, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(apply_rope(k, positions=positions), k_hf, atol=1e-6, rtol=1e-6)


def test_rope_angles_worked_example_and_the_relative_position_property():
    cos, sin = rope_angles(torch.tensor([1]), 4, base=100.0)
    torch.testing.assert_close(torch.atan2(sin, cos)[0], torch.tensor([1.0, 0.1, 1.0, 0.1]))
    q, k = torch.randn(16), torch.randn(16)
    scores = []
    for m, n in ((3, 1), (10, 8), (50, 48)):  # the same distance 2, anywhere
        at = torch.zeros(1, 51, 16)
        qm = apply_rope(at.index_put((torch.tensor([0]), torch.tensor([m])), q[None]))[0, m]
        kn = apply_rope(at.index_put((torch.tensor([0]), torch.tensor([n])), k[None]))[0, n]
        scores.append(float(qm @ kn))
    assert max(scores) - min(scores) < 1e-4


def test_rmsnorm_matches_torch_and_hugging_face():
    x = torch.randn(2, 5, 8) * 3 + 1
    ours = RMSNorm(8, eps=1e-5)
    with torch.no_grad():
        ours.weight.normal_()
    theirs = torch.nn.RMSNorm(8, eps=1e-5)
    theirs.weight.data.copy_(ours.weight)
    hf = hf_llama.LlamaRMSNorm(8, eps=1e-5)
    hf.weight.data.copy_(ours.weight)
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours(x), hf(x))
    assert ours(x.double()).dtype == torch.float64


def test_swiglu_matches_hugging_faces_mlp_and_its_width_rule():
    assert swiglu_hidden(768) == 2048 and swiglu_hidden(4096, 256) == 11008  # Llama 1 7B's width
    mlp = SwiGLU(32, 88)
    hf = hf_llama.LlamaMLP(transformers.LlamaConfig(hidden_size=32, intermediate_size=88))
    hf.load_state_dict(mlp.state_dict())
    x = torch.randn(3, 4, 32)
    torch.testing.assert_close(mlp(x), hf(x))
    assert sum(p.numel() for p in SwiGLU(96).parameters()) == 2 * 96 * 4 * 96  # GPT-2's MLP's weights, 8/3 wide


def test_repeat_kv_is_hugging_faces_and_gqa_equals_multi_head_with_copied_heads():
    kv = torch.randn(2, 3, 5, 4)
    torch.testing.assert_close(repeat_kv(kv, 4), hf_llama.repeat_kv(kv, 4))
    q, k, v = torch.randn(2, 6, 5, 4), torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    rotated_q, rotated_k = apply_rope(q), apply_rope(k).repeat_interleave(2, 1)
    expected = F.scaled_dot_product_attention(rotated_q, rotated_k, v.repeat_interleave(2, 1), is_causal=True)
    torch.testing.assert_close(gqa_attention(q, k, v), expected)
    with pytest.raises(ValueError, match="multiple of n_kv_head"):
        GroupedQueryAttention(32, 4, 3)


def test_cached_decoding_gives_the_full_forward_passes_logits():
    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(**TINY)).eval()
    idx = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        full = model(idx)[0]
        caches = make_caches(model, 2)
        assert caches[0].k.shape == (2, 2, 32, 8)  # only the 2 key/value heads are cached
        steps = [model(idx[:, :5], caches=caches)[0]] + [model(idx[:, t:t + 1], caches=caches)[0] for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_the_package_generates_from_a_modern_model_with_and_without_a_cache():
    from gptlab.generation import generate

    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(**{**TINY, "block_size": 16})).eval()
    with torch.no_grad():
        model.transformer.wte.weight.mul_(50)  # sharp logits: greedy choices far from ties
    cached = generate(model, [1, 2, 3], 30, temperature=0.0, use_cache=True)
    plain = generate(model, [1, 2, 3], 30, temperature=0.0, use_cache=False)
    assert cached[0].token_ids == plain[0].token_ids and len(cached[0].token_ids) == 30  # past block_size 16: rebuilt windows agree


def test_a_sliding_cache_runs_past_the_context_and_agrees_inside_it():
    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(**{**TINY, "block_size": 8})).eval()
    idx = torch.randint(0, 97, (1, 20))
    caches = [SlidingCache(8) for _ in model.transformer.h]
    with torch.no_grad():
        steps = [model(idx[:, t:t + 1], caches=caches)[0] for t in range(20)]
        torch.testing.assert_close(torch.cat(steps[:8], 1), model(idx[:, :8])[0], atol=1e-5, rtol=1e-5)
    assert caches[0].k.shape[2] == 8 and caches[0].seen == 20
    with pytest.raises(ValueError, match="longer than block_size"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_kv_cache_bytes_of_published_configurations():
    assert kv_cache_bytes_per_token(16, 8, 64) == 32_768  # Llama 3.2 1B, bfloat16
    assert kv_cache_bytes_per_token(28, 8, 128) == 114_688  # Qwen3 0.6B
    assert kv_cache_bytes_per_token(16, 32, 64) == 4 * 32_768  # Llama 3.2 1B's 32 heads as multi-head attention


@pytest.mark.parametrize("change", [dict(norm="layer"), dict(mlp="gelu"), dict(rope=False), dict(n_kv_head=1)])
def test_each_change_alone_builds_trains_one_step_and_counts_its_parameters(change):
    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(**{**TINY, **change}))
    assert model.num_params() == count_modern_parameters(model.config)
    idx, targets = torch.randint(0, 97, (2, 2, 16))
    _, loss = model(idx, targets)
    loss.backward()
    assert abs(loss.item() - torch.log(torch.tensor(97.0)).item()) < 0.3
