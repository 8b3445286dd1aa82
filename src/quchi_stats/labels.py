"""Words for readers that the computing layers also need: how a P value is written, how a threshold
is written without scientific notation, and what the district's total row is called.

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

__all__ = ["ARTICLE_LABELS", "DISTRICT", "DISTRICT_UNNAMED", "DISTRICT_WORDS", "FLAG_VERDICTS", "P_FLOOR",
           "VERDICT_LABELS", "Article", "Verdict", "article_label", "district_label", "p_statement",
           "p_text", "threshold_text", "verdict_label"]

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
