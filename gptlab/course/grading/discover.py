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
from gptlab.course.messages import LANGUAGES, edition, say


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
    titles: tuple[tuple[str, str], ...] = ()  # (lang, title) of the lesson's editions (lessons/<lang>/)

    def title_in(self, lang: str) -> str:
        return dict(self.titles).get(lang, self.title)


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
    lang: str = "en"  # the edition: `--lang`, else what the notebooks record (metadata.gptlab.lang); feedback speaks it


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
                                       nb.cells.index(setup), tuple(exercises(nb, path)), meta.get("course_version"),
                                       _edition_titles(lessons_dir, path.name))
    ids = [e.id for lesson in lessons.values() for e in lesson.exercises]
    if len(ids) != len(set(ids)):
        raise GradingError(f"{lessons_dir}: two exercises share an id")
    return Course(dict(sorted(lessons.items())))


def _edition_titles(lessons_dir: Path, name: str) -> tuple[tuple[str, str], ...]:
    """The lesson's title in each edition found beside the course (lessons/zh/NN_topic.ipynb)."""
    titles = []
    for lang in LANGUAGES:
        path = lessons_dir / lang / name
        if lang != "en" and path.is_file():
            title = read_notebook(path).metadata.get("gptlab", {}).get("title")
            if isinstance(title, str):
                titles.append((lang, title))
    return tuple(titles)


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


def read_submission(learner: str, files: list[Path], course: Course, lang: str | None = None) -> Submission:
    """Read a learner's notebooks; never raises for a bad file (it becomes a problem in the report). The report's
    language is `lang` if given, else the edition most of the learner's notebooks record (a tie: English)."""
    sub = Submission(learner, list(files))
    notebooks: dict[str, tuple[Path, object]] = {}
    problems: list[tuple[str, dict]] = []  # (message id, fields), worded once the language is known; id "": as is
    if not files:
        problems.append(("grade.no_notebooks", {}))
    for path in sorted(files, key=lambda p: (_mtime(p), p.name)):
        try:
            nb = read_notebook(path)
        except NotebookError as error:
            problems.append(("", {"text": _short(error, path)}))  # the notebook's own error, as it is
            continue
        except (OSError, UnicodeDecodeError) as error:
            problems.append(("grade.unreadable_file", {"file": path.name, "error": f"{type(error).__name__}: {error}"}))
            continue
        meta = nb.metadata.get("gptlab") if isinstance(nb.metadata.get("gptlab"), dict) else {}
        lesson = meta.get("lesson")
        if not isinstance(lesson, str):
            problems.append(("grade.not_course", {"file": path.name}))
            continue
        if lesson not in course.lessons:
            problems.append(("grade.unknown_lesson", {"file": path.name, "lesson": lesson,
                                                      "known": ", ".join(course.lessons)}))
            continue
        if lesson in notebooks:
            problems.append(("grade.two_notebooks", {"file": path.name, "other": notebooks[lesson][0].name,
                                                     "lesson": lesson}))
        notebooks[lesson] = (path, nb)
    sub.lang = lang or _majority([edition(nb.metadata) for _, nb in notebooks.values()])
    for lesson, (path, nb) in notebooks.items():
        sub.lessons_found[lesson] = path.name
        made_with = (nb.metadata.get("gptlab") or {}).get("course_version") or "0.1 or older"  # 0.1 wrote none
        sub.versions[lesson] = made_with
        expected = course.lessons[lesson].version
        if expected and made_with != expected:
            problems.append(("grade.other_version", {"file": path.name, "made_with": made_with, "expected": expected}))
        for exercise in course.lessons[lesson].exercises:
            found = _find_cell(nb, exercise)
            key = (lesson, exercise.id)
            if found is None:
                sub.missing[key] = say("grade.no_cell", lang=sub.lang, file=path.name, exercise=exercise.id)
                continue
            index, cell = found
            if cell.get("cell_type") != "code":
                sub.missing[key] = say("grade.not_code", lang=sub.lang, file=path.name, index=index, exercise=exercise.id)
                continue
            sub.answers[key] = Answer(lesson, exercise, str(cell.get("source", "")), index, path.name)
    sub.problems += [say(key, lang=sub.lang, **fields) if key else fields["text"] for key, fields in problems]
    return sub


def _majority(langs: list[str]) -> str:
    counts = {lang: langs.count(lang) for lang in langs}
    best = max(counts.values(), default=0)
    winners = [lang for lang, n in counts.items() if n == best]
    return winners[0] if len(winners) == 1 else "en"


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
