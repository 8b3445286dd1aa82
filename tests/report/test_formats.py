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
    for name, t in report_tables(assessment_2018_shared).items():
        for c in t.columns:
            if t[c].dtype.kind in "iuf" or str(t[c].dtype) in ("Int64", "Float64"):
                assert c in KINDS, (name, c)
    assert kind("校正后P值") == P_VALUE and shown(0.0004, "校正后P值") == "< 0.001"
    assert kind("不认识的列", pd.Series([1, 2])) == "count"


def test_shown_is_what_the_excel_format_shows():
    assert shown(0.96114337894174, "估计值") == "96.1%" and EXCEL_FORMATS[RATE] == "0.0%"
    assert shown(0.0004, "P值") == "< 0.001" and shown(0.0298, "P值") == "0.030"
    assert shown(0.032, "变化") == "+3.2%" and shown(-0.029, "变化置信下限") == "-2.9%"
    assert shown(12345, "样本户数") == "12,345" and shown(109.27, "核实退出户数") == "109.3"
    assert shown(2018, "年度") == "2018"
    for missing in (None, math.nan, math.inf, -math.inf, pd.NA):
        assert shown(missing, "估计值") == "—"
    assert shown(np.True_, "高于上限") == "是" and shown(False, "标记") == "否"
    assert shown("达标", "判定") == "达标"


def test_excel_format_by_name_then_dtype():
    assert excel_format("校正后P值", pd.Series([0.5])) == EXCEL_FORMATS[P_VALUE]
    assert excel_format("新列", pd.Series([1, 2])) == EXCEL_FORMATS[COUNT]
    assert excel_format("新列", pd.Series([1.5])) == EXCEL_FORMATS[DECIMAL]
    assert excel_format("新列", pd.Series(["a"])) is None
    assert excel_format("标记", pd.Series([True])) is None  # booleans are written 是/否
