"""Pictures for lesson 07: the loss curves of a training run, drawn live in a notebook.

    from gptlab.viz.training import LiveLossPlot
    history = train(model, train_ids, val_ids, config, callback=LiveLossPlot())

LiveLossPlot redraws one figure in place (an IPython display handle) at most every `every_s` seconds,
at each evaluation and at the end. Outside a notebook (a script, a terminal, the tests) it draws
nothing and costs nothing, so the same code runs everywhere. The figure is rendered to PNG with
matplotlib's Agg canvas, so it does not depend on the notebook's matplotlib backend.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import io
import math
import time


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _smooth(values: list[float], beta: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (as TensorBoard's smoothing)."""
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = beta * average + (1 - beta) * value
        out.append(average / (1 - beta**i))
    return out


def plot_history(history, figure=None, *, log_scale: bool = False):
    """A matplotlib Figure: training loss per step (faint, and smoothed), train/val estimates at each evaluation,
    and the learning rate. `history` is a gptlab.training.loop.History (or its to_dict())."""
    from matplotlib.figure import Figure

    h = history if isinstance(history, dict) else history.to_dict()
    figure = figure or Figure(figsize=(9, 3.4))
    figure.clear()
    loss_ax, lr_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    if h["steps"]:
        loss_ax.plot(h["steps"], h["losses"], color="tab:blue", alpha=0.25, linewidth=0.8)
        loss_ax.plot(h["steps"], _smooth(h["losses"]), color="tab:blue", linewidth=1.2, label="train (batch, smoothed)")
    if h["eval_steps"]:
        loss_ax.plot(h["eval_steps"], h["train_losses"], "o-", color="tab:green", markersize=3, label="train (estimate)")
        if any(not math.isnan(v) for v in h["val_losses"]):
            loss_ax.plot(h["eval_steps"], h["val_losses"], "o-", color="tab:orange", markersize=3, label="validation")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("loss (nats per token)")
    if log_scale:
        loss_ax.set_yscale("log")
    loss_ax.grid(alpha=0.3)
    if h["steps"]:
        loss_ax.legend(loc="upper right", fontsize=8)
        speed = h["tokens_per_s"][-1]
        val = f", val {h['val_losses'][-1]:.3f}" if h["val_losses"] else ""
        loss_ax.set_title(f"step {h['steps'][-1]}: loss {h['losses'][-1]:.3f}{val} · {speed:,.0f} tokens/s", fontsize=9)
        lr_ax.plot(h["steps"], h["lrs"], color="tab:purple")
    lr_ax.set_xlabel("step")
    lr_ax.set_title("learning rate", fontsize=9)
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    lr_ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def figure_png(figure) -> bytes:
    """The figure rendered to PNG bytes with the Agg canvas (no GUI, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


class LiveLossPlot:
    """A train() callback that keeps one loss plot up to date in the notebook's output.

    every_s: least seconds between redraws (drawing costs ~0.1 s); evaluations and the last step
    always redraw. enabled=None draws only inside a Jupyter kernel; True forces it (e.g. in tests).
    """

    def __init__(self, every_s: float = 2.0, *, log_scale: bool = False, enabled: bool | None = None):
        self.every_s = every_s
        self.log_scale = log_scale
        self.enabled = _in_notebook() if enabled is None else enabled
        self.figure = None
        self.handle = None
        self.draws = 0
        self._last = -math.inf

    def __call__(self, history) -> None:
        if not self.enabled:
            return
        evaluated = bool(history.eval_steps) and history.eval_steps[-1] == history.steps[-1]
        now = time.monotonic()
        if not (history.done or evaluated or now - self._last >= self.every_s):
            return
        self._last = now
        self.draw(history)

    def draw(self, history) -> None:
        from matplotlib.figure import Figure

        self.figure = plot_history(history, self.figure or Figure(figsize=(9, 3.4)), log_scale=self.log_scale)
        png = figure_png(self.figure)
        self.draws += 1
        try:
            from IPython.display import Image, display
        except ImportError:
            return
        if self.handle is None:
            self.handle = display(Image(data=png), display_id=True)
        else:
            self.handle.update(Image(data=png))
