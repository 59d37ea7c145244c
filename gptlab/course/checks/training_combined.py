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

from gptlab.course.messages import say
from gptlab.data import batches as corpus
from gptlab.training.loop import train_step


def batch_relation(case, expected, actual):
    """Read x and y back: their dtype, and how y lines up with x (the token after, the same, the one before)."""
    x, y = actual
    problems = []
    if x.dtype != torch.int64 or y.dtype != torch.int64:
        problems.append(say("training.batch.dtype", x=x.dtype, y=y.dtype))
    if torch.equal(x.long(), y.long()):
        problems.append(say("training.batch.same"))
    elif x.shape[1] > 1 and torch.equal(y[:, 1:].long(), x[:, :-1].long()):
        problems.append(say("training.batch.before"))
    return say("join.and_also").join(problems) or None


# Which target each position's logits are scored against, and how the terms are reduced (the first of each is right);
# the keys name the messages "training.loss.aligned.<key>" and "training.loss.reduced.<key>" that say it.
ALIGNMENTS = {"next": (slice(None, -1), slice(1, None)),
              "same": (slice(None), slice(None)),
              "before": (slice(1, None), slice(None, -1))}
REDUCTIONS = {"mean": lambda per: per.mean(),
              "per_row": lambda per: per.sum(1).mean(),
              "sum": lambda per: per.sum()}


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
                return say("training.loss.formula", aligned=say(f"training.loss.aligned.{aligned}"),
                           reduced=say(f"training.loss.reduced.{reduced}"))
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


CLIPPING = {"before": None, "none": "training.step.no_clip", "after": "training.step.clip_after"}  # what each gets wrong


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
            wrong = [say(key) for key in ((None if zero else "training.step.no_zero_grad"),
                                          (None if first else "training.step.step_first"), CLIPPING[clip]) if key]
            return say("training.step.moves", moves=say("join.and").join(wrong))
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


LOOP_PARTS = ("training.loop.optimizer", "training.loop.generator", "training.loop.lr", "training.loop.clip")


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
            wrong = [say(part) for part, ok in zip(LOOP_PARTS, flags) if not ok]
            return say("training.loop.parts", parts=say("join.and").join(wrong))
    return None
