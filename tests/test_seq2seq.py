"""Lesson 11's encoder–decoder: each piece against an explicit reference, padding invariance, the date task's
data, bad input, and (slow) training to the lesson's accuracy target."""

import datetime

import pytest
import torch
from torch import nn

from gptlab.nn.attention import MultiHeadAttention
from gptlab.topics.seq2seq.model import (CrossAttention, DecoderBlock, EncoderBlock, Seq2Seq, Seq2SeqConfig, attend_with_padding,
                            exact_match, fit, translate)
from gptlab.topics.seq2seq.data import (SOURCE_VOCAB, TARGET_VOCAB, collate, date_words, encode_source, make_date_splits,
                                 number_words, ordinal_words, split_words, year_words)


def _mask(lengths, T):
    return torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]


def _torch_mha(module: MultiHeadAttention) -> nn.MultiheadAttention:
    """torch's own multi-head attention holding the same weights (its in_proj is q, k, v stacked, as c_attn)."""
    theirs = nn.MultiheadAttention(module.d_model, module.n_heads, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(module.c_attn.weight)
        theirs.in_proj_bias.copy_(module.c_attn.bias)
        theirs.out_proj.weight.copy_(module.c_proj.weight)
        theirs.out_proj.bias.copy_(module.c_proj.bias)
    return theirs.eval()


def test_cross_attention_matches_torch_multihead_attention_with_padding():
    torch.manual_seed(0)
    mine = CrossAttention(16, 4).eval()
    x, memory, mask = torch.randn(3, 5, 16), torch.randn(3, 7, 16), _mask([7, 2, 4], 7)
    theirs = _torch_mha(mine)
    expected, expected_weights = theirs(x, memory, memory, key_padding_mask=~mask)  # torch: True = ignore
    out, weights = mine(x, memory, key_padding_mask=mask, return_weights=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.mean(1), expected_weights, atol=1e-5, rtol=1e-5)
    assert (weights[1, :, :, 2:] == 0).all()  # no query looks at padding
    torch.testing.assert_close(mine(x, memory, key_padding_mask=mask), out, atol=1e-5, rtol=1e-5)  # fused path


def test_encoder_self_attention_matches_torch_and_is_not_causal():
    torch.manual_seed(1)
    block = EncoderBlock(8, 2).eval()
    x, mask = torch.randn(2, 6, 8), _mask([6, 3], 6)
    h = block.ln_1(x)
    expected = x + _torch_mha(block.attn)(h, h, h, key_padding_mask=~mask)[0]
    expected = expected + block.mlp(block.ln_2(expected))
    torch.testing.assert_close(block(x, key_padding_mask=mask), expected, atol=1e-5, rtol=1e-5)
    changed = x.clone()
    changed[:, -1] = torch.randn(2, 8)  # the last word changes: in an encoder, the first position sees it
    assert not torch.allclose(block(x)[:, 0], block(changed)[:, 0])


def test_decoder_block_is_causal_and_reads_the_memory():
    torch.manual_seed(2)
    block = DecoderBlock(8, 2).eval()
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
    later = x.clone()
    later[:, 3:] = torch.randn(2, 2, 8)
    torch.testing.assert_close(block(x, memory)[:, :3], block(later, memory)[:, :3])  # the future does not leak
    assert not torch.allclose(block(x, memory), block(x, torch.randn(2, 4, 8)))
    y, weights = block(x, memory, _mask([4, 2], 4), return_weights=True)
    assert y.shape == (2, 5, 8) and weights.shape == (2, 2, 5, 4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 5))
    assert (weights[1, ..., 2:] == 0).all()


