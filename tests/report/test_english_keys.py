"""The report's code keys its tables and columns by English identifiers: Chinese titles and headers
are given only where a table is written or shown (``zh_table``/``zh_tables``, the label registry).
A scan of report/*.py (and the notebook template) finds no subscript or lookup by a Chinese name."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import quchi_stats.report as report_pkg
from quchi_stats.labels import TABLE_TITLES_ZH, table_column_labels, table_title
from quchi_stats.notebook import TEMPLATE
from quchi_stats.report import report_tables, zh_table, zh_tables

REPORT = Path(report_pkg.__file__).parent
CJK = re.compile(r"[\u3400-\u9fff]")


def _chinese_lookups(source: str) -> list[str]:
    """Subscripts ``x["中文"]``, ``x[["中文", …]]``, ``x.get("中文")``, ``"中文" in x`` and
    ``columns=["中文"]`` keyword lists in ``source``: lookups of a table or column by its Chinese
    name."""
    found = []

    def chinese(node) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return bool(CJK.search(node.value))
        if isinstance(node, ast.List | ast.Tuple):
            return any(chinese(e) for e in node.elts)
        return False

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and chinese(node.slice):
            found.append(ast.unparse(node))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "pop", "drop", "filter") and node.args
              and chinese(node.args[0])):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and any(
                k.arg in ("columns", "subset", "by") and chinese(k.value) for k in node.keywords):
            found.append(ast.unparse(node))
        elif (isinstance(node, ast.Compare) and chinese(node.left)
              and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)):
            found.append(ast.unparse(node))
    return found


def test_the_scan_catches_a_chinese_lookup():
    """The control: each kind of lookup by a Chinese name is found; English ones are not."""
    bad = ('t = tables["估计结果"]\nu = t[["乡镇", "估计值"]]\nv = tables.get("标记")\n'
           'w = "年度变化" in tables\nx = t.drop(columns=["指标代码"])\n')
    assert len(_chinese_lookups(bad)) == 5
    good = 't = tables["estimates"]\nu = t[["town", "estimate"]]\nmsg = f"报告表“{key}”"\n'
    assert _chinese_lookups(good) == []


@pytest.mark.parametrize("path", sorted(REPORT.glob("*.py")), ids=lambda p: p.name)
def test_report_code_looks_nothing_up_by_a_chinese_name(path):
    assert _chinese_lookups(path.read_text(encoding="utf-8")) == []


def test_notebook_template_looks_nothing_up_by_a_chinese_name():
    nb = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            code = "".join(cell["source"])
            code = "\n".join(ln for ln in code.splitlines() if not ln.startswith("%"))  # magics
            assert _chinese_lookups(code) == [], cell["id"]


def test_tables_are_keyed_in_english_and_titled_from_the_registry(assessment_2018_shared):
    a = assessment_2018_shared
    tables = report_tables(a)
    assert set(tables) <= set(TABLE_TITLES_ZH) and {"estimates", "flags", "response"} <= set(tables)
    for key, t in tables.items():
        assert all(str(c).isascii() for c in t.columns), key  # canonical columns until shown
    shown = zh_tables(tables, a.spec.county)
    assert list(shown) == [table_title(k) for k in tables]  # the same order, Chinese titles
    est = shown["估计结果"]
    assert list(est.columns) == [table_column_labels("estimates")[c] for c in tables["estimates"]]
    assert "单侧P值" in est.columns and "判定" in est.columns


def test_zh_table_names_the_district_level_after_the_county():
    frame = pd.DataFrame({"town": ["甲镇"], "district_level": [0.9], "estimate": [0.8]})
    assert list(zh_table("shrinkage", frame, "某某县").columns) == ["乡镇", "全县水平", "抽查估计"]
    assert list(zh_table("shrinkage", frame, "曲江区").columns) == ["乡镇", "全区水平", "抽查估计"]
    with pytest.raises(ValueError, match="'key' parameter of table_title"):
        zh_table("估计结果", frame)  # a Chinese title is not a key


def test_targets_flag_is_a_code_worded_only_in_the_report(assessment_2018_shared):
    """The targets table keeps Verdict codes in ``flag``; the report's table shows their words."""
    from quchi_stats.labels import VERDICT_LABELS, Verdict

    a = assessment_2018_shared
    codes = a.targets["flag"]
    assert len(codes) and all(c is None or (c.isascii() and c in set(Verdict)) for c in codes)
    worded = report_tables(a)["targets"]["flag"]
    assert list(worded) == ["" if c is None else VERDICT_LABELS[Verdict(c)] for c in codes]


