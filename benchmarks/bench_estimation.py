"""Benchmark 1: a proportion by town on 1,000,000 rows (9 strata, 297 PSUs), default method.

Compared in one run with svy 0.35 (``Sample.estimation.prop(y, by=...)``, same data, Taylor
linearisation) and with the floor: one ``numpy.bincount`` pass over the same columns (the towns'
weighted rates, codes given). The estimates and standard errors of both libraries are compared too.
Two versions of the data: towns as integer codes, and towns as strings (pandas' ``str`` dtype, as
read from a file) — binding a design must code the strings, the floor is given the codes.

Run: ``python benchmarks/bench_estimation.py`` (or all benchmarks: ``python benchmarks/run.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import NO_SVY, cli, have, median_time

from quchi_stats.design import SurveyDesign
from quchi_stats.estimation import estimate_proportion


def make_data(rows: int = 1_000_000, strata: int = 9, psus: int = 297, seed: int = 1,
              strings: bool = False) -> pd.DataFrame:
    """PSU rates from Beta(18, 2), weights U(1, 3); PSU j lies in town j mod ``strata``."""
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, psus, rows)
    rate = rng.beta(18, 2, psus)  # villages differ: intra-cluster correlation
    town = psu % strata
    if strings:
        town = pd.Series(np.array([f"镇{t:02d}" for t in range(strata)], dtype=object)[town],
                         dtype="str")
    return pd.DataFrame({"town": town, "psu": psu, "w": rng.uniform(1, 3, rows),
                         "y": (rng.random(rows) < rate[psu]).astype(np.int64)})


def _floor(data: pd.DataFrame, repeats: int) -> float:
    """Two bincounts over the towns' codes, computed beforehand (not timed)."""
    town = pd.factorize(data["town"], sort=True)[0]
    w, y = data["w"].to_numpy(), data["y"].to_numpy()
    return median_time(lambda: np.bincount(town, w * y) / np.bincount(town, w), repeats)


def run(rows: int = 1_000_000, repeats: int = 7) -> dict:
    out: dict = {"rows": rows}
    for label, strings in (("", False), ("strings_", True)):
        data = make_data(rows, strings=strings)
        # the floor first, in a fresh state: a numpy temporary of the floor (w * y) is slower to
        # allocate once the process holds the design's arrays, which would flatter the ratio
        floor = _floor(data, repeats)
        ours_bind = median_time(lambda data=data: estimate_proportion(
            SurveyDesign(data, strata="town", psu="psu", weights="w"), "y", by="town"), repeats)
        design = SurveyDesign(data, strata="town", psu="psu", weights="w")
        ours = median_time(lambda design=design: estimate_proportion(design, "y", by="town"),
                           repeats)
        out.update({f"{label}ours_s": ours, f"{label}ours_with_binding_s": ours_bind,
                    f"{label}floor_s": floor, f"{label}ours_over_floor": ours / floor,
                    f"{label}ours_with_binding_over_floor": ours_bind / floor})
    data = make_data(rows)
    design = SurveyDesign(data, strata="town", psu="psu", weights="w")
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
        out.update(svy_s=theirs, svy_with_binding_s=theirs_bind,
                   svy_over_ours=theirs / out["ours_s"],
                   svy_with_binding_over_ours=theirs_bind / out["ours_with_binding_s"],
                   max_abs_diff_estimate=float(np.max(np.abs(est["est"].to_numpy()
                                                             - mine["estimate"].to_numpy()))),
                   max_rel_diff_se=float(np.max(np.abs(est["se"].to_numpy()
                                                       / mine["se"].to_numpy() - 1))))
    return out


def report(r: dict) -> str:
    lines = [f"1. proportion by town, {r['rows']:,} rows, 9 strata, 297 PSUs (median times)"]
    for label, what in (("", "towns as integer codes"), ("strings_", "towns as strings")):
        lines += [f"   {what}:",
                  f"   quchi_stats            {r[label + 'ours_s'] * 1e3:8.1f} ms"
                  f"   (binding the design too: {r[label + 'ours_with_binding_s'] * 1e3:.1f} ms)",
                  f"   numpy bincount floor   {r[label + 'floor_s'] * 1e3:8.1f} ms"
                  f"   -> quchi_stats / floor = {r[label + 'ours_over_floor']:.1f}x, with binding "
                  f"{r[label + 'ours_with_binding_over_floor']:.1f}x (goal <= 4x with binding)"]
    if "svy_s" in r:
        lines += [f"   svy 0.35 (integer codes) {r['svy_s'] * 1e3:6.1f} ms"
                  f"   (binding the design too: {r['svy_with_binding_s'] * 1e3:.1f} ms)",
                  f"   -> svy / quchi_stats = {r['svy_over_ours']:.1f}x "
                  f"(with binding {r['svy_with_binding_over_ours']:.1f}x; goal >= 10x)",
                  f"   same numbers: max |Δ estimate| {r['max_abs_diff_estimate']:.1e}, "
                  f"max relative Δ se {r['max_rel_diff_se']:.1e}"]
    else:
        lines.append(NO_SVY)
    return "\n".join(lines)


if __name__ == "__main__":
    cli(run, report)
