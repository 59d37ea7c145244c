"""`gptlab train`: pretrain the course's GPT from a fixed seed, by a recipe of gptlab.training.recipes.

With no options it trains recipe "shipped": a byte-level BPE of 2048 tokens trained on the pretraining
plays, then a 6-layer GPT on Shakespeare mixed with the King James Bible, and a last phase with more repeat
windows: the file the course ships (gptlab/weights/, ``gptlab.io.load("shipped")``). ``--recipe small`` reproduces
the first, smaller one (``load("small")``) and ``--recipe fast`` is lesson 14's faster recipe. The checkpoint goes to
``$GPTLAB_CACHE/checkpoints/mine.safetensors`` (what ``load("mine")`` reads) unless --out says otherwise;
Ctrl-C saves it, and ``--resume`` continues. ``--export FILE`` also writes a float16, weights-only copy
(the shipped format) and prints its SHA-256. ``kill`` (SIGTERM) saves the checkpoint as Ctrl-C does, so a run
in the background can be stopped and resumed.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import argparse
import sys

from gptlab.training import messages
from gptlab.training.recipes import RECIPES

DEFAULT_RECIPE = "shipped"
MODEL_FIELDS = ("vocab_size", "n_layer", "n_head", "n_embd", "block_size", "dropout")
TRAIN_INTS = ("steps", "batch_size", "warmup_steps", "eval_every", "eval_batches", "seed")
TRAIN_FLOATS = ("lr", "min_lr", "weight_decay", "grad_clip")


def add_subcommands(sub) -> None:
    recipes = "; ".join(f"{name}: {recipe.summary}" for name, recipe in RECIPES.items())
    parser = sub.add_parser("train", help="pretrain the course's GPT from a seed, by a recipe (the default reproduces the shipped model)",
                            description=__doc__.split("\n\n")[1] + f" Recipes — {recipes}.",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, choices=sorted(RECIPES),
                        help="the recipe whose values the options below override")
    parser.add_argument("--out", help="checkpoint file (default: $GPTLAB_CACHE/checkpoints/mine.safetensors)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint at --out")
    parser.add_argument("--export", help="also write a float16 weights-only copy here (the shipped format)")
    for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size") + TRAIN_INTS:
        parser.add_argument("--" + name.replace("_", "-"), type=int, help="default: the recipe's")
    for name in ("dropout",) + TRAIN_FLOATS:
        parser.add_argument("--" + name.replace("_", "-"), type=float, help="default: the recipe's")
    parser.add_argument("--optimizer", choices=["adamw", "muon"], help="default: the recipe's (Muon: lesson 14, benchmarks/README.md)")
    parser.add_argument("--finish-steps", type=int,
                        help="steps of the recipe's last phase (constant lr, more repeat windows); 0: none. Default: the recipe's")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (0: at the end only)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"],
                        help="compute dtype: auto is bfloat16 autocast on CUDA, float32 elsewhere; bfloat16 on a CPU "
                             "pays off where it has AMX or AVX-512 BF16 (weights stay float32)")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: PyTorch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar; print a line at each evaluation")
    parser.set_defaults(func=cmd_train)


def _say(args):
    """How the command says its lines: the course's say() in the learner's language where `gptlab` gave it one
    (args.say), else the English of gptlab.training.messages."""
    return getattr(args, "say", None) or messages.say


def resolve(args):
    """(recipe, model config, TrainConfig) from the recipe named by args, with the options given overriding it.

    The model config is a GPTConfig, or a ModernConfig for a recipe whose architecture is "ModernGPT"."""
    from dataclasses import replace

    from gptlab.training.loop import TrainConfig

    recipe = RECIPES[args.recipe]
    model = {k: getattr(args, k) if getattr(args, k, None) is not None else v for k, v in recipe.model_config().items()}
    if getattr(args, "dropout", None) is not None and "dropout" not in model:
        raise SystemExit(_say(args)("train.no_dropout", recipe=recipe.name, architecture=recipe.architecture))
    trained = {k: getattr(args, k) if getattr(args, k, None) is not None else v for k, v in recipe.train.items()}
    if getattr(args, "optimizer", None) is not None:
        trained["optimizer"] = args.optimizer
    finish = recipe.finish
    if getattr(args, "finish_steps", None) is not None:
        if args.finish_steps < 0:
            raise SystemExit("error: --finish-steps must be >= 0")
        finish = {**(finish or {}), "steps": args.finish_steps} if args.finish_steps else None
    recipe = replace(recipe, model=model, train=trained, preset=None, finish=finish)
    out = args.out
    train_config = TrainConfig(**trained, grad_accum=args.grad_accum, device=args.device,
                               dtype=getattr(args, "dtype", "auto"), checkpoint_path=out,
                               checkpoint_every=args.checkpoint_every, progress=not args.no_progress)
    if recipe.architecture == "ModernGPT":
        from gptlab.nn.modern_model import ModernConfig

        return recipe, ModernConfig(**model), train_config
    from gptlab.nn.model import GPTConfig

    return recipe, GPTConfig(**model), train_config


def cmd_train(args) -> int:
    import platform
    import time

    import torch

    from dataclasses import asdict, replace

    from gptlab.io.checkpoint import default_path, load_checkpoint, save_checkpoint, sha256_file
    from gptlab.device import describe_device, pick_device
    from gptlab.training.recipes import prepare_data
    from gptlab.training.loop import train

    say = _say(args)
    describe = getattr(args, "describe_device", None) or describe_device  # the course's: in the learner's language
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or str(default_path("mine"))
    recipe, config, train_config = resolve(args)
    train_config = replace(train_config, checkpoint_path=out)
    started = time.perf_counter()
    tokenizer, train_ids, val_ids = prepare_data(recipe)
    if tokenizer.vocab_size != config.vocab_size:
        print(say("train.tokenizer_short", vocab=tokenizer.vocab_size), file=sys.stderr)
    print(say("train.data", recipe=recipe.name, train=len(train_ids), val=len(val_ids), vocab=tokenizer.vocab_size,
              seconds=time.perf_counter() - started))
    torch.manual_seed(train_config.seed)
    model = recipe.build()
    device = describe(pick_device(None if args.device == "auto" else args.device))
    print(say("train.model", params=model.num_params(), device=device))
    resume = None
    if args.resume:
        try:
            resume = load_checkpoint(out)
        except FileNotFoundError:
            print(say("train.no_checkpoint", path=out), file=sys.stderr)
            return 2
        print(say("train.resuming", step=resume.step, path=out))

    def report(history) -> None:
        if args.no_progress and history.eval_steps and history.eval_steps[-1] == history.steps[-1]:
            print(say("train.step", step=history.steps[-1], train=history.train_losses[-1], val=history.val_losses[-1],
                      lr=history.lrs[-1], speed=history.tokens_per_s[-1], seconds=history.elapsed_s), flush=True)

    def stop_politely(signum, frame):
        raise KeyboardInterrupt  # `kill` (SIGTERM) saves the checkpoint as Ctrl-C does: a background run loses nothing

    import signal
    import threading

    # The recipe's phases: its main run, then (where it has one) its finishing phase, which continues from the
    # main run's checkpoint with its own data and learning rate. A resumed run skips the phases it has finished.
    stages = [(recipe, train_config)]
    finishing = recipe.finishing()
    if finishing is not None:
        stages.append((finishing, replace(train_config, **{k: finishing.train[k] for k in ("steps", "lr", "min_lr", "warmup_steps")})))
    # Only while training, and only where Python can take signals (the main thread): a caller such as a test
    # that runs the command in-process gets its own SIGTERM handling back afterwards.
    installed = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop_politely) if installed else None
    history, reached = None, resume.step if resume is not None else 0
    try:
        for number, (stage, stage_config) in enumerate(stages):
            if reached >= stage_config.steps and number < len(stages) - 1:
                continue  # this phase is done; the checkpoint is where the next one starts
            if number:
                _, train_ids, _ = prepare_data(stage, tokenizer)
                print(say("train.finishing", steps=stage_config.steps - stages[number - 1][1].steps, lr=stage_config.lr,
                          repeat=stage.repeat_share, random=stage.random_share), flush=True)
            history = train(model, train_ids, val_ids, stage_config, report, tokenizer=tokenizer, resume=resume)
            resume, reached = out, max(reached, stage_config.steps)  # the next phase continues from this checkpoint
    except KeyboardInterrupt:
        command = "gptlab train --resume" + (" --out " + out if args.out else "")
        print("\n" + say("train.interrupted", path=out, command=command), file=sys.stderr)
        return 130
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    train_config = stages[-1][1]
    minutes = history.elapsed_s / 60
    print(say("train.done", steps=history.steps[-1], minutes=minutes, train=history.train_losses[-1],
              val=history.val_losses[-1], path=out))
    if args.export:
        metadata = {"command": "gptlab train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else "gptlab train",
                    "recipe": asdict(recipe), "seed": train_config.seed, "train_minutes": round(minutes, 1), "machine": f"{platform.machine()}, "
                    f"{torch.get_num_threads()} torch threads, torch {torch.__version__}",
                    "final_train_loss": history.train_losses[-1], "final_val_loss": history.val_losses[-1]}
        save_checkpoint(args.export, model, tokenizer=tokenizer, step=history.steps[-1], train_config=train_config,
                        history=history, metadata=metadata, dtype=torch.float16)
        print(say("train.exported", path=args.export, sha=sha256_file(args.export)))
    return 0
