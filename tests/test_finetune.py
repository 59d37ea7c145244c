"""Lesson 10's library: data sets, the classifier, instruction batches, LoRA (merge keeps outputs), bad input."""

import re

import pytest
import torch
from torch import nn

from gptlab.data import FINETUNE_SPLITS
from gptlab.data.finetune_sets import (CLASSES, ORDER_CLASSES, TASKS, format_prompt, genre_passages, instruction_examples,
                                       shuffle_words, split_titles, word_order_passages)
from gptlab.topics.finetune import (GPTClassifier, bag_of_words_accuracy, check_labels, confusion_matrix, count_trainable,
                             encode_instruction, encode_passages, exact_match, freeze_layers, instruction_batch,
                             pool_last_token, predict, respond, train_classifier, train_instructions)
from gptlab.nn.lora import LoRALinear, add_lora, lora_parameter_count, merge_lora
from gptlab.nn.model import GPT, GPTConfig
from gptlab.tokenizers.bpe import BPETokenizer


@pytest.fixture(scope="module")
def tokenizer():
    text = " ".join(p.text for p in genre_passages("validation")[:60])
    return BPETokenizer().train(text, vocab_size=300)


FT = dict(vocab_size=300, block_size=64, n_layer=2, n_head=2, n_embd=16)  # this module's models (tests/conftest.py)


# --- data ------------------------------------------------------------------------------------------


def test_genre_split_is_by_play_and_uses_the_held_out_plays():
    titles = {split: {p.title for p in genre_passages(split)} for split in ("train", "validation", "test")}
    assert titles["validation"] == set(FINETUNE_SPLITS["validation"])
    assert titles["test"] == set(FINETUNE_SPLITS["test"])
    assert not titles["train"] & (titles["validation"] | titles["test"])
    assert len(split_titles("train")) == 29


def test_genre_sets_are_balanced_seeded_and_labelled_consistently():
    for split, size in (("train", 1200), ("validation", 180), ("test", 300)):
        passages = genre_passages(split)
        assert len(passages) == size
        assert [sum(p.label == i for p in passages) for i in range(3)] == [size // 3] * 3
        assert all(CLASSES[p.label] == p.genre and p.text.strip() for p in passages)
    assert genre_passages("test") == genre_passages("test", seed=0)
    assert genre_passages("test") != genre_passages("test", seed=1)


def test_word_order_pairs_hold_the_same_words_in_the_same_lines_so_a_bag_of_words_scores_exactly_half():
    import random

    text = "ROMEO:\nBut soft, what light through yonder\nwindow breaks?"
    shuffled = shuffle_words(text, random.Random(0))
    bare = lambda t: sorted(re.findall(r"\w+", t.lower()))
    assert bare(shuffled) == bare(text) and shuffled != text
    assert [len(line.split()) for line in shuffled.split("\n")] == [1, 6, 2]
    lines = shuffled.split("\n")
    assert lines[0].endswith(":") and lines[0][:-1].isupper()          # a speaker's name stays a speaker's name
    assert lines[1].split()[0][0].isupper() and lines[1].split()[1].endswith(",") and lines[2].endswith("?")
    for split in ("validation", "test"):
        pairs = word_order_passages(split)
        genre = genre_passages(split)
        assert len(pairs) == 2 * len(genre) and [sum(p.label == i for p in pairs) for i in (0, 1)] == [len(genre)] * 2
        real = {p.text for p in pairs if ORDER_CLASSES[p.label] == "real"}
        assert real == {p.text for p in genre}
        fake = [p for p in pairs if p.label == 0]
        assert all(bare(p.text) in [bare(g.text) for g in genre if g.title == p.title] for p in fake[:20])
    test = word_order_passages("test")
    acc, _ = bag_of_words_accuracy([p.text for p in word_order_passages("train")], [p.label for p in word_order_passages("train")],
                                   [p.text for p in test], [p.label for p in test])
    assert acc == 0.5                                   # by construction: each pair looks the same to it
    assert word_order_passages("test") == test and word_order_passages("test", seed=1) != test


def test_instruction_set_size_tasks_and_answers():
    train = instruction_examples("train")
    assert len(train) == 4000 and {e.task for e in train} == set(TASKS)
    assert len(instruction_examples("test")) == 500
    for e in train[:200]:
        words = e.input.split()
        if e.task == "uppercase":
            assert e.response == e.input.upper()
        elif e.task == "reverse":
            assert e.response.split() == words[::-1]
        elif e.task == "last_word":
            assert e.response == words[-1]
        elif e.task == "speaker":
            assert e.input.startswith(e.response + ":")
        assert e.prompt == format_prompt(e.instruction, e.input) and e.prompt.endswith("Response:")
    assert instruction_examples("train") == train


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        genre_passages("dev")
    with pytest.raises(ValueError, match="unknown split"):
        instruction_examples("dev")


# --- classification ----------------------------------------------------------------------------------


def test_last_token_pooling_under_right_padding():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).view(2, 4, 1)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    assert pool_last_token(hidden, mask).flatten().tolist() == [3.0, 5.0]


