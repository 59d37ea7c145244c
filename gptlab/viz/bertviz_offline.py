"""bertviz's head view and model view, rendered offline and on the first run (JupyterLab 4, Notebook 7).

bertviz (https://github.com/jessevig/bertviz) draws attention with d3 and jQuery, which it asks RequireJS to
fetch from a CDN when the view is displayed. With no internet nothing is drawn, and in JupyterLab 4 even a
connected first run can fail with "require is not defined": JupyterLab loads `<script src>` tags
asynchronously, so bertviz's code may run before require.js has arrived.

This module takes bertviz's own HTML (``html_action="return"``), drops its require.js tag and its
``require.config`` block (the CDN addresses), and emits ONE HTML output whose single inline script

1. runs local copies of d3 5.7.0 and jQuery inside functions that give them a private ``module``/``exports``
   and no ``define``, so they create no globals and clash with nothing else on the page;
2. runs bertviz's unchanged drawing code with private ``require``/``requirejs`` stand-ins that hand it
   those two objects at once.

No request leaves the page and there is no load order to race. The local copies are not part of gptlab:
they come at run time from packages installed with it — d3 5.7.0 from mpld3 (``mpld3/js/d3.v5.min.js``),
jQuery 3.7.1 from nbclassic (``nbclassic/static/components/jquery/dist/jquery.min.js``). bertviz's code runs
with both (it asks for jQuery 2.0.0 but uses only selectors, ``.empty()``, ``.on()`` and ``.append()``).

Every view also carries a short note that its script deletes once it runs: in a notebook that is not trusted
(cloned from git, opened on GitHub) scripts never run, and the note says how to make the view appear
instead of leaving a blank space. Each view comes with a static PNG of the same weights.

Taught in: solutions/09_looking_inside.ipynb
"""

from __future__ import annotations

import functools
import io
import re
import uuid
from dataclasses import dataclass
from importlib import metadata, resources

__all__ = ["AttentionView", "OfflineAssetError", "head_view", "local_scripts", "model_view", "offline_html"]

# (package, path inside it, the version banner the file must carry)
SCRIPTS = {
    "d3": ("mpld3", "js/d3.v5.min.js", "d3js.org v5.7.0"),
    "jquery": ("nbclassic", "static/components/jquery/dist/jquery.min.js", "jQuery v3.7.1"),
}
REQUIREJS_TAG = re.compile(r"<script[^>]*src=[\"'][^\"']*require(?:\.min)?\.js[\"'][^>]*>\s*</script>", re.IGNORECASE)
REQUIRE_CONFIG = re.compile(r"require\.config\(\s*\{.*?\}\s*\)\s*;", re.DOTALL)
UNTRUSTED_NOTE = ("Interactive attention view (bertviz): it draws when this cell runs. Nothing here? The notebook is "
                  "not trusted, so its saved scripts do not run: re-run this cell, or trust the notebook (JupyterLab: "
                  "command palette ▸ “Trust Notebook”; a shell: <code>jupyter trust NOTEBOOK.ipynb</code>). "
                  "The static picture below shows the same weights.")


SNAPSHOT = "Snapshot of the same weights (it reads outside Jupyter too; the view above is the interactive one)"


class OfflineAssetError(RuntimeError):
    """A local copy of d3 or jQuery is missing or is not the expected version."""


@functools.lru_cache(maxsize=None)
def local_scripts() -> dict[str, str]:
    """The JavaScript sources of d3 and jQuery, read from the installed mpld3 and nbclassic packages.

    Taught in: solutions/09_looking_inside.ipynb
    """
    found = {}
    for name, (package, path, banner) in SCRIPTS.items():
        try:
            source = resources.files(package).joinpath(path).read_text(encoding="utf-8")
        except (ModuleNotFoundError, FileNotFoundError, OSError) as error:
            raise OfflineAssetError(
                f"bertviz's views need a local copy of {name}, which gptlab reads from the {package!r} package "
                f"({package}/{path}); it is missing ({type(error).__name__}). Install it: pip install {package}") from None
        if banner not in source[:300]:
            version = _version(package)
            raise OfflineAssetError(f"{package} {version} carries {path} but not the expected {banner!r}; "
                                    f"install the version gptlab was tested with (see pyproject.toml)")
        found[name] = source
    return found


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _escape_script(source: str) -> str:
    """Make JavaScript safe inside an inline <script>: a '</script>' (or '<!--') in a string would end it."""
    return source.replace("</", "<\\/").replace("<!--", "<\\!--")


