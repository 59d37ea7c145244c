"""Pictures and a widget for lesson 08: the next-token distribution under temperature, top-k and top-p,
and the time per token with and without the KV cache.

Every picture is a matplotlib figure, so it also shows where a notebook is read as a static page
(GitHub, nbviewer); the ipywidgets panel redraws the same figure.

Taught in: solutions/08_generation.ipynb
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from gptlab.generation import generate, next_token_probs, stream
from gptlab.viz.live import LiveView

KEPT, KEPT_BEFORE, CUT = "tab:blue", "#a6c8e6", "#bdbdbd"
RESTART_NOTE = ("The sampling panel runs in the notebook's kernel, which has restarted since it was drawn: "
                "run this cell to bring the panel back.")


def _label(tokenizer, token_id: int) -> str:
    from gptlab.viz.tokens import token_label

    table = getattr(tokenizer, "token_bytes", None)
    if table is not None and token_id in table:
        return token_label(table[token_id])
    return token_label(tokenizer.decode([token_id])) if tokenizer is not None else str(token_id)


def next_token_logits(model, prompt_ids: Sequence[int]) -> torch.Tensor:
    """The model's (V,) logits for the token after `prompt_ids` (cropped to block_size).

    Taught in: solutions/08_generation.ipynb
    """
    ids = torch.tensor([list(prompt_ids)[-model.config.block_size:]], device=next(model.parameters()).device)
    with torch.no_grad():
        return model(ids)[0][0, -1].float().cpu()


def plot_next_token_distribution(logits: torch.Tensor, tokenizer=None, temperature: float = 1.0, top_k: int | None = None,
                                 top_p: float | None = None, show: int = 20, ax=None):
    """Bars of the `show` most likely next tokens: kept tokens in blue at their renormalised probability,
    over a pale bar of their probability before the cut; cut tokens grey; a dashed line at the cut-off.

    Returns the figure.

    Taught in: solutions/08_generation.ipynb
    """
    import matplotlib.pyplot as plt

    logits = logits.float().reshape(-1)
    before = next_token_probs(logits, temperature)  # temperature only
    after = next_token_probs(logits, temperature, top_k, top_p)
    order = torch.argsort(before, descending=True)[:show]
    kept = after[order] > 0
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 3.2))
    else:
        fig = ax.figure
    x = range(len(order))
    ax.bar(x, before[order], color=[KEPT_BEFORE if k else CUT for k in kept], edgecolor="#4a4a4a", linewidth=0.6,
           label="after temperature (before the cut)")
    ax.bar(x, after[order], color=KEPT, width=0.5, label="sampled from (renormalised)")
    n_kept = int((after > 0).sum())
    if n_kept < len(order):
        ax.axvline(n_kept - 0.5, color="tab:red", linestyle="--", linewidth=1.5)
        ax.text(n_kept - 0.4, ax.get_ylim()[1] * 0.9, " cut-off", color="tab:red", va="top")
    ax.set_xticks(list(x), [_label(tokenizer, int(i)) for i in order], rotation=60, fontsize=9, family="monospace")
    ax.set_ylabel("probability")
    settings = f"temperature {temperature}" + (f", top_k {top_k}" if top_k else "") + (f", top_p {top_p}" if top_p else "")
    ax.set_title(f"next token — {settings}: {n_kept} of {logits.numel()} tokens can be drawn")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def sampling_panel(model, tokenizer, prompt: str, max_tokens: int = 40, seed: int = 0) -> LiveView:
    """An ipywidgets panel: sliders for temperature, top-k (0 = off) and top-p; it redraws the next-token
    distribution of `prompt` and regenerates a continuation with those settings. Where the panel cannot run
    (a saved notebook after a restart) a note says how to bring it back (gptlab.viz.live).

    Taught in: solutions/08_generation.ipynb
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    prompt_ids = tokenizer.encode(prompt)
    logits = next_token_logits(model, prompt_ids)
    labelled = dict(style={"description_width": "initial"}, layout=widgets.Layout(width="340px"))  # whole labels
    temperature = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="temperature", **labelled)
    top_k = widgets.IntSlider(value=0, min=0, max=50, description="top-k (0 = off)", **labelled)
    top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p", **labelled)
    seed_box = widgets.IntText(value=seed, description="seed", style={"description_width": "initial"},
                               layout=widgets.Layout(width="140px"))
    again = widgets.Button(description="new seed")
    out = widgets.Output()

    def redraw(*_):
        settings = dict(temperature=temperature.value, top_k=top_k.value or None,
                        top_p=top_p.value if top_p.value < 1 else None)
        with out:
            out.clear_output(wait=True)
            fig = plot_next_token_distribution(logits, tokenizer, **settings)
            display(fig)  # explicit: works whatever matplotlib backend the kernel has
            plt.close(fig)
            [completion] = generate(model, prompt_ids, max_tokens=max_tokens, seed=seed_box.value, tokenizer=tokenizer, **settings)
            print(prompt + completion.text)

    def next_seed(_):
        seed_box.value += 1

    for control in (temperature, top_k, top_p, seed_box):
        control.observe(redraw, names="value")
    again.on_click(next_seed)
    redraw()
    panel = widgets.VBox([widgets.HBox([temperature, top_k]), widgets.HBox([top_p, seed_box, again]), out])
    panel.add_class("gptlab-sampling-panel")
    return LiveView(panel, note=RESTART_NOTE)


def time_per_token(model, prompt_ids: Sequence[int], max_tokens: int, use_cache: bool = True, repeats: int = 1,
                   progress: bool = True) -> list[float]:
    """Seconds spent on each generated token (greedy), in order, measured as the tokens stream out.

    With repeats > 1, each position keeps its fastest time over the runs: a pause caused by another
    program hits one run, rarely the same token in all of them. progress: a bar over all the tokens
    (its own updates fall outside the timed intervals).

    Taught in: solutions/08_generation.ipynb
    """
    from gptlab.training.progress import progress_bar

    bar = progress_bar(repeats * max_tokens, "with the cache" if use_cache else "without the cache", enabled=progress)
    best: list[float] = []
    try:
        for _ in range(repeats):
            times, last = [], time.perf_counter()
            for _chunk in stream(model, list(prompt_ids), max_tokens=max_tokens, temperature=0, use_cache=use_cache):
                times.append(time.perf_counter() - last)
                if bar is not None:
                    bar.update(1)
                last = time.perf_counter()
            best = times if not best else [min(a, b) for a, b in zip(best, times)]
    finally:
        if bar is not None:
            bar.close()
    return best


def plot_time_per_token(prompt_length: int, timings: dict[str, list[float]], smooth: int = 9, ax=None):
    """Milliseconds per token against the length of the context, one line per entry of `timings`.

    Taught in: solutions/08_generation.ipynb
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.4))
    else:
        fig = ax.figure
    for label, seconds in timings.items():
        ms = torch.tensor(seconds[1:]) * 1000  # the first token includes the prompt's forward pass
        if smooth > 1 and len(ms) >= smooth:  # a running median: one slow step (another process) is noise
            ms = ms.unfold(0, smooth, 1).median(dim=1).values
        lengths = range(prompt_length + 2 + (smooth - 1) // 2, prompt_length + 2 + (smooth - 1) // 2 + len(ms))
        ax.plot(list(lengths), ms.tolist(), label=label)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("ms per new token")
    ax.set_ylim(bottom=0)
    ax.set_title("time per generated token")
    ax.legend()
    fig.tight_layout()
    return fig
