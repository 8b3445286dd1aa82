"""Assemble the yearly 考核报告 from an :class:`~quchi_stats.assessment.Assessment`.

Sections follow 考核办法 第六条（四）: 基本情况、指标分析、存在问题、综合评价、处理建议. Figures are
embedded as PNG and the CJK font, subset to the characters the page uses, as a base64 WOFF
``@font-face``, so the single HTML file renders the same everywhere. No personal data reaches any
table: only towns, villages and rates.
"""

from __future__ import annotations

import base64
import html
import io
import re
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from ..assessment import DISTRICT, Assessment
from ..errors import OutputExistsError
from ..flags import (
    BETWEEN_ESTIMATED,
)
from ..flags.town_test import TEST_METHODS as MODEL_TEST_METHODS
from ..io.schema import FRAMES, LABELS_ZH, ensure_no_personal_columns
from ..io.writers import atomic_write_bytes, csv_bytes
from ..labels import (
    EB_STATUS_LABELS_ZH,
    UNIT_LABELS_ZH,
    FunnelPosition,
    LqasClass,
    Verdict,
    code_label,
    district_label,
    p_text,
    table_column_labels,
    table_title,
    threshold_text,
)
from .docx import DOCX_NAME, docx_bytes, figures_in_html
from .formats import P_VALUE
from .formats import kind as column_kind
from .render import TEMPLATES, Table, png_data, prose, render

__all__ = ["REPORT_FILES", "REPORT_NAME", "UNVERIFIED_ZH", "build_html", "first_screen_html",
           "organ_pipe_figures", "report_tables", "shown_district", "shown_tables",
           "write_report", "zh_table", "zh_tables"]

REPORT_NAME = "考核报告.html"
REPORT_FILES = (REPORT_NAME, "考核报告.xlsx", DOCX_NAME, "estimates.csv", "flags.csv", "rejects.csv")
"""What a report folder holds: the folder is replaced as one set, and refused if it holds more."""

UNVERIFIED_ZH = prose("unverified")
"""What a report says first when its sample was not verified (``templates/prose.txt``)."""

#: The empirical-Bayes status words by code (the label registry's, re-exported here).
EB_STATUS_ZH = EB_STATUS_LABELS_ZH


def eb_status(code: str, county: str | None) -> str:
    """The empirical-Bayes status ``code`` in words, for the spec's ``county``."""
    return EB_STATUS_ZH[code].format(district=district_label(county))


def shown_district(frame: pd.DataFrame, county: str | None, column: str = "town") -> pd.DataFrame:
    """``frame`` with the district's total row (:data:`~quchi_stats.assessment.DISTRICT` in
    ``column``) named as readers of the county's report call it: 全县, 全区, 全市 or 全县（区）
    (:func:`quchi_stats.labels.district_label`). Only for display: estimates.csv and the code keep
    :data:`~quchi_stats.assessment.DISTRICT`."""
    word = district_label(county)
    if column not in frame or word == DISTRICT:
        return frame
    values = frame[column]
    return frame.assign(**{column: values.where(values != DISTRICT, word)})


def shown_tables(tables: Mapping[str, pd.DataFrame], county: str | None) -> dict[str, pd.DataFrame]:
    """:func:`report_tables` as the HTML page, the workbook and the docx show them: the total row's
    ``town`` by :func:`shown_district` (the CSV files keep the tables as they are). Keys and
    columns stay English."""
    return {key: shown_district(t, county) for key, t in tables.items()}


def zh_table(key: str, frame: pd.DataFrame, county: str | None = None) -> pd.DataFrame:
    """The report's table ``key`` (English columns) under its Chinese headers: the last step
    before a table is written or shown (:func:`quchi_stats.labels.table_column_labels`)."""
    return frame.rename(columns=table_column_labels(key, county))


def zh_tables(tables: Mapping[str, pd.DataFrame], county: str | None = None) -> dict[str, pd.DataFrame]:
    """:func:`report_tables` (or :func:`shown_tables`) as readers see them: each table under its
    Chinese title (:func:`quchi_stats.labels.table_title`, the workbook's sheet name) with Chinese
    headers (:func:`zh_table`), in the same order."""
    return {table_title(key): zh_table(key, t, county) for key, t in tables.items()}


