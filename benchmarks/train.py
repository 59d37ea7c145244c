"""Training benchmarks for lesson 07, each a ratio or a limit measured in one run on one machine.

1. Throughput: tokens/s of forward + backward + AdamW step, gptlab's GPT against Hugging Face's
   GPT2LMHeadModel with the same config, batch, optimizer and thread count; the median over
   --rounds interleaved rounds (target >= 1.0x, goal >= 1.2x).
2. Quality per minute: validation bits per byte reached after --budget seconds of training (default
   180) on the same corpus and split, the course's recipe (byte-level BPE 2048, 4x4x128, block 256)
   against nanoGPT's README CPU recipe (character-level, 4 layers, 4 heads, 128 wide, block 64,
   batch 12, lr 1e-3, no dropout) run through the same loop. Lower is better; ours must be lower.
3. Peak RSS of a short `gptlab train` run in a subprocess (must stay < 3 GB).
4. Layouts (lesson 14, --layouts): the course recipe's shape and optimiser with GPT-2's layout, the modern layout
   (RoPE, RMSNorm, SwiGLU, 2 key/value heads for 4 query heads), and each change alone on GPT-2's layout without
   biases; validation bits per byte after --budget seconds each, median and spread over --seeds seeds.
5. A faster recipe (lesson 14): --tune trains CANDIDATES (overrides of the course recipe) on a tuning split (the
   training text's own last ~5 %; the validation text is never read), one seed each; --recipes fast then runs the
   chosen recipe (gptlab train --recipe fast) against nanoGPT's CPU recipe, --seeds seeds each, interleaved, and
   prints how much lower its median bits per byte is (goal >= 10 %).

    python benchmarks/train.py                 # sections 1-3, 180 s per recipe
    python benchmarks/train.py --budget 60     # shorter
    python benchmarks/train.py --skip-quality  # throughput and memory only
    python benchmarks/train.py --layouts --budget 180 --seeds 3 --save   # lesson 14's table only
    python benchmarks/train.py --tune 1 2 --save                         # candidates 1 and 2 of CANDIDATES
    python benchmarks/train.py --recipes fast --seeds 3 --save           # the recipe against nanoGPT's

--save writes the table to gptlab/training/results/ (layouts.json, tuning.json, recipes.json), which lesson 14 shows.
Every run prints the 1-minute load average: a figure is worth recording only when it is about the thread count.
"""

from __future__ import annotations

import argparse
import math
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from gptlab.data.batches import bits_per_byte, encode_corpus, to_tensor
from gptlab.nn.model import GPT, GPTConfig
from gptlab.nn.modern_model import ModernConfig, ModernGPT
from gptlab.training.evaluate import full_loss
from gptlab.training.loop import TrainConfig, configure_optimizer, train
from gptlab.training.recipes import RECIPES

# the course's small recipe (gptlab train --recipe small), flattened: its model and its optimiser settings
RECIPE = {**RECIPES["small"].model_config(), **RECIPES["small"].train}

# nanoGPT README, "I only have a macbook": train_shakespeare_char with these overrides.
NANOGPT_CPU = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, lr=1e-3, min_lr=1e-4, warmup_steps=100,
                   weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0, dropout=0.0)
COURSE = dict(n_layer=RECIPE["n_layer"], n_head=RECIPE["n_head"], n_embd=RECIPE["n_embd"], block_size=RECIPE["block_size"],
              batch_size=RECIPE["batch_size"], lr=RECIPE["lr"], min_lr=RECIPE["min_lr"], warmup_steps=RECIPE["warmup_steps"],
              weight_decay=RECIPE["weight_decay"], betas=(0.9, 0.95), grad_clip=RECIPE["grad_clip"], dropout=RECIPE["dropout"])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; {torch.get_num_threads()} torch threads; torch {torch.__version__}; Python {platform.python_version()}"


# ----- 1. throughput ---------------------------------------------------------------------------------


