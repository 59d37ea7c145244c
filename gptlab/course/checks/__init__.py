"""Exercise checks: one module per topic (`gptlab.course.checks.basics`, …), one shared runner (`core`).

    from gptlab.course.checks.basics import check_softmax
    softmax = check_softmax(softmax, fallback=True)   # ✓, the hint naming the mistake, or "skipped"
    hint("softmax")                                    # the next of two or three progressive hints
"""

from gptlab.course.checks.core import Case, CheckFailed, CheckSpec, Mistake, Outcome, Result, evaluate, judge, run_cases
from gptlab.course.checks.notebook import REGISTRY, get_spec, hint, is_strict, make_check, resolve_check, set_strict


def all_specs() -> dict[str, CheckSpec]:
    """Every exercise's check spec, by exercise id (imports every topic module)."""
    from gptlab.course.checks.notebook import _import_all_topics

    _import_all_topics()
    return dict(REGISTRY)


__all__ = ["Case", "CheckFailed", "CheckSpec", "Mistake", "Outcome", "Result", "evaluate", "judge", "run_cases",
           "REGISTRY", "get_spec", "hint", "is_strict", "make_check", "resolve_check", "set_strict", "all_specs"]
