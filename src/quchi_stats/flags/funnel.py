"""Funnel-plot limits for comparing towns with the district rate (Spiegelhalter 2005).

Limits are drawn on the effective sample size. Near 1 the normal limits over-flag, so exact
binomial (default) or arcsine limits are used. Optionally the limits allow for overdispersion:
either a multiplicative factor from winsorised z-scores (towns vary more than sampling alone
explains), or the effective sizes under the district-wide village ICC of the beta-binomial model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ParameterError, check_choice
from ..labels import FunnelPosition

__all__ = ["funnel_limits", "funnel_table", "overdispersion"]


def funnel_limits(theta0: float, n: np.ndarray, coverage: float = 0.95, *,
                  method: str = "exact", phi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper control limits around ``theta0`` for sample sizes ``n``.

    ``coverage`` 0.95 gives the 2.5 % / 97.5 % limits, 0.998 the 0.1 % / 99.9 % ones.

    Examples
    --------
    >>> lo, _ = funnel_limits(0.95, [30, 60])
    >>> lo.round(4).tolist()
    [0.8402, 0.8794]
    >>> lo, _ = funnel_limits(0.95, [30, 60], method="arcsine")
    >>> lo.round(4).tolist()
    [0.8452, 0.8811]
    """
    method = check_choice("method", method, ("exact", "arcsine", "normal"), "funnel_limits")
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    p_lo, p_hi = (1 - coverage) / 2, 1 - (1 - coverage) / 2
    z = stats.norm.ppf(p_hi)
    if method == "normal":
        half = z * np.sqrt(theta0 * (1 - theta0) / n) * np.sqrt(max(phi, 1.0))
        return np.clip(theta0 - half, 0, 1), np.clip(theta0 + half, 0, 1)
    if method == "arcsine":
        root = np.arcsin(np.sqrt(theta0))
        half = z / (2 * np.sqrt(n)) * np.sqrt(max(phi, 1.0))
        lo = np.sin(np.clip(root - half, 0, np.pi / 2)) ** 2
        hi = np.sin(np.clip(root + half, 0, np.pi / 2)) ** 2
        return lo, hi

    def exact(p: float) -> np.ndarray:
        out = []
        for nn in n:
            m = max(int(round(nn)), 1)
            r = stats.binom.ppf(p, m, theta0)
            f_r = stats.binom.cdf(r, m, theta0)
            f_r1 = stats.binom.cdf(r - 1, m, theta0)
            a = (f_r - p) / (f_r - f_r1) if f_r > f_r1 else 0.0
            out.append((r - a) / m)
        return np.array(out)

    lo, hi = exact(p_lo), exact(p_hi)
    if phi > 1:  # widen around theta0 by sqrt(phi)
        lo = theta0 - (theta0 - lo) * np.sqrt(phi)
        hi = theta0 + (hi - theta0) * np.sqrt(phi)
    return np.clip(lo, 0, 1), np.clip(hi, 0, 1)


def overdispersion(estimate: np.ndarray, n: np.ndarray, theta0: float) -> float:
    """Multiplicative overdispersion φ: mean of squared z-scores winsorised at 10 %/90 %.

    Returned as is; limits widen only when φ > 1.
    """
    est = np.asarray(estimate, float)
    n = np.asarray(n, float)
    z = (est - theta0) / np.sqrt(theta0 * (1 - theta0) / n)
    lo, hi = np.quantile(z, [0.1, 0.9])
    zw = np.clip(z, lo, hi)
    return float(np.mean(zw**2))


def funnel_table(towns: pd.DataFrame, theta0: float, *, method: str = "exact",
                 adjust_overdispersion: bool | str = False) -> pd.DataFrame:
    """Each town's position against the 95 % and 99.8 % limits at its effective n.

    ``towns`` needs ``estimate`` and ``n_eff``. Adds ``lower95``, ``upper95``, ``lower998``,
    ``upper998`` and ``position``, a :class:`~quchi_stats.labels.FunnelPosition` code (``below_998``,
    ``below_95``, ``within``, ``above_95``; readers see
    :data:`~quchi_stats.labels.FUNNEL_POSITION_LABELS`: 低于 99.8% 下限 …).

    ``adjust_overdispersion``: ``False`` (default) draws the limits at ``min(n_eff, n)``, the
    town's own design-based effective size; ``True`` (or ``"winsorised"``) widens them by the
    multiplicative φ of winsorised z-scores; ``"icc"`` draws them at ``towns["n_icc"]``, the
    effective size under the district-wide village ICC of the beta-binomial model (the same
    within-town variance as the empirical-Bayes table and the beta-binomial test).
    """
    mode = adjust_overdispersion
    if isinstance(mode, bool):
        mode = "winsorised" if mode else "none"
    mode = check_choice("adjust_overdispersion", mode, ("none", "winsorised", "icc"),
                        "funnel_table")
    out = towns.copy()
    if mode == "icc":
        if "n_icc" not in out:
            raise ParameterError("funnel_table(adjust_overdispersion='icc') needs an 'n_icc' "
                                 "column (town_effective_n).")
        n = out["n_icc"].to_numpy(float)
    else:
        n = np.minimum(out["n_eff"].to_numpy(float), out["n"].to_numpy(float)) if "n" in out \
            else out["n_eff"].to_numpy(float)
    phi = overdispersion(out["estimate"].to_numpy(), n, theta0) if mode == "winsorised" else 1.0
    out["n_funnel"] = n
    out["lower95"], out["upper95"] = funnel_limits(theta0, n, 0.95, method=method, phi=phi)
    out["lower998"], out["upper998"] = funnel_limits(theta0, n, 0.998, method=method, phi=phi)
    est = out["estimate"].to_numpy()
    out["position"] = np.select(
        [est < out["lower998"], est < out["lower95"], est > out["upper95"]],
        [FunnelPosition.BELOW_998.value, FunnelPosition.BELOW_95.value, FunnelPosition.ABOVE_95.value],
        FunnelPosition.WITHIN.value)
    out.attrs["phi"] = phi
    out.attrs["theta0"] = theta0
    out.attrs["overdispersion"] = mode
    return out
