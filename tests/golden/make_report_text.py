"""Write the visible text of the 2018 考核报告.html (``tests/golden/2018/report_text.txt``).

The text is what a reader sees: the page's text nodes (not the CSS, the scripts or the embedded
figures), one chunk per text node, whitespace collapsed. It was first written from the code that
built the page by appending f-strings (before the Jinja2 templates of issue 12), and the templates
were checked to render the same sections, sentences and tables; it was re-written from the
templates when the default town test became the adjusted one (issue 11, 2026-12-03), and when the
empirical-Bayes table took the town test's ρ̂ (its 错退率 rows, 2026-12-03). Re-run it
only when the report's wording or numbers are meant to change, and say why in the commit::

    python tests/golden/make_report_text.py
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent
TEXT = GOLDEN / "2018" / "report_text.txt"


class _Text(HTMLParser):
    """The text nodes outside ``<style>`` and ``<script>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and (text := " ".join(data.split())):
            self.chunks.append(text)


def visible_text(page: str) -> str:
    """The page's visible text, one text node per line, whitespace collapsed."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    return "\n".join(parser.chunks) + "\n"


def report_text(assessment) -> str:
    """The visible text of the 2018 report as ``quchi-stats report`` writes it for the bundled data."""
    from quchi_stats.report.build import build_html

    return visible_text(build_html(assessment, synthetic=True))


def main() -> None:
    from quchi_stats.assessment import run_assessment

    a = run_assessment(2018, history=True)  # as the report command runs it
    TEXT.write_text(report_text(a), encoding="utf-8")
    print(f"wrote {TEXT}")


if __name__ == "__main__":
    main()
