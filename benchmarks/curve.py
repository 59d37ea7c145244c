"""The weights README's figure: validation bits per byte against tokens seen, for the files the course ships.

    .venv/bin/python benchmarks/curve.py      # writes gptlab/weights/curve.png

Each shipped file carries its loss history (gptlab.io.checkpoint: the header's metadata). Its validation losses
are estimates on random windows of the validation text (eval_batches of them, nats per token), taken every
eval_every steps; they become bits per byte through the validation text's own count of tokens and bytes
(gptlab.data.batches.bits_per_byte; the same tokenizer for every file here, so the same ratio). The last point of each curve is the whole-text figure the
README's table gives (gptlab.training.evaluate.validation_bits_per_byte), drawn as a marker.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WEIGHTS = Path(__file__).resolve().parent.parent / "gptlab" / "weights"


def curves() -> dict[str, dict]:
    """{name: {"tokens": [...], "bpb": [...], "final_bpb": float, "phase_end": tokens or None}} per shipped file."""
    from gptlab.data.batches import bits_per_byte
    from gptlab.io.checkpoint import load_checkpoint
    from gptlab.io.models import load, shipped_path
    from gptlab.training.evaluate import validation_bits_per_byte
    from gptlab.training.recipes import RECIPES, prepare_validation

    result = {}
    for name in ("small", "shipped"):
        checkpoint = load_checkpoint(shipped_path(name))
        model, tokenizer = load(name)
        val_ids = prepare_validation(RECIPES["shipped"], tokenizer)
        n_tokens, n_bytes = len(val_ids) - 1, len(tokenizer.decode(val_ids.tolist()).encode("utf-8"))
        config, history = checkpoint.train_config, checkpoint.history
        per_step = config["batch_size"] * config.get("grad_accum", 1) * model.config.block_size
        recipe = (checkpoint.metadata or {}).get("recipe") or {}
        main_steps = (recipe.get("train") or {}).get("steps") if recipe.get("finish") else None
        result[name] = {"tokens": [step * per_step for step in history["eval_steps"]],
                        "bpb": [bits_per_byte(loss, n_tokens, n_bytes) for loss in history["val_losses"]],
                        "every": config["eval_every"],
                        "final_bpb": validation_bits_per_byte(model, tokenizer),
                        "final_tokens": history["eval_steps"][-1] * per_step,
                        "phase_end": main_steps * per_step if main_steps else None}
    return result


def plot(data: dict[str, dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2))
    for (name, curve), colour in zip(data.items(), ["tab:gray", "tab:blue"]):
        ax.plot([t / 1e6 for t in curve["tokens"]], curve["bpb"], color=colour, label=f"{name} (estimates every {curve['every']} steps)")
        ax.scatter([curve["final_tokens"] / 1e6], [curve["final_bpb"]], color=colour, marker="D", zorder=3,
                   label=f"{name}: the whole validation text, {curve['final_bpb']:.3f}")
        if curve["phase_end"]:
            ax.axvline(curve["phase_end"] / 1e6, color=colour, ls=":", label=f"{name}: the copying phase starts")
    ax.set_xlabel("tokens seen (millions)"); ax.set_ylabel("validation bits per byte")
    ax.set_title("validation bits per byte against tokens seen"); ax.grid(alpha=0.3); ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    out = plot(curves(), WEIGHTS / "curve.png")
    print(f"wrote {out}")
