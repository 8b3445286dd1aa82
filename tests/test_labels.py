"""Words shared by the computing layers and the report (labels.py): P values, thresholds, the
district's total row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quchi_stats.labels import (
    DISTRICT_UNNAMED,
    district_label,
    p_statement,
    p_text,
    threshold_text,
)


@pytest.mark.parametrize(("p", "text"), [
    (4.2e-05, "< 0.001"), (5.72e-15, "< 0.001"), (0.0, "< 0.001"), (0.00099, "< 0.001"),
    (0.001, "0.001"), (0.0104, "0.010"), (0.01234, "0.012"), (0.0496, "0.050"), (0.5, "0.500"),
    (1.0, "1.000"), (np.float64(0.2), "0.200"),
])
def test_p_text_never_uses_scientific_notation(p, text):
    assert p_text(p) == text
    assert "e" not in p_text(p)


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, pd.NA, np.nan, "x"])
def test_missing_p_is_a_dash(missing):
    assert p_text(missing) == "—" and p_statement(missing) == "P = —"


def test_p_statement_names_the_p():
    assert p_statement(4.2e-05) == "P < 0.001"
    assert p_statement(0.0123) == "P = 0.012"
    assert p_statement(3e-7, "P1") == "P1 < 0.001" and p_statement(0.3, "P2") == "P2 = 0.300"


@pytest.mark.parametrize(("x", "text"), [
    (6.25e-05, "0.0000625"), (0.05, "0.05"), (0.3, "0.3"), (1e-4, "0.0001"), (1 / 3, "0.3333"),
    (0.1, "0.1"), (1.0, "1"),
])
def test_threshold_text_is_a_plain_decimal(x, text):
    assert threshold_text(x) == text


@pytest.mark.parametrize(("county", "word"), [
    ("曲江区", "全区"), ("某某县", "全县"), ("乐昌市", "全市"), (" 仁化县 ", "全县"),
    ("", DISTRICT_UNNAMED), (None, DISTRICT_UNNAMED), ("某某旗", DISTRICT_UNNAMED),
])
def test_district_label_follows_the_county(county, word):
    assert district_label(county) == word
    assert DISTRICT_UNNAMED == "全县（区）"


def test_every_verdict_and_flagging_article_has_one_label():
    from quchi_stats.labels import (
        ARTICLE_LABELS,
        FLAG_VERDICTS,
        VERDICT_LABELS,
        Article,
        Verdict,
        article_label,
        verdict_label,
    )

    assert set(VERDICT_LABELS) == set(Verdict)
    assert len(set(VERDICT_LABELS.values())) == len(Verdict)  # one spelling, no two codes alike
    assert FLAG_VERDICTS <= set(Verdict)
    assert set(ARTICLE_LABELS) == {Article.TARGETS, Article.BUNCHING, Article.THRESHOLD,
                                   Article.SELF_REPORT}
    assert verdict_label("significant") == "显著偏低" and article_label("7.4") == "第七条（四）"
    with pytest.raises(ValueError):
        verdict_label("显著偏低")  # a label is not a code


# ---- the label registry: one spelling for every header people read --------------------------

def test_registry_spells_each_header_once():
    from quchi_stats.labels import COLUMN_LABELS_ZH, column_labels

    headers = set(COLUMN_LABELS_ZH.values())
    assert "单侧P值" in headers and "单侧 P 值" not in headers  # the estimates.csv spelling
    assert "无法入户" in headers and "正选无法入户" not in headers
    assert column_labels("shrinkage")["estimate"] == "抽查估计"
    assert column_labels()["estimate"] == "估计值"
    with pytest.raises(ValueError, match="'table' parameter of column_labels"):
        column_labels("nonsense")


def test_every_copy_of_a_label_is_the_registry_s():
    from quchi_stats.estimation.fieldwork import RESPONSE_LABELS_ZH
    from quchi_stats.io.schema import FRAMES, LABELS_ZH, RESULT_LABELS_ZH
    from quchi_stats.labels import COLUMN_LABELS_ZH, FRAME_LABELS_ZH

    assert FRAMES == FRAME_LABELS_ZH
    for copy in (RESPONSE_LABELS_ZH, RESULT_LABELS_ZH):
        assert copy == {k: COLUMN_LABELS_ZH[k] for k in copy}
    # the input tables' schema labels agree with the registry wherever both name a column
    shared = set(LABELS_ZH) & set(COLUMN_LABELS_ZH)
    assert shared >= {"town", "village", "household_id", "year", "frame"}
    assert {k: LABELS_ZH[k] for k in shared} == {k: COLUMN_LABELS_ZH[k] for k in shared}


def test_to_frame_chinese_uses_the_registry():
    from quchi_stats.design import SurveyDesign
    from quchi_stats.estimation import estimate_proportion

    data = pd.DataFrame({"town": ["甲"] * 6 + ["乙"] * 6, "village": list("aabbccddeeff"),
                         "w": 1.0, "y": np.tile([1, 0, 1], 4)})
    design = SurveyDesign(data, strata="town", psu="village", weights="w")
    cols = estimate_proportion(design, "y", by="town", p0=0.5).to_frame(chinese=True).columns
    assert {"乡镇", "估计值", "单侧P值"} <= set(cols)
