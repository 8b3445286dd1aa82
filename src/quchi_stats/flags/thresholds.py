"""第七条（四）: towns significantly below a threshold, adjusted for multiplicity, with power."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ParameterError, check_choice, check_probability
from ..labels import Verdict

__all__ = ["CLASS_FINE", "CLASS_LOW", "CLASS_SIGNIFICANT", "MULTIPLICITY_METHODS", "adjust_family",
           "adjust_pvalues", "adjust_rows", "classify", "threshold_power", "verdicts"]

#: The codes the estimates' ``class`` column holds (:class:`~quchi_stats.labels.Verdict` values;
#: readers see their words, :data:`~quchi_stats.labels.VERDICT_LABELS`, through the report and
#: ``labels.code_label``). Kept as names for callers; new code may use ``Verdict`` directly.
CLASS_SIGNIFICANT = Verdict.SIGNIFICANT.value  # "significant", shown 显著偏低
CLASS_LOW = Verdict.BELOW.value  # "below", shown 低于标准但不显著
CLASS_FINE = Verdict.COMPLIANT.value  # "compliant", shown 达标
#: Adjustments of :func:`adjust_pvalues` (R's ``p.adjust`` names: holm, hochberg, BH, none).
MULTIPLICITY_METHODS = ("holm", "hochberg", "bh", "none")


def adjust_pvalues(p: np.ndarray, method: str = "holm") -> np.ndarray:
    """Holm (default), Hochberg, Benjamini–Hochberg (``"bh"``) or no adjustment; NaNs stay NaN and
    are left out of the family.

    Matches R's ``p.adjust`` (METHODS.md oracle).

    Examples
    --------
    >>> p = [.001, .008, .039, .041, .042, .060, .074, .205, .212]
    >>> adjust_pvalues(p).round(3).tolist()
    [0.009, 0.064, 0.273, 0.273, 0.273, 0.273, 0.273, 0.41, 0.41]
    """
    method = check_choice("method", method, MULTIPLICITY_METHODS, "adjust_pvalues")
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        return p.copy()
    return adjust_rows(p.reshape(1, -1), method)[0].reshape(p.shape)


def adjust_rows(p: np.ndarray, method: str = "holm", m: int | None = None) -> np.ndarray:
    """Holm, Hochberg, Benjamini–Hochberg or no adjustment of each row of ``p`` (replicates ×
    tests).

    ``m`` is the size of the family when it holds tests that are not in ``p`` (counted with
    p = 1); NaN p-values are left out of their row's family. Vectorised across rows for the
    design simulations; :func:`adjust_pvalues` is its one-row case.

    Examples
    --------
    >>> adjust_rows(np.array([[.001, .008, .039, .041, .042, .060, .074, .205, .212]])).round(3)
    array([[0.009, 0.064, 0.273, 0.273, 0.273, 0.273, 0.273, 0.41 , 0.41 ]])
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    k = p.shape[1]
    extra = 0 if m is None else int(m) - k
    if extra < 0:
        raise ParameterError(f"The 'm' parameter of adjust_rows must be >= {k}. Got {m}.")
    finite = np.isfinite(p)
    if method == "none":
        return np.where(finite, p, np.nan)
    m_row = finite.sum(axis=1, keepdims=True) + extra
    order = np.argsort(np.where(finite, p, np.inf), axis=1, kind="stable")
    # NaNs sort last and are masked at the end: p = 1 for Holm's running maximum from the left,
    # +inf for Benjamini–Hochberg's running minimum from the right
    fill = 1.0 if method == "holm" else np.inf
    ps = np.take_along_axis(np.where(finite, p, fill), order, axis=1)
    i = np.arange(1, k + 1)[None, :]
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m_row - i + 1) * ps), axis=1)
    elif method == "hochberg":
        # step-up: the running minimum from the right of (m − i + 1) p_(i)
        adj = np.minimum.accumulate((np.maximum(m_row - i + 1, 1) * ps)[:, ::-1], axis=1)[:, ::-1]
        adj = np.minimum(adj, 1.0)
    elif method == "bh":
        # a row without any finite p-value (m = 0) is all NaN at the end: no 0 × inf here
        adj = np.minimum.accumulate((np.maximum(m_row, 1) * ps / i)[:, ::-1], axis=1)[:, ::-1]
        adj = np.minimum(adj, 1.0)
    else:
        raise ParameterError(
            f"The 'method' parameter of adjust_rows must be one of 'holm', 'hochberg', 'bh', "
            f"'none'. "
            f"Got {method!r}.")
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, axis=1)
    return np.where(finite, out, np.nan)


