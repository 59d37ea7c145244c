"""Time to grade a class: 30 learners x every lesson, on this machine's cores (target: under 10 minutes on 2).

Each learner hands in every lesson: a third good (the solutions), a third skipped (the stubs), a third
with a catalog mistake or a broken cell. Prints the wall time, the time per learner and the grades.

    .venv/bin/python benchmarks/grade.py [--learners 30] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from test_grading import COURSE, make_submission  # the tests' submission builders

    from gptlab.course.grading.batch import grade_folder
    from gptlab.course.grading.report import write_outputs
    from gptlab.course.grading.sandbox import Limits, probe_isolation

    kinds = ["good", "skipped", "wrong"]
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        for i in range(args.learners):
            for lesson in COURSE.lessons:
                path = subs / f"learner{i:02d}" / f"{lesson}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(make_submission(lesson, kinds[i % 3])))
        print(probe_isolation().describe())
        print(f"{args.learners} learners x {len(COURSE.lessons)} lessons ({len(COURSE.all_exercises())} exercises), "
              f"--jobs {args.jobs}, {os.cpu_count()} CPU cores")
        started = time.perf_counter()
        result = grade_folder(subs, COURSE, Path(tmp) / "state", jobs=args.jobs, limits=Limits())
        write_outputs(result.reports, COURSE, Path(tmp) / "grades.csv", Path(tmp) / "feedback")
        wall = time.perf_counter() - started
    statuses = Counter(r.status for rep in result.reports for r in rep.rows)
    print(f"graded in {wall:.1f} s ({wall / args.learners:.2f} s per learner); target < 600 s: "
          f"{'OK' if wall < 600 else 'TOO SLOW'}")
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    expected = {"good": "passed", "skipped": "skipped", "wrong": "failed"}
    kind_of = {f"learner{i:02d}": kinds[i % 3] for i in range(args.learners)}
    surprises = [(rep.learner, row) for rep in result.reports for row in rep.rows
                 if row.status != expected[kind_of[rep.learner]]]
    print(f"verdicts that differ from the submission's kind: {len(surprises)}")
    for learner, row in surprises[:10]:
        print(f"  {learner} ({kind_of[learner]}) {row.lesson}/{row.exercise}: {row.status}: {row.hint[:300]}")


if __name__ == "__main__":
    main()
