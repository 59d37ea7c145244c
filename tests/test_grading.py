"""The grader: verdicts from trusted code only, a batch that survives hostile and broken submissions.

Every submission here is built from the course's own notebooks: a good one puts the solution's source
in each exercise cell, a skipped one keeps the lesson's stub, a wrong one puts a catalog mistake's
source there. Adding a lesson adds its cases to `test_each_lesson_grades_good_skipped_and_wrong`
with no edit here. Run alone with `pytest tests/test_grading.py` or `-m slow` (it starts sandboxes).
"""

from __future__ import annotations

import copy
import csv
import html
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gptlab.course.checks import resolve_check
from gptlab.cli import main
from gptlab.course.grading import integrity
from gptlab.course.grading.batch import grade_folder
from gptlab.course.grading.discover import find_submissions, load_course, read_submission
from gptlab.course.grading.engine import LearnerReport, grade_submission
from gptlab.course.grading.report import escape_markdown, feedback_html, feedback_markdown, write_outputs
from gptlab.course.grading.sandbox import Limits, probe_isolation
from gptlab.course.grading.serialize import Opaque, decode_outcomes, encode_outcomes

pytestmark = [pytest.mark.slow, pytest.mark.grading]

ROOT = Path(__file__).resolve().parent.parent
LESSONS, SOLUTIONS = ROOT / "lessons", ROOT / "solutions"
COURSE = load_course(LESSONS)
FAST = Limits(timeout=6, startup_timeout=60, memory_mb=1536, file_size_mb=16, nproc=24)


# --- building submissions from the course's notebooks -----------------------------------------------


def lesson_nb(lesson: str) -> dict:
    return json.loads(COURSE.lessons[lesson].path.read_text(encoding="utf-8"))


def exercise_cells(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["gptlab"]["exercise"]: c for c in nb["cells"] if "exercise" in c["metadata"].get("tags", [])}


def solution_source(lesson: str, exercise: str) -> str:
    for path in SOLUTIONS.glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if nb["metadata"].get("gptlab", {}).get("lesson") == lesson:
            return "".join(exercise_cells(nb)[exercise]["source"])
    raise KeyError(lesson)


def mistake_source(check: str, name: str, index: int = 0) -> tuple[str, object]:
    """A cell that reproduces a catalog mistake, under the exercise's name.

    A plain function: its own source (inspect.getsource), renamed. A class (which subclasses the reference
    in the catalog; the grader rejects subclasses of the reference): the reference's source, renamed,
    then the mistake's methods on top of it. A lambda or closure: a function that calls it.
    """
    spec = resolve_check(check).spec
    mistake = spec.mistakes[index]
    impl, modules = mistake.impl, [mistake.impl.__module__]
    code = getattr(impl, "__code__", None)
    if inspect.isclass(impl):
        chain = [c for c in reversed(impl.__mro__) if c.__module__.startswith("gptlab")]  # reference ... mistake
        modules = list(dict.fromkeys(c.__module__ for c in chain))
        parts = []
        for i, cls in enumerate(chain):
            header, body = textwrap.dedent(inspect.getsource(cls)).split("\n", 1)
            own = name if cls is impl else f"_Own{i}"
            header = header.replace(f"class {cls.__name__}", f"class {own}", 1) if i == 0 else f"class {own}(_Own{i - 1}):"
            parts.append(header + "\n" + body)
        source = "\n\n".join(parts)
    elif code is not None and not code.co_freevars and impl.__name__ != "<lambda>":
        source = textwrap.dedent(inspect.getsource(impl)).replace(f"def {impl.__name__}(", f"def {name}(", 1)
    else:
        source = (f"from gptlab.course.checks import resolve_check\n_impl = resolve_check({check!r}).spec.mistakes[{index}].impl\n"
                  f"def {name}(*args, **kwargs):\n    return _impl(*args, **kwargs)\n")
    prelude = "import importlib as _il\n" + "".join(
        f"globals().update({{k: v for k, v in vars(_il.import_module({m!r})).items() if not k.startswith('__') and k != {name!r}}})\n"
        for m in modules)
    return prelude + source, mistake


def make_submission(lesson: str, kind: str, **sources: str) -> dict:
    """The lesson's notebook with each exercise cell made good / skipped / wrong (or given `sources`)."""
    nb = copy.deepcopy(lesson_nb(lesson))
    for exercise in COURSE.lessons[lesson].exercises:
        cell = exercise_cells(nb)[exercise.id]
        if exercise.id in sources:
            cell["source"] = sources[exercise.id]
        elif kind == "good":
            cell["source"] = solution_source(lesson, exercise.id)
        elif kind == "wrong":
            cell["source"] = mistake_source(exercise.check, exercise.name)[0]
    return nb


