"""Every check can fail: the reference and correct variants pass, a stub is 'skipped', and every catalog
mistake is caught with its own hint. Runs over every registered check, so a new exercise is covered."""

import itertools

import pytest
import torch

from gptlab.course.checks import CheckFailed, all_specs, evaluate, run_cases
from gptlab.course.checks.core import PUBLIC_SEED, describe_difference, judge, outcomes_match

SPECS = all_specs()
MISTAKES = [(spec, m) for spec in SPECS.values() for m in spec.mistakes]
VARIANTS = [(spec, v) for spec in SPECS.values() for v in spec.variants]


def _id(value):
    return getattr(value, "exercise", None) or getattr(value, "name", None) or getattr(value, "__name__", "?")


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_reference_passes_on_public_and_secret_cases(spec):
    for seed in (PUBLIC_SEED, 1, 12345):
        assert evaluate(spec, spec.reference, seed).passed


SLOW_TO_EVALUATE = {"gpt_forward", "gpt", "cached_step"}  # ~0.5 s per seed: fewer fresh seeds keep the suite fast


@pytest.mark.parametrize("spec,variant", VARIANTS, ids=[f"{s.exercise}-{v.__name__}" for s, v in VARIANTS])
def test_correct_variant_passes(spec, variant):
    """On the public cases and on 40 fresh ones, as a grader draws them: a correct answer that rounds differently
    from the reference (a fused kernel, another summation order) must never fail. This caught a LayerNorm case
    where float32 rounding alone exceeded the tolerance on about one seed in twenty."""
    fresh = 6 if spec.exercise in SLOW_TO_EVALUATE else 40
    for seed in [PUBLIC_SEED] + [1 + (7919 * i * i + 104729 * i) % (2**31 - 2) for i in range(1, fresh + 1)]:
        result = evaluate(spec, variant, seed)
        assert result.passed, f"seed {seed}: {result.message}"


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_every_check_has_a_catalog_variants_and_hints(spec):
    assert len(spec.mistakes) >= 3
    assert len(spec.variants) >= 2
    assert 2 <= len(spec.hints) <= 3


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_stub_is_reported_as_skipped_not_passed(spec):
    def stub(*args, **kwargs):
        raise NotImplementedError("YOUR CODE HERE")

    result = evaluate(spec, stub)
    assert result.status == "skipped"


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_returning_none_fails_with_a_clear_message(spec):
    result = evaluate(spec, lambda *args, **kwargs: None)
    assert result.status == "failed"
    assert "None" in result.message


@pytest.mark.parametrize("spec,mistake", MISTAKES, ids=[f"{s.exercise}-{m.name}" for s, m in MISTAKES])
def test_each_mistake_is_caught_with_its_own_hint(spec, mistake):
    result = evaluate(spec, mistake.impl)
    assert result.status == "failed"
    assert result.mistake == mistake.name
    assert mistake.hint in result.message


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_catalog_outputs_are_pairwise_distinct(spec):
    """Otherwise two mistakes could never be told apart, and the second hint would be dead."""
    outcomes = {m.name: run_cases(spec, m.impl) for m in spec.mistakes}
    outcomes["reference"] = run_cases(spec, spec.reference)
    for (a, out_a), (b, out_b) in itertools.combinations(outcomes.items(), 2):
        same_everywhere = all(outcomes_match(x, y, spec.atol, spec.rtol) for x, y in zip(out_a, out_b))
        assert not same_everywhere, f"{spec.exercise}: {a} and {b} give the same outputs on every case"


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_secret_cases_differ_from_public_ones(spec):
    public, secret = spec.make_cases(PUBLIC_SEED), spec.make_cases(7)
    assert any(describe_difference(p.args, s.args) for p, s in zip(public, secret))


def test_hardcoded_public_answers_fail_on_secret_cases():
    spec = SPECS["softmax"]
    answers = [spec.reference(*case.args) for case in spec.make_cases(PUBLIC_SEED)]
    lookup = iter(answers * 10)

    def memorised(x):
        return next(lookup)

    assert evaluate(spec, memorised, PUBLIC_SEED).passed
    lookup = iter(answers * 10)
    assert not evaluate(spec, memorised, seed=99).passed


