"""`gptlab chat-tune`: the chat model that ships, made again (or one of your own, from another base).

With no options it follows gptlab.topics.chat.CHAT_RECIPE: the shipped model fine-tuned with the chat template
on ten draws of the instruction set's training split, exact match on the validation split logged along the way.
It writes a float32 checkpoint to ``$GPTLAB_CACHE/checkpoints/chat.safetensors`` (what ``load("chat")`` and
``gptlab serve --model chat`` read) unless --out says otherwise; ``--export FILE`` also writes the float16 copy
that ships (gptlab/weights/chat.safetensors, ``load("shipped-chat")``), with the loss curve, the logged exact
match and the test split's exact match per task in its metadata, and prints its SHA-256.

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time

from gptlab.topics.chat import CHAT_RECIPE


def add_subcommands(sub) -> None:
    parser = sub.add_parser("chat-tune", help="fine-tune a chat model with the course's chat template (the default "
                            "recipe reproduces the one that ships)", description=__doc__.split("\n\n")[1],
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--base", default=CHAT_RECIPE["base"], help="the model to start from: shipped, small, mine or a file")
    parser.add_argument("--draws", type=int, default=CHAT_RECIPE["draws"], help="draws of the training split (4000 chats each)")
    for name in ("steps", "batch_size", "warmup_steps", "seed"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=CHAT_RECIPE[name])
    for name in ("lr", "min_lr"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=CHAT_RECIPE[name])
    parser.add_argument("--eval-every", type=int, default=250, help="steps between exact-match evaluations on validation")
    parser.add_argument("--out", help="checkpoint file (default: $GPTLAB_CACHE/checkpoints/chat.safetensors)")
    parser.add_argument("--export", help="also write a float16 copy here (the shipped format)")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: PyTorch's choice)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=cmd_chat_tune)


def cmd_chat_tune(args) -> int:
    import torch

    from gptlab.data.finetune_sets import instruction_examples
    from gptlab.io import load
    from gptlab.io.checkpoint import default_path, save_checkpoint, sha256_file
    from gptlab.topics.chat import chat_exact_match, chat_training_examples, tune_chat

    if args.threads:
        torch.set_num_threads(args.threads)
    base, tokenizer = load(args.base)
    model = copy.deepcopy(base)
    torch.manual_seed(args.seed)
    examples = chat_training_examples(args.draws)
    print(f"chat-tune: {args.base} ({sum(p.numel() for p in model.parameters()):,} parameters), {len(examples):,} chats, "
          f"{args.steps} steps of {args.batch_size}, lr {args.lr:g} -> {args.min_lr:g}", flush=True)
    started = time.perf_counter()
    log = tune_chat(model, tokenizer, examples, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                    warmup_steps=args.warmup_steps, min_lr=args.min_lr, eval_every=args.eval_every,
                    eval_examples=instruction_examples("validation"), seed=args.seed, progress=not args.no_progress)
    minutes = (time.perf_counter() - started) / 60
    for step, scores in log.evals:
        print(f"  step {step:5}: validation exact match {scores['all']:.3f}", flush=True)
    out = args.out or default_path("chat")
    recipe = {k: getattr(args, k) for k in ("base", "draws", "steps", "batch_size", "lr", "warmup_steps", "min_lr", "seed")}
    metadata = {"made_by": "gptlab chat-tune", "template": "gptlab chat v1",
                "command": "gptlab chat-tune " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["chat-tune"] else "gptlab chat-tune",
                "recipe": recipe, "train_minutes": round(minutes, 1), "losses": [round(x, 4) for x in log.losses],
                "validation_exact_match": [[step, scores] for step, scores in log.evals],
                "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"}
    save_checkpoint(out, model, tokenizer=tokenizer, metadata=metadata)
    print(f"saved {out} after {minutes:.1f} min", flush=True)
    if args.export:
        save_checkpoint(args.export, model, tokenizer=tokenizer, metadata=metadata, dtype=torch.float16)
        from gptlab.io.checkpoint import load_model

        exported, _ = load_model(args.export)
        test = chat_exact_match(exported, tokenizer, instruction_examples("test"))
        metadata["test_exact_match"] = test
        save_checkpoint(args.export, model, tokenizer=tokenizer, metadata=metadata, dtype=torch.float16)
        print(f"exported {args.export}: test exact match {test['all']:.3f} "
              f"({', '.join(f'{k} {v:.2f}' for k, v in test.items() if k != 'all')}); SHA-256 {sha256_file(args.export)}")
    return 0
