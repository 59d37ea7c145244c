"""solutions/ → lessons/: the one pipeline that makes the notebooks learners receive.

For each solution notebook: validate the cell schema, drop `solution-only` cells, turn solution
regions into stubs, switch the set-up cell from strict to lenient checks, clear outputs, and write
stable JSON. Everything is built in memory first; files are written only if every notebook is
valid, each through a temporary file and a rename, so an error never leaves lessons/ half-written.

Cell schema (every tool — generator, checks, grader — reads the same fields):
  - one code cell tagged `setup`: imports and `lesson_setup(strict=True)`; an exercise runs after it alone;
  - exercise cells tagged `exercise`, with metadata.gptlab = {"exercise": id, "check":
    "gptlab.course.checks.<topic>.check_<id>", "points": n, "difficulty": 1-3, "minutes": m}; the markdown
    cell just above shows `exercise_banner(...)`;
  - cells tagged `solution-only` are dropped.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from gptlab.course.authoring.regions import RegionError, check_regions_in_bodies, find_regions, replace_regions
from gptlab.course.messages import say
from gptlab.files import atomic_write_text

SETUP_TAG, EXERCISE_TAG, SOLUTION_ONLY_TAG = "setup", "exercise", "solution-only"
STRICT_CALL, LENIENT_CALL = "lesson_setup(strict=True)", "lesson_setup(strict=False)"


def strict_call(strict: bool, lang: str = "en") -> str:
    """The set-up cell's call: lesson_setup(strict=True) in English, lesson_setup(strict=True, lang="zh") in an edition."""
    language = "" if lang == "en" else f", lang={lang!r}".replace("'", '"')
    return f"lesson_setup(strict={strict}{language})"
REQUIRED_FIELDS = {"exercise": str, "check": str, "points": int, "difficulty": int, "minutes": int}
FIX_COMMAND = "gptlab lessons"


