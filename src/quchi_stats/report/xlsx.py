"""考核报告.xlsx for readers: the report's tables with a 摘要 sheet first, number formats from
:mod:`~quchi_stats.report.formats`, bold frozen headers, fitted widths and 是/否.

Only the layout is decided here: the values are those of
:func:`~quchi_stats.report.build.report_tables`, and every cell is written by
:func:`~quchi_stats.io.writers.xlsx_bytes` (text as string cells, never formulas).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..io.writers import xlsx_bytes
from .formats import excel_format

__all__ = ["SUMMARY_SHEET", "summary", "workbook_bytes"]

SUMMARY_SHEET = "摘要"


def summary(tables: Mapping[str, pd.DataFrame], title: str) -> tuple[list[str], pd.DataFrame]:
    """The 摘要 sheet: lines above its table (title, warning, flagged towns, watch-list count)
    and the table of flags (乡镇, 条款, 事项, 依据, 处理建议), one line of evidence each."""
    from .build import UNVERIFIED_ZH  # the report's note itself, not a search for its words

    flags = tables.get("标记", pd.DataFrame())
    watch = tables.get("需关注", pd.DataFrame())
    lines = [f"{title}（摘要）"]
    said = tables.get("说明")
    if said is not None and len(said) and said.iloc[0, 0] == UNVERIFIED_ZH:
        lines.append(str(said.iloc[0, 0]))  # the unverified run says so on the first sheet too
    if len(flags):
        towns = list(dict.fromkeys(flags["乡镇"]))
        lines.append(f"被标记的镇：{'、'.join(map(str, towns))}（{len(towns)} 个，{len(flags)} 项），"
                     "依据与处理建议见下表。")
    else:
        lines.append("被标记的镇：无。未发现符合考核办法第七条所列情形、且有统计证据支持的问题。")
    lines.append(f"需关注：{len(watch)} 项" + ("（证据尚不足以标记，建议复核；见“需关注”表）。" if len(watch)
                                              else "。"))
    cols = [c for c in ("乡镇", "条款", "事项", "依据", "处理建议") if c in flags.columns]
    table = flags[cols].copy() if len(cols) else pd.DataFrame(
        columns=["乡镇", "条款", "事项", "依据", "处理建议"])
    if "依据" in table:
        table["依据"] = table["依据"].map(lambda t: " ".join(str(t).split()))  # one line
    return lines, table


def workbook_bytes(tables: Mapping[str, pd.DataFrame], title: str) -> bytes:
    """The workbook: 摘要 first, then the report's tables in their order."""
    lines, first = summary(tables, title)
    sheets = {SUMMARY_SHEET: first, **{k: v for k, v in tables.items() if k != SUMMARY_SHEET}}
    return xlsx_bytes(sheets, number_format=excel_format, readable=True,
                      preamble={SUMMARY_SHEET: lines})
