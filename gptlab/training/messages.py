"""The lines `gptlab train` prints, keyed like the course's messages, in English.

The library never imports the course (gptlab.course), so the translations of these lines live with the course's
other messages: gptlab.course.messages adds this table to its MESSAGES and gptlab/course/locales/zh.py has the
Chinese. `gptlab` (gptlab/cli.py) hands `cmd_train` the course's say(), which speaks the learner's language
($GPTLAB_LANG); called on its own, `cmd_train` prints the English below.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "train.tokenizer_short": "note: the tokenizer stopped at {vocab} tokens",
    "train.data": "data ({recipe}): {train:,} training and {val:,} validation tokens (vocabulary {vocab}), prepared in "
                  "{seconds:.1f} s",
    "train.model": "model: {params:,} parameters; {device}",
    "train.no_checkpoint": "error: --resume, but there is no checkpoint at {path}",
    "train.resuming": "resuming from step {step} of {path}",
    "train.step": "step {step}: train {train:.4f}, val {val:.4f}, lr {lr:.2e}, {speed:,.0f} tok/s, {seconds:.0f} s",
    "train.finishing": "last phase: {steps} steps at lr {lr:.1e} with {repeat:.0%} text and {random:.0%} random-id repeat "
                       "windows",
    "train.interrupted": "interrupted: the checkpoint is saved at {path}; continue with `{command}`",
    "train.done": "done: {steps} steps in {minutes:.1f} min; train loss {train:.4f}, val loss {val:.4f}; checkpoint {path}",
    "train.exported": "exported float16 weights to {path}; SHA-256 {sha}",
    "train.no_dropout": "error: --dropout: recipe {recipe!r} ({architecture}) has no dropout",
}


def say(key: str, **fields) -> str:
    """The English line `key`, filled in (the course's say() is the same in the learner's language)."""
    return MESSAGES[key].format(**fields)
