"""Every sentence a learner reads from the course machinery, keyed by id: verdicts, notices, hints, mistakes.

    say("check.passed", exercise="softmax", cases=8)   -> "✓ softmax — all 8 cases match"
    lines("check.passed", ...)                          -> the same, wrapped at word boundaries for a notebook

The fixed sentences are in MESSAGES below. The exercises' own words (each catalog mistake's hint, each
progressive hint) are written next to the code they describe, in gptlab/course/checks/<topic>.py, and are
found here under ids of their own: "<exercise>.mistake.<name>" and "<exercise>.hint.<n>" (see
gptlab.course.checks.exercise_messages). Each other language has one table, gptlab/course/locales/<lang>.py:
MESSAGES with the same ids as MESSAGES here (tests/test_editions.py checks that every id has both, with the same
{fields}), and EXERCISES, "<exercise>.mistake.<name>" / "<exercise>.hint.<n>" -> (hash of the English, text), so a
hint whose English changed is stale (`gptlab lessons --check` names it for every lesson declared translated). A
missing entry falls back to English.

The language: lesson_setup(..., lang="zh") (the Chinese edition's set-up cell), else $GPTLAB_LANG, else English.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import contextlib
import os
import textwrap
import threading

WIDTH = 100  # JupyterLab's output area shows about this many characters of monospace text before it wraps

MESSAGES: dict[str, str] = {
    "check.passed": "✓ {exercise} — all {cases} cases match",
    "check.failed": "✗ {message}",
    "check.fallback": "→ Using the reference implementation so the lesson continues.",
    "check.skipped": "○ {exercise} — skipped (not implemented yet): the lesson continues with the reference.",
    "check.is_reference": "↺ {exercise} — this is the reference from the last fallback, not your code: run your exercise "
                          "cell again, then this cell.",
    "check.raised": "your code raised {error}",
    "check.raised_hint": "{detail}. {advice}",
    "check.mutated": "your function changed its input in place on case '{case}' (e.g. `x -= ...` or `ids[i] = ...`); "
                     "build a new tensor or list instead",
    "check.untrainable": "your outputs are right, but {names} get no gradient, so training would never change them "
                         "(a .detach(), .data, torch.no_grad(), or a buffer where an nn.Parameter belongs?)",
    "check.on_case": "on case '{case}', {detail}",
    "check.wrong_count": "expected results for {expected} cases, got {got}",
    "check.not_implemented": "not implemented yet",
    "hint.line": "Hint {number}/{total} for {exercise}: {text}",
    "hint.more": "(run the hint cell again for the next one)",
    "hint.last": "That was the last hint for {exercise}; the solution notebook shows a whole answer.",
    "hint.button": "Show hint {number} of {total}",
    "hint.all_shown": "No more hints for {exercise}.",
    "hint.unknown": "no exercise called {name!r}; the exercises are: {known}",
    "hint.offline": "Hints for {exercise}: {total}, one at a time. Click the button (run this cell in JupyterLab), or "
                    "call hint({exercise!r}).",
    "stub": "{exercise}: your code here",
    "course.changed": "Lesson {lesson} changed in the course since you copied it (your copy: course {old}; now {new}). "
                      "`gptlab reset {lesson}` gives you the new version and keeps yours as a backup.",
    "parts.line": "⚙ {model}: yours: {mine}; the reference's: {reference}.",
    "parts.none": "none",
    "parts.why": "{name} ({why})",
    "parts.no_notebook": "no lesson {lesson} notebook in {folder}",
    "parts.no_cell": "no {exercise} cell in {file}",
    "parts.raised": "{file} raised {error}",
    "parts.skipped": "skipped in {file}",
    "parts.failed": "{file}: {message}",
    "parts.off": "✗ your {model} differs from the package's by {diff:.1e}; the first part whose output differs is {module} "
                 "({part}, {origin}).",
    "banner": "Difficulty {stars} · about {minutes} min · {points} point(s)",
    "setup.threads": "Another gptlab notebook is busy on this machine: this one computes with {threads} of {cores} CPU "
                     "threads, so two training cells share the cores instead of slowing each other many times over.",
}

# --- the surfaces outside the notebooks: `gptlab env`, the CLI, the grader's pages, the handout -----------------
MESSAGES |= {
    "env.ok": "OK",
    "env.fix": "FIX",
    "env.name.Python": "Python",
    "env.name.torch": "torch",
    "env.name.widgets": "widgets",
    "env.name.plotting": "plotting",
    "env.missing": "missing: {names}",
    "env.cannot_draw": "matplotlib cannot draw: {error}",
    "env.fix_all": "./run.sh course  (from the course folder: it creates or repairs .venv and reinstalls everything)",
    "env.fix.Python": "install Python {version} or newer, then {fix_all}",
    "env.fix.torch": "pip install torch=={version}, or {fix_all}",
    "env.fix.widgets": "pip install ipywidgets jupyterlab_widgets, then reload the JupyterLab page; or {fix_all}",
    "env.fix.plotting": "pip install matplotlib, or {fix_all}",
    "env.fix.plotting_broken": "pip install --force-reinstall matplotlib, or {fix_all}",
    "env.all_set": "All set.",
    "env.fix_rows": "Fix the rows marked {fix}, then restart the kernel.",
    "env.device.cuda": "CUDA GPU: {name} ({memory:.0f} GiB) — {how}",
    "env.device.mps": "Apple GPU (MPS) — {how}",
    "env.device.cpu_one": "CPU with {threads} thread — {how}",
    "env.device.cpu": "CPU with {threads} threads — {how}",
    "env.device.forced": "forced by GPTLAB_DEVICE={value}",
    "env.device.auto": "picked automatically: CUDA, then MPS, then CPU",
    "cli.error": "error: {error}",
    "cli.lessons_untouched": "lessons/ was left untouched. Fix the solution notebook, then run `gptlab lessons`.",
    "cli.out_of_date": "out of date: {line}",
    "cli.translation": "translation: {line}",
    "cli.fix_stale": "Fix: run `gptlab lessons` to regenerate lessons/ from solutions/ (never edit lessons/ by hand).",
    "cli.fix_translation": "Fix: translate the cells named above in solutions/<lang>/NN_topic.json (with the hash of the "
                           "English they translate; `python -m gptlab.course.authoring.translation_todo NN` prints "
                           "them), or take the lesson out of solutions/<lang>/manifest.json.",
    "cli.lessons_checked": "lessons/ is up to date with solutions/ ({total} notebooks, editions included).",
    "cli.wrote": "wrote {path}",
    "cli.removed": "removed {path}",
    "cli.lessons_written": "lessons/ is up to date ({total} notebooks, {changed} changed).",
    "cli.working_copy": "Your working copy is {work} ({copied} new lesson(s) copied; your edits there are never "
                        "overwritten).",
    "cli.no_lessons": "no lessons found in {folder}",
    "cli.no_lesson": "no lesson {number} in {folder} (there are: {known})",
    "cli.reset_question": "Replace {target} with a fresh copy of the lesson? Your version is kept as a backup.",
    "cli.yes_no": "[y/N]",
    "cli.nothing_changed": "Nothing changed.",
    "cli.restored": "Restored {path}.",
    "cli.restored_backup": "Restored {path}. Your previous version is kept at {backup}.",
    "cli.no_submissions": "error: give the SUBMISSIONS folder (or --gradescope DIR)",
    "cli.gradescope_written": "wrote the Gradescope autograder bundle {folder} (upload {archive})",
    "cli.graded": "graded {graded} learner(s), {resumed} taken from {state} (unchanged since)",
    "cli.grade_outputs": "gradebook: {gradebook}\nper exercise: {long_csv} and {json}\nfeedback: {feedback}/",
    "cli.tampering": "error: the installed gptlab files or the course's lessons changed while grading {learners}. "
                     "Reinstall the course, then re-run with --fresh; verdicts from this run may not be trusted.",
    "cli.check_nothing": "error: no notebooks to check in your working copy {work}; give the files to check "
                         "(gptlab check 03_self_attention.ipynb)",
    "cli.checking": "checking your working copy {work} ({count} notebooks)",
    "cli.no_such_file": "error: no such file: {files}",
    "cli.handout_done": "Hand out the folder {folder} (lessons without solutions, and HOWTO.md).",
    "grade.cell": "the {exercise} cell (cell {number} of {file})",
    "grade.crashed": "{exercise}: {reason} in {cell}{tail}",
    "grade.tail": "; last output: {line}",
    "grade.fatal": "the grader could not prepare the lesson (not your code): {reason}",
    "grade.startup": "the sandbox failed before running your code: {reason}{tail}",
    "grade.ended": "the sandbox {reason}",
    "grade.ended_early": "the sandbox ended early",
    "grade.unreadable": "{exercise}: the sandbox's result for {cell} could not be read ({error})",
    "grade.cell_error": "{exercise}: {cell} {message}{tip}",
    "grade.name_error_tip": " (only the course's set-up cell runs before an exercise cell: import what you need "
                            "inside the exercise cell)",
    "grade.is_reference": "{exercise}: `{name}` is the course's own implementation ({where}), not code written in "
                          "{cell}; write your own",
    "grade.calls_reference": "{exercise}: {cell} calls the course's reference implementation instead of computing "
                             "the result itself; write your own",
    "grade.other_cases": "{exercise}: the sandbox returned results for other cases than asked",
    "grade.cannot_compare": "{exercise}: returned a value the check cannot compare ({error})",
    "grade.not_attempted": "{exercise}: not attempted (the cell still raises NotImplementedError)",
    "grade.fresh_fail": "{exercise}: passes the lesson's cases but not fresh ones: {detail}",
    "grade.passed": "{exercise}: passed ({public} public and {fresh} fresh cases)",
    "grade.not_submitted": "lesson {lesson} ({title}) was not submitted",
    "grade.no_answer": "no answer found",
    "grade.no_notebooks": "no notebooks (*.ipynb) found",
    "grade.unreadable_file": "{file}: cannot be read ({error})",
    "grade.not_course": "{file}: not a notebook of this course (it has no metadata.gptlab.course.lesson)",
    "grade.unknown_lesson": "{file}: lesson {lesson!r} is not part of this course (known: {known})",
    "grade.two_notebooks": "{file} and {other} are both lesson {lesson}; grading the newer one, {file}",
    "grade.other_version": "{file}: made with course {made_with}, but the lessons handed out are course {expected}; "
                           "the verdicts use the handed-out checks",
    "grade.no_cell": "{file}: no exercise cell for {exercise!r} (was it deleted, or its cell metadata removed?)",
    "grade.not_code": "{file}: cell {index}, the exercise {exercise!r}, is not a code cell",
    "report.status.passed": "passed",
    "report.status.failed": "failed",
    "report.status.skipped": "not attempted",
    "report.status.missing": "not submitted",
    "report.status.error": "could not be graded",
    "report.title": "Feedback for {learner}",
    "report.score": "Score: {total} / {max_total} points",
    "report.passed_count": "({passed} of {count} exercises passed)",
    "report.note": "Note: {note}",
    "report.lesson": "Lesson {lesson} · {title}",
    "report.points_one": "{points}/{max_points} point",
    "report.points": "{points}/{max_points} points",
    "report.footer": "Checked by `gptlab grade`: your code ran on the lesson's cases and on fresh ones; run "
                     "`gptlab check` on your notebooks to see the same verdicts yourself.",
    "report.footer_html": "Checked by <code>gptlab grade</code>: your code ran on the lesson's cases and on fresh ones.",
    "report.col.lesson": "lesson",
    "report.col.exercise": "exercise",
    "report.col.result": "result",
    "report.col.points": "points",
    "report.col.feedback": "feedback",
    "report.summary": "{passed} of {count} exercises passed; {total}/{max_total} points.",
    "report.table_note": "note: {note}",
    "report.points_total": "{total} / {max_total} points.",
    "sandbox.syntax": "is not valid Python: {error} on line {line}",
    "sandbox.syntax_magic": "is not valid Python: {error} on line {line} (exercise cells must be plain Python: no % or "
                            "! lines)",
    "sandbox.raised_in_cell": "raised {error} while the cell itself ran",
    "sandbox.undefined": "does not define `{name}`",
    "sandbox.not_callable": "`{name}` is a {kind}, not a function or class",
    "sandbox.raised_when_called": "raised {error} when called",
    "sandbox.no_start": "the sandbox did not start within {seconds} s",
    "sandbox.timeout": "timed out after {seconds} s",
    "sandbox.batch_limit": "ran past the batch's time limit",
    "sandbox.exited": "made the sandbox exit with status {code} (os._exit(), or a crash in native code)",
}
# --- end of the surfaces block -------------------------------------------------------------------------------

LANGUAGES = ("en", "zh")
_chosen: str | None = None  # set by lesson_setup(lang=...); wins over $GPTLAB_LANG
_local = threading.local()  # speaking(lang): one thread's language (the grader judges each learner in their own)


def set_language(lang: str | None) -> None:
    """Choose the language of every message from now on in this process (None: back to $GPTLAB_LANG)."""
    global _chosen
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}; got {lang!r}")
    _chosen = lang


def language() -> str:
    """The learner's language: lesson_setup's lang, else $GPTLAB_LANG if set (e.g. "zh"), else English."""
    lang = getattr(_local, "lang", None) or _chosen or os.environ.get("GPTLAB_LANG", "en").strip().lower() or "en"
    lang = lang.split("_")[0].split("-")[0]  # zh_CN, zh-Hans -> zh
    return lang if lang in LANGUAGES else "en"


@contextlib.contextmanager
def speaking(lang: str | None):
    """Within the block, this thread's messages are in `lang` (None: as before); other threads are not affected."""
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}; got {lang!r}")
    before = getattr(_local, "lang", None)
    _local.lang = lang or before
    try:
        yield
    finally:
        _local.lang = before


