"""The report's two-phase 复核 section: for each followed-up town × indicator, phase 1, phase 2, the
combined decision and what the follow-up cost (HTML section, the 两阶段复核 sheet, the flags
columns). Only used when the data directory has ``followup_YYYY/`` (docs/followup.md)."""

from __future__ import annotations

import pandas as pd

from ..followup.combine import STAGE_ZH
from ..followup.rule import frames_needed, screen_levels_text
from ..io.schema import FRAMES as FRAME_LABELS
from ..labels import threshold_text

__all__ = ["FLAG_COLUMNS_ZH", "PERCENT_COLUMNS", "followup_context", "followup_table"]

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


def followup_context(a, table) -> dict[str, object]:
    """What ``templates/followup.html`` words: the rule's parameters and the 复核's size, as text
    (``table`` is the 复核 table the report shows, a :class:`~quchi_stats.report.render.Table`)."""
    fu = a.followup
    rule, spec = fu.rule, a.spec
    towns = fu.costs
    extra = int(towns["households"].sum())
    p1_total = int(a.overview.get("primary", 0))
    out: dict[str, object] = {
        "method": rule.method, "table": table, "alpha": threshold_text(spec.alpha),
        "family": ("每个指标的各镇为一族" if spec.multiplicity_family == "indicator"
                   else "全部 镇×指标 为一族"),
        "towns": len(towns), "villages": int(towns["villages"].sum()), "households": extra,
        "phase1": p1_total, "extra_share": f"{extra / p1_total:.1%}" if p1_total else ""}
    if rule.method == "conditional":
        frames = "、".join(FRAME_LABELS.get(f, f) for f in rule.census_frames)
        out |= {
            "labels": "、".join(spec.indicator(i).label for i in rule.indicators),
            "futility": screen_levels_text(rule, spec),
            "per_village": "、".join(f"{FRAME_LABELS.get(k, k)} {rule.households[k]} 户"
                                     for k in frames_needed(rule.indicators, spec)
                                     if k not in rule.census_frames),
            "census": f"（{frames}全部入户）" if frames else "",
            "share": threshold_text(round(fu.share, 4)),
            "level_followup": threshold_text(round(spec.alpha * fu.share, 6)),
            "level_rest": threshold_text(round(spec.alpha * (1 - fu.share), 6))}
    else:
        out |= {
            "stop": threshold_text(rule.alpha_stop), "futility": threshold_text(rule.alpha_futility),
            "max_villages": rule.villages, "weight_phase1": f"{rule.weight_phase1:g}",
            "weight_phase2": f"{rule.weight_phase2:.4g}", "critical": f"{fu.critical:.3f}"}
    return out


#: The 复核 table's columns the HTML shows as percentages.
PERCENT_COLUMNS = ("第一阶段估计", "复核增加比例", "两阶段估计", "两阶段置信下限", "两阶段置信上限")
