"""Lesson 11's task: dates written in English words -> ISO dates, made here, offline and seeded.

    "twenty-third of march , nineteen ninety-eight"  ->  "1998-03-23"

The source varies in length (5 to 11 words) and in order (day, month and year come in three
orders, years in several spoken styles), so a batch needs padding and the decoder must look back
at the right source words: the year digits come first in the target but last in most sources.

Taught in: solutions/11_encoder_decoder.ipynb
"""

from __future__ import annotations

import datetime
import random
import re
from dataclasses import dataclass

import torch

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
ORDINALS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
            "nineteenth", "twentieth"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2029, 12, 31)

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
_WORD = re.compile(r"[a-z]+|,")  # hyphens separate words ("twenty-third" -> twenty, third); commas are tokens


def number_words(n: int) -> str:
    """0..99 in words: 7 -> 'seven', 42 -> 'forty-two'.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not 0 <= n <= 99:
        raise ValueError(f"number_words covers 0 to 99; got {n}")
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + (f"-{ONES[ones]}" if ones else "")


def ordinal_words(n: int) -> str:
    """1..31 as an ordinal: 3 -> 'third', 23 -> 'twenty-third', 30 -> 'thirtieth'.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not 1 <= n <= 31:
        raise ValueError(f"ordinal_words covers the days 1 to 31; got {n}")
    if n <= 20:
        return ORDINALS[n]
    tens, ones = divmod(n, 10)
    return "thirtieth" if n == 30 else f"{TENS[tens]}-{ORDINALS[ones]}"


def year_words(year: int, style: int = 0) -> str:
    """A year as people say it; `style` picks among the ways (1905: 'nineteen oh five'; 2012: 'twenty twelve'
    or 'two thousand and twelve').

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not 1900 <= year <= 2099:
        raise ValueError(f"year_words covers 1900 to 2099; got {year}")
    century, rest = divmod(year, 100)
    if century == 20 and (rest < 10 or style % 2):  # 2000-2009 are always said this way
        if rest == 0:
            return "two thousand"
        return "two thousand " + ("and " if style % 3 else "") + number_words(rest)
    head = number_words(century)
    if rest == 0:
        return f"{head} hundred"
    return f"{head} {'oh ' + ONES[rest] if rest < 10 else number_words(rest)}"


FORMATS = ("{day} of {month} , {year}", "{month} {day} , {year}", "the {day} of {month} {year}")


def date_words(date: datetime.date, form: int = 0, style: int = 0) -> str:
    """One date in words, in one of the three orders of FORMATS.

    >>> date_words(datetime.date(1998, 3, 23))
    'twenty-third of march , nineteen ninety-eight'

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    return FORMATS[form % len(FORMATS)].format(day=ordinal_words(date.day), month=MONTHS[date.month - 1],
                                               year=year_words(date.year, style))


