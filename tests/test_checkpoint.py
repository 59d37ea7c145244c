"""Checkpoints: exact resume, atomic writes that survive SIGKILL, clear errors for damaged files, course models."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
import torch

from gptlab.io.checkpoint import (CheckpointError, default_path, load_checkpoint, load_model, save_checkpoint, sha256_file,
                               verify_sha256)
from gptlab.nn.model import GPT, GPTConfig
from gptlab.tokenizers import BPETokenizer
from gptlab.training.loop import TrainConfig, configure_optimizer, train

TINY = dict(vocab_size=300, block_size=16, n_layer=2, n_head=2, n_embd=32)  # this module's models (make_gpt(TINY))
TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\n\nJULIET:\nAy me.\n" * 30


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(TEXT, vocab_size=300)


@pytest.fixture(scope="module")
def data(tokenizer):
    from gptlab.data.batches import encode_corpus, split

    return split(encode_corpus(TEXT, tokenizer), 0.2)


def config(**overrides) -> TrainConfig:
    return TrainConfig(**{**dict(steps=10, batch_size=4, lr=3e-3, min_lr=3e-4, warmup_steps=2, eval_every=5, eval_batches=2,
                                 progress=False, device="cpu"), **overrides})


def test_round_trip(make_gpt, tmp_path, tokenizer):
    model = make_gpt(TINY)
    opt = configure_optimizer(model, config(), torch.device("cpu"))
    path = save_checkpoint(tmp_path / "a.safetensors", model, tokenizer=tokenizer, optimizer=opt, step=3,
                           metadata={"note": "hi"})
    ckpt = load_checkpoint(path)
    assert ckpt.step == 3 and ckpt.config == model.config and ckpt.metadata == {"note": "hi"} and ckpt.path == path
    assert ckpt.tokenizer.encode(TEXT[:80]) == tokenizer.encode(TEXT[:80])
    assert "lm_head.weight" not in ckpt.model_state  # tied to the token embedding: stored once
    rebuilt, tok = load_model(path)
    x = torch.randint(0, 300, (2, 16))
    model.eval()
    assert torch.equal(rebuilt(x)[0], model(x)[0]) and tok is not None
    assert rebuilt.lm_head.weight is rebuilt.transformer.wte.weight
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # the usual permissions, not the temporary file's 0600


def test_float16_export_is_half_the_size(make_gpt, tmp_path):
    model = make_gpt(TINY)
    full = save_checkpoint(tmp_path / "full.safetensors", model)
    half = save_checkpoint(tmp_path / "half.safetensors", model, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    rebuilt, _ = load_model(half)
    x = torch.randint(0, 300, (1, 16))
    model.eval()
    assert torch.allclose(rebuilt(x)[0], model(x)[0], atol=2e-2)
    assert next(rebuilt.parameters()).dtype == torch.float32


def test_resume_gives_identical_losses(make_gpt, tmp_path, data, tokenizer):
    train_ids, val_ids = data
    straight = train(make_gpt(TINY), train_ids, val_ids, config())
    path = tmp_path / "run.safetensors"
    first = train(make_gpt(TINY), train_ids, val_ids, config(stop_at=5, checkpoint_path=str(path)), tokenizer=tokenizer)
    assert first.steps == [1, 2, 3, 4, 5] and load_checkpoint(path).step == 5
    # a different model object (other initial weights) and a new process would do the same: all state is in the file
    resumed = train(make_gpt(TINY, seed=99), train_ids, val_ids, config(checkpoint_path=str(path)), resume=path)
    assert resumed.steps == straight.steps
    assert resumed.losses == straight.losses and resumed.val_losses == straight.val_losses
    assert load_checkpoint(path).tokenizer is not None  # kept across the resume


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage", "pickle", "plain_safetensors"])
def test_damaged_checkpoints_raise_a_clear_error_naming_the_file(make_gpt, tmp_path, damage):
    path = save_checkpoint(tmp_path / "ck.safetensors", make_gpt(TINY))
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        position = len(data) - 1000  # inside the tensor data, past the header
        path.write_bytes(data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(os.urandom(5000))
    elif damage == "pickle":
        torch.save({"model": make_gpt(TINY).state_dict()}, path)
    else:
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)
    assert "pickle" not in str(error.value).lower() or damage == "pickle"


def test_missing_checkpoint_is_a_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_checksums(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    verify_sha256(path, sha256_file(path))
    with pytest.raises(CheckpointError, match="f.bin"):
        verify_sha256(path, "0" * 64)


def test_default_path_is_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path))
    assert default_path("mine") == tmp_path / "checkpoints" / "mine.safetensors"
    with pytest.raises(ValueError):
        default_path("../x")


# ----- a kill in the middle of writing --------------------------------------------------------------------

KILLED_SCRIPT = textwrap.dedent("""
    import os, sys, time, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from conftest import build_gpt
    from test_checkpoint import TINY, config, TEXT
    from gptlab.data.batches import encode_corpus, split
    from gptlab.tokenizers import BPETokenizer
    tok = BPETokenizer().train(TEXT, vocab_size=300)
    train_ids, val_ids = split(encode_corpus(TEXT, tok), 0.2)
    real_fsync, calls = os.fsync, [0]
    def slow_fsync(fd):
        # The first checkpoint (step 4) is written normally. The second (step 8) is stuck half-way: its
        # temporary file is on disk, the rename has not happened. That is where the test kills us.
        calls[0] += 1
        real_fsync(fd)
        if calls[0] >= 2:
            print("WRITING", flush=True)
            time.sleep(120)
    os.fsync = slow_fsync
    from gptlab.training.loop import train
    train(build_gpt(TINY), train_ids, val_ids, config(checkpoint_path={path!r}, checkpoint_every=4), tokenizer=tok)
    print("FINISHED", flush=True)
