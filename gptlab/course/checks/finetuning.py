"""Checks for lesson 10: the last-token classification head, the response-only loss mask, LoRALinear.

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say
from gptlab.topics.finetune import IGNORE_INDEX, instruction_batch, pool_last_token
from gptlab.nn.lora import LoRALinear

# --- pool_last_token(hidden, mask) -----------------------------------------------------------------


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()


def _pool_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def lengths(B, T):
        values = torch.randint(1, T + 1, (B,), generator=g).tolist()
        values[0] = T  # at least one row without padding, so the batch really is T long
        if B > 2:
            values[-1] = 1 + int(torch.randint(0, 2, (1,), generator=g))  # and a short one
        return values

    cases = []
    for B, T, C, dtype, name in [(3, 6, 4, torch.float32, "B=3, T=6, right-padded rows"),
                                 (5, 9, 8, torch.float32, "B=5, T=9, lengths from 1 to 9"),
                                 (4, 7, 3, torch.float64, "float64"),
                                 (2, 5, 6, torch.float32, "large values")]:
        hidden = torch.randn(B, T, C, generator=g, dtype=dtype) * (100.0 if name == "large values" else 1.0)
        cases.append(Case(name, (hidden, _mask(lengths(B, T), T))))
    cases.append(Case("no padding at all", (torch.randn(2, 4, 5, generator=g), torch.ones(2, 4, dtype=torch.long))))
    cases.append(Case("bool mask, one row of one token", (torch.randn(3, 5, 2, generator=g), _mask([5, 1, 3], 5).bool())))
    return cases


def _pool_first(hidden, mask):
    return hidden[:, 0]


def _pool_padding_position(hidden, mask):
    return hidden[:, -1]


def _pool_one_past(hidden, mask):
    lengths = mask.long().sum(1)
    return hidden[torch.arange(hidden.shape[0]), lengths.clamp(max=hidden.shape[1] - 1)]


def _pool_mean_with_padding(hidden, mask):
    return hidden.mean(dim=1)


def _pool_gather(hidden, mask):
    last = mask.long().sum(1) - 1  # (B,)
    index = last[:, None, None].expand(-1, 1, hidden.shape[-1])  # (B, 1, C)
    return hidden.gather(1, index).squeeze(1)


def _pool_loop(hidden, mask):
    rows = []
    for b in range(hidden.shape[0]):
        real = mask[b].nonzero().flatten()
        rows.append(hidden[b, int(real[-1])])
    return torch.stack(rows)


check_pool_last_token = make_check(CheckSpec(
    exercise="pool_last_token",
    reference=pool_last_token,
    make_cases=_pool_cases,
    mistakes=[
        Mistake("first-token", _pool_first,
                "you took the first token's state: in a causal model it has seen only itself; the last real token is "
                "the only position that has attended to the whole passage"),
        Mistake("padding-position", _pool_padding_position,
                "you took position T - 1, which is padding for every row shorter than the batch: with right padding "
                "the last REAL token of row b sits at mask[b].sum() - 1"),
        Mistake("one-past-the-end", _pool_one_past,
                "off by one: mask[b].sum() real tokens sit at positions 0 … mask[b].sum() - 1, so the last one is at "
                "mask[b].sum() - 1 (you took the first padding position)"),
        Mistake("mean-over-padding", _pool_mean_with_padding,
                "you averaged over every position, padding included; take the single hidden state of the last real token"),
    ],
    variants=[_pool_gather, _pool_loop],
    hints=[
        "Count each row's real tokens from the mask, then pick one position per row.",
        "lengths = mask.sum(dim=1) is (B,); the last real token of row b is at lengths[b] - 1. Index hidden (B, T, C) "
        "with two index tensors to get (B, C).",
        "Key line: hidden[torch.arange(B), mask.long().sum(dim=1) - 1]",
    ],
))

# --- instruction_batch(pairs, pad_id) ---------------------------------------------------------------


def _batch_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    V, EOT = 50, 49  # the last id plays <|endoftext|>: every response ends with it

    def pair(prompt_len, response_len):
        prompt = torch.randint(0, V - 1, (prompt_len,), generator=g).tolist()
        response = torch.randint(0, V - 1, (response_len - 1,), generator=g).tolist() + [EOT]
        return prompt, response

    def lens(low, high):
        return int(torch.randint(low, high + 1, (1,), generator=g))

    return [
        Case("two examples, pad 0", ([pair(4, 3), pair(lens(2, 3), 2)], 0)),
        Case("three examples of different lengths", ([pair(lens(3, 6), lens(2, 4)) for _ in range(2)] + [pair(7, 4)], 0)),
        Case("one example (no padding)", ([pair(lens(3, 5), 3)], 0)),
        Case("pad id = <|endoftext|> (as in the lesson)", ([pair(5, 4), pair(2, 2), pair(lens(3, 4), 3)], EOT)),
        Case("a one-token prompt and a one-token response", ([pair(1, 1), pair(3, lens(2, 3))], 0)),
    ]


def _batch_mutant(mask_from=None, pad_target=IGNORE_INDEX, mask_by_value=False, keep_prompt=False):
    """The reference with one step changed: where the prompt mask ends, what padding targets get, …"""

    def batch(pairs, pad_id):
        L = max(len(p) + len(r) for p, r in pairs)
        idx = torch.full((len(pairs), L - 1), pad_id, dtype=torch.long)
        targets = torch.full((len(pairs), L - 1), pad_target if pad_target is not None else pad_id, dtype=torch.long)
        for b, (prompt, response) in enumerate(pairs):
            seq = torch.tensor(list(prompt) + list(response))
            n = len(seq) - 1
            idx[b, :n], targets[b, :n] = seq[:-1], seq[1:]
            cut = len(prompt) - 1 if mask_from is None else max(mask_from(len(prompt)), 0)
            if mask_from == "response":
                targets[b, len(prompt) - 1: n] = IGNORE_INDEX
            elif not keep_prompt:
                targets[b, :cut] = IGNORE_INDEX
        if mask_by_value:
            targets[targets == pad_id] = IGNORE_INDEX
        return idx, targets

    if mask_from == "response":
        def inverted(pairs, pad_id):
            L = max(len(p) + len(r) for p, r in pairs)
            idx = torch.full((len(pairs), L - 1), pad_id, dtype=torch.long)
            targets = torch.full((len(pairs), L - 1), IGNORE_INDEX, dtype=torch.long)
            for b, (prompt, response) in enumerate(pairs):
                seq = torch.tensor(list(prompt) + list(response))
                idx[b, :len(seq) - 1] = seq[:-1]
                targets[b, :len(prompt) - 1] = seq[1:len(prompt)]
            return idx, targets

        return inverted
    return batch


def _batch_vectorised(pairs, pad_id):
    seqs = [torch.tensor(list(p) + list(r)) for p, r in pairs]
    padded = nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=pad_id)  # (B, L)
    lengths = torch.tensor([len(s) for s in seqs])
    prompt_lengths = torch.tensor([len(p) for p, _ in pairs])
    positions = torch.arange(padded.shape[1] - 1)[None, :]  # target positions 0 … L-2
    targets = padded[:, 1:].clone()
    is_response = (positions >= prompt_lengths[:, None] - 1) & (positions < lengths[:, None] - 1)
    targets[~is_response] = IGNORE_INDEX
    idx = padded[:, :-1].masked_fill(positions >= lengths[:, None] - 1, pad_id)  # a row's last token is never read
    return idx, targets


def _batch_lists(pairs, pad_id):
    L = max(len(p) + len(r) for p, r in pairs)
    rows, target_rows = [], []
    for prompt, response in pairs:
        seq = list(prompt) + list(response)
        labels = [IGNORE_INDEX] * len(prompt) + list(response)  # the label of each token of seq
        rows.append(seq[:-1] + [pad_id] * (L - len(seq)))
        target_rows.append(labels[1:] + [IGNORE_INDEX] * (L - len(seq)))
    return torch.tensor(rows), torch.tensor(target_rows)


check_instruction_batch = make_check(CheckSpec(
    exercise="instruction_batch",
    reference=instruction_batch,
    make_cases=_batch_cases,
    mistakes=[
        Mistake("response-masked", _batch_mutant(mask_from="response"),
                "the mask is the wrong way round: you kept the loss on the prompt and masked the response; the model "
                "should learn to write the response, so the prompt's targets are -100"),
        Mistake("boundary-one-too-many", _batch_mutant(mask_from=lambda n: n),
                "off by one at the boundary: you masked len(prompt) targets, so the first response token is never "
                "trained; targets are shifted, so only the first len(prompt) - 1 are prompt tokens"),
        Mistake("boundary-one-too-few", _batch_mutant(mask_from=lambda n: n - 2),
                "off by one at the boundary: you masked len(prompt) - 2 targets, so the model is still trained to "
                "predict the prompt's last token; mask exactly the first len(prompt) - 1 targets"),
        Mistake("padding-counted", _batch_mutant(pad_target=None),
                "the padding is counted in the loss: its targets are pad_id; set every padding target to -100"),
        Mistake("padding-found-by-value", _batch_mutant(pad_target=None, mask_by_value=True),
                "you found the padding by its value (targets == pad_id), which also hides real tokens equal to pad_id "
                "(here <|endoftext|>, the end of every response); mark padding by position, from each example's length"),
        Mistake("prompt-not-masked", _batch_mutant(keep_prompt=True),
                "the prompt's targets are not masked: the loss must be on the response only (prompt targets = -100)"),
    ],
    variants=[_batch_vectorised, _batch_lists],
    hints=[
        "Build each row as prompt + response, shift it by one for (idx, targets), pad, then set to -100 every target "
        "that is a prompt token or padding.",
        "idx and targets are (B, L - 1) with L the longest len(prompt) + len(response). Target t is the token at "
        "t + 1, so the first len(prompt) - 1 targets are prompt tokens.",
        "Per row: idx[b, :n] = seq[:-1]; targets[b, :n] = seq[1:]; targets[b, :len(prompt) - 1] = -100, with targets "
        "starting full of -100 and idx full of pad_id.",
    ],
))

# --- LoRALinear(base, r, alpha) -----------------------------------------------------------------------


def lora_invoker(cls, case: Case):
    """Build base and cls(base, r, alpha); report (starts equal to base?, learns in one step?, output with fixed A and
    B, trainable names).

    "Learns" takes one gradient step from the layer's own initial A and B and asks whether the output moved: with
    A = B = 0 both gradients are zero and the adapter never trains, though every other number is right. A and B are
    then set to the case's values so the output depends on the formula, not on how A was drawn.
    """
    spec = case.init
    torch.manual_seed(len(case.name))
    base = nn.Linear(spec["in_features"], spec["out_features"], bias=spec["bias"])
    layer = cls(base, r=spec["r"], alpha=spec["alpha"])
    if not isinstance(layer, nn.Module):
        raise TypeError(f"pass the class itself (an nn.Module subclass); it built {type(layer).__name__}")
    x = case.args[0]
    starts_as_base = bool(torch.allclose(layer(x), base(x), atol=1e-6))
    for name in ("A", "B"):
        if not isinstance(getattr(layer, name, None), nn.Parameter):
            raise AttributeError(f"LoRALinear needs an nn.Parameter called {name}: A of shape (r, in_features), "
                                 "B of shape (out_features, r)")
    learns = _learns_in_one_step(layer, x)
    with torch.no_grad():
        layer.A.copy_(spec["A"])
        layer.B.copy_(spec["B"])
    trainable = tuple(sorted(name for name, p in layer.named_parameters() if p.requires_grad))
    return starts_as_base, learns, layer(x), trainable


def _learns_in_one_step(layer: nn.Module, x: torch.Tensor) -> bool:
    """One SGD step (lr 1) on a copy, on a fixed random objective: does the low-rank path's output move?"""
    probe = copy.deepcopy(layer)
    with torch.enable_grad():
        before = probe(x)
        weight = torch.randn(before.shape, generator=torch.Generator().manual_seed(2))
        (before * weight).sum().backward()
    with torch.no_grad():
        for name in ("A", "B"):
            parameter = getattr(probe, name)
            if parameter.grad is not None:
                parameter -= parameter.grad
        return not torch.equal(probe(x), before.detach())


