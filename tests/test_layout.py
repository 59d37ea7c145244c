"""The package's rooms: the import rules hold (and the check fails when one is broken); the old import paths
of course 0.1 still work, for working copies and submissions made before the move."""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import gptlab
from gptlab._compat import MOVED, MOVED_PACKAGES, new_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gptlab"
OLD = ROOT / "tests" / "fixtures" / "pre-0.2"
LINT = Path(sys.executable).with_name("lint-imports")

# Public names of course 0.1 that are gone on purpose; everything else a 0.1 module offered still imports.
REMOVED = {
    "gptlab.model": {"config_to_json"},  # dead code (never called); json.dumps(asdict(config)) does it
    "gptlab.train": {"check_windows", "get_batch"},  # names the loop imported, not its own: still in gptlab.corpus
    "gptlab.train_cli": {"RECIPE", "build_data"},  # one recipe table now: gptlab.training.recipes
    # the checks' own copies of references: every reference lives in the library now (count_parameters in
    # gptlab.nn.model, next_token_loss and train_step in gptlab.training.loop, get_batch in gptlab.data.batches)
    "gptlab.checks.gpt": {"reference_count_parameters", "reference_gpt_forward"},
    "gptlab.checks.training": {"reference_get_batch", "reference_next_token_loss", "reference_train_step"},
    # responses are the openai package's types now (gptlab.serve.responses); the engine's events are dataclasses
    "gptlab.serve.schema": {"completion_chunk", "completion_object", "usage"},
    "gptlab.serve.app": {"ENDOFTEXT", "completion_object", "parse_completion_request"},  # names app.py imported
}


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_import_rules_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("file, line, broken", [
    ("nn/model.py", "import gptlab.course.checks.blocks", "The library never imports the course machinery"),
    ("nn/attention.py", "from gptlab.nn import layers", "No import circles"),
    ("topics/vision/model.py", "import gptlab.topics.seq2seq.model", "do not build on each other"),
    ("io/checkpoint.py", "import gptlab.training.loop", "Each room imports only the rooms below it"),
])
def test_the_import_check_fails_on_a_deliberate_violation(tmp_path, file, line, broken):
    shutil.copytree(PACKAGE, tmp_path / "gptlab", ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "gptlab" / file
    target.write_text(target.read_text() + f"\n{line}  # a deliberate violation\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    broken_section = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in broken_section, result.stdout[-3000:]


def test_the_package_never_imports_an_old_path():
    """Old names are for learners' notebooks only: inside the package every import names the new room."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "_compat" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names if new_name(name) is not None]
    assert offenders == []


@pytest.mark.parametrize("old", sorted(MOVED) + sorted(MOVED_PACKAGES))
def test_an_old_module_path_is_the_new_module_itself(old):
    assert importlib.import_module(old) is importlib.import_module(new_name(old))


def test_every_public_name_of_course_0_1_still_imports_from_its_old_module():
    recorded = json.loads((OLD / "public_names.json").read_text())
    assert len(recorded) > 80  # every module of 0.1
    missing = {}
    for module, names in recorded.items():
        found = importlib.import_module(module)
        lost = sorted(set(names) - REMOVED.get(module, set()) - set(dir(found)))
        if lost:
            missing[module] = lost
    assert missing == {}


def test_an_old_check_path_resolves_to_the_same_check():
    from gptlab.course.checks import resolve_check

    old = resolve_check("gptlab.checks.blocks.check_layer_norm")
    assert old is resolve_check("gptlab.course.checks.blocks.check_layer_norm")
    assert old.spec.exercise == "layer_norm"


def test_importing_the_command_line_does_not_import_torch():
    code = "import sys, gptlab.cli; gptlab.cli.build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.slow
def test_a_working_copy_made_before_the_move_runs_to_the_end(tmp_path):
    """A 0.1 lesson, its exercises skipped, old import lines and all: each check falls back and the lesson ends."""
    from nbclient import NotebookClient

    nb = nbformat.read(OLD / "05_block.lesson.ipynb", as_version=4)
    assert "from gptlab.checks.blocks import" in "".join(c.source for c in nb.cells)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert printed.count("skipped") >= 3
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.grading
def test_a_submission_made_before_the_move_gets_the_same_verdicts(tmp_path):
    from gptlab.course.grading.discover import load_course, read_submission
    from gptlab.course.grading.engine import grade_submission
    from gptlab.course.grading.sandbox import Limits

    course = load_course(ROOT / "lessons")
    limits = Limits(timeout=30, startup_timeout=60, memory_mb=1536, file_size_mb=16, nproc=24)
    old = [OLD / "00_welcome.ipynb", OLD / "05_block.ipynb"]
    new = [ROOT / "solutions" / "00_welcome.ipynb", ROOT / "solutions" / "05_block.ipynb"]
    verdicts = []
    for files in (old, new):
        report = grade_submission(read_submission("learner", files, course), course, limits=limits, seeds=[11, 12])
        verdicts.append({(r.lesson, r.exercise): (r.status, r.points) for r in report.rows if r.lesson in ("00", "05")})
    assert verdicts[0] == verdicts[1]
    assert {status for status, _ in verdicts[0].values()} == {"passed"} and len(verdicts[0]) == 4
    assert gptlab.__version__ == "0.2.0"
