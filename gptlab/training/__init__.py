"""Training: the loop (`loop`: AdamW groups, warm-up + cosine, evaluation, checkpoints, data parallelism),
the recipes of `gptlab train` (`recipes`), the command itself (`cli`) and the English of its lines (`messages`).

    from gptlab.training import TrainConfig, train
    history = train(model, train_ids, val_ids, TrainConfig(steps=300))

Names load on first use, so `gptlab --help` (which reads `cli`) does not import torch.

Taught in: solutions/07_pretraining.ipynb
"""

_EXPORTS = {"History": "loop", "TrainConfig": "loop", "configure_optimizer": "loop", "estimate_loss": "loop",
            "get_lr": "loop", "next_token_loss": "loop", "optimise": "loop", "train_step": "loop", "sample": "loop", "train": "loop", "warmup_cosine": "loop",
            "RECIPES": "recipes", "Recipe": "recipes", "prepare_data": "recipes"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"gptlab.training.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gptlab.training' has no attribute {name!r}")
