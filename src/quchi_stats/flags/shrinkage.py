"""Empirical-Bayes (beta-binomial) shrinkage of town rates, and the posterior chance of being low.

Two levels of one model (:mod:`quchi_stats.flags.betabinomial`):

1. *Within towns.* One intra-village correlation ``ρ`` per indicator, estimated from all the
   district's villages as the town test estimates it (``method``: the pooled one-way ANOVA of the
   default adjusted test, :func:`~quchi_stats.flags.town_test.anova_rho_batch`, or the Cox–Reid
   adjusted likelihood, :func:`~quchi_stats.flags.betabinomial.fit_village_icc`), gives each town's effective
   sample size ``n*_h`` (:func:`~quchi_stats.flags.betabinomial.town_effective_n`) — not the town's
   own, noisy design effect. The town contributes ``x*_h = n*_h p̂_h`` out of ``n*_h``.
2. *Between towns.* ``p_h ~ Beta`` with mean ``μ`` and between-town ICC ``ρ_B`` (precision
   ``(1 − ρ_B)/ρ_B``), fitted by the (Cox–Reid adjusted) marginal beta-binomial likelihood on
   ``(x*_h, n*_h)`` — the same bounded, convergence-checked fit with the towns as units. The
   posterior is Beta(a + x*, b + n* − x*) with ``a = μ(1 − ρ_B)/ρ_B``, ``b = (1 − μ)(1 − ρ_B)/ρ_B``.

When ``ρ_B`` is estimated at 0, or so small that no town's own data carry 1 % of its posterior
mean, the between-town variance is not identified: the status is :data:`BETWEEN_BOUNDARY`, every
shrunken estimate is the district level ``μ`` and no posterior interval or probability is given
(a point-mass prior would print identical rows that look like evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import check_choice, check_probability
from .betabinomial import ConvergenceError, _codes, fit_common_mean, fit_village_icc, town_effective_n
from .town_test import TEST_METHODS, _district_rho

__all__ = [
    "BETWEEN_BOUNDARY",
    "BETWEEN_ESTIMATED",
    "BETWEEN_FIT_FAILED",
    "BetweenTownFit",
    "fit_beta_binomial",
    "fit_between_towns",
    "shrink",
    "shrink_villages",
]

#: The between-town variance is estimated and the shrunken estimates differ between towns.
BETWEEN_ESTIMATED = "estimated"
#: The between-town variance is at its boundary (0): every shrunken estimate is the district level.
BETWEEN_BOUNDARY = "boundary"
#: A likelihood fit did not converge: no shrunken estimates.
BETWEEN_FIT_FAILED = "fit_failed"
#: Below this share of own data in every town's posterior mean, the shrinkage is total.
MIN_OWN_WEIGHT = 0.01


@dataclass(frozen=True)
class BetweenTownFit:
    """The between-town Beta distribution of the true rates.

    ``mu`` district level; ``rho_between`` the between-town ICC (``mu(1 − mu) rho_between`` is the
    variance of the true town rates) with its profile-likelihood interval; ``lr_stat`` = 2 × (the
    criterion at ``rho_between`` − at 0) and ``p_value`` its one-sided boundary p-value
    (½ χ²₁: Self & Liang 1987); ``status`` one of the ``BETWEEN_*`` codes.
    """

    mu: float
    rho_between: float
    rho_lower: float
    rho_upper: float
    lr_stat: float
    p_value: float
    status: str

    @property
    def precision(self) -> float:
        """``a + b = (1 − ρ_B)/ρ_B`` (infinite at the boundary)."""
        return np.inf if self.rho_between <= 0 else (1 - self.rho_between) / self.rho_between

    @property
    def prior(self) -> tuple[float, float]:
        """``(a, b)`` of the Beta prior (infinite at the boundary: a point mass at ``mu``)."""
        s = self.precision
        return (self.mu * s, (1 - self.mu) * s) if np.isfinite(s) else (np.inf, np.inf)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"mu": self.mu, "rho_between": self.rho_between,
                              "rho_lower": self.rho_lower, "rho_upper": self.rho_upper,
                              "lr_stat": self.lr_stat, "p_value": self.p_value,
                              "status": self.status}])


def fit_between_towns(x: np.ndarray, n: np.ndarray, *, level: float = 0.95) -> BetweenTownFit:
    """Fit the between-town Beta(μ, ρ_B) to effective counts ``x*`` out of ``n*``.

    Raises :class:`~quchi_stats.flags.betabinomial.ConvergenceError` when the fit fails.

    Examples
    --------
    >>> f = fit_between_towns([45.0, 46, 44, 45], [50.0, 50, 50, 50])
    >>> f.status, f.rho_between
    ('boundary', 0.0)
    >>> f = fit_between_towns([49.0, 30, 47, 20], [50.0, 50, 50, 50])
    >>> f.status, bool(f.rho_between > 0.05)
    ('estimated', True)
    """
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    f = fit_common_mean(x, n, level=level)
    lr = max(0.0, f.lr_overdispersion)
    p = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
    mu = float(f.towns["p_ml"].iloc[0])
    s = np.inf if f.rho <= 0 else (1 - f.rho) / f.rho
    own = n / (n + s) if np.isfinite(s) else np.zeros_like(n)
    status = BETWEEN_ESTIMATED if f.rho > 0 and own.max() >= MIN_OWN_WEIGHT else BETWEEN_BOUNDARY
    return BetweenTownFit(mu, f.rho, f.rho_lower, f.rho_upper, lr, p, status)


def fit_beta_binomial(x: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of the between-unit Beta prior for possibly non-integer counts (infinite at the
    boundary of no variation; :func:`fit_between_towns` gives the mean and the status)."""
    return fit_between_towns(x, n).prior