""")


@pytest.mark.slow
def test_sigkill_while_writing_leaves_the_previous_checkpoint(make_gpt, tmp_path, data, tokenizer):
    path = tmp_path / "ck.safetensors"
    script = tmp_path / "killed.py"
    script.write_text(KILLED_SCRIPT.format(tests=str(Path(__file__).parent), path=str(path)))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "GPTLAB_DEVICE": "cpu"})
    try:
        line = child.stdout.readline()
        assert line.strip() == "WRITING", f"the child said {line!r}"
        temporary = list(tmp_path.glob(".ck.safetensors.*.tmp"))
        assert temporary and temporary[0].stat().st_size > 0  # the new checkpoint is half-way to its place
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    survivor = load_checkpoint(path)  # the previous checkpoint is intact
    assert survivor.step == 4 and survivor.tokenizer is not None
    train_ids, val_ids = data
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        straight = train(make_gpt(TINY), train_ids, val_ids, config())
        resumed = train(make_gpt(TINY, seed=5), train_ids, val_ids, config(checkpoint_path=str(path)), resume=path)
    finally:
        torch.set_num_threads(threads)
    assert resumed.steps == straight.steps
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-6)
    assert load_checkpoint(path).step == 10


# ----- the course's models --------------------------------------------------------------------------------


def test_load_mine_falls_back_to_the_shipped_model(make_gpt, tmp_path, monkeypatch):
    import gptlab.io.models as pretrained

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path))
    with pytest.warns(pretrained.ShippedModelFallback, match="mine.safetensors"):
        model, tok = pretrained.load("mine")
    assert model.config == pretrained.load("shipped")[0].config
    mine = make_gpt(TINY)
    save_checkpoint(default_path("mine"), mine, tokenizer=BPETokenizer().train(TEXT, vocab_size=300))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, tok = pretrained.load("mine")
    assert model.config == mine.config and tok.vocab_size == 300
    with pytest.raises(ValueError, match="unknown model"):
        pretrained.load("nobody")


def test_shipped_model_checksum_is_verified(monkeypatch):
    import gptlab.io.models as pretrained

    verify_sha256(pretrained.shipped_path(), pretrained.SHIPPED_SHA256)
    verify_sha256(pretrained.shipped_path("small"), pretrained.SMALL_SHA256)
    assert pretrained.shipped_path("small").name == "small.safetensors" != pretrained.shipped_path().name
    monkeypatch.setattr(pretrained, "SHIPPED_SHA256", "0" * 64)
    with pytest.raises(CheckpointError, match="shipped.safetensors"):
        pretrained.load("shipped")
    monkeypatch.setattr(pretrained, "SMALL_SHA256", "0" * 64)
    with pytest.raises(CheckpointError, match="small.safetensors"):
        pretrained.load("small")
    monkeypatch.setattr(pretrained, "CHAT_SHA256", "0" * 64)
    with pytest.raises(CheckpointError, match="chat.safetensors"):
        pretrained.load("shipped-chat")


# Recorded in gptlab/weights/README.md: the small model's loss on the first 40 windows of a test play it never saw.
HELDOUT_PLAY, HELDOUT_LOSS, HELDOUT_TOLERANCE = "Macbeth", 4.3297, 0.05


def heldout_loss(model, tokenizer, title: str = HELDOUT_PLAY, windows: int = 40) -> float:
    from gptlab.data import plays

    text = next(play.text for play in plays() if play.title == title)
    T = model.config.block_size
    ids = torch.tensor(tokenizer.encode(text)[: windows * T + 1])
    x, y = ids[:-1].view(windows, T), ids[1:].view(windows, T)
    with torch.no_grad():
        return float(model(x, y)[1])


def test_small_model_is_good_on_a_play_it_never_saw():
    import gptlab.io.models as pretrained
    from gptlab.data import FINETUNE_SPLITS
    from gptlab.training.loop import sample

    assert HELDOUT_PLAY in FINETUNE_SPLITS["test"]
    model, tokenizer = pretrained.load("small")
    assert model.num_params() < 5_000_000 and 1024 <= tokenizer.vocab_size <= 2048
    assert "<|endoftext|>" in tokenizer.special_tokens
    assert tokenizer.decode(tokenizer.encode("汉字 and ☃")) == "汉字 and ☃"  # byte-level: any text encodes
    assert heldout_loss(model, tokenizer) == pytest.approx(HELDOUT_LOSS, abs=HELDOUT_TOLERANCE)
    text = sample(model, tokenizer, "ROMEO:\n", 150, seed=0)
    assert text.count(":\n") >= 2 and text.count("\n") >= 5  # speakers with colons, line breaks
    assert sum(word in text.split() for word in ("the", "and", "I", "to", "of", "you", "my", "a")) >= 3


def test_the_test_run_never_touches_the_learners_own_cache():
    """Lesson 07 writes "mine" into $GPTLAB_CACHE: under pytest that is a folder of the run's own (conftest.py)."""
    from gptlab.io.checkpoint import default_path

    cache = Path(os.environ["GPTLAB_CACHE"])
    assert cache.name.startswith("gptlab-test-cache-") and default_path("mine").is_relative_to(cache)
    assert not default_path("mine").is_relative_to(Path.home() / ".cache")


