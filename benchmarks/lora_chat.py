"""LoRA against full fine-tuning at the shipped chat model's scale: the shipped model, the chat template, new draws.

    python benchmarks/lora_chat.py [--steps 600] [--threads 1] [--runs full:1e-3 lora-all:8:1e-2 ...]

Each run starts from load("shipped") and trains with gptlab.topics.chat.tune_chat on chat_training_examples(10)
(CHAT_RECIPE's data, batch 32, warm-up over the first 5 % of the steps, cosine decay to a tenth of the rate,
gradients clipped at 1.0) for --steps steps, then prints exact match on the 200 validation questions (the
test questions are not read). A run is `full:LR` (every weight trains) or `lora-attn:R:LR` / `lora-all:R:LR`
(gptlab.nn.lora.add_lora with alpha = 2R on the attention projections, or on every linear layer of every block:
attention and MLP; `lora-head:R:LR` adds the output layer, lm_head, whose weight is tied to the token embedding:
the adapter changes the logits only); `lora-all:R:LR:F` also gives the B matrices F times the learning rate (LoRA+, Hayou et al. 2024). Lesson 10 shows the table this prints (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

import torch

from gptlab.data.finetune_sets import instruction_examples
from gptlab.io import load
from gptlab.nn.lora import add_lora
from gptlab.topics.chat import chat_exact_match, chat_training_examples, tune_chat
from gptlab.topics.finetune import count_trainable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "gptlab" / "training" / "results" / "lora_chat.json"
TARGETS = {"lora-attn": ("attn.c_attn", "attn.c_proj"),
           "lora-all": ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"),
           "lora-head": ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj", "lm_head")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", nargs="+", default=["full:1e-3", "lora-all:8:3e-3", "lora-all:8:1e-2"])
    parser.add_argument("--save", action="store_true",
                        help=f"add each run to {RESULTS.relative_to(ROOT)} (a run of the same name and steps is replaced)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base, tokenizer = load("shipped")
    examples = chat_training_examples(10)
    validation = instruction_examples("validation")
    total = sum(p.numel() for p in base.parameters())
    print(f"shipped ({total:,} parameters): {args.steps} steps of {args.batch_size} chats; exact match on the "
          f"{len(validation)} validation questions; {torch.get_num_threads()} torch threads")
    print(f"{'run':18} {'trainable':>10} {'share':>6} {'all':>6}  per task{'':30} {'minutes':>7}")
    for run in args.runs:
        kind, *rest = run.split(":")
        model = copy.deepcopy(base)
        torch.manual_seed(0)
        if kind != "full":
            add_lora(model, r=int(rest[0]), alpha=2 * int(rest[0]), targets=TARGETS[kind])
        lr = float(rest[1] if kind != "full" else rest[0])
        b_factor = float(rest[2]) if kind != "full" and len(rest) > 2 else 1.0
        start = time.perf_counter()
        tune_chat(model, tokenizer, examples, steps=args.steps, batch_size=args.batch_size, lr=lr,
                  warmup_steps=max(1, args.steps // 20), min_lr=lr / 10, seed=0, progress=False,
                  lora_b_lr_factor=b_factor)
        score = chat_exact_match(model, tokenizer, validation)
        tasks = " ".join(f"{task} {value:.2f}" for task, value in sorted(score.items()) if task != "all")
        trainable = count_trainable(model)
        minutes = (time.perf_counter() - start) / 60
        print(f"{run:18} {trainable:>10,} {trainable / total:6.1%} {score['all']:6.3f}  {tasks:38} "
              f"{minutes:7.1f}", flush=True)
        if args.save:
            save(dict(run=run, steps=args.steps, trainable=trainable, all=round(score["all"], 3),
                      tasks={t: round(v, 3) for t, v in sorted(score.items()) if t != "all"}, minutes=round(minutes, 1),
                      date=time.strftime("%Y-%m-%d"), load_average=f"{os.getloadavg()[0]:.2f}",
                      threads=torch.get_num_threads()), total)


def save(row: dict, total: int) -> None:
    """Add `row` to the committed results lesson 10 reads (gptlab.training.recipes.measured("lora_chat"))."""
    data = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {
        "command": "python benchmarks/lora_chat.py --threads 1 --steps STEPS --runs RUN --save",
        "machine": f"{platform.machine()}, torch {torch.__version__}", "parameters": total,
        "validation_questions": 200, "rows": []}
    data["rows"] = [r for r in data["rows"] if (r["run"], r["steps"]) != (row["run"], row["steps"])] + [row]
    data["rows"].sort(key=lambda r: (r["steps"], r["run"] != "full:1e-3", r["run"]))
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, RESULTS)


if __name__ == "__main__":
    main()
