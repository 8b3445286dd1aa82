"""Benchmark 4: design power by simulation — 10,000 replicates × 9 towns × 4 indicators of the
district design (the shipped 2018 register, the default plan), both scenarios (all compliant, and
each town × indicator in turn short by the spec's shortfall). Goal under 30 s.

Run: ``python benchmarks/bench_power.py``.
"""

from __future__ import annotations

import time

from _common import cli, peak_rss_gib

from quchi_stats.datasets import load_register
from quchi_stats.sampling import DesignPlan
from quchi_stats.simulate import simulate_design


def run(reps: int = 10_000) -> dict:
    register = load_register(2018)
    t = time.perf_counter()
    res = simulate_design(register, DesignPlan(year=2018), reps=reps, seed=1)
    elapsed = time.perf_counter() - t
    s = res.summary()
    return {"reps": reps, "towns": int(res.table["town"].nunique()),
            "indicators": int(res.table["indicator"].nunique()), "seconds": elapsed,
            "peak_rss_gib": peak_rss_gib(),
            "min_power": dict(zip(s["label"], s["min_power"].round(4), strict=True)),
            "familywise_false_flag": res.familywise_false_flag}


def report(r: dict) -> str:
    return "\n".join([
        f"4. design power: {r['reps']:,} replicates × {r['towns']} towns × {r['indicators']} "
        "indicators",
        f"   simulate_design        {r['seconds']:8.1f} s   (goal < 30 s; peak "
        f"{r['peak_rss_gib']:.2f} GiB)",
    ])


if __name__ == "__main__":
    cli(run, report)
