"""The `gptlab` command: course, reset, lessons, env."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def cmd_lessons(args) -> int:
    from gptlab.course.authoring import NotebookError, build_all, out_of_date, write_all
    from gptlab.course.authoring.editions import LANGUAGES, build_edition, summary
    from gptlab.course.messages import say

    solutions, lessons = Path(args.solutions), Path(args.lessons)
    trees = [(lessons, "solutions/")]  # (folder, what it is made from)
    try:
        built = {lessons: build_all(solutions, lessons)}
        failures, notes = [], []
        for lang in LANGUAGES:
            edition, reports, problems = build_edition(solutions, lessons, lang)
            failures += problems
            notes += summary(reports, lang)
            for folder in (lessons / lang, solutions / lang):
                built[folder] = {path: text for path, text in edition.items() if path.parent == folder}
                trees.append((folder, f"solutions/ and solutions/{lang}/*.json"))
    except NotebookError as error:
        print(say("cli.error", error=error), file=sys.stderr)
        print(say("cli.lessons_untouched"), file=sys.stderr)
        return 2
    total = sum(len(files) for files in built.values())
    if args.check:
        for line in notes:
            print(line)
        stale = [line for folder, _ in trees for line in out_of_date(built[folder], folder)]
        for line in stale:
            print(say("cli.out_of_date", line=line), file=sys.stderr)
        for line in failures:
            print(say("cli.translation", line=line), file=sys.stderr)
        if stale:
            print(say("cli.fix_stale"), file=sys.stderr)
        if failures:
            print(say("cli.fix_translation"), file=sys.stderr)
        if stale or failures:
            return 1
        print(say("cli.lessons_checked", total=total))
        return 0
    changed = [path for folder, _ in trees if built[folder] or folder.is_dir() for path in write_all(built[folder], folder)]
    for path in changed:
        print(say("cli.wrote" if path.exists() else "cli.removed", path=path))
    for line in failures:
        print(say("cli.translation", line=line), file=sys.stderr)
    print(say("cli.lessons_written", total=total, changed=len(changed)))
    return 0


def cmd_course(args, extra: list[str]) -> int:
    from gptlab.course import default_dirs, jupyter_command, sync_working_copy
    from gptlab.course.messages import say, wrap
    from gptlab.course.workdir import changed_lessons

    if args.lang or args.edition:
        os.environ["GPTLAB_LANG"] = args.lang or args.edition  # JupyterLab's kernels inherit it: checks speak it
    lessons, work = default_dirs()
    work = Path(args.dir) if args.dir else work
    copied = sync_working_copy(lessons, work)
    print(say("cli.working_copy", work=work, copied=len(copied)))
    for lesson, old, new in changed_lessons(lessons, work):
        print(wrap(say("course.changed", lesson=lesson, old=old, new=new)))
    command = jupyter_command(work, extra)
    sys.stdout.flush()
    os.execv(command[0], command)  # hand the terminal to JupyterLab (Ctrl-C stops it)


def cmd_reset(args) -> int:
    from gptlab.course import default_dirs, find_lesson, reset_lesson
    from gptlab.course.messages import say

    lessons, work = default_dirs()
    work = Path(args.dir) if args.dir else work

    def confirm(question: str) -> bool:
        if args.yes:
            return True
        try:
            return input(f"{question} {say('cli.yes_no')} ").strip().lower() in {"y", "yes", "是"}
        except EOFError:
            return False

    try:
        name = find_lesson(lessons, args.lesson).name
        existed = (work / name).exists()
        backup = reset_lesson(lessons, work, args.lesson, confirm)
    except FileNotFoundError as error:
        print(say("cli.error", error=error), file=sys.stderr)
        return 2
    if existed and backup is None:
        print(say("cli.nothing_changed"))
        return 1
    print(say("cli.restored_backup", path=work / name, backup=backup) if backup else say("cli.restored", path=work / name))
    return 0


def cmd_env(args) -> int:
    from gptlab.course.envcheck import describe_device, environment_report, format_report
    from gptlab.device import pick_device

    rows = environment_report()
    print(format_report(rows))
    print(describe_device(pick_device()))
    return 0 if all(r.ok for r in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    from gptlab.course import course_root

    root = course_root()
    parser = argparse.ArgumentParser(prog="gptlab", description="Build a GPT from scratch: the course's command.")
    sub = parser.add_subparsers(dest="command", required=True)

    course = sub.add_parser("course", help="copy new lessons into your working copy and open it in JupyterLab",
                            description="Extra arguments go to JupyterLab (e.g. --no-browser --port 8890).")
    course.add_argument("--dir", help="your working copy (default: my-lessons/ in the course folder, or $GPTLAB_WORKDIR)")
    course.add_argument("edition", nargs="?", choices=["en", "zh"], help="the edition: zh opens the Chinese working "
                        "copy, my-lessons-zh/ (same as --lang zh or GPTLAB_LANG=zh)")
    course.add_argument("--lang", choices=["en", "zh"], help="the edition (default: $GPTLAB_LANG, else en)")

    reset = sub.add_parser("reset", help="restore one lesson in your working copy (asks first; keeps a backup)")
    reset.add_argument("lesson", help="the lesson's number, e.g. 00")
    reset.add_argument("--dir", help="your working copy")
    reset.add_argument("--yes", action="store_true", help="do not ask")

    lessons = sub.add_parser("lessons", help="regenerate lessons/ from solutions/ (authors only)")
    lessons.add_argument("--check", action="store_true", help="exit non-zero if lessons/ is out of date")
    lessons.add_argument("--solutions", default=str(root / "solutions"))
    lessons.add_argument("--lessons", default=str(root / "lessons"))

    sub.add_parser("env", help="check this machine: Python, torch, widgets, plotting, hardware")

    for name, func in [("course", cmd_course), ("reset", cmd_reset), ("lessons", cmd_lessons), ("env", cmd_env)]:
        sub.choices[name].set_defaults(func=func)
    _add_optional_subcommands(sub)
    if "train" in sub.choices:  # the library's command cannot import the course's tables: hand it their say()
        sub.choices["train"].set_defaults(say=_say, describe_device=_describe_device)
    if "serve" in sub.choices:
        sub.choices["serve"].set_defaults(say=_say)
    return parser


def _say(key: str, **fields) -> str:
    """The course's say(): `gptlab train`'s and `gptlab serve`'s lines in the learner's language ($GPTLAB_LANG)."""
    from gptlab.course.messages import say

    return say(key, **fields)


def _describe_device(device) -> str:
    from gptlab.course.envcheck import describe_device

    return describe_device(device)


def _add_optional_subcommands(sub) -> None:
    """Subcommands that live beside the code they drive: each module adds its own (sets `func`)."""
    import importlib

    for module in ["gptlab.course.grading.cli", "gptlab.training.cli", "gptlab.serve.cli", "gptlab.topics.chat_cli"]:
        try:
            importlib.import_module(module).add_subcommands(sub)
        except ModuleNotFoundError as error:
            if error.name != module and not module.startswith(str(error.name)):
                raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "course":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "course":
        return cmd_course(args, extra)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
