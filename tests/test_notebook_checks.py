"""What a check does inside a notebook: ✓ and the learner's code; or one line and the reference."""

import pytest
import torch

from gptlab.nn import layers
from gptlab.course.checks import CheckFailed, hint, set_strict
from gptlab.course.checks.basics import SOFTMAX_MISTAKES, check_softmax


@pytest.fixture(autouse=True)
def lenient():
    set_strict(False)
    yield
    set_strict(False)


def test_pass_prints_a_tick_and_returns_the_learners_function(capsys):
    def mine(x):
        return torch.softmax(x, dim=-1)

    assert check_softmax(mine, fallback=True) is mine
    assert capsys.readouterr().out.strip() == "✓ softmax — all 8 cases match"


def test_stub_falls_back_with_a_one_line_notice(capsys):
    def stub(x):
        raise NotImplementedError

    assert check_softmax(stub, fallback=True) is layers.softmax
    out = capsys.readouterr().out.strip()
    assert out == "○ softmax — skipped (not implemented yet): the lesson continues with the reference."


def test_mistake_falls_back_and_prints_its_hint(capsys):
    wrong = SOFTMAX_MISTAKES[0]
    assert check_softmax(wrong.impl, fallback=True) is layers.softmax
    out = capsys.readouterr().out
    assert out.startswith("✗ softmax: exp overflows") and "Using the reference implementation" in out


def test_strict_mode_raises_even_with_fallback():
    set_strict(True)
    with pytest.raises(CheckFailed, match="exp overflows"):
        check_softmax(SOFTMAX_MISTAKES[0].impl, fallback=True)


def test_without_fallback_a_stub_raises():
    def stub(x):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not implemented yet"):
        check_softmax(stub)


def test_hints_progress_and_say_when_there_are_no_more(capsys):
    from gptlab.course.checks import notebook

    notebook._hints_shown.pop("softmax", None)
    for _ in range(4):
        hint("softmax")
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("Hint")] == \
        ["Hint 1/3 for softmax", "Hint 2/3 for softmax", "Hint 3/3 for softmax"]
    assert out.count("That was the last hint for softmax") == 2  # after hint 3, and when asked for a fourth
    assert max(len(line) for line in out.splitlines()) <= 100  # wrapped for the notebook's output area
    hint("softmax", 1)
    assert capsys.readouterr().out.startswith("Hint 1/3")
    with pytest.raises(ValueError, match="hints 1 to 3"):
        hint("softmax", 9)
    with pytest.raises(KeyError, match="no exercise called 'softmaks'"):
        hint("softmaks")


@pytest.mark.parametrize("name, exercise", [("LayerNorm", "layer_norm"), ("layernorm", "layer_norm"),
                                            ("attend_with_padding", "padding_mask"), ("SOFTMAX", "softmax"),
                                            ("CausalSelfAttention", "causal_self_attention"), ("padding_mask", "padding_mask")])
def test_hints_answer_to_the_names_people_see(name, exercise, capsys):
    from gptlab.course.checks.notebook import find_exercise

    assert find_exercise(name).exercise == exercise
    hint(name, 1)
    assert capsys.readouterr().out.startswith(f"Hint 1/")


def test_the_hint_button_spends_no_hint_until_clicked():
    from gptlab.course.checks import notebook

    notebook._hints_shown.pop("softmax", None)
    button = notebook.hints("softmax")
    bundle = button._repr_mimebundle_()  # what Run All renders
    assert "application/vnd.jupyter.widget-view+json" in bundle and "hint('softmax')" in bundle["text/plain"]
    assert button.shown == 0 and notebook._hints_shown.get("softmax", 0) == 0


def test_checking_the_reference_from_a_fallback_is_not_a_pass(capsys):
    """Re-running only the check cell after a fallback: the name is bound to the reference, not the learner's code."""
    result = check_softmax(layers.softmax, fallback=True)
    out = " ".join(capsys.readouterr().out.split())
    assert result is layers.softmax and "✓" not in out
    assert "this is the reference from the last fallback" in out and "run your exercise cell again" in out


def test_messages_are_wrapped_at_word_boundaries():
    from gptlab.course.messages import wrap

    text = "✗ softmax: " + " ".join(["supercalifragilistic"] * 12)
    wrapped = wrap(text, 40)
    assert all(len(line) <= 40 or " " not in line.strip() for line in wrapped.splitlines())
    assert wrapped.replace("\n  ", " ") == text  # only spaces became line breaks (continuations indented)
