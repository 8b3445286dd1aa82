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
from pathlib import Path

import pandas as pd

from ..assessment import DISTRICT, Assessment
from ..errors import OutputExistsError
from ..flags import (
    BETWEEN_BOUNDARY,
    BETWEEN_ESTIMATED,
    BETWEEN_FIT_FAILED,
    CLASS_LOW,
    CLASS_SIGNIFICANT,
)
from ..io.schema import FRAMES, ensure_no_personal_columns
from ..io.writers import atomic_write_bytes, csv_bytes
from ..labels import district_label, p_text, threshold_text
from .docx import DOCX_NAME, docx_bytes, figures_in_html
from .formats import P_VALUE
from .formats import kind as column_kind

__all__ = ["REPORT_FILES", "REPORT_NAME", "UNVERIFIED_ZH", "build_html", "first_screen_html",
           "organ_pipe_figures", "report_tables", "shown_district", "shown_tables",
           "write_report"]

REPORT_NAME = "考核报告.html"
REPORT_FILES = (REPORT_NAME, "考核报告.xlsx", DOCX_NAME, "estimates.csv", "flags.csv", "rejects.csv")
"""What a report folder holds: the folder is replaced as one set, and refused if it holds more."""

UNVERIFIED_ZH = ("未核验抽样清单：本报告生成时跳过了抽查样本与抽样清单（manifest.json）的核对（--no-verify，"
                 "verify=False），无法确认所用样本就是当年抽取、未经改动的样本；在核验通过之前，"
                 "本报告的估计和标记不能作为考核依据。")

#: What the empirical-Bayes table says about the between-town level (flags.shrinkage codes);
#: ``{district}`` is the total row's word (:func:`quchi_stats.labels.district_label`).
EB_STATUS_ZH = {
    BETWEEN_ESTIMATED: "镇间差异已估计",
    BETWEEN_BOUNDARY: "镇间差异不显著，收缩估计等于{district}水平",
    BETWEEN_FIT_FAILED: "模型拟合未收敛，未给出收缩估计",
}


def eb_status(code: str, county: str | None) -> str:
    """The empirical-Bayes status ``code`` in words, for the spec's ``county``."""
    return EB_STATUS_ZH[code].format(district=district_label(county))


