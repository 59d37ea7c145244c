"""Checks for lesson 07: the batch sampler, the next-token loss and one optimisation step."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gptlab.data import batches as corpus
from gptlab.training.loop import next_token_loss, train_step
from gptlab.training.simple import train_loop
from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.nn.model import GPT, GPTConfig

# --- get_batch(data, batch_size, block_size, generator) -------------------------------------------


def get_batch(data, batch_size, block_size, generator):
    """The reference: the package's sampler (gptlab.data.batches.get_batch), which the training loop uses."""
    return corpus.get_batch(data, batch_size, block_size, generator)


def _batch_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 2048, (300,), generator=g).to(torch.uint16)
    return [
        Case("a counting sequence 0..39, batch 6, block 8", (torch.arange(40).to(torch.uint16), 6, 8), {"seed": seed}),
        Case("300 random ids (uint16), batch 4, block 16", (ids, 4, 16), {"seed": seed + 1}),
        Case("data just long enough (block + 1 tokens)", (torch.arange(9).to(torch.uint16), 3, 8), {"seed": seed + 2}),
        Case("one window of one token", (torch.arange(5).to(torch.uint16), 1, 1), {"seed": seed + 3}),
    ]


def _invoke_batch(impl, case):
    data, batch_size, block_size = case.args
    return impl(data, batch_size, block_size, torch.Generator().manual_seed(case.kwargs["seed"]))


def _y_equals_x(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s : s + block_size] for s in starts]).long()
    return x, x.clone()


def _crossing_the_end(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size + 1, (batch_size,), generator=generator)
    x = torch.stack([data[s : s + block_size] for s in starts]).long()
    y = torch.stack([data[s + 1 : s + 1 + block_size] for s in starts]).long()
    return x, y


def _not_long(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s : s + block_size] for s in starts])
    y = torch.stack([data[s + 1 : s + 1 + block_size] for s in starts])
    return x, y


def _y_shifted_back(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator) + 1
    x = torch.stack([data[s : s + block_size] for s in starts]).long()
    y = torch.stack([data[s - 1 : s - 1 + block_size] for s in starts]).long()
    return x, y


def _with_index_arithmetic(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    window = data[starts[:, None] + torch.arange(block_size + 1)].long()  # (B, T + 1)
    return window[:, :-1], window[:, 1:]


def _with_unfold(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    windows = data.long().unfold(0, block_size + 1, 1)[starts]  # every window, then pick
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


check_get_batch = make_check(CheckSpec(
    exercise="get_batch",
    reference=get_batch,
    make_cases=_batch_cases,
    invoke=_invoke_batch,
    mistakes=[
        Mistake("y-equals-x", _y_equals_x,
                "y must be x shifted by one (y[:, t] is the token after x[:, t]); yours repeats x, so the model would "
                "learn to copy its input"),
        Mistake("window-crosses-the-end", _crossing_the_end,
                "a start may be at most len(data) - block_size - 1, so that x and y (block_size + 1 tokens) fit: draw "
                "starts with torch.randint(len(data) - block_size, ...)"),
        Mistake("ids-not-int64", _not_long,
                "return int64 (long) tensors: the data is stored compactly as uint16, which nn.Embedding and "
                "cross_entropy do not accept"),
        Mistake("y-shifted-backwards", _y_shifted_back,
                "y holds the token *before* each x position; it must hold the one after: data[s + 1 : s + 1 + block_size]"),
    ],
    variants=[_with_index_arithmetic, _with_unfold],
    hints=[
        "Draw batch_size random start positions (with the generator), cut a window of block_size + 1 tokens at each, "
        "and split it into inputs and targets.",
        "starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator); x and y are "
        "(batch_size, block_size) and int64 (.long()).",
        "Key lines: x = torch.stack([data[s : s + block_size] for s in starts]).long(); "
        "y = torch.stack([data[s + 1 : s + 1 + block_size] for s in starts]).long()",
    ],
))

# --- next_token_loss(logits, idx) ------------------------------------------------------------------


def _loss_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def case(name, B, T, V, scale=3.0, dtype=torch.float32):
        return Case(name, (torch.randn(B, T, V, generator=g, dtype=dtype) * scale, torch.randint(0, V, (B, T), generator=g)))

    return [case("B=2, T=6, V=11", 2, 6, 11), case("B=3, T=5, V=5 (T = V)", 3, 5, 5), case("B=1, T=2, V=7", 1, 2, 7),
            case("confident logits", 4, 8, 13, scale=12.0), case("float64", 2, 4, 9, dtype=torch.float64)]


def _not_shifted(logits, idx):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx.reshape(-1))


def _shifted_backwards(logits, idx):
    return F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), idx[:, :-1].reshape(-1))


