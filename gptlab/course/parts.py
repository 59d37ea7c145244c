"""The learner's own parts, taken from their earlier notebooks, for the GPT they assemble, train and sample.

Lesson 06 builds a GPT from the `LayerNorm`, `MLP`, `CausalSelfAttention` and `Block` the learner wrote in
lessons 04 and 05; lesson 07 trains it and lesson 08 samples it. Each part comes from the learner's own
notebook in the working copy (the folder the kernel runs in), found by the grader's rule
(`grading.discover.find_exercise_cell`), run after its lesson's set-up cell with the parts before it in scope
(so the learner's `Block` is built from the learner's `LayerNorm`), and passed through its own check. A part
that is missing, skipped or wrong is replaced by the reference, and one line says which parts are whose.

    parts = own_parts("LayerNorm", "MLP", "CausalSelfAttention", "Block")
    LayerNorm, MLP, CausalSelfAttention, Block = parts      # prints: ⚙ your parts: yours: …; the reference's: …

Taught in: solutions/06_gpt_model.ipynb
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gptlab.course.authoring.build import SETUP_TAG, tags
from gptlab.course.authoring.editions import LANGUAGES
from gptlab.course.checks.core import PUBLIC_SEED, CheckFailed, evaluate
from gptlab.course.checks.notebook import find_exercise, is_strict
from gptlab.course.grading.discover import find_exercise_cell
from gptlab.course.messages import say, wrap

# The parts of the model a learner writes, in the order each builds on the ones before it: (lesson, exercise id).
PARTS: dict[str, tuple[str, str]] = {
    "CausalSelfAttention": ("04", "causal_self_attention"),
    "LayerNorm": ("05", "layer_norm"),
    "MLP": ("05", "mlp"),
    "Block": ("05", "block"),
    "GPT": ("06", "gpt"),
}
LEARNER, REFERENCE = "learner", "reference"


@dataclass
class Parts:
    """The classes to use, by part name, and whose each one is ("learner" or "reference", and why)."""

    wanted: tuple[str, ...]
    classes: dict[str, type] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.classes[name] for name in self.wanted)

    def __getitem__(self, name: str) -> type:
        return self.classes[name]

    def line(self, model: str = "your parts") -> str:
        mine = [name for name in self.classes if self.origin[name] == LEARNER]
        theirs = [say("parts.why", name=name, why=self.why[name]) for name in self.classes if self.origin[name] == REFERENCE]
        return say("parts.line", model=model, mine=", ".join(mine) or say("parts.none"),
                   reference="; ".join(theirs) or say("parts.none"))

    def metadata(self) -> dict[str, str]:
        """Part name -> "learner" or "reference": what a checkpoint of the assembled model records."""
        return dict(self.origin)


def own_parts(*names: str, folder: str | Path | None = None, model: str = "your parts", quiet: bool = False) -> Parts:
    """The learner's parts `names` (and the parts they are built from), from the notebooks in `folder` (default:
    the kernel's working directory, which is the notebook's folder). Prints one line; in strict mode (solutions/)
    a part that falls back raises CheckFailed, so a broken solution fails CI."""
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        raise ValueError(f"unknown part(s) {unknown or names!r}; the parts are {', '.join(PARTS)}")
    folder = Path(folder) if folder is not None else Path.cwd()
    last = max(list(PARTS).index(name) for name in names)
    parts, notebooks, state = Parts(tuple(names)), _lesson_notebooks(folder), torch.get_rng_state()
    try:
        for name in list(PARTS)[: last + 1]:
            lesson, exercise = PARTS[name]
            cls, why = _learner_part(name, exercise, notebooks.get(lesson), dict(parts.classes))
            spec = find_exercise(exercise)
            if cls is None:
                parts.classes[name], parts.origin[name] = spec.reference, REFERENCE
                parts.why[name] = why or say("parts.no_notebook", lesson=lesson, folder=folder)
            else:
                parts.classes[name], parts.origin[name] = cls, LEARNER
    finally:
        torch.set_rng_state(state)  # the lesson's own seeded cells draw what they would have drawn without this
    line = parts.line(model)
    if is_strict() and REFERENCE in parts.origin.values():
        raise CheckFailed(line, exercise="parts")
    if not quiet:
        print(wrap(line))
    return parts


def _lesson_notebooks(folder: Path) -> dict[str, tuple[Path, dict]]:
    """Lesson id -> (path, notebook) in `folder`, by metadata.gptlab.lesson; the newest file wins, as in grading.
    An edition's book (solutions/zh/, lessons/zh/) holds only its translated lessons: a lesson it lacks is taken
    from the English book beside it, as a learner's working copy of the edition takes the English lesson."""
    found = _notebooks_in(folder)
    if folder.name in LANGUAGES and folder.parent != folder:
        for lesson, entry in _notebooks_in(folder.parent).items():
            found.setdefault(lesson, entry)
    return found


