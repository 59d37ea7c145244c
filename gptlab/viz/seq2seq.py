"""Pictures for lesson 11: cross-attention maps, decoding step by step, the three transformer families,
and what a masked-LM and a causal LM each predict. Static matplotlib figures (they render on GitHub);
`decoding_widget` adds a slider where widgets run.

Taught in: solutions/11_encoder_decoder.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

_ON, _TARGET, _OFF = "#4c9be8", "#f28e2b", "#eeeeee"


def show_cross_attention(weights: torch.Tensor, src_tokens: Sequence[str], tgt_tokens: Sequence[str], *,
                         title: str | None = None, ax=None):
    """Heat map of cross-attention: one row per target token, one column per source word; returns the figure.

    weights: (T, S), each row sums to 1 (e.g. averaged over heads).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    import matplotlib.pyplot as plt

    weights = torch.as_tensor(weights).detach().float().cpu()
    if weights.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"weights of shape {tuple(weights.shape)} do not match {len(tgt_tokens)} target and "
                         f"{len(src_tokens)} source tokens")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * len(src_tokens) + 2, 0.4 * len(tgt_tokens) + 1.5))
    image = ax.imshow(weights.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(tgt_tokens)), tgt_tokens)
    ax.set_xlabel("source word (keys, values: from the encoder)")
    ax.set_ylabel("target token produced (query)")
    ax.figure.colorbar(image, ax=ax, fraction=0.04)
    ax.set_title(title or "cross-attention")
    return ax.figure


def show_decoding_steps(steps: Sequence[dict], vocab_tokens: Sequence[str], *, ax=None):
    """Every step of greedy decoding in one picture: row t is the distribution over the next token given
    the prefix on the left; the chosen token is boxed. Returns the figure.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    probs = torch.stack([torch.as_tensor(s["probs"]) for s in steps]).float()
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * len(vocab_tokens) + 3, 0.38 * len(steps) + 1.5))
    ax.imshow(probs.numpy(), cmap="Greens", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(vocab_tokens)), vocab_tokens)
    ax.set_yticks(range(len(steps)), ["".join(s["prefix"]) or "·" for s in steps], family="monospace")
    for row, step in enumerate(steps):
        ax.add_patch(Rectangle((step["chosen_id"] - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.5))
    ax.set_xlabel("next token")
    ax.set_ylabel("prefix so far")
    ax.set_title("greedy decoding: the next-token distribution at each step (chosen token boxed)")
    return ax.figure


def decoding_widget(steps: Sequence[dict], src_tokens: Sequence[str], vocab_tokens: Sequence[str]):
    """A slider over the decoding steps: the prefix, the next-token probabilities and where the
    cross-attention looks in the source at that step. Needs ipywidgets; returns the widget.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    output = widgets.Output()
    slider = widgets.IntSlider(value=0, min=0, max=len(steps) - 1, description="step")

    def draw(change=None):
        step = steps[slider.value]
        with output:
            output.clear_output(wait=True)
            fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [len(src_tokens), len(vocab_tokens)]})
            left.bar(range(len(src_tokens)), torch.as_tensor(step["cross"]).float().numpy(), color=_ON)
            left.set_xticks(range(len(src_tokens)), src_tokens, rotation=60, ha="right")
            left.set_ylim(0, 1)
            left.set_title("cross-attention over the source")
            right.bar(range(len(vocab_tokens)), torch.as_tensor(step["probs"]).float().numpy(), color=_TARGET)
            right.set_xticks(range(len(vocab_tokens)), vocab_tokens)
            right.set_ylim(0, 1)
            right.set_title(f"prefix {''.join(step['prefix']) or '·'!r} → next {step['chosen']!r}")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, output])


