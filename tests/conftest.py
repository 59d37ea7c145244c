"""Fixtures shared by the test modules: a tiny GPT of any shape, a tiny BPE tokenizer."""

from __future__ import annotations

import pytest
import torch

from gptlab.nn.model import GPT, GPTConfig
from gptlab.tokenizers import BPETokenizer

TINY = dict(vocab_size=300, block_size=32, n_layer=2, n_head=2, n_embd=32)
TEXT = ("ROMEO:\nBut soft, what light through yonder window breaks?\n\nJULIET:\nAy me. O Romeo, Romeo!\n\n" * 30
        + "café, naïve, 東京, 你好 🙂 " * 10)


def build_gpt(config: dict | None = None, *, seed: int = 0, scale: float | None = None, eval: bool = False,
              **overrides) -> GPT:
    """GPT(GPTConfig(**{**TINY, **config, **overrides})), seeded; `scale` multiplies the token embedding (sharper
    logits than GPT-2's 0.02 init: greedy choices far from ties); eval=True returns it in eval mode."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**TINY, **(config or {}), **overrides}))
    if scale is not None:
        with torch.no_grad():
            model.transformer.wte.weight.mul_(scale)
    return model.eval() if eval else model


@pytest.fixture(scope="session")
def make_gpt():
    """build_gpt: `make_gpt(dict(block_size=16), seed=1)`."""
    return build_gpt


@pytest.fixture(scope="session")
def tiny_tokenizer() -> BPETokenizer:
    """A byte-level BPE of 300 ids trained on a few lines of Romeo and Juliet and some non-ASCII text."""
    return BPETokenizer().train(TEXT, vocab_size=300)


@pytest.fixture
def course_copy(tmp_path):
    """solutions/00_welcome.ipynb and its Chinese translation, declared translated, in a temporary course (built)."""
    import json
    import shutil
    from pathlib import Path

    from gptlab.cli import main

    source = Path(__file__).resolve().parent.parent / "solutions"
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    (solutions / "zh").mkdir(parents=True)
    shutil.copy(source / "00_welcome.ipynb", solutions)
    shutil.copy(source / "zh" / "00_welcome.json", solutions / "zh")
    (solutions / "zh" / "manifest.json").write_text(json.dumps({"translated": ["00_welcome"]}))
    assert main(["lessons", "--solutions", str(solutions), "--lessons", str(lessons)]) == 0
    return solutions, lessons
