"""The Chinese edition: built from the same source, code equal to the English, drift named, messages and hints in
Chinese, plots that draw Chinese."""

import ast
import json
import os
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
from gptlab.course.printed import table_for

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
        # The book reads with the English run's outputs, what the code printed translated line by line
        lines = table_for("zh", Path(name).stem)
        printed = [dict(o, text=lines.text(o["text"])) if o.get("name") == "stdout" else o for o in en.get("outputs", [])]
        assert printed == zh.get("outputs", [])
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
    assert "zh/00_welcome.ipynb: not translated yet (0 of 18 cells" in capsys.readouterr().out


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


def test_a_wrong_answer_in_the_chinese_lesson_13_gets_its_hint_in_chinese(chinese, capsys):
    from gptlab.course.checks import hint
    from gptlab.course.checks.notebook import _hints_shown
    from gptlab.course.checks.vision import check_patchify

    def numbers_columns_first(images, P):  # patch 1 is below patch 0, not to its right
        B, C, H, W = images.shape
        return images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 1, 3, 5).reshape(B, -1, C * P * P)

    check_patchify(numbers_columns_first, fallback=True)
    out = capsys.readouterr().out
    assert "你的图块是逐列编号的" in out and "改用参考实现" in out
    _hints_shown.pop("patchify", None)
    hint("patchify")
    assert "patchify 的提示 1/3：把每条边拆成（第几个图块，图块内的位置）" in capsys.readouterr().out
    set_language(None)
    check_patchify(numbers_columns_first, fallback=True)
    assert "your patches are numbered column by column" in capsys.readouterr().out


def test_a_wrong_answer_in_the_chinese_lesson_11_gets_its_hint_in_chinese(chinese, capsys):
    import math

    from gptlab.course.checks import hint
    from gptlab.course.checks.notebook import _hints_shown
    from gptlab.course.checks.seq2seq import check_padding_mask

    def hides_the_real_words(q, k, v, key_padding_mask):  # True read as "hide": the real keys are masked
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        weights = scores.masked_fill(key_padding_mask[:, None, :], float("-inf")).softmax(-1)
        return weights @ v, weights

    check_padding_mask(hides_the_real_words, fallback=True)
    out = capsys.readouterr().out
    assert "你的掩码反了：True 标出*真实*词元" in out and "改用参考实现" in out
    _hints_shown.pop("padding_mask", None)
    hint("padding_mask")
    assert "padding_mask 的提示 1/3：与第 03 课的注意力相同，只多一个掩码" in capsys.readouterr().out
    set_language(None)
    check_padding_mask(hides_the_real_words, fallback=True)
    assert "your mask is inverted: True marks a REAL token" in capsys.readouterr().out


def test_a_wrong_answer_in_the_chinese_lesson_12_gets_its_hint_in_chinese(chinese, capsys):
    from gptlab.course.checks import hint
    from gptlab.course.checks.notebook import _hints_shown
    from gptlab.course.checks.serving import check_completion_response
    from gptlab.serve.schema import completion_response

    def keeps_the_stop_string(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
        response = completion_response(samples, prompt_tokens, model, stop, completion_id, created)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        for choice, (text, _) in zip(response["choices"], samples):  # cut after the stop string, not before it
            if choice["finish_reason"] == "stop":
                s = next(s for s in stops if text[len(choice["text"]):].startswith(s))
                choice["text"] = text[:len(choice["text"]) + len(s)]
        return response

    check_completion_response(keeps_the_stop_string, fallback=True)
    out = capsys.readouterr().out
    assert "停止串本身还留在文本里" in out and "改用参考实现" in out
    _hints_shown.pop("completion_response", None)
    hint("completion_response")
    assert "completion_response 的提示 1/3：对每个样本，在它的文本中查找每个停止串" in capsys.readouterr().out
    set_language(None)
    check_completion_response(keeps_the_stop_string, fallback=True)
    assert "the stop string itself is still in the text" in capsys.readouterr().out


def test_a_wrong_answer_in_the_chinese_lesson_07_gets_its_hint_in_chinese(chinese, capsys):
    import torch.nn.functional as F

    from gptlab.course.checks import hint
    from gptlab.course.checks.notebook import _hints_shown
    from gptlab.course.checks.training import check_next_token_loss

    def scores_the_same_position(logits, idx):  # logits[:, t] against idx[:, t]: the model copies its input
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx.reshape(-1))

    check_next_token_loss(scores_the_same_position, fallback=True)
    out = capsys.readouterr().out
    assert "目标没有移位" in out and "改用参考实现" in out
    _hints_shown.pop("next_token_loss", None)
    hint("next_token_loss")
    assert "next_token_loss 的提示 1/3：每个位置的 logits 预测的是*下一个*词元" in capsys.readouterr().out
    set_language(None)
    check_next_token_loss(scores_the_same_position, fallback=True)
    assert "the targets are not shifted" in capsys.readouterr().out


