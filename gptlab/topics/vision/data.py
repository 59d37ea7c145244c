"""Images as tokens, part 2: the digits data set, and images read pixel by pixel as a GPT's token sequence.

A GPT predicts the next token from a vocabulary. Quantise each pixel to one of a few grey levels and
an 8×8 image becomes 64 tokens, read row by row; put the digit's class in front as one more token
and the GPT learns to draw the digit it is asked for, one pixel at a time (as Image GPT did with
colour clusters on larger images).

Token ids: 0 … levels-1 are grey levels (0 = white paper, levels-1 = full ink); levels + k is
"draw the digit k"; levels + n_classes starts an image of any class (no condition).

Taught in: solutions/13_images_as_tokens.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gptlab.generation.loop import Sampling, decode_many

N_CLASSES = 10  # the digits 0 … 9


@dataclass(frozen=True)
class DigitSplit:
    """The 8×8 digits, split once: images (N, 1, 8, 8) floats in [0, 1], labels (N,) int64.

    Taught in: solutions/13_images_as_tokens.ipynb
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> DigitSplit:
    """scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels; shipped with it, no download), split so
    that each class keeps its share in train and test (stratified), the same way on every machine.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction!r}")
    digits = sklearn_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8); the data's values are 0 … 16
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train, test = train_test_split(torch.arange(len(labels)).numpy(), test_size=test_fraction,
                                   stratify=labels.numpy(), random_state=seed)
    train, test = torch.from_numpy(train), torch.from_numpy(test)
    return DigitSplit(images[train], labels[train], images[test], labels[test])


def quantize(images: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Floats in [0, 1] -> ints in 0 … levels-1 (round to the nearest level); the shape is kept.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int >= 2; got {levels!r}")
    if images.is_floating_point() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"pixel values must lie in [0, 1]; got {images.min().item():.3g} … {images.max().item():.3g} "
                         "(divide by the largest value first)")
    return torch.round(images * (levels - 1)).long()


def dequantize(codes: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Ints in 0 … levels-1 -> floats in [0, 1].

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    return codes.float() / (levels - 1)


def vocab_size(levels: int = 4) -> int:
    """Grey levels, one token per class, one 'any class' start token.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    return levels + N_CLASSES + 1


def to_sequences(images: torch.Tensor, labels: torch.Tensor | None = None, levels: int = 4) -> torch.Tensor:
    """(B, 1, H, W) images in [0, 1] -> (B, 1 + H·W) token ids: a start token, then the pixels row by row.

    The start token is `levels + label` (draw this digit) if labels are given, else `levels + N_CLASSES`.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (B, 1, H, W), one grey channel; got {tuple(images.shape)}")
    B = images.shape[0]
    pixels = quantize(images, levels).flatten(1)  # (B, H·W), row by row
    if labels is None:
        start = torch.full((B,), levels + N_CLASSES)
    else:
        if labels.shape != (B,) or labels.min() < 0 or labels.max() >= N_CLASSES:
            raise ValueError(f"labels must be {B} ints in 0 … {N_CLASSES - 1}; got {tuple(labels.shape)} "
                             f"{labels.min().item() if labels.numel() else ''} … {labels.max().item() if labels.numel() else ''}")
        start = levels + labels
    return torch.cat([start[:, None], pixels], dim=1)


def from_sequences(tokens: torch.Tensor, levels: int = 4, height: int = 8, width: int = 8):
    """The inverse of `to_sequences`: (B, 1 + H·W) -> images (B, 1, H, W) in [0, 1], labels (B,) (-1: none).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if tokens.dim() != 2 or tokens.shape[1] != 1 + height * width:
        raise ValueError(f"expected (B, {1 + height * width}) tokens for {height}×{width} images; got {tuple(tokens.shape)}")
    pixels = tokens[:, 1:]
    if pixels.min() < 0 or pixels.max() >= levels:
        raise ValueError(f"pixel tokens must be grey levels 0 … {levels - 1}; found {pixels.min().item()} … {pixels.max().item()}")
    labels = tokens[:, 0] - levels
    labels = torch.where((labels >= 0) & (labels < N_CLASSES), labels, torch.full_like(labels, -1))
    return dequantize(pixels, levels).view(-1, 1, height, width), labels


def language_model_batch(sequences: torch.Tensor):
    """Inputs and next-token targets for a GPT: x = seq[:, :-1], y = seq[:, 1:] (the start token is never a target).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    return sequences[:, :-1], sequences[:, 1:]


def train_pixel_gpt(model, sequences: torch.Tensor, *, steps: int = 500, batch_size: int = 64, lr: float = 3e-3,
                    seed: int = 0, progress: bool = True) -> list[float]:
    """Train a gptlab GPT on pixel sequences with AdamW and a cosine learning rate; returns each step's loss.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    from gptlab.training.loop import optimise, warmup_cosine

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))
    batches = (language_model_batch(sequences[torch.randint(0, sequences.shape[0], (batch_size,), generator=generator)])
               for _ in range(steps))
    model.train()
    losses = optimise(optimizer, (model(x, y)[1] for x, y in batches), schedule=schedule, steps=steps, progress=progress)
    model.eval()
    return losses


def sample_pixels(model, start_tokens: torch.Tensor, levels: int = 4, n_pixels: int = 64, temperature: float = 1.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw images pixel by pixel: start_tokens (B,) -> sequences (B, 1 + n_pixels).

    Only grey levels may be drawn (class and start tokens are masked out): a pixel is always a pixel.
    Through gptlab.generation's one decoding loop (allowed_ids = the grey levels).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature!r}")
    model.eval()
    starts = start_tokens.reshape(-1).tolist()
    drawn = decode_many(model, [[t] for t in starts], Sampling(temperature, allowed_ids=tuple(range(levels))), n_pixels,
                        generator=generator, use_cache=False)
    return torch.tensor([[t] + pixels for t, pixels in zip(starts, drawn)], dtype=torch.long)
