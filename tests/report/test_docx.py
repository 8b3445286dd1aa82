"""考核报告.docx (issue 12): python-docx reads back its title, headings and tables; the flagged
towns are in its conclusions, its tables are the estimates, its figures those of the HTML page."""

from __future__ import annotations

import io
import math
import re

import docx
import pandas as pd
import pytest
from docx.oxml.ns import qn

import quchi_stats.report.build as build
from quchi_stats.report import REPORT_NAME, report_tables, zh_table
from quchi_stats.report.docx import DOCX_NAME, docx_bytes, figures_in_html

SECTIONS = ["一、考核结论", "二、观察名单", "三、抽查情况", "四、方法说明", "五、分乡镇结果"]


@pytest.fixture(scope="module")
def document(written):
    return docx.Document(written[0] / DOCX_NAME)


# --- docx -----------------------------------------------------------------------------------------
def _headings(d, prefix="Heading 1"):
    return [p.text for p in d.paragraphs if p.style.name == prefix]


def test_docx_headings_title_and_page(document, assessment_2018_shared):
    d = document
    assert _headings(d, "Title") == ["曲江区 2018 年度扶贫开发工作成效考核报告"]
    assert _headings(d) == SECTIONS
    labels = [i.label for i in assessment_2018_shared.spec.indicators]
    subs = _headings(d, "Heading 2")
    assert [s.split("（标准")[0][3:] for s in subs[:len(labels)]] == labels
    sec = d.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)  # A4
    normal = d.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "仿宋"
    assert d.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert d.styles["Heading 1"].font.size.pt == 16 and d.styles["Normal"].font.size.pt == 16


def test_docx_conclusions_name_the_flagged_towns(document, assessment_2018_shared):
    paras = [p.text for p in document.paragraphs]
    first = paras[paras.index(SECTIONS[0]) + 1:paras.index(SECTIONS[1])]
    text = "".join(first)
    a = assessment_2018_shared
    assert a.flagged_towns and all(t in text for t in a.flagged_towns)
    for _, f in a.flags.iterrows():
        assert f["article"] in text and f["evidence"] in text and f["consequence"] in text
    assert "第八条" in text and "合成数据" in "".join(paras[:paras.index(SECTIONS[0])])
    methods = paras[paras.index(SECTIONS[3]) + 1]
    assert methods == build.methods_text(a.spec, a.estimates)


def test_docx_tables_are_the_estimates(document, assessment_2018_shared):
    est = zh_table("estimates", report_tables(assessment_2018_shared)["estimates"])
    per_indicator = [t for t in document.tables if t.rows[0].cells[1].text == "估计值"]
    assert len(per_indicator) == est["指标"].nunique()
    for t, (label, sub) in zip(per_indicator, est.groupby("指标", sort=False), strict=True):
        header = [c.text for c in t.rows[0].cells]
        got = pd.DataFrame([[c.text for c in r.cells] for r in t.rows[1:]], columns=header)
        assert got["乡镇"].tolist() == sub["乡镇"].tolist(), label
        assert got["估计值"].tolist() == [f"{x * 100:.1f}%" for x in sub["估计值"]], label
        assert got["95%置信区间"].tolist() == [f"{lo * 100:.1f}%–{hi * 100:.1f}%" for lo, hi
                                           in zip(sub["置信下限"], sub["置信上限"], strict=True)]
        assert got["样本户数"].tolist() == [f"{n:,}" for n in sub["样本户数"]], label
        p = sub["校正后P值"]
        assert got["校正后P值"].tolist() == [
            "—" if math.isnan(x) else "< 0.001" if x < 0.001 else f"{x:.3f}" for x in p]
        # the header is bold and repeated on each page; numbers are right-aligned
        assert all(r.bold for c in t.rows[0].cells for r in c.paragraphs[0].runs)
        assert t.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
        assert t.rows[1].cells[1].paragraphs[0].alignment == 2  # RIGHT
        assert t.rows[1].cells[2].paragraphs[0].alignment == 2
        assert t.rows[1].cells[1].paragraphs[0].style.name == "表格（四号）"  # six columns: 四号
        assert t.rows[1].cells[0].paragraphs[0].alignment == 0  # LEFT


def test_docx_has_the_html_figures_drawn_once(written, document):
    out, drawn, plotted = written
    page = (out / REPORT_NAME).read_text(encoding="utf-8")
    figures = figures_in_html(page)
    assert len(figures) >= 10
    assert len(document.inline_shapes) == len(figures)
    assert drawn == len(figures)  # the docx reused the HTML's PNGs
    assert len(plotted) == len(figures)  # each figure's plot drawn once, by nothing else
    assert {"forest_plot", "organ_pipe_plot", "trend_plot"} <= set(plotted)
    blobs = {r.target_part.blob for r in document.part.rels.values() if "image" in r.reltype}
    assert blobs == set(figures.values())
    captions = [p.text for p in document.paragraphs if re.match(r"图\d+ ", p.text)]
    assert [c.split("  ", 1)[1] for c in captions] == list(figures)


def test_docx_without_figures_and_unverified(assessment_2018_shared):
    from dataclasses import replace

    from quchi_stats.report.build import UNVERIFIED_ZH

    d = docx.Document(io.BytesIO(docx_bytes(replace(assessment_2018_shared, verified=False),
                                            figures=False)))
    paras = [p.text for p in d.paragraphs]
    assert any(UNVERIFIED_ZH in p for p in paras[:paras.index(SECTIONS[0])])
    assert len(d.inline_shapes) == 0 and _headings(d) == SECTIONS
