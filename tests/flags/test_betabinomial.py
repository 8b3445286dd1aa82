"""The beta-binomial model of towns and villages: likelihood, district ICC, one-sided test."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from quchi_stats.datasets import load_fieldwork
from quchi_stats.errors import DataError
from quchi_stats.estimation import estimate_proportion, fieldwork_design
from quchi_stats.flags import (
    ConvergenceError,
    below_test,
    fit_village_icc,
    shrink_villages,
    town_effective_n,
    village_counts,
)
from quchi_stats.flags import betabinomial as bb


def simulate_villages(rng, rho, p, towns=9, villages=5, households=10) -> pd.DataFrame:
    """Village counts from Beta(p, rho) village rates and binomial households."""
    p = np.broadcast_to(np.asarray(p, float), (towns,))
    if rho > 0:
        s = (1 - rho) / rho
        pv = rng.beta(p[:, None] * s, (1 - p[:, None]) * s, size=(towns, villages))
    else:
        pv = np.broadcast_to(p[:, None], (towns, villages))
    y = rng.binomial(households, pv)
    return pd.DataFrame({"town": np.repeat([f"t{i}" for i in range(towns)], villages),
                         "y": y.ravel().astype(float), "m": float(households)})


def test_loglik_is_scipys_beta_binomial_without_the_coefficient():
    y, m = np.array([0.0, 3, 10, 7]), np.array([10.0, 10, 10, 12])
    for p, rho in ((0.9, 0.05), (0.3, 0.5), (0.98, 0.001)):
        s = (1 - rho) / rho
        ref = stats.betabinom.logpmf(y, m, p * s, (1 - p) * s) - (
            special.gammaln(m + 1) - special.gammaln(y + 1) - special.gammaln(m - y + 1))
        np.testing.assert_allclose(bb.beta_binomial_loglik(y, m, p, rho), ref, rtol=1e-10)


def test_loglik_is_stable_near_the_binomial_limit_and_at_the_edges():
    y, m = np.array([9.0, 10, 8.5]), np.array([10.0, 10, 9.7])  # effective counts too
    binom = special.xlogy(y, 0.95) + special.xlog1py(m - y, -0.95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for rho in (1e-3, 1e-5, 1e-8, 1e-12, 1e-300):
            ll = bb.beta_binomial_loglik(y, m, 0.95, rho)
            assert np.all(np.isfinite(ll))
            np.testing.assert_allclose(ll, binom, atol=50 * rho * m.max() ** 2 + 1e-9)
        # the Stirling branch joins the direct one smoothly
        a = np.array([bb._STIRLING_FROM * 0.999, bb._STIRLING_FROM * 1.001])
        direct = special.gammaln(a + 7.5) - special.gammaln(a)
        np.testing.assert_allclose(bb._log_rising(a, np.full(2, 7.5)), direct, rtol=1e-11)
        # p = 1 with every count full: probability one; p = 1 with a failure: impossible
        assert bb.beta_binomial_loglik([10.0], [10.0], 1.0, 0.2)[0] == 0.0
        assert bb.beta_binomial_loglik([9.0], [10.0], 1.0, 0.2)[0] == -np.inf
        assert bb.beta_binomial_loglik([0.0], [10.0], 0.0, 0.0)[0] == 0.0


def test_profiled_means_are_the_maximum_likelihood():
    rng = np.random.default_rng(5)
    v = simulate_villages(rng, 0.1, [0.9, 0.6, 0.97, 0.99], towns=4, villages=4)
    v.loc[v["town"] == "t3", "y"] = 10.0  # a town with p̂ = 1 in every village
    y, m, g, towns = bb._codes(v)
    for rho in (0.0, 0.02, 0.3, 0.9):
        p, f = bb._profile_means(y, m, g, len(towns), rho)
        for j in range(len(towns)):
            sel = g == j
            res = optimize.minimize_scalar(
                lambda q, sel=sel, rho=rho: -bb.beta_binomial_loglik(y[sel], m[sel], q, rho).sum(),
                bounds=(1e-9, 1 - 1e-12), method="bounded", options={"xatol": 1e-10})
            assert f[j] >= -res.fun - 1e-7
            assert p[j] == pytest.approx(res.x, abs=1e-4)
        assert p[3] == 1.0 and f[3] == 0.0


def test_district_icc_is_recovered_with_a_valid_interval():
    rng = np.random.default_rng(11)
    v = simulate_villages(rng, 0.10, rng.uniform(0.75, 0.95, 40), towns=40, villages=8,
                          households=20)
    f = fit_village_icc(v)
    assert f.rho == pytest.approx(0.10, abs=0.04)
    assert f.rho_lower < f.rho < f.rho_upper
    # the interval's ends are where the criterion has fallen by χ²₁(0.95)/2
    y, m, g, towns = bb._codes(v)
    for end in (f.rho_lower, f.rho_upper):
        drop = f.loglik - bb._criterion(y, m, g, len(towns), end, True)
        assert drop == pytest.approx(stats.chi2.ppf(0.95, 1) / 2, abs=1e-3)
    assert f.lr_overdispersion > 10
    t = f.to_frame()
    assert list(t["town"]) == [f"t{i}" for i in range(40)]
    assert (t["villages"] == 8).all() and np.allclose(t["m"], 160)


def test_binomial_data_give_an_icc_at_zero():
    rng = np.random.default_rng(12)
    v = simulate_villages(rng, 0.0, 0.9, towns=9, villages=5, households=10)
    f = fit_village_icc(v)
    assert f.rho_lower == 0.0 and f.rho < f.rho_upper < 0.2  # 0 is inside the interval
    # identical villages: no sign of clustering at all (huge homogeneity)
    same = pd.DataFrame({"town": np.repeat(list("ABC"), 4), "y": 9.0, "m": 10.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = fit_village_icc(same)
    assert g.rho == 0.0 and g.rho_lower == 0.0 and g.lr_overdispersion == 0.0


def test_homogeneity_check_sees_towns_with_different_iccs():
    rng = np.random.default_rng(13)
    common = pd.concat([simulate_villages(rng, 0.15, 0.8, towns=10, villages=8, households=15)])
    mixed = pd.concat([
        simulate_villages(rng, 0.0, 0.8, towns=5, villages=8, households=15),
        simulate_villages(rng, 0.6, 0.8, towns=5, villages=8, households=15).assign(
            town=lambda d: d["town"] + "x")])
    fc, fm = fit_village_icc(common), fit_village_icc(mixed)
    assert fm.homogeneity_df == 9
    assert fm.homogeneity_p < 0.001 < fc.homogeneity_p
    own = fm.towns.set_index("town")["rho_town"]
    assert own[[t for t in own.index if t.endswith("x")]].min() > own[
        [t for t in own.index if not t.endswith("x")]].max()


def test_below_test_matches_its_definitions():
    v = pd.DataFrame({"town": ["甲"] * 3 + ["乙"] * 3, "y": [7.0, 8, 6, 10, 10, 9],
                      "m": [10.0, 10, 10, 10, 10, 10]})
    rho, p0 = 0.05, 0.9
    t = below_test(v, p0, rho=rho).to_frame().set_index("town")
    y, m = np.array([7.0, 8, 6]), np.full(3, 10.0)
    c = 1 + (m - 1) * rho
    z = np.sum((y - m * p0) / c) / np.sqrt(p0 * (1 - p0) * np.sum(m / c))
    assert t.loc["甲", "score_z"] == pytest.approx(z)
    res = optimize.minimize_scalar(lambda q: -bb.beta_binomial_loglik(y, m, q, rho).sum(),
                                   bounds=(0.01, 0.999), method="bounded",
                                   options={"xatol": 1e-10})
    lr = 2 * (-res.fun - bb.beta_binomial_loglik(y, m, p0, rho).sum())
    assert t.loc["甲", "lr_z"] == pytest.approx(-np.sqrt(lr), rel=1e-6)
    assert t.loc["甲", "lr_p"] == pytest.approx(stats.norm.cdf(-np.sqrt(lr)), rel=1e-6)
    assert t.loc["乙", "lr_z"] > 0 and t.loc["乙", "lr_p"] > 0.5
    # a town with every village at p̂ = 1 is never below
    v2 = v.assign(y=np.where(v["town"] == "乙", 10.0, v["y"]))
    assert below_test(v2, p0).to_frame().set_index("town").loc["乙", "lr_p"] > 0.5


def test_below_test_is_calibrated_at_the_boundary():
    """Size at p = p0 within 4 Monte Carlo SE of 5 % (9 towns × 5 villages × 10 households,
    ρ = 0.05, p0 = 0.9, 400 seeded districts); the binomial test that ignores the villages is
    outside that band on the same data, so the check can fail."""
    rng = np.random.default_rng(20261202)
    reps, p0, rho = 400, 0.9, 0.05
    lr, naive, power = [], [], []
    for _ in range(reps):
        v = simulate_villages(rng, rho, p0)
        fit = fit_village_icc(v, interval=False, homogeneity=False)
        lr.append(below_test(v, p0, rho=fit.rho).to_frame()["lr_p"].to_numpy() < 0.05)
        naive.append(below_test(v, p0, rho=0.0).to_frame()["lr_p"].to_numpy() < 0.05)
    for _ in range(100):
        v = simulate_villages(rng, rho, p0 - 0.10)
        fit = fit_village_icc(v, interval=False, homogeneity=False)
        power.append(below_test(v, p0, rho=fit.rho).to_frame()["lr_p"].to_numpy() < 0.05)
    n_tests = reps * 9
    size, size_naive = np.mean(lr), np.mean(naive)
    se = np.sqrt(0.05 * 0.95 / n_tests)
    assert abs(size - 0.05) < 4 * se, size
    assert size_naive > 0.05 + 4 * se, size_naive
    assert np.mean(power) > 0.4


def test_village_counts_reproduce_the_design_based_town_rates():
    sample, results = load_fieldwork(2018)
    for frames, col, size in ((["registered"], "identified_correctly", "household_size"),
                              (["registered", "exited"], "satisfied", None)):
        d = fieldwork_design(sample, results, frames=frames, lonely_psu="certainty")
        vc = village_counts(d.data, col, weight=d.weights, size=size)
        assert (vc["y"] <= vc["m"] + 1e-9).all() and (vc["m"] <= vc["households"] + 1e-9).all()
        towns = town_effective_n(vc, 0.05).set_index("town")
        est = estimate_proportion(d, col, by="town", denominator=size).to_frame().set_index("town")
        np.testing.assert_allclose(towns.loc[est.index, "estimate"], est["estimate"], atol=1e-12)
        # more clustering, less information; no clustering: Kish's size of the town
        assert (town_effective_n(vc, 0.2)["n_icc"].to_numpy() < towns["n_icc"].to_numpy()).all()
    # household-level rate, equal weights within a village: plain counts of households
    d = fieldwork_design(sample, results, frames="registered", lonely_psu="certainty")
    vc = village_counts(d.data, "identified_correctly", weight=d.weights)
    np.testing.assert_allclose(vc["m"], vc["households"])
    np.testing.assert_allclose(vc["y"], np.round(vc["y"]), atol=1e-9)


def test_bad_village_tables_are_refused():
    with pytest.raises(DataError):
        fit_village_icc(pd.DataFrame({"town": ["甲"], "y": [11.0], "m": [10.0]}))
    with pytest.raises(DataError):
        village_counts(pd.DataFrame({"town": ["甲"], "village": ["a"], "y": [2.0]}), "y")


def test_a_failed_fit_is_reported_not_hidden(monkeypatch):
    class Failed:
        success, fun, x, message = False, np.nan, 0.1, "maxiter"

    monkeypatch.setattr(bb.optimize, "minimize_scalar", lambda *a, **k: Failed())
    v = pd.DataFrame({"town": ["甲"] * 3 + ["乙"] * 3, "village": list("abcdef"),
                      "households": 10, "y": [7.0, 8, 6, 10, 10, 9], "m": 10.0,
                      "p_hat": [0.7, 0.8, 0.6, 1, 1, 0.9], "share": 1 / 3})
    with pytest.raises(ConvergenceError):
        fit_village_icc(v)
    out = shrink_villages(v, 0.9)
    assert (out["between_status"] == "fit_failed").all() and out["eb_estimate"].isna().all()
