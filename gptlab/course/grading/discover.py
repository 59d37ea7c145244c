"""Find the course's lessons, the learners, their notebooks and exercise cells — by metadata, never file names.

Platforms rename files (`alice_12345_00_welcome-2.ipynb`), so a notebook is recognised by
`metadata.gptlab.course.lesson` and an exercise cell by its `metadata.gptlab.exercise` (or, if a learner's
copy lost its metadata, by the course cell's id). What a learner changed in the set-up cell, the
check path or the points is ignored: those come from the course's own lesson.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from gptlab.course.authoring.build import EXERCISE_TAG, Exercise, NotebookError, exercises, read_notebook, setup_cell, tags


class GradingError(ValueError):
    """A problem with the course or a submission, in words a teacher can forward."""


@dataclass(frozen=True)
class CourseLesson:
    lesson: str  # "00"
    path: Path
    title: str
    setup_source: str
    setup_index: int
    exercises: tuple[Exercise, ...]
    version: str | None = None  # the course version the lesson was generated with (None: older than 0.2)


@dataclass(frozen=True)
class Course:
    lessons: dict[str, CourseLesson]  # by lesson id, sorted

    def all_exercises(self) -> list[tuple[CourseLesson, Exercise]]:
        return [(lesson, e) for lesson in self.lessons.values() for e in lesson.exercises]

    def max_points(self) -> int:
        return sum(e.points for _, e in self.all_exercises())

    def only(self, lessons) -> "Course":
        """The course restricted to the lessons assigned ("00", "1" and "01" name the same lesson); ValueError
        naming the known ones when one is unknown."""
        wanted = [str(lesson).zfill(2) for lesson in lessons]
        unknown = [lesson for lesson in wanted if lesson not in self.lessons]
        if unknown:
            raise ValueError(f"no lesson {', '.join(unknown)} in this course; its lessons are {', '.join(self.lessons)}")
        return Course({key: value for key, value in self.lessons.items() if key in wanted})


@dataclass(frozen=True)
class Answer:
    """A learner's exercise cell, ready to run."""

    lesson: str
    exercise: Exercise  # the course's exercise (its check, name, points)
    source: str
    cell_index: int
    file: str  # the file it came from, as shown in messages


@dataclass
class Submission:
    """One learner's notebooks: answers found, plus problems to report (unreadable files, missing cells)."""

    learner: str
    files: list[Path]
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)  # (lesson, exercise id) -> answer
    lessons_found: dict[str, str] = field(default_factory=dict)  # lesson -> file name
    missing: dict[tuple[str, str], str] = field(default_factory=dict)  # (lesson, exercise) -> why
    problems: list[str] = field(default_factory=list)  # learner-level, e.g. "x.ipynb: not a notebook: ..."
    versions: dict[str, str] = field(default_factory=dict)  # lesson -> the course version its notebook was made with


def load_course(lessons_dir: Path | str) -> Course:
    """The course's lessons (the generated lessons/ folder), keyed by `metadata.gptlab.course.lesson`."""
    lessons_dir = Path(lessons_dir)
    paths = sorted(lessons_dir.glob("*.ipynb"))
    if not paths:
        raise GradingError(f"no lessons (*.ipynb) in {lessons_dir}; pass --lessons DIR (the course's lessons/ folder)")
    lessons: dict[str, CourseLesson] = {}
    for path in paths:
        nb = read_notebook(path)
        meta = nb.metadata.get("gptlab", {})
        lesson = meta.get("lesson")
        if not isinstance(lesson, str):
            raise GradingError(f"{path}: the course's lesson has no metadata.gptlab.course.lesson")
        if lesson in lessons:
            raise GradingError(f"{path}: lesson {lesson} also comes from {lessons[lesson].path}")
        setup = setup_cell(nb, path)
        lessons[lesson] = CourseLesson(lesson, path, str(meta.get("title", path.stem)), setup.source,
                                       nb.cells.index(setup), tuple(exercises(nb, path)), meta.get("course_version"))
    ids = [e.id for lesson in lessons.values() for e in lesson.exercises]
    if len(ids) != len(set(ids)):
        raise GradingError(f"{lessons_dir}: two exercises share an id")
    return Course(dict(sorted(lessons.items())))


