"""The yearly 考核报告: a self-contained HTML file, CSV tables and an Excel workbook.

:func:`report_tables` gives the report's tables keyed by English identifiers with canonical
columns; :func:`zh_tables` (or :func:`zh_table` for one) gives them their Chinese titles and
headers, the last step before a table is written or shown.
"""

from .build import (
    REPORT_NAME,
    build_html,
    report_tables,
    shown_district,
    shown_tables,
    write_report,
    zh_table,
    zh_tables,
)

__all__ = ["REPORT_NAME", "build_html", "report_tables", "shown_district", "shown_tables",
           "write_report", "zh_table", "zh_tables"]
