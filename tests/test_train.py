"""The training loop: learning-rate schedule, weight decay groups, determinism, DDP, the live plot, the CLI."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gptlab.nn.model import GPT, GPTConfig
from gptlab.training.loop import History, TrainConfig, configure_optimizer, estimate_loss, get_lr, sample, train

TINY = dict(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32)  # this module's models (make_gpt(TINY))


def tiny_data(n: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # a learnable stream: mostly "count up by one", with some noise
    data = (torch.arange(n) % 64 + (torch.rand(n, generator=g) < 0.1) * torch.randint(0, 64, (n,), generator=g)) % 64
    data = data.to(torch.uint16)
    return data[: n * 9 // 10], data[n * 9 // 10 :]


def quick(**overrides) -> TrainConfig:
    return TrainConfig(**{**dict(steps=12, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=3, eval_every=6, eval_batches=2,
                                 progress=False, device="cpu"), **overrides})


# ----- the learning-rate schedule -----------------------------------------------------------------


def test_get_lr_warmup_cosine_and_floor():
    c = TrainConfig(steps=110, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert get_lr(0, c) == pytest.approx(1e-4)  # lr * 1/10
    assert get_lr(4, c) == pytest.approx(5e-4)
    assert get_lr(9, c) == pytest.approx(1e-3)  # the peak at the end of warm-up
    assert get_lr(10, c) == pytest.approx(1e-3)  # cosine starts at the peak
    assert get_lr(60, c) == pytest.approx(5.5e-4)  # half way: the mean of lr and min_lr
    assert get_lr(110, c) == pytest.approx(1e-4) and get_lr(10_000, c) == pytest.approx(1e-4)
    after = [get_lr(s, c) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(after, after[1:]))  # never rises after warm-up
    assert min(get_lr(s, c) for s in range(200)) >= 1e-4 - 1e-12
    assert get_lr(0, TrainConfig(steps=10, lr=1e-3, min_lr=0.0, warmup_steps=0)) == pytest.approx(1e-3)


def test_train_config_rejects_bad_values():
    for bad in (dict(steps=0), dict(batch_size=-1), dict(min_lr=1.0, lr=0.1), dict(dtype="int8"), dict(compile="yes"),
                dict(stop_at=99, steps=10), dict(warmup_steps=-1)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


# ----- the optimizer ------------------------------------------------------------------------------


def test_weight_decay_only_on_2d_parameters(make_gpt):
    model = make_gpt(TINY)
    opt = configure_optimizer(model, TrainConfig(weight_decay=0.1), torch.device("cpu"))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in decay["params"]} >= {"transformer.wte.weight", "transformer.wpe.weight",
                                                       "transformer.h.0.attn.c_attn.weight"}
    assert "transformer.h.0.ln_1.weight" in {names[id(p)] for p in no_decay["params"]}
    counted = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert counted == model.num_params()  # every parameter once (the tied embedding is not counted twice)


def modern_tiny(seed: int = 0):
    from gptlab.nn.modern_model import ModernConfig, ModernGPT

    torch.manual_seed(seed)
    return ModernGPT(ModernConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))


@pytest.mark.parametrize("kind", ["GPT", "ModernGPT"])
def test_muon_takes_the_blocks_matrices_and_adamw_everything_else(make_gpt, kind):
    from gptlab.training.muon import MuonWithAdamW

    model = make_gpt(TINY) if kind == "GPT" else modern_tiny()
    opt = configure_optimizer(model, TrainConfig(optimizer="muon", weight_decay=0.1), torch.device("cpu"))
    assert isinstance(opt, MuonWithAdamW)
    names = {id(p): n for n, p in model.named_parameters()}
    muon = {names[id(p)] for p in opt.muon.param_groups[0]["params"]}
    blocks = {n for n, p in model.named_parameters() if n.startswith("transformer.h.") and p.dim() == 2}
    assert muon == blocks and len(muon) == (8 if kind == "GPT" else 14)  # q/k/v, projections, MLP; 2 blocks
    adam_decay, adam_rest = ({names[id(p)] for p in g["params"]} for g in opt.adamw.param_groups)
    assert "transformer.wte.weight" in adam_decay  # the tied embedding / output head stays with AdamW
    assert all(p.dim() == 1 for p in opt.adamw.param_groups[1]["params"]) and adam_rest
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.1, 0.0]
    counted = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert counted == model.num_params()  # every parameter exactly once


def test_a_muon_step_moves_a_matrix_by_a_near_orthogonal_update():
    model = modern_tiny()
    opt = configure_optimizer(model, TrainConfig(optimizer="muon", lr=1e-2, weight_decay=0.0), torch.device("cpu"))
    weight = model.transformer.h[0].mlp.up_proj.weight  # 32 -> 85 (SwiGLU's hidden width)
    before = weight.detach().clone()
    x = torch.randint(0, 64, (4, 16))
    model(x, x)[1].backward()
    opt.step()
    update = (before - weight.detach()) / 1e-2
    singular = torch.linalg.svdvals(update)
    # Newton-Schulz pushes every singular value of the update toward one size (about 0.7-1.2 of it), where the
    # raw gradient's spread over orders of magnitude
    grad = torch.linalg.svdvals(weight.grad)
    assert singular.max() / singular.min() < 2.0 < grad.max() / grad.min()


def test_muon_checkpoints_resume_exactly(tmp_path):
    train_ids, val_ids = tiny_data()
    config = quick(steps=12, optimizer="muon", checkpoint_path=str(tmp_path / "full.safetensors"))
    whole = train(modern_tiny(), train_ids, val_ids, config)
    half = TrainConfig(**{**config.to_dict(), "stop_at": 6, "checkpoint_path": str(tmp_path / "half.safetensors")})
    train(modern_tiny(), train_ids, val_ids, half)
    rest = TrainConfig(**{**config.to_dict(), "checkpoint_path": str(tmp_path / "rest.safetensors")})
    resumed = train(modern_tiny(seed=5), train_ids, val_ids, rest, resume=tmp_path / "half.safetensors")
    assert resumed.losses == whole.losses and resumed.val_losses[-1] == whole.val_losses[-1]
    with pytest.raises(ValueError, match="optimizer must be 'adamw' or 'muon'"):
        TrainConfig(optimizer="sgd")


# ----- the loop --------------------------------------------------------------------------------------


def test_same_seed_same_losses_and_learning_happens(make_gpt):
    train_ids, val_ids = tiny_data()
    a = train(make_gpt(TINY), train_ids, val_ids, quick(steps=20, eval_every=5))
    b = train(make_gpt(TINY), train_ids, val_ids, quick(steps=20, eval_every=5))
    c = train(make_gpt(TINY), train_ids, val_ids, quick(steps=3, eval_every=5, seed=2))
    assert a.losses == b.losses and a.val_losses == b.val_losses
    assert a.losses[:3] != c.losses
    assert a.steps == list(range(1, 21)) and a.eval_steps == [5, 10, 15, 20]
    assert a.val_losses[-1] < a.val_losses[0] < math.log(64) + 0.5
    assert len(a.lrs) == len(a.tokens_per_s) == 20 and all(t > 0 for t in a.tokens_per_s)
    assert History.from_dict(a.to_dict()) == a


def test_gradient_accumulation_and_progress_bar_and_callback(make_gpt):
    train_ids, val_ids = tiny_data()
    calls = []
    history = train(make_gpt(TINY), train_ids, None, quick(steps=4, batch_size=4, grad_accum=2, progress=True),
                    callback=lambda h: calls.append((h.steps[-1], h.done)))
    assert calls == [(1, False), (2, False), (3, False), (4, True)]
    assert all(math.isnan(v) for v in history.val_losses)
    assert history.tokens_per_s[-1] > 0


def test_estimate_loss_is_repeatable_and_in_eval_mode(make_gpt):
    model = make_gpt(TINY, dropout=0.5)
    _, val_ids = tiny_data()
    model.train()
    a = estimate_loss(model, val_ids, batches=3, batch_size=4, seed=5)
    b = estimate_loss(model, val_ids, batches=3, batch_size=4, seed=5)
    assert a == b and model.training  # no dropout noise; the mode is restored


def test_training_errors_are_clear(make_gpt):
    model = make_gpt(TINY)
    with pytest.raises(ValueError, match="block_size \\+ 1"):
        train(model, torch.arange(10), None, quick())
    with pytest.raises(ValueError, match="vocab_size is 64"):
        train(model, torch.arange(200), None, quick())
    with pytest.raises(ValueError, match="exceeds the model's block_size"):
        train(model, torch.arange(200) % 64, None, quick(block_size=32))


def test_sample_writes_text(make_gpt):
    from gptlab.tokenizers import ByteTokenizer

    class Bytes(ByteTokenizer):
        special_tokens = {}

    model = make_gpt(TINY, vocab_size=256)
    text = sample(model, Bytes(), "ab", max_new_tokens=5, seed=0)
    assert text.startswith("ab") and text == sample(model, Bytes(), "ab", max_new_tokens=5, seed=0)


def test_live_plot_is_silent_outside_notebooks_and_draws_when_asked(make_gpt):
    from gptlab.viz.training import LiveLossPlot, plot_history

    train_ids, val_ids = tiny_data()
    history = train(make_gpt(TINY), train_ids, val_ids, quick(steps=4, eval_every=2))
    quiet = LiveLossPlot()
    quiet(history)  # not in a Jupyter kernel: nothing happens, nothing breaks
    assert quiet.draws == 0 and quiet.figure is None
    forced = LiveLossPlot(enabled=True, every_s=0)
    forced(history)
    forced(history)
    assert forced.draws == 2 and forced.figure is not None
    assert len(plot_history(history.to_dict()).axes) == 2


# ----- data parallel ------------------------------------------------------------------------------------

DDP_SCRIPT = textwrap.dedent("""
    import json, sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from conftest import build_gpt
    from test_train import TINY, tiny_data, quick
    from gptlab.training.loop import train
    train_ids, val_ids = tiny_data()
    history = train(build_gpt(TINY), train_ids, val_ids, quick(steps=6, eval_every=3, batch_size=8, grad_accum=2))
    import os
    if os.environ["RANK"] == "0":
        json.dump(history.to_dict(), open({out!r}, "w"))
