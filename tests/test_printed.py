"""What lesson code prints, in the Chinese edition: line templates per lesson (gptlab.course.printed), applied as
the code prints and to the edition's stored outputs; a template the English no longer prints is named."""

import io
import re
from pathlib import Path

import nbformat
import pytest

from gptlab.course.authoring import read_notebook
from gptlab.course.authoring.editions import manifest
from gptlab.course.messages import say
from gptlab.course.printed import (TABLES, LineTable, TranslatingStream, compile_template, dead_templates, fixed_text,
                                   lesson_entries, stdout_lines, table_for, untranslated)

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LESSONS_WITH_TABLES = sorted(p.stem for p in (TABLES / "zh").glob("*.json") if not p.stem.startswith("_"))
_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_template_keeps_the_printed_values_with_their_padding():
    table = LineTable({"{} client(s): 48 requests in {} s": "{} 个客户端：48 个请求用时 {} 秒",
                       "{} of {} answers differ": "{1} 个回答中有 {0} 个不同",
                       "a set {{x}}: {}": "集合 {{x}}：{}"})
    assert table.line(" 1 client(s): 48 requests in  2.41 s") == " 1 个客户端：48 个请求用时  2.41 秒"
    assert table.line("3 of 500 answers differ") == "500 个回答中有 3 个不同"
    assert table.line("a set {x}: 7") == "集合 {x}：7"
    assert table.line("ROMEO: what light") == "ROMEO: what light"          # no template: printed as it is
    assert table.text("3 of 5 answers differ\nsample\n") == "5 个回答中有 3 个不同\nsample\n"


def test_a_translation_with_the_wrong_number_of_values_is_refused():
    with pytest.raises(ValueError, match="fills 1 value"):
        compile_template("{} of {} answers", "{} 个回答")
    with pytest.raises(ValueError, match="fills"):
        compile_template("{} of {} answers", "{0} 个回答 {2}")


def test_the_more_specific_template_wins():
    table = LineTable({"loss {}": "损失 {}", "loss on the answers {}": "回答上的损失 {}"})
    assert table.line("loss on the answers 2.5") == "回答上的损失 2.5"
    assert table.line("loss 3.1") == "损失 3.1"


def test_the_stream_translates_whole_lines_and_passes_streamed_pieces_as_they_are():
    out = io.StringIO()
    stream = TranslatingStream(out, LineTable({"{} tokens": "{} 个词元"}))
    print("48 tokens", file=stream)
    print("f", end="|", flush=True, file=stream)      # a streamed answer: shown at once, untranslated
    print("our", end="|", flush=True, file=stream)
    print(file=stream)
    print("3 tokens", file=stream)
    assert out.getvalue() == "48 个词元\nf|our|\n3 个词元\n"


def test_the_machinerys_one_line_messages_translate_from_the_message_table():
    table = table_for("zh", "00_welcome")
    english = say("check.passed", lang="en", exercise="softmax", cases=8)
    assert table.line(english) == say("check.passed", lang="zh", exercise="softmax", cases=8) != english


@pytest.mark.parametrize("stem", LESSONS_WITH_TABLES)
def test_every_template_translates_into_chinese_and_still_matches_the_english_lesson(stem):
    entries = lesson_entries(stem, "zh")
    assert entries
    for english, chinese in entries.items():
        compile_template(english, chinese)                    # the same number of values on both sides
        assert _CJK.search(chinese), f"{english!r} -> {chinese!r} has no Chinese"
        assert "\n" not in english
    nb = read_notebook(SOLUTIONS / f"{stem}.ipynb")
    assert dead_templates(nb, stem, "zh") == []


def test_every_translated_lesson_has_a_table_that_covers_its_printed_sentences():
    """Every lesson declared translated has a table, and it translates at least a fifth of the stored lines with
    English words in them (the rest is data: samples of the model, plays, JSON, API objects' reprs; lesson 12, the
    lowest, translates 22 of 88)."""
    for name in manifest(SOLUTIONS, "zh"):
        stem = Path(name).stem
        assert stem in LESSONS_WITH_TABLES, f"{stem} is declared translated but has no printed-line table"
        nb = read_notebook(SOLUTIONS / name)
        lines = [line for line in stdout_lines(nb) if re.search(r"[A-Za-z]{3,}", line)]
        translated = [line for line in lines if table_for("zh", stem).line(line) != line]
        assert len(translated) >= len(lines) // 5, (stem, untranslated(nb, stem, "zh")[:10])


