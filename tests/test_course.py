"""The learner's working copy, `gptlab reset`, and `gptlab course` starting a real JupyterLab."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gptlab.cli import main
from gptlab.course import reset_lesson, sync_working_copy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lessons(tmp_path):
    directory = tmp_path / "lessons"
    directory.mkdir()
    for name in ["00_welcome.ipynb", "01_tokens.ipynb"]:
        (directory / name).write_text(f'{{"lesson": "{name}"}}')
    return directory


def test_lessons_are_copied_once_and_never_overwritten(lessons, tmp_path):
    work = tmp_path / "my-lessons"
    assert [p.name for p in sync_working_copy(lessons, work)] == ["00_welcome.ipynb", "01_tokens.ipynb"]
    (work / "00_welcome.ipynb").write_text("my answers")
    (lessons / "00_welcome.ipynb").write_text("a regenerated lesson")  # e.g. after a git pull
    (lessons / "02_embeddings.ipynb").write_text("a new lesson")
    assert [p.name for p in sync_working_copy(lessons, work)] == ["02_embeddings.ipynb"]
    assert (work / "00_welcome.ipynb").read_text() == "my answers"


def test_reset_asks_keeps_a_backup_and_restores(lessons, tmp_path):
    work = tmp_path / "my-lessons"
    sync_working_copy(lessons, work)
    (work / "01_tokens.ipynb").write_text("my answers")
    questions = []
    assert reset_lesson(lessons, work, "1", lambda q: questions.append(q) or False) is None
    assert (work / "01_tokens.ipynb").read_text() == "my answers" and len(questions) == 1
    backup = reset_lesson(lessons, work, "01", lambda q: True)
    assert backup.read_text() == "my answers"
    assert (work / "01_tokens.ipynb").read_text() == (lessons / "01_tokens.ipynb").read_text()


def test_reset_command_refuses_without_a_yes(lessons, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("gptlab.course.default_dirs", lambda: (lessons, tmp_path / "work"))
    sync_working_copy(lessons, tmp_path / "work")
    (tmp_path / "work" / "00_welcome.ipynb").write_text("mine")
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["reset", "00"]) == 1
    assert (tmp_path / "work" / "00_welcome.ipynb").read_text() == "mine"
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["reset", "00"]) == 0
    assert "Your previous version is kept at" in capsys.readouterr().out
    assert main(["reset", "07"]) == 2
    assert "no lesson 07" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_course_command_opens_the_working_copy_in_jupyterlab(tmp_path):
    port, token = _free_port(), "gptlab-test-token"
    work = tmp_path / "my-lessons"
    env = dict(os.environ, GPTLAB_WORKDIR=str(work), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    server = subprocess.Popen(
        [sys.executable, "-m", "gptlab", "course", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, listing = time.time() + 60, None
        while time.time() < deadline and listing is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=2) as r:
                    listing = json.load(r)
            except OSError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer within 60 s"
        names = {item["name"] for item in listing["content"]}
        lessons = {p.name for p in (ROOT / "lessons").glob("*.ipynb")}
        assert lessons and lessons <= names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5) as r:
            assert r.status == 200 and "JupyterLab" in r.read().decode()
        url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"
        with urllib.request.urlopen(url, timeout=5) as r:
            defaults = {k: v["default"] for k, v in json.load(r)["schema"]["properties"].items()}
        # the course's overrides become the defaults (JupyterLab's own: fetchNews "none", checkForUpdates true)
        assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False  # a quiet JupyterLab
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert "Notebook 7" not in output  # nbclassic's banner is off


def test_lessons_the_course_changed_since_they_were_copied_are_named(tmp_path):
    from gptlab.course.workdir import changed_lessons

    lessons, work = tmp_path / "lessons", tmp_path / "work"
    shutil_copy = __import__("shutil").copytree
    shutil_copy(ROOT / "lessons", lessons)
    sync_working_copy(lessons, work)
    mine = json.loads((work / "03_self_attention.ipynb").read_text())
    mine["cells"][3]["source"] = ["my own answer"]  # the learner's edits are not a change of the course
    (work / "03_self_attention.ipynb").write_text(json.dumps(mine))
    assert changed_lessons(lessons, work) == []
    newer = json.loads((lessons / "05_block.ipynb").read_text())
    newer["cells"][0]["source"] = ["# 05 · The block, revised"]
    newer["metadata"]["gptlab"]["fingerprint"] = "0123456789abcdef"
    (lessons / "05_block.ipynb").write_text(json.dumps(newer))
    old = json.loads((work / "00_welcome.ipynb").read_text())
    del old["metadata"]["gptlab"]["fingerprint"], old["metadata"]["gptlab"]["course_version"]  # a copy from 0.1
    (work / "00_welcome.ipynb").write_text(json.dumps(old))
    assert [(lesson, was) for lesson, was, _ in changed_lessons(lessons, work)] == [("00", "0.1 or older"), ("05", "0.2.0")]
