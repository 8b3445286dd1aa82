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

__all__ = ["DISTRICT_UNNAMED", "DISTRICT_WORDS", "P_FLOOR", "district_label", "p_statement", "p_text",
           "threshold_text"]

#: Below this a P value is written ``< 0.001`` (the workbook's number format shows the same).
P_FLOOR = 0.001

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
