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
from gptlab.course.messages import say, text, wrap

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
        if impl is spec.reference:
            # The learner's name is bound to the reference: the last run of this cell fell back to it. Passing it
            # would print a ✓ for code the learner did not write, while their wrong code still stands above.
            if _strict:
                raise CheckFailed(say("check.is_reference", exercise=spec.exercise), exercise=spec.exercise,
                                  mistake="uses-reference")
            print(wrap(say("check.is_reference", exercise=spec.exercise)))
            return impl
        result = evaluate(spec, impl, seed)
        if result.passed:
            print(say("check.passed", exercise=spec.exercise, cases=result.num_cases))
            return impl
        if _strict or not fallback:
            raise CheckFailed(result.message, exercise=spec.exercise, mistake=result.mistake)
        print(wrap(_fallback_line(result)))
        return spec.reference

    check.__name__ = check.__qualname__ = f"check_{spec.exercise}"
    check.__doc__ = (f"Check an implementation of `{spec.exercise}` against the reference on seeded cases.\n\n"
                     "With fallback=True (lessons) it prints one line and returns the implementation to use next;\n"
                     "otherwise a failure raises CheckFailed whose message names the likely mistake.")
    check.spec = spec
    return check


def _fallback_line(result: Result) -> str:
    if result.status == "skipped":
        return say("check.skipped", exercise=result.exercise)
    return say("check.failed", message=result.message) + "\n  " + say("check.fallback")


def _normal(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def find_exercise(name: str) -> CheckSpec:
    """The exercise a learner means: its id ("layer_norm"), the name its heading and the README give (the
    reference's name: "LayerNorm", "attend_with_padding"), in any case, with or without underscores."""
    if not isinstance(name, str):
        raise TypeError(say("hint.not_a_string", name=name))
    if name in REGISTRY:
        return REGISTRY[name]
    _import_all_topics()
    wanted = _normal(name)
    for spec in REGISTRY.values():
        if wanted in (_normal(spec.exercise), _normal(getattr(spec.reference, "__name__", "")), *map(_normal, spec.aliases)):
            return spec
    known = ", ".join(sorted(REGISTRY))
    raise KeyError(say("hint.unknown", name=name, known=known))


def hint(exercise: str, number: int | None = None) -> None:
    """Print the next hint for an exercise (a nudge, then the shapes, then the key line); hint(name, 2) prints
    hint 2. After the last one it says there are no more."""
    spec = find_exercise(exercise)
    total, shown = len(spec.hints), _hints_shown.get(spec.exercise, 0)
    if number is None and shown >= total:
        print(wrap(say("hint.last", exercise=spec.exercise)))
        return
    index = (number - 1) if number is not None else shown
    if not 0 <= index < total:
        raise ValueError(say("hint.out_of_range", exercise=spec.exercise, total=total, number=number))
    _hints_shown[spec.exercise] = max(shown, index + 1)
    line = say("hint.line", number=index + 1, total=total, exercise=spec.exercise,
               text=text(f"{spec.exercise}.hint.{index + 1}", spec.hints[index]))
    more = say("hint.more") if index + 1 < total else say("hint.last", exercise=spec.exercise)
    print(wrap(f"{line}\n{more}"))


class HintButton:
    """The hint cell under an exercise: a button that shows the next hint when clicked. Running the cell (Run All
    included) shows the button only, so no hint is spent unasked. Outside JupyterLab it prints how to ask."""

    def __init__(self, exercise: str):
        self.spec = find_exercise(exercise)
        self.total = len(self.spec.hints)
        self.shown = 0

    def _repr_mimebundle_(self, **kwargs):
        import ipywidgets as widgets

        button = widgets.Button(description=say("hint.button", number=1, total=self.total),
                                layout=widgets.Layout(width="auto"))
        out = widgets.Output()

        def reveal(_):
            with out:
                if self.shown >= self.total:
                    print(wrap(say("hint.all_shown", exercise=self.spec.exercise)))
                    return
                self.shown += 1
                hint(self.spec.exercise, self.shown)
            button.description = (say("hint.button", number=self.shown + 1, total=self.total) if self.shown < self.total
                                   else say("hint.all_shown", exercise=self.spec.exercise))
            button.disabled = self.shown >= self.total

        button.on_click(reveal)
        box = widgets.VBox([button, out])
        bundle = box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = say("hint.offline", exercise=self.spec.exercise, total=self.total)
        return bundle


def hints(exercise: str) -> HintButton:
    """The hint cell's call: `hints("softmax")` shows a button that reveals one hint per click."""
    return HintButton(exercise)


def get_spec(exercise: str) -> CheckSpec:
    """The spec of an exercise, by any name a learner may use for it (see find_exercise)."""
    return find_exercise(exercise)


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


NOT_TOPICS = {"core", "notebook", "modern_combined", "tokens_combined", "training_combined"}  # every other module in gptlab.course.checks holds one topic's checks


def _import_all_topics() -> None:
    """Topics are named by meaning, not lesson number, so renumbering lessons renames nothing."""
    import pkgutil
    from pathlib import Path

    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):  # this folder: no import of the package above
        if module.name not in NOT_TOPICS:
            importlib.import_module(f"gptlab.course.checks.{module.name}")
