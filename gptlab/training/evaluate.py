"""A model's loss on a whole text, not on random windows: the figure the shipped model's README and tests pin.

    loss = full_loss(model, val_ids)                               # nats per predicted token
    bpb = validation_bits_per_byte(model, tokenizer)               # on the course's validation text

Taught in: solutions/07_pretraining.ipynb (bits per byte compare models with different tokenizers)
"""

from __future__ import annotations

import torch

from gptlab.data.batches import bits_per_byte


@torch.no_grad()
def full_loss(model, ids: torch.Tensor, batch_size: int = 64) -> float:
    """Mean loss per predicted token over the whole of `ids` (1-D), in non-overlapping windows of block_size."""
    was_training = model.training
    model.eval()
    T = model.config.block_size
    n = (len(ids) - 1) // T
    if n < 1:
        raise ValueError(f"{len(ids)} tokens are fewer than one window of block_size + 1 = {T + 1}")
    data = ids.to(torch.int64)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, n, batch_size):
        rows = torch.arange(start, min(n, start + batch_size)) * T
        windows = data[rows[:, None] + torch.arange(T + 1)].to(device)  # (B, T + 1)
        _, loss = model(windows[:, :-1], windows[:, 1:])
        total += float(loss) * windows[:, 1:].numel()
        count += windows[:, 1:].numel()
    model.train(was_training)
    return total / count


def validation_bits_per_byte(model, tokenizer, recipe=None) -> float:
    """Bits per UTF-8 byte of `model` on the validation text of `recipe` (default: the shipped recipe's, which
    every recipe shares: the last 5 % of the pretraining plays' tokens)."""
    from gptlab.training.recipes import RECIPES, prepare_validation

    val_ids = prepare_validation(recipe or RECIPES["shipped"], tokenizer)
    loss = full_loss(model, val_ids)
    n_bytes = len(tokenizer.decode(val_ids.tolist()).encode("utf-8"))
    return bits_per_byte(loss, len(val_ids) - 1, n_bytes)
