"""Benchmark 3: national scale — a two-stage draw and the full town-level estimation from a
synthetic register of 30,000,000 households, on one ordinary machine.

The register (30,000 towns × 10 villages, generated in memory by
:func:`quchi_stats.datasets.national.national_register`) is drawn with the yearly design (2 villages
per town by systematic πps, 10/8/8 households per village and frame, 3 reserves each); every
primary household gets simulated field results; then the four rates are estimated for every town
with intervals and one-sided p-values against the thresholds, Holm-adjusted over all town ×
indicator tests and classified — what the yearly report does, at national scale. Wall time and the
process's peak resident memory are reported; goal under 60 s and 8 GiB.

Run: ``python benchmarks/bench_national.py [--households N]`` (its own process: peak memory).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from _common import peak_rss_gib

from quchi_stats.datasets.national import national_register, simulate_results
from quchi_stats.design import SurveyDesign
from quchi_stats.estimation import estimate_proportion
from quchi_stats.flags import CLASS_SIGNIFICANT, adjust_pvalues, classify
from quchi_stats.sampling import DesignPlan, draw_sample

INDICATORS = {"identified_correctly": 0.98, "exit_correct": 0.98, "not_missed": 0.98,
              "satisfied": 0.90}


def run(households: int = 30_000_000, towns: int = 30_000) -> dict:
    t0 = time.perf_counter()
    register = national_register(households, towns=towns, seed=1)
    t1 = time.perf_counter()
    drawn = draw_sample(register, DesignPlan(year=2018, villages_total=2 * towns), seed=3)
    t2 = time.perf_counter()
    del register
    results = simulate_results(drawn.sample, seed=4)
    parts = []
    for column, threshold in INDICATORS.items():
        rows = results[results[column].notna()]
        design = SurveyDesign(rows, strata="town", psu="village", weights="weight",
                              lonely_psu="certainty")
        est = estimate_proportion(design, column, by="town", p0=threshold,
                                  deff_floor=1.0).to_frame()
        parts.append(est.assign(indicator=column, threshold=threshold))
    est = pd.concat(parts, ignore_index=True)
    est["p_adjusted"] = adjust_pvalues(est["p_value"].to_numpy(), "holm")
    est["class"] = classify(est["estimate"], est["threshold"], est["p_adjusted"], 0.05)
    t3 = time.perf_counter()
    return {"households": households, "towns": towns,
            "sampled_households": int((drawn.sample["role"] == "primary").sum()),
            "sample_rows": len(drawn.sample), "town_estimates": len(est),
            "generate_s": t1 - t0, "draw_s": t2 - t1, "estimate_s": t3 - t2,
            "draw_and_estimate_s": t3 - t1, "peak_rss_gib": peak_rss_gib(),
            "flagged": int((est["class"] == CLASS_SIGNIFICANT).sum()),
            "finite_intervals": bool(np.isfinite(est[["ci_lower", "ci_upper"]]).all().all())}


def report(r: dict) -> str:
    return "\n".join([
        f"3. national scale: {r['households']:,} households, {r['towns']:,} towns",
        f"   generate register      {r['generate_s']:8.1f} s",
        f"   two-stage draw         {r['draw_s']:8.1f} s   ({r['sample_rows']:,} rows, "
        f"{r['sampled_households']:,} primary households)",
        f"   town-level estimation  {r['estimate_s']:8.1f} s   ({r['town_estimates']:,} town × "
        f"indicator estimates, Holm, classes)",
        f"   draw + estimation      {r['draw_and_estimate_s']:8.1f} s   (goal < 60 s)",
        f"   peak memory            {r['peak_rss_gib']:8.2f} GiB (goal < 8 GiB, register included)",
    ])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=30_000_000)
    ap.add_argument("--towns", type=int, default=30_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    result = run(a.households, a.towns)
    print(json.dumps(result) if a.json else report(result))
