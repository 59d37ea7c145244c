"""Issue 19: the parts a learner writes become the model they train, sample and serve (lessons 05-08 in one
working copy; lesson 12's serving cell on its own)."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gptlab.course.authoring import build_lesson
from gptlab.course.checks import set_strict
from gptlab.course.parts import own_parts

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"


def exercise_cell(nb, exercise):
    return next(c for c in nb.cells if c.metadata.get("gptlab", {}).get("exercise") == exercise)


def working_copy(tmp_path, stub=()):
    """Lessons 04-08 as a learner has them: generated lessons, every exercise answered with the solution's code,
    except the exercises in `stub`, left as the lesson's stub."""
    for solution in sorted(SOLUTIONS.glob("0[4-8]_*.ipynb")):
        source = nbformat.read(solution, as_version=4)
        lesson = build_lesson(source, solution)
        for cell in lesson.cells:
            exercise = cell.metadata.get("gptlab", {}).get("exercise")
            if exercise and exercise not in stub:
                cell.source = exercise_cell(source, exercise).source
        nbformat.write(lesson, tmp_path / solution.name)
    return tmp_path


def test_own_parts_takes_the_learners_classes_and_names_a_stubbed_one(tmp_path, capsys):
    folder = working_copy(tmp_path, stub=("mlp",))
    set_strict(False)
    parts = own_parts("GPT", folder=folder)
    line = capsys.readouterr().out
    assert parts.metadata() == {"CausalSelfAttention": "learner", "LayerNorm": "learner", "MLP": "reference",
                                "Block": "learner", "GPT": "learner"}
    assert "MLP (skipped in 05_block.ipynb)" in " ".join(line.split()) and line.count("\n") <= 3
    model = parts["GPT"](__import__("gptlab").nn.model.GPTConfig.preset("tiny"))
    assert type(model.transformer.h[0].ln_1) is parts["LayerNorm"]
    assert type(model.transformer.h[0].attn).__module__ == "__gptlab_part_CausalSelfAttention__"


def test_an_editions_book_takes_the_english_lesson_it_lacks(tmp_path, capsys):
    # solutions/zh/ holds lesson 06 but not the untranslated 04 and 05: its parts come from solutions/ beside it
    folder = working_copy(tmp_path, stub=("mlp",))
    (folder / "zh").mkdir()
    set_strict(False)
    parts = own_parts("Block", folder=folder / "zh")
    assert parts.metadata() == {"CausalSelfAttention": "learner", "LayerNorm": "learner", "MLP": "reference",
                                "Block": "learner"}
    assert "MLP (skipped in 05_block.ipynb)" in " ".join(capsys.readouterr().out.split())
    (tmp_path / "other").mkdir()  # a folder that is not an edition's does not look beside itself
    assert set(own_parts("Block", folder=tmp_path / "other").metadata().values()) == {"reference"}


def _run(path, cwd):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


INSTRUMENT = "        import sys; sys.gptlab_ln_calls = getattr(sys, 'gptlab_ln_calls', 0) + 1\n"


