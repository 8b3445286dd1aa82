"""Time reading the 2018 synthetic register and drawing the district's spot-check sample.

Run: ``.venv/bin/python benchmarks/bench_draw.py`` (speed only; tests never assert time).
"""

from __future__ import annotations

import statistics
import time

from quchi_stats.datasets import data_path, load_register
from quchi_stats.sampling import DesignPlan, draw_sample, verify_manifest


def main(repeats: int = 20) -> None:
    t0 = time.perf_counter()
    register = load_register(2018)
    read_s = time.perf_counter() - t0
    plan = DesignPlan(year=2018)
    times = []
    for seed in range(repeats):
        t = time.perf_counter()
        draw_sample(register, plan, seed=seed)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    verify_manifest(data_path() / "sample_2018")
    verify_s = time.perf_counter() - t
    print(f"register: {len(register):,} households, read in {read_s:.2f} s")
    print(f"draw (median of {repeats}): {statistics.median(times) * 1000:.0f} ms")
    print(f"verify the shipped 2018 manifest (read + hash + redraw): {verify_s:.2f} s")


if __name__ == "__main__":
    main()