def _pct(x: float, digits: int = 1) -> str:
    return "—" if _missing(x) else f"{x * 100:.{digits}f}%"


def report_tables(a: Assessment) -> dict[str, pd.DataFrame]:
    """The report's tables, keyed by English identifiers (``estimates``, ``flags``, ``watch``,
    ``response`` …, :data:`quchi_stats.labels.TABLE_TITLES_ZH`) with canonical English columns.
    Every code a table holds is shown in its words (the estimates' ``class`` codes as
    显著偏低/低于标准但不显著/达标, :func:`quchi_stats.labels.code_label`): these tables are what
    people read. Their Chinese titles and headers are given last, where a table is written or shown
    (:func:`zh_table`, :func:`zh_tables`: HTML, xlsx, docx, estimates.csv, flags.csv, the
    notebooks)."""
    spec = a.spec
    rows = []
    for _, r in a.estimates.iterrows():
        ind = spec.indicator(r["indicator"])
        lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
        rows.append({
            "year": a.year, "label": ind.label, "town": r["town"], "estimate": ind.shown(r["estimate"]),
            "ci_lower": lo, "ci_upper": hi, "level": r["level"], "threshold": f"{ind.comparison} "
            f"{ind.shown_threshold:.0%}", "unit": UNIT_LABELS_ZH[ind.unit],
            "n": int(r["n"]), "n_eff": r["n_eff"], "df": int(r["df"]),
            "deff": r["deff"], "p_value": r["p_value"], "p_adjusted": r["p_adjusted"],
            "class": code_label(Verdict, r["class"]), "power": r["power"], "method": r["method"],
            **({"lqas": code_label(LqasClass, r["lqas"])} if "lqas" in r else {})})
    estimates = pd.DataFrame(rows)
    flags = a.flags
    if a.followup is not None:  # the two-phase 复核's columns, added after the usual ones
        from .followup import flags_worded

        flags = flags_worded(flags)
    out = {"estimates": estimates, "flags": flags, "watch": a.watch}
    if a.followup is not None:
        from .followup import followup_table

        out["followup"] = followup_table(a)
    if a.notes:
        out = {"notes": pd.DataFrame({"note": list(a.notes)}), **out}
    if not a.verified:
        said = list(out["notes"]["note"]) if "notes" in out else []
        out = {"notes": pd.DataFrame({"note": [UNVERIFIED_ZH, *said]}),
               **{k: v for k, v in out.items() if k != "notes"}}
        for key in ("estimates", "flags"):
            out[key] = out[key].assign(sample_verified=prose("unverified_cell"))
    if len(a.shrinkage):
        labels = {i.name: i.label for i in spec.indicators}
        eb = a.shrinkage.rename(columns={"indicator": "label"})  # the indicator's label, not its code
        eb["label"] = eb["label"].map(labels)
        if "between_status" in eb:
            eb["between_status"] = eb["between_status"].map(lambda c: eb_status(c, spec.county))
        out["shrinkage"] = eb
    if a.funnel:
        labels = {i.name: i.label for i in spec.indicators}
        funnel = pd.concat([f.assign(label=labels[k]) for k, f in a.funnel.items()])
        funnel["position"] = funnel["position"].map(lambda c: code_label(FunnelPosition, c))
        out["funnel"] = funnel
    if len(a.targets):  # the flag's code in words (labels.Verdict); no shortfall is a blank cell
        out["targets"] = a.targets.assign(
            flag=a.targets["flag"].map(lambda c: code_label(Verdict, c)))
    if len(a.bunching):
        out["bunching"] = a.bunching
    if len(a.self_report):
        out["self_report"] = a.self_report.drop(columns=["indicator"])
    if len(a.changes):
        out["changes"] = a.changes
    if len(a.rejects):  # frames and columns in words, as people read them (not their codes)
        out["rejects"] = a.rejects.assign(**{
            c: a.rejects[c].map(lambda v, names=names: names.get(v, v))
            for c, names in (("frame", FRAMES), ("column", LABELS_ZH)) if c in a.rejects})
    response = a.response
    if "frame" in response:  # the frames in words (io.schema.FRAMES), as people read them
        response = response.assign(frame=response["frame"].map(lambda f: FRAMES.get(f, f)))
    out["response"] = response
    for key, t in out.items():  # the tables above never carry personal columns: make sure
        ensure_no_personal_columns(t.columns, f"报告表“{table_title(key)}”")
    return out