def test_padding_does_not_change_a_passage_score(make_gpt, tokenizer):
    clf = GPTClassifier(make_gpt(FT, eval=True), 3).eval()
    idx, mask = encode_passages(tokenizer, ["to be or not to be, that is the question", "fair is foul"], 64, pad_id=0)
    alone, _ = encode_passages(tokenizer, ["fair is foul"], 64, pad_id=0)
    with torch.no_grad():
        together = clf(idx, mask)[1]
        single = clf(alone, torch.ones_like(alone))[0]
    torch.testing.assert_close(together, single, atol=1e-5, rtol=1e-5)


def test_classifier_trains_and_freezing_limits_trainable_parameters(make_gpt, tokenizer):
    clf = GPTClassifier(make_gpt(FT, eval=True), 3)
    everything = freeze_layers(clf, None)
    head_only = freeze_layers(clf, 0)
    assert head_only == 16 * 3 + 3 + 2 * 16  # head + ln_f
    assert everything > freeze_layers(clf, 1) > head_only
    texts = ["the king is dead", "a merry jest", "the crown of england"] * 4
    idx, mask = encode_passages(tokenizer, texts, 64, pad_id=0)
    labels = torch.tensor([2, 0, 1] * 4)
    freeze_layers(clf, None)
    log = train_classifier(clf, idx, mask, labels, steps=30, batch_size=6, lr=3e-3)
    assert log.losses[-1] < log.losses[0]
    assert (predict(clf, idx, mask) == labels).float().mean() == 1.0
    assert confusion_matrix(predict(clf, idx, mask), labels, 3).trace() == 12


def test_bag_of_words_baseline_runs():
    acc, predicted = bag_of_words_accuracy(["merry jest", "dead king", "crown war"] * 3, [0, 2, 1] * 3,
                                           ["a merry jest", "war"], [0, 1])
    assert acc == 1.0 and predicted == [0, 1]


# --- instruction batches --------------------------------------------------------------------------------


def test_instruction_batch_masks_prompt_and_padding():
    idx, targets = instruction_batch([([1, 2, 3], [4, 5]), ([6], [7])], pad_id=9)
    assert idx.tolist() == [[1, 2, 3, 4], [6, 9, 9, 9]]
    assert targets.tolist() == [[-100, -100, 4, 5], [7, -100, -100, -100]]


def test_response_only_loss_trains_the_response(make_gpt, tokenizer):
    model = make_gpt(FT, block_size=128, eval=True)
    eot = tokenizer.special_tokens["<|endoftext|>"]
    examples = instruction_examples("train")[:16]
    pairs = [encode_instruction(tokenizer, e.prompt, e.response, 128) for e in examples]
    log = train_instructions(model, pairs, pad_id=eot, steps=40, batch_size=8, lr=3e-3)
    assert log.losses[-1] < log.losses[0] * 0.7
    answers = respond(model, tokenizer, [examples[0].prompt], max_tokens=4)
    assert len(answers) == 1 and isinstance(answers[0], str)
    assert exact_match([e.response for e in examples[:3]], examples[:3])["all"] == 1.0


