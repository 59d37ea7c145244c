"""The smallest training loop that trains a GPT: the one a learner writes in lesson 07, from their own parts.

    losses = train_loop(model, train_data, steps=300, batch_size=16, lr=3e-3)

Random windows (`get_batch`), one update per step in the right order (`train_step`), AdamW at a constant
learning rate. Everything else a real run wants (warm-up and cosine decay, weight decay on the 2-D weights
only, evaluation, checkpoints, resuming) is what `gptlab.training.loop.train` adds.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import torch

from gptlab.data.batches import get_batch
from gptlab.training.loop import train_step


def train_loop(model: torch.nn.Module, data: torch.Tensor, steps: int, batch_size: int, lr: float,
               grad_clip: float = 1.0, seed: int = 0) -> list[float]:
    """Train `model` (a GPT: model(x, y) -> (logits, loss), windows of model.config.block_size tokens) for `steps`
    updates on random windows of `data` (1-D token ids), drawn by a generator seeded with `seed`; return the
    loss of every step, before its update.

    Taught in: solutions/07_pretraining.ipynb
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    block_size = model.config.block_size
    model.train()
    losses = []
    for _ in range(steps):
        x, y = get_batch(data, batch_size, block_size, generator)
        losses.append(train_step(model, optimizer, x, y, grad_clip))
    model.eval()
    return losses
