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

HOWTO_ZH = """# 如何学习这些课程

这些笔记本是 gptlab（课程 {version}）中文版的课程；尚未翻译的课程是英文版。运行它们需要 Python 3.11 或更新的版本，以及
gptlab 软件包。你手里有以下两样之一：

* **课程文件夹**（gptlab 仓库的一份副本）：在其中运行 `GPTLAB_LANG=zh ./run.sh course`（或 `./run.sh course zh`）。
  它会在 `.venv/` 中装好一切，并在你自己的课程副本 `my-lessons-zh/` 上打开 JupyterLab。你可以在那些副本里学习，
  也可以打开本文件夹里的笔记本：先 `./run.sh course zh`，再用 `File > Open` 打开这里。
* **只有这个文件夹**：先安装一次软件包，然后在 JupyterLab 中打开这些笔记本：

      python3 -m venv gptlab-venv && . gptlab-venv/bin/activate        # Windows：gptlab-venv\\Scripts\\activate
      pip install torch=={torch}   # 先装它，并固定版本（在 Linux 上，不带版本的 `torch` 会拉下几个 GB 的 CUDA 版本；
                                   #   加上 --index-url https://download.pytorch.org/whl/cpu 可得到小巧的 CPU 版本）
      pip install {package}
      GPTLAB_LANG=zh jupyter lab .
{wheel_note}
安装时需要联网一次。之后一切都可离线进行：数据和小型预训练模型都随软件包附带，学习过程中不会下载任何东西。

## 学习方法

1. 每一课都从头开始运行。第一个代码单元格（设置单元格）必须最先运行。
2. 练习是一个含有 `# YOUR CODE HERE` 和一行 `raise NotImplementedError(...)` 的代码单元格：把这两行换成你的代码。
   保留函数的名字和签名。
3. 练习下面的单元格检查你的代码：✓，或者一条指出错误的提示。再下面的单元格有一个按钮，每点一次显示一条提示
   （或调用 `hint("name")`）。
4. 练习所需的每个 import 都写在练习单元格里：评分时，每个练习单元格都在课程的设置单元格之后单独运行；
   其他单元格不会运行，对设置单元格的修改也会被忽略。
5. 交作业之前，像评分程序那样检查你的笔记本（它只报告你给它的那几课）：

       GPTLAB_LANG=zh gptlab check 03_self_attention.ipynb 04_multi_head.ipynb

6. 提交 `.ipynb` 文件（文件名随意：课程按内容识别）。不要删除或合并练习单元格。

评分时还会用你没见过的新输入运行你的函数，所以请写出通用的解法，而不是只对得上示例输出的解法。
"""

HOWTOS = {"en": HOWTO, "zh": HOWTO_ZH}

WHEEL_NOTE = """
   This folder holds the package itself, `{wheel}`; its dependencies come from the package index.
"""
WHEEL_NOTES = {"en": WHEEL_NOTE, "zh": """
   本文件夹里就有软件包本身，`{wheel}`；它的依赖来自软件包索引。
"""}
NO_WHEEL_NOTES = {
    "en": "\n   (Your teacher can put the package in this folder too, with `gptlab handout --wheel`; then\n"
          "   `pip install ./gptlab-*.whl` installs it.)\n",
    "zh": "\n   （老师也可以用 `gptlab handout --wheel` 把软件包放进这个文件夹；那时用\n"
          "   `pip install ./gptlab-*.whl` 安装它。）\n",
}


def write_handout(dest: Path, lessons_dir: Path, solutions_dir: Path | None = None, *, wheel: bool = False,
                  lang: str = "en") -> list[Path]:
    """Write lessons (rebuilt from solutions_dir if given) and HOWTO.md into dest; returns the files written.

    wheel=True also builds the gptlab package into dest (a .whl), so a learner with only the handout can install it.
    lang="zh": the Chinese edition (lessons/zh/, rebuilt from solutions/ and solutions/zh/; the English lessons stand
    in for those not translated yet, as in `gptlab course zh`) and a Chinese HOWTO.
    """
    import torch

    import gptlab

    if lang not in HOWTOS:
        raise ValueError(f"lang must be one of {', '.join(HOWTOS)}; got {lang!r}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    built = _lessons(dest, Path(lessons_dir), solutions_dir)
    if lang != "en":
        built.update(_edition(dest, Path(lessons_dir), solutions_dir, lang))
    if not built:
        raise FileNotFoundError(f"no lessons found in {lessons_dir}")
    for path, text in built.items():
        if "### BEGIN SOLUTION" in text:
            raise ValueError(f"{path.name} still contains a solution region; regenerate lessons with `gptlab lessons`")
    written = []
    for path, text in sorted(built.items()):
        atomic_write_text(path, text)
        read_notebook(path)  # what we hand out must be a valid notebook
        written.append(path)
    package, note = "path/to/the/course/folder", NO_WHEEL_NOTES[lang]
    if wheel:
        built_wheel = _build_wheel(dest)
        package, note = f"./{built_wheel.name}", WHEEL_NOTES[lang].format(wheel=built_wheel.name)
        written.append(built_wheel)
    howto = dest / "HOWTO.md"
    atomic_write_text(howto, HOWTOS[lang].format(version=gptlab.__version__, torch=torch.__version__.split("+")[0],
                                                 package=package, wheel_note=note))
    return written + [howto]


def _lessons(dest: Path, lessons_dir: Path, solutions_dir: Path | None) -> dict[Path, str]:
    if solutions_dir is not None and Path(solutions_dir).is_dir():
        return {dest / path.name: text for path, text in build_all(Path(solutions_dir), dest).items()}
    return {dest / path.name: path.read_text(encoding="utf-8") for path in sorted(lessons_dir.glob("*.ipynb"))}


def _edition(dest: Path, lessons_dir: Path, solutions_dir: Path | None, lang: str) -> dict[Path, str]:
    """An edition's lessons, under the names of the English ones they replace."""
    if solutions_dir is not None and Path(solutions_dir).is_dir():
        from gptlab.course.authoring.editions import build_edition

        edition = build_edition(Path(solutions_dir), lessons_dir, lang)[0]
        found = {path.name: text for path, text in edition.items() if path.parent == lessons_dir / lang}
    else:
        found = {path.name: path.read_text(encoding="utf-8") for path in sorted((lessons_dir / lang).glob("*.ipynb"))}
    if not found:
        raise FileNotFoundError(f"no {lang} lessons found in {lessons_dir / lang}")
    return {dest / name: text for name, text in found.items()}


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
