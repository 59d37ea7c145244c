"""The batch: every learner of a submissions folder, in parallel, resumable, with a progress bar.

Each learner's report is written atomically to `<state>/<learner>.json` as soon as it is graded, with
a fingerprint of their files and of the course; a re-run skips learners whose files and course did
not change since. Nothing a submission does stops the batch. A change to the installed gptlab files
or the course's lessons while a submission ran is flagged on that learner (and in `tampering`): the
CLI then exits with status 3 and asks for a reinstall, since later verdicts may be doubtful.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from gptlab.files import atomic_write_text
from gptlab.course.grading import integrity
from gptlab.course.grading.discover import Course, find_submissions, fingerprint, read_submission, safe_name
from gptlab.course.grading.engine import LearnerReport, Row, grade_submission
from gptlab.course.grading.sandbox import Isolation, Limits

STATE_VERSION = 1


class TamperingDetected(RuntimeError):
    """The installed gptlab files or the course's lessons changed while submissions ran."""


@dataclass
class BatchResult:
    reports: list[LearnerReport]
    graded: list[str] = field(default_factory=list)  # graded in this run
    resumed: list[str] = field(default_factory=list)  # taken from the state folder
    tampering: list[str] = field(default_factory=list)


def course_digest(course: Course) -> str:
    digest = hashlib.sha256()
    for lesson in course.lessons.values():
        digest.update(lesson.path.read_bytes())
    return digest.hexdigest()


def default_state_dir(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".state")


def grade_folder(submissions: Path, course: Course, state_dir: Path, *, jobs: int = 1, limits: Limits = Limits(),
                 secret_seeds: int = 2, fresh: bool = False, progress: bool = False,
                 isolation: Isolation | None = None, lang: str | None = None) -> BatchResult:
    """Grade every learner under `submissions`; reports are saved in `state_dir` one by one. Each report speaks
    its submission's edition (metadata.gptlab.lang), or `lang` for everyone."""
    learners = find_submissions(submissions)
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    course_hash = course_digest(course)
    result = BatchResult([])
    todo = []
    for learner, files in learners.items():
        print_ = fingerprint(files)
        saved = None if fresh else _load_state(state_dir / f"{safe_name(learner)}.json", learner, print_, course_hash,
                                               lang)
        if saved is not None:
            result.reports.append(saved)
            result.resumed.append(learner)
        else:
            todo.append((learner, files, print_))
    watched = [integrity.package_root(), *{lesson.path.parent for lesson in course.lessons.values()}]
    baseline = integrity.snapshot(*watched)
    lock = threading.Lock()

    def one(learner: str, files: list[Path], print_: str) -> LearnerReport:
        try:
            sub = read_submission(learner, files, course, lang)
            report = grade_submission(sub, course, limits=limits, secret_seeds=secret_seeds, isolation=isolation)
        except Exception as error:  # a grader bug must not sink the batch: this learner gets a clear row
            report = _internal_error(learner, course, error)
        report.fingerprint = print_
        changed = integrity.changes(baseline, integrity.snapshot(*watched))
        if changed:
            report.tampering = [f"TAMPERING: course files changed while this submission ran: {', '.join(changed[:5])}"]
        with lock:
            _save_state(state_dir / f"{safe_name(learner)}.json", report, course_hash)
        return report

    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc="grading", unit="learner", disable=not progress or not todo, file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, *item): item[0] for item in todo}
            for future in as_completed(futures):
                report = future.result()
                result.reports.append(report)
                result.graded.append(report.learner)
                bar.update(1)
                if report.tampering:  # flagged, not cancelled: the teacher decides (the CLI exits 3)
                    result.tampering.append(report.learner)
    finally:
        bar.close()
    result.reports.sort(key=lambda r: r.learner)
    return result


def _internal_error(learner: str, course: Course, error: Exception) -> LearnerReport:
    detail = traceback.format_exception_only(type(error), error)[-1].strip()
    rows = [Row(learner, lesson.lesson, e.id, "error", 0, e.points, f"internal grader error: {detail}")
            for lesson, e in course.all_exercises()]
    return LearnerReport(learner, rows, [f"internal grader error (please report it): {detail}"])


def _load_state(path: Path, learner: str, print_: str, course_hash: str, lang: str | None = None) -> LearnerReport | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if (data.get("version") != STATE_VERSION or data.get("course") != course_hash
                or data["report"].get("fingerprint") != print_ or data["report"].get("learner") != learner
                or lang is not None and data["report"].get("lang", "en") != lang):  # asked in another language
            return None
        return LearnerReport.from_json(data["report"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_state(path: Path, report: LearnerReport, course_hash: str) -> None:
    atomic_write_text(path, json.dumps({"version": STATE_VERSION, "course": course_hash,
                                        "report": report.to_json()}, ensure_ascii=False) + "\n")
