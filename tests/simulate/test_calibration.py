"""The calibration simulator (issue 11): its two methods are the report's, its scores are right,
and the new test is calibrated in a few cells within Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.errors import ParameterError
from quchi_stats.estimation import estimate_proportion
from quchi_stats.flags import village_counts
from quchi_stats.flags.town_test import town_test
from quchi_stats.flags.town_test_fp import fp_town_test
from quchi_stats.simulate.calibration import (
    _draw,
    _fp_method,
    _new_method,
    _old_method,
    _scores,
    _sum_of_squares,
    attainable_levels,
    calibration_grid,
    district_frame,
    goal_checks,
    plot_calibration,
    simulate_cell,
    summarise_grid,
)


@pytest.mark.parametrize("unit", ["person", "household"])
def test_both_methods_are_those_of_the_report(unit):
    """Per replicate district: the new method equals village_counts + town_test, the old one
    estimate_proportion (strata towns, PSUs villages, weights 1/(π·m/N)) on the same households."""
    frame = district_frame("pps", towns=4, villages_in_town=8, seed=3)
    rng = np.random.default_rng(11)
    sim = _draw(frame, 0.9, 0.1, 3, 6, unit == "person", 3, rng)
    new = _new_method(sim, 0.9, 0.95, True)
    adj = _new_method(sim, 0.9, 0.95, True, "beta-binomial-adjusted")
    old = _old_method(sim, 0.9, 0.95, 1.0, True)
    R, T, V, m = sim["good"].shape
    for r in range(R):
        rows = []
        for t in range(T):
            for v in range(V):
                for i in range(m):
                    rows.append((f"t{t}", f"t{t}v{v}", sim["w"][r, t, v],
                                 sim["size"][r, t, v, i], float(sim["good"][r, t, v, i])))
        data = pd.DataFrame(rows, columns=["town", "village", "w", "persons", "good"])
        size = "persons" if unit == "person" else None
        vc = village_counts(data, "good", weight="w", size=size)
        for method, got in (("beta-binomial", new), ("beta-binomial-adjusted", adj)):
            res = town_test(vc, 0.9, method=method).to_frame()
            np.testing.assert_allclose(res["p_value"], got["p_value"][r], rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(res["ci_lower"], got["lower"][r], atol=1e-9)
            np.testing.assert_allclose(res["ci_upper"], got["upper"][r], atol=1e-9)
            assert res["rho"].iloc[0] == pytest.approx(got["rho"][r], abs=1e-12)
        design = SurveyDesign(data, strata="town", psu="village", weights="w")
        est = estimate_proportion(design, "good", by="town", denominator=size, method="jeffreys",
                                  level=0.95, p0=0.9, deff_floor=1.0).to_frame()
        np.testing.assert_allclose(est["estimate"], old["p_hat"][r], rtol=1e-12)
        np.testing.assert_allclose(est["p_value"], old["p_value"][r], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(est["ci_lower"], old["lower"][r], rtol=1e-9)
        np.testing.assert_allclose(est["ci_upper"], old["upper"][r], rtol=1e-9)


def test_finite_population_method_is_fp_town_test():
    """Household rates: per replicate district, ``_fp_method`` (every village of every town, the
    adjusted test's ρ̂) equals ``fp_town_test`` given the villages' counts y, n (0 where not
    visited) and register sizes N, and the same ρ."""
    frame = district_frame("pps", towns=4, villages_in_town=8, seed=3)
    sim = _draw(frame, 0.9, 0.1, 3, 6, False, 3, np.random.default_rng(12))
    adj = _new_method(sim, 0.9, 0.95, False, "beta-binomial-adjusted")
    got = _fp_method(sim, 0.9, 0.95, adj["rho"])
    f = sim["fp"]
    assert got["df"] == 4 * 3 - 4
    for r in range(3):
        v = pd.DataFrame({"town": np.repeat([f"t{t}" for t in range(4)], 8),
                          "y": f["y"][r].ravel(), "n": f["n"][r].ravel(), "N": frame.ravel()})
        assert (v.groupby("town")["n"].apply(lambda x: (x > 0).sum()) == 3).all()
        res = fp_town_test(v, 0.9, rho=adj["rho"][r], level=0.95).to_frame()
        np.testing.assert_allclose(res["p_hat"], got["p_hat"][r], rtol=1e-12)
        np.testing.assert_allclose(res["p_value"], got["p_value"][r], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(res["ci_lower"], got["lower"][r], rtol=1e-12)
        np.testing.assert_allclose(res["ci_upper"], got["upper"][r], rtol=1e-12)


@pytest.mark.parametrize("unit", ["person", "household"])
def test_finite_population_pieces_add_up_to_the_truth(unit):
    """The observed part and the unobserved weight of every village add up to the town's total,
    and a town's actual rate lies between the prediction with every unobserved household bad and
    with every one good."""
    frame = district_frame("equal", towns=3, villages_in_town=6, equal_size=30, seed=1)
    sim = _draw(frame, 0.9, 0.05, 2, 5, unit == "person", 4, np.random.default_rng(2))
    f = sim["fp"]
    observed = sim["size"].sum(-1)                                   # (R, T, V) persons seen
    np.testing.assert_allclose(f["r1"].sum(-1) + observed.sum(-1), f["total"])
    np.testing.assert_allclose(f["t_obs"].sum(-1), (sim["size"] * sim["good"]).sum((-2, -1)))
    np.testing.assert_array_equal(f["n"].sum(-1), 2 * 5)
    low = f["t_obs"].sum(-1) / f["total"]
    high = (f["t_obs"].sum(-1) + f["r1"].sum(-1)) / f["total"]
    assert np.all((low <= sim["truth"]) & (sim["truth"] <= high))
    assert np.all(f["r2"] >= f["r1"]) and (unit == "person" or np.all(f["r2"] == f["r1"]))


def test_sum_of_squares_of_household_sizes_given_their_total():
    """E[Σ s² | k households, S persons], s = 1 + Poisson: by enumerating the multinomial split
    of the S − k extra persons; 2 households and 5 persons: (1, 4) or (4, 1) with probability
    1/8 each (17), (2, 3) or (3, 2) with 3/8 each (13): 14."""
    assert _sum_of_squares(np.array([2.0]), np.array([5.0]))[0] == pytest.approx(14.0)
    assert _sum_of_squares(np.array([0.0]), np.array([0.0]))[0] == 0.0
    assert _sum_of_squares(np.array([3.0]), np.array([3.0]))[0] == pytest.approx(3.0)
    from itertools import product

    from scipy.stats import multinomial
    for k, extra in ((3, 4), (4, 7)):
        want = sum(multinomial.pmf(x, extra, [1 / k] * k) * sum((1 + xi) ** 2 for xi in x)
                   for x in product(range(extra + 1), repeat=k) if sum(x) == extra)
        assert _sum_of_squares(np.array([k]), np.array([k + extra]))[0] == pytest.approx(want)


def test_estimand_scores_are_the_tests_read_through_duality():
    """At level 0.90 the upper bound is the one-sided 95 % bound, so (test ⇔ bound) the share of
    upper bounds below μ = p0 is the size at 5 %, and below the actual rate the size against the
    actual rate — for the adjusted test and the finite-population one. Against the actual rate
    the adjusted test rejects less than against μ in this cell (the actual rate is nearer the
    sample), and the finite-population test is within Monte Carlo bounds of 5 % (900 tests,
    binomial SE 0.73 points, more as a district's towns share ρ̂; [2.5 %, 9 %])."""
    r = simulate_cell(0.05, 5, 10, 0.9, reps=100, seed=3, power=False, fp=True, level=0.90)
    for m in ("adj", "fp"):
        assert r[f"upper_below_mu_{m}"] == pytest.approx(r[f"size_{m}"], abs=1e-12)
        assert r[f"upper_below_{m}"] == pytest.approx(r[f"size_actual_{m}"], abs=1e-12)
        total = r[f"coverage_mu_{m}"] + r[f"upper_below_mu_{m}"] + r[f"lower_above_mu_{m}"]
        assert total == pytest.approx(1.0)
    assert r["size_actual_adj"] < r["size_adj"]
    assert 0.025 <= r["size_actual_fp"] <= 0.09
    # the adjusted test's columns are those of a run without the estimand scores
    plain = simulate_cell(0.05, 5, 10, 0.9, reps=100, seed=3, power=False, adjusted=True,
                          level=0.90)
    for k in ("size_adj", "coverage_adj", "upper_below_adj", "width_adj", "rho_mean_adj"):
        assert plain[k] == r[k]


def test_scores_on_a_hand_checked_case():
    """Truth 0.92: [0.80, 0.90] is below it, [0.95, 0.97] above it, two intervals cover it."""
    res = {"lower": np.array([[0.80, 0.85, 0.90, 0.95]]),
           "upper": np.array([[0.90, 0.95, 1.00, 0.97]])}
    s = _scores(res, np.full((1, 4), 0.92))
    assert s["coverage"] == 0.5 and s["upper_below"] == 0.25 and s["lower_above"] == 0.25
    assert s["width"] == pytest.approx((0.10 + 0.10 + 0.10 + 0.02) / 4)
    # a bound equal to the truth covers it
    s = _scores({"lower": np.array([0.92]), "upper": np.array([0.92])}, np.array([0.92]))
    assert s["coverage"] == 1.0 and s["upper_below"] == 0.0


def test_size_of_the_new_test_within_monte_carlo_bounds():
    """9 towns × 5 villages × 10 households, ρ 0.05, p0 0.9, 100 districts = 900 town tests.

    Binomial SE of a 5 % rate over 900 tests is 0.73 %; the tests of one district share ρ̂, which
    inflates it (the grid's spread of sizes in such cells is within ±1.5 points). [2 %, 9 %] is more
    than 3 SE below and 5 SE above 5 %: it fails for a test at the old method's 1–2 %, or one that
    ignores the clustering (about 10 %)."""
    r = simulate_cell(0.05, 5, 10, 0.9, reps=100, seed=3, power=False)
    assert r["tests"] == 900
    assert 0.02 <= r["size_new"] <= 0.09
    assert 0.85 <= r["coverage_new"] <= 1.0
    total = r["coverage_new"] + r["upper_below_new"] + r["lower_above_new"]
    assert total == pytest.approx(1.0)
    assert r["width_new"] < r["width_old"]
    assert abs(r["truth_mean"] - 0.9) < 0.01


def test_adjusted_test_is_not_liberal_in_a_cell_where_the_default_is():
    """ρ 0.2, 8 villages × 20 households, p0 0.98 (equal villages, household rates): with 1,000
    districts the default test rejects 6.2–6.9 % at nominal 5 % (test_calibration_confirm.csv,
    test_calibration_adjusted.csv), the adjusted one 3.8–4.1 % (test_calibration_adjusted.csv).

    150 districts = 1,350 town tests. Binomial SE of a 4 % rate: 0.53 points (somewhat more, as
    a district's towns share ρ̂), so [2.5 %, 6 %] is about 3 SE each side of 4 %. The paired
    check is sharper: on the same replicates the two tests disagree in about 3 % of the towns,
    almost all rejected by the default only; the SE of the difference is ≈ 0.45 points, so
    "at least 0.8 points fewer" holds for a true difference of 2.4 points with > 99.9 %
    and fails if the adjustment did nothing. ρ̂'s mean over 150 districts has SE ≈ 0.006
    (its sd across districts ≈ 0.07)."""
    r = simulate_cell(0.2, 8, 20, 0.98, reps=150, seed=7, power=False, adjusted=True)
    assert r["tests"] == 1350 and r["failed_adj"] == 0
    assert 0.025 <= r["size_adj"] <= 0.06
    assert r["size_adj"] < r["size_new"] - 0.008
    assert r["rho_mean_adj"] < r["rho_mean"] - 0.05  # the Cox–Reid fit overshoots 0.2 (≈ 0.3)
    assert abs(r["rho_mean_adj"] - 0.2) < 0.05
    assert r["upper_below_adj"] <= 0.025 and r["coverage_adj"] >= 0.935


def test_power_scenario_rejects_more_and_person_level_runs():
    r = simulate_cell(0.05, 3, 10, 0.95, sizes="pps", unit="person", reps=30, seed=4)
    assert r["power_new"] > r["size_new"] and r["power_old"] >= r["size_old"]
    assert 0 <= r["rho_mean"] < 0.99


def test_seeded_grid_resumes_from_its_csv(tmp_path):
    grid = {"icc": (0.05,), "villages": (3,), "households": (5,), "p0": (0.9,),
            "sizes": ("equal",), "unit": ("household", "person")}
    path = tmp_path / "grid.csv"
    a = calibration_grid(grid, reps=8, seed=5, path=path, power=False)
    b = calibration_grid(grid, reps=8, seed=5, path=path, power=False)  # read back, not rerun
    assert len(a) == 2 and len(pd.read_csv(path)) == 2
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    # a cell alone gives the same numbers as inside the grid
    one = simulate_cell(0.05, 3, 5, 0.9, unit="person", reps=8, seed=5, power=False)
    assert one["size_new"] == a.loc[a["unit"] == "person", "size_new"].item()
    assert one["width_new"] == pytest.approx(a.loc[a["unit"] == "person", "width_new"].item())
    s = summarise_grid(a)
    assert s.loc[(0.9, 0.05), ("width_ratio", "max")] > 0


def test_goal_checks_and_plots_of_any_methods():
    """Each method named gets its own column of goals, computed from its own columns: two cells,
    one in the size band and one above 6.5 % for ``adj``; widths against the old method's."""
    t = pd.DataFrame({f"{k}_{m}": v for m, vals in {
        "new": {"size": [0.05, 0.03], "coverage": [0.96, 0.97], "upper_below": [0.01, 0.02],
                "width": [0.2, 0.2], "power": [0.6, 0.7]},
        "adj": {"size": [0.05, 0.07], "coverage": [0.95, 0.92], "upper_below": [0.03, 0.01],
                "width": [0.1, 0.1], "power": [0.6, 0.8]},
        "old": {"size": [0.02, 0.02], "coverage": [0.99, 0.99], "upper_below": [0.0, 0.0],
                "width": [0.4, 0.4], "power": [0.3, 0.4]}}.items() for k, v in vals.items()}
        | {"p0": [0.9, 0.98]})
    g = goal_checks(t, methods=("new", "adj", "old"))
    assert g[("value", "adj")]["size_in_band_share"] == 0.5
    assert g[("value", "adj")]["cells_size_above_6.5%"] == 1 and not g[("met", "adj")]["size_max"]
    assert g[("value", "adj")]["coverage_min"] == 0.92
    assert g[("value", "adj")]["upper_below_max"] == 0.03
    assert g[("value", "adj")]["width_ratio_to_old"] == pytest.approx(0.25)
    assert g[("value", "new")]["size_in_band_share"] == 0.5 and g[("met", "new")]["size_max"]
    assert g[("value", "old")]["width_ratio_to_old"] == 1.0
    assert list(goal_checks(t).columns.get_level_values(1).unique()) == ["new", "old"]
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_calibration(t, value="size", x="new", y="adj")
    assert "新方法" in ax.get_xlabel() and "调整方法" in ax.get_ylabel()
    np.testing.assert_allclose(np.concatenate([c.get_offsets()[:, 1] for c in ax.collections
                                               if len(c.get_offsets())]), [0.05, 0.07])


def test_attainable_levels_of_a_tiny_town():
    """15 households at p0 0.98 (binomial): P(bad ≥ 2) = 1 − 0.98¹⁵ − 15·0.02·0.98¹⁴, P(bad ≥ 1)."""
    a = attainable_levels(3, 5, 0.98)
    assert a["below"] == pytest.approx(1 - 0.98**15 - 15 * 0.02 * 0.98**14)
    assert a["above"] == pytest.approx(1 - 0.98**15)
    assert (a["k_below"], a["k_above"]) == (2, 1)
    # clustering spreads the count: the tail at 2 bad households grows
    assert attainable_levels(3, 5, 0.98, icc=0.2)["above"] > a["below"]


@pytest.mark.parametrize("kwargs, match", [
    ({"icc": 1.0}, "icc"), ({"sizes": "huge"}, "sizes"), ({"unit": "village"}, "unit"),
    ({"households": 30, "sizes": "pps"}, "households"), ({"shift": 0.95}, "shift")])
def test_parameter_errors(kwargs, match):
    args = {"icc": 0.05, "villages": 3, "households": 5, "p0": 0.9, "reps": 2} | kwargs
    with pytest.raises(ParameterError, match=match):
        simulate_cell(**args)


# Village effective counts (village_counts of a person-level rate) of one replicate district of
# the grid cell ρ 0.05 × 5 villages × 5 households × p0 0.95 × PPS (seed 20261202, replicate
# 178 of 250): ρ̂ is 0, and the golden-section search ends at ρ ≈ 1.0e-7 — a precision just
# below town_test's binomial switch (1e7) — where the warm-started mean iteration of one town
# (the 8th: four full villages and 3.85 of 4.74) does not converge in 80 (or 400) iterations.
_NONCONVERGENT_Y = [
    4.653846153846154, 4.7407407407407405, 4.366336633663365, 2.8723404255319154,
    3.666666666666666, 2.5384615384615388, 3.367088607594937, 4.333333333333335,
    4.255319148936169, 3.7530864197530858, 1.9626168224299065, 2.537313432835821,
    3.36734693877551, 3.6000000000000005, 4.761904761904761, 4.955056179775281, 3.94736842105263,
    3.6818181818181817, 4.57142857142857, 4.26086956521739, 4.481481481481482, 3.9473684210526305,
    4.0, 3.9308176100628924, 4.313432835820895, 4.7407407407407405, 3.789473684210526,
    3.6464646464646453, 3.5087719298245617, 4.923076923076926, 3.930232558139535,
    4.121951219512195, 3.369426751592357, 4.245283018867926, 4.88135593220339, 5.0,
    3.161290322580646, 4.54639175257732, 4.571428571428571, 3.8518518518518507,
    4.7407407407407405, 4.688311688311687, 4.411764705882352, 4.260869565217392, 4.569620253164557]
_NONCONVERGENT_M = [
    4.653846153846154, 4.7407407407407405, 4.366336633663365, 4.787234042553192,
    4.666666666666666, 4.153846153846154, 4.569620253164557, 4.333333333333335,
    4.255319148936169, 4.4567901234567895, 4.121495327102804, 4.313432835820896,
    4.591836734693877, 4.628571428571429, 4.761904761904761, 4.955056179775281, 3.94736842105263,
    3.6818181818181817, 4.57142857142857, 4.26086956521739, 4.481481481481482, 3.9473684210526305,
    4.0, 3.9308176100628924, 4.313432835820895, 4.7407407407407405, 3.789473684210526,
    3.6464646464646453, 3.5087719298245617, 4.923076923076926, 3.930232558139535,
    4.121951219512195, 3.369426751592357, 4.245283018867926, 4.88135593220339, 5.0,
    3.161290322580646, 4.54639175257732, 4.571428571428571, 4.74074074074074, 4.7407407407407405,
    4.688311688311687, 4.411764705882352, 4.260869565217392, 4.569620253164557]


def test_town_test_converges_when_the_district_rho_is_zero():
    """Found by the grid: the fit ended near ρ = 1e-7, where digamma differences lost precision
    and one town's mean did not converge; the binomial form is now used below ρ = 1e-5."""
    v = pd.DataFrame({"town": np.repeat([f"t{i}" for i in range(9)], 5),
                      "y": _NONCONVERGENT_Y, "m": _NONCONVERGENT_M})
    res = town_test(v, 0.95).to_frame()
    assert res["p_value"].notna().all()


def test_a_district_whose_fit_fails_is_isolated_and_counted(monkeypatch):
    """A ConvergenceError in one replicate district leaves that district out (NaN, counted in
    ``failed``) and every other district's numbers as they are."""
    import importlib

    # the module (``quchi_stats.flags.town_test`` as an attribute is the function): the ρ fit the
    # simulator reaches through rho_batch
    tt = importlib.import_module("quchi_stats.flags.town_test")
    from quchi_stats.flags import ConvergenceError

    sim = _draw(district_frame("equal", towns=3, villages_in_town=6), 0.9, 0.1, 3, 5, False, 6,
                np.random.default_rng(2))
    clean = _new_method(sim, 0.9, 0.95, True)
    per = 3 * 3  # villages per replicate district
    g = sim["good"].sum(-1).reshape(6, per).astype(float)  # household-level: y_v = count
    real = tt.fit_rho_batch

    def failing(y, m, g_, rep, n_reps, **kw):
        chunks = y.reshape(n_reps, per)
        if any(np.array_equal(c, g[4]) for c in chunks):
            raise ConvergenceError("模拟的未收敛")
        return real(y, m, g_, rep, n_reps, **kw)

    monkeypatch.setattr(tt, "fit_rho_batch", failing)
    out = _new_method(sim, 0.9, 0.95, True)
    assert out["failed"] == 1 and clean["failed"] == 0
    assert np.isnan(out["p_value"][4]).all() and np.isnan(out["upper"][4]).all()
    keep = np.arange(6) != 4
    np.testing.assert_allclose(out["p_value"][keep], clean["p_value"][keep], rtol=1e-6)
    np.testing.assert_allclose(out["upper"][keep], clean["upper"][keep], atol=1e-9)
