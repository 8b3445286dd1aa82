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
    """Read the drawn sample and the field results of ``year`` from a data directory."""
    root = DataDir(Path(data) if data is not None else data_path())
    sample = read_table(root.sample_dir(year) / "sample.csv", "sample")
    from ..io.entry import read_results

    results = read_results(root.results(year))
    return sample, results
