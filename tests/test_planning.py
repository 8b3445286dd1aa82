"""The cost-optimal single-phase design (quchi_stats.planning) and ``plan`` / ``design --plan``."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from quchi_stats.cli import main
from quchi_stats.errors import DataError, ParameterError
from quchi_stats.planning import (
    CostModel,
    analytic_power,
    expected_cost,
    optimise_plan,
    read_plan,
    write_plan,
)
from quchi_stats.sampling import DesignPlan
from quchi_stats.sampling.manifest import check_manifest
from quchi_stats.spec import load_spec

from .conftest import make_register

SPEC = load_spec(2018)


def _equal_towns(villages: int = 60, households: int = 80):
    """Two identical towns of identical villages, no exits and no non-registered households: one
    frame (registered)."""
    return make_register({t: [(households, 0, 0)] * villages for t in ("甲镇", "乙镇")})


@pytest.mark.parametrize("rho", [0.05, 0.2])
def test_variance_optimum_matches_the_clusopt2_closed_form(rho):
    """PracTools clusOpt2 (Valliant, Dever & Kreuter 2018, Practical Tools for Designing and
    Weighting Survey Samples, 2nd ed., ch. 9 on multistage designs, R package PracTools
    `clusOpt2`; /work/shared/METHODS.md "Cost-optimal clusters"):
    with cost C = c1·k + c2·k·m the variance p(1 − p)(1 + (m − 1)ρ)/(k m) is smallest at
    m* = √(c1/c2 · (1 − ρ)/ρ), k* = C/(c1 + c2 m*). Equal towns, one household-level indicator on
    one frame that never caps m, villages of equal size (π = k/V): the search's objective is that
    variance, so its integer optimum must sit next to m* and reach the continuous optimum's
    information up to the integer rounding of k and m."""
    reg = _equal_towns()
    c1, c2 = 1000.0, 100.0
    budget = 2 * 25 * (c1 + c2 * 14)  # about 25 villages per town at the optimum
    res = optimise_plan(reg, 2018, spec=SPEC, icc={"food_clothing": rho},
                        cost=CostModel(village=c1, household=c2), budget_yuan=budget,
                        indicators=["food_clothing"], objective="variance")
    m_star = math.sqrt(c1 / c2 * (1 - rho) / rho)
    m = res.plan.households_per_village["registered"]
    assert abs(m - m_star) <= 1.0, (m, m_star)
    k_star = budget / 2 / (c1 + c2 * m_star)
    info_star = k_star * m_star / (1 + (m_star - 1) * rho)
    k = res.plan.villages_total / 2
    info = k * m / (1 + (m - 1) * rho)
    assert info <= info_star * (1 + 1e-9)
    assert info >= 0.98 * info_star  # integer k and m lose at most ~2% here
    assert expected_cost(reg, res.plan, CostModel(c1, c2))["yuan"] <= budget + 1e-6


def test_power_objective_respects_the_budget_and_gains_with_money(small_register):
    cost = CostModel(village=500.0, household=50.0)
    inds = ["identification_accuracy", "satisfaction_rate"]
    lo = optimise_plan(small_register, 2018, spec=SPEC, icc=0.05, cost=cost, budget_yuan=9000,
                       indicators=inds, shortfall=0.2)
    hi = optimise_plan(small_register, 2018, spec=SPEC, icc=0.05, cost=cost, budget_yuan=20000,
                       indicators=inds, shortfall=0.2)
    for res, b in ((lo, 9000), (hi, 20000)):
        c = expected_cost(small_register, res.plan, cost)
        assert c["yuan"] <= b + 1e-6
        assert res.budget == b
        assert res.plan.village_allocation == "equal"
    w_lo = lo.table.query("design == 'plan'")["min_power"].min()
    w_hi = hi.table.query("design == 'plan'")["min_power"].min()
    assert w_hi >= w_lo - 1e-9


def test_budget_in_households_is_the_default_designs_cost_scaled(small_register):
    cost = CostModel(village=400.0, household=40.0)
    default = DesignPlan(year=2018, villages_total=6, households_per_village={
        "registered": 4, "exited": 2, "non_registered": 3})
    base = expected_cost(small_register, default, cost)
    res = optimise_plan(small_register, 2018, spec=SPEC, icc=0.05, cost=cost,
                        budget_households=base["households"], default=default,
                        indicators=["satisfaction_rate"], shortfall=0.2)
    assert res.budget == pytest.approx(base["yuan"])
    assert expected_cost(small_register, res.plan, cost)["yuan"] <= base["yuan"] + 1e-6
    # the plan is never worse than the default design it was given the default's money
    t = res.table.set_index("design")["min_power"]
    assert t["plan"] >= t["default"] - 1e-4


def test_budget_options_are_checked(small_register):
    with pytest.raises(ParameterError, match="exactly one"):
        optimise_plan(small_register, 2018, spec=SPEC, budget_yuan=1e4, budget_households=100)
    with pytest.raises(ParameterError, match="budget_yuan"):
        optimise_plan(small_register, 2018, spec=SPEC, budget_yuan=-1)
    with pytest.raises(DataError, match="预算"):
        optimise_plan(small_register, 2018, spec=SPEC, budget_yuan=100.0)


def test_analytic_power_rises_with_households_and_falls_with_icc(small_register):
    small = DesignPlan(year=2018, villages_total=6, households_per_village={
        "registered": 2, "exited": 1, "non_registered": 2})
    big = DesignPlan(year=2018, villages_total=6, households_per_village={
        "registered": 8, "exited": 4, "non_registered": 8})
    kw = {"spec": SPEC, "indicators": ["satisfaction_rate"], "shortfall": 0.3}
    p_small = analytic_power(small_register, small, icc=0.05, **kw)["power"].to_numpy()
    p_big = analytic_power(small_register, big, icc=0.05, **kw)["power"].to_numpy()
    p_rho = analytic_power(small_register, big, icc=0.3, **kw)["power"].to_numpy()
    assert np.all(p_big >= p_small) and np.any(p_big > p_small)
    assert np.all(p_rho <= p_big) and np.any(p_rho < p_big)


def test_plan_file_round_trip(small_register, tmp_path):
    res = optimise_plan(small_register, 2018, spec=SPEC, icc=0.05, budget_yuan=12000,
                        cost=CostModel(500, 50), indicators=["satisfaction_rate"], shortfall=0.2)
    path = write_plan(res, tmp_path / "plan.toml")
    got = read_plan(path, year=2018)
    assert got.plan == res.plan
    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert got.text == path.read_text(encoding="utf-8")
    with pytest.raises(Exception, match="已存在"):
        write_plan(res, path)
    with pytest.raises(DataError, match="不是本次的 2019 年"):
        read_plan(path, year=2019)


PLAN_TEXT = """format = 1
kind = "plan"
year = 2018

