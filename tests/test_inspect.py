"""Attention capture, readable token labels, the offline bertviz wrapper and the explorer widget (lesson 09)."""

import re

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from gptlab.nn.attention import MultiHeadAttention
from gptlab.topics.interpret import (AttentionCapture, EmptyTextError, ablate_heads, capture_attention, first_token_score,
                                      induction_score, previous_token_score, record_attention, token_labels)
from gptlab.nn.model import GPT, GPTConfig
from gptlab.tokenizers import BPETokenizer, CharTokenizer
from gptlab.viz import bertviz_offline
from gptlab.viz.attention import attention_explorer, plot_attention, plot_heads, plot_label, plot_model
from gptlab.viz.bertviz_offline import AttentionView, OfflineAssetError, head_view, local_scripts, model_view, offline_html

CORPUS = "the cat sat on the mat. 你好，世界！ the dog sat on the log. " * 20


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(CORPUS, vocab_size=300)


@pytest.fixture(scope="module")
def model(make_gpt):
    return make_gpt(dict(vocab_size=300, block_size=24, n_layer=2, n_head=3, n_embd=24), eval=True)


# --- capture -------------------------------------------------------------------------------------


def test_capture_gives_one_bertviz_tensor_per_layer_equal_to_the_attention_weights(model, tokenizer):
    capture = capture_attention(model, tokenizer, "the cat sat on the mat.")
    T = len(tokenizer.encode("the cat sat on the mat."))
    assert capture.n_layer == 2 and capture.n_head == 3 and capture.T == T and len(capture.tokens) == T
    assert all(a.shape == (1, 3, T, T) for a in capture.attentions)
    stacked = capture.stacked()
    assert torch.allclose(stacked.sum(-1), torch.ones(2, 3, T)) and stacked.triu(1).abs().max() == 0
    # Layer 0 by hand: the block's own attention asked for its weights.
    with torch.no_grad():
        idx = torch.tensor([capture.ids])
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(T))
        _, weights = model.transformer.h[0].attn(model.transformer.h[0].ln_1(x), return_weights=True)
    assert torch.allclose(weights, capture.attentions[0], atol=1e-6)
    assert capture.head(1, 2).shape == (T, T) and capture.notice is None and capture.dropped == 0


def test_hooks_leave_the_model_unchanged(model, tokenizer):
    idx = torch.tensor([tokenizer.encode("the dog sat")])
    with torch.no_grad():
        before = model(idx)[0]
        with record_attention(model) as weights:
            during = model(idx)[0]
        after = model(idx)[0]
    assert len(weights) == 2 and torch.allclose(before, during, atol=1e-6) and torch.equal(before, after)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    model.train()
    capture_attention(model, tokenizer, "the cat")
    assert model.training
    model.eval()


def test_hooks_are_removed_even_when_the_forward_pass_fails(model):
    with pytest.raises(ValueError, match="longer than block_size"):
        with record_attention(model):
            model(torch.zeros(1, 100, dtype=torch.long))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_a_model_without_gptlab_attention_gets_a_clear_error():
    with pytest.raises(TypeError, match="no gptlab MultiHeadAttention"):
        capture_attention(torch.nn.Linear(2, 2), CharTokenizer("ab"), "ab")


def test_any_model_built_from_multi_head_attention_is_recorded():
    class TwoLayers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = torch.nn.Embedding(10, 8)
            self.attns = torch.nn.ModuleList(MultiHeadAttention(8, 2) for _ in range(2))

        def forward(self, idx):
            x = self.wte(idx)
            for attn in self.attns:
                x = x + attn(x)
            return x

    capture = capture_attention(TwoLayers(), None, ids=[1, 2, 3, 4])
    assert [tuple(a.shape) for a in capture.attentions] == [(1, 2, 4, 4)] * 2
    assert capture.tokens == ["1", "2", "3", "4"]


def test_a_long_text_is_cropped_with_a_notice(model, tokenizer):
    text = "the cat sat on the mat. " * 10
    capture = capture_attention(model, tokenizer, text)
    n = len(tokenizer.encode(text))
    assert capture.T == 24 and capture.dropped == n - 24
    assert capture.notice == f"The text has {n} tokens, more than the model's block_size of 24: showing its first 24 tokens ({n - 24} cropped)."
    assert capture.ids == tokenizer.encode(text)[:24]
    assert capture_attention(model, tokenizer, text, max_tokens=5).notice.startswith(f"The text has {n} tokens, more than max_tokens=5")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_an_empty_text_raises_a_sentence_not_a_traceback_deep_inside(model, tokenizer, text):
    with pytest.raises(EmptyTextError, match="the text is empty: type a sentence"):
        capture_attention(model, tokenizer, text)