# --- the softmax check's messages, exactly as a learner reads them -------------------------------

from gptlab.course.checks.basics import check_softmax  # noqa: E402


def test_wrong_axis_names_the_axis():
    def over_rows(x):
        return torch.softmax(x, dim=0)

    with pytest.raises(CheckFailed, match=r"sum along the wrong axis \(softmax over dim=0\?\)") as info:
        check_softmax(over_rows)
    assert info.value.mistake == "wrong-axis-first"
    assert isinstance(info.value, AssertionError)


def test_wrong_dtype_says_expected_and_actual():
    with pytest.raises(CheckFailed, match=r"float64 input.*should have dtype torch.float64; yours has dtype torch.float32"):
        check_softmax(lambda x: torch.softmax(x.float(), dim=-1))


def test_wrong_shape_and_non_tensor_say_expected_and_actual():
    with pytest.raises(CheckFailed, match=r"should have shape \(5,\); yours has shape \(1, 5\)"):
        check_softmax(lambda x: torch.softmax(x, dim=-1).unsqueeze(0))
    with pytest.raises(CheckFailed, match=r"should be a torch.Tensor of shape \(5,\); got list"):
        check_softmax(lambda x: torch.softmax(x, dim=-1).tolist())


def test_unknown_mistake_names_the_first_differing_position():
    with pytest.raises(CheckFailed, match=r"5 of 5 values of the output differ; the first at index \(0,\).*largest difference"):
        check_softmax(lambda x: torch.softmax(x * 1.5, dim=-1))  # rows still sum to 1: no property breaks


def test_a_broken_property_is_named_before_the_first_difference():
    with pytest.raises(CheckFailed, match=r"each row of the output should sum to 1 along the last axis; yours sum to 1.05"):
        check_softmax(lambda x: torch.softmax(x, dim=-1) + 0.01)


def test_an_exception_in_learner_code_is_reported_not_raised():
    def broken(x):
        return x.no_such_method()

    with pytest.raises(CheckFailed, match=r"raised AttributeError"):
        check_softmax(broken)


def test_in_place_edit_of_the_input_is_named():
    def in_place(x):
        x -= x.amax(dim=-1, keepdim=True)
        exps = x.exp()
        return exps / exps.sum(dim=-1, keepdim=True)

    with pytest.raises(CheckFailed, match="changed its input in place"):
        check_softmax(in_place)


# --- nn.Module exercises: the learner passes the class; weights are loaded by name ---------------

from torch import nn  # noqa: E402

from gptlab.course.checks import Case, CheckSpec, Mistake  # noqa: E402
from gptlab.course.checks.core import module_invoker  # noqa: E402


class Scale(nn.Module):
    """A tiny module exercise: y = c_proj(x) * 2, with GPT-2-style naming."""

    def __init__(self, d):
        super().__init__()
        self.c_proj = nn.Linear(d, d)

    def forward(self, x):
        return self.c_proj(x) * 2


class ScaleWrongName(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        return self.proj(x) * 2


class ScaleForgetsTwo(Scale):
    def forward(self, x):
        return self.c_proj(x)


MODULE_SPEC = CheckSpec(
    exercise="scale-test-only", reference=Scale,
    make_cases=lambda seed: [Case("d=4", (torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(seed)),))],
    mistakes=[Mistake("forgets-two", ScaleForgetsTwo, "multiply by 2")], variants=[], hints=["a", "b"],
    invoke=module_invoker(Scale, lambda case: {"d": case.args[0].shape[-1]}),
)


def test_module_exercise_is_built_from_the_class_and_loaded_with_reference_weights():
    assert evaluate(MODULE_SPEC, Scale).passed
    assert evaluate(MODULE_SPEC, ScaleForgetsTwo).mistake == "forgets-two"
    result = evaluate(MODULE_SPEC, ScaleWrongName)
    assert result.status == "failed"
    assert "do not match the reference's names and shapes" in result.message and "c_proj.weight" in result.message


