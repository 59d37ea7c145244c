"""Checks for lesson 08: temperature, top-k, top-p, and one step of a KV-cached GPT."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptlab import generation as generate
from gptlab.course.checks.core import Case, CheckSpec, Mistake, describe_difference, keeps_as_many, overflows, sums_to_one
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say
from gptlab.nn.kv_cache import cached_step

# --- temperature_softmax(logits, temperature) ----------------------------------------------------


def _temperature_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    T = round(0.3 + 2.5 * float(torch.rand(1, generator=g)), 2)
    return [
        Case("one row of 6 logits, T = 0.5", (torch.randn(6, generator=g) * 2, 0.5)),
        Case("batch (3, 10), T = 2", (torch.randn(3, 10, generator=g), 2.0)),
        Case(f"batch (2, 4, 12), T = {T}", (torch.randn(2, 4, 12, generator=g) * 3, T)),
        Case("large logits (around 500), T = 0.7", (500 + torch.randn(2, 8, generator=g) * 4, 0.7)),
        Case("T = 1 changes nothing", (torch.randn(5, generator=g), 1.0)),
        Case("float64, T = 0.1", (torch.randn(2, 7, generator=g, dtype=torch.float64), 0.1)),
    ]


check_temperature_softmax = make_check(CheckSpec(
    exercise="temperature_softmax",
    reference=generate.temperature_softmax,
    make_cases=_temperature_cases,
    mistakes=[
        Mistake("divides-probabilities", lambda logits, T: torch.softmax(logits, dim=-1) / T,
                "you divided the probabilities by the temperature, so they no longer sum to 1 (and renormalising "
                "would undo it); divide the logits, then take the softmax"),
        Mistake("temperature-after-softmax", lambda logits, T: torch.softmax(torch.softmax(logits, dim=-1) / T, dim=-1),
                "the temperature must scale the logits before the softmax; you applied it to the probabilities and "
                "took a second softmax, which flattens everything towards uniform"),
        Mistake("multiplies-by-temperature", lambda logits, T: torch.softmax(logits * T, dim=-1),
                "you multiplied by the temperature: a high temperature must flatten the distribution, so divide the logits by T"),
        Mistake("softmax-wrong-axis", lambda logits, T: torch.softmax(logits / T, dim=0),
                "each row of logits (the last axis, one score per vocabulary entry) must become a distribution: softmax over dim=-1"),
    ],
    variants=[
        lambda logits, T: (logits / T).softmax(-1),
        lambda logits, T: torch.softmax(torch.log_softmax(logits, dim=-1) / T, dim=-1),  # p ** (1/T), renormalised
        lambda logits, T: torch.exp(logits / T - torch.logsumexp(logits / T, dim=-1, keepdim=True)),
    ],
    hints=[
        "The temperature scales the scores, not the probabilities: divide the logits by T, then turn them into probabilities.",
        "logits / temperature has the shape of logits; the softmax goes over the last axis (dim=-1), one distribution per row.",
        "Key line: return torch.softmax(logits / temperature, dim=-1)",
    ],
))

# --- top_k_probs(logits, k) --------------------------------------------------------------------------


def _top_k_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    tied = torch.randn(2, 10, generator=g)
    tied[:, [1, 4, 7]] = tied.max() + 1.0  # three tokens share the largest logit
    tied[:, 2] = tied.max() + 2.0
    k = int(torch.randint(2, 9, (1,), generator=g))
    return [
        Case("one row of 8 logits, k = 3", (torch.randn(8, generator=g) * 2, 3)),
        Case("k = 1 is greedy", (torch.randn(2, 12, generator=g), 1)),
        Case(f"batch (3, 16), k = {k}", (torch.randn(3, 16, generator=g) * 2, k)),
        Case("k = V keeps every token", (torch.randn(2, 6, generator=g), 6)),
        Case("ties at the cut-off: k = 2, three tokens tied for 2nd place", (tied, 2)),
        Case("float64, batch (2, 2, 9), k = 4", (torch.randn(2, 2, 9, generator=g, dtype=torch.float64), 4)),
    ]


def _k_plus_one(logits, k):
    kth = torch.topk(logits, k + 1, dim=-1).values[..., -1:]
    return torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)


def _exactly_k_indices(logits, k):
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, torch.topk(logits, k, dim=-1).indices, True)
    return torch.softmax(logits.masked_fill(~keep, float("-inf")), dim=-1)


def _top_k_not_renormalised(logits, k):
    probs = torch.softmax(logits, dim=-1)
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]
    return probs.masked_fill(probs < kth, 0.0)


def _top_k_strictly_above(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return torch.softmax(logits.masked_fill(logits <= kth, float("-inf")), dim=-1)


def _top_k_sorted(logits, k):
    kth = logits.sort(dim=-1, descending=True).values[..., k - 1:k]
    return torch.softmax(torch.where(logits >= kth, logits, torch.full_like(logits, float("-inf"))), dim=-1)


def _top_k_renormalise_probs(logits, k):
    probs = torch.softmax(logits, dim=-1)
    probs = probs * (probs >= torch.topk(probs, k, dim=-1).values[..., -1:])
    return probs / probs.sum(dim=-1, keepdim=True)


check_top_k_probs = make_check(CheckSpec(
    exercise="top_k_probs",
    reference=generate.top_k_probs,
    make_cases=_top_k_cases,
    mistakes=[
        Mistake("keeps-k-plus-one", _k_plus_one,
                "you keep one token too many: the cut-off is the k-th largest logit, topk(logits, k).values[..., -1] "
                "(index k - 1), not the (k+1)-th"),
        Mistake("ties-mishandled", _exactly_k_indices,
                "tokens tied with the k-th largest logit are equally likely, yet you kept some and dropped others "
                "(topk's indices pick among ties arbitrarily); compare every logit with the k-th largest value instead"),
        Mistake("not-renormalised", _top_k_not_renormalised,
                "you zeroed the other tokens' probabilities but did not renormalise, so the kept ones do not sum to 1; "
                "filter the logits with -inf and take the softmax (or divide by the kept sum)"),
        Mistake("strictly-above-kth", _top_k_strictly_above,
                "you dropped the k-th token itself (logits <= k-th value): keep every token whose logit is >= the k-th largest"),
    ],
    variants=[_top_k_sorted, _top_k_renormalise_probs],
    hints=[
        "Find the k-th largest logit of each row; every token below it gets probability 0, the rest share all of the mass.",
        "torch.topk(logits, k, dim=-1).values[..., -1:] is the (..., 1) cut-off; masked_fill(logits < cutoff, float('-inf')) "
        "then a softmax over dim=-1.",
        "Key lines: kth = torch.topk(logits, k, dim=-1).values[..., -1:]; "
        "return torch.softmax(logits.masked_fill(logits < kth, float('-inf')), dim=-1)",
    ],
))

# --- top_p_probs(logits, p) ---------------------------------------------------------------------------


def _top_p_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    peaked = torch.randn(2, 9, generator=g)
    peaked[:, 3] += 8.0  # one token holds almost all the mass
    p = round(0.3 + 0.6 * float(torch.rand(1, generator=g)), 2)
    return [
        Case("one row of 10 logits, p = 0.9", (torch.randn(10, generator=g) * 2, 0.9)),
        Case(f"batch (3, 12), p = {p}", (torch.randn(3, 12, generator=g) * 1.5, p)),
        Case("p = 0.5, batch (2, 3, 8)", (torch.randn(2, 3, 8, generator=g) * 2, 0.5)),
        Case("one token above p on its own, p = 0.8", (peaked, 0.8)),
        Case("tiny p keeps only the most likely token", (torch.randn(2, 7, generator=g), 0.01)),
        Case("float64, p = 0.95", (torch.randn(2, 11, generator=g, dtype=torch.float64) * 2, 0.95)),
    ]


def _nucleus(logits, p, *, descending=True, crossing=True, renormalise=True, sort=True):
    probs = torch.softmax(logits, dim=-1)
    if sort:
        sorted_probs, order = probs.sort(dim=-1, descending=descending)
    else:
        sorted_probs, order = probs, torch.arange(probs.shape[-1]).expand(probs.shape)
    cumulative = sorted_probs.cumsum(dim=-1)
    remove_sorted = (cumulative - sorted_probs >= p) if crossing else (cumulative > p)
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    if not renormalise:
        return probs.masked_fill(remove, 0.0)
    return torch.softmax(logits.masked_fill(remove, float("-inf")), dim=-1)


def _nucleus_not_mapped_back(logits, p):
    """The nucleus kept in sorted order: the probabilities are right, but at the sorted positions, not the tokens'."""
    sorted_probs, _ = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)
    kept = sorted_probs.masked_fill(sorted_probs.cumsum(-1) - sorted_probs >= p, 0.0)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_shifted_mask(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    remove = sorted_probs.cumsum(-1) > p
    remove = torch.cat([torch.zeros_like(remove[..., :1]), remove[..., :-1]], dim=-1)  # shift right: keep the crossing token
    kept = torch.where(remove, torch.zeros_like(sorted_probs), sorted_probs)
    kept = kept / kept.sum(-1, keepdim=True)
    return torch.zeros_like(probs).scatter(-1, order, kept)


def _nucleus_ascending(logits, p):  # Hugging Face's formulation: drop the least likely tokens whose mass is <= 1 - p
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1)
    remove_sorted = sorted_probs.cumsum(-1) <= 1 - p
    remove_sorted[..., -1] = False  # the most likely token always stays
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return torch.softmax(logits.masked_fill(remove, float("-inf")), dim=-1)


