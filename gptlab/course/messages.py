"""Every sentence a learner reads from the course machinery, keyed by id: verdicts, notices, hints, mistakes.

    say("check.passed", exercise="softmax", cases=8)   -> "✓ softmax — all 8 cases match"
    lines("check.passed", ...)                          -> the same, wrapped at word boundaries for a notebook

The fixed sentences are in MESSAGES below. The exercises' own words (each catalog mistake's hint, each
progressive hint) are written next to the code they describe, in gptlab/course/checks/<topic>.py, and are
found here under ids of their own: "<exercise>.mistake.<name>" and "<exercise>.hint.<n>" (see
gptlab.course.checks.exercise_messages). Each other language has one table, gptlab/course/locales/<lang>.py:
MESSAGES with the same ids as MESSAGES here (tests/test_messages.py checks that every id has both, with the same
{fields}), and EXERCISES, "<exercise>.mistake.<name>" / "<exercise>.hint.<n>" -> (hash of the English, text), so a
hint whose English changed is stale (`gptlab lessons --check` names it for every lesson declared translated). A
missing entry falls back to English.

The language: lesson_setup(..., lang="zh") (the Chinese edition's set-up cell), else $GPTLAB_LANG, else English.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import os
import textwrap

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

LANGUAGES = ("en", "zh")
_chosen: str | None = None  # set by lesson_setup(lang=...); wins over $GPTLAB_LANG


def set_language(lang: str | None) -> None:
    """Choose the language of every message from now on in this process (None: back to $GPTLAB_LANG)."""
    global _chosen
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}; got {lang!r}")
    _chosen = lang


def language() -> str:
    """The learner's language: lesson_setup's lang, else $GPTLAB_LANG if set (e.g. "zh"), else English."""
    lang = _chosen or os.environ.get("GPTLAB_LANG", "en").strip().lower() or "en"
    lang = lang.split("_")[0].split("-")[0]  # zh_CN, zh-Hans -> zh
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
