"""Multiplicity (R p.adjust oracles), classes, and power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quchi_stats.flags import adjust_pvalues, classify, threshold_power

P = [.001, .008, .039, .041, .042, .060, .074, .205, .212]


def test_holm_and_bh_match_r_p_adjust():
    # METHODS.md: R p.adjust(p, "holm") and p.adjust(p, "BH")
    np.testing.assert_allclose(adjust_pvalues(P, "holm"),
                               [.009, .064, .273, .273, .273, .273, .273, .41, .41], atol=1e-12)
    np.testing.assert_allclose(adjust_pvalues(P, "bh"),
                               [.009, .036, .0756, .0756, .0756, .09, .0951429, .212, .212],
                               atol=1e-7)
    out = adjust_pvalues([0.01, np.nan, 0.04], "holm")
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02)


def test_classes_never_flag_on_a_point_estimate():
    cls = classify([0.80, 0.85, 0.99], [0.9, 0.9, 0.9], [0.01, 0.2, 0.9], 0.05)
    assert cls.tolist() == ["显著偏低", "低于标准但不显著", "达标"]


def test_power_by_exact_binomial_and_monotone():
    n = 60
    x = np.arange(n + 1)
    c = np.flatnonzero(stats.beta.sf(0.95, x + 0.5, n - x + 0.5) < 0.05).max()
    assert threshold_power(n, 0.95, 0.85, 0.05)[0] == pytest.approx(stats.binom.cdf(c, n, 0.85))
    powers = threshold_power([20, 60, 200], 0.95, 0.85, 0.05)
    assert powers[0] < powers[1] < powers[2]
    assert threshold_power(5, 0.98, 0.93, 0.05 / 72)[0] < 0.05  # five households: hopeless
    assert threshold_power(60, 0.95, 0.85, 0.05).shape == (1,)
