"""The inverse-normal combination: critical value, overall p-values, level under H0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.errors import ParameterError
from quchi_stats.followup import combine_followup, critical_value, inverse_normal, overall_pvalue
from quchi_stats.spec import FollowupRule, load_spec

A1, A0, W1 = 0.002, 0.3, 0.6


def test_critical_value_limits_and_errors():
    # no early rejection and no futility stop: the one-stage normal quantile
    assert critical_value(0.05, 1e-15, 1.0, 0.6) == pytest.approx(1.644854, abs=1e-5)
    c = critical_value(0.05, A1, A0, W1)
    # a futility stop gives back level, so the follow-up bar is lower than z_0.95
    assert c < 1.6449
    assert critical_value(0.05, 0.01, A0, W1) > c  # more spent at phase 1: higher bar after
    with pytest.raises(ParameterError, match="alpha"):
        critical_value(0.4, A1, A0, W1)


def test_level_of_the_combination_by_simulation():
    """Independent uniform p1, p2 (H0 at the boundary): P(overall p ≤ u) = u for every u, and
    'p1 ≤ α1 or Z ≥ c' has level α. 400,000 draws: SE ≤ 0.00035, tolerance 4 SE."""
    rng = np.random.default_rng(20261202)
    n = 400_000
    p1, p2 = rng.random(n), rng.random(n)
    po = overall_pvalue(p1, p2, A1, A0, W1)
    for u in (0.001, 0.005, 0.0056, 0.01, 0.05, 0.2, 0.5):
        se = np.sqrt(u * (1 - u) / n)
        assert abs(np.mean(po <= u) - u) <= 4 * se, u
    c = critical_value(0.05, A1, A0, W1)
    cont = (p1 > A1) & (p1 <= A0)
    reject = (p1 <= A1) | (cont & (inverse_normal(p1, p2, W1) >= c))
    assert np.array_equal(reject, po <= 0.05 + 1e-12) or np.mean(reject != (po <= 0.05)) < 1e-4
    assert abs(reject.mean() - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / n)


def test_overall_pvalue_pieces():
    p = overall_pvalue([0.001, 0.5, 0.1, 0.1], [np.nan, 0.01, np.nan, 1e-12], A1, A0, W1)
    assert p[0] == 0.001 and p[1] == 0.5  # phase 1 decided
    assert p[2] == pytest.approx(A0)  # screened but no follow-up: p2 = 1
    assert A1 < p[3] < 0.01  # a strong follow-up


def test_combine_followup_table():
    spec = load_spec(2018)
    rule = FollowupRule(indicators=("satisfaction_rate",), alpha_stop=A1, alpha_futility=A0,
                        weight_phase1=W1)
    towns = ["甲", "乙", "丙", "丁"]
    est = pd.DataFrame({"indicator": "satisfaction_rate", "town": [*towns, "全区"],
                        "estimate": [0.8, 0.85, 0.95, 0.86, 0.9], "threshold": 0.9,
                        "p_value": [0.0005, 0.03, 0.6, 0.2, 0.1]})
    p2 = pd.DataFrame({"indicator": "satisfaction_rate", "town": ["乙", "丁"],
                       "p_value": [0.0005, 0.7]})
    out = combine_followup(est, p2, rule, spec=spec).set_index("town")
    assert list(out.index) == towns
    assert out.loc["甲", "stage"] == "phase1" and out.loc["丙", "stage"] == "futility"
    assert out.loc["乙", "stage"] == "combined"
    assert out.loc["乙", "z"] == pytest.approx(inverse_normal(0.03, 0.0005, W1))
    assert bool(out.loc["甲", "flag"]) and bool(out.loc["乙", "flag"])
    assert not out.loc["丙", "flag"] and not out.loc["丁", "flag"]
    # a town whose villages were all visited in phase 1 is decided on phase 1 alone
    ex = combine_followup(est, p2, rule, spec=spec, exhausted=["乙"]).set_index("town")
    assert ex.loc["乙", "p_overall"] == 0.03 and ex.loc["乙", "stage"] == "exhausted"
    # Holm on the overall p-values within the indicator's family
    holm = np.sort(out["p_overall"].to_numpy())[0] * 4
    assert out["p_adjusted"].min() == pytest.approx(holm)
