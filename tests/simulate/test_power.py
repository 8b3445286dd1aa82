"""Design power by simulation: the closed form equals the report's estimator, and the rates it
reports are calibrated (seeded; Monte Carlo tolerances stated beside each check)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from quchi_stats.datasets import load_register
from quchi_stats.design import SurveyDesign
from quchi_stats.errors import ParameterError
from quchi_stats.estimation import estimate_proportion
from quchi_stats.flags import adjust_rows, village_counts
from quchi_stats.sampling import DesignPlan, draw_sample
from quchi_stats.simulate import compare_designs, simulate_design
from quchi_stats.simulate.power import (
    _district,
    _draw_sizes,
    _replicates,
    _select,
    _test_and_interval,
    _village_counts_sim,
    flags_one_replaced,
)
from quchi_stats.spec import load_spec


@pytest.fixture(scope="module")
def register():
    return load_register(2018)


@pytest.fixture(scope="module")
def spec():
    return load_spec(2018)


@pytest.fixture(scope="module")
def design_spec(spec):
    """The design-based test with Holm over all 72 town × indicator tests (the spec before issue
    11): the tests of the closed-form simulation path and its calibration use it."""
    return dataclasses.replace(spec, test_method="design", multiplicity_family="all")


@pytest.mark.parametrize("method", ["holm", "hochberg", "bh", "none"])
def test_one_replaced_test_flags_as_the_adjusted_modified_row(method):
    """The O(n log n) Holm shortcut (and the blocked BH) decide every column exactly as adjusting
    each modified row does: 300 random cases with NaNs, ties and families wider than the row."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        r, n = int(rng.integers(1, 6)), int(rng.integers(1, 12))
        m = n + int(rng.integers(0, 5))
        base = rng.uniform(0, 0.02, (r, n)) ** rng.uniform(0.5, 2)
        alt = base * rng.uniform(0, 1, (r, n))
        if rng.random() < 0.5:
            base[rng.random((r, n)) < 0.2] = np.nan
        if rng.random() < 0.3:
            base[:, 1:2] = base[:, :1]
        alt[np.isnan(base)] = np.nan  # as in the simulation: a town without households is NaN in both
        expected = np.zeros((r, n), dtype=bool)
        for c in range(n):
            mod = base.copy()
            mod[:, c] = alt[:, c]
            expected[:, c] = adjust_rows(mod, method, m)[:, c] < 0.05
        np.testing.assert_array_equal(flags_one_replaced(base, alt, method, m, 0.05), expected)


@pytest.mark.parametrize("name", ["identification_accuracy", "exit_accuracy",
                                  "satisfaction_rate"])
def test_closed_form_equals_the_report_estimator(register, spec, name):
    """Every replicate's estimate, se, interval, df and p-value equal estimate_proportion on the
    same households (strata towns, PSUs villages, weights 1/(π·m/N), lonely PSUs 'certainty')."""
    plan = DesignPlan(year=2018, villages_total=30, households_per_village={
        "registered": 6, "exited": 4, "non_registered": 4})
    ind = next(i for i in spec.indicators if i.name == name)
    d = _district(register, plan)
    rng = np.random.default_rng(5)
    reps = 4
    idx, pi = _select(d, plan, reps, rng)
    truth = np.linspace(0.80, 0.97, len(d.towns))
    sim = _replicates(d, ind.frames, truth, 0.1, idx, pi, rng)
    pv, lo, hi = _test_and_interval(sim, ind.threshold, spec)
    V = d.size.size
    for r in range(reps):
        rows = []
        for t in range(len(d.towns)):
            for s in range(idx.shape[2]):
                v = idx[r, t, s]
                if v == V:
                    continue
                for f in ind.frames:
                    y, m = (a[r, t, s] for a in sim["drawn"][f])
                    if m == 0:
                        continue
                    w = d.N[f][v] / m / pi[r, t, s]
                    rows += [(d.towns[t], v, w, 1.0)] * int(y) + [(d.towns[t], v, w, 0.0)] * int(
                        m - y)
        data = pd.DataFrame(rows, columns=["town", "village", "w", "good"])
        design = SurveyDesign(data, strata="town", psu="village", weights="w",
                              lonely_psu="certainty")
        est = estimate_proportion(design, "good", by="town", method=spec.interval_method,
                                  level=spec.level, p0=ind.threshold,
                                  deff_floor=spec.deff_floor).to_frame()
        order = [d.towns.index(t) for t in est["town"]]
        np.testing.assert_allclose(est["estimate"], sim["p_hat"][r, order], rtol=1e-12)
        np.testing.assert_allclose(est["se"], np.sqrt(sim["v"][r, order]), rtol=1e-9,
                                   atol=1e-15)
        np.testing.assert_array_equal(est["df"], sim["df"][r, order])
        np.testing.assert_array_equal(est["n"], sim["n"][r, order])
        np.testing.assert_allclose(est["ci_lower"], lo[r, order], rtol=1e-9)
        np.testing.assert_allclose(est["ci_upper"], hi[r, order], rtol=1e-9)
        np.testing.assert_allclose(est["p_value"], pv[r, order], rtol=1e-9, atol=1e-15)


