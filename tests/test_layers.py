"""Each piece against its torch reference (micrograd-style: same numbers, forward and backward)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn.attention import CausalSelfAttention, Head, MultiHeadAttention, causal_mask, scaled_dot_product_attention
from gptlab.nn.layers import MLP, Block, LayerNorm, gelu, input_embedding, sinusoidal_positions, softmax

torch.manual_seed(0)


def test_softmax_matches_torch_and_survives_large_logits():
    x = torch.randn(3, 4, 7) * 50 + 1000
    torch.testing.assert_close(softmax(x), torch.softmax(x, -1))


def test_sinusoidal_positions_worked_values():
    pe = sinusoidal_positions(3, 4)
    expected = torch.tensor([[0, 1, 0, 1],
                             [math.sin(1), math.cos(1), math.sin(1 / 100), math.cos(1 / 100)],
                             [math.sin(2), math.cos(2), math.sin(2 / 100), math.cos(2 / 100)]])
    torch.testing.assert_close(pe, expected.float())
    with pytest.raises(ValueError, match="even d"):
        sinusoidal_positions(4, 5)


def test_input_embedding_equals_nn_embedding_sum():
    wte, wpe = nn.Embedding(10, 6), nn.Embedding(8, 6)
    idx = torch.randint(0, 10, (2, 5))
    torch.testing.assert_close(input_embedding(idx, wte.weight, wpe.weight), wte(idx) + wpe(torch.arange(5)))
    with pytest.raises(TypeError, match="integer token ids"):
        input_embedding(idx.float(), wte.weight, wpe.weight)
    with pytest.raises(ValueError, match="longer than the 8 positions"):
        input_embedding(torch.zeros(1, 9, dtype=torch.long), wte.weight, wpe.weight)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_torch_with_two_batch_dims_and_dk_ne_dv(causal):
    q, k, v = torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 4)
    out, weights = scaled_dot_product_attention(q, k, v, causal=causal)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-5, rtol=1e-5)
    assert weights.shape == (2, 3, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))
    if causal:
        assert (weights.triu(1) == 0).all()


def test_attention_bad_input_is_a_clear_error():
    q, v = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match="same last dimension d_k.*8 and 6"):
        scaled_dot_product_attention(q, torch.randn(2, 4, 6), v)
    with pytest.raises(TypeError, match="the mask must be bool"):
        scaled_dot_product_attention(q, q, v, mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\) does not broadcast"):
        scaled_dot_product_attention(q, q, v, mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(3\)"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="positive int"):
        causal_mask(0)


def torch_reference_attention(module: MultiHeadAttention, x, key_padding_mask=None, causal=True, context=None):
    """The same weights through torch's own nn.MultiheadAttention."""
    C = module.d_model
    ref = nn.MultiheadAttention(C, module.n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(module.c_attn.weight)
        ref.in_proj_bias.copy_(module.c_attn.bias)
        ref.out_proj.weight.copy_(module.c_proj.weight)
        ref.out_proj.bias.copy_(module.c_proj.bias)
    T = x.shape[1]
    mask = ~causal_mask(T) if causal else None  # torch: True = NOT allowed
    kv = x if context is None else context
    pad = None if key_padding_mask is None else ~key_padding_mask
    return ref(x, kv, kv, attn_mask=mask, key_padding_mask=pad, need_weights=False)[0]


def test_causal_self_attention_matches_torch_multihead_attention():
    module = CausalSelfAttention(16, 4).eval()
    x = torch.randn(3, 7, 16)
    torch.testing.assert_close(module(x), torch_reference_attention(module, x), atol=1e-5, rtol=1e-5)
    y, weights = module(x, return_weights=True)
    torch.testing.assert_close(y, module(x), atol=1e-6, rtol=1e-5)
    assert weights.shape == (3, 4, 7, 7)


def test_head_is_causal_attention_on_its_projections_and_n_heads_are_one_c_attn():
    """Lesson 03's Head equals torch's attention on its own q, k, v; lesson 04's claim: h heads side by side are
    CausalSelfAttention with their weights stacked in c_attn (no bias, c_proj the identity), same weight count."""
    torch.manual_seed(0)
    C, nh = 12, 3
    heads = [Head(C, C // nh) for _ in range(nh)]
    x = torch.randn(2, 5, C)
    h = heads[0]
    expected = F.scaled_dot_product_attention(h.query(x), h.key(x), h.value(x), is_causal=True)
    out, weights = h(x, return_weights=True)
    assert out.shape == (2, 5, C // nh) and torch.allclose(h(x), expected, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5)) and (weights[:, 0, 1:] == 0).all()
    fused = CausalSelfAttention(C, nh)
    with torch.no_grad():
        fused.c_attn.weight.copy_(torch.cat([torch.cat([getattr(h, p).weight for h in heads]) for p in ("query", "key", "value")]))
        fused.c_attn.bias.zero_()
        fused.c_proj.weight.copy_(torch.eye(C))
        fused.c_proj.bias.zero_()
        assert torch.allclose(fused(x), torch.cat([h(x) for h in heads], -1), atol=1e-6)
    assert sum(p.numel() for h in heads for p in h.parameters()) == fused.c_attn.weight.numel() == 3 * C * C


def test_padding_mask_and_cross_attention_match_torch():
    module = MultiHeadAttention(8, 2, causal=False).eval()
    x, context = torch.randn(2, 5, 8), torch.randn(2, 6, 8)
    pad = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    got = module(x, context=context, key_padding_mask=pad)
    torch.testing.assert_close(got, torch_reference_attention(module, x, pad, causal=False, context=context), atol=1e-5, rtol=1e-5)
    _, weights = module(x, context=context, key_padding_mask=pad, return_weights=True)
    assert (weights[0, :, :, 4:] == 0).all()
    with pytest.raises(ValueError, match=r"key_padding_mask must be bool of shape \(B, T_k\) = \(2, 6\)"):
        module(x, context=context, key_padding_mask=pad.float())


def test_causal_and_padding_together_match_torch():
    module = CausalSelfAttention(8, 2).eval()
    x = torch.randn(2, 5, 8)
    pad = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    torch.testing.assert_close(module(x, key_padding_mask=pad), torch_reference_attention(module, x, pad), atol=1e-5, rtol=1e-5)


def layer_norm_written_out(x, weight, bias, eps=1e-5):
    """The lesson's formula, in float64: biased variance, eps inside the square root."""
    x = x.double()
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # divide by d, not d - 1
    return (x - mean) / torch.sqrt(var + eps) * weight.double() + bias.double()


def test_layer_norm_is_the_written_out_formula_forward_and_backward():
    ours = LayerNorm(12)
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
    x1 = (torch.randn(4, 5, 12) * 3 + 2).requires_grad_()
    x2 = x1.detach().double().requires_grad_()
    w, b = ours.weight.detach().double().requires_grad_(), ours.bias.detach().double().requires_grad_()
    expected = layer_norm_written_out(x2, w, b)
    torch.testing.assert_close(ours(x1).double(), expected, atol=1e-5, rtol=1e-5)
    ours(x1).pow(2).sum().backward(), expected.pow(2).sum().backward()
    torch.testing.assert_close(x1.grad.double(), x2.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.weight.grad.double(), w.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.bias.grad.double(), b.grad, atol=1e-4, rtol=1e-4)


def test_gelu_is_gpt2s_tanh_formula():
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    written_out = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    torch.testing.assert_close(gelu(x.float()).double(), written_out, atol=1e-6, rtol=1e-5)
    exact = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    assert (gelu(x.float()).double() - exact).abs().max() > 1e-4  # and not the exact erf form


def test_mlp_and_block_shapes_names_and_values():
    mlp = MLP(8)
    assert [n for n, _ in mlp.named_parameters()] == ["c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias"]
    x = torch.randn(2, 3, 8)
    h = mlp.c_fc(x)
    torch.testing.assert_close(mlp(x), mlp.c_proj(0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))),
                               atol=1e-6, rtol=1e-5)
    block = Block(8, 2).eval()
    assert {n.split(".")[0] for n, _ in block.named_parameters()} == {"ln_1", "attn", "ln_2", "mlp"}
    h = x + torch_reference_attention(block.attn, layer_norm_written_out(x, block.ln_1.weight, block.ln_1.bias).float())
    expected = h + block.mlp(layer_norm_written_out(h, block.ln_2.weight, block.ln_2.bias).float())
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)
