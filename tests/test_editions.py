"""The Chinese edition: built from the same source, code equal to the English, drift named, messages and hints in
Chinese, plots that draw Chinese."""

import ast
import json
import os
import shutil
import string
import warnings
from pathlib import Path

import pytest
import torch

from gptlab.cli import main
from gptlab.course.authoring import exercises, read_notebook
from gptlab.course.authoring.editions import (code_without_comments, comments, manifest, replace_comments,
                                              stale_exercise_messages)
from gptlab.course.messages import MESSAGES, say, set_language, table

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
TRANSLATED = manifest(SOLUTIONS, "zh")


@pytest.fixture
def chinese():
    set_language("zh")
    yield
    set_language(None)


def test_some_lessons_are_declared_translated():
    assert {"00_welcome.ipynb", "01_tokens.ipynb", "02_embeddings.ipynb"} <= set(TRANSLATED)


def _tree(source: str, setup: bool) -> str:
    tree = ast.parse(source)
    if setup:  # the edition's set-up cell adds lang="zh" to lesson_setup(...), and nothing else
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lesson_setup":
                node.keywords = [k for k in node.keywords if k.arg != "lang"]
    return ast.dump(tree)


@pytest.mark.parametrize("name", TRANSLATED)
def test_chinese_solution_has_the_english_code_as_syntax_trees(name):
    english, chinese = read_notebook(SOLUTIONS / name), read_notebook(SOLUTIONS / "zh" / name)
    assert [c.id for c in english.cells] == [c.id for c in chinese.cells]
    assert chinese.metadata.gptlab["lang"] == "zh"
    translated_comments = 0
    for en, zh in zip(english.cells, chinese.cells):
        assert en.cell_type == zh.cell_type
        if en.cell_type != "code":
            continue
        setup = "setup" in en.metadata.get("tags", [])
        try:
            assert _tree(en.source, setup) == _tree(zh.source, setup), en.id
        except SyntaxError:  # a cell with % magics: compare its tokens without comments
            assert code_without_comments(en.source) == code_without_comments(zh.source), en.id
        assert en.get("outputs") == zh.get("outputs")  # the book reads with the English run's outputs
        translated_comments += en.source != zh.source
    assert translated_comments > 0


@pytest.mark.parametrize("name", TRANSLATED)
def test_chinese_lesson_records_its_edition_and_speaks_chinese(name):
    lesson = read_notebook(ROOT / "lessons" / "zh" / name)
    assert lesson.metadata.gptlab["lang"] == "zh"
    setup = next(c for c in lesson.cells if "setup" in c.metadata.get("tags", []))
    assert 'lesson_setup(strict=False, lang="zh")' in setup.source
    markdown = [c.source for c in lesson.cells if c.cell_type == "markdown"]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in markdown)
    stubs = [c.source for c in lesson.cells if "exercise" in c.metadata.get("tags", [])]
    assert stubs and all("在这里写你的代码" in s and "# YOUR CODE HERE" in s for s in stubs)


def test_comments_are_replaced_and_nothing_else():
    source = "x = 1  # the row's largest logit\ny = '# not a comment'  # (B, T, C)\n"
    assert comments(source) == ["the row's largest logit"]  # a shape comment needs no translation
    out = replace_comments(source, {"the row's largest logit": "该行最大的 logit"})
    assert out == "x = 1  # 该行最大的 logit\ny = '# not a comment'  # (B, T, C)\n"
    assert code_without_comments(out) == code_without_comments(source)


# --- drift ---------------------------------------------------------------------------------------


@pytest.fixture
def course_copy(tmp_path):
    """solutions/00_welcome.ipynb and its Chinese translation, declared translated, in a temporary course."""
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    (solutions / "zh").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "00_welcome.ipynb", solutions)
    shutil.copy(SOLUTIONS / "zh" / "00_welcome.json", solutions / "zh")
    (solutions / "zh" / "manifest.json").write_text(json.dumps({"translated": ["00_welcome"]}))
    assert main(["lessons", "--solutions", str(solutions), "--lessons", str(lessons)]) == 0
    return solutions, lessons


def check(solutions, lessons):
    return main(["lessons", "--check", "--solutions", str(solutions), "--lessons", str(lessons)])