def test_villages_and_household_weights_are_those_of_the_draw(register):
    """The villages' π and the households drawn per frame are the ones draw_sample uses."""
    plan = DesignPlan(year=2018)
    d = _district(register, plan)
    res = draw_sample(register, plan, seed=1)
    prim = res.primary
    idx, pi = _select(d, plan, 300, np.random.default_rng(2))
    village_pi = {}
    for t in range(len(d.towns)):
        for v, p in zip(idx[:, t].ravel(), pi[:, t].ravel(), strict=True):
            village_pi[v] = p
    names = register.drop_duplicates(["town", "village"]).sort_values(["town", "village"])
    names = list(zip(names["town"], names["village"], strict=True))
    for (town, village), g in prim.groupby(["town", "village"]):
        v = names.index((town, village))
        assert village_pi[v] == pytest.approx(g["pi_village"].iloc[0], rel=1e-9)
        for f, gf in g.groupby("frame"):
            assert d.N[f][v] == gf["n_households_in_frame_of_village"].iloc[0]
            assert d.m[f][v] == gf["n_households_sampled_in_frame_of_village"].iloc[0]
    assert (idx < d.size.size).sum(axis=(1, 2)).tolist() == [45] * 300


def test_false_flags_are_calibrated_at_the_threshold(register, design_spec):
    """Towns exactly at the threshold: without multiplicity adjustment each test rejects in at
    most alpha of the replicates (the Jeffreys-type test with the deff floor is conservative).
    1,000 replicates: a 5 % rate has a Monte Carlo SE of 0.7 points, so 3 SE allow 7.1 %."""
    plain = dataclasses.replace(design_spec, multiplicity="none")
    thresholds = {i.name: i.threshold for i in design_spec.indicators}
    names = ["identification_accuracy", "satisfaction_rate"]
    res = simulate_design(register, DesignPlan(year=2018), spec=plain, indicators=names,
                          truth={n: thresholds[n] for n in names}, reps=1000, seed=3)
    t = res.to_frame()
    assert t["compliant"].all()
    assert t["flag_rate"].max() <= 0.071
    assert t["flag_rate"].mean() <= 0.05
    assert np.isfinite(res.familywise_false_flag)


def test_power_grows_with_the_shortfall_and_coverage_holds(register, design_spec):
    plan = DesignPlan(year=2018)
    kw = {"indicators": ["satisfaction_rate"], "reps": 1000, "seed": 4, "spec": design_spec}
    small = simulate_design(register, plan, shortfall=0.05, **kw).to_frame()
    big = simulate_design(register, plan, shortfall=0.25, **kw).to_frame()
    assert (big["power"] > small["power"]).all()
    # five villages a town (df 4) and Holm over 72 tests: even 25 points short is found only about
    # half the time — the reason the report prints each test's power
    assert big["power"].min() > 0.35
    assert (big["power_unadjusted"] >= big["power"]).all()
    # compliant towns: flagged rarely after Holm over the 72 tests; intervals cover the truth
    # (Jeffreys 95 %: at least 93 % per town, 1,000 replicates, SE 0.7 points)
    assert small["false_flag_rate"].max() <= 0.01
    assert small["coverage"].min() >= 0.93


