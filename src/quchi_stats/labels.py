"""Words for readers that the computing layers also need: the Chinese header of every column people
read (one registry, one spelling), how a P value is written, how a threshold is written without
scientific notation, and what the district's total row is called.

The headers of every table people read — the report's HTML, xlsx and CSV files, the command line
and the notebooks — come from :func:`column_labels`: :data:`COLUMN_LABELS_ZH` says each canonical
column once, and :data:`TABLE_LABELS_ZH` only where the same canonical name reads otherwise in one
table (the shrinkage table's ``estimate`` is the 抽查估计 beside the 收缩估计). Every result object
offers them as ``to_frame(chinese=True)``.

>>> column_labels()["p_value"], column_labels("bunching")["p_value"], column_labels()["unreachable"]
('单侧P值', 'P值', '无法入户')

Standard library only (the base layer): :mod:`~quchi_stats.assessment` writes its evidence sentences
with these, and the report (HTML, xlsx, docx), the CLI and the flags' ``evidence`` text all use the
same functions, so a P value is worded one way everywhere. Numeric columns (``p_value``,
``p_adjusted``, …) stay numbers; only text is formatted here.

A P value reads ``P < 0.001`` below 0.001 and with three decimals otherwise; never ``4.2e-05``:

>>> p_statement(4.2e-05), p_statement(0.01234), p_statement(0.5, "P1"), p_text(0.0009996)
('P < 0.001', 'P = 0.012', 'P1 = 0.500', '< 0.001')
>>> threshold_text(6.25e-05), threshold_text(0.05), threshold_text(1 / 3)
('0.0000625', '0.05', '0.3333')
>>> district_label("曲江区"), district_label("某某县"), district_label("乐昌市"), district_label("")
('全区', '全县', '全市', '全县（区）')
"""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "ARTICLE_LABELS",
    "CODE_LABELS",
    "COLUMN_LABELS_ZH",
    "DISTRICT",
    "DISTRICT_UNNAMED",
    "DISTRICT_WORDS",
    "EB_STATUS_LABELS_ZH",
    "FLAG_VERDICTS",
    "FRAME_LABELS_ZH",
    "FRAME_SHORT_LABELS_ZH",
    "FUNNEL_POSITION_LABELS",
    "LQAS_LABELS",
    "P_FLOOR",
    "STAGE_LABELS",
    "TABLE_LABELS_ZH",
    "TABLE_TITLES_ZH",
    "UNIT_LABELS_ZH",
    "VERDICT_LABELS",
    "Article",
    "FunnelPosition",
    "LqasClass",
    "Stage",
    "Verdict",
    "article_label",
    "code_label",
    "column_labels",
    "district_label",
    "p_statement",
    "p_text",
    "table_column_labels",
    "table_title",
    "threshold_text",
    "verdict_label",
]

# --------------------------------------------------------------------------------------------
# the codes of the findings tables (quchi_stats.findings), and the one label each is shown with

class Article(StrEnum):
    """Article codes of the findings tables (their ``article`` column holds the values)."""

    TARGETS = "7.1"          # 第七条（一）: the year's exit targets
    BUNCHING = "7.3"         # 第七条（三）: 数字脱贫 (exited incomes bunched above the line)
    THRESHOLD = "7.4"        # 第七条（四）: a town significantly below a standard
    SELF_REPORT = "9"        # 第九条: a self-assessment above the verified interval
    WATCH = "watch"          # the watch list: evidence short of a flag
    HISTORY = "history"      # the change from the previous year


class Verdict(StrEnum):
    """Class codes of the findings tables (their ``class`` column holds the values)."""

    SIGNIFICANT = "significant"            # 7.4: significantly below the standard (a flag)
    BELOW = "below"                        # 7.4: below the standard, not significantly
    COMPLIANT = "compliant"                # 7.4: at or above the standard
    REGISTERED_SHORT = "registered_short"  # 7.1: registered exits short of the plan (a flag)
    VERIFIED_SHORT = "verified_short"      # 7.1: verified exits' upper bound short (a flag)
    TARGET_MET = "target_met"              # 7.1
    BUNCHED = "bunched"                    # 7.3: excess just above the line (a flag)
    NOT_BUNCHED = "not_bunched"            # 7.3
    CONCENTRATED_VILLAGE = "concentrated_village"  # 7.3: a village where the excess sits
    ABOVE_INTERVAL = "above_interval"      # 9: self-assessment above the interval (a flag)
    CONSISTENT = "consistent"              # 9
    WATCH_LOW = "watch_low"                # watch: below, p < alpha unadjusted or funnel
    WATCH_CLUSTER = "watch_cluster"        # watch: a village where a problem clusters
    INCREASE = "increase"                  # history: significantly up from the previous year
    DECREASE = "decrease"                  # history: significantly down
    NO_CHANGE = "no_change"                # history


