"""What a learner calls in a notebook: `name = check_<exercise>(name, fallback=True)` and `hint(...)`.

In a lesson a check never raises: it prints one line (✓, the hint that names the mistake, or
"skipped") and hands back the implementation to use next, the learner's if it passed, otherwise the
reference, so the rest of the lesson still runs. In `solutions/` the set-up cell turns on strict
mode and any failure raises `CheckFailed`, so a broken solution fails CI.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import importlib
from typing import Callable

from gptlab.course.checks.core import PUBLIC_SEED, CheckFailed, CheckSpec, Result, evaluate

REGISTRY: dict[str, CheckSpec] = {}
_strict = False
_hints_shown: dict[str, int] = {}


def set_strict(strict: bool) -> None:
    """Strict: every failing check raises, whatever `fallback` says (the mode of `solutions/`)."""
    global _strict
    _strict = bool(strict)


def is_strict() -> bool:
    return _strict


def make_check(spec: CheckSpec) -> Callable:
    """Build the public `check_<exercise>` function for a spec, and register the spec by exercise id."""
    if spec.exercise in REGISTRY:
        raise ValueError(f"two checks claim the exercise id {spec.exercise!r}")
    REGISTRY[spec.exercise] = spec

    def check(impl: Callable, fallback: bool = False, seed: int = PUBLIC_SEED) -> Callable:
        result = evaluate(spec, impl, seed)
        if result.passed:
            print(f"✓ {spec.exercise} — all {result.num_cases} cases match")
            return impl
        if _strict or not fallback:
            raise CheckFailed(result.message, exercise=spec.exercise, mistake=result.mistake)
        print(_fallback_line(result))
        return spec.reference

    check.__name__ = check.__qualname__ = f"check_{spec.exercise}"
    check.__doc__ = (f"Check an implementation of `{spec.exercise}` against the reference on seeded cases.\n\n"
                     "With fallback=True (lessons) it prints one line and returns the implementation to use next;\n"
                     "otherwise a failure raises CheckFailed whose message names the likely mistake.")
    check.spec = spec
    return check


def _fallback_line(result: Result) -> str:
    notice = "using the reference implementation so the lesson continues."
    if result.status == "skipped":
        return f"○ {result.exercise} — skipped (not implemented yet); {notice}"
    return f"✗ {result.message}\n  → {notice[0].upper()}{notice[1:]}"


def hint(exercise: str, number: int | None = None) -> None:
    """Print the next hint for an exercise (a nudge, then the shapes, then the key line)."""
    spec = get_spec(exercise)
    total = len(spec.hints)
    shown = _hints_shown.get(exercise, 0)
    index = (number - 1) if number is not None else min(shown, total - 1)
    if not 0 <= index < total:
        raise ValueError(f"{exercise} has hints 1 to {total}; you asked for {number}")
    _hints_shown[exercise] = max(shown, index + 1)
    more = "" if index + 1 == total else f"  (run hint({exercise!r}) again for the next one)"
    print(f"Hint {index + 1}/{total} for {exercise}: {spec.hints[index]}{more}")


def get_spec(exercise: str) -> CheckSpec:
    if exercise not in REGISTRY:
        _import_all_topics()
    if exercise not in REGISTRY:
        raise KeyError(f"no exercise called {exercise!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[exercise]


def resolve_check(path: str) -> Callable:
    """'gptlab.course.checks.basics.check_softmax' -> the check function (with its `.spec`).

    Notebooks made before course 0.2 name 'gptlab.checks.basics.check_softmax'; that resolves to the same check.
    """
    module_name, _, attribute = path.rpartition(".")
    if module_name.startswith("gptlab.checks."):
        module_name = "gptlab.course" + module_name[len("gptlab"):]
    if not module_name.startswith("gptlab.course.checks."):
        raise ValueError(f"check path {path!r} must name a function in a gptlab.course.checks.<topic> module")
    module = importlib.import_module(module_name)
    check = getattr(module, attribute, None)
    if check is None or not hasattr(check, "spec"):
        raise ValueError(f"{module_name} has no check called {attribute!r}")
    return check


NOT_TOPICS = {"core", "notebook"}  # every other module in gptlab.course.checks holds one topic's checks


def _import_all_topics() -> None:
    """Topics are named by meaning, not lesson number, so renumbering lessons renames nothing."""
    import pkgutil

    import gptlab.course.checks

    for module in pkgutil.iter_modules(gptlab.course.checks.__path__):
        if module.name not in NOT_TOPICS:
            importlib.import_module(f"gptlab.course.checks.{module.name}")
