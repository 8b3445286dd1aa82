"""Frozen result objects of the estimators: ``to_frame()``, ``__str__`` and ``_repr_html_``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..io.schema import LABELS_ZH, RESULT_LABELS_ZH

__all__ = ["RESULT_COLUMNS", "EstimateResult"]

RESULT_COLUMNS = ["estimate", "se", "ci_lower", "ci_upper", "level", "n", "n_eff", "df", "deff",
                  "cv", "method"]

_ESTIMATOR_ZH = {"proportion": "比例", "mean": "均值", "total": "总量", "ratio": "比率"}


@dataclass(frozen=True, eq=False)
class EstimateResult:
    """Design-based estimates, one row per domain.

    Attributes
    ----------
    estimator : {"proportion", "mean", "total", "ratio"}
    variable : str
        What was estimated (for a ratio, ``"numerator/denominator"``).
    by : tuple of str
        The domain columns (empty for the whole population).
    method : str
        The interval method.
    level : float
    variance : {"taylor", "jackknife"}
    table : DataFrame
        Use :meth:`to_frame` (a copy).
    """

    estimator: str
    variable: str
    by: tuple[str, ...]
    method: str
    level: float
    variance: str
    table: pd.DataFrame

    def to_frame(self, *, chinese: bool = False) -> pd.DataFrame:
        """One row per domain: the ``by`` columns, then ``estimate, se, ci_lower, ci_upper, level,
        n, n_eff, df, deff, cv, method``. ``chinese=True`` labels the columns in Chinese."""
        out = self.table.copy()
        if chinese:
            out = out.rename(columns={**LABELS_ZH, **RESULT_LABELS_ZH})
        return out

    def __len__(self) -> int:
        return len(self.table)

    @property
    def estimate(self) -> float:
        """The estimate, when there is a single domain."""
        return float(self._single()["estimate"])

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_lower, ci_upper)``, when there is a single domain."""
        row = self._single()
        return float(row["ci_lower"]), float(row["ci_upper"])

    def _single(self) -> pd.Series:
        if len(self.table) != 1:
            raise ValueError(f"{len(self.table)} domains: use to_frame().")
        return self.table.iloc[0]

    def _title(self) -> str:
        by = f"，按{'、'.join(LABELS_ZH.get(b, b) for b in self.by)}" if self.by else ""
        return (f"{_ESTIMATOR_ZH.get(self.estimator, self.estimator)}估计：{self.variable}{by}"
                f"（{self.level:.0%} 置信区间，{self.method}，方差 {self.variance}）")

    def __str__(self) -> str:
        frame = self.to_frame(chinese=True)
        return self._title() + "\n" + frame.to_string(index=False, float_format=lambda x: f"{x:.4g}")

    def __repr__(self) -> str:
        return f"<EstimateResult {self.estimator} of {self.variable!r}, {len(self)} domain(s)>"

    def _repr_html_(self) -> str:
        frame = self.to_frame(chinese=True)
        return (f"<p><b>{self._title()}</b></p>"
                + frame.to_html(index=False, float_format=lambda x: f"{x:.4g}"))
