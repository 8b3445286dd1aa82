"""The evidence sentences of the flags and the watch list, written from the findings tables.

:func:`flag_table` turns the findings (:mod:`quchi_stats.findings`) into the flags table the report
shows (``town``, ``article``, ``item``, ``evidence``, ``consequence``), and :func:`watch_table` the
watch list (``town``, ``item``, ``evidence``). Every number in a sentence comes from a findings
table; the decisions (which town is flagged) are the findings' verdicts, never re-taken here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .findings import Findings
from .io.schema import order_towns
from .labels import FLAG_VERDICTS, Article, Verdict, article_label, district_label, p_statement
from .spec import AssessmentSpec

__all__ = ["CONSEQUENCES", "FLAG_COLUMNS", "WATCH_COLUMNS", "flag_table", "watch_table"]

#: What a flag under each article leads to (第八条, 第九条).
CONSEQUENCES = {
    "第七条（四）": "第八条：约谈镇主要负责人，限期整改，整改情况纳入下年度考核",
    "第七条（一）": "第八条：约谈镇主要负责人，考核结果纳入干部综合考核评价",
    "第七条（三）": "第八条：约谈镇主要负责人，核查“数字脱贫”并追究责任",
    "第九条": "第九条：对数据失真予以通报，核实后据实调整考核结果",
}

FLAG_COLUMNS = ["town", "article", "item", "evidence", "consequence"]
WATCH_COLUMNS = ["town", "item", "evidence"]

_FLAGS = [v.value for v in FLAG_VERDICTS]


def _flagged(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["class"].isin(_FLAGS)]


def _threshold_evidence(r: pd.Series, spec: AssessmentSpec, followup: object) -> str:
    """第七条（四）: the town's rate, interval, one-sided bound, standard, adjusted p, sample."""
    ind = spec.indicator(r["indicator"])
    if followup is not None:
        from .followup.final import conditional_evidence

        # the 复核 functions read the phase-1 row as the estimates table holds it
        row = pd.Series({"town": r["town"], "indicator": r["indicator"],
                         "estimate": r["estimate"], "n": r["n"], "df": r["df"]})
        two_phase = conditional_evidence(followup, row, spec)  # decided by the 复核
        if two_phase is not None:
            return two_phase
    shown = ind.shown(r["estimate"])
    lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
    bound = ""
    if pd.notna(r["upper_one_sided"]):
        side = "下限" if ind.display == "complement" else "上限"
        bound = f"，单侧 {1 - spec.alpha:.0%} {side} {ind.shown(r['upper_one_sided']):.1%}"
    return (f"{ind.label} {shown:.1%}（{spec.level:.0%} 置信区间 {lo:.1%}–{hi:.1%}{bound}），标准 "
            f"{ind.comparison} {ind.shown_threshold:.0%}；校正后单侧 {p_statement(r['p_adjusted'])}，"
            f"样本 {int(r['n'])} 户、{int(r['villages'])} 个村"
            + ("" if followup is None else _suffix(followup, r, spec)))


def _suffix(followup: object, r: pd.Series, spec: AssessmentSpec) -> str:
    from .followup.final import evidence_suffix

    return evidence_suffix(followup, r["town"], r["indicator"], spec)


def _target_evidence(r: pd.Series) -> str:
    return (f"计划脱贫 {int(r['planned_exit_households'])} 户 "
            f"{int(r['planned_exit_persons'])} 人，"
            f"台账登记退出 {int(r['exit_households'])} 户 {int(r['exit_persons'])} 人，核实退出约 "
            f"{r['verified_households']:.0f} 户（上限 {r['verified_households_upper']:.0f} 户）")


def _bunching_evidence(r: pd.Series, villages: pd.DataFrame, spec: AssessmentSpec) -> str:
    vs = villages[(villages["town"] == r["town"])
                  & (villages["class"] == Verdict.CONCENTRATED_VILLAGE.value)]
    where = "、".join(vs["village"]) if len(vs) else "未集中在个别村"
    return (f"有劳动能力的当年退出户中 {int(r['in_window'])} 户（共 {int(r['n'])} 户）人均收入在退出线"
            f"上方 {spec.bunching_window:.0f} 元以内，平滑分布预期约 {r['expected']:.1f} 户；"
            f"校正后 {p_statement(r['p_adjusted'])}；集中的村：{where}")