def test_text_and_ids_are_exclusive(model, tokenizer):
    with pytest.raises(TypeError, match="either a text or a list of token ids"):
        capture_attention(model, tokenizer, "a", ids=[1])
    assert capture_attention(model, tokenizer, ids=torch.tensor([[5, 6, 7]])).ids == [5, 6, 7]


# --- readable tokens -----------------------------------------------------------------------------


def test_labels_show_spaces_and_newlines(tokenizer):
    labels = token_labels(tokenizer, tokenizer.encode("the cat\nsat"))
    assert "".join(labels) == "the␣cat↵sat"


def test_chinese_split_inside_a_character_stays_readable():
    tok = BPETokenizer()  # untrained: one token per byte, so every Chinese character is split in three
    ids = tok.encode("你好")
    assert len(ids) == 6
    assert token_labels(tok, ids) == ["‹你›"] * 3 + ["‹好›"] * 3
    assert token_labels(tok, ids, style="hex") == ["\\xe4", "\\xbd", "\\xa0", "\\xe5", "\\xa5", "\\xbd"]


def test_whole_characters_inside_a_token_are_plain_and_partial_ones_bracketed(tokenizer):
    ids = tokenizer.encode("你好，世界！")
    labels = token_labels(tokenizer, ids)
    assert len(labels) == len(ids)
    plain = "".join(labels).replace("‹", "").replace("›", "")
    for char in "你好，世界！":
        assert char in plain
    assert "\\x" not in "".join(labels)


def test_invalid_bytes_are_shown_in_hex():
    tok = BPETokenizer()
    assert token_labels(tok, [0xFF, ord("a")]) == ["\\xff", "a"]
    assert token_labels(tok, [0xE4, 0xBD]) == ["\\xe4", "\\xbd"]  # a character cut short: nothing to show


def test_labels_of_a_character_tokenizer():
    tok = CharTokenizer("ab c")
    assert token_labels(tok, tok.encode("a b")) == ["a", "␣", "b"]


# --- pattern scores ------------------------------------------------------------------------------


def _previous_head(T):
    maps = torch.zeros(T, T)
    maps[0, 0] = 1
    maps[torch.arange(1, T), torch.arange(T - 1)] = 1
    return maps


def test_scores_of_ideal_heads():
    T = 8
    previous, first = _previous_head(T), torch.zeros(T, T)
    first[:, 0] = 1
    uniform = torch.ones(T, T).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    maps = torch.stack([previous, first, uniform])
    assert torch.allclose(previous_token_score(maps), torch.tensor([1.0, 1 / (T - 1), previous_token_score(uniform).item()]))
    assert torch.allclose(first_token_score(maps)[:2], torch.tensor([1 / (T - 1), 1.0]))
    period = 4
    induction = torch.zeros(T, T)
    induction[torch.arange(T), torch.arange(T)] = 1
    induction[torch.arange(period, T), torch.arange(1, T - period + 1)] = 1
    induction[torch.arange(period, T), torch.arange(period, T)] = 0
    assert induction_score(induction, period).item() == 1.0
    with pytest.raises(ValueError, match="at least 2 positions"):
        previous_token_score(torch.ones(1, 1))
    with pytest.raises(ValueError, match="period must be between"):
        induction_score(induction, T)


# --- ablation ------------------------------------------------------------------------------------


def _head_outputs(model, idx):
    """Each layer's input to c_proj (B, T, C): the heads side by side."""
    seen = []
    hooks = [block.attn.c_proj.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
             for block in model.transformer.h]
    try:
        with torch.no_grad():
            logits, _ = model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return logits, seen


