"""Character-level tokenization: one token per distinct character of a training text.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Tokenizer, check_text, out_of_range


class CharTokenizer(Tokenizer):
    """One id per character seen in ``text``, in sorted order; optionally an unknown token.

    A character that was not in the training text raises a ValueError naming it,
    unless ``unk`` is given: then it maps to one extra id (the last) that decodes
    to the ``unk`` string. Raising is the default because silently losing
    characters is a bug you want to see.

    Example: ``CharTokenizer("hello").encode("hole") -> [1, 3, 2, 0]`` (vocabulary ``e h l o``).

    Taught in: solutions/01_tokens.ipynb
    """

    def __init__(self, text: str, *, unk: str | None = None):
        check_text(text)
        self.chars = sorted(set(text))
        if not self.chars:
            raise ValueError("cannot build a character vocabulary from an empty text")
        self.char_to_id = {char: i for i, char in enumerate(self.chars)}
        self.id_to_token = list(self.chars)
        self.unk = unk
        self.unk_id: int | None = None
        if unk is not None:
            check_text(unk)
            if unk in self.char_to_id:
                raise ValueError(f"unk={unk!r} is already a character of the vocabulary; pick a string not in the text, e.g. '<unk>'")
            self.unk_id = len(self.id_to_token)
            self.id_to_token.append(unk)

    @classmethod
    def from_text(cls, text: str, *, unk: str | None = None) -> CharTokenizer:
        """Same as ``CharTokenizer(text, unk=unk)``.

        Taught in: solutions/01_tokens.ipynb
        """
        return cls(text, unk=unk)

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_token)

    def encode(self, text: str) -> list[int]:
        check_text(text)
        char_to_id = self.char_to_id
        try:
            return [char_to_id[char] for char in text]
        except KeyError:
            pass  # slow path below: find the offender, or map it to unk
        ids = []
        for position, char in enumerate(text):
            token_id = char_to_id.get(char, self.unk_id)
            if token_id is None:
                raise ValueError(
                    f"character {char!r} (U+{ord(char):04X}) at position {position} is not in the vocabulary "
                    f"of {len(self.chars)} characters; build the tokenizer from a text that contains it, "
                    "or pass unk='<unk>' to map unknown characters to one token"
                )
            ids.append(token_id)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        id_to_token = self.id_to_token
        pieces = []
        for position, token_id in enumerate(ids):
            if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 <= token_id < len(id_to_token):
                raise out_of_range(token_id, position, len(id_to_token))
            pieces.append(id_to_token[token_id])
        return "".join(pieces)