#: The verdicts that flag a town (a row of the flags table).
FLAG_VERDICTS = frozenset({Verdict.SIGNIFICANT, Verdict.REGISTERED_SHORT, Verdict.VERIFIED_SHORT,
                           Verdict.BUNCHED, Verdict.ABOVE_INTERVAL})

#: How the flags table names each article that can flag a town.
ARTICLE_LABELS = {Article.TARGETS: "第七条（一）", Article.BUNCHING: "第七条（三）",
                  Article.THRESHOLD: "第七条（四）", Article.SELF_REPORT: "第九条"}

#: The words of each verdict (the estimates' ``class`` column shows the first three).
VERDICT_LABELS = {
    Verdict.SIGNIFICANT: "显著偏低", Verdict.BELOW: "低于标准但不显著", Verdict.COMPLIANT: "达标",
    Verdict.REGISTERED_SHORT: "登记退出未达计划", Verdict.VERIFIED_SHORT: "核实退出（上限）未达计划",
    Verdict.TARGET_MET: "完成计划", Verdict.BUNCHED: "数字脱贫迹象", Verdict.NOT_BUNCHED: "未见集中",
    Verdict.CONCENTRATED_VILLAGE: "集中的村", Verdict.ABOVE_INTERVAL: "自评高于核实区间",
    Verdict.CONSISTENT: "自评与核实相符", Verdict.WATCH_LOW: "低于标准（关注）",
    Verdict.WATCH_CLUSTER: "问题集中（关注）", Verdict.INCREASE: "显著上升",
    Verdict.DECREASE: "显著下降", Verdict.NO_CHANGE: "无显著变化",
}


def verdict_label(code: str) -> str:
    """The words of a verdict code: ``verdict_label("significant")`` is 显著偏低."""
    return VERDICT_LABELS[Verdict(code)]


def article_label(code: str) -> str:
    """The words of an article that flags: ``article_label("7.4")`` is 第七条（四）."""
    return ARTICLE_LABELS[Article(code)]


# --------------------------------------------------------------------------------------------
# the other codes tables hold (never their words), and the one label each is shown with

class FunnelPosition(StrEnum):
    """A town against its funnel's control limits (the funnel table's ``position`` column)."""

    BELOW_998 = "below_998"  # below the lower 99.8 % limit
    BELOW_95 = "below_95"    # below the lower 95 % limit (not the 99.8 % one)
    WITHIN = "within"        # within the 95 % limits
    ABOVE_95 = "above_95"    # above the upper 95 % limit


FUNNEL_POSITION_LABELS = {
    FunnelPosition.BELOW_998: "低于 99.8% 下限", FunnelPosition.BELOW_95: "低于 95% 下限",
    FunnelPosition.WITHIN: "在控制限内", FunnelPosition.ABOVE_95: "高于 95% 上限",
}


class LqasClass(StrEnum):
    """The LQAS decision of a town (:func:`quchi_stats.flags.lqas_classify`, the ``lqas`` column)."""

    ACCEPTED = "accepted"          # successes reach the rule's d
    REJECTED = "rejected"          # successes short of d
    SHORT_SAMPLE = "short_sample"  # fewer households than the rule's n: its risks no longer hold


LQAS_LABELS = {LqasClass.ACCEPTED: "达标", LqasClass.REJECTED: "未达标",
               LqasClass.SHORT_SAMPLE: "样本不足"}


class Stage(StrEnum):
    """Where the two-phase 复核 decided a town × indicator (the ``stage`` and ``followup_stage``
    columns; :mod:`quchi_stats.followup.combine`'s ``STAGE_*`` constants are these values)."""

    PHASE1 = "phase1"              # p1 <= alpha1: decided at phase 1
    FUTILITY = "futility"          # p1 > alpha0: no follow-up
    COMBINED = "combined"          # followed up: the combination decides
    PENDING = "pending"            # in the continuation region without phase-2 data: p2 = 1
    EXHAUSTED = "exhausted"        # every village visited in phase 1: phase 1 alone
    OUTSIDE = "outside_rule"       # the indicator is not in the rule: phase 1 alone
    CONDITIONAL = "conditional"    # followed up: the conditional test decides
    NOT_FOLLOWED = "not_followed"  # screened (conditional method) without phase-2 data


