"""Multiplicity (R p.adjust oracles), classes, and power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from quchi_stats.errors import ParameterError
from quchi_stats.flags import adjust_pvalues, adjust_rows, classify, threshold_power

P = [.001, .008, .039, .041, .042, .060, .074, .205, .212]


def test_holm_and_bh_match_r_p_adjust():
    # METHODS.md: R p.adjust(p, "holm") and p.adjust(p, "BH")
    np.testing.assert_allclose(adjust_pvalues(P, "holm"),
                               [.009, .064, .273, .273, .273, .273, .273, .41, .41], atol=1e-12)
    np.testing.assert_allclose(adjust_pvalues(P, "bh"),
                               [.009, .036, .0756, .0756, .0756, .09, .0951429, .212, .212],
                               atol=1e-7)
    # p.adjust(P, "hochberg"): min over j >= i of (m − j + 1) p_(j), by hand from R's formula
    np.testing.assert_allclose(adjust_pvalues(P, "hochberg"),
                               [.009, .064, .21, .21, .21, .212, .212, .212, .212], atol=1e-12)
    out = adjust_pvalues([0.01, np.nan, 0.04], "holm")
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02)


def test_classes_never_flag_on_a_point_estimate():
    cls = classify([0.80, 0.85, 0.99], [0.9, 0.9, 0.9], [0.01, 0.2, 0.9], 0.05)
    assert cls.tolist() == ["significant", "below", "compliant"]  # Verdict codes


def test_power_by_exact_binomial_and_monotone():
    n = 60
    x = np.arange(n + 1)
    c = np.flatnonzero(stats.beta.sf(0.95, x + 0.5, n - x + 0.5) < 0.05).max()
    assert threshold_power(n, 0.95, 0.85, 0.05)[0] == pytest.approx(stats.binom.cdf(c, n, 0.85))
    powers = threshold_power([20, 60, 200], 0.95, 0.85, 0.05)
    assert powers[0] < powers[1] < powers[2]
    assert threshold_power(5, 0.98, 0.93, 0.05 / 72)[0] < 0.05  # five households: hopeless
    assert threshold_power(60, 0.95, 0.85, 0.05).shape == (1,)


@pytest.mark.parametrize("method", ["holm", "hochberg", "bh", "none"])
def test_adjust_rows_against_statsmodels_row_by_row(method):
    """Each row as statsmodels' multipletests adjusts it (NaNs left out of the family); a wider
    family counts the tests not given with p = 1."""
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.2, size=(12, 12)) ** 2  # statsmodels runs gc.collect on every call: few rows
    p[rng.random(p.shape) < 0.1] = np.nan
    p[0] = [0.9, 0.95] + [np.nan] * 10  # large p-values beside many NaNs
    sm = {"holm": "holm", "hochberg": "simes-hochberg", "bh": "fdr_bh"}

    def reference(row: np.ndarray) -> np.ndarray:
        out = np.full(row.shape, np.nan)
        ok = np.isfinite(row)
        out[ok] = row[ok] if method == "none" else multipletests(row[ok], method=sm[method])[1]
        return out

    got = adjust_rows(p, method)
    for row, out in zip(p, got, strict=True):
        np.testing.assert_allclose(out, reference(row), rtol=1e-12)
        np.testing.assert_allclose(adjust_pvalues(row, method), out, rtol=1e-12)
    wider = adjust_rows(p, method, m=20)
    for row, out in zip(p, wider, strict=True):
        np.testing.assert_allclose(out, reference(np.concatenate((row, np.ones(8))))[:12],
                                   rtol=1e-12)
    with pytest.raises(ParameterError, match="'m' parameter of adjust_rows"):
        adjust_rows(p, method, m=3)
    assert adjust_pvalues([], method).size == 0


def test_bh_on_a_family_without_any_p_value_is_all_nan_without_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = adjust_rows(np.array([[np.nan, np.nan], [0.01, np.nan]]), "bh")
    assert np.isnan(out[0]).all()
    assert out[1, 0] == pytest.approx(0.01) and np.isnan(out[1, 1])
