"""Fast BPE training: update pair counts incrementally instead of recounting the text.

Three ideas make it fast (the merges are the same as :func:`train_bpe`'s):

1. Count each distinct chunk ("word") once: a 1 MB text has ~250,000 chunks but
   only ~25,000 distinct ones; a pair's count is the sum of its words' counts.
2. Keep an index pair -> words that contain it, so a merge only touches the
   words it changes and adjusts the counts of their pairs.
3. Keep the pairs in a heap keyed by (-count, pair) to find the best one
   without scanning them all. Counts change under the heap; rather than remove
   stale entries we check each popped entry against the true count ("lazy
   deletion") and push again when it was too high.

Tie-breaking: the highest count wins, and among equal counts the smallest pair
``(a, b)`` - exactly the rule of :func:`gptlab.tokenizers.simple_bpe.most_frequent_pair`.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping

from .simple_bpe import Pair, merge


def train_merges(word_counts: Mapping[bytes, int], num_merges: int, first_new_id: int = 256) -> list[Pair]:
    """Learn up to ``num_merges`` merges from chunk counts; merge ``i`` creates id ``first_new_id + i``.

    Stops early when no pair is left (every word is a single token).

    Example: ``train_merges({b"aaabdaaabac": 1}, 3) -> [(97, 97), (97, 98), (256, 257)]``.

    Taught in: solutions/01_tokens.ipynb
    """
    words = [list(word) for word in word_counts]
    counts = list(word_counts.values())
    pair_counts: dict[Pair, int] = defaultdict(int)
    # Words that contain (or once contained) each pair; a superset is fine because
    # merging a word that no longer holds the pair leaves it unchanged.
    pair_words: dict[Pair, set[int]] = defaultdict(set)
    for index, (word, count) in enumerate(zip(words, counts)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += count
            pair_words[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[Pair] = []
    while len(merges) < num_merges and heap:
        negative_count, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -negative_count:
            # Stale entry. If the count dropped, re-file it under the true count;
            # if it rose, a newer entry with the true count is already in the heap.
            if 0 < count < -negative_count:
                heapq.heappush(heap, (-count, pair))
            continue
        new_id = first_new_id + len(merges)
        merges.append(pair)
        new_pairs: set[Pair] = set()
        for index in pair_words.pop(pair):
            word = words[index]
            merged = merge(word, pair, new_id)
            if len(merged) == len(word):
                continue
            word_count = counts[index]
            for old in zip(word, word[1:]):
                pair_counts[old] -= word_count
            for new in zip(merged, merged[1:]):
                pair_counts[new] += word_count
                pair_words[new].add(index)
                if new_id in new:
                    new_pairs.add(new)
            words[index] = merged
        del pair_counts[pair]
        # Only pairs containing the new token can have grown; every other count fell or stayed.
        for new in new_pairs:
            heapq.heappush(heap, (-pair_counts[new], new))
    return merges
