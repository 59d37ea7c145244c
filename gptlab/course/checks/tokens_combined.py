"""The combined mistakes of lesson 01's checks (two catalog mistakes at once, so that no single hint matches) and
the properties that still name what is wrong in them: how many bytes, characters or pairs there are, which ids the
merges create, whether a pair that has a merge is left. `tokens` attaches them to its specs; kept apart so that
`tokens` stays readable.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from gptlab.course.messages import say
from gptlab.tokenizers import simple_bpe

# --- text_to_bytes ----------------------------------------------------------------------------------


def byte_count(case, expected, actual) -> str | None:
    """UTF-8 takes 1 byte per ASCII character, 2 per accented letter, 3 per Chinese character, 4 per emoji."""
    kind = "bytes" if isinstance(actual, (bytes, bytearray)) else "list" if isinstance(actual, list) else None
    if kind is None or len(actual) == len(expected):
        return None
    bom = say("tokens.bytes.bom") if list(actual[:2]) == [255, 254] else ""
    of = "" if kind == "list" else say("tokens.bytes.not_list")
    return say("tokens.bytes.count", kind=say(f"tokens.bytes.kind_{kind}"), count=len(actual), bom=bom, of=of,
               want=len(expected))


def utf_16_bytes(text):
    """UTF-16, and a bytes object returned."""
    return text.encode("utf-16")


def utf_16_per_character(text):
    """Each character encoded on its own (like ord), in UTF-16: a byte-order mark before every character."""
    return [b for char in text for b in char.encode("utf-16")]


# --- bytes_to_text ----------------------------------------------------------------------------------


def character_count(case, expected, actual) -> str | None:
    """Bytes decoded apart show as fewer characters (dropped), or more: one per byte (a continuation byte 0x80-0xBF
    read as a character U+0080-U+00BF, or '\ufffd').
    A text that is longer for another reason ('ß'.upper() is 'SS') is not this mistake: the generic diff says it."""
    if not isinstance(actual, str) or len(actual) == len(expected):
        return None
    per_byte = any("\x80" <= char <= "\xbf" or char == "\ufffd" for char in set(actual) - set(expected))
    if len(actual) > len(expected) and not per_byte and actual.count("\ufffd") <= expected.count("\ufffd"):
        return None
    lost = "\ufffd" in expected and "\ufffd" not in actual
    return say("tokens.text.count", count=len(actual), want=len(expected),
               why=say("tokens.text.lost") if lost else say("tokens.text.apart"))


def each_byte_ignored(ids):
    """Each byte decoded on its own, and errors='ignore': every non-ASCII character vanishes."""
    return "".join(bytes([value]).decode("utf-8", errors="ignore") for value in ids)


def ascii_only_chr(ids):
    """chr() per byte, keeping the ASCII ones only."""
    return "".join(chr(value) for value in ids if value < 128)


# --- count_pairs ------------------------------------------------------------------------------------


def pair_total(case, expected, actual) -> str | None:
    """A list of n ids has n - 1 neighbouring pairs, overlapping ones included: the counts add up to n - 1."""
    ids = case.args[0]
    if not isinstance(actual, dict):
        return None
    if any(not (isinstance(key, tuple) and len(key) == 2) for key in actual):
        return say("tokens.pairs.keys")
    total = sum(actual.values())
    if total != max(len(ids) - 1, 0):
        pairs = max(len(ids) - 1, 0)
        return say("tokens.pairs.total_one" if pairs == 1 else "tokens.pairs.total", total=total, count=len(ids),
                   pairs=pairs)
    return None


def wrap_around_disjoint(ids):
    counts = {}
    wrapped = list(ids) + list(ids[:1])
    for i in range(0, len(ids) - 1 + (len(ids) > 1), 2):
        counts[wrapped[i], wrapped[i + 1]] = counts.get((wrapped[i], wrapped[i + 1]), 0) + 1
    return counts


def distinct_without_last(ids):
    return {(ids[i], ids[i + 1]): 1 for i in range(len(ids) - 2)}


# --- merge ------------------------------------------------------------------------------------------


def merged_length(case, expected, actual) -> str | None:
    ids, pair, new_id = case.args
    if not isinstance(actual, list):
        return None
    replaced = expected.count(new_id) - list(ids).count(new_id)
    mine = actual.count(new_id) - list(ids).count(new_id)
    if mine != replaced:
        return say("tokens.merge.replaced", mine=mine, pair=pair, want=replaced)
    if len(actual) != len(ids) - replaced:
        return say("tokens.merge.length", count=len(actual), replaced=replaced, total=len(ids), want=len(ids) - replaced)
    return None


def no_skip_loses_last(ids, pair, new_id):
    merged = []
    for i in range(len(ids) - 1):
        merged.append(new_id if (ids[i], ids[i + 1]) == pair else ids[i])
    return merged


def overlapping_loses_last(ids, pair, new_id):
    merged = []
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
        elif not (i > 0 and (ids[i - 1], ids[i]) == pair):
            merged.append(ids[i])
    return merged


# --- train_bpe --------------------------------------------------------------------------------------


def new_ids(case, expected, actual) -> str | None:
    """Merge number k creates id 256 + k: one entry per merge, ids 256, 257, … without a gap."""
    if not isinstance(actual, dict):
        return None
    want, mine = sorted(expected.values()), sorted(actual.values())
    if mine != want:
        shown = ", ".join(map(str, mine[:6])) + (", …" if len(mine) > 6 else "")
        return say("tokens.bpe.ids_one" if len(want) == 1 else "tokens.bpe.ids", shown=shown, count=len(want),
                   last=255 + len(want))
    return None


def _train(text, num_merges, *, pick, first_id=256, keep=True):
    ids, merges = list(text.encode("utf-8")), {}
    for step in range(num_merges):
        counts = simple_bpe.count_pairs(ids)
        if not counts:
            break
        pair = pick(counts)
        merged = simple_bpe.merge(ids, pair, first_id + step)
        ids = merged if keep else ids
        merges[pair] = first_id + step
    return merges


def ids_from_zero_ties_largest(text, num_merges):
    return _train(text, num_merges, pick=lambda counts: max(counts, key=lambda p: (counts[p], p)), first_id=0)


def same_pair_ties_first_seen(text, num_merges):
    return _train(text, num_merges, pick=lambda counts: max(counts, key=counts.get), keep=False)


# --- encode_with_merges -----------------------------------------------------------------------------


def merge_left(case, expected, actual) -> str | None:
    merges = case.args[1]
    if not isinstance(actual, list):
        return None
    left = next((pair for pair in zip(actual, actual[1:]) if pair in merges), None)
    if left is not None:
        return say("tokens.encode.left", pair=left, id=merges[left])
    return say("tokens.encode.order")


def dict_order_once(ids, merges):
    pair, new_id = next(iter(merges.items()), (None, None))
    return simple_bpe.merge(list(ids), pair, new_id) if pair else list(ids)


def highest_rank_once(ids, merges):
    candidates = [p for p in zip(ids, ids[1:]) if p in merges]
    return simple_bpe.merge(list(ids), max(candidates, key=merges.get), merges[max(candidates, key=merges.get)]) \
        if candidates else list(ids)
