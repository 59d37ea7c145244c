"""A live widget and what shows in its place when it cannot run.

An ipywidgets panel lives in the kernel. A saved notebook reopened after a restart shows "Error displaying
widget: model not found" where the panel was, and GitHub or nbviewer show nothing at all. `LiveView`
displays two outputs: the widget, then a fallback (a note saying how to bring the panel back, optionally a
static snapshot). A style carried inside the live widget hides the fallback while the widget runs, so a
learner sees the fallback exactly when the panel is gone, and never a stale snapshot beside a live view:

    LiveView(panel, note="The sampling panel runs in the kernel: run this cell to bring it back.")
    LiveView(explorer.widget, note="A snapshot of layer 0, head 0 ...", picture=figure)

The style is a CSS rule on JupyterLab's output areas (`:has`), scoped to this display's own id.

Taught in: solutions/08_generation.ipynb, solutions/09_looking_inside.ipynb
"""

from __future__ import annotations

import base64
import io
import uuid
from html import escape

NOTE_STYLE = ("border:1px solid #c9a227;background:#fff8e1;color:#333;padding:6px 10px;margin:4px 0;"
              "font-size:13px;max-width:60em")


def png_bytes(figure, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


class LiveView:
    """Display `widget`, then `note` (and a PNG of `picture`, a matplotlib figure or PNG bytes) that shows only
    where the widget is not running. Display it as a cell's last expression or with display()."""

    def __init__(self, widget, note: str, picture=None):
        self.widget, self.note = widget, note
        self.png = picture if picture is None or isinstance(picture, bytes) else png_bytes(picture)
        self.id = uuid.uuid4().hex[:12]

    def hider(self):
        """The HTML widget whose style hides this view's fallback (a child of the live panel)."""
        import ipywidgets as widgets

        rule = (f".jp-OutputArea-child:has(.gptlab-live-{self.id}) ~ .jp-OutputArea-child:has(.gptlab-fallback-{self.id})"
                f" {{ display: none; }}")
        return widgets.HTML(value=f"<style>{rule}</style>", layout=widgets.Layout(height="0px", margin="0px"))

    def fallback_html(self) -> str:
        picture = ""
        if self.png is not None:
            data = base64.b64encode(self.png).decode("ascii")
            picture = f'<br><img alt="snapshot" src="data:image/png;base64,{data}">'
        return (f'<div class="gptlab-fallback gptlab-fallback-{self.id}"><div class="gptlab-fallback-note" '
                f'style="{NOTE_STYLE}">{escape(self.note)}</div>{picture}</div>')

    def _ipython_display_(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        live = widgets.VBox([self.widget, self.hider()])
        live.add_class(f"gptlab-live-{self.id}")
        live.add_class("gptlab-live")
        display(live)
        bundle = {"text/html": self.fallback_html(), "text/plain": self.note}
        if self.png is not None:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        display(bundle, raw=True)
