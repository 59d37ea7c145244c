"""Checks for lesson 06: the GPT forward pass as a free function, and counting parameters."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.course.checks.core import Case, CheckSpec, Mistake, count_off_by, module_invoker, reference_module
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say
from gptlab.nn.model import GPT, PRESETS, GPTConfig, count_parameters

# --- gpt_forward(model, idx, targets=None) -------------------------------------------------------


def _forward_written_out(model, idx, targets=None):
    """What GPT.forward computes, written out: embeddings, blocks, final LayerNorm, head, loss."""
    t = model.transformer
    T = idx.shape[1]
    x = t.drop(t.wte(idx) + t.wpe(torch.arange(T, device=idx.device)))
    for block in t.h:
        x = block(x)
    logits = model.lm_head(t.ln_f(x))
    loss = None
    if targets is not None:
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    return logits, loss


def _model(seed: int, **overrides) -> GPT:
    torch.manual_seed(seed)
    # vocab_size <= block_size, so a position table indexed by token ids gives numbers, not an IndexError
    config = GPTConfig(**{**dict(vocab_size=16, block_size=16, n_layer=2, n_head=2, n_embd=16), **overrides})
    model = GPT(config).eval()
    with torch.no_grad():
        # Move every weight away from GPT-2's small initial values: LayerNorms off weight 1 / bias 0 (so
        # forgetting one shows) and logits far from uniform (so every position's loss term matters).
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def _gpt_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def ids(B, T, V=16):
        return torch.randint(0, V, (B, T), generator=g)

    targets = ids(2, 9)
    targets[0, :4] = -100  # e.g. a prompt whose tokens are not trained on
    targets[1, -1] = -100
    return [
        Case("logits only (targets=None)", (_model(seed), ids(2, 7))),
        Case("with targets, some -100", (_model(seed + 1), ids(2, 9), targets)),
        Case("one token (T = 1)", (_model(seed + 2), ids(3, 1), ids(3, 1))),
        Case("a full block (T = 16)", (_model(seed + 3), ids(1, 16), ids(1, 16))),
        Case("an untied output layer", (_model(seed + 4, tie_weights=False), ids(2, 5), ids(2, 5))),
    ]


def _mutant(embed=None, final_norm=True, head=None, loss=None):
    """The reference with one step replaced: each catalogued mistake is a one-line change."""

    def forward(model, idx, targets=None):
        t = model.transformer
        T = idx.shape[1]
        x = embed(model, idx) if embed else t.wte(idx) + t.wpe(torch.arange(T))
        for block in t.h:
            x = block(x)
        if final_norm:
            x = t.ln_f(x)
        logits = head(model, x) if head else model.lm_head(x)
        if targets is None:
            return logits, None
        return logits, (loss or _mean_loss)(logits, targets)

    return forward


def _mean_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def _shift_again(logits, targets):
    return _mean_loss(logits[:, :-1], targets[:, 1:])


def _minus_100_as_token_0(logits, targets):
    return _mean_loss(logits, targets.clamp(min=0))


def _mean_over_all_positions(logits, targets):
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="none")
    return per_token.sum() / targets.numel()


def _fresh_head(model, x):
    return nn.Linear(model.config.n_embd, model.config.vocab_size, bias=False)(x)


def _wte_as_head_always(model, x):
    return x @ model.transformer.wte.weight.T


def gpt_forward(model, idx, targets=None):
    """The reference: the library's own GPT.forward."""
    return model(idx, targets)


def _manual_loss(model, idx, targets=None):
    logits, _ = _forward_written_out(model, idx)
    if targets is None:
        return logits, None
    log_probs = logits.log_softmax(dim=-1)  # (B, T, V)
    keep = targets != -100
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T)
    return logits, -(picked * keep).sum() / keep.sum()