check_top_p_probs = make_check(CheckSpec(
    exercise="top_p_probs",
    reference=generate.top_p_probs,
    make_cases=_top_p_cases,
    mistakes=[
        Mistake("drops-crossing-token", lambda logits, p: _nucleus(logits, p, crossing=False),
                "you dropped the token that takes the total past p: keep a token while the mass *before* it is below p "
                "(so the most likely token is always kept, even when it alone exceeds p)"),
        Mistake("sorted-ascending", lambda logits, p: _nucleus(logits, p, descending=False),
                "you kept the least likely tokens: sort the probabilities in descending order (descending=True) "
                "before the cumulative sum"),
        Mistake("not-renormalised", lambda logits, p: _nucleus(logits, p, renormalise=False),
                "the kept probabilities must be renormalised to sum to 1: filter the logits with -inf and take the "
                "softmax again (or divide by the kept sum)"),
        Mistake("not-mapped-back", _nucleus_not_mapped_back,
                "your probabilities are in sorted order: entry 0 is the most likely token's, not token 0's. Map the "
                "decision back to vocabulary order with the sort's indices (scatter(-1, order, ...)) before returning"),
        Mistake("not-sorted", lambda logits, p: _nucleus(logits, p, sort=False),
                "you summed the probabilities in vocabulary order: sort them from most to least likely first, "
                "then map the decision back with the sort's indices"),
    ],
    variants=[_nucleus_shifted_mask, _nucleus_ascending],
    hints=[
        "Rank the tokens from most to least likely and keep them until their probabilities add up to p — including "
        "the one that crosses p. Then renormalise what is kept.",
        "probs.sort(dim=-1, descending=True) gives (sorted, order); sorted.cumsum(-1) - sorted is the mass before each "
        "token; scatter the (..., V) 'remove' mask back with order.",
        "Key lines: s, order = torch.softmax(logits, -1).sort(-1, descending=True); remove = torch.zeros_like(logits, "
        "dtype=torch.bool).scatter(-1, order, s.cumsum(-1) - s >= p); "
        "return torch.softmax(logits.masked_fill(remove, float('-inf')), dim=-1)",
    ],
))

