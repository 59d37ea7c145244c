"""Which hardware to use: CUDA, then Apple's MPS, then the CPU, with no edits to the lessons.

`GPTLAB_DEVICE=cpu` (or cuda, mps) forces a choice. Checks ignore this: they always grade on the
CPU in eval mode with tolerances, so a verdict never depends on the learner's machine.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import os
import random

import torch

CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(preference: str | None = None) -> torch.device:
    """The best device here, or the one asked for by `preference` / the GPTLAB_DEVICE variable."""
    choice = (preference or os.environ.get("GPTLAB_DEVICE") or "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"GPTLAB_DEVICE={choice!r} is not one of {', '.join(CHOICES)}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("GPTLAB_DEVICE=cuda, but PyTorch sees no CUDA GPU here (unset it to pick automatically)")
    if choice == "mps" and not _mps_available():
        raise ValueError("GPTLAB_DEVICE=mps, but PyTorch sees no Apple GPU here (unset it to pick automatically)")
    if choice != "auto":
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_facts(device: torch.device) -> dict:
    """What describe_device says, as values: type, name, memory_gib (CUDA), threads (CPU), forced (the
    $GPTLAB_DEVICE value that chose it, or None when it was picked automatically)."""
    forced = os.environ.get("GPTLAB_DEVICE")
    facts = {"type": device.type, "name": None, "memory_gib": None, "threads": None,
             "forced": forced if forced and forced != "auto" else None}
    if device.type == "cuda":
        facts["name"] = torch.cuda.get_device_name(device)
        facts["memory_gib"] = torch.cuda.get_device_properties(device).total_memory / 2**30
    elif device.type != "mps":
        facts["threads"] = torch.get_num_threads()
    return facts


def describe_device(device: torch.device) -> str:
    """One line saying what the device is and how it was chosen (the course's envcheck.describe_device says it in
    the learner's language)."""
    facts = device_facts(device)
    how = f"forced by GPTLAB_DEVICE={facts['forced']}" if facts["forced"] else "picked automatically: CUDA, then MPS, then CPU"
    if device.type == "cuda":
        return f"CUDA GPU: {facts['name']} ({facts['memory_gib']:.0f} GiB) — {how}"
    if device.type == "mps":
        return f"Apple GPU (MPS) — {how}"
    threads = facts["threads"]
    return f"CPU with {threads} thread{'' if threads == 1 else 's'} — {how}"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (if present) and torch, so reruns give the same numbers."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:  # numpy is optional for the package's own code
        pass