def shown_district(frame: pd.DataFrame, county: str | None, column: str = "乡镇") -> pd.DataFrame:
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
    乡镇 by :func:`shown_district` (the CSV files keep the tables as they are)."""
    return {name: shown_district(t, county) for name, t in tables.items()}


def _pct(x: float, digits: int = 1) -> str:
    return "—" if pd.isna(x) else f"{x * 100:.{digits}f}%"


def report_tables(a: Assessment) -> dict[str, pd.DataFrame]:
    """The report's tables with Chinese headers: 估计结果 (estimates), 标记 (flags), and the rest."""
    spec = a.spec
    rows = []
    for _, r in a.estimates.iterrows():
        ind = spec.indicator(r["indicator"])
        lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
        rows.append({
            "年度": a.year, "指标": ind.label, "乡镇": r["town"], "估计值": ind.shown(r["estimate"]),
            "置信下限": lo, "置信上限": hi, "置信水平": r["level"], "标准": f"{ind.comparison} "
            f"{ind.shown_threshold:.0%}", "计量单位": "人" if ind.unit == "person" else "户",
            "样本户数": int(r["n"]), "有效样本量": r["n_eff"], "自由度": int(r["df"]),
            "设计效应": r["deff"], "单侧P值": r["p_value"], "校正后P值": r["p_adjusted"],
            "判定": r["class"], "把握度": r["power"], "区间方法": r["method"],
            **({"LQAS判定": r["lqas"]} if "lqas" in r else {})})
    estimates = pd.DataFrame(rows)
    flags = a.flags.rename(columns={"town": "乡镇", "article": "条款", "item": "事项",
                                    "evidence": "依据", "consequence": "处理建议"})
    if a.followup is not None:  # the two-phase 复核's columns, added after the usual ones
        from .followup import flags_zh

        flags = flags_zh(flags)
    watch = a.watch.rename(columns={"town": "乡镇", "item": "事项", "evidence": "依据"})
    out = {"估计结果": estimates, "标记": flags, "需关注": watch}
    if a.followup is not None:
        from .followup import followup_table

        out["两阶段复核"] = followup_table(a)
    if a.notes:
        out = {"说明": pd.DataFrame({"说明": list(a.notes)}), **out}
    if not a.verified:
        said = list(out["说明"]["说明"]) if "说明" in out else []
        out = {"说明": pd.DataFrame({"说明": [UNVERIFIED_ZH, *said]}),
               **{k: v for k, v in out.items() if k != "说明"}}
        for name in ("估计结果", "标记"):
            out[name] = out[name].assign(样本核验="未核验（--no-verify）")
    if len(a.shrinkage):
        labels = {i.name: i.label for i in spec.indicators}
        eb = a.shrinkage.assign(indicator=a.shrinkage["indicator"].map(labels))
        if "between_status" in eb:
            eb["between_status"] = eb["between_status"].map(lambda c: eb_status(c, spec.county))
        out["收缩估计"] = eb.rename(
            columns={"indicator": "指标", "town": "乡镇", "estimate": "抽查估计", "n_star": "有效样本量",
                     "eb_estimate": "收缩估计", "eb_lower": "收缩下限", "eb_upper": "收缩上限",
                     "prob_below": "低于标准的后验概率", "households": "样本户数",
                     "own_weight": "本镇数据权重",
                     "district_level": f"{district_label(spec.county)}水平",
                     "between_status": "镇间差异",
                     "icc": "村内相关系数", "icc_lower": "村内相关系数下限",
                     "icc_upper": "村内相关系数上限", "icc_homogeneity_p": "相关系数齐性P值",
                     "rho_between": "镇间相关系数", "between_p": "镇间差异P值"})
    if a.funnel:
        labels = {i.name: i.label for i in spec.indicators}
        out["漏斗图"] = pd.concat([f.assign(指标=labels[k]) for k, f in a.funnel.items()]).rename(
            columns={"town": "乡镇", "estimate": "抽查估计", "n": "样本户数", "n_eff": "有效样本量",
                     "n_funnel": "漏斗图样本量", "lower95": "95%下限", "upper95": "95%上限",
                     "lower998": "99.8%下限", "upper998": "99.8%上限", "position": "位置"})
    if len(a.targets):
        out["减贫任务"] = a.targets.rename(columns={
            "town": "乡镇", "planned_exit_households": "计划脱贫户数",
            "planned_exit_persons": "计划脱贫人数", "exit_households": "登记退出户数",
            "exit_persons": "登记退出人数", "verified_households": "核实退出户数",
            "verified_households_lower": "核实退出户数下限",
            "verified_households_upper": "核实退出户数上限", "verified_persons": "核实退出人数",
            "verified_persons_lower": "核实退出人数下限", "verified_persons_upper": "核实退出人数上限",
            "registered_short": "登记未达计划", "verified_short": "核实上限未达计划",
            "flag": "标记"})
    if len(a.bunching):
        out["收入集中检验"] = a.bunching.rename(columns={
            "town": "乡镇", "exits": "有劳动能力退出户", "in_window": "线上窗口内户数",
            "expected": "平滑分布预期户数", "excess": "超额户数", "excess_ratio": "实际/预期",
            "p_value": "P值", "p_adjusted": "校正后P值"})
    if len(a.self_report):
        out["自评对照"] = a.self_report.drop(columns=["indicator"]).rename(columns={
            "town": "乡镇", "label": "指标", "reported": "自评值", "reported_good": "自评（正向比率）",
            "estimate": "核实估计（正向比率）", "ci_lower": "置信下限", "ci_upper": "置信上限",
            "above_upper": "高于上限", "p_value": "P值", "p_adjusted": "校正后P值",
            "flag": "标记"})
    if len(a.changes):
        out["年度变化"] = a.changes.rename(columns={
            "indicator": "指标代码", "town": "乡镇", "label": "指标", "previous": "上年估计",
            "current": "本年估计", "change": "变化", "ci_lower": "变化置信下限",
            "ci_upper": "变化置信上限", "significant": "变化显著"})
    if len(a.rejects):
        out["未计入的记录"] = a.rejects.rename(columns={
            "household_id": "户编号", "frame": "抽样框", "column": "列", "reason": "原因"})
    response = a.response
    if "frame" in response:  # the frames in words (io.schema.FRAMES), as people read them
        response = response.assign(frame=response["frame"].map(lambda f: FRAMES.get(f, f)))
    out["应答情况"] = response.rename(columns={
        "town": "乡镇", "frame": "抽样框", "primary": "正选户", "completed": "正选完成",
        "unreachable": "无法入户", "no_record": "无记录", "substitute": "替补完成",
        "respondents": "有效样本", "response_rate": "正选应答率", "factor": "平均调整系数"})
    for name, t in out.items():  # the tables above never carry personal columns: make sure
        ensure_no_personal_columns(t.columns, f"报告表“{name}”")
    return out


