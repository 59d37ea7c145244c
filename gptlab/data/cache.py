"""Where gptlab keeps files it builds or downloads, and how it writes them safely.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same directory first (so the final
    ``os.replace`` is a rename on one file system, which is atomic); an
    interrupted write leaves no half-written ``path`` behind.

    Example: ``atomic_write_bytes(Path('/tmp/c/x.txt'), b'hi')`` then ``Path('/tmp/c/x.txt').read_bytes() -> b'hi'``.

    Taught in: solutions/01_tokens.ipynb
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def _remove_quietly(name: str | os.PathLike) -> None:
    try:
        os.remove(name)
    except FileNotFoundError:
        pass
