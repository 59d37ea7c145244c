"""Pictures for lesson 01: the tokens of a text as coloured boxes.

A matplotlib figure rather than HTML, so it also renders where a notebook is shown as a static page
(GitHub, nbviewer).

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

# Shown instead of characters that would be invisible or break the line.
VISIBLE = {" ": "␣", "\n": "↵", "\t": "→"}


def token_label(piece: bytes | str) -> str:
    """A token as readable text: spaces as ␣, newlines as ↵; bytes that are not whole UTF-8 characters in hex.

    Example: ``token_label(b" the") -> '␣the'``; ``token_label(bytes([0xE4, 0xBD])) -> '\\\\xe4\\\\xbd'``.

    Taught in: solutions/01_tokens.ipynb
    """
    if isinstance(piece, bytes):
        try:
            piece = piece.decode("utf-8")
        except UnicodeDecodeError:
            return "".join(f"\\x{byte:02x}" for byte in piece)
    return "".join(VISIBLE.get(char, f"\\x{ord(char):02x}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
                   for char in piece)  # other control characters have no glyph: their code, like broken bytes


def show_tokens(pieces: Sequence[bytes | str], ids: Sequence[int] | None = None, *, title: str | None = None,
                width: int = 64, fontsize: int = 12, ax=None):
    """Draw tokens left to right as coloured boxes, with each token's id under it; return the figure.

    ``pieces`` are the tokens' bytes (or text), e.g. ``[tok.token_bytes[i] for i in ids]``; neighbours get
    different colours, so you see where one token ends and the next begins. Lines wrap after about
    ``width`` characters. Uses a monospace font without Chinese glyphs: show Chinese tokens as printed text.

    Example: ``show_tokens([b"Hello", b" world"], [15496, 995])``.

    Taught in: solutions/01_tokens.ipynb
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if ids is not None and len(ids) != len(pieces):
        raise ValueError(f"got {len(pieces)} pieces but {len(ids)} ids; pass one id per piece")
    labels = [token_label(piece) for piece in pieces]
    rows: list[list[int]] = [[]]
    used = 0
    for index, label in enumerate(labels):
        if rows[-1] and used + len(label) > width:
            rows.append([])
            used = 0
        rows[-1].append(index)
        used += len(label) + 1
    line_chars = max((sum(len(labels[i]) + 1 for i in row) for row in rows), default=1)
    char_inches = 0.6 * fontsize / 72  # the width of one character of a monospace font
    row_height = 2.6 if ids is not None else 1.6  # in units of one line of text
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(line_chars * char_inches + 0.4, 2.0),
                                        len(rows) * row_height * fontsize / 72 * 1.25 + (0.35 if title else 0.1)))
    else:
        fig = ax.figure
    colours = plt.get_cmap("Set3").colors
    for row_number, row in enumerate(rows):
        x = 0.0
        y = -row_number * row_height
        for index in row:
            label = labels[index]
            colour = colours[index % len(colours)]
            ax.add_patch(FancyBboxPatch((x + 0.05, y - 0.5), len(label) - 0.1, 1.0,
                                        boxstyle="round,pad=0.02,rounding_size=0.15", facecolor=colour,
                                        edgecolor="none", alpha=0.9))
            ax.text(x + len(label) / 2, y, label, ha="center", va="center", family="DejaVu Sans Mono",
                    fontsize=fontsize)
            if ids is not None:
                ax.text(x + len(label) / 2, y - 1.1, str(ids[index]), ha="center", va="center",
                        family="DejaVu Sans Mono", fontsize=fontsize * 0.6, color="dimgray")
            x += len(label) + 1
    ax.set_xlim(-0.2, line_chars)
    ax.set_ylim(-(len(rows) - 1) * row_height - (1.6 if ids is not None else 0.7), 0.7)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=fontsize, loc="left")
    return fig
