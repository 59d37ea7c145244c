"""Lesson 09 in a real browser: JupyterLab 4 + headless Chromium, no internet, first run.

The generated lesson (lessons/09_looking_inside.ipynb, exercise not done: the check falls back to the reference)
is opened in a fresh JupyterLab and all its cells are run from the Run menu, as a learner would. Then:
bertviz's head view and model view drew (their SVG holds the sentence's tokens and one line per head × token ×
token), no "require is not defined", no JavaScript error, no request left 127.0.0.1, the explorer's heat map
changes when the layer slider moves, and an empty text gets a message. The solution notebook, opened without
running it (its saved outputs are untrusted), shows the note that says how to make the views appear.
Screenshots: test-artifacts/browser/.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSON = "09_looking_inside.ipynb"
SOLUTION = "09_looking_inside_solution.ipynb"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
RUN_TIMEOUT_S = 240


def _sentence() -> str:
    """The sentence the lesson captures (its `sentence = "..."` line), so the test follows the notebook."""
    notebook = json.loads((ROOT / "lessons" / LESSON).read_text())
    for cell in notebook["cells"]:
        match = re.search(r"^sentence = (.+)$", "".join(cell["source"]), re.MULTILINE)
        if match:
            return ast.literal_eval(match.group(1))
    raise AssertionError("the lesson has no `sentence = ...` line")


@pytest.fixture(scope="module")
def expected(lab):
    """Token labels and sizes of the model the lesson loads, computed in this process with the lab's cache."""
    previous = os.environ.get("GPTLAB_CACHE")
    os.environ["GPTLAB_CACHE"] = lab.gptlab_cache
    try:
        import warnings

        import gptlab.io
        from gptlab.topics.interpret import token_labels

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, tokenizer = gptlab.io.load("shipped")   # the model the lesson opens (yours is only compared)
    finally:
        if previous is None:
            os.environ.pop("GPTLAB_CACHE", None)
        else:
            os.environ["GPTLAB_CACHE"] = previous
    labels = token_labels(tokenizer, tokenizer.encode(_sentence()))
    return {"tokens": labels, "T": len(labels), "n_layer": model.config.n_layer, "n_head": model.config.n_head}


def _wait_idle(page, timeout_s: float) -> None:
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_s * 1000)


def _kernel_state(lab, name: str) -> str | None:
    """The execution state of the kernel JupyterLab started for notebook `name`, from the server's REST API."""
    with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}", timeout=5) as response:
        sessions = json.load(response)
    for session in sessions:
        if session.get("path", "").endswith(name) and session.get("kernel"):
            return session["kernel"].get("execution_state")
    return None


def _open(state, lab, name: str, timeout_s: float = 90) -> None:
    """Open a notebook and wait until its kernel is started, connected and idle."""
    page = state.page
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(f"{PANEL} .jp-Notebook", timeout=60_000)
    deadline = time.monotonic() + timeout_s
    while _kernel_state(lab, name) != "idle":
        if time.monotonic() > deadline:
            page.screenshot(path=str(ROOT / "test-artifacts" / "browser" / f"no-kernel-{name}.png"))
            pytest.fail(f"no idle kernel for {name} after {timeout_s} s:\n{lab.log_tail()}", pytrace=False)
        page.wait_for_timeout(300)  # not time.sleep: the page's requests go through this process's route handler
    page.locator(".jp-KernelStatus, .jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=30_000)
    _wait_idle(page, 30)


def _prompts(page) -> list[str]:
    return page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt").evaluate_all("els => els.map(e => e.textContent.trim())")


def _errors_in_outputs(page) -> list[str]:
    texts = page.locator(f"{PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").evaluate_all(
        "els => els.map(e => e.textContent)")
    return [t for t in texts if "Traceback" in t or re.search(r"\w+Error\b", t)]


@pytest.fixture(scope="module")
def ran(lab, new_page, artifacts):
    """The lesson after Run ▸ Run All Cells, with every code cell executed and the kernel idle."""
    state = new_page()
    page = state.page
    started = time.monotonic()
    _open(state, lab, LESSON)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        prompts = _prompts(page)
        errors = _errors_in_outputs(page)
        if errors:
            page.screenshot(path=str(artifacts / "lesson09-error.png"), full_page=True)
            pytest.fail(f"a cell failed in the browser: {errors[0][-1500:]}", pytrace=False)
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            break
        if time.monotonic() > deadline:
            page.screenshot(path=str(artifacts / "lesson09-timeout.png"), full_page=True)
            pytest.fail(f"the lesson did not finish within {RUN_TIMEOUT_S} s; prompts: {prompts}\n{lab.log_tail()}", pytrace=False)
        page.wait_for_timeout(500)
    _wait_idle(page, 30)
    state.run_seconds = time.monotonic() - started
    page.screenshot(path=str(artifacts / "lesson09-full-page.png"), full_page=True)
    yield state
    page.close()


def _element_screenshot(locator, path) -> None:
    """A screenshot of one element, the viewport made tall enough to hold all of it."""
    page = locator.page
    size = page.viewport_size
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    if box and box["height"] + 200 > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(box["height"]) + 400})
        locator.scroll_into_view_if_needed()
    try:
        locator.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def _views(page):
    return page.locator(f"{PANEL} .gptlab-bertviz")


