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


@torch.no_grad()
def repeat_losses(model, halves: torch.Tensor) -> tuple[float, float]:
    """In-context copying: each row of `halves` (B, n) is fed twice in a row, (B, 2n); returns the mean loss
    (nats per token) on the first copy (tokens 1 .. n-1: token 0 has no context) and on the second (tokens
    n .. 2n-1), each averaged over the batch. A model that copies what it has just read scores far lower on
    the second; one that does not scores about the same."""
    if halves.dim() != 2 or halves.shape[1] < 2:
        raise ValueError(f"halves must be (B, n) token ids with n >= 2; got shape {tuple(halves.shape)}")
    n = halves.shape[1]
    if 2 * n - 1 > model.config.block_size:
        raise ValueError(f"two copies of {n} tokens need a context of {2 * n - 1}; the model has {model.config.block_size}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    seq = torch.cat([halves, halves], dim=1).to(torch.int64).to(device)
    logits, _ = model(seq[:, :-1])
    losses = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), seq[:, 1:], reduction="none")  # (B, 2n-1)
    model.train(was_training)
    return float(losses[:, : n - 1].mean()), float(losses[:, n - 1:].mean())


def unseen_passages(tokenizer, count: int = 10, length: int = 100) -> torch.Tensor:
    """`count` passages of `length` tokens from the plays no recipe trains on (gptlab.data.FINETUNE_SPLITS'
    test plays), spread evenly through them: (count, length) ids, the same on every call."""
    from gptlab.data import FINETUNE_SPLITS, plays

    test = [play for play in plays() if play.title in FINETUNE_SPLITS["test"]]
    ids = torch.tensor([i for play in test for i in tokenizer.encode(play.text)])
    starts = torch.linspace(0, len(ids) - length - 1, count).long()
    return torch.stack([ids[s:s + length] for s in starts.tolist()])


def random_halves(vocab: int, count: int = 16, length: int = 50, seed: int = 0) -> torch.Tensor:
    """`count` rows of `length` token ids drawn uniformly from 0 .. vocab-1 (seeded): text no model has seen."""
    return torch.randint(0, vocab, (count, length), generator=torch.Generator().manual_seed(seed))