def test_the_chinese_solution_shows_its_printed_lines_in_chinese():
    nb = read_notebook(SOLUTIONS / "zh" / "12_serving.ipynb")
    printed = "\n".join(stdout_lines(nb))
    english = "\n".join(stdout_lines(read_notebook(SOLUTIONS / "12_serving.ipynb")))
    assert "questions through chat.completions in" in english
    assert "questions through chat.completions in" not in printed and _CJK.search(printed)


def test_a_changed_print_is_named_by_the_check(course_copy, capsys):
    from gptlab.cli import main

    solutions, lessons = course_copy
    english, _ = next(iter(lesson_entries("00_welcome", "zh").items()))
    literal = max(english.split("{}"), key=len).strip()
    nb = nbformat.read(solutions / "00_welcome.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(literal, literal.upper() + "!")
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    output["text"] = output["text"].replace(literal, literal.upper() + "!")
    nbformat.write(nb, solutions / "00_welcome.ipynb")
    capsys.readouterr()
    assert main(["lessons", "--check", "--solutions", str(solutions), "--lessons", str(lessons)]) == 1
    assert f"zh/00_welcome.ipynb: the printed line {english!r}" in capsys.readouterr().err


@pytest.mark.slow
def test_a_chinese_kernel_prints_the_lessons_sentences_in_chinese(tmp_path):
    """In a real kernel: the edition's set-up cell installs the table; a print of the lesson's own code comes out in
    Chinese, a streamed piece and a line no template knows come out as they are."""
    from nbclient import NotebookClient

    english, chinese = next(iter(lesson_entries("12_serving", "zh").items()))
    value_line = english.replace("{{", "{").replace("}}", "}").replace("{}", "7")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from gptlab import lesson_setup\nlesson_setup(strict=True, lang='zh')"),
                nbformat.v4.new_code_cell(f"print({value_line!r})\nprint('ROMEO: soft')\n"
                                          "print('f', end='|', flush=True); print('our')")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert printed == table_for("zh", "12_serving").line(value_line) + "\nROMEO: soft\nf|our\n"
    assert _CJK.search(printed.splitlines()[0])


def test_no_template_touches_a_line_of_the_plays():
    """Templates with too little fixed text ("{}: {}") would rewrite lines of Shakespeare a lesson prints."""
    from gptlab.data import load_text

    plays = load_text("english").splitlines()[:5000]
    table = table_for("zh")
    changed = [line for line in plays if table.line(line) != line]
    assert changed == [], changed[:5]


def test_the_chinese_edition_labels_the_lessons_plots_in_chinese():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gptlab.course.printed import install

    entries = {e: c for stem in LESSONS_WITH_TABLES for e, c in lesson_entries(stem, "zh").items() if "{" not in e}
    label = next(e for e in entries if e in ("step", "training loss", "position", "tokens seen")) \
        if any(e in ("step", "training loss", "position", "tokens seen") for e in entries) else next(iter(entries))
    try:
        install("zh")
        fig, ax = plt.subplots()
        ax.set_xlabel(label)
        ax.set_title("ROMEO: soft")                              # no template: drawn as it is
        assert ax.get_xlabel() == table_for("zh").line(label) != label and ax.get_title() == "ROMEO: soft"
        plt.close(fig)
    finally:
        install("en")
    fig, ax = plt.subplots()
    ax.set_xlabel(label)
    assert ax.get_xlabel() == label                              # English again
    plt.close(fig)


def test_the_packages_plot_labels_are_the_ones_its_code_writes():
    """_package.json translates gptlab.viz's own labels; each template's fixed text is in the package's code."""
    from gptlab.course.printed import PACKAGE

    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "gptlab").rglob("*.py"))
    entries = lesson_entries(PACKAGE, "zh")
    assert len(entries) >= 20
    for english, chinese in entries.items():
        compile_template(english, chinese)
        assert _CJK.search(chinese), english
        pieces = fixed_text(english)
        assert pieces and all(piece in source for piece in pieces), english
