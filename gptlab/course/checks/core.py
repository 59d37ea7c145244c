"""The one runner behind every exercise check.

A check is data — seeded cases, a reference implementation, a catalog of known mistakes, a few
correct variants — plus this module's runner. The runner is split in two so that a grader can run
the learner's code in another process and judge it here:

    outcomes = run_cases(spec, impl, seed)     # only calls the learner's code (may run sandboxed)
    result = judge(spec, outcomes, seed)       # compares with the reference and the catalog

Diagnosis follows ARENA's trick, made systematic: when the learner's outputs differ from the
reference, compute each catalogued mistake's outputs on the same cases; if the learner's match one,
its hint names the bug. Otherwise describe the first difference precisely (type, shape, dtype,
which positions, by how much).

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import copy
import functools
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from gptlab.course.messages import noun, say, text

PUBLIC_SEED = 0  # the cases a learner sees; a grader may draw fresh ones with other seeds

# Cases and calls are made reproducible by seeding torch's one process-wide generator. A grader judges
# several learners at once in threads; without this lock one thread's `manual_seed` lands between another's
# seed and its draws, and the reference's "expected" output changes from run to run.
_GLOBAL_RNG = threading.RLock()


def _holding_rng(function: Callable) -> Callable:
    @functools.wraps(function)
    def locked(*args, **kwargs):
        with _GLOBAL_RNG:
            return function(*args, **kwargs)
    return locked


class CheckFailed(AssertionError):
    """A check found a mistake. The message names it; `.mistake` is the catalog name, if one matched."""

    def __init__(self, message: str, *, exercise: str = "", mistake: str | None = None):
        super().__init__(message)
        self.exercise = exercise
        self.mistake = mistake


class Untrainable(Exception):
    """The learner's module computes the right outputs, but a parameter gets no gradient, so training would never
    change it (a `.detach()`, `.data`, `torch.no_grad()`, or a buffer where an nn.Parameter belongs)."""


@dataclass(frozen=True)
class Case:
    """One input to try: positional args, keyword args and a name shown in messages."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)  # constructor arguments, for nn.Module exercises


@dataclass(frozen=True)
class Mistake:
    """A small wrong implementation that learners really write, and the hint that names it."""

    name: str
    impl: Callable
    hint: str


def call_function(impl: Callable, case: Case) -> Any:
    """How most exercises are run: call the function on the case's arguments."""
    return impl(*case.args, **case.kwargs)


def module_invoker(reference_class: type, init: Callable[[Case], dict] | None = None) -> Callable[[type, Case], Any]:
    """How an nn.Module exercise is run: the learner passes the class, not an instance.

    The check builds the reference with the signature the lesson gives (`case.init`, or `init(case)`),
    seeded, with every parameter moved away from its initial value (a LayerNorm's weight starts at 1
    and its bias at 0, which would hide a forgotten scale or shift). It then builds the learner's class
    the same way and loads the reference's weights by name with strict=True, so a parameter named
    differently from GPT-2's names, or of another shape, is reported as such. Forward runs in eval
    mode (no dropout) on the case's args.
    """

    def invoke(cls: type, case: Case) -> Any:
        kwargs = init(case) if init is not None else dict(case.init)
        reference = reference_module(reference_class, case, kwargs)
        module = cls(**kwargs)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"pass the class itself (an nn.Module subclass); {cls!r} built a {type(module).__name__}")
        try:
            module.load_state_dict(reference.state_dict(), strict=True)
        except RuntimeError as error:  # names the missing / unexpected / mis-shaped parameters
            first = " ".join(str(error).split())
            raise ValueError(f"your module's parameters do not match the reference's names and shapes: {first}") from None
        module.eval()
        reference.eval()
        output = module(*case.args, **case.kwargs)
        if same(reference(*case.args, **case.kwargs), output, atol=1e-4, rtol=1e-3):
            _require_gradients(reference, module, case)
        return output

    return invoke


