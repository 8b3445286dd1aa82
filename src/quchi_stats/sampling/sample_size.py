"""Sample sizes: a margin of error on a proportion, a one-sided test against a threshold, LQAS.

Formulas from METHODS.md: ``n0 = z²p(1−p)/e²`` (Wald) or the ``n`` whose Wilson half-width is ``e``;
times the design effect; then the finite population correction ``n/(1 + (n−1)/N)``. For classifying
a town against a threshold (H0: p >= p0 against p = p1 < p0) the normal approximation
``[z_{1−α}√(p0q0) + z_{power}√(p1q1)]²/(p0−p1)² × deff`` or the exact binomial search. LQAS rules
accept a lot when the number of successes ``X >= d`` (Valadez 1991; Robertson & Valadez 2006).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from ..errors import ParameterError, check_choice, check_int, check_probability

__all__ = [
    "LQASRule",
    "MarginSampleSize",
    "ThresholdSampleSize",
    "expected_margin",
    "lqas_design",
    "lqas_rule",
    "sample_size_margin",
    "sample_size_threshold",
]


@dataclass(frozen=True)
class MarginSampleSize:
    """Sample size for a margin of error: ``n_eff`` (SRS), ``n_design`` (× deff), ``n`` (FPC, ceil)."""

    n: int
    n_eff: float
    n_design: float
    p: float
    margin: float
    level: float
    deff: float
    population: int | None
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def _wilson_half_width(p: float, n: float, z: float) -> float:
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def sample_size_margin(p: float, margin: float, *, level: float = 0.95, deff: float = 1.0,
                       population: int | None = None, method: str = "wilson") -> MarginSampleSize:
    """Households needed so a proportion near ``p`` is estimated within ``± margin``.

    Parameters
    ----------
    p : float
        Anticipated proportion, in (0, 1).
    margin : float
        Half-width of the interval, in (0, 1).
    level : float
        Confidence level.
    deff : float
        Anticipated design effect (clustering within villages), >= 0.
    population : int, optional
        Frame size ``N`` for the finite population correction.
    method : {"wilson", "wald"}
        ``"wilson"`` sizes on the Wilson score half-width, which stays honest near p = 1.

    Examples
    --------
    >>> round(sample_size_margin(0.95, 0.05, method="wald").n_eff, 1)
    73.0
    >>> round(sample_size_margin(0.95, 0.05, method="wilson").n_eff, 1)
    82.9
    """
    func = "sample_size_margin"
    p = check_probability("p", p, func)
    margin = check_probability("margin", margin, func)
    level = check_probability("level", level, func)
    method = check_choice("method", method, ("wilson", "wald"), func)
    if not deff > 0:
        raise ParameterError(f"The 'deff' parameter of {func} must be > 0. Got {deff!r}.")
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    if method == "wald":
        n_eff = z * z * p * (1 - p) / margin**2
    else:
        lo, hi = 1e-6, 1e9
        if _wilson_half_width(p, hi, z) > margin:  # pragma: no cover - absurd margins
            raise ParameterError(f"No sample size reaches margin {margin} for p = {p}.")
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            if _wilson_half_width(p, mid, z) > margin:
                lo = mid
            else:
                hi = mid
        n_eff = hi
    n_design = n_eff * deff
    n = n_design
    if population is not None:
        population = check_int("population", population, func, minimum=1)
        n = n_design / (1 + (n_design - 1) / population)
    return MarginSampleSize(int(math.ceil(n - 1e-9)), n_eff, n_design, p, margin, level,
                            float(deff), population, method)


@dataclass(frozen=True)
class ThresholdSampleSize:
    """Sample size to detect a town at ``p1`` below a threshold ``p0`` (reject when X <= critical)."""

    n: int
    critical: int | None
    alpha: float
    power: float
    p0: float
    p1: float
    deff: float
    method: str
    n_real: float

    def to_dict(self) -> dict:
        return asdict(self)


def sample_size_threshold(p0: float, p1: float, *, alpha: float = 0.05, power: float = 0.8,
                          deff: float = 1.0, method: str = "exact",
                          n_max: int = 20_000) -> ThresholdSampleSize:
    """Sample size for the one-sided test of H0: p >= p0 that detects p = p1 < p0.

    ``method="normal"`` gives ``[z_{1−α}√(p0q0) + z_{power}√(p1q1)]²/(p0−p1)² × deff``;
    ``method="exact"`` the smallest binomial ``n`` (times ``deff``, rounded up) with a critical value
    ``c`` such that ``P(X <= c | p0) <= alpha`` and ``P(X <= c | p1) >= power``. The returned
    ``alpha``/``power`` are the attained values of the exact rule (normal: the nominal ones).

    Examples
    --------
    >>> round(sample_size_threshold(0.95, 0.85, method="normal").n_real, 1)
    43.4
    >>> r = sample_size_threshold(0.95, 0.85)
    >>> (r.n, r.critical)
    (52, 46)
    """
    func = "sample_size_threshold"
    p0 = check_probability("p0", p0, func)
    p1 = check_probability("p1", p1, func)
    alpha = check_probability("alpha", alpha, func)
    power = check_probability("power", power, func)
    method = check_choice("method", method, ("exact", "normal"), func)
    if not p1 < p0:
        raise ParameterError(f"The 'p1' parameter of {func} must be < p0 ({p0}). Got {p1!r}.")
    if not deff >= 1:
        raise ParameterError(f"The 'deff' parameter of {func} must be >= 1. Got {deff!r}.")
    if method == "normal":
        za = stats.norm.ppf(1 - alpha)
        zb = stats.norm.ppf(power)
        n_real = (za * math.sqrt(p0 * (1 - p0)) + zb * math.sqrt(p1 * (1 - p1))) ** 2
        n_real = n_real / (p0 - p1) ** 2 * deff
        return ThresholdSampleSize(int(math.ceil(n_real - 1e-9)), None, alpha, power, p0, p1,
                                   float(deff), method, float(n_real))
    for n in range(1, n_max + 1):
        c = int(stats.binom.ppf(alpha, n, p0))
        while c >= 0 and stats.binom.cdf(c, n, p0) > alpha:
            c -= 1
        if c < 0:
            continue
        attained_power = float(stats.binom.cdf(c, n, p1))
        if attained_power >= power:
            n_design = n * deff
            return ThresholdSampleSize(int(math.ceil(n_design - 1e-9)), c,
                                       float(stats.binom.cdf(c, n, p0)), attained_power, p0, p1,
                                       float(deff), method, float(n_design))
    raise ParameterError(f"No sample size up to n_max={n_max} reaches the requested power.")


@dataclass(frozen=True)
class LQASRule:
    """An LQAS decision rule: accept (达标) when successes ``X >= d`` out of ``n``.

    ``alpha`` = P(X < d | p_upper) (the town is good but judged bad, provider risk);
    ``beta`` = P(X >= d | p_lower) (the town is bad but judged good, consumer risk).
    """

    n: int
    d: int
    alpha: float
    beta: float
    p_upper: float
    p_lower: float
    population: int | None

    def to_dict(self) -> dict:
        return asdict(self)


def _lqas_risks(n: int, p_upper: float, p_lower: float,
                population: int | None) -> tuple[np.ndarray, np.ndarray]:
    d = np.arange(0, n + 2)
    if population is None:
        alpha = stats.binom.cdf(d - 1, n, p_upper)
        beta = stats.binom.sf(d - 1, n, p_lower)
    else:
        good_u = round(p_upper * population)
        good_l = round(p_lower * population)
        alpha = stats.hypergeom.cdf(d - 1, population, good_u, n)
        beta = stats.hypergeom.sf(d - 1, population, good_l, n)
    return alpha, beta


def lqas_rule(n: int, p_upper: float, p_lower: float, *, alpha_max: float = 0.10,
              beta_max: float = 0.10, population: int | None = None) -> LQASRule:
    """The decision rule ``d`` for a given ``n``: both risks within bounds, ``alpha+beta`` minimal.

    Binomial risks, or hypergeometric for a finite lot of ``population`` households.

    Examples
    --------
    >>> r = lqas_rule(19, 0.80, 0.50)
    >>> r.d, round(r.alpha, 3), round(r.beta, 3)
    (13, 0.068, 0.084)
    """
    func = "lqas_rule"
    n = check_int("n", n, func, minimum=1)
    p_upper, p_lower, alpha_max, beta_max = _check_lqas(p_upper, p_lower, alpha_max, beta_max, func)
    if population is not None:
        population = check_int("population", population, func, minimum=n)
    rule = _best_rule(n, p_upper, p_lower, alpha_max, beta_max, population)
    if rule is None:
        raise ParameterError(
            f"No LQAS rule with n={n} keeps alpha <= {alpha_max} and beta <= {beta_max} for "
            f"{p_upper:.0%}/{p_lower:.0%}; use lqas_design to find n.")
    return rule


def _check_lqas(p_upper: float, p_lower: float, alpha_max: float, beta_max: float,
                func: str) -> tuple[float, float, float, float]:
    out = tuple(check_probability(name, v, func) for name, v in (
        ("p_upper", p_upper), ("p_lower", p_lower), ("alpha_max", alpha_max),
        ("beta_max", beta_max)))
    if not out[1] < out[0]:
        raise ParameterError(f"The 'p_lower' parameter of {func} must be < p_upper. Got {p_lower!r}.")
    return out  # type: ignore[return-value]


def _best_rule(n: int, p_upper: float, p_lower: float, alpha_max: float, beta_max: float,
               population: int | None) -> LQASRule | None:
    alpha, beta = _lqas_risks(n, p_upper, p_lower, population)
    ok = (alpha <= alpha_max + 1e-12) & (beta <= beta_max + 1e-12)
    if not ok.any():
        return None
    total = np.where(ok, alpha + beta, np.inf)
    d = int(np.argmin(total))
    return LQASRule(n, d, float(alpha[d]), float(beta[d]), p_upper, p_lower, population)


def lqas_design(p_upper: float, p_lower: float, *, alpha_max: float = 0.10,
                beta_max: float = 0.10, population: int | None = None,
                n_max: int = 2_000) -> LQASRule:
    """The smallest ``n`` (and its rule) with both LQAS risks within bounds.

    Examples
    --------
    >>> r = lqas_design(0.95, 0.85)
    >>> r.n, r.d
    (60, 55)
    """
    func = "lqas_design"
    p_upper, p_lower, alpha_max, beta_max = _check_lqas(p_upper, p_lower, alpha_max, beta_max, func)
    top = n_max if population is None else min(n_max, population)
    for n in range(1, top + 1):
        rule = _best_rule(n, p_upper, p_lower, alpha_max, beta_max, population)
        if rule is not None:
            return rule
    raise ParameterError(f"No LQAS design with n <= {top} meets the requested risks.")


def expected_margin(p: float, n: float, *, deff: float = 1.0, level: float = 0.95) -> float:
    """Wilson half-width a sample of ``n`` households (design effect ``deff``) gives near ``p``.

    Examples
    --------
    >>> round(expected_margin(0.95, 82.92), 3)
    0.05
    """
    func = "expected_margin"
    p = check_probability("p", p, func)
    level = check_probability("level", level, func)
    if not n > 0 or not deff > 0:
        raise ParameterError(f"{func} needs n > 0 and deff > 0. Got n={n!r}, deff={deff!r}.")
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    return _wilson_half_width(p, n / deff, z)