def _notebooks_in(folder: Path) -> dict[str, tuple[Path, dict]]:
    found: dict[str, tuple[float, Path, dict]] = {}
    for path in folder.glob("*.ipynb"):
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
            lesson = nb["metadata"]["gptlab"]["lesson"]
            stamp = path.stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(lesson, str) and (lesson not in found or stamp > found[lesson][0]):
            found[lesson] = (stamp, path, nb)
    return {lesson: (path, nb) for lesson, (_, path, nb) in found.items()}


class _Cells:
    def __init__(self, nb: dict):
        self.cells = nb.get("cells", [])


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _learner_part(name: str, exercise: str, found, earlier: dict[str, type]) -> tuple[type | None, str | None]:
    """The learner's class for a part if their cell defines one that passes its check, else (None, why)."""
    if found is None:
        return None, None
    path, nb = found
    cells = _Cells(nb)
    cell = find_exercise_cell(cells, exercise)
    if cell is None:
        return None, say("parts.no_cell", exercise=exercise, file=path.name)
    setup = [c for c in cells.cells if SETUP_TAG in tags(c)]
    namespace: dict = {"__name__": f"__gptlab_part_{name}__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if setup:  # the set-up cell without its lesson_setup(...) call, which would reseed and change the mode
                exec(compile(re.sub(r"(?m)^lesson_setup\(.*\)\s*$", "", _source(setup[0])), f"<{path.name} set-up>", "exec"),
                     namespace)
            namespace.update(earlier)
            exec(compile(_source(cell[1]), f"<{path.name} {exercise}>", "exec"), namespace)
    except Exception as error:  # noqa: BLE001  (the learner's cell: anything may go wrong, and the lesson goes on)
        return None, say("parts.raised", file=path.name, error=f"{type(error).__name__}: {error}"[:160])
    impl = namespace.get(name)
    spec = find_exercise(exercise)
    if impl is None or impl is spec.reference:
        return None, say("parts.no_cell", exercise=exercise, file=path.name)
    with contextlib.redirect_stdout(io.StringIO()):
        result = evaluate(spec, impl, PUBLIC_SEED)
    if result.passed:
        return impl, None
    if result.status == "skipped":
        return None, say("parts.skipped", file=path.name)
    return None, say("parts.failed", file=path.name, message=result.message.removeprefix(f"{exercise}: ")[:200])


def first_difference(mine: torch.nn.Module, theirs: torch.nn.Module, idx: torch.Tensor, parts: Parts | None = None,
                     atol: float = 1e-5) -> tuple[float, str | None]:
    """Run both models (same parameter names) on idx; return the largest logit difference and, when it is over
    atol, a line naming the first module, in the order modules finish, whose output differs: the learner's part
    that makes the assembled model's output off."""
    outputs: dict[str, dict[str, torch.Tensor]] = {"mine": {}, "theirs": {}}
    order: list[str] = []
    handles = []
    for key, model in (("mine", mine), ("theirs", theirs)):
        for module_name, module in model.named_modules():
            def hook(_module, _inputs, output, key=key, module_name=module_name):
                if isinstance(output, tuple):
                    output = output[0]
                if isinstance(output, torch.Tensor):
                    outputs[key][module_name] = output.detach()
                    if key == "mine":
                        order.append(module_name)
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits_mine, logits_theirs = mine(idx)[0], theirs(idx)[0]
    finally:
        for handle in handles:
            handle.remove()
    diff = (logits_mine - logits_theirs).abs().max().item()
    if diff <= atol:
        return diff, None
    for module_name in order:
        a, b = outputs["mine"][module_name], outputs["theirs"].get(module_name)
        if b is None or a.shape != b.shape or (a - b).abs().max().item() > atol:
            part = type(dict(mine.named_modules())[module_name]).__name__
            origin = (parts.origin.get(part, "?") if parts else "?")
            return diff, say("parts.off", model="GPT", diff=diff, module=module_name or "the model", part=part,
                             origin="yours" if origin == LEARNER else "the reference")
    return diff, None
