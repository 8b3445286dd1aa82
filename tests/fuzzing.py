"""How many examples an end-to-end fuzz test draws (a whole command run on a malformed table).

Each example of such a test runs a whole command, so the suite's default draws fewer of them:
``test_report_command_on_fuzzed_tables`` (tests/test_cli.py) draws 120 (about 40 per table
kind; each reaches the command's checks, which read every input, about 0.2 s), while the
table-level fuzz of ``tests/io/test_readers.py`` (``read_table`` alone, cheap) keeps 1000 per
kind. The deep profile, ``QUCHI_STATS_FUZZ=deep`` in the environment, draws 1000 (minutes; run it
after changing the readers, the checks or a command's input handling). The suite's profile draws
the same examples on every run (``derandomize``, tests/conftest.py); the deep one draws new ones::

    QUCHI_STATS_FUZZ=deep .venv/bin/pytest -q -p no:cacheprovider tests/test_cli.py -k fuzzed
"""

from __future__ import annotations

import os

#: True when the environment asks for the deep fuzz profile.
DEEP = os.environ.get("QUCHI_STATS_FUZZ", "").strip().lower() == "deep"


def examples(quick: int, deep: int = 1000) -> int:
    """``max_examples`` for an end-to-end fuzz test: ``quick``, or ``deep`` in the deep profile."""
    return deep if DEEP else quick