STAGE_LABELS = {
    Stage.PHASE1: "第一阶段判定", Stage.FUTILITY: "第一阶段不复核", Stage.COMBINED: "复核后合并判定",
    Stage.PENDING: "应复核未复核（按 P2 = 1 合并）", Stage.EXHAUSTED: "第一阶段判定（全部村已入样）",
    Stage.OUTSIDE: "不在复核规则内", Stage.CONDITIONAL: "复核判定（全镇实际比率）",
    Stage.NOT_FOLLOWED: "应复核未复核（不判定为显著偏低）",
}

#: Every code type whose values readers see -> its labels, one per code (tests/test_labels.py checks
#: each enum is covered). :class:`Article` is not here: only the articles that flag are worded
#: (:data:`ARTICLE_LABELS`, :func:`article_label`).
CODE_LABELS: dict[type[StrEnum], dict] = {
    Verdict: VERDICT_LABELS, FunnelPosition: FUNNEL_POSITION_LABELS, LqasClass: LQAS_LABELS,
    Stage: STAGE_LABELS,
}


def code_label(kind: type[StrEnum], code: object, missing: str = "") -> str:
    """The words of ``code`` (a value of the StrEnum ``kind``) for readers; ``missing`` for a missing
    value (None, NaN, pd.NA, ""). A value that is not a code of ``kind`` raises ValueError, so a
    label never passes for a code.

    >>> code_label(FunnelPosition, "below_998"), code_label(Stage, None), code_label(LqasClass, "accepted")
    ('低于 99.8% 下限', '', '达标')
    """
    if code is None or type(code).__name__ == "NAType" or (isinstance(code, float) and math.isnan(code)):
        return missing
    if code == "":
        return missing
    return CODE_LABELS[kind][kind(code)]


#: Canonical column -> its Chinese header, once for every table people read. (The input tables'
#: own columns are labelled by their schema, :data:`quchi_stats.io.schema.LABELS_ZH`, which agrees.)
COLUMN_LABELS_ZH: dict[str, str] = {
    # places, years, indicators
    "year": "年度", "town": "乡镇", "village": "行政村", "frame": "抽样框", "household_id": "户编号",
    "indicator": "指标代码", "label": "指标", "threshold": "标准", "unit": "计量单位",
    # estimates (EstimateResult, the report's 估计结果)
    "estimate": "估计值", "se": "标准误", "ci_lower": "置信下限", "ci_upper": "置信上限",
    "level": "置信水平", "n": "样本户数", "n_eff": "有效样本量", "n_star": "有效样本量", "df": "自由度",
    "deff": "设计效应", "cv": "变异系数", "method": "区间方法", "p_value": "单侧P值",
    "p_adjusted": "校正后P值", "class": "判定", "power": "把握度", "lqas": "LQAS判定",
    # flags and the watch list
    "article": "条款", "item": "事项", "evidence": "依据", "consequence": "处理建议", "flag": "标记",
    # response (fieldwork)
    "primary": "正选户", "completed": "正选完成", "unreachable": "无法入户", "no_record": "无记录",
    "substitute": "替补完成", "respondents": "有效样本", "response_rate": "正选应答率",
    "factor": "平均调整系数",
    # records left out (rejects.csv)
    "column": "列", "reason": "原因",
    # the report's notes, and the mark of a run that did not verify its sample
    "note": "说明", "sample_verified": "样本核验",
    # empirical-Bayes shrinkage
    "eb_estimate": "收缩估计", "eb_lower": "收缩下限", "eb_upper": "收缩上限",
    "prob_below": "低于标准的后验概率", "households": "样本户数", "own_weight": "本镇数据权重",
    "between_status": "镇间差异", "icc": "村内相关系数", "icc_lower": "村内相关系数下限",
    "icc_upper": "村内相关系数上限", "icc_homogeneity_p": "相关系数齐性P值",
    "rho_between": "镇间相关系数", "between_p": "镇间差异P值",
    # funnel plot
    "n_funnel": "漏斗图样本量", "n_icc": "模型有效样本量", "lower95": "95%下限", "upper95": "95%上限",
    "lower998": "99.8%下限", "upper998": "99.8%上限", "position": "位置",
    # the two-phase 复核 (its table, and the columns it adds to the flags table)
    "followup_stage": "判定阶段", "p_phase1": "第一阶段P值", "p_phase2": "复核P值",
    "p_adjusted_two_phase": "两阶段合并校正后P值", "followup_villages": "复核新抽村数",
    "followup_households": "复核入户数", "followup_visited": "复核实际走访户数",
    "households_phase1": "第一阶段入户数", "extra_share": "复核增加比例",
    "estimate_two_phase": "两阶段估计", "z": "合并Z值", "p_overall": "总体P值",
    # yearly targets
    "planned_exit_households": "计划脱贫户数", "planned_exit_persons": "计划脱贫人数",
    "exit_households": "登记退出户数", "exit_persons": "登记退出人数",
    "verified_households": "核实退出户数", "verified_households_lower": "核实退出户数下限",
    "verified_households_upper": "核实退出户数上限", "verified_persons": "核实退出人数",
    "verified_persons_lower": "核实退出人数下限", "verified_persons_upper": "核实退出人数上限",
    "registered_short": "登记未达计划", "verified_short": "核实上限未达计划",
    # income bunching
    "in_window": "线上窗口内户数", "expected": "平滑分布预期户数",
    "excess": "超额户数", "excess_ratio": "实际/预期",
    # self-assessment
    "reported": "自评值", "reported_good": "自评（正向比率）", "above_upper": "高于上限",
    # yearly change
    "previous": "上年估计", "current": "本年估计", "change": "变化", "significant": "变化显著",
    # design simulation (simulate.power) and planning
    "villages": "抽查村数", "compliant_rate": "达标时真实比率", "low_rate": "偏低时真实比率",
    "false_flag_rate": "误判率", "power_unadjusted": "未校正把握度", "coverage": "区间覆盖率",
    "mean_width": "区间平均宽度", "true_rate": "真实比率", "flag_rate": "判定偏低比例",
    "compliant": "真实达标", "design": "设计",
    "min_power": "最弱镇把握度（解析）", "mean_power": "平均把握度（解析）",
    "yuan": "费用（元，期望）", "sim_min_power": "最弱镇把握度（模拟）",
    "sim_mean_power": "平均把握度（模拟）", "sim_familywise": "全部达标时误判率（模拟）",
}