def test_ablate_heads_replaces_only_the_chosen_heads_slice_and_removes_its_hooks(model):
    idx = torch.randint(0, 300, (2, 10), generator=torch.Generator().manual_seed(0))
    plain, before = _head_outputs(model, idx)
    size = model.config.n_embd // model.config.n_head
    with ablate_heads(model, [(1, 2)], mode="zero"):
        zeroed, after = _head_outputs(model, idx)
    # layer 0 is untouched; in layer 1 head 2's slice is what c_proj receives as 0 (the hook runs after ours)
    assert torch.equal(after[0], before[0])
    assert after[1][..., 2 * size:3 * size].abs().max() == 0
    assert torch.equal(after[1][..., :2 * size], before[1][..., :2 * size])
    with ablate_heads(model, []):
        same, _ = _head_outputs(model, idx)
    assert torch.equal(same, plain)
    assert not torch.allclose(zeroed, plain)
    # by hand: zeroing head 2 of layer 1 equals running c_proj on the slice set to 0
    block = model.transformer.h[1]
    by_hand = before[1].clone()
    by_hand[..., 2 * size:3 * size] = 0
    with torch.no_grad():
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(10))
        x = model.transformer.h[0](x)
        x = x + block.attn.c_proj(by_hand)
        x = x + block.mlp(block.ln_2(x))
        expected = model.lm_head(model.transformer.ln_f(x))
    assert torch.allclose(zeroed, expected, atol=1e-5)
    with ablate_heads(model, [(0, 0), (1, 1)], mode="mean"):
        meaned, _ = _head_outputs(model, idx)
    assert not torch.allclose(meaned, plain) and not torch.allclose(meaned, zeroed)
    after_all, _ = _head_outputs(model, idx)
    assert torch.equal(after_all, plain)                     # every hook is gone


def test_mean_ablation_writes_the_heads_average_over_batch_and_positions(model):
    idx = torch.randint(0, 300, (3, 8), generator=torch.Generator().manual_seed(1))
    _, before = _head_outputs(model, idx)
    size = model.config.n_embd // model.config.n_head
    received = []
    with ablate_heads(model, [(0, 1)], mode="mean"):
        hook = model.transformer.h[0].attn.c_proj.register_forward_pre_hook(lambda module, args: received.append(args[0]))
        try:
            with torch.no_grad():
                model(idx)
        finally:
            hook.remove()
    part = received[0][..., size:2 * size]
    assert torch.allclose(part, before[0][..., size:2 * size].mean(dim=(0, 1)).expand_as(part), atol=1e-6)
    assert torch.equal(received[0][..., :size], before[0][..., :size])


def test_ablate_heads_refuses_a_head_the_model_lacks_and_an_unknown_mode(model):
    with pytest.raises(ValueError, match=r"no head \(2, 0\): the model has 2 layers of 3 heads"):
        with ablate_heads(model, [(2, 0)]):
            pass
    with pytest.raises(ValueError, match="mode must be"):
        with ablate_heads(model, [(0, 0)], mode="resample"):
            pass


# --- pictures ------------------------------------------------------------------------------------


def test_pictures_are_figures_with_readable_labels(model, tokenizer):
    capture = capture_attention(model, tokenizer, "the cat 你好")
    assert len(plot_heads(capture, layer=1).axes) == 3
    assert len(plot_model(capture).axes) == 6
    fig = plot_attention(capture.head(0, 0), capture.tokens, title="x")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [plot_label(t) for t in capture.tokens]
    with pytest.raises(IndexError, match="layers 0 to 1"):
        plot_heads(capture, layer=2)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_label_escapes_only_what_the_font_cannot_draw():
    assert plot_label("␣cat") == "␣cat"
    label = plot_label("你")
    assert label in ("你", "\\u4f60")


# --- offline bertviz -----------------------------------------------------------------------------


def test_local_scripts_are_the_versions_bertviz_works_with():
    scripts = local_scripts()
    assert "d3js.org v5.7.0" in scripts["d3"][:200] and "jQuery v3.7.1" in scripts["jquery"][:200]


@pytest.mark.parametrize("make", [head_view, model_view])
def test_views_need_no_network_and_no_requirejs(model, tokenizer, make):
    capture = capture_attention(model, tokenizer, "the cat sat")
    tokens = ["</script>", "<!--"] + capture.tokens[2:]  # labels that would end or confuse an inline script
    view = make(capture.attentions, tokens)
    assert isinstance(view, AttentionView) and view.png.startswith(b"\x89PNG")
    html = view.html
    assert "cdnjs" not in html and "https://" not in html.split("<script", 1)[0]
    assert not re.search(r"<script[^>]+src=", html)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.DOTALL)
    assert len(scripts) == 1 and "require.config({" not in scripts[0]
    assert "</script" not in scripts[0] and "<!--" not in scripts[0]  # the token cannot end the script early
    assert "gptlab-untrusted-note" in html and "Trust Notebook" in html
    assert "d3js.org v5.7.0" in scripts[0] and "jQuery v3.7.1" in scripts[0]
    assert "<\\/script>" in scripts[0]  # the token, escaped, still in bertviz's data


