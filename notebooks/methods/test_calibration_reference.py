# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The adjusted town test with another reference for its signed root (measured, not adopted)
#
# (issue 11; docs/flags.md, "The reference of the signed root: t or normal")
#
# The adjusted test refers each town's signed likelihood root at (p0, ρ̂) to t with villages −
# towns df (`town_test`, `simulate_cell(..., adjusted=True)`). On the 1,000-district grid it is
# conservative on average (mean size 4.1 %, mean coverage 97.9 %), most at 3 villages a town. This
# script runs the same test on **the same replicates** (seed 20261211, as
# `test_calibration_adjusted_grid1000.csv`, so the reference is the only difference) with
#
# * `inf`: the standard normal (df = ∞), and
# * `total`: t with all villages − 1 df,
#
# for the p-value and the interval alike (so the test and the interval still agree). The
# Cox–Reid test is skipped (its columns are NaN); the old design-based method runs as in the grid.
# `pooled` (villages − towns, the default) reproduces the grid's `_adj` columns (checked on two
# cells to the last digit).
#
#     nice python notebooks/methods/test_calibration_reference.py inf 1000
#     nice python notebooks/methods/test_calibration_reference.py total 1000
#     nice python notebooks/methods/test_calibration_reference.py pooled 1000 20261213  # confirmation
#     nice python notebooks/methods/test_calibration_reference.py inf 1000 20261213
#
# Rows go to `test_calibration_reference.csv` (with `reference`, seed, reps and code version):
# about 5 minutes of one core per reference on a 2-core AMD EPYC.

# %%
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import quchi_stats.simulate.calibration as cal

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
OUT = HERE / "test_calibration_reference.csv"
SEED = 20261211
REFERENCES = ("pooled", "inf", "total")
KEYS = ["icc", "villages", "households", "p0", "sizes", "unit"]


def reference_df(reference: str, towns: int, villages: int) -> float:
    """The df of the t reference: villages − towns (the default), ∞ (normal) or villages − 1."""
    return {"pooled": towns * villages - towns, "inf": np.inf,
            "total": towns * villages - 1}[reference]


def adjusted_method(reference: str):
    """A stand-in for `calibration._new_method`: the adjusted test with ``reference`` (the Cox–Reid
    test is skipped: NaN)."""
    real = cal._new_method

    def method(sim, p0, level, interval, method="beta-binomial"):
        if method != "beta-binomial-adjusted":
            R, T = sim["good"].shape[:2]
            out = {"p_value": np.full((R, T), np.nan), "rho": np.full(R, np.nan), "failed": 0}
            if interval:
                out["lower"], out["upper"] = np.full((R, T), np.nan), np.full((R, T), np.nan)
            return out
        R, T, V, _ = sim["good"].shape
        return real(sim, p0, level, interval, method, df=reference_df(reference, T, V))

    return method


def run(reference: str, reps: int = 1000, seed: int = SEED, path: Path = OUT) -> pd.DataFrame:
    """Every cell of the grid with ``reference``; appended to ``path``."""
    if reference not in REFERENCES:
        raise SystemExit(f"reference must be one of {REFERENCES}")
    real = cal._new_method
    cal._new_method = adjusted_method(reference)
    rows, t0 = [], time.time()
    try:
        for i, cell in enumerate(cal._cells(cal.GRID)):
            r = cal.simulate_cell(**cell, reps=reps, seed=seed, adjusted=True)
            rows.append({**{k: r[k] for k in KEYS}, "reference": reference, "reps": reps,
                         "seed": seed, "tests": r["tests"], "width_old": r["width_old"],
                         **{k: v for k, v in r.items() if k.endswith("_adj")},
                         "code_version": cal.code_version()})
            if i % 50 == 0:
                print(i, round(time.time() - t0), flush=True)
    finally:
        cal._new_method = real
    out = pd.DataFrame(rows)
    out.to_csv(path, mode="a", index=False, header=not path.exists())
    return out


def compare(reference: str, seed: int = SEED,
            grid: Path = HERE / "test_calibration_adjusted_grid1000.csv",
            path: Path = OUT) -> pd.DataFrame:
    """The issue's goals (`calibration.goal_checks`) for the default reference and ``reference``
    on the same cells and replicates: at the grid's seed the default is the grid's `_adj` columns,
    at another seed the `pooled` rows of ``path`` with that seed."""
    rows = pd.read_csv(path)
    rows = rows[rows["seed"] == seed]
    base = (pd.read_csv(grid) if seed == SEED else
            rows[rows["reference"] == "pooled"])
    other = rows[rows["reference"] == reference]
    cols = ["size", "power", "coverage", "upper_below", "width"]
    merged = base.merge(other, on=KEYS, suffixes=("", "_other"))
    t = merged[[*KEYS, "width_old"]].copy()
    for c in cols:
        t[f"{c}_pooled"] = merged[f"{c}_adj"]
        t[f"{c}_{reference}"] = merged[f"{c}_adj_other"]
    return cal.goal_checks(t, methods=("pooled", reference))


# %%
if __name__ == "__main__" and len(sys.argv) > 1:
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else SEED
    run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000, seed)
    if sys.argv[1] != "pooled":
        print(compare(sys.argv[1], seed).to_string())
