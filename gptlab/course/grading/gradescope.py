"""A Gradescope autograder bundle, and its entry point (`python -m gptlab.course.grading.gradescope`).

The bundle holds setup.sh, run_autograder, the course's lessons and the gptlab source. Gradescope
runs `run_autograder` as root with the submission in /autograder/submission; it writes
/autograder/results/results.json in Gradescope's format. Paths can be overridden with GPTLAB_PYTHON,
GPTLAB_SUBMISSION_DIR, GPTLAB_RESULTS and GPTLAB_LESSONS (the tests run the bundle locally that way).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. Its base images are Ubuntu
# (22.04 by default, whose python3 is 3.10); gptlab needs Python 3.11 or newer, so this picks the newest
# python3.X >= 3.11 on PATH and, when there is none, installs python3.11 from the deadsnakes PPA.
# `setup.sh --which-python` prints the interpreter it would use and exits (the course's tests call it).
# Paths and indexes can be overridden for a local test: GPTLAB_SOURCE, GPTLAB_VENV, GPTLAB_TORCH_INDEX
# (empty: PyPI), GPTLAB_SKIP_APT=1.
set -euo pipefail
source_dir="${{GPTLAB_SOURCE:-/autograder/source}}"
venv="${{GPTLAB_VENV:-/autograder/venv}}"
torch_index="${{GPTLAB_TORCH_INDEX-https://download.pytorch.org/whl/cpu}}"

choose_python() {{
  for candidate in python3.14 python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}}

if [ "${{1:-}}" = "--which-python" ]; then
  choose_python
  exit $?
fi
if [ "${{GPTLAB_SKIP_APT:-0}}" != 1 ]; then
  apt-get update
  apt-get install -y util-linux  # unshare, for the sandbox
fi
if ! python=$(choose_python); then
  apt-get install -y software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update
  apt-get install -y python3.11 python3.11-venv
  python=$(choose_python)
fi
echo "using $python ($("$python" --version))"
"$python" -m venv "$venv"
index=()
[ -n "$torch_index" ] && index=(--index-url "$torch_index")
"$venv/bin/pip" install "${{index[@]}}" "torch=={torch}"
"$venv/bin/pip" install "$source_dir/src"
chmod -R a+rX "$venv" "$source_dir"   # the sandbox user must read the interpreter and gptlab
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission. Every path can be overridden for a local test.
set -uo pipefail
python="${GPTLAB_PYTHON:-/autograder/venv/bin/python}"
exec "$python" -m gptlab.course.grading.gradescope \\
  --submission "${GPTLAB_SUBMISSION_DIR:-/autograder/submission}" \\
  --results "${GPTLAB_RESULTS:-/autograder/results/results.json}" \\
  --lessons "${GPTLAB_LESSONS:-/autograder/source/lessons}" \\
  --timeout "${GPTLAB_TIMEOUT:-60}"
"""


def write_bundle(dest: Path, lessons_dir: Path, only: list[str] | None = None) -> Path:
    """Write the bundle folder and `autograder.zip` beside its files; returns the zip's path."""
    import torch

    from gptlab.course.grading.discover import load_course
    from gptlab.course.grading.integrity import package_root

    dest = Path(dest)
    course = load_course(lessons_dir)
    wanted = [lesson for lesson in course.lessons.values() if not only or lesson.lesson in only]
    if not wanted:
        raise ValueError(f"no lesson matches {only}; known: {', '.join(course.lessons)}")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "lessons").mkdir(parents=True)
    for lesson in wanted:
        shutil.copy2(lesson.path, dest / "lessons" / lesson.path.name)
    package = package_root()
    shutil.copytree(package, dest / "src" / "gptlab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (package.parent / name).exists():
            shutil.copy2(package.parent / name, dest / "src" / name)
    (dest / "setup.sh").write_text(SETUP_SH.format(torch=torch.__version__.split("+")[0]))
    (dest / "run_autograder").write_text(RUN_AUTOGRADER)
    for script in ("setup.sh", "run_autograder"):
        (dest / script).chmod(0o755)
    archive = dest / "autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(dest.rglob("*")):
            if path.is_file() and path != archive:
                zf.write(path, path.relative_to(dest))
    return archive


def results_json(report, course) -> dict:
    """Gradescope's results format: one test per exercise, the total score, and notes in `output`."""
    tests = []
    for row in report.rows:
        tests.append({"name": f"{row.lesson} · {row.exercise}", "score": row.points, "max_score": row.max_points,
                      "status": "passed" if row.passed else "failed", "output": row.hint, "visibility": "visible"})
    notes = report.tampering + report.problems
    from gptlab.course.messages import say

    total = say("report.points_total", lang=report.lang, total=report.total, max_total=report.max_total)
    output = total + ("\n" + "\n".join(notes) if notes else "")
    return {"score": report.total, "output": output, "tests": tests, "visibility": "visible"}


def main(argv: list[str] | None = None) -> int:
    from gptlab.course.grading.discover import load_course, read_submission
    from gptlab.course.grading.engine import grade_submission
    from gptlab.course.grading.sandbox import Limits

    parser = argparse.ArgumentParser(prog="python -m gptlab.course.grading.gradescope")
    parser.add_argument("--submission", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--lessons", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    course = load_course(args.lessons)
    files = sorted(p for p in Path(args.submission).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    report = grade_submission(read_submission("submission", files, course), course, limits=Limits(timeout=args.timeout))
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(results_json(report, course), indent=1, ensure_ascii=False) + "\n")
    print(f"{report.total} / {report.max_total} points; results in {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
