"""The report's two-phase 复核 section: for each followed-up town × indicator, phase 1, phase 2, the
combined decision and what the follow-up cost (HTML section, the 两阶段复核 sheet, the flags
columns). Only used when the data directory has ``followup_YYYY/`` (docs/followup.md)."""

from __future__ import annotations

import html

import pandas as pd

from ..followup.combine import STAGE_ZH
from ..followup.rule import frames_needed
from ..io.schema import FRAMES as FRAME_LABELS
from ..labels import threshold_text

__all__ = ["FLAG_COLUMNS_ZH", "followup_html", "followup_table"]

#: Chinese headers of the columns :func:`~quchi_stats.followup.final.flag_columns` adds.
FLAG_COLUMNS_ZH = {"followup_stage": "判定阶段", "p_phase1": "第一阶段P值", "p_phase2": "复核P值",
                   "p_adjusted_two_phase": "两阶段合并校正后P值", "followup_villages": "复核新抽村数",
                   "followup_households": "复核入户数"}


def flags_zh(flags: pd.DataFrame) -> pd.DataFrame:
    """The flags table's 复核 columns in Chinese (stage codes in words, counts as integers)."""
    out = flags.copy()
    if "followup_stage" in out:
        out["followup_stage"] = out["followup_stage"].map(STAGE_ZH).fillna("")
    return out.rename(columns=FLAG_COLUMNS_ZH)


def followup_table(a) -> pd.DataFrame:
    """One row per screened town × indicator, Chinese headers; rates as the indicator shows them
    (错退率 and 漏评率 as 1 − rate), fractions (the HTML shows percentages)."""
    fu = a.followup
    rows = []
    for _, r in fu.findings.iterrows():
        ind = a.spec.indicator(r["indicator"])
        lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
        rows.append({
            "乡镇": r["town"], "指标": ind.label,
            "标准": f"{ind.comparison} {ind.shown_threshold:.0%}",
            "第一阶段估计": ind.shown(r["estimate"]), "第一阶段P值": r["p1"],
            "复核新抽村数": int(r["villages"]), "复核入户数": int(r["households"]),
            "复核实际走访户数": int(r["visited"]),
            "第一阶段入户数": int(r["households_phase1"]), "复核增加比例": r["extra_share"],
            "复核P值": r["p2"], "两阶段估计": ind.shown(r["estimate_two_phase"]),
            "两阶段置信下限": lo, "两阶段置信上限": hi, "合并Z值": r["z"],
            "总体P值": r["p_overall"], "校正后P值": r["p_adjusted"],
            "判定阶段": STAGE_ZH.get(r["stage"], r["stage"]), "判定": r["class"]})
    return pd.DataFrame(rows)


def followup_html(a, table: pd.DataFrame, render) -> str:
    """The HTML section (``render(frame, pct_cols)`` is the report's table renderer)."""
    fu = a.followup
    rule = fu.rule
    spec = a.spec
    family = ("每个指标的各镇为一族" if spec.multiplicity_family == "indicator"
              else "全部 镇×指标 为一族")
    towns = fu.costs
    stop, futility = threshold_text(rule.alpha_stop), threshold_text(rule.alpha_futility)
    extra = int(towns["households"].sum())
    p1_total = int(a.overview.get("primary", 0))
    if rule.method == "conditional":
        return _conditional_html(a, table, render, family)
    parts = ["<h3>两阶段复核（事先登记的规则）</h3>",
             "<p>" + html.escape(
                 f"复核规则在第一阶段抽样时登记入抽样清单（之后不能改动）：第一阶段单侧 P ≤ {stop} 的"
                 f"镇×指标直接按第一阶段判定，{stop} < P ≤ {futility} 的进入复核，"
                 f"在该镇第一阶段未抽到的村中再抽至多 {rule.villages} 个村入户；复核检验只用新抽村的户（P2），"
                 f"与第一阶段的 P1 按事先固定的权重合并：Z = {rule.weight_phase1:g} × z(P1) + "
                 f"{rule.weight_phase2:.4g} × z(P2)（z(P) 为标准正态分布的上侧 P 分位数），"
                 f"单个检验在 Z ≥ {fu.critical:.3f} 时水平恰为 "
                 f"{threshold_text(spec.alpha)}。每个镇×指标的“总体P值”对整个两阶段程序有效，再与其余镇×指标一起"
                 f"（{family}）按考核参数的方法校正，所以误判任一达标镇的概率对两阶段程序整体仍不超过 "
                 f"{threshold_text(spec.alpha)}。") + "</p>",
             "<p>" + html.escape(
                 f"本年度复核 {len(towns)} 个镇、新抽 {int(towns['villages'].sum())} 个村、入户 {extra} 户"
                 + (f"（第一阶段正选 {p1_total} 户的 {extra / p1_total:.1%}）" if p1_total else "")
                 + "。“两阶段估计”把第一阶段已抽村（在给定第一阶段时是必然入样的村）按户的入样概率加权，"
                   "新抽村再按其在未抽村中的条件入样概率加权：复核是因第一阶段结果偏低而启动的，"
                   "第一阶段估计在这种情况下往往偏低，两阶段估计在给定第一阶段时（除已抽村内抽户的误差外）无偏，"
                   "模拟见 docs/followup.md。本表以外的指标仍按第一阶段估计。") + "</p>"]
    parts.append(render(table, ("第一阶段估计", "复核增加比例", "两阶段估计", "两阶段置信下限",
                                "两阶段置信上限")))
    return "\n".join(parts)


