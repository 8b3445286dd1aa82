"""EstimateResult: a frozen table with Chinese display, and the pieces its intervals come from."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quchi_stats.design import SurveyDesign
from quchi_stats.errors import ParameterError
from quchi_stats.estimation import (
    CI_METHODS,
    EstimateResult,
    estimate_mean,
    estimate_proportion,
    proportion_interval,
)


def _result():
    table = pd.DataFrame({"town": ["马坝镇"], "estimate": [0.95], "se": [0.02],
                          "ci_lower": [0.9], "ci_upper": [0.98], "level": [0.95], "n": [40],
                          "n_eff": [118.75], "df": [3], "deff": [0.34], "cv": [0.021],
                          "method": ["jeffreys"]})
    return EstimateResult("proportion", "satisfied", ("town",), "jeffreys", 0.95, "taylor", table)


def test_to_frame_is_a_copy_and_single_values():
    r = _result()
    f = r.to_frame()
    f.loc[0, "estimate"] = 0
    assert r.estimate == 0.95 and r.ci == (0.9, 0.98)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.method = "wald"  # type: ignore[misc]


def test_chinese_display():
    r = _result()
    text = str(r)
    assert text.startswith("比例估计：satisfied，按乡镇（95% 置信区间，jeffreys，方差 taylor）")
    assert "置信下限" in text and "马坝镇" in text
    html = r._repr_html_()
    assert html.startswith("<p><b>比例估计") and "<table" in html
    assert list(r.to_frame(chinese=True).columns[:3]) == ["乡镇", "估计值", "标准误"]
    assert repr(r) == "<EstimateResult proportion of 'satisfied', 1 domain(s)>"


def _design():
    rng = np.random.default_rng(7)
    rows = 400
    village = rng.integers(0, 24, rows)
    y = (rng.random(rows) < 0.85).astype(float)
    y[rng.random(rows) < 0.05] = np.nan  # missing values: n differs from the domain's rows
    y[village == 3] = 1.0  # a village at p̂ = 1
    df = pd.DataFrame({"town": np.array(list("ABCD"))[village % 4], "village": village,
                       "w": rng.uniform(1, 3, rows), "y": y, "x": rng.normal(5, 1, rows)})
    df.loc[df["town"] == "D", "y"] = 1.0  # a town at p̂ = 1: the boundary rules
    return SurveyDesign(df, strata="town", psu="village", weights="w")


@pytest.mark.parametrize("method", CI_METHODS)
def test_conf_int_reproduces_the_table_and_another_level(method):
    d = _design()
    r = estimate_proportion(d, "y", by="town", method=method)
    table = r.to_frame()
    same = r.conf_int()
    np.testing.assert_array_equal(same["town"], table["town"])
    np.testing.assert_array_equal(same["ci_lower"], table["ci_lower"])
    np.testing.assert_array_equal(same["ci_upper"], table["ci_upper"])
    np.testing.assert_array_equal(r.se, table["se"])
    other = estimate_proportion(d, "y", by="town", method="wilson", level=0.8).to_frame()
    late = r.conf_int(level=0.8, method="wilson")
    np.testing.assert_allclose(late["ci_lower"], other["ci_lower"], rtol=1e-13)
    np.testing.assert_allclose(late["ci_upper"], other["ci_upper"], rtol=1e-13)


def test_n_star_is_the_one_the_interval_used():
    d = _design()
    for method in ("jeffreys", "korn-graubard"):
        r = estimate_proportion(d, "y", by="town", method=method)
        t = r.to_frame()
        ci = proportion_interval(r.p, r.v, np.maximum(r.n, 1), r.df, method=method,
                                 n_design=r.n_design)
        np.testing.assert_array_equal(r.n_star, ci.n_star)
        np.testing.assert_array_equal(r.p, t["estimate"])
        np.testing.assert_array_equal(r.n, t["n"])
        np.testing.assert_array_equal(r.df, t["df"])
    # at p̂ = 1 the Jeffreys interval cannot estimate a design effect and uses n itself
    r = estimate_proportion(d, "y", by="town")
    d_row = r.to_frame()["town"].eq("D").to_numpy()
    assert r.n_star[d_row][0] == r.n[d_row][0]


def test_conf_int_of_a_mean_and_bad_arguments():
    d = _design()
    r = estimate_mean(d, "x", by="town")
    t = r.to_frame()
    np.testing.assert_allclose(r.conf_int()["ci_lower"], t["ci_lower"], rtol=1e-14)
    wide = r.conf_int(level=0.99)
    assert (wide["ci_lower"] < t["ci_lower"]).all() and (wide["ci_upper"] > t["ci_upper"]).all()
    assert r.n_star is None
    with pytest.raises(ParameterError, match="'method' parameter of EstimateResult.conf_int"):
        r.conf_int(method="jeffreys")
    with pytest.raises(ParameterError, match="'level' parameter of EstimateResult.conf_int"):
        estimate_proportion(d, "y").conf_int(level=1.5)


def test_pieces_default_to_the_table_and_are_read_only():
    r = _result()
    assert r.v[0] == pytest.approx(0.02**2) and r.n[0] == 40 and r.df[0] == 3
    assert r.se[0] == pytest.approx(0.02)
    with pytest.raises(ValueError):
        r.v[0] = 1.0
    lo, hi = r.conf_int(method="wald").iloc[0][["ci_lower", "ci_upper"]]
    t = stats.t.ppf(0.975, 3)
    assert (lo, hi) == pytest.approx((0.95 - t * 0.02, min(0.95 + t * 0.02, 1.0)))