# --- LoRA -----------------------------------------------------------------------------------------------


def test_lora_starts_as_the_base_layer_and_freezes_it():
    torch.manual_seed(0)
    base = nn.Linear(8, 5)
    layer = LoRALinear(base, r=2, alpha=4)
    x = torch.randn(3, 8)
    torch.testing.assert_close(layer(x), base(x))
    assert {n for n, p in layer.named_parameters() if p.requires_grad} == {"A", "B"}
    assert layer.scaling == 2.0


def test_merging_lora_leaves_outputs_unchanged(make_gpt):
    model = make_gpt(FT, eval=True)
    names = add_lora(model, r=4, alpha=8)
    assert len(names) == 4 and count_trainable(model) == lora_parameter_count(model) == 2 * (4 * (16 + 48) + 4 * (16 + 16))
    torch.manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALinear):
                module.B.normal_()  # as if trained: the adapters now change the output
    idx = torch.randint(0, 300, (2, 12))
    with torch.no_grad():
        before = model(idx)[0]
    assert merge_lora(model) == 4
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    with torch.no_grad():
        after = model(idx)[0]
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    assert not torch.allclose(after, make_gpt(FT, eval=True)(idx)[0], atol=1e-3)  # and they are not the base model's


def test_lora_rejects_bad_ranks():
    with pytest.raises(ValueError, match="rank r must be a positive int"):
        LoRALinear(nn.Linear(4, 4), r=0, alpha=1)
    with pytest.raises(ValueError, match="larger than the layer"):
        LoRALinear(nn.Linear(4, 4), r=5, alpha=1)
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        LoRALinear(nn.Conv1d(4, 4, 1), r=1, alpha=1)


# --- bad input --------------------------------------------------------------------------------------------


def test_labels_outside_the_class_range_are_rejected(make_gpt):
    with pytest.raises(ValueError, match=r"label 2 is 3, outside the class range 0..2"):
        check_labels([0, 1, 3], 3)
    with pytest.raises(ValueError, match="outside the class range"):
        check_labels(torch.tensor([-1]), 3)
    with pytest.raises(TypeError, match="labels must be ints"):
        check_labels([0.5], 3)
    clf = GPTClassifier(make_gpt(FT, eval=True), 3)
    idx = torch.ones(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="outside the class range"):
        train_classifier(clf, idx, torch.ones_like(idx), torch.tensor([0, 5]), steps=1)


