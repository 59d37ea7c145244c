"""Byte-pair encoding in its simplest readable form: the reference for the lesson's exercises.

These functions recount every pair of the whole text for each merge, which is
clear but slow; :mod:`gptlab.tokenizers.fast_train` produces the same merges
incrementally.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from .bytes import text_to_bytes

Pair = tuple[int, int]


def count_pairs(ids: Sequence[int] | Sequence[Sequence[int]], counts: dict[Pair, int] | None = None) -> dict[Pair, int]:
    """How often each pair of adjacent ids occurs; for a list of chunks, pairs never cross a chunk border.

    Pass ``counts`` to add to an existing dict.

    Example: ``count_pairs([1, 2, 3, 1, 2]) -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}``;
    ``count_pairs([[1, 2], [3, 1, 2]]) -> {(1, 2): 2, (3, 1): 1}``.

    Taught in: solutions/01_tokens.ipynb
    """
    counts = {} if counts is None else counts
    if ids and not isinstance(ids[0], int):
        for chunk in ids:
            count_pairs(chunk, counts)
        return counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    Occurrences do not overlap: in ``[5, 5, 5]`` only the first two 5s merge.

    Example: ``merge(ids=[1, 2, 3, 1, 2], pair=(1, 2), new_id=4) -> [4, 3, 4]``;
    ``merge([5, 5, 5], (5, 5), 6) -> [6, 5]``.

    Taught in: solutions/01_tokens.ipynb
    """
    first, second = pair
    merged = []
    i = 0
    while i < len(ids):
        if ids[i] == first and i + 1 < len(ids) and ids[i + 1] == second:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def most_frequent_pair(counts: dict[Pair, int]) -> Pair:
    """The pair with the highest count; among equal counts, the smallest pair ``(a, b)``.

    The tie-break makes training deterministic: it does not depend on the order
    in which pairs happen to appear in the text.

    Example: ``most_frequent_pair({(5, 1): 2, (3, 4): 2, (0, 9): 1}) -> (3, 4)``.

    Taught in: solutions/01_tokens.ipynb
    """
    return min(counts, key=lambda pair: (-counts[pair], pair))


def train_bpe(text: str | bytes | Sequence[int], num_merges: int, *, pattern: str | None = None) -> dict[Pair, int]:
    """Learn ``num_merges`` merges ``{(a, b): new_id}``, new ids counting up from 256.

    Each step merges the most frequent adjacent pair (ties: smallest pair). With
    ``pattern`` (a regex such as GPT-2's), the text is first split into chunks
    and pairs never cross chunks. Stops early if no pair is left.

    Example: ``train_bpe("aaabdaaabac", 3) -> {(97, 97): 256, (97, 98): 257, (256, 257): 258}``
    ("aa" -> Z, then "ab" -> Y (it ties with "Za" and is the smaller pair), then "ZY" -> X:
    the text becomes "XdXac").

    Taught in: solutions/01_tokens.ipynb
    """
    if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(f"num_merges must be an int >= 0, got {num_merges!r}")
    if isinstance(text, str):
        pieces = regex.findall(pattern, text) if pattern is not None else [text]
        chunks = [text_to_bytes(piece) for piece in pieces]
    else:
        if pattern is not None:
            raise ValueError("pattern= needs text as a str, because the regex splits characters, not bytes")
        chunks = [list(text)]
    if not any(chunks):
        raise ValueError("cannot train on an empty text")
    merges = {}
    for step in range(num_merges):
        counts = count_pairs(chunks)
        if not counts:
            break  # every chunk is a single token: nothing left to merge
        pair = most_frequent_pair(counts)
        new_id = 256 + step
        chunks = [merge(chunk, pair, new_id) for chunk in chunks]
        merges[pair] = new_id
    return merges


def encode_with_merges(ids: Sequence[int], merges: dict[Pair, int]) -> list[int]:
    """Apply ``merges`` to ``ids`` in the order they were learned (lowest new id first).

    At each step, of all adjacent pairs that have a merge, the one learned
    earliest is merged. Applying merges in the order pairs appear in the text is
    a classic bug: it can produce tokens the model never saw in training.

    Example: with ``merges = {(2, 3): 256, (1, 2): 257}``,
    ``encode_with_merges([1, 2, 3], merges) -> [1, 256]`` (not ``[257, 3]``).

    Taught in: solutions/01_tokens.ipynb
    """
    ids = list(ids)
    while len(ids) >= 2:
        candidates = [pair for pair in zip(ids, ids[1:]) if pair in merges]
        if not candidates:
            break
        pair = min(candidates, key=lambda p: merges[p])
        ids = merge(ids, pair, merges[pair])
    return ids
