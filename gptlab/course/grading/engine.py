"""Grade one learner: run their exercise cells in the sandbox, then judge here, one row per exercise.

The sandbox returns only outputs. The verdict comes from `gptlab.course.checks.core.judge`, run in this
process on the public cases (seed 0) and on fresh secret seeds. A run that hangs or dies is blamed on
the cell that was running; a fresh sandbox then runs the cells after it, so one bad cell costs only
its own points. When grading there is no reference fallback: a skipped exercise scores zero, and an
implementation that is (or calls) the course's reference scores zero, flagged as such.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gptlab.course.checks import resolve_check
from gptlab.course.checks.core import PUBLIC_SEED, judge
from gptlab.course.grading.discover import Answer, Course, Submission
from gptlab.course.grading.sandbox import Isolation, Limits, Sandbox, read_capped
from gptlab.course.grading.serialize import SerializationError, decode_outcomes
from gptlab.course.messages import MESSAGES, say, speaking

STATUSES = ("passed", "failed", "skipped", "missing", "error")
NAME_ERROR_TIP = MESSAGES["grade.name_error_tip"]  # the English; rows say it in the submission's language


@dataclass
class Row:
    learner: str
    lesson: str
    exercise: str
    status: str  # passed | failed | skipped (not attempted) | missing (no cell / lesson) | error (crash, timeout)
    points: int
    max_points: int
    hint: str
    mistake: str | None = None
    seconds: float | None = None
    cell: int | None = None
    file: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class LearnerReport:
    learner: str
    rows: list[Row]
    problems: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    fingerprint: str = ""
    seconds: float = 0.0
    lang: str = "en"  # the language of the rows' hints and of the feedback pages

    @property
    def total(self) -> int:
        return sum(r.points for r in self.rows)

    @property
    def max_total(self) -> int:
        return sum(r.max_points for r in self.rows)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "LearnerReport":
        rows = [Row(**row) for row in data["rows"]]
        return cls(data["learner"], rows, list(data.get("problems", [])), list(data.get("tampering", [])),
                   list(data.get("seeds", [])), data.get("fingerprint", ""), float(data.get("seconds", 0.0)),
                   str(data.get("lang", "en")))


def draw_seeds(secret: int) -> list[int]:
    """The public seed, then `secret` fresh ones nobody could have seen."""
    return [PUBLIC_SEED] + [1 + secrets.randbelow(2**31 - 2) for _ in range(secret)]


def grade_submission(sub: Submission, course: Course, *, limits: Limits = Limits(), secret_seeds: int = 2,
                     isolation: Isolation | None = None, seeds: list[int] | None = None) -> LearnerReport:
    """Every course exercise gets a row; nothing here raises for anything the learner did. The rows speak the
    submission's language (sub.lang), whatever the language of the process."""
    with speaking(sub.lang):
        return _grade(sub, course, limits, secret_seeds, isolation, seeds)


def _grade(sub: Submission, course: Course, limits: Limits, secret_seeds: int, isolation: Isolation | None,
           seeds: list[int] | None) -> LearnerReport:
    started = time.monotonic()
    seeds = seeds if seeds is not None else draw_seeds(secret_seeds)
    answers = [sub.answers[(lesson.lesson, e.id)] for lesson, e in course.all_exercises()
               if (lesson.lesson, e.id) in sub.answers]
    judged = _run_and_judge(sub.learner, answers, course, seeds, limits, isolation) if answers else {}
    rows = []
    for lesson, exercise in course.all_exercises():
        key = (lesson.lesson, exercise.id)
        if key in judged:
            rows.append(judged[key])
            continue
        if key in sub.missing:
            why = sub.missing[key]
        elif lesson.lesson not in sub.lessons_found:
            why = say("grade.not_submitted", lesson=lesson.lesson, title=lesson.title_in(sub.lang))
        else:
            why = say("grade.no_answer")
        rows.append(Row(sub.learner, lesson.lesson, exercise.id, "missing", 0, exercise.points, why))
    return LearnerReport(sub.learner, rows, list(sub.problems), seeds=seeds, seconds=round(time.monotonic() - started, 2),
                         lang=sub.lang)


