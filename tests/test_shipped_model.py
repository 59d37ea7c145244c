"""The model the course ships (gptlab.io.load("shipped")): what lesson 09 and the weights README say it does.

The figures are measured on text no recipe trains on: the validation text every recipe holds out (its bits per
byte, against the small file's), passages of the fine-tuning lesson's test plays and random token ids, each fed
twice in a row (in-context copying). gptlab/weights/README.md records the same numbers and how the file was made.
"""

from __future__ import annotations

import math

import pytest

# Measured on the committed files (gptlab/weights/README.md); float16 storage and CPU kernels move them < 0.002.
SHIPPED_BPB, SMALL_BPB, BPB_TOLERANCE = 1.8613, 2.2168, 0.005


@pytest.fixture(scope="module")
def shipped():
    from gptlab.io import load

    return load("shipped")


def test_the_shipped_file_is_checked_small_and_made_by_the_shipped_recipe(shipped):
    from gptlab.io.checkpoint import load_checkpoint, verify_sha256
    from gptlab.io.models import SHIPPED_SHA256, shipped_path
    from gptlab.training.recipes import RECIPES

    model, tokenizer = shipped
    verify_sha256(shipped_path("shipped"), SHIPPED_SHA256)
    assert shipped_path("shipped").stat().st_size <= 25 * 2**20
    checkpoint = load_checkpoint(shipped_path("shipped"))
    recipe = checkpoint.metadata["recipe"]
    assert {k: recipe["model"][k] for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")} == \
        {k: RECIPES["shipped"].model[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")}
    assert recipe["finish"] == RECIPES["shipped"].finish and recipe["corpora"] == RECIPES["shipped"].corpora
    # at least 4x the tokens the small file saw (1000 steps of 16 x 256)
    config = checkpoint.train_config
    assert checkpoint.step * config["batch_size"] * model.config.block_size >= 4 * 1000 * 16 * 256
    # the same tokenizer as the small file: lessons can swap one model for the other
    from gptlab.io import load

    _, small_tokenizer = load("small")
    text = "ROMEO: But soft, what light through yonder window breaks? 汉字"
    assert tokenizer.encode(text) == small_tokenizer.encode(text) and tokenizer.special_tokens == small_tokenizer.special_tokens


def test_the_shipped_model_copies_text_it_never_saw(shipped):
    from gptlab.training.evaluate import repeat_losses, unseen_passages

    model, tokenizer = shipped
    passages = unseen_passages(tokenizer, count=10, length=100)
    first, second = repeat_losses(model, passages)
    assert second <= 0.5 * first, (first, second)


def test_the_shipped_model_copies_random_ids(shipped):
    from gptlab.training.evaluate import random_halves, repeat_losses

    model, tokenizer = shipped
    vocab = tokenizer.vocab_size
    ordinary = min(tokenizer.special_tokens.values())
    first, second = repeat_losses(model, random_halves(ordinary, count=16, length=50))
    assert second <= math.log(vocab) / 3 < first, (first, second)


def test_the_shipped_model_reads_the_validation_text_better_than_the_small_one(shipped):
    from gptlab.io import load
    from gptlab.training.evaluate import validation_bits_per_byte

    shipped_bpb = validation_bits_per_byte(*shipped)
    small_bpb = validation_bits_per_byte(*load("small"))
    assert small_bpb == pytest.approx(SMALL_BPB, abs=BPB_TOLERANCE)
    assert shipped_bpb == pytest.approx(SHIPPED_BPB, abs=BPB_TOLERANCE)
    assert shipped_bpb <= 0.9 * small_bpb