#: Where a canonical column reads otherwise in one table: ``{table: {column: header}}``.
TABLE_LABELS_ZH: dict[str, dict[str, str]] = {
    # an estimate beside the shrinkage estimate is the survey's (抽查) one
    "shrinkage": {"estimate": "抽查估计", "n_star": "有效样本量"},
    "funnel": {"estimate": "抽查估计"},
    "targets": {"flag": "标记"},
    # a test of its own: a two-sided or bootstrap P, not the one-sided P of the estimates
    "bunching": {"p_value": "P值", "exits": "有劳动能力退出户"},
    "self_report": {"estimate": "核实估计（正向比率）", "p_value": "P值"},
    "changes": {"ci_lower": "变化置信下限", "ci_upper": "变化置信上限"},
    # a simulated design: households are an average per village, power is the decision's
    "power": {"households": "平均入户数", "power": "判定把握度"},
    "plan": {"villages": "村数", "households": "户数（期望）"},
    # the two-phase 复核 simulated (``power --followup``): shares of replicates, households on average
    "followup_power": {"flag_rate": "两阶段判定比例", "flag_rate_phase1": "仅第一阶段判定比例",
                       "followup_rate": "复核比例", "extra_households": "复核户数（平均）",
                       "phase1_households": "第一阶段户数（平均）"},
    # the 复核 table: phase 1's estimate beside the two-phase interval
    "followup": {"estimate": "第一阶段估计", "ci_lower": "两阶段置信下限", "ci_upper": "两阶段置信上限"},
}

#: The report's tables (:func:`quchi_stats.report.report_tables`): English key -> the Chinese
#: title readers see (the workbook's sheet, the CSV's and the notebook's table). A key that is also
#: a key of :data:`TABLE_LABELS_ZH` reads its headers there (:func:`table_column_labels`).
#: What the empirical-Bayes table says about the between-town level, by the status codes of
#: :mod:`quchi_stats.flags.shrinkage` (``BETWEEN_*``); ``{district}`` is the total row's word
#: (:func:`district_label`).
EB_STATUS_LABELS_ZH: dict[str, str] = {
    "estimated": "镇间差异已估计",
    "boundary": "镇间差异不显著，收缩估计等于{district}水平",
    "fit_failed": "模型拟合未收敛，未给出收缩估计",
}

#: The unit an indicator counts (``Indicator.unit``), as a measure word.
UNIT_LABELS_ZH: dict[str, str] = {"person": "人", "household": "户"}

TABLE_TITLES_ZH: dict[str, str] = {
    "notes": "说明", "estimates": "估计结果", "flags": "标记", "watch": "需关注",
    "followup": "两阶段复核", "shrinkage": "收缩估计", "funnel": "漏斗图", "targets": "减贫任务",
    "bunching": "收入集中检验", "self_report": "自评对照", "changes": "年度变化",
    "rejects": "未计入的记录", "response": "应答情况", "summary": "摘要",
}


