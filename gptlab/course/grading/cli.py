"""`gptlab grade`, `gptlab check` and `gptlab handout`: the only part of grading that prints."""

from __future__ import annotations

import sys
from pathlib import Path

from gptlab.course.messages import say


def _course_dirs():
    from gptlab.course import course_root

    root = course_root()
    return root / "lessons", root / "solutions"


def _limits(args):
    from gptlab.course.grading.sandbox import Limits

    return Limits(timeout=args.timeout, memory_mb=args.memory)


def cmd_grade(args) -> int:
    from gptlab.course.authoring.build import NotebookError
    from gptlab.course.grading.batch import default_state_dir, grade_folder
    from gptlab.course.grading.discover import GradingError, load_course
    from gptlab.course.grading.report import write_outputs
    from gptlab.course.grading.sandbox import probe_isolation

    lessons = Path(args.lessons)
    if args.gradescope:
        from gptlab.course.grading.gradescope import write_bundle

        try:
            archive = write_bundle(Path(args.gradescope), lessons, args.lesson)
        except (GradingError, NotebookError, ValueError) as error:
            print(say("cli.error", error=error), file=sys.stderr)
            return 2
        print(say("cli.gradescope_written", folder=args.gradescope, archive=archive))
        return 0
    if not args.submissions:
        print(say("cli.no_submissions"), file=sys.stderr)
        return 2
    try:
        course = load_course(lessons)
        if args.lesson:
            course = course.only(args.lesson)  # what was assigned: totals and feedback cover these lessons only
    except (GradingError, NotebookError, ValueError) as error:
        print(say("cli.error", error=error), file=sys.stderr)
        return 2
    out = Path(args.out)
    feedback = Path(args.feedback) if args.feedback else out.parent / "feedback"
    state = Path(args.state) if args.state else default_state_dir(out)
    print(probe_isolation().describe(), file=sys.stderr)
    try:
        result = grade_folder(Path(args.submissions), course, state, jobs=args.jobs, limits=_limits(args),
                              secret_seeds=args.secret_seeds, fresh=args.fresh, progress=not args.no_progress,
                              lang=args.lang)
    except GradingError as error:
        print(say("cli.error", error=error), file=sys.stderr)
        return 2
    paths = write_outputs(result.reports, course, out, feedback)
    print(say("cli.graded", graded=len(result.graded), resumed=len(result.resumed), state=state))
    print(say("cli.grade_outputs", gradebook=paths["gradebook"], long_csv=paths["long_csv"], json=paths["json"],
              feedback=feedback))
    if result.tampering:
        print(say("cli.tampering", learners=", ".join(result.tampering)), file=sys.stderr)
        return 3
    return 0


def cmd_check(args) -> int:
    """Check the given notebooks (only their lessons count), or, with none given, the learner's working copy.
    `--lang` (else $GPTLAB_LANG, else the notebooks' edition) is the language of all it prints."""
    from gptlab.course.messages import speaking

    with speaking(args.lang):
        return _check(args)


def _check(args) -> int:
    from gptlab.course.authoring.build import NotebookError
    from gptlab.course.grading.discover import GradingError, load_course, read_submission
    from gptlab.course.grading.engine import grade_submission
    from gptlab.course.grading.report import learner_table

    try:
        course = load_course(Path(args.lessons))
    except (GradingError, NotebookError) as error:
        print(say("cli.error", error=error), file=sys.stderr)
        return 2
    if args.notebooks:
        files = [Path(p) for p in args.notebooks]
    else:
        from gptlab.course.workdir import default_dirs

        work = default_dirs()[1]
        files = sorted(work.glob("*.ipynb")) if work.is_dir() else []
        if not files:
            print(say("cli.check_nothing", work=work), file=sys.stderr)
            return 2
        print(say("cli.checking", work=work, count=len(files)))
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        print(say("cli.no_such_file", files=", ".join(missing)), file=sys.stderr)
        return 2
    submission = read_submission("you", files, course, args.lang or _chosen_language())
    course = course.only(submission.lessons_found) if submission.lessons_found else course
    report = grade_submission(submission, course, limits=_limits(args), secret_seeds=args.secret_seeds)
    print(learner_table(report, course))
    return 0 if not any(r.status in ("failed", "error") for r in report.rows) else 1