def test_view_displays_the_interactive_view_then_the_picture(model, tokenizer, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(type(obj).__name__))
    head_view(capture_attention(model, tokenizer, "the cat"))._ipython_display_()
    assert shown == ["HTML", "Image"]
    assert head_view(capture_attention(model, tokenizer, "the cat"), picture=False).png is None


def test_views_take_tensors_and_tokens_too(model, tokenizer):
    capture = capture_attention(model, tokenizer, "the cat")
    assert "gptlab-bertviz" in head_view(capture.attentions, capture.tokens, picture=False).html
    with pytest.raises(ValueError, match=r"layer 0: expected a tensor of shape \(1, n_head, 3, 3\)"):
        head_view(capture.attentions, ["a", "b", "c"], picture=False)
    with pytest.raises(TypeError, match="pass the token labels"):
        model_view(capture.attentions)


def test_the_crop_notice_is_shown_above_the_view(model, tokenizer):
    capture = capture_attention(model, tokenizer, "the cat sat on the mat. " * 10)
    assert "showing its first 24 tokens" in head_view(capture, picture=False).html.split("<script", 1)[0]


def test_a_missing_package_is_named(monkeypatch):
    local_scripts.cache_clear()
    monkeypatch.setitem(bertviz_offline.SCRIPTS, "d3", ("no_such_package_xyz", "js/d3.js", "v5"))
    try:
        with pytest.raises(OfflineAssetError, match=r"no_such_package_xyz.*pip install no_such_package_xyz"):
            local_scripts()
    finally:
        local_scripts.cache_clear()


def test_html_that_is_not_bertviz_is_refused():
    with pytest.raises(ValueError, match="does not look like the HTML of a bertviz 1.4 view"):
        offline_html("<div>hello</div>")


# --- the explorer widget -------------------------------------------------------------------------


def test_explorer_redraws_when_a_slider_moves_and_reports_bad_text_in_the_widget(model, tokenizer):
    explorer = attention_explorer(model, tokenizer, "the cat sat")
    assert explorer.draws == 1 and explorer.layer.max == 1 and explorer.head.max == 2
    explorer.layer.value = 1
    explorer.head.value = 2
    assert explorer.draws == 3
    assert explorer.picture().axes[0].get_title() == "layer 1, head 2"
    explorer.text.value = "   "
    assert "the text is empty" in explorer.message.value and explorer.draws == 3
    explorer.text.value = "the cat sat on the mat. " * 10
    assert "showing its first 24 tokens" in explorer.message.value and explorer.capture.T == 24
    explorer.text.value = "the dog"
    assert explorer.message.value == "" and explorer.capture.T == len(tokenizer.encode("the dog"))
    from gptlab.viz.live import LiveView

    view = LiveView(explorer.widget, note="a snapshot", picture=explorer.picture())  # what displaying it shows
    fallback = view.fallback_html()
    assert f"gptlab-fallback-{view.id}" in fallback and "data:image/png;base64," in fallback
    assert f".gptlab-live-{view.id}" in view.hider().value  # the live widget's style hides exactly this fallback
    import matplotlib.pyplot as plt

    plt.close("all")


def test_a_capture_holds_one_causal_attention_map_per_layer_and_head(model, tokenizer):
    capture = capture_attention(model, tokenizer, "the cat sat on the mat")
    T = len(tokenizer.encode("the cat sat on the mat"))
    assert isinstance(capture, AttentionCapture) and (capture.n_layer, capture.n_head) == (2, 3)
    assert capture.ids == tokenizer.encode("the cat sat on the mat") and len(capture.tokens) == T
    for weights in capture.attentions:
        assert weights.shape == (1, 3, T, T)
        torch.testing.assert_close(weights.sum(-1), torch.ones(1, 3, T))  # each query's weights sum to 1
        assert not weights.triu(diagonal=1).any()  # nothing attends to the future