def test_a_wrong_answer_in_the_chinese_lesson_08_gets_its_hint_in_chinese(chinese, capsys):
    from gptlab.course.checks import hint
    from gptlab.course.checks.generation import check_temperature_softmax
    from gptlab.course.checks.notebook import _hints_shown

    def multiplies(logits, temperature):  # a high temperature would sharpen instead of flatten
        return torch.softmax(logits * temperature, dim=-1)

    check_temperature_softmax(multiplies, fallback=True)
    out = capsys.readouterr().out
    assert "你乘了温度" in out and "改用参考实现" in out
    _hints_shown.pop("temperature_softmax", None)
    hint("temperature_softmax")
    assert "temperature_softmax 的提示 1/3：温度缩放的是分数，不是概率" in capsys.readouterr().out
    set_language(None)
    check_temperature_softmax(multiplies, fallback=True)
    assert "you multiplied by the temperature" in capsys.readouterr().out


def test_a_wrong_answer_in_the_chinese_lesson_10_gets_its_hint_in_chinese(chinese, capsys):
    from gptlab.course.checks import hint
    from gptlab.course.checks.finetuning import check_pool_last_token
    from gptlab.course.checks.notebook import _hints_shown

    def reads_position_t_minus_1(hidden, mask):  # padding for every row shorter than the batch
        return hidden[:, -1]

    check_pool_last_token(reads_position_t_minus_1, fallback=True)
    out = capsys.readouterr().out
    assert "你取的是位置 T - 1" in out and "mask[b].sum() - 1" in out and "改用参考实现" in out
    _hints_shown.pop("pool_last_token", None)
    hint("pool_last_token")
    assert "pool_last_token 的提示 1/3：从掩码数出每一行的真实词元个数" in capsys.readouterr().out
    set_language(None)
    check_pool_last_token(reads_position_t_minus_1, fallback=True)
    assert "you took position T - 1" in capsys.readouterr().out


def test_a_property_diagnostic_in_the_chinese_edition_is_chinese_with_its_numbers(chinese):
    """An answer no catalog mistake explains is diagnosed by a property, or by its first difference: in Chinese too,
    with the same numbers and shapes."""
    from gptlab.course.checks import CheckFailed, evaluate
    from gptlab.course.checks.basics import check_softmax
    from gptlab.course.checks.gpt import check_count_parameters

    with pytest.raises(CheckFailed) as info:
        check_softmax(lambda x: torch.softmax(x, dim=-1) + 0.01)
    assert info.value.mistake == "property"
    assert "输出的每一行沿最后一个轴的和应为 1；你的和为 1.05" in str(info.value)
    with pytest.raises(CheckFailed, match=r"输出的形状应为 \(5,\)；你的形状是 \(1, 5\)"):
        check_softmax(lambda x: torch.softmax(x, dim=-1).unsqueeze(0))
    with pytest.raises(CheckFailed, match=r"输出的 5 个值中有 5 个不同；第一个在索引 \(0,\) 处.*（最大差值"):
        check_softmax(lambda x: torch.softmax(x * 1.5, dim=-1))
    combined = check_count_parameters.spec.combined[0]
    message = evaluate(check_count_parameters.spec, combined).message
    assert "你的计数差了 -787,968，即 -1,026·C（C = n_embd = 768）" in message and english_left_in(message) == []
    set_language(None)
    message = evaluate(check_count_parameters.spec, combined).message
    assert "your count is -787,968 off, which is -1,026·C (C = n_embd = 768)" in message


