"""The shipped model on a laptop: how long it takes to load, and how fast it writes, beside the small model.

    .venv/bin/python benchmarks/shipped.py [--threads 2] [--tokens 200] [--repeats 5]

For "shipped" and "small" (gptlab.io.load, the files in gptlab/weights/): the median wall time of `load`
(checksum, header, float16 -> float32), and the median tokens/s of cached greedy generation of --tokens new
tokens after "ROMEO:\\n" (batch 1, gptlab.generation.generate with the KV cache). Goals for the shipped model on
2 CPU cores: loads in <= 2 s, writes >= 100 tokens/s. The small model, measured in the same run, is the peer:
the ratios say what the larger model costs. Run it on an otherwise idle machine; it prints the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gptlab.generation import generate  # noqa: E402
from gptlab.io import load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} torch threads, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    results = {}
    for name in ("shipped", "small"):
        loads = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            model, tokenizer = load(name)
            loads.append(time.perf_counter() - started)
        prompt = tokenizer.encode("ROMEO:\n")
        generate(model, prompt, max_tokens=8, temperature=0)  # warm-up
        speeds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            [out] = generate(model, prompt, max_tokens=args.tokens, temperature=0)
            speeds.append(len(out.token_ids) / (time.perf_counter() - started))
        results[name] = (statistics.median(loads), statistics.median(speeds), model.num_params())
        print(f"{name:8s} {model.num_params():>10,} parameters: load {results[name][0]:.2f} s (median of {args.repeats}), "
              f"cached greedy generation {results[name][1]:,.0f} tokens/s (median of {args.repeats}, {args.tokens} tokens)")
    (load_s, speed, _), (small_load, small_speed, _) = results["shipped"], results["small"]
    print(f"shipped / small: load {load_s / small_load:.2f}x the time, generation {speed / small_speed:.2f}x the speed")
    print(f"goals: load <= 2 s: {'met' if load_s <= 2 else 'MISSED'} ({load_s:.2f} s); >= 100 tokens/s: "
          f"{'met' if speed >= 100 else 'MISSED'} ({speed:,.0f}); load average after: "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
