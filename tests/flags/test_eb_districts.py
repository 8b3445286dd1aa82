"""The empirical-Bayes table on whole districts: informative, or honest about why not, and never a
numeric RuntimeWarning (the bundled years, a census of villages, a town at 100 % everywhere)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from quchi_stats.assessment import run_assessment
from quchi_stats.datasets import write_district
from quchi_stats.flags import BETWEEN_BOUNDARY, BETWEEN_ESTIMATED
from quchi_stats.report.build import EB_STATUS_ZH, build_html, eb_status, report_tables
from quchi_stats.spec import load_spec

SENTENCE = "镇间差异不显著，收缩估计等于全区水平"


def _assess(year: int, data=None, spec=None):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return run_assessment(year, data, history=False, spec=spec)


def _check_table(a) -> dict[str, str]:
    """Every indicator's EB rows are either informative or marked; returns the statuses."""
    statuses = {}
    for name, t in a.shrinkage.groupby("indicator"):
        status = t["between_status"].iloc[0]
        assert (t["between_status"] == status).all()
        statuses[name] = status
        assert t["icc"].between(0, 0.99).all() and t["icc"].nunique() == 1
        if status == BETWEEN_ESTIMATED:
            assert t["eb_estimate"].nunique() == len(t)  # no identical rows
            assert t[["eb_lower", "eb_upper", "prob_below"]].notna().all().all()
            assert (t["eb_lower"] < t["eb_upper"]).all()
        else:
            assert status == BETWEEN_BOUNDARY
            assert t["eb_estimate"].nunique() == 1
            assert t[["eb_lower", "eb_upper", "prob_below"]].isna().all().all()
    sheet = report_tables(a)["shrinkage"]
    assert set(sheet["between_status"]) <= {eb_status(c, a.spec.county) for c in EB_STATUS_ZH}
    return statuses


@pytest.mark.parametrize("year", [2016, 2017, 2018])
def test_bundled_years(year, bundled_assessments):
    # 2016 with the spec's funnel overdispersion on: the funnel uses the district-ICC sizes
    # (without the power column, which the option does not touch: the session's 2016 run has it);
    # 2017 and 2018 as shipped: the session's runs, made with RuntimeWarnings as errors too
    if year == 2016:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            a = run_assessment(year, history=False, power=False,
                               spec=replace(load_spec(year), funnel_overdispersion=True))
    else:
        a = bundled_assessments[year]
    statuses = _check_table(a)
    assert len(statuses) == 8
    for name, f in a.funnel.items():
        assert f.attrs["overdispersion"] == ("icc" if year == 2016 else "none")
        if year == 2016:
            eb = a.shrinkage[a.shrinkage["indicator"] == name].set_index("town")["n_star"]
            np.testing.assert_allclose(f.set_index("town")["n_funnel"], eb[f["town"]])
    if year >= 2017:  # the injected low satisfaction: a real between-town difference
        assert statuses["satisfaction_rate"] == BETWEEN_ESTIMATED
        t = a.shrinkage[a.shrinkage["indicator"] == "satisfaction_rate"].set_index("town")
        assert t["prob_below"].idxmax() == "沙溪镇" and t.loc["沙溪镇", "prob_below"] > 0.95
        # each shrunken estimate lies between the town's rate and the district level
        mu = t["district_level"]
        assert ((t["eb_estimate"] - t["estimate"]) * (t["eb_estimate"] - mu) <= 1e-12).all()


def _html_says(html: str, a) -> None:
    boundary = [n for n, s in _check_table(a).items() if s == BETWEEN_BOUNDARY]
    assert html.count(SENTENCE) == len(boundary)
    assert "RuntimeWarning" not in html and "invalid value" not in html


def test_census_of_villages(tmp_path):
    """Every village sampled (certainty PSUs, π = 1) on a small synthetic district."""
    write_district(tmp_path, scale=0.05, plan_overrides={
        "villages_total": 90, "village_allocation": "proportional"})
    sample = pd.read_csv(tmp_path / "sample_2018" / "sample.csv", encoding="utf-8-sig")
    assert sample["certainty_village"].all() and np.allclose(sample["pi_village"], 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the small district's counted repairs
        a = _assess(2018, tmp_path)
        assert a.overview["sampled_villages"] == a.overview["villages"] == 90
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            html = build_html(a, synthetic=True)
    _html_says(html, a)


def test_town_at_one_everywhere(tmp_path):
    from tests.conftest import single_phase_copy

    data = single_phase_copy(tmp_path / "data")  # the phase-1 results are edited
    res = pd.read_csv(data / "results_2018.csv", encoding="utf-8-sig", dtype=str)
    sample = pd.read_csv(data / "sample_2018" / "sample.csv", encoding="utf-8-sig", dtype=str)
    town = "小坑镇"
    mine = res["户编号"].isin(sample.loc[sample["town"] == town, "household_id"])
    for col, good in (("识别准确", "是"), ("退出准确", "是"), ("漏评", "否"), ("满意度", "满意"),
                      ("吃穿不愁", "是"), ("义务教育保障", "是"), ("基本医疗保障", "是"),
                      ("住房安全保障", "是")):
        res.loc[mine & res[col].notna(), col] = good
    res.to_csv(data / "results_2018.csv", index=False, encoding="utf-8-sig")
    a = _assess(2018, data)
    est = a.estimates[a.estimates["town"] == town]
    assert np.allclose(est["estimate"], 1.0)
    rows = a.shrinkage[a.shrinkage["town"] == town]
    assert np.allclose(rows["estimate"], 1.0)
    for _, r in rows.iterrows():  # shrunk below 1 where towns differ, the district level if not
        assert r["eb_estimate"] < 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        html = build_html(a, synthetic=True)
    _html_says(html, a)
