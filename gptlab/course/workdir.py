"""The learner's own copy of the lessons, and the command that opens it in JupyterLab.

`lessons/` is generated and may change on `git pull`; the learner works in `my-lessons/` (git-ignored).
A lesson is copied there once and never overwritten; `gptlab reset NN` restores one, after asking,
and keeps the old file as a backup so nothing is lost.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import gptlab
from gptlab.course.messages import say

WORKDIR_NAME = "my-lessons"


def course_root() -> Path:
    """The checkout the package was installed from (editable install), else the current directory."""
    here = Path(gptlab.__file__).resolve().parent.parent
    return here if (here / "lessons").is_dir() else Path.cwd()


def default_dirs() -> tuple[Path, Path]:
    """(the lessons, the learner's working copy). With $GPTLAB_LANG=zh: lessons/zh/ and my-lessons-zh/."""
    from gptlab.course.messages import language

    root, lang = course_root(), language()
    lessons = root / "lessons" if lang == "en" else root / "lessons" / lang
    name = WORKDIR_NAME if lang == "en" else f"{WORKDIR_NAME}-{lang}"
    work = Path(os.environ.get("GPTLAB_WORKDIR", root / name))
    return lessons, work


def edition_fallback(lessons: Path) -> Path | None:
    """For an edition's lessons (lessons/zh/): the English lessons, which stand in for lessons not translated yet."""
    parent = Path(lessons).parent
    return parent if parent.name == "lessons" else None


def sync_working_copy(lessons: Path, work: Path) -> list[Path]:
    """Copy every lesson that the working copy lacks; never touch one that is already there. In an edition, a
    lesson not translated yet is copied from the English lessons (its checks still speak the edition's language)."""
    if not any(Path(lessons).glob("*.ipynb")):
        raise FileNotFoundError(say("cli.no_lessons", folder=lessons))
    work.mkdir(parents=True, exist_ok=True)
    copied = []
    sources = {p.name: p for p in sorted(Path(lessons).glob("*.ipynb"))}
    fallback = edition_fallback(lessons)
    if fallback is not None:
        sources = {**{p.name: p for p in fallback.glob("*.ipynb")}, **sources}
    for source in sorted(sources.values(), key=lambda p: p.name):
        target = work / source.name
        if not target.exists():
            shutil.copy2(source, target)
            copied.append(target)
    return copied


def changed_lessons(lessons: Path, work: Path) -> list[tuple[str, str, str]]:
    """(lesson, the course version of the learner's copy, the course's version now) for each lesson of the working
    copy that the course has changed since it was copied (its fingerprint differs; a copy from before course 0.2
    carries none). The learner's edits do not count: the fingerprint was written by the course, into the copy."""
    import json

    found = []
    for source in sorted(Path(lessons).glob("*.ipynb")):
        copy = work / source.name
        if not copy.exists():
            continue
        try:
            theirs = json.loads(copy.read_text(encoding="utf-8")).get("metadata", {}).get("gptlab", {})
            ours = json.loads(source.read_text(encoding="utf-8")).get("metadata", {}).get("gptlab", {})
        except (OSError, ValueError):
            continue
        if theirs.get("fingerprint") != ours.get("fingerprint"):
            found.append((str(ours.get("lesson", source.name[:2])), theirs.get("course_version", "0.1 or older"),
                          ours.get("course_version", "?")))
    return found


def find_lesson(lessons: Path, number: str) -> Path:
    number = number.zfill(2)
    matches = sorted(Path(lessons).glob(f"{number}_*.ipynb"))
    if not matches:
        known = ", ".join(p.name for p in sorted(Path(lessons).glob("*.ipynb")))
        raise FileNotFoundError(say("cli.no_lesson", number=number, folder=lessons, known=known))
    return matches[0]


def reset_lesson(lessons: Path, work: Path, number: str, confirm) -> Path | None:
    """Restore lesson `number` in the working copy if `confirm(question)` says yes; returns the backup."""
    source = find_lesson(lessons, number)
    target = work / source.name
    backup = None
    if target.exists():
        if not confirm(say("cli.reset_question", target=target)):
            return None
        backup = target.with_name(f"{target.stem}.backup-{time.strftime('%Y%m%d-%H%M%S')}.ipynb")
        os.replace(target, backup)
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return backup


def jupyter_command(work: Path, extra: list[str]) -> list[str]:
    """JupyterLab on the working copy, quiet: no news toast or update check (gptlab/course/jupyterlab/overrides.json,
    read as the course's app settings: nobody's own settings are edited), the file browser's columns left to the
    lessons' names, and no "update to Notebook 7" banner (nbclassic's server extension is off; the lessons need
    only its JavaScript files, which bertviz's views load)."""
    from importlib import resources

    settings = Path(str(resources.files("gptlab.course").joinpath("jupyterlab")))
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={work}", f"--LabApp.app_settings_dir={settings}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--ServerApp.jpserver_extensions=nbclassic=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root without it (containers, CI)
    return command + extra