def adjust_family(p: np.ndarray, groups: np.ndarray | None, method: str = "holm") -> np.ndarray:
    """Adjust ``p`` within each family: ``groups`` labels each test's family (None: one family).

    Examples
    --------
    >>> adjust_family([0.01, 0.04, 0.01, 0.04], ["a", "a", "b", "b"]).round(2).tolist()
    [0.02, 0.04, 0.02, 0.04]
    """
    p = np.asarray(p, dtype=float)
    if groups is None:
        return adjust_pvalues(p, method)
    groups = np.asarray(groups)
    out = np.full(p.shape, np.nan)
    for gval in dict.fromkeys(groups.tolist()):
        sel = groups == gval
        out[sel] = adjust_pvalues(p[sel], method)
    return out


def threshold_power(n_star: np.ndarray, p0: np.ndarray, p1: np.ndarray,
                    alpha: float) -> np.ndarray:
    """Probability that the one-sided Jeffreys-type test at level ``alpha`` rejects H0: p >= p0
    when the true rate is ``p1``, for a sample worth ``n_star`` independent households.

    The test rejects when the Jeffreys posterior ``Beta.sf(p0; x+½, n−x+½) < alpha``; with
    ``n = round(n_star)`` the power is ``P(X <= c | n, p1)`` for the largest such ``x = c``.

    Examples
    --------
    >>> round(float(threshold_power(60, 0.95, 0.85, 0.05)[0]), 3)
    0.903
    """
    alpha = check_probability("alpha", alpha, "threshold_power")
    n_star, p0, p1 = np.broadcast_arrays(np.atleast_1d(np.asarray(n_star, float)),
                                         np.asarray(p0, float), np.asarray(p1, float))
    out = np.zeros(n_star.shape)
    for i, (ns, a0, a1) in enumerate(zip(n_star.ravel(), p0.ravel(), p1.ravel(), strict=True)):
        n = max(int(round(ns)), 1)
        x = np.arange(n + 1)
        pv = stats.beta.sf(a0, x + 0.5, n - x + 0.5)
        reject = np.flatnonzero(pv < alpha)
        out.ravel()[i] = stats.binom.cdf(reject.max(), n, a1) if reject.size else 0.0
    return out


def verdicts(estimate: np.ndarray, threshold: np.ndarray, p_adjusted: np.ndarray,
             alpha: float) -> np.ndarray:
    """Each row's verdict code (:class:`~quchi_stats.labels.Verdict`): ``significant`` (adjusted
    p < alpha), ``below`` (estimate below the threshold) or ``compliant``.

    A town is never flagged on a point estimate alone: only the first is a flag.

    >>> verdicts([0.8, 0.8, 0.95], [0.9, 0.9, 0.9], [0.01, 0.2, float("nan")], 0.05).tolist()
    ['significant', 'below', 'compliant']
    """
    est = np.asarray(estimate, float)
    thr = np.asarray(threshold, float)
    padj = np.asarray(p_adjusted, float)
    return np.where(np.nan_to_num(padj, nan=1.0) < alpha, Verdict.SIGNIFICANT.value,
                    np.where(est < thr, Verdict.BELOW.value, Verdict.COMPLIANT.value))


def classify(estimate: np.ndarray, threshold: np.ndarray, p_adjusted: np.ndarray,
             alpha: float) -> np.ndarray:
    """The same codes as :func:`verdicts` (:data:`CLASS_SIGNIFICANT`, :data:`CLASS_LOW`,
    :data:`CLASS_FINE`): the name is kept for callers. The codes are values, not words: readers
    see them through :func:`quchi_stats.labels.code_label` (显著偏低, 低于标准但不显著, 达标).

    A town is never flagged on a point estimate alone: only the first class is a flag.

    >>> classify([0.8, 0.95], [0.9, 0.9], [0.01, 0.5], 0.05).tolist()
    ['significant', 'compliant']
    """
    return verdicts(estimate, threshold, p_adjusted, alpha)


def pooled_power_n(n: np.ndarray, deff_district: float, df: np.ndarray,
                   level: float = 0.95) -> np.ndarray:
    """Effective households for power: ``n / max(1, deff) · (z/t_df)²`` (never more than n)."""
    z = stats.norm.ppf(1 - (1 - level) / 2)
    t = stats.t.ppf(1 - (1 - level) / 2, np.maximum(np.asarray(df, float), 1))
    deff = max(1.0, float(deff_district)) if np.isfinite(deff_district) else 1.0
    return np.minimum(np.asarray(n, float), np.asarray(n, float) / deff * (z / t) ** 2)


def summarise(table: pd.DataFrame) -> pd.Series:
    """Counts of each class code of ``table`` (significant, below, compliant)."""
    return table["class"].value_counts().reindex([CLASS_SIGNIFICANT, CLASS_LOW, CLASS_FINE],
                                                 fill_value=0)