def test_atomic_writes_give_ordinary_permissions_not_mkstemps_private_ones(tmp_path):
    """Generated lessons are handed to a class and read by the grader's sandbox user: 0600 would lock them out."""
    from gptlab.files import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.ipynb", "{}")
        assert (tmp_path / "new.ipynb").stat().st_mode & 0o777 == 0o644
        (tmp_path / "kept.txt").write_text("old")
        os.chmod(tmp_path / "kept.txt", 0o640)
        atomic_write_text(tmp_path / "kept.txt", "new")  # replacing a file keeps its mode
        assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o640 and (tmp_path / "kept.txt").read_text() == "new"
    finally:
        os.umask(old)


# --- lesson 14's ModernGPT: the same file format, the class recorded in the header ------------------------------

MODERN = dict(vocab_size=300, block_size=16, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)


def modern(seed: int = 0, **change):
    from gptlab.nn.modern_model import ModernConfig, ModernGPT

    torch.manual_seed(seed)
    return ModernGPT(ModernConfig(**{**MODERN, **change}))


@pytest.mark.parametrize("change", [{}, dict(tie_weights=False), dict(rope=False, norm="layer", mlp="gelu"),
                                    dict(n_kv_head=1, rope_base=500000.0)],
                         ids=["gqa-tied", "untied", "gpt2-parts", "mqa-base"])
def test_a_modern_gpt_round_trips_as_its_own_class(tmp_path, tokenizer, change):
    from gptlab.nn.modern_model import ModernGPT

    model = modern(**change).eval()
    path = save_checkpoint(tmp_path / "modern.safetensors", model, tokenizer=tokenizer, step=7)
    ckpt = load_checkpoint(path)
    assert ckpt.architecture == "ModernGPT" and ckpt.config == model.config and ckpt.step == 7
    rebuilt, tok = load_model(path)
    assert type(rebuilt) is ModernGPT and tok is not None
    x = torch.randint(0, 300, (2, 16))
    assert torch.equal(rebuilt(x)[0], model(x)[0])
    assert (rebuilt.lm_head.weight is rebuilt.transformer.wte.weight) == model.config.tie_weights
    assert ("lm_head.weight" in ckpt.model_state) == (not model.config.tie_weights)  # tied: stored once


def test_a_modern_gpt_resumes_training_exactly_and_loads_by_path(tmp_path, data, tokenizer):
    from gptlab.io import load

    train_ids, val_ids = data
    straight = train(modern(), train_ids, val_ids, config())
    path = tmp_path / "modern-run.safetensors"
    train(modern(), train_ids, val_ids, config(stop_at=5, checkpoint_path=str(path)), tokenizer=tokenizer)
    resumed = train(modern(seed=99), train_ids, val_ids, config(checkpoint_path=str(path)), resume=path)
    assert resumed.losses == straight.losses and resumed.val_losses == straight.val_losses
    model, tok = load(str(path))
    assert type(model).__name__ == "ModernGPT" and tok.encode(TEXT[:40]) == tokenizer.encode(TEXT[:40])


def test_a_checkpoint_from_before_the_class_was_recorded_loads_as_a_gpt(make_gpt, tmp_path):
    """Files written before ModernGPT have no "architecture" in their header: they hold a GPT."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    model = make_gpt(TINY).eval()
    path = save_checkpoint(tmp_path / "old.safetensors", model)
    with safe_open(str(path), framework="pt") as handle:
        header, tensors = handle.metadata(), {name: handle.get_tensor(name) for name in handle.keys()}
    meta = json.loads(header["gptlab"])
    assert meta.pop("architecture") == "GPT"
    save_file(tensors, path, metadata={**header, "gptlab": json.dumps(meta)})
    rebuilt, _ = load_model(path)
    x = torch.randint(0, 300, (1, 16))
    assert type(rebuilt) is GPT and torch.equal(rebuilt(x)[0], model(x)[0])
    meta["architecture"] = "Mamba"
    save_file(tensors, path, metadata={**header, "gptlab": json.dumps(meta)})
    with pytest.raises(CheckpointError, match=r"old\.safetensors holds a 'Mamba'.*knows GPT, ModernGPT"):
        load_checkpoint(path)
