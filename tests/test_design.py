"""SurveyDesign: validated once, frozen, clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.errors import DataError, ParameterError


def _df():
    return pd.DataFrame({"town": ["甲", "甲", "甲", "乙", "乙", "乙"],
                         "village": ["a", "a", "b", "c", "d", "d"],
                         "w": [2.0, 2, 3, 1, 1, 1], "N": [5, 5, 5, 4, 4, 4],
                         "M": [10, 10, 8, 3, 6, 6], "hh": [1, 2, 3, 4, 5, 6]})


def test_counts_and_df():
    d = SurveyDesign(_df(), strata="town", psu="village", weights="w")
    assert (d.n, d.n_strata, d.n_psu, d.df) == (6, 2, 4, 2)
    assert d.domain_df(np.array([True, True, True, False, False, False])) == 1
    assert d.domain_df(np.zeros(6, bool)) == 0
    assert "with replacement" in repr(d)


def test_frozen():
    d = SurveyDesign(_df(), strata="town", psu="village", weights="w")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.weights = "x"  # type: ignore[misc]


def test_weights_from_fpc_when_not_given():
    d = SurveyDesign(_df(), strata="town", psu="village", fpc="N", ssu="hh", fpc2="M",
                     lonely_psu="remove")
    # 甲: 2 of 5 villages; village a: 2 of 10 households -> 2.5 * 5 = 12.5
    assert d.w[0] == pytest.approx(12.5)
    assert "two-stage" in repr(d)


def test_fpc_as_fraction():
    df = _df().assign(f=[0.4, 0.4, 0.4, 0.5, 0.5, 0.5])
    a = SurveyDesign(df, strata="town", psu="village", weights="w", fpc="f")
    b = SurveyDesign(df, strata="town", psu="village", weights="w", fpc="N")
    np.testing.assert_allclose(a.f1, b.f1)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"psu": "nope"}, ParameterError, "names a column that is not in the data: 'nope'"),
    ({"fpc2": "M"}, ParameterError, "needs 'fpc'"),
    ({"lonely_psu": "drop"}, ParameterError, "'lonely_psu' parameter of SurveyDesign"),
])
def test_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        SurveyDesign(_df(), strata="town", weights="w", **kwargs)


def test_data_errors():
    df = _df()
    with pytest.raises(DataError, match="第 4 行，列“w”：权数应为非负数，实际为“-1.0”"):
        SurveyDesign(df.assign(w=[2, 2, -1, 1, 1, 1.0]), strata="town", psu="village", weights="w")
    with pytest.raises(DataError, match="PSU“c”出现在多个层中"):
        SurveyDesign(df.assign(village=["a", "a", "c", "c", "d", "d"]), strata="town",
                     psu="village", weights="w")
    nested = SurveyDesign(df.assign(village=["a", "a", "b", "a", "b", "b"]), strata="town",
                          psu="village", weights="w", nest=True)
    assert nested.n_psu == 4
    with pytest.raises(DataError, match="fpc 在同一层内应相同"):
        SurveyDesign(df.assign(N=[5, 6, 5, 4, 4, 4]), strata="town", psu="village", fpc="N")
    with pytest.raises(DataError, match="fpc 与样本不符：抽中 2 个 PSU，fpc 为 1.5"):
        SurveyDesign(df.assign(N=[1.5] * 6), strata="town", psu="village", fpc="N")
    with pytest.raises(DataError, match="只有 1 个 PSU"):
        SurveyDesign(df.assign(village=["a", "a", "a", "c", "d", "d"]), strata="town",
                     psu="village")
    with pytest.raises(DataError, match="第 2 行，列“village”：抽样设计列不能为空"):
        SurveyDesign(df.assign(village=[None, "a", "b", "c", "d", "d"]), strata="town",
                     psu="village")
    with pytest.raises(DataError, match="没有任何数据行"):
        SurveyDesign(df.iloc[:0], strata="town")
