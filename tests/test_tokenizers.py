"""Tests for gptlab.tokenizers: round trips, the taught helpers, errors, GPT-2 files, Hugging Face parity."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlab.data import MULTILINGUAL, TRICKY_STRINGS, load_text
from gptlab.tokenizers import (
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    ByteTokenizer,
    CharTokenizer,
    bytes_to_text,
    bytes_to_unicode,
    count_pairs,
    encode_with_merges,
    get_tokenizer,
    merge,
    most_frequent_pair,
    split_text,
    text_to_bytes,
    train_bpe,
    train_merges,
)

TRAINING_TEXT = load_text("english")[:60_000] + "\n" + load_text("chinese") + "\n" + MULTILINGUAL
# Everything the Hugging Face cross-checks encode: every script, emoji with ZWJ, runs of
# spaces and newlines, code, digits, and the special token between two documents.
VARIED_TEXT = "\n".join(TRICKY_STRINGS) + "  \n\n\n   x\t\t y" + ENDOFTEXT + "Next document: 42 ok" + "    "


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer().train(TRAINING_TEXT, vocab_size=600)


@pytest.fixture(scope="module")
def all_tokenizers(bpe):
    return {
        "char": CharTokenizer("".join(TRICKY_STRINGS)),
        "byte": ByteTokenizer(),
        "bpe": bpe,
    }


# ----- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["char", "byte", "bpe"])
@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=[repr(s)[:20] for s in TRICKY_STRINGS])
def test_round_trip(all_tokenizers, name, text):
    tokenizer = all_tokenizers[name]
    ids = tokenizer.encode(text)
    assert all(0 <= i < tokenizer.vocab_size for i in ids)
    assert tokenizer.decode(ids) == text


def test_vocab_sizes(all_tokenizers):
    assert all_tokenizers["byte"].vocab_size == 256
    assert all_tokenizers["bpe"].vocab_size == 600
    assert all_tokenizers["bpe"].special_tokens == {ENDOFTEXT: 599}
    assert all_tokenizers["char"].vocab_size == len(set("".join(TRICKY_STRINGS)))


def test_bpe_compresses_better_than_bytes(bpe):
    text = load_text("english")[100_000:110_000]
    assert len(bpe.encode(text)) < 0.6 * len(ByteTokenizer().encode(text))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_byte_tokenizer_round_trips_any_string(text):
    assert ByteTokenizer().decode(ByteTokenizer().encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_string(bpe, text):
    assert bpe.decode(bpe.encode(text, disallowed_special=())) == text


# ----- the helpers the lesson teaches -----------------------------------------------------------------


def test_bytes_helpers():
    assert text_to_bytes("hé") == [104, 195, 169]
    assert bytes_to_text([104, 195, 169]) == "hé"
    assert bytes_to_text([104, 195]) == "h\ufffd"  # a cut-off character is replaced, not an error


def test_count_pairs_and_merge_on_worked_example():
    ids = text_to_bytes("aaabdaaabac")
    counts = count_pairs(ids)
    assert counts[(97, 97)] == 4
    assert counts[(97, 98)] == 2
    assert most_frequent_pair(counts) == (97, 97)
    assert merge(ids, (97, 97), 256) == [256, 97, 98, 100, 256, 97, 98, 97, 99]
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([5, 5, 5], (5, 5), 6) == [6, 5]  # non-overlapping, left to right
    assert count_pairs([[1, 2], [3, 1, 2]]) == {(1, 2): 2, (3, 1): 1}  # no pair across chunks


def test_train_bpe_on_worked_example():
    # Wikipedia's example: aa -> Z, ab -> Y, ZY -> X, leaving "XdXac".
    merges = train_bpe("aaabdaaabac", 3)
    assert merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert encode_with_merges(text_to_bytes("aaabdaaabac"), merges) == [258, 100, 258, 97, 99]
    assert train_bpe("ab", 10) == {(97, 98): 256}  # stops when nothing is left to merge


def _encode_in_appearance_order(ids, merges):
    """The classic bug: merge whichever mergeable pair comes first in the text."""
    while True:
        pair = next((p for p in zip(ids, ids[1:]) if p in merges), None)
        if pair is None:
            return ids
        ids = merge(ids, pair, merges[pair])


def test_encode_with_merges_uses_rank_order_not_appearance_order():
    merges = {(2, 3): 256, (1, 2): 257}
    assert encode_with_merges([1, 2, 3], merges) == [1, 256]
    assert _encode_in_appearance_order([1, 2, 3], merges) == [257, 3]


def test_bpe_encode_uses_rank_order():
    text = "a" * 50 + " bc" * 30 + " ab" * 5
    tokenizer = BPETokenizer(special_tokens=()).train(text, 256 + 4)
    ranked = {(a, b): merged for a, b, merged in tokenizer.merges}
    for word in [" abc", "abc", " aab"]:
        ids = text_to_bytes(word)
        assert tokenizer.encode(word) == encode_with_merges(ids, ranked)


@pytest.mark.parametrize(
    "text",
    ["aaabdaaabac", MULTILINGUAL, load_text("chinese")[:1500], load_text("english")[:20_000]],
    ids=["worked-example", "multilingual", "chinese", "english"],
)
def test_fast_trainer_matches_reference(text):
    num_merges = 40
    reference = train_bpe(text, num_merges, pattern=GPT2_SPLIT_PATTERN)
    word_counts = Counter(chunk.encode("utf-8") for chunk in split_text(text))
    assert {pair: 256 + i for i, pair in enumerate(train_merges(word_counts, num_merges))} == reference
    tokenizer = BPETokenizer(special_tokens=()).train(text, 256 + num_merges)
    assert {(a, b): merged for a, b, merged in tokenizer.merges} == reference


def test_training_is_deterministic():
    first = BPETokenizer().train(TRAINING_TEXT, 400)
    second = BPETokenizer().train(TRAINING_TEXT, 400)
    assert first.merges == second.merges


# ----- CharTokenizer -------------------------------------------------------------------------------


def test_char_tokenizer_vocabulary_and_unknown_character():
    tokenizer = CharTokenizer.from_text("hello")
    assert tokenizer.chars == ["e", "h", "l", "o"]
    assert tokenizer.encode("hole") == [1, 3, 2, 0]
    with pytest.raises(ValueError, match=r"character 'é' \(U\+00E9\) at position 3 is not in the vocabulary"):
        tokenizer.encode("holé")


def test_char_tokenizer_unk_option():
    tokenizer = CharTokenizer("hello", unk="<unk>")
    assert tokenizer.vocab_size == 5
    assert tokenizer.encode("hoé") == [1, 3, 4]
    assert tokenizer.decode([1, 3, 4]) == "ho<unk>"
    with pytest.raises(ValueError, match="already a character"):
        CharTokenizer("hello", unk="h")


def test_get_tokenizer(tmp_path, bpe):
    assert isinstance(get_tokenizer("byte"), ByteTokenizer)
    assert get_tokenizer("char", text="hello").vocab_size == 4
    bpe.save(tmp_path)
    assert get_tokenizer("bpe", path=tmp_path).encode("hello world") == bpe.encode("hello world")
    with pytest.raises(ValueError, match="unknown tokenizer 'wordpiece'; known: char, byte, bpe"):
        get_tokenizer("wordpiece")


# ----- errors -------------------------------------------------------------------------------------


def test_training_errors():
    with pytest.raises(ValueError, match="cannot train on an empty text"):
        BPETokenizer().train("", 300)
    with pytest.raises(ValueError, match="empty text"):
        BPETokenizer().train(ENDOFTEXT * 3, 300)
    with pytest.raises(ValueError, match=r"vocab_size must be an int >= 257 \(256 byte tokens \+ 1 special tokens\), got 256"):
        BPETokenizer().train("hello", 256)
    with pytest.raises(ValueError, match="cannot train on an empty text"):
        train_bpe("", 3)
    with pytest.raises(ValueError, match="cannot build a character vocabulary from an empty text"):
        CharTokenizer("")
    with pytest.raises(TypeError, match="expected text as a str, got bytes"):
        BPETokenizer().train(b"hello", 300)


def test_decode_out_of_range(all_tokenizers):
    with pytest.raises(ValueError, match=r"token id 600 at position 1 is out of range: valid ids are 0\.\.599"):
        all_tokenizers["bpe"].decode([5, 600])
    with pytest.raises(ValueError, match=r"token id 256 at position 0 is out of range: valid ids are 0\.\.255"):
        all_tokenizers["byte"].decode([256])
    with pytest.raises(ValueError, match=r"token id -1 at position 0 is out of range"):
        all_tokenizers["char"].decode([-1])
    with pytest.raises(TypeError, match="token id at position 0 must be an int, got str"):
        all_tokenizers["bpe"].decode(["a"])


def test_special_token_in_text_raises_unless_allowed(bpe):
    text = "end" + ENDOFTEXT + "start"
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>' at position 3; pass allowed_special"):
        bpe.encode(text)
    special_id = bpe.special_tokens[ENDOFTEXT]
    ids = bpe.encode(text, allowed_special="all")
    assert ids == bpe.encode("end") + [special_id] + bpe.encode("start")
    assert bpe.encode(text, allowed_special={ENDOFTEXT}) == ids
    as_plain_text = bpe.encode(text, disallowed_special=())
    assert special_id not in as_plain_text
    assert as_plain_text == bpe.encode_ordinary(text)
    assert bpe.decode(as_plain_text) == bpe.decode(ids) == text
    with pytest.raises(ValueError, match="not special tokens of this tokenizer"):
        bpe.encode(text, allowed_special={"<|im_start|>"})


# ----- GPT-2 files -------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path, bpe):
    vocab_path, merges_path = bpe.save(tmp_path)
    assert merges_path.read_text(encoding="utf-8").startswith("#version: 0.2\n")
    vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
    assert vocab["Ġ"] == 32 and vocab[ENDOFTEXT] == 599 and len(vocab) == 600
    loaded = BPETokenizer.load(tmp_path)
    assert loaded.vocab_size == bpe.vocab_size
    assert loaded.special_tokens == bpe.special_tokens
    assert loaded.merges == bpe.merges
    assert loaded.encode(VARIED_TEXT, allowed_special="all") == bpe.encode(VARIED_TEXT, allowed_special="all")


def test_load_missing_file(tmp_path, bpe):
    bpe.save(tmp_path)
    (tmp_path / "merges.txt").unlink()
    with pytest.raises(FileNotFoundError, match="merges.txt not found"):
        BPETokenizer.load(tmp_path)


def test_load_rejects_truncated_merges(tmp_path, bpe):
    _, merges_path = bpe.save(tmp_path)
    lines = merges_path.read_text(encoding="utf-8").splitlines()
    # Cut in the middle of the last line: one token left on it.
    merges_path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1].split(" ")[0], encoding="utf-8")
    with pytest.raises(ValueError, match=rf"merges\.txt:{len(lines)}: expected two tokens separated by one space"):
        BPETokenizer.load(tmp_path)
    # Cut at a line break: vocab.json then has tokens no merge builds.
    merges_path.write_text("\n".join(lines[:-10]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"neither a byte, nor built by a merge .* merges\.txt may be truncated"):
        BPETokenizer.load(tmp_path)


def test_load_rejects_files_not_in_gpt2_format(tmp_path, bpe):
    _, merges_path = bpe.save(tmp_path)
    lines = merges_path.read_text(encoding="utf-8").splitlines()
    merges_path.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges\.txt:1: expected a '#version: 0\.2' line first"):
        BPETokenizer.load(tmp_path)
    merges_path.write_text("#version: 0.2\nĠt h e\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges\.txt:2: expected two tokens separated by one space, got 'Ġt h e'"):
        BPETokenizer.load(tmp_path)
    merges_path.write_text("#version: 0.2\nzz q\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges\.txt:2: token 'zz' of merge 'zz q' is not in vocab\.json"):
        BPETokenizer.load(tmp_path)
    (tmp_path / "vocab.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab\.json:1: not valid JSON"):
        BPETokenizer.load(tmp_path)


# ----- Hugging Face cross-checks -------------------------------------------------------------------


def _hf_tokenizer_from_files(directory):
    """A ``tokenizers`` ByteLevel BPE built from GPT-2 files, configured like GPT-2."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tokenizer = Tokenizer(models.BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt")))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(ENDOFTEXT, special=True)])
    return tokenizer


