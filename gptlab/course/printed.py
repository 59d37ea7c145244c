"""What lesson code prints and labels its plots with, in the learner's language: a table of lines per lesson.

The code cells of the Chinese edition are the English ones (only their comments differ), so the sentences they
print are English text in the code. Each lesson's table turns them into the edition's language as they are
printed (the edition's set-up cell installs it on sys.stdout) and in the edition's solution notebooks, whose
outputs are the English ones translated line by line (`gptlab lessons` does that). The tables live in
gptlab/course/locales/printed/<lang>/NN_topic.json:

    {"lesson": "12_serving.ipynb",
     "lines": {"{} client(s): 48 requests in {} s, {} tokens/s": "{} 个客户端：48 个请求用时 {} 秒，每秒 {} 个词元",
               "tokens per second": "每秒词元数"}}

The same table labels the plots: every matplotlib text (axis labels, titles, legend entries, annotations) is
looked up in it as it is set, so `ax.set_ylabel("tokens per second")` draws 每秒词元数; the labels that the
package's own plotting helpers (gptlab.viz) write are in the table `_package.json`. The plots stored in the
Chinese solutions are the English run's pictures; the edition's lessons draw theirs in Chinese.

A template is one printed line with `{}` where the code fills in a value; the value is kept as printed (spaces of
its padding included). The translation has as many `{}`, or `{0}`, `{1}` … to put them in another order. A line
that matches no template prints as it is: numbers, tensors, tables of figures, samples of Shakespeare. The course
machinery's own one-line messages (a check's verdict, the fallback notice) translate the same way, from the
message table (gptlab.course.messages), so the edition's stored outputs read in its language too.

`gptlab lessons --check` fails on a template that matches nothing the English lesson prints and none of its code's
text (the English changed; the entry is dead): see dead_templates. `python -m gptlab.course.printed 12` lists the
lines of a lesson's stored outputs that no template translates yet.

Taught in: solutions/00_welcome.ipynb (the course machinery; used by the Chinese edition)
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path

TABLES = Path(__file__).parent / "locales" / "printed"
PACKAGE = "_package"  # the table of the package's own plot text (gptlab.viz's labels), in every lesson
_FIELD = re.compile(r"\{(\d*)\}")
_ENGLISH = re.compile(r"[A-Za-z]{3,}")
_LETTERS = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Template:
    english: str
    translation: str
    pattern: re.Pattern

    def apply(self, line: str) -> str | None:
        match = self.pattern.fullmatch(line)
        if match is None:
            return None
        values = iter(match.groups())
        numbered = match.groups()

        def fill(field: re.Match) -> str:
            return numbered[int(field.group(1))] if field.group(1) else next(values)

        return _FIELD.sub(fill, self.translation.replace("{{", "\0").replace("}}", "\1")).replace(
            "\0", "{").replace("\1", "}")


def compile_template(english: str, translation: str) -> Template:
    """A Template from one table entry; ValueError when the two sides hold different numbers of `{}`."""
    pieces = english.replace("{{", "\0").replace("}}", "\1").split("{}")
    literal = [re.escape(p.replace("\0", "{").replace("\1", "}")) for p in pieces]
    pattern = re.compile("(.*?)".join(literal), re.DOTALL)
    fields = len(pieces) - 1
    wanted = _FIELD.findall(translation.replace("{{", "").replace("}}", ""))
    numbers = {int(w) for w in wanted if w}
    if (len(wanted) != fields and not numbers) or (numbers and numbers != set(range(fields))):
        raise ValueError(f"the translation of {english!r} fills {len(wanted)} value(s) where the English has {fields}: "
                         f"{translation!r}")
    return Template(english, translation, pattern)


class LineTable:
    """Printed lines of one language: each line is translated by the first template that matches all of it (the
    templates with the most literal text are tried first, so a specific one wins over a general one)."""

    def __init__(self, entries: dict[str, str]):
        self.templates = sorted((compile_template(e, t) for e, t in entries.items()),
                                key=lambda t: -len(t.english.replace("{}", "")))

    def __len__(self) -> int:
        return len(self.templates)

    def line(self, line: str) -> str:
        for template in self.templates:
            translated = template.apply(line)
            if translated is not None:
                return translated
        return line

    def text(self, text: str) -> str:
        """Every line of `text` translated; the line breaks stay where they are."""
        return "".join(self.line(part[:-1]) + "\n" if part.endswith("\n") else self.line(part)
                       for part in text.splitlines(keepends=True))


def lesson_entries(lesson_stem: str, lang: str) -> dict[str, str]:
    path = TABLES / lang / f"{lesson_stem}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["lines"]


def message_entries(lang: str) -> dict[str, str]:
    """The course machinery's one-line messages as templates: "✓ {exercise} — all {cases} cases match" -> "✓ {} — …"."""
    from gptlab.course.messages import MESSAGES, table

    translated, _ = table(lang)
    entries = {}
    for key, english in MESSAGES.items():
        other = translated.get(key)
        if not other or "\n" in english:
            continue
        try:
            names = [field for _, field, _, _ in string.Formatter().parse(english) if field is not None]
            others = [field for _, field, _, _ in string.Formatter().parse(other) if field is not None]
        except ValueError:
            continue
        if not names or len(set(names)) != len(names) or sorted(names) != sorted(others):
            continue
        if len(_ENGLISH.findall(_anonymous(english).replace("{}", " "))) < 3:
            continue  # "{}: {}", "{} ({})": so little fixed text that it would match any line (a play's, a repr)
        entries[_anonymous(english)] = _numbered(other, names)
    return entries