def test_every_combined_mistake_is_diagnosed_in_chinese():
    """Every check's combined mistakes (two catalog mistakes at once: a property names what is wrong) get a Chinese
    sentence with no English sentence of the message table left in it; and every output name the checks give their
    sentences has its Chinese."""
    from gptlab.course.checks import all_specs, evaluate
    from gptlab.course.messages import speaking

    nouns = {english for key, english in MESSAGES.items() if key.startswith("noun.")}
    for spec in all_specs().values():
        names = spec.output if isinstance(spec.output, tuple) else (spec.output,)
        assert all(name in nouns for name in names), names  # "the output", "the logits": MESSAGES' "noun.*"
        case_names = [case.name for case in spec.make_cases(0)]
        for number, impl in enumerate(spec.combined):
            with speaking("zh"):
                result = evaluate(spec, impl)
            assert result.mistake == "property", (spec.exercise, number, result.message)
            # the sentence itself, without "<exercise>: on case '<name>', " (a case's name is English data)
            prefixes = [f"{spec.exercise}: " + say("check.on_case", lang="zh", case=case, detail="")
                        for case in case_names]
            prefix = next(p for p in prefixes if result.message.startswith(p))
            detail = result.message[len(prefix):]
            assert has_chinese(detail) and english_left_in(detail) == [], (spec.exercise, number, result.message)


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


# --- the surfaces outside the notebooks: gptlab env, the CLI, the handout (the grader: tests/test_grading.py) -


def english_left_in(output: str) -> list[str]:
    """The English sentences of the message table found in `output`: each message's fixed text between its
    {fields}, where it has three words or more and the Chinese message does not contain it too (code such as
    `pip install torch==` is the same in both)."""
    import re

    chinese, _ = table("zh")
    found = []
    for key, english in MESSAGES.items():
        for literal, *_ in string.Formatter().parse(english):
            piece = literal.strip(" ()[].;:,—→")
            if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 3 and piece not in chinese[key] and piece in output:
                found.append(f"{key}: {piece!r}")
    return found


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_english_left_in_finds_the_english_and_not_the_chinese():
    english = say("env.fix.widgets", lang="en", fix_all=say("env.fix_all", lang="en"))
    assert english_left_in(english) and not english_left_in(say("env.fix.widgets", lang="zh", fix_all="x"))


