"""Shared fixtures: small hand-built registers for fast, exact checks of the design step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from tests.fuzzing import DEEP

# The suite's property tests draw the same examples on every run (CI stays green or red for a
# reason, not by the luck of the draw); the deep profile (QUCHI_STATS_FUZZ=deep) draws new ones.
settings.register_profile("suite", derandomize=True)
settings.register_profile("deep", derandomize=False)
settings.load_profile("deep" if DEEP else "suite")


def make_register(spec: dict[str, list[tuple[int, int, int]]], *, year: int = 2018,
                  priority: set[str] | None = None) -> pd.DataFrame:
    """A canonical register from ``{town: [(registered, exited, non_registered), ...]}``.

    Each tuple is one village: households still registered (exited in an earlier year when
    even-numbered), households exiting in ``year``, and non-registered households.
    """
    rows = []
    priority = priority or set()
    for t_i, (town, villages) in enumerate(spec.items()):
        for v_i, (n_reg, n_exit, n_non) in enumerate(villages):
            village = f"{town}{v_i + 1:02d}村"
            k = 0
            for frame, count in (("registered", n_reg), ("exited", n_exit), ("non", n_non)):
                for _ in range(count):
                    k += 1
                    rows.append({
                        "town": town, "village": village,
                        "household_id": f"{t_i + 1:02d}{v_i + 1:02d}{k:05d}",
                        "household_size": 1 + (k % 4),
                        "registered": frame != "non",
                        "exit_year": year if frame == "exited" else (
                            year - 1 if frame == "registered" and k % 2 == 0 else pd.NA),
                        "category": "general" if frame != "non" else None,
                        "able_to_work": True,
                        "income_per_capita": 5000.0 + k,
                        "priority_village": village in priority,
                    })
    reg = pd.DataFrame(rows)
    reg["registered"] = reg["registered"].astype("boolean")
    reg["exit_year"] = reg["exit_year"].astype("Int64")
    reg["household_size"] = reg["household_size"].astype("Int64")
    reg["priority_village"] = reg["priority_village"].astype("boolean")
    return reg


@pytest.fixture
def small_register() -> pd.DataFrame:
    """Three towns (one with a single village), villages of unequal size, one without exits."""
    return make_register({
        "甲镇": [(12, 4, 20), (6, 2, 15), (20, 5, 30), (3, 0, 10)],
        "乙镇": [(8, 3, 12), (15, 6, 25), (5, 1, 9)],
        "丙镇": [(10, 2, 18)],
    }, priority={"乙镇02村"})


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def single_phase_copy(dst, src=None):
    """A copy of the bundled data (or of ``src``, a directory written by ``write_district``)
    without its 2018 复核: no ``followup_2018/`` and only the phase-1 rows of
    ``results_2018.csv`` (for tests that edit the register or the phase-1 results, which the
    follow-up's manifest would otherwise refuse)."""
    import shutil

    from quchi_stats.datasets import data_path

    shutil.copytree(src if src is not None else data_path(), dst,
                    ignore=shutil.ignore_patterns("followup_*"))
    drawn = set(pd.read_csv(dst / "sample_2018" / "sample.csv", dtype=str,
                            encoding="utf-8-sig")["household_id"])
    lines = (dst / "results_2018.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    kept = [lines[0], *(ln for ln in lines[1:] if ln.split(",", 1)[0] in drawn)]
    (dst / "results_2018.csv").write_text("".join(kept), encoding="utf-8-sig")
    return dst


@pytest.fixture(scope="session")
def bundled_assessments(tmp_path_factory):
    """The assessment of each bundled year (``data_samples/``), computed once for the test run and
    shared by every test that reads it (an :class:`Assessment` is frozen; tests derive variants
    with ``dataclasses.replace``). 2018 with its trend (2016–2017) and every year with the power
    column, as the ``report`` command runs them; computed with numeric RuntimeWarnings as errors
    (from any module, not only quchi_stats's), which tests/flags/test_eb_districts.py checks.

    Under pytest-xdist the first worker that needs them computes them and pickles them beside the
    workers' temporary directories, under a file lock; the others load that file (about 25 s of
    CPU saved per worker). Without xdist, or without ``fcntl`` (Windows), it is computed here."""
    import pickle

    def compute():
        import warnings

        from quchi_stats.assessment import run_assessment

        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return {y: run_assessment(y, history=(y == 2018)) for y in (2016, 2017, 2018)}

    import os

    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the project's CI
        return compute()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return compute()  # one process: nothing to share (and basetemp's parent outlives the run)
    root = tmp_path_factory.getbasetemp().parent  # pytest-N/, shared by this run's workers only
    path = root / "bundled_assessments.pickle"
    with open(root / "bundled_assessments.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            return pickle.loads(path.read_bytes())
        computed = compute()
        part = path.with_suffix(".part")
        part.write_bytes(pickle.dumps(computed))
        part.replace(path)
        return computed
