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

SYMBOL = {"passed": "✓", "failed": "✗", "skipped": "○", "missing": "–", "error": "!"}
WORDS = {"passed": "passed", "failed": "failed", "skipped": "not attempted", "missing": "not submitted",
         "error": "could not be graded"}
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


def feedback_markdown(report: LearnerReport, course: Course) -> str:
    lines = [f"# Feedback for {escape_markdown(report.learner)}", "",
             f"**Score: {report.total} / {report.max_total} points** "
             f"({sum(r.passed for r in report.rows)} of {len(report.rows)} exercises passed)", ""]
    for note in report.tampering + report.problems:
        lines.append(f"- Note: {escape_markdown(note)}")
    if report.tampering or report.problems:
        lines.append("")
    titles = {lesson.lesson: lesson.title for lesson in course.lessons.values()}
    for lesson in sorted({r.lesson for r in report.rows}):
        lines += [f"## Lesson {escape_markdown(lesson)} · {escape_markdown(titles.get(lesson, ''))}", ""]
        for r in _attempted_first([r for r in report.rows if r.lesson == lesson]):
            lines.append(f"- {SYMBOL[r.status]} **{escape_markdown(r.exercise)}** — {WORDS[r.status]}, "
                         f"{r.points}/{r.max_points} point{'s' if r.max_points != 1 else ''}")
            if not r.passed:
                lines.append(f"  - {escape_markdown(r.hint)}")
        lines.append("")
    lines.append("Checked by `gptlab grade`: your code ran on the lesson's cases and on fresh ones; run "
                 "`gptlab check` on your notebooks to see the same verdicts yourself.")
    return "\n".join(lines) + "\n"


def feedback_html(report: LearnerReport, course: Course) -> str:
    e = html.escape
    titles = {lesson.lesson: lesson.title for lesson in course.lessons.values()}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Feedback for {e(report.learner)}</title>",
             "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}td,th{padding:.3em .6em;"
             "text-align:left;vertical-align:top}tr.passed td:first-child{color:green}"
             "tr.failed td:first-child,tr.error td:first-child{color:#b00}</style></head><body>",
             f"<h1>Feedback for {e(report.learner)}</h1>",
             f"<p><strong>Score: {report.total} / {report.max_total} points</strong> "
             f"({sum(r.passed for r in report.rows)} of {len(report.rows)} exercises passed)</p>"]
    notes = report.tampering + report.problems
    if notes:
        parts.append("<ul>" + "".join(f"<li>Note: {e(n)}</li>" for n in notes) + "</ul>")
    for lesson in sorted({r.lesson for r in report.rows}):
        parts.append(f"<h2>Lesson {e(lesson)} · {e(titles.get(lesson, ''))}</h2>")
        parts.append("<table><tr><th></th><th>exercise</th><th>result</th><th>points</th><th>feedback</th></tr>")
        for r in _attempted_first([r for r in report.rows if r.lesson == lesson]):
            hint = "" if r.passed else e(r.hint)
            parts.append(f'<tr class="{e(r.status)}"><td>{SYMBOL[r.status]}</td><td>{e(r.exercise)}</td>'
                         f"<td>{WORDS[r.status]}</td><td>{r.points}/{r.max_points}</td><td>{hint}</td></tr>")
        parts.append("</table>")
    parts.append("<p>Checked by <code>gptlab grade</code>: your code ran on the lesson's cases and on fresh ones.</p>")
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
    header = ["", "lesson", "exercise", "result", "points"]
    rows = [[SYMBOL[r.status], r.lesson, r.exercise, WORDS[r.status], f"{r.points}/{r.max_points}"] for r in report.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths)).rstrip()]
    for r, cells in zip(report.rows, rows):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(cells, widths)).rstrip())
        if r.status in ("failed", "error"):
            lines.append(f"      → {' '.join(r.hint.split())}")
    done = sum(r.passed for r in report.rows)
    lines.append(f"{done} of {len(report.rows)} exercises passed; {report.total}/{report.max_total} points.")
    for note in report.problems:
        lines.append(f"note: {note}")
    return "\n".join(lines)
