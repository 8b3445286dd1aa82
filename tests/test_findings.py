"""Each article's findings table, on small hand-built inputs: numbers and codes, no sentence.

The bundled years' tables (documented columns and dtypes, verdicts consistent with the estimates'
class words and with the flags) are checked at the end on the session's assessments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.assessment import DISTRICT
from quchi_stats.findings import (
    FINDINGS_COLUMNS,
    Findings,
    bunching_findings,
    empty_findings,
    history_findings,
    self_report_findings,
    target_findings,
    threshold_findings,
    watch_findings,
)
from quchi_stats.labels import FLAG_VERDICTS, Article, Verdict
from quchi_stats.spec import load_spec

SPEC = load_spec(2018)  # alpha 0.05


def _has_core_columns(table: pd.DataFrame) -> None:
    assert list(table.columns[:len(FINDINGS_COLUMNS)]) == list(FINDINGS_COLUMNS)
    for col, dtype in FINDINGS_COLUMNS.items():
        assert str(table[col].dtype) == dtype, col


def _estimates() -> pd.DataFrame:
    """Three towns of one indicator and the district row: 甲 significantly below, 乙 below but not
    significantly, 丙 above the standard."""
    return pd.DataFrame({
        "indicator": "satisfaction_rate", "town": ["甲", "乙", "丙", DISTRICT],
        "estimate": [0.80, 0.86, 0.95, 0.88], "ci_lower": [0.74, 0.80, 0.91, 0.85],
        "ci_upper": [0.86, 0.91, 0.98, 0.91], "p_value": [0.001, 0.03, 0.9, np.nan],
        "p_adjusted": [0.003, 0.09, 1.0, np.nan], "n": [60, 60, 60, 180],
        "df": [4.0, 4.0, 4.0, 14.0], "threshold": 0.9, "power": [0.7, 0.7, 0.7, np.nan],
    })


def test_threshold_codes_a_town_below_and_not_a_compliant_one():
    f = threshold_findings(_estimates(), SPEC, DISTRICT)
    _has_core_columns(f)
    assert DISTRICT not in set(f["town"])
    verdict = dict(zip(f["town"], f["class"], strict=True))
    assert verdict == {"甲": "significant", "乙": "below", "丙": "compliant"}
    assert (f["article"] == Article.THRESHOLD).all()
    assert f["villages"].tolist() == [5, 5, 5]  # df + 1
    assert f["upper_one_sided"].isna().all()  # no beta-binomial column in the input


def test_threshold_verdict_follows_the_adjusted_p_value_not_the_estimate():
    e = _estimates()
    e.loc[0, "p_adjusted"] = 0.2  # 甲 no longer significant after adjustment
    f = threshold_findings(e, SPEC, DISTRICT)
    assert f.loc[f["town"] == "甲", "class"].item() == Verdict.BELOW


def test_targets_code_registered_then_verified_shortfall():
    t = pd.DataFrame({
        "town": ["甲", "乙", "丙"], "planned_exit_households": [10, 10, 10],
        "planned_exit_persons": [30, 30, 30], "exit_households": [8, 12, 12],
        "exit_persons": [24, 36, 36], "verified_households": [7.5, 9.0, 11.8],
        "verified_households_lower": [7.0, 8.5, 11.5], "verified_households_upper": [8.0, 9.5, 12.0],
        "registered_short": [True, False, False], "verified_short": [False, True, False],
    })
    f = target_findings(t)
    _has_core_columns(f)
    assert f["class"].tolist() == ["registered_short", "verified_short", "target_met"]
    assert f["estimate"].tolist() == [7.5, 9.0, 11.8]
    assert target_findings(pd.DataFrame()).empty


def test_bunching_codes_towns_and_the_villages_where_it_sits():
    b = pd.DataFrame({"town": ["甲", "乙"], "exits": [40, 30], "in_window": [15, 3],
                      "expected": [4.0, 3.2], "excess": [11.0, -0.2], "excess_ratio": [3.75, 0.94],
                      "p_value": [0.001, 0.6], "p_adjusted": [0.002, 0.6]})
    v = pd.DataFrame({"town": ["甲", "甲", "乙"], "village": ["一村", "二村", "三村"],
                      "p_value": [0.001, 0.5, 0.9], "p_adjusted": [0.003, 0.5, 0.9]})
    f = bunching_findings(b, v, SPEC)
    _has_core_columns(f)
    assert f["class"].tolist() == ["bunched", "not_bunched", "concentrated_village"]
    assert f["village"].tolist()[2] == "一村"
    assert f["n"].tolist()[:2] == [40, 30]


def test_self_report_codes_a_report_above_the_interval():
    s = pd.DataFrame({"indicator": "satisfaction_rate", "town": ["甲", "乙"],
                      "reported_good": [0.99, 0.93], "estimate": [0.85, 0.92],
                      "ci_lower": [0.8, 0.88], "ci_upper": [0.9, 0.95],
                      "p_value": [0.0001, 0.4], "p_adjusted": [0.0002, 0.4]})
    f = self_report_findings(s, SPEC)
    _has_core_columns(f)
    assert f["class"].tolist() == ["above_interval", "consistent"]


def test_watch_takes_low_towns_with_a_reason_and_clustered_villages():
    e = _estimates()
    e.loc[1, "p_value"] = 0.2  # 乙: below, no unadjusted evidence ...
    e = pd.concat([e, e.iloc[[1]].assign(town="丁", p_value=0.01)], ignore_index=True)
    threshold = threshold_findings(e, SPEC, DISTRICT)
    # ... but below its funnel's 99.8 % limit; 丁 below with unadjusted p < alpha
    funnel = {"satisfaction_rate": pd.DataFrame({"town": ["乙", "丁"], "estimate": [0.86, 0.86],
                                                 "lower998": [0.87, 0.80]})}
    clusters = pd.DataFrame({"town": ["丙", "丙"], "village": ["五村", "六村"],
                             "indicator": "missed_rate", "assessed": [10, 10], "cases": [4, 0],
                             "reference_rate": [0.02, 0.05], "p_value": [1e-4, 1.0],
                             "p_adjusted": [4e-4, 1.0]})
    w = watch_findings(threshold, funnel, clusters, SPEC)
    _has_core_columns(w)
    # towns in their order of first appearance: the low rows', then the clusters'
    assert list(zip(w["town"], w["class"], strict=True)) == [
        ("乙", "watch_low"), ("丁", "watch_low"), ("丙", "watch_cluster")]
    assert w["below_funnel"].tolist() == [True, False, False]
    assert w["unadjusted"].tolist() == [False, True, False]
    assert w.loc[2, "estimate"] == pytest.approx(0.4) and w.loc[2, "village"] == "五村"
    # neither a significant town (a flag) nor a compliant one is watched
    assert not {"甲", DISTRICT} & set(w["town"])
    empty = watch_findings(threshold.iloc[:0], {}, pd.DataFrame(), SPEC)
    _has_core_columns(empty)
    assert empty.empty


def test_history_codes_the_change():
    c = pd.DataFrame({"indicator": "satisfaction_rate", "town": ["甲", "乙", "丙"],
                      "label": "群众认可度", "previous": [0.8, 0.9, 0.9],
                      "current": [0.9, 0.8, 0.91], "change": [0.1, -0.1, 0.01],
                      "ci_lower": [0.02, -0.2, -0.03], "ci_upper": [0.18, -0.01, 0.05]})
    f = history_findings(c)
    _has_core_columns(f)
    assert f["class"].tolist() == ["increase", "decrease", "no_change"]


def test_findings_flags_are_the_flag_verdicts():
    f = Findings(threshold=threshold_findings(_estimates(), SPEC, DISTRICT))
    flags = f.flags()
    assert flags["town"].tolist() == ["甲"]
    assert set(flags["class"]) <= {v.value for v in FLAG_VERDICTS}
    _has_core_columns(f.table())
    _has_core_columns(empty_findings())


# -- the bundled years ------------------------------------------------------------------------
@pytest.mark.parametrize("year", [2016, 2017, 2018])
def test_assessment_findings_tables(bundled_assessments, year):
    a = bundled_assessments[year]
    f = a.findings
    for name in ("targets", "bunching", "threshold", "self_report", "watch", "history"):
        table = getattr(f, name)
        if len(table):
            _has_core_columns(table)
    assert (year == 2018) == (len(f.history) > 0)  # the trend only for 2018
    # the estimates' class codes are the threshold verdicts
    towns = a.estimates[a.estimates["town"] != DISTRICT]
    merged = towns.merge(f.threshold[["indicator", "town", "class"]], on=["indicator", "town"],
                         suffixes=("", "_finding"))
    assert len(merged) == len(towns)
    assert (merged["class_finding"] == merged["class"]).all()
    # one flag row per flagging finding (7.3's concentrated villages are not flags)
    assert len(f.flags()) == len(a.flags)
    assert len(f.watch) == len(a.watch)
