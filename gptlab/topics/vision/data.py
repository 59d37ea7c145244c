"""Images as tokens, part 2: the digits data set, and images read pixel by pixel as a GPT's token sequence.

A GPT predicts the next token from a vocabulary. Quantise each pixel to one of a few grey levels and
an 8×8 image becomes 64 tokens, read row by row; put the digit's class in front as one more token
and the GPT learns to draw the digit it is asked for, one pixel at a time. (OpenAI's Image GPT, Chen et
al. 2020, read images the same way, row by row, with 512 k-means colour clusters as its tokens, on
32×32 to 64×64 ImageNet images and without their labels.)

Token ids: 0 … levels-1 are grey levels (0 = white paper, levels-1 = full ink); levels + k is
"draw the digit k"; levels + n_classes starts an image of any class (no condition). `train_pixel_gpt`
puts that "any digit" token in front of a share of the training images in place of their digit
(`drop_condition`, as classifier-free guidance trains), so the model learns p(image) as well as
p(image | digit) and can draw from either start; `sample_pixels(..., guidance=w)` combines the two
(classifier-free guidance, `Guided`) to lean harder towards the digit asked for.

Taught in: solutions/13_images_as_tokens.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

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
    """Grey levels, one token per class, one 'any class' start token (trained by `train_pixel_gpt`'s `unconditioned`).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    return levels + N_CLASSES + 1


def to_sequences(images: torch.Tensor, labels: torch.Tensor | None = None, levels: int = 4) -> torch.Tensor:
    """(B, 1, H, W) images in [0, 1] -> (B, 1 + H·W) token ids: a start token, then the pixels row by row.

    The start token is `levels + label` (draw this digit) if labels are given, else `levels + N_CLASSES`
    (`any_digit_token`: an image of any class).

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


def any_digit_token(levels: int = 4) -> int:
    """The start token of an image of any class, `levels + N_CLASSES` (the last id of the vocabulary).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    return levels + N_CLASSES


def _check_start_tokens(sequences: torch.Tensor, levels: int) -> None:
    starts = sequences[:, 0]
    if starts.numel() and (starts.min() < levels or starts.max() > any_digit_token(levels)):
        raise ValueError(f"start tokens must be {levels} … {any_digit_token(levels)} (a digit token or the 'any digit' "
                         f"token for levels={levels}); found {starts.min().item()} … {starts.max().item()}: were the "
                         f"sequences made with to_sequences(..., levels={levels})?")


def drop_condition(sequences: torch.Tensor, share: float, levels: int = 4,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of `sequences` (B, 1 + H·W) in which each row's start token is, with probability `share`, replaced
    by the "any digit" token; the pixels are untouched. Trained on such batches, one model learns both to draw
    the digit it is asked for and to draw a digit of its own choosing.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1; got {share!r}")
    _check_start_tokens(sequences, levels)
    if share == 0:
        return sequences.clone()
    dropped = torch.rand(sequences.shape[0], generator=generator) < share
    out = sequences.clone()
    out[dropped, 0] = any_digit_token(levels)
    return out


def train_pixel_gpt(model, sequences: torch.Tensor, *, levels: int = 4, steps: int = 500, batch_size: int = 64,
                    lr: float = 3e-3, unconditioned: float = 0.1, seed: int = 0, progress: bool = True) -> list[float]:
    """Train a gptlab GPT on pixel sequences with AdamW and a cosine learning rate; returns each step's loss.

    In every batch a share `unconditioned` of the sequences (each one with that probability, drawn from the
    seeded generator) starts with the "any digit" token instead of its digit (`drop_condition`), so that start
    token is trained too; unconditioned=0 trains only the digit tokens.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    from gptlab.training.loop import optimise, warmup_cosine

    _check_start_tokens(sequences, levels)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))

    def batches():
        for _ in range(steps):
            batch = sequences[torch.randint(0, sequences.shape[0], (batch_size,), generator=generator)]
            yield language_model_batch(drop_condition(batch, unconditioned, levels, generator))

    model.train()
    losses = optimise(optimizer, (model(x, y)[1] for x, y in batches()), schedule=schedule, steps=steps, progress=progress)
    model.eval()
    return losses


class Guided(nn.Module):
    """Classifier-free guidance: a pixel GPT whose next-pixel logits are pushed away from the unconditioned ones,
    u + weight · (c − u), where c are the logits after the sequence's own start token and u those after the
    "any digit" token. weight 1 is the plain model; above 1 the drawing leans harder towards the digit asked for.

    Needs a GPT trained with the "any digit" token (`train_pixel_gpt`'s `unconditioned` > 0). Each forward pass
    reads the model twice; it carries no KV cache. A row that already starts with the "any digit" token is unchanged.

    Taught in: solutions/13_images_as_tokens.ipynb
    """

    def __init__(self, model: nn.Module, weight: float, levels: int = 4):
        super().__init__()
        self.model, self.weight, self.levels = model, float(weight), levels
        self.config = model.config  # what the decoding loop reads: block_size, vocab_size

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, caches=None):
        if caches is not None or targets is not None:
            raise ValueError("Guided only draws: it takes no targets and no KV cache (decode with use_cache=False)")
        if (idx[:, 0] < self.levels).any():
            raise ValueError("every window must begin with its start token: the model's block_size must hold the "
                             "whole image but its last pixel")
        free = idx.clone()
        free[:, 0] = any_digit_token(self.levels)
        conditioned, unconditioned = self.model(idx)[0], self.model(free)[0]
        return unconditioned + self.weight * (conditioned - unconditioned), None


def sample_pixels(model, start_tokens: torch.Tensor, levels: int = 4, n_pixels: int = 64, temperature: float = 1.0,
                  generator: torch.Generator | None = None, guidance: float = 1.0) -> torch.Tensor:
    """Draw images pixel by pixel: start_tokens (B,) -> sequences (B, 1 + n_pixels).

    Only grey levels may be drawn (class and start tokens are masked out): a pixel is always a pixel.
    Through gptlab.generation's one decoding loop (allowed_ids = the grey levels). guidance ≠ 1 draws from
    `Guided(model, guidance, levels)` instead (classifier-free guidance).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature!r}")
    model.eval()
    if guidance != 1:
        model = Guided(model, guidance, levels)
    starts = start_tokens.reshape(-1).tolist()
    drawn = decode_many(model, [[t] for t in starts], Sampling(temperature, allowed_ids=tuple(range(levels))), n_pixels,
                        generator=generator, use_cache=False)
    return torch.tensor([[t] + pixels for t, pixels in zip(starts, drawn)], dtype=torch.long)