def _transposed_reshape(logits, idx):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].transpose(0, 1).reshape(-1, V), idx[:, 1:].reshape(-1))


def _sum_over_time(logits, idx):
    V = logits.shape[-1]
    per_token = F.cross_entropy(logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1), reduction="none")
    return per_token.view(idx.shape[0], -1).sum(dim=1).mean()


def _three_d_logits(logits, idx):
    return F.cross_entropy(logits[:, :-1], idx[:, 1:])  # (B, T-1, V): F reads dim 1 (T-1) as the classes


def _log_softmax_gather(logits, idx):
    log_probs = logits[:, :-1].log_softmax(dim=-1)  # (B, T-1, V)
    return -log_probs.gather(-1, idx[:, 1:, None]).mean()


def _classes_on_dim_1(logits, idx):
    return F.cross_entropy(logits[:, :-1].transpose(1, 2), idx[:, 1:])  # (B, V, T-1): classes where F wants them


check_next_token_loss = make_check(CheckSpec(
    exercise="next_token_loss",
    reference=next_token_loss,  # the library's (gptlab.training.loop)
    make_cases=_loss_cases,
    mistakes=[
        Mistake("targets-not-shifted", _not_shifted,
                "the targets are not shifted: logits[:, t] must be scored against idx[:, t + 1], the next token "
                "(use logits[:, :-1] and idx[:, 1:]); scoring against idx[:, t] asks the model to copy its input"),
        Mistake("shifted-backwards", _shifted_backwards,
                "you shifted the wrong way: logits[:, t] predicts idx[:, t + 1]; take logits[:, :-1] with idx[:, 1:]"),
        Mistake("wrong-reshape", _transposed_reshape,
                "the logits and targets are flattened in different orders, so predictions meet the wrong targets; "
                "flatten both (B, T) axes the same way: logits[:, :-1].reshape(-1, V) with idx[:, 1:].reshape(-1)"),
        Mistake("logits-3d", _three_d_logits,
                "F.cross_entropy was given 3-D logits (B, T-1, V): it reads dim 1 as the classes, so it took the T-1 "
                "positions for the vocabulary (and wants targets of shape (B, V)). Flatten to (N, V) and (N,): "
                "logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1) (or put V on dim 1 with transpose(1, 2))"),
        Mistake("mean-over-the-wrong-axis", _sum_over_time,
                "average over every predicted token (batch and positions); you summed over the positions and "
                "averaged only over the batch"),
    ],
    variants=[_log_softmax_gather, _classes_on_dim_1],
    hints=[
        "Each position's logits predict the *next* token, so the last position has no target and the first token is "
        "never predicted.",
        "logits[:, :-1] is (B, T-1, V) and idx[:, 1:] is (B, T-1); F.cross_entropy wants (N, V) and (N,): reshape both.",
        "Key line: return F.cross_entropy(logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1))",
    ],
))

# --- train_step(model, optimizer, x, y, grad_clip) -------------------------------------------------


def _step_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    batches = tuple((torch.randint(0, 32, (4, 8), generator=g), torch.randint(0, 32, (4, 8), generator=g)) for _ in range(3))
    return [Case("three steps, clip at 0.05", batches, {"grad_clip": 0.05}, init={"seed": seed}),
            Case("three steps, clip at 1.0", batches, {"grad_clip": 1.0}, init={"seed": seed + 1})]