# --- cached_step(model, idx, past) -> (logits, present) ----------------------------------------------


def _step_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def ids(B, *lengths, vocab=61):
        return tuple(torch.randint(0, vocab, (B, T), generator=g) for T in lengths)

    return [
        Case("the prompt alone: 5 tokens, no past", (ids(2, 5),)),
        Case("prompt of 4, then 3 single tokens", (ids(2, 4, 1, 1, 1),)),
        Case("prompt of 1, then 2 tokens at once, then 1", (ids(1, 1, 2, 1),)),
        Case("B = 3: prompt of 6, then 4 single tokens", (ids(3, 6, 1, 1, 1, 1),)),
        Case("up to block_size: prompt of 10, then 6 single tokens", (ids(1, 10, 1, 1, 1, 1, 1, 1),)),
    ]


def _step_model():
    from gptlab.nn.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=61, block_size=16, n_layer=2, n_head=2, n_embd=16))
    with torch.no_grad():  # larger than the 0.02 init, so the positions and the past visibly matter
        for parameter in model.parameters():
            parameter.mul_(20.0 if parameter.dim() > 1 else 1.0)
    return model.eval()


def _invoke_steps(impl, case: Case):
    """Feed the case's chunks one call at a time, passing `present` back as `past`; collect every output."""
    model = _step_model()
    past, outputs = None, []
    for chunk in case.args[0]:
        result = impl(model, chunk, past)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"return (logits, present); got {type(result).__name__} {result!r}"[:200])
        logits, past = result
        outputs.append(logits)
    return outputs, [tuple(kv) for kv in past]


