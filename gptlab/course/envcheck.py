"""Is this machine ready for the course? One row per requirement: OK, or the command that fixes it.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass

MIN_PYTHON = (3, 11)
FIX_ALL = "./run.sh course  (from the course folder: it creates or repairs .venv and reinstalls everything)"


@dataclass(frozen=True)
class Requirement:
    name: str
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
    return Requirement("Python", ok, text,
                       "" if ok else f"install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer, then {FIX_ALL}")


def _package(label: str, distributions: list[str], fix: str) -> Requirement:
    missing = [d for d in distributions if installed_version(d) is None]
    if missing:
        return Requirement(label, False, f"missing: {', '.join(missing)}", fix)
    return Requirement(label, True, ", ".join(f"{d} {installed_version(d)}" for d in distributions))


def _plotting() -> Requirement:
    requirement = _package("plotting", ["matplotlib"], f"pip install matplotlib, or {FIX_ALL}")
    if not requirement.ok:
        return requirement
    try:  # draw one small figure off-screen: proves the backend, fonts and PNG writer work
        import io

        from matplotlib.figure import Figure

        figure = Figure(figsize=(1, 1))
        figure.add_subplot().plot([0, 1], [0, 1])
        figure.savefig(io.BytesIO(), format="png")
    except Exception as error:  # any failure here is worth reporting, not raising
        return Requirement("plotting", False, f"matplotlib cannot draw: {error}", f"pip install --force-reinstall matplotlib, or {FIX_ALL}")
    return requirement


def environment_report() -> list[Requirement]:
    """Check Python, torch, widgets and plotting; every failing row carries its fix."""
    return [
        _python(),
        _package("torch", ["torch"], f"pip install torch==2.13.0, or {FIX_ALL}"),
        _package("widgets", ["ipywidgets", "jupyterlab_widgets"],
                 f"pip install ipywidgets jupyterlab_widgets, then reload the JupyterLab page; or {FIX_ALL}"),
        _plotting(),
    ]


def format_report(rows: list[Requirement]) -> str:
    width = max(len(row.name) for row in rows)
    lines = []
    for row in rows:
        status = "OK " if row.ok else "FIX"
        lines.append(f"{status} {row.name:<{width}}  {row.detail}")
        if not row.ok:
            lines.append(f"    {'':<{width}}  → {row.fix}")
    verdict = "All set." if all(r.ok for r in rows) else "Fix the rows marked FIX, then restart the kernel."
    return "\n".join(lines + [verdict])
