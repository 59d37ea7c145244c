"""gptlab: build a GPT from scratch, one lesson at a time. The package is the lessons' code, kept.

The rooms (see CONTRIBUTING.md): `nn` (the network), `tokenizers`, `data`, `training`, `generation`, `io`,
`topics` (the models of lessons 09–13), `serve`, `viz`, and `course` (checks, authoring, grading), which
builds on all the others and which none of them imports.
"""

__version__ = "0.2.0"

from gptlab import _compat  # noqa: E402

_compat.install()  # old import paths (gptlab.model, gptlab.checks.basics, ...) keep working


def __getattr__(name):
    # Lazy, so that `gptlab --help` answers without importing torch.
    if name == "lesson_setup":
        from gptlab.course.lesson import lesson_setup

        return lesson_setup
    raise AttributeError(f"module 'gptlab' has no attribute {name!r}")