#: The report's figures: one size (inches) and resolution for all, laid out by matplotlib's
#: tight layout so that titles, tick labels and a legend beside the axes stay on the canvas.
FIGURE_SIZE = (7.5, 4.6)
FIGURE_DPI = 110


class FigureCanvas:
    """One Agg canvas on which a report's figures are drawn, one after another.

    Made per report (:func:`build_html`, :func:`report_context`), never shared between calls. Each
    figure gets a new Axes on the cleared figure, so nothing of one figure reaches the next; what the
    canvas keeps is its renderer, and with it matplotlib's cache of text extents (per renderer): the
    towns' names, tick labels and legend words that recur in every figure are measured once per
    report instead of once per figure. The pixels are those of a new figure (tested).
    """

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from ..plots.layout import OnePassTightLayout  # layout="tight", measured once

        self._canvas = FigureCanvasAgg(Figure(figsize=FIGURE_SIZE, dpi=FIGURE_DPI,
                                              layout=OnePassTightLayout()))
        self._queued: list = []  # the report's figures (draw functions), in the page's order
        self._drawn: dict[int, str] = {}  # their base64 PNGs, once drawn
        self._blank = False  # while drawing(): a figure not drawn yet is shown empty

    def later(self, draw) -> QueuedFigure:
        """``draw`` queued: drawn by :meth:`drawing`, or when first shown (:class:`QueuedFigure`)."""
        self._queued.append(draw)
        return QueuedFigure(self, len(self._queued) - 1)

    def base64(self, i: int) -> str:
        """The ``i``-th queued figure as base64 PNG (drawn now if it was not yet; empty while
        :meth:`drawing` runs)."""
        if i not in self._drawn:
            if self._blank:
                return ""
            self._drawn[i] = _figure_png(self._queued[i], self)
        return self._drawn[i]

    def drawing(self, meanwhile):
        """``meanwhile()``'s result, the queued figures drawn alongside: part in a forked process
        (:func:`~quchi_stats.report.drawing.draw_forked`) while ``meanwhile`` runs here, the
        queued figures shown empty meanwhile (it may render the page for its text). Same bytes
        as drawing them one by one."""
        from .drawing import draw_forked

        todo = [i for i in range(len(self._queued)) if i not in self._drawn]

        def blank():
            self._blank = True
            try:
                return meanwhile()
            finally:
                self._blank = False

        result, pngs = draw_forked(lambda j: _figure_png(self._queued[todo[j]], self), len(todo),
                                   blank)
        self._drawn.update(zip(todo, pngs, strict=True))
        return result

    @property
    def figure(self):
        """The figure last drawn (the canvas's one :class:`~matplotlib.figure.Figure`)."""
        return self._canvas.figure

    def png(self, draw) -> bytes:
        """``draw(plots, ax)`` rendered in one Agg pass, as PNG bytes with at most 256 colours."""
        from .. import plots  # registers the font
        from ..plots.fonts import MissingGlyphWarning

        fig = self._canvas.figure
        for old in fig.axes:  # removed before clear(), which would first reset them in vain
            fig.delaxes(old)
        fig.clear()
        ax = fig.subplots()
        with warnings.catch_warnings():  # said once for the whole report by _font_note
            warnings.simplefilter("ignore", MissingGlyphWarning)
            draw(plots, ax)
        self._canvas.draw()
        return _palette_png(self._canvas.buffer_rgba())


def _figure_png(draw, canvas: FigureCanvas | None = None) -> str:
    """``draw(plots, ax)`` drawn once, as base64 PNG with at most 256 colours, on ``canvas`` (the
    report's :class:`FigureCanvas`; a new one when None).

    A fixed canvas (:data:`FIGURE_SIZE` at :data:`FIGURE_DPI`) laid out by ``layout="tight"``
    (one measuring pass; ``"constrained"`` takes two and cost a quarter more), rendered in one Agg
    pass: ``savefig(bbox_inches="tight")`` drew each
    figure twice (once to measure, once to crop) and wrote a PNG that was then read back to be
    quantized. The pixels are quantized and written as PNG directly, with no metadata: the same
    figure gives the same bytes.
    """
    return base64.b64encode((canvas or FigureCanvas()).png(draw)).decode("ascii")