check_gpt_forward = make_check(CheckSpec(
    exercise="gpt_forward",
    reference=gpt_forward,
    make_cases=_gpt_cases,
    mistakes=[
        Mistake("no-final-layernorm", _mutant(final_norm=False),
                "the final LayerNorm is missing: pre-norm blocks leave the residual stream unnormalised, so apply "
                "model.transformer.ln_f before lm_head"),
        Mistake("positions-by-token-id", _mutant(embed=lambda m, idx: m.transformer.wte(idx) + m.transformer.wpe(idx)),
                "the position embedding is indexed by token ids (wpe(idx)); index it by position: wpe(torch.arange(T))"),
        Mistake("positions-from-one", _mutant(embed=lambda m, idx: m.transformer.wte(idx) + m.transformer.wpe(torch.arange(1, idx.shape[1] + 1) % m.config.block_size)),
                "positions start at 0: the first token takes wpe row 0"),
        Mistake("fresh-untied-head", _mutant(head=_fresh_head),
                "you made a new output layer with random weights; use model.lm_head, which shares its weights with "
                "the token embedding when they are tied"),
        Mistake("wte-as-head-when-untied", _mutant(head=_wte_as_head_always),
                "this model's output layer is not tied to the embedding (tie_weights=False): use model.lm_head, not wte's matrix"),
        Mistake("targets-shifted-twice", _mutant(loss=_shift_again),
                "the targets arrive already shifted (targets[:, t] is the token after idx[:, t]); shifting them again "
                "trains the model to predict two tokens ahead"),
        Mistake("minus-100-counted", _mutant(loss=_minus_100_as_token_0),
                "positions whose target is -100 must be ignored (ignore_index=-100); you counted them as token 0"),
        Mistake("mean-over-ignored-too", _mutant(loss=_mean_over_all_positions),
                "average the loss over the positions that are not -100 only; you divided by all positions"),
    ],
    variants=[_forward_written_out, _manual_loss],
    hints=[
        "Embeddings (token + position), every block in order, the final LayerNorm, the output layer; then the "
        "cross-entropy if targets were given.",
        "x is (B, T, C) throughout; logits are (B, T, V). F.cross_entropy wants (B·T, V) and (B·T,): "
        "logits.view(-1, V), targets.view(-1), ignore_index=-100.",
        "Key lines: x = t.wte(idx) + t.wpe(torch.arange(T)); for block in t.h: x = block(x); "
        "logits = model.lm_head(t.ln_f(x))",
    ],
))

# --- count_parameters(config) ---------------------------------------------------------------------


def _count_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    V, C = int(torch.randint(50, 500, (1,), generator=g)), 8 * int(torch.randint(2, 20, (1,), generator=g))
    return [
        Case("GPT-2 small", (GPTConfig.preset("gpt2"),)),
        Case("GPT-2 xl", (GPTConfig.preset("gpt2-xl"),)),
        Case("the course's tiny model", (GPTConfig(**PRESETS["tiny"]),)),
        Case("no biases", (GPTConfig(**PRESETS["tiny"], bias=False),)),
        Case("an untied output layer", (GPTConfig(**PRESETS["tiny"], tie_weights=False),)),
        Case(f"vocab {V}, width {C}", (GPTConfig(vocab_size=V, block_size=32, n_layer=3, n_head=2, n_embd=C),)),
    ]


def _formula(counter):
    return lambda config: counter(config.vocab_size, config.block_size, config.n_embd, config.n_layer,
                                  1 if config.bias else 0, config.tie_weights)


def _pieces(V, P, C, L, b, tied, head_twice=False, no_positions=False, no_bias=False, no_norms=False, mlp_width=4, attn_matrices=4,
            no_ln_f=False):
    bb = 0 if no_bias else b
    norm = 0 if no_norms else C + bb * C
    attention = (attn_matrices - 1) * C * C + bb * 3 * C + C * C + bb * C if attn_matrices != 4 else 4 * C * C + bb * 4 * C
    mlp = 2 * mlp_width * C * C + bb * (mlp_width * C + C)
    embeddings = V * C + (0 if no_positions else P * C)
    head = V * C if (head_twice or not tied) else 0
    return embeddings + L * (2 * norm + attention + mlp) + (0 if no_ln_f else norm) + head


