"""Empirical-Bayes (beta-binomial) shrinkage of town rates, and the posterior chance of being low.

Town ``h`` contributes effective counts ``(x*_h, n*_h)``; the prior Beta(a, b) is fitted by maximising
the beta-binomial marginal likelihood ``Σ_h log B(x*_h + a, n*_h − x*_h + b) − log B(a, b)``
(METHODS.md, small areas). The posterior is Beta(a + x*, b + n* − x*).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = ["fit_beta_binomial", "shrink"]


def fit_beta_binomial(x: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (a, b) of a beta-binomial for possibly non-integer counts."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    pbar = np.clip(x.sum() / n.sum(), 1e-4, 1 - 1e-4)

    def nll(theta: np.ndarray) -> float:
        mu = special.expit(theta[0])
        s = np.exp(theta[1])
        a, b = mu * s, (1 - mu) * s
        return -float(np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b)))

    start = np.array([special.logit(pbar), np.log(50.0)])
    res = optimize.minimize(nll, start, method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    mu = special.expit(res.x[0])
    s = float(np.clip(np.exp(res.x[1]), 1e-3, 1e7))
    return float(mu * s), float((1 - mu) * s)


def shrink(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Posterior mean, 95 % interval and P(rate < threshold) for each town.

    ``table`` needs ``estimate`` and ``n_star`` (effective households); returns a copy with
    ``eb_estimate``, ``eb_lower``, ``eb_upper`` and ``prob_below``.
    """
    out = table.copy()
    n = out["n_star"].to_numpy(float)
    x = out["estimate"].to_numpy(float) * n
    a, b = fit_beta_binomial(x, n)
    pa, pb = a + x, b + n - x
    out["eb_estimate"] = pa / (pa + pb)
    out["eb_lower"] = stats.beta.ppf(0.025, pa, pb)
    out["eb_upper"] = stats.beta.ppf(0.975, pa, pb)
    out["prob_below"] = stats.beta.cdf(threshold, pa, pb)
    out.attrs["prior"] = (a, b)
    return out
