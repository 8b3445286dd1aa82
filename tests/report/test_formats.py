"""The registry of how the report shows numbers (report/formats.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from quchi_stats.report import report_tables
from quchi_stats.report.formats import (
    COUNT,
    DECIMAL,
    EXCEL_FORMATS,
    KINDS,
    P_VALUE,
    RATE,
    excel_format,
    kind,
    shown,
)


def test_every_number_of_the_report_has_a_registered_kind(assessment_2018_shared):
    """The registry names every numeric column the report writes (none is left to the dtype)."""
    for name, t in report_tables(assessment_2018_shared).items():  # by canonical columns
        for c in t.columns:
            if t[c].dtype.kind in "iuf" or str(t[c].dtype) in ("Int64", "Float64"):
                assert c in KINDS, (name, c)
    assert kind("p_adjusted") == P_VALUE and shown(0.0004, "p_adjusted") == "< 0.001"
    assert kind("unknown", pd.Series([1, 2])) == "count"


def test_kinds_are_by_canonical_column_never_by_header():
    """The registry names canonical columns only (a header is given last, labels.py); a column of
    another kind in one table says so there (the yearly change's interval)."""
    from quchi_stats.report.formats import RATE_CHANGE, TABLE_KINDS

    assert all(name.isascii() for name in KINDS)
    assert all(name.isascii() for kinds in TABLE_KINDS.values() for name in kinds)
    assert kind("估计值") is None  # a header is not a column name here
    assert kind("ci_lower") == RATE and kind("ci_lower", table="changes") == RATE_CHANGE
    assert shown(-0.029, "ci_lower", "changes") == "-2.9%" and shown(-0.029, "ci_lower") == "-2.9%"
    assert shown(0.029, "ci_lower", "changes") == "+2.9%" and shown(0.029, "ci_lower") == "2.9%"


def test_shown_is_what_the_excel_format_shows():
    assert shown(0.96114337894174, "estimate") == "96.1%" and EXCEL_FORMATS[RATE] == "0.0%"
    assert shown(0.0004, "p_value") == "< 0.001" and shown(0.0298, "p_value") == "0.030"
    assert shown(0.032, "change") == "+3.2%" and shown(-0.029, "ci_lower", "changes") == "-2.9%"
    assert shown(12345, "n") == "12,345" and shown(109.27, "verified_households") == "109.3"
    assert shown(2018, "year") == "2018"
    for missing in (None, math.nan, math.inf, -math.inf, pd.NA):
        assert shown(missing, "estimate") == "—"
    assert shown(np.True_, "above_upper") == "是" and shown(False, "flag") == "否"
    assert shown("达标", "class") == "达标"


def test_excel_format_by_name_then_dtype():
    assert excel_format("p_adjusted", pd.Series([0.5])) == EXCEL_FORMATS[P_VALUE]
    assert excel_format("new", pd.Series([1, 2])) == EXCEL_FORMATS[COUNT]
    assert excel_format("new", pd.Series([1.5])) == EXCEL_FORMATS[DECIMAL]
    assert excel_format("new", pd.Series(["a"])) is None
    assert excel_format("flag", pd.Series([True])) is None  # booleans are written 是/否
