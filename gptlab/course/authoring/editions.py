"""One source, two editions: the Chinese (or any other) edition of a solution notebook, built from the English one.

The solution notebooks stay the only source of code. Beside them, `solutions/<lang>/NN_topic.json` holds the
translation of one lesson, keyed by cell id:

    {"lesson": "00_welcome.ipynb", "lang": "zh",
     "cells": {"01dd2d33": {"en": "3f1c…", "text": "# 00 · 欢迎来到 gptlab …"},            # a markdown cell
               "221122ca": {"en": "9ab0…", "comments": {"the row's largest logit becomes 0": "每行最大的 logit 变为 0"}}}}

"en" is a hash of the English it translates (a markdown cell's source; a code cell's learner-readable comments),
so a translation made from older English is *stale* and named as such. A code cell of the edition is the English
cell with its comments replaced, nothing else: its tokens minus comments are compared with the English ones.

`solutions/<lang>/manifest.json` lists the lessons declared translated. For those the check is strict: every
markdown cell and every commented code cell needs a current translation, and every exercise's hints too. The
other lessons are reported as "not translated yet" and are not built into the edition; a learner's working copy of
the edition takes the English lesson for them (its checks still speak the edition's language).

Taught in: solutions/00_welcome.ipynb (the course machinery; this module writes lessons/zh/)
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from gptlab.course.printed import dead_templates, translate_outputs
from gptlab.course.authoring.build import (NotebookError, build_lesson, exercises, read_notebook, render, setup_cell,
                                           stamp, strict_call)

LANGUAGES = ("zh",)  # the editions besides English
KEEP_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "YOUR CODE HERE")  # nbgrader's markers stay as they are
_WORD = re.compile(r"[A-Za-z]{3,}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def comments(source: str) -> list[str]:
    """The learner-readable comments of a code cell, in order: a comment with at least one English word of three
    letters or more, not a solution marker. Shape comments such as `# (B, nh, T, hs)` stay as they are."""
    found = []
    for token in _tokens(source):
        if token.type == tokenize.COMMENT:
            body = token.string[1:].strip()
            if _WORD.search(body) and not any(marker in body for marker in KEEP_MARKERS):
                found.append(body)
    return found


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []


def english_of(cell) -> str | None:
    """What a cell's translation translates: a markdown cell's source, a code cell's comments; None: nothing to do."""
    if cell.cell_type == "markdown":
        return cell.source if cell.source.strip() else None
    if cell.cell_type == "code":
        found = comments(cell.source)
        return "\n".join(found) if found else None
    return None


def replace_comments(source: str, translated: dict[str, str]) -> str:
    """The code cell with each comment found in `translated` replaced; code, strings and layout untouched."""
    lines = source.splitlines(keepends=True)
    for token in reversed(_tokens(source)):  # right to left, so earlier columns stay valid
        if token.type != tokenize.COMMENT:
            continue
        body = token.string[1:].strip()
        if body in translated:
            row, col = token.start
            line = lines[row - 1]
            end = col + len(token.string)
            lines[row - 1] = line[:col] + "# " + translated[body] + line[end:]
    return "".join(lines)


def code_without_comments(source: str) -> list[tuple[int, str]]:
    """A code cell's tokens without comments and layout: equal for two cells that differ only in comments."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    return [(t.type, t.string) for t in _tokens(source) if t.type not in skip] or [(0, source)]


@dataclass
class Translation:
    lesson: str
    lang: str
    cells: dict[str, dict]
    path: Path | None = None

    @classmethod
    def read(cls, path: Path) -> "Translation":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise NotebookError(path, f"not a translation file: invalid JSON at line {error.lineno} ({error.msg})") from None
        return cls(data["lesson"], data["lang"], data.get("cells", {}), Path(path))


@dataclass
class Drift:
    """What the edition lacks for one lesson: (cell index, cell id, what) per problem."""

    lesson: str
    declared: bool
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)
    cells_to_translate: int = 0

    def lines(self, lang: str) -> list[str]:
        return [f"{lang}/{self.lesson}: cell {index} (id {cell_id}): {what}" if index is not None
                else f"{lang}/{self.lesson}: {what}" for index, cell_id, what in self.problems]


def drift(nb, translation: Translation | None, lesson: str, declared: bool) -> Drift:
    """Every cell of the English notebook whose translation is missing or stale, and translations of no cell."""
    report = Drift(lesson, declared)
    entries = translation.cells if translation else {}
    ids = set()
    for index, cell in enumerate(nb.cells):
        ids.add(cell.get("id"))
        english = english_of(cell)
        if english is None:
            continue
        report.cells_to_translate += 1
        entry = entries.get(cell.get("id"))
        if entry is None:
            report.problems.append((index, cell.get("id"), f"{cell.cell_type} cell has no translation"))
        elif entry.get("en") != digest(english):
            report.problems.append((index, cell.get("id"), "stale translation: the English changed since it was "
                                    f"translated (now {digest(english)}, translated from {entry.get('en')})"))
        elif cell.cell_type == "code":
            missing = [c for c in comments(cell.source) if c not in entry.get("comments", {})]
            if missing:
                report.problems.append((index, cell.get("id"), f"comment {missing[0]!r} has no translation"))
    for cell_id in sorted(set(entries) - ids):
        report.problems.append((None, cell_id, f"the translation of cell {cell_id} matches no cell of the English "
                                "(the cell was removed or its id changed)"))
    return report


def translate(nb, translation: Translation, lang: str, path) -> nbformat.NotebookNode:
    """The edition's solution notebook: the English one with its text and comments translated, its printed lines
    translated by gptlab.course.printed (the rest of the outputs kept), the set-up cell calling lesson_setup(..., lang=...) so checks and hints speak the edition's language."""
    edition = nbformat.from_dict(json.loads(json.dumps(nb)))
    setup = setup_cell(edition, path)
    for cell in edition.cells:
        entry = translation.cells.get(cell.get("id"))
        if entry is not None and entry.get("en") == digest(english_of(cell) or ""):
            if cell.cell_type == "markdown":
                cell.source = entry["text"]
            else:
                cell.source = replace_comments(cell.source, entry.get("comments", {}))
        if cell.get("id") == setup.get("id"):
            cell.source = cell.source.replace(strict_call(True), strict_call(True, lang))
    gptlab_meta = edition.metadata.setdefault("gptlab", {})
    gptlab_meta["lang"] = lang
    gptlab_meta["translated_from"] = f"solutions/{Path(path).name}"
    gptlab_meta["note"] = (f"Generated by `gptlab lessons` from solutions/{Path(path).name} and "
                           f"solutions/{lang}/{Path(path).stem}.json; edit those, never this one.")
    _check_same_code(nb, edition, path, setup.get("id"))
    translate_outputs(edition, lang, Path(path).stem)   # what the code printed, from the edition's line table
    return edition