def _hf_gpt2_fast(directory):
    from transformers import GPT2TokenizerFast

    return GPT2TokenizerFast.from_pretrained(str(directory))  # a local folder: nothing is downloaded


def test_huggingface_reads_gptlab_files(tmp_path, bpe):
    bpe.save(tmp_path)
    ours = bpe.encode(VARIED_TEXT, allowed_special="all")
    assert bpe.special_tokens[ENDOFTEXT] in ours
    assert _hf_tokenizer_from_files(tmp_path).encode(VARIED_TEXT).ids == ours
    gpt2_fast = _hf_gpt2_fast(tmp_path)
    assert gpt2_fast.encode(VARIED_TEXT) == ours
    assert gpt2_fast.decode(ours) == VARIED_TEXT


def test_gptlab_reads_gpt2_style_files_with_gpt2_byte_order(tmp_path):
    # Number the byte tokens the way GPT-2's vocab.json does (bytes_to_unicode order: "!" is 0,
    # "Ġ" (space) is 220), not 0..255 by byte value; then add merges and <|endoftext|> last.
    byte_chars = list(bytes_to_unicode().values())
    vocab = {char: i for i, char in enumerate(byte_chars)}
    assert vocab["!"] == 0 and vocab["Ġ"] == 220
    merges = train_bpe(TRAINING_TEXT, 200, pattern=GPT2_SPLIT_PATTERN)
    token_text = {byte: bytes_to_unicode()[byte] for byte in range(256)}
    merge_lines = []
    for (left, right), new_id in merges.items():
        token_text[new_id] = token_text[left] + token_text[right]
        vocab[token_text[new_id]] = len(vocab)
        merge_lines.append(f"{token_text[left]} {token_text[right]}")
    vocab[ENDOFTEXT] = len(vocab)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merge_lines) + "\n", encoding="utf-8")

    ours = BPETokenizer.load(tmp_path)
    assert ours.special_tokens == {ENDOFTEXT: 456}
    ids = ours.encode(VARIED_TEXT, allowed_special="all")
    assert ours.encode("!")[0] == 0 and ours.encode(" ")[0] == 220
    assert _hf_tokenizer_from_files(tmp_path).encode(VARIED_TEXT).ids == ids
    assert _hf_gpt2_fast(tmp_path).encode(VARIED_TEXT) == ids
    assert ours.decode(ids) == VARIED_TEXT


def test_gptlab_reads_files_trained_and_saved_by_huggingface(tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    hf.train_from_iterator([TRAINING_TEXT], trainer)
    hf.model.save(str(tmp_path))  # HF numbers tokens its own way: <|endoftext|> is 0
    ours = BPETokenizer.load(tmp_path)
    assert ours.special_tokens == {ENDOFTEXT: 0}
    assert ours.encode(VARIED_TEXT, allowed_special="all") == hf.encode(VARIED_TEXT).ids
