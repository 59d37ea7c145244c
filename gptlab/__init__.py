"""gptlab: build a GPT from scratch, one lesson at a time. The package is the lessons' code, kept."""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `gptlab --help` answers without importing torch.
    if name == "lesson_setup":
        from gptlab.lesson import lesson_setup

        return lesson_setup
    raise AttributeError(f"module 'gptlab' has no attribute {name!r}")