def table_title(key: str) -> str:
    """The Chinese title of the report's table ``key``: ``table_title("estimates")`` is 估计结果."""
    if key not in TABLE_TITLES_ZH:
        raise ValueError(f"The 'key' parameter of table_title must be one of "
                         f"{sorted(TABLE_TITLES_ZH)}. Got {key!r}.")
    return TABLE_TITLES_ZH[key]


def table_column_labels(key: str, county: str | None = None) -> dict[str, str]:
    """Canonical column -> Chinese header in the report's table ``key`` (a key of
    :data:`TABLE_TITLES_ZH`): :func:`column_labels` of the table, and the headers that depend on
    the spec's ``county`` (``district_level``: 全区水平, 全县水平 …).

    >>> table_column_labels("shrinkage", "某某县")["district_level"]
    '全县水平'
    >>> table_column_labels("bunching")["p_value"], table_column_labels("estimates")["p_value"]
    ('P值', '单侧P值')
    """
    table_title(key)  # a known table
    return {**column_labels(key if key in TABLE_LABELS_ZH else None),
            "district_level": f"{district_label(county)}水平"}


#: The sampling frames (``frame`` codes) in words, as the input schema names them.
FRAME_LABELS_ZH: dict[str, str] = {
    "registered": "建档立卡户（未在当年退出）",
    "exited": "当年退出户",
    "non_registered": "非建档立卡户",
}

#: The frames' short names in running text (messages, the rule and design lines).
FRAME_SHORT_LABELS_ZH: dict[str, str] = {
    "registered": "建档立卡户",
    "exited": "当年退出户",
    "non_registered": "非建档立卡户",
}


def column_labels(table: str | None = None) -> dict[str, str]:
    """Canonical column -> Chinese header, for ``table`` (a key of :data:`TABLE_LABELS_ZH`) or
    for any table. ``DataFrame.rename(columns=column_labels(...))`` leaves unknown columns as they are."""
    if table is not None and table not in TABLE_LABELS_ZH:
        raise ValueError(f"The 'table' parameter of column_labels must be one of "
                         f"{sorted(TABLE_LABELS_ZH)}. Got {table!r}.")
    return {**COLUMN_LABELS_ZH, **TABLE_LABELS_ZH.get(table or "", {})}

#: Below this a P value is written ``< 0.001`` (the workbook's number format shows the same).
P_FLOOR = 0.001

#: The district's total row in every table (``town`` of the estimates, estimates.csv): a value,
#: the same for every county; readers see :func:`district_label` instead.
DISTRICT = "全区"

#: The total row's word when the spec names no county, or a name ending in neither 县, 区 nor 市.
DISTRICT_UNNAMED = "全县（区）"

_DISTRICT_BY_SUFFIX = {"县": "全县", "区": "全区", "市": "全市"}

#: Every word :func:`district_label` can return.
DISTRICT_WORDS = (*_DISTRICT_BY_SUFFIX.values(), DISTRICT_UNNAMED)


def _number(value: object) -> float | None:
    """``value`` as a finite float, or None when it is missing, infinite or not a number."""
    if value is None or isinstance(value, str):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def p_text(p: object) -> str:
    """The number part of a P value for a reader: ``< 0.001`` below :data:`P_FLOOR`, three
    decimals otherwise (``0.012``), ``—`` when missing (None, NaN, pd.NA)."""
    x = _number(p)
    if x is None:
        return "—"
    return f"< {P_FLOOR:g}" if x < P_FLOOR else f"{x:.3f}"


def p_statement(p: object, name: str = "P") -> str:
    """A P value in a sentence: ``P < 0.001``, ``P = 0.012`` (``name`` may be ``P1``, ``P2``…)."""
    text = p_text(p)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def threshold_text(x: float) -> str:
    """A significance level or cut-off as a plain decimal (four significant digits at most):
    ``0.0000625``, not ``6.25e-05``."""
    return format(Decimal(f"{x:.4g}").normalize(), "f")


def district_label(county: str | None) -> str:
    """What readers see for the district's total row: 全县 for a county named …县, 全区 for …区,
    全市 for …市, and :data:`DISTRICT_UNNAMED` otherwise (or when no county is named).

    Only a display word: the total row's value inside tables and code stays
    :data:`quchi_stats.assessment.DISTRICT`.
    """
    name = (county or "").strip()
    return _DISTRICT_BY_SUFFIX.get(name[-1:], DISTRICT_UNNAMED) if name else DISTRICT_UNNAMED