def write_nb(path: Path, nb: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb if isinstance(nb, str) else json.dumps(nb), encoding="utf-8")
    return path


def rows_by_learner(reports: list[LearnerReport]) -> dict[str, list]:
    return {r.learner: r.rows for r in reports}


# --- the hostile corpus (lesson 00's first exercise; the sources are generic in its name) -------------------

L0 = next(iter(COURSE.lessons))
EX = COURSE.lessons[L0].exercises[0]
GOOD = solution_source(L0, EX.id)
SPEC = resolve_check(EX.check).spec


def hostile_sources(tmp: Path, subs: Path, out: Path) -> dict[str, str]:
    name, ref = EX.name, SPEC.reference
    return {
        "infinite_loop": f"def {name}(*args, **kwargs):\n    while True:\n        pass\n",
        "sys_exit": f"import sys\ndef {name}(*args, **kwargs):\n    sys.exit(3)\n",
        "os_exit": "import os\nos._exit(7)\n" + GOOD,
        "segfault": "import ctypes\nctypes.string_at(0)\n" + GOOD,
        # bytes(n) is calloc'd, so the address-space limit is reached with no pages touched: the hog needs no CPU
        # time, and still ends in MemoryError while a fork bomb in the same batch spins
        "memory_hog": "blocks = []\nwhile True:\n    blocks.append(bytes(64 * 2**20))\n" + GOOD,
        "niceness": "import os\nraise ValueError(f'runs at niceness {os.nice(0)}')\n",  # the lowest CPU priority
        "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n" + GOOD,
        "huge_output": "for _ in range(200_000):\n    print('x' * 10_000)\n" + GOOD,  # 2 GB of print()
        "deleter": (f"import os, shutil, gptlab.nn.layers\nshutil.rmtree({str(subs)!r}, ignore_errors=True)\n"
                    f"shutil.rmtree({str(out)!r}, ignore_errors=True)\n"
                    "try:\n    os.remove(gptlab.nn.layers.__file__)\nexcept OSError:\n    pass\n"
                    "try:\n    open(gptlab.nn.layers.__file__, 'a').write('\\nBROKEN = 1\\n')\nexcept OSError:\n    pass\n" + GOOD),
        "monkeypatch": (mistake_source(EX.check, name)[0] +
                        "import gptlab.course.checks.core as _core\nfrom gptlab.course.checks.core import Result\n"
                        f"_core.judge = lambda spec, outcomes, seed=0: Result({EX.id!r}, 'passed', 'ok')\n"
                        f"_core.same = lambda *a, **k: True\n"
                        f"from gptlab.course.checks import get_spec\nget_spec({EX.id!r}).reference = {name}\n"
                        f"get_spec({EX.id!r}).mistakes.clear()\n"
                        f"print('✓ {EX.id} — all 8 cases match')\n"
                        f"try:\n    open({str(out / 'grades.csv')!r}, 'w').write('learner,total\\nmonkeypatch,999\\n')\n"
                        "except OSError:\n    pass\n"),
        "binds_reference": f"from {ref.__module__} import {ref.__name__} as {name}\n",
        "binds_via_spec": f"from gptlab.course.checks import get_spec\n{name} = get_spec({EX.id!r}).reference\n",
        "wraps_reference": (f"import {ref.__module__} as _m\ndef {name}(*args, **kwargs):\n"
                            f"    return _m.{ref.__name__}(*args, **kwargs)\n"),
        "hard_coded": (f"from gptlab.course.checks import get_spec\nfrom gptlab.course.checks.core import same\n"
                       f"_spec = get_spec({EX.id!r})\n"
                       "_table = [(c.args, _spec.reference(*c.args)) for c in _spec.make_cases(0)]\n"
                       f"def {name}(*args):\n    for known, answer in _table:\n"
                       "        if same(known, args, 0.0, 0.0):\n            return answer.clone()\n"
                       "    return args[0] * 0\n"),
        "raises_html": f"def {name}(*args, **kwargs):\n    raise ValueError('<img src=x onerror=alert(1)> & |pipe|')\n",
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    subs, out = tmp / "submissions", tmp / "out"
    out.mkdir()
    (out / "grades.csv").write_text("placeholder\n")
    write_nb(subs / "good" / "lesson.ipynb", make_submission(L0, "good"))
    write_nb(subs / "carol__renamed_by_platform-2.ipynb", make_submission(L0, "good"))  # flat file naming
    write_nb(subs / "skipped" / "a.ipynb", make_submission(L0, "skipped"))
    write_nb(subs / "wrong" / "b.ipynb", make_submission(L0, "wrong"))
    own_setup = make_submission(L0, "good")
    next(c for c in own_setup["cells"] if "setup" in c["metadata"].get("tags", []))["source"] = "import os\nos._exit(9)\n"
    write_nb(subs / "edited_setup" / "c.ipynb", own_setup)
    write_nb(subs / "invalid_json" / "x.ipynb", '{"cells": [\n\n  oops\n')
    other = make_submission(L0, "good")
    other["metadata"].pop("gptlab")
    write_nb(subs / "other_course" / "y.ipynb", other)
    renamed = make_submission(L0, "good")
    cell = exercise_cells(renamed)[EX.id]
    cell["metadata"], cell["id"] = {}, "brandnew1"
    write_nb(subs / "renamed_cells" / "z.ipynb", renamed)
    for learner, source in hostile_sources(tmp, subs, out).items():
        write_nb(subs / learner / "n.ipynb", make_submission(L0, "good", **{EX.id: source}))
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    package = integrity.snapshot(integrity.package_root())
    result = grade_folder(subs, COURSE, out / "state", jobs=2, limits=FAST)
    write_outputs(result.reports, COURSE, out / "grades.csv", out / "feedback")
    return {"subs": subs, "out": out, "result": result, "before": before, "package": package,
            "rows": rows_by_learner(result.reports)}


def only(rows):
    """The row of lesson 00's first exercise (the corpus submits only that lesson)."""
    return next(r for r in rows if (r.lesson, r.exercise) == (L0, EX.id))


def test_good_submissions_pass_with_full_points(corpus):
    for learner in ["good", "carol", "edited_setup", "huge_output", "deleter"]:
        row = only(corpus["rows"][learner])
        assert (row.status, row.points) == ("passed", EX.points), (learner, row)


def test_skipped_and_wrong_get_zero_and_the_catalog_hint(corpus):
    skipped, wrong = only(corpus["rows"]["skipped"]), only(corpus["rows"]["wrong"])
    assert (skipped.status, skipped.points) == ("skipped", 0)
    mistake = SPEC.mistakes[0]
    assert (wrong.status, wrong.points, wrong.mistake) == ("failed", 0, mistake.name)
    assert wrong.hint == f"{EX.id}: {mistake.hint}"
    md = (corpus["out"] / "feedback" / "wrong.md").read_text()
    page = (corpus["out"] / "feedback" / "wrong.html").read_text()
    assert escape_markdown(wrong.hint) in md and html.escape(wrong.hint) in page


@pytest.mark.parametrize("learner, status, words", [
    ("invalid_json", "missing", "not a notebook: invalid JSON at line 3"),
    ("other_course", "missing", "not a notebook of this course"),
    ("renamed_cells", "missing", f"no exercise cell for {EX.id!r}"),
    ("infinite_loop", "error", f"timed out after {FAST.timeout:g} s in the softmax cell"),
    ("fork_bomb", "error", f"timed out after {FAST.timeout:g} s in the softmax cell"),
    ("sys_exit", "error", "SystemExit"),
    ("os_exit", "error", "exit with status 7"),
    ("segfault", "error", "segmentation fault"),
    ("memory_hog", "error", "MemoryError"),
    ("niceness", "error", "runs at niceness 19"),
    ("binds_reference", "failed", "the course's own implementation"),
    ("binds_via_spec", "failed", "the course's own implementation"),
    ("wraps_reference", "failed", "calls the course's reference"),
    ("hard_coded", "failed", "passes the lesson's cases but not fresh ones"),
    ("monkeypatch", "failed", SPEC.mistakes[0].hint),
    ("raises_html", "failed", "raised ValueError"),
])
def test_each_bad_submission_gets_a_row_with_a_clear_reason(corpus, learner, status, words):
    report = next(r for r in corpus["result"].reports if r.learner == learner)
    row = only(report.rows)
    assert row.status == status and row.points == 0, row
    assert words in row.hint + " ".join(report.problems), (row.hint, report.problems)


def test_nothing_a_submission_does_changes_files_outside_its_sandbox(corpus):
    after = {p: p.read_bytes() for p in corpus["subs"].rglob("*") if p.is_file()}
    assert after == corpus["before"]
    # Other files of the package may change while the suite runs (an editor); the deleter's target may not.
    changed = integrity.changes(corpus["package"], integrity.snapshot(integrity.package_root()))
    assert not [line for line in changed if line.endswith("layers.py")]
    assert not [t for r in corpus["result"].reports for t in r.tampering if "layers.py" in t]
    gradebook = list(csv.DictReader((corpus["out"] / "grades.csv").open()))
    assert {row["learner"]: row["total"] for row in gradebook}["monkeypatch"] == "0"
    assert len(gradebook) == len(corpus["rows"])


def test_outputs_gradebook_long_json_and_escaped_feedback(corpus):
    out = corpus["out"]
    header = next(csv.reader((out / "grades.csv").open()))
    assert header == ["learner", *[f"{l.lesson}/{e.id}" for l, e in COURSE.all_exercises()], "total", "max_total",
                      "passed", "notes"]
    long = list(csv.DictReader((out / "grades_long.csv").open()))
    assert {"learner", "lesson", "exercise", "passed", "status", "hint", "points", "seconds"} <= set(long[0])
    data = json.loads((out / "grades.json").read_text())
    assert len(data["rows"]) == len(long) == len(corpus["rows"]) * len(COURSE.all_exercises())
    page = (out / "feedback" / "raises_html.html").read_text()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    md = (out / "feedback" / "raises_html.md").read_text()
    assert "<img" not in md and "\\|pipe\\|" in md


def test_a_rerun_skips_learners_already_graded_and_regrades_changed_ones(corpus, tmp_path):
    subs = tmp_path / "subs"
    write_nb(subs / "a" / "n.ipynb", make_submission(L0, "good"))
    write_nb(subs / "b" / "n.ipynb", make_submission(L0, "skipped"))
    state = tmp_path / "state"
    first = grade_folder(subs, COURSE, state, limits=FAST)
    assert sorted(first.graded) == ["a", "b"]
    (state / "a.json").unlink()  # as if the batch was interrupted before a was saved
    write_nb(subs / "b" / "n.ipynb", make_submission(L0, "good"))  # b handed in again
    again = grade_folder(subs, COURSE, state, limits=FAST)
    assert sorted(again.graded) == ["a", "b"] and again.resumed == []
    third = grade_folder(subs, COURSE, state, limits=FAST)
    assert third.graded == [] and sorted(third.resumed) == ["a", "b"]
    assert [only(rep.rows).status for rep in third.reports] == ["passed", "passed"]


@pytest.mark.parametrize("lesson", list(COURSE.lessons))
def test_each_lesson_grades_good_skipped_and_wrong(lesson, tmp_path):
    for kind in ["good", "skipped", "wrong"]:
        write_nb(tmp_path / kind / "n.ipynb", make_submission(lesson, kind))
    rows = rows_by_learner(grade_folder(tmp_path, COURSE, tmp_path / ".state", jobs=2, limits=FAST).reports)
    for lesson_, exercise in COURSE.all_exercises():
        if lesson_.lesson != lesson:
            continue
        get = lambda who: next(r for r in rows[who] if r.exercise == exercise.id)  # noqa: E731
        assert (get("good").status, get("good").points) == ("passed", exercise.points)
        assert (get("skipped").status, get("skipped").points) == ("skipped", 0)
        mistake = mistake_source(exercise.check, exercise.name)[1]
        assert (get("wrong").status, get("wrong").mistake, get("wrong").points) == ("failed", mistake.name, 0)


def test_secret_seeds_are_fresh_each_run():
    sub = read_submission("x", [], COURSE)
    seeds = [grade_submission(sub, COURSE, limits=FAST).seeds for _ in range(2)]
    assert seeds[0][0] == seeds[1][0] == 0 and seeds[0][1:] != seeds[1][1:]


def test_cli_grade_check_and_handout(tmp_path, capsys):
    subs = tmp_path / "subs"
    write_nb(subs / "=evil|<b>" / "n.ipynb", make_submission(L0, "wrong"))
    good = write_nb(tmp_path / "mine" / "00.ipynb", make_submission(L0, "good"))
    assert main(["grade", str(subs), "--out", str(tmp_path / "g.csv"), "--timeout", "6", "--no-progress"]) == 0
    rows = list(csv.reader((tmp_path / "g.csv").open()))
    assert rows[1][0] == "'=evil|<b>"  # no spreadsheet formula, name kept
    pages = list((tmp_path / "feedback").glob("*.html"))
    body = pages[0].read_text().split("<body>", 1)[1]
    assert len(pages) == 1 and "=evil|&lt;b&gt;" in body and "=evil|<b>" not in body
    capsys.readouterr()
    assert main(["check", str(good), "--timeout", "6"]) == 0
    table = capsys.readouterr().out
    assert EX.id in table and "passed" in table
    wrong = write_nb(tmp_path / "mine" / "wrong.ipynb", make_submission(L0, "wrong"))
    assert main(["check", str(wrong), "--timeout", "6"]) == 1
    assert SPEC.mistakes[0].hint in " ".join(capsys.readouterr().out.split())
    assert main(["handout", str(tmp_path / "handout")]) == 0
    handed = sorted(p.name for p in (tmp_path / "handout").iterdir())
    assert "HOWTO.md" in handed and len(handed) == len(list(SOLUTIONS.glob("*.ipynb"))) + 1
    for path in (tmp_path / "handout").glob("*.ipynb"):
        assert "BEGIN SOLUTION" not in path.read_text()


def test_check_reports_the_lessons_of_the_files_given_and_defaults_to_the_working_copy(tmp_path, capsys, monkeypatch):
    good = write_nb(tmp_path / "mine" / "00.ipynb", make_submission(L0, "good"))
    assert main(["check", str(good), "--timeout", "6"]) == 0
    table = capsys.readouterr().out
    points = sum(e.points for e in COURSE.lessons[L0].exercises)
    assert f"{points}/{points} points" in table and "not submitted" not in table  # lesson 00 alone, not all 14
    work = tmp_path / "work"
    write_nb(work / "00_welcome.ipynb", make_submission(L0, "good"))
    monkeypatch.setenv("GPTLAB_WORKDIR", str(work))
    assert main(["check", "--timeout", "6"]) == 0
    assert f"checking your working copy {work}" in capsys.readouterr().out


def test_grade_covers_the_assigned_lessons_only(tmp_path):
    subs = tmp_path / "subs"
    write_nb(subs / "ada" / "00.ipynb", make_submission(L0, "good"))
    out = tmp_path / "g.csv"
    assert main(["grade", str(subs), "--out", str(out), "--lesson", L0, "--timeout", "6", "--no-progress"]) == 0
    header, row = list(csv.reader(out.open()))[:2]
    points = sum(e.points for e in COURSE.lessons[L0].exercises)
    assert row[header.index("total")] == row[header.index("max_total")] == str(points)
    assert all(not h.startswith(("01", "02", "13")) for h in header)  # no columns for lessons not assigned
    feedback = next((tmp_path / "feedback").glob("*.md")).read_text()
    assert "not submitted" not in feedback
    assert main(["grade", str(subs), "--out", str(out), "--lesson", "99", "--timeout", "6", "--no-progress"]) == 2


GRADESCOPE_SCHEMA = Path(__file__).parent / "fixtures" / "gradescope-results.schema.json"


def _fake_python(folder: Path, name: str, version: tuple[int, int]) -> None:
    """An executable `name` that answers setup.sh's version check as Python `version` would."""
    script = folder / name
    script.write_text(f"#!/bin/sh\nexit {0 if version >= (3, 11) else 1}\n")
    script.chmod(0o755)


def test_the_gradescope_setup_picks_a_python_the_course_supports(tmp_path):
    from gptlab.course.grading.gradescope import SETUP_SH

    setup = tmp_path / "setup.sh"
    setup.write_text(SETUP_SH.format(torch="2.13.0"))
    ubuntu = tmp_path / "ubuntu22"  # Gradescope's default image: python3 is 3.10
    ubuntu.mkdir()
    _fake_python(ubuntu, "python3", (3, 10))
    which = lambda path: subprocess.run(["/bin/bash", str(setup), "--which-python"], env={"PATH": str(path)},  # noqa: E731
                                        capture_output=True, text=True)
    assert which(ubuntu).returncode != 0  # none fits: setup.sh would install python3.11 from deadsnakes
    _fake_python(ubuntu, "python3.11", (3, 11))
    assert which(ubuntu).stdout.strip() == str(ubuntu / "python3.11")
    newer = tmp_path / "ubuntu24"
    newer.mkdir()
    _fake_python(newer, "python3", (3, 12))
    assert which(newer).stdout.strip() == str(newer / "python3")


def test_gradescope_bundle_runs_on_one_submission(tmp_path):
    import jsonschema

    assert main(["grade", "--gradescope", str(tmp_path / "bundle"), "--lesson", L0]) == 0
    bundle = tmp_path / "bundle"
    assert (bundle / "setup.sh").exists() and (bundle / "autograder.zip").exists()
    write_nb(tmp_path / "submission" / "whatever.ipynb", make_submission(L0, "good"))
    env = dict(os.environ, GPTLAB_PYTHON=sys.executable, GPTLAB_SUBMISSION_DIR=str(tmp_path / "submission"),
               GPTLAB_RESULTS=str(tmp_path / "results" / "results.json"), GPTLAB_LESSONS=str(bundle / "lessons"),
               GPTLAB_TIMEOUT="6")
    done = subprocess.run(["bash", str(bundle / "run_autograder")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(results, json.loads(GRADESCOPE_SCHEMA.read_text()))
    assert results["score"] == sum(e.points for e in COURSE.lessons[L0].exercises) > 0
    for test in results["tests"]:
        assert test["status"] == "passed"


@pytest.mark.skipif(os.environ.get("GPTLAB_SKIP_INSTALL_TESTS") == "1", reason="GPTLAB_SKIP_INSTALL_TESTS=1")
def test_the_gradescope_bundle_installs_into_a_fresh_venv_and_grades(tmp_path):
    """setup.sh as Gradescope runs it (minus apt): the interpreter it picks, a fresh venv, torch and gptlab from the
    bundle's own source; then run_autograder in that venv. About two minutes (pip, from its cache)."""
    import jsonschema

    assert main(["grade", "--gradescope", str(tmp_path / "bundle"), "--lesson", L0]) == 0
    bundle, venv = tmp_path / "bundle", tmp_path / "venv"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))},
           "GPTLAB_SKIP_APT": "1", "GPTLAB_TORCH_INDEX": "", "GPTLAB_SOURCE": str(bundle), "GPTLAB_VENV": str(venv),
           "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(sys.prefix))}
    done = subprocess.run(["bash", str(bundle / "setup.sh")], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    chosen = next(line for line in done.stdout.splitlines() if line.startswith("using "))
    assert not chosen.split()[1].startswith(sys.prefix)  # a system interpreter, not this test's venv
    write_nb(tmp_path / "submission" / "x.ipynb", make_submission(L0, "wrong"))
    grade_env = dict(env, GPTLAB_PYTHON=str(venv / "bin" / "python"), GPTLAB_SUBMISSION_DIR=str(tmp_path / "submission"),
                     GPTLAB_RESULTS=str(tmp_path / "results.json"), GPTLAB_LESSONS=str(bundle / "lessons"), GPTLAB_TIMEOUT="20")
    graded = subprocess.run(["bash", str(bundle / "run_autograder")], env=grade_env, capture_output=True, text=True,
                            timeout=300)
    assert graded.returncode == 0, graded.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    jsonschema.validate(results, json.loads(GRADESCOPE_SCHEMA.read_text()))
    assert results["score"] == 0 and SPEC.mistakes[0].hint.split(":")[0] in " ".join(results["tests"][0]["output"].split())


def test_outcomes_cross_the_boundary_without_pickle():
    import torch

    from gptlab.course.checks.core import Outcome

    tensors: dict = {}
    values = [torch.arange(6.0).reshape(2, 3)[:, 1:], (1, 2.5, float("nan")), {"a": [True, None, "s"], 3: 4},
              Outcome(error_type="ValueError", error_message="bad"), object()]
    outcomes = [v if isinstance(v, Outcome) else Outcome(value=v) for v in values]
    back = decode_outcomes(json.loads(json.dumps(encode_outcomes(outcomes, tensors))), tensors)
    assert torch.equal(back[0].value, values[0]) and back[1].value[:2] == (1, 2.5) and back[1].value[2] != back[1].value[2]
    assert back[2].value == {"a": [True, None, "s"], 3: 4} and back[3].error_type == "ValueError"
    assert isinstance(back[4].value, Opaque) and back[4].value != back[4].value


def test_the_sandbox_reports_what_it_can_do_here():
    text = probe_isolation().describe()
    assert text.startswith("sandbox:")
    if os.geteuid() == 0:
        assert "uid 65534" in text


# --- the Chinese edition grades exactly like the English ------------------------------------------------------

ZH_LESSONS = sorted(p.stem.split("_")[0] for p in (LESSONS / "zh").glob("*.ipynb"))


def chinese_submission(lesson: str, kind: str) -> dict:
    """The Chinese edition's notebook (lessons/zh/) with the very code cells of the English submission."""
    english = make_submission(lesson, kind)
    nb = json.loads((LESSONS / "zh" / COURSE.lessons[lesson].path.name).read_text(encoding="utf-8"))
    for exercise_id, cell in exercise_cells(nb).items():
        cell["source"] = exercise_cells(english)[exercise_id]["source"]
    return nb


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """Good, skipped and wrong submissions of every lesson with a Chinese edition, once per edition, graded."""
    subs = tmp_path_factory.mktemp("editions")
    course = COURSE.only(ZH_LESSONS)
    for kind in ["good", "skipped", "wrong"]:
        for lesson in ZH_LESSONS:
            write_nb(subs / "in" / f"en-{kind}" / f"{lesson}.ipynb", make_submission(lesson, kind))
            write_nb(subs / "in" / f"zh-{kind}" / f"{lesson}.ipynb", chinese_submission(lesson, kind))
    result = grade_folder(subs / "in", course, subs / "state", jobs=2, limits=FAST)
    write_outputs(result.reports, course, subs / "grades.csv", subs / "feedback")
    return {"subs": subs, "course": course, "result": result, "reports": {r.learner: r for r in result.reports}}


def test_some_lessons_have_a_chinese_edition_to_grade():
    assert ZH_LESSONS[:3] == ["00", "01", "02"]


@pytest.mark.parametrize("kind", ["good", "skipped", "wrong"])
def test_a_chinese_submission_gets_the_english_ones_verdicts(editions, kind):
    en, zh = editions["reports"][f"en-{kind}"], editions["reports"][f"zh-{kind}"]
    assert (en.lang, zh.lang) == ("en", "zh")  # read from metadata.gptlab.lang of the submitted notebooks
    verdicts = lambda report: [(r.lesson, r.exercise, r.status, r.mistake, r.points) for r in report.rows]  # noqa: E731
    assert verdicts(zh) == verdicts(en)
    assert (zh.total, zh.max_total) == (en.total, en.max_total)
    expected = {"good": "passed", "skipped": "skipped", "wrong": "failed"}[kind]
    assert {r.status for r in en.rows} == {expected}
    assert zh.problems == en.problems == []


def test_the_chinese_feedback_names_the_mistake_in_chinese(editions):
    from gptlab.course.messages import say, text

    en, zh = editions["reports"]["en-wrong"], editions["reports"]["zh-wrong"]
    md = (editions["subs"] / "feedback" / "zh-wrong.md").read_text(encoding="utf-8")
    page = (editions["subs"] / "feedback" / "zh-wrong.html").read_text(encoding="utf-8")
    english_md = (editions["subs"] / "feedback" / "en-wrong.md").read_text(encoding="utf-8")
    for lesson, exercise in editions["course"].all_exercises():
        mistake = mistake_source(exercise.check, exercise.name)[1]
        chinese_hint = text(f"{exercise.id}.mistake.{mistake.name}", mistake.hint, lang="zh")
        assert chinese_hint != mistake.hint  # translated (every exercise of lessons 00-02 is)
        zh_row = next(r for r in zh.rows if r.exercise == exercise.id)
        en_row = next(r for r in en.rows if r.exercise == exercise.id)
        assert (zh_row.hint, en_row.hint) == (f"{exercise.id}: {chinese_hint}", f"{exercise.id}: {mistake.hint}")
        assert escape_markdown(zh_row.hint) in md and html.escape(zh_row.hint) in page
        assert escape_markdown(en_row.hint) in english_md and escape_markdown(en_row.hint) not in md
        title = editions["course"].lessons[lesson.lesson].title_in("zh")
        assert f"## {say('report.lesson', lang='zh', lesson=lesson.lesson, title=escape_markdown(title))}" in md
    assert f"**{say('report.score', lang='zh', total=0, max_total=zh.max_total)}**" in md
    assert say("report.footer", lang="zh") in md and '<html lang="zh">' in page
    assert md.count(say("report.status.failed", lang="zh")) == len(zh.rows)
    for words in ("Feedback for", "Score:", "exercises passed", "Lesson 0", "Checked by", "point"):
        assert words not in md and words not in page.split("<body>", 1)[1]


def test_grade_lang_overrides_the_edition_and_regrades_what_was_saved_in_another(editions):
    subs, course = editions["subs"], editions["course"]
    again = grade_folder(subs / "in", course, subs / "state", jobs=2, limits=FAST, lang="en")
    assert sorted(again.graded) == ["zh-good", "zh-skipped", "zh-wrong"]  # saved in Chinese: graded again
    assert sorted(again.resumed) == ["en-good", "en-skipped", "en-wrong"]
    reports = {r.learner: r for r in again.reports}
    assert [r.hint for r in reports["zh-wrong"].rows] == [r.hint for r in editions["reports"]["en-wrong"].rows]
    assert reports["zh-wrong"].lang == "en"


def test_check_and_grade_speak_the_notebooks_edition_or_lang(editions, tmp_path, capsys):
    from gptlab.course.messages import say

    zh_file = editions["subs"] / "in" / "zh-wrong" / f"{L0}.ipynb"
    points = sum(e.points for e in COURSE.lessons[L0].exercises)
    count = len(COURSE.lessons[L0].exercises)
    assert main(["check", str(zh_file), "--timeout", "6"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [say(f"report.col.{c}", lang="zh") for c in ("lesson", "exercise", "result", "points")]
    assert lines[-1] == say("report.summary", lang="zh", passed=0, count=count, total=0, max_total=points)
    hint = text_of(editions["reports"]["zh-wrong"], EX.id)
    assert f"      → {' '.join(hint.split())}" in lines
    assert main(["check", str(zh_file), "--timeout", "6", "--lang", "en"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"0 of {count} exercises passed; 0/{points} points."
    subs = tmp_path / "subs"
    write_nb(subs / "a" / "00.ipynb", make_submission(L0, "wrong"))
    assert main(["grade", str(subs), "--out", str(tmp_path / "g.csv"), "--timeout", "6", "--no-progress",
                 "--lesson", L0, "--lang", "zh"]) == 0
    md = (tmp_path / "feedback" / "a.md").read_text(encoding="utf-8")
    assert md.startswith(f"# {say('report.title', lang='zh', learner='a')}\n") and escape_markdown(hint.split(": ", 1)[1]) in md


def text_of(report, exercise_id: str) -> str:
    return next(r.hint for r in report.rows if r.exercise == exercise_id)


def test_the_gradescope_results_speak_the_submissions_edition(editions):
    from gptlab.course.grading.gradescope import results_json

    en = results_json(editions["reports"]["en-wrong"], editions["course"])
    zh = results_json(editions["reports"]["zh-wrong"], editions["course"])
    assert [(t["name"], t["score"], t["status"]) for t in zh["tests"]] == [(t["name"], t["score"], t["status"]) for t in en["tests"]]
    assert zh["output"] == f"0 / {editions['reports']['zh-wrong'].max_total} 分。"
    assert en["output"] == f"0 / {editions['reports']['en-wrong'].max_total} points."
    assert [t["output"] for t in zh["tests"]] == [r.hint for r in editions["reports"]["zh-wrong"].rows]


def test_the_sandboxs_reasons_are_worded_in_the_submissions_edition(tmp_path):
    from gptlab.course.messages import say

    def chinese_with(source: str) -> dict:
        nb = chinese_submission(L0, "good")
        exercise_cells(nb)[EX.id]["source"] = source
        return nb

    write_nb(tmp_path / "in" / "undefined" / "00.ipynb", chinese_with("x = 1\n"))
    write_nb(tmp_path / "in" / "loops" / "00.ipynb", chinese_with(f"def {EX.name}(*args, **kwargs):\n    while True:\n        pass\n"))
    write_nb(tmp_path / "in" / "english" / "00.ipynb", make_submission(L0, "good", **{EX.id: "x = 1\n"}))
    course = COURSE.only([L0])
    rows = rows_by_learner(grade_folder(tmp_path / "in", course, tmp_path / "state", jobs=2, limits=FAST).reports)
    undefined, loops, english = (only(rows[who]) for who in ("undefined", "loops", "english"))
    cell = say("grade.cell", lang="zh", exercise=EX.id, number=undefined.cell, file="00.ipynb")
    assert undefined.hint == say("grade.cell_error", lang="zh", exercise=EX.id, cell=cell, tip="",
                                 message=say("sandbox.undefined", lang="zh", name=EX.name))
    assert loops.hint == say("grade.crashed", lang="zh", exercise=EX.id, cell=cell, tail="",
                             reason=say("sandbox.timeout", lang="zh", seconds=f"{FAST.timeout:g}"))
    assert english.hint == f"{EX.id}: the {EX.id} cell (cell {english.cell} of 00.ipynb) does not define `{EX.name}`"
    assert [r.status for r in (undefined, loops, english)] == ["error"] * 3
