"""Prototype (issue 13, not wired into the report): a **finite-population** town test.

The estimand of 第七条（四） is the town's actual rate this year: a finite population of villages
and households, ``P_h = Σ_v Y_v / Σ_v N_v`` over **all** the town's villages, sampled or not. The
report's test (:mod:`.town_test`) tests the superpopulation mean ``μ_h`` of a beta-binomial model
instead; visiting 5 of a town's 8 villages, or all of them, earns it no finite-population
correction. This module predicts ``P_h`` under the same model (Royall's model-based prediction for
two-stage sampling; Valliant, Dorfman & Royall 2000, *Finite Population Sampling and Inference*,
ch. 8–9; Scott & Smith 1969, JASA 64:830–840) and tests ``H0: P_h ≥ p0`` with the prediction
error variance.

**Model** (first two moments of the beta-binomial of :mod:`.town_test`): household ``i`` of
village ``v`` of town ``h`` answers ``y_vi = μ_h + b_v + e_vi`` with ``Var b_v = ρσ²``,
``Var e_vi = (1 − ρ)σ²``, ``σ² = μ_h(1 − μ_h)``; one district ρ. A household may count ``s_i``
persons (person-level rates): the target total is ``T_h = Σ s_i y_vi`` over every household of the
town and ``P_h = T_h / Σ s_i``.

**Predictor (BLUP).** With ``n_v`` households observed in village ``v`` (0 when not sampled),
``w_v = n_v / (1 + (n_v − 1)ρ)``, ``W = Σ w_v``, the GLS mean ``μ̂ = Σ w_v ȳ_v / W`` and the
credibility factor ``λ_v = ρ n_v / (1 + (n_v − 1)ρ)`` (the beta posterior mean's weight
``n_v / (n_v + (1 − ρ)/ρ)``), every unobserved household of village ``v`` is predicted at
``p̃_v = μ̂ + λ_v (ȳ_v − μ̂)`` (``μ̂`` in an unsampled village):

    T̂_h = Σ_observed s_i y_i + Σ_v R1_v p̃_v,    R1_v = Σ_unobserved s_i,  R2_v = Σ_unobserved s_i².

**Prediction error variance.** The errors of ``μ̂`` and of the sampled villages' effects
``(1 − λ_v) b_v − λ_v ē_v`` are uncorrelated (BLUP orthogonality), so

    Var(T̂_h − T_h) / σ² = A² / W + Σ_v [R1_v² (1 − λ_v) ρ + R2_v (1 − ρ)],  A = Σ_v R1_v (1 − λ_v):

the estimation error of ``μ̂``, the village effects still unknown (all of an unsampled village's,
``λ_v = 0``; the posterior part ``(1 − λ_v)`` of a sampled one) and the unobserved households'
own variation. Write it ``K_h σ² (Σ s_i)²``. When every household is observed ``K_h = 0``: the
decision is the realized rate against ``p0``. With ρ = 0 and one frame it is the SRS variance
with its finite-population correction, ``σ² (1 − f)/n``.

**Test and interval** (score form: the null value in the variance, as Wilson's interval, so
``P̂ = 1`` gives an interval and never a zero variance): ``z = (P̂_h − p0) / √(K_h p0 (1 − p0))``
referred to Student's t with ``df = sampled villages − towns`` (as the report's test: ρ is
estimated from that many village contrasts); the interval ``{p : |z(p)| ≤ t_{df,(1+level)/2}}``
is Wilson's quadratic with ``n`` replaced by ``1/K_h``. ``z(p)`` decreases in ``p``, so the
one-sided test at α rejects exactly when the upper bound of the ``1 − 2α`` interval is below
``p0``.

The inference is model-based (prediction), not design-based: the sample's inclusion probabilities
do not enter, which is right when the model holds given the design variables (villages chosen
πps on their registered households, households at random within a village and frame; the model
assumes the village's rate does not depend on its size or the household's frame). The study of
its size and power on the synthetic district is ``notebooks/methods/fp_town_test.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, ParameterError, check_probability
from .betabinomial import RHO_MAX
from .town_test import fit_rho_batch

__all__ = ["FPTownTestResult", "fp_bounds", "fp_predict_batch", "fp_pvalues", "fp_town_test"]


def fp_predict_batch(y: np.ndarray, n: np.ndarray, r1: np.ndarray, g: np.ndarray, n_groups: int,
                     rho_group: np.ndarray, *, r2: np.ndarray | None = None,
                     t_obs: np.ndarray | None = None, total: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The BLUP of each group's (replicate × town) finite-population rate and its variance factor.

    One row per village of every group, **sampled or not** (``n = 0`` for a village not visited).

    Parameters
    ----------
    y, n : arrays
        Good households observed and households observed in the village (0, 0 when not sampled).
    r1 : array
        The unobserved households' total weight: ``N_v − n_v`` households, or their persons for a
        person-level rate (``Σ s_i`` over the households not observed).
    g : array of int
        Group of each village (0 … ``n_groups`` − 1).
    rho_group : array
        ρ of each group (the district estimate of its replicate).
    r2 : array, optional
        ``Σ s_i²`` over the unobserved households (default ``r1``: household units).
    t_obs : array, optional
        The observed part of the target total, ``Σ s_i y_i`` over the observed households
        (default ``y``).
    total : array, optional
        Each group's total weight ``Σ s_i`` (households or persons, all its villages; default
        ``Σ (n + r1)``).

    Returns
    -------
    p_hat, K, mu : arrays (n_groups,)
        The predicted rate (NaN for a group without an observed household), the factor ``K`` with
        ``Var(P̂ − P) = K σ²`` and the GLS mean ``μ̂``.
    """
    y = np.asarray(y, float)
    n = np.asarray(n, float)
    r1 = np.asarray(r1, float)
    r2 = r1 if r2 is None else np.asarray(r2, float)
    t_obs = y if t_obs is None else np.asarray(t_obs, float)
    rho = np.asarray(rho_group, float)[g]
    c = 1.0 + np.maximum(n - 1.0, 0.0) * rho
    w = np.where(n > 0, n / c, 0.0)
    lam = np.where(n > 0, rho * n / c, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = np.where(n > 0, y / np.where(n > 0, n, 1.0), 0.0)
    W = np.bincount(g, weights=w, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.bincount(g, weights=w * ybar, minlength=n_groups) / W
    mu_v = np.nan_to_num(mu)[g]
    p_tilde = mu_v + lam * (ybar - mu_v)
    tot = (np.bincount(g, weights=n + r1, minlength=n_groups) if total is None
           else np.asarray(total, float))
    t_hat = np.bincount(g, weights=t_obs + r1 * p_tilde, minlength=n_groups)
    A = np.bincount(g, weights=r1 * (1.0 - lam), minlength=n_groups)
    rest = np.bincount(g, weights=r1**2 * (1.0 - lam) * rho + r2 * (1.0 - rho),
                       minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        K = (np.where(W > 0, A**2 / np.where(W > 0, W, 1.0), 0.0) + rest) / tot**2
        p_hat = np.where(W > 0, np.clip(t_hat / tot, 0.0, 1.0), np.nan)
    return p_hat, np.where(W > 0, np.maximum(K, 0.0), np.nan), mu


def fp_pvalues(p_hat: np.ndarray, K: np.ndarray, p0: np.ndarray | float,
               df: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Score statistic ``z = (P̂ − p0)/√(K p0(1 − p0))`` and its one-sided p-value (t, ``df``).

    ``K = 0`` (every household observed): p = 0 when ``P̂ < p0`` (up to 1e-12), else 1."""
    p0 = np.broadcast_to(np.asarray(p0, float), np.shape(p_hat))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (p_hat - p0) / np.sqrt(K * p0 * (1.0 - p0))
    exact = K <= 1e-15
    below = p_hat < p0 - 1e-12
    z = np.where(exact, np.where(below, -np.inf, np.inf), z)
    return z, np.where(np.isnan(p_hat), np.nan, stats.t.cdf(z, df))


def fp_bounds(p_hat: np.ndarray, K: np.ndarray, crit: np.ndarray | float
              ) -> tuple[np.ndarray, np.ndarray]:
    """``{p : (P̂ − p)² ≤ crit² K p(1 − p)}``: Wilson's roots with ``n = 1/K`` (the point when
    ``K = 0``)."""
    q = np.asarray(crit, float) ** 2 * K
    disc = np.sqrt(np.maximum(q * (q + 4.0 * p_hat * (1.0 - p_hat)), 0.0))
    lo = (2.0 * p_hat + q - disc) / (2.0 * (1.0 + q))
    hi = (2.0 * p_hat + q + disc) / (2.0 * (1.0 + q))
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


@dataclass(frozen=True)
class FPTownTestResult:
    """Per town: predicted finite-population rate, the test of ``P_h ≥ p0`` and the interval."""

    table: pd.DataFrame
    rho: float
    df: int

    def to_frame(self) -> pd.DataFrame:
        """``town``, ``p_hat``, ``mu_hat``, ``p0``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper``,
        ``se0`` (prediction SE at ``p0``), ``villages`` (sampled), ``villages_total``, ``rho``,
        ``df``."""
        return self.table.copy()


def fp_town_test(villages: pd.DataFrame, p0: float, *, rho: float | None = None,
                 level: float = 0.95, df: int | None = None) -> FPTownTestResult:
    """Test every town's finite-population rate against ``p0`` (household units).

    Parameters
    ----------
    villages : DataFrame
        One row per village of every town, **including the villages not sampled**: ``town``,
        ``y`` (good households observed), ``n`` (households observed; 0 if not sampled) and ``N``
        (households in the indicator's frames, from the register).
    p0 : float
        The standard.
    rho : float, optional
        District intra-village correlation; default the Cox–Reid adjusted ML estimate
        (:func:`~quchi_stats.flags.town_test.fit_rho_batch`) from the sampled villages' counts.
    level : float
        Level of the two-sided interval.
    df : int, optional
        Degrees of freedom of the t reference; default sampled villages − towns (at least 1).

    Examples
    --------
    Every household of every village observed: the decision is the realized rate.

    >>> v = pd.DataFrame({"town": ["甲"] * 2 + ["乙"] * 2, "y": [9, 8, 10, 9],
    ...                   "n": [10, 10, 10, 10], "N": [10, 10, 10, 10]})
    >>> t = fp_town_test(v, 0.9, rho=0.05).to_frame().set_index("town")
    >>> t["p_hat"].round(3).tolist(), t["p_value"].tolist()
    ([0.85, 0.95], [0.0, 1.0])
    """
    func = "fp_town_test"
    p0 = check_probability("p0", p0, func)
    level = check_probability("level", level, func)
    for col in ("town", "y", "n", "N"):
        if col not in villages:
            raise ParameterError(f"The 'villages' parameter of {func} needs a {col!r} column.")
    y = villages["y"].to_numpy(float)
    n = villages["n"].to_numpy(float)
    N = villages["N"].to_numpy(float)
    if (len(y) == 0 or not np.all(np.isfinite(y) & np.isfinite(n) & np.isfinite(N))
            or np.any((y < 0) | (y > n) | (n > N))):
        raise DataError("村级计数应满足 0 ≤ y ≤ n ≤ N（n 为入户数，N 为台账户数）")
    codes, towns = pd.factorize(villages["town"], sort=False)
    g = codes.astype(np.intp)
    k = len(towns)
    s = n > 0
    if rho is None:
        rho = float(fit_rho_batch(y[s], n[s], g[s], np.zeros(k, np.intp), 1)[0])
    if not 0 <= rho <= RHO_MAX:
        raise ParameterError(f"The 'rho' parameter of {func} must be in [0, {RHO_MAX}]. "
                             f"Got {rho}.")
    n_sampled = np.bincount(g[s], minlength=k)
    df = max(int(s.sum()) - int((n_sampled > 0).sum()), 1) if df is None else int(df)
    if df < 1:
        raise ParameterError(f"The 'df' parameter of {func} must be >= 1. Got {df}.")
    p_hat, K, mu = fp_predict_batch(y, n, N - n, g, k, np.full(k, rho))
    z, pv = fp_pvalues(p_hat, K, p0, df)
    lo, hi = fp_bounds(p_hat, K, stats.t.ppf((1 + level) / 2, df))
    table = pd.DataFrame({"town": towns, "p_hat": p_hat, "mu_hat": mu, "p0": p0, "z": z,
                          "p_value": pv, "ci_lower": lo, "ci_upper": hi,
                          "se0": np.sqrt(K * p0 * (1 - p0)), "villages": n_sampled,
                          "villages_total": np.bincount(g, minlength=k), "rho": rho, "df": df})
    return FPTownTestResult(table, rho, df)