def _step_variant(*, cat_dim=2, offset=True, causal_offset=True, attend_past=True):
    def step(model, idx, past=None):
        t = model.transformer
        B, T = idx.shape
        start = 0 if past is None else past[0][0].shape[-2]
        x = t.wte(idx) + t.wpe(torch.arange(start if offset else 0, (start if offset else 0) + T))
        present = []
        for i, block in enumerate(t.h):
            attn, C = block.attn, block.attn.d_model
            q, k, v = (u.view(B, T, attn.n_heads, -1).transpose(1, 2) for u in attn.c_attn(block.ln_1(x)).split(C, dim=2))
            k_new, v_new = k, v
            if past is not None:
                k, v = torch.cat([past[i][0], k], dim=cat_dim), torch.cat([past[i][1], v], dim=cat_dim)
            present.append((k, v))
            if not attend_past:
                k, v = k_new, v_new
            if causal_offset:
                T_k = k.shape[-2]
                mask = torch.ones(T, T_k, dtype=torch.bool).tril(diagonal=T_k - T)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            else:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # top-left aligned when T < T_k
            x = x + attn.c_proj(y.transpose(1, 2).reshape(B, T, C))
            x = x + block.mlp(block.ln_2(x))
        return model.lm_head(t.ln_f(x)), present
    return step