def _invoke_steps(impl, case):
    torch.manual_seed(case.init["seed"])
    model = GPT(GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16))
    # Plain SGD: its update is proportional to the gradient, so the check's numbers do not depend on
    # rounding noise (AdamW rescales tiny, noisy gradients to full-size steps, which differs per machine).
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    with torch.enable_grad():  # the runner calls learner code under no_grad; a training step needs gradients
        losses = [float(impl(model, optimizer, x, y, case.kwargs["grad_clip"])) for x, y in case.args]
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return torch.tensor(losses, dtype=torch.float64), weights


def _no_zero_grad(model, optimizer, x, y, grad_clip):
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def _step_before_backward(model, optimizer, x, y, grad_clip):
    optimizer.zero_grad()
    _, loss = model(x, y)
    optimizer.step()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    return loss.item()


def _no_clip(model, optimizer, x, y, grad_clip):
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _zero_grad_set_to_zeros(model, optimizer, x, y, grad_clip):
    optimizer.zero_grad(set_to_none=False)
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=grad_clip)
    optimizer.step()
    return loss.item()


def _model_zero_grad(model, optimizer, x, y, grad_clip):
    model.zero_grad()
    logits, _ = model(x)
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach().item()


check_train_step = make_check(CheckSpec(
    exercise="train_step",
    reference=train_step,  # the library's (gptlab.training.loop)
    make_cases=_step_cases,
    invoke=_invoke_steps,
    mistakes=[
        Mistake("no-zero-grad", _no_zero_grad,
                "gradients add up across calls unless you clear them: call optimizer.zero_grad() at the start of each step"),
        Mistake("step-before-backward", _step_before_backward,
                "optimizer.step() must come after loss.backward(): stepping first uses the previous batch's gradients "
                "(or none at all)"),
        Mistake("no-clipping", _no_clip,
                "the gradients that optimizer.step() uses are not clipped: call torch.nn.utils.clip_grad_norm_("
                "model.parameters(), grad_clip) between backward and step (clipping after the step changes nothing)"),
    ],
    variants=[_zero_grad_set_to_zeros, _model_zero_grad],
    atol=1e-4,
    rtol=1e-3,
    hints=[
        "Four moves, in an order that matters: clear old gradients, compute the loss and its gradients, limit their "
        "size, update the weights.",
        "The model returns (logits, loss) when given targets; loss.backward() fills p.grad; "
        "torch.nn.utils.clip_grad_norm_ rescales them in place; optimizer.step() uses them.",
        "Key lines: optimizer.zero_grad(); _, loss = model(x, y); loss.backward(); "
        "torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip); optimizer.step(); return loss.item()",
    ],
))

# --- train_loop(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0) --------------------------


def _loop_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 32, (400,), generator=g).to(torch.uint16)
    return [
        Case("4 steps of 2 windows", (data,), {"steps": 4, "batch_size": 2, "lr": 3e-3}, init={"seed": seed}),
        Case("tight clipping (0.05), seed 3", (data,), {"steps": 3, "batch_size": 3, "lr": 1e-2, "grad_clip": 0.05, "seed": 3},
             init={"seed": seed + 1}),
        Case("one step", (data,), {"steps": 1, "batch_size": 2, "lr": 5e-3}, init={"seed": seed + 2}),
    ]


def _invoke_loop(impl, case: Case):
    """A fresh tiny GPT for every call (training changes it): the losses, then the trained model's logits."""
    torch.manual_seed(case.init["seed"])
    model = GPT(GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16))
    with torch.enable_grad():  # cases run under no_grad; a training loop needs its gradients
        losses = impl(model, *case.args, **case.kwargs)
    probe = torch.arange(8)[None] % 32
    with torch.no_grad():
        logits = model(probe)[0]
    return torch.tensor([float(loss) for loss in losses]), logits


