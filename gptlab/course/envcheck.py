"""Is this machine ready for the course? One row per requirement: OK, or the command that fixes it.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass

from gptlab.course.messages import MESSAGES, columns, pad, say

MIN_PYTHON = (3, 11)
TORCH = "2.13.0"


def _fix_all() -> str:
    return say("env.fix_all")


FIX_ALL = MESSAGES["env.fix_all"]  # the English, kept for callers of the old constant


@dataclass(frozen=True)
class Requirement:
    name: str  # Python | torch | widgets | plotting: an id; format_report shows it in the learner's language
    ok: bool
    detail: str
    fix: str = ""


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _python(version_info=None) -> Requirement:
    version = tuple((version_info or sys.version_info)[:3])
    text = ".".join(map(str, version))
    ok = version[:2] >= MIN_PYTHON
    return Requirement("Python", ok, text, "" if ok else say("env.fix.Python", version=".".join(map(str, MIN_PYTHON)),
                                                             fix_all=_fix_all()))


def _package(label: str, distributions: list[str], fix: str) -> Requirement:
    missing = [d for d in distributions if installed_version(d) is None]
    if missing:
        return Requirement(label, False, say("env.missing", names=", ".join(missing)), fix)
    return Requirement(label, True, ", ".join(f"{d} {installed_version(d)}" for d in distributions))


def _plotting() -> Requirement:
    requirement = _package("plotting", ["matplotlib"], say("env.fix.plotting", fix_all=_fix_all()))
    if not requirement.ok:
        return requirement
    try:  # draw one small figure off-screen: proves the backend, fonts and PNG writer work
        import io

        from matplotlib.figure import Figure

        figure = Figure(figsize=(1, 1))
        figure.add_subplot().plot([0, 1], [0, 1])
        figure.savefig(io.BytesIO(), format="png")
    except Exception as error:  # any failure here is worth reporting, not raising
        return Requirement("plotting", False, say("env.cannot_draw", error=error),
                           say("env.fix.plotting_broken", fix_all=_fix_all()))
    return requirement


def environment_report() -> list[Requirement]:
    """Check Python, torch, widgets and plotting; every failing row carries its fix (in the learner's language)."""
    return [
        _python(),
        _package("torch", ["torch"], say("env.fix.torch", version=TORCH, fix_all=_fix_all())),
        _package("widgets", ["ipywidgets", "jupyterlab_widgets"], say("env.fix.widgets", fix_all=_fix_all())),
        _plotting(),
    ]


def format_report(rows: list[Requirement]) -> str:
    names = {row.name: say(f"env.name.{row.name}") if f"env.name.{row.name}" in MESSAGES else row.name for row in rows}
    marks = {True: say("env.ok"), False: say("env.fix")}
    width = max(columns(name) for name in names.values())
    mark_width = max(columns(mark) for mark in marks.values())
    lines = []
    for row in rows:
        lines.append(f"{pad(marks[row.ok], mark_width)} {pad(names[row.name], width)}  {row.detail}")
        if not row.ok:
            lines.append(f"{'':<{mark_width}} {'':<{width}}  → {row.fix}")
    verdict = say("env.all_set") if all(r.ok for r in rows) else say("env.fix_rows", fix=marks[False])
    return "\n".join(lines + [verdict])


def describe_device(device) -> str:
    """gptlab.device.describe_device in the learner's language: what the device is and how it was chosen."""
    from gptlab.device import device_facts

    facts = device_facts(device)
    how = say("env.device.forced", value=facts["forced"]) if facts["forced"] else say("env.device.auto")
    if facts["type"] == "cuda":
        return say("env.device.cuda", name=facts["name"], memory=facts["memory_gib"], how=how)
    if facts["type"] == "mps":
        return say("env.device.mps", how=how)
    return say("env.device.cpu_one" if facts["threads"] == 1 else "env.device.cpu", threads=facts["threads"], how=how)
