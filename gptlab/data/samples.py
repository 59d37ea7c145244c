"""Tiny texts the lessons and tests use: a hello-world and a multilingual sample.

They live in Python (with explicit escapes) rather than in .txt files because
what they test — trailing spaces, tabs, runs of newlines, a zero-width joiner —
is exactly what editors like to "fix" silently.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

HELLO = "hello world"

# One string per thing that trips tokenizers up; `MULTILINGUAL` joins them.
TRICKY_STRINGS = (
    "",
    "a",
    "hello world",
    "Hello, World! It's 2024; we'll see.",
    "안녕하세요, 세계!",  # Korean: Hangul syllables are 3 UTF-8 bytes each
    "你好，世界！分词器把文字切成词元。",  # Chinese
    "こんにちは、世界。カタカナとひらがな。",  # Japanese
    "family: \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 thumbs: \U0001F44D\U0001F3FD",  # emoji with ZWJ and skin tone
    "spaces:    four, tab:\tone, trailing   ",
    "\n\n\nthree newlines, then\r\nwindows\n",
    "def add(a, b):\n    return a + b  # sum\n",
    "digits: 3.14159 1234567890 0x1F 1e-9",
    "mixed: café naïve Ångström — “quotes” ½",
)

MULTILINGUAL = "\n".join(TRICKY_STRINGS[2:])