""")


@pytest.mark.slow
def test_two_processes_match_one(make_gpt, tmp_path):
    out = tmp_path / "ddp.json"
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(out)))
    env = {**os.environ, "GPTLAB_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = json.loads(out.read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_ids, val_ids = tiny_data()
        single = train(make_gpt(TINY), train_ids, val_ids, quick(steps=6, eval_every=3, batch_size=8, grad_accum=2))
    finally:
        torch.set_num_threads(threads)
    assert ddp["steps"] == single.steps
    assert ddp["losses"] == pytest.approx(single.losses, abs=1e-5)
    assert ddp["val_losses"] == pytest.approx(single.val_losses, abs=1e-5)


# ----- the command line ------------------------------------------------------------------------------------


def test_cli_help_is_fast_and_lists_train():
    result = subprocess.run([sys.executable, "-m", "gptlab", "train", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--resume" in result.stdout and "--export" in result.stdout


@pytest.mark.slow
def test_cli_trains_exports_and_resumes(tmp_path, monkeypatch, capsys):
    from gptlab.io.checkpoint import load_checkpoint
    from gptlab.cli import main

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    out, export = tmp_path / "run.safetensors", tmp_path / "export.safetensors"
    args = ["train", "--out", str(out), "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--block-size", "32",
            "--vocab-size", "300", "--batch-size", "4", "--eval-every", "2", "--eval-batches", "1", "--no-progress",
            "--finish-steps", "0"]
    import signal

    before = signal.getsignal(signal.SIGTERM)
    assert main(args + ["--steps", "4", "--export", str(export)]) == 0
    assert signal.getsignal(signal.SIGTERM) is before      # the command's kill handler lasts only while it trains
    assert "SHA-256" in capsys.readouterr().out
    shipped = load_checkpoint(export)
    assert shipped.step == 4 and shipped.optimizer_state is None and shipped.tokenizer.vocab_size == 300
    assert shipped.model_state["transformer.wte.weight"].dtype == torch.float16
    assert main(args + ["--steps", "6", "--resume"]) == 0
    assert load_checkpoint(out).step == 6


def test_the_shipped_recipe_finishes_with_a_constant_rate_phase_of_more_repeat_windows(tmp_path, monkeypatch, capsys):
    from gptlab.io.checkpoint import load_checkpoint
    from gptlab.cli import main
    from gptlab.training.recipes import RECIPES

    finishing = RECIPES["shipped"].finishing()
    assert finishing.train["steps"] == 2800 and finishing.train["lr"] == finishing.train["min_lr"] == 4e-4
    assert (finishing.repeat_share, finishing.random_share, finishing.finish) == (0.3, 0.1, None)
    assert RECIPES["small"].finishing() is None
    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run.safetensors"
    args = ["train", "--out", str(out), "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--block-size", "32",
            "--vocab-size", "300", "--batch-size", "4", "--eval-every", "2", "--eval-batches", "1", "--no-progress",
            "--steps", "3", "--warmup-steps", "1"]
    assert main(args + ["--finish-steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "last phase: 2 steps at lr 4.0e-04 with 30% text and 10% random-id repeat windows" in printed
    run = load_checkpoint(out)
    lrs = run.history["lrs"]
    assert run.step == 5 and len(lrs) == 5 and lrs[3:] == [4e-4, 4e-4] and lrs[2] < 2e-3  # the main run's cosine, then flat
    assert run.history["eval_steps"] == [2, 3, 4, 5]  # evaluated at the end of each phase too
    # resumed with a longer last phase: the main run is not repeated, the last phase goes on from step 5
    assert main(args + ["--finish-steps", "4", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "resuming from step 5" in printed and "last phase: 4 steps" in printed
    assert load_checkpoint(out).step == 7 and load_checkpoint(out).history["lrs"][:5] == lrs


@pytest.mark.slow
def test_cli_trains_the_fast_recipe_as_a_modern_gpt_with_muon(tmp_path, monkeypatch, capsys):
    from gptlab.cli import main
    from gptlab.io.checkpoint import load_checkpoint

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "fast.safetensors"
    args = ["train", "--recipe", "fast", "--out", str(out), "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
            "--block-size", "32", "--vocab-size", "300", "--batch-size", "4", "--eval-every", "2", "--eval-batches", "1",
            "--no-progress"]
    assert main(args + ["--steps", "4"]) == 0
    saved = load_checkpoint(out)
    assert saved.architecture == "ModernGPT" and saved.train_config["optimizer"] == "muon" and saved.step == 4
    assert saved.config.n_kv_head == 2 and saved.config.rope and (saved.config.norm, saved.config.mlp) == ("layer", "gelu")
    assert main(args + ["--steps", "6", "--resume"]) == 0 and load_checkpoint(out).step == 6
    assert main(args + ["--steps", "2", "--optimizer", "adamw", "--out", str(tmp_path / "adamw.safetensors")]) == 0
    assert load_checkpoint(tmp_path / "adamw.safetensors").train_config["optimizer"] == "adamw"
    with pytest.raises(SystemExit, match="has no dropout"):
        main(args + ["--dropout", "0.1"])


@pytest.mark.slow
def test_cli_saves_its_checkpoint_when_killed_and_records_the_dtype(tmp_path):
    """A background run stopped with `kill` (SIGTERM) keeps what it learned, as Ctrl-C does; --dtype is recorded."""
    import os
    import signal

    from gptlab.io.checkpoint import load_checkpoint

    out = tmp_path / "run.safetensors"
    env = {**os.environ, "GPTLAB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "GPTLAB_CPU_SHARE": "0"}
    process = subprocess.Popen([sys.executable, "-m", "gptlab", "train", "--recipe", "small", "--out", str(out), "--n-layer", "1",
                                "--n-embd", "32", "--n-head", "2", "--block-size", "32", "--vocab-size", "300", "--batch-size", "4",
                                "--steps", "100000", "--eval-every", "5", "--eval-batches", "1", "--checkpoint-every", "0",
                                "--dtype", "bfloat16", "--threads", "1", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in process.stdout:
            if line.startswith("step 10:"):
                break
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "the checkpoint is saved" in err
    saved = load_checkpoint(out)
    assert saved.step >= 10 and saved.train_config["dtype"] == "bfloat16" and saved.optimizer_state is not None


def test_optimise_clips_every_step_even_when_given_a_one_pass_generator():
    """The lessons' short runs share `optimise`; `model.parameters()` is a generator that a naive loop would use
    up on the first clip, leaving every later step unclipped."""
    from gptlab.training.loop import optimise

    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 1)
    x = torch.randn(8, 4) * 100  # gradients far above max_norm
    yielded, seen = [], []  # the losses handed out; the gradient norm each step left behind

    def losses():
        for _ in range(3):
            if layer.weight.grad is not None:
                seen.append(torch.cat([p.grad.flatten() for p in layer.parameters()]).norm().item())
            loss = layer(x).pow(2).mean()
            yielded.append(loss)
            yield loss

    history = optimise(torch.optim.SGD(layer.parameters(), lr=0.0), losses(), clip_params=layer.parameters(), max_norm=1.0)
    assert history == [loss.item() for loss in yielded]
    assert len(seen) == 2 and all(abs(n - 1.0) < 1e-4 for n in seen)  # steps 1 and 2 both clipped to norm 1


def test_full_loss_is_the_mean_over_non_overlapping_windows(make_gpt):
    from gptlab.training.evaluate import full_loss

    model = make_gpt(eval=True)
    T = model.config.block_size
    ids = torch.randint(0, model.config.vocab_size, (3 * T + 5,), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        losses = [model(ids[i * T:(i + 1) * T][None], ids[i * T + 1:(i + 1) * T + 1][None])[1].item() for i in range(3)]
    assert full_loss(model, ids, batch_size=2) == pytest.approx(sum(losses) / 3, rel=1e-5)
    with pytest.raises(ValueError, match="fewer than one window"):
        full_loss(model, ids[:T])


def test_validation_bits_per_byte_is_the_whole_text_loss_per_byte(make_gpt, tiny_tokenizer, monkeypatch):
    import math

    import gptlab.training.recipes as recipes
    from gptlab.training.evaluate import full_loss, validation_bits_per_byte

    model = make_gpt(dict(vocab_size=tiny_tokenizer.vocab_size), eval=True)
    ids = torch.tensor(tiny_tokenizer.encode("But soft, what light through yonder window breaks? " * 8))
    monkeypatch.setattr(recipes, "prepare_validation", lambda recipe, tokenizer: ids)
    n_bytes = len(tiny_tokenizer.decode(ids.tolist()).encode("utf-8"))
    want = full_loss(model, ids) * (len(ids) - 1) / n_bytes / math.log(2)
    assert validation_bits_per_byte(model, tiny_tokenizer) == pytest.approx(want)


# ----- the committed benchmark results lesson 14 shows -------------------------------------------------


def test_committed_benchmark_results_match_the_recipe_they_measured():
    import statistics

    from gptlab.training.recipes import RECIPES, measured

    versus, tuning, layouts = measured("recipes"), measured("tuning"), measured("layouts")
    fast = RECIPES["fast"]
    recorded = versus["recipe"]
    assert recorded["architecture"] == fast.architecture == "ModernGPT"
    for key, value in {**fast.model_config(), **fast.train}.items():
        assert recorded[key] == value, key  # the recipe changed since its benchmark: rerun --recipes fast --save
    ours, theirs = (row["bpb"] for row in versus["rows"])
    assert versus["lower_percent"] == pytest.approx(100 * (1 - statistics.median(ours) / statistics.median(theirs)), abs=0.01)
    assert len(ours) == len(theirs) == versus["seeds"] >= 3
    # the recipe is the best candidate tried on the tuning split, with its learning rate
    best = min(tuning["rows"], key=lambda row: row["median"])
    assert tuning["candidates"][best["name"]]["lr"] == fast.train["lr"] and "Muon" in best["name"]
    assert [row["name"] for row in layouts["rows"]][0].startswith("GPT-2 layout") and layouts["seeds"] >= 3
    assert all(len(row["bpb"]) == layouts["seeds"] and row["min"] <= row["median"] <= row["max"] for row in layouts["rows"])
    with pytest.raises(FileNotFoundError, match="there are: layouts, lora_chat, recipes, tuning"):
        measured("nothing")



@pytest.mark.slow
def test_cli_speaks_chinese_under_gptlab_lang_zh(tmp_path, monkeypatch, capsys):
    """`gptlab train` belongs to the library, which cannot import the course's tables: `gptlab` hands it their say(),
    so GPTLAB_LANG=zh gives its lines in Chinese (and the English of gptlab.training.messages otherwise)."""
    from gptlab.cli import main
    from gptlab.course.messages import say
    from gptlab.training.messages import MESSAGES

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GPTLAB_LANG", "zh")
    out, export = tmp_path / "run.safetensors", tmp_path / "export.safetensors"
    args = ["train", "--recipe", "small", "--out", str(out), "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
            "--block-size", "32", "--vocab-size", "300", "--batch-size", "4", "--eval-every", "2", "--eval-batches", "1",
            "--no-progress"]
    assert main(args + ["--steps", "2", "--export", str(export)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("：")[0] for line in lines[:4]] == ["数据（small）", "模型", "第 2 步", "完成"]
    assert "个验证词元（词表 300），准备用时 " in lines[0]
    assert re.search(r"CPU，\d+ 个线程 — ", lines[1]) or "GPU" in lines[1]  # the device, as `gptlab env` says it
    assert lines[3].startswith("完成：2 步，用时 ") and lines[3].endswith(f"；检查点 {out}")
    assert lines[4].startswith(f"已把 float16 权重导出到 {export}；SHA-256 ")
    missing = tmp_path / "none.safetensors"
    assert main(args + ["--steps", "3", "--resume", "--out", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == say("train.no_checkpoint", lang="zh", path=missing)
    with pytest.raises(SystemExit, match="配方 'fast'（ModernGPT）没有 dropout"):
        main(args + ["--recipe", "fast", "--dropout", "0.1"])
    monkeypatch.setenv("GPTLAB_LANG", "en")
    assert main(args + ["--steps", "3", "--resume"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == MESSAGES["train.resuming"].format(step=2, path=out) == f"resuming from step 2 of {out}"
    assert lines[-1].startswith("done: 3 steps in ") and lines[-1].endswith(f"; checkpoint {out}")


def test_a_recipe_with_random_repeat_windows_draws_random_ids_below_the_special_tokens():
    import dataclasses

    from gptlab.training.recipes import RECIPES, prepare_data

    recipe = dataclasses.replace(RECIPES["small"], random_share=0.1)
    tokenizer, source, _ = prepare_data(recipe)
    assert source.random_share == 0.1 and source.repeat_share == 0.0
    assert source.random_vocab == min(tokenizer.special_tokens.values()) == 2047   # never <|endoftext|>
    _, plain, _ = prepare_data(RECIPES["small"], tokenizer)
    assert isinstance(plain, torch.Tensor)                                          # no mixture without the windows


def test_repeat_losses_show_the_small_model_does_not_copy_and_refuse_what_they_cannot_measure():
    from gptlab.io import load
    from gptlab.training.evaluate import random_halves, repeat_losses, unseen_passages

    model, tokenizer = load("small")
    passages = unseen_passages(tokenizer, count=10, length=100)
    assert passages.shape == (10, 100) and torch.equal(passages, unseen_passages(tokenizer, count=10, length=100))
    first, second = repeat_losses(model, passages)
    assert first == pytest.approx(4.27, abs=0.02) and second == pytest.approx(4.35, abs=0.02)  # weights README
    first, second = repeat_losses(model, random_halves(2047))
    assert first > 12 and second > first - 0.5                                    # random ids: no copying either
    assert random_halves(2047).max() < 2047 and random_halves(2047, seed=1).ne(random_halves(2047)).any()
    with pytest.raises(ValueError, match="need a context of"):
        repeat_losses(model, torch.zeros(1, model.config.block_size, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, n\)"):
        repeat_losses(model, torch.zeros(5, dtype=torch.long))
