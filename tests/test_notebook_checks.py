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
    assert out == "○ softmax — skipped (not implemented yet); using the reference implementation so the lesson continues."


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


def test_hints_progress_and_stop_at_the_last(capsys):
    from gptlab.course.checks import notebook

    notebook._hints_shown.pop("softmax", None)
    for _ in range(4):
        hint("softmax")
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Hint 1/3 for softmax", "Hint 2/3 for softmax",
                                                       "Hint 3/3 for softmax", "Hint 3/3 for softmax"]
    hint("softmax", 1)
    assert capsys.readouterr().out.startswith("Hint 1/3")
    with pytest.raises(ValueError, match="hints 1 to 3"):
        hint("softmax", 9)
    with pytest.raises(KeyError, match="no exercise called 'softmaks'"):
        hint("softmaks")
