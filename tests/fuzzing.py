"""How many examples the end-to-end fuzz tests draw (the commands run on malformed tables).

Each example of those runs a whole command, so by default they draw a few dozen examples per
table kind, enough to reach every reader and check on each run, while the table-level fuzz of
``tests/io/test_readers.py`` (``read_table`` alone, cheap) draws 1000 per kind. The deeper
profile, ``QUCHI_STATS_FUZZ=deep`` in the environment, restores 1000 examples for every one of
them (minutes; run it after changing the readers, the checks or a command's input handling)::

    QUCHI_STATS_FUZZ=deep .venv/bin/pytest -q -p no:cacheprovider tests/test_cli.py -k fuzzed
"""

from __future__ import annotations

import os

#: True when the environment asks for the deep fuzz profile.
DEEP = os.environ.get("QUCHI_STATS_FUZZ", "").strip().lower() == "deep"


def examples(quick: int, deep: int = 1000) -> int:
    """``max_examples`` for an end-to-end fuzz test: ``quick``, or ``deep`` in the deep profile."""
    return deep if DEEP else quick
