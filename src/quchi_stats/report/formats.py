"""How the report shows a number, decided in one place for the xlsx and the docx.

A small registry says which columns are rates (percentages), counts, estimated counts, p-values,
changes in a rate and plain decimals; it names each column by its canonical English name (as in
:class:`~quchi_stats.assessment.Assessment`'s tables and :func:`~quchi_stats.report.build.
report_tables`), before any Chinese header is given. A column the registry does not name is
decided by its dtype: integers are counts, other numbers decimals.

P-values stay numbers in the workbook (so a column sorts): their format shows ``< 0.001`` below
0.001 and three decimals otherwise, and the docx and the HTML tables write the same text
(:func:`quchi_stats.labels.p_text`, which also words every P value in the evidence sentences).

>>> kind("estimate"), kind("n"), kind("p_adjusted"), kind("ci_lower"), kind("ci_lower", table="changes")
('rate', 'count', 'p_value', 'rate', 'rate_change')
>>> shown(0.9611, "estimate"), shown(0.00012, "p_value"), shown(1234, "n"), shown(True, "flag")
('96.1%', '< 0.001', '1,234', '是')
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..labels import p_text

__all__ = ["COUNT", "DECIMAL", "ESTIMATED_COUNT", "EXCEL_FORMATS", "KINDS", "P_VALUE", "RATE",
           "RATE_CHANGE", "TABLE_KINDS", "YEAR", "excel_format", "kind", "shown"]

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
        "estimate", "ci_lower", "ci_upper", "level", "power", "response_rate", "eb_estimate",
        "eb_lower", "eb_upper", "prob_below", "own_weight", "district_level", "lower95", "upper95",
        "lower998", "upper998", "reported", "reported_good", "previous", "current",
        # the two-phase 复核 (report/followup.py)
        "estimate_two_phase", "extra_share",
    ),
    RATE_CHANGE: ("change",),
    COUNT: (
        "n", "df", "households", "primary", "completed", "unreachable", "no_record", "substitute",
        "respondents", "exits", "planned_exit_households", "planned_exit_persons",
        "exit_households", "exit_persons",
        "villages", "visited", "households_phase1", "followup_villages", "followup_households",
        "followup_visited",
    ),
    ESTIMATED_COUNT: (
        "n_eff", "n_star", "n_funnel", "n_icc", "verified_households", "verified_households_lower",
        "verified_households_upper", "verified_persons", "verified_persons_lower",
        "verified_persons_upper", "in_window", "expected", "excess",
    ),
    P_VALUE: ("p_value", "p_adjusted", "icc_homogeneity_p", "between_p", "p1", "p2", "p_overall",
              "p_phase1", "p_phase2", "p_adjusted_two_phase"),
    DECIMAL: ("deff", "factor", "excess_ratio", "icc", "icc_lower", "icc_upper", "rho", "z",
              "rho_between"),
    YEAR: ("year",),
}

#: Canonical column -> kind.
KINDS: dict[str, str] = {name: k for k, names in _NAMES.items() for name in names}

#: Where a column is of another kind in one of the report's tables (``{table key: {column: kind}}``,
#: as :data:`quchi_stats.labels.TABLE_LABELS_ZH` gives its header): the yearly change's interval
#: is an interval of a change.
TABLE_KINDS: dict[str, dict[str, str]] = {
    "changes": {"ci_lower": RATE_CHANGE, "ci_upper": RATE_CHANGE},
}


def kind(name: str, column: pd.Series | None = None, table: str | None = None) -> str | None:
    """The kind of canonical column ``name`` (in the report's table ``table``, a key of
    :data:`quchi_stats.labels.TABLE_TITLES_ZH`); by ``column``'s dtype when the registry does not
    name it (integers are counts, other numbers decimals, anything else None)."""
    if name in TABLE_KINDS.get(table or "", {}):
        return TABLE_KINDS[table][name]
    if name in KINDS:
        return KINDS[name]
    if column is None:
        return None
    if column.dtype.kind in "iu" or str(column.dtype) in ("Int64", "Int32", "UInt64"):
        return COUNT
    if column.dtype.kind == "f" or str(column.dtype) in ("Float64", "Float32"):
        return DECIMAL
    return None


def excel_format(name: str, column: pd.Series, table: str | None = None) -> str | None:
    """The Excel number format of canonical column ``name`` (of the report's table ``table``);
    None for text and booleans."""
    if column.dtype.kind == "b":
        return None
    k = kind(name, column, table)
    return None if k is None else EXCEL_FORMATS[k]


def shown(value: object, name: str, table: str | None = None) -> str:
    """``value`` of canonical column ``name`` (of the report's table ``table``) as text for a
    reader, as the workbook's format shows it.

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
    k = kind(name, table=table) or (COUNT if isinstance(value, int | np.integer) else DECIMAL)
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
