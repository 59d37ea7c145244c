"""The interface every tokenizer in gptlab shares: ``encode``, ``decode``, ``vocab_size``.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class Tokenizer(ABC):
    """Turns text into a list of token ids and back.

    Every id is in ``range(vocab_size)``, so the ids can index an embedding table
    of ``vocab_size`` rows.

    Example: ``tok.decode(tok.encode("hi")) -> 'hi'``.

    Taught in: solutions/01_tokens.ipynb
    """

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """How many ids the tokenizer can produce (the largest id plus one)."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids for ``text``."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text for token ids ``ids``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


def check_text(text: object) -> str:
    """Return ``text`` if it is a str, else raise a TypeError that names what was passed.

    Example: ``check_text(b'hi')`` raises ``TypeError: expected text as a str, got bytes: b'hi'``.

    Taught in: solutions/01_tokens.ipynb
    """
    if not isinstance(text, str):
        shown = repr(text)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise TypeError(f"expected text as a str, got {type(text).__name__}: {shown}")
    return text


def out_of_range(token_id: object, position: int, vocab_size: int) -> ValueError | TypeError:
    """The error for a token id that the tokenizer cannot decode (returned, for the caller to raise).

    Example: ``out_of_range(300, 2, 256)`` -> ``ValueError('token id 300 at position 2 is out of range: valid ids are 0..255')``.

    Taught in: solutions/01_tokens.ipynb
    """
    if isinstance(token_id, bool) or not isinstance(token_id, int):
        return TypeError(f"token id at position {position} must be an int, got {type(token_id).__name__}: {token_id!r}")
    return ValueError(f"token id {token_id} at position {position} is out of range: valid ids are 0..{vocab_size - 1}")
