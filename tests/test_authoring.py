"""solutions/ → lessons/: nbgrader's marker rules, the cell schema, drift detection, and bad input."""

import json
from pathlib import Path

import nbformat
import pytest

import gptlab
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gptlab.course.authoring import (NotebookError, RegionError, build_all, build_lesson, exercise_banner, find_regions,
                              out_of_date, read_notebook, replace_regions)
from gptlab.course.authoring.regions import check_regions_in_bodies
from gptlab.cli import main

ROOT = Path(__file__).resolve().parent.parent
META = {"exercise": "softmax", "check": "gptlab.course.checks.basics.check_softmax", "points": 1, "difficulty": 1, "minutes": 5}
SOLUTION = '''def softmax(x):
    """Softmax over the last axis."""
    ### BEGIN SOLUTION
    exps = (x - x.amax(dim=-1, keepdim=True)).exp()
    return exps / exps.sum(dim=-1, keepdim=True)
    ### END SOLUTION
'''


# --- regions -------------------------------------------------------------------------------------


def test_stub_keeps_the_markers_indentation():
    source = "class Model:\n    def forward(self, x):\n        ### BEGIN SOLUTION\n        return x * 2\n        ### END SOLUTION\n"
    stubbed = replace_regions(source, "forward: double it")
    assert stubbed == ("class Model:\n    def forward(self, x):\n        # YOUR CODE HERE\n"
                       "        raise NotImplementedError('forward: double it')\n")
    compile(stubbed, "<cell>", "exec")


def test_two_regions_in_one_cell_both_become_stubs():
    source = SOLUTION + "\n" + SOLUTION.replace("softmax", "other")
    assert replace_regions(source, "x").count("raise NotImplementedError") == 2


@pytest.mark.parametrize("source,message,line", [
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "nested", 3),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed", 2),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "without a", 3),
    ("def f():\n    ## BEGIN SOLUTION\n    return 1\n", "malformed marker", 2),
])
def test_marker_errors_name_the_line(source, message, line):
    with pytest.raises(RegionError, match=message) as info:
        find_regions(source)
    assert info.value.line == line


def test_region_must_sit_inside_a_def_or_class():
    with pytest.raises(RegionError, match="inside a def or class body"):
        check_regions_in_bodies("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n")
    check_regions_in_bodies(SOLUTION)  # the END marker after the last statement is fine


# --- building one notebook -----------------------------------------------------------------------


def make_solution(exercise_source=SOLUTION, extra_cells=(), banner=True, setup_source=None):
    setup = new_code_cell(setup_source or "import torch\nfrom gptlab import lesson_setup\n"
                          "from gptlab.course.checks.basics import check_softmax\nlesson_setup(strict=True)")
    setup.metadata["tags"] = ["setup"]
    exercise = new_code_cell(exercise_source, outputs=[], execution_count=3)
    exercise.metadata["tags"] = ["exercise"]
    exercise.metadata["gptlab"] = dict(META)
    secret = new_code_cell("print('the answer')")
    secret.metadata["tags"] = ["solution-only"]
    cells = [new_markdown_cell("# A lesson"), setup,
             new_markdown_cell("### Exercise\n\n" + (exercise_banner(META) if banner else "")), exercise,
             new_code_cell("softmax = check_softmax(softmax, fallback=True)",
                           outputs=[nbformat.v4.new_output("stream", text="✓ softmax\n")], execution_count=4),
             secret, *extra_cells]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_lesson_is_stubbed_lenient_and_clean():
    solution = make_solution()
    lesson = build_lesson(solution, "solutions/00_x.ipynb")
    sources = [c.source for c in lesson.cells]
    assert "lesson_setup(strict=False)" in sources[1] and "strict=True" not in sources[1]
    assert "raise NotImplementedError('softmax: " in sources[3] and "amax" not in sources[3]
    assert not any("the answer" in s for s in sources)  # solution-only cell dropped
    assert all(c.outputs == [] and c.execution_count is None for c in lesson.cells if c.cell_type == "code")
    assert [c.id for c in lesson.cells[:5]] == [c.id for c in solution.cells[:5]]  # ids are stable
    hint_cell = lesson.cells[5]  # under the check cell, added by the generator: a button, no hint spent on Run All
    assert hint_cell.metadata.tags == ["hints"] and hint_cell.source.endswith("hints('softmax')")
    assert len(lesson.cells) == 6
    assert lesson.metadata.gptlab["generated_from"] == "solutions/00_x.ipynb"
    assert lesson.metadata.gptlab["course_version"] == gptlab.__version__ and len(lesson.metadata.gptlab["fingerprint"]) == 16
    assert lesson.cells[3].metadata.gptlab == META  # the grader finds exercises by metadata


def test_the_banner_above_an_exercise_is_required_and_quoted():
    with pytest.raises(NotebookError, match="must show: Difficulty ★☆☆ · about 5 min · 1 point"):
        build_lesson(make_solution(banner=False), "s.ipynb")


def test_exercise_metadata_is_validated():
    nb = make_solution()
    nb.cells[3].metadata.gptlab["difficulty"] = 5
    with pytest.raises(NotebookError, match="difficulty must be 1-3"):
        build_lesson(nb, "s.ipynb")
    nb.cells[3].metadata.gptlab["check"] = "gptlab.course.checks.basics.check_nothing"
    nb.cells[3].metadata.gptlab["difficulty"] = 1
    with pytest.raises(NotebookError, match="has no check called 'check_nothing'"):
        build_lesson(nb, "s.ipynb")


# --- the command, on bad input: clear error naming file and cell, lessons/ untouched ------------


