"""Issue 13 §1, risk strata: the precision gained for 漏评 by oversampling risk households, by
simulation (a measurement, not a speed benchmark; not run by the tests).

    nice .venv/bin/python benchmarks/risk_strata.py [--reps 300] [--seed 1313] [--json]

On the synthetic 2018 district (``data_samples/register_2018.csv``, 43,003 households), seeded risk
flags are added to the non-registered households (each of 低保, 危房, 大病/慢性病, 残疾, 独居老人
with probability ``--flag-p``, so about 1 − (1 − p)^5 of them are risk households), and a true 漏评
status: risk households missed with probability ``--p-risk``, the others ``--p-other``. The
default design (45 villages, 8 non-registered households per village) is drawn ``--reps`` times
for each ``risk_factor`` (1 = today's design), with the same number of households; each draw's 漏评
rate is estimated as the report does (the weighted ratio Σ w·y / Σ w over the non-registered
primaries, district and per town). Printed per factor: the mean estimate against the truth (bias,
in Monte Carlo SEs), the empirical SD (district), the mean over towns of the per-town RMSE, and
the variance ratio to factor 1 (below 1 = a gain).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import pandas as pd

from quchi_stats.datasets import load_register
from quchi_stats.io.schema import RISK_COLUMNS
from quchi_stats.sampling import DesignPlan, draw_sample
from quchi_stats.sampling.draw import risk_flags


def population(flag_p: float, p_risk: float, p_other: float, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    reg = load_register(2018)
    rng = np.random.default_rng(seed)
    non = ~reg["registered"].fillna(False).astype(bool).to_numpy()
    for c in RISK_COLUMNS:
        reg[c] = pd.array(non & (rng.random(len(reg)) < flag_p), dtype="boolean")
    risk = risk_flags(reg)
    missed = non & (rng.random(len(reg)) < np.where(risk, p_risk, p_other))
    return reg, pd.Series(missed, index=reg["household_id"].to_numpy())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1313)
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 2.0, 3.0, 5.0])
    ap.add_argument("--flag-p", type=float, default=0.03)
    ap.add_argument("--p-risk", type=float, default=0.08)
    ap.add_argument("--p-other", type=float, default=0.005)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    reg, missed = population(args.flag_p, args.p_risk, args.p_other, args.seed)
    non = ~reg["registered"].fillna(False).astype(bool).to_numpy()
    truth = float(missed[non].mean())
    town_truth = pd.Series(missed.to_numpy()[non], index=reg.loc[non, "town"].to_numpy()).groupby(
        level=0).mean()
    share_risk = float(risk_flags(reg)[non].mean())
    out = {"truth": truth, "share_risk": share_risk, "reps": args.reps, "factors": {}}
    for k in args.factors:
        plan = DesignPlan(year=2018, risk_factor=k)
        est, towns, n = [], [], []
        for r in range(args.reps):
            s = draw_sample(reg, plan, seed=args.seed * 1000 + r).primary
            s = s[s["frame"] == "non_registered"]
            y = missed[s["household_id"]].to_numpy(float)
            w = s["weight"].to_numpy()
            est.append((w * y).sum() / w.sum())
            g = pd.DataFrame({"wy": w * y, "w": w, "town": s["town"].to_numpy()}).groupby("town").sum()
            towns.append(g["wy"] / g["w"])
            n.append(len(s))
        est = np.array(est)
        t = pd.DataFrame(towns)
        rmse_town = float(np.sqrt(((t - town_truth[t.columns]) ** 2).mean()).mean())
        sd = float(est.std(ddof=1))
        out["factors"][k] = {"mean": float(est.mean()), "bias_in_mc_se": float(
            (est.mean() - truth) / (sd / math.sqrt(args.reps))), "sd": sd,
            "rmse_town_mean": rmse_town, "households": float(np.mean(n))}
    base = out["factors"][args.factors[0]]
    for v in out["factors"].values():
        v["variance_ratio"] = (v["sd"] / base["sd"]) ** 2
        v["town_mse_ratio"] = (v["rmse_town_mean"] / base["rmse_town_mean"]) ** 2
    out["seconds"] = time.time() - t0
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"漏评 truth {truth:.4f}; risk households {share_risk:.1%} of the non-registered; "
          f"{args.reps} draws per factor ({out['seconds']:.0f} s)")
    print("factor  households  mean     bias/MCSE  SD(district)  var ratio  town RMSE  town MSE ratio")
    for k, v in out["factors"].items():
        print(f"{k:6g}  {v['households']:10.0f}  {v['mean']:.4f}  {v['bias_in_mc_se']:+8.2f}  "
              f"{v['sd']:12.4f}  {v['variance_ratio']:9.2f}  {v['rmse_town_mean']:9.4f}  "
              f"{v['town_mse_ratio']:14.2f}")


if __name__ == "__main__":
    main()
