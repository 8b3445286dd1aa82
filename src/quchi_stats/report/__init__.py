"""The yearly 考核报告: a self-contained HTML file, CSV tables and an Excel workbook."""

from .build import REPORT_NAME, build_html, report_tables, write_report

__all__ = ["REPORT_NAME", "build_html", "report_tables", "write_report"]
