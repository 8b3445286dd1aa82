"""Frozen result objects of the estimators: ``to_frame()``, ``se``, ``conf_int()``, ``__str__`` and
``_repr_html_``.

A result keeps the pieces its interval was computed from — the estimate ``p``, its variance ``v``, the
count ``n``, the degrees of freedom ``df`` and, for a proportion, the effective count ``n_star`` of
the interval — so that another level or method is computed late from them, as R's
``confint(level=)`` and statsmodels' ``summary_frame(alpha=)`` do, without estimating again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import check_choice, check_probability
from ..io.schema import LABELS_ZH, RESULT_LABELS_ZH
from .intervals import CI_METHODS, proportion_interval

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
    p, v, n, df : ndarray
        The pieces of the interval, one per row of :meth:`to_frame`: the estimate as the interval
        used it, its design variance, the count of rows with a value and the degrees of freedom
        (pooled, with ``pool_deff``). Default: taken from ``table`` (``se**2`` for ``v``).
    n_star : ndarray or None
        For a proportion: the effective count the interval used (see
        :func:`~quchi_stats.estimation.proportion_interval`); None for the ``t`` intervals.
    n_design : ndarray or None
        For a proportion: the domain's rows including those without a value (the ``t_{n−1}`` of
        Korn–Graubard). Default ``n``.

    Examples
    --------
    >>> import pandas as pd
    >>> from quchi_stats.design import SurveyDesign
    >>> from quchi_stats.estimation import estimate_proportion
    >>> df = pd.DataFrame({"town": ["甲"] * 6 + ["乙"] * 6, "village": [1, 1, 2, 2, 3, 3] * 2,
    ...                    "w": 10.0, "ok": [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0]})
    >>> df.loc[6:, "village"] += 3
    >>> r = estimate_proportion(SurveyDesign(df, strata="town", psu="village", weights="w"), "ok",
    ...                         by="town")
    >>> r.se.round(4)  # the towns in order of first appearance
    array([0.1667, 0.3333])
    >>> r.conf_int(level=0.9, method="wald").round(4)
      town  ci_lower  ci_upper
    0    甲    0.3467       1.0
    1    乙    0.0000       1.0
    """

    estimator: str
    variable: str
    by: tuple[str, ...]
    method: str
    level: float
    variance: str
    table: pd.DataFrame
    p: np.ndarray | None = field(default=None, kw_only=True, repr=False)
    v: np.ndarray | None = field(default=None, kw_only=True, repr=False)
    n: np.ndarray | None = field(default=None, kw_only=True, repr=False)
    df: np.ndarray | None = field(default=None, kw_only=True, repr=False)
    n_star: np.ndarray | None = field(default=None, kw_only=True, repr=False)
    n_design: np.ndarray | None = field(default=None, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        t = self.table
        given = {"p": self.p, "v": self.v, "n": self.n, "df": self.df, "n_star": self.n_star,
                 "n_design": self.n_design}
        fallback = {"p": lambda: np.nan_to_num(t["estimate"].to_numpy(float), nan=0.0),
                    "v": lambda: t["se"].to_numpy(float) ** 2,
                    "n": lambda: t["n"].to_numpy(float), "df": lambda: t["df"].to_numpy(float)}
        for name, value in given.items():
            if value is None and name in fallback:
                value = fallback[name]()
            if value is not None:
                value = np.array(value, dtype=float)  # a private copy
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def se(self) -> np.ndarray:
        """Standard errors, one per domain (the rows of :meth:`to_frame`)."""
        return np.sqrt(np.maximum(self.v, 0.0))

    def conf_int(self, level: float | None = None, method: str | None = None) -> pd.DataFrame:
        """Confidence intervals at another ``level`` or by another ``method``, from the kept
        pieces (no new estimation): the ``by`` columns, then ``ci_lower`` and ``ci_upper``.

        Defaults: the result's own level and method (which reproduce :meth:`to_frame`'s bounds).
        A proportion takes any of :data:`~quchi_stats.estimation.intervals.CI_METHODS`; a mean,
        ratio or total only ``"t"`` (``estimate ± t_df·se``).
        """
        func = "EstimateResult.conf_int"
        level = self.level if level is None else check_probability("level", level, func)
        method = self.method if method is None else method
        if self.estimator == "proportion":
            check_choice("method", method, CI_METHODS, func)
            ci = proportion_interval(self.p, self.v, np.maximum(self.n, 1), self.df,
                                     method=method, level=level, n_design=self.n_design)
            lower, upper = ci.lower, ci.upper
        else:
            check_choice("method", method, ("t",), func)
            t = stats.t.ppf(1 - (1 - level) / 2, np.maximum(self.df, 1))
            est = self.table["estimate"].to_numpy(float)
            lower, upper = est - t * self.se, est + t * self.se
        out = self.table[list(self.by)].copy()
        out["ci_lower"] = lower
        out["ci_upper"] = upper
        return out

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
