"""考核报告.docx: the yearly report as a Word document, for offices that publish in Word/WPS.

A second renderer over the same results as the HTML page and the workbook (an
:class:`~quchi_stats.assessment.Assessment` and the tables of
:func:`~quchi_stats.report.build.report_tables`): it decides nothing, it only lays out. The house
style follows 党政机关公文格式 (GB/T 9704-2012) where a report can: A4 with its margins, the title
in 黑体 二号, first-level headings in 黑体 三号, second-level headings in 楷体 三号, the body in
仿宋 三号, tables in 仿宋 四号 (小四 when a table has more than six columns, so that it fits the
156 mm text width) with bold headers repeated on every page, numbers right-aligned as the
workbook shows them (:mod:`~quchi_stats.report.formats`), and the page number as “— 1 —”.
Fonts are named for East Asian text (``w:eastAsia``) and, for Latin letters and digits, Times
New Roman. No personal data: only towns, villages and rates, as in the other report files.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from ..assessment import Assessment
from ..io.schema import ensure_no_personal_columns
from ..labels import district_label, table_column_labels
from .formats import shown
from .render import prose

__all__ = ["DOCX_NAME", "docx_bytes", "figures_in_html"]

DOCX_NAME = "考核报告.docx"

# 字号 in points
ERHAO, SANHAO, SIHAO, XIAOSI = 22.0, 16.0, 14.0, 12.0
BODY_FONT, HEADING_FONT, SUBHEADING_FONT, LATIN_FONT = "仿宋", "黑体", "楷体", "Times New Roman"
_NUMERALS = "一二三四五六七八九十"


def _ordinal(i: int) -> str:
    """1 -> 一, 11 -> 十一, 20 -> 二十 (the numbering of （一） subsections)."""
    if i <= 10:
        return _NUMERALS[i - 1]
    tens, ones = divmod(i, 10)
    return (_NUMERALS[tens - 1] if tens > 1 else "") + "十" + (_NUMERALS[ones - 1] if ones else "")


def _set_fonts(obj, east_asian: str, size: float | None = None, *,
               bold: bool | None = None) -> None:
    """Name ``east_asian`` for CJK text and Times New Roman for the rest, on a style or a run."""
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    font = obj.font
    font.name = LATIN_FONT  # creates the w:rFonts element
    rfonts = obj._element.rPr.rFonts
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)  # a theme font would win over the names below
    rfonts.set(qn("w:eastAsia"), east_asian)
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    font.color.rgb = RGBColor(0, 0, 0)


def _styles(doc) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt

    normal = doc.styles["Normal"]
    _set_fonts(normal, BODY_FONT, SANHAO)
    normal.paragraph_format.line_spacing = Pt(28)  # 公文: 22 lines of 28 pt on a page
    normal.paragraph_format.space_after = Pt(0)
    for name, face, size in (("Title", HEADING_FONT, ERHAO), ("Heading 1", HEADING_FONT, SANHAO),
                             ("Heading 2", SUBHEADING_FONT, SANHAO)):
        st = doc.styles[name]
        _set_fonts(st, face, size, bold=False)
        st.font.italic = False
        ppr = st.element.pPr
        if ppr is not None:  # the template's Title has a bottom border
            for border in ppr.findall("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}pBdr"):
                ppr.remove(border)
        st.paragraph_format.space_before = Pt(6)
        st.paragraph_format.space_after = Pt(6)
        st.paragraph_format.line_spacing = Pt(28) if name != "Title" else Pt(40)
    for name, size in _TABLE_STYLES.items():  # table text: its fonts said once, not on each run
        st = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        st.base_style = normal
        _set_fonts(st, BODY_FONT, size)
        st.paragraph_format.line_spacing = 1.0
        st.paragraph_format.first_line_indent = Pt(0)


_TABLE_STYLES = {"表格（四号）": SIHAO, "表格（小四）": XIAOSI}


def _page(doc) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    p = sec.footer.paragraphs[0]
    p.alignment = 1  # centre
    run = p.add_run("— ")
    _set_fonts(run, BODY_FONT, SIHAO)
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    r.append(t)
    field.append(r)
    p._p.append(field)
    run = p.add_run(" —")
    _set_fonts(run, BODY_FONT, SIHAO)


def _para(doc, text: str, *, indent: bool = True, bold_lead: str = "", size: float | None = None):
    from docx.shared import Pt

    p = doc.add_paragraph()
    if indent:
        p.paragraph_format.first_line_indent = Pt(2 * (size or SANHAO))  # two characters
    if bold_lead:
        run = p.add_run(bold_lead)
        _set_fonts(run, BODY_FONT, size, bold=True)
    run = p.add_run(text)
    _set_fonts(run, BODY_FONT, size)
    return p


def _table(doc, frame: pd.DataFrame, columns: Sequence[str], headers: Mapping[str, str], *,
           right: Sequence[str] = (), key: str | None = None) -> None:
    """``frame[columns]`` (canonical columns of the report's table ``key``) as a table under
    ``headers`` (canonical column -> Chinese header): bold header repeated on each page, rows kept
    whole, text left and numbers right, each value as :func:`~quchi_stats.report.formats.shown`
    gives it."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement

    cols = [c for c in columns if c in frame.columns]
    ensure_no_personal_columns([headers.get(c, c) for c in cols], "考核报告.docx 的表格")
    style = doc.styles["表格（四号）" if len(cols) <= 6 else "表格（小四）"].style_id
    table = doc.add_table(rows=1 + len(frame), cols=len(cols))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    numeric = [c in right or frame[c].dtype.kind in "biufc"
               or str(frame[c].dtype) in ("Int64", "Float64") for c in cols]
    for i, row in enumerate(table.rows):
        trpr = row._tr.get_or_add_trPr()
        keep = OxmlElement("w:cantSplit")
        trpr.append(keep)
        if i == 0:
            trpr.append(OxmlElement("w:tblHeader"))
    head = table.rows[0].cells
    for j, c in enumerate(cols):
        p = head[j].paragraphs[0]
        p._p.style = style  # the id itself: python-docx's lookup by style costs 5 ms a cell
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.add_run(str(headers.get(c, c))).bold = True
    values = frame[cols].to_numpy(dtype=object)
    for i, row in enumerate(values, start=1):
        cells = table.rows[i].cells
        for j, (c, v) in enumerate(zip(cols, row, strict=True)):
            p = cells[j].paragraphs[0]
            p._p.style = style
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if numeric[j] else WD_ALIGN_PARAGRAPH.LEFT
            p.add_run(shown(v, c, key))  # by the canonical column (formats.KINDS)


def _figure(doc, png: bytes, caption: str, number: int) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    doc.add_picture(io.BytesIO(png), width=Mm(150))
    pic = doc.paragraphs[-1]
    pic.alignment = WD_ALIGN_PARAGRAPH.CENTER
    pic.paragraph_format.line_spacing = 1.0  # the body's exact 28 pt would clip the picture
    pic.paragraph_format.keep_with_next = True  # with its caption
    p = _para(doc, prose("figure_caption", number=number, caption=caption), indent=False, size=SIHAO)
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _png(draw) -> bytes:
    from .build import _figure_png  # the HTML report's figure, as PNG bytes

    return base64.b64decode(_figure_png(draw))


def figures_in_html(page: str) -> dict[str, bytes]:
    """The PNG figures an HTML report embeds, by their caption (``alt``): so that the docx
    written beside it does not draw them again."""
    return {html.unescape(alt): base64.b64decode(data) for alt, data in _IMG.findall(page)}


_IMG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def docx_bytes(a: Assessment, tables: dict[str, pd.DataFrame] | None = None, *,
               synthetic: bool = False, figures: bool = True,
               drawn: Mapping[str, bytes] | None = None) -> bytes:
    """考核报告.docx as bytes.

    ``tables`` are :func:`report_tables` ``(a)`` (computed when None). ``drawn`` holds figures
    already drawn for the HTML report, by caption (:func:`figures_in_html`); a figure not among
    them is drawn here. ``figures=False`` leaves the figures out (a quicker document, for tests
    of the text)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    from .build import (
        UNVERIFIED_ZH,
        methods_text,
        report_tables,
        report_title,
        shown_district,
        shown_tables,
    )

    spec, est, y = a.spec, a.estimates, a.year
    tables = shown_tables(report_tables(a) if tables is None else tables, spec.county)
    district = district_label(spec.county)
    title = report_title(a)
    doc = Document()
    _styles(doc)
    _page(doc)
    doc.core_properties.title = title
    doc.core_properties.author = "quchi_stats"
    doc.core_properties.comments = ""
    doc.add_paragraph(title, style="Title").alignment = WD_ALIGN_PARAGRAPH.CENTER
    if not a.verified:
        _para(doc, UNVERIFIED_ZH, bold_lead=prose("lead_unverified"))
    if synthetic:
        _para(doc, prose("synthetic"), bold_lead=prose("lead_synthetic"))
    for note in a.notes:
        _para(doc, note, bold_lead=prose("lead_note"))
    n_fig = n_tab = 0

    def table(key: str, frame: pd.DataFrame, columns: Sequence[str], caption: str,
              extra: Mapping[str, str] | None = None, **kw) -> None:
        nonlocal n_tab
        n_tab += 1
        p = _para(doc, prose("table_caption", number=n_tab, caption=caption), indent=False,
                  size=SIHAO)
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.keep_with_next = True
        _table(doc, frame, columns, {**table_column_labels(key, spec.county), **(extra or {})},
               key=key, **kw)

    def figure(draw, caption: str) -> None:
        nonlocal n_fig
        if figures:
            n_fig += 1
            png = drawn.get(caption) if drawn else None
            _figure(doc, png if png is not None else _png(draw), caption, n_fig)

    # 一、考核结论
    doc.add_heading(prose("docx_heading", number=1), level=1)
    flags = a.flags
    if len(flags):
        towns = a.flagged_towns
        _para(doc, prose("flagged_docx", year=y, n_towns=len(towns), towns=list(towns)))
        i = 0
        for town in towns:
            for _, f in flags[flags["town"] == town].iterrows():
                i += 1
                _para(doc, prose("flag_line", article=f["article"], item=f["item"],
                                 evidence=str(f["evidence"]).rstrip("。"),
                                 consequence=f["consequence"]),
                      bold_lead=prose("flag_lead", number=i, town=town))
    else:
        _para(doc, prose("no_flags_docx"))
    _para(doc, prose("flags_are_tested"))

    # 二、观察名单
    doc.add_heading(prose("docx_heading", number=2), level=1)
    if len(a.watch):
        _para(doc, prose("watch_docx", n=len(a.watch)))
        table("watch", tables["watch"], ("town", "item", "evidence"), prose("watch_caption"))
    else:
        _para(doc, prose("nothing"))

    # 三、抽查情况
    doc.add_heading(prose("docx_heading", number=3), level=1)
    ov = a.overview
    if ov:
        _para(doc, prose("overview_docx", district=district, year=y, **{
            k: ov[k] for k in ("towns", "villages", "sampled_villages", "primary", "visited")},
            **{k: f"{ov[k]:,}" for k in ("households", "registered", "exits")}))
    table("response", tables["response"], ("town", "frame", "primary", "completed", "unreachable",
                                            "substitute", "respondents", "response_rate"),
          prose("response_caption", year=y))
    if ov.get("rejects"):
        _para(doc, prose("rejects_docx", n=ov["rejects"]))

    # 四、方法说明
    doc.add_heading(prose("docx_heading", number=4), level=1)
    _para(doc, methods_text(spec, est))

    # 五、分乡镇结果
    doc.add_heading(prose("docx_heading", number=5), level=1)
    shown_est = tables["estimates"]
    k = 0
    for ind in spec.indicators:
        sub = est[est["indicator"] == ind.name]
        if sub.empty:
            continue
        k += 1
        doc.add_heading(prose("indicator_heading", ordinal=_ordinal(k), label=ind.label,
                              reported_as=ind.reported_as), level=2)
        t = shown_est[shown_est["label"] == ind.label]
        interval = [f"{shown(lo, 'ci_lower')}–{shown(hi, 'ci_upper')}"
                    for lo, hi in zip(t["ci_lower"], t["ci_upper"], strict=True)]
        table("estimates", t.assign(interval=interval),
              ("town", "estimate", "interval", "n", "p_adjusted", "class"),
              prose("estimates_caption", year=y, label=ind.label),
              extra={"interval": prose("interval_header", level=f"{spec.level:.0%}")},
              right=("interval",))
        rows = shown_district(sub, spec.county, "town")  # the total row as readers call it
        figure(lambda p, ax, sub=rows, ind=ind: p.forest_plot(
            sub, threshold=ind.threshold, label=ind.label, complement=ind.display == "complement",
            ax=ax), prose("caption_forest", year=y, label=ind.label))
        if ind.name in a.funnel and ind.name == "satisfaction_rate":
            fun = a.funnel[ind.name]
            figure(lambda p, ax, f=fun, ind=ind: p.funnel_plot(
                f, f.attrs["theta0"], label=ind.label, district=district, ax=ax),
                prose("caption_funnel", label=ind.label, district=district))
        if len(a.history) and a.history["year"].nunique() > 1:
            h = shown_district(a.history[a.history["indicator"] == ind.name], spec.county, "town")
            figure(lambda p, ax, h=h, ind=ind: p.trend_plot(
                h, label=ind.label, threshold=ind.threshold, district=district,
                complement=ind.display == "complement", ax=ax),
                prose("caption_trend", label=ind.label))
    from .build import ORGAN_PIPE_NOTE, organ_pipe_figures  # the HTML's figures of the flagged villages

    if pipes := organ_pipe_figures(a):
        k += 1
        doc.add_heading(prose("organ_pipe_heading", ordinal=_ordinal(k)), level=2)
        _para(doc, ORGAN_PIPE_NOTE)
        for _, caption, draw in pipes:
            figure(draw, caption)
    if len(a.bunching):
        low = a.bunching[a.bunching["p_adjusted"] < spec.alpha]["town"].tolist()
        if low:
            k += 1
            doc.add_heading(prose("bunching_heading", ordinal=_ordinal(k)), level=2)
            _para(doc, prose("bunching_docx", exit_line=f"{spec.exit_line:.0f}",
                             window=f"{spec.bunching_window:.0f}"))
            for town in low:
                inc = a.incomes[a.incomes["town"] == town]["relative_income"].to_numpy()
                figure(lambda p, ax, inc=inc, town=town: p.income_histogram(
                    inc, window=spec.bunching_window, title=f"{town} {y} 年退出户收入分布", ax=ax),
                    f"{town}退出户人均收入与退出线之差")
    _para(doc, prose("footnote_docx", district=district), size=SIHAO)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
