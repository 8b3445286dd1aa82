"""Write the golden ``estimates.csv`` and ``flags.csv`` of every bundled year (``data_samples/``).

Run it only when an output is meant to change (a new method, a re-generated bundled year), and say
in the commit message what changed and why::

    python tests/golden/make_golden.py

tests/report/test_golden.py compares the report's tables with these files: a restructuring that
changes none of the numbers, codes or wording keeps them equal.
"""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).resolve().parent
YEARS = (2016, 2017, 2018)


def golden_tables(assessment) -> dict[str, bytes]:
    """The two files the report writes, as bytes (the report's own renderer)."""
    from quchi_stats.io.writers import csv_bytes
    from quchi_stats.report.build import report_tables, zh_table

    tables = report_tables(assessment)
    county = assessment.spec.county
    return {"estimates.csv": csv_bytes(zh_table("estimates", tables["estimates"], county)),
            "flags.csv": csv_bytes(zh_table("flags", tables["flags"], county))}


def main() -> None:
    from quchi_stats.assessment import run_assessment

    for year in YEARS:
        a = run_assessment(year, history=(year == 2018))  # as the report command runs it
        for name, data in golden_tables(a).items():
            path = GOLDEN / str(year) / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