def test_empty_examples_are_rejected(tokenizer):
    with pytest.raises(ValueError, match="text 1 is empty"):
        encode_passages(tokenizer, ["fair", ""], 16, pad_id=0)
    with pytest.raises(ValueError, match="the prompt is empty"):
        encode_instruction(tokenizer, "  ", "yes", 64)
    with pytest.raises(ValueError, match="the response is empty"):
        encode_instruction(tokenizer, "Instruction: x", "", 64)
    with pytest.raises(ValueError, match="example 1 has an empty response"):
        instruction_batch([([1], [2]), ([3], [])], pad_id=0)
    with pytest.raises(ValueError, match="has no real token"):
        pool_last_token(torch.zeros(1, 3, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="an example is empty"):
        bag_of_words_accuracy(["a", " "], [0, 1], ["a"], [0])


def test_a_prompt_longer_than_the_block_is_rejected_or_cut_with_a_notice(make_gpt, tokenizer):
    long_prompt = format_prompt("Reverse the order of the words.", "word " * 200)
    with pytest.raises(ValueError, match=r"longer than block_size 64: shorten the input"):
        encode_instruction(tokenizer, long_prompt, "x", 64)
    with pytest.warns(UserWarning, match="cut from the left"):
        respond(make_gpt(FT, eval=True), tokenizer, [long_prompt], max_tokens=2)
    idx, mask = encode_passages(tokenizer, ["word " * 200], 64, pad_id=0)
    assert idx.shape == (1, 64)  # a long passage keeps its last 64 tokens


def test_cluster_bootstrap_is_wider_when_clusters_differ_and_ordinary_with_one_example_each():
    from gptlab.topics.finetune import cluster_bootstrap

    # six "plays" of 100 passages: three where the model is always right, three where it is always wrong
    values = torch.tensor([1.0] * 300 + [0.0] * 300)
    plays = [f"play {i // 100}" for i in range(600)]
    mean, se = cluster_bootstrap(values, plays, draws=4000)
    assert mean == 0.5 and se == pytest.approx(0.5 / 6 ** 0.5, rel=0.1)   # the spread of 6 draws of 0 or 1
    # the same answers, each passage its own cluster: the ordinary binomial standard error, sqrt(p(1-p)/n)
    _, independent = cluster_bootstrap(values, list(range(600)), draws=4000)
    assert independent == pytest.approx((0.25 / 600) ** 0.5, rel=0.1) and independent < se / 5
    # a paired difference: the same clusters, one value per example
    mean_gap, _ = cluster_bootstrap(torch.tensor([1.0, 0.0, 1.0, 1.0]), ["a", "a", "b", "b"])
    assert mean_gap == 0.75
    with pytest.raises(ValueError, match="one label per value"):
        cluster_bootstrap([1.0, 0.0], ["a"])
    with pytest.raises(ValueError, match="at least 2 clusters"):
        cluster_bootstrap([1.0, 0.0], ["a", "a"])


def test_passage_losses_ignore_padding_and_the_lm_score_classifier_trains_every_layer(tokenizer):
    import torch.nn.functional as F

    from gptlab.topics.finetune import LMScoreClassifier, passage_losses

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(**FT, dropout=0.0)).eval()
    short, long = "to be or not", "to be or not to be, that is the question"
    pad = tokenizer.special_tokens.get("<|endoftext|>", 0)
    idx, mask = encode_passages(tokenizer, [short, long], max_tokens=32, pad_id=pad)
    with torch.no_grad():
        losses = passage_losses(gpt, idx, mask)
    alone = torch.tensor([tokenizer.encode(short)])
    expected = F.cross_entropy(gpt(alone)[0][0, :-1], alone[0, 1:])
    assert losses.shape == (2,) and torch.allclose(losses[0], expected, atol=1e-5)   # the padding after it is not scored
    with pytest.raises(ValueError, match="fewer than 2 real tokens"):
        passage_losses(gpt, idx[:, :2], torch.tensor([[1, 0], [1, 1]]))

    classifier = LMScoreClassifier(gpt)
    threshold = classifier.calibrate(idx, mask)
    assert threshold == pytest.approx(float(losses.mean()), abs=1e-5)
    with torch.no_grad():
        logits = classifier(idx, mask)
    score = classifier.scale.detach().item() * (threshold - losses)
    assert logits.shape == (2, 2) and torch.allclose(logits[:, 1] - logits[:, 0], score, atol=1e-5)
    assert predict(classifier, idx, mask).tolist() == [int(s > 0) for s in score.tolist()]
    before = gpt.transformer.h[0].attn.c_attn.weight.detach().clone()
    train_classifier(classifier, idx, mask, torch.tensor([1, 0]), steps=3, batch_size=2, lr=1e-2, progress=False)
    assert not torch.equal(before, gpt.transformer.h[0].attn.c_attn.weight)   # the loss reaches the body's weights


def test_wilson_interval_matches_the_textbook_values_and_stays_inside_0_1():
    from gptlab.topics.finetune import wilson_interval

    low, high = wilson_interval(50, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)  # p = 0.5, n = 100
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.16 < high < 0.17                     # 0 hits: not the empty interval [0, 0]
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.83 < low < 0.84
    with pytest.raises(ValueError, match="hits"):
        wilson_interval(21, 20)
    with pytest.raises(ValueError, match="n must"):
        wilson_interval(0, 0)
