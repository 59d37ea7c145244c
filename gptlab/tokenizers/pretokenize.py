"""Pre-tokenization: split text into chunks (words, numbers, punctuation, spaces) before BPE.

Merges never cross a chunk border, so "dog." and "dog!" share the token " dog"
instead of learning two tokens, and training can count each distinct chunk once.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import regex

# GPT-2's pattern (openai/gpt-2 encoder.py; also Hugging Face's ByteLevel pre-tokenizer):
# English contractions, letters with an optional leading space, digits likewise, other
# symbols likewise, then whitespace - `\s+(?!\S)` leaves the last space of a run to the
# next word, so " world" keeps its leading space.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT2_SPLIT_REGEX = regex.compile(GPT2_SPLIT_PATTERN)


def split_text(text: str, pattern: str | regex.Pattern = GPT2_SPLIT_REGEX) -> list[str]:
    """Chunks of ``text`` per ``pattern`` (GPT-2's by default); joined, they give back ``text``.

    Example: ``split_text("Hello world's  2024!") -> ['Hello', ' world', "'s", ' ', ' 2024', '!']``.

    Taught in: solutions/01_tokens.ipynb
    """
    compiled = regex.compile(pattern) if isinstance(pattern, str) else pattern
    return compiled.findall(text)
