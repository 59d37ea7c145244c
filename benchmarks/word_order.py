"""Lesson 10's word-order task: the learning rate of each contender, chosen on the validation plays.

    python benchmarks/word_order.py [--model small] [--train 200] [--steps 150]

Fine-tunes every layer of a GPTClassifier (2 classes: real passage or the same words shuffled,
gptlab.data.finetune_sets.word_order_passages) from the pretrained model and from random weights, on the first
--train training passages, at each learning rate of the grid, and prints validation accuracy (the 3 validation
plays of FINETUNE_SPLITS; the test plays are not read). Lesson 10 uses the best rate of each contender, so that
neither is handicapped by a rate chosen for the other.
"""

from __future__ import annotations

import argparse
import copy

import torch

from gptlab.data.finetune_sets import word_order_passages
from gptlab.io import load
from gptlab.nn.model import GPT
from gptlab.topics.finetune import GPTClassifier, LMScoreClassifier, encode_passages, freeze_layers, predict, train_classifier

GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="small")
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--head", choices=["last-token", "lm-score"], default="lm-score",
                        help="GPTClassifier (a linear head on the last real token) or LMScoreClassifier (the model's own "
                             "next-token loss against a learned threshold)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pretrained, tokenizer = load(args.model)
    eot = tokenizer.special_tokens["<|endoftext|>"]

    def encode(passages):
        idx, mask = encode_passages(tokenizer, [p.text for p in passages], max_tokens=64, pad_id=eot)
        return idx, mask, torch.tensor([p.label for p in passages])

    train, val = encode(word_order_passages("train")[: args.train]), encode(word_order_passages("validation"))
    print(f"{args.model}, {args.head} head: {args.train} training passages, {len(val[2])} validation passages, "
          f"{args.steps} steps of 16, all layers")
    print(f"{'lr':>8} {'pretrained':>11} {'random init':>12}")
    for lr in GRID:
        row = []
        for body in (copy.deepcopy(pretrained), None):
            torch.manual_seed(0)
            body = body if body is not None else GPT(pretrained.config)
            if args.head == "lm-score":
                classifier = LMScoreClassifier(body)
                classifier.calibrate(train[0], train[1])
            else:
                classifier = GPTClassifier(body, num_classes=2)
                freeze_layers(classifier, None)
            train_classifier(classifier, *train, steps=args.steps, batch_size=16, lr=lr, seed=0, progress=False)
            row.append(float((predict(classifier, val[0], val[1]) == val[2]).float().mean()))
        print(f"{lr:8.0e} {row[0]:11.3f} {row[1]:12.3f}", flush=True)


if __name__ == "__main__":
    main()
