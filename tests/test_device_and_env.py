"""Hardware choice (CUDA → MPS → CPU, GPTLAB_DEVICE overrides) and the environment report."""

import pytest
import torch

from gptlab import device as device_module
from gptlab.course import envcheck
from gptlab.device import describe_device, pick_device


def test_cpu_when_nothing_else(monkeypatch):
    monkeypatch.delenv("GPTLAB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    assert "picked automatically" in describe_device(torch.device("cpu"))


def test_cuda_first_then_mps(monkeypatch):
    monkeypatch.delenv("GPTLAB_DEVICE", raising=False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("mps")


def test_environment_variable_forces_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("GPTLAB_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert "forced by GPTLAB_DEVICE=cpu" in describe_device(torch.device("cpu"))


def test_bad_or_unavailable_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GPTLAB_DEVICE", "tpu")
    with pytest.raises(ValueError, match="'tpu' is not one of auto, cpu, cuda, mps"):
        pick_device()
    monkeypatch.setenv("GPTLAB_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        pick_device()


def test_report_is_ok_here():
    rows = envcheck.environment_report()
    assert [r.name for r in rows] == ["Python", "torch", "widgets", "plotting"]
    assert all(r.ok for r in rows), envcheck.format_report(rows)
    assert envcheck.format_report(rows).endswith("All set.")


def test_missing_widgets_and_old_python_get_a_fix(monkeypatch):
    real = envcheck.installed_version
    monkeypatch.setattr(envcheck, "installed_version", lambda d: None if d == "jupyterlab_widgets" else real(d))
    rows = [envcheck._python((3, 10, 4))] + envcheck.environment_report()[1:]
    text = envcheck.format_report(rows)
    assert "FIX Python    3.10.4" in text and "install Python 3.11 or newer" in text
    assert "FIX widgets   missing: jupyterlab_widgets" in text and "pip install ipywidgets jupyterlab_widgets" in text
    assert text.endswith("Fix the rows marked FIX, then restart the kernel.")
