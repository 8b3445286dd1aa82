"""The synthetic Qujiang district (合成数据) and loaders for ``data_samples/``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..io.datadir import DataDir
from ..io.readers import read_table
from .synthetic import EXIT_LINES, YEARS, District, generate_district, write_district

__all__ = ["EXIT_LINES", "YEARS", "District", "data_path", "generate_district", "load_fieldwork",
           "load_followup",
           "load_register", "write_district"]


def data_path() -> Path:
    """The bundled ``data_samples/`` folder (or ``$QUCHI_DATA`` when set)."""
    env = os.environ.get("QUCHI_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "data_samples"
        if (candidate / "README.md").is_file():
            return candidate
    raise DataError("找不到 data_samples/ 目录；请用 --data 指定数据目录，或设置 QUCHI_DATA")


def load_register(year: int, data: str | Path | None = None) -> pd.DataFrame:
    """Read ``register_{year}`` from a data directory (default: the bundled synthetic data)."""
    root = DataDir(Path(data) if data is not None else data_path())
    return read_table(root.register(year), "register")


def load_fieldwork(year: int, data: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the drawn sample and the field results of ``year`` from a data directory.

    The results are those of the sample's households: the phase-2 rows of a two-phase 复核
    (households of ``followup_YYYY/sample.csv``, appended to the same file) are left out; read
    them with :func:`load_followup`."""
    root = DataDir(Path(data) if data is not None else data_path())
    sample = read_table(root.sample_dir(year) / "sample.csv", "sample")
    from ..io.entry import read_results

    results = read_results(root.results(year))
    if (root.root / f"followup_{year}" / "sample.csv").is_file():
        results = results[results["household_id"].isin(sample["household_id"])]
        results = results.reset_index(drop=True)
    return sample, results


def load_followup(year: int, data: str | Path | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The phase-2 sample of a two-phase 复核 (``followup_YYYY/sample.csv``) and its field results
    (the rows of ``results_YYYY`` for its households); None when the year has no follow-up."""
    root = DataDir(Path(data) if data is not None else data_path())
    path = root.root / f"followup_{year}" / "sample.csv"
    if not path.is_file():
        return None
    from ..io.entry import read_results

    sample = read_table(path, "sample")
    results = read_results(root.results(year))
    return sample, results[results["household_id"].isin(sample["household_id"])].reset_index(
        drop=True)