def show_architectures():
    """Encoder–decoder, decoder-only (GPT) and encoder-only (BERT) side by side, with the attention mask each
    layer type uses underneath. Returns the figure.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 3, height_ratios=[1.5, 1])
    boxes = {
        "encoder–decoder (2017 Transformer, T5)": [
            ("source words", 0.2, 0.05, "#dddddd"), ("encoder blocks\nself-attention: all↔all\n(padding hidden)", 0.2, 0.45, "#cfe3f7"),
            ("target so far", 0.8, 0.05, "#dddddd"), ("decoder blocks\ncausal self-attention\n+ cross-attention\n→ encoder", 0.8, 0.45, "#fde0c5"),
            ("next target token", 0.8, 0.88, "#ffffff")],
        "decoder-only (GPT)": [
            ("text so far", 0.5, 0.05, "#dddddd"), ("decoder blocks\ncausal self-attention\n(no cross-attention)", 0.5, 0.45, "#fde0c5"),
            ("next token", 0.5, 0.88, "#ffffff")],
        "encoder-only (BERT)": [
            ("text with [MASK]s", 0.5, 0.05, "#dddddd"), ("encoder blocks\nself-attention: all↔all", 0.5, 0.45, "#cfe3f7"),
            ("the masked words", 0.5, 0.88, "#ffffff")],
    }
    for column, (title, items) in enumerate(boxes.items()):
        ax = fig.add_subplot(grid[0, column])
        ax.set_xlim(-0.03, 1.03), ax.set_ylim(-0.05, 1.02), ax.axis("off"), ax.set_title(title, fontsize=12)
        centres = {}
        half = 0.19 if len(items) == 5 else 0.22  # narrower boxes where two columns share a panel
        for text, x, y, colour in items:
            height = 0.3 if "\n" in text else 0.1
            ax.add_patch(FancyBboxPatch((x - half, y - height / 2), 2 * half, height, boxstyle="round,pad=0.01", fc=colour, ec="black"))
            ax.text(x, y, text, ha="center", va="center", fontsize=9)
            centres[text] = (x, y, height)
        ordered = list(centres.values())
        chains = [(0, 1), (2, 3), (3, 4)] if len(ordered) == 5 else [(0, 1), (1, 2)]
        for a, b in chains:
            (xa, ya, ha), (xb, yb, hb) = ordered[a], ordered[b]
            ax.add_patch(FancyArrowPatch((xa, ya + ha / 2), (xb, yb - hb / 2), arrowstyle="-|>", mutation_scale=14))
        if len(ordered) == 5:  # the cross-attention arrow: the encoder's output feeds every decoder block
            (xa, ya, ha), (xb, yb, hb) = ordered[1], ordered[3]
            ax.add_patch(FancyArrowPatch((xa + half, ya), (xb - half, yb), arrowstyle="-|>", mutation_scale=14, color="#d62728", lw=2))
            ax.text(0.5, ya + 0.03, "memory\n(k, v)", color="#d62728", ha="center", va="bottom", fontsize=8)
    S, T, real = 6, 5, 4  # six source slots, the last two padding; five target positions
    masks = [
        ("encoder self-attention: encoder–decoder, BERT\n(S × S, padding hidden)", torch.ones(S, S, dtype=torch.bool) & (torch.arange(S) < real)),
        ("decoder self-attention: encoder–decoder, GPT\n(T × T, causal)", torch.ones(T, T, dtype=torch.bool).tril()),
        ("cross-attention: encoder–decoder only\n(T × S, padding hidden, not causal)", torch.ones(T, S, dtype=torch.bool) & (torch.arange(S) < real)),
    ]
    lower = grid[1, :].subgridspec(1, 3)
    for column, (title, mask) in enumerate(masks):
        ax = fig.add_subplot(lower[0, column])
        ax.imshow(mask.float().numpy(), cmap="Blues", vmin=0, vmax=1.3)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_title(title, fontsize=10)
        ax.set_xlabel("key"), ax.set_ylabel("query")
    fig.suptitle("three transformer families (top) and the attention masks inside them (bottom; blue = may attend)", fontsize=12)
    fig.tight_layout()
    return fig


def show_objectives(tokens: Sequence[str], masked: Sequence[int]):
    """What each training objective sees, for one sentence. Left: a causal LM (GPT) predicts every next
    token from the tokens before it. Right: a masked LM (BERT) predicts only the masked tokens, from every
    unmasked token on both sides. Rows are predictions; blue = context it can use, orange = the token it
    predicts, grey = not visible. Returns the figure.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    n = len(tokens)
    if not masked or any(not 0 <= i < n for i in masked):
        raise ValueError(f"masked must name at least one position in 0..{n - 1}; got {list(masked)}")
    causal = torch.zeros(n - 1, n)
    for row in range(n - 1):
        causal[row, : row + 1], causal[row, row + 1] = 1, 2
    mlm = torch.ones(len(masked), n)
    mlm[:, list(masked)] = 0  # a [MASK] hides the word itself from every prediction
    for row, position in enumerate(masked):
        mlm[row, position] = 2
    colours = ListedColormap([_OFF, _ON, _TARGET])
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.45 * n + 1.8), gridspec_kw={"width_ratios": [1, 1]})
    seen_by_bert = [("[MASK]" if i in masked else t) for i, t in enumerate(tokens)]  # the input BERT reads
    for ax, grid, labels, inputs, title in (
        (left, causal, [f"predict {tokens[r + 1]!r}" for r in range(n - 1)], tokens, f"causal LM: {n - 1} predictions per sentence"),
        (right, mlm, [f"predict {tokens[p]!r}" for p in masked], seen_by_bert, f"masked LM: {len(masked)} predictions per sentence"),
    ):
        ax.imshow(grid.numpy(), cmap=colours, vmin=0, vmax=2, aspect="auto")
        ax.set_xticks(range(n), inputs, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xticks([x - 0.5 for x in range(1, n)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(labels))], minor=True)
        ax.grid(which="minor", color="white", lw=2)
        ax.tick_params(which="minor", length=0)
        ax.set_title(title)
    fig.suptitle("blue = context the prediction may use · orange = the token it predicts · grey = hidden", fontsize=11)
    fig.tight_layout()
    return fig