def _run_and_judge(learner: str, answers: list[Answer], course: Course, seeds: list[int], limits: Limits,
                   isolation: Isolation | None) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    pending = list(range(len(answers)))
    while pending:
        lessons = _job_lessons(answers, pending, course)
        with Sandbox(lessons, seeds, limits, isolation) as box:
            run = box.run()
            for key in pending:
                if key in run.done:
                    rows[_key(answers[key])] = _judge_answer(learner, answers[key], run.done[key], seeds)
        finished = [k for k in pending if k in run.done]
        rest = [k for k in pending if k not in run.done]
        if not rest:
            break
        if run.running is not None and run.running in rest:
            answer = answers[run.running]
            rows[_key(answer)] = _row(learner, answer, "error", say("grade.crashed", exercise=answer.exercise.id,
                                                                    reason=_reason(run), cell=_cell(answer),
                                                                    tail=_tail_note(run)))
            after = [k for k in rest if k != run.running]
            if after == pending:  # no progress: give up rather than loop
                break
            pending = after
            continue
        # The run ended before any learner cell started, or after the last one: blame nobody's cell twice.
        reason = _startup_reason(run) if not finished else (say("grade.ended", reason=_reason(run)) if run.reason
                                                             else say("grade.ended_early"))
        for key in rest:
            rows[_key(answers[key])] = _row(learner, answers[key], "error", f"{answers[key].exercise.id}: {reason}")
        break
    return rows


def _startup_reason(run) -> str:
    if run.ended == "fatal":
        return say("grade.fatal", reason=run.reason)
    return say("grade.startup", reason=_reason(run), tail=_tail_note(run))


def _reason(run) -> str:
    """Why the sandbox run ended, in the learner's language where the sandbox gave the reason's id."""
    return _worded(run.reason_id, run.reason_fields, run.reason)


def _worded(key, fields, english: str) -> str:
    """A sandbox's message, said through the message table: only ids of the table, fields as plain values
    (what the sandbox returns is the learner's process's output: never trusted beyond that)."""
    if not (isinstance(key, str) and key.startswith("sandbox.") and key in MESSAGES and isinstance(fields, dict)):
        return english
    try:
        return say(key, **{str(k): str(v)[:600] for k, v in fields.items()})
    except (KeyError, IndexError, ValueError):
        return english


def _tail_note(run) -> str:
    last = [line for line in run.stderr_tail.strip().splitlines() if line.strip()][-1:] if run.stderr_tail else []
    return say("grade.tail", line=last[0][:200]) if last and run.ended != "timeout" else ""


def _key(answer: Answer) -> tuple[str, str]:
    return (answer.lesson, answer.exercise.id)


def _job_lessons(answers: list[Answer], keys: list[int], course: Course) -> list[dict]:
    by_lesson: dict[str, list[int]] = {}
    for key in keys:
        by_lesson.setdefault(answers[key].lesson, []).append(key)
    lessons = []
    for lesson_id, lesson_keys in by_lesson.items():
        lesson = course.lessons[lesson_id]
        lessons.append({
            "lesson": lesson_id,
            "setup_source": lesson.setup_source,  # the course's set-up cell, never the learner's copy
            "setup_filename": f"<course {lesson.path.name} cell {lesson.setup_index} (set-up)>",
            "exercises": [{"key": k, "id": answers[k].exercise.id, "name": answers[k].exercise.name,
                           "check": answers[k].exercise.check, "source": answers[k].source,
                           "filename": f"<submission {answers[k].file} cell {answers[k].cell_index + 1}>"}
                          for k in lesson_keys]})
    return lessons


def _cell(answer: Answer) -> str:
    """The exercise's cell as a learner finds it in JupyterLab: by the exercise's name, and counted from 1."""
    return say("grade.cell", exercise=answer.exercise.id, number=answer.cell_index + 1, file=answer.file)


