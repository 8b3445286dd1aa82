"""The data-directory layout."""

from __future__ import annotations

import pytest

from quchi_stats.datasets import data_path
from quchi_stats.errors import DataError
from quchi_stats.io import DataDir


def test_bundled_layout():
    d = DataDir(data_path())
    assert d.years() == [2016, 2017, 2018]
    assert d.register(2018).name == "register_2018.csv"
    assert d.results(2017).name == "results_2017.xlsx"
    assert (d.sample_dir(2018) / "manifest.json").is_file()
    for y in d.years():
        assert d.self_report(y).is_file() and d.targets(y).is_file() and d.truth(y).is_file()


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="找不到农户台账文件 register_2020.csv 或 register_2020.xlsx"):
        DataDir(tmp_path).register(2020)
