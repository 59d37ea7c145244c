"""Time every solution notebook in a real kernel and compare it with its budget.

    python benchmarks/notebooks.py [--threads 2] [NOTEBOOK ...]

The course must run on 2 CPU cores in at most ~15 minutes per tree: lessons 00–06 about 30 s each, the
training lessons at most ~3 minutes. This prints each notebook's wall time, its budget and the ratio, and
the tree's total; it exits 0 either way (a budget is a target, not a test).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = {"00": 30, "01": 30, "02": 30, "03": 30, "04": 30, "05": 30, "06": 30,
            "07": 180, "08": 90, "09": 120, "10": 180, "11": 180, "12": 60, "13": 180, "14": 180}
TREE_BUDGET_S = 15 * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--threads", type=int, default=2, help="torch threads in the kernel (CI: 1 per test worker)")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import nbformat
    from nbclient import NotebookClient

    notebooks = args.notebooks or sorted((ROOT / "solutions").glob("*.ipynb"))
    total = 0.0
    print(f"{'notebook':<32} {'seconds':>8} {'budget':>7} {'ratio':>6}")
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        total += seconds
        budget = BUDGET_S.get(path.name[:2], 180)
        print(f"{path.name:<32} {seconds:8.1f} {budget:7d} {seconds / budget:6.2f}{'  OVER' if seconds > budget else ''}")
        sys.stdout.flush()
    print(f"{'total':<32} {total:8.1f} {TREE_BUDGET_S:7d} {total / TREE_BUDGET_S:6.2f}")
    print(f"cpu cores: {os.cpu_count()}, torch threads: {args.threads}, load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