def _step_written_out(model, idx: torch.Tensor, past=None):
    """The lesson's solution: each block by hand, (k, v) concatenated along the time axis."""
    t = model.transformer
    B, T = idx.shape
    start = 0 if past is None else past[0][0].shape[2]
    x = t.drop(t.wte(idx) + t.wpe(torch.arange(start, start + T, device=idx.device)))
    present = []
    for i, block in enumerate(t.h):
        attn = block.attn
        C, nh = attn.d_model, attn.n_heads
        q, k, v = attn.c_attn(block.ln_1(x)).split(C, dim=2)
        q, k, v = (u.view(B, T, nh, C // nh).transpose(1, 2) for u in (q, k, v))  # (B, nh, T, hs)
        if past is not None:
            k, v = torch.cat([past[i][0], k], dim=2), torch.cat([past[i][1], v], dim=2)  # along the time axis
        present.append((k, v))
        allowed = torch.ones(T, start + T, dtype=torch.bool, device=idx.device).tril(diagonal=start)  # query j sees keys <= start + j
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        x = x + attn.c_proj(y.transpose(1, 2).reshape(B, T, C))
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(t.ln_f(x)), present


def _step_with_einsum(model, idx, past=None):
    t = model.transformer
    B, T = idx.shape
    start = past[0][0].shape[2] if past else 0
    x = t.wte(idx) + t.wpe.weight[start:start + T]
    present = []
    for i, block in enumerate(t.h):
        attn, C, nh = block.attn, block.attn.d_model, block.attn.n_heads
        q, k, v = (u.unflatten(-1, (nh, C // nh)).permute(0, 2, 1, 3) for u in attn.c_attn(block.ln_1(x)).chunk(3, dim=-1))
        if past:
            k, v = torch.cat((past[i][0], k), -2), torch.cat((past[i][1], v), -2)
        present.append((k, v))
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(C // nh)
        future = torch.arange(k.shape[-2])[None, :] > (start + torch.arange(T))[:, None]
        weights = scores.masked_fill(future, float("-inf")).softmax(-1)
        x = x + attn.c_proj(torch.einsum("bhqk,bhkd->bqhd", weights, v).reshape(B, T, C))
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(t.ln_f(x)), present


check_cached_step = make_check(CheckSpec(
    exercise="cached_step",
    reference=cached_step,  # the library's: the model's own forward pass with a growing cache
    make_cases=_step_cases,
    invoke=_invoke_steps,
    mistakes=[
        Mistake("cache-wrong-axis", _step_variant(cat_dim=1),
                "the keys and values are (B, n_head, T, head_size): append the new positions along the time axis, "
                "torch.cat([past_k, k], dim=2), not dim=1 (the heads)"),
        Mistake("position-not-advanced", _step_variant(offset=False),
                "the new tokens got positions 0, 1, … again: with T_past positions cached, they are at "
                "T_past, T_past + 1, …, so use wpe(torch.arange(T_past, T_past + T_new))"),
        Mistake("causal-mask-not-offset", _step_variant(causal_offset=False),
                "with a cache the T_new queries are the LAST positions: is_causal=True aligns the mask to the top-left, "
                "so the new token only sees the first key. Use a mask where query j sees keys up to T_past + j"),
        Mistake("attends-only-to-new-tokens", _step_variant(attend_past=False),
                "your attention ignores the cached keys and values: attend over the past and the new positions together "
                "(the concatenated k and v)"),
    ],
    variants=[_step_written_out, _step_with_einsum],
    hints=[
        "A step does what the model does, for the new tokens only: their positions start where the cache ends, and "
        "their queries attend over the cached keys and values plus their own.",
        "Per block: q, k, v are (B, nh, T_new, hs); k = torch.cat([past_k, k], dim=2) gives (B, nh, T_past + T_new, hs). "
        "The mask is (T_new, T_past + T_new): torch.ones(...).tril(diagonal=T_past).",
        "Key lines: x = wte(idx) + wpe(torch.arange(T_past, T_past + T)); per block after the split into heads: "
        "k, v = torch.cat([pk, k], 2), torch.cat([pv, v], 2); present.append((k, v)); "
        "y = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(T, T_past + T, dtype=torch.bool).tril(T_past))",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------

check_temperature_softmax.spec.properties += [overflows("the probabilities"), sums_to_one("each row of probabilities")]
check_temperature_softmax.spec.combined += [
    lambda logits, T: torch.softmax(logits * T, dim=0),                           # multiplied + the wrong axis
    lambda logits, T: torch.exp(logits / T) / torch.exp(logits / T).sum(-1, keepdim=True) / T,  # no max + divided
]


def _top_k_k_plus_one_not_renormalised(logits, k):
    probs = torch.softmax(logits, dim=-1)
    return probs.masked_fill(probs < torch.topk(probs, k + 1, dim=-1).values[..., -1:], 0.0)


def _top_k_strictly_above_not_renormalised(logits, k):
    probs = torch.softmax(logits, dim=-1)
    return probs.masked_fill(probs <= torch.topk(probs, k, dim=-1).values[..., -1:], 0.0)


check_top_k_probs.spec.properties += [keeps_as_many(), sums_to_one("each row of probabilities")]
check_top_k_probs.spec.combined += [_top_k_k_plus_one_not_renormalised, _top_k_strictly_above_not_renormalised]

check_top_p_probs.spec.properties += [keeps_as_many(), sums_to_one("each row of probabilities")]
check_top_p_probs.spec.combined += [
    lambda logits, p: _nucleus(logits, p, crossing=False, renormalise=False),  # drops the crossing token, not renormalised
    lambda logits, p: _nucleus(logits, p, descending=False, sort=True, crossing=False),  # ascending, crossing dropped
]

_STEP_CHOICES = ("generation.step.cat_dim", "generation.step.offset", "generation.step.causal_offset",
                 "generation.step.attend_past")  # the messages that say what each of the four choices does wrong


def _step_choices(case, expected, actual):
    """The cache's shape first; then replay the case with each of the step's four choices switched and say which
    ones the answer makes."""
    import itertools

    (_, want_present), (_, present) = expected, actual
    wrong_shape = next(((i, tuple(k.shape), tuple(w.shape)) for i, ((k, _), (w, _)) in enumerate(zip(present, want_present))
                        if k.shape != w.shape), None)
    for flags in itertools.product((True, False), repeat=4):
        if all(flags):
            continue
        try:
            ours = _invoke_steps(_step_variant(cat_dim=2 if flags[0] else 1, offset=flags[1], causal_offset=flags[2],
                                               attend_past=flags[3]), case)
        except RuntimeError:  # a cache along the wrong axis does not fit the attention
            continue
        if describe_difference(ours, actual, 1e-4, 1e-3) is None:
            return say("generation.step.choices",
                       choices=say("join.and").join(say(c) for c, ok in zip(_STEP_CHOICES, flags) if not ok))
    if wrong_shape:
        i, got, want = wrong_shape
        return say("generation.step.cache_shape", layer=i, got=got, want=want)
    return None


check_cached_step.spec.properties += [_step_choices]
check_cached_step.spec.combined += [
    _step_variant(offset=False, causal_offset=False),   # positions not advanced + the mask not offset
    _step_variant(offset=False, attend_past=False),      # positions not advanced + the past not attended to
]
