"""Sample sizes against METHODS.md's oracles and exact binomial checks."""

from __future__ import annotations

import pytest
from scipy import stats

from quchi_stats.errors import ParameterError
from quchi_stats.sampling import (
    expected_margin,
    lqas_design,
    lqas_rule,
    sample_size_margin,
    sample_size_threshold,
)


def test_margin_wald_and_wilson_oracles():
    # METHODS.md: p = .95, e = .05 -> n_eff 82.9 (Wilson) vs 73 (Wald)
    assert sample_size_margin(0.95, 0.05, method="wald").n_eff == pytest.approx(72.99, abs=0.01)
    res = sample_size_margin(0.95, 0.05)
    assert res.n_eff == pytest.approx(82.9, abs=0.05)
    assert res.n == 83
    assert expected_margin(0.95, res.n_eff) == pytest.approx(0.05, abs=1e-9)


def test_margin_design_effect_and_fpc():
    res = sample_size_margin(0.95, 0.05, method="wald", deff=2.0, population=200)
    n_design = 2 * 1.959963984540054**2 * 0.95 * 0.05 / 0.05**2
    assert res.n_design == pytest.approx(n_design)
    assert res.n == int(-(-(n_design / (1 + (n_design - 1) / 200)) // 1))


def test_threshold_normal_oracle():
    # METHODS.md: .95 vs .85, alpha .05, power .8 -> 43.4
    assert sample_size_threshold(0.95, 0.85, method="normal").n_real == pytest.approx(43.43, abs=0.01)


def test_threshold_exact_oracle_and_its_rule():
    # METHODS.md: exact SRS n = 52 rejecting if X <= 46
    r = sample_size_threshold(0.95, 0.85)
    assert (r.n, r.critical) == (52, 46)
    assert stats.binom.cdf(46, 52, 0.95) <= 0.05
    assert stats.binom.cdf(46, 52, 0.85) >= 0.8
    assert r.alpha == pytest.approx(stats.binom.cdf(46, 52, 0.95))
    # and no smaller n works
    for n in range(1, 52):
        c = int(stats.binom.ppf(0.05, n, 0.95))
        while c >= 0 and stats.binom.cdf(c, n, 0.95) > 0.05:
            c -= 1
        assert c < 0 or stats.binom.cdf(c, n, 0.85) < 0.8


def test_lqas_textbook_rule():
    # Valadez (1991): n = 19, 80 % / 50 % -> d = 13, alpha .068, beta .084
    r = lqas_rule(19, 0.80, 0.50)
    assert r.d == 13
    assert r.alpha == pytest.approx(0.068, abs=5e-4)
    assert r.beta == pytest.approx(0.084, abs=5e-4)


@pytest.mark.parametrize(("pu", "pl", "n", "d"), [(0.95, 0.85, 60, 55), (0.98, 0.90, 52, 50)])
def test_lqas_design_for_high_thresholds(pu, pl, n, d):
    r = lqas_design(pu, pl)
    assert (r.n, r.d) == (n, d)
    assert r.alpha <= 0.10 and r.beta <= 0.10
    assert lqas_design(pu, pl, population=2000).n >= n - 2  # hypergeometric: a little smaller


def test_lqas_finite_lot_uses_hypergeometric():
    r = lqas_rule(19, 0.8, 0.5, population=40)
    assert r.alpha == pytest.approx(stats.hypergeom.cdf(r.d - 1, 40, 32, 19))


def test_errors():
    with pytest.raises(ParameterError, match="'margin' parameter of sample_size_margin"):
        sample_size_margin(0.9, 1.5)
    with pytest.raises(ParameterError, match="'p1' parameter of sample_size_threshold"):
        sample_size_threshold(0.85, 0.95)
    with pytest.raises(ParameterError, match="No LQAS rule with n=5"):
        lqas_rule(5, 0.95, 0.85)
    with pytest.raises(ParameterError, match="'level' parameter"):
        expected_margin(0.9, 50, level=1.5)
