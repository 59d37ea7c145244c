"""Pictures for lesson 13: an image cut into patches, the class token's attention, grids of digits.

Static matplotlib figures, so they render where a notebook is shown as a page (GitHub, nbviewer).
Images are (C, H, W) or (H, W) tensors with values in [0, 1]; grey images are drawn ink-dark on white.

Taught in: solutions/13_images_as_tokens.ipynb
"""

from __future__ import annotations

import torch


def _grey(image: torch.Tensor) -> torch.Tensor:
    image = image.detach().cpu()
    if image.dim() == 3:
        image = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
    return image


def show_patches(image: torch.Tensor, patches: torch.Tensor, patch_size: int, *, title: str | None = None):
    """Left: the image with its patch grid and each patch's number; right: the sequence of patch vectors,
    one row per patch, as the transformer reads it. `patches` is patchify(image[None], P)[0]. Returns the figure.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    import matplotlib.pyplot as plt

    picture = _grey(image)
    H, W = picture.shape[:2]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1, 1.3]})
    left.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
    for line in range(0, H + 1, patch_size):
        left.axhline(line - 0.5, color="tab:red", linewidth=1.5)
    for line in range(0, W + 1, patch_size):
        left.axvline(line - 0.5, color="tab:red", linewidth=1.5)
    cols = W // patch_size
    for n in range(patches.shape[0]):
        r, c = divmod(n, cols)
        left.text(c * patch_size - 0.3, r * patch_size - 0.1, str(n), color="tab:red", fontsize=9, va="top",
                  bbox=dict(facecolor="white", alpha=0.7, linewidth=0, pad=0.5))
    left.set_xticks([]), left.set_yticks([])
    left.set_title(f"{H}×{W} image, {patch_size}×{patch_size} patches")
    right.imshow(patches.detach().cpu(), cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    right.set_xticks(range(0, patches.shape[1], max(1, patches.shape[1] // 8)))
    right.set_xlabel("value inside the patch (C·P·P)")
    right.set_ylabel("patch = token")
    right.set_yticks(range(patches.shape[0]))
    right.set_title(f"the sequence: {patches.shape[0]} tokens of {patches.shape[1]} values")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(images: torch.Tensor, titles=None, *, ncols: int = 10, title: str | None = None, size: float = 0.9):
    """A grid of images (B, C, H, W) with optional per-image titles. Returns the figure.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    import matplotlib.pyplot as plt

    n = images.shape[0]
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_grey(images[i]), cmap="gray_r", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_class_attention(images: torch.Tensor, attention: torch.Tensor, patch_size: int, titles=None):
    """Top row: images; bottom row: how much the class token attends to each patch (averaged over heads).

    attention: one layer's weights (B, nh, N+1, N+1) from ViT.attention_maps. Returns the figure.

    Taught in: solutions/13_images_as_tokens.ipynb
    """
    import matplotlib.pyplot as plt

    B = images.shape[0]
    H, W = images.shape[-2:]
    rows, cols = H // patch_size, W // patch_size
    to_patches = attention[:, :, 0, 1:].mean(dim=1).view(B, rows, cols)  # row 0 = the class token's query
    fig, axes = plt.subplots(2, B, figsize=(1.3 * B, 2.9), squeeze=False)
    for i in range(B):
        axes[0, i].imshow(_grey(images[i]), cmap="gray_r", vmin=0, vmax=1)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=9)
        axes[1, i].imshow(to_patches[i].cpu(), cmap="viridis", vmin=0, vmax=float(to_patches.max()))
        for ax in axes[:, i]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[1, 0].set_ylabel("class token\nattends to", fontsize=9)
    fig.tight_layout()
    return fig
