"""Benchmark 4: design power by simulation — 10,000 replicates × 9 towns × 4 indicators of the
district design (the shipped 2018 register, the default plan), both scenarios (all compliant, and
each town × indicator in turn short by the spec's shortfall), with the design-based test in closed
form (``test_method = "design"``). Goal under 30 s. The spec's default beta-binomial test fits the
district ρ per replicate, and for power once per town and replicate (each town low in its own
district): it is timed apart, on fewer replicates (``model_reps``), per replicate.

Run: ``python benchmarks/bench_power.py``.
"""

from __future__ import annotations

import dataclasses
import time

from _common import cli, peak_rss_gib

from quchi_stats.datasets import load_register
from quchi_stats.sampling import DesignPlan
from quchi_stats.simulate import simulate_design
from quchi_stats.spec import load_spec


def run(reps: int = 10_000, model_reps: int = 200) -> dict:
    register = load_register(2018)
    spec = load_spec(2018)
    t = time.perf_counter()
    res = simulate_design(register, DesignPlan(year=2018), reps=reps, seed=1,
                          spec=dataclasses.replace(spec, test_method="design"))
    elapsed = time.perf_counter() - t
    t = time.perf_counter()
    model = simulate_design(register, DesignPlan(year=2018), reps=model_reps, seed=1, spec=spec)
    model_elapsed = time.perf_counter() - t
    s = res.summary()
    return {"reps": reps, "towns": int(res.table["town"].nunique()),
            "indicators": int(res.table["indicator"].nunique()), "seconds": elapsed,
            "model_reps": model_reps, "model_seconds": model_elapsed,
            "peak_rss_gib": peak_rss_gib(),
            "min_power": dict(zip(s["label"], s["min_power"].round(4), strict=True)),
            "familywise_false_flag": res.familywise_false_flag,
            "model_familywise_false_flag": model.familywise_false_flag}


def report(r: dict) -> str:
    return "\n".join([
        f"4. design power: {r['reps']:,} replicates × {r['towns']} towns × {r['indicators']} "
        "indicators",
        f"   simulate_design        {r['seconds']:8.1f} s   (design test; goal < 30 s; peak "
        f"{r['peak_rss_gib']:.2f} GiB)",
        f"   beta-binomial test     {r['model_seconds']:8.1f} s   for {r['model_reps']:,} replicates "
        f"({r['model_seconds'] / max(r['model_reps'], 1) * 1000:.0f} ms a replicate)",
    ])


if __name__ == "__main__":
    cli(run, report)