def cmd_handout(args) -> int:
    from gptlab.course.authoring.build import NotebookError
    from gptlab.course.grading.handout import write_handout

    solutions = None if args.no_rebuild else Path(args.solutions)
    try:
        written = write_handout(Path(args.dir), Path(args.lessons), solutions, wheel=args.wheel, lang=args.lang)
    except (NotebookError, ValueError, FileNotFoundError) as error:
        print(say("cli.error", error=error), file=sys.stderr)
        return 2
    for path in written:
        print(say("cli.wrote", path=path))
    print(say("cli.handout_done", folder=args.dir))
    return 0


def _chosen_language() -> str | None:
    """$GPTLAB_LANG if it is set (a learner's `gptlab check` answers in it), else None: the notebooks' edition."""
    import os

    from gptlab.course.messages import language

    return language() if os.environ.get("GPTLAB_LANG") else None


def add_subcommands(sub) -> None:
    lessons, solutions = _course_dirs()

    def sandbox_options(parser, timeout: float) -> None:
        parser.add_argument("--timeout", type=float, default=timeout, help=f"seconds per exercise cell (default {timeout:g})")
        parser.add_argument("--memory", type=int, default=2048, help="memory limit per sandbox in MB (default 2048)")
        parser.add_argument("--secret-seeds", type=int, default=2, help="fresh random case sets per exercise (default 2)")
        parser.add_argument("--lessons", default=str(lessons), help="the course's lessons/ folder")

    grade = sub.add_parser("grade", help="grade a folder of submissions in bulk (teachers)",
                           description="SUBMISSIONS holds one folder per learner, or files named <learner>__<anything>.ipynb.")
    grade.add_argument("submissions", nargs="?", help="the folder of submissions")
    grade.add_argument("--out", default="grades.csv", help="the gradebook CSV (default grades.csv); "
                       "<out>_long.csv, <out>.json and <out>.state/ are written beside it")
    grade.add_argument("--feedback", help="folder for one Markdown and one HTML page per learner (default: feedback/ beside --out)")
    grade.add_argument("--jobs", type=int, default=1, help="learners graded in parallel (default 1)")
    grade.add_argument("--state", help="where per-learner results are kept for resuming (default <out>.state/)")
    grade.add_argument("--fresh", action="store_true", help="regrade everyone, ignoring saved results")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--gradescope", metavar="DIR", help="write a Gradescope autograder bundle to DIR instead")
    grade.add_argument("--lesson", action="append", help="grade only the lessons assigned: --lesson 00 --lesson 01 "
                       "(totals, max_total and the feedback cover them alone; also for --gradescope)")
    grade.add_argument("--lang", choices=["en", "zh"], help="the language of the feedback pages and of every hint "
                       "(default: each submission's edition, from its notebooks' metadata.gptlab.lang)")
    sandbox_options(grade, 60.0)
    grade.set_defaults(func=cmd_grade)

    check = sub.add_parser("check", help="check your own notebooks as the grader will (learners)")
    check.add_argument("notebooks", nargs="*", help="your lesson notebooks (default: every lesson in your working copy)")
    check.add_argument("--lang", choices=["en", "zh"], help="the language of the verdicts (default: $GPTLAB_LANG, "
                       "else the notebooks' edition)")
    sandbox_options(check, 60.0)
    check.set_defaults(func=cmd_check)

    handout = sub.add_parser("handout", help="write what learners receive: fresh lessons and a HOWTO")
    handout.add_argument("dir", help="the folder to write")
    handout.add_argument("--lessons", default=str(lessons), help="the English lessons/ (an edition's come from "
                         "lessons/<lang>/ inside it)")
    handout.add_argument("--lang", choices=["en", "zh"], default="en", help="the edition to hand out: zh takes "
                         "lessons/zh/ (the English lessons stand in for those not translated yet) and a Chinese HOWTO")
    handout.add_argument("--solutions", default=str(solutions), help="rebuild lessons from here (default solutions/)")
    handout.add_argument("--no-rebuild", action="store_true", help="copy lessons/ as it is instead of rebuilding")
    handout.add_argument("--wheel", action="store_true", help="also put the gptlab package (a .whl) in the handout, "
                         "for learners who have only the handout")
    handout.set_defaults(func=cmd_handout)
