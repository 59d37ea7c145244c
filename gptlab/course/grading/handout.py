"""What learners receive: fresh lessons (regenerated from solutions/ when they are here), no solutions, a HOWTO."""

from __future__ import annotations

from pathlib import Path

from gptlab.course.authoring.build import build_all, read_notebook
from gptlab.files import atomic_write_text

HOWTO = """# How to work on these lessons

1. Install the course (`./run.sh course` in the course folder), or open these notebooks in Jupyter.
2. Run each lesson from the top. The first code cell (the set-up cell) must run first.
3. An exercise is a code cell with `# YOUR CODE HERE` and a `raise NotImplementedError(...)` line: replace
   those two lines with your code. Keep the function's name and signature.
4. The cell under an exercise checks your code: ✓, or a hint that names the mistake. `hint("name")` gives
   the next hint.
5. Put every import an exercise needs inside the exercise cell itself: when your work is graded, each
   exercise cell runs on its own after the course's set-up cell; other cells are not run, and changes
   to the set-up cell are ignored.
6. Before you hand in, check your notebooks as the grader will:

       gptlab check path/to/*.ipynb

7. Hand in the `.ipynb` files (any file names: the lessons are recognised by their contents). Do not
   delete or merge the exercise cells.

Grading also runs your functions on fresh inputs you have not seen, so write the general solution, not
one that matches the printed examples.
"""


def write_handout(dest: Path, lessons_dir: Path, solutions_dir: Path | None = None) -> list[Path]:
    """Write lessons (rebuilt from solutions_dir if given) and HOWTO.md into dest; returns the files written."""
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
    howto = dest / "HOWTO.md"
    atomic_write_text(howto, HOWTO)
    return written + [howto]