def _self_report_evidence(r: pd.Series, spec: AssessmentSpec) -> tuple[str, str]:
    ind = spec.indicator(r["indicator"])
    lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
    return f"自评{ind.label}", (
        f"自评{ind.label} {ind.shown(r['reported_good']):.1%}，抽查核实 {ind.shown(r['estimate']):.1%}"
        f"（{spec.level:.0%} 置信区间 {lo:.1%}–{hi:.1%}）；自评与抽查不符的校正后 "
        f"{p_statement(r['p_adjusted'])}")


def flag_table(findings: Findings, spec: AssessmentSpec, order: list[str],
               followup: object = None) -> pd.DataFrame:
    """The flags: one row per finding whose verdict flags a town, with its evidence sentence and
    consequence, towns in ``order`` (then the article's words, then as found). ``followup`` (a
    :class:`~quchi_stats.followup.final.FollowupResult`) words the 第七条（四） evidence of the
    two-phase 复核."""
    rows = []

    def add(town: str, article: Article, item: str, evidence: str) -> None:
        label = article_label(article)
        rows.append({"town": town, "article": label, "item": item, "evidence": evidence,
                     "consequence": CONSEQUENCES[label]})

    for _, r in _flagged(findings.threshold).iterrows():
        add(r["town"], Article.THRESHOLD, spec.indicator(r["indicator"]).label,
            _threshold_evidence(r, spec, followup))
    for _, r in _flagged(findings.targets).iterrows():
        add(r["town"], Article.TARGETS, "年度减贫任务", _target_evidence(r))
    bunching = findings.bunching
    for _, r in _flagged(bunching).iterrows():
        add(r["town"], Article.BUNCHING, "数字脱贫迹象", _bunching_evidence(r, bunching, spec))
    for _, r in _flagged(findings.self_report).iterrows():
        add(r["town"], Article.SELF_REPORT, *_self_report_evidence(r, spec))
    out = pd.DataFrame(rows, columns=FLAG_COLUMNS)
    if len(out):
        rank = {t: i for i, t in enumerate(order_towns(out["town"], order))}
        out = out.iloc[np.lexsort((out["article"], out["town"].map(rank)))].reset_index(drop=True)
    return out


def watch_table(findings: Findings, spec: AssessmentSpec) -> pd.DataFrame:
    """The watch list in words, one row per watch finding, in the findings' order."""
    rows = []
    for _, r in findings.watch.iterrows():
        ind = spec.indicator(r["indicator"])
        if r["class"] == Verdict.WATCH_LOW.value:
            reasons = []
            if r["unadjusted"]:
                reasons.append(f"未校正单侧 {p_statement(r['p_value'])}")
            if r["below_funnel"]:
                reasons.append(f"低于漏斗图 99.8% 下限（显著低于{district_label(spec.county)}水平）")
            lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
            rows.append({"town": r["town"], "item": ind.label,
                         "evidence": f"{ind.label} {ind.shown(r['estimate']):.1%}（{lo:.1%}–{hi:.1%}），"
                                     f"标准 {ind.comparison} {ind.shown_threshold:.0%}；"
                                     + "；".join(reasons)
                                     + (f"；本样本发现比标准低 {spec.power_shortfall:.0%} 的把握度仅 "
                                        f"{r['power']:.0%}" if pd.notna(r["power"]) else "")})
        else:  # a village where a problem clusters
            rows.append({"town": r["town"], "item": f"{ind.label}集中",
                         "evidence": f"{r['village']}抽查 {int(r['n'])} 户中 {int(r['cases'])} 户"
                                     f"{ind.label.removesuffix('率')}，其他村比例 {r['reference_rate']:.1%}；"
                                     f"校正后 {p_statement(r['p_adjusted'])}"})
    return pd.DataFrame(rows, columns=WATCH_COLUMNS)
