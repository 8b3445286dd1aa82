"""考核报告.xlsx laid out for readers and 考核报告.docx: both render the same results as the
HTML page (issue 12), and python-docx / openpyxl read them back."""

from __future__ import annotations

import io
import math
import re
import zipfile

import docx
import numpy as np
import openpyxl
import pandas as pd
import pytest
from docx.oxml.ns import qn

import quchi_stats.report.build as build
from quchi_stats.assessment import run_assessment
from quchi_stats.io.writers import xlsx_bytes
from quchi_stats.report import REPORT_NAME, report_tables, write_report
from quchi_stats.report.docx import DOCX_NAME, docx_bytes, figures_in_html
from quchi_stats.report.formats import EXCEL_FORMATS, KINDS, P_VALUE, RATE, kind, shown

SECTIONS = ["一、考核结论", "二、观察名单", "三、抽查情况", "四、方法说明", "五、分乡镇结果"]


@pytest.fixture(scope="module")
def assessment_2018():
    return run_assessment(2018)


@pytest.fixture(scope="module")
def written(tmp_path_factory, assessment_2018):
    """The report set, with the number of figures drawn while writing it."""
    out = tmp_path_factory.mktemp("rep") / "2018"
    real, drawn = build._figure_png, []

    def counting(draw):
        drawn.append(1)
        return real(draw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "_figure_png", counting)
        write_report(assessment_2018, out, synthetic=True)
    return out, len(drawn)


@pytest.fixture(scope="module")
def book(written):
    return openpyxl.load_workbook(written[0] / "考核报告.xlsx")


@pytest.fixture(scope="module")
def document(written):
    return docx.Document(written[0] / DOCX_NAME)


# --- xlsx -----------------------------------------------------------------------------------------
def test_summary_sheet_comes_first_with_the_flags(book, assessment_2018):
    a = assessment_2018
    assert book.sheetnames[0] == "摘要"
    ws = book["摘要"]
    lines = [ws.cell(row=r, column=1).value for r in range(1, 4)]
    assert lines[0].startswith("曲江区 2018 年度") and "摘要" in lines[0]
    assert all(t in lines[1] for t in a.flagged_towns) and f"{len(a.flags)} 项" in lines[1]
    assert lines[2].startswith(f"需关注：{len(a.watch)} 项")
    header = [c.value for c in ws[5]]
    assert header == ["乡镇", "条款", "事项", "依据", "处理建议"]
    rows = list(ws.iter_rows(min_row=6, values_only=True))
    assert [r[:3] for r in rows] == list(a.flags[["town", "article", "item"]].itertuples(
        index=False, name=None))
    assert all("\n" not in r[3] for r in rows)
    assert ws.freeze_panes == "A6" and all(c.font.b for c in ws[5])
    assert ws.column_dimensions["D"].width >= 40 and ws["D6"].alignment.wrap_text


def test_number_formats_frozen_bold_headers_and_widths(book, assessment_2018):
    tables = report_tables(assessment_2018)
    for name in tables:
        ws = book[name[:31]]
        assert ws.freeze_panes == "A2", name
        assert all(c.font.b for c in ws[1]), name
    ws = book["估计结果"]
    header = [c.value for c in ws[1]]
    col = {h: [ws.cell(row=r, column=j + 1) for r in range(2, ws.max_row + 1)]
           for j, h in enumerate(header)}
    filled = {h: [c for c in cells if c.value is not None] for h, cells in col.items()}
    assert {c.number_format for c in filled["估计值"]} == {"0.0%"}
    assert {c.number_format for c in filled["样本户数"]} == {"#,##0"}
    assert {c.number_format for c in filled["校正后P值"]} == {'[<0.001]"< 0.001";0.000'}
    assert {c.number_format for c in filled["年度"]} == {"0"}
    # the values are the computed ones, as numbers (sortable), not rounded text
    est = tables["估计结果"]
    assert [c.value for c in col["估计值"]] == pytest.approx(est["估计值"].tolist())
    p = [c.value for c in col["校正后P值"]]
    assert [math.nan if v is None else v for v in p] == pytest.approx(est["校正后P值"].tolist(),
                                                                     nan_ok=True)
    assert all(c.data_type == "n" for c in col["估计值"])
    # widths fitted: a CJK header counts double, the text columns are wide enough for their values
    assert ws.column_dimensions["C"].width >= 2 * 3  # 乡镇: three-character town names
    assert book["标记"].column_dimensions["D"].width == 60  # 依据: long text, wrapped
    assert book["标记"]["D2"].alignment.wrap_text