def test_an_edited_english_cell_is_named_as_stale(course_copy, capsys):
    solutions, lessons = course_copy
    assert check(solutions, lessons) == 0
    nb = json.loads((solutions / "00_welcome.ipynb").read_text())
    index = next(i for i, c in enumerate(nb["cells"]) if c["id"] == "104c8f34")
    nb["cells"][index]["source"] = ["## Set-up\n", "\n", "Run this cell first, always."]
    (solutions / "00_welcome.ipynb").write_text(json.dumps(nb))
    capsys.readouterr()
    assert check(solutions, lessons) == 1
    err = capsys.readouterr().err
    assert f"zh/00_welcome.ipynb: cell {index} (id 104c8f34): stale translation: the English changed" in err


def test_a_cell_without_translation_is_named(course_copy, capsys):
    solutions, lessons = course_copy
    store = json.loads((solutions / "zh" / "00_welcome.json").read_text())
    del store["cells"]["7d4488b5"]
    (solutions / "zh" / "00_welcome.json").write_text(json.dumps(store, ensure_ascii=False))
    index = [c["id"] for c in json.loads((solutions / "00_welcome.ipynb").read_text())["cells"]].index("7d4488b5")
    capsys.readouterr()
    assert check(solutions, lessons) == 1
    assert f"zh/00_welcome.ipynb: cell {index} (id 7d4488b5): markdown cell has no translation" in capsys.readouterr().err


def test_a_lesson_not_declared_translated_is_reported_and_does_not_fail(course_copy, capsys):
    solutions, lessons = course_copy
    (solutions / "zh" / "manifest.json").write_text(json.dumps({"translated": []}))
    (solutions / "zh" / "00_welcome.json").unlink()
    assert main(["lessons", "--solutions", str(solutions), "--lessons", str(lessons)]) == 0
    assert not (lessons / "zh" / "00_welcome.ipynb").exists()  # not built: the working copy takes the English one
    capsys.readouterr()
    assert check(solutions, lessons) == 0
    assert "zh/00_welcome.ipynb: not translated yet (0 of 17 cells" in capsys.readouterr().out


# --- messages and hints ----------------------------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_exists_in_both_languages_with_the_same_fields():
    chinese, _ = table("zh")
    assert set(chinese) == set(MESSAGES)
    for key, english in MESSAGES.items():
        assert _fields(chinese[key]) == _fields(english), key


@pytest.mark.parametrize("name", TRANSLATED)
def test_every_exercise_of_a_translated_lesson_has_all_its_hints_in_chinese(name):
    ids = [e.id for e in exercises(read_notebook(SOLUTIONS / name))]
    assert ids
    for exercise in ids:
        assert stale_exercise_messages(exercise, "zh") == []


def test_a_wrong_answer_in_the_chinese_edition_gets_its_hint_in_chinese(chinese, capsys):
    from gptlab.course.checks import hint
    from gptlab.course.checks.basics import check_softmax
    from gptlab.course.checks.notebook import _hints_shown

    def forgets_the_max(x):
        return x.exp() / x.exp().sum(dim=-1, keepdim=True)

    check_softmax(forgets_the_max, fallback=True)
    out = capsys.readouterr().out
    assert "先减去每一行的最大值" in out and "改用参考实现" in out
    _hints_shown.pop("softmax", None)
    hint("softmax")
    assert "softmax 的提示 1/3" in capsys.readouterr().out
    set_language(None)
    check_softmax(forgets_the_max, fallback=True)
    assert "subtract each row's maximum" in capsys.readouterr().out



def test_a_wrong_answer_in_the_chinese_lesson_14_gets_its_hint_in_chinese(chinese, capsys):
    import torch.nn.functional as F

    from gptlab.course.checks import hint
    from gptlab.course.checks.modern import check_gqa_attention
    from gptlab.course.checks.notebook import _hints_shown
    from gptlab.nn.modern import apply_rope

    def repeats_the_stack(q, k, v, base=10000.0):  # k0 k1 k0 k1: query head 1 reads kv head 1
        groups = q.shape[1] // k.shape[1]
        q, k = apply_rope(q, base), apply_rope(k, base)
        return F.scaled_dot_product_attention(q, k.repeat(1, groups, 1, 1), v.repeat(1, groups, 1, 1), is_causal=True)

    check_gqa_attention(repeats_the_stack, fallback=True)
    out = capsys.readouterr().out
    assert "把每个头原地重复（k0 k0 k1 k1）" in out and "改用参考实现" in out
    _hints_shown.pop("gqa_attention", None)
    hint("gqa_attention")
    assert "gqa_attention 的提示 1/3：三步：按位置旋转 q 和 k" in capsys.readouterr().out
    set_language(None)
    check_gqa_attention(repeats_the_stack, fallback=True)
    assert "repeat each head in place (k0 k0 k1 k1)" in capsys.readouterr().out