def _optimizer_every_step(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
    generator, losses = torch.Generator().manual_seed(seed), []
    for _ in range(steps):
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        x, y = corpus.get_batch(data, batch_size, model.config.block_size, generator)
        losses.append(train_step(model, optimizer, x, y, grad_clip))
    return losses


def _no_generator(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
    optimizer, losses = torch.optim.AdamW(model.parameters(), lr=lr), []
    for _ in range(steps):
        x, y = corpus.get_batch(data, batch_size, model.config.block_size, torch.Generator().manual_seed(seed))
        losses.append(train_step(model, optimizer, x, y, grad_clip))
    return losses


def _default_lr(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimizer, losses = torch.optim.AdamW(model.parameters()), []
    for _ in range(steps):
        x, y = corpus.get_batch(data, batch_size, model.config.block_size, generator)
        losses.append(train_step(model, optimizer, x, y, grad_clip))
    return losses


def _no_clipping(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
    return train_loop(model, data, steps, batch_size, lr, grad_clip=float("inf"), seed=seed)


def _with_while(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimizer, losses = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999)), []
    while len(losses) < steps:
        x, y = corpus.get_batch(data, batch_size, model.config.block_size, generator=generator)
        losses.append(train_step(model, optimizer, x, y, grad_clip))
    return losses


def _losses_by_index(model, data, steps, batch_size, lr, grad_clip=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = [0.0] * steps
    for step in range(steps):
        x, y = corpus.get_batch(data, batch_size, model.config.block_size, generator)
        losses[step] = train_step(model, optimizer, x, y, grad_clip)
    return losses


check_train_loop = make_check(CheckSpec(
    exercise="train_loop",
    reference=train_loop,  # the library's (gptlab.training.simple)
    make_cases=_loop_cases,
    invoke=_invoke_loop,
    output=("the losses", "the trained model's logits"),
    mistakes=[
        Mistake("optimizer-every-step", _optimizer_every_step,
                "make the optimizer once, before the loop: a new AdamW every step forgets its running averages, so "
                "every update is a fresh first step"),
        Mistake("same-batch-every-step", _no_generator,
                "make the generator once, before the loop, and pass that one to get_batch: a freshly seeded generator "
                "every step draws the same windows every time"),
        Mistake("lr-ignored", _default_lr, "pass lr to the optimizer: torch.optim.AdamW(model.parameters(), lr=lr)"),
        Mistake("no-clipping", _no_clipping, "pass grad_clip on to train_step: the case with tight clipping moves less"),
    ],
    variants=[_with_while, _losses_by_index],
    hints=[
        "Before the loop: a generator seeded with `seed` and one AdamW over model.parameters() with lr. Each step: a "
        "batch from get_batch, then train_step; keep the losses.",
        "get_batch(data, batch_size, model.config.block_size, generator) gives (x, y), each (batch_size, block_size); "
        "train_step(model, optimizer, x, y, grad_clip) returns the step's loss as a float.",
        "Key lines: generator = torch.Generator().manual_seed(seed); optimizer = torch.optim.AdamW(model.parameters(), "
        "lr=lr); for _ in range(steps): x, y = get_batch(...); losses.append(train_step(model, optimizer, x, y, grad_clip))",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------
# (the properties and the larger implementations sit in training_combined, to keep this module readable)

from gptlab.course.checks import training_combined as _combined  # noqa: E402

check_get_batch.spec.properties += [_combined.batch_relation]
check_get_batch.spec.combined += [
    lambda data, batch_size, block_size, generator: tuple(t.to(data.dtype) for t in
                                                          _y_equals_x(data, batch_size, block_size, generator)),
    lambda data, batch_size, block_size, generator: tuple(t.to(data.dtype) for t in
                                                          _y_shifted_back(data, batch_size, block_size, generator)),
]


check_next_token_loss.spec.properties += [_combined.loss_formula]
check_next_token_loss.spec.combined += [
    lambda logits, idx: F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx.reshape(-1), reduction="none")
    .view(idx.shape).sum(1).mean(),                                                    # not shifted + summed over time
    lambda logits, idx: F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), idx[:, :-1].reshape(-1),
                                        reduction="sum"),                              # backwards + a sum
]


check_train_step.spec.properties += [_combined.step_moves(_invoke_steps)]
check_train_step.spec.combined += [_combined.make_step(zero_grad=False, clip="none"),
                                   _combined.make_step(zero_grad=False, clip="after")]


check_train_loop.spec.properties += [_combined.loop_parts(_invoke_loop)]
check_train_loop.spec.combined += [_combined.make_loop(optimizer_once=False, pass_lr=False),
                                   _combined.make_loop(generator_once=False, pass_clip=False)]