def _figure_png(draw) -> str:
    import matplotlib.pyplot as plt

    from .. import plots  # registers the font
    from ..plots.fonts import MissingGlyphWarning

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    with warnings.catch_warnings():  # said once for the whole report by _font_note
        warnings.simplefilter("ignore", MissingGlyphWarning)
        draw(plots, ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(_palette_png(buf.getvalue())).decode("ascii")


def _palette_png(png: bytes) -> bytes:
    """``png`` with at most 256 colours (a third of the bytes; a plot's flat colours and
    anti-aliased edges look the same), so that the single HTML file stays within its budget."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        q = im.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                       dither=Image.Dither.NONE)
    out = io.BytesIO()
    q.save(out, format="PNG")
    return out.getvalue()


def _img(b64: str, alt: str) -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/>' \
           f"<figcaption>{html.escape(alt)}</figcaption></figure>"


_MULTIPLICITY_ZH = {"holm": "Holm", "hochberg": "Hochberg", "bh": "Benjamini–Hochberg",
                    "none": "不校正"}


#: The county's name in the report when the spec names none (``county`` left empty).
COUNTY_UNNAMED = "本县（区）"


def report_title(a: Assessment) -> str:
    """The report's title: the spec's county (or a neutral word when the spec names none)."""
    return f"{a.spec.county or COUNTY_UNNAMED} {a.year} 年度扶贫开发工作成效考核报告"


def methods_text(spec, est: pd.DataFrame) -> str:
    """The paragraph that says how towns were estimated, tested and adjusted (one place)."""
    if spec.test_method == "beta-binomial":
        towns = est[est["town"] != DISTRICT]
        rho = towns.groupby("label", sort=False)["rho"].first() if "rho" in towns else pd.Series()
        icc = "、".join(f"{k} {v:.3f}" for k, v in rho.items())
        district = district_label(spec.county)
        how = ("各镇比率的点估计按复杂抽样设计加权计算（错退率、漏评率、识别准确率按人，群众认可度和“两不愁三保障”按户）。"
               f"判断一个镇是否“低于标准”用 beta-二项模型：同一指标的村内相关系数由{district}各镇的抽查村共同估计"
               f"（{icc}），镇内只估计该镇的比率；单侧似然比检验以 t 分布（自由度 = 抽查村数 − 镇数）计 P 值，"
               f"{spec.level:.0%} 置信区间是同一似然给出的区间，与检验一致："
               f"未校正的单侧 P < {threshold_text(spec.alpha)} 恰好等于单侧 {1 - spec.alpha:.0%} 上限低于标准。"
               f"只抽到一个村的镇借用{district}的村内相关，区间不会比两个村时更窄。")
    else:
        how = ("各指标的估计按复杂抽样设计计算（线性化方差，分域保留全部设计，自由度 = 该镇抽中村数 − 1），"
               f"置信区间为 {spec.level:.0%} {spec.interval_method} 区间。")
    family = ("每个指标的各镇为一族" if spec.multiplicity_family == "indicator"
              else "全部 镇×指标 为一族")
    method = _MULTIPLICITY_ZH.get(spec.multiplicity, spec.multiplicity)
    controls = ("每一族内至少误判一个达标镇的概率不超过 "
                f"{threshold_text(spec.alpha)}" if spec.multiplicity in ("holm", "hochberg")
                else "每一族内被判定的镇中误判的期望比例不超过 "
                f"{threshold_text(spec.alpha)}" if spec.multiplicity == "bh" else "每个检验各自的误判概率")
    return (how + f"多重比较：{family}，用 {method} 方法校正，控制{controls}；校正后 P < {threshold_text(spec.alpha)} 判为“显著偏低”。"
            f"“把握度”是真实比率比标准低 {spec.power_shortfall:.0%} 时本样本能判定偏低的概率："
            "把握度低时，“未被标记”不能理解为“没有问题”。")


def _table(frame: pd.DataFrame, pct_cols: tuple[str, ...] = ()) -> str:
    f = frame.copy()
    for c in f.columns:
        if c in pct_cols:
            f[c] = f[c].map(_pct)
        elif column_kind(c) == P_VALUE:  # "< 0.001" or three decimals, never 4.2e-05
            f[c] = f[c].map(p_text)
        elif f[c].dtype.kind == "f":
            f[c] = f[c].map(lambda x: "—" if pd.isna(x) else f"{x:.3g}")
    return f.to_html(index=False, escape=True, border=0, classes="t")


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
    items = "；".join(html.escape(uncovered_message(k, n, c, "")).removesuffix("，") for k, n, c in found)
    return (f'<p class="note">字体说明：{items}。图中以方框（□）代替这些字符；网页中由浏览器用本机字体显示，'
            "本机字体也没有时显示为方框。</p>")


CSS = """
{font_face}
body { font-family: "QuchiCJK", sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.6; }
h1 { font-size: 1.7em; } h2 { border-bottom: 2px solid #2c7fb8; padding-bottom: .2em; }
table.t { border-collapse: collapse; font-size: .88em; margin: .6em 0 1.2em; }
table.t th, table.t td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; }
table.t th { background: #eef4fa; }
.flag { color: #c0392b; font-weight: bold; } .note { color: #666; font-size: .9em; }
.banner { background: #fff4e5; border: 1px solid #f0b35a; padding: .6em 1em; }
.unverified { background: #fdecea; border: 2px solid #c0392b; color: #8e1b10; font-weight: bold;
              font-size: 1.1em; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
.first-screen { border: 2px solid #2c7fb8; border-radius: 4px; padding: .2em 1.2em .6em;
                margin: 1em 0 1.6em; }
.first-screen h2 { border-bottom: none; margin: .4em 0 .2em; }
.first-screen ul { margin: .2em 0 .5em; padding-left: 1.4em; }
.first-screen li { margin: .1em 0; } .first-screen p { margin: .4em 0; }
.town, td.town, th.town { white-space: nowrap; }
table.t thead { display: table-header-group; }
table.t tr { break-inside: avoid; page-break-inside: avoid; }
@page { size: A4; margin: 18mm 15mm 20mm 15mm; }
@media print {
  body { max-width: none; margin: 0; font-size: 10.5pt; line-height: 1.45; }
  table.t { font-size: 8.5pt; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, .first-screen { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 95mm; }
}
"""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _town(name: str) -> str:
    return f'<span class="town">{html.escape(str(name))}</span>'


def first_screen_html(a: Assessment) -> str:
    """The report's first screen, before the basis, the methods and the tables: the flagged towns,
    each flag's article and evidence on one line, the consequence each article carries
    (第八条, as the flags table states it) and the watch list. It words the findings the
    :class:`Assessment` holds and computes nothing."""
    flags, watch = a.flags, a.watch
    out = ['<section class="first-screen" id="summary">', "<h2>考核结论（摘要）</h2>"]
    if len(flags):
        towns = a.flagged_towns
        articles = "、".join(sorted(set(flags["article"])))
        out.append(f'<p class="flag">{a.year} 年度抽查发现 {len(towns)} 个镇存在考核办法{articles}所列情形：'
                   + "、".join(_town(t) for t in towns) + "。</p>")
        out.append("<ul>" + "".join(
            f"<li><b>{_town(r['town'])}</b>　{html.escape(str(r['article']))}　"
            + ("" if _one_line(r["evidence"]).startswith(str(r["item"]))  # said by the evidence
               else f"{html.escape(str(r['item']))}：") + html.escape(_one_line(r["evidence"]))
            + "</li>" for _, r in flags.iterrows()) + "</ul>")
        out.append("<p><b>处理建议</b>：</p><ul>" + "".join(
            f"<li>{html.escape(str(cons))}（" + "、".join(
                _town(t) for t in dict.fromkeys(flags.loc[flags["consequence"] == cons, "town"]))
            + "）</li>" for cons in dict.fromkeys(flags["consequence"])) + "</ul>")
    else:
        out.append("<p>被标记的镇：无。未发现符合考核办法第七条所列情形、且有统计证据支持的问题。</p>")
    if len(watch):
        out.append(f"<p><b>需关注</b>（{len(watch)} 项，证据尚不足以标记，建议复核）：" + "；".join(
            f"{_town(r['town'])} {html.escape(str(r['item']))}" for _, r in watch.iterrows())
            + "。依据见“三、存在问题”。</p>")
    else:
        out.append("<p><b>需关注</b>：无。</p>")
    out.append('<p class="note">抽查情况、方法、各镇各指标的估计和检验见下文各节。</p></section>')
    return "\n".join(out)


ORGAN_PIPE_NOTE = ("每个柱子是一个抽查村的比率，柱宽与该村应答户数成比例，村按比率从高到低排列；"
                   "虚线为标准，灰带为本镇的置信区间，实线为本镇估计。")


def organ_pipe_figures(a: Assessment) -> list[tuple[str, str, object]]:
    """``(town, caption, draw)`` of each town × indicator flagged under 第七条（四）: its sampled
    villages as an organ-pipe plot (:func:`~quchi_stats.plots.organ_pipe_plot`) from
    :meth:`Assessment.flagged_villages`, for :func:`_figure_png`; the docx draws the same."""
    out = []
    v = a.flagged_villages()
    for (ind_name, town), g in v.groupby(["indicator", "town"], sort=False):
        ind = a.spec.indicator(ind_name)
        r = g.iloc[0]
        caption = f"{a.year} 年{town}{ind.label}：各抽查村比率（柱宽为应答户数）、本镇置信区间与标准"
        out.append((town, caption, lambda p, ax, g=g, r=r, ind=ind, town=town: p.organ_pipe_plot(
            g, threshold=r["threshold"], ci_lower=r["ci_lower"], ci_upper=r["ci_upper"],
            estimate=r["estimate"], label=ind.label, town=town,
            complement=ind.display == "complement", ax=ax)))
    return out


def _organ_pipes_html(a: Assessment) -> str:
    figs = organ_pipe_figures(a)
    if not figs:
        return ""
    return (f"<h3>被标记镇的抽查村（第七条（四））</h3><p>{ORGAN_PIPE_NOTE}</p>"
            + "".join(_img(_figure_png(draw), caption) for _, caption, draw in figs))


def _nowrap_towns(body: str, a: Assessment) -> str:
    """Table cells holding only a town's name (and the 乡镇 headers) marked so as not to wrap."""
    names = {*a.estimates.get("town", ()), *a.response.get("town", ()), *a.flags.get("town", ()),
             DISTRICT}
    for name in sorted((str(n) for n in names if isinstance(n, str) and n), key=len, reverse=True):
        body = body.replace(f"<td>{html.escape(name)}</td>", f'<td class="town">{html.escape(name)}</td>')
    return body.replace("<th>乡镇</th>", '<th class="town">乡镇</th>')


def build_html(a: Assessment, *, synthetic: bool = False) -> str:
    """The whole report as one HTML string."""
    from ..plots.fonts import font_face_css

    spec = a.spec
    y = a.year
    tables = shown_tables(report_tables(a), spec.county)
    district = district_label(spec.county)
    est = a.estimates
    parts: list[str] = []
    add = parts.append
    add(f"<h1>{html.escape(report_title(a))}</h1>")
    if not a.verified:
        add(f'<p class="banner unverified" role="alert">{html.escape(UNVERIFIED_ZH)}</p>')
    if synthetic:
        add('<p class="banner">本报告使用<b>合成数据</b>（quchi_stats 生成的模拟数据），仅用于演示和检验方法，'
            "不反映任何真实乡镇的情况。</p>")
    if a.notes:  # checks the data did not allow (an absent self-assessment or targets file)
        add('<p class="banner">本报告未进行的检查：' + "；".join(html.escape(n) for n in a.notes)
            + "</p>")
    add(first_screen_html(a))
    ov = a.overview
    add("<h2>一、基本情况</h2>")
    add(f"<p>{html.escape(a.spec.county or COUNTY_UNNAMED)} {ov['towns']} 个有扶贫任务的镇、{ov['villages']} 个行政村、{ov['households']:,} 户农户；截至 {y} 年底建档立卡 "
        f"{ov['registered']:,} 户，当年退出 {ov['exits']:,} 户。按考核办法第六条（二）“按照一定比例入村入户抽查”，"
        f"本年度抽查 {ov['sampled_villages']} 个行政村、正选 {ov['primary']} 户，实际走访（含替补）{ov['visited']} 户。"
        "各镇为层，镇内按建档立卡户数与规模成比例抽村，村内分建档立卡户、当年退出户、非建档立卡户三个抽样框等距抽户；"
        "无法入户的户由备选户替补，并在“村×抽样框”内调整权数。</p>")
    add(_table(tables["应答情况"], ("正选应答率",)))
    if ov.get("rejects"):
        add(f"<p>有 {ov['rejects']} 户已入户但缺少所属抽样框的核查结果，未计入相应指标，清单见 rejects.csv。</p>")

    add("<h2>二、指标分析</h2>")
    add(f"<p>{html.escape(methods_text(spec, est))}</p>")
    for ind in spec.indicators:
        sub = est[est["indicator"] == ind.name]
        if sub.empty:
            continue
        add(f"<h3>{html.escape(ind.label)}（标准：{html.escape(ind.reported_as)}）</h3>")
        add(f'<p class="note">依据：{html.escape(ind.source)}</p>')
        t = tables["估计结果"]
        t = t[t["指标"] == ind.label][["乡镇", "估计值", "置信下限", "置信上限", "样本户数", "自由度",
                                        "设计效应", "校正后P值", "判定", "把握度"]]
        add(_table(t, ("估计值", "置信下限", "置信上限", "把握度")))
        rows = shown_district(sub, spec.county, "town")  # the total row as readers call it
        add(_img(_figure_png(lambda p, ax, sub=rows, ind=ind: p.forest_plot(
            sub, threshold=ind.threshold, label=ind.label, complement=ind.display == "complement",
            ax=ax)), f"{y} 年各镇{ind.label}及置信区间"))
        if "收缩估计" in tables:
            status = a.shrinkage.loc[a.shrinkage["indicator"] == ind.name, "between_status"]
            eb = tables["收缩估计"]
            eb = eb[(eb["指标"] == ind.label) & (eb["低于标准的后验概率"] >= 0.5)]
            if len(status) and status.iloc[0] != BETWEEN_ESTIMATED:
                add(f"<p>经验贝叶斯（beta-二项）收缩：{html.escape(eb_status(status.iloc[0], spec.county))}。</p>")
            elif len(eb):
                add("<p>经验贝叶斯（beta-二项）收缩后，低于标准的后验概率不小于 50% 的镇：</p>")
                add(_table(eb[["乡镇", "抽查估计", "收缩估计", "收缩下限", "收缩上限", "低于标准的后验概率"]],
                           ("抽查估计", "收缩估计", "收缩下限", "收缩上限", "低于标准的后验概率")))
        if ind.name in a.funnel and ind.name == "satisfaction_rate":
            f = a.funnel[ind.name]
            add(_img(_figure_png(lambda p, ax, f=f, ind=ind: p.funnel_plot(
                f, f.attrs["theta0"], label=ind.label, district=district, ax=ax)),
                f"{ind.label}漏斗图（与{district}水平比较）"))
        if len(a.history) and a.history["year"].nunique() > 1:
            h = shown_district(a.history[a.history["indicator"] == ind.name], spec.county, "town")
            add(_img(_figure_png(lambda p, ax, h=h, ind=ind: p.trend_plot(
                h, label=ind.label, threshold=ind.threshold, district=district,
                complement=ind.display == "complement", ax=ax)), f"{ind.label} 年度变化"))
    if "年度变化" in tables:
        ch = tables["年度变化"]
        sig = ch[ch["变化显著"]]
        add("<h3>与上年相比</h3>")
        if len(sig):
            add("<p>以下变化的置信区间（MOVER 方法）不含 0：</p>")
            add(_table(sig.drop(columns=["指标代码"]), ("上年估计", "本年估计", "变化", "变化置信下限",
                                                        "变化置信上限")))
        else:
            add("<p>各镇各指标与上年相比均无统计上可确认的变化。</p>")

    add("<h2>三、存在问题</h2>")
    if a.followup is not None:
        from .followup import followup_html

        add(followup_html(a, tables["两阶段复核"], _table))
    if len(a.flags):
        add('<p class="flag">以下情形符合考核办法第七条（或第九条），建议按第八条处理：</p>')
        add(_table(tables["标记"]))
        add(_organ_pipes_html(a))
    else:
        add("<p>未发现符合第七条所列情形、且有统计证据支持的问题。</p>")
    if len(a.watch):
        add("<h3>需要关注（证据尚不足以标记，建议复核）</h3>")
        add(_table(tables["需关注"]))
    if len(a.bunching):
        add("<h3>“数字脱贫”检验：退出户收入是否集中在退出线上方</h3>")
        add(f"<p>对当年退出、有劳动能力的户，比较退出线（{spec.exit_line:.0f} 元）上方 {spec.bunching_window:.0f} 元以内的户数"
            "与平滑分布的预期户数（窗口外拟合多项式，参数自助法求 P 值，镇间 Holm 校正）。</p>")
        add(_table(tables["收入集中检验"]))
        flagged = a.bunching[a.bunching["p_adjusted"] < spec.alpha]["town"].tolist()
        for town in flagged:
            inc = a.incomes[a.incomes["town"] == town]["relative_income"].to_numpy()
            add(_img(_figure_png(lambda p, ax, inc=inc, town=town: p.income_histogram(
                inc, window=spec.bunching_window, title=f"{town} {y} 年退出户收入分布", ax=ax)),
                f"{town}退出户人均收入与退出线之差"))
    if "减贫任务" in tables:
        add("<h3>年度减贫任务</h3>")
        add(_table(tables["减贫任务"]))
    if "自评对照" in tables:
        add("<h3>乡镇自评与抽查核实</h3>")
        add(_table(tables["自评对照"], ("自评值", "自评（正向比率）", "核实估计（正向比率）", "置信下限", "置信上限")))

    add("<h2>四、综合评价</h2>")
    towns = [t for t in est["town"].unique() if t != DISTRICT]
    flagged_towns = set(a.flags["town"]) if len(a.flags) else set()
    low = est[(est["class"] == CLASS_LOW) & (est["town"] != DISTRICT)]
    items = []
    for t in towns:
        if t in flagged_towns:
            arts = "、".join(sorted(set(a.flags.loc[a.flags["town"] == t, "article"])))
            items.append(f"<li><b>{html.escape(t)}</b>：存在{arts}所列情形，考核评价为“存在问题”。</li>")
        else:
            n_low = int((low["town"] == t).sum())
            extra = f"；有 {n_low} 项指标点估计低于标准但不显著，需关注" if n_low else ""
            items.append(f"<li><b>{html.escape(t)}</b>：未发现第七条所列情形{extra}。</li>")
    add("<ul>" + "".join(items) + "</ul>")
    weak = est[(est["town"] != DISTRICT) & (est["power"] < 0.5)]
    if len(weak):
        add(f'<p class="note">说明：{len(weak)} 个“镇×指标”组合的检验把握度低于 50%，本年度样本不足以对这些组合作出'
            "“没有问题”的结论。</p>")

    add("<h2>五、处理建议</h2>")
    if len(a.flags):
        recs = []
        for t in sorted(flagged_towns, key=lambda x: towns.index(x) if x in towns else 99):
            f = a.flags[a.flags["town"] == t]
            cons = "；".join(sorted(set(f["consequence"])))
            recs.append(f"<li><b>{html.escape(t)}</b>：{html.escape('、'.join(f['item']))}。建议：{html.escape(cons)}。</li>")
        add("<ol>" + "".join(recs) + "</ol>")
    if len(a.watch):
        add("<p>对“需要关注”的镇和村，建议组织复核入户，并在下年度抽查中适当增加这些镇的抽查村数和户数。</p>")
    sig_count = int((est["class"] == CLASS_SIGNIFICANT).sum())
    add(f'<p class="note">本报告由 quchi_stats 生成：{sig_count} 个镇×指标组合显著偏低；所有标记均有统计检验支持，'
        "不以点估计单独作为标记依据。方法说明见项目文档 docs/estimation.md。</p>")
    body = "\n".join(parts)
    body = _nowrap_towns(body, a)
    body += _font_note(a, body)
    css = CSS.replace("{font_face}", font_face_css(body))
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"/>'
            f"<title>{html.escape(report_title(a))}</title><style>{css}</style></head>"
            f"<body>{body}</body></html>\n")


def _xlsx_bytes(tables: dict[str, pd.DataFrame], title: str) -> bytes:
    from .xlsx import workbook_bytes  # 摘要 first, formats for readers; cells never formulas

    return workbook_bytes(tables, title)


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
        page = build_html(a, synthetic=synthetic)
        files = [
            ("estimates.csv", csv_bytes(tables["估计结果"])),
            *([("rejects.csv", csv_bytes(tables["未计入的记录"]))] if "未计入的记录" in tables
              else []),
            ("flags.csv", csv_bytes(tables["标记"])),
            ("考核报告.xlsx", _xlsx_bytes(shown, report_title(a))),
            (REPORT_NAME, page.encode("utf-8")),
            (DOCX_NAME, docx_bytes(a, shown, synthetic=synthetic, drawn=figures_in_html(page))),
        ]
        for name, data in files:
            atomic_write_bytes(stage.path / name, data)
    return [out / name for name, _ in files]
