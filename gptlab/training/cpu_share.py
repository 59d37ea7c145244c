"""Two notebooks training at once on a small CPU: share the cores instead of fighting over them.

torch computes on the CPU with one OpenMP thread per core, and an OpenMP thread that waits for work spins
rather than sleeps. Two kernels that both train with 2 threads on 2 cores therefore spend most of their
time spinning: measured on a 2-core machine, lesson 07's training took over 10 minutes instead of 48 s.

Every training loop on the CPU (`gptlab.training.train`, `optimise`) holds a `CpuShare`: a small file named
after its process in a shared folder, touched every few seconds while it trains and removed when it stops.
Each loop counts the fresh files and computes with `threads // count` threads (at least one), so two loops on
2 cores take one core each, and the one left takes both again when the other ends. A loop that crashed
leaves a file that stops being touched; after `STALE_S` it no longer counts.

    with CpuShare() as share:
        for step in ...:
            note = share.check()   # None, or a sentence to show once when the count changes

Set GPTLAB_CPU_SHARE=0 to turn it off (each loop then keeps torch's own thread count).

Taught in: solutions/00_welcome.ipynb (what to do when two notebooks train at once)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch

STALE_S = 30.0  # a file not touched for this long belongs to a loop that stopped without cleaning up
CHECK_EVERY_S = 2.0


def default_folder() -> Path:
    """Where the loops of this machine meet: GPTLAB_CPU_SHARE_DIR, or a folder in the system's temp dir."""
    return Path(os.environ.get("GPTLAB_CPU_SHARE_DIR") or Path(tempfile.gettempdir()) / "gptlab-training")


def enabled() -> bool:
    return os.environ.get("GPTLAB_CPU_SHARE", "1").strip().lower() not in {"0", "false", "no", "off"}


def fair_threads(threads: int, loops: int) -> int:
    """Threads for one of `loops` loops that share `threads` threads: 2 threads, 2 loops -> 1; never below 1."""
    if threads < 1 or loops < 1:
        raise ValueError(f"threads and loops must be at least 1, got threads={threads}, loops={loops}")
    return max(1, threads // loops)


class CpuShare:
    """This process's claim on the CPU while it trains; see the module's docstring.

    `threads`: the most this loop uses (default: torch's thread count when the loop starts).
    `on`: False makes every method a no-op (a loop on a GPU, or GPTLAB_CPU_SHARE=0).
    """

    def __init__(self, threads: int | None = None, folder: Path | None = None, on: bool | None = None,
                 clock=time.monotonic):
        self.on = enabled() if on is None else on
        self.folder = Path(folder) if folder is not None else default_folder()
        self.ceiling = threads or torch.get_num_threads()
        self.loops = 1
        self._file = self.folder / f"{os.getpid()}-{id(self)}.json"
        self._before = None
        self._clock, self._last = clock, None

    def __enter__(self) -> "CpuShare":
        if self.on:
            self._before = torch.get_num_threads()
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._file.write_text(json.dumps({"pid": os.getpid(), "threads": self.ceiling}))
            except OSError:  # a read-only temp dir: train alone, as before
                self.on = False
        return self

    def __exit__(self, *exc) -> None:
        if self.on:
            self._file.unlink(missing_ok=True)
            torch.set_num_threads(self._before)

    def live_loops(self) -> int:
        """How many loops (this one included) touched their file within STALE_S seconds."""
        now, count = time.time(), 0
        for path in self.folder.glob("*.json"):
            try:
                if now - path.stat().st_mtime < STALE_S:
                    count += 1
            except FileNotFoundError:  # it ended while we looked
                continue
        return max(count, 1)

    def check(self, force: bool = False) -> str | None:
        """Every CHECK_EVERY_S (or now, with force): touch this loop's file, count the loops, set torch's threads.
        Returns a sentence when this loop starts sharing (None otherwise)."""
        if not self.on:
            return None
        now = self._clock()
        if not force and self._last is not None and now - self._last < CHECK_EVERY_S:
            return None
        self._last = now
        try:
            os.utime(self._file)
        except FileNotFoundError:  # someone cleaned the temp dir: claim again
            self._file.write_text(json.dumps({"pid": os.getpid(), "threads": self.ceiling}))
        before, self.loops = self.loops, self.live_loops()
        threads = fair_threads(self.ceiling, self.loops)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        if self.loops > 1 and before == 1 and threads < self.ceiling:  # one thread already: nothing changes
            return sharing_message(threads, self.ceiling, self.loops - 1)
        return None


def sharing_message(threads: int, ceiling: int, others: int) -> str:
    other = "another notebook is" if others == 1 else f"{others} other notebooks are"
    return (f"{other} training on this machine: this one now computes with {threads} of {ceiling} CPU threads, "
            f"so both finish instead of slowing each other many times over. Training alone is faster: "
            f"let one finish, or interrupt it (Kernel > Interrupt keeps what it learned).")