class NotebookError(ValueError):
    """A problem in a solution notebook, naming the file and, where there is one, the cell."""

    def __init__(self, path: Path | str, message: str, index: int | None = None, cell_id: str | None = None):
        where = f"{path}" if index is None else f"{path}: cell {index} (id {cell_id})"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Exercise:
    """An exercise cell as the grader sees it."""

    id: str
    name: str  # the function or class the cell defines
    check: str
    points: int
    difficulty: int
    minutes: int
    cell_id: str


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def exercise_banner(meta: dict, lang: str = "en") -> str:
    """The line shown above an exercise: difficulty and time, so a learner can plan."""
    from gptlab.course.messages import say

    stars = "★" * meta["difficulty"] + "☆" * (3 - meta["difficulty"])
    if lang != "en":
        return say("banner", lang=lang, stars=stars, minutes=meta["minutes"], points=meta["points"])
    points = "point" if meta["points"] == 1 else "points"
    return f"Difficulty {stars} · about {meta['minutes']} min · {meta['points']} {points}"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    text = Path(path).read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(path, f"not a notebook: invalid JSON at line {error.lineno}, column {error.colno} ({error.msg})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        raise NotebookError(path, f"not a valid notebook: {str(error).splitlines()[0]}") from None
    return nb


def exercises(nb, path: Path | str = "<notebook>") -> list[Exercise]:
    """The exercises of a notebook, from their cells' metadata (never from file names)."""
    found = []
    for index, cell in enumerate(nb.cells):
        if EXERCISE_TAG not in tags(cell):
            continue
        meta = cell.get("metadata", {}).get("gptlab")
        if not isinstance(meta, dict):
            raise NotebookError(path, "an exercise cell needs metadata.gptlab", index, cell.get("id"))
        for key, kind in REQUIRED_FIELDS.items():
            if not isinstance(meta.get(key), kind):
                raise NotebookError(path, f"metadata.gptlab.{key} must be a {kind.__name__}; got {meta.get(key)!r}", index, cell.get("id"))
        if not 1 <= meta["difficulty"] <= 3 or meta["points"] < 1 or meta["minutes"] < 1:
            raise NotebookError(path, "difficulty must be 1-3, points and minutes at least 1", index, cell.get("id"))
        found.append(Exercise(meta["exercise"], meta.get("name", meta["exercise"]), meta["check"], meta["points"],
                              meta["difficulty"], meta["minutes"], cell.get("id")))
    return found


def setup_cell(nb, path: Path | str = "<notebook>"):
    cells = [c for c in nb.cells if SETUP_TAG in tags(c)]
    if len(cells) != 1 or cells[0].cell_type != "code":
        raise NotebookError(path, f"needs exactly one code cell tagged '{SETUP_TAG}'; found {len(cells)}")
    return cells[0]


def build_lesson(nb, path: Path | str, lang: str = "en") -> nbformat.NotebookNode:
    """The lesson notebook for one solution notebook (validated; raises NotebookError). `lang`: the edition, whose
    set-up cell calls lesson_setup(strict=True, lang=...) and whose banners and stubs are in that language."""
    from gptlab.course.checks import resolve_check

    setup = setup_cell(nb, path)
    strict, lenient = strict_call(True, lang), strict_call(False, lang)
    if strict not in setup.source:
        raise NotebookError(path, f"the set-up cell must call {strict} (lessons get {lenient})")
    by_cell = {e.cell_id: e for e in exercises(nb, path)}
    lesson = nbformat.v4.new_notebook(metadata=_lesson_metadata(nb, path))
    previous = None
    for index, cell in enumerate(nb.cells):
        cell_tags = tags(cell)
        try:
            regions = find_regions(cell.source)
        except RegionError as error:
            raise NotebookError(path, str(error), index, cell.get("id")) from None
        if SOLUTION_ONLY_TAG in cell_tags:
            if cell_tags & {SETUP_TAG, EXERCISE_TAG}:
                raise NotebookError(path, "a solution-only cell cannot also be the set-up or an exercise", index, cell.get("id"))
            continue
        new = nbformat.from_dict(json.loads(json.dumps(cell)))  # deep copy, keeps the id
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        new.metadata.pop("execution", None)
        if cell is setup:
            new.source = new.source.replace(strict, lenient)
        if EXERCISE_TAG in cell_tags:
            exercise = by_cell[cell.get("id")]
            new.source = _stub_exercise(cell, exercise, previous, path, index, resolve_check, lang)
        elif regions:
            raise NotebookError(path, "a solution region outside an exercise cell (tag the cell 'exercise' "
                                "and give it metadata.gptlab)", index, cell.get("id"))
        lesson.cells.append(new)
        if previous is not None and EXERCISE_TAG in tags(previous) and not _asks_for_hints(nb, index):
            lesson.cells.append(_hint_cell(by_cell[previous.get("id")]))  # under the check: hints on request
        previous = cell
    stamp(lesson)
    return lesson


HINT_CELL_TAG = "hints"


def _asks_for_hints(nb, check_index: int) -> bool:
    """Whether the solution already has a hint cell right after the check cell at check_index."""
    following = nb.cells[check_index + 1] if check_index + 1 < len(nb.cells) else None
    return following is not None and following.cell_type == "code" and "hint" in following.source


def _hint_cell(exercise: Exercise):
    """A code cell that shows a button revealing the exercise's hints one click at a time (Run All reveals none)."""
    cell = nbformat.v4.new_code_cell(f"from gptlab.course.checks import hints\nhints({exercise.id!r})",
                                     metadata={"tags": [HINT_CELL_TAG]})
    cell.id = f"{exercise.cell_id or exercise.id}-hints"[:64]
    return cell


def _stub_exercise(cell, exercise: Exercise, previous, path, index, resolve_check, lang: str = "en") -> str:
    if cell.cell_type != "code":
        raise NotebookError(path, "an exercise cell must be a code cell", index, cell.get("id"))
    if not find_regions(cell.source):
        raise NotebookError(path, "an exercise cell needs a '### BEGIN SOLUTION' region", index, cell.get("id"))
    try:
        check_regions_in_bodies(cell.source)
    except RegionError as error:
        raise NotebookError(path, str(error), index, cell.get("id")) from None
    try:
        spec = resolve_check(exercise.check).spec
    except (ImportError, ValueError) as error:
        raise NotebookError(path, f"check {exercise.check!r} cannot be used: {error}", index, cell.get("id")) from None
    banner = exercise_banner(cell.metadata.gptlab, lang)
    if previous is None or previous.cell_type != "markdown" or banner not in previous.source:
        raise NotebookError(path, f"the markdown cell above exercise {exercise.id!r} must show: {banner}", index, cell.get("id"))
    # Short enough to stay on screen; the hint cell under the exercise has the rest.
    return replace_regions(cell.source, say("stub", lang=lang, exercise=exercise.id))


def _lesson_metadata(nb, path) -> dict:
    metadata = {key: nb.metadata[key] for key in ("kernelspec", "language_info") if key in nb.metadata}
    gptlab = dict(nb.metadata.get("gptlab", {}))
    gptlab["generated_from"] = f"solutions/{Path(path).name}"
    gptlab["note"] = "Generated by `gptlab lessons`; edit the solution notebook, never this one."
    metadata["gptlab"] = gptlab
    return metadata


def lesson_fingerprint(nb) -> str:
    """A hash of what the course wrote in a lesson (its cells' sources and kinds, not outputs, not metadata):
    stored in the lesson, it stays in a learner's copy, so a newer course can tell which lessons it changed."""
    import hashlib

    digest = hashlib.sha256()
    for cell in nb.cells:
        digest.update(cell.cell_type.encode() + b"\0" + cell.source.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def stamp(lesson) -> None:
    """Record the course version and the lesson's fingerprint in its metadata (gptlab.course_version, .fingerprint)."""
    import gptlab

    lesson.metadata.setdefault("gptlab", {})
    lesson.metadata["gptlab"]["course_version"] = gptlab.__version__
    lesson.metadata["gptlab"]["fingerprint"] = lesson_fingerprint(lesson)


def check_exercises_run_alone(nb, path: Path | str) -> None:
    """Run the set-up cell, then each exercise cell in a fresh copy of its namespace, as a grader will."""
    setup = setup_cell(nb, path)
    namespace: dict = {"__name__": "__gptlab_exercise__"}
    _exec(setup.source, namespace, path, nb.cells.index(setup), setup.get("id"), "the set-up cell")
    for exercise in exercises(nb, path):
        index = next(i for i, c in enumerate(nb.cells) if c.get("id") == exercise.cell_id)
        alone = dict(namespace)
        _exec(nb.cells[index].source, alone, path, index, exercise.cell_id, f"exercise {exercise.id!r}")
        if not callable(alone.get(exercise.name)):
            raise NotebookError(path, f"exercise {exercise.id!r} must define {exercise.name!r} (a function or class)", index, exercise.cell_id)


def _exec(source: str, namespace: dict, path, index, cell_id, what: str) -> None:
    try:
        code = compile(source, f"{path}[cell {index}]", "exec")
    except SyntaxError as error:
        hint = " (set-up and exercise cells must be plain Python, no % magics)" if "%" in (error.text or "") else ""
        raise NotebookError(path, f"{what} is not valid Python: {error.msg} on line {error.lineno}{hint}", index, cell_id) from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)
    except Exception as error:
        raise NotebookError(path, f"{what} does not run alone after the set-up cell: {type(error).__name__}: {error}", index, cell_id) from None


def render(nb) -> str:
    """Stable JSON: the same notebook always gives the same bytes, so drift is a plain text diff."""
    return nbformat.writes(nb) + "\n"


def build_all(solutions_dir: Path, lessons_dir: Path) -> dict[Path, str]:
    """Every lesson's text, keyed by its path in lessons_dir. Raises NotebookError on the first problem."""
    solutions = sorted(Path(solutions_dir).glob("*.ipynb"))
    if not solutions:
        raise NotebookError(solutions_dir, "no solution notebooks (*.ipynb) here")
    built = {}
    for path in solutions:
        nb = read_notebook(path)
        lesson = build_lesson(nb, path)
        check_exercises_run_alone(nb, path)
        check_exercises_run_alone(lesson, f"{path} (as a lesson)")
        built[Path(lessons_dir) / path.name] = render(lesson)
    return built


def out_of_date(built: dict[Path, str], lessons_dir: Path) -> list[str]:
    """Lesson files that differ from what `gptlab lessons` would write, and stale ones to delete."""
    stale = []
    for path, text in built.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(f"{path} is out of date" if path.exists() else f"{path} is missing")
    for path in sorted(Path(lessons_dir).glob("*.ipynb")):
        if path not in built:
            stale.append(f"{path} has no solution notebook")
    return stale


def write_all(built: dict[Path, str], lessons_dir: Path) -> list[Path]:
    """Write changed lessons atomically and delete lessons whose solution is gone; returns what changed."""
    lessons_dir = Path(lessons_dir)
    lessons_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for path, text in built.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        atomic_write_text(path, text)
        changed.append(path)
    for path in sorted(lessons_dir.glob("*.ipynb")):
        if path not in built:
            path.unlink()
            changed.append(path)
    return changed