def reference_module(reference_class: type, case: Case, kwargs: dict | None = None) -> torch.nn.Module:
    """The reference module exactly as module_invoker builds it for `case` (seeded, every parameter moved), so that a
    property can read the weights the learner's module was given (undo a LayerNorm's weight and bias, say)."""
    generator = torch.Generator().manual_seed(len(case.name))
    torch.manual_seed(0)
    reference = reference_class(**(dict(case.init) if kwargs is None else kwargs))
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(0.5 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return reference.eval()


def _first_float_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else None
    if isinstance(value, (tuple, list)):
        return next((t for t in map(_first_float_tensor, value) if t is not None), None)
    return None


def _require_gradients(reference: torch.nn.Module, module: torch.nn.Module, case: Case) -> None:
    """Raise Untrainable if a parameter that the reference trains gets no gradient in the learner's module: right
    outputs from a layer that could never learn must not pass."""
    def gradients(model):
        model.zero_grad(set_to_none=True)
        with torch.enable_grad():
            out = _first_float_tensor(model(*case.args, **case.kwargs))
            if out is None or not out.requires_grad:
                return {}
            weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
            (out * weight).sum().backward()
        found = {name: p.grad is not None and bool(p.grad.abs().sum() > 0) for name, p in model.named_parameters()}
        model.zero_grad(set_to_none=True)
        return found

    wanted = [name for name, flows in gradients(reference).items() if flows]
    theirs = gradients(module)
    dead = [name for name in wanted if not theirs.get(name, False)]
    if dead:
        raise Untrainable(", ".join(dead[:3]) + (f" and {len(dead) - 3} more" if len(dead) > 3 else ""))


@dataclass
class CheckSpec:
    """Everything a check needs, as data. Topic modules build one per exercise."""

    exercise: str
    reference: Callable
    make_cases: Callable[[int], list[Case]]  # seed -> cases; PUBLIC_SEED gives the lesson's cases
    mistakes: list[Mistake]
    variants: list[Callable]  # correct implementations written differently; all must pass
    hints: list[str]  # progressive: a nudge, then the shapes, then the key line
    invoke: Callable[[Callable, Case], Any] = call_function
    atol: float = 1e-5
    rtol: float = 1e-4
    aliases: tuple[str, ...] = ()  # other names a learner may call the exercise by (its id and reference's name work)
    output: str | tuple[str, ...] = "the output"  # how the lesson names what the function returns (each item of a tuple)
    # When no catalog entry matches: functions (case, expected, actual) -> a sentence about a property the answer
    # breaks (weights that do not sum to 1, a future that is not masked), or None. Generic ones (a constant factor,
    # a transpose) are tried after these for every tensor output. The sentence is say("<topic>.<...>", **numbers):
    # its English in gptlab.course.messages.MESSAGES, its translations in gptlab/course/locales/.
    properties: list[Callable[[Case, Any, Any], str | None]] = field(default_factory=list)
    # Wrong answers that combine two catalog mistakes, so that no single hint matches: tests/test_checks.py proves
    # that a property (above, or a generic one) still names what is wrong in each.
    combined: list[Callable] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What one call returned, or the exception it raised (as text: it may cross a process)."""

    value: Any = None
    error_type: str | None = None
    error_message: str = ""
    mutated_input: bool = False

    @property
    def raised(self) -> bool:
        return self.error_type is not None


@dataclass(frozen=True)
class Result:
    exercise: str
    status: str  # "passed" | "failed" | "skipped"
    message: str
    mistake: str | None = None
    num_cases: int = 0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# --- running -------------------------------------------------------------------------------------


@_holding_rng
def run_cases(spec: CheckSpec, impl: Callable, seed: int = PUBLIC_SEED) -> list[Outcome]:
    """Call `impl` on every case. Never raises for the implementation's own errors."""
    outcomes = []
    for case in spec.make_cases(seed):
        outcomes.append(_run_one(spec, impl, case))
    return outcomes


def _run_one(spec: CheckSpec, impl: Callable, case: Case) -> Outcome:
    # Each call gets its own copy, so an in-place edit cannot leak into the next case or the reference.
    fresh = copy.deepcopy(case)
    torch.manual_seed(0)  # code that draws random numbers (a fresh layer, dropout) draws the same ones every time
    try:
        with torch.no_grad():
            value = spec.invoke(impl, fresh)
    except Exception as error:  # the learner's code may raise anything; report it, don't crash
        return Outcome(error_type=type(error).__name__, error_message=str(error).splitlines()[0] if str(error) else "")
    mutated = _differs(case.args, fresh.args) or _differs(case.kwargs, fresh.kwargs)
    return Outcome(value=value, mutated_input=mutated)


def _differs(original: Any, after: Any) -> bool:
    return not same(original, after, atol=0.0, rtol=0.0)


# --- comparing -----------------------------------------------------------------------------------


def same(expected: Any, actual: Any, atol: float, rtol: float) -> bool:
    """Equal within tolerance, recursively; NaN equals NaN (a catalog mistake may produce NaN)."""
    return describe_difference(expected, actual, atol, rtol) is None


def describe_difference(expected: Any, actual: Any, atol: float = 1e-5, rtol: float = 1e-4,
                        where: str | tuple[str, ...] = "the output") -> str | None:
    """None if equal within tolerance, else one precise sentence about the first difference. `where` names the
    output as the lesson does; a tuple names the items of a tuple output ("the output", "the attention weights")."""
    names = tuple(map(noun, where)) if isinstance(where, tuple) else None
    return _difference(expected, actual, atol, rtol, noun("the output") if names is not None else noun(where), names)


def _difference(expected: Any, actual: Any, atol: float, rtol: float, where: str,
                names: tuple[str, ...] | None = None) -> str | None:
    """describe_difference, with `where` (and the names of a tuple's items) already in the learner's language."""
    if isinstance(expected, torch.Tensor):
        return _describe_tensor_difference(expected, actual, atol, rtol, where)
    if isinstance(expected, torch.nn.Module):  # e.g. a model passed in: compare its weights, not its identity
        if not isinstance(actual, torch.nn.Module):
            return say("diff.module", where=where, got=_type_name(actual))
        return _difference(expected.state_dict(), actual.state_dict(), atol, rtol, say("diff.weights", where=where))
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            return say("diff.sequence", where=where, kind=type(expected).__name__, count=len(expected),
                       got=_type_name(actual))
        if len(actual) != len(expected):
            return say("diff.length", where=where, expected=len(expected), got=len(actual))
        for i, (e, a) in enumerate(zip(expected, actual)):
            label = names[i] if names is not None and i < len(names) else say("diff.item", index=i, where=where)
            problem = _difference(e, a, atol, rtol, label)
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return say("diff.dict", where=where, got=_type_name(actual))
        if set(expected) != set(actual):
            missing, extra = set(expected) - set(actual), set(actual) - set(expected)
            return say("diff.keys", where=where, missing=sorted(missing, key=repr)[:5], extra=sorted(extra, key=repr)[:5])
        for key in expected:
            problem = _difference(expected[key], actual[key], atol, rtol, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if actual == expected and type(actual) is type(expected) else \
            say("diff.value", where=where, expected=expected, got=actual)
    if isinstance(expected, (int, float)):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return say("diff.number_type", where=where, expected=expected, got=_type_name(actual))
        if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(actual, int):
            return None if actual == expected else \
                say("diff.int", where=where, expected=expected, got=actual, diff=actual - expected)
        if math.isnan(expected) and math.isnan(actual):
            return None
        if math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
            return None
        return say("diff.float", where=where, expected=expected, got=actual)
    return None if actual == expected else say("diff.value", where=where, expected=expected, got=actual)


def _type_name(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return say("diff.tensor_of_shape", shape=tuple(value.shape))
    return f"{type(value).__name__} {value!r}"[:120] if value is not None else say("diff.none")


def _describe_tensor_difference(expected: torch.Tensor, actual: Any, atol: float, rtol: float, where: str) -> str | None:
    if not isinstance(actual, torch.Tensor):
        return say("diff.not_tensor", where=where, shape=tuple(expected.shape), got=_type_name(actual))
    if actual.shape != expected.shape:
        return say("diff.shape", where=where, expected=tuple(expected.shape), got=tuple(actual.shape))
    if actual.dtype != expected.dtype:
        return say("diff.dtype", where=where, expected=expected.dtype, got=actual.dtype)
    if expected.dtype == torch.bool or not expected.is_floating_point():
        wrong = actual.cpu() != expected.cpu()
    else:
        e, a = expected.detach().cpu().double(), actual.detach().cpu().double()
        close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        wrong = ~close
    if not wrong.any():
        return None
    count, total = int(wrong.sum()), wrong.numel()
    index = tuple(int(i) for i in wrong.nonzero()[0])
    e_val, a_val = expected[index].item(), actual[index].item()
    sentence = say("diff.values", count=count, total=total, where=where, index=index, expected=e_val, got=a_val)
    if expected.is_floating_point():
        if torch.isnan(actual).any() and not torch.isnan(expected).any():
            sentence += say("diff.nan", count=int(torch.isnan(actual).sum()))
        elif torch.isfinite(a).all():
            sentence += say("diff.largest", largest=float((a - e).abs().max()))
    return sentence


def outcomes_match(expected: Outcome, actual: Outcome, atol: float, rtol: float) -> bool:
    if expected.raised or actual.raised:
        return expected.raised and actual.raised and expected.error_type == actual.error_type
    return same(expected.value, actual.value, atol, rtol)


# --- judging -------------------------------------------------------------------------------------


@_holding_rng
def judge(spec: CheckSpec, outcomes: list[Outcome], seed: int = PUBLIC_SEED) -> Result:
    """Verdict on a learner's outcomes. Runs only trusted code: the reference and the catalog.

    In order: every case matches (passed); a catalog mistake gives the same outputs (its hint); the answer
    edits its input; a property it breaks (diagnose); else the first difference, said precisely.
    """
    cases = spec.make_cases(seed)
    name = spec.exercise
    if len(outcomes) != len(cases):
        return Result(name, "failed", f"{name}: " + say("check.wrong_count", expected=len(cases), got=len(outcomes)))
    if any(o.error_type == "NotImplementedError" for o in outcomes):
        return Result(name, "skipped", f"{name}: " + say("check.not_implemented"), num_cases=len(cases))

    expected = [_run_one(spec, spec.reference, case) for case in cases]
    matches = [outcomes_match(e, a, spec.atol, spec.rtol) for e, a in zip(expected, outcomes)]
    mutated = next((c for c, o in zip(cases, outcomes) if o.mutated_input), None)
    if all(matches) and mutated is None:
        return Result(name, "passed", f"{name}: " + say("check.all_match", cases=len(cases)), num_cases=len(cases))

    for mistake in spec.mistakes:
        theirs = [_run_one(spec, mistake.impl, case) for case in cases]
        if all(_same_failure(t, a, spec) for t, a in zip(theirs, outcomes)):
            hint = text(f"{name}.mistake.{mistake.name}", mistake.hint)
            return Result(name, "failed", f"{name}: {hint}", mistake=mistake.name, num_cases=len(cases))

    if all(matches) and mutated is not None:
        return Result(name, "failed", f"{name}: " + say("check.mutated", case=mutated.name), mistake="mutates-input",
                      num_cases=len(cases))

    first = matches.index(False)
    case, want, got = cases[first], expected[first], outcomes[first]
    if got.raised:
        return Result(name, "failed", f"{name}: " + say("check.on_case", case=case.name, detail=_raised(spec, got)),
                      num_cases=len(cases))
    for found in diagnose(spec, cases, expected, outcomes):
        return Result(name, "failed", f"{name}: " + say("check.on_case", case=found[0], detail=found[1]),
                      mistake="property", num_cases=len(cases))
    detail = describe_difference(want.value, got.value, spec.atol, spec.rtol, spec.output) or say("check.differs")
    return Result(name, "failed", f"{name}: " + say("check.on_case", case=case.name, detail=detail), num_cases=len(cases))


def _same_failure(mistake: Outcome, actual: Outcome, spec: CheckSpec) -> bool:
    """A catalog mistake explains an outcome when it gives the same value, or raises the same error with the same
    message: an unrelated bug that merely raises the same type must not get the catalog's hint."""
    if mistake.raised and actual.raised and not _similar_messages(mistake.error_message, actual.error_message):
        return False
    return outcomes_match(mistake, actual, spec.atol, spec.rtol)


def _similar_messages(a: str, b: str) -> bool:
    """The same error in other words: equal once numbers are masked, or nearly so ("bytes must be in range(0, 256)"
    from bytes(), "byte must be …" from bytearray()); an unrelated error of the same type reads differently."""
    import difflib
    import re

    a, b = (re.sub(r"\d+", "#", m) for m in (a, b))
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.85


def _raised(spec: CheckSpec, got: Outcome) -> str:
    """The learner's exception, and what to look at: the shapes hint for shape errors, the first hint otherwise."""
    if got.error_type == "Untrainable":
        return say("check.untrainable", names=got.error_message)
    error = f"{got.error_type}: {got.error_message}" if got.error_message else got.error_type
    about_shapes = any(word in got.error_message.lower() for word in ("shape", "size", "dimension", "mat1", "broadcast"))
    number = 2 if about_shapes and len(spec.hints) > 1 else 1
    advice = text(f"{spec.exercise}.hint.{number}", spec.hints[number - 1]) if spec.hints else ""
    return say("check.raised_hint", detail=say("check.raised", error=error), advice=advice) if advice else \
        say("check.raised", error=error)


def diagnose(spec: CheckSpec, cases: list[Case], expected: list[Outcome], outcomes: list[Outcome]):
    """(case name, sentence) about a property the answer breaks: the spec's own properties, on the first case
    that breaks one; then the generic ones (a constant factor, a transpose), only when they explain every
    failing case alike."""
    failing = [(case, want.value, got.value) for case, want, got in zip(cases, expected, outcomes)
               if not want.raised and not got.raised and not outcomes_match(want, got, spec.atol, spec.rtol)]
    for case, want, got in failing:
        for check in spec.properties:
            sentence = _quietly(check, case, want, got)
            if sentence:
                yield case.name, sentence
                return
    for check in (constant_factor, transposed):
        sentences = [_quietly(check, case, want, got) for case, want, got in failing]
        if failing and all(sentences) and len(set(sentences)) == 1:
            yield failing[0][0].name, sentences[0]
            return


def _quietly(check, case, want, got) -> str | None:
    try:
        return check(case, want, got)
    except Exception:  # a property that does not apply to this output
        return None


def _first_tensor_pair(expected, actual):
    """The first (expected, actual) tensors that differ in a (possibly nested) output of equal structure."""
    if isinstance(expected, torch.Tensor) and isinstance(actual, torch.Tensor):
        return (expected, actual) if expected.shape == actual.shape and not torch.equal(expected, actual) else None
    if isinstance(expected, (tuple, list)) and isinstance(actual, (tuple, list)) and len(expected) == len(actual):
        for e, a in zip(expected, actual):
            found = _first_tensor_pair(e, a)
            if found:
                return found
    return None


def constant_factor(case: Case, expected, actual) -> str | None:
    """'off by a constant factor': actual = c · expected for one number c (a missing or extra scale)."""
    pair = _first_tensor_pair(expected, actual)
    if pair is None or not pair[0].is_floating_point():
        return None
    e, a = pair[0].double().flatten(), pair[1].double().flatten()
    if e.abs().max() < 1e-9 or not torch.isfinite(a).all() or e.unique().numel() < 2:
        return None  # a constant (all ones, say) cannot tell a factor from an offset
    c = float((a * e).sum() / (e * e).sum())
    if abs(c - 1) > 1e-3 and torch.allclose(a, c * e, rtol=1e-4, atol=1e-6 * float(e.abs().max())):
        return say("prop.constant_factor", factor=c)
    return None


def count_off_by(case: Case, expected, actual) -> str | None:
    """An integer answer off by a whole number of some size the case names (n_embd, say): 'off by 2·C'."""
    if not (isinstance(expected, int) and isinstance(actual, int)) or isinstance(actual, bool) or actual == expected:
        return None
    config = case.args[0] if case.args else None
    C = getattr(config, "n_embd", None)
    diff = actual - expected
    if C and diff % C == 0:
        return say("prop.count_off_by", diff=diff, vectors=diff // C, C=C)
    return None


def transposed(case: Case, expected, actual) -> str | None:
    """The last two axes swapped: the right numbers in the wrong places."""
    pair = _first_tensor_pair(expected, actual)
    if pair is None or pair[0].dim() < 2 or pair[0].shape[-1] != pair[0].shape[-2]:
        return None
    e, a = pair
    if torch.allclose(a.double(), e.double().transpose(-2, -1), rtol=1e-4, atol=1e-5):
        return say("prop.transposed")
    return None


# --- properties that several checks share (factories: `item` picks a tensor out of a tuple output) --------------


def _pick(value, item):
    return value if item is None else value[item]


def sums_to_one(name: str = "the output", item: int | None = None) -> Callable:
    """'{name} should sum to 1 along the last axis': a softmax over the wrong axis, or a missing renormalisation."""
    def check(case, expected, actual):
        e, a = _pick(expected, item).double(), _pick(actual, item).double()
        if not torch.allclose(e.sum(-1), torch.ones_like(e.sum(-1)), atol=1e-4) or a.shape != e.shape:
            return None
        totals = a.sum(-1)
        if torch.allclose(totals, torch.ones_like(totals), atol=1e-4):
            return None
        other = next((d for d in range(a.dim() - 1) if a.shape[d] > 1
                      and torch.allclose(a.sum(d), torch.ones_like(a.sum(d)), atol=1e-4)), None)
        where = say("prop.sums_to_one.other_axis", dim=other) if other is not None else ""
        low, high = f"{float(totals.min()):.3g}", f"{float(totals.max()):.3g}"
        span = low if low == high else say("prop.sums_to_one.range", low=low, high=high)
        return say("prop.sums_to_one", name=noun(name), span=span, where=where)
    return check


def future_hidden(name: str = "the attention weights", item: int | None = None) -> Callable:
    """Where the reference's weights are 0 above the diagonal (a causal case), the learner's must be too."""
    def check(case, expected, actual):
        e, a = _pick(expected, item), _pick(actual, item)
        T = e.shape[-1]
        if e.shape[-2] != T or T < 2 or a.shape != e.shape:
            return None
        above = torch.ones(T, T, dtype=torch.bool).triu(1)
        e_future, a_future = e[..., above].double(), a[..., above].double()
        if e_future.abs().max() > 0:
            return None  # this case is not causal
        if a_future.abs().max() > 1e-6:
            return say("prop.future_visible", name=noun(name), count=int((a_future.abs() > 1e-6).sum()))
        below = ~torch.ones(T, T, dtype=torch.bool).triu()
        if (e[..., below].abs() > 1e-6).any() and not (a[..., below].abs() > 1e-6).any():
            return say("prop.past_hidden", name=noun(name))
        return None
    return check


def overflows(name: str = "the output", item: int | None = None) -> Callable:
    """NaN or inf where the reference is finite: an exp that overflowed, or a 0/0."""
    def check(case, expected, actual):
        e, a = _pick(expected, item), _pick(actual, item)
        if torch.isfinite(e).all() and not torch.isfinite(a).all():
            return say("prop.overflows", name=noun(name), count=int((~torch.isfinite(a)).sum()))
        return None
    return check


def keeps_as_many(name: str = "the probabilities", item: int | None = None) -> Callable:
    """A filter (top-k, top-p) keeps the wrong number of tokens: count the non-zero entries per row."""
    def check(case, expected, actual):
        e, a = _pick(expected, item), _pick(actual, item)
        kept_e, kept_a = (e > 0).sum(-1), (a > 0).sum(-1)
        if a.shape != e.shape or torch.equal(kept_e, kept_a):
            return None
        index = tuple(int(i) for i in (kept_e != kept_a).nonzero()[0])
        row = say("prop.keeps_as_many.row", row=index) if index else ""
        return say("prop.keeps_as_many", name=noun(name), kept=int(kept_a[index]), row=row, want=int(kept_e[index]))
    return check


def evaluate(spec: CheckSpec, impl: Callable, seed: int = PUBLIC_SEED) -> Result:
    """Run and judge in this process: what a check does inside a notebook."""
    return judge(spec, run_cases(spec, impl, seed), seed)