def _palette_png(rgba) -> bytes:
    """The rendered pixels ``rgba`` (Agg's RGBA buffer; the figure is opaque) as a PNG with at
    most 256 colours (a third of the bytes; a plot's flat colours and anti-aliased edges look the
    same), so that the single HTML file stays within its budget."""
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(np.asarray(rgba)[..., :3]), "RGB")
    q = rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    q.save(out, format="PNG")
    return out.getvalue()


class QueuedFigure:
    """A figure of a :class:`FigureCanvas`' queue as the templates show it: its base64 PNG
    (checked by :func:`~quchi_stats.report.render.png_data`), drawn once."""

    def __init__(self, canvas: FigureCanvas, index: int) -> None:
        self._canvas, self._index = canvas, index

    def __html__(self) -> str:
        data = self._canvas.base64(self._index)
        return png_data(data) if data else ""

    __str__ = __html__


def _figure(draw, caption: str, canvas: FigureCanvas) -> dict[str, object]:
    """A figure for the templates' ``figure`` macro: queued on the report's ``canvas``, drawn
    once (:func:`_figure_png`, by :meth:`FigureCanvas.drawing` or when first shown), with its
    caption."""
    return {"png": canvas.later(draw), "caption": caption}


#: The county's name in the report when the spec names none (``county`` left empty).
COUNTY_UNNAMED = "本县（区）"


def report_title(a: Assessment) -> str:
    """The report's title: the spec's county (or a neutral word when the spec names none)."""
    return prose("title", county=a.spec.county or COUNTY_UNNAMED, year=a.year)


def methods_text(spec, est: pd.DataFrame) -> str:
    """The paragraph that says how towns were estimated, tested and adjusted (one place; worded
    by ``templates/prose.txt``)."""
    icc: list[str] = []
    model = spec.test_method in MODEL_TEST_METHODS
    if model:
        towns = est[est["town"] != DISTRICT]
        rho = towns.groupby("label", sort=False)["rho"].first() if "rho" in towns else pd.Series()
        icc = [f"{k} {v:.3f}" for k, v in rho.items()]
    return prose("methods", beta_binomial=model, adjusted=spec.test_method == "beta-binomial-adjusted",
                 icc=icc,
                 district=district_label(spec.county), level=f"{spec.level:.0%}",
                 interval_method=spec.interval_method, family=spec.multiplicity_family,
                 multiplicity=spec.multiplicity, alpha=threshold_text(spec.alpha),
                 confidence=f"{1 - spec.alpha:.0%}", shortfall=f"{spec.power_shortfall:.0%}")


def _missing(value: object) -> bool:
    """None, NA, NaN or an infinite number: shown as ``—`` (never ``None``, ``nan`` or ``inf``)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and not np.isfinite(value)


def _cell(value: object) -> str:
    """A cell the table renderer did not format: 是/否 for a boolean, ``—`` when missing, the
    value as text otherwise."""
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    return "—" if _missing(value) else str(value)


def _table(frame: pd.DataFrame, headers: Mapping[str, str], pct_cols: tuple[str, ...] = (),
           nowrap: frozenset[str] = frozenset()) -> Table:
    """``frame`` (canonical columns) as the page's table under ``headers`` (canonical column ->
    Chinese header, :func:`quchi_stats.labels.table_column_labels`): rates in ``pct_cols`` as
    percentages, P values as :func:`~quchi_stats.labels.p_text` writes them, other decimals with
    three significant digits, missing numbers as ``—``; cells in ``nowrap`` (town names) and the
    town's header kept on one line."""
    columns = []
    for c in frame.columns:
        col = frame[c]
        if c in pct_cols:
            columns.append([_pct(x) for x in col])
        elif column_kind(c) == P_VALUE:  # "< 0.001" or three decimals, never 4.2e-05
            columns.append([p_text(x) for x in col])
        elif col.dtype.kind == "f":
            columns.append(["—" if _missing(x) else f"{x:.3g}" for x in col])
        else:
            columns.append([_cell(x) for x in col])
    rows = tuple(zip(*columns, strict=True)) if columns else ()
    return Table(tuple(str(headers.get(c, c)) for c in frame.columns), rows,
                 nowrap | {headers.get("town", "town")})