def _conditional_html(a, table: pd.DataFrame, render, family: str) -> str:
    """The section for the conditional method (docs/followup.md)."""
    fu = a.followup
    rule, spec = fu.rule, a.spec
    towns = fu.costs
    extra = int(towns["households"].sum())
    p1_total = int(a.overview.get("primary", 0))
    frames = "、".join(FRAME_LABELS.get(f, f) for f in rule.census_frames)
    census = f"（{frames}全部入户）" if frames else ""
    labels = "、".join(spec.indicator(i).label for i in rule.indicators)
    parts = ["<h3>两阶段复核（事先登记的规则）</h3>",
             "<p>" + html.escape(
                 f"复核规则在第一阶段抽样时登记入抽样清单（之后不能改动）：{labels}的第一阶段单侧 P ≤ "
                 f"{threshold_text(rule.alpha_futility)} 的镇进入复核，在该镇全部行政村中、从第一阶段没有核查到的户里"
                 f"每村再抽{'、'.join(f'{FRAME_LABELS.get(k, k)} {rule.households[k]} 户' for k in frames_needed(rule.indicators, spec) if k not in rule.census_frames)}"
                 f"{census}。第一阶段已核查的户是全镇的已知部分，复核户是其余户的概率样本，所以给定第一阶段，"
                 f"可以直接检验全镇当年的实际比率是否低于标准（条件检验）：第一阶段的偶然偏低不会带入复核判定。"
                 f"规则内的指标只有经过复核才可能判定为显著偏低；复核判定在被复核的镇×指标之间按考核参数的方法校正，"
                 f"水平为 {threshold_text(spec.alpha)} × {threshold_text(round(fu.share, 4))} = "
                 f"{threshold_text(round(spec.alpha * fu.share, 6))}，其余镇×指标按第一阶段判定，"
                 f"水平为其余的 {threshold_text(round(spec.alpha * (1 - fu.share), 6))}（{family}）：误判任一达标镇的概率对两阶段程序整体"
                 f"不超过 {threshold_text(spec.alpha)}。") + "</p>",
             "<p>" + html.escape(
                 f"本年度复核 {len(towns)} 个镇、{int(towns['villages'].sum())} 个村、入户 {extra} 户"
                 + (f"（第一阶段正选 {p1_total} 户的 {extra / p1_total:.1%}）" if p1_total else "")
                 + "。“两阶段估计”是全镇当年的实际比率：第一阶段已核查户的结果加上其余户按复核样本的估计，"
                   "给定第一阶段无偏；区间由同一条件检验反推。本表以外的指标仍按第一阶段估计。") + "</p>"]
    parts.append(render(table, ("第一阶段估计", "复核增加比例", "两阶段估计", "两阶段置信下限",
                                "两阶段置信上限")))
    return "\n".join(parts)
