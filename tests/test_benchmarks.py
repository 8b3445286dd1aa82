"""The benchmark scripts still run (small sizes; speed is never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_run_at_quick_sizes():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for head in ("1. proportion by town", "2. PPS systematic", "3. national scale",
                 "4. design power", "5. district draw", "6. register as .xlsx vs .csv", "7. yearly report"):
        assert head in done.stdout
    assert "failed" not in done.stdout