def test_every_cell_ran_without_an_error(ran):
    assert not _errors_in_outputs(ran.page)
    outputs = ran.page.locator(f"{PANEL} .jp-OutputArea")
    assert outputs.get_by_text("Javascript Error").count() == 0
    assert outputs.get_by_text("require is not defined").count() == 0


def test_the_head_view_drew_the_sentence_on_the_first_run(ran, expected, artifacts):
    head = _views(ran.page).nth(0)
    _element_screenshot(head, artifacts / "lesson09-head-view.png")
    labels = head.locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
    for token in expected["tokens"]:
        assert token in labels, f"token {token!r} missing from the head view's SVG labels {labels}"
    lines = head.locator("svg line").count()
    assert lines == expected["n_head"] * expected["T"] ** 2
    assert head.locator(".gptlab-untrusted-note").count() == 0  # the view's script ran and removed the note


def test_the_model_view_drew_every_layer_and_head(ran, expected, artifacts):
    view = _views(ran.page).nth(1)
    _element_screenshot(view, artifacts / "lesson09-model-view.png")
    assert view.locator("svg line").count() == expected["n_layer"] * expected["n_head"] * expected["T"] ** 2
    assert view.locator(".gptlab-untrusted-note").count() == 0


def test_each_view_has_a_static_picture_under_it(ran):
    for index in range(2):
        output_area = _views(ran.page).nth(index).locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' jp-OutputArea ')][1]")
        assert output_area.locator("img").count() >= 1


def test_moving_the_layer_slider_redraws_the_heat_map(ran, artifacts):
    page = ran.page
    explorer = page.locator(f"{PANEL} .gptlab-explorer")
    explorer.scroll_into_view_if_needed()
    image = explorer.locator(".gptlab-explorer-plot img")
    image.wait_for(timeout=30_000)
    before = image.get_attribute("src")
    explorer.screenshot(path=str(artifacts / "lesson09-explorer-layer0.png"))
    slider = explorer.locator(".widget-slider").nth(0)
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => { const img = el.querySelector('.gptlab-explorer-plot img'); return img && img.src !== old; }",
        arg=[explorer.element_handle(), before], timeout=30_000)
    assert slider.locator(".widget-readout").text_content().strip() == "1"
    explorer.screenshot(path=str(artifacts / "lesson09-explorer-layer1.png"))


def test_an_empty_text_gets_a_message_in_the_widget(ran, artifacts):
    page = ran.page
    explorer = page.locator(f"{PANEL} .gptlab-explorer")
    box = explorer.locator("input[type='text']")
    box.fill("")
    box.press("Enter")
    explorer.get_by_text("the text is empty").wait_for(timeout=30_000)
    explorer.screenshot(path=str(artifacts / "lesson09-explorer-empty-text.png"))
    assert not _errors_in_outputs(page)


def test_nothing_left_loopback_and_no_javascript_error(ran):
    assert ran.outside_requests == []
    assert ran.page_errors == []
    # JupyterLab itself logs nothing at error level on a clean run; anything here came from a view.
    assert ran.console_errors == []


def test_saved_views_that_cannot_run_say_how_to_show_them(lab, new_page, artifacts):
    """The solution's saved outputs are untrusted in a fresh JupyterLab: scripts stripped, the note shows."""
    state = new_page()
    try:
        _open(state, lab, SOLUTION)
        page = state.page
        note = page.locator(PANEL).get_by_text("trust the notebook").first
        note.wait_for(timeout=30_000)
        note.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "lesson09-untrusted-solution.png"))
        assert page.locator(PANEL).get_by_text("trust the notebook").count() == 2  # head view and model view
        assert page.locator(f"{PANEL} .jp-OutputArea-output img").count() >= 6  # the static pictures are there
        assert page.locator(f"{PANEL} svg line").count() == 0  # no view script ran
        assert state.outside_requests == [] and state.page_errors == []
    finally:
        state.page.close()