check_count_parameters = make_check(CheckSpec(
    exercise="count_parameters",
    reference=count_parameters,  # the library's formula (gptlab.nn.model)
    make_cases=_count_cases,
    mistakes=[
        Mistake("tied-head-counted-twice", _formula(lambda *a: _pieces(*a, head_twice=True)),
                "with tied weights the output layer IS the token embedding: count that V × C matrix once"),
        Mistake("no-position-embedding", _formula(lambda *a: _pieces(*a, no_positions=True)),
                "the position table wpe (block_size × C) is missing from your count"),
        Mistake("no-biases", _formula(lambda *a: _pieces(*a, no_bias=True)),
                "the biases are missing: with bias=True every Linear and LayerNorm has one (c_attn's is 3C, c_fc's is 4C)"),
        Mistake("no-layernorms", _formula(lambda *a: _pieces(*a, no_norms=True)),
                "the LayerNorms are missing: ln_1 and ln_2 in every block and ln_f at the end, each a weight (and a bias) of size C"),
        Mistake("no-final-layernorm", _formula(lambda *a: _pieces(*a, no_ln_f=True)),
                "you are 2·C short (C without biases): the final LayerNorm ln_f, after the last block and before the "
                "output layer, has a weight and a bias of size C"),
        Mistake("mlp-2x-wide", _formula(lambda *a: _pieces(*a, mlp_width=2)),
                "the MLP widens to 4·C, not 2·C: c_fc is C × 4C and c_proj is 4C × C"),
        Mistake("only-one-attention-projection", _formula(lambda *a: _pieces(*a, attn_matrices=2)),
                "c_attn makes q, k and v at once: it is C × 3C, plus c_proj (C × C); you counted one C × C for the three"),
    ],
    variants=[lambda config: GPT(config).num_params() if config.n_layer < 10 else count_parameters(config),
              lambda config: sum(p.numel() for p in {id(p): p for p in GPT(config).parameters()}.values()) if config.n_layer < 10
              else count_parameters(config)],
    hints=[
        "Go part by part: the two embedding tables, one block (two LayerNorms, attention, MLP) times n_layer, the final "
        "LayerNorm, and the output layer only if it is not tied.",
        "With biases, a Linear(in, out) has in·out + out parameters and a LayerNorm(C) has 2·C; attention is c_attn "
        "(C → 3C) plus c_proj (C → C), the MLP is c_fc (C → 4C) plus c_proj (4C → C).",
        "Per block: 12·C² + 13·C with biases. Total: V·C + block_size·C + n_layer·(12·C² + 13·C) + 2·C (+ V·C if untied).",
    ],
))

# --- GPT(config): the module the learner assembles from their own parts ----------------------------


def _gpt_module_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)

    def ids(B, T, V=16):
        return torch.randint(0, V, (B, T), generator=g)

    small = dict(vocab_size=16, block_size=16, n_layer=2, n_head=2, n_embd=16)
    targets = ids(2, 9)
    targets[0, :4] = -100
    targets[1, -1] = -100
    return [
        Case("logits only (targets=None)", (ids(2, 7),), init={"config": GPTConfig(**small)}),
        Case("with targets, some -100", (ids(2, 9), targets), init={"config": GPTConfig(**small)}),
        Case("one token (T = 1), 3 layers", (ids(3, 1), ids(3, 1)), init={"config": GPTConfig(**{**small, "n_layer": 3})}),
        Case("a full block (T = 16)", (ids(1, 16), ids(1, 16)), init={"config": GPTConfig(**small)}),
        Case("an untied output layer", (ids(2, 5), ids(2, 5)), init={"config": GPTConfig(**small, tie_weights=False)}),
    ]


def _as_module(forward, name: str) -> type:
    """A GPT whose forward is `forward(model, idx, targets)`: each catalogued mistake as a module."""
    return type(name, (GPT,), {"forward": lambda self, idx, targets=None: forward(self, idx, targets)})


_FORWARD_MISTAKES = {m.name: m.impl for m in check_gpt_forward.spec.mistakes}


