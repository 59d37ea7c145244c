"""The token data pipeline: compact tensors, aligned windows that never cross the end, seeded batches."""

from __future__ import annotations

import pytest
import torch

from gptlab.data.batches import (bits_per_byte, check_windows, compact_dtype, encode_corpus, get_batch, random_offsets, split,
                           to_tensor, windows)
from gptlab.data import FINETUNE_SPLITS, GENRES, held_out_titles, load_text, plays
from gptlab.tokenizers import BPETokenizer

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 20


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(TEXT, vocab_size=300)


def test_compact_dtype():
    assert compact_dtype(2048) == torch.uint16
    assert compact_dtype(65536) == torch.uint16
    assert compact_dtype(65537) == torch.int32
    assert compact_dtype(100_000) == torch.int32
    with pytest.raises(ValueError):
        compact_dtype(0)


def test_encode_corpus_is_uint16_and_decodes(tokenizer):
    ids = encode_corpus(TEXT, tokenizer)
    assert ids.dtype == torch.uint16 and ids.dim() == 1
    assert tokenizer.decode(ids.tolist()) == TEXT


def test_documents_are_joined_by_endoftext(tokenizer):
    eot = tokenizer.special_tokens["<|endoftext|>"]
    ids = encode_corpus(["To be", "or not"], tokenizer).tolist()
    assert ids.count(eot) == 1
    assert tokenizer.decode(ids) == "To be<|endoftext|>or not"
    # a special token *inside* a document is ordinary text, never a document boundary
    assert eot not in encode_corpus("a<|endoftext|>b", tokenizer).tolist()
    assert eot not in encode_corpus(["x", "y"], tokenizer, separator=None).tolist()
    with pytest.raises(ValueError, match="no special token"):
        encode_corpus(["x", "y"], tokenizer, separator="<|pad|>")


def test_large_vocabularies_use_int32():
    ids = to_tensor([0, 70_000, 5], vocab_size=100_000)
    assert ids.dtype == torch.int32 and ids.tolist() == [0, 70_000, 5]
    with pytest.raises(ValueError, match="out of range"):
        to_tensor([1, 2048], vocab_size=2048)


def test_split_is_a_contiguous_tail():
    train, val = split(torch.arange(10), 0.2)
    assert train.tolist() == list(range(8)) and val.tolist() == [8, 9]
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError):
            split(torch.arange(10), bad)


def test_windows_are_aligned_by_one():
    data = torch.arange(1000).to(torch.int32)
    x, y = get_batch(data, 8, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(y, x + 1)  # with data = arange, y[t] is literally the next token after x[t]


def test_windows_never_cross_the_end():
    block = 16
    data = torch.arange(block + 1).to(torch.uint16)  # exactly one window fits
    x, y = get_batch(data, 32, block, torch.Generator().manual_seed(1))
    assert (x == torch.arange(block)).all() and (y == torch.arange(1, block + 1)).all()
    data = torch.arange(40)
    offsets = random_offsets(data, 10_000, block, torch.Generator().manual_seed(2))
    assert offsets.min() == 0 and offsets.max() == len(data) - block - 1  # every start is used, none past the end


def test_batches_are_seeded():
    data = torch.randint(0, 500, (5000,)).to(torch.uint16)
    a = get_batch(data, 4, 32, torch.Generator().manual_seed(7))
    b = get_batch(data, 4, 32, torch.Generator().manual_seed(7))
    c = get_batch(data, 4, 32, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_ranks_take_slices_of_the_global_batch():
    data = torch.randint(0, 500, (5000,)).to(torch.uint16)
    whole, _ = get_batch(data, 8, 16, torch.Generator().manual_seed(3))
    parts = [get_batch(data, 8, 16, torch.Generator().manual_seed(3), rank=r, world_size=4)[0] for r in range(4)]
    assert torch.equal(torch.cat(parts), whole)
    with pytest.raises(ValueError, match="divisible"):
        get_batch(data, 6, 16, rank=0, world_size=4)


def test_clear_errors():
    with pytest.raises(ValueError, match="block_size \\+ 1 = 17"):
        get_batch(torch.arange(16), 2, 16)
    with pytest.raises(ValueError, match="1-D"):
        check_windows(torch.zeros(4, 4, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="integer"):
        check_windows(torch.zeros(100), 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_windows(list(range(100)), 2)
    with pytest.raises(ValueError, match="batch_size"):
        random_offsets(torch.arange(100), 0, 4)


def test_windows_on_an_explicit_offset():
    data = torch.arange(100).to(torch.uint16)
    x, y = windows(data, torch.tensor([5]), 4)
    assert x.tolist() == [[5, 6, 7, 8]] and y.tolist() == [[6, 7, 8, 9]]


def test_bits_per_byte():
    assert bits_per_byte(1.0, 100, 300) == pytest.approx(100 / 300 / 0.6931471805599453)
    with pytest.raises(ValueError):
        bits_per_byte(1.0, 0, 1)


def test_finetune_splits_are_one_per_genre_for_validation_and_two_for_test():
    genre = {play.title: play.genre for play in plays()}
    assert sorted(genre[t] for t in FINETUNE_SPLITS["validation"]) == sorted(GENRES)
    assert sorted(genre[t] for t in FINETUNE_SPLITS["test"]) == sorted(GENRES * 2)
    assert not set(FINETUNE_SPLITS["validation"]) & set(FINETUNE_SPLITS["test"])
    pretraining = load_text("english", exclude=held_out_titles())
    assert "LADY MACBETH:\n" in load_text("english") and "LADY MACBETH:\n" not in pretraining
