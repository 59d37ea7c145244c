"""Tokenizers, from characters to GPT-2's byte-level BPE, with the helpers lesson 01 teaches.

All tokenizers share ``encode(text) -> list[int]``, ``decode(ids) -> str`` and
``vocab_size``:

>>> from gptlab.tokenizers import ByteTokenizer, merge
>>> ByteTokenizer().encode("hi")
[104, 105]
>>> merge([1, 2, 3, 1, 2], (1, 2), 4)
[4, 3, 4]

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from .base import Tokenizer
from .bpe import ENDOFTEXT, BPETokenizer
from .bytes import ByteTokenizer, bytes_to_text, text_to_bytes
from .char import CharTokenizer
from .fast_train import train_merges
from .gpt2_format import bytes_to_unicode, read_gpt2_files, write_gpt2_files
from .pretokenize import GPT2_SPLIT_PATTERN, split_text
from .simple_bpe import (
    count_pairs,
    encode_with_merges,
    merge,
    most_frequent_pair,
    train_bpe,
)

__all__ = [
    "BPETokenizer",
    "ByteTokenizer",
    "CharTokenizer",
    "ENDOFTEXT",
    "GPT2_SPLIT_PATTERN",
    "Tokenizer",
    "bytes_to_text",
    "bytes_to_unicode",
    "count_pairs",
    "encode_with_merges",
    "get_tokenizer",
    "merge",
    "most_frequent_pair",
    "read_gpt2_files",
    "split_text",
    "text_to_bytes",
    "train_bpe",
    "train_merges",
    "write_gpt2_files",
]

TOKENIZERS = {"char": CharTokenizer, "byte": ByteTokenizer, "bpe": BPETokenizer}


def get_tokenizer(name: str, **options) -> Tokenizer:
    """A tokenizer by name: ``"char"`` (needs ``text=``), ``"byte"``, or ``"bpe"`` (``path=`` loads GPT-2 files).

    Example: ``get_tokenizer("byte").vocab_size -> 256``; ``get_tokenizer("char", text="hello").vocab_size -> 4``.

    Taught in: solutions/01_tokens.ipynb
    """
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
    if name == "bpe" and "path" in options:
        path = options.pop("path")
        return BPETokenizer.load(path, **options)
    if name == "char" and "text" not in options:
        raise TypeError("get_tokenizer('char') needs text=..., the text whose characters form the vocabulary")
    return TOKENIZERS[name](**options)