def test_booleans_are_shi_fou_and_nothing_is_true_false(written, book):
    ws = book["自评对照"]
    header = [c.value for c in ws[1]]
    j = header.index("高于上限") + 1
    values = {ws.cell(row=r, column=j).value for r in range(2, ws.max_row + 1)}
    assert values <= {"是", "否"} and values
    with zipfile.ZipFile(written[0] / "考核报告.xlsx") as z:
        sheets = [z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any('t="b"' in x for x in sheets)  # no boolean cell anywhere
    cells = {str(c.value) for ws in book for row in ws.iter_rows() for c in row}
    assert not cells & {"True", "False", "TRUE", "FALSE", "inf", "-inf", "nan"}


def test_readable_workbook_keeps_text_out_of_formulas():
    frame = pd.DataFrame({"乡镇": ["=HYPERLINK(\"http://x\",\"x\")", "马坝镇", "-村"],
                          "估计值": [0.5, math.inf, -math.inf], "标记": [True, False, np.nan],
                          "样本户数": [1, 2, 3]})
    data = xlsx_bytes({"s": frame}, number_format=lambda h, c: EXCEL_FORMATS[RATE]
                      if h == "估计值" else None, readable=True,
                      preamble={"s": ["=1+1 标题", "@cmd"]})
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert ws["A1"].value == "'=1+1 标题" and ws["A2"].value == "'@cmd"
    assert [c.value for c in ws["A"][3:]] == ["乡镇", '\'=HYPERLINK("http://x","x")', "马坝镇", "'-村"]
    assert [c.value for c in ws["B"][4:]] == [0.5, "—", "—"]  # no inf: a dash, as text
    assert ws["B5"].number_format == "0.0%" and ws["B6"].number_format == "General"
    assert [c.value for c in ws["C"][4:]] == ["是", "否", None]
    assert ws.freeze_panes == "A5"


def test_every_number_of_the_report_has_a_registered_kind(assessment_2018):
    """The registry names every numeric column the report writes (none is left to the dtype)."""
    for name, t in report_tables(assessment_2018).items():
        for c in t.columns:
            if t[c].dtype.kind in "iuf" or str(t[c].dtype) in ("Int64", "Float64"):
                assert c in KINDS, (name, c)
    assert kind("校正后P值") == P_VALUE and shown(0.0004, "校正后P值") == "< 0.001"
    assert kind("不认识的列", pd.Series([1, 2])) == "count"


# --- docx -----------------------------------------------------------------------------------------
def _headings(d, prefix="Heading 1"):
    return [p.text for p in d.paragraphs if p.style.name == prefix]


def test_docx_headings_title_and_page(document, assessment_2018):
    d = document
    assert _headings(d, "Title") == ["曲江区 2018 年度扶贫开发工作成效考核报告"]
    assert _headings(d) == SECTIONS
    labels = [i.label for i in assessment_2018.spec.indicators]
    subs = _headings(d, "Heading 2")
    assert [s.split("（标准")[0][3:] for s in subs[:len(labels)]] == labels
    sec = d.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)  # A4
    normal = d.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "仿宋"
    assert d.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert d.styles["Heading 1"].font.size.pt == 16 and d.styles["Normal"].font.size.pt == 16


def test_docx_conclusions_name_the_flagged_towns(document, assessment_2018):
    paras = [p.text for p in document.paragraphs]
    first = paras[paras.index(SECTIONS[0]) + 1:paras.index(SECTIONS[1])]
    text = "".join(first)
    a = assessment_2018
    assert a.flagged_towns and all(t in text for t in a.flagged_towns)
    for _, f in a.flags.iterrows():
        assert f["article"] in text and f["evidence"] in text and f["consequence"] in text
    assert "第八条" in text and "合成数据" in "".join(paras[:paras.index(SECTIONS[0])])
    methods = paras[paras.index(SECTIONS[3]) + 1]
    assert methods == build.methods_text(a.spec, a.estimates)


def test_docx_tables_are_the_estimates(document, assessment_2018):
    est = report_tables(assessment_2018)["估计结果"]
    per_indicator = [t for t in document.tables if t.rows[0].cells[1].text == "估计值"]
    assert len(per_indicator) == est["指标"].nunique()
    for t, (label, sub) in zip(per_indicator, est.groupby("指标", sort=False), strict=True):
        header = [c.text for c in t.rows[0].cells]
        got = pd.DataFrame([[c.text for c in r.cells] for r in t.rows[1:]], columns=header)
        assert got["乡镇"].tolist() == sub["乡镇"].tolist(), label
        assert got["估计值"].tolist() == [f"{x * 100:.1f}%" for x in sub["估计值"]], label
        assert got["置信下限"].tolist() == [f"{x * 100:.1f}%" for x in sub["置信下限"]], label
        assert got["样本户数"].tolist() == [f"{n:,}" for n in sub["样本户数"]], label
        p = sub["校正后P值"]
        assert got["校正后P值"].tolist() == [
            "—" if math.isnan(x) else "< 0.001" if x < 0.001 else f"{x:.3f}" for x in p]
        # the header is bold and repeated on each page; numbers are right-aligned
        assert all(r.bold for c in t.rows[0].cells for r in c.paragraphs[0].runs)
        assert t.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
        assert t.rows[1].cells[1].paragraphs[0].alignment == 2  # RIGHT
        assert t.rows[1].cells[0].paragraphs[0].alignment == 0  # LEFT


def test_docx_has_the_html_figures_drawn_once(written, document):
    out, drawn = written
    page = (out / REPORT_NAME).read_text(encoding="utf-8")
    figures = figures_in_html(page)
    assert len(figures) >= 10
    assert len(document.inline_shapes) == len(figures)
    assert drawn == len(figures)  # the docx reused the HTML's PNGs
    blobs = {r.target_part.blob for r in document.part.rels.values() if "image" in r.reltype}
    assert blobs == set(figures.values())
    captions = [p.text for p in document.paragraphs if re.match(r"图\d+ ", p.text)]
    assert [c.split("  ", 1)[1] for c in captions] == list(figures)


def test_docx_without_figures_and_unverified(assessment_2018):
    from dataclasses import replace

    from quchi_stats.report.build import UNVERIFIED_ZH

    d = docx.Document(io.BytesIO(docx_bytes(replace(assessment_2018, verified=False),
                                            figures=False)))
    paras = [p.text for p in d.paragraphs]
    assert any(UNVERIFIED_ZH in p for p in paras[:paras.index(SECTIONS[0])])
    assert len(d.inline_shapes) == 0 and _headings(d) == SECTIONS
