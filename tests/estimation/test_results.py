"""EstimateResult: a frozen table with Chinese display."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from quchi_stats.estimation import EstimateResult


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