def test_explicit_truth_flags_the_low_town(register, design_spec):
    res = simulate_design(register, DesignPlan(year=2018), indicators=["satisfaction_rate"],
                          spec=design_spec,
                          truth={"satisfaction_rate": {"沙溪镇": 0.55}}, reps=500, seed=6)
    t = res.to_frame().set_index("town")
    assert not t.loc["沙溪镇", "compliant"] and t.loc["沙溪镇", "flag_rate"] > 0.8
    assert t.drop("沙溪镇")["flag_rate"].max() <= 0.01
    assert np.isnan(res.familywise_false_flag)


def test_certainty_villages_and_other_selection_methods(register, design_spec):
    """省定贫困村 taken with certainty are in every replicate with π = 1; Sampford and size order
    run through the same path."""
    plan = DesignPlan(year=2018, certainty_priority_villages=True, village_method="sampford",
                      village_order="size")
    d = _district(register, plan)
    idx, pi = _select(d, plan, 200, np.random.default_rng(4))
    cert = np.flatnonzero(d.certain)
    assert cert.size > 0
    drawn = idx.reshape(200, -1)
    assert all(np.isin(cert, row).all() for row in drawn)
    assert np.all(pi[np.isin(idx, cert)] == 1.0)
    res = simulate_design(register, plan, indicators=["exit_accuracy"], reps=100, seed=2,
                          spec=design_spec)
    assert (res.to_frame()["villages"] >= 5).all()


def test_truth_as_a_towns_by_indicators_table(register, design_spec):
    towns = ["马坝镇", "大塘镇", "枫湾镇", "小坑镇", "沙溪镇", "乌石镇", "樟市镇", "白土镇", "罗坑镇"]
    truth = pd.DataFrame({"satisfaction_rate": [0.95] * 8 + [0.50],
                          "missed_rate": [0.99] * 9}, index=towns)
    res = simulate_design(register, DesignPlan(year=2018), truth=truth, reps=300, seed=3,
                          indicators=["satisfaction_rate", "missed_rate"], spec=design_spec)
    t = res.to_frame().set_index(["town", "indicator"])
    assert t.loc[("罗坑镇", "satisfaction_rate"), "true_rate"] == 0.50
    assert not t.loc[("罗坑镇", "satisfaction_rate"), "compliant"]
    assert t.loc[("罗坑镇", "satisfaction_rate"), "flag_rate"] > 0.8
    assert t.drop(("罗坑镇", "satisfaction_rate"))["flag_rate"].max() <= 0.01


def test_icc_per_indicator_widens_only_that_indicator(register, design_spec):
    """More clustering by village widens the intervals of that indicator and lowers its power,
    with the same households drawn (500 replicates: the width differs by far more than its
    Monte Carlo error)."""
    plan = DesignPlan(year=2018)
    kw = {"indicators": ["satisfaction_rate", "identification_accuracy"], "reps": 500, "seed": 7,
          "shortfall": 0.2, "spec": design_spec}
    low = simulate_design(register, plan, icc=0.01, **kw).to_frame()
    high = simulate_design(register, plan, icc={"satisfaction_rate": 0.3,
                                                "identification_accuracy": 0.01}, **kw).to_frame()
    sat = low["indicator"] == "satisfaction_rate"
    ida = low["indicator"] == "identification_accuracy"
    assert high.loc[sat, "mean_width"].mean() > 1.2 * low.loc[sat, "mean_width"].mean()
    assert high.loc[sat, "power"].mean() < low.loc[sat, "power"].mean()
    assert high.loc[sat, "households"].tolist() == low.loc[sat, "households"].tolist()
    ratio = high.loc[ida, "mean_width"].mean() / low.loc[ida, "mean_width"].mean()
    assert 0.95 < ratio < 1.05  # identification's ICC is the same in both runs


