"""Settings for the whole test run, made before any notebook kernel starts (kernels inherit the environment).

Lesson 07 saves the learner's model into $GPTLAB_CACHE/checkpoints/mine.safetensors, and other notebooks and
tests read and write that cache: a test run gets its own, so it never overwrites a learner's real model or
depends on what a previous run left there.
"""

from __future__ import annotations

import os
import shutil
import tempfile


# The Chinese solutions are the English ones with translated text (tests/test_editions.py compares their code as
# syntax trees); the Chinese lessons, lessons/zh/, are executed like the English ones.
collect_ignore_glob = ["solutions/zh/*"]


def pytest_collection_modifyitems(config, items):
    """nbval waits 5 s (fixed) for each output message after a cell ends; on a loaded 2-core machine a kernel can be
    descheduled that long while its messages are still on the way, so a cell that ran fine would fail."""
    from nbval.plugin import IPyNbCell

    for item in items:
        if isinstance(item, IPyNbCell):
            item.output_timeout = 60


def pytest_configure(config):
    if os.environ.get("GPTLAB_TEST_CACHE") == "keep":  # opt out, to debug with your own cache
        return
    folder = tempfile.mkdtemp(prefix="gptlab-test-cache-")
    os.environ["GPTLAB_CACHE"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
