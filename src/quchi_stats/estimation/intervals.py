"""Confidence intervals for a proportion under a complex design, and one-sided p-values.

Every method works on the design-based estimate ``p`` (p̂), its variance ``v``, the unweighted count
``n`` and the degrees of freedom ``df`` (PSUs − strata in the domain), vectorised over domains.
With ``n_eff = p(1 − p)/v`` (the effective sample size):

``"jeffreys"`` (default)
    Beta(x*+½, n*−x*+½) quantiles with ``n* = min(n, n_eff·(z/t_df)²)``, ``x* = n*·p``
    (Dean & Pagano 2015's truncation; Brown, Cai & DasGupta 2001's interval). When p̂ ∈ {0, 1} or
    v = 0 the design effect cannot be estimated from a constant and ``n* = n``; at the boundary the
    Brown–Cai–DasGupta modification gives ``[(α/2)^{1/n*}, 1]`` when p̂ = 1 and
    ``[0, 1 − (α/2)^{1/n*}]`` when p̂ = 0. Never NaN, never zero width.
``"korn-graubard"``
    R ``svyciprop(method="beta")``: ``n* = n_eff·(t_{n−1}/t_df)²``,
    ``[qbeta(α/2, x*, n*−x*+1), qbeta(1−α/2, x*+1, n*−x*)]`` (Korn & Graubard 1998). At
    p̂ ∈ {0, 1} R returns NaN; here ``n_eff = n`` there, as NCHS's ``kg_nchs`` does (Ward 2019):
    p̂ = 1, n = 100, df = 5 gives n* = 59.58 and [0.9400, 1].
``"logit"``
    R ``method="xlogit"``: ``expit(logit p ± t_df·se/(p(1 − p)))``.
``"wald"``
    R ``method="mean"``: ``p ± t_df·se``, clipped to [0, 1].
``"wilson"``
    Score interval on ``n_eff`` with the ``t_df`` quantile.
``"clopper-pearson"``
    Exact binomial on the raw ``n`` and ``x = n·p`` (ignores the design; for comparison).
``"agresti-coull"``
    ``p̃ ± t_df·√(p̃(1 − p̃)/(n_eff + t²))`` with ``p̃ = (n_eff·p + t²/2)/(n_eff + t²)``.
``"asin"``
    ``sin²(asin√p ± t_df/(2√n_eff))``, clipped.
``"likelihood"``
    R ``method="likelihood"``: the profile-likelihood interval of the binomial with the deviance
    scaled by the design effect (Rao–Scott): the p with ``2·n_eff·KL(p̂‖p) ≤ t²_df·n/(n − 1)``,
    ``KL(p̂‖p) = p̂ log(p̂/p) + (1 − p̂) log((1 − p̂)/(1 − p))`` and ``n/(n − 1)`` the quasi-binomial
    dispersion. R profiles the quasi-binomial ``svyglm`` and interpolates with splines, so it agrees
    to about 1e-4; with missing values in a domain R's dispersion differs (docs/estimation.md).
    At p̂ ∈ {0, 1} or v = 0, ``n_eff = n`` (R fails there).

:func:`one_sided_pvalue` tests H0: p ≥ p0 against p < p0, consistently with each method (for the
beta methods ``P = Beta.sf(p0; x*+1, n*−x*)`` or the Jeffreys posterior ``Beta.sf(p0; x*+½,
n*−x*+½)``; P = 1 when p̂ = 1).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import ParameterError, check_choice, check_probability

__all__ = ["CI_METHODS", "IntervalResult", "one_sided_pvalue", "proportion_interval"]

CI_METHODS = ("jeffreys", "korn-graubard", "logit", "wald", "wilson", "clopper-pearson",
              "agresti-coull", "asin", "likelihood")

_TINY = 1e-12


class IntervalResult(tuple):
    """``(lower, upper, n_star)`` arrays."""

    __slots__ = ()

    def __new__(cls, lower: np.ndarray, upper: np.ndarray, n_star: np.ndarray) -> IntervalResult:
        return super().__new__(cls, (lower, upper, n_star))

    @property
    def lower(self) -> np.ndarray:
        return self[0]

    @property
    def upper(self) -> np.ndarray:
        return self[1]

    @property
    def n_star(self) -> np.ndarray:
        return self[2]


def _prepare(p, v, n, df):
    p = np.atleast_1d(np.asarray(p, dtype=float))
    v = np.broadcast_to(np.asarray(v, dtype=float), p.shape).astype(float)
    n = np.broadcast_to(np.asarray(n, dtype=float), p.shape).astype(float)
    df = np.broadcast_to(np.asarray(df, dtype=float), p.shape).astype(float)
    if np.any((p < -_TINY) | (p > 1 + _TINY)):
        raise ParameterError("Proportions must lie in [0, 1].")
    p = np.clip(p, 0.0, 1.0)
    return p, v, n, df


def _t(level: float, df: np.ndarray) -> np.ndarray:
    """Two-sided t quantile; df <= 0 has no information: use df = 1 (the widest defined)."""
    return stats.t.ppf(1 - (1 - level) / 2, np.maximum(df, 1))


def effective_n(p: np.ndarray, v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``p(1 − p)/v``; ``n`` where p ∈ {0, 1} or v = 0 (the design effect is not estimable)."""
    boundary = _no_variance(p, v)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ne = np.where(boundary, n, p * (1 - p) / np.where(boundary, 1.0, v))
    return ne