def test_seeded_reproducible_and_designs_compared(register, design_spec):
    plan = DesignPlan(year=2018)
    kw = {"indicators": ["identification_accuracy"], "reps": 600, "seed": 8, "icc": 0.1,
          "spec": design_spec}
    a = simulate_design(register, plan, **kw).to_frame()
    pd.testing.assert_frame_equal(a, simulate_design(register, plan, **kw).to_frame())
    assert not a.equals(simulate_design(register, plan, **{**kw, "seed": 9}).to_frame())
    calls = []
    res = simulate_design(register, plan, progress=lambda done, total: calls.append(done), **kw)
    assert calls == [500, 600]
    assert "误判" in str(res) and "<table" in res._repr_html_()
    assert "判定把握度" in res.to_frame(chinese=True).columns
    few = DesignPlan(year=2018, villages_total=27, households_per_village={
        "registered": 20, "exited": 8, "non_registered": 8})
    many = DesignPlan(year=2018, villages_total=54, households_per_village={
        "registered": 10, "exited": 8, "non_registered": 8})
    table = compare_designs(register, {"3×20": few, "6×10": many}, **kw)
    assert table["design"].tolist() == ["3×20", "6×10"]
    assert table["villages"].tolist() == [27, 54]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"icc": 1.0}, "'icc' parameter"),
    ({"icc": {"satisfaction_rate": -0.1}}, "'icc' parameter"),
    ({"icc": {"food_clothing": 0.1}}, "not simulated"),
    ({"reps": 0}, "'reps' parameter"),
    ({"indicators": ["no_such"]}, "'indicators' parameter"),
    ({"compliant": 0.5}, "'compliant' rates"),
    ({"shortfall": 0.0}, "'shortfall' parameter"),
    ({"truth": {"satisfaction_rate": {"不存在镇": 0.9}}}, "towns that are not in the register"),
    ({"truth": {"food_clothing": 0.9}}, "not simulated"),
    ({"family": "all"}, "'family' parameter"),
])
def test_parameter_errors(register, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        simulate_design(register, DesignPlan(year=2018), **{"reps": 10, **kwargs})


@pytest.mark.parametrize(("name", "method"), [("identification_accuracy", "systematic"),
                                               ("satisfaction_rate", "systematic"),
                                               ("missed_rate", "srswor")])
def test_village_counts_are_those_of_the_report(register, spec, name, method):
    """The simulated villages' effective counts (y_v, m_v) equal village_counts on the same
    households (weights 1/(π·m/N), times the household size for a person-level rate), and the
    household sizes drawn are sizes of households of that village's frame in the register."""
    plan = DesignPlan(year=2018, household_method=method)
    ind = next(i for i in spec.indicators if i.name == name)
    person = ind.unit == "person"
    d = _district(register, plan)
    rng = np.random.default_rng(11)
    reps = 3
    idx, pi = _select(d, plan, reps, rng)
    sizes = _draw_sizes(d, plan, ind.frames, idx, rng)
    sim = _replicates(d, ind.frames, np.full(len(d.towns), 0.9), 0.1, idx, pi, rng, person)
    goods: dict = {}
    y_v, m_v, present = _village_counts_sim(d, ind.frames, sim, idx, sizes if person else None,
                                            rng, keep=goods)
    V = d.size.size
    for r in range(reps):
        rows = []
        for t in range(len(d.towns)):
            for s_ in range(idx.shape[2]):
                v = idx[r, t, s_]
                if v == V:
                    continue
                for f in ind.frames:
                    y, m = (a[r, t, s_] for a in sim["drawn"][f])
                    if m == 0:
                        continue
                    w = d.N[f][v] / m / pi[r, t, s_]
                    off, val = d.sizes[f]
                    own = val[off[v]: off[v] + d.N[f][v]]
                    hs = sizes[f][r, t, s_, :m]
                    assert np.all(np.isin(hs, own)) and hs.size == m
                    good = (goods[f][r, t, s_, :m] if person
                            else np.arange(m) < y).astype(float)
                    assert good.sum() == y
                    for k in range(m):
                        rows.append((d.towns[t], v, w, hs[k], good[k]))
        data = pd.DataFrame(rows, columns=["town", "village", "w", "size", "good"])
        vc = village_counts(data, "good", weight="w", size="size" if person else None)
        got = [(d.towns[t], idx[r, t, s_], y_v[r, t, s_], m_v[r, t, s_])
               for t in range(len(d.towns)) for s_ in range(idx.shape[2]) if present[r, t, s_]]
        got = pd.DataFrame(got, columns=["town", "village", "y", "m"])
        merged = vc.merge(got, on=["town", "village"], suffixes=("", "_sim"))
        assert len(merged) == len(vc) == len(got)
        np.testing.assert_allclose(merged["m_sim"], merged["m"], rtol=1e-12)
        np.testing.assert_allclose(merged["y_sim"], merged["y"], rtol=1e-9, atol=1e-12)


def test_model_test_size_and_the_multiplicity_table(register, spec):
    """The report's beta-binomial test, simulated: towns exactly at the standard are flagged near
    alpha without adjustment (200 replicates × 9 towns = 1,800 tests per indicator, SE 0.5
    points; the issue's measurement 6.1 % / 4.7 %: [2.5 %, 9 %] is 5 SE around them), and the
    familywise table orders the methods as it must on the same replicates."""
    plain = dataclasses.replace(spec, multiplicity="none")
    thresholds = {i.name: i.threshold for i in spec.indicators}
    names = ["satisfaction_rate", "identification_accuracy"]
    res = simulate_design(register, DesignPlan(year=2018), spec=plain, indicators=names,
                          truth={n: thresholds[n] for n in names}, reps=200, seed=13)
    t = res.to_frame()
    rate = t.groupby("indicator")["flag_rate"].mean()
    assert rate.between(0.025, 0.09).all(), rate
    assert res.settings["test_method"] == spec.test_method and 0 <= min(
        res.settings["mean_rho"].values())
    fw = res.familywise.set_index(["family", "method"])["familywise_false_flag"]
    assert fw[("indicator", "none")] == fw[("all", "none")] == res.familywise_false_flag
    for fam in ("indicator", "all"):
        assert fw[(fam, "holm")] <= fw[(fam, "hochberg")] <= fw[(fam, "bh")] <= fw[(fam, "none")]
    assert fw[("all", "holm")] <= fw[("indicator", "holm")]
    by = res.by_method.query("method == 'none' and family == 'indicator'")
    np.testing.assert_allclose(by["flag_rate"].to_numpy(), t["flag_rate"].to_numpy())
    # intervals of the model test cover the finite-population truth (by persons for 识别)
    assert t["coverage"].min() >= 0.9


def test_model_test_power_one_low_town_at_a_time(register, spec):
    """Power of the model test: each town low in its own district (ρ re-estimated there), the
    adjusted power never above the unadjusted one, and the report's text names the test."""
    spec = dataclasses.replace(spec, multiplicity_family="indicator")
    res = simulate_design(register, DesignPlan(year=2018), spec=spec, shortfall=0.25,
                          indicators=["satisfaction_rate"], reps=40, seed=14)
    t = res.to_frame()
    assert (t["power_unadjusted"] >= t["power"]).all()
    assert t["power"].mean() > 0.5 > t["false_flag_rate"].max()
    assert "beta-二项似然比检验" in str(res) and "族为每项指标的各镇（9 个检验）" in str(res)
    by = res.by_method.set_index(["family", "method", "town", "indicator"])["power"]
    assert (by.xs("none", level="method").to_numpy()
            >= by.xs("holm", level="method").to_numpy()).all()


def test_design_test_families_and_hochberg(register, design_spec):
    """The design path under every family and method, from the same replicates: a family of 9
    towns flags more than Holm over 72 tests, Hochberg and BH at least what Holm flags, and the
    spec's own choice is the main table's."""
    spec = dataclasses.replace(design_spec, multiplicity="hochberg",
                               multiplicity_family="indicator")
    res = simulate_design(register, DesignPlan(year=2018), spec=spec, shortfall=0.25,
                          indicators=["satisfaction_rate", "identification_accuracy"],
                          reps=300, seed=15)
    by = res.by_method.set_index(["family", "method", "town", "indicator"])["power"]
    ind, fam_all = by.xs("indicator", level="family"), by.xs("all", level="family")
    assert ind.xs("holm", level="method").sum() > fam_all.xs("holm", level="method").sum()
    for fam in (ind, fam_all):
        holm = fam.xs("holm", level="method").to_numpy()
        assert (fam.xs("hochberg", level="method").to_numpy() >= holm).all()
        assert (fam.xs("bh", level="method").to_numpy() >= holm).all()
    main = res.to_frame().set_index(["town", "indicator"])["power"]
    np.testing.assert_array_equal(main.to_numpy(),
                                  ind.xs("hochberg", level="method").to_numpy())
    assert res.settings["family_size"] == 9 and "设计检验" in res.settings["test"]
