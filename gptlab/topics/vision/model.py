"""Images as tokens, part 1: cut an image into patches and classify it with a vision transformer (ViT).

A transformer reads a sequence of vectors; it does not care where they come from. A ViT makes that
sequence from an image: cut it into P×P patches, flatten each patch, project it linearly to d_model,
add a learned position embedding per patch, put one extra learned vector (the *class token*) in
front, run transformer blocks with no causal mask (every patch may look at every other), and read
the class token's output to classify. Part 2, reading the pixels one by one as a GPT would, is in
`gptlab.topics.vision.data`.

Conventions: images are (B, C, H, W) floats; patches are numbered row by row (left to right, then
top to bottom), and each patch is flattened channel first, (C, P, P), as a Conv2d weight and
F.unfold order them.

Taught in: solutions/13_images_as_tokens.ipynb
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.nn.attention import MultiHeadAttention
from gptlab.nn.layers import Block, LayerNorm
from gptlab.training.loop import optimise, warmup_cosine


def _check_images(images, patch_size: int) -> None:
    if not isinstance(patch_size, int) or isinstance(patch_size, bool) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int; got {patch_size!r}")
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor of shape (B, C, H, W); got {type(images).__name__}")
    if images.dim() != 4:
        fix = " (one grey image (H, W): use images[None, None]; a batch (B, H, W): images[:, None])" if images.dim() in (2, 3) else ""
        raise ValueError(f"images must have shape (B, C, H, W); got {tuple(images.shape)}{fix}")
    H, W = images.shape[-2:]
    for side, size in (("height", H), ("width", W)):
        if size % patch_size:
            raise ValueError(f"images of {H}×{W} pixels cannot be cut into {patch_size}×{patch_size} patches: "
                             f"the {side} {size} is not divisible by {patch_size} (crop or pad the images, or pick a "
                             f"patch size that divides both sides)")


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches: (B, C, H, W) -> (B, N, C·P·P), N = (H/P)·(W/P).

    Patch n = r·(W/P) + c covers rows r·P … r·P+P-1 and columns c·P … c·P+P-1 (row by row); its vector
    lists channel 0's P×P pixels row by row, then channel 1's, and so on.

    >>> patchify(torch.arange(16.).view(1, 1, 4, 4), 2)[0]
    tensor([[ 0.,  1.,  4.,  5.],
            [ 2.,  3.,  6.,  7.],
            [ 8.,  9., 12., 13.],
            [10., 11., 14., 15.]])

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    _check_images(images, patch_size)
    B, C, H, W = images.shape
    P = patch_size
    x = images.reshape(B, C, H // P, P, W // P, P)  # split each side into (which patch, where inside it)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, P, P): the patch's place first, its pixels last
    return x.reshape(B, (H // P) * (W // P), C * P * P)


def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """The inverse of `patchify`: (B, N, C·P·P) -> (B, C, H, W).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    P = patch_size
    if not isinstance(patches, torch.Tensor) or patches.dim() != 3:
        raise ValueError(f"patches must have shape (B, N, C·P·P); got {tuple(getattr(patches, 'shape', ()))}")
    if height % P or width % P:
        raise ValueError(f"{height}×{width} is not a whole number of {P}×{P} patches")
    B, N, D = patches.shape
    rows, cols = height // P, width // P
    if N != rows * cols or D % (P * P):
        raise ValueError(f"{N} patches of {D} values do not make {height}×{width} images with {P}×{P} patches "
                         f"(expected {rows * cols} patches of C·{P * P} values)")
    C = D // (P * P)
    x = patches.reshape(B, rows, cols, C, P, P).permute(0, 3, 1, 4, 2, 5)  # (B, C, rows, P, cols, P)
    return x.reshape(B, C, height, width)


def classify_with_class_token(x: torch.Tensor, cls_token: torch.Tensor, encoder: Callable, head: Callable) -> torch.Tensor:
    """Put the class token in front of the patch tokens, encode, classify from the class token's output.

    x: (B, N, d) patch embeddings (positions already added); cls_token: (1, 1, d), one learned vector shared
    by every image; encoder: (B, N+1, d) -> (B, N+1, d); head: (B, d) -> (B, n_classes). Returns the logits.
    The class token is *concatenated* (a new position with nothing of its own to describe), so after the
    encoder its output is a summary that attention gathered from all the patches.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if cls_token.dim() != 3 or cls_token.shape[:2] != (1, 1) or cls_token.shape[-1] != x.shape[-1]:
        raise ValueError(f"cls_token must have shape (1, 1, {x.shape[-1]}); got {tuple(cls_token.shape)}")
    z = torch.cat([cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, N+1, d): one copy per image, in front
    return head(encoder(z)[:, 0])  # (B, n_classes): read position 0, the class token


class EncoderBlock(Block):
    """A pre-norm transformer block with no causal mask: every token attends to every token.

    The same parts and parameter names as `gptlab.nn.layers.Block` (ln_1, attn, ln_2, mlp); only the
    attention differs, MultiHeadAttention(causal=False). An image has no "future" to hide.

    Taught in: solutions/13_images_as_tokens.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__(d_model, n_heads, bias=bias, dropout=dropout)
        self.attn = MultiHeadAttention(d_model, n_heads, bias=bias, dropout=dropout, causal=False)

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        """x (B, T, d) -> (B, T, d); with return_weights, also the attention weights (B, nh, T, T)."""
        update, weights = self.attn(self.ln_1(x), return_weights=True) if return_weights else (self.attn(self.ln_1(x)), None)
        x = x + update
        x = x + self.mlp(self.ln_2(x))
        return (x, weights) if return_weights else x


