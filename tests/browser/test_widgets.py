"""Widgets after a restart, in a real browser: a saved panel says how to bring it back.

A small notebook shows lesson 08's sampling panel (gptlab.viz.generation.sampling_panel, on a tiny random
model) and lesson 09's attention explorer. Run in JupyterLab, the live widgets draw and their fallbacks (the
restart note, the explorer's snapshot) are hidden. Saved, the kernel shut down and the page opened again, the
widgets cannot be found ("Error displaying widget: model not found"), and the fallbacks show instead: the
note "run this cell to bring the panel back" and the explorer's labelled snapshot. Also: the sliders' labels
are not cut off. Screenshots: test-artifacts/browser/widgets-*.png.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import nbformat
import pytest

from test_lesson_09 import PANEL, _errors_in_outputs, _open, _prompts, _wait_idle

NAME = "widgets_restart.ipynb"
SOURCE = '''import torch
from gptlab.nn.model import GPT, GPTConfig
from gptlab.tokenizers import BPETokenizer
from gptlab.viz.attention import attention_explorer
from gptlab.viz.generation import sampling_panel

tok = BPETokenizer().train("ROMEO: But soft, what light through yonder window breaks? " * 4, vocab_size=280)
torch.manual_seed(0)
model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16)).eval()'''


def _notebook() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SOURCE),
                nbformat.v4.new_code_cell('sampling_panel(model, tok, "ROMEO:", max_tokens=5)'),
                nbformat.v4.new_code_cell('attention_explorer(model, tok, "But soft, what light")')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _run_all(page, timeout_s: float = 120) -> None:
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    deadline = time.monotonic() + timeout_s
    while True:
        errors = _errors_in_outputs(page)
        assert not errors, errors[0][-1500:]
        prompts = _prompts(page)
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            break
        assert time.monotonic() < deadline, f"the notebook did not finish within {timeout_s} s: {prompts}"
        page.wait_for_timeout(300)
    _wait_idle(page, 30)


def _shut_down_kernels(lab) -> None:
    with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}", timeout=5) as response:
        sessions = json.load(response)
    for session in sessions:
        if session.get("path", "").endswith(NAME):
            request = urllib.request.Request(f"{lab.url}/api/sessions/{session['id']}?token={lab.token}", method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()


def test_saved_panels_say_how_to_come_back_after_a_restart(lab, new_page, artifacts):
    nbformat.write(_notebook(), lab.root / NAME)
    state = new_page()
    page = state.page
    try:
        _open(state, lab, NAME)
        _run_all(page)
        panel = page.locator(f"{PANEL} .gptlab-sampling-panel")
        panel.wait_for(timeout=30_000)
        page.locator(f"{PANEL} .gptlab-explorer").wait_for(timeout=30_000)
        panel.screenshot(path=str(artifacts / "widgets-live-panel.png"))
        # live: both fallbacks are in the page but hidden by the style the live widgets carry
        fallbacks = page.locator(f"{PANEL} .gptlab-fallback")
        assert fallbacks.count() == 2
        assert not fallbacks.nth(0).is_visible() and not fallbacks.nth(1).is_visible()
        for label in ("temperature", "top-k (0 = off)", "top-p"):  # whole labels, not "temperat…"
            text = panel.locator(".widget-label", has_text=label).first
            assert text.evaluate("e => e.scrollWidth <= e.clientWidth"), f"the label {label!r} is cut off"

        page.keyboard.press("Control+s")
        page.wait_for_timeout(1500)
        _shut_down_kernels(lab)
        page.goto(lab.notebook_url(NAME))
        page.wait_for_selector(f"{PANEL} .jp-Notebook", timeout=60_000)
        note = page.locator(PANEL).get_by_text("run this cell to bring the panel back")
        note.wait_for(state="visible", timeout=30_000)
        snapshot = page.locator(f"{PANEL} .gptlab-fallback", has_text="A snapshot (layer 0, head 0)")
        snapshot.wait_for(state="visible", timeout=30_000)
        assert snapshot.locator("img").count() == 1
        page.screenshot(path=str(artifacts / "widgets-after-restart.png"), full_page=True)
        assert state.outside_requests == [] and state.page_errors == []
    finally:
        page.close()
