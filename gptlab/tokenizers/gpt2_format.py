"""Reading and writing GPT-2's tokenizer files: ``vocab.json`` and ``merges.txt``.

GPT-2 stores byte tokens as printable strings: ``bytes_to_unicode`` maps each of
the 256 bytes to one visible character (a space becomes "Ġ", a newline "Ċ"), so
a token such as " the" is written "Ġthe". ``vocab.json`` maps those strings to
ids - in any order: GPT-2's own file numbers the byte tokens in
``bytes_to_unicode`` order, not 0..255 - and ``merges.txt`` lists the merges, one
``left right`` pair per line, earliest learned first, after a ``#version`` line.

Special tokens such as ``<|endoftext|>`` are entries of ``vocab.json`` that no
merge builds; on reading we recognise them by their ``<...>`` shape.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
MERGES_HEADER = "#version: 0.2"
SPECIAL_TOKEN_SHAPE = re.compile(r"<[^<>\s]+>")


@cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character (openai/gpt-2 encoder.py).

    Printable Latin-1 bytes map to themselves; the other 68 (control characters,
    space, ...) map to U+0100 and up, in byte order. The dict's order - printable
    bytes first - is the order GPT-2's vocab.json numbers its byte tokens in.

    Example: ``bytes_to_unicode()[ord('a')] -> 'a'``, ``bytes_to_unicode()[ord(' ')] -> 'Ġ'``.

    Taught in: solutions/01_tokens.ipynb
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping = {byte: chr(byte) for byte in printable}
    shifted = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + shifted)
            shifted += 1
    return mapping


@cache
def unicode_to_bytes() -> dict[str, int]:
    """The inverse of :func:`bytes_to_unicode`.

    Example: ``unicode_to_bytes()['Ġ'] -> 32``.

    Taught in: solutions/01_tokens.ipynb
    """
    return {char: byte for byte, char in bytes_to_unicode().items()}


def token_to_str(token: bytes) -> str:
    """A token's bytes as GPT-2 writes them.

    Example: ``token_to_str(b' the') -> 'Ġthe'``.

    Taught in: solutions/01_tokens.ipynb
    """
    table = bytes_to_unicode()
    return "".join(table[byte] for byte in token)


def str_to_token(text: str) -> bytes | None:
    """The bytes a GPT-2 token string stands for, or None if it is not byte-level (e.g. has a space).

    Example: ``str_to_token('Ġthe') -> b' the'``; ``str_to_token('a b') -> None``.

    Taught in: solutions/01_tokens.ipynb
    """
    table = unicode_to_bytes()
    try:
        return bytes(table[char] for char in text)
    except KeyError:
        return None


def gpt2_texts(tokens: dict[int, bytes], merges: list[tuple[bytes, bytes]],
               special_tokens: dict[str, int]) -> tuple[str, str]:
    """The text of ``vocab.json`` and of ``merges.txt`` for a vocabulary (what write_gpt2_files writes).

    ``tokens`` maps every ordinary id to its bytes, ``merges`` lists the merged
    pairs earliest first, ``special_tokens`` maps e.g. ``"<|endoftext|>"`` to its id.

    Taught in: solutions/01_tokens.ipynb
    """
    vocab = {token_to_str(token): token_id for token_id, token in sorted(tokens.items())}
    for name, token_id in special_tokens.items():
        if name in vocab:
            raise ValueError(f"special token {name!r} collides with an ordinary token of the vocabulary")
        vocab[name] = token_id
    lines = [MERGES_HEADER] + [f"{token_to_str(left)} {token_to_str(right)}" for left, right in merges]
    return json.dumps(vocab, ensure_ascii=False, indent=2) + "\n", "\n".join(lines) + "\n"


def write_gpt2_files(
    directory: str | Path,
    tokens: dict[int, bytes],
    merges: list[tuple[bytes, bytes]],
    special_tokens: dict[str, int],
) -> tuple[Path, Path]:
    """Write ``vocab.json`` and ``merges.txt`` (see gpt2_texts) into ``directory``; return their paths.

    Taught in: solutions/01_tokens.ipynb
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_text, merges_text = gpt2_texts(tokens, merges, special_tokens)
    vocab_path = directory / VOCAB_FILE
    merges_path = directory / MERGES_FILE
    vocab_path.write_text(vocab_text, encoding="utf-8")
    merges_path.write_text(merges_text, encoding="utf-8")
    return vocab_path, merges_path


@dataclass
class GPT2Files:
    """What :func:`read_gpt2_files` found: ids for bytes, ranked merges, special tokens.

    ``byte_ids[b]`` is the id of the token for byte ``b``; ``merges`` lists
    ``(left_id, right_id, merged_id)`` earliest first (the list index is the rank).

    Taught in: solutions/01_tokens.ipynb
    """

    tokens: dict[int, bytes]
    byte_ids: list[int]
    merges: list[tuple[int, int, int]]
    special_tokens: dict[str, int]