[plan]
year = 2018
villages_total = 27
min_villages_per_town = 2
reserves = 1

[plan.households_per_village]
registered = 6
exited = 4
non_registered = 5
"""


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    from quchi_stats.datasets import write_district

    root = tmp_path_factory.mktemp("plan_district")
    write_district(root, scale=0.05)
    return root


def test_design_with_a_plan_draws_the_planned_sizes_and_records_the_file(district, tmp_path,
                                                                         capsys):
    plan_path = tmp_path / "计划.toml"
    plan_path.write_text(PLAN_TEXT, encoding="utf-8")
    out = tmp_path / "sample"
    assert main(["design", "--data", str(district), "--year", "2018", "--seed", "7",
                 "--plan", str(plan_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "按抽样计划" in printed
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["plan"]["villages_total"] == 27
    assert manifest["plan"]["households_per_village"] == {"registered": 6, "exited": 4,
                                                          "non_registered": 5}
    rec = manifest["plan_file"]
    assert rec["file"] == "计划.toml"
    assert rec["sha256"] == hashlib.sha256(plan_path.read_bytes()).hexdigest()
    assert rec["text"] == PLAN_TEXT
    import pandas as pd

    s = pd.read_csv(out / "sample.csv", encoding="utf-8-sig")
    p = s[s["role"] == "primary"]
    assert p["village"].nunique() == 27
    per = p.groupby(["village", "frame"]).size()
    caps = p.groupby(["village", "frame"])["n_households_in_frame_of_village"].first()
    want = {"registered": 6, "exited": 4, "non_registered": 5}
    for (v, f), n in per.items():
        assert n == min(want[f], caps[(v, f)])
    assert main(["design", "--verify", str(out / "manifest.json")]) == 0
    # the recorded text cannot be edited without the manifest saying so
    manifest["plan_file"]["text"] = PLAN_TEXT.replace("= 6", "= 7")
    with pytest.raises(DataError, match="SHA-256 不符"):
        check_manifest(manifest)
    manifest["plan_file"]["text"] = PLAN_TEXT.replace("27", "28")
    manifest["plan_file"]["sha256"] = hashlib.sha256(
        manifest["plan_file"]["text"].encode()).hexdigest()
    with pytest.raises(DataError, match="与清单的 plan 不同"):
        check_manifest(manifest)


@pytest.mark.parametrize("text, expected", [
    (PLAN_TEXT.replace("villages_total", "villages_totl"), "是否应为 villages_total"),
    (PLAN_TEXT.replace("[plan]\n", "[plan\n"), "TOML 格式错误"),
    (PLAN_TEXT.replace("registered = 6", "registered = -6"), "[plan] 不是有效的抽样参数"),
    ("year = 2018\n", "缺少 [plan] 一节"),
    (PLAN_TEXT.replace('kind = "plan"', 'kind = "spec"'), "kind 应为"),
    (PLAN_TEXT + "\n[extra]\na = 1\n", "未知的键 extra"),
])
def test_a_bad_plan_file_is_one_chinese_line(district, tmp_path, capsys, text, expected):
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(text, encoding="utf-8")
    status = main(["design", "--data", str(district), "--year", "2018", "--seed", "1",
                   "--plan", str(plan_path), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("错误：")
    assert "plan.toml" in err and expected in err


def test_plan_and_plan_options_together_are_refused(district, tmp_path, capsys):
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(PLAN_TEXT, encoding="utf-8")
    status = main(["design", "--data", str(district), "--year", "2018", "--villages", "30",
                   "--plan", str(plan_path), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "--plan 与 --villages 不能同时使用" in err


def test_plan_command_writes_a_plan_that_design_draws(district, tmp_path, capsys):
    out = tmp_path / "plan.toml"
    status = main(["plan", "--year", "2018", "--data", str(district), "--budget-households",
                   "300", "--indicators", "satisfaction_rate", "--icc",
                   "satisfaction_rate=0.05", "--reps", "0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert "成本最优" in printed and "默认设计" in printed and "最弱镇把握度" in printed
    got = read_plan(out, year=2018)
    assert got.plan.village_allocation == "equal"
    import tomllib

    doc = tomllib.loads(out.read_text(encoding="utf-8"))
    assert doc["cost"]["expected_yuan"] <= doc["cost"]["budget_yuan"] + 1e-6
    assert doc["icc"]["satisfaction_rate"]["source"] == "given"
    assert main(["design", "--data", str(district), "--seed", "3", "--plan", str(out),
                 "--out", str(tmp_path / "s")]) == 0


def test_icc_is_estimated_from_the_earlier_years_with_an_interval(district):
    from quchi_stats.planning import estimate_icc

    est = estimate_icc(district, 2018, indicators=["satisfaction_rate", "exit_accuracy"])
    for name, e in est.items():
        assert e.indicator == name and e.source == "estimated"
        assert e.years == (2016, 2017)
        assert 0 <= e.lower <= e.rho <= e.upper < 1
        assert e.villages > 0
    with pytest.raises(DataError, match="无法估计村内相关系数"):
        estimate_icc(district, 2016, indicators=["satisfaction_rate"])


def test_expected_households_are_the_mean_over_draws(small_register):
    """The budget is on the expected cost over the πps draw: the mean households of repeated
    draws must agree with it (4 Monte Carlo SE of the mean of 300 draws)."""
    from quchi_stats.sampling import draw_sample

    plan = DesignPlan(year=2018, villages_total=5, households_per_village={
        "registered": 5, "exited": 2, "non_registered": 6})
    exp = expected_cost(small_register, plan)
    n = np.array([len(draw_sample(small_register, plan, seed=s).primary) for s in range(40)])
    se = n.std(ddof=1) / np.sqrt(n.size)
    assert abs(n.mean() - exp["households"]) <= 4 * se + 1e-9
    assert n.max() <= exp["households_max"]


@pytest.mark.parametrize("p0, p1, m, k", [(0.9, 0.75, 15, 4), (0.98, 0.88, 10, 5),
                                          (0.9, 0.8, 20, 5)])
def test_analytic_power_tracks_the_reports_test(p0, p1, m, k):
    """The search's analytic power against the report's beta-binomial test simulated on the same
    villages (``model_power``, ρ = 0 held, 5 towns × 2,000 replicates: Monte Carlo SE of the mean
    power < 0.5 points). The analytic form replaces a count that moves by whole households with
    a continuous one (half a household of continuity correction on average), which is off by up
    to about 6 points at a given integer size (docs/design.md); 7 points + 4 SE is the bound."""
    import pandas as pd
    from scipy import stats

    from quchi_stats.flags.town_power import model_power
    from quchi_stats.planning import _power_from_info

    u = pd.DataFrame({"town": np.repeat([f"t{i}" for i in range(5)], k * m),
                      "village": np.repeat([f"v{i}" for i in range(5 * k)], m), "w": 1.0})
    a, df = 0.05 / 10, 5 * k - 5
    sim = model_power(u, rho=0.0, p0=p0, p1=p1, alpha_level=a, df=df, reps=2000, seed=2)["power"]
    n = float(k * m)
    an = _power_from_info(np.array([n]), p0, p1, stats.t.isf(a, df), np.array([n]))[0]
    se = math.sqrt(sim.mean() * (1 - sim.mean()) / (2000 * 5))
    assert abs(an - sim.mean()) <= 0.07 + 4 * se


def test_plan_summary_names_the_whole_county_as_the_spec_does(small_register):
    """The summary's first line says 全区/全县/… after the spec's county (labels.district_label),
    not a fixed 全区."""
    import dataclasses

    cost = CostModel(village=500.0, household=50.0)
    said = {}
    for county in ("曲江区", "某某县", ""):
        spec = dataclasses.replace(SPEC, county=county)
        res = optimise_plan(small_register, 2018, spec=spec, icc=0.05, cost=cost, budget_yuan=9000,
                            indicators=["satisfaction_rate"], shortfall=0.2)
        said[county] = str(res).splitlines()[0]
    assert "：全区 " in said["曲江区"] and "：全县 " in said["某某县"]
    assert "：全县（区） " in said[""] and "全区" not in said["某某县"]
