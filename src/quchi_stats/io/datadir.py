"""The layout of a data directory (``--data DIR``), shared by ``data_samples/`` and users' own folders.

::

    register_YYYY.csv | .xlsx | .xls 农户台账 (as of YYYY-12-31)
    sample_YYYY/sample.csv           抽查样本 drawn by ``quchi-stats design``
    sample_YYYY/manifest.json        its audit record
    results_YYYY.csv | .xlsx         入户核查结果
    self_report_YYYY.csv | .xlsx     乡镇自评
    targets_YYYY.csv | .xlsx         年度减贫任务
    truth_YYYY.csv                   synthetic data only: the true rates
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

__all__ = ["DataDir"]

_SUFFIXES = (".csv", ".xlsx", ".xls")


@dataclass(frozen=True)
class DataDir:
    """Paths of one data directory.

    Examples
    --------
    >>> from quchi_stats.io import DataDir
    >>> from quchi_stats.datasets import data_path
    >>> DataDir(data_path()).register(2018).name
    'register_2018.csv'
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def _find(self, stem: str, year: int, label: str) -> Path:
        found = [p for p in (self.root / f"{stem}_{year}{s}" for s in _SUFFIXES) if p.is_file()]
        if len(found) > 1:  # e.g. the filled entry workbook saved beside an older CSV
            raise DataError(f"{'、'.join(p.name for p in found)} 都存在，不知道该用哪一个{label}文件；"
                            "请删去或改名其中一个", file=str(self.root))
        if found:
            return found[0]
        raise DataError(f"找不到{label}文件 {stem}_{year}.csv 或 {stem}_{year}.xlsx（.xls）",
                        file=str(self.root))

    def register(self, year: int) -> Path:
        return self._find("register", year, "农户台账")

    def results(self, year: int) -> Path:
        return self._find("results", year, "入户核查结果")

    def self_report(self, year: int) -> Path:
        return self._find("self_report", year, "乡镇自评")

    def targets(self, year: int) -> Path:
        return self._find("targets", year, "年度减贫任务")

    def truth(self, year: int) -> Path:
        return self._find("truth", year, "真值（合成数据）")

    def sample_dir(self, year: int) -> Path:
        return self.root / f"sample_{year}"

    def years(self) -> list[int]:
        """Years for which a register exists, ascending."""
        out = set()
        for p in self.root.glob("register_*"):
            stem = p.stem.removeprefix("register_")
            if stem.isdigit() and p.suffix in _SUFFIXES:
                out.add(int(stem))
        return sorted(out)