class _NoFinalLayernorm(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['no-final-layernorm'](self, idx, targets)


class _PositionsByTokenId(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['positions-by-token-id'](self, idx, targets)


class _PositionsFromOne(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['positions-from-one'](self, idx, targets)


class _WteAsHeadWhenUntied(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['wte-as-head-when-untied'](self, idx, targets)


class _TargetsShiftedTwice(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['targets-shifted-twice'](self, idx, targets)


class _Minus100Counted(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['minus-100-counted'](self, idx, targets)


class _MeanOverIgnoredToo(GPT):
    def forward(self, idx, targets=None):
        return _FORWARD_MISTAKES['mean-over-ignored-too'](self, idx, targets)


check_gpt = make_check(CheckSpec(
    exercise="gpt",
    reference=GPT,
    make_cases=_gpt_module_cases,
    invoke=module_invoker(GPT),
    output=("the logits", "the loss"),
    mistakes=[
        Mistake(m.name, globals()["_" + m.name.title().replace("-", "")], m.hint)
        for m in check_gpt_forward.spec.mistakes if m.name != "fresh-untied-head"
    ],
    variants=[_as_module(_forward_written_out, "_WrittenOut"), _as_module(_manual_loss, "_ManualLoss")],
    hints=[
        "The same pass as the package's GPT: embeddings (token + position), your blocks in order, the final LayerNorm, "
        "the output layer; then the cross-entropy if targets were given.",
        "x is (B, T, C) throughout; logits are (B, T, V). F.cross_entropy wants (B·T, V) and (B·T,): "
        "logits.view(-1, V), targets.view(-1), ignore_index=-100.",
        "Key lines: x = t.drop(t.wte(idx) + t.wpe(torch.arange(T))); for block in t.h: x = block(x); "
        "logits = self.lm_head(t.ln_f(x))",
    ],
    aliases=("gpt_model",),
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------

check_count_parameters.spec.properties += [count_off_by]
check_count_parameters.spec.combined += [
    _formula(lambda *a: _pieces(*a, no_ln_f=True, no_positions=True)),
    _formula(lambda *a: _pieces(*a, no_bias=True, head_twice=True)),
]


def _forward_parts(model, expected, actual) -> str | None:
    """Read back what lm_head was given (its matrix is square and invertible here, V = C = 16): it must be ln_f's
    output. Then, with the logits right, the loss alone is wrong."""
    (want_logits, want_loss), (logits, loss) = expected, actual
    if logits.shape != want_logits.shape:
        return None
    W, ln = model.lm_head.weight.detach().double(), model.transformer.ln_f
    if not torch.allclose(logits, want_logits, atol=1e-4, rtol=1e-3):
        if W.shape[0] != W.shape[1]:
            return None
        x = torch.linalg.solve(W, logits.detach().double().reshape(-1, W.shape[0]).T).T  # what lm_head read, (B·T, C)
        z = (x - ln.bias.detach().double()) / ln.weight.detach().double()
        if (z.mean(-1).abs().max() > 1e-3) or ((z.var(-1, unbiased=False) - 1).abs().max() > 1e-2):
            return say("gpt.forward.not_normalised", mean=float(z.mean(-1).abs().max()))
        return None
    if want_loss is not None and loss is not None and not torch.allclose(torch.as_tensor(loss).double(),
                                                                         want_loss.double(), atol=1e-5, rtol=1e-4):
        return say("gpt.forward.loss", loss=float(loss), want=float(want_loss))
    return None


def _gpt_forward_parts(case, expected, actual):
    return _forward_parts(case.args[0], expected, actual)


def _gpt_module_parts(case, expected, actual):
    return _forward_parts(reference_module(GPT, case).requires_grad_(False), expected, actual)


_no_norm_positions_by_id = _mutant(final_norm=False, embed=lambda m, idx: m.transformer.wte(idx) + m.transformer.wpe(idx))
_shifted_twice_minus_100 = _mutant(loss=lambda logits, targets: _shift_again(logits, targets.clamp(min=0)))

check_gpt_forward.spec.properties += [_gpt_forward_parts]
check_gpt_forward.spec.combined += [_no_norm_positions_by_id, _shifted_twice_minus_100]
check_gpt.spec.properties += [_gpt_module_parts]
check_gpt.spec.combined += [_as_module(_no_norm_positions_by_id, "_NoNormPositionsById"),
                            _as_module(_shifted_twice_minus_100, "_ShiftedTwiceMinus100")]
