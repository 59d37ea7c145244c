"""Old import paths, kept working after the package was split into rooms (course 0.2).

Learners keep working copies and teachers keep submissions made before the move; their cells say
``from gptlab.checks.basics import check_softmax`` or ``from gptlab.model import GPT``. A finder on
``sys.meta_path`` answers each old name with the module that now holds the code, the very same module
object (so a registry, a monkeypatch or an ``isinstance`` sees one thing, not a copy). Nothing in the
package itself imports an old name; `tests/test_layout.py` proves both.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# old module -> the module that holds its code now. A package's submodules follow their package.
MOVED = {
    "gptlab.attention": "gptlab.nn.attention",
    "gptlab.layers": "gptlab.nn.layers",
    "gptlab.model": "gptlab.nn.model",
    "gptlab.lora": "gptlab.nn.lora",
    "gptlab.corpus": "gptlab.data.batches",
    "gptlab.train": "gptlab.training.loop",
    "gptlab.train_cli": "gptlab.training.cli",
    "gptlab.checkpoint": "gptlab.io.checkpoint",
    "gptlab.pretrained": "gptlab._compat.pretrained",  # split into gptlab.nn.gpt2 and gptlab.io.models
    "gptlab.generate": "gptlab.generation",  # split into sampling, text, decoding and gptlab.nn.kv_cache
    "gptlab.finetune": "gptlab.topics.finetune",
    "gptlab.seq2seq": "gptlab.topics.seq2seq.model",
    "gptlab.seq2seq_data": "gptlab.topics.seq2seq.data",
    "gptlab.vision": "gptlab.topics.vision.model",
    "gptlab.vision_data": "gptlab.topics.vision.data",
    "gptlab.inspect_attention": "gptlab.topics.interpret",
    "gptlab.lesson": "gptlab.course.lesson",
    "gptlab.envcheck": "gptlab.course.envcheck",
}
MOVED_PACKAGES = {
    "gptlab.checks": "gptlab.course.checks",
    "gptlab.authoring": "gptlab.course.authoring",
    "gptlab.grading": "gptlab.course.grading",
}


def new_name(old: str) -> str | None:
    """The module that now holds what `old` held, or None if `old` did not move.

    Example: ``new_name("gptlab.checks.basics") -> "gptlab.course.checks.basics"``.
    """
    if old in MOVED:
        return MOVED[old]
    for package, target in MOVED_PACKAGES.items():
        if old == package or old.startswith(package + "."):
            return target + old[len(package):]
    return None


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if new_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=fullname in MOVED_PACKAGES)

    def create_module(self, spec):
        return importlib.import_module(new_name(spec.name))  # the same object under its old name too

    def exec_module(self, module):
        pass  # already executed under its new name


def install() -> None:
    if not any(isinstance(finder, _OldNames) for finder in sys.meta_path):
        sys.meta_path.insert(0, _OldNames())
