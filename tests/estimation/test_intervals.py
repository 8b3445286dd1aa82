"""Interval methods: METHODS.md oracles, statsmodels under SRS, and properties near p = 1."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from quchi_stats.errors import ParameterError
from quchi_stats.estimation import CI_METHODS, one_sided_pvalue, proportion_interval


def test_korn_graubard_oracles_r_beta():
    # METHODS.md: (0.95, SE 0.02, n 60, df 5) -> n* 71.955 [0.871371, 0.987461]
    r = proportion_interval(0.95, 0.02**2, 60, 5, method="korn-graubard")
    assert r.n_star[0] == pytest.approx(71.955, abs=1e-3)
    assert r.lower[0] == pytest.approx(0.871371, abs=1e-6)
    assert r.upper[0] == pytest.approx(0.987461, abs=1e-6)
    # (0.98, SE 0.012, n 200, df 9) -> n* 103.429 [0.930880, 0.997438]
    r = proportion_interval(0.98, 0.012**2, 200, 9, method="korn-graubard")
    assert r.n_star[0] == pytest.approx(103.429, abs=1e-3)
    assert r.lower[0] == pytest.approx(0.930880, abs=1e-6)
    assert r.upper[0] == pytest.approx(0.997438, abs=1e-6)


def test_korn_graubard_at_p_hat_one_follows_nchs():
    # Ward (2019) kg_nchs: p = 1, n = 100, df = 5 -> n* = 59.58, CI (0.9400, 1)
    r = proportion_interval(1.0, 0.0, 100, 5, method="korn-graubard")
    assert r.n_star[0] == pytest.approx(59.58, abs=0.01)
    assert r.lower[0] == pytest.approx(0.9400, abs=1e-4) and r.upper[0] == 1.0


def test_jeffreys_truncated_effective_n():
    # n* = min(n, n_eff (z/t_df)^2): (0.95, SE 0.02, n 60, df 5): n_eff 118.75 * 0.5811 = 69.0 -> 60
    r = proportion_interval(0.95, 0.02**2, 60, 5)
    assert r.n_star[0] == 60
    # with a large design effect the truncation does not bind
    r = proportion_interval(0.95, 0.04**2, 60, 5)
    z, t = 1.959963984540054, 2.570581835636314
    assert r.n_star[0] == pytest.approx(0.95 * 0.05 / 0.04**2 * (z / t) ** 2)


def test_jeffreys_boundary_modification():
    r = proportion_interval([1.0, 0.0], [0.0, 0.0], [40, 40], [3, 3])
    assert r.lower[0] == pytest.approx(0.025 ** (1 / 40)) and r.upper[0] == 1.0
    assert r.lower[1] == 0.0 and r.upper[1] == pytest.approx(1 - 0.025 ** (1 / 40))


@pytest.mark.parametrize(("ours", "theirs"), [
    ("clopper-pearson", "beta"), ("jeffreys", "jeffreys"), ("wilson", "wilson"),
    ("agresti-coull", "agresti_coull"), ("wald", "normal")])
@pytest.mark.parametrize(("x", "n"), [(1, 10), (27, 30), (55, 60), (118, 120), (3, 400)])
def test_srs_equals_statsmodels(ours, theirs, x, n):
    """Simple random sampling: v = p(1-p)/n and infinite df make every method the textbook one."""
    p = x / n
    r = proportion_interval(p, p * (1 - p) / n, n, 10**9, method=ours)
    lo, hi = proportion_confint(x, n, alpha=0.05, method=theirs)
    assert r.lower[0] == pytest.approx(max(lo, 0.0), abs=1e-7)
    assert r.upper[0] == pytest.approx(min(hi, 1.0), abs=1e-7)


def test_logit_and_asin_formulas():
    p, se, df = 0.9, 0.03, 4
    t = 2.7764451051977987
    r = proportion_interval(p, se**2, 50, df, method="logit")
    lp = np.log(p / (1 - p))
    assert r.lower[0] == pytest.approx(1 / (1 + np.exp(-(lp - t * se / (p * (1 - p))))))
    r = proportion_interval(p, se**2, 50, df, method="asin")
    ne = p * (1 - p) / se**2
    assert r.upper[0] == pytest.approx(np.sin(np.arcsin(np.sqrt(p)) + t / (2 * np.sqrt(ne))) ** 2)


@settings(max_examples=300, deadline=None)
@given(p=st.floats(0, 1), se=st.floats(0, 0.3), n=st.integers(2, 500), df=st.integers(0, 60))
def test_jeffreys_is_always_defined_and_not_degenerate(p, se, n, df):
    r = proportion_interval(p, se**2, n, df)
    assert np.isfinite(r.lower[0]) and np.isfinite(r.upper[0])
    assert 0 <= r.lower[0] < r.upper[0] <= 1
    assert r.lower[0] <= p + 1e-12 and p - 1e-12 <= r.upper[0]


def test_other_methods_degenerate_at_one_as_the_anchors_do():
    """R's logit/Wald collapse to [1, 1] at p_hat = 1; ours does not (the reason for the default)."""
    for method in ("logit", "wald"):
        r = proportion_interval(1.0, 0.0, 30, 2, method=method)
        assert r.lower[0] == r.upper[0] == 1.0
    r = proportion_interval(1.0, 0.0, 30, 2)
    assert r.upper[0] - r.lower[0] > 0.1