def read_gpt2_files(directory: str | Path, special_tokens: list[str] | None = None) -> GPT2Files:
    """Read and check ``vocab.json`` and ``merges.txt`` from ``directory`` (see parse_gpt2_texts).

    Taught in: solutions/01_tokens.ipynb
    """
    directory = Path(directory)
    vocab_path = directory / VOCAB_FILE
    merges_path = directory / MERGES_FILE
    for path in (vocab_path, merges_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: a GPT-2 tokenizer directory holds {VOCAB_FILE} and {MERGES_FILE}")
    return parse_gpt2_texts(vocab_path.read_text(encoding="utf-8"), merges_path.read_text(encoding="utf-8"),
                            special_tokens, vocab_name=str(vocab_path), merges_name=str(merges_path))


def parse_gpt2_texts(vocab_text: str, merges_text: str, special_tokens: list[str] | None = None, *,
                     vocab_name: str = VOCAB_FILE, merges_name: str = MERGES_FILE) -> GPT2Files:
    """Check and read the text of ``vocab.json`` and ``merges.txt`` (the names are for error messages).

    Special tokens are ``special_tokens`` if given, else every vocab entry shaped
    ``<...>`` that no merge builds. Any other entry that is neither a byte nor
    built by a merge means the files do not belong together, or merges.txt was
    cut short, and raises a ValueError.

    Taught in: solutions/01_tokens.ipynb
    """
    vocab_path, merges_path = _Name(vocab_name), _Name(merges_name)
    vocab = _read_vocab(vocab_text, vocab_path)

    tokens: dict[int, bytes] = {}
    for text, token_id in vocab.items():
        token = str_to_token(text)
        if token is not None:
            tokens[token_id] = token
    byte_ids = [vocab.get(char, -1) for char in bytes_to_unicode().values()]
    byte_order = list(bytes_to_unicode())
    ids_by_byte = [0] * 256
    for byte, token_id in zip(byte_order, byte_ids):
        if token_id < 0:
            char = bytes_to_unicode()[byte]
            raise ValueError(f"{vocab_path}: has no token for byte 0x{byte:02X} (written {char!r}); a byte-level vocabulary needs all 256")
        ids_by_byte[byte] = token_id

    merges = []
    built: set[str] = set()
    lines = merges_text.split("\n")
    if not lines[0].startswith("#version"):
        raise ValueError(f"{merges_path}:1: expected a '{MERGES_HEADER}' line first (GPT-2's merges.txt format), got {lines[0]!r}")
    for line_number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(
                f"{merges_path}:{line_number}: expected two tokens separated by one space, got {line!r} "
                "(is the file truncated or not GPT-2's merges.txt?)"
            )
        left, right = parts
        for part in (left, right, left + right):
            if part not in vocab:
                raise ValueError(f"{merges_path}:{line_number}: token {part!r} of merge {line!r} is not in {vocab_path.name}")
        merges.append((vocab[left], vocab[right], vocab[left + right]))
        built.add(left + right)

    specials: dict[str, int] = {}
    for text, token_id in vocab.items():
        is_byte = len(text) == 1 and text in unicode_to_bytes()
        if is_byte or text in built:
            continue
        wanted = text in special_tokens if special_tokens is not None else bool(SPECIAL_TOKEN_SHAPE.fullmatch(text))
        if wanted:
            specials[text] = token_id
            tokens.pop(token_id, None)
        else:
            raise ValueError(
                f"{vocab_path}: token {text!r} (id {token_id}) is neither a byte, nor built by a merge in "
                f"{merges_path.name}, nor a special token like '<|endoftext|>'; {merges_path.name} may be truncated"
            )
    if special_tokens is not None:
        missing = [name for name in special_tokens if name not in specials]
        if missing:
            raise ValueError(f"{vocab_path}: special tokens {missing} are not in the vocabulary")
    return GPT2Files(tokens=tokens, byte_ids=ids_by_byte, merges=merges, special_tokens=specials)


class _Name(str):
    """A file name in error messages; `.name` as a Path would give it."""

    @property
    def name(self) -> str:
        return Path(self).name


def _read_vocab(text: str, path: str) -> dict[str, int]:
    try:
        vocab = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); expected GPT-2's vocab.json") from None
    if not isinstance(vocab, dict):
        raise ValueError(f"{path}: expected a JSON object mapping token strings to ids, got {type(vocab).__name__}")
    seen: dict[int, str] = {}
    for text, token_id in vocab.items():
        if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id < 0:
            raise ValueError(f"{path}: token {text!r} has id {token_id!r}; ids must be ints >= 0")
        if token_id in seen:
            raise ValueError(f"{path}: id {token_id} is used by both {seen[token_id]!r} and {text!r}")
        seen[token_id] = text
    return vocab
