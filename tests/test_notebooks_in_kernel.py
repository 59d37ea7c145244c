"""Notebooks in a real kernel: a broken solution fails (strict mode); a skipped lesson still runs."""

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from gptlab.course.authoring import build_lesson, exercises

ROOT = Path(__file__).resolve().parent.parent
WELCOME = ROOT / "solutions" / "00_welcome.ipynb"


def run(nb, directory):
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(directory)}}).execute()
    return nb


def softmax_cell(nb):
    return next(c for c in nb.cells if "exercise" in c.metadata.get("tags", []))


@pytest.mark.slow
def test_a_broken_solution_fails_with_the_mistakes_hint(tmp_path):
    nb = nbformat.read(WELCOME, as_version=4)
    cell = softmax_cell(nb)
    cell.source = cell.source.replace("x - x.amax(dim=-1, keepdim=True)", "x - x.max()")
    with pytest.raises(CellExecutionError) as info:
        run(nb, tmp_path)
    assert "CheckFailed" in str(info.value) and "subtracted the maximum of the whole tensor" in str(info.value)


@pytest.mark.slow
def test_a_lesson_with_a_wrong_answer_still_runs_to_the_end(tmp_path):
    """The lesson form of the same mistake: the check prints its hint, the reference takes over."""
    solution = nbformat.read(WELCOME, as_version=4)
    lesson = build_lesson(solution, WELCOME)
    cell = softmax_cell(lesson)
    cell.source = cell.source.replace("    # YOUR CODE HERE\n", "").replace(
        cell.source.splitlines()[-1], "    return x.exp() / x.exp().sum(dim=-1, keepdim=True)")
    run(lesson, tmp_path)
    index = lesson.cells.index(cell)
    printed = "".join(o.get("text", "") for o in lesson.cells[index + 1].outputs)
    assert printed.startswith("✗ softmax: exp overflows to inf")
    assert "Using the reference implementation so the lesson continues." in printed
    last = lesson.cells[-2]
    assert "T = 1.0: [0.529, 0.263, 0.107" in "".join(o.get("text", "") for o in last.outputs)  # the reference's numbers
    assert exercises(lesson)[0].id == "softmax"


@pytest.mark.slow
def test_looking_inside_runs_on_a_learners_own_small_untrained_model(tmp_path, monkeypatch):
    """Lesson 09 opens load("mine"): lesson 07's model (2 layers, 96 wide, context 128), or anything a learner
    saved. The notebook must run to the end on such a model, even one that learned nothing."""
    import torch

    from gptlab.io.checkpoint import default_path, save_checkpoint
    from gptlab.nn.model import GPT, GPTConfig
    from gptlab.io import load

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    _, tokenizer = load("shipped")
    torch.manual_seed(0)
    mine = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32))
    save_checkpoint(default_path("mine"), mine, tokenizer=tokenizer)
    nb = run(nbformat.read(ROOT / "solutions" / "09_looking_inside.ipynb", as_version=4), tmp_path)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "your own model from lesson 07" in printed and "2 layers × 2 heads, 32 wide" in printed
    assert "your model reads at most 64 tokens, fewer than two copies of 60: left out here" in printed
    assert printed.count("your model:") == 1 and "your model, layer by layer:" in printed   # ranked, lens; no copy test


@pytest.mark.slow
def test_rerunning_only_the_check_cell_after_a_fallback_does_not_print_a_pass(tmp_path):
    """In a real kernel: a wrong softmax falls back; running its check cell alone again must not say ✓."""
    solution = nbformat.read(WELCOME, as_version=4)
    lesson = build_lesson(solution, WELCOME)
    cell = softmax_cell(lesson)
    cell.source = cell.source.replace("    # YOUR CODE HERE\n", "").replace(
        cell.source.splitlines()[-1], "    return x.exp() / x.exp().sum(dim=-1, keepdim=True)")
    index = lesson.cells.index(cell)
    lesson.cells.insert(index + 2, nbformat.v4.new_code_cell(lesson.cells[index + 1].source))  # the check cell, again
    run(lesson, tmp_path)
    first = "".join(o.get("text", "") for o in lesson.cells[index + 1].outputs)
    again = " ".join("".join(o.get("text", "") for o in lesson.cells[index + 2].outputs).split())
    assert first.startswith("✗ softmax")
    assert "✓" not in again and "this is the reference from the last fallback" in again
