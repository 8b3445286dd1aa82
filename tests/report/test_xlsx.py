"""考核报告.xlsx laid out for readers (issue 12): 摘要 first, number formats, frozen bold headers,
widths, 是/否, no inf — and text never a formula."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from quchi_stats.io.schema import FRAMES
from quchi_stats.io.writers import xlsx_bytes
from quchi_stats.report import report_tables, zh_tables
from quchi_stats.report.formats import EXCEL_FORMATS, RATE


@pytest.fixture(scope="module")
def book(written):
    return openpyxl.load_workbook(written[0] / "考核报告.xlsx")


# --- xlsx -----------------------------------------------------------------------------------------
def test_summary_sheet_comes_first_with_the_flags(book, assessment_2018_shared):
    a = assessment_2018_shared
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


def test_number_formats_frozen_bold_headers_and_widths(book, assessment_2018_shared):
    tables = zh_tables(report_tables(assessment_2018_shared))
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


def test_response_sheet_names_the_frames_in_chinese(written, book, assessment_2018_shared):
    """应答情况 shows the frames as io.schema.FRAMES words them, never the codes."""
    ws = book["应答情况"]
    header = [c.value for c in ws[1]]
    j = header.index("抽样框") + 1
    values = [ws.cell(row=r, column=j).value for r in range(2, ws.max_row + 1)]
    assert set(values) == set(FRAMES.values())
    assert len(values) == len(assessment_2018_shared.response)  # one row per town × frame, as before
    cells = {str(c.value) for row in ws.iter_rows() for c in row}
    assert not cells & set(FRAMES)  # registered, exited, non_registered
    page = (written[0] / "考核报告.html").read_text(encoding="utf-8")
    assert "<td>non_registered</td>" not in page and f"<td>{FRAMES['exited']}</td>" in page


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


def test_summary_without_flags_or_watch():
    from quchi_stats.report.xlsx import summary, workbook_bytes

    empty = {"flags": pd.DataFrame(columns=["town", "article", "item", "evidence", "consequence"]),
             "watch": pd.DataFrame(columns=["town", "item", "evidence"])}
    lines, table = summary(empty, "某县 2020 年度扶贫开发工作成效考核报告")
    assert lines[1].startswith("被标记的镇：无") and lines[2] == "需关注：0 项。"
    assert table.empty and list(table.columns) == ["乡镇", "条款", "事项", "依据", "处理建议"]
    wb = openpyxl.load_workbook(io.BytesIO(workbook_bytes(empty, "某县")))
    assert wb.sheetnames == ["摘要", "标记", "需关注"] and wb["摘要"].freeze_panes == "A6"