def test_one_sided_pvalue_oracles():
    # METHODS.md: (p 0.90, n* 60, p0 0.95) -> 0.0787 (Clopper-Pearson type) / 0.0492 (Jeffreys)
    v = 0.9 * 0.1 / 60
    assert one_sided_pvalue(0.9, v, 60, 10**9, 0.95, method="clopper-pearson")[0] == pytest.approx(
        0.0787, abs=5e-5)
    assert one_sided_pvalue(0.9, v, 60, 10**9, 0.95)[0] == pytest.approx(0.0492, abs=5e-5)
    # equals the binomial CDF for integer counts
    from scipy import stats
    assert one_sided_pvalue(0.9, v, 60, 10**9, 0.95, method="clopper-pearson")[0] == pytest.approx(
        stats.binom.cdf(54, 60, 0.95))


def test_one_sided_pvalue_is_one_at_p_hat_one_and_consistent_with_the_interval():
    for method in CI_METHODS:
        assert one_sided_pvalue(1.0, 0.0, 50, 4, 0.9, method=method)[0] == 1.0
    # beta-type methods: p < alpha/2 exactly when p0 is above the upper bound of the 1-alpha CI
    rng = np.random.default_rng(3)
    p = rng.uniform(0.7, 0.99, 200)
    v = p * (1 - p) / rng.uniform(20, 200, 200) * rng.uniform(1, 3, 200)
    n = np.full(200, 150)
    df = rng.integers(2, 20, 200)
    for method in ("jeffreys", "korn-graubard", "clopper-pearson", "wald", "logit"):
        ci = proportion_interval(p, v, n, df, method=method, level=0.95)
        for p0 in (0.9, 0.95):
            pv = one_sided_pvalue(p, v, n, df, p0, method=method)
            assert np.array_equal(pv < 0.025, ci.upper < p0), method


def test_errors():
    with pytest.raises(ParameterError, match="'method' parameter of proportion_interval"):
        proportion_interval(0.5, 0.01, 10, 2, method="bayes")
    with pytest.raises(ParameterError, match="'level' parameter"):
        proportion_interval(0.5, 0.01, 10, 2, level=95)
    with pytest.raises(ParameterError, match="must lie in"):
        proportion_interval(1.5, 0.01, 10, 2)
    with pytest.raises(ParameterError, match="'p0' parameter"):
        one_sided_pvalue(0.5, 0.01, 10, 2, 1.0)
