"""GPT-2 style byte-level BPE: regex pre-tokenization, trained merges, special tokens.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal

import regex

from .base import Tokenizer, check_text, out_of_range
from .fast_train import train_merges
from .gpt2_format import MERGES_FILE, VOCAB_FILE, gpt2_texts, parse_gpt2_texts, read_gpt2_files, write_gpt2_files
from .pretokenize import GPT2_SPLIT_PATTERN
from .simple_bpe import Pair, merge

ENDOFTEXT = "<|endoftext|>"
NO_RANK = float("inf")
# Encoded chunks are cached; past this many distinct chunks the cache starts over,
# so encoding a huge stream of unique strings cannot eat all memory.
CACHE_LIMIT = 200_000


class BPETokenizer(Tokenizer):
    """Byte-level BPE like GPT-2: ``train`` learns merges, ``save``/``load`` use GPT-2's files.

    Text is split with GPT-2's regex, each chunk is turned into its UTF-8 bytes
    and merged by rank (earliest learned merge first). Any string round-trips.

    Special tokens (default ``<|endoftext|>``) get the ids after the merges.
    In ``encode`` they follow tiktoken's rule: a special token in the text
    raises a ValueError unless you say what you want - ``allowed_special="all"``
    (or a set) encodes it as its special id, ``disallowed_special=()`` encodes
    it as ordinary text. The default raises because text from a user that
    contains ``<|endoftext|>`` could otherwise end a document early.

    Example::

        tok = BPETokenizer().train(text, vocab_size=1000)  # 256 bytes + 743 merges + <|endoftext|>
        tok.encode("hello world")                          # e.g. [623, 501]
        tok.encode("a<|endoftext|>b", allowed_special="all")  # [97, 999, 98]

    Taught in: solutions/01_tokens.ipynb
    """

    def __init__(self, special_tokens: Sequence[str] = (ENDOFTEXT,), pattern: str = GPT2_SPLIT_PATTERN):
        self.pattern = pattern
        self._split = regex.compile(pattern)
        names = list(special_tokens)
        for name in names:
            check_text(name)
            if not name:
                raise ValueError("a special token cannot be the empty string")
        if len(set(names)) != len(names):
            raise ValueError(f"special tokens must be distinct, got {names}")
        # Until trained or loaded: the 256 byte tokens with ids 0..255, no merges.
        self._set_state(
            tokens={byte: bytes([byte]) for byte in range(256)},
            byte_ids=list(range(256)),
            merges=[],
            special_tokens={name: 256 + i for i, name in enumerate(names)},
        )

    def _set_state(self, tokens: dict[int, bytes], byte_ids: list[int], merges: list[tuple[int, int, int]], special_tokens: dict[str, int]) -> None:
        self.byte_ids = byte_ids
        self.merges = merges  # (left id, right id, merged id), earliest learned first
        self.ranks: dict[Pair, int] = {}
        self.merged_ids: dict[Pair, int] = {}
        for rank, (left, right, merged) in enumerate(merges):
            if (left, right) not in self.ranks:  # a repeated merge keeps its first (lowest) rank
                self.ranks[left, right] = rank
                self.merged_ids[left, right] = merged
        self.special_tokens = dict(special_tokens)
        self.token_bytes: dict[int, bytes] = dict(tokens)
        for name, token_id in special_tokens.items():
            self.token_bytes[token_id] = name.encode("utf-8")
        self._vocab_size = max(self.token_bytes) + 1
        self._special_regex = (
            regex.compile("|".join(regex.escape(name) for name in sorted(special_tokens, key=len, reverse=True)))
            if special_tokens
            else None
        )
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    # ----- training -------------------------------------------------------------------------

    def train(self, text: str, vocab_size: int) -> BPETokenizer:
        """Learn merges from ``text`` until the vocabulary has ``vocab_size`` ids; return ``self``.

        ``vocab_size`` counts everything: 256 bytes, the merges and the special
        tokens. Special tokens in ``text`` are cut out (they are boundaries, not
        text to learn). Stops early, with a smaller vocabulary, if the text has
        no pairs left to merge.

        Taught in: solutions/01_tokens.ipynb
        """
        check_text(text)
        names = list(self.special_tokens)
        minimum = 256 + len(names)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < minimum:
            raise ValueError(
                f"vocab_size must be an int >= {minimum} (256 byte tokens + {len(names)} special tokens), got {vocab_size!r}"
            )
        pieces = self._special_regex.split(text) if self._special_regex else [text]
        word_counts = Counter(chunk.encode("utf-8") for piece in pieces for chunk in self._split.findall(piece))
        if not word_counts:
            raise ValueError("cannot train on an empty text" + (" (it holds only special tokens)" if text else ""))
        pairs = train_merges(word_counts, vocab_size - minimum, first_new_id=256)
        tokens = {byte: bytes([byte]) for byte in range(256)}
        merges = []
        for i, (left, right) in enumerate(pairs):
            tokens[256 + i] = tokens[left] + tokens[right]
            merges.append((left, right, 256 + i))
        first_special = 256 + len(merges)
        self._set_state(tokens, list(range(256)), merges, {name: first_special + i for i, name in enumerate(names)})
        return self

    # ----- encoding and decoding ------------------------------------------------------------------

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | Collection[str] = (),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids for ``text``; see the class docstring for how special tokens are treated.

        Example: ``tok.encode("<|endoftext|>", allowed_special="all") -> [tok.special_tokens["<|endoftext|>"]]``.

        Taught in: solutions/01_tokens.ipynb
        """
        check_text(text)
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(f"allowed_special names {sorted(unknown)}, which are not special tokens of this tokenizer: {sorted(self.special_tokens)}")
        disallowed = set(self.special_tokens) - allowed if disallowed_special == "all" else set(disallowed_special)
        for name in sorted(disallowed):
            position = text.find(name)
            if position >= 0:
                raise ValueError(
                    f"text contains the special token {name!r} at position {position}; pass "
                    f"allowed_special={{{name!r}}} (or 'all') to encode it as its special id {self.special_tokens.get(name)}, "
                    "or disallowed_special=() to encode it as ordinary text"
                )
        if not allowed:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for match in self._special_regex.finditer(text):
            if match.group() in allowed:
                ids.extend(self.encode_ordinary(text[start : match.start()]))
                ids.append(self.special_tokens[match.group()])
                start = match.end()
        ids.extend(self.encode_ordinary(text[start:]))
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids for ``text``, treating special tokens as plain text.

        Example: ``tok.encode_ordinary("<|endoftext|>")`` gives several ordinary ids.

        Taught in: solutions/01_tokens.ipynb
        """
        check_text(text)
        cache = self._cache
        ids: list[int] = []
        for chunk in self._split.findall(text):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                chunk_ids = cache[chunk] = self._encode_chunk(chunk)
            ids.extend(chunk_ids)
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        byte_ids = self.byte_ids
        try:
            ids = [byte_ids[byte] for byte in chunk.encode("utf-8")]
        except UnicodeEncodeError as error:
            bad = chunk[error.start]
            raise ValueError(f"character {bad!r} (U+{ord(bad):04X}) is a lone surrogate and has no UTF-8 encoding") from None
        ranks = self.ranks
        while len(ids) >= 2:
            # The adjacent pair learned earliest (lowest rank) merges first, as in training.
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, NO_RANK))
            if pair not in ranks:
                break
            ids = merge(ids, pair, self.merged_ids[pair])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text for ``ids``; byte sequences that are not valid UTF-8 decode to U+FFFD.

        Example: ``tok.decode(tok.encode("héllo")) -> 'héllo'``.

        Taught in: solutions/01_tokens.ipynb
        """
        token_bytes = self.token_bytes
        try:
            data = b"".join([token_bytes[token_id] for token_id in ids])
        except (KeyError, TypeError):
            for position, token_id in enumerate(ids):
                if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id not in token_bytes:
                    error = out_of_range(token_id, position, self._vocab_size)
                    if isinstance(error, ValueError) and 0 <= token_id < self._vocab_size:
                        error = ValueError(f"token id {token_id} at position {position} is not in the vocabulary (a gap in its ids)")
                    raise error from None
            raise
        return data.decode("utf-8", errors="replace")

    # ----- GPT-2 files ---------------------------------------------------------------------

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``vocab.json`` and ``merges.txt`` in GPT-2's format; return their paths.

        Hugging Face's ``GPT2TokenizerFast(vocab_file, merges_file)`` reads them.

        Taught in: solutions/01_tokens.ipynb
        """
        return write_gpt2_files(directory, *self._gpt2_parts())

    def to_texts(self) -> dict[str, str]:
        """``{"vocab.json": ..., "merges.txt": ...}``: the two files' text, without touching the disk (checkpoints
        store them so). ``BPETokenizer.from_texts`` reads them back."""
        vocab_text, merges_text = gpt2_texts(*self._gpt2_parts())
        return {VOCAB_FILE: vocab_text, MERGES_FILE: merges_text}

    @classmethod
    def from_texts(cls, texts: dict[str, str], special_tokens: Sequence[str] | None = None,
                   pattern: str = GPT2_SPLIT_PATTERN) -> BPETokenizer:
        """The inverse of to_texts (the same checks as ``load``)."""
        unexpected = sorted(set(texts) - {VOCAB_FILE, MERGES_FILE})
        if unexpected or len(texts) != 2:
            raise ValueError(f"expected the texts of {VOCAB_FILE} and {MERGES_FILE}; got {sorted(texts)}")
        files = parse_gpt2_texts(texts[VOCAB_FILE], texts[MERGES_FILE],
                                 list(special_tokens) if special_tokens is not None else None)
        tokenizer = cls(special_tokens=(), pattern=pattern)
        tokenizer._set_state(files.tokens, files.byte_ids, files.merges, files.special_tokens)
        return tokenizer

    def _gpt2_parts(self):
        tokens = {token_id: data for token_id, data in self.token_bytes.items() if token_id not in self.special_tokens.values()}
        merges = [(self.token_bytes[left], self.token_bytes[right]) for left, right, _ in self.merges]
        return tokens, merges, self.special_tokens

    @classmethod
    def load(cls, directory: str | Path, special_tokens: Sequence[str] | None = None, pattern: str = GPT2_SPLIT_PATTERN) -> BPETokenizer:
        """Read ``vocab.json`` and ``merges.txt`` (GPT-2's format, any id order) from ``directory``.

        Special tokens are ``special_tokens`` if given, else the vocab entries
        shaped ``<...>`` that no merge builds (such as ``<|endoftext|>``).

        Taught in: solutions/01_tokens.ipynb
        """
        files = read_gpt2_files(directory, list(special_tokens) if special_tokens is not None else None)
        tokenizer = cls(special_tokens=(), pattern=pattern)
        tokenizer._set_state(files.tokens, files.byte_ids, files.merges, files.special_tokens)
        return tokenizer
