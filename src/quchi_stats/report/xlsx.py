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
from ..labels import table_column_labels, table_title
from .formats import excel_format
from .render import prose

__all__ = ["SUMMARY_COLUMNS", "SUMMARY_SHEET", "summary", "workbook_bytes"]

SUMMARY_SHEET = table_title("summary")

#: The flags' columns the 摘要 sheet shows.
SUMMARY_COLUMNS = ("town", "article", "item", "evidence", "consequence")


def summary(tables: Mapping[str, pd.DataFrame], title: str,
            county: str | None = None) -> tuple[list[str], pd.DataFrame]:
    """The 摘要 sheet: lines above its table (title, warning, flagged towns, watch-list count)
    and the table of flags (乡镇, 条款, 事项, 依据, 处理建议), one line of evidence each.
    ``tables`` are :func:`~quchi_stats.report.build.report_tables` (English keys and columns)."""
    from .build import UNVERIFIED_ZH, zh_table  # the report's note itself, not a search for its words

    flags = tables.get("flags", pd.DataFrame())
    watch = tables.get("watch", pd.DataFrame())
    lines = [prose("summary_title", title=title)]
    said = tables.get("notes")
    if said is not None and len(said) and said["note"].iloc[0] == UNVERIFIED_ZH:
        lines.append(str(said["note"].iloc[0]))  # the unverified run says so on the first sheet too
    towns = [str(t) for t in dict.fromkeys(flags["town"])] if len(flags) else []
    lines.append(prose("summary_flagged", towns=towns, n_flags=len(flags)))
    lines.append(prose("summary_watch", n=len(watch)))
    cols = [c for c in SUMMARY_COLUMNS if c in flags.columns]
    table = flags[cols].copy() if len(cols) else pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    if "evidence" in table:
        table["evidence"] = table["evidence"].map(lambda t: " ".join(str(t).split()))  # one line
    return lines, zh_table("flags", table, county)


def workbook_bytes(tables: Mapping[str, pd.DataFrame], title: str, county: str | None = None) -> bytes:
    """The workbook: 摘要 first, then the report's tables in their order, each sheet under its
    Chinese title with Chinese headers (:func:`~quchi_stats.report.build.zh_tables`)."""
    from .build import zh_tables

    lines, first = summary(tables, title, county)
    sheets = {SUMMARY_SHEET: first,
              **{k: v for k, v in zh_tables(tables, county).items() if k != SUMMARY_SHEET}}
    # number formats by the canonical columns, before the headers are Chinese
    formats = {table_title(key): {labels.get(c, c): excel_format(c, t[c], key) for c in t.columns}
               for key, t in tables.items() for labels in (table_column_labels(key, county),)}
    return xlsx_bytes(sheets, number_format=formats, readable=True,
                      preamble={SUMMARY_SHEET: lines})
