"""Lesson 10's instruction tuning: the learning rate of full fine-tuning and of LoRA, chosen on validation.

    python benchmarks/lora_lr.py [--model small] [--steps 400] [--batch-size 16] [--threads 2]

Lesson 10's setting (its model, its 4000 training instructions in the Instruction/Response template, its steps and
batch size), trained from the same start at every learning rate of a grid, for full fine-tuning (every weight)
and for LoRA (r=8, alpha=16, on the attention projections: gptlab.nn.lora.add_lora's default targets). Prints
exact match on the 200 validation instructions (the validation plays of FINETUNE_SPLITS; the test prompts the
lesson scores are not read). Lesson 10 trains each at its best rate, so that neither is handicapped by a rate
chosen for the other: LoRA's few, zero-started numbers need a far larger step than full fine-tuning does.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from gptlab.data.finetune_sets import instruction_examples
from gptlab.io import load
from gptlab.nn.lora import add_lora
from gptlab.topics.finetune import count_trainable, encode_instruction, exact_match, respond, train_instructions

FULL_GRID = (3e-4, 1e-3, 3e-3, 1e-2)
LORA_GRID = (3e-3, 1e-2, 3e-2, 1e-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="small")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--methods", default="full,LoRA", help="comma-separated: full, LoRA")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pretrained, tokenizer = load(args.model)
    eot = tokenizer.special_tokens["<|endoftext|>"]
    block = pretrained.config.block_size
    pairs = [encode_instruction(tokenizer, e.prompt, e.response, block) for e in instruction_examples("train")]
    validation = instruction_examples("validation")
    prompts = [e.prompt for e in validation]
    print(f"{args.model}: {len(pairs)} training instructions, {len(validation)} validation, "
          f"{args.steps} steps of {args.batch_size}; exact match on validation")
    print(f"{'method':6} {'lr':>7} {'trainable':>10} {'exact match':>12} {'seconds':>8}")
    grids = {"full": FULL_GRID, "LoRA": LORA_GRID}
    for method in args.methods.split(","):
        grid = grids[method]
        for lr in grid:
            model = copy.deepcopy(pretrained)
            torch.manual_seed(0)
            if method == "LoRA":
                add_lora(model, r=8, alpha=16)
            start = time.perf_counter()
            train_instructions(model, pairs, pad_id=eot, steps=args.steps, batch_size=args.batch_size, lr=lr, seed=0,
                               progress=False)
            score = exact_match(respond(model, tokenizer, prompts, max_tokens=8), validation)["all"]
            print(f"{method:6} {lr:7.0e} {count_trainable(model):>10,} {score:12.3f} {time.perf_counter() - start:8.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
