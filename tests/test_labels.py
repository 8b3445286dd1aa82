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