def shrink(table: pd.DataFrame, threshold: float, *, level: float = 0.95) -> pd.DataFrame:
    """Posterior mean, interval and P(rate < threshold) for each town.

    ``table`` needs ``estimate`` and ``n_star`` (effective sample size: from the district ICC, see
    :func:`shrink_villages`). Returns a copy with ``eb_estimate``, ``eb_lower``, ``eb_upper``,
    ``prob_below``, ``own_weight`` (the share of the town's own data in its posterior mean),
    ``district_level`` (the fitted mean μ) and ``between_status``; ``attrs["between"]`` holds the
    :class:`BetweenTownFit`. When the status is not :data:`BETWEEN_ESTIMATED`, ``eb_estimate`` is
    the district level (or NaN if the fit failed) and the interval and probability are NaN.
    """
    threshold = check_probability("threshold", threshold, "shrink", closed=True)
    level = check_probability("level", level, "shrink")
    out = table.copy()
    n = out["n_star"].to_numpy(float)
    x = np.clip(out["estimate"].to_numpy(float), 0.0, 1.0) * n
    nan = np.full(len(out), np.nan)
    try:
        fit = fit_between_towns(x, n, level=level)
    except ConvergenceError:
        fit = None
    if fit is None or fit.status != BETWEEN_ESTIMATED:
        out["eb_estimate"] = nan if fit is None else fit.mu
        out["eb_lower"], out["eb_upper"], out["prob_below"] = nan, nan.copy(), nan.copy()
        out["own_weight"] = nan if fit is None else 0.0
        out["district_level"] = nan if fit is None else fit.mu
        out["between_status"] = BETWEEN_FIT_FAILED if fit is None else fit.status
        out.attrs["between"] = fit
        return out
    a, b = fit.prior
    pa, pb = a + x, b + n - x
    out["eb_estimate"] = pa / (pa + pb)
    out["eb_lower"] = stats.beta.ppf((1 - level) / 2, pa, pb)
    out["eb_upper"] = stats.beta.ppf(1 - (1 - level) / 2, pa, pb)
    out["prob_below"] = stats.beta.cdf(threshold, pa, pb)
    out["own_weight"] = n / (n + a + b)
    out["district_level"] = fit.mu
    out["between_status"] = fit.status
    out.attrs["between"] = fit
    out.attrs["prior"] = (a, b)
    return out


def shrink_villages(villages: pd.DataFrame, threshold: float, *, level: float = 0.95,
                    method: str = "beta-binomial") -> pd.DataFrame:
    """The empirical-Bayes table from village counts (:func:`~quchi_stats.flags.betabinomial.village_counts`).

    Estimates the district ICC as the town test of ``method`` does (one of
    :data:`~quchi_stats.flags.town_test.TEST_METHODS`: the pooled ANOVA estimate for
    ``"beta-binomial-adjusted"``, the Cox–Reid adjusted likelihood otherwise), so that the
    shrinkage and the test count each town's villages alike; takes each town's design-based rate
    and its effective size ``n*`` under that ICC, and shrinks them (:func:`shrink`). Adds ``icc``,
    ``icc_lower``, ``icc_upper`` (the likelihood's profile interval; NaN with the ANOVA estimate,
    which has none), ``icc_homogeneity_p`` (the likelihood's test of one ICC for all towns, a check
    of the model either way), ``rho_between`` and ``between_p`` (constant within the table). A fit
    that fails to converge gives the status :data:`BETWEEN_FIT_FAILED`, never an exception.
    """
    method = check_choice("method", method, TEST_METHODS, "shrink_villages")
    adjusted = method == "beta-binomial-adjusted"
    try:  # the likelihood's interval only where its estimate is the one used
        icc = fit_village_icc(villages, level=level, interval=not adjusted)
    except ConvergenceError:
        towns = town_effective_n(villages, 0.0)
        out = towns[["town", "estimate"]].assign(n_star=np.nan, households=towns["households"])
        for c in ("eb_estimate", "eb_lower", "eb_upper", "prob_below", "own_weight",
                  "district_level", "icc",
                  "icc_lower", "icc_upper", "icc_homogeneity_p", "rho_between", "between_p"):
            out[c] = np.nan
        out["between_status"] = BETWEEN_FIT_FAILED
        return out
    rho, lower, upper = icc.rho, icc.rho_lower, icc.rho_upper
    if adjusted:  # the test's pooled ANOVA estimate, which has no such interval
        y, m, g, names = _codes(villages)
        rho = _district_rho(method, y, m, g, len(names))
    towns = town_effective_n(villages, rho)
    t = towns[["town", "estimate", "households"]].assign(n_star=towns["n_icc"])
    out = shrink(t, threshold, level=level)
    fit = out.attrs.get("between")
    out["icc"], out["icc_lower"], out["icc_upper"] = rho, lower, upper
    out["icc_homogeneity_p"] = icc.homogeneity_p
    out["rho_between"] = np.nan if fit is None else fit.rho_between
    out["between_p"] = np.nan if fit is None else fit.p_value
    out.attrs["icc"] = icc
    return out
