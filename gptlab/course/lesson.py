"""The call every lesson's set-up cell makes first.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

from gptlab.course.checks.notebook import set_strict
from gptlab.device import seed_everything


def lesson_setup(strict: bool, seed: int = 0, lang: str | None = None) -> None:
    """Seed everything and set the check mode.

    strict=True (solutions/): a failing check raises, so a broken solution fails CI.
    strict=False (lessons/, written by `gptlab lessons`): a failing or skipped check prints one line and
    hands back the reference implementation, so the rest of the lesson still runs.
    lang: the notebook's edition ("zh" in lessons/zh/, written there by `gptlab lessons`): checks, hints and
    plots speak it, and so do the lines lesson code prints (gptlab.course.printed). None: $GPTLAB_LANG, else
    English.
    """
    from gptlab.course.messages import language, set_language

    set_strict(strict)
    seed_everything(seed)
    if lang is not None:
        set_language(lang)
    from gptlab.course.printed import install

    install(language())  # what lesson code prints, in the edition's language (gptlab.course.printed)
    if language() == "zh":
        from gptlab.viz.fonts import use_cjk_font

        use_cjk_font()
