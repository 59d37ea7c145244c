"""Which plays the fine-tuning lesson holds out, defined once for every lesson and for pretraining.

The pretrained model the course ships (``gptlab.io.load("shipped")``) never saw these plays, so
the fine-tuning lesson can measure it on text that is new to it. One play per genre for validation and
two per genre for test, chosen by hand (mid-length, well-known plays of each genre) and fixed here, so
the choice is deterministic and the same everywhere:

>>> from gptlab.data import FINETUNE_SPLITS, load_text
>>> sorted(FINETUNE_SPLITS)
['test', 'validation']
>>> pretraining_text = load_text("english", exclude=held_out_titles())  # doctest: +SKIP

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

FINETUNE_SPLITS: dict[str, tuple[str, ...]] = {
    # one play per genre: comedy, history, tragedy
    "validation": ("Much Ado About Nothing", "Henry V", "Julius Caesar"),
    # two plays per genre: comedy, comedy, history, history, tragedy, tragedy
    "test": ("Twelfth Night", "The Comedy of Errors", "Richard II", "King John", "Macbeth", "Othello"),
}


def held_out_titles() -> tuple[str, ...]:
    """Every play in FINETUNE_SPLITS (validation, then test): what pretraining leaves out.

    Example: ``load_text("english", exclude=held_out_titles())`` is the pretraining corpus.
    """
    return FINETUNE_SPLITS["validation"] + FINETUNE_SPLITS["test"]
