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


# ---- codes in tables, words only where people read (issue 12: no display-string sentinels) ----

def test_every_code_is_ascii_and_has_one_label():
    import re

    from quchi_stats.labels import CODE_LABELS

    cjk = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
    assert len(CODE_LABELS) >= 4
    for kind, labels in CODE_LABELS.items():
        assert set(labels) <= set(kind), kind.__name__
        for code in kind:
            assert code.value.isascii() and not cjk.search(code.value), code  # a code, not words
            assert cjk.search(labels.get(code, "")), f"{kind.__name__}.{code.name} has no label"
        assert len(set(labels.values())) == len(labels), f"two {kind.__name__} codes read alike"


@pytest.mark.parametrize("kind", ["FunnelPosition", "LqasClass", "Stage", "Verdict"])
def test_code_label_refuses_words_and_says_nothing_for_missing(kind):
    import quchi_stats.labels as labels

    enum = getattr(labels, kind)
    table = labels.CODE_LABELS[enum]
    code, words = next(iter(table.items()))
    assert labels.code_label(enum, code.value) == words
    with pytest.raises(ValueError):
        labels.code_label(enum, words)  # a label never passes for a code
    for missing in (None, math.nan, pd.NA, ""):
        assert labels.code_label(enum, missing) == ""


def test_followup_stages_are_the_registry_s_codes():
    from quchi_stats.followup import combine
    from quchi_stats.labels import Stage

    constants = {v for k, v in vars(combine).items() if k.startswith("STAGE_")}
    assert constants == {s.value for s in Stage}
    assert not hasattr(combine, "STAGE_ZH")  # the words live in labels.STAGE_LABELS only
    out = combine.stage_of(np.array([1e-6, 0.5, 0.01, 0.01]), np.array([np.nan, np.nan, np.nan, 0.2]),
                           1e-4, 0.2)
    assert out.tolist() == ["phase1", "futility", "pending", "combined"]


def test_followup_headers_come_from_the_registry():
    from quchi_stats.labels import column_labels
    from quchi_stats.report.followup import FLAG_COLUMNS, FLAG_COLUMNS_ZH, PERCENT_COLUMNS, TABLE_COLUMNS

    labels = column_labels("followup")
    assert set(TABLE_COLUMNS) <= set(labels) and set(FLAG_COLUMNS) <= set(column_labels())
    assert FLAG_COLUMNS_ZH == {c: column_labels()[c] for c in FLAG_COLUMNS}
    assert FLAG_COLUMNS_ZH["followup_stage"] == labels["followup_stage"] == "判定阶段"
    headers = [labels[c] for c in TABLE_COLUMNS]
    assert len(set(headers)) == len(headers)
    assert set(PERCENT_COLUMNS) <= set(TABLE_COLUMNS)


def test_funnel_and_lqas_tables_hold_codes():
    from quchi_stats.flags import funnel_table, lqas_classify
    from quchi_stats.labels import FunnelPosition, LqasClass

    towns = pd.DataFrame({"town": list("ABCD"), "estimate": [0.95, 0.70, 0.99, 0.86],
                          "n": 60, "n_eff": 60.0})
    assert set(funnel_table(towns, 0.95)["position"]) <= {p.value for p in FunnelPosition}
    assert set(lqas_classify([19, 3], [19, 19], 13, 19)) == {LqasClass.ACCEPTED, LqasClass.REJECTED}


def _cjk_comparisons() -> list[str]:
    """Every ``==``/``!=``/``in`` comparison and ``.isin(...)`` in the package's source with a
    Chinese string literal on one side: where a display word would be used as a value."""
    import ast
    import re
    from pathlib import Path

    import quchi_stats

    cjk = re.compile(r"[\u3400-\u9fff]")

    def words(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and cjk.search(node.value):
            return [node.value]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return [w for e in node.elts for w in words(e)]
        return []

    root = Path(quchi_stats.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            hits: list[str] = []
            if isinstance(node, ast.Compare) and any(
                    isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                hits = [w for x in (node.left, *node.comparators) for w in words(x)]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "isin":
                hits = [w for a in node.args for w in words(a)]
            found += [f"{path.relative_to(root).as_posix()}:{w}" for w in hits]
    return found


def test_no_display_word_is_compared_as_a_value():
    """Tables hold codes (labels.Verdict, Stage, FunnelPosition, LqasClass, DISTRICT); a Chinese
    literal compared with ``==``, ``!=`` or ``.isin`` is a sentinel coming back. The one exception:
    the report's 说明 sheet, a key of the report's table set, not a value in a table."""
    allowed = {"report/build.py:说明"}
    assert set(_cjk_comparisons()) <= allowed, sorted(set(_cjk_comparisons()) - allowed)


def test_the_scan_finds_a_sentinel(tmp_path, monkeypatch):
    """The scan above can fail: a file comparing with 全区 is caught."""
    import quchi_stats

    pkg = tmp_path / "quchi_stats"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "bad.py").write_text('x = t[t["town"] != "全区"]\ny = t["c"].isin(["达标"])\n',
                                encoding="utf-8")
    monkeypatch.setattr(quchi_stats, "__file__", str(pkg / "__init__.py"))
    assert sorted(_cjk_comparisons()) == ["bad.py:全区", "bad.py:达标"]


def test_eb_status_and_unit_labels_cover_their_codes():
    from quchi_stats.flags import shrinkage
    from quchi_stats.labels import EB_STATUS_LABELS_ZH, UNIT_LABELS_ZH, table_title
    from quchi_stats.spec import load_spec

    codes = {v for k, v in vars(shrinkage).items() if k.startswith("BETWEEN_")}
    assert set(EB_STATUS_LABELS_ZH) == codes and len(codes) == 3
    assert {ind.unit for ind in load_spec(2018).indicators} <= set(UNIT_LABELS_ZH)
    assert table_title("summary") == "摘要"
