"""Where gptlab keeps files it builds or downloads, and how it writes them safely.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import os
from pathlib import Path

from gptlab import files

CACHE_ENV_VAR = "GPTLAB_CACHE"


def cache_dir() -> Path:
    """The cache directory: ``$GPTLAB_CACHE`` if set, else ``~/.cache/gptlab`` (created if missing).

    Example: with ``GPTLAB_CACHE=/tmp/c``, ``cache_dir() -> Path('/tmp/c')``.

    Taught in: solutions/01_tokens.ipynb
    """
    configured = os.environ.get(CACHE_ENV_VAR)
    path = Path(configured).expanduser() if configured else Path.home() / ".cache" / "gptlab"
    path.mkdir(parents=True, exist_ok=True)
    return path


# Atomic writes live in gptlab.files (checkpoints and lessons use them too); re-exported for the data modules.
atomic_write_bytes = files.atomic_write_bytes
_remove_quietly = files.remove_quietly
