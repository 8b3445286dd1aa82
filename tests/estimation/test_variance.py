"""Variance engines: jackknife against R's replicate designs; the second-stage term by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.estimation import (
    estimate_mean,
    estimate_ratio,
    estimate_total,
    jackknife_variance,
    taylor_variance,
)
from tests.estimation.conftest import assert_r


def test_jackknife_equals_r_replicate_designs(api, r_values):
    # as.svrepdesign(dclus1 without fpc, type = "JK1")
    row = estimate_mean(api["dclus1_wr"], "api00", variance="jackknife").to_frame().iloc[0]
    assert_r(row["se"], r_values[("jackknife JK1 api00 dclus1", "se")], "JK1 mean")
    row = estimate_total(api["dclus1_wr"], "enroll", variance="jackknife").to_frame().iloc[0]
    assert_r(row["se"], r_values[("jackknife JK1 total dclus1", "se")], "JK1 total")
    # as.svrepdesign(stratified, type = "JKn")
    row = estimate_mean(api["dstrat_wr"], "api00", variance="jackknife").to_frame().iloc[0]
    assert_r(row["se"], r_values[("jackknife JKn api00 dstrat", "se")], "JKn mean")
    row = estimate_ratio(api["dstrat_wr"], "api.stu", "enroll",
                         variance="jackknife").to_frame().iloc[0]
    assert_r(row["se"], r_values[("jackknife JKn ratio dstrat", "se")], "JKn ratio")


def test_jackknife_equals_taylor_for_a_total_with_replacement(api):
    """For a linear statistic the JKn replicates average to the estimate in every stratum and the
    jackknife variance is the with-replacement linearisation variance exactly."""
    for name in ("dclus1_wr", "dstrat_wr"):
        t = estimate_total(api[name], "enroll").to_frame().iloc[0]["se"]
        j = estimate_total(api[name], "enroll", variance="jackknife").to_frame().iloc[0]["se"]
        assert j == pytest.approx(t, rel=1e-10)


def _toy() -> SurveyDesign:
    df = pd.DataFrame({
        "h": [1, 1, 1, 1, 2, 2, 2, 2],
        "psu": [1, 1, 2, 2, 3, 3, 4, 4],
        "ssu": [1, 2, 1, 2, 1, 2, 1, 2],
        "N1": [5, 5, 5, 5, 4, 4, 4, 4],
        "N2": [10, 10, 6, 6, 8, 8, 2, 2],
        "y": [1.0, 3.0, 2.0, 2.0, 5.0, 1.0, 4.0, 6.0],
    })
    return SurveyDesign(df, strata="h", psu="psu", ssu="ssu", fpc="N1", fpc2="N2")


def test_two_stage_variance_of_a_total_by_hand():
    d = _toy()
    w = d.w
    z = w * d.data["y"].to_numpy()
    v = taylor_variance(d, z)[0]
    # stage 1: per stratum (1 - n/N) n/(n-1) sum (t_i - tbar)^2 over PSU totals
    expected = 0.0
    for h, N1 in ((1, 5), (2, 4)):
        rows = d.data["h"] == h
        totals = pd.Series(z[rows.to_numpy()]).groupby(d.data.loc[rows, "psu"].to_numpy()).sum()
        n = len(totals)
        expected += (1 - n / N1) * n / (n - 1) * ((totals - totals.mean()) ** 2).sum()
        # stage 2, weighted by the first-stage fraction n/N
        for _psu, sub in d.data[rows].groupby("psu"):
            zz = z[sub.index.to_numpy()]
            m, M = len(zz), sub["N2"].iloc[0]
            expected += (n / N1) * (1 - m / M) * m / (m - 1) * ((zz - zz.mean()) ** 2).sum()
    assert v == pytest.approx(expected)


def test_take_all_second_stage_contributes_nothing():
    d = _toy()
    z = d.w * d.data["y"].to_numpy()
    only_psu4 = np.where(d.data["psu"] == 4, z, 0.0)
    # PSU 4 took all its 2 units (N2 = 2): only the first stage remains for its values
    d1 = SurveyDesign(d.data, strata="h", psu="psu", fpc="N1")
    assert taylor_variance(d, only_psu4)[0] == pytest.approx(taylor_variance(d1, only_psu4)[0])


def test_jackknife_of_a_total_equals_its_closed_form():
    d = SurveyDesign(pd.DataFrame({"h": [1, 1, 1, 2, 2], "p": [1, 2, 3, 4, 5],
                                   "y": [1.0, 4.0, 2.0, 3.0, 7.0]}), strata="h", psu="p")
    y = d.data["y"].to_numpy()
    v = jackknife_variance(d, y, None)[0]
    # R's JKn (mse = FALSE) centres on the mean of all replicates; for a total:
    reps, scales = [], []
    total = y.sum()
    for idx in ([0, 1, 2], [3, 4]):
        n = len(idx)
        for j in idx:
            rest = [k for k in idx if k != j]
            reps.append(total - y[idx].sum() + n / (n - 1) * y[rest].sum())
            scales.append((n - 1) / n)
    reps = np.array(reps)
    assert v == pytest.approx(float(np.sum(np.array(scales) * (reps - reps.mean()) ** 2)))