def _no_variance(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """p̂ ∈ {0, 1}, or a variance that is zero up to rounding (below 1e-15·p̂(1 − p̂))."""
    return ((p <= _TINY) | (p >= 1 - _TINY) | ~np.isfinite(v)
            | (v <= 1e-15 * p * (1 - p)))


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Binomial Kullback–Leibler divergence KL(p‖q) per unit (0·log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log(np.where(p < 1, 1 - p, 1.0) / (1 - q)), 0.0)
    return a + b


def _likelihood_bounds(p: np.ndarray, ne: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """The q below and above p̂ where ``2·ne·KL(p̂‖q) = cut`` (vectorised bisection)."""
    lo_a, lo_b = np.zeros_like(p), p.copy()     # lower bound in [0, p̂]
    hi_a, hi_b = p.copy(), np.ones_like(p)      # upper bound in [p̂, 1]
    for _ in range(200):
        m = (lo_a + lo_b) / 2
        inside = 2 * ne * _kl(p, np.clip(m, 1e-300, 1.0)) <= cut
        lo_a, lo_b = np.where(inside, lo_a, m), np.where(inside, m, lo_b)
        m = (hi_a + hi_b) / 2
        inside = 2 * ne * _kl(p, np.clip(m, 0.0, 1 - 1e-16)) <= cut
        hi_a, hi_b = np.where(inside, m, hi_a), np.where(inside, hi_b, m)
        if np.all(lo_b - lo_a <= 1e-15 * np.maximum(lo_b, 1e-300)) and np.all(
                hi_b - hi_a <= 1e-15 * np.maximum(1 - hi_a, 1e-300)):
            break
    lower = np.where(p <= _TINY, 0.0, (lo_a + lo_b) / 2)
    upper = np.where(p >= 1 - _TINY, 1.0, (hi_a + hi_b) / 2)
    return lower, upper


def proportion_interval(p, v, n, df, *, method: str = "jeffreys",
                        level: float = 0.95, n_design=None) -> IntervalResult:
    """Two-sided confidence interval for proportions (vectorised).

    Parameters
    ----------
    p, v : array_like
        Estimates and their design variances.
    n : array_like
        Unweighted number of units in each domain.
    df : array_like
        Design degrees of freedom of each domain.
    method : str
        One of :data:`CI_METHODS`.
    level : float
        Confidence level, in (0, 1).
    n_design : array_like, optional
        The domain's rows including those without a value (R's ``nrow(design)``), for the
        ``t_{n−1}`` of Korn–Graubard, as R ``svyciprop(method="beta")`` counts them. Default ``n``.

    Returns
    -------
    IntervalResult
        ``lower``, ``upper`` and the effective count ``n_star`` the method used.

    Examples
    --------
    >>> r = proportion_interval(0.95, 0.02**2, 60, 5, method="korn-graubard")
    >>> round(float(r.n_star[0]), 3), round(float(r.lower[0]), 6), round(float(r.upper[0]), 6)
    (71.955, 0.871371, 0.987461)
    >>> r = proportion_interval(1.0, 0.0, 30, 2)
    >>> round(float(r.lower[0]), 4), float(r.upper[0])
    (0.8843, 1.0)
    """
    method = check_choice("method", method, CI_METHODS, "proportion_interval")
    level = check_probability("level", level, "proportion_interval")
    p, v, n, df = _prepare(p, v, n, df)
    nd = n if n_design is None else np.broadcast_to(np.asarray(n_design, dtype=float), p.shape)
    a = 1 - level
    z = stats.norm.ppf(1 - a / 2)
    t = _t(level, df)
    ne = effective_n(p, v, n)
    se = np.sqrt(np.maximum(v, 0))
    lo_hit = p <= _TINY
    hi_hit = p >= 1 - _TINY
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method == "jeffreys":
            boundary = _no_variance(p, v)
            ns = np.where(boundary, n, np.minimum(n, ne * (z / t) ** 2))
            ns = np.maximum(ns, 1.0)
            x = ns * p
            lower = stats.beta.ppf(a / 2, x + 0.5, ns - x + 0.5)
            upper = stats.beta.ppf(1 - a / 2, x + 0.5, ns - x + 0.5)
            lower = np.where(hi_hit, (a / 2) ** (1 / ns), np.where(lo_hit, 0.0, lower))
            upper = np.where(lo_hit, 1 - (a / 2) ** (1 / ns), np.where(hi_hit, 1.0, upper))
            # with a handful of effective units the Jeffreys bounds can pass p̂ itself (x* < 1);
            # an interval never excludes its own estimate
            return IntervalResult(np.minimum(lower, p), np.maximum(upper, p), ns)
        if method in ("korn-graubard", "clopper-pearson"):
            if method == "korn-graubard":
                t_n = stats.t.ppf(1 - a / 2, np.maximum(nd - 1, 1))
                ns = ne * (t_n / t) ** 2
            else:
                ns = n
            ns = np.maximum(ns, _TINY)
            x = ns * p
            lower = np.where(lo_hit, 0.0, stats.beta.ppf(a / 2, np.maximum(x, _TINY),
                                                          ns - x + 1))
            upper = np.where(hi_hit, 1.0, stats.beta.ppf(1 - a / 2, x + 1,
                                                          np.maximum(ns - x, _TINY)))
            return IntervalResult(lower, upper, ns)
        if method == "logit":
            boundary = _no_variance(p, v)
            lp = np.log(np.where(boundary, 0.5, p) / (1 - np.where(boundary, 0.5, p)))
            half = t * se / np.where(boundary, 1.0, p * (1 - p))
            lower = 1 / (1 + np.exp(-(lp - half)))
            upper = 1 / (1 + np.exp(-(lp + half)))
            lower = np.where(boundary, p, lower)
            upper = np.where(boundary, p, upper)
            return IntervalResult(lower, upper, ne)
        if method == "wald":
            return IntervalResult(np.clip(p - t * se, 0, 1), np.clip(p + t * se, 0, 1), ne)
        if method == "likelihood":
            cut = t**2 * n / np.maximum(n - 1, 1)
            lower, upper = _likelihood_bounds(p, ne, cut)
            return IntervalResult(lower, upper, ne)
        if method == "wilson":
            q = t
            centre = (p + q**2 / (2 * ne)) / (1 + q**2 / ne)
            half = q * np.sqrt(p * (1 - p) / ne + q**2 / (4 * ne**2)) / (1 + q**2 / ne)
            return IntervalResult(np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1), ne)
        if method == "agresti-coull":
            q = t
            nt = ne + q**2
            pt = (ne * p + q**2 / 2) / nt
            half = q * np.sqrt(pt * (1 - pt) / nt)
            return IntervalResult(np.clip(pt - half, 0, 1), np.clip(pt + half, 0, 1), ne)
        # asin
        root = np.arcsin(np.sqrt(p))
        half = t / (2 * np.sqrt(ne))
        lower = np.sin(np.clip(root - half, 0, np.pi / 2)) ** 2
        upper = np.sin(np.clip(root + half, 0, np.pi / 2)) ** 2
        return IntervalResult(lower, upper, ne)


def one_sided_pvalue(p, v, n, df, p0, *, method: str = "jeffreys",
                     level_for_n: float = 0.95, deff_floor: float | None = None,
                     n_design=None) -> np.ndarray:
    """P-value of H0: p ≥ p0 against p < p0, consistent with ``method``'s interval.

    Small values say the true rate is below ``p0`` (a town significantly low). P = 1 when p̂ = 1.
    ``level_for_n`` fixes the (z/t_df)² factor of the effective count for the Jeffreys and
    Korn–Graubard methods (the p-value of the 95 % interval's n*). ``deff_floor`` (for example 1)
    caps the effective count at ``n/deff_floor`` before that factor: with a handful of villages
    the estimated design effect is often far below its true value, and a test that decides a
    flag should not gain from that (the flagging code uses 1).

    Examples
    --------
    >>> # METHODS.md oracle: p 0.90, n* 60, p0 0.95 -> 0.0787 (CP type) / 0.0492 (Jeffreys type)
    >>> v = 0.9 * 0.1 / 60
    >>> round(float(one_sided_pvalue(0.9, v, 60, 10_000, 0.95, method="clopper-pearson")[0]), 4)
    0.0787
    >>> round(float(one_sided_pvalue(0.9, v, 60, 10_000, 0.95, method="jeffreys")[0]), 4)
    0.0492
    """
    method = check_choice("method", method, CI_METHODS, "one_sided_pvalue")
    p, v, n, df = _prepare(p, v, n, df)
    nd = n if n_design is None else np.broadcast_to(np.asarray(n_design, dtype=float), p.shape)
    p0 = np.broadcast_to(np.asarray(p0, dtype=float), p.shape)
    if np.any((p0 <= 0) | (p0 >= 1)):
        raise ParameterError("The 'p0' parameter of one_sided_pvalue must be in (0, 1).")
    a = 1 - level_for_n
    z = stats.norm.ppf(1 - a / 2)
    t = _t(level_for_n, df)
    ne = effective_n(p, v, n)
    if deff_floor is not None:
        ne = np.minimum(ne, n / float(deff_floor))
    hi_hit = p >= 1 - _TINY
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method in ("jeffreys", "korn-graubard", "clopper-pearson"):
            if method == "jeffreys":
                boundary = _no_variance(p, v)
                ns = np.maximum(np.where(boundary, n, np.minimum(n, ne * (z / t) ** 2)), 1.0)
                x = ns * p
                out = stats.beta.sf(p0, x + 0.5, ns - x + 0.5)
            else:
                if method == "korn-graubard":
                    t_n = stats.t.ppf(1 - a / 2, np.maximum(nd - 1, 1))
                    ns = ne * (t_n / t) ** 2
                else:
                    ns = n
                x = ns * p
                out = stats.beta.sf(p0, x + 1, np.maximum(ns - x, _TINY))
            return np.where(hi_hit, 1.0, out)
        dfc = np.maximum(df, 1)
        se = np.sqrt(np.maximum(v, 0))
        if method == "wald":
            stat = (p - p0) / np.where(se > 0, se, np.inf)
        elif method == "logit":
            lp = np.log(np.clip(p, _TINY, 1 - _TINY) / (1 - np.clip(p, _TINY, 1 - _TINY)))
            l0 = np.log(p0 / (1 - p0))
            denom = se / np.clip(p * (1 - p), _TINY, None)
            stat = (lp - l0) / np.where(denom > 0, denom, np.inf)
        elif method == "likelihood":
            # signed root of the scaled deviance: the interval's bound is p0 when P = α/2
            dev = 2 * ne * _kl(p, p0) * (n - 1) / np.maximum(n, 2)
            stat = np.sign(p - p0) * np.sqrt(np.maximum(dev, 0.0))
        elif method in ("wilson", "agresti-coull"):
            stat = (p - p0) / np.sqrt(p0 * (1 - p0) / ne)
        else:  # asin
            stat = (np.arcsin(np.sqrt(p)) - np.arcsin(np.sqrt(p0))) * 2 * np.sqrt(ne)
        out = stats.t.cdf(stat, dfc)
        return np.where(hi_hit, 1.0, out)
