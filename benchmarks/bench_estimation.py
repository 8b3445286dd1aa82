"""Benchmark 1: a proportion by town on 1,000,000 rows (9 strata, 300 PSUs), default method.

Compared in one run with svy 0.35 (``Sample.estimation.prop(y, by=...)``, same data, Taylor
linearisation) and with the floor: one ``numpy.bincount`` pass over the same columns (the towns'
weighted rates, codes given). The estimates and standard errors of both libraries are compared too.

Run: ``python benchmarks/bench_estimation.py`` (or all benchmarks: ``python benchmarks/run.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import NO_SVY, cli, have, median_time

from quchi_stats.design import SurveyDesign
from quchi_stats.estimation import estimate_proportion


def make_data(rows: int = 1_000_000, strata: int = 9, psus: int = 300,
              seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, psus, rows)
    rate = rng.beta(18, 2, psus)  # villages differ: intra-cluster correlation
    return pd.DataFrame({"town": psu % strata, "psu": psu, "w": rng.uniform(1, 3, rows),
                         "y": (rng.random(rows) < rate[psu]).astype(np.int64)})


def run(rows: int = 1_000_000, repeats: int = 7) -> dict:
    data = make_data(rows)
    design = SurveyDesign(data, strata="town", psu="psu", weights="w")
    ours = median_time(lambda: estimate_proportion(design, "y", by="town"), repeats)
    ours_bind = median_time(lambda: estimate_proportion(
        SurveyDesign(data, strata="town", psu="psu", weights="w"), "y", by="town"), repeats)
    town, w, y = (data[c].to_numpy() for c in ("town", "w", "y"))
    floor = median_time(lambda: np.bincount(town, w * y) / np.bincount(town, w), repeats)
    out = {"rows": rows, "ours_s": ours, "ours_with_binding_s": ours_bind, "floor_s": floor,
           "ours_over_floor": ours / floor}
    if have("svy"):
        import polars as pl
        import svy

        frame = pl.from_pandas(data)
        sample = svy.Sample(data=frame, design=svy.Design(stratum="town", psu="psu", wgt="w"))
        theirs = median_time(lambda: sample.estimation.prop("y", by="town"), repeats)
        theirs_bind = median_time(lambda: svy.Sample(
            data=frame, design=svy.Design(stratum="town", psu="psu", wgt="w"),
        ).estimation.prop("y", by="town"), repeats)
        est = sample.estimation.prop("y", by="town").to_polars().to_pandas()
        est = est[est["y"] == 1].sort_values("town")
        mine = estimate_proportion(design, "y", by="town").to_frame().sort_values("town")
        out.update(svy_s=theirs, svy_with_binding_s=theirs_bind, svy_over_ours=theirs / ours,
                   svy_with_binding_over_ours=theirs_bind / ours_bind,
                   max_abs_diff_estimate=float(np.max(np.abs(est["est"].to_numpy()
                                                             - mine["estimate"].to_numpy()))),
                   max_rel_diff_se=float(np.max(np.abs(est["se"].to_numpy()
                                                       / mine["se"].to_numpy() - 1))))
    return out


def report(r: dict) -> str:
    lines = [f"1. proportion by town, {r['rows']:,} rows, 9 strata, 300 PSUs (median times)",
             f"   quchi_stats            {r['ours_s'] * 1e3:8.1f} ms"
             f"   (binding the design too: {r['ours_with_binding_s'] * 1e3:.1f} ms)",
             f"   numpy bincount floor   {r['floor_s'] * 1e3:8.1f} ms"
             f"   -> quchi_stats / floor = {r['ours_over_floor']:.1f}x (goal <= 5x)"]
    if "svy_s" in r:
        lines += [f"   svy 0.35               {r['svy_s'] * 1e3:8.1f} ms"
                  f"   (binding the design too: {r['svy_with_binding_s'] * 1e3:.1f} ms)",
                  f"   -> svy / quchi_stats = {r['svy_over_ours']:.1f}x "
                  f"(with binding {r['svy_with_binding_over_ours']:.1f}x; goal > 1x)",
                  f"   same numbers: max |Δ estimate| {r['max_abs_diff_estimate']:.1e}, "
                  f"max relative Δ se {r['max_rel_diff_se']:.1e}"]
    else:
        lines.append(NO_SVY)
    return "\n".join(lines)


if __name__ == "__main__":
    cli(run, report)
