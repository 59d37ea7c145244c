"""Two notebooks training at once on the same CPU: how much slower each one gets.

Runs lesson 07's training cell (the same data, model and TrainConfig: 600 steps, batch 16 x 128, 2 layers,
96 wide) in a fresh process, first alone, then two at once, with the cores shared (gptlab.training.cpu_share,
the default) and, with --unshared, without sharing (GPTLAB_CPU_SHARE=0: each keeps torch's own thread count).
Prints each run's seconds and the ratio against the run alone. Goal: two at once, shared, each within 2.5x of
one alone (on 2 cores, without sharing, OpenMP's spinning threads made it over 10x).

    python benchmarks/two_kernels.py              # alone, then two at once shared
    python benchmarks/two_kernels.py --unshared   # also two at once without sharing (slow: minutes)
    python benchmarks/two_kernels.py --steps 200  # a shorter run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CELL = r"""
import json, sys, time, torch
from gptlab.data import held_out_titles, plays
from gptlab.data.batches import encode_corpus, split
from gptlab.io import load
from gptlab.nn.model import GPT, GPTConfig
from gptlab.training.loop import TrainConfig, train

_, tokenizer = load("shipped")
held_out = set(held_out_titles())
data = encode_corpus([p.text for p in plays() if p.title not in held_out], tokenizer)
train_data, val_data = split(data, val_fraction=0.05)
torch.manual_seed(0)
model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=2, n_head=4, n_embd=96))
config = TrainConfig(steps=STEPS, batch_size=16, lr=3e-3, min_lr=3e-4, warmup_steps=50, eval_every=200,
                     eval_batches=10, seed=0, progress=False, device="cpu")
threads = []
print("READY", flush=True)
sys.stdin.readline()  # every process starts training at the same moment
started = time.perf_counter()
train(model, train_data, val_data, config, callback=lambda h: threads.append(torch.get_num_threads()))
print(json.dumps({"seconds": time.perf_counter() - started, "threads": sorted(set(threads))}), flush=True)
"""


def run_together(n: int, steps: int, shared: bool, folder: str) -> list[dict]:
    env = dict(os.environ, GPTLAB_CPU_SHARE="1" if shared else "0", GPTLAB_CPU_SHARE_DIR=folder, PYTHONWARNINGS="ignore")
    env.pop("OMP_NUM_THREADS", None)  # torch's default: one thread per core, as in a learner's kernel
    code = CELL.replace("STEPS", str(steps))
    processes = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env=env) for _ in range(n)]
    for p in processes:
        assert p.stdout.readline().strip() == "READY"
    for p in processes:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in processes:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"a training process failed with {p.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--unshared", action="store_true", help="also run two at once without sharing")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; lesson 07's training cell, {args.steps} steps; load before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        [alone] = run_together(1, args.steps, True, folder)
        print(f"alone:               {alone['seconds']:6.1f} s  (threads {alone['threads']})")
        rows = [("two at once, shared", True)] + ([("two at once, unshared", False)] if args.unshared else [])
        for label, shared in rows:
            pair = run_together(2, args.steps, shared, folder)
            ratios = [r["seconds"] / alone["seconds"] for r in pair]
            print(f"{label}: " + ", ".join(f"{r['seconds']:6.1f} s (threads {r['threads']})" for r in pair)
                  + f"  -> {max(ratios):.2f}x the run alone (goal <= 2.5x)")


if __name__ == "__main__":
    main()
