"""Beta-binomial empirical Bayes: the between-town level, its boundary, and the shrinkage."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quchi_stats.flags import (
    BETWEEN_BOUNDARY,
    BETWEEN_ESTIMATED,
    fit_beta_binomial,
    fit_between_towns,
    shrink,
    shrink_villages,
)
from quchi_stats.flags import betabinomial as bb

from .test_betabinomial import simulate_villages


def test_fit_recovers_a_known_prior():
    rng = np.random.default_rng(3)
    p = rng.beta(40, 4, size=400)
    n = np.full(400, 50)
    x = rng.binomial(n, p)
    a, b = fit_beta_binomial(x, n)
    assert a / (a + b) == pytest.approx(40 / 44, abs=0.01)
    assert a + b == pytest.approx(44, rel=0.35)


def test_fit_maximises_its_criterion():
    x, n = np.array([48.0, 45, 50, 40, 47]), np.array([50.0, 50, 50, 50, 50])
    f = fit_between_towns(x, n)
    assert f.status == BETWEEN_ESTIMATED

    def crit(mu, rho):
        ll = bb.beta_binomial_loglik(x, n, mu, rho).sum()
        return ll - 0.5 * np.log(np.sum(n / (1 + (n - 1) * rho)))  # Cox–Reid, one mean

    best = crit(f.mu, f.rho_between)
    for dm, dr in ((1.002, 1), (0.998, 1), (1, 1.1), (1, 0.9)):
        assert crit(min(f.mu * dm, 1.0), f.rho_between * dr) <= best + 1e-9


def test_posterior_and_probability_below():
    t = pd.DataFrame({"town": list("ABCD"), "estimate": [0.98, 0.70, 1.0, 0.95],
                      "n_star": [50.0, 50, 10, 50]})
    out = shrink(t, 0.9).set_index("town")
    assert (out["between_status"] == BETWEEN_ESTIMATED).all()
    a, b = out.attrs["prior"]
    x = 0.7 * 50
    assert out.loc["B", "prob_below"] == pytest.approx(stats.beta.cdf(0.9, a + x, b + 50 - x))
    assert out.loc["B", "eb_lower"] == pytest.approx(stats.beta.ppf(0.025, a + x, b + 50 - x))
    assert out.loc["B", "prob_below"] > out.loc["A", "prob_below"]
    assert out.loc["C", "eb_estimate"] < 1.0  # shrunk towards the others


def test_equal_towns_are_at_the_boundary_and_say_so():
    """All towns alike: no between-town variance; the table gives the district level and no
    (degenerate) interval or probability — not nine identical intervals."""
    t = pd.DataFrame({"town": [f"t{i}" for i in range(9)], "estimate": 0.967,
                      "n_star": np.linspace(30, 90, 9)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shrink(t, 0.98)
    assert (out["between_status"] == BETWEEN_BOUNDARY).all()
    assert np.allclose(out["eb_estimate"], 0.967)
    assert out[["eb_lower", "eb_upper", "prob_below"]].isna().all().all()
    assert out.attrs["between"].rho_between == 0.0
    assert out.attrs["between"].prior == (np.inf, np.inf)


def test_real_differences_shrink_towards_the_mean_monotone_in_n():
    rng = np.random.default_rng(8)
    p = rng.beta(18, 2, size=9)  # true town rates around 0.9, between-town ICC 0.05
    n = np.array([20.0, 30, 40, 60, 80, 100, 150, 200, 300])
    est = rng.binomial(n.astype(int), p) / n
    out = shrink(pd.DataFrame({"town": list("ABCDEFGHI"), "estimate": est, "n_star": n}), 0.9)
    assert (out["between_status"] == BETWEEN_ESTIMATED).all()
    mu = out.attrs["between"].mu
    eb = out["eb_estimate"].to_numpy()
    assert np.ptp(eb) > 0.02  # informative: the towns differ
    # each estimate lies between the town's own rate and the district level
    assert np.all((eb - est) * (eb - mu) <= 1e-12)
    # the weight of a town's own data grows with its effective sample size
    assert np.all(np.diff(out["own_weight"].to_numpy()) > 0)
    # same observed rate, more households: less shrinkage
    two = pd.DataFrame({"town": ["small", "large", *"ABCDEFG"],
                        "estimate": [0.8, 0.8, *est[:7]], "n_star": [20.0, 200, *n[:7]]})
    s2 = shrink(two, 0.9).set_index("town")
    assert abs(s2.loc["large", "eb_estimate"] - 0.8) < abs(s2.loc["small", "eb_estimate"] - 0.8)
    assert (s2.loc["large", "eb_upper"] - s2.loc["large", "eb_lower"]
            < s2.loc["small", "eb_upper"] - s2.loc["small", "eb_lower"])


def test_town_at_one_everywhere_and_huge_precision_give_no_warning():
    v = pd.DataFrame({"town": np.repeat(list("ABCD"), 3), "village": list("abcdefghijkl"),
                      "households": 10, "m": 10.0,
                      "y": [10.0] * 3 + [9, 8, 10] + [7, 9, 8] + [10, 9, 9]})
    v["p_hat"] = v["y"] / v["m"]
    v["share"] = 1 / 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shrink_villages(v, 0.95).set_index("town")
        flat = shrink_villages(v.assign(y=10.0, p_hat=1.0), 0.95)
    assert out.loc["A", "estimate"] == 1.0
    assert out["eb_estimate"].notna().all()
    if out["between_status"].iloc[0] == BETWEEN_ESTIMATED:
        assert out.loc["A", "eb_estimate"] < 1.0
    # every village at 1: ICC and between-town variance at 0, the district level is 1
    assert (flat["between_status"] == BETWEEN_BOUNDARY).all()
    assert np.allclose(flat["eb_estimate"], 1.0) and (flat["icc"] == 0).all()


def test_homogeneous_district_has_no_icc_and_no_between_town_variance():
    """Nine towns × five villages, every village 9 of 10: ρ̂ = 0 (huge homogeneity) and the
    between-town variance at its boundary — the "not identifiable" code, the district level."""
    v = pd.DataFrame({"town": np.repeat([f"t{i}" for i in range(9)], 5),
                      "village": [f"v{i}" for i in range(45)], "households": 10, "m": 10.0,
                      "y": 9.0, "p_hat": 0.9, "share": 0.2})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shrink_villages(v, 0.95)
    assert (out["icc"] == 0).all() and (out["icc_lower"] == 0).all()
    assert (out["between_status"] == BETWEEN_BOUNDARY).all()
    np.testing.assert_allclose(out["eb_estimate"], 0.9)
    np.testing.assert_allclose(out["n_star"], 50.0)  # no clustering: every household counts
    assert out["prob_below"].isna().all()


def _district(seed: int) -> pd.DataFrame:
    """test_betabinomial's simulated village counts (9 towns × 5 villages × 10 households, ρ 0.1,
    p 0.9) with the columns the shrinkage reads: equal shares, so the town rate is the mean."""
    v = simulate_villages(np.random.default_rng(seed), 0.1, 0.9)
    return v.assign(village=[f"v{i}" for i in range(len(v))], households=10,
                    p_hat=v["y"] / v["m"], share=1 / 5)


def test_shrinkage_takes_the_town_tests_icc():
    """The sheet's ICC and effective counts are those of the town test of the same method: the
    pooled one-way ANOVA estimate (checked against the balanced formula (MSB − MSW) / (MSB +
    (m − 1) MSW), written out here) for the adjusted test, the Cox–Reid fit for the plain one.
    (With equal villages the design-based rate's effective count equals the test's.)"""
    from quchi_stats.flags.town_test import town_test

    v = _district(11)
    adjusted = shrink_villages(v, 0.9, method="beta-binomial-adjusted")
    test = town_test(v, 0.9, method="beta-binomial-adjusted")
    m, k, n_v = 10.0, 9, 5
    p_v = v["y"].to_numpy() / m
    p_h = np.repeat(p_v.reshape(k, n_v).mean(axis=1), n_v)
    msb = np.sum(m * (p_v - p_h) ** 2) / (k * (n_v - 1))
    msw = np.sum(m * p_v * (1 - p_v)) / (k * n_v * (m - 1))
    by_hand = (msb - msw) / (msb + (m - 1) * msw)
    assert by_hand > 0.02  # a real contrast, so the check is not at the truncation
    assert adjusted["icc"].iloc[0] == pytest.approx(by_hand, rel=1e-12)
    assert test.rho == pytest.approx(by_hand, rel=1e-12)
    n_test = test.to_frame().set_index("town")["n_icc"]
    np.testing.assert_allclose(adjusted.set_index("town")["n_star"], n_test.loc[adjusted["town"]],
                               rtol=1e-12)
    assert adjusted["icc_lower"].isna().all()  # no likelihood interval for a moment estimate
    plain = shrink_villages(v, 0.9)
    assert plain["icc"].iloc[0] == pytest.approx(bb.fit_village_icc(v).rho, rel=1e-12)
    assert plain["icc"].iloc[0] != pytest.approx(by_hand, rel=1e-3)
    assert (plain["icc_lower"] <= plain["icc"]).all()
    with pytest.raises(ValueError, match="'method' parameter of shrink_villages"):
        shrink_villages(v, 0.9, method="anova")