def _font_note(a: Assessment, body: str) -> str:
    """A note, and one warning per town or village, for characters the bundled font lacks."""
    from ..plots.fonts import MissingGlyphWarning, uncovered, uncovered_message

    if not uncovered(body):
        return ""
    towns: dict[str, None] = {}
    villages: dict[str, str] = {}  # village -> its town
    for frame in (a.estimates, a.response, a.flags, a.villages, a.clusters, a.incomes):
        if "town" in frame:
            towns.update(dict.fromkeys(frame["town"].dropna().astype(str)))
        if "town" in frame and "village" in frame:
            villages.update(zip(frame["village"].astype(str), frame["town"].astype(str), strict=True))
    found: list[tuple[str, str, list[str]]] = []
    explained: set[str] = set()
    for town in towns:
        if (chars := uncovered(town)) and town in body:
            found.append(("乡镇", town, chars))
            explained.update(chars)
    for village, town in villages.items():
        # the part after the town's name (石塱01村 of 石塱镇): a character of the town is said for the town
        common = next((i for i, (x, y) in enumerate(zip(village, town, strict=False)) if x != y), min(len(village), len(town)))
        rest = village[common:]
        if (chars := uncovered(rest)) and village in body:
            found.append(("行政村", village, uncovered(village)))
            explained.update(chars)
    for label in dict.fromkeys(ind.label for ind in a.spec.indicators):
        if (chars := [c for c in uncovered(label) if c not in explained]) and label in body:
            found.append(("指标", label, chars))
            explained.update(chars)
    text = html.unescape(re.sub(r"<[^>]*>", "", body))
    for ch in uncovered(text):
        if ch not in explained:  # not in a place name: quote a few characters around it
            i = text.index(ch)
            quoted = " ".join(text[max(0, i - 6):i + 7].split())  # one line, whatever the page's layout
            found.append(("报告文字", quoted, [ch]))
    for kind, name, chars in found:
        warnings.warn(uncovered_message(kind, name, chars, "图中将显示为方框，网页中由浏览器用本机字体显示"),
                      MissingGlyphWarning, stacklevel=4)
    return render("font_note.html", items=[uncovered_message(k, n, c, "").removesuffix("，")
                                           for k, n, c in found])