def _check_same_code(nb, edition, path, setup_id) -> None:
    for index, (english, translated) in enumerate(zip(nb.cells, edition.cells)):
        if english.cell_type != "code" or english.get("id") == setup_id:
            continue
        if code_without_comments(english.source) != code_without_comments(translated.source):
            raise NotebookError(path, "the translated code cell differs from the English beyond its comments", index,
                                english.get("id"))


def manifest(solutions_dir: Path, lang: str) -> list[str]:
    """The lessons declared translated into `lang` (file names such as "00_welcome.ipynb")."""
    path = Path(solutions_dir) / lang / "manifest.json"
    if not path.exists():
        return []
    return [f"{name}.ipynb" if not name.endswith(".ipynb") else name
            for name in json.loads(path.read_text(encoding="utf-8"))["translated"]]


def hint_drift(nb, lang: str) -> list[str]:
    """Exercises of a translated lesson whose mistakes or hints lack a current translation in `lang`."""
    return [f"{lang}: {problem}" for exercise in exercises(nb) for problem in stale_exercise_messages(exercise.id, lang)]


def stale_exercise_messages(exercise: str, lang: str) -> list[str]:
    """An exercise's mistakes and hints that have no translation in `lang`, or one made from older English."""
    from gptlab.course.checks import get_spec

    spec = get_spec(exercise)
    wanted = {f"{spec.exercise}.mistake.{m.name}": m.hint for m in spec.mistakes}
    wanted.update({f"{spec.exercise}.hint.{n}": h for n, h in enumerate(spec.hints, start=1)})
    from gptlab.course.messages import digest, table

    _, exercise_table = table(lang)
    problems = []
    for key, english in wanted.items():
        entry = exercise_table.get(key)
        if entry is None:
            problems.append(f"{key} has no translation")
        elif entry[0] != digest(english):
            problems.append(f"{key} is stale: the English changed since it was translated (now {digest(english)})")
    return problems


def build_edition(solutions_dir: Path, lessons_dir: Path, lang: str) -> tuple[dict[Path, str], list[Drift], list[str]]:
    """(files to write: lessons/<lang>/*.ipynb and solutions/<lang>/*.ipynb, drift per lesson, problems that fail
    the check). Only the lessons in the manifest are built; their drift fails the check, the others' does not."""
    solutions_dir, lessons_dir = Path(solutions_dir), Path(lessons_dir)
    declared = set(manifest(solutions_dir, lang))
    built, reports, failures = {}, [], []
    for path in sorted(solutions_dir.glob("*.ipynb")):
        nb = read_notebook(path)
        store = solutions_dir / lang / f"{path.stem}.json"
        translation = Translation.read(store) if store.exists() else None
        report = drift(nb, translation, path.name, path.name in declared)
        reports.append(report)
        if path.name not in declared:
            continue
        failures += report.lines(lang) + hint_drift(nb, lang) + [
            f"{lang}/{path.name}: the printed line {english!r} in gptlab/course/locales/printed/{lang}/{path.stem}.json "
            "matches nothing the English lesson prints or its code says (the English changed?)"
            for english in dead_templates(nb, path.stem, lang)]
        edition = translate(nb, translation or Translation(path.name, lang, {}), lang, path)
        lesson = build_lesson(edition, path, lang=lang)
        lesson.metadata["gptlab"]["lang"] = lang
        lesson.metadata["gptlab"]["note"] = edition.metadata["gptlab"]["note"]
        stamp(lesson)
        built[lessons_dir / lang / path.name] = render(lesson)
        built[solutions_dir / lang / path.name] = render(edition)
    for name in sorted(declared - {p.name for p in solutions_dir.glob("*.ipynb")}):
        failures.append(f"{lang}/manifest.json declares {name}, which has no solution notebook")
    return built, reports, failures


def summary(reports: list[Drift], lang: str) -> list[str]:
    """One line per lesson: translated, or not translated yet (how many cells lack a current translation)."""
    out = []
    for report in reports:
        if report.declared:
            state = "translated" if not report.problems else f"translated, {len(report.problems)} problem(s)"
        else:
            done = report.cells_to_translate - sum(1 for p in report.problems if p[0] is not None)
            state = f"not translated yet ({done} of {report.cells_to_translate} cells; not in {lang}/manifest.json)"
        out.append(f"{lang}/{report.lesson}: {state}")
    return out

