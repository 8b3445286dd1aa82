"""Run every benchmark, each in its own process, and print the figures side by side.

Run (from the project root, after ``pip install -e ".[bench]"``)::

    python benchmarks/run.py            # all seven
    python benchmarks/run.py 1 4        # only benchmarks 1 and 4
    python benchmarks/run.py --quick    # small sizes, to check the scripts work (seconds)

Speed only: the tests never assert time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine  # noqa: E402

BENCHES = {
    "1": ("bench_estimation", {"rows": 20_000}),
    "2": ("bench_pps", {"villages": 5_000, "total": 100}),
    "3": ("bench_national", {"households": 200_000, "towns": 500}),
    "4": ("bench_power", {"reps": 500, "model_reps": 10}),
    "5": ("bench_draw", {"repeats": 2}),
    "6": ("bench_xlsx", {"repeats": 1, "rows": 2_000}),
    "7": ("bench_report", {"year": 2016, "repeats": 1}),
}


def run_one(key: str, quick: bool) -> str:
    module, small = BENCHES[key]
    kwargs = small if quick else {}
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import {module} as m; "
            f"print(m.report(m.run(**{kwargs!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        return f"benchmark {key} ({module}) failed:\n{done.stderr.strip()}"
    return done.stdout.rstrip()


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    keys = [a for a in argv if a in BENCHES] or list(BENCHES)
    print(f"quchi_stats benchmarks on {machine()}{' (quick sizes)' if quick else ''}\n")
    failed = 0
    for key in keys:
        text = run_one(key, quick)
        failed += text.startswith("benchmark ")
        print(text + "\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