def _anonymous(template: str) -> str:
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is not None:
            out.append("{}")
    return "".join(out)


def _numbered(template: str, order: list[str]) -> str:
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is not None:
            out.append("{" + str(order.index(field)) + "}")
    return "".join(out)


@functools.lru_cache(maxsize=None)
def table_for(lang: str, lesson_stem: str | None = None) -> LineTable:
    """One lesson's lines and the machinery's messages (lesson_stem None: every lesson's lines)."""
    if lang == "en":
        return LineTable({})
    entries = message_entries(lang)
    stems = ([PACKAGE, lesson_stem] if lesson_stem else
             sorted(p.stem for p in (TABLES / lang).glob("*.json")))
    for stem in stems:
        entries.update(lesson_entries(stem, lang))
    return LineTable(entries)


class TranslatingStream:
    """sys.stdout, with each whole line translated as it is printed. A piece flushed before its line ends (a
    streamed answer, `print(..., end="", flush=True)`) goes out as it is, and so does the rest of that line."""

    def __init__(self, stream, table: LineTable):
        self._stream, self._table, self._pending, self._raw = stream, table, "", False

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._stream.write((line if self._raw else self._table.line(line)) + "\n")
            self._raw = False
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending, self._raw = "", True
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


_set_text = None  # matplotlib's own Text.set_text, once install() has wrapped it


def install(lang: str) -> None:
    """Translate what this process prints, and the text of the plots it draws, from now on (lesson_setup does it
    in an edition other than English; "en" undoes it)."""
    current = sys.stdout
    while isinstance(current, TranslatingStream):
        current.flush()
        current = current._stream
    sys.stdout = current if lang == "en" else TranslatingStream(current, table_for(lang))
    _label_plots(None if lang == "en" else table_for(lang))


def _label_plots(table: LineTable | None) -> None:
    """Every matplotlib text (axis labels, titles, legends, annotations) goes through `table`: the lesson code's
    `ax.set_xlabel("step")` draws 步 in the Chinese edition. None: matplotlib as it was."""
    global _set_text
    if table is None and _set_text is None:
        return  # never wrapped: nothing to undo (and no need to import matplotlib)
    from matplotlib.text import Text

    if _set_text is None:
        _set_text = Text.set_text
    if table is None:
        Text.set_text = _set_text
        return
    original = _set_text

    def set_text(self, s):
        translate = isinstance(s, str) and _LETTERS.search(s)     # tick labels (numbers) go straight through
        return original(self, table.text(s) if translate else s)

    Text.set_text = set_text


def stdout_lines(nb) -> list[str]:
    """Every line a notebook's stored outputs printed to stdout, in order."""
    return [line for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
            if output.get("output_type") == "stream" and output.get("name") == "stdout"
            for line in "".join(output.get("text", "")).splitlines()]


def translate_outputs(nb, lang: str, lesson_stem: str) -> None:
    """The stored stdout of `nb`, translated in place (the edition's solution notebook)."""
    lines = table_for(lang, lesson_stem)
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                output["text"] = lines.text("".join(output.get("text", "")))


def fixed_text(english: str) -> list[str]:
    """A template's text between its values, stripped: what the code that prints it must contain."""
    return [p.strip() for p in english.replace("{{", "{").replace("}}", "}").split("{}") if p.strip()]


def dead_templates(nb, lesson_stem: str, lang: str) -> list[str]:
    """A lesson's templates that match no line its English outputs printed and whose literal text is not all in its
    code (the code's words changed, or the entry was written for another lesson)."""
    printed = stdout_lines(nb)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    dead = []
    for english, translation in lesson_entries(lesson_stem, lang).items():
        template = compile_template(english, translation)
        if any(template.pattern.fullmatch(line) for line in printed):
            continue
        pieces = fixed_text(english)
        if not pieces or not all(piece in code for piece in pieces):
            dead.append(english)
    return dead


def untranslated(nb, lesson_stem: str, lang: str) -> list[str]:
    """Lines of a lesson's stored stdout with English words that its table does not translate (each once)."""
    lines = table_for(lang, lesson_stem)
    seen, out = set(), []
    for line in stdout_lines(nb):
        if _ENGLISH.search(line) and lines.line(line) == line and line not in seen:
            seen.add(line)
            out.append(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gptlab.course.printed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lesson", help="the lesson's number, e.g. 12")
    parser.add_argument("--lang", default="zh")
    parser.add_argument("--solutions", default="solutions")
    args = parser.parse_args()
    import nbformat

    path = next(iter(sorted(Path(args.solutions).glob(f"{args.lesson.zfill(2)}_*.ipynb"))))
    nb = nbformat.read(path, as_version=4)
    for english in dead_templates(nb, path.stem, args.lang):
        print(f"dead template: {english!r}")
    for line in untranslated(nb, path.stem, args.lang):
        print(line)


if __name__ == "__main__":
    main()