def offline_html(bertviz_html: str) -> str:
    """Rewrite the HTML of a bertviz view (html_action="return") so that it needs no network and no RequireJS.

    Returns one HTML fragment: an untrusted-notebook note, bertviz's markup, and one inline script.

    Taught in: solutions/09_looking_inside.ipynb
    """
    html = REQUIREJS_TAG.sub("", bertviz_html)
    # bertviz appends its code as the last element: <script type="text/javascript"> … </script>. Its data may
    # itself hold "</script>" (a token), so the script runs to the LAST closing tag, not the first.
    opening = re.search(r"<script[^>]*>", html, re.IGNORECASE)
    closing = html.lower().rfind("</script>")
    if opening is None or closing < opening.end() or "requirejs(" not in html[opening.end():closing]:
        raise ValueError("this does not look like the HTML of a bertviz 1.4 view (html_action='return'): expected "
                         "its markup followed by one inline script calling requirejs(...)")
    markup, code = html[:opening.start()].strip(), html[opening.end():closing]
    view_code = REQUIRE_CONFIG.sub("", code, count=1)
    libraries = local_scripts()
    note_id = f"gptlab-note-{uuid.uuid4().hex}"
    markup_id = f"gptlab-markup-{uuid.uuid4().hex}"  # hidden until the script runs: no empty "Layer:" menu untrusted
    script = f"""(function () {{
  var libraries = {{}};
  (function () {{ var module = {{exports: {{}}}}, exports = module.exports, define;
{libraries["d3"]}
  ;libraries.d3 = module.exports; }})();
  (function () {{ var module = {{exports: {{}}}}, exports = module.exports, define;
{libraries["jquery"]}
  ;libraries.jquery = module.exports; }})();
  var requirejs = function (names, use) {{
    return use.apply(null, names.map(function (name) {{ return libraries[name]; }}));
  }};
  var require = requirejs;
  require.config = function () {{}};
  var note = document.getElementById("{note_id}");
  var markup = document.getElementById("{markup_id}");
  try {{
    if (markup) {{ markup.style.display = ""; }}
{view_code}
    if (note) {{ note.remove(); }}
  }} catch (error) {{
    if (note) {{ note.textContent = "The attention view failed to draw: " + error; }}
    throw error;
  }}
}})();"""
    note = (f'<div id="{note_id}" class="gptlab-untrusted-note" style="border:1px solid #c9a227;background:#fff8e1;'
            f'color:#333;padding:6px 10px;margin:4px 0;font-size:13px;">{UNTRUSTED_NOTE}</div>')
    markup = f'<div id="{markup_id}" class="gptlab-bertviz-markup" style="display:none">\n{markup}\n</div>'
    return f'<div class="gptlab-bertviz">\n{note}\n{markup}\n<script type="text/javascript">\n{_escape_script(script)}\n</script>\n</div>'


@dataclass
class AttentionView:
    """An offline bertviz view and, optionally, a static PNG of the same weights.

    In a notebook, displaying it (as the last expression of a cell, or with display()) shows two outputs:
    the interactive view, then the picture, which reads everywhere: GitHub, nbviewer, untrusted notebooks.

    Taught in: solutions/09_looking_inside.ipynb
    """

    html: str
    png: bytes | None = None
    notice: str | None = None

    def _repr_html_(self) -> str:
        return self.html

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, Image, display

        display(HTML(self.html))
        if self.png is not None:
            display(Image(data=self.png, format="png"))


def _attention_and_tokens(capture_or_attention, tokens):
    from gptlab.topics.interpret import AttentionCapture

    if isinstance(capture_or_attention, AttentionCapture):
        if tokens is not None:
            raise TypeError("pass tokens only with a list of attention tensors; a capture carries its own tokens")
        return capture_or_attention.attentions, capture_or_attention.tokens, capture_or_attention.notice, capture_or_attention
    if tokens is None:
        raise TypeError("pass the token labels: head_view(attentions, tokens), or a capture from capture_attention()")
    attentions = list(capture_or_attention)
    if not attentions:
        raise ValueError("no attention tensors: pass one (1, n_head, T, T) tensor per layer")
    for i, a in enumerate(attentions):
        if a.dim() != 4 or a.shape[0] != 1 or a.shape[-1] != a.shape[-2] or a.shape[-1] != len(tokens):
            raise ValueError(f"layer {i}: expected a tensor of shape (1, n_head, {len(tokens)}, {len(tokens)}) "
                             f"for {len(tokens)} tokens; got {tuple(a.shape)}")
    return attentions, list(tokens), None, None


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def head_view(capture_or_attention, tokens=None, *, layer: int | None = None, heads=None, picture: bool = True) -> AttentionView:
    """bertviz's head view (one layer, every head as a colour; hover a token to see what it attends to), offline.

    Pass a capture from `capture_attention`, or a list of (1, n_head, T, T) tensors and the token labels.
    With picture=True the view carries a PNG of that layer's heads as heat maps.

    Taught in: solutions/09_looking_inside.ipynb
    """
    from bertviz import head_view as bertviz_head_view

    attentions, labels, notice, _ = _attention_and_tokens(capture_or_attention, tokens)
    html = bertviz_head_view(attentions, labels, layer=layer, heads=heads, prettify_tokens=False, html_action="return").data
    png = None
    if picture:
        from gptlab.viz.attention import plot_heads

        figure = plot_heads(attentions, labels, layer=layer or 0)
        figure.suptitle(f"{SNAPSHOT}: layer {layer or 0}, every head as a heat map", fontsize=10)
        png = _png(figure)
    return AttentionView(_with_notice(offline_html(html), notice), png, notice)


def model_view(capture_or_attention, tokens=None, *, display_mode: str = "light", picture: bool = True) -> AttentionView:
    """bertviz's model view (a thumbnail per layer × head; click one to enlarge it), offline.

    With picture=True the view carries a PNG grid of every layer's and head's heat map.

    Taught in: solutions/09_looking_inside.ipynb
    """
    from bertviz import model_view as bertviz_model_view

    attentions, labels, notice, _ = _attention_and_tokens(capture_or_attention, tokens)
    html = bertviz_model_view(attentions, labels, display_mode=display_mode, prettify_tokens=False, html_action="return").data
    png = None
    if picture:
        from gptlab.viz.attention import plot_model

        figure = plot_model(attentions, labels)
        figure.suptitle(f"{SNAPSHOT}: every layer × head on {len(labels)} tokens", fontsize=10)
        png = _png(figure)
    return AttentionView(_with_notice(offline_html(html), notice), png, notice)


def _with_notice(html: str, notice: str | None) -> str:
    if not notice:
        return html
    from html import escape

    return f'<p class="gptlab-crop-notice" style="color:#8a6d00;margin:2px 0;">{escape(notice)}</p>\n{html}'

