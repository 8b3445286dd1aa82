"""How the report shows a number, decided in one place for the xlsx and the docx.

A small registry says which columns are rates (percentages), counts, estimated counts, p-values,
changes in a rate and plain decimals; it names each column both by its canonical English name (as
in :class:`~quchi_stats.assessment.Assessment`'s tables) and by the header
:func:`~quchi_stats.report.build.report_tables` gives it. A column the registry does not name is
decided by its dtype: integers are counts, other numbers decimals.

P-values stay numbers in the workbook (so a column sorts): their format shows ``< 0.001`` below
0.001 and three decimals otherwise, and the docx and the HTML tables write the same text
(:func:`quchi_stats.labels.p_text`, which also words every P value in the evidence sentences).

>>> kind("估计值"), kind("estimate"), kind("样本户数"), kind("校正后P值")
('rate', 'rate', 'count', 'p_value')
>>> shown(0.9611, "估计值"), shown(0.00012, "单侧P值"), shown(1234, "样本户数"), shown(True, "标记")
('96.1%', '< 0.001', '1,234', '是')
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..labels import DISTRICT_WORDS, p_text

__all__ = ["COUNT", "DECIMAL", "ESTIMATED_COUNT", "EXCEL_FORMATS", "KINDS", "P_VALUE", "RATE",
           "RATE_CHANGE", "YEAR", "excel_format", "kind", "shown"]

RATE = "rate"
RATE_CHANGE = "rate_change"
COUNT = "count"
ESTIMATED_COUNT = "estimated_count"
P_VALUE = "p_value"
DECIMAL = "decimal"
YEAR = "year"

#: Excel number format of each kind.
EXCEL_FORMATS: dict[str, str] = {
    RATE: "0.0%",
    RATE_CHANGE: "+0.0%;-0.0%;0.0%",
    COUNT: "#,##0",
    ESTIMATED_COUNT: "#,##0.0",
    P_VALUE: '[<0.001]"< 0.001";0.000',  # as labels.p_text writes it (P_FLOOR)
    DECIMAL: "0.000",
    YEAR: "0",
}

_NAMES: dict[str, tuple[str, ...]] = {
    RATE: (
        # canonical names
        "estimate", "ci_lower", "ci_upper", "level", "power", "response_rate", "eb_estimate",
        "eb_lower", "eb_upper", "prob_below", "own_weight", "district_level", "lower95", "upper95",
        "lower998", "upper998", "reported", "reported_good", "previous", "current",
        # report headers
        "估计值", "置信下限", "置信上限", "置信水平", "把握度", "正选应答率", "抽查估计", "收缩估计", "收缩下限",
        "收缩上限", "低于标准的后验概率", "本镇数据权重", *(f"{w}水平" for w in DISTRICT_WORDS), "95%下限", "95%上限", "99.8%下限",
        "99.8%上限", "自评值", "自评（正向比率）", "核实估计（正向比率）", "上年估计", "本年估计",
        # the two-phase 复核 (report/followup.py)
        "estimate_two_phase", "extra_share", "第一阶段估计", "复核增加比例", "两阶段估计", "两阶段置信下限",
        "两阶段置信上限",
    ),
    RATE_CHANGE: ("change", "变化", "变化置信下限", "变化置信上限"),
    COUNT: (
        "n", "df", "households", "primary", "completed", "unreachable", "no_record", "substitute",
        "respondents", "exits", "planned_exit_households", "planned_exit_persons",
        "exit_households", "exit_persons",
        "样本户数", "自由度", "正选户", "正选完成", "无法入户", "无记录", "替补完成", "有效样本",
        "计划脱贫户数", "计划脱贫人数", "登记退出户数", "登记退出人数", "有劳动能力退出户",
        "villages", "visited", "households_phase1", "followup_villages", "followup_households",
        "复核新抽村数", "复核入户数", "复核实际走访户数", "第一阶段入户数",
    ),
    ESTIMATED_COUNT: (
        "n_eff", "n_star", "n_funnel", "n_icc", "verified_households", "verified_households_lower",
        "verified_households_upper", "verified_persons", "verified_persons_lower",
        "verified_persons_upper", "in_window", "expected", "excess",
        "有效样本量", "漏斗图样本量", "模型有效样本量", "核实退出户数", "核实退出户数下限", "核实退出户数上限", "核实退出人数",
        "核实退出人数下限", "核实退出人数上限", "线上窗口内户数", "平滑分布预期户数", "超额户数",
    ),
    P_VALUE: ("p_value", "p_adjusted", "icc_homogeneity_p", "between_p", "p1", "p2", "p_overall",
              "p_phase1", "p_phase2", "p_adjusted_two_phase",
              "单侧P值", "校正后P值", "P值", "相关系数齐性P值", "镇间差异P值", "第一阶段P值", "复核P值",
              "总体P值", "两阶段合并校正后P值"),
    DECIMAL: ("deff", "factor", "excess_ratio", "icc", "icc_lower", "icc_upper", "rho", "z", "合并Z值",
              "rho_between", "设计效应", "平均调整系数", "实际/预期", "村内相关系数", "村内相关系数下限",
              "村内相关系数上限", "镇间相关系数"),
    YEAR: ("year", "年度"),
}

#: Column name (canonical or report header) -> kind.
KINDS: dict[str, str] = {name: k for k, names in _NAMES.items() for name in names}


def kind(name: str, column: pd.Series | None = None) -> str | None:
    """The kind of column ``name``; by ``column``'s dtype when the registry does not name it
    (integers are counts, other numbers decimals, anything else None)."""
    if name in KINDS:
        return KINDS[name]
    if column is None:
        return None
    if column.dtype.kind in "iu" or str(column.dtype) in ("Int64", "Int32", "UInt64"):
        return COUNT
    if column.dtype.kind == "f" or str(column.dtype) in ("Float64", "Float32"):
        return DECIMAL
    return None


def excel_format(name: str, column: pd.Series) -> str | None:
    """The Excel number format of a column (the ``number_format`` of
    :func:`~quchi_stats.io.writers.xlsx_bytes`); None for text and booleans."""
    if column.dtype.kind == "b":
        return None
    k = kind(name, column)
    return None if k is None else EXCEL_FORMATS[k]


def shown(value: object, name: str) -> str:
    """``value`` of column ``name`` as text for a reader, as the workbook's format shows it.

    Missing and infinite values are ``—``; booleans 是/否; text is returned as it is.
    """
    if value is None or value is pd.NA:
        return "—"
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, str):
        return value
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x) or math.isinf(x):
        return "—"
    k = KINDS.get(name, COUNT if isinstance(value, int | np.integer) else DECIMAL)
    if k == RATE:
        return f"{x * 100:.1f}%"
    if k == RATE_CHANGE:
        return f"{x * 100:+.1f}%" if round(x * 1000) else "0.0%"
    if k == COUNT:
        return f"{x:,.0f}"
    if k == ESTIMATED_COUNT:
        return f"{x:,.1f}"
    if k == P_VALUE:
        return p_text(x)
    if k == YEAR:
        return f"{x:.0f}"
    return f"{x:.3f}"
