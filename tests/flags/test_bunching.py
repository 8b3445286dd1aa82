"""Bunching test: size under no bunching, power under bunching, the village share test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.errors import ParameterError
from quchi_stats.flags import bunching_test, village_share_test


def _smooth(rng, n):
    # exit incomes: a smooth density rising from the line, as in the synthetic data
    return 7000 * rng.gamma(2.0, 0.12, n)


def test_false_positive_rate_is_near_nominal():
    rng = np.random.default_rng(11)
    pv = [bunching_test(_smooth(rng, 80), n_boot=199, rng=rng).p_value for _ in range(150)]
    rate = np.mean(np.array(pv) < 0.05)
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 150)  # 10.3 %


def test_bunching_is_detected():
    rng = np.random.default_rng(12)
    hits = 0
    for _ in range(40):
        r = np.r_[_smooth(rng, 60), rng.uniform(0, 250, 15)]
        res = bunching_test(r, n_boot=199, rng=rng)
        hits += res.p_value < 0.05
        assert res.observed >= 15
    assert hits >= 36
    assert res.excess > 0 and res.excess_ratio > 2
    assert list(res.bins.columns) == ["lower", "upper", "count", "counterfactual", "window"]


def test_window_must_fit_the_bins():
    with pytest.raises(ParameterError, match="multiple of 'bin_width'"):
        bunching_test(np.zeros(10), window=200, bin_width=125, rng=np.random.default_rng(0))


def test_village_share_test_finds_the_heaped_village():
    rng = np.random.default_rng(5)
    rows = [{"town": "甲", "village": f"v{v}", "relative_income": x}
            for v in range(8) for x in _smooth(rng, 20)]
    rows += [{"town": "甲", "village": "v8", "relative_income": x}
             for x in np.r_[rng.uniform(0, 250, 8), _smooth(rng, 4)]]
    rows += [{"town": "甲", "village": "tiny", "relative_income": 10.0}]
    out = village_share_test(pd.DataFrame(rows)).set_index("village")
    assert out.loc["v8", "p_adjusted"] < 0.001
    assert (out.drop(["v8", "tiny"])["p_adjusted"] > 0.05).all()
    assert np.isnan(out.loc["tiny", "p_value"])  # fewer than min_exits: not tested
