"""Pictures of attention: one head's heat map, all heads of a layer, every layer × head, and an explorer widget.

Each function takes a capture from `gptlab.topics.interpret.capture_attention` (or a list of
(1, n_head, T, T) tensors and the token labels) and returns a matplotlib figure, which renders everywhere a
notebook is shown — GitHub, nbviewer, an untrusted notebook — unlike HTML views that need their scripts.
Rows are queries (the token doing the looking), columns are keys (the tokens looked at).

Taught in: solutions/09_looking_inside.ipynb
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

__all__ = ["AttentionExplorer", "attention_explorer", "plot_attention", "plot_heads", "plot_label", "plot_model"]

CMAP = "Blues"


@functools.lru_cache(maxsize=1)
def _font_characters() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(font_manager.findfont(font_manager.FontProperties())).get_charmap())
    except Exception:  # an unreadable font: escape everything that is not ASCII
        return frozenset(range(128))


def plot_label(label: str) -> str:
    """A token label matplotlib can draw: characters its font lacks (Chinese, usually) become \\uXXXX escapes.

    Example: ``plot_label("␣你好")`` gives ``"␣\\u4f60\\u597d"`` when the font has no Chinese glyphs.

    Taught in: solutions/09_looking_inside.ipynb
    """
    have = _font_characters()
    return "".join(c if ord(c) in have else (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}") for c in label)


def _unpack(capture_or_attention, tokens):
    from gptlab.topics.interpret import AttentionCapture

    if isinstance(capture_or_attention, AttentionCapture):
        return capture_or_attention.attentions, capture_or_attention.tokens
    attentions = list(capture_or_attention)
    if tokens is None:
        raise TypeError("pass the token labels too, or a capture from capture_attention()")
    return attentions, list(tokens)


def _draw(ax, weights: torch.Tensor, tokens: Sequence[str], title: str | None, ticks: bool = True, fontsize: float | None = None):
    T = len(tokens)
    image = ax.imshow(weights.detach().float().cpu().numpy(), cmap=CMAP, vmin=0.0, vmax=1.0)
    if ticks:
        size = fontsize or max(4.0, min(9.0, 200.0 / max(T, 1)))
        labels = [plot_label(t) for t in tokens]
        ax.set_xticks(range(T), labels, rotation=90, fontsize=size)
        ax.set_yticks(range(T), labels, fontsize=size)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return image


def plot_attention(weights: torch.Tensor, tokens: Sequence[str], *, title: str | None = None, ax=None, size: float = 4.5):
    """One head's (T, T) map as a heat map with the tokens on both axes; returns the figure.

    Taught in: solutions/09_looking_inside.ipynb
    """
    import matplotlib.pyplot as plt

    if weights.dim() != 2 or weights.shape[0] != weights.shape[1] or weights.shape[0] != len(tokens):
        raise ValueError(f"expected a ({len(tokens)}, {len(tokens)}) map for {len(tokens)} tokens; got {tuple(weights.shape)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(size, size))
    else:
        fig = ax.figure
    image = _draw(ax, weights, tokens, title)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return fig


def plot_heads(capture_or_attention, tokens: Sequence[str] | None = None, *, layer: int = 0, size: float = 3.2):
    """Every head of one layer side by side (a grid of heat maps); returns the figure.

    Taught in: solutions/09_looking_inside.ipynb
    """
    import matplotlib.pyplot as plt

    attentions, tokens = _unpack(capture_or_attention, tokens)
    if not 0 <= layer < len(attentions):
        raise IndexError(f"layer {layer} does not exist: the model has layers 0 to {len(attentions) - 1}")
    maps = attentions[layer][0]
    n_head = maps.shape[0]
    columns = min(n_head, 4)
    rows = -(-n_head // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.4), squeeze=False)
    for head, ax in enumerate(axes.flat):
        if head < n_head:
            _draw(ax, maps[head], tokens, f"layer {layer}, head {head}", ticks=len(tokens) <= 40)
        else:
            ax.axis("off")
    fig.suptitle(f"layer {layer}: what each head attends to (rows: queries, columns: keys)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_model(capture_or_attention, tokens: Sequence[str] | None = None, *, size: float = 1.6):
    """Every layer (rows) × head (columns) as small heat maps, like bertviz's model view; returns the figure.

    Taught in: solutions/09_looking_inside.ipynb
    """
    import matplotlib.pyplot as plt

    attentions, tokens = _unpack(capture_or_attention, tokens)
    n_layer, n_head = len(attentions), attentions[0].shape[1]
    fig, axes = plt.subplots(n_layer, n_head, figsize=(size * n_head + 0.6, size * n_layer + 0.5), squeeze=False)
    for layer in range(n_layer):
        for head in range(n_head):
            ax = axes[layer, head]
            _draw(ax, attentions[layer][0, head], tokens, None, ticks=False)
            if layer == 0:
                ax.set_title(f"head {head}", fontsize=8)
            if head == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=8)
    fig.suptitle(f"every layer × head on {len(tokens)} tokens", fontsize=10)
    fig.tight_layout()
    return fig


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


class AttentionExplorer:
    """A text box and layer / head sliders that redraw one head's heat map (ipywidgets).

    Display it in a notebook (last expression of a cell). Typing a new text and pressing Enter re-runs the
    model; moving a slider redraws. An empty text shows a message in the widget; a text longer than the
    model's context (or `max_tokens`) is cropped, with a notice. `.picture()` is the current state as a
    static figure.

    Taught in: solutions/09_looking_inside.ipynb
    """

    def __init__(self, model, tokenizer, text: str = "", *, layer: int = 0, head: int = 0, max_tokens: int = 48):
        import ipywidgets as widgets

        from gptlab.topics.interpret import attention_modules

        self.model, self.tokenizer, self.max_tokens = model, tokenizer, max_tokens
        modules = attention_modules(model)
        self.n_layer, self.n_head = len(modules), modules[0].n_heads
        self.text = widgets.Text(value=text, description="text", placeholder="type a sentence, then Enter",
                                 continuous_update=False, layout=widgets.Layout(width="95%"))
        self.layer = widgets.IntSlider(value=layer, min=0, max=self.n_layer - 1, description="layer", continuous_update=True)
        self.head = widgets.IntSlider(value=head, min=0, max=self.n_head - 1, description="head", continuous_update=True)
        self.message = widgets.HTML(value="")
        self.output = widgets.Output()
        self.output.add_class("gptlab-explorer-plot")
        self.widget = widgets.VBox([self.text, widgets.HBox([self.layer, self.head]), self.message, self.output])
        self.widget.add_class("gptlab-explorer")
        self.capture = None
        self.draws = 0
        self._captured_text: str | None = None
        self.text.observe(lambda change: self.redraw(), names="value")
        self.layer.observe(lambda change: self.redraw(), names="value")
        self.head.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def _recapture(self) -> None:
        from gptlab.topics.interpret import capture_attention

        if self.text.value != self._captured_text:
            self._captured_text = self.text.value
            self.capture = None
            self.capture = capture_attention(self.model, self.tokenizer, self.text.value, max_tokens=self.max_tokens)

    def redraw(self) -> None:
        """Re-run the model if the text changed, then draw the selected head; errors become a message."""
        from html import escape

        from IPython.display import display

        import matplotlib.pyplot as plt

        try:
            self._recapture()
        except ValueError as error:  # the empty text, or a text the tokenizer refuses
            self.message.value = f'<span style="color:#b00020">⚠ {escape(str(error))}</span>'
            if _in_ipython():
                self.output.clear_output()
            return
        notice = self.capture.notice
        self.message.value = f'<span style="color:#8a6d00">{escape(notice)}</span>' if notice else ""
        figure = self.picture()
        if _in_ipython():  # outside a notebook (tests, scripts) there is nowhere to draw, and nothing is printed
            self.output.clear_output(wait=True)
            with self.output:
                display(figure)
        plt.close(figure)
        self.draws += 1

    def picture(self):
        """The heat map of the current text, layer and head, as a matplotlib figure."""
        if self.capture is None:
            raise ValueError("nothing to draw: the text is empty")
        layer, head = self.layer.value, self.head.value
        return plot_attention(self.capture.head(layer, head), self.capture.tokens, title=f"layer {layer}, head {head}")

    def _ipython_display_(self) -> None:
        """The live explorer, then a snapshot that shows only where the explorer cannot run (gptlab.viz.live):
        GitHub, nbviewer, a saved notebook after a restart; never a stale picture beside live sliders."""
        from gptlab.viz.live import LiveView

        note = (f"A snapshot (layer {self.layer.value}, head {self.head.value}) for readers outside a running "
                f"notebook: run this cell for the explorer, with a text box and layer / head sliders.")
        display_view = LiveView(self.widget, note=note, picture=self.picture() if self.capture is not None else None)
        display_view._ipython_display_()


def attention_explorer(model, tokenizer, text: str = "", *, layer: int = 0, head: int = 0, max_tokens: int = 48) -> AttentionExplorer:
    """An `AttentionExplorer` for `model`: display it to get a text box and layer / head sliders.

    Taught in: solutions/09_looking_inside.ipynb
    """
    return AttentionExplorer(model, tokenizer, text, layer=layer, head=head, max_tokens=max_tokens)