@pytest.mark.slow
@pytest.mark.parametrize("stub", [(), ("mlp",)])
def test_lessons_05_to_08_train_save_and_sample_the_learners_own_gpt(tmp_path, monkeypatch, stub):
    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    folder = working_copy(tmp_path / "copy", stub) if (tmp_path / "copy").mkdir() is None else None
    block = folder / "05_block.ipynb"
    nb = nbformat.read(block, as_version=4)
    cell = exercise_cell(nb, "layer_norm")
    cell.source = cell.source.replace("    def forward(self, x: torch.Tensor) -> torch.Tensor:\n",
                                      "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n" + INSTRUMENT, 1)
    nbformat.write(nb, block)
    lesson07 = folder / "07_pretraining.ipynb"
    nb = nbformat.read(lesson07, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "train_loop(my_model" in c.source)
    nb.cells.insert(index, nbformat.v4.new_code_cell("import sys; sys.gptlab_ln_calls = 0"))
    nb.cells.insert(index + 2, nbformat.v4.new_code_cell("print('LN calls', sys.gptlab_ln_calls)"))
    nbformat.write(nb, lesson07)
    for name in ("05_block", "06_gpt_model"):
        _run(folder / f"{name}.ipynb", folder)
    ran = _run(lesson07, folder)
    text = "\n".join(o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.get("outputs", []))
    calls = int(text.split("LN calls ")[1].split()[0])
    assert calls >= 300 * (2 * 2 + 1)  # 2 blocks × 2 LayerNorms + ln_f, every one of 300 steps
    from gptlab.io.checkpoint import default_path, load_checkpoint

    meta = load_checkpoint(default_path("mine")).metadata
    expected = "reference" if stub else "learner"
    assert meta["parts"]["MLP"] == expected and meta["parts"]["LayerNorm"] == "learner"
    assert meta["trained_by"] == "train_loop in 07_pretraining.ipynb"
    if stub:
        assert "MLP (skipped in 05_block.ipynb)" in " ".join(text.split())

    # lesson 08 loads that checkpoint as "mine", says whose parts it is, and samples it
    ran = _run(folder / "08_generation.ipynb", folder)
    cell = next(c for c in ran.cells if c.cell_type == "code" and 'load("mine")' in c.source)
    shown = "".join(o.get("text", "") for o in cell.outputs)
    assert f"your model from lesson 07, parts: {meta['parts']}" in shown
    from gptlab.generation import generate
    from gptlab.io.checkpoint import load_model

    mine, tokenizer = load_model(default_path("mine"))
    [expected] = generate(mine, "ROMEO:\n", max_tokens=40, temperature=0.8, top_k=50, seed=0, tokenizer=tokenizer)
    assert expected.text.strip() and "ROMEO:\n" + expected.text in shown  # its sample, not the shipped model's
    assert not any(o.output_type == "error" for c in ran.cells if c.cell_type == "code" for o in c.get("outputs", []))


# --- lesson 12 serves the learner's "mine" ------------------------------------------------------------------

def _serve_mine_cell():
    """Lesson 12's cell that serves "mine", run on its own with the names its set-up cell imports."""
    nb = nbformat.read(SOLUTIONS / "12_serving.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.get("id") == "s12-mine")
    from openai import OpenAI

    from gptlab.generation import generate
    from gptlab.io.checkpoint import default_path, load_checkpoint
    from gptlab.serve import BackgroundServer, create_app

    names = dict(OpenAI=OpenAI, generate=generate, default_path=default_path, load_checkpoint=load_checkpoint,
                 BackgroundServer=BackgroundServer, create_app=create_app)
    exec(compile(source, "12_serving.ipynb:s12-mine", "exec"), names)
    return names


def test_lesson_12_serves_a_saved_mine_and_it_answers_through_the_openai_client(tmp_path, monkeypatch, capsys,
                                                                                make_gpt, tiny_tokenizer):
    import torch

    from gptlab.generation import generate
    from gptlab.io.checkpoint import default_path, save_checkpoint

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path))
    saved = make_gpt(dict(vocab_size=tiny_tokenizer.vocab_size, block_size=64), seed=3, eval=True)
    parts = {"CausalSelfAttention": "learner", "LayerNorm": "learner", "MLP": "reference", "Block": "learner",
             "GPT": "learner"}
    save_checkpoint(default_path("mine"), saved, tokenizer=tiny_tokenizer, step=1,
                    metadata={"parts": parts, "trained_by": "train_loop in 07_pretraining.ipynb"})
    names = _serve_mine_cell()
    out = " ".join(capsys.readouterr().out.split())
    assert (f"serving 'mine', {saved.num_params():,} parameters, built from your CausalSelfAttention, LayerNorm, "
            "Block, GPT; the reference's: MLP") in out
    served, answer = names["mine_model"], names["answer"]
    assert all(torch.equal(a, b) for a, b in zip(served.state_dict().values(), saved.state_dict().values()))
    assert answer.model == "mine" and len(answer.choices) == 1
    [expected] = generate(saved, "ROMEO:\n", max_tokens=40, stop="\n\n", temperature=0.8, seed=0, tokenizer=tiny_tokenizer)
    assert answer.choices[0].text == expected.text and answer.choices[0].finish_reason == expected.finish_reason
    assert answer.usage.completion_tokens == len(expected.token_ids) > 0
    assert not names["mine_server"].running  # the cell stops its server


def test_lesson_12_without_mine_says_so_in_one_line_and_goes_on(tmp_path, monkeypatch, capsys):
    from gptlab.io.checkpoint import default_path

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path))
    names = _serve_mine_cell()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no model of your own" in out and str(default_path("mine")) in out
    assert "lesson 07" in out and "answer" not in names