def test_a_wrong_answer_in_the_chinese_lesson_06_gets_its_hint_in_chinese(chinese, capsys):
    from gptlab.course.checks import hint
    from gptlab.course.checks.gpt import check_count_parameters
    from gptlab.course.checks.notebook import _hints_shown
    from gptlab.nn.model import count_parameters

    def counts_the_tied_head_twice(config):  # lm_head counted as a second V × C matrix even when tied to wte
        return count_parameters(config) + (config.vocab_size * config.n_embd if config.tie_weights else 0)

    check_count_parameters(counts_the_tied_head_twice, fallback=True)
    out = capsys.readouterr().out
    assert "权重绑定时，输出层就是词元嵌入" in out and "改用参考实现" in out
    _hints_shown.pop("count_parameters", None)
    hint("count_parameters")
    assert "count_parameters 的提示 1/3：逐个部件地数" in capsys.readouterr().out
    set_language(None)
    check_count_parameters(counts_the_tied_head_twice, fallback=True)
    assert "the output layer IS the token embedding" in capsys.readouterr().out


def test_a_wrong_head_in_the_chinese_lesson_03_gets_its_hint_in_chinese(chinese, capsys):
    import math

    from torch import nn

    from gptlab.course.checks import hint
    from gptlab.course.checks.attention import check_head
    from gptlab.course.checks.notebook import _hints_shown

    class ScaledByModelWidth(nn.Module):  # √d_model, the width of x, instead of √head_size
        def __init__(self, d_model, head_size):
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(d_model, head_size, bias=False) for _ in range(3))

        def forward(self, x):
            q, k, v = self.query(x), self.key(x), self.value(x)
            T = x.shape[1]
            scores = (q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])).masked_fill(
                ~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
            return scores.softmax(-1) @ v

    check_head(ScaledByModelWidth, fallback=True)
    out = capsys.readouterr().out
    assert "你除以的是 √d_model，即 x 的宽度" in out and "改用参考实现" in out
    _hints_shown.pop("head", None)
    hint("head")
    assert "head 的提示 1/3：对同一个 x 做三个投影" in capsys.readouterr().out
    set_language(None)
    check_head(ScaledByModelWidth, fallback=True)
    assert "you divided by √d_model, the width of x" in capsys.readouterr().out


def test_every_translated_exercise_message_is_current():
    """Over every entry of every language's EXERCISES, declared lessons or not: the id is a mistake or hint that
    exists, and the hash is that of its current English (a stale entry would silently show the English)."""
    from gptlab.course.authoring.editions import LANGUAGES
    from gptlab.course.checks import exercise_messages
    from gptlab.course.messages import digest

    english = exercise_messages()
    for lang in LANGUAGES:
        _, exercise_table = table(lang)
        assert exercise_table
        unknown = sorted(set(exercise_table) - set(english))
        stale = sorted(key for key, (made_from, _) in exercise_table.items()
                       if key in english and made_from != digest(english[key]))
        assert (unknown, stale) == ([], []), lang


def test_the_environment_variable_chooses_the_language(monkeypatch):
    monkeypatch.setenv("GPTLAB_LANG", "zh_CN")
    assert say("check.not_implemented") == "尚未实现"
    monkeypatch.setenv("GPTLAB_LANG", "fr")
    assert say("check.not_implemented") == "not implemented yet"


def test_a_stale_hint_translation_falls_back_to_english(chinese):
    from gptlab.course.messages import text

    assert text("softmax.hint.1", "an English hint that was changed") == "an English hint that was changed"


# --- plots -----------------------------------------------------------------------------------------


def test_a_chinese_label_draws_without_missing_glyphs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gptlab.viz.fonts import use_cjk_font

    saved = dict(matplotlib.rcParams)
    try:
        if use_cjk_font() is None:
            if os.environ.get("GPTLAB_REQUIRE_CJK_FONT"):
                pytest.fail("no CJK font installed (apt install fonts-noto-cjk)")
            pytest.skip("no CJK font installed here (apt install fonts-noto-cjk; CI sets GPTLAB_REQUIRE_CJK_FONT=1)")
        fig, ax = plt.subplots()
        ax.set_title("词元、嵌入与位置编码")
        ax.bar(["自注意力", "因果掩码"], torch.tensor([1.0, -0.5]).numpy())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.canvas.draw()
        plt.close(fig)
        assert not [w for w in caught if "missing from font" in str(w.message)]
    finally:
        matplotlib.rcParams.update(saved)