def hf_model(config: GPTConfig):
    from transformers import GPT2Config, GPT2LMHeadModel

    hf = GPT2Config(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd, n_layer=config.n_layer,
                    n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, activation_function="gelu_new",
                    bos_token_id=config.vocab_size - 1, eos_token_id=config.vocab_size - 1)
    return GPT2LMHeadModel(hf)


def steps_per_second(model, optimizer, x, steps: int, ours: bool) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss = model(x, x)[1] if ours else model(input_ids=x, labels=x).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps / (time.perf_counter() - start)


def throughput(rounds: int, steps: int) -> dict:
    config = GPTConfig(vocab_size=RECIPE["vocab_size"], block_size=RECIPE["block_size"], n_layer=RECIPE["n_layer"],
                       n_head=RECIPE["n_head"], n_embd=RECIPE["n_embd"], dropout=0.0)
    batch = RECIPE["batch_size"]
    torch.manual_seed(0)
    ours, theirs = GPT(config), hf_model(config)
    ours.train(), theirs.train()
    tc = TrainConfig()
    opt_ours = configure_optimizer(ours, tc, torch.device("cpu"))
    opt_theirs = configure_optimizer(theirs, tc, torch.device("cpu"))
    x = torch.randint(0, config.vocab_size, (batch, config.block_size))
    steps_per_second(ours, opt_ours, x, 2, True)  # warm-up: allocator, kernels
    steps_per_second(theirs, opt_theirs, x, 2, False)
    tokens = batch * config.block_size
    ratios, ours_tps, theirs_tps = [], [], []
    for r in range(rounds):
        order = [(True, ours, opt_ours), (False, theirs, opt_theirs)]
        if r % 2:
            order.reverse()  # interleave, alternating who goes first
        speeds = {}
        for is_ours, model, opt in order:
            speeds[is_ours] = steps_per_second(model, opt, x, steps, is_ours) * tokens
        ours_tps.append(speeds[True])
        theirs_tps.append(speeds[False])
        ratios.append(speeds[True] / speeds[False])
        print(f"  round {r + 1}: gptlab {speeds[True]:,.0f} tok/s, transformers {speeds[False]:,.0f} tok/s, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    return {"params": ours.num_params(), "ours": statistics.median(ours_tps), "theirs": statistics.median(theirs_tps),
            "ratio": statistics.median(ratios)}


# ----- 2. quality per minute ---------------------------------------------------------------------------


def corpus_split():
    """(train text, validation text): the pretraining plays, the last ~5% of them (whole plays' text) held out."""
    from gptlab.data import held_out_titles, plays

    held_out = set(held_out_titles())
    texts = [play.text for play in plays() if play.title not in held_out]
    joined = "\n".join(texts)
    cut = joined.rfind("\n\n", 0, int(len(joined) * 0.95))
    return joined[:cut], joined[cut:]


class BudgetSpent(Exception):
    """Raised by the callback when a recipe's wall-clock budget is used up."""


def _builder(recipe: dict):
    """The model a flattened recipe names: gptlab's GPT, or ModernGPT for architecture "ModernGPT"."""
    if recipe.get("architecture", "GPT") == "GPT":
        return None
    modern = {k: recipe[k] for k in ("n_kv_head", "hidden", "norm", "mlp", "rope", "rope_base") if k in recipe}
    return _modern(**modern)