# ---- the report's sentences live in templates/prose.txt, not in the Python that lays out ------
PROSE_FILE = REPORT / "templates" / "prose.txt"


@pytest.mark.parametrize("phrase", [
    "多重比较", "村内相关系数由", "未核验抽样清单", "本报告使用合成数据", "所有标记均有统计检验支持",
    "建议组织复核入户", "个有扶贫任务的镇", "完整的表格见考核报告.xlsx", "被标记的镇：", "需关注：",
    "每个柱子是一个抽查村的比率", "年度扶贫开发工作成效考核报告", "各镇为一族", "镇×指标 为一族",
    "各抽查村比率（柱宽为应答户数）", "漏斗图（与", "及置信区间", " 年度变化"])
def test_sentences_live_in_the_prose_template(phrase):
    assert phrase in PROSE_FILE.read_text(encoding="utf-8")
    for name in ("build.py", "docx.py", "xlsx.py", "followup.py"):
        assert phrase not in (REPORT / name).read_text(encoding="utf-8"), (name, phrase)


@pytest.mark.parametrize(("test_method", "multiplicity", "family", "said"), [
    ("beta-binomial", "holm", "all", ("beta-二项模型", "用 Holm 方法校正", "全部 镇×指标 为一族",
                                      "至少误判一个达标镇的概率不超过 0.05")),
    ("beta-binomial-adjusted", "holm", "all", ("beta-二项模型", "单因素方差分析估计：错退率 0.123",
                                               "按 mid-p 计算", "全部 镇×指标 为一族")),
    ("design", "bh", "indicator", ("线性化方差", "用 Benjamini–Hochberg 方法校正",
                                   "每个指标的各镇为一族", "误判的期望比例不超过 0.05")),
    ("design", "none", "all", ("用 不校正 方法校正", "控制每个检验各自的误判概率；")),
])
def test_methods_paragraph_words_the_spec(test_method, multiplicity, family, said):
    import dataclasses

    from quchi_stats.assessment import DISTRICT
    from quchi_stats.report.build import methods_text
    from quchi_stats.spec import load_spec

    spec = dataclasses.replace(load_spec(2018), test_method=test_method, multiplicity=multiplicity,
                               multiplicity_family=family, county="某某县")
    est = pd.DataFrame({"town": ["甲镇", DISTRICT], "label": ["错退率"] * 2, "rho": [0.1234, 0.1234]})
    text = methods_text(spec, est)
    assert "\n" not in text and "  " not in text  # the template's line breaks are joined
    for s in said:
        assert s in text, s
    if test_method == "beta-binomial":
        assert "（错退率 0.123）" in text and "由全县各镇的抽查村共同估计" in text
        assert "mid-p" not in text and "方差分析" not in text


def test_prose_is_plain_text_escaped_where_the_page_places_it():
    """A sentence is plain text (not markup): a value with ``<`` stays as it is in the docx's
    text, and the HTML template escapes it."""
    from quchi_stats.report.render import prose, render

    said = prose("flag_line", article="第七条（四）", item="<b>x</b>", evidence="P < 0.001",
                 consequence="约谈")
    assert said == "第七条（四），<b>x</b>。依据：P < 0.001。约谈。"
    page = render("font_note.html", items=[said])
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
