"""Generation speed: gptlab's KV cache against its own uncached loop, and against Hugging Face's generate.

One run, one machine, one model (random weights, the course's shape, block_size = prompt + 1,024 so that
1,024 new tokens fit without a rebuild). Greedy decoding, batch 1. Each timing is the best of --repeats,
ours and Hugging Face's runs interleaved.

  * cached vs uncached (the same model's plain forward over the whole context at every step),
    for 256 and 1,024 new tokens. Target: >= 8x at 1,024.
  * gptlab cached vs transformers' GPT2LMHeadModel.generate (its own cache) on the same weights, loaded
    through the GPT-2 format path (save_gpt2_directory -> from_pretrained). Target: the same tokens, and
    >= 1.0x its throughput.

    .venv/bin/python benchmarks/generate.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gptlab.generation import generate  # noqa: E402
from gptlab.nn.model import GPT, GPTConfig  # noqa: E402
from gptlab.nn.gpt2 import save_gpt2_directory  # noqa: E402

PROMPT_LENGTH = 32
LENGTHS = (256, 1024)


def measure(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result). With one thread, CPU time barely depends on
    what else the machine runs, so it is printed beside the wall time as a load-independent check."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def interleaved(fns: dict, repeats: int) -> dict:
    """Best (wall, cpu) of each function, running them in turn (A, B, A, B, ...) so that a change in the
    machine's load during the run hits every side alike; also the last result of each."""
    best = {name: [float("inf"), float("inf"), None] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu, result = measure(fn)
            entry = best[name]
            entry[0], entry[1], entry[2] = min(entry[0], wall), min(entry[1], cpu), result
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both sides (default 1: on a small shared machine a second thread on a "
                             "model this size only adds waits at every parallel region; 0 = torch's choice)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each row as soon as it is measured
    if args.threads:
        torch.set_num_threads(args.threads)

    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    config = GPTConfig.preset("course", block_size=PROMPT_LENGTH + max(LENGTHS))
    model = GPT(config).eval()
    with torch.no_grad():  # sharper than the 0.02 init, so greedy decoding does not hover over near-ties
        model.transformer.wte.weight.mul_(8.0)
    prompt = torch.randint(0, config.vocab_size, (PROMPT_LENGTH,), generator=torch.Generator().manual_seed(1)).tolist()
    with tempfile.TemporaryDirectory() as folder:
        save_gpt2_directory(model, Path(folder))
        hf = GPT2LMHeadModel.from_pretrained(folder).eval()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model: {config.n_layer} layers, {config.n_head} heads, n_embd {config.n_embd}, vocab {config.vocab_size}, "
          f"block_size {config.block_size}, {model.num_params():,} parameters; prompt {PROMPT_LENGTH} tokens, greedy, batch 1")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPU cores, "
          f"load average {load:.2f}, best of {args.repeats}")

    def ours(n_new, use_cache):
        return generate(model, prompt, max_tokens=n_new, temperature=0, use_cache=use_cache)[0].token_ids

    def theirs(n_new, use_cache=True):
        with torch.no_grad():
            out = hf.generate(torch.tensor([prompt]), max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False,
                              use_cache=use_cache, pad_token_id=0, eos_token_id=None)
        return out[0, PROMPT_LENGTH:].tolist()

    ours(8, True), theirs(8)  # warm up
    verdicts = []
    print(f"\n{'new tokens':>10} {'cached tok/s':>13} {'uncached tok/s':>15} {'ratio':>7} {'HF tok/s':>9} "
          f"{'ours/HF':>8} {'(CPU time)':>10} {'HF no-cache':>12} {'HF ratio':>9} {'same tokens':>12}")
    for n_new in LENGTHS:
        fast = interleaved({"ours": lambda: ours(n_new, True), "hf": lambda: theirs(n_new)}, args.repeats)
        slow = interleaved({"ours": lambda: ours(n_new, False), "hf": lambda: theirs(n_new, False)}, 1)
        (t_cached, c_cached, ids_cached), (t_hf, c_hf, ids_hf) = fast["ours"], fast["hf"]
        (t_plain, _, ids_plain), (t_hf_plain, _, _) = slow["ours"], slow["hf"]
        same = ids_cached == ids_plain == ids_hf
        ratio, vs_hf = t_plain / t_cached, t_hf / t_cached
        print(f"{n_new:>10} {n_new / t_cached:>13.0f} {n_new / t_plain:>15.0f} {ratio:>6.1f}x {n_new / t_hf:>9.0f} "
              f"{vs_hf:>7.2f}x {c_hf / c_cached:>9.2f}x {n_new / t_hf_plain:>12.0f} {t_hf_plain / t_hf:>8.1f}x {str(same):>12}")
        verdicts.append(("identical tokens: cached = uncached = Hugging Face", f"{n_new} tokens", same))
        verdicts.append(("throughput vs Hugging Face generate >= 1.0x", f"{n_new} tokens: {vs_hf:.2f}x "
                         f"(CPU time {c_hf / c_cached:.2f}x)", vs_hf >= 1.0))
        if n_new == 1024:
            verdicts.append(("cache speed-up >= 8x at 1,024 tokens", f"{ratio:.1f}x", ratio >= 8.0))
    print()
    for what, value, ok in verdicts:
        print(f"{'MET ' if ok else 'MISSED'} {what}: {value}")
    after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end {after:.2f}")


if __name__ == "__main__":
    main()
