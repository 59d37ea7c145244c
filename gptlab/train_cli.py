"""`gptlab train`: pretrain a small GPT on the course's Shakespeare from a fixed seed.

With no options it reproduces the model the course ships (gptlab/weights/, loaded by
``gptlab.pretrained.load("shipped")``): a byte-level BPE of 2048 tokens trained on the English corpus
minus the plays the fine-tuning lesson holds out (gptlab.data.FINETUNE_SPLITS), then GPTConfig.preset("course")
(4 layers × 4 heads × 128 wide, 256-token context, 1.09M parameters), 1000 steps of 16 windows. The checkpoint goes to
``$GPTLAB_CACHE/checkpoints/mine.safetensors`` (what ``load("mine")`` reads) unless --out says otherwise;
Ctrl-C saves it, and ``--resume`` continues. ``--export FILE`` also writes a float16, weights-only copy
(the shipped format) and prints its SHA-256.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import argparse
import sys

# The shipped model's recipe. Changing a value here changes what `gptlab train` reproduces.
# The model is GPTConfig.preset("course"): 4 layers, 4 heads, 128 wide, 256-token context, 2048-token vocabulary.
RECIPE = dict(vocab_size=2048, n_layer=4, n_head=4, n_embd=128, block_size=256, dropout=0.0, steps=1000, batch_size=16,
              lr=2e-3, min_lr=2e-4, warmup_steps=50, weight_decay=0.1, grad_clip=1.0, eval_every=100, eval_batches=10,
              seed=1337, val_fraction=0.05)


def add_subcommands(sub) -> None:
    parser = sub.add_parser("train", help="pretrain the course's small GPT on Shakespeare (reproduces the shipped model)",
                            description=__doc__.split("\n\n")[1], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", help="checkpoint file (default: $GPTLAB_CACHE/checkpoints/mine.safetensors)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint at --out")
    parser.add_argument("--export", help="also write a float16 weights-only copy here (the shipped format)")
    for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size", "steps", "batch_size", "warmup_steps",
                 "eval_every", "eval_batches", "seed"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=RECIPE[name])
    for name in ("dropout", "lr", "min_lr", "weight_decay", "grad_clip", "val_fraction"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=RECIPE[name])
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (0: at the end only)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: PyTorch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar; print a line at each evaluation")
    parser.set_defaults(func=cmd_train)


def build_data(vocab_size: int, val_fraction: float):
    """(tokenizer, train ids, val ids, pretraining plays): the shipped recipe's data, deterministic."""
    from gptlab.corpus import encode_corpus, split
    from gptlab.data import held_out_titles, load_text, plays
    from gptlab.tokenizers import BPETokenizer

    held_out = set(held_out_titles())
    kept = [play for play in plays() if play.title not in held_out]
    tokenizer = BPETokenizer().train(load_text("english", exclude=sorted(held_out)), vocab_size=vocab_size)
    ids = encode_corpus([play.text for play in kept], tokenizer)
    train_ids, val_ids = split(ids, val_fraction)
    return tokenizer, train_ids, val_ids, kept


def cmd_train(args) -> int:
    import platform
    import time

    import torch

    from gptlab.checkpoint import default_path, load_checkpoint, save_checkpoint, sha256_file
    from gptlab.device import describe_device, pick_device
    from gptlab.model import GPT, GPTConfig
    from gptlab.train import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or str(default_path("mine"))
    config = GPTConfig(vocab_size=args.vocab_size, block_size=args.block_size, n_layer=args.n_layer, n_head=args.n_head,
                       n_embd=args.n_embd, dropout=args.dropout)
    train_config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr,
                               warmup_steps=args.warmup_steps, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                               grad_accum=args.grad_accum, eval_every=args.eval_every, eval_batches=args.eval_batches,
                               seed=args.seed, device=args.device, checkpoint_path=out,
                               checkpoint_every=args.checkpoint_every, progress=not args.no_progress)
    started = time.perf_counter()
    tokenizer, train_ids, val_ids, kept = build_data(args.vocab_size, args.val_fraction)
    if tokenizer.vocab_size != args.vocab_size:
        print(f"note: the tokenizer stopped at {tokenizer.vocab_size} tokens", file=sys.stderr)
    print(f"data: {len(kept)} plays, {len(train_ids):,} training and {len(val_ids):,} validation tokens "
          f"(vocabulary {tokenizer.vocab_size}), prepared in {time.perf_counter() - started:.1f} s")
    torch.manual_seed(args.seed)
    model = GPT(config)
    print(f"model: {model.num_params():,} parameters; {describe_device(pick_device(None if args.device == 'auto' else args.device))}")
    resume = None
    if args.resume:
        try:
            resume = load_checkpoint(out)
        except FileNotFoundError:
            print(f"error: --resume, but there is no checkpoint at {out}", file=sys.stderr)
            return 2
        print(f"resuming from step {resume.step} of {out}")

    def report(history) -> None:
        if args.no_progress and history.eval_steps and history.eval_steps[-1] == history.steps[-1]:
            print(f"step {history.steps[-1]}: train {history.train_losses[-1]:.4f}, val {history.val_losses[-1]:.4f}, "
                  f"lr {history.lrs[-1]:.2e}, {history.tokens_per_s[-1]:,.0f} tok/s, {history.elapsed_s:.0f} s", flush=True)

    try:
        history = train(model, train_ids, val_ids, train_config, report, tokenizer=tokenizer, resume=resume)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the checkpoint is saved at {out}; continue with `gptlab train --resume"
              f"{' --out ' + out if args.out else ''}`", file=sys.stderr)
        return 130
    minutes = history.elapsed_s / 60
    print(f"done: {history.steps[-1]} steps in {minutes:.1f} min; train loss {history.train_losses[-1]:.4f}, "
          f"val loss {history.val_losses[-1]:.4f}; checkpoint {out}")
    if args.export:
        metadata = {"command": "gptlab train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else "gptlab train",
                    "seed": args.seed, "train_minutes": round(minutes, 1), "machine": f"{platform.machine()}, "
                    f"{torch.get_num_threads()} torch threads, torch {torch.__version__}",
                    "final_train_loss": history.train_losses[-1], "final_val_loss": history.val_losses[-1]}
        save_checkpoint(args.export, model, tokenizer=tokenizer, step=history.steps[-1], train_config=train_config,
                        history=history, metadata=metadata, dtype=torch.float16)
        print(f"exported float16 weights to {args.export}; SHA-256 {sha256_file(args.export)}")
    return 0