def test_attend_with_padding_matches_torch_sdpa_and_accepts_heads():
    torch.manual_seed(3)
    q, k, v, mask = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 5), _mask([6, 1], 6)
    out, weights = attend_with_padding(q, k, v, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert (weights[1, ..., 1:] == 0).all()


def test_padding_does_not_change_the_real_positions():
    torch.manual_seed(4)
    model = Seq2Seq(Seq2SeqConfig(d_model=32, n_heads=4)).eval()
    src, tgt = torch.randint(1, SOURCE_VOCAB.size, (2, 6)), torch.randint(1, TARGET_VOCAB.size, (2, 5))
    padded = torch.cat([src, torch.zeros(2, 4, dtype=torch.long)], 1)
    mask = padded != 0
    with torch.no_grad():
        torch.testing.assert_close(model.encode(padded, mask)[:, :6], model.encode(src), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(padded, tgt, mask), model(src, tgt), atol=1e-5, rtol=1e-5)
        # Without the mask the padding leaks in: the test above would catch a model that ignored it.
        assert not torch.allclose(model(padded, tgt), model(src, tgt), atol=1e-4)


def test_number_words():
    assert [number_words(n) for n in (0, 13, 20, 42)] == ["zero", "thirteen", "twenty", "forty-two"]
    assert [ordinal_words(n) for n in (1, 2, 12, 20, 23, 30, 31)] == [
        "first", "second", "twelfth", "twentieth", "twenty-third", "thirtieth", "thirty-first"]
    assert year_words(1905) == "nineteen oh five" and year_words(1900) == "nineteen hundred"
    assert year_words(2005, 1) == "two thousand and five" and year_words(2012, 0) == "twenty twelve"
    assert date_words(datetime.date(1998, 3, 23)) == "twenty-third of march , nineteen ninety-eight"
    assert split_words("Twenty-third of March, 1998"[:-5]) == ["twenty", "third", "of", "march", ","]


def test_dataset_is_seeded_held_out_and_of_variable_length():
    train, test = make_date_splits(3000, 300, seed=5)
    assert (train, test) == make_date_splits(3000, 300, seed=5)
    assert train != make_date_splits(3000, 300, seed=6)[0]
    assert not {e.target for e in train} & {e.target for e in test}  # no held-out date is ever trained on
    lengths = {len(split_words(e.source)) for e in train}
    assert min(lengths) <= 5 and max(lengths) >= 9
    for e in train[:200]:
        datetime.date.fromisoformat(e.target)  # every target is a real date
        encode_source(e.source)  # every word is in the vocabulary
    batch = collate(train[:16])
    assert batch["src_mask"].sum(1).tolist() == [len(split_words(e.source)) for e in train[:16]]
    assert (batch["src"][~batch["src_mask"]] == 0).all() and batch["tgt_in"].shape == (16, 11)
    assert "".join(TARGET_VOCAB.decode(batch["tgt_out"][0])) == train[0].target


# --- bad input: each says what is wrong -------------------------------------------------------------


def test_source_longer_than_the_maximum():
    model = Seq2Seq(Seq2SeqConfig(max_src_len=8))
    with pytest.raises(ValueError, match=r"the source has 10 tokens; this model reads at most 8"):
        model.encode(torch.ones(1, 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"the source has 10 tokens; the model reads at most 8"):
        translate(model, ["the twenty-third of september two thousand and twenty-seven"])


def test_tokens_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"unknown token\(s\) \['fourty'\]"):
        encode_source("fourty-second of march")
    model = Seq2Seq()
    with pytest.raises(ValueError, match=rf"holds the id {SOURCE_VOCAB.size}, outside the vocabulary of {SOURCE_VOCAB.size}"):
        model.encode(torch.tensor([[1, SOURCE_VOCAB.size]]))
    with pytest.raises(TypeError, match=r"integer token ids"):
        model.encode(torch.ones(1, 3))


def test_padding_mask_of_the_wrong_shape_or_type():
    q = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"must have shape \(B, T_k\) = \(2, 5\).*got \(2, 3\)"):
        attend_with_padding(q, torch.randn(2, 5, 4), torch.randn(2, 5, 4), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"must be a bool tensor"):
        attend_with_padding(q, q, q, torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"at least one True"):
        attend_with_padding(q, q, q, torch.tensor([[True, True, True], [False, False, False]]))
    model = Seq2Seq()
    with pytest.raises(ValueError, match=r"src_mask must have shape \(B, T_k\) = \(1, 4\)"):
        model.encode(torch.ones(1, 4, dtype=torch.long), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(B, T_k\) = \(2, 6\)"):
        CrossAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 6, 8), key_padding_mask=torch.ones(2, 3, dtype=torch.bool))


@pytest.mark.slow
def test_training_reaches_the_lesson_target():
    """What the lesson's training cell does (same sizes, data and seed): ≥ 95% exact match on held-out dates."""
    torch.manual_seed(0)
    train, test = make_date_splits(20_000, 1_000, seed=0)
    model = Seq2Seq(Seq2SeqConfig())
    fit(model, train, steps=600)
    assert exact_match(model, test) >= 0.95


def test_pictures_and_decoding_steps():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gptlab.topics.seq2seq.model import decode_steps
    from gptlab.viz.seq2seq import show_architectures, show_cross_attention, show_decoding_steps, show_objectives

    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(d_model=16, n_heads=2, n_enc_layers=1, n_dec_layers=1))
    source = "the first of may two thousand"
    steps = decode_steps(model, source)
    assert 1 <= len(steps) <= model.config.max_tgt_len
    torch.testing.assert_close(steps[0]["cross"].sum(), torch.tensor(1.0))
    assert steps[0]["prefix"] == [] and steps[1]["prefix"] == [steps[0]["chosen"]]
    show_decoding_steps(steps, TARGET_VOCAB.tokens)
    show_architectures()
    show_objectives("the cat sat on the mat".split(), [1, 4])
    with pytest.raises(ValueError, match=r"do not match 2 target and 6 source tokens"):
        show_cross_attention(torch.rand(3, 6), split_words(source), ["1", "9"])
    with pytest.raises(ValueError, match=r"masked must name at least one position in 0..5"):
        show_objectives("the cat sat on the mat".split(), [6])
    plt.close("all")
