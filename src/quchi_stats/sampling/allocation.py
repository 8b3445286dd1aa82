"""Allocate a total sample (villages, or households) across towns.

``n_h = clip(λ·w_h, min_h, max_h)`` with the common ``λ`` that makes the real allocation add up to
the total, then rounded by the largest-remainder rule so the integer total is exactly preserved and
no stratum gets more than its population (Cochran 1977, §5.5; Valliant, Dever & Kreuter 2018, ch. 3).
Weights ``w_h``: proportional ``N_h``; equal ``1``; square-root ``√N_h``; Neyman
``N_h·√(deff_h·p_h(1−p_h))`` with anticipated proportions ``p_h`` and design effects ``deff_h``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ParameterError, check_choice, check_int
from ..plan_options import ALLOCATION_METHODS

__all__ = ["ALLOCATION_METHODS", "allocate", "compare_allocations"]



def _vector(name: str, value: object, size: int, func: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=float), (size,)).astype(float)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"The {name!r} parameter of {func} must be finite. Got {value!r}.")
    return arr


def allocate(total: int, sizes: object, *, method: str = "proportional", minimum: object = 0,
             maximum: object = None, p: object = None, deff: object = 1.0) -> np.ndarray:
    """Integer allocation of ``total`` units over strata of population ``sizes``.

    Parameters
    ----------
    total : int
        Units to allocate (exactly preserved).
    sizes : array_like of int
        Population count ``N_h`` of each stratum.
    method : {"proportional", "equal", "neyman", "sqrt"}
    minimum : int or array_like
        Smallest allocation per stratum (for villages: 2, so each town has df >= 1); capped at
        ``N_h``.
    maximum : int or array_like, optional
        Largest allocation per stratum (default and hard cap: ``N_h``).
    p, deff : float or array_like
        Anticipated proportion and design effect per stratum, for ``"neyman"``.

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> allocate(30, [17, 10, 9, 5, 10, 9, 11, 10, 9]).tolist()
    [6, 3, 3, 2, 3, 3, 4, 3, 3]
    >>> allocate(30, [17, 10, 9, 5, 10, 9, 11, 10, 9], method="equal", minimum=2).tolist()
    [4, 4, 4, 3, 3, 3, 3, 3, 3]
    """
    func = "allocate"
    method = check_choice("method", method, ALLOCATION_METHODS, func)
    total = check_int("total", total, func, minimum=0)
    N = np.asarray(sizes, dtype=float)
    if N.ndim != 1 or N.size == 0 or np.any(N < 0) or np.any(N != np.round(N)):
        raise ParameterError(
            f"The 'sizes' parameter of {func} must be a non-empty list of counts >= 0. Got {sizes!r}.")
    hi = N.copy() if maximum is None else np.minimum(_vector("maximum", maximum, N.size, func), N)
    lo = np.minimum(_vector("minimum", minimum, N.size, func), hi)
    if np.any(lo < 0):
        raise ParameterError(f"The 'minimum' parameter of {func} must be >= 0. Got {minimum!r}.")
    if total < lo.sum():
        raise ParameterError(
            f"The 'total' parameter of {func} must be >= the sum of the minima ({int(lo.sum())}). "
            f"Got {total}.")
    if total > hi.sum():
        raise ParameterError(
            f"The 'total' parameter of {func} must be <= the population ({int(hi.sum())}). "
            f"Got {total}.")
    if method == "proportional":
        w = N.copy()
    elif method == "equal":
        w = (N > 0).astype(float)
    elif method == "sqrt":
        w = np.sqrt(N)
    else:
        if p is None:
            raise ParameterError("allocate(method='neyman') needs the anticipated proportions 'p'.")
        pv = _vector("p", p, N.size, func)
        dv = _vector("deff", deff, N.size, func)
        if np.any((pv <= 0) | (pv >= 1)) or np.any(dv <= 0):
            raise ParameterError(
                f"For method='neyman', 'p' must be in (0, 1) and 'deff' > 0. Got p={p!r}, "
                f"deff={deff!r}.")
        w = N * np.sqrt(dv * pv * (1 - pv))
    real = _bounded_share(float(total), w, lo, hi)
    out = np.floor(real + 1e-9)
    out = np.clip(out, lo, hi)
    short = int(round(total - out.sum()))
    if short > 0:
        frac = real - out
        frac[out >= hi] = -np.inf
        order = np.lexsort((np.arange(N.size), -frac))  # largest remainder, ties by position
        out[order[:short]] += 1
    return out.astype(int)


def _bounded_share(total: float, w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Real ``clip(λ·w, lo, hi)`` adding up to ``total`` (λ by bisection)."""
    if np.isclose(total, lo.sum()):
        return lo.copy()
    if np.isclose(total, hi.sum()):
        return hi.copy()
    if w.sum() <= 0:
        return lo.copy()
    left, right = 0.0, 1.0
    while np.clip(right * w, lo, hi).sum() < total:
        right *= 2.0
    for _ in range(200):
        mid = 0.5 * (left + right)
        if np.clip(mid * w, lo, hi).sum() < total:
            left = mid
        else:
            right = mid
    return np.clip(right * w, lo, hi)


def compare_allocations(total: int, sizes: dict[str, int] | pd.Series, *,
                        methods: tuple[str, ...] = ALLOCATION_METHODS, minimum: object = 0,
                        p: object = None, deff: object = 1.0) -> pd.DataFrame:
    """One column per allocation method, one row per stratum (and its population ``N``).

    Examples
    --------
    >>> compare_allocations(10, {"甲": 20, "乙": 5}, methods=("proportional", "equal"))
        N  proportional  equal
    甲  20             8      5
    乙   5             2      5
    """
    s = pd.Series(sizes, dtype=float)
    out = pd.DataFrame({"N": s.astype(int)})
    for m in methods:
        if m == "neyman" and p is None:
            continue
        out[m] = allocate(total, s.to_numpy(), method=m, minimum=minimum, p=p, deff=deff)
    return out