def write(path: Path, nb) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def course(tmp_path):
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    write(solutions / "00_x.ipynb", make_solution())
    assert main(["lessons", "--solutions", str(solutions), "--lessons", str(lessons)]) == 0
    return solutions, lessons


def run_lessons(solutions, lessons, *flags):
    return main(["lessons", "--solutions", str(solutions), "--lessons", str(lessons), *flags])


def snapshot(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def outside_cell():
    cell = new_code_cell("def helper():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    return [cell]


BAD = {
    "unbalanced marker": (dict(exercise_source=SOLUTION.replace("    ### END SOLUTION\n", "")), "is never closed"),
    "nested marker": (dict(exercise_source=SOLUTION.replace("    exps =", "    ### BEGIN SOLUTION\n    exps =")), "nested"),
    "region outside an exercise cell": (dict(extra_cells=outside_cell()), "solution region outside an exercise cell"),
    "exercise that does not run alone": (dict(exercise_source="SCALE = scale_from_an_earlier_cell\n" + SOLUTION),
                                         "does not run alone after the set-up cell: NameError"),
    "region outside a def": (dict(exercise_source="### BEGIN SOLUTION\nsoftmax = None\n### END SOLUTION\n"),
                             "inside a def or class body"),
    "magic in the set-up cell": (dict(setup_source="%matplotlib inline\nfrom gptlab import lesson_setup\nlesson_setup(strict=True)"),
                                 "no % magics"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_solution_is_an_error_and_leaves_lessons_untouched(course, case, capsys):
    solutions, lessons = course
    before = snapshot(lessons)
    kwargs, message = BAD[case]
    write(solutions / "01_bad.ipynb", make_solution(**kwargs))
    assert run_lessons(solutions, lessons) == 2
    err = capsys.readouterr().err
    assert "01_bad.ipynb" in err and message in err
    assert ": cell " in err and "(id " in err  # names the cell: its index and its id
    assert snapshot(lessons) == before


def test_invalid_json_names_the_line(course, capsys):
    solutions, lessons = course
    before = snapshot(lessons)
    (solutions / "02_broken.ipynb").write_text('{"cells": [\n  {"cell_type": "code",,}\n]}')
    assert run_lessons(solutions, lessons) == 2
    err = capsys.readouterr().err
    assert "02_broken.ipynb: not a notebook: invalid JSON at line 2" in err
    assert snapshot(lessons) == before


def test_check_names_each_stale_lesson_and_prints_the_fix(course, capsys):
    solutions, lessons = course
    assert run_lessons(solutions, lessons, "--check") == 0
    edited = json.loads((lessons / "00_x.ipynb").read_text())
    edited["cells"][0]["source"] = "# edited by hand"
    (lessons / "00_x.ipynb").write_text(json.dumps(edited))
    write(solutions / "01_new.ipynb", make_solution())
    (lessons / "99_orphan.ipynb").write_text((lessons / "00_x.ipynb").read_text())
    capsys.readouterr()
    assert run_lessons(solutions, lessons, "--check") == 1
    err = capsys.readouterr().err
    assert "00_x.ipynb is out of date" in err
    assert "01_new.ipynb is missing" in err
    assert "99_orphan.ipynb has no solution notebook" in err
    assert "run `gptlab lessons`" in err
    assert run_lessons(solutions, lessons) == 0
    assert sorted(p.name for p in lessons.iterdir()) == ["00_x.ipynb", "01_new.ipynb"]
    assert run_lessons(solutions, lessons, "--check") == 0


def test_a_failed_write_leaves_the_old_lesson_and_no_temporary_file(course, monkeypatch):
    import gptlab.files

    solutions, lessons = course
    before = snapshot(lessons)
    nb = read_notebook(solutions / "00_x.ipynb")
    nb.cells[0].source = "# A changed lesson"
    write(solutions / "00_x.ipynb", nb)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(gptlab.files.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        run_lessons(solutions, lessons)
    assert snapshot(lessons) == before


# --- the real course ------------------------------------------------------------------------------


def test_committed_lessons_match_the_solutions():
    built = build_all(ROOT / "solutions", ROOT / "lessons")
    assert out_of_date(built, ROOT / "lessons") == [], "run `gptlab lessons` to regenerate lessons/"


def test_no_solution_line_survives_into_lessons():
    for solution in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = read_notebook(solution)
        lesson_text = "\n".join(c.source for c in read_notebook(ROOT / "lessons" / solution.name).cells)
        lesson_lines = {line.strip() for line in lesson_text.splitlines()}
        for cell in nb.cells:
            for region in find_regions(cell.source):
                for line in region.lines:
                    code = line.strip()
                    if code and not code.startswith("#"):
                        assert code not in lesson_lines, f"{solution.name}: solution line survives: {code!r}"


def test_solutions_keep_outputs_and_lessons_ship_without():
    for solution in sorted((ROOT / "solutions").glob("*.ipynb")):
        code = [c for c in read_notebook(solution).cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), f"{solution.name}: run every cell before committing"
        assert any(c.outputs for c in code)
        assert not any(o.output_type == "error" for c in code for o in c.outputs), f"{solution.name}: an error output"
    for lesson in sorted((ROOT / "lessons").glob("*.ipynb")):
        code = [c for c in read_notebook(lesson).cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_every_exercise_in_the_course_has_a_registered_check():
    from gptlab.course.authoring import exercises
    from gptlab.course.checks import resolve_check

    found = []
    for solution in sorted((ROOT / "solutions").glob("*.ipynb")):
        for exercise in exercises(read_notebook(solution), solution):
            assert resolve_check(exercise.check).spec.exercise == exercise.id
            found.append(exercise.id)
    assert "softmax" in found and len(found) == len(set(found))
