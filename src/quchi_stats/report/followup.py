"""The report's two-phase 复核 section: for each followed-up town × indicator, phase 1, phase 2, the
combined decision and what the follow-up cost (HTML section, the 两阶段复核 sheet, the flags
columns). Only used when the data directory has ``followup_YYYY/`` (docs/followup.md)."""

from __future__ import annotations

import pandas as pd

from ..followup.rule import frames_needed, screen_levels_text
from ..io.schema import FRAMES as FRAME_LABELS
from ..labels import Stage, Verdict, code_label, column_labels, threshold_text
from .render import prose

__all__ = ["FLAG_COLUMNS", "FLAG_COLUMNS_ZH", "PERCENT_COLUMNS", "TABLE_COLUMNS", "flags_worded",
           "followup_context", "followup_table"]

#: The columns :func:`~quchi_stats.followup.final.flag_columns` adds to the flags table.
FLAG_COLUMNS = ("followup_stage", "p_phase1", "p_phase2", "p_adjusted_two_phase", "followup_villages",
                "followup_households")

#: Their Chinese headers, from the label registry (:func:`quchi_stats.labels.column_labels`).
FLAG_COLUMNS_ZH = {c: column_labels()[c] for c in FLAG_COLUMNS}

#: The 复核 table's canonical columns, in order (headers: ``column_labels("followup")``).
TABLE_COLUMNS = ("town", "label", "threshold", "estimate", "p_phase1", "followup_villages",
                 "followup_households", "followup_visited", "households_phase1", "extra_share",
                 "p_phase2", "estimate_two_phase", "ci_lower", "ci_upper", "z", "p_overall",
                 "p_adjusted", "followup_stage", "class")


def flags_worded(flags: pd.DataFrame) -> pd.DataFrame:
    """The flags table with its 复核 stage codes in words (columns stay canonical; their headers
    are :data:`FLAG_COLUMNS_ZH`)."""
    out = flags.copy()
    if "followup_stage" in out:
        out["followup_stage"] = out["followup_stage"].map(lambda c: code_label(Stage, c))
    return out


def followup_table(a) -> pd.DataFrame:
    """One row per screened town × indicator, canonical columns (:data:`TABLE_COLUMNS`; headers:
    ``column_labels("followup")``); rates as the indicator shows them (错退率 and 漏评率 as
    1 − rate), fractions (the HTML shows percentages)."""
    fu = a.followup
    rows = []
    for _, r in fu.findings.iterrows():
        ind = a.spec.indicator(r["indicator"])
        lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
        rows.append(dict(zip(TABLE_COLUMNS, (
            r["town"], ind.label, f"{ind.comparison} {ind.shown_threshold:.0%}",
            ind.shown(r["estimate"]), r["p1"], int(r["villages"]), int(r["households"]),
            int(r["visited"]), int(r["households_phase1"]), r["extra_share"], r["p2"],
            ind.shown(r["estimate_two_phase"]), lo, hi, r["z"], r["p_overall"], r["p_adjusted"],
            code_label(Stage, r["stage"]), code_label(Verdict, r["class"])), strict=True)))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


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
        "family": prose("family_text", family=spec.multiplicity_family),  # as the methods say it
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
PERCENT_COLUMNS = ("estimate", "extra_share", "estimate_two_phase", "ci_lower", "ci_upper")
