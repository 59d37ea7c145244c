"""Gradebook CSV, long CSV/JSON, per-learner feedback (Markdown and HTML), and the learner's table.

Everything a learner controls (their name, their exceptions' messages, their values' reprs) is
escaped: HTML-escaped in HTML, backslash- and HTML-escaped in Markdown, and spreadsheet formulas
neutralised in CSV (a cell starting with = + - @ gets a leading apostrophe).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

from gptlab.files import atomic_write_text
from gptlab.course.grading.discover import Course, safe_name
from gptlab.course.grading.engine import LearnerReport
from gptlab.course.messages import columns, pad, say

SYMBOL = {"passed": "✓", "failed": "✗", "skipped": "○", "missing": "–", "error": "!"}
WORDS = {"passed": "passed", "failed": "failed", "skipped": "not attempted", "missing": "not submitted",
         "error": "could not be graded"}  # the English of report.status.<status>; pages use word(status, lang)
LONG_FIELDS = ["learner", "lesson", "exercise", "passed", "status", "points", "max_points", "hint", "mistake",
               "seconds", "cell", "file"]


def column(lesson: str, exercise: str) -> str:
    return f"{lesson}/{exercise}"


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def gradebook_csv(reports: list[LearnerReport], course: Course) -> str:
    """One row per learner, one column per exercise (points), then totals and notes."""
    columns = [column(lesson.lesson, e.id) for lesson, e in course.all_exercises()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", *columns, "total", "max_total", "passed", "notes"])
    for report in sorted(reports, key=lambda r: r.learner):
        points = {column(r.lesson, r.exercise): r.points for r in report.rows}
        passed = sum(r.passed for r in report.rows)
        notes = "; ".join(report.tampering + report.problems)
        writer.writerow([csv_cell(report.learner), *[points.get(c, 0) for c in columns], report.total,
                         report.max_total, passed, csv_cell(notes)])
    return buffer.getvalue()


def long_rows(reports: list[LearnerReport]) -> list[dict]:
    rows = []
    for report in sorted(reports, key=lambda r: r.learner):
        for r in report.rows:
            rows.append({"learner": r.learner, "lesson": r.lesson, "exercise": r.exercise, "passed": r.passed,
                         "status": r.status, "points": r.points, "max_points": r.max_points, "hint": r.hint,
                         "mistake": r.mistake, "seconds": r.seconds, "cell": r.cell, "file": r.file})
    return rows


def long_csv(reports: list[LearnerReport]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LONG_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in long_rows(reports):
        writer.writerow({k: csv_cell(v) if isinstance(v, str) else v for k, v in row.items()})
    return buffer.getvalue()


def long_json(reports: list[LearnerReport]) -> str:
    learners = [{"learner": r.learner, "total": r.total, "max_total": r.max_total, "problems": r.problems,
                 "tampering": r.tampering, "seconds": r.seconds} for r in sorted(reports, key=lambda r: r.learner)]
    return json.dumps({"learners": learners, "rows": long_rows(reports)}, indent=1, ensure_ascii=False) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")


def escape_markdown(text: str) -> str:
    """Text shown literally in Markdown (and in the HTML that Markdown allows): one line, nothing active."""
    text = " ".join(str(text).split())
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _attempted_first(rows: list) -> list:
    """The exercises a learner handed in first (their verdicts), then the ones not submitted, each in course order."""
    return [r for r in rows if r.status != "missing"] + [r for r in rows if r.status == "missing"]


def word(status: str, lang: str = "en") -> str:
    """A verdict in words: passed, failed, not attempted, not submitted, could not be graded."""
    return say(f"report.status.{status}", lang=lang)


def _points(r, lang: str) -> str:
    return say("report.points_one" if r.max_points == 1 else "report.points", lang=lang, points=r.points,
               max_points=r.max_points)


def feedback_markdown(report: LearnerReport, course: Course) -> str:
    """The learner's page, in the language of their submission (report.lang)."""
    lang = report.lang
    passed = sum(r.passed for r in report.rows)
    lines = [f"# {say('report.title', lang=lang, learner=escape_markdown(report.learner))}", "",
             f"**{say('report.score', lang=lang, total=report.total, max_total=report.max_total)}** "
             f"{say('report.passed_count', lang=lang, passed=passed, count=len(report.rows))}", ""]
    for note in report.tampering + report.problems:
        lines.append(f"- {say('report.note', lang=lang, note=escape_markdown(note))}")
    if report.tampering or report.problems:
        lines.append("")
    titles = {lesson.lesson: lesson.title_in(lang) for lesson in course.lessons.values()}
    for lesson in sorted({r.lesson for r in report.rows}):
        lines += [f"## {say('report.lesson', lang=lang, lesson=escape_markdown(lesson), title=escape_markdown(titles.get(lesson, '')))}", ""]
        for r in _attempted_first([r for r in report.rows if r.lesson == lesson]):
            lines.append(f"- {SYMBOL[r.status]} **{escape_markdown(r.exercise)}** — {word(r.status, lang)}, {_points(r, lang)}")
            if not r.passed:
                lines.append(f"  - {escape_markdown(r.hint)}")
        lines.append("")
    lines.append(say("report.footer", lang=lang))
    return "\n".join(lines) + "\n"


