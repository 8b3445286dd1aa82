"""Golden test: the report's estimates.csv and flags.csv of every bundled year are unchanged.

The files in tests/golden/ were written by tests/golden/make_golden.py. A change that restructures
the code (issue 12: one fieldwork, findings tables, templates) must leave them equal; a change
meant to alter an output re-runs that script and says why in its commit. Numbers are compared to
1e-9 relative (the last digits of a float may differ between numpy builds); text exactly.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
_spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
make_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_golden)


def _read(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame, where: str) -> None:
    assert list(got.columns) == list(want.columns), where
    assert len(got) == len(want), where
    for col in want.columns:
        g, w = got[col], want[col]
        gn, wn = pd.to_numeric(g, errors="coerce"), pd.to_numeric(w, errors="coerce")
        numeric = wn.notna() & gn.notna()
        assert (g[~numeric] == w[~numeric]).all(), (
            f"{where} {col}: {list(g[~numeric][g[~numeric] != w[~numeric]][:3])} "
            f"!= {list(w[~numeric][g[~numeric] != w[~numeric]][:3])}")
        np.testing.assert_allclose(gn[numeric].to_numpy(float), wn[numeric].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, err_msg=f"{where} {col}")


@pytest.mark.parametrize("year", make_golden.YEARS)
@pytest.mark.parametrize("name", ["estimates.csv", "flags.csv"])
def test_report_tables_equal_golden(bundled_assessments, year, name):
    got = make_golden.golden_tables(bundled_assessments[year])[name]
    want = (GOLDEN / str(year) / name).read_bytes()
    _assert_same(_read(got), _read(want), f"{year}/{name}")


def test_golden_detects_a_change(bundled_assessments):
    """The comparison can fail: a changed estimate or a changed word is caught."""
    want = _read((GOLDEN / "2018" / "estimates.csv").read_bytes())
    moved = want.copy()
    moved.loc[0, "估计值"] = str(float(moved.loc[0, "估计值"]) + 1e-6)
    with pytest.raises(AssertionError):
        _assert_same(moved, want, "moved")
    reworded = _read((GOLDEN / "2018" / "flags.csv").read_bytes())
    changed = reworded.copy()
    changed.loc[0, "依据"] = changed.loc[0, "依据"] + "。"
    with pytest.raises(AssertionError):
        _assert_same(changed, reworded, "reworded")
