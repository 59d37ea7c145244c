"""Checks for lesson 13: cutting images into patches, and the class token of a vision transformer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.topics.vision import model as vision
from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say

# --- patchify(images, patch_size) ----------------------------------------------------------------


def _patchify_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    rows, cols = (int(v) for v in torch.randint(2, 5, (2,), generator=g))

    def images(*shape, dtype=torch.float32):
        return torch.rand(*shape, generator=g, dtype=dtype)

    return [
        Case("one grey 4×4 image, P = 2", (images(1, 1, 4, 4), 2)),
        Case("B=2 grey 8×8 digits, P = 2", (images(2, 1, 8, 8), 2)),
        Case("B=2 grey 8×8, P = 4", (images(2, 1, 8, 8), 4)),
        Case("colour (C=3), not square: 4×6, P = 2", (images(1, 3, 4, 6), 2)),
        Case(f"C=2, {rows} × {cols} patches of 3×3", (images(3, 2, 3 * rows, 3 * cols), 3)),
        Case("float64, one patch (P = H = W = 4)", (images(2, 1, 4, 4, dtype=torch.float64), 4)),
    ]


def _column_major(images, P):
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 1, 3, 5)  # columns of patches first
    return x.reshape(B, -1, C * P * P)


def _overlapping(images, P):
    return F.unfold(images, P, stride=1).transpose(1, 2)  # a window at every pixel, as a convolution slides


def _channels_last_in_patch(images, P):
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 3, 5, 1)  # (rows, cols, P, P, C)
    return x.reshape(B, -1, C * P * P)


def _patches_and_features_swapped(images, P):
    return vision.patchify(images, P).transpose(1, 2)


def _reshape_without_permute(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, (H // P) * (W // P), C * P * P)  # strips of rows, not squares


def _unfold(images, P):
    return F.unfold(images, kernel_size=P, stride=P).transpose(1, 2)  # (B, C·P·P, N) -> (B, N, C·P·P)


def _loops(images, P):
    B, C, H, W = images.shape
    patches = [images[:, :, r:r + P, c:c + P].reshape(B, -1) for r in range(0, H, P) for c in range(0, W, P)]
    return torch.stack(patches, dim=1)


def _tensor_unfold(images, P):
    x = images.unfold(2, P, P).unfold(3, P, P)  # (B, C, rows, cols, P, P)
    return x.permute(0, 2, 3, 1, 4, 5).flatten(3).flatten(1, 2)


check_patchify = make_check(CheckSpec(
    exercise="patchify",
    reference=vision.patchify,
    make_cases=_patchify_cases,
    mistakes=[
        Mistake("column-major", _column_major,
                "your patches are numbered column by column (down, then across); number them row by row, like reading: "
                "the patch to the right of patch 0 is patch 1 (permute to (B, rows, cols, …), rows first)"),
        Mistake("overlapping", _overlapping,
                "your patches overlap (a window at every pixel, stride 1): step by P so that each pixel lands in exactly "
                "one patch and an H×W image gives (H/P)·(W/P) patches"),
        Mistake("channels-last-in-patch", _channels_last_in_patch,
                "inside each patch the channel axis and the pixel axes are swapped: flatten each patch as (C, P, P), "
                "channel 0's pixels first (as F.unfold and a Conv2d's weight do), not (P, P, C)"),
        Mistake("patches-and-features-swapped", _patches_and_features_swapped,
                "your output is (B, C·P·P, N): the patch axis and the feature axis are swapped. A transformer reads "
                "(B, T, d): one row per patch, so return (B, N, C·P·P)"),
        Mistake("reshape-without-permute", _reshape_without_permute,
                "you reshaped the image straight to (B, N, C·P·P), which cuts it into strips of whole rows, not P×P "
                "squares: first view it as (B, C, H/P, P, W/P, P), then permute the patch's row and column to the front"),
    ],
    variants=[_unfold, _loops, _tensor_unfold],
    hints=[
        "Split each side into (which patch, where inside the patch): H = (H/P)·P and W = (W/P)·P. Then put the two "
        "'which patch' axes first and flatten.",
        "Shapes: (B, C, H, W) -view-> (B, C, H/P, P, W/P, P) -permute(0, 2, 4, 1, 3, 5)-> (B, H/P, W/P, C, P, P) "
        "-reshape-> (B, N, C·P·P).",
        "Key lines: x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5); "
        "return x.reshape(B, (H // P) * (W // P), C * P * P)",
    ],
))

# --- classify_with_class_token(x, cls_token, encoder, head) --------------------------------------


def _perturbed(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Weights moved away from their initial values (a LayerNorm's 1 and 0 would hide a mistake), eval mode."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return module.eval()


def _class_token_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def case(name, B, N, d, heads, classes):
        with torch.random.fork_rng():  # seeded fresh modules, without resetting the learner's random numbers
            torch.manual_seed(seed + N)
            encoder = _perturbed(nn.Sequential(vision.EncoderBlock(d, heads), nn.LayerNorm(d)), g)
            head = _perturbed(nn.Linear(d, classes), g)
        x, cls = torch.randn(B, N, d, generator=g), torch.randn(1, 1, d, generator=g)
        return Case(name, (x, cls, encoder, head))

    return [
        case("B=2 images, N=4 patches, d=8, 10 classes", 2, 4, 8, 2, 10),
        case("one image (B=1), N=16 patches, d=8", 1, 16, 8, 2, 10),
        case("B=3, N=1 patch, d=12, 3 classes", 3, 1, 12, 3, 3),
        case("B=4, N=9 patches, d=16, 5 classes", 4, 9, 16, 4, 5),
    ]


def _with_cls(x, cls_token):
    return torch.cat([cls_token.expand(x.shape[0], -1, -1), x], dim=1)


def _added(x, cls_token, encoder, head):
    return head(encoder(x + cls_token)[:, 0])


def _last_token(x, cls_token, encoder, head):
    return head(encoder(_with_cls(x, cls_token))[:, -1])


def _appended_read_first(x, cls_token, encoder, head):
    z = torch.cat([x, cls_token.expand(x.shape[0], -1, -1)], dim=1)
    return head(encoder(z)[:, 0])


def _mean_pooled(x, cls_token, encoder, head):
    return head(encoder(_with_cls(x, cls_token)).mean(dim=1))


def _before_encoder(x, cls_token, encoder, head):
    return head(_with_cls(x, cls_token)[:, 0])


def _not_expanded(x, cls_token, encoder, head):
    return head(encoder(torch.cat([cls_token, x], dim=1))[:, 0])  # works for B = 1 only


def _repeat_and_index(x, cls_token, encoder, head):
    z = torch.cat((cls_token.repeat(x.shape[0], 1, 1), x), dim=1)
    return head(encoder(z)[:, 0, :])


def _filled_buffer(x, cls_token, encoder, head):
    B, N, d = x.shape
    z = x.new_empty(B, N + 1, d)
    z[:, 0] = cls_token[0, 0]
    z[:, 1:] = x
    return head(encoder(z).select(1, 0))


def _appended_read_last(x, cls_token, encoder, head):
    # Also right: an encoder with no mask and no positions of its own treats the tokens as a set, so the class
    # token may sit at either end as long as you read it where you put it.
    z = torch.cat([x, cls_token.expand(x.shape[0], -1, -1)], dim=1)
    return head(encoder(z)[:, -1])


check_class_token = make_check(CheckSpec(
    exercise="class_token",
    reference=vision.classify_with_class_token,
    make_cases=_class_token_cases,
    mistakes=[
        Mistake("added-not-concatenated", _added,
                "you added the class token to the patch tokens: that shifts every patch by the same vector and leaves "
                "no token of its own to collect the summary. Concatenate it in front: (B, N, d) -> (B, N+1, d)"),
        Mistake("last-token-readout", _last_token,
                "you classified from the last token's output, which is the last patch's; the class token sits at "
                "position 0, so read encoder(z)[:, 0]"),
        Mistake("appended-read-first", _appended_read_first,
                "you put the class token at the end but read position 0, the first patch: put it in front (and read 0)"),
        Mistake("mean-pooled", _mean_pooled,
                "you averaged the outputs of all N+1 tokens; read the class token's output alone (position 0): "
                "that is the job it is there for"),
        Mistake("read-before-encoder", _before_encoder,
                "you read the class token before the encoder, where it is the same vector for every image; "
                "run the encoder on the whole sequence first, then read position 0 of its output"),
        Mistake("not-expanded", _not_expanded,
                "torch.cat needs the same batch size: expand the (1, 1, d) class token to one copy per image, "
                "cls_token.expand(B, -1, -1), before concatenating (your code only works for B = 1)"),
    ],
    variants=[_repeat_and_index, _filled_buffer, _appended_read_last],
    hints=[
        "Three steps: put one copy of the class token in front of each image's patch tokens, run the encoder on "
        "the longer sequence, and give the head the class token's output.",
        "Shapes: cls_token (1, 1, d) -expand-> (B, 1, d); torch.cat with x (B, N, d) along dim=1 -> (B, N+1, d); "
        "encoder keeps (B, N+1, d); [:, 0] -> (B, d); head -> (B, n_classes).",
        "Key lines: z = torch.cat([cls_token.expand(x.shape[0], -1, -1), x], dim=1); return head(encoder(z)[:, 0])",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _patch_contents(case, expected, actual):
    """Match each of the learner's patches to the reference's by the pixels it holds (as a set), to tell an axis
    swap, a wrong patch order, pixels shuffled inside a patch, and patches that are not P×P squares apart."""
    images, P = case.args
    problems = []
    if actual.dim() == 3 and actual.shape == expected.transpose(1, 2).shape and actual.shape != expected.shape:
        problems.append(say("vision.patchify.swapped", got=tuple(actual.shape), want=tuple(expected.shape)))
        actual = actual.transpose(1, 2)
    if actual.shape != expected.shape:
        return None
    mine, want = actual[0].sort(-1).values, expected[0].sort(-1).values  # (N, C·P·P), each patch's pixels as a set
    source = [next((m for m in range(want.shape[0]) if torch.equal(mine[n], want[m])), None) for n in range(mine.shape[0])]
    if None in source:
        n = source.index(None)
        problems.append(say("vision.patchify.not_square", patch=n))
    else:
        moved = next((n for n, m in enumerate(source) if m != n), None)
        if moved is not None:
            problems.append(say("vision.patchify.order", patch=moved, source=source[moved]))
        inside = next((n for n, m in enumerate(source) if not torch.equal(actual[0, n], expected[0, m])), None)
        if inside is not None:
            problems.append(say("vision.patchify.inside", patch=inside))
    return say("join.and_also").join(problems) or None


def _column_major_channels_last(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 3, 5, 1).reshape(B, -1, C * P * P)


check_patchify.spec.properties += [_patch_contents]
check_patchify.spec.combined += [
    _column_major_channels_last,                                                          # column-major + channels last
    lambda images, P: _reshape_without_permute(images, P).transpose(1, 2),                # no permute + axes swapped
]


def _what_the_head_reads(case, expected, actual):
    """Undo the head (a Linear with at least as many classes as features can be inverted) and find the token whose
    vector it was given: the class token's output, another token's, one before the encoder, or none."""
    x, cls_token, encoder, head = case.args
    W, b = head.weight.detach(), head.bias.detach()
    if actual.shape != expected.shape or W.shape[0] < W.shape[1]:
        return None
    read = torch.linalg.lstsq(W, (actual - b).T.detach()).solution.T  # (B, d)
    z = _with_cls(x, cls_token)
    with torch.no_grad():
        sources = {"encoder": encoder(z), "before_encoder": z,  # each names a message "vision.class_token.<key>"
                   "added": encoder(x + cls_token),
                   "appended": encoder(torch.cat([x, cls_token.expand_as(x[:, :1])], 1))}
    for where, tokens in sources.items():
        for t in range(tokens.shape[1]):
            if torch.allclose(read, tokens[:, t], atol=1e-4):
                position = (say("vision.class_token.class_token") if (where == "encoder" and t == 0) else
                            say("vision.class_token.position", position=t))
                return say("vision.class_token.reads", position=position, where=say(f"vision.class_token.{where}"))
    return say("vision.class_token.average")


check_class_token.spec.properties += [_what_the_head_reads]
check_class_token.spec.combined += [
    lambda x, cls_token, encoder, head: head(encoder(x + cls_token)[:, -1]),                        # added + last token
    lambda x, cls_token, encoder, head: head(torch.cat([x, cls_token.expand_as(x[:, :1])], 1)[:, 0]),  # appended + before
]