class ViT(nn.Module):
    """A small vision transformer: patchify, embed, add positions, prepend a class token, encode, classify.

    ViT(image_size=8, patch_size=4, channels=1, n_classes=10, d_model=64, n_layer=2, n_heads=4);
    forward(images (B, C, H, W)) -> logits (B, n_classes). `attention_maps(images)` gives each layer's
    attention weights (B, nh, N+1, N+1), position 0 being the class token.

    Taught in: solutions/13_images_as_tokens.ipynb
    """

    def __init__(self, image_size: int = 8, patch_size: int = 4, channels: int = 1, n_classes: int = 10,
                 d_model: int = 64, n_layer: int = 2, n_heads: int = 4, dropout: float = 0.0):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
        self.image_size, self.patch_size, self.channels = image_size, patch_size, channels
        self.n_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Linear(channels * patch_size * patch_size, d_model)  # one shared projection for every patch
        # Learned, one per patch: without them attention sees a *set* of patches and cannot tell top from bottom.
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, self.n_patches, d_model))
        self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, d_model))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(EncoderBlock(d_model, n_heads, dropout=dropout) for _ in range(n_layer))
        self.ln_f = LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def _check(self, images) -> None:
        _check_images(images, self.patch_size)
        _, C, H, W = images.shape
        if C != self.channels:
            raise ValueError(f"this ViT reads images with {self.channels} channel(s); got {C} (images of shape "
                             f"{tuple(images.shape)}): grey images have 1 channel, colour images 3")
        if (H, W) != (self.image_size, self.image_size):
            raise ValueError(f"this ViT reads {self.image_size}×{self.image_size} images (its position table has "
                             f"{self.n_patches} patches); got {H}×{W}")

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, d): each patch projected, plus its position embedding."""
        self._check(images)
        return self.drop(self.patch_embed(patchify(images, self.patch_size)) + self.pos_embed)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, d): the blocks, then the final LayerNorm (pre-norm blocks leave it unnormalised)."""
        for block in self.blocks:
            z = block(z)
        return self.ln_f(z)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return classify_with_class_token(self.embed(images), self.cls_token, self.encode, self.head)

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's attention weights, (B, nh, N+1, N+1); row 0 is what the class token looks at."""
        x = self.embed(images)
        z = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        maps = []
        for block in self.blocks:
            z, weights = block(z, return_weights=True)
            maps.append(weights)
        return maps


def random_shift(images: torch.Tensor, max_shift: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move each image by its own random whole number of pixels, -max_shift … max_shift down and across, filling the
    uncovered border with 0 (blank paper): pad by max_shift on every side, then crop a random H×W window.

    Data augmentation: the same digit a pixel to the left is still the same digit, which a ViT does not know by
    itself (its patch grid and position embeddings are fixed; a convolution would slide instead).

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be an int >= 0; got {max_shift!r}")
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W); got {tuple(getattr(images, 'shape', ()))}")
    B, C, H, W = images.shape
    m = max_shift
    padded = F.pad(images, (m, m, m, m))  # (B, C, H + 2m, W + 2m)
    top = torch.randint(0, 2 * m + 1, (B,), generator=generator)  # where each crop starts: 0 … 2m
    left = torch.randint(0, 2 * m + 1, (B,), generator=generator)
    rows = (top[:, None] + torch.arange(H))[:, None, :, None]  # (B, 1, H, 1)
    cols = (left[:, None] + torch.arange(W))[:, None, None, :]  # (B, 1, 1, W)
    return padded[torch.arange(B)[:, None, None, None], torch.arange(C)[None, :, None, None], rows, cols]


def train_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, steps: int = 200,
                     batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 0.05, seed: int = 0,
                     augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                     progress: bool = True) -> list[float]:
    """Train with AdamW and a cosine learning rate after a short warm-up; returns the loss of every step.

    Batches are drawn with their own seeded generator, so a run depends only on `seed` and the model's
    initial weights. augment(batch, generator) -> batch, if given, changes each batch of images before the
    model sees it (e.g. `random_shift`), drawing its randomness from the same generator; the labels stay.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))

    def batches():
        for _ in range(steps):
            b = torch.randint(0, images.shape[0], (batch_size,), generator=generator)
            yield (images[b] if augment is None else augment(images[b], generator)), labels[b]

    model.train()
    losses = optimise(optimizer, (F.cross_entropy(model(x), y) for x, y in batches()), schedule=schedule,
                      steps=steps, progress=progress)
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    """Share of images whose highest logit is the right class, in eval mode.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    model.eval()
    correct = sum(int((model(images[i:i + batch_size]).argmax(-1) == labels[i:i + batch_size]).sum())
                  for i in range(0, images.shape[0], batch_size))
    return correct / images.shape[0]