def test_gptlab_env_speaks_chinese_under_gptlab_lang_zh(monkeypatch, capsys):
    import torch

    from gptlab.course import envcheck

    monkeypatch.setenv("GPTLAB_LANG", "zh")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.delenv("GPTLAB_DEVICE", raising=False)
    assert main(["env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and english_left_in("\n".join(lines)) == []
    rows = envcheck.environment_report()
    names = [say(f"env.name.{r.name}", lang="zh") for r in rows]
    assert [line.split()[0] for line in lines[:4]] == ["正常"] * 4
    assert [line[3:].startswith(name) for line, name in zip(lines, names)] == [True] * 4
    assert lines[4] == say("env.all_set", lang="zh") == "一切就绪。"
    assert lines[5] == say("env.device.cpu", lang="zh", threads=2, how=say("env.device.auto", lang="zh"))
    assert lines[5] == "CPU，2 个线程 — 自动选择：先 CUDA，再 MPS，最后 CPU"


def test_a_row_to_fix_says_its_fix_in_chinese(monkeypatch):
    from gptlab.course import envcheck

    monkeypatch.setenv("GPTLAB_LANG", "zh")
    real = envcheck.installed_version
    monkeypatch.setattr(envcheck, "installed_version", lambda d: None if d == "jupyterlab_widgets" else real(d))
    text = envcheck.format_report([envcheck._python((3, 10, 4))] + envcheck.environment_report()[1:])
    lines = text.splitlines()
    fix_all = say("env.fix_all", lang="zh")
    assert lines[0] == "待修 Python                3.10.4"  # a Chinese character takes two columns
    assert lines[1].strip() == "→ " + say("env.fix.Python", lang="zh", version="3.11", fix_all=fix_all)
    assert "缺少：jupyterlab_widgets" in text and say("env.fix.widgets", lang="zh", fix_all=fix_all) in text
    assert lines[-1] == say("env.fix_rows", lang="zh", fix="待修") == "请修好标为“待修”的各行，然后重启内核。"
    assert english_left_in(text) == []
    monkeypatch.setenv("GPTLAB_LANG", "en")  # the English report is what it was
    english = envcheck.format_report([envcheck._python((3, 10, 4))])
    assert english.splitlines()[0] == "FIX Python  3.10.4" and english.endswith("Fix the rows marked FIX, then restart the kernel.")


def test_the_cli_speaks_chinese_under_gptlab_lang_zh(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPTLAB_LANG", "zh")
    lessons, work = tmp_path / "lessons", tmp_path / "work"
    lessons.mkdir()
    (lessons / "00_welcome.ipynb").write_text("{}")
    monkeypatch.setattr("gptlab.course.default_dirs", lambda: (lessons, work))
    monkeypatch.setattr(os, "execv", lambda *args: (_ for _ in ()).throw(SystemExit(0)))  # JupyterLab not started
    with pytest.raises(SystemExit):
        main(["course", "--dir", str(work)])
    assert capsys.readouterr().out == say("cli.working_copy", lang="zh", work=work, copied=1) + "\n"
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    assert main(["reset", "00"]) == 1
    target = work / "00_welcome.ipynb"
    assert asked == [f"{say('cli.reset_question', lang='zh', target=target)} {say('cli.yes_no', lang='zh')} "]
    assert capsys.readouterr().out.splitlines()[-1] == say("cli.nothing_changed", lang="zh") == "没有任何改动。"
    assert main(["reset", "00", "--yes"]) == 0
    out = capsys.readouterr().out.strip()
    backup = next(work.glob("00_welcome.backup-*.ipynb"))
    assert out == say("cli.restored_backup", lang="zh", path=work / "00_welcome.ipynb", backup=backup)
    assert main(["reset", "07"]) == 2
    err = capsys.readouterr().err.strip()
    no_lesson = say("cli.no_lesson", lang="zh", number="07", folder=lessons, known="00_welcome.ipynb")
    assert err == say("cli.error", lang="zh", error=no_lesson) == f"错误：{lessons} 中没有第 07 课（现有：00_welcome.ipynb）"
    monkeypatch.setattr("gptlab.course.default_dirs", lambda: (tmp_path / "none", work))
    assert main(["check", "--lessons", str(tmp_path / "none")]) == 2
    assert has_chinese(capsys.readouterr().err)


def test_lessons_check_speaks_chinese(course_copy, monkeypatch, capsys):
    solutions, lessons = course_copy
    monkeypatch.setenv("GPTLAB_LANG", "zh")
    capsys.readouterr()
    assert check(solutions, lessons) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == say("cli.lessons_checked", lang="zh", total=3) == "lessons/ 与 solutions/ 一致（3 个笔记本，含各语言版本）。"


def test_handout_lang_zh_hands_out_the_chinese_edition_with_a_chinese_howto(tmp_path, monkeypatch, capsys):
    from gptlab.course.grading.handout import HOWTO

    monkeypatch.setenv("GPTLAB_LANG", "zh")
    dest = tmp_path / "handout"
    assert main(["handout", str(dest), "--lang", "zh"]) == 0
    out = capsys.readouterr().out.splitlines()
    names = sorted(p.name for p in dest.glob("*.ipynb"))
    assert names == sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))  # every lesson, translated or not
    for name in names:
        handed = (dest / name).read_text(encoding="utf-8")
        translated = name in TRANSLATED
        source = ROOT / "lessons" / ("zh" if translated else "") / name
        assert handed == source.read_text(encoding="utf-8"), name  # rebuilt: the same as lessons/zh/ (or lessons/)
        assert (json.loads(handed)["metadata"]["gptlab"].get("lang") == "zh") == translated
        assert "BEGIN SOLUTION" not in handed
    howto = (dest / "HOWTO.md").read_text(encoding="utf-8")
    assert howto.startswith("# 如何学习这些课程") and "GPTLAB_LANG=zh gptlab check" in howto
    commands = ("gptlab ", "pip ", "python3 ", "jupyter ")  # the same in both
    english_lines = [line.strip() for line in HOWTO.splitlines()
                     if len(line.split()) >= 4 and "{" not in line and not line.strip().startswith(commands)]
    assert english_lines and [line for line in english_lines if line in howto] == []
    assert out[-1] == say("cli.handout_done", lang="zh", folder=dest) and out[0] == say("cli.wrote", lang="zh", path=dest / names[0])
    assert english_left_in("\n".join(out)) == []
