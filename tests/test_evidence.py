"""The flags and watch sentences are written from the findings tables (evidence.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quchi_stats.assessment import DISTRICT
from quchi_stats.evidence import CONSEQUENCES, FLAG_COLUMNS, WATCH_COLUMNS, flag_table, watch_table
from quchi_stats.findings import Findings, target_findings, threshold_findings, watch_findings
from quchi_stats.spec import load_spec

SPEC = load_spec(2018)


def _threshold() -> pd.DataFrame:
    est = pd.DataFrame({
        "indicator": "satisfaction_rate", "town": ["甲", "乙", "丙", DISTRICT],
        "estimate": [0.80, 0.86, 0.95, 0.88], "ci_lower": [0.74, 0.80, 0.91, 0.85],
        "ci_upper": [0.86, 0.91, 0.98, 0.91], "p_value": [0.001, 0.03, 0.9, np.nan],
        "p_adjusted": [0.003, 0.09, 1.0, np.nan], "n": [60, 60, 60, 180],
        "df": [4.0, 4.0, 4.0, 14.0], "threshold": 0.9, "power": [0.7, 0.4, 0.7, np.nan]})
    return threshold_findings(est, SPEC, DISTRICT)


def test_a_flag_per_flagging_finding_with_its_numbers():
    targets = target_findings(pd.DataFrame({
        "town": ["乙"], "planned_exit_households": [10], "planned_exit_persons": [30],
        "exit_households": [8], "exit_persons": [24], "verified_households": [7.5],
        "verified_households_lower": [7.0], "verified_households_upper": [8.0],
        "registered_short": [True], "verified_short": [False]}))
    flags = flag_table(Findings(threshold=_threshold(), targets=targets), SPEC, ["乙", "甲", "丙"])
    assert list(flags.columns) == FLAG_COLUMNS
    # towns in the given order; the compliant 丙 and the not-significant 乙 rate are no flag
    assert list(zip(flags["town"], flags["article"], strict=True)) == [
        ("乙", "第七条（一）"), ("甲", "第七条（四）")]
    four = flags.iloc[1]
    assert four["item"] == "群众认可度"
    assert "80.0%" in four["evidence"] and "P = 0.003" in four["evidence"]
    assert "60 户、5 个村" in four["evidence"]
    assert four["consequence"] == CONSEQUENCES["第七条（四）"]
    assert "计划脱贫 10 户 30 人" in flags.iloc[0]["evidence"]


def test_no_flag_without_a_flagging_finding():
    flags = flag_table(Findings(), SPEC, [])
    assert flags.empty and list(flags.columns) == FLAG_COLUMNS


def test_watch_sentences_from_watch_findings():
    threshold = _threshold()
    w = watch_findings(threshold, {}, pd.DataFrame(), SPEC)
    table = watch_table(Findings(threshold=threshold, watch=w), SPEC)
    assert list(table.columns) == WATCH_COLUMNS
    assert table["town"].tolist() == ["乙"]
    assert "未校正单侧 P = 0.030" in table.loc[0, "evidence"]
    assert "把握度仅 40%" in table.loc[0, "evidence"]
