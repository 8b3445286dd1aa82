"""Issue 13, risk strata: power for 漏评率 (missed_rate) when risk households are oversampled, by
simulation on the synthetic district with its optional risk columns (a measurement, not a speed
benchmark; not run by the tests).

    nice .venv/bin/python benchmarks/risk_power.py [--reps 400] [--seed 1313] [--json]

The register is ``generate_district(risk_columns=True)`` at full scale (43,003 households, 2018; 低保,
危房, 大病/慢性病, 残疾, 独居老人 as the generator draws them, about 13 % of the non-registered
households risk households, their 漏评 probability ``RISK_MISSED_RATIO`` = 6 times that of the
others of their village). First the generator's own ratio is measured from its 2018 truths. Then
:func:`~quchi_stats.simulate.simulate_design` is run with the report's beta-binomial test and with
the design-based test (``--tests``), Holm over the spec's 72 town × indicator tests, the default 45
villages × 8 non-registered households (40 a town), for ``risk_factor`` 1 and 3 with the same seed
(the same villages drawn), with ``risk_ratio`` the generator's 6 and, for contrast, 1 (risk
households no different), at shortfalls of 5, 10 and 15 points below the 98 % standard (漏评率
7 %, 12 %, 17 % in the low town). Printed per case: the weakest and mean town power
(Holm-adjusted), the mean unadjusted power (one-sided p < 0.05), the highest false-flag rate,
coverage and mean width of the 95 % intervals. Monte Carlo SE of a power P
from R replicates: √(P(1 − P)/R), about 2.5 points at P = 0.5 and R = 400 (a town's; the mean over
9 towns is paired and steadier).

``--empirical N`` also draws the real sample N times per factor from the synthetic register with
``draw_sample`` and estimates the district 漏评 rate from the generator's own truths (the weighted
ratio the report computes), printing its variance ratio k = 3 : k = 1 (no model assumption).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quchi_stats.datasets.synthetic import RISK_MISSED_RATIO, generate_district, register_frame
from quchi_stats.io.readers import read_table
from quchi_stats.sampling import DesignPlan, draw_sample
from quchi_stats.sampling.draw import risk_flags
from quchi_stats.simulate import simulate_design
from quchi_stats.spec import load_spec

YEAR = 2018


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1313)
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 3.0])
    ap.add_argument("--ratios", type=float, nargs="+", default=[RISK_MISSED_RATIO, 1.0])
    ap.add_argument("--shortfalls", type=float, nargs="+", default=[0.05, 0.10, 0.15])
    ap.add_argument("--tests", nargs="+", default=["beta-binomial", "design"])
    ap.add_argument("--empirical", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    district = generate_district(risk_columns=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"register_{YEAR}.csv"
        register_frame(district, YEAR).to_csv(path, index=False)
        reg = read_table(path, "register")
    st = district.years[YEAR]
    non = ~st["registered"].to_numpy()
    risk = risk_flags(reg)
    missed = st["missed"].to_numpy()
    out = {"households": len(reg), "non_registered": int(non.sum()),
           "share_risk": float(risk[non].mean()), "missed_rate": float(missed[non].mean()),
           "missed_risk": float(missed[non & risk].mean()),
           "missed_other": float(missed[non & ~risk].mean()), "reps": args.reps, "cases": []}
    spec = load_spec(YEAR)
    specs = {m: dataclasses.replace(spec, test_method=m) for m in args.tests}
    for test, sp in specs.items():
        for shortfall in args.shortfalls:
            for ratio in args.ratios:
                for k in args.factors:
                    res = simulate_design(reg, DesignPlan(year=YEAR, risk_factor=k), spec=sp,
                                          indicators=["missed_rate"], shortfall=shortfall,
                                          reps=args.reps, seed=args.seed, risk_ratio=ratio)
                    t = res.table
                    out["cases"].append({
                        "test": test, "shortfall": shortfall, "risk_ratio": ratio, "risk_factor": k,
                        "households": float(t["households"].mean()),
                        "min_power": float(t["power"].min()), "mean_power": float(t["power"].mean()),
                        "mean_power_unadjusted": float(t["power_unadjusted"].mean()),
                        "max_false_flag": float(t["false_flag_rate"].max()),
                        "coverage": float(t["coverage"].mean()),
                        "mean_width": float(t["mean_width"].mean())})
    if args.empirical:
        y = pd.Series(missed, index=reg["household_id"].to_numpy())
        truth = float(missed[non].mean())
        emp = {}
        for k in args.factors:
            est = []
            for r in range(args.empirical):
                s = draw_sample(reg, DesignPlan(year=YEAR, risk_factor=k),
                                seed=args.seed * 1000 + r).primary
                s = s[s["frame"] == "non_registered"]
                w = s["weight"].to_numpy()
                est.append(float((w * y[s["household_id"]].to_numpy()).sum() / w.sum()))
            est = np.array(est)
            emp[k] = {"mean": float(est.mean()), "sd": float(est.std(ddof=1)),
                      "bias_in_mc_se": float((est.mean() - truth)
                                             / (est.std(ddof=1) / np.sqrt(est.size)))}
        base = emp[args.factors[0]]["sd"]
        for v in emp.values():
            v["variance_ratio"] = (v["sd"] / base) ** 2
        out["empirical"] = {"draws": args.empirical, "truth": truth, "factors": emp}
    out["seconds"] = time.time() - t0
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"synthetic 2018 district with risk columns: {out['households']} households, "
          f"{out['non_registered']} non-registered, {out['share_risk']:.1%} of them risk households; "
          f"漏评 {out['missed_rate']:.2%} (risk {out['missed_risk']:.2%}, other "
          f"{out['missed_other']:.2%}: ratio {out['missed_risk'] / out['missed_other']:.1f}); "
          f"{args.reps} replicates per case ({out['seconds']:.0f} s)")
    print("test           shortfall  risk_ratio  k   households  min_power  mean_power  mean_unadj  "
          "max_false  coverage  width")
    for c in out["cases"]:
        print(f"{c['test']:13s}  {c['shortfall']:9.2f}  {c['risk_ratio']:10g}  {c['risk_factor']:g}  "
              f"{c['households']:10.1f}  {c['min_power']:9.3f}  {c['mean_power']:10.3f}  "
              f"{c['mean_power_unadjusted']:10.3f}  {c['max_false_flag']:9.3f}  "
              f"{c['coverage']:8.3f}  {c['mean_width']:.4f}")
    if args.empirical:
        e = out["empirical"]
        print(f"real draws ({e['draws']} per factor), district 漏评 estimate, truth {e['truth']:.4f}:")
        for k, v in e["factors"].items():
            print(f"  k = {k:g}: mean {v['mean']:.4f} (bias {v['bias_in_mc_se']:+.2f} MC SE), "
                  f"SD {v['sd']:.4f}, variance ratio {v['variance_ratio']:.2f}")


if __name__ == "__main__":
    main()
