"""Exercise checks: one module per topic (`gptlab.course.checks.basics`, …), one shared runner (`core`).

    from gptlab.course.checks.basics import check_softmax
    softmax = check_softmax(softmax, fallback=True)   # ✓, the hint naming the mistake, or "skipped"
    hint("softmax")                                    # the next of two or three progressive hints
"""

from gptlab.course.checks.core import Case, CheckFailed, CheckSpec, Mistake, Outcome, Result, evaluate, judge, run_cases
from gptlab.course.checks.notebook import (REGISTRY, get_spec, hint, hints, is_strict, make_check, resolve_check,
                                          set_strict)


def all_specs() -> dict[str, CheckSpec]:
    """Every exercise's check spec, by exercise id (imports every topic module)."""
    from gptlab.course.checks.notebook import _import_all_topics

    _import_all_topics()
    return dict(REGISTRY)


def exercise_messages() -> dict[str, str]:
    """The English text of every exercise's mistakes and hints, by message id ("softmax.mistake.wrong-axis-first",
    "softmax.hint.1"): the ids of EXERCISES in a language table, gptlab/course/locales/<lang>.py."""
    table = {}
    for spec in all_specs().values():
        for mistake in spec.mistakes:
            table[f"{spec.exercise}.mistake.{mistake.name}"] = mistake.hint
        for number, text in enumerate(spec.hints, start=1):
            table[f"{spec.exercise}.hint.{number}"] = text
    return table


__all__ = ["Case", "CheckFailed", "CheckSpec", "Mistake", "Outcome", "Result", "evaluate", "judge", "run_cases",
           "REGISTRY", "get_spec", "hint", "hints", "is_strict", "make_check", "resolve_check", "set_strict", "all_specs", "exercise_messages"]
