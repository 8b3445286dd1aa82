"""The report's power column for the calibrated beta-binomial test of 第七条（四）.

For each town, the probability that the report's test (:mod:`quchi_stats.flags.town_test`)
flags it when its true rate is ``p1`` (the standard minus the spec's ``power_shortfall``) and every
other town is compliant, at the per-family Bonferroni level ``alpha/m`` — the first step of Holm's
procedure, which with the other towns compliant is what decides (Hochberg's and BH's first steps
are the same level). It is computed by simulation on the **sample's own structure**: every
sampled village keeps its households and their weights (design weight × household size for a
person-level rate), so its effective count ``m_v`` is the one :func:`village_counts` gave the
test; each village's true rate is drawn from a beta distribution with the town's mean and the
district's estimated intra-village correlation ``ρ̂``, each household is good with its village's
rate, and the village counts are formed exactly as the report forms them.

Which ρ is used inside the simulated test matters, because the report's test estimates ρ from the
whole district and refers the signed root to t with villages − towns df:

* ``refit=True`` re-estimates ρ in every replicate district with
  :func:`~quchi_stats.flags.town_test.fit_rho_batch`, the low town among compliant ones (one
  district per town and replicate) — the test exactly as the report and
  :func:`~quchi_stats.simulate.simulate_design` run it;
* ``refit=False`` (default) holds ρ at the plug-in ``ρ̂`` and keeps the t reference. Each town's
  test then depends only on its own villages, so one replicate district gives every town's
  power and thousands of replicates cost well under a second, against one ρ fit per town and
  replicate for the refit (about 20 ms each on the project's machine: minutes per report).
  Measured on paired replicates (same draws) the two agree within Monte Carlo error on the
  design of the yearly check (9 towns × 5 villages, ρ 0–0.15, standards 0.90 and 0.98, see
  ``docs/flags.md``): the t reference on villages − towns df accounts for what re-estimating ρ
  adds. ``tests/flags/test_town_power.py`` checks both against ``simulate_design``.

The compliant towns' true rate is halfway between the standard and 1 (as in
:func:`~quchi_stats.simulate.simulate_design`); it only matters with ``refit=True``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, ParameterError, check_choice, check_int, check_probability
from .betabinomial import RHO_MAX
from .town_test import TEST_METHODS, rho_batch, town_lr_batch

__all__ = ["model_power", "unit_weights"]

#: Villages × replicates simulated per block (bounds memory).
_BLOCK = 400_000


def unit_weights(data: pd.DataFrame, y: str, *, weight: str | None = None,
                 size: str | None = None, town: str = "town",
                 village: str = "village") -> pd.DataFrame:
    """One row per household with an answer: ``town``, ``village`` and ``w`` = weight × size —
    the weights :func:`~quchi_stats.flags.village_counts` forms its village counts from (``size``
    for person-level rates, none for household-level ones; missing ``weight`` = 1)."""
    for c in [y, town, village] + [c for c in (weight, size) if c is not None]:
        if c not in data:
            raise ParameterError(f"unit_weights: no column {c!r} in the data.")
    ok = pd.to_numeric(data[y], errors="coerce").notna().to_numpy()
    w = np.ones(len(data)) if weight is None else data[weight].to_numpy(float)
    if size is not None:
        w = w * data[size].to_numpy(float)
    if np.any(~np.isfinite(w[ok])) or np.any(w[ok] <= 0):
        raise DataError("权数（或人数）应为正数")
    return pd.DataFrame({"town": data[town].to_numpy()[ok],
                         "village": data[village].to_numpy()[ok], "w": w[ok]})


def _draw_village_counts(rng: np.random.Generator, reps: int, mean_v: np.ndarray, rho: float,
                         hv: np.ndarray, w: np.ndarray, W: np.ndarray,
                         m_v: np.ndarray) -> np.ndarray:
    """(reps, V) effective good counts ``y_v = m_v · Σ w·good / Σ w`` with village rates from a
    beta with means ``mean_v`` and ICC ``rho`` and Bernoulli households."""
    V = mean_v.size
    if rho > 0:
        s = (1 - rho) / rho
        inner = (mean_v > 0) & (mean_v < 1)
        p_v = np.broadcast_to(mean_v, (reps, V)).copy()
        p_v[:, inner] = rng.beta(mean_v[inner] * s, (1 - mean_v[inner]) * s,
                                 size=(reps, int(inner.sum())))
    else:
        p_v = np.broadcast_to(mean_v, (reps, V))
    good = rng.random((reps, hv.size)) < p_v[:, hv]
    cell = (np.arange(reps)[:, None] * V + hv[None, :]).ravel()
    wy = np.bincount(cell, weights=(good * w[None, :]).ravel(), minlength=reps * V)
    return m_v * np.clip(wy.reshape(reps, V) / W, 0.0, 1.0)


def _refit_hits(rng, r, p1, pc, rho, p0, crit, hv, w, W, m_v, vt, T, y_low,
                method: str = "beta-binomial") -> np.ndarray:
    """(r, T) hits of the report's test with ρ re-estimated in every district where town c is low
    (its villages from ``y_low``) and every other town compliant (a fresh draw at ``pc``)."""
    V = m_v.size
    y_ok = _draw_village_counts(rng, r, np.full(V, pc), rho, hv, w, W, m_v)
    low = vt[None, :] == np.arange(T)[:, None]                        # (C, V)
    y = np.where(low[None], y_low[:, None, :], y_ok[:, None, :])      # (r, C, V)
    D = r * T
    g = (np.arange(D)[:, None] * T + vt[None, :]).ravel()
    rep_of_group = np.repeat(np.arange(D), T)
    mm = np.tile(m_v, D)
    rho_hat = rho_batch(method, y.ravel(), mm, g, rep_of_group, D)
    z, _ = town_lr_batch(y.ravel(), mm, g, D * T, rho_hat[rep_of_group], np.full(D * T, p0))
    z = z.reshape(r, T, T)
    return z[:, np.arange(T), np.arange(T)] < crit


def model_power(units: pd.DataFrame, *, rho: float, p0: float, p1: float, alpha_level: float,
                df: int, reps: int = 1000, seed: int = 0, refit_reps: int = 0,
                p_compliant: float | None = None,
                method: str = "beta-binomial") -> pd.DataFrame:
    """Each town's power to be flagged by the beta-binomial test at one-sided level
    ``alpha_level`` when its true rate is ``p1`` and every other town is compliant.

    Parameters
    ----------
    units : DataFrame
        ``town``, ``village``, ``w``: one row per responding household of the indicator with its
        weight as the test counts it (:func:`unit_weights`).
    rho : float
        The district intra-village correlation to simulate (the report's ``ρ̂``).
    p0, p1 : float
        The standard, and the true rate of the low town (``p0 − power_shortfall``).
    alpha_level : float
        The one-sided level: ``alpha/m`` with ``m`` the size of the multiplicity family.
    df : int
        Degrees of freedom of the t reference (the report's villages − towns).
    reps : int
        Replicates of the test with ρ held at ``rho`` (Monte Carlo SE of a power P:
        √(P(1 − P)/reps), at most 1.6 points at 1000).
    seed : int
    refit_reps : int
        On the first ``refit_reps`` of those replicates, also run the test with ρ re-estimated
        (one district per town, :func:`fit_rho_batch`), and add the mean paired difference
        (re-estimated − held), pooled over the towns, to every town's power. ``refit_reps =
        reps`` with one town gives the re-estimated test's power itself. 0: no correction.
    p_compliant : float, optional
        True rate of the other towns in the re-estimated districts; default (1 + p0)/2.
    method : {"beta-binomial", "beta-binomial-adjusted"}
        The test's ``test_method``: how ρ is re-estimated (:func:`~.town_test.town_test`).

    Returns
    -------
    DataFrame
        ``town``, ``power``, ``se`` (Monte Carlo standard error, including the correction's),
        ``villages``, and ``correction`` (the pooled refit correction, 0 without it).

    Examples
    --------
    >>> u = pd.DataFrame({"town": ["甲"] * 30 + ["乙"] * 30,
    ...                   "village": [f"{t}{i // 10}" for t in "甲乙" for i in range(30)],
    ...                   "w": 1.0})
    >>> pw = model_power(u, rho=0.05, p0=0.9, p1=0.7, alpha_level=0.025, df=4, reps=500)
    >>> bool(pw["power"].between(0.3, 1).all())
    True
    """
    func = "model_power"
    for c in ("town", "village", "w"):
        if c not in units:
            raise ParameterError(f"{func}: the units table needs a {c!r} column.")
    if len(units) == 0:
        raise DataError("没有可用于计算把握度的入户数据")
    if isinstance(rho, bool) or not 0 <= float(rho) <= RHO_MAX:
        raise ParameterError(f"The 'rho' parameter of {func} must be in [0, {RHO_MAX}]. "
                             f"Got {rho!r}.")
    rho = float(rho)
    p0 = check_probability("p0", p0, func)
    p1 = check_probability("p1", p1, func, closed=True)
    alpha_level = check_probability("alpha_level", alpha_level, func)
    df = check_int("df", df, func, minimum=1)
    reps = check_int("reps", reps, func, minimum=1)
    seed = check_int("seed", seed, func, minimum=0)
    refit_reps = check_int("refit_reps", refit_reps, func, minimum=0)
    method = check_choice("method", method, TEST_METHODS, func)
    if refit_reps > reps:
        raise ParameterError(f"The 'refit_reps' parameter of {func} must be <= reps ({reps}). "
                             f"Got {refit_reps}.")
    pc = (1 + p0) / 2 if p_compliant is None else check_probability("p_compliant", p_compliant,
                                                                     func, closed=True)
    w = units["w"].to_numpy(float)
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise DataError("权数（或人数）应为正数")
    tcode, towns = pd.factorize(units["town"], sort=False)
    hv, _ = pd.factorize(pd.MultiIndex.from_arrays([units["town"], units["village"]]),
                         sort=False)
    V, T = int(hv.max()) + 1, len(towns)
    vt = np.zeros(V, np.intp)
    vt[hv] = tcode
    W = np.bincount(hv, weights=w, minlength=V)
    m_v = W**2 / np.bincount(hv, weights=w**2, minlength=V)
    crit = stats.t.ppf(alpha_level, df)  # p = F_t(z) < alpha_level exactly when z < crit
    hits = np.zeros(T)
    diff = []
    per = max(1, _BLOCK // V)
    done = 0
    for child in np.random.SeedSequence(seed).spawn(-(-reps // per)):
        r = min(per, reps - done)
        rng = np.random.default_rng(child)
        y_low = _draw_village_counts(rng, r, np.full(V, p1), rho, hv, w, W, m_v)
        g = (np.arange(r)[:, None] * T + vt[None, :]).ravel()
        z, _ = town_lr_batch(y_low.ravel(), np.tile(m_v, r), g, r * T, np.full(r * T, rho),
                             np.full(r * T, p0))
        held = z.reshape(r, T) < crit
        hits += held.sum(axis=0)
        k = min(r, refit_reps - done)
        step = max(1, _BLOCK // (V * T))
        for a in range(0, max(k, 0), step):
            b = min(k, a + step)
            refit = _refit_hits(rng, b - a, p1, pc, rho, p0, crit, hv, w, W, m_v, vt, T,
                                y_low[a:b], method)
            diff.append(refit.astype(float) - held[a:b])
        done += r
    power = hits / reps
    se2 = power * (1 - power) / reps
    corr = 0.0
    if refit_reps:
        d = np.concatenate(diff).ravel()
        corr = float(d.mean())
        se2 = se2 + (d.var(ddof=1) / d.size if d.size > 1 else 0.0)
        power = np.clip(power + corr, 0.0, 1.0)
    return pd.DataFrame({"town": list(towns), "power": power, "se": np.sqrt(se2),
                         "villages": np.bincount(vt, minlength=T), "correction": corr})