def find_submissions(root: Path | str) -> dict[str, list[Path]]:
    """Learner -> notebook files. One folder per learner, or files named `<learner>__<anything>.ipynb`."""
    root = Path(root)
    if not root.is_dir():
        raise GradingError(f"{root} is not a folder of submissions")
    found: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            files = sorted(p for p in entry.rglob("*.ipynb")
                           if ".ipynb_checkpoints" not in p.parts and not p.is_symlink() and p.is_file())
            found.setdefault(entry.name, []).extend(files)
        elif entry.is_file() and not entry.is_symlink() and entry.suffix == ".ipynb":
            learner = entry.stem.split("__", 1)[0] if "__" in entry.stem else entry.stem
            found.setdefault(learner, []).append(entry)
    return found


def read_submission(learner: str, files: list[Path], course: Course) -> Submission:
    """Read a learner's notebooks; never raises for a bad file (it becomes a problem in the report)."""
    sub = Submission(learner, list(files))
    notebooks: dict[str, tuple[Path, object]] = {}
    if not files:
        sub.problems.append("no notebooks (*.ipynb) found")
    for path in sorted(files, key=lambda p: (_mtime(p), p.name)):
        try:
            nb = read_notebook(path)
        except NotebookError as error:
            sub.problems.append(_short(error, path))
            continue
        except (OSError, UnicodeDecodeError) as error:
            sub.problems.append(f"{path.name}: cannot be read ({type(error).__name__}: {error})")
            continue
        meta = nb.metadata.get("gptlab") if isinstance(nb.metadata.get("gptlab"), dict) else {}
        lesson = meta.get("lesson")
        if not isinstance(lesson, str):
            sub.problems.append(f"{path.name}: not a notebook of this course (it has no metadata.gptlab.course.lesson)")
            continue
        if lesson not in course.lessons:
            sub.problems.append(f"{path.name}: lesson {lesson!r} is not part of this course "
                                f"(known: {', '.join(course.lessons)})")
            continue
        if lesson in notebooks:
            sub.problems.append(f"{path.name} and {notebooks[lesson][0].name} are both lesson {lesson}; "
                                f"grading the newer one, {path.name}")
        notebooks[lesson] = (path, nb)
    for lesson, (path, nb) in notebooks.items():
        sub.lessons_found[lesson] = path.name
        made_with = (nb.metadata.get("gptlab") or {}).get("course_version") or "0.1 or older"  # 0.1 wrote none
        sub.versions[lesson] = made_with
        expected = course.lessons[lesson].version
        if expected and made_with != expected:
            sub.problems.append(f"{path.name}: made with course {made_with}, but the lessons handed out are course "
                                f"{expected}; the verdicts use the handed-out checks")
        for exercise in course.lessons[lesson].exercises:
            found = _find_cell(nb, exercise)
            key = (lesson, exercise.id)
            if found is None:
                sub.missing[key] = (f"{path.name}: no exercise cell for {exercise.id!r} "
                                    "(was it deleted, or its cell metadata removed?)")
                continue
            index, cell = found
            if cell.get("cell_type") != "code":
                sub.missing[key] = f"{path.name}: cell {index}, the exercise {exercise.id!r}, is not a code cell"
                continue
            sub.answers[key] = Answer(lesson, exercise, str(cell.get("source", "")), index, path.name)
    return sub


def _find_cell(nb, exercise: Exercise):
    return find_exercise_cell(nb, exercise.id, exercise.cell_id)


def find_exercise_cell(nb, exercise_id: str, cell_id: str | None = None):
    """(index, cell) of a notebook's answer to an exercise, or None: the last cell whose metadata names it (a
    tagged one first), else the course cell's id. The grader's rule; lesson 06 finds a learner's parts by it."""
    by_meta = [(i, c) for i, c in enumerate(nb.cells)
               if isinstance(c.get("metadata", {}).get("gptlab"), dict)
               and c["metadata"]["gptlab"].get("exercise") == exercise_id]
    tagged = [(i, c) for i, c in by_meta if EXERCISE_TAG in tags(c)]
    if tagged or by_meta:
        return (tagged or by_meta)[-1]
    by_id = [(i, c) for i, c in enumerate(nb.cells) if cell_id is not None and c.get("id") == cell_id]
    return by_id[-1] if by_id else None


def fingerprint(files: list[Path]) -> str:
    """A hash of a learner's files (names and bytes): a re-run regrades a learner whose files changed."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.name).encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def safe_name(learner: str) -> str:
    """A file name for a learner's feedback and state (a hash suffix keeps distinct names distinct)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", learner).strip("._") or "learner"
    if clean != learner:
        clean += "-" + hashlib.sha256(learner.encode()).hexdigest()[:8]
    return clean[:120]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _short(error: Exception, path: Path) -> str:
    text = str(error)
    return text.replace(str(path), path.name, 1) if text.startswith(str(path)) else f"{path.name}: {text}"
