"""The properties that name what is wrong in lesson 07's combined mistakes (two catalog mistakes at once, so that
no single hint matches), and the steps and loops those mistakes are made of: x and y's dtype and alignment, the
target and the reduction a loss uses, and, replayed on the case, which moves of a training step or choices of a
training loop an answer gets wrong. `training` attaches them to its specs.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from gptlab.data import batches as corpus
from gptlab.training.loop import train_step


def batch_relation(case, expected, actual):
    """Read x and y back: their dtype, and how y lines up with x (the token after, the same, the one before)."""
    x, y = actual
    problems = []
    if x.dtype != torch.int64 or y.dtype != torch.int64:
        problems.append(f"x and y should be int64 (long) tensors; yours are {x.dtype} and {y.dtype}")
    if torch.equal(x.long(), y.long()):
        problems.append("your y is x itself, where y[:, t] must be the token after x[:, t]")
    elif x.shape[1] > 1 and torch.equal(y[:, 1:].long(), x[:, :-1].long()):
        problems.append("your y[:, t + 1] is x[:, t], so y holds the token before each position, not the one after")
    return "; and ".join(problems) or None


ALIGNMENTS = {"the next token idx[:, t + 1]": (slice(None, -1), slice(1, None)),
               "the same token idx[:, t] (not shifted)": (slice(None), slice(None)),
               "the token before, idx[:, t - 1] (shifted backwards)": (slice(1, None), slice(None, -1))}
REDUCTIONS = {"the mean over all predicted tokens": lambda per: per.mean(),
               "a sum over the positions, averaged over the batch": lambda per: per.sum(1).mean(),
               "a sum over everything": lambda per: per.sum()}


def loss_formula(case, expected, actual):
    """Which target each position's logits were scored against, and how the terms were averaged."""
    logits, idx = case.args
    B, T, V = logits.shape
    for aligned, (use, against) in ALIGNMENTS.items():
        per = F.cross_entropy(logits[:, use].reshape(-1, V), idx[:, against].reshape(-1), reduction="none").view(B, -1)
        for reduced, reduce in REDUCTIONS.items():
            if torch.allclose(torch.as_tensor(actual, dtype=per.dtype), reduce(per), rtol=1e-4, atol=1e-6):
                if aligned == next(iter(ALIGNMENTS)) and reduced == next(iter(REDUCTIONS)):
                    return None
                return (f"your loss scores logits[:, t] against {aligned} and takes {reduced}; the loss is the mean "
                        "over all B·(T-1) predicted tokens of logits[:, t] against the next token idx[:, t + 1]")
    return None


def make_step(zero_grad=True, backward_first=True, clip="before"):
    """A train_step with its moves switched: clear the gradients, step after backward, clip before the step (or after
    it, or never)."""
    def step(model, optimizer, x, y, grad_clip):
        if zero_grad:
            optimizer.zero_grad()
        _, loss = model(x, y)
        if not backward_first:
            optimizer.step()
        loss.backward()
        if clip == "before":
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if backward_first:
            optimizer.step()
        if clip == "after":
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        return loss.item()
    return step


CLIPPING = {"before": None, "none": "does not clip the gradients", "after": "clips the gradients after the update"}


def step_moves(invoke_steps):
    """A property: replay the case (with the check's own invoker) with each of the step's moves switched, and say which
    ones the answer gets wrong."""
    def check(case, expected, actual):
        return _step_moves(invoke_steps, case, actual)
    return check


def _step_moves(invoke_steps, case, actual):
    if not (isinstance(actual, tuple) and len(actual) == 2):
        return None
    for zero, first, clip in itertools.product((True, False), (True, False), CLIPPING):
        if zero and first and clip == "before":
            continue
        try:
            ours = invoke_steps(make_step(zero, first, clip), case)
        except RuntimeError:  # stepping before backward without clearing: autograd refuses
            continue
        if all(torch.allclose(a, b, atol=1e-4, rtol=1e-3) for a, b in zip(ours, actual)):
            wrong = [text for text in ((None if zero else "does not clear the old gradients first"),
                                       (None if first else "updates the weights before loss.backward()"),
                                       CLIPPING[clip]) if text]
            return "your step " + " and ".join(wrong) + ": the order is clear, backward, clip, step"
    return None


def make_loop(optimizer_once=True, generator_once=True, pass_lr=True, pass_clip=True):
    def loop(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
        def optimizer_now():
            return torch.optim.AdamW(model.parameters(), lr=lr) if pass_lr else torch.optim.AdamW(model.parameters())

        generator, optimizer, losses = torch.Generator().manual_seed(seed), optimizer_now(), []
        for _ in range(steps):
            optimizer = optimizer if optimizer_once else optimizer_now()
            generator = generator if generator_once else torch.Generator().manual_seed(seed)
            x, y = corpus.get_batch(data, batch_size, model.config.block_size, generator)
            losses.append(train_step(model, optimizer, x, y, grad_clip if pass_clip else float("inf")))
        return losses
    return loop


LOOP_PARTS = ("makes a new optimizer every step", "reseeds the generator every step (the same batch each time)",
              "does not pass lr to the optimizer", "does not pass grad_clip on to train_step")


def loop_parts(invoke_loop):
    """A property: replay the case (with the check's own invoker) with each of the loop's four set-up choices switched,
    and say which ones the answer makes."""
    def check(case, expected, actual):
        return _loop_parts(invoke_loop, case, actual)
    return check


def _loop_parts(invoke_loop, case, actual):
    for flags in itertools.product((True, False), repeat=4):
        if all(flags) or sum(not f for f in flags) > 2:
            continue
        ours = invoke_loop(make_loop(*flags), case)
        if all(a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(ours, actual)):
            return ("your loop " + " and ".join(part for part, ok in zip(LOOP_PARTS, flags) if not ok)
                    + ": one optimizer with lr and one seeded generator, made before the loop, and grad_clip passed on")
    return None
