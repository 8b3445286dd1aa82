"""Beta-binomial empirical Bayes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from quchi_stats.flags import fit_beta_binomial, shrink


def test_fit_recovers_a_known_prior():
    rng = np.random.default_rng(3)
    p = rng.beta(40, 4, size=400)
    n = np.full(400, 50)
    x = rng.binomial(n, p)
    a, b = fit_beta_binomial(x, n)
    assert a / (a + b) == pytest.approx(40 / 44, abs=0.01)
    assert a + b == pytest.approx(44, rel=0.35)


def test_fit_is_the_maximum_likelihood():
    x, n = np.array([48.0, 45, 50, 40, 47]), np.array([50.0, 50, 50, 50, 50])
    a, b = fit_beta_binomial(x, n)

    def ll(a, b):
        return np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b))

    best = ll(a, b)
    for da, db in ((1.05, 1), (0.95, 1), (1, 1.05), (1, 0.95)):
        assert ll(a * da, b * db) <= best + 1e-9


def test_posterior_and_probability_below():
    t = pd.DataFrame({"town": list("ABC"), "estimate": [0.98, 0.80, 1.0],
                      "n_star": [50.0, 50, 10]})
    out = shrink(t, 0.9).set_index("town")
    a, b = out.attrs["prior"]
    x = 0.8 * 50
    assert out.loc["B", "prob_below"] == pytest.approx(stats.beta.cdf(0.9, a + x, b + 50 - x))
    assert out.loc["B", "prob_below"] > out.loc["A", "prob_below"]
    assert out.loc["C", "eb_estimate"] < 1.0  # shrunk towards the others