def test_judging_in_threads_gives_the_same_verdicts_as_judging_alone():
    """The grader judges learners in threads; seeding torch's shared generator must not race between them.

    Before the lock, two threads judging the GPT check at once got a different "expected" output in roughly
    one run in ten, and a correct submission was graded "failed".
    """
    from concurrent.futures import ThreadPoolExecutor

    specs = [SPECS[name] for name in ("gpt_forward", "class_token", "block")]
    alone = {s.exercise: run_cases(s, s.reference, 7) for s in specs}

    def judge_many(spec):
        return [judge(spec, alone[spec.exercise], 7).status for _ in range(6)]

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        verdicts = list(pool.map(judge_many, specs))
    assert verdicts == [["passed"] * 6] * len(specs)


# --- combined mistakes: when no catalog entry matches, a property still says what is wrong ------------------------

COMBINED = [(spec, i, impl) for spec in SPECS.values() for i, impl in enumerate(spec.combined)]


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_every_check_lists_two_combined_mistakes(spec):
    """Every check, a new one included, brings at least two wrong answers that combine two mistakes each."""
    assert len(spec.combined) >= 2, f"{spec.exercise}: list two combined mistakes (CheckSpec.combined)"


@pytest.mark.parametrize("spec,number,impl", COMBINED, ids=[f"{s.exercise}-combined-{i}" for s, i, _ in COMBINED])
def test_a_property_names_what_is_wrong_in_combined_mistakes(spec, number, impl):
    result = evaluate(spec, impl)
    assert result.status == "failed"
    assert result.mistake == "property", f"{spec.exercise} combined #{number}: {result.message}"
    assert not any(m.hint in result.message for m in spec.mistakes)


# --- no dead implementation passes -----------------------------------------------------------------------------------


def test_a_lora_layer_that_never_learns_fails():
    """A = B = 0 gives the right outputs at every fixed A, B, and the lesson's own assert; one step must move it."""
    from gptlab.course.checks.finetuning import _LoRAMistake

    class Dead(_LoRAMistake):
        a_zero = True

    result = evaluate(SPECS["lora_linear"], Dead)
    assert result.status == "failed" and result.mistake == "a-zero-too"


def test_a_module_whose_parameter_gets_no_gradient_fails_naming_it():
    from gptlab.nn.layers import LayerNorm

    class Detached(LayerNorm):
        def forward(self, x):
            mean = x.mean(-1, keepdim=True)
            var = x.var(-1, keepdim=True, unbiased=False)
            return (x - mean) / torch.sqrt(var + self.eps) * self.weight.detach() + self.bias

    assert evaluate(SPECS["layer_norm"], LayerNorm).passed
    result = evaluate(SPECS["layer_norm"], Detached)
    assert result.status == "failed"
    assert "weight get no gradient" in result.message and "raised" not in result.message


def test_a_head_whose_projection_gets_no_gradient_fails_naming_it():
    """Right outputs from a frozen value projection (or query, or key) must not pass: the head could never learn it."""
    from gptlab.nn.attention import Head, scaled_dot_product_attention

    def frozen(name):
        class Frozen(Head):
            def forward(self, x):
                q, k, v = (x @ (layer.weight.detach() if part == name else layer.weight).T
                           for part, layer in (("query", self.query), ("key", self.key), ("value", self.value)))
                return scaled_dot_product_attention(q, k, v, causal=True)[0]
        return Frozen

    assert evaluate(SPECS["head"], Head).passed
    for name in ("query", "key", "value"):
        result = evaluate(SPECS["head"], frozen(name))
        assert result.status == "failed" and f"{name}.weight get no gradient" in result.message, result.message


def test_a_raised_catalog_mistake_needs_the_same_error_message():
    """cross_entropy on 3-D logits raises on most cases; another bug raising the same type must not get its hint."""
    def other_runtime_error(logits, idx):
        raise RuntimeError("something else entirely")

    result = evaluate(SPECS["next_token_loss"], other_runtime_error)
    assert result.mistake != "logits-3d"
