"""Hash the installed gptlab files (and the course's lessons) before and after each submission."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(*roots: Path) -> dict[str, str]:
    """Path -> sha256 of every file under the roots (bytecode caches excluded)."""
    digests = {}
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as handle:
                        digests[path] = hashlib.sha256(handle.read()).hexdigest()
                except OSError:
                    digests[path] = "unreadable"
    return digests


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Human lines for what differs: changed, removed and added files."""
    lines = [f"changed: {p}" for p in sorted(before) if p in after and before[p] != after[p]]
    lines += [f"removed: {p}" for p in sorted(set(before) - set(after))]
    lines += [f"added: {p}" for p in sorted(set(after) - set(before))]
    return lines


def package_root() -> Path:
    import gptlab

    return Path(gptlab.__file__).resolve().parent