CSS = (resources.files(__package__) / TEMPLATES / "report.css").read_text(encoding="utf-8")
"""The page's style sheet (``templates/report.css``); ``{font_face}`` is replaced by the embedded
font subset of the page."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def first_screen_context(a: Assessment) -> dict[str, object]:
    """What ``templates/first_screen.html`` words: the flagged towns, each flag's article, item
    and evidence on one line, each consequence with its towns, and the watch list."""
    flags, watch = a.flags, a.watch
    out: dict[str, object] = {"year": a.year, "flags": [], "towns": [], "articles": "",
                              "consequences": [], "watch": []}
    if len(flags):
        out["towns"] = list(a.flagged_towns)
        out["articles"] = "、".join(sorted(set(flags["article"])))
        out["flags"] = [
            {"town": r["town"], "article": str(r["article"]), "evidence": _one_line(r["evidence"]),
             # the item is said unless the evidence starts with it
             "item": "" if _one_line(r["evidence"]).startswith(str(r["item"])) else str(r["item"])}
            for _, r in flags.iterrows()]
        out["consequences"] = [
            {"text": str(cons),
             "towns": list(dict.fromkeys(flags.loc[flags["consequence"] == cons, "town"]))}
            for cons in dict.fromkeys(flags["consequence"])]
    out["watch"] = [{"town": r["town"], "item": str(r["item"])} for _, r in watch.iterrows()]
    return out


def first_screen_html(a: Assessment) -> str:
    """The report's first screen, before the basis, the methods and the tables: the flagged towns,
    each flag's article and evidence on one line, the consequence each article carries
    (第八条, as the flags table states it) and the watch list. It words the findings the
    :class:`Assessment` holds and computes nothing."""
    return render("first_screen.html", **first_screen_context(a))


ORGAN_PIPE_NOTE = prose("organ_pipe_note")

#: Below this power a town × indicator's "no flag" is not read as "no problem" (四、综合评价).
LOW_POWER = 0.5


def organ_pipe_figures(a: Assessment) -> list[tuple[str, str, object]]:
    """``(town, caption, draw)`` of each town × indicator flagged under 第七条（四）: its sampled
    villages as an organ-pipe plot (:func:`~quchi_stats.plots.organ_pipe_plot`) from
    :meth:`Assessment.flagged_villages`, for :func:`_figure_png`; the docx draws the same."""
    out = []
    v = a.flagged_villages()
    for (ind_name, town), g in v.groupby(["indicator", "town"], sort=False):
        ind = a.spec.indicator(ind_name)
        r = g.iloc[0]
        caption = prose("caption_organ_pipe", year=a.year, town=town, label=ind.label)
        out.append((town, caption, lambda p, ax, g=g, r=r, ind=ind, town=town: p.organ_pipe_plot(
            g, threshold=r["threshold"], ci_lower=r["ci_lower"], ci_upper=r["ci_upper"],
            estimate=r["estimate"], label=ind.label, town=town,
            complement=ind.display == "complement", ax=ax)))
    return out


def _town_names(a: Assessment) -> frozenset[str]:
    """Table cells holding only one of these (a town's name) are kept on one line."""
    names = {*a.estimates.get("town", ()), *a.response.get("town", ()), *a.flags.get("town", ()),
             DISTRICT}
    return frozenset(str(n) for n in names if isinstance(n, str) and n)


def _indicator_context(a: Assessment, ind, tables: Mapping[str, pd.DataFrame], table,
                       canvas: FigureCanvas) -> dict[str, object]:
    """One indicator's part of 二、指标分析: its table, forest plot, shrinkage, funnel and trend
    (the figures drawn on the report's ``canvas``)."""
    spec, y = a.spec, a.year
    district = district_label(spec.county)
    est = a.estimates
    sub = est[est["indicator"] == ind.name]
    t = tables["estimates"]
    t = t[t["label"] == ind.label][["town", "estimate", "ci_lower", "ci_upper", "n", "df", "deff",
                                    "p_adjusted", "class", "power"]]
    rows = shown_district(sub, spec.county, "town")  # the total row as readers call it
    out: dict[str, object] = {
        "label": ind.label, "reported_as": ind.reported_as, "source": ind.source,
        "table": table("estimates", t, ("estimate", "ci_lower", "ci_upper", "power")),
        "forest": _figure(lambda p, ax, sub=rows, ind=ind: p.forest_plot(
            sub, threshold=ind.threshold, label=ind.label, complement=ind.display == "complement",
            ax=ax), prose("caption_forest", year=y, label=ind.label), canvas),
        "eb_status": "", "eb_table": None, "figures": []}
    if "shrinkage" in tables:
        status = a.shrinkage.loc[a.shrinkage["indicator"] == ind.name, "between_status"]
        eb = tables["shrinkage"]
        eb = eb[(eb["label"] == ind.label) & (eb["prob_below"] >= 0.5)]
        if len(status) and status.iloc[0] != BETWEEN_ESTIMATED:
            out["eb_status"] = eb_status(status.iloc[0], spec.county)
        elif len(eb):
            cols = ("estimate", "eb_estimate", "eb_lower", "eb_upper", "prob_below")
            out["eb_table"] = table("shrinkage", eb[["town", *cols]], cols)
    figures = out["figures"]
    if ind.name in a.funnel and ind.name == "satisfaction_rate":
        f = a.funnel[ind.name]
        figures.append(_figure(lambda p, ax, f=f, ind=ind: p.funnel_plot(
            f, f.attrs["theta0"], label=ind.label, district=district, ax=ax),
            prose("caption_funnel", label=ind.label, district=district), canvas))
    if len(a.history) and a.history["year"].nunique() > 1:
        h = shown_district(a.history[a.history["indicator"] == ind.name], spec.county, "town")
        figures.append(_figure(lambda p, ax, h=h, ind=ind: p.trend_plot(
            h, label=ind.label, threshold=ind.threshold, district=district,
            complement=ind.display == "complement", ax=ax), prose("caption_trend", label=ind.label),
            canvas))
    return out


def report_context(a: Assessment, tables: Mapping[str, pd.DataFrame], *,
                   synthetic: bool = False, canvas: FigureCanvas | None = None) -> dict[str, object]:
    """What ``templates/report_body.html`` shows: plain data (text, numbers formatted for readers,
    tables as rows, figures); ``tables`` are :func:`shown_tables`. The figures are queued on one
    :class:`FigureCanvas` for the report (``canvas``, or a new one), drawn once each when first
    shown or by :meth:`FigureCanvas.drawing`."""
    spec, y = a.spec, a.year
    est = a.estimates
    nowrap = _town_names(a)
    canvas = canvas or FigureCanvas()

    def table(key: str, frame: pd.DataFrame, pct_cols: tuple[str, ...] = ()) -> Table:
        return _table(frame, table_column_labels(key, spec.county), pct_cols, nowrap)

    ov = a.overview
    ctx: dict[str, object] = {
        "title": report_title(a), "year": y, "county": spec.county or COUNTY_UNNAMED,
        "unverified": "" if a.verified else UNVERIFIED_ZH, "synthetic": synthetic,
        "notes": list(a.notes),  # checks the data did not allow (an absent self-assessment or targets file)
        "summary": first_screen_html(a),
        "overview": {
            **{k: ov[k] for k in ("towns", "villages", "sampled_villages", "primary", "visited")},
            **{k: f"{ov[k]:,}" for k in ("households", "registered", "exits")},
            "rejects": ov.get("rejects") or 0},
        "response": table("response", tables["response"], ("response_rate",)),
        "methods": methods_text(spec, est),
        "indicators": [_indicator_context(a, ind, tables, table, canvas) for ind in spec.indicators
                       if (est["indicator"] == ind.name).any()],
        "changes": None, "followup": None,
        "flags": table("flags", tables["flags"]) if len(a.flags) else None,
        "organ_pipes": [], "organ_pipe_note": ORGAN_PIPE_NOTE,
        "watch": table("watch", tables["watch"]) if len(a.watch) else None,
        "bunching": None,
        "targets": table("targets", tables["targets"]) if "targets" in tables else None,
        "self_report": table("self_report", tables["self_report"], (
            "reported", "reported_good", "estimate", "ci_lower", "ci_upper"))
        if "self_report" in tables else None,
    }
    if "changes" in tables:
        ch = tables["changes"]
        sig = ch[ch["significant"]]
        ctx["changes"] = {"table": table("changes", sig.drop(columns=["indicator"]), (
            "previous", "current", "change", "ci_lower", "ci_upper")) if len(sig) else None}
    if a.followup is not None:
        from .followup import PERCENT_COLUMNS, followup_context

        ctx["followup"] = followup_context(a, table("followup", tables["followup"], PERCENT_COLUMNS))
    if len(a.flags):
        ctx["organ_pipes"] = [_figure(draw, caption, canvas)
                               for _, caption, draw in organ_pipe_figures(a)]
    if len(a.bunching):
        flagged = a.bunching[a.bunching["p_adjusted"] < spec.alpha]["town"].tolist()
        figures = []
        for town in flagged:
            inc = a.incomes[a.incomes["town"] == town]["relative_income"].to_numpy()
            figures.append(_figure(lambda p, ax, inc=inc, town=town: p.income_histogram(
                inc, window=spec.bunching_window, title=f"{town} {y} 年退出户收入分布", ax=ax),
                f"{town}退出户人均收入与退出线之差", canvas))
        ctx["bunching"] = {"exit_line": f"{spec.exit_line:.0f}", "window": f"{spec.bunching_window:.0f}",
                           "table": table("bunching", tables["bunching"]), "figures": figures}
    towns = [t for t in est["town"].unique() if t != DISTRICT]
    flagged_towns = set(a.flags["town"]) if len(a.flags) else set()
    low = est[(est["class"] == Verdict.BELOW) & (est["town"] != DISTRICT)]
    ctx["evaluation"] = [
        {"town": t, "articles": "、".join(sorted(set(a.flags.loc[a.flags["town"] == t, "article"])))
         if t in flagged_towns else "", "n_low": int((low["town"] == t).sum())} for t in towns]
    ctx["low_power"] = int(((est["town"] != DISTRICT) & (est["power"] < LOW_POWER)).sum())
    ctx["low_power_cut"] = f"{LOW_POWER:.0%}"
    ctx["recommendations"] = [
        {"town": t, "what": "、".join(a.flags.loc[a.flags["town"] == t, "item"]),
         "consequences": "；".join(sorted(set(a.flags.loc[a.flags["town"] == t, "consequence"])))}
        for t in sorted(flagged_towns, key=lambda x: towns.index(x) if x in towns else 99)]
    ctx["significant"] = int((est["class"] == Verdict.SIGNIFICANT).sum())
    return ctx


def build_html(a: Assessment, *, synthetic: bool = False,
               tables: Mapping[str, pd.DataFrame] | None = None) -> str:
    """The whole report as one HTML string (``templates/report.html``). ``tables`` are
    :func:`shown_tables` when the caller has them already (:func:`write_report`: the tables are
    built once per report)."""
    from ..plots.fonts import font_face_css

    if tables is None:
        tables = shown_tables(report_tables(a), a.spec.county)
    canvas = FigureCanvas()
    context = report_context(a, tables, synthetic=synthetic, canvas=canvas)

    def page_text() -> tuple[str, str]:
        # the page with its figures still empty: their data (base64) adds no character to the
        # font, and _font_note reads only text (issue 12: the figures are drawn meanwhile)
        text = render("report_body.html", **context)
        note = _font_note(a, text)
        return note, font_face_css(text + note)

    note, font_face = canvas.drawing(page_text)
    body = render("report_body.html", **context) + note
    css = Markup(CSS.replace("{font_face}", font_face))  # ours: the page's font subset
    return render("report.html", title=report_title(a), css=css, body=body)


def _xlsx_bytes(tables: Mapping[str, pd.DataFrame], title: str, county: str | None) -> bytes:
    from .xlsx import workbook_bytes  # 摘要 first, formats for readers; cells never formulas

    return workbook_bytes(tables, title, county)


def write_report(a: Assessment, out_dir: str | Path, *, force: bool = False,
                 synthetic: bool = False) -> list[Path]:
    """Write ``考核报告.html``, ``estimates.csv``, ``flags.csv``, ``考核报告.xlsx`` and
    ``考核报告.docx`` into ``out_dir``.

    An existing report is replaced only with ``force=True``. The folder is written beside the
    target and swapped in as one set under a lock (:class:`~quchi_stats.io.atomic.AtomicDirectory`):
    a failed or killed run leaves the earlier report whole, files of the earlier report that this
    one does not write (``rejects.csv``) do not survive, and a concurrent run into the same folder
    is refused. A folder holding files other than :data:`REPORT_FILES` is refused.
    """
    from ..io.atomic import AtomicDirectory

    out = Path(out_dir)
    with AtomicDirectory(out, owned=REPORT_FILES) as stage:
        if stage.previous is not None and not force:
            shown = out / REPORT_NAME if (out / REPORT_NAME).exists() else out
            raise OutputExistsError(f"{shown} 已存在；如需重新生成，请加 --force（force=True）。")
        tables = report_tables(a)
        shown = shown_tables(tables, a.spec.county)  # the total row as readers call it
        page = build_html(a, synthetic=synthetic, tables=shown)
        county = a.spec.county
        files = [
            ("estimates.csv", csv_bytes(zh_table("estimates", tables["estimates"], county))),
            *([("rejects.csv", csv_bytes(zh_table("rejects", tables["rejects"], county)))]
              if "rejects" in tables else []),
            ("flags.csv", csv_bytes(zh_table("flags", tables["flags"], county))),
            ("考核报告.xlsx", _xlsx_bytes(shown, report_title(a), county)),
            (REPORT_NAME, page.encode("utf-8")),
            (DOCX_NAME, docx_bytes(a, shown, synthetic=synthetic, drawn=figures_in_html(page))),
        ]
        for name, data in files:
            atomic_write_bytes(stage.path / name, data)
    return [out / name for name, _ in files]
