"""Two notebooks training at once share the CPU's cores (gptlab.training.cpu_share) instead of spinning."""

from __future__ import annotations

import os
import time
import warnings

import pytest
import torch

from gptlab.training import TrainConfig, train
from gptlab.training.cpu_share import STALE_S, CpuShare, fair_threads


@pytest.fixture
def threads_restored():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads, loops, fair", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (8, 3, 2), (16, 4, 4), (1, 2, 1)])
def test_fair_threads(threads, loops, fair):
    assert fair_threads(threads, loops) == fair


def test_fair_threads_refuses_nonsense():
    with pytest.raises(ValueError, match="at least 1"):
        fair_threads(0, 1)


def test_a_second_loop_halves_the_threads_and_the_first_gets_them_back(tmp_path, threads_restored):
    torch.set_num_threads(2)
    with CpuShare(folder=tmp_path, on=True) as first:
        assert first.check(force=True) is None and torch.get_num_threads() == 2 and first.loops == 1
        with CpuShare(folder=tmp_path, on=True) as second:
            note = second.check(force=True)
            assert second.loops == 2 and torch.get_num_threads() == 1
            assert "another notebook is training" in note and "1 of 2 CPU threads" in note
            assert first.check(force=True) is not None and first.loops == 2  # the first one learns it too, once
            assert first.check(force=True) is None
        assert first.check(force=True) is None and first.loops == 1 and torch.get_num_threads() == 2
        assert len(list(tmp_path.glob("*.json"))) == 1
    assert list(tmp_path.glob("*.json")) == []  # nothing left behind
    assert torch.get_num_threads() == 2


def test_a_loop_that_died_stops_counting(tmp_path, threads_restored):
    torch.set_num_threads(2)
    dead = tmp_path / "12345-1.json"
    dead.write_text("{}")
    old = time.time() - STALE_S - 5
    os.utime(dead, (old, old))
    with CpuShare(folder=tmp_path, on=True) as share:
        assert share.check(force=True) is None and share.loops == 1 and torch.get_num_threads() == 2


def test_checks_are_spaced_out(tmp_path, threads_restored):
    torch.set_num_threads(2)
    clock = [100.0]
    with CpuShare(folder=tmp_path, on=True, clock=lambda: clock[0]) as share:
        share.check()
        (tmp_path / "other.json").write_text("{}")
        assert share.check() is None and share.loops == 1  # too soon: not looked again
        clock[0] += 2.5
        assert share.check() is not None and share.loops == 2


def test_turned_off_it_changes_nothing(tmp_path, monkeypatch, threads_restored):
    monkeypatch.setenv("GPTLAB_CPU_SHARE", "0")
    torch.set_num_threads(2)
    (tmp_path / "other.json").write_text("{}")
    with CpuShare(folder=tmp_path) as share:
        assert share.check(force=True) is None and torch.get_num_threads() == 2
    assert [p.name for p in tmp_path.glob("*.json")] == ["other.json"]


def test_train_shares_with_another_notebook_and_says_so(tmp_path, monkeypatch, make_gpt, threads_restored):
    monkeypatch.setenv("GPTLAB_CPU_SHARE_DIR", str(tmp_path))
    monkeypatch.delenv("GPTLAB_CPU_SHARE", raising=False)
    (tmp_path / "other-notebook.json").write_text("{}")  # fresh: another kernel is training right now
    torch.set_num_threads(2)
    model = make_gpt()
    data = torch.randint(0, model.config.vocab_size, (2000,))
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(model, data, None, TrainConfig(steps=3, batch_size=2, eval_every=10, progress=False, device="cpu"),
              callback=lambda h: seen.append(torch.get_num_threads()))
    assert seen == [1, 1, 1]
    assert any("another notebook is training" in str(w.message) for w in caught)
    assert torch.get_num_threads() == 2  # given back when training ends
    assert [p.name for p in tmp_path.glob("*.json")] == ["other-notebook.json"]


def test_a_loop_with_one_thread_has_nothing_to_give_and_says_nothing(tmp_path, threads_restored):
    torch.set_num_threads(1)
    (tmp_path / "other.json").write_text("{}")
    with CpuShare(folder=tmp_path, on=True) as share:
        assert share.check(force=True) is None and share.loops == 2 and torch.get_num_threads() == 1