def edition(metadata) -> str:
    """The edition a notebook records (metadata.gptlab.lang, written by `gptlab lessons`): "zh", else "en"."""
    meta = metadata.get("gptlab") if hasattr(metadata, "get") else None
    lang = meta.get("lang") if isinstance(meta, dict) else None
    return lang if lang in LANGUAGES else "en"


def table(lang: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """(MESSAGES, EXERCISES) of a language's table in gptlab/course/locales/."""
    import importlib

    if lang == "en":
        return MESSAGES, {}
    module = importlib.import_module(f"gptlab.course.locales.{lang}")
    return module.MESSAGES, module.EXERCISES


def digest(english: str) -> str:
    import hashlib

    return hashlib.sha256(english.encode("utf-8")).hexdigest()[:8]


def text(key: str, english: str | None = None, lang: str | None = None) -> str:
    """The text for `key` in the learner's language; `english` (or MESSAGES) when it has no translation. An
    exercise's text is used only if it was translated from the English it is given (else the English shows)."""
    lang = lang or language()
    if lang != "en":
        messages, exercise_table = table(lang)
        if key in messages:
            return messages[key]
        entry = exercise_table.get(key)
        if entry is not None and (english is None or entry[0] == digest(english)):
            return entry[1]
    return english if english is not None else MESSAGES[key]


def say(key: str, lang: str | None = None, **fields) -> str:
    """The message `key`, filled in: say("check.passed", exercise="softmax", cases=8)."""
    return text(key, lang=lang).format(**fields)


def wrap(message: str, width: int = WIDTH) -> str:
    """Wrap each line at word boundaries (never inside a word), keeping an indented line's indent on its
    continuation lines; code in `backticks` can still break at its spaces."""
    out = []
    for line in message.split("\n"):
        stripped = line.lstrip(" ")
        indent = " " * (len(line) - len(stripped))
        if stripped[:2] in ("✗ ", "✓ ", "○ ", "↺ ", "→ "):
            indent += "  "  # continuation lines start under the text, not under the mark
        out.append(textwrap.fill(line, width=width, subsequent_indent=indent, break_long_words=False,
                                 break_on_hyphens=False) if len(line) > width else line)
    return "\n".join(out)


def columns(text: str) -> int:
    """The columns a terminal gives the text: a Chinese character takes two (for aligned tables in both languages)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """The text, padded with spaces to `width` terminal columns."""
    return text + " " * (width - columns(text))
