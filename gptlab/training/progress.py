"""What a learner sees while a loop runs: a progress bar (tqdm: a widget in Jupyter, a text line in a
terminal) and, once, a sentence when something changes how fast it goes (see cpu_share).

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import warnings


def progress_bar(total: int, desc: str = "training", initial: int = 0, enabled: bool = True):
    """A tqdm bar counting steps, or None when disabled."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)


def tell(bar, message: str | None) -> None:
    """Show `message` above the bar (or as a warning when there is no bar); None shows nothing."""
    if not message:
        return
    if bar is not None:
        bar.write(message)
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