def run_recipe(name: str, recipe: dict, train_ids, val_ids, vocab_size: int, budget: float, val_bytes: int,
               build=None, seed: int = 0) -> dict:
    """`build(config)` makes the model (default: the recipe's architecture, GPT unless it says ModernGPT); `seed`
    seeds its weights and (1337 + seed) its batches."""
    config = GPTConfig(vocab_size=vocab_size, block_size=recipe["block_size"], n_layer=recipe["n_layer"],
                       n_head=recipe["n_head"], n_embd=recipe["n_embd"], dropout=recipe.get("dropout", 0.0))
    build = build or _builder(recipe) or GPT
    keys = ("batch_size", "lr", "min_lr", "warmup_steps", "weight_decay", "betas", "grad_clip")
    common = dict(progress=False, device="cpu", seed=1337 + seed, optimizer=recipe.get("optimizer", "adamw"),
                  **{k: recipe[k] for k in keys})
    # Measure the step time briefly, then plan the schedule (warm-up + cosine) to end when the budget does.
    torch.manual_seed(seed)
    probe = train(build(config), train_ids, None, TrainConfig(steps=12, eval_every=1000, eval_batches=1, **common))
    step_s = statistics.median(recipe["batch_size"] * recipe["block_size"] / t for t in probe.tokens_per_s[2:])
    steps = max(20, int(budget / step_s))
    # The schedule is planned to end with the budget: warm-up is the recipe's, but at most a tenth of the steps
    # (the same rule for both recipes; on a slow or busy machine a short budget would otherwise be all warm-up).
    common["warmup_steps"] = min(recipe["warmup_steps"], max(1, steps // 10))
    torch.manual_seed(seed)
    model = build(config)
    done = []

    def stop_at_budget(history) -> None:  # on a busy machine the probe misjudges: the budget is enforced as well
        done[:] = [history]
        if history.elapsed_s >= budget and not history.done:
            raise BudgetSpent

    try:
        history = train(model, train_ids, None, TrainConfig(steps=steps, eval_every=steps + 1, eval_batches=1, **common),
                        stop_at_budget)
    except BudgetSpent:
        history = done[0]
    loss = full_loss(model, val_ids)
    bpb = bits_per_byte(loss, len(val_ids) - 1, val_bytes)
    print(f"  {name}: {history.steps[-1]} of {steps} planned steps in {history.elapsed_s:.0f} s ({sum(history.tokens_per_s) / len(history.tokens_per_s):,.0f} "
          f"tok/s), val loss {loss:.4f} nats/token = {bpb:.4f} bits/byte; load average {load_average()}", flush=True)
    return {"steps": history.steps[-1], "seconds": history.elapsed_s, "loss": loss, "bpb": bpb}


def load_average() -> str:
    """The 1-minute load average as the OS reports it (a benchmark shares the CPU with nothing else when it is ~threads)."""
    try:
        return f"{__import__('os').getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def quality(budget: float) -> dict:
    from gptlab.tokenizers import BPETokenizer, CharTokenizer

    train_text, val_text = corpus_split()
    val_bytes = len(val_text.encode("utf-8"))
    bpe = BPETokenizer().train(train_text, vocab_size=RECIPE["vocab_size"])
    chars = CharTokenizer(text=train_text + val_text)
    results = {}
    results["course"] = run_recipe(f"course (BPE {RECIPE['vocab_size']}, {COURSE['n_layer']}x{COURSE['n_head']}x{COURSE['n_embd']}, "
                                   f"block {COURSE['block_size']}, batch {COURSE['batch_size']})", COURSE, encode_corpus(train_text, bpe),
                                   encode_corpus(val_text, bpe), bpe.vocab_size, budget, val_bytes)
    results["nanogpt"] = run_recipe("nanoGPT CPU (chars, 4x4x128, block 64, batch 12)", NANOGPT_CPU,
                                    to_tensor(chars.encode(train_text), chars.vocab_size),
                                    to_tensor(chars.encode(val_text), chars.vocab_size), chars.vocab_size, budget, val_bytes)
    return results


# ----- 4. layouts (lesson 14) ------------------------------------------------------------------------


def _modern(**change):
    def build(config: GPTConfig):
        return ModernGPT(ModernConfig(vocab_size=config.vocab_size, block_size=config.block_size, n_layer=config.n_layer,
                                      n_head=config.n_head, n_embd=config.n_embd, **change))
    return build


GPT2_PARTS = dict(norm="layer", mlp="gelu", rope=False)  # ModernGPT with GPT-2's parts, no biases
LAYOUTS = {
    "GPT-2 layout (gptlab GPT, biases)": GPT,
    "GPT-2 layout, no biases": _modern(**GPT2_PARTS),
    "+ RoPE alone": _modern(**{**GPT2_PARTS, "rope": True}),
    "+ RMSNorm alone": _modern(**{**GPT2_PARTS, "norm": "rms"}),
    "+ SwiGLU alone": _modern(**{**GPT2_PARTS, "mlp": "swiglu"}),
    "modern (RoPE, RMSNorm, SwiGLU, 2 kv heads)": _modern(n_kv_head=2),
}


def layouts(budget: float, seeds: int) -> dict:
    from gptlab.tokenizers import BPETokenizer

    train_text, val_text = corpus_split()
    val_bytes = len(val_text.encode("utf-8"))
    bpe = BPETokenizer().train(train_text, vocab_size=RECIPE["vocab_size"])
    train_ids, val_ids = encode_corpus(train_text, bpe), encode_corpus(val_text, bpe)
    table = {name: [] for name in LAYOUTS}
    for seed in range(seeds):  # seed by seed, every layout in turn: a drift in the machine's speed falls on all of them
        for name, build in LAYOUTS.items():
            run = run_recipe(f"{name}, seed {seed}", COURSE, train_ids, val_ids, bpe.vocab_size, budget, val_bytes, build, seed)
            table[name].append(run["bpb"])
    return table


# ----- 5. a faster recipe (lesson 14, --tune and --recipes) ---------------------------------------------


def flatten(name: str) -> dict:
    """A gptlab.training.recipes recipe as run_recipe reads it: its model, its optimiser settings, its architecture."""
    recipe = RECIPES[name]
    return {**recipe.model_config(), **recipe.train, "architecture": recipe.architecture,
            "betas": tuple(recipe.train.get("betas", (0.9, 0.95)))}


def tuning_split():
    """(training text, tuning text): the benchmark's training text with its own last ~5 % (cut at a blank line)
    held out. Hyperparameters are chosen on the tuning text; the benchmark's validation text is never read."""
    train_text, _ = corpus_split()
    cut = train_text.rfind("\n\n", 0, int(len(train_text) * 0.95))
    return train_text[:cut], train_text[cut:]


MODERN = dict(architecture="ModernGPT", n_kv_head=4)  # RoPE, RMSNorm, SwiGLU; every head its own keys and values
ROPE = dict(MODERN, norm="layer", mlp="gelu")  # GPT-2's parts without biases, RoPE in place of wpe (--layouts' best)
# Every configuration tried for the faster recipe, in the order tried: overrides of the course recipe (COURSE).
CANDIDATES = {
    "course recipe (GPT-2 layout, AdamW, lr 2e-3)": {},
    "RoPE, LayerNorm, GELU; AdamW, lr 2e-3": dict(ROPE),
    "RoPE, LayerNorm, GELU; AdamW, lr 4e-3": dict(ROPE, lr=4e-3, min_lr=4e-4),
    "RoPE, LayerNorm, GELU; Muon, lr 4e-3": dict(ROPE, optimizer="muon", lr=4e-3, min_lr=4e-4),
    "RoPE, LayerNorm, GELU; Muon, lr 8e-3": dict(ROPE, optimizer="muon", lr=8e-3, min_lr=8e-4),
    "RoPE, LayerNorm, GELU; Muon, lr 1.6e-2": dict(ROPE, optimizer="muon", lr=1.6e-2, min_lr=1.6e-3),
    "RoPE, LayerNorm, GELU; Muon, lr 8e-3, batch 8": dict(ROPE, optimizer="muon", lr=8e-3, min_lr=8e-4, batch_size=8),
    "RoPE, LayerNorm, GELU; Muon, lr 3.2e-2": dict(ROPE, optimizer="muon", lr=3.2e-2, min_lr=3.2e-3),
}


def tune(numbers: list[int] | None, budget: float) -> dict:
    from gptlab.tokenizers import BPETokenizer

    train_text, tune_text = tuning_split()
    tune_bytes = len(tune_text.encode("utf-8"))
    bpe = BPETokenizer().train(train_text, vocab_size=RECIPE["vocab_size"])
    train_ids, tune_ids = encode_corpus(train_text, bpe), encode_corpus(tune_text, bpe)
    results = {}
    for number, (name, change) in enumerate(CANDIDATES.items(), 1):
        if numbers and number not in numbers:
            continue
        results[name] = run_recipe(name, {**COURSE, **change}, train_ids, tune_ids, bpe.vocab_size, budget, tune_bytes)["bpb"]
    return results


def recipes(name: str, budget: float, seeds: int) -> dict:
    """gptlab's recipe `name` against nanoGPT's CPU recipe, `seeds` seeds each, on section 2's split."""
    from gptlab.tokenizers import BPETokenizer, CharTokenizer

    ours = flatten(name)
    train_text, val_text = corpus_split()
    val_bytes = len(val_text.encode("utf-8"))
    bpe = BPETokenizer().train(train_text, vocab_size=ours["vocab_size"])
    chars = CharTokenizer(text=train_text + val_text)
    bpe_ids = encode_corpus(train_text, bpe), encode_corpus(val_text, bpe)
    char_ids = to_tensor(chars.encode(train_text), chars.vocab_size), to_tensor(chars.encode(val_text), chars.vocab_size)
    table = {f"gptlab train --recipe {name}": [], "nanoGPT CPU recipe": []}
    for seed in range(seeds):  # interleaved, so a change in the machine's speed falls on both
        table[f"gptlab train --recipe {name}"].append(
            run_recipe(f"recipe {name}, seed {seed}", ours, *bpe_ids, bpe.vocab_size, budget, val_bytes, seed=seed)["bpb"])
        table["nanoGPT CPU recipe"].append(
            run_recipe(f"nanoGPT CPU, seed {seed}", NANOGPT_CPU, *char_ids, chars.vocab_size, budget, val_bytes, seed=seed)["bpb"])
    return table


# ----- 3. memory -------------------------------------------------------------------------------------


def peak_rss(steps: int, threads: int | None) -> float:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "gptlab", "train", "--steps", str(steps), "--eval-every", str(steps),
                   "--out", f"{directory}/rss.safetensors", "--no-progress"] + (["--threads", str(threads)] if threads else [])
        subprocess.run(command, check=True, capture_output=True, env={**__import__("os").environ, "GPTLAB_CACHE": directory})
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB -> GiB


def save(name: str, args, table: dict, **extra) -> None:
    """Write `table` ({row: [bits per byte per seed]}) to gptlab/training/results/NAME.json, with how it was made."""
    import json
    from pathlib import Path

    rows = [{"name": row, "bpb": [round(v, 4) for v in values], "median": round(statistics.median(values), 4),
             "min": round(min(values), 4), "max": round(max(values), 4)} for row, values in table.items()]
    result = {"command": "python benchmarks/train.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
              "machine": machine(), "load_average_end": load_average(), "budget_s": args.budget,
              "seeds": args.seeds if name != "tuning" else 1, "rows": rows, **extra}
    path = Path(__file__).resolve().parents[1] / "gptlab" / "training" / "results" / f"{name}.json"
    if name == "tuning" and path.exists():  # candidates are tried a few at a time: keep the earlier ones
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if earlier["budget_s"] == args.budget:
            fresh = {row["name"] for row in rows}
            rows = [row for row in earlier["rows"] if row["name"] not in fresh] + rows
            result["rows"] = rows
            result["command"] = "; ".join(dict.fromkeys(earlier["command"].split("; ") + [result["command"]]))
            result["candidates"] = {**earlier.get("candidates", {}), **result.get("candidates", {})}
    path.write_text(json.dumps(result, indent=1, default=list) + "\n", encoding="utf-8")
    print(f"   saved to {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training per recipe for quality per minute")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved throughput rounds (median reported)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per model per round")
    parser.add_argument("--threads", type=int, help="torch threads (default: PyTorch's choice)")
    parser.add_argument("--rss-steps", type=int, default=30)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--layouts", action="store_true", help="only lesson 14's table: GPT-2 layout, modern, each change alone")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per layout for --layouts, per recipe for --recipes")
    parser.add_argument("--tune", nargs="*", type=int, metavar="N",
                        help="only the faster recipe's candidates number N (1-based, in CANDIDATES' order; all without one), "
                             "one seed each, on the tuning split")
    parser.add_argument("--recipes", metavar="RECIPE", nargs="?", const="fast",
                        help="only gptlab's recipe RECIPE (default: fast) against nanoGPT's CPU recipe, --seeds seeds each")
    parser.add_argument("--save", action="store_true",
                        help="with --layouts, --tune or --recipes: write the table to gptlab/training/results/ (lesson 14 shows it)")
    args = parser.parse_args(argv)
    # A benchmark keeps the threads it asked for: the loop's CPU sharing (gptlab.training.cpu_share) would halve
    # them whenever another gptlab process trains, and the figures would mix two thread counts.
    __import__("os").environ["GPTLAB_CPU_SHARE"] = "0"
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; load average at the start {load_average()}")
    if args.tune is not None:
        print(f"5a. faster recipe, candidates on the tuning split (the training text's last ~5 %), {args.budget:.0f} s each, seed 0:")
        results = tune(args.tune, args.budget)
        for name, bpb in results.items():
            print(f"   {name:<52} {bpb:.4f} bpb")
        if args.save:
            save("tuning", args, {name: [bpb] for name, bpb in results.items()}, split="tuning (the training text's last ~5 %)",
                 candidates={name: CANDIDATES[name] for name in results})
        return 0
    if args.recipes:
        print(f"5b. gptlab train --recipe {args.recipes} against nanoGPT's CPU recipe: validation bits per byte after "
              f"{args.budget:.0f} s each, {args.seeds} seeds, section 2's split:")
        table = recipes(args.recipes, args.budget, args.seeds)
        (ours, mine), (_, theirs) = table.items()
        for name, values in table.items():
            print(f"   {name:<36} median {statistics.median(values):.4f} bpb (min {min(values):.4f}, max {max(values):.4f})")
        lower = 100 * (1 - statistics.median(mine) / statistics.median(theirs))
        print(f"   {ours}: {lower:.1f} % lower bits per byte than nanoGPT's CPU recipe (medians; goal >= 10 %)")
        if args.save:
            save("recipes", args, table, recipe=flatten(args.recipes), lower_percent=round(lower, 2))
        return 0
    if args.layouts:
        print(f"4. layouts: validation bits per byte after {args.budget:.0f} s of training each, {args.seeds} seeds "
              f"(course recipe's shape, batch and optimiser):")
        table = layouts(args.budget, args.seeds)
        base = statistics.median(table["GPT-2 layout (gptlab GPT, biases)"])
        for name, values in table.items():
            median = statistics.median(values)
            print(f"   {name:<44} median {median:.4f} bpb (min {min(values):.4f}, max {max(values):.4f}); "
                  f"{100 * (median / base - 1):+.1f} % against GPT-2's layout")
        if args.save:
            save("layouts", args, table)
        return 0
    if not args.skip_throughput:
        print("1. throughput (forward + backward + AdamW step), course config, batch 16 x 256:")
        t = throughput(args.rounds, args.steps)
        print(f"   gptlab {t['ours']:,.0f} tok/s vs transformers GPT2LMHeadModel {t['theirs']:,.0f} tok/s "
              f"({t['params']:,} parameters): median ratio {t['ratio']:.2f}x (target >= 1.0x, goal >= 1.2x)")
    if not args.skip_quality:
        print(f"2. quality per minute: validation bits per byte after {args.budget:.0f} s of training each:")
        q = quality(args.budget)
        ratio = q["nanogpt"]["bpb"] / q["course"]["bpb"]
        verdict = "lower (better)" if q["course"]["bpb"] < q["nanogpt"]["bpb"] else "NOT lower"
        print(f"   course {q['course']['bpb']:.4f} bpb vs nanoGPT CPU recipe {q['nanogpt']['bpb']:.4f} bpb: ours is {verdict}, "
              f"nanoGPT/course = {ratio:.2f}x")
    rss = peak_rss(args.rss_steps, args.threads)
    print(f"3. peak RSS of `gptlab train` ({args.rss_steps} steps, course recipe) in a subprocess: {rss:.2f} GiB "
          f"({'<' if rss < 3 else '>='} 3 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
