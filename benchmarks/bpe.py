"""Benchmark gptlab's BPE trainer and encoder against Hugging Face `tokenizers` and the naive trainer.

Run: .venv/bin/python benchmarks/bpe.py   (prints a report; exit status 0)

Trains on a fixed 1.1 MB slice of the shipped English corpus to vocab 1,000 and
encodes the same slice. The naive trainer (recount every pair for every merge)
is run for a few merges and extrapolated linearly to the full number.
"""

from __future__ import annotations

import os

# Pin Hugging Face's thread pool before `tokenizers` is imported, so runs are comparable.
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import time  # noqa: E402

from gptlab.data import load_text  # noqa: E402
from gptlab.tokenizers import ENDOFTEXT, GPT2_SPLIT_PATTERN, BPETokenizer, train_bpe  # noqa: E402

SLICE_BYTES = 1_100_000
VOCAB_SIZE = 1_000
NAIVE_MERGES = 8
REPEATS = 3
TARGET_VS_HF = 5.0  # gptlab train time at most 5x Hugging Face's
TARGET_VS_NAIVE = 20.0  # gptlab at least 20x faster than the naive trainer
TARGET_ENCODE_MB_S = 2.0


def best_time(function, repeats=REPEATS):
    """The fastest of ``repeats`` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def hf_train(text):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer


def main() -> int:
    text = load_text("english").encode("utf-8")[:SLICE_BYTES].decode("utf-8", errors="ignore")
    megabytes = len(text.encode("utf-8")) / 1e6
    print(f"corpus: first {len(text.encode('utf-8')):,} bytes of load_text('english'); vocab_size={VOCAB_SIZE}")
    print(f"machine: {os.cpu_count()} CPUs; RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']} for Hugging Face tokenizers")

    ours_train, ours = best_time(lambda: BPETokenizer().train(text, VOCAB_SIZE))
    num_merges = len(ours.merges)
    print(f"\ngptlab train:        {ours_train:7.3f} s  ({num_merges} merges, best of {REPEATS})")

    hf_time, hf = best_time(lambda: hf_train(text))
    ratio_hf = ours_train / hf_time
    print(f"HF tokenizers train: {hf_time:7.3f} s  (vocab {hf.get_vocab_size()}, best of {REPEATS})")
    print(f"  gptlab / HF = {ratio_hf:.2f}x   target <= {TARGET_VS_HF:.0f}x: {'MET' if ratio_hf <= TARGET_VS_HF else 'NOT MET'}")

    start = time.perf_counter()
    train_bpe(text, NAIVE_MERGES, pattern=GPT2_SPLIT_PATTERN)
    naive_partial = time.perf_counter() - start
    naive_full = naive_partial / NAIVE_MERGES * num_merges
    ratio_naive = naive_full / ours_train
    print(
        f"naive recount-per-merge train: {naive_partial:.2f} s for {NAIVE_MERGES} merges, "
        f"EXTRAPOLATED linearly to {num_merges} merges: {naive_full:.1f} s"
    )
    print(f"  naive / gptlab = {ratio_naive:.0f}x   target >= {TARGET_VS_NAIVE:.0f}x: {'MET' if ratio_naive >= TARGET_VS_NAIVE else 'NOT MET'}")

    ours._cache.clear()  # "cold": every distinct chunk is merged from bytes once
    start = time.perf_counter()
    ids = ours.encode(text)
    cold = time.perf_counter() - start
    warm, _ = best_time(lambda: ours.encode(text))
    hf_encode, hf_encoding = best_time(lambda: hf.encode(text))
    assert ours.decode(ids) == text
    print(f"\ngptlab encode: {megabytes / cold:6.2f} MB/s cold cache, {megabytes / warm:6.2f} MB/s warm cache ({len(ids):,} tokens)")
    print(f"HF encode:     {megabytes / hf_encode:6.2f} MB/s ({len(hf_encoding.ids):,} tokens; reference only)")
    print(f"  target >= {TARGET_ENCODE_MB_S:.0f} MB/s (cold): {'MET' if megabytes / cold >= TARGET_ENCODE_MB_S else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
