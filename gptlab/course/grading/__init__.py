"""Grading: learners check their own progress, teachers grade a class in bulk.

Untrusted code never decides a verdict. A learner's exercise cells run in a sandboxed child process
(`sandbox` + `worker`), which only returns what the learner's functions gave on the checks' inputs
(`serialize`: JSON + safetensors, never pickle). The verdict is computed here, by the same
`gptlab.course.checks.core.judge` the notebooks use, on the public cases and on fresh secret ones (`engine`).

    discover.py   find the course's lessons, the learners and their notebooks (by metadata, not file names)
    sandbox.py    the child process: session, rlimits, namespaces, unprivileged user, timeouts
    worker.py     the child's entry point (`python -m gptlab.course.grading.worker`)
    serialize.py  Outcome <-> JSON + safetensors
    engine.py     grade one learner: run the sandbox, judge, one row per exercise
    integrity.py  hash the installed gptlab files before and after each submission
    report.py     gradebook CSV, long CSV/JSON, Markdown/HTML feedback, the learner's table
    batch.py      the batch loop: parallel, resumable, a progress bar
    gradescope.py an autograder bundle and its entry point
    handout.py    what learners receive
    cli.py        `gptlab grade`, `gptlab check`, `gptlab handout`
"""
