"""Issue 13 §1: the cost-optimal single-phase design against the default one, by simulation
(a measurement, not a speed benchmark; not run by the tests).

    nice .venv/bin/python benchmarks/plan_goals.py [--reps 500] [--seed 1301] [--json]
        [--icc RHO] [--test-method beta-binomial]

The plan is chosen by :func:`quchi_stats.planning.optimise_plan` on the synthetic 2018 district
(``data_samples/``) at today's phase-1 budget (1,100 households; 1,000 yuan per village, 100 per
household), with ρ per indicator estimated from the 2016 and 2017 spot-checks
(:func:`~quchi_stats.planning.estimate_icc`) and the shipped 2018 spec (its town test,
``test_method``: the adjusted beta-binomial test by default, ``--test-method`` runs another on the
same seeds; Holm over all 72 town × indicator tests, α = 0.05). Both designs are then simulated
with :func:`~quchi_stats.simulate.simulate_design` at the same ρ:

1. one town × indicator at a time 10 points below its standard, all else compliant: power per
   town, and the familywise false-flag rate with every town compliant;
2. the held-out scenario of the issue: three towns low at once (马坝镇 群众认可度 80% vs 90%,
   大塘镇 错退率 18% vs 2%, 枫湾镇 识别准确率 89% vs 98%; every other town × indicator halfway
   between its standard and 1): each low cell's flag rate, and the largest and summed false-flag
   rates of the compliant cells (the sum bounds the chance of any false flag).
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
from _common import add_test_method_option, with_test_method

from quchi_stats.datasets import data_path, load_register
from quchi_stats.planning import estimate_icc, expected_cost, optimise_plan
from quchi_stats.simulate import simulate_design
from quchi_stats.spec import load_spec

LOW = {"satisfaction_rate": ("马坝镇", 0.80), "exit_accuracy": ("大塘镇", 0.82),
       "identification_accuracy": ("枫湾镇", 0.89)}
INDICATORS = ["identification_accuracy", "exit_accuracy", "missed_rate", "satisfaction_rate"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1301)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--icc", type=float, help="one ρ for every indicator instead of the estimate")
    add_test_method_option(ap)
    args = ap.parse_args()
    t0 = time.time()
    reg = load_register(2018)
    spec = with_test_method(load_spec(2018), args.test_method)
    icc = estimate_icc(data_path(), 2018, indicators=INDICATORS)
    if args.icc is not None:
        icc = {k: args.icc for k in INDICATORS}
    res = optimise_plan(reg, 2018, spec=spec, icc=icc, budget_households=1100,
                        indicators=INDICATORS, shortfall=0.10)
    rho = {k: v.rho for k, v in res.icc.items()}
    out = {"icc": {k: v.to_dict() for k, v in res.icc.items()},
           "plan": {"villages_total": res.plan.villages_total,
                    "households_per_village": res.plan.households_per_village},
           "budget_yuan": res.budget, "test_method": spec.test_method,
           "search_s": time.time() - t0, "designs": {}}
    for tag, plan in (("plan", res.plan), ("default", res.default)):
        c = expected_cost(reg, plan, res.cost)
        sim = simulate_design(reg, plan, spec=spec, indicators=INDICATORS, shortfall=0.10,
                              icc=rho, reps=args.reps, seed=args.seed)
        per_town = sim.table.pivot(index="town", columns="label", values="power")
        truth = {ind: {t: r} for ind, (t, r) in LOW.items()}
        base = {i.name: (1 + i.threshold) / 2 for i in spec.indicators if i.name in INDICATORS}
        full = {k: {**{t: base[k] for t in per_town.index}, **truth.get(k, {})}
                for k in INDICATORS}
        held = simulate_design(reg, plan, spec=spec, indicators=INDICATORS, truth=full, icc=rho,
                               reps=args.reps, seed=args.seed + 1)
        ht = held.table
        low = ht[~ht["compliant"]]
        ok = ht[ht["compliant"]]
        out["designs"][tag] = {
            "villages": c["villages"], "households": c["households"], "yuan": c["yuan"],
            "households_per_village": plan.households_per_village,
            "min_power_shortfall10": sim.summary().set_index("label")["min_power"].to_dict(),
            "mean_power_shortfall10": sim.summary().set_index("label")["mean_power"].to_dict(),
            "familywise_false_flag_compliant": sim.familywise_false_flag,
            "held_out_low_flag_rate": {f"{r.town} {r.label}": r.flag_rate
                                       for r in low.itertuples()},
            "held_out_max_false_flag": float(ok["flag_rate"].max()),
            "held_out_sum_false_flag": float(ok["flag_rate"].sum()),
            "per_town_power_shortfall10": per_town.round(3).to_dict(),
        }
    out["seconds"] = time.time() - t0
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1, default=float))
        return
    print(res)
    for tag, d in out["designs"].items():
        print(f"\n== {tag}: {d['villages']} 村, {d['households']:.0f} 户（期望）, "
              f"{d['yuan']:,.0f} 元, 每村 {d['households_per_village']}")
        print("  最弱镇把握度（低 10 个百分点）:", {k: round(v, 3) for k, v in
                                        d["min_power_shortfall10"].items()})
        print("  平均把握度:", {k: round(v, 3) for k, v in d["mean_power_shortfall10"].items()})
        print(f"  全部达标时误判率（族）: {d['familywise_false_flag_compliant']:.3f}")
        print("  留出情景（三镇同时偏低）判定比例:", {k: round(v, 3) for k, v in
                                          d["held_out_low_flag_rate"].items()})
        print(f"  留出情景达标格的误判率: 最大 {d['held_out_max_false_flag']:.3f}，合计 "
              f"{d['held_out_sum_false_flag']:.3f}")
        print(pd.DataFrame(d["per_town_power_shortfall10"]).to_string())
    print(f"\n{args.reps} reps, seed {args.seed}, town test {spec.test_method}; "
          f"{out['seconds']:.0f} s")


if __name__ == "__main__":
    main()