def feedback_html(report: LearnerReport, course: Course) -> str:
    e, lang = html.escape, report.lang
    titles = {lesson.lesson: lesson.title_in(lang) for lesson in course.lessons.values()}
    title = e(say("report.title", lang=lang, learner=report.learner))
    passed = sum(r.passed for r in report.rows)
    parts = ["<!DOCTYPE html>", f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
             f"<title>{title}</title>",
             "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}td,th{padding:.3em .6em;"
             "text-align:left;vertical-align:top}tr.passed td:first-child{color:green}"
             "tr.failed td:first-child,tr.error td:first-child{color:#b00}</style></head><body>",
             f"<h1>{title}</h1>",
             f"<p><strong>{e(say('report.score', lang=lang, total=report.total, max_total=report.max_total))}</strong> "
             f"{e(say('report.passed_count', lang=lang, passed=passed, count=len(report.rows)))}</p>"]
    notes = report.tampering + report.problems
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(say('report.note', lang=lang, note=n))}</li>" for n in notes) + "</ul>")
    heads = "".join(f"<th>{e(say(f'report.col.{c}', lang=lang))}</th>" for c in ("exercise", "result", "points", "feedback"))
    for lesson in sorted({r.lesson for r in report.rows}):
        parts.append(f"<h2>{e(say('report.lesson', lang=lang, lesson=lesson, title=titles.get(lesson, '')))}</h2>")
        parts.append(f"<table><tr><th></th>{heads}</tr>")
        for r in _attempted_first([r for r in report.rows if r.lesson == lesson]):
            hint = "" if r.passed else e(r.hint)
            parts.append(f'<tr class="{e(r.status)}"><td>{SYMBOL[r.status]}</td><td>{e(r.exercise)}</td>'
                         f"<td>{e(word(r.status, lang))}</td><td>{r.points}/{r.max_points}</td><td>{hint}</td></tr>")
        parts.append("</table>")
    parts.append(f"<p>{say('report.footer_html', lang=lang)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_outputs(reports: list[LearnerReport], course: Course, out: Path, feedback: Path | None) -> dict[str, Path]:
    """Write the gradebook, the long CSV and JSON beside it, and the feedback pages; returns what was written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = {"gradebook": out, "long_csv": out.with_name(out.stem + "_long.csv"),
             "json": out.with_name(out.stem + ".json")}
    atomic_write_text(paths["gradebook"], gradebook_csv(reports, course))
    atomic_write_text(paths["long_csv"], long_csv(reports))
    atomic_write_text(paths["json"], long_json(reports))
    if feedback is not None:
        feedback = Path(feedback)
        feedback.mkdir(parents=True, exist_ok=True)
        for report in reports:
            name = safe_name(report.learner)
            atomic_write_text(feedback / f"{name}.md", feedback_markdown(report, course))
            atomic_write_text(feedback / f"{name}.html", feedback_html(report, course))
        paths["feedback"] = feedback
    return paths


def learner_table(report: LearnerReport, course: Course) -> str:
    """What `gptlab check` prints: every exercise of the course, done, failed (with the hint) or not attempted."""
    lang = report.lang
    header = [""] + [say(f"report.col.{c}", lang=lang) for c in ("lesson", "exercise", "result", "points")]
    rows = [[SYMBOL[r.status], r.lesson, r.exercise, word(r.status, lang), f"{r.points}/{r.max_points}"]
            for r in report.rows]
    widths = [max(columns(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(pad(str(x), w) for x, w in zip(header, widths)).rstrip()]
    for r, cells in zip(report.rows, rows):
        lines.append("  ".join(pad(str(x), w) for x, w in zip(cells, widths)).rstrip())
        if r.status in ("failed", "error"):
            lines.append(f"      → {' '.join(r.hint.split())}")
    done = sum(r.passed for r in report.rows)
    lines.append(say("report.summary", lang=lang, passed=done, count=len(report.rows), total=report.total,
                     max_total=report.max_total))
    for note in report.problems:
        lines.append(say("report.table_note", lang=lang, note=note))
    return "\n".join(lines)

