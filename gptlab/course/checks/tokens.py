"""Checks for lesson 01 (tokens): UTF-8 bytes and back, then byte-pair encoding step by step.

Six exercises, each built like `gptlab.course.checks.basics`: seeded cases with the edge cases that trip
tokenizers up (empty input, one element, Chinese and emoji text, runs like "aaa"), the reference from
`gptlab.tokenizers`, a catalog of mistakes learners really make, correct variants, progressive hints.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import codecs
import random
from collections import Counter

from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.tokenizers import simple_bpe
from gptlab.tokenizers.bytes import bytes_to_text, text_to_bytes

# Pools the seeded cases draw from: each script costs a different number of UTF-8 bytes per character.
ENGLISH_WORDS = ("the", "cat", "sat", "on", "mat", "banana", "token", "tokens", "hello", "world", "low", "lower",
                 "newest", "widest", "and", "to", "be", "or", "not", "that", "is", "question")
ACCENTED = "éèçñüöåÅß½"  # 2 bytes each in UTF-8
CHINESE = "你好世界字节词元汉字中文模型学习分词器把文切成"  # 3 bytes each
EMOJI = ("\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F680", "\U0001F389",  # 4 bytes each (+ skin tone)
         "\U0001F468\u200D\U0001F469\u200D\U0001F467")  # a family: three emoji joined by zero-width joiners


def _english(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(ENGLISH_WORDS) for _ in range(words))


def _chinese(rng: random.Random, chars: int) -> str:
    return "".join(rng.choice(CHINESE) for _ in range(chars))


def _emoji(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(EMOJI) for _ in range(count))


def _accented(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(ENGLISH_WORDS)[:3] + rng.choice(ACCENTED) for _ in range(words))


# === 1. text_to_bytes ===========================================================================


def _text_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [
        Case("the empty text ''", ("",)),
        Case("one ASCII character", (rng.choice("abcdefghijklmnopqrstuvwxyz"),)),
        Case("an English sentence", (_english(rng, 6) + ".",)),
        Case("accented letters (2 bytes each)", (_accented(rng, 3),)),
        Case("one Chinese character", (rng.choice(CHINESE),)),
        Case("Chinese text (3 bytes per character)", (_chinese(rng, 5) + "。",)),
        Case("emoji (4 bytes each, one family joined by zero-width joiners)", (_emoji(rng, 3) + " " + EMOJI[-1],)),
        Case("all four scripts mixed", (f"{_english(rng, 2)} {_accented(rng, 1)} {_chinese(rng, 2)} {_emoji(rng, 1)}",)),
    ]


def _ord_per_character(text):
    return [ord(char) for char in text]


def _latin_1(text):
    return list(text.encode("latin-1"))


def _utf_16(text):
    return list(text.encode("utf-16"))


def _bytes_object(text):
    return text.encode("utf-8")


TEXT_TO_BYTES_MISTAKES = [
    Mistake("ord-per-character", _ord_per_character,
            "ord(char) gives one code point per character (e.g. 20013 for '中'), not bytes: it is right for ASCII only. "
            "Encode the whole text to UTF-8 instead: text.encode('utf-8')"),
    Mistake("latin-1", _latin_1,
            "Latin-1 has one byte per character and cannot encode Chinese or emoji (UnicodeEncodeError); "
            "use UTF-8: text.encode('utf-8')"),
    Mistake("utf-16", _utf_16,
            "you encoded with UTF-16: 2 or 4 bytes per character plus a byte-order mark (255, 254) at the start; "
            "use UTF-8: text.encode('utf-8')"),
    Mistake("bytes-object", _bytes_object,
            "you returned a bytes object; the exercise asks for a list of ints: wrap it in list(...)"),
]


def _text_to_bytes_default_codec(text):
    return list(text.encode())


def _text_to_bytes_bytearray(text):
    return list(bytearray(text, "utf-8"))


def _text_to_bytes_per_character(text):
    return [byte for char in text for byte in char.encode("utf-8")]


check_text_to_bytes = make_check(CheckSpec(
    exercise="text_to_bytes",
    reference=text_to_bytes,
    make_cases=_text_cases,
    mistakes=TEXT_TO_BYTES_MISTAKES,
    variants=[_text_to_bytes_default_codec, _text_to_bytes_bytearray, _text_to_bytes_per_character],
    hints=[
        "A str is a sequence of characters; its .encode method turns it into bytes in an encoding you name. "
        "Which encoding gives 1 byte for 'a' and 3 for '中'?",
        "Types: text.encode('utf-8') is a bytes object such as b'h\\xc3\\xa9'; iterating over bytes gives ints 0..255. "
        "Return a list of those ints ('' gives []).",
        "Key line: return list(text.encode('utf-8'))",
    ],
))


# === 2. bytes_to_text ===========================================================================


def _byte_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    cut = text_to_bytes(_chinese(rng, 3))[:-1]  # the last character loses its third byte
    stray = text_to_bytes(_english(rng, 1)) + [0x80] + text_to_bytes(_english(rng, 1))
    return [
        Case("no bytes []", ([],)),
        Case("one ASCII byte", (text_to_bytes(rng.choice("abcdefghijklmnopqrstuvwxyz")),)),
        Case("an English sentence", (text_to_bytes(_english(rng, 5)),)),
        Case("accented letters (2 bytes each)", (text_to_bytes(_accented(rng, 3)),)),
        Case("Chinese text (3 bytes per character)", (text_to_bytes(_chinese(rng, 4)),)),
        Case("emoji (4 bytes each)", (text_to_bytes(_emoji(rng, 3)),)),
        Case("a Chinese character cut after 2 of its 3 bytes (not valid UTF-8)", (cut,)),
        Case("a stray continuation byte 0x80 between two words (not valid UTF-8)", (stray,)),
        Case(f"an id that is not a byte ({256 + rng.randrange(100)})", (text_to_bytes("ok") + [256 + rng.randrange(100)],)),
    ]


def _chr_per_byte(ids):
    return "".join(chr(value) for value in ids)


def _decode_latin_1(ids):
    return bytes(ids).decode("latin-1")


def _decode_strict(ids):
    return bytes(ids).decode("utf-8")


def _decode_ignore(ids):
    return bytes(ids).decode("utf-8", errors="ignore")


def _decode_each_byte(ids):
    return "".join(bytes([value]).decode("utf-8", errors="replace") for value in ids)


def _return_bytes(ids):
    return bytes(ids)


BYTES_TO_TEXT_MISTAKES = [
    Mistake("chr-per-byte", _chr_per_byte,
            "chr(byte) makes one character per byte, so 'é' (2 bytes) comes back as 'Ã©' and ids above 255 pass "
            "silently; decode all the bytes together as UTF-8: bytes(ids).decode('utf-8', errors='replace')"),
    Mistake("latin-1", _decode_latin_1,
            "you decoded as Latin-1 (one character per byte), so 'é' (2 UTF-8 bytes) comes back as 'Ã©'; "
            "decode as UTF-8: bytes(ids).decode('utf-8', errors='replace')"),
    Mistake("decodes-each-byte-alone", _decode_each_byte,
            "you decoded each byte on its own, but a character can take 2 to 4 bytes, so every non-ASCII byte "
            "became '\ufffd'; decode all the bytes together: bytes(ids).decode('utf-8', errors='replace')"),
    Mistake("strict-decoding", _decode_strict,
            "invalid UTF-8 (a character cut after 2 of its 3 bytes, a stray 0x80) raised UnicodeDecodeError; "
            "a model can stop in the middle of a character, so decode with errors='replace' to get '\ufffd' instead"),
    Mistake("errors-ignore", _decode_ignore,
            "errors='ignore' silently drops invalid bytes, so a cut character vanishes without a trace; "
            "use errors='replace', which shows it as '\ufffd'"),
    Mistake("returns-bytes", _return_bytes,
            "you returned a bytes object; the exercise asks for a str: call .decode('utf-8', errors='replace') on it"),
]


def _bytearray_decode(ids):
    return bytearray(ids).decode(errors="replace")


def _codecs_decode(ids):
    return codecs.decode(bytes(ids), "utf-8", "replace")


check_bytes_to_text = make_check(CheckSpec(
    exercise="bytes_to_text",
    reference=bytes_to_text,
    make_cases=_byte_cases,
    mistakes=BYTES_TO_TEXT_MISTAKES,
    variants=[_bytearray_decode, _codecs_decode],
    hints=[
        "The way back: turn the list of ints into a bytes object, then decode it with the encoding you used "
        "to encode. What should happen to bytes that are not valid UTF-8?",
        "Types: bytes([104, 195, 169]) is b'h\\xc3\\xa9'; its .decode('utf-8') is 'hé'. bytes(...) already raises "
        "ValueError for a value outside 0..255; decode's errors= argument decides what invalid sequences become.",
        "Key line: return bytes(ids).decode('utf-8', errors='replace')",
    ],
))


# === 3. count_pairs =============================================================================


def _small_ids(rng: random.Random, length: int, alphabet: int) -> list[int]:
    base = rng.randrange(0, 250)
    return [base + rng.randrange(alphabet) for _ in range(length)]


def _pair_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    a, b = rng.sample(range(256), 2)
    return [
        Case("no ids []", ([],)),
        Case("one id", ([a],)),
        Case("two ids", ([a, b],)),
        Case(f"[{a}, {a}, {a}]: the pair ({a}, {a}) occurs twice, overlapping", ([a, a, a],)),
        Case("12 ids over 3 values (pairs repeat)", (_small_ids(rng, 12, 3),)),
        Case("the UTF-8 bytes of Chinese text", (text_to_bytes(_chinese(rng, 4)),)),
        Case("the UTF-8 bytes of emoji", (text_to_bytes(_emoji(rng, 2)),)),
        Case("the bytes of an English sentence", (text_to_bytes(_english(rng, 8)),)),
        Case("40 ids over 2 values", (_small_ids(rng, 40, 2),)),
    ]


def _wrap_around(ids):
    counts = {}
    for pair in zip(ids, ids[1:] + ids[:1]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def _distinct_as_one(ids):
    return {pair: 1 for pair in zip(ids, ids[1:])}


def _drops_last_pair(ids):
    counts = {}
    for i in range(len(ids) - 2):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def _disjoint_pairs(ids):
    counts = {}
    for i in range(0, len(ids) - 1, 2):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def _counts_ids(ids):
    return dict(Counter(ids))


COUNT_PAIRS_MISTAKES = [
    Mistake("wrap-around", _wrap_around,
            "you also counted the pair (last id, first id), wrapping around the end; a text does not wrap: "
            "zip(ids, ids[1:]) stops at the last real pair"),
    Mistake("distinct-pairs-count-1", _distinct_as_one,
            "every count is 1: you recorded which pairs occur, not how often; add 1 each time a pair occurs "
            "(counts[pair] = counts.get(pair, 0) + 1)"),
    Mistake("drops-last-pair", _drops_last_pair,
            "off by one: the last pair is missing (range(len(ids) - 2)?); a list of n ids has n - 1 pairs, "
            "i from 0 to len(ids) - 2 inclusive"),
    Mistake("disjoint-pairs", _disjoint_pairs,
            "you stepped by 2, counting only pairs at even positions; pairs overlap: in [5, 5, 5] the pair (5, 5) "
            "starts at 0 and at 1, so step by 1"),
    Mistake("counts-single-ids", _counts_ids,
            "your keys are single ids: you counted ids, not pairs of neighbours; the keys should be tuples "
            "(ids[i], ids[i + 1])"),
]


def _count_with_counter(ids):
    return Counter(zip(ids, ids[1:]))


def _count_with_indices(ids):
    counts = {}
    for i in range(1, len(ids)):
        key = (ids[i - 1], ids[i])
        if key in counts:
            counts[key] += 1
        else:
            counts[key] = 1
    return counts


check_count_pairs = make_check(CheckSpec(
    exercise="count_pairs",
    reference=simple_bpe.count_pairs,
    make_cases=_pair_cases,
    mistakes=COUNT_PAIRS_MISTAKES,
    variants=[_count_with_counter, _count_with_indices],
    hints=[
        "Walk along the list and look at each id together with the one right after it. How many such "
        "neighbour pairs does a list of n ids have?",
        "Types: the result maps tuples to ints, e.g. [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}. "
        "zip(ids, ids[1:]) yields exactly the n - 1 neighbour pairs.",
        "Key lines: counts = {}; for pair in zip(ids, ids[1:]): counts[pair] = counts.get(pair, 0) + 1",
    ],
))


# === 4. merge ===================================================================================


def _merge_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    a, b, c = rng.sample(range(256), 3)
    new = 256 + rng.randrange(50)
    chinese = text_to_bytes(_chinese(rng, 4))
    random_ids = _small_ids(rng, 30, 3)
    return [
        Case("no ids []", ([], (a, b), new)),
        Case("one id, equal to pair[0]", ([a], (a, b), new)),
        Case("the pair never occurs", ([a, c, b, a, c], (a, b), new)),
        Case("two occurrences", ([a, b, c, a, b], (a, b), new)),
        Case(f"[{a}, {a}, {a}] with the pair ({a}, {a}): occurrences must not overlap", ([a, a, a], (a, a), new)),
        Case(f"a run of four {a}s with the pair ({a}, {a})", ([a, a, a, a], (a, a), new)),
        Case("the pair at the very end", ([c, c, a, b], (a, b), new)),
        Case("the last id equals pair[0] but has no partner", ([a, b, c, a], (a, b), new)),
        Case("30 ids over 3 values", (random_ids, (random_ids[0], random_ids[1]), 256 + rng.randrange(50, 100))),
        Case("Chinese bytes, merging the first two bytes of a character", (chinese, (chinese[0], chinese[1]), new)),
    ]


def _no_skip(ids, pair, new_id):
    merged = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
        else:
            merged.append(ids[i])
    return merged


def _overlapping(ids, pair, new_id):
    merged = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
        elif i > 0 and (ids[i - 1], ids[i]) == pair:
            continue  # looks back at the input, not at what was merged: occurrences overlap
        else:
            merged.append(ids[i])
    return merged


def _first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return list(ids[:i]) + [new_id] + list(ids[i + 2:])
    return list(ids)


def _loses_last(ids, pair, new_id):
    merged, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def _reads_past_end(ids, pair, new_id):
    merged, i = [], 0
    while i < len(ids):
        if ids[i] == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


MERGE_MISTAKES = [
    Mistake("no-skip", _no_skip,
            "after replacing a pair you must skip both of its ids (i += 2); yours keeps the second one, so "
            "[1, 2, 3] with (1, 2) gives [new, 2, 3] instead of [new, 3]"),
    Mistake("overlapping", _overlapping,
            "occurrences must not overlap: scanning left to right, [5, 5, 5] with (5, 5) becomes [new, 5]; yours "
            "uses the middle 5 twice. Decide from your position i, then jump past what you merged (i += 2)"),
    Mistake("first-occurrence-only", _first_only,
            "only the first occurrence was replaced; replace every occurrence, scanning the whole list"),
    Mistake("loses-last-id", _loses_last,
            "the last id goes missing when it is not part of a pair (a loop `while i < len(ids) - 1`?); "
            "loop to the end and test i + 1 < len(ids) before reading ids[i + 1]"),
    Mistake("reads-past-the-end", _reads_past_end,
            "IndexError when the last id equals pair[0]: check i + 1 < len(ids) before reading ids[i + 1]"),
]


def _merge_with_slices(ids, pair, new_id):
    merged, i = [], 0
    while i < len(ids):
        if tuple(ids[i:i + 2]) == tuple(pair):
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def _merge_by_looking_back(ids, pair, new_id):
    merged = []
    for value in ids:
        # Merge with the previous output only if it is an original id (a merged id is never pair[0] here).
        if merged and merged[-1] == pair[0] and value == pair[1] and merged[-1] != new_id:
            merged[-1] = new_id
        else:
            merged.append(value)
    return merged


def _merge_with_iterator(ids, pair, new_id):
    merged = []
    it = iter(ids)
    for value in it:
        if value == pair[0]:
            following = next(it, None)
            if following == pair[1]:
                merged.append(new_id)
                continue
            merged.append(value)
            if following is not None:
                # the partner may itself start a pair: put it back by recursing on the rest
                return merged + _merge_with_iterator([following, *it], pair, new_id)
            continue
        merged.append(value)
    return merged


check_merge = make_check(CheckSpec(
    exercise="merge",
    reference=simple_bpe.merge,
    make_cases=_merge_cases,
    mistakes=MERGE_MISTAKES,
    variants=[_merge_with_slices, _merge_by_looking_back, _merge_with_iterator],
    hints=[
        "Scan from left to right with an index i. If ids[i] and ids[i + 1] are the pair, emit new_id and jump "
        "over both; otherwise emit ids[i] and move on by one.",
        "Edge cases: the list may be empty or end with pair[0] alone, so test i + 1 < len(ids) before reading "
        "ids[i + 1]; [5, 5, 5] with (5, 5) gives [new_id, 5]. Build a new list; do not change ids.",
        "Key lines: while i < len(ids): if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair: "
        "out.append(new_id); i += 2  else: out.append(ids[i]); i += 1",
    ],
))


# === 5. train_bpe ===============================================================================


def _train_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    letters = "abcd"
    repetitive = "".join(rng.choice(letters) for _ in range(40))
    return [
        Case("num_merges = 0", (_english(rng, 3), 0)),
        Case("one character: no pair to merge", (rng.choice("xyz"), 3)),
        Case("two characters, 5 merges asked: only 1 is possible", (rng.choice("xyz") + rng.choice("abc"), 5)),
        Case("'aaabdaaabac', 3 merges (the example above)", ("aaabdaaabac", 3)),
        Case("40 letters over 'abcd', 6 merges (many ties)", (repetitive, 6)),
        Case("English words, 8 merges", (_english(rng, 12), 8)),
        Case("Chinese text, 5 merges", (_chinese(rng, 12), 5)),
        Case("emoji, 4 merges", (_emoji(rng, 5), 4)),
    ]


def _best(counts):
    return min(counts, key=lambda pair: (-counts[pair], pair))


def _same_pair_again(text, num_merges):
    ids = list(text.encode("utf-8"))
    merges = {}
    for step in range(num_merges):
        counts = simple_bpe.count_pairs(ids)
        if not counts:
            break
        pair = _best(counts)
        simple_bpe.merge(ids, pair, 256 + step)  # the merged list is thrown away: the same pair wins again
        merges[pair] = 256 + step
    return merges


def _top_pairs_at_once(text, num_merges):
    ids = list(text.encode("utf-8"))
    counts = simple_bpe.count_pairs(ids)
    ranked = sorted(counts, key=lambda pair: (-counts[pair], pair))[:num_merges]
    return {pair: 256 + step for step, pair in enumerate(ranked)}


def _ids_from_zero(text, num_merges):
    ids = list(text.encode("utf-8"))
    merges = {}
    for step in range(num_merges):
        counts = simple_bpe.count_pairs(ids)
        if not counts:
            break
        pair = _best(counts)
        ids = simple_bpe.merge(ids, pair, step)
        merges[pair] = step
    return merges


def _ties_first_seen(text, num_merges):
    ids = list(text.encode("utf-8"))
    merges = {}
    for step in range(num_merges):
        counts = simple_bpe.count_pairs(ids)
        if not counts:
            break
        pair = max(counts, key=counts.get)  # among equal counts: the pair seen first in the text
        ids = simple_bpe.merge(ids, pair, 256 + step)
        merges[pair] = 256 + step
    return merges


def _ties_largest(text, num_merges):
    ids = list(text.encode("utf-8"))
    merges = {}
    for step in range(num_merges):
        counts = simple_bpe.count_pairs(ids)
        if not counts:
            break
        pair = max(counts, key=lambda p: (counts[p], p))  # among equal counts: the largest pair
        ids = simple_bpe.merge(ids, pair, 256 + step)
        merges[pair] = 256 + step
    return merges


def _no_early_stop(text, num_merges):
    ids = list(text.encode("utf-8"))
    merges = {}
    for step in range(num_merges):
        counts = simple_bpe.count_pairs(ids)
        pair = _best(counts)  # ValueError on an empty dict
        ids = simple_bpe.merge(ids, pair, 256 + step)
        merges[pair] = 256 + step
    return merges


TRAIN_BPE_MISTAKES = [
    Mistake("same-pair-again", _same_pair_again,
            "the same pair is merged again and again: keep the merged list (ids = merge(ids, pair, new_id)) and "
            "recount the pairs of the merged ids at every step"),
    Mistake("top-pairs-at-once", _top_pairs_at_once,
            "you took the most frequent pairs of the raw bytes all at once; BPE merges one pair, then recounts, "
            "so a merged token can pair up again (e.g. (256, 257) in the example above)"),
    Mistake("new-ids-from-0", _ids_from_zero,
            "your new ids start at 0, but ids 0..255 are the bytes; merge number k creates id 256 + k"),
    Mistake("ties-first-seen", _ties_first_seen,
            "ties are broken differently: max(counts, key=counts.get) picks the pair seen first in the text; "
            "the rule is the smallest pair among equal counts: min(counts, key=lambda p: (-counts[p], p))"),
    Mistake("ties-largest-pair", _ties_largest,
            "ties are broken differently: among equal counts you pick the largest pair; the rule is the "
            "smallest: min(counts, key=lambda p: (-counts[p], p))"),
    Mistake("no-early-stop", _no_early_stop,
            "ValueError when no pair is left (e.g. a one-character text): stop early when the counts are empty "
            "(if not counts: break)"),
]


def _train_with_counter(text, num_merges):
    ids = list(text.encode("utf-8"))
    merges = {}
    for new_id in range(256, 256 + num_merges):
        counts = Counter(zip(ids, ids[1:]))
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        ids = simple_bpe.merge(ids, pair, new_id)
        merges[pair] = new_id
    return merges


def _train_with_sort(text, num_merges):
    ids = text_to_bytes(text)
    merges = {}
    while len(merges) < num_merges and len(ids) > 1:
        counts = simple_bpe.count_pairs(ids)
        pair = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
        merges[pair] = 256 + len(merges)
        ids = simple_bpe.merge(ids, pair, merges[pair])
    return merges


check_train_bpe = make_check(CheckSpec(
    exercise="train_bpe",
    reference=simple_bpe.train_bpe,
    make_cases=_train_cases,
    mistakes=TRAIN_BPE_MISTAKES,
    variants=[_train_with_counter, _train_with_sort],
    hints=[
        "Start from the text's UTF-8 bytes. Repeat num_merges times: count the pairs of the current ids, take "
        "the most frequent, merge it into a new id, remember it. Use your count_pairs and merge.",
        "Types: merges maps (a, b) -> new_id with new ids 256, 257, ... in order. Ties: the smallest pair wins. "
        "If the counts are empty (one token left), stop early.",
        "Key lines: counts = count_pairs(ids); pair = min(counts, key=lambda p: (-counts[p], p)); "
        "new_id = 256 + step; ids = merge(ids, pair, new_id); merges[pair] = new_id",
    ],
))


# === 6. encode_with_merges ======================================================================


def _encode_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    a, b, c = rng.sample(range(256), 3)
    english = simple_bpe.train_bpe(_english(rng, 60), 25)
    chinese_text = _chinese(rng, 40)
    chinese = simple_bpe.train_bpe(chinese_text, 12)
    shuffled = list(english.items())
    rng.shuffle(shuffled)
    return [
        Case("no ids []", ([], {(a, b): 256})),
        Case("one id", ([a], {(a, b): 256})),
        Case("no merges at all", ([a, b, c, a, b], {})),
        Case(f"[{a}, {b}, {c}] with merges {{({b}, {c}): 256, ({a}, {b}): 257}}: ({b}, {c}) was learned first",
             ([a, b, c], {(b, c): 256, (a, b): 257})),
        Case(f"[{a}, {b}, {c}] with merges {{({a}, {b}): 256, ({b}, {c}): 257}}: ({a}, {b}) was learned first",
             ([a, b, c], {(a, b): 256, (b, c): 257})),
        Case("a merge that builds on a merged token",
             ([a, a, b, a, a, b, c], {(a, a): 256, (256, b): 257, (b, c): 258})),
        Case("a new English sentence, 25 merges learned from English words",
             (text_to_bytes(_english(rng, 8)), english)),
        Case("the same merges given as a dict in shuffled order (a dict is not sorted by rank)",
             (text_to_bytes(_english(rng, 8)), dict(shuffled))),
        Case("Chinese text, 12 merges learned from Chinese text",
             (text_to_bytes(chinese_text[:6] + _chinese(rng, 6)), chinese)),
        Case("emoji, merges learned from other text (nothing applies)", (text_to_bytes(_emoji(rng, 2)), english)),
    ]


def _text_order(ids, merges):
    ids = list(ids)
    while True:
        pair = next((p for p in zip(ids, ids[1:]) if p in merges), None)  # the first pair in the text
        if pair is None:
            return ids
        ids = simple_bpe.merge(ids, pair, merges[pair])


def _text_order_one_at_a_time(ids, merges):
    ids = list(ids)
    i = 0
    while i < len(ids) - 1:
        pair = (ids[i], ids[i + 1])
        if pair in merges:
            ids[i:i + 2] = [merges[pair]]
            i = 0  # start again from the left
        else:
            i += 1
    return ids


def _text_order_greedy_passes(ids, merges):
    ids = list(ids)
    changed = True
    while changed:
        changed, merged, i = False, [], 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) in merges:
                merged.append(merges[ids[i], ids[i + 1]])
                i += 2
                changed = True
            else:
                merged.append(ids[i])
                i += 1
        ids = merged
    return ids


def _dict_order(ids, merges):
    ids = list(ids)
    for pair, new_id in merges.items():  # trusts the dict to be in rank order
        ids = simple_bpe.merge(ids, pair, new_id)
    return ids


def _highest_first(ids, merges):
    ids = list(ids)
    while len(ids) >= 2:
        candidates = [p for p in zip(ids, ids[1:]) if p in merges]
        if not candidates:
            break
        pair = max(candidates, key=lambda p: merges[p])
        ids = simple_bpe.merge(ids, pair, merges[pair])
    return ids


def _one_step(ids, merges):
    ids = list(ids)
    candidates = [p for p in zip(ids, ids[1:]) if p in merges]
    if candidates:
        pair = min(candidates, key=lambda p: merges[p])
        ids = simple_bpe.merge(ids, pair, merges[pair])
    return ids


ENCODE_MISTAKES = [
    Mistake("text-order", _text_order,
            "you applied the merges in the order their pairs appear in the text; apply them in rank order, as "
            "training did: at each step merge the pair with the lowest new id, "
            "min(candidates, key=lambda p: merges[p]). Text order can build tokens training never made"),
    Mistake("text-order-one-at-a-time", _text_order_one_at_a_time,
            "you merged pairs in the order they appear in the text (the first pair from the left that has a merge); "
            "apply the merges in rank order, as training did: at each step merge the pair with the lowest new id, "
            "min(candidates, key=lambda p: merges[p])"),
    Mistake("text-order-greedy-passes", _text_order_greedy_passes,
            "you merged pairs in the order they appear in the text (passes from left to right, merging whatever has a "
            "merge); apply the merges in rank order, as training did: at each step merge the pair with the lowest "
            "new id, min(candidates, key=lambda p: merges[p])"),
    Mistake("dict-order", _dict_order,
            "you applied the merges in the dict's order; a dict can come in any order, and rank is the new id: "
            "sort by it (sorted(merges.items(), key=lambda item: item[1])) or pick the lowest new id at each step"),
    Mistake("highest-rank-first", _highest_first,
            "you merged the pair with the highest new id first; the merge learned earliest (lowest new id) goes first"),
    Mistake("stops-after-one-merge", _one_step,
            "only one merge was applied; keep merging until no adjacent pair has a merge (a while loop)"),
]


def _encode_sorted_single_pass(ids, merges):
    ids = list(ids)
    for pair, new_id in sorted(merges.items(), key=lambda item: item[1]):
        ids = simple_bpe.merge(ids, pair, new_id)
    return ids


def _encode_with_infinity(ids, merges):
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        ids = simple_bpe.merge(ids, pair, merges[pair])
    return ids


check_encode_with_merges = make_check(CheckSpec(
    exercise="encode_with_merges",
    reference=simple_bpe.encode_with_merges,
    make_cases=_encode_cases,
    mistakes=ENCODE_MISTAKES,
    variants=[_encode_sorted_single_pass, _encode_with_infinity],
    hints=[
        "Replay training: the merge learned first must be applied first. Among the adjacent pairs of ids that "
        "have a merge, which one was learned earliest? Merge it, then look again.",
        "Types: merges maps (a, b) -> new_id, and a lower new id means learned earlier (its rank). Loop until no "
        "adjacent pair is in merges; [] and a single id come back unchanged. Use your merge; do not change ids.",
        "Key lines: candidates = [p for p in zip(ids, ids[1:]) if p in merges]; "
        "pair = min(candidates, key=lambda p: merges[p]); ids = merge(ids, pair, merges[pair])",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------
# (their implementations and properties sit in tokens_combined, to keep this module readable)

from gptlab.course.checks import tokens_combined as _combined  # noqa: E402

check_text_to_bytes.spec.properties += [_combined.byte_count]
check_text_to_bytes.spec.combined += [_combined.utf_16_bytes, _combined.utf_16_per_character]
check_bytes_to_text.spec.properties += [_combined.character_count]
check_bytes_to_text.spec.combined += [_combined.each_byte_ignored, _combined.ascii_only_chr]
check_count_pairs.spec.properties += [_combined.pair_total]
check_count_pairs.spec.combined += [_combined.wrap_around_disjoint, _combined.distinct_without_last]
check_merge.spec.properties += [_combined.merged_length]
check_merge.spec.combined += [_combined.no_skip_loses_last, _combined.overlapping_loses_last]
check_train_bpe.spec.properties += [_combined.new_ids]
check_train_bpe.spec.combined += [_combined.ids_from_zero_ties_largest, _combined.same_pair_ties_first_seen]
check_encode_with_merges.spec.properties += [_combined.merge_left]
check_encode_with_merges.spec.combined += [_combined.dict_order_once, _combined.highest_rank_once]
