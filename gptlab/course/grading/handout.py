"""What learners receive: fresh lessons (regenerated from solutions/ when they are here), no solutions, a HOWTO."""

from __future__ import annotations

from pathlib import Path

from gptlab.course.authoring.build import build_all, read_notebook
from gptlab.files import atomic_write_text

HOWTO = """# How to work on these lessons

These notebooks are lessons of gptlab (course {version}). To run them you need Python 3.11 or newer and the
gptlab package. You have one of two things:

* **The course folder** (a copy of the gptlab repository): run `./run.sh course` in it. It sets everything up in
  `.venv/` and opens JupyterLab on your own copy of the lessons. You can work in those copies, or open the
  notebooks of this folder instead: `./run.sh course` then `File > Open` here.
* **Only this folder**: install the package once, then open the notebooks in JupyterLab:

      python3 -m venv gptlab-venv && . gptlab-venv/bin/activate        # Windows: gptlab-venv\\Scripts\\activate
      pip install torch=={torch}   # first, pinned (on Linux a bare `torch` pulls a multi-GB CUDA build;
                                   #   add --index-url https://download.pytorch.org/whl/cpu for a small CPU build)
      pip install {package}
      jupyter lab .
{wheel_note}
Installing needs the internet once. After that everything works offline: the data and the small pretrained
model ship with the package, and nothing is downloaded while you work.

## Working

1. Run each lesson from the top. The first code cell (the set-up cell) must run first.
2. An exercise is a code cell with `# YOUR CODE HERE` and a `raise NotImplementedError(...)` line: replace
   those two lines with your code. Keep the function's name and signature.
3. The cell under an exercise checks your code: ✓, or a hint that names the mistake. The cell under that has
   a button that shows one hint per click (or call `hint("name")`).
4. Put every import an exercise needs inside the exercise cell itself: when your work is graded, each
   exercise cell runs on its own after the course's set-up cell; other cells are not run, and changes
   to the set-up cell are ignored.
5. Before you hand in, check your notebooks as the grader will (it reports only the lessons you give it):

       gptlab check 03_self_attention.ipynb 04_multi_head.ipynb

6. Hand in the `.ipynb` files (any file names: the lessons are recognised by their contents). Do not
   delete or merge the exercise cells.

Grading also runs your functions on fresh inputs you have not seen, so write the general solution, not
one that matches the printed examples.
"""

WHEEL_NOTE = """
   This folder holds the package itself, `{wheel}`; its dependencies come from the package index.
"""


def write_handout(dest: Path, lessons_dir: Path, solutions_dir: Path | None = None, *, wheel: bool = False) -> list[Path]:
    """Write lessons (rebuilt from solutions_dir if given) and HOWTO.md into dest; returns the files written.

    wheel=True also builds the gptlab package into dest (a .whl), so a learner with only the handout can install it.
    """
    import torch

    import gptlab

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if solutions_dir is not None and Path(solutions_dir).is_dir():
        built = {dest / path.name: text for path, text in build_all(Path(solutions_dir), dest).items()}
    else:
        built = {dest / path.name: path.read_text(encoding="utf-8") for path in sorted(Path(lessons_dir).glob("*.ipynb"))}
    if not built:
        raise FileNotFoundError(f"no lessons found in {lessons_dir}")
    for path, text in built.items():
        if "### BEGIN SOLUTION" in text:
            raise ValueError(f"{path.name} still contains a solution region; regenerate lessons with `gptlab lessons`")
    written = []
    for path, text in built.items():
        atomic_write_text(path, text)
        read_notebook(path)  # what we hand out must be a valid notebook
        written.append(path)
    package = "path/to/the/course/folder"
    note = ("\n   (Your teacher can put the package in this folder too, with `gptlab handout --wheel`; then\n"
            "   `pip install ./gptlab-*.whl` installs it.)\n")
    if wheel:
        built_wheel = _build_wheel(dest)
        package, note = f"./{built_wheel.name}", WHEEL_NOTE.format(wheel=built_wheel.name)
        written.append(built_wheel)
    howto = dest / "HOWTO.md"
    atomic_write_text(howto, HOWTO.format(version=gptlab.__version__, torch=torch.__version__.split("+")[0],
                                          package=package, wheel_note=note))
    return written + [howto]


def _build_wheel(dest: Path) -> Path:
    import subprocess
    import sys

    from gptlab.course.workdir import course_root

    root = course_root()
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"--wheel needs the course folder (with pyproject.toml); {root} has none")
    before = set(dest.glob("gptlab-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dest), str(root)], check=True)
    made = sorted(set(dest.glob("gptlab-*.whl")) - before) or sorted(dest.glob("gptlab-*.whl"))
    return made[-1]
