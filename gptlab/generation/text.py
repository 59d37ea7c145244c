"""Token ids in, text out, never half a character.

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

import codecs

__all__ = ["IncrementalDecoder"]


class IncrementalDecoder:
    """Token ids in, text out, never half a character: a byte-level token can end inside a UTF-8 character.

    push(token_id) returns the text that is now complete (possibly ""); `at_boundary` says whether the
    tokens so far end on a character boundary. finish() returns what is left: an unfinished character
    is dropped (its bytes stay in the ids), so no text ever holds a broken one.

    Taught in: solutions/08_generation.ipynb
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._table = getattr(tokenizer, "token_bytes", None)  # byte-level tokenizers: id -> bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._ids: list[int] = []  # only for tokenizers without a bytes table
        self._emitted = 0

    def push(self, token_id: int) -> str:
        if self._table is not None:
            try:
                data = self._table[token_id]
            except KeyError:
                raise ValueError(f"token id {token_id} is not in the tokenizer's vocabulary") from None
            return self._utf8.decode(data)
        # Any other tokenizer: decode everything, hold back a trailing U+FFFD (maybe a character in progress).
        self._ids.append(token_id)
        text = self.tokenizer.decode(self._ids)
        stable = len(text.rstrip("\ufffd"))
        piece = text[self._emitted:stable] if stable > self._emitted else ""
        self._emitted = max(self._emitted, stable)
        return piece

    @property
    def at_boundary(self) -> bool:
        if self._table is not None:
            return not self._utf8.getstate()[0]
        return len(self.tokenizer.decode(self._ids)) == self._emitted if self._ids else True

    def finish(self) -> str:
        """Nothing more comes: an unfinished character is dropped rather than shown as U+FFFD."""
        if self._table is not None:
            self._utf8.reset()
        return ""
