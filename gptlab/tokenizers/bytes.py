"""Byte-level tokenization: a token is one UTF-8 byte, so 256 ids cover every string.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Tokenizer, check_text, out_of_range


def text_to_bytes(text: str) -> list[int]:
    """The UTF-8 bytes of ``text`` as ints in 0..255.

    Example: ``text_to_bytes("hé") -> [104, 195, 169]`` ("é" takes two bytes).

    Taught in: solutions/01_tokens.ipynb
    """
    check_text(text)
    try:
        return list(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        # Only lone surrogates (e.g. "\ud800") have no UTF-8 encoding.
        bad = text[error.start]
        raise ValueError(
            f"character {bad!r} (U+{ord(bad):04X}) at position {error.start} is a lone surrogate "
            "and has no UTF-8 encoding"
        ) from None


def bytes_to_text(ids: Sequence[int]) -> str:
    """Decode UTF-8 byte values back to text; invalid sequences become U+FFFD (``errors="replace"``).

    Replacing instead of raising matters for a language model: it may emit the
    first byte of a three-byte character and stop, and we still want to show text.

    Example: ``bytes_to_text([104, 195, 169]) -> 'hé'``; ``bytes_to_text([195]) -> '\\ufffd'``.

    Taught in: solutions/01_tokens.ipynb
    """
    for position, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise out_of_range(value, position, 256)
    return bytes(ids).decode("utf-8", errors="replace")


class ByteTokenizer(Tokenizer):
    """One token per UTF-8 byte: 256 ids, lossless for any string, no training.

    Example: ``ByteTokenizer().encode("hi") -> [104, 105]``.

    Taught in: solutions/01_tokens.ipynb
    """

    token_bytes = {i: bytes([i]) for i in range(256)}  # id -> its bytes, as BPETokenizer has (streaming decoders read it)

    @property
    def vocab_size(self) -> int:
        return 256

    def encode(self, text: str) -> list[int]:
        return text_to_bytes(text)

    def decode(self, ids: Sequence[int]) -> str:
        return bytes_to_text(ids)
