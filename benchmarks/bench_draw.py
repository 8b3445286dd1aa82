"""Benchmark 5: reading the 2018 synthetic register and drawing the district's spot-check sample.

Run: ``python benchmarks/bench_draw.py`` (speed only; tests never assert time).
"""

from __future__ import annotations

import time

from _common import cli, median_time

from quchi_stats.datasets import data_path, load_register
from quchi_stats.sampling import DesignPlan, draw_sample, verify_manifest


def run(repeats: int = 20) -> dict:
    t0 = time.perf_counter()
    register = load_register(2018)
    read_s = time.perf_counter() - t0
    plan = DesignPlan(year=2018)
    seeds = iter(range(repeats + 1))
    draw_s = median_time(lambda: draw_sample(register, plan, seed=next(seeds)), repeats)
    t = time.perf_counter()
    verify_manifest(data_path() / "sample_2018")
    return {"households": len(register), "read_s": read_s, "draw_s": draw_s,
            "verify_s": time.perf_counter() - t}


def report(r: dict) -> str:
    return "\n".join([
        f"5. district draw: register of {r['households']:,} households",
        f"   read the register      {r['read_s'] * 1e3:8.0f} ms",
        f"   draw the sample        {r['draw_s'] * 1e3:8.0f} ms (median)",
        f"   verify the manifest    {r['verify_s'] * 1e3:8.0f} ms (read + hash + redraw)",
    ])


if __name__ == "__main__":
    cli(run, report)