def split_words(text: str) -> list[str]:
    """The source tokens of a text: lower-case words, split at spaces and hyphens; commas kept.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    return _WORD.findall(text.lower())


def _source_words() -> list[str]:
    words = set(ONES) | set(TENS.values()) | set(ORDINALS[1:]) | set(MONTHS)
    words |= {"thirtieth", "of", "the", "and", "oh", "hundred", "thousand", ","}
    return sorted(words)


@dataclass(frozen=True)
class Vocab:
    """Tokens <-> ids. Id 0 is padding. Unknown tokens raise (a silent <unk> would hide a typo).

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    tokens: tuple[str, ...]

    def __post_init__(self):
        if self.tokens[0] != PAD:
            raise ValueError(f"id 0 must be the padding token {PAD!r}")

    @property
    def size(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return 0

    def id(self, token: str) -> int:
        return self._index()[token]

    def _index(self) -> dict[str, int]:
        # Built on first use and kept on the instance (the dataclass is frozen, so set it through object).
        index = self.__dict__.get("_by_token")
        if index is None:
            index = {t: i for i, t in enumerate(self.tokens)}
            object.__setattr__(self, "_by_token", index)
        return index

    def encode(self, tokens: list[str]) -> list[int]:
        index = self._index()
        unknown = [t for t in tokens if t not in index]
        if unknown:
            shown = ", ".join(t for t in self.tokens if not t.startswith("<"))
            raise ValueError(f"unknown token(s) {unknown}: not in this vocabulary of {self.size}; known: {shown}")
        return [index[t] for t in tokens]

    def decode(self, ids, *, strip: bool = True) -> list[str]:
        """Ids -> tokens; with strip, stop at <eos> and drop <bos> and padding."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if not 0 <= int(i) < self.size:
                raise ValueError(f"id {i} is outside this vocabulary of {self.size}")
            token = self.tokens[int(i)]
            if strip and token == EOS:
                break
            if not (strip and token in (PAD, BOS)):
                out.append(token)
        return out


SOURCE_VOCAB = Vocab((PAD, *_source_words()))
TARGET_VOCAB = Vocab((PAD, BOS, EOS, "-", *"0123456789"))
TARGET_LEN = 10  # "YYYY-MM-DD"


def encode_source(text: str, max_len: int | None = None) -> list[int]:
    """Source text -> ids, with clear errors for unknown words and for a source that is too long.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    words = split_words(text)
    if not words:
        raise ValueError(f"the source {text!r} has no words")
    if max_len is not None and len(words) > max_len:
        raise ValueError(f"the source has {len(words)} tokens; the model reads at most {max_len} (max_src_len)")
    return SOURCE_VOCAB.encode(words)


def encode_target(iso: str) -> list[int]:
    """'1998-03-23' -> ids of the characters (no <bos>/<eos>; `collate` adds them).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    return TARGET_VOCAB.encode(list(iso))


@dataclass(frozen=True)
class Example:
    """One pair: the date in words and as YYYY-MM-DD.

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    source: str
    target: str


def _all_days() -> list[datetime.date]:
    n = (LAST_DAY - FIRST_DAY).days + 1
    return [FIRST_DAY + datetime.timedelta(days=i) for i in range(n)]


def _example(date: datetime.date, rng: random.Random) -> Example:
    return Example(date_words(date, rng.randrange(len(FORMATS)), rng.randrange(6)), date.isoformat())


def make_date_splits(n_train: int = 20_000, n_test: int = 1_000, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples; no held-out *date* appears in training, in any wording.

    The same seed always gives the same lists. Training dates may repeat (with other wordings).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    days = _all_days()
    if n_test < 0 or n_train < 0 or n_test >= len(days):
        raise ValueError(f"need 0 <= n_test < {len(days)} (the days from {FIRST_DAY} to {LAST_DAY}) and n_train >= 0")
    rng = random.Random(seed)
    rng.shuffle(days)
    test_days, train_days = days[:n_test], days[n_test:]
    test = [_example(d, rng) for d in test_days]
    train = [_example(rng.choice(train_days), rng) for _ in range(n_train)]
    return train, test


def collate(examples: list[Example], max_src_len: int | None = None) -> dict[str, torch.Tensor]:
    """A padded batch: src (B, S) with src_mask (B, S) True at real words; tgt_in = <bos> + target,
    tgt_out = target + <eos> (B, 11), for teacher forcing.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not examples:
        raise ValueError("collate needs at least one example")
    sources = [encode_source(e.source, max_src_len) for e in examples]
    S = max(len(s) for s in sources)
    src = torch.zeros(len(examples), S, dtype=torch.long)  # 0 = <pad>
    for row, ids in enumerate(sources):
        src[row, : len(ids)] = torch.tensor(ids)
    targets = torch.tensor([encode_target(e.target) for e in examples])  # (B, 10): every target has 10 characters
    bos = torch.full((len(examples), 1), TARGET_VOCAB.id(BOS))
    eos = torch.full((len(examples), 1), TARGET_VOCAB.id(EOS))
    return {"src": src, "src_mask": src != 0, "tgt_in": torch.cat([bos, targets], 1), "tgt_out": torch.cat([targets, eos], 1)}