def _row(learner: str, answer: Answer, status: str, hint: str, points: int = 0, mistake: str | None = None,
         seconds: float | None = None) -> Row:
    return Row(learner, answer.lesson, answer.exercise.id, status, points, answer.exercise.points, hint, mistake,
               seconds, answer.cell_index + 1, answer.file)


def _judge_answer(learner: str, answer: Answer, path: Path, seeds: list[int]) -> Row:
    """Read what the sandbox returned for one exercise and judge it with trusted code only."""
    name, cell = answer.exercise.id, _cell(answer)
    try:
        data = json.loads(read_capped(path, 64 * 2**20) or "null")
        if not isinstance(data, dict):
            raise SerializationError("no result")
        blob = read_capped(path.with_suffix(".safetensors"), 1 << 40, binary=True)
        from safetensors.torch import load

        tensors = load(blob) if blob else {}
    except Exception as error:
        return _row(learner, answer, "error", say("grade.unreadable", exercise=name, cell=cell,
                                                  error=f"{type(error).__name__}: {str(error)[:200]}"))
    seconds = data.get("seconds") if isinstance(data.get("seconds"), (int, float)) else None
    if data.get("status") != "ran":
        said = data.get("say") if isinstance(data.get("say"), list) and len(data["say"]) == 2 else ("", {})
        message = _worded(said[0], said[1], str(data.get("message", "failed")))[:600]
        tip = say("grade.name_error_tip") if "NameError" in message else ""
        return _row(learner, answer, "error", say("grade.cell_error", exercise=name, cell=cell, message=message, tip=tip),
                    seconds=seconds)
    origin = data.get("origin") if isinstance(data.get("origin"), dict) else {}
    if origin.get("reference") is True or origin.get("own") is False and origin.get("reference") is not False:
        return _row(learner, answer, "failed", say("grade.is_reference", exercise=name, name=answer.exercise.name,
                                                   where=str(origin.get('where', '?'))[:120], cell=cell),
                    mistake="uses-reference", seconds=seconds)
    if data.get("calls_reference") is True:
        return _row(learner, answer, "failed", say("grade.calls_reference", exercise=name, cell=cell),
                    mistake="uses-reference", seconds=seconds)
    runs = data.get("runs")
    if not isinstance(runs, list) or [r.get("seed") if isinstance(r, dict) else None for r in runs] != seeds:
        return _row(learner, answer, "error", say("grade.other_cases", exercise=name), seconds=seconds)
    spec = resolve_check(answer.exercise.check).spec  # the grader's own copy: a notebook cannot patch it
    results = []
    for seed, run in zip(seeds, runs):
        try:
            outcomes = decode_outcomes(run.get("outcomes"), tensors)
            results.append(judge(spec, outcomes, seed))
        except Exception as error:  # a value the judge cannot compare: a failure, not a crash of the batch
            return _row(learner, answer, "failed", say("grade.cannot_compare", exercise=name,
                                                       error=f"{type(error).__name__}: {str(error)[:200]}"),
                        seconds=seconds)
    public, secret = results[0], results[1:]
    if public.status == "skipped":
        return _row(learner, answer, "skipped", say("grade.not_attempted", exercise=name), seconds=seconds)
    if not public.passed:
        return _row(learner, answer, "failed", public.message, mistake=public.mistake, seconds=seconds)
    failing = next((r for r in secret if not r.passed), None)
    if failing is not None:
        detail = failing.message.removeprefix(f"{name}: ")
        return _row(learner, answer, "failed", say("grade.fresh_fail", exercise=name, detail=detail),
                    mistake=failing.mistake or "fails-secret-cases", seconds=seconds)
    return _row(learner, answer, "passed", say("grade.passed", exercise=name, public=public.num_cases,
                                               fresh=sum(r.num_cases for r in secret)),
                points=answer.exercise.points, seconds=seconds)