def _lora_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for name, n_in, n_out, r, alpha, bias, shape in [
        ("in 8, out 6, r 2, alpha 8", 8, 6, 2, 8.0, True, (2, 3)),
        ("in 16, out 48 (like c_attn), r 4, alpha 16", 16, 48, 4, 16.0, True, (2, 5)),
        ("no bias, r 1, alpha 4", 6, 6, 1, 4.0, False, (4,)),
        ("r 3, alpha 1.5 (scaling 0.5)", 10, 7, 3, 1.5, True, (1, 1)),
    ]:
        init = dict(in_features=n_in, out_features=n_out, r=r, alpha=alpha, bias=bias,
                    A=torch.randn(r, n_in, generator=g), B=torch.randn(n_out, r, generator=g))
        cases.append(Case(name, (torch.randn(*shape, n_in, generator=g),), init=init))
    return cases


class _LoRAMistake(nn.Module):
    """A LoRA layer with switchable mistakes; each catalog entry below switches on exactly one."""

    b_random = False
    a_zero = False
    freeze = True

    def scaling_for(self, alpha, r):
        return alpha / r

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        if self.freeze:
            base.requires_grad_(False)
        self.scaling = self.scaling_for(alpha, r)
        self.A = nn.Parameter(torch.zeros(r, base.in_features) if self.a_zero else
                              torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.randn(base.out_features, r) * 0.1 if self.b_random else torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + self.scaling * (x @ self.A.T @ self.B.T)


class _BNotZero(_LoRAMistake):
    b_random = True


class _AZeroToo(_LoRAMistake):
    a_zero = True


class _NoScaling(_LoRAMistake):
    def scaling_for(self, alpha, r):
        return 1.0


class _ScalingInverted(_LoRAMistake):
    def scaling_for(self, alpha, r):
        return r / alpha


class _BaseTrainable(_LoRAMistake):
    freeze = False


class _LoRAMergedWeight(nn.Module):
    """A variant: build the full update matrix and call F.linear once."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad = False
        self.A = nn.Parameter(nn.init.normal_(torch.empty(r, base.in_features), std=0.02))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.alpha, self.r = alpha, r

    def forward(self, x):
        weight = self.base.weight + (self.alpha / self.r) * self.B @ self.A
        return nn.functional.linear(x, weight, self.base.bias)


class _LoRATwoSteps(nn.Module):
    """A variant: scale the input of the low-rank path, then two F.linear calls."""

    def __init__(self, base, r, alpha):
        super().__init__()
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)
        self.base = base
        self.A = nn.Parameter(torch.rand(r, base.in_features) - 0.5)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        down = nn.functional.linear(x * self.scale, self.A)  # (..., r)
        return self.base(x) + nn.functional.linear(down, self.B)


check_lora_linear = make_check(CheckSpec(
    exercise="lora_linear",
    reference=LoRALinear,
    make_cases=_lora_cases,
    invoke=lora_invoker,
    mistakes=[
        Mistake("b-not-zero", _BNotZero,
                "at the start your layer's output differs from the base layer's: B must start at zero (torch.zeros), "
                "so that B·A = 0 and fine-tuning starts from the pretrained model"),
        Mistake("a-zero-too", _AZeroToo,
                "A starts at zero as well as B: then both gradients are zero (B's is A·x, A's is B·…) and one step of "
                "training changes nothing, ever. Only B starts at zero; draw A at random"),
        Mistake("no-scaling", _NoScaling,
                "the update is not scaled: multiply the low-rank path by alpha / r"),
        Mistake("scaling-inverted", _ScalingInverted,
                "the scaling is upside down: it is alpha / r, not r / alpha"),
        Mistake("base-trainable", _BaseTrainable,
                "the base layer's weight and bias are still trainable: call requires_grad_(False) on them, so only A "
                "and B train (that is the point of LoRA)"),
    ],
    variants=[_LoRAMergedWeight, _LoRATwoSteps],
    hints=[
        "Keep `base` as it is but frozen; add two new parameters A (r × in) and B (out × r); the output is the base "
        "output plus a scaled low-rank path.",
        "A random (e.g. nn.init.kaiming_uniform_ or randn · small), B = zeros(out_features, r); forward: "
        "base(x) + (x @ A.T @ B.T) * (alpha / r). Freeze with base.requires_grad_(False).",
        "Key lines: self.A = nn.Parameter(torch.randn(r, base.in_features) * 0.01); "
        "self.B = nn.Parameter(torch.zeros(base.out_features, r)); return self.base(x) + (x @ self.A.T @ self.B.T) * self.alpha / self.r",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _pooled_position(case, expected, actual):
    """Which position each row was read from: the last real token is at mask[b].sum() - 1."""
    hidden, mask = case.args
    if actual.shape != expected.shape:
        return None
    last = mask.long().sum(1) - 1
    for b in range(hidden.shape[0]):
        if torch.equal(actual[b], expected[b]):
            continue
        same = [t for t in range(hidden.shape[1]) if torch.allclose(actual[b], hidden[b, t])]
        if same:
            return say("finetuning.pool.position", row=b, position=same[0], last=int(last[b]),
                       count=int(mask[b].long().sum()))
        return say("finetuning.pool.combined", row=b, last=int(last[b]))
    return None


def _pool_argmin(hidden, mask):
    """mask.argmin(1) finds the first padding position (one past the end), and 0 for a row without padding."""
    return hidden[torch.arange(hidden.shape[0]), mask.long().argmin(1)]


def _pool_masked_sum_over_T(hidden, mask):
    """An average over the real tokens, but divided by T, padding included: a mean, and the padding counted."""
    return (hidden * mask[..., None].to(hidden.dtype)).sum(1) / hidden.shape[1]


check_pool_last_token.spec.properties += [_pooled_position]
check_pool_last_token.spec.combined += [_pool_argmin, _pool_masked_sum_over_T]


def _response_targets(case, expected, actual):
    """Count the targets the loss is on (those not -100), row by row, and say where they start."""
    if not (isinstance(actual, tuple) and len(actual) == 2) or actual[1].shape != expected[1].shape:
        return None
    (_, want), (_, got) = expected, actual
    for b in range(want.shape[0]):
        n_want, n_got = int((want[b] != IGNORE_INDEX).sum()), int((got[b] != IGNORE_INDEX).sum())
        if n_want != n_got:
            first = (got[b] != IGNORE_INDEX).nonzero()
            start = say("finetuning.targets.start", start=int(first[0])) if len(first) else ""
            return say("finetuning.targets.count", row=b, count=n_got, start=start, want=n_want,
                       want_start=int((want[b] != IGNORE_INDEX).nonzero()[0]))
    return None


check_instruction_batch.spec.properties += [_response_targets]
check_instruction_batch.spec.combined += [
    _batch_mutant(mask_from=lambda n: n, pad_target=None),  # boundary one too many + padding counted
    _batch_mutant(keep_prompt=True, pad_target=None),       # prompt not masked + padding counted
]


def _lora_parts(case, expected, actual):
    """The invoker's report: (starts as the base layer?, learns in one step?, output, trainable names); then the
    output with the case's A and B, read as base(x) + c · x Aᵀ Bᵀ to find the scale c."""
    starts, learns, output, names = actual
    if not starts and expected[0]:
        return say("finetuning.lora.start",
                   also=say("finetuning.lora.also_trainable") if names != expected[3] else "")
    if names != expected[3]:
        return say("finetuning.lora.trainable", want=list(expected[3]), got=list(names))
    spec, x = case.init, case.args[0]
    torch.manual_seed(len(case.name))  # the base layer exactly as lora_invoker builds it
    base = nn.Linear(spec["in_features"], spec["out_features"], bias=spec["bias"]).requires_grad_(False)
    low = (x @ spec["A"].T @ spec["B"].T).double().flatten()
    rest = (output - base(x)).double().flatten()
    c = float(rest @ low / (low @ low))
    if torch.allclose(rest, c * low, rtol=1e-4, atol=1e-5) and abs(c - spec["alpha"] / spec["r"]) > 1e-6:
        return say("finetuning.lora.scale", scale=c, alpha=spec["alpha"], r=spec["r"], want=spec["alpha"] / spec["r"])
    return None


class _NoScalingBaseTrainable(_LoRAMistake):
    freeze = False

    def scaling_for(self, alpha, r):
        return 1.0


class _BNotZeroInverted(_LoRAMistake):
    b_random = True

    def scaling_for(self, alpha, r):
        return r / alpha


check_lora_linear.spec.properties += [_lora_parts]
check_lora_linear.spec.combined += [_NoScalingBaseTrainable, _BNotZeroInverted]
