"""Selection algorithms: each returns the selected units and every unit's inclusion probability.

* :func:`inclusion_probabilities` — πps probabilities with certainty units, as R ``sampling``'s
  ``inclusionprobabilities`` computes them.
* :func:`select_srswor` — simple random sampling without replacement.
* :func:`select_systematic` — equal-probability systematic sampling with a fractional interval.
* :func:`select_pps_systematic` — systematic πps (Madow 1949) on the list order, so sorting the
  list gives implicit stratification; the random start rule is R ``sampling::UPsystematic``'s.
* :func:`select_sampford` — Sampford's (1967) rejective πps method: fixed size, exact inclusion
  probabilities and all joint probabilities positive.

All take a ``numpy.random.Generator`` (never a global seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, QuchiStatsError, check_int
from ..plan_options import SELECTION_METHODS

__all__ = [
    "SELECTION_METHODS",
    "Selection",
    "inclusion_probabilities",
    "select",
    "select_pps_systematic",
    "select_replicates",
    "select_sampford",
    "select_srswor",
    "select_systematic",
]

_EPS = 1e-9


@dataclass(frozen=True)
class Selection:
    """The outcome of one draw from a list of ``N`` units.

    Attributes
    ----------
    indices : ndarray of int
        Positions (0-based, ascending) of the selected units in the list.
    pi : ndarray of float
        The first-order inclusion probability of *every* unit of the list (length N).
    method : str
        The algorithm used.
    """

    indices: np.ndarray
    pi: np.ndarray
    method: str

    @property
    def n(self) -> int:
        return int(self.indices.size)

    def _replace_method(self, method: str) -> Selection:
        return Selection(self.indices, self.pi, method)

    @property
    def selected_pi(self) -> np.ndarray:
        """Inclusion probabilities of the selected units, in the order of ``indices``."""
        return self.pi[self.indices]


def _as_sizes(x: object, func: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError(f"The 'x' parameter of {func} must be a non-empty 1-d array of sizes.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(f"The 'x' parameter of {func} must hold finite sizes >= 0.")
    return arr


def inclusion_probabilities(x: object, n: int) -> np.ndarray:
    """Inclusion probabilities proportional to ``x`` for a sample of ``n``, certainty units at 1.

    Units with ``n * x_k / sum(x) >= 1`` are taken with certainty (π = 1) and the probabilities of
    the others are recomputed on the remaining sample size, repeatedly, as R
    ``sampling::inclusionprobabilities`` does. Units with ``x = 0`` get π = 0.

    Parameters
    ----------
    x : array_like
        Non-negative size measures.
    n : int
        Sample size, ``0 <= n <=`` number of units with ``x > 0``.

    Returns
    -------
    ndarray
        Probabilities summing to ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(inclusion_probabilities([1, 2, 3, 4, 5, 20, 35, 40, 50, 60], 5), 7)
    array([0.0285714, 0.0571429, 0.0857143, 0.1142857, 0.1428571, 0.5714286,
           1.       , 1.       , 1.       , 1.       ])
    """
    a = _as_sizes(x, "inclusion_probabilities")
    n = check_int("n", n, "inclusion_probabilities", minimum=0)
    positive = int(np.count_nonzero(a > 0))
    if n > positive:
        raise ParameterError(
            f"The 'n' parameter of inclusion_probabilities must be <= the number of units with a "
            f"positive size ({positive}). Got {n}.")
    pik = np.zeros_like(a)
    if n == 0:
        return pik
    certain = np.zeros(a.size, dtype=bool)
    while True:
        free = ~certain & (a > 0)
        rest = n - int(certain.sum())
        pik[free] = rest * a[free] / a[free].sum()
        newly = free & (pik >= 1.0 - _EPS)
        if not newly.any():
            break
        certain |= newly
        pik[certain] = 1.0
        if int(certain.sum()) == n:
            pik[~certain] = 0.0
            break
    return pik


def _systematic_on_pik(pik: np.ndarray, u: float) -> np.ndarray:
    """Select unit k where the cumulated probabilities cross ``u + integer`` (R's UPsystematic)."""
    cum = np.round(np.concatenate(([0.0], np.cumsum(pik))), 10)
    crossings = np.floor(cum - u)
    return np.flatnonzero(crossings[1:] > crossings[:-1])


def _check_start(start: float | None, rng: np.random.Generator | None, func: str) -> float:
    if start is None:
        if rng is None:
            raise ParameterError(f"{func} needs either 'rng' or 'start'.")
        return float(rng.random())
    s = float(start)
    if not 0.0 <= s < 1.0:
        raise ParameterError(f"The 'start' parameter of {func} must be in [0, 1). Got {start!r}.")
    return s


def _check_n(n: int, size: int, func: str) -> int:
    n = check_int("n", n, func, minimum=0)
    if n > size:
        raise ParameterError(
            f"The 'n' parameter of {func} must be <= the number of units ({size}). Got {n}.")
    return n


def select_srswor(N: int, n: int, rng: np.random.Generator) -> Selection:
    """Simple random sample of ``n`` out of ``N`` units without replacement (π = n/N)."""
    N = check_int("N", N, "select_srswor", minimum=0)
    n = _check_n(n, N, "select_srswor")
    idx = np.sort(rng.choice(N, size=n, replace=False)) if n else np.array([], dtype=int)
    pi = np.full(N, n / N if N else 0.0)
    return Selection(idx.astype(int), pi, "srswor")


def select_systematic(N: int, n: int, rng: np.random.Generator | None = None, *,
                      start: float | None = None) -> Selection:
    """Equal-probability systematic sample with the fractional interval ``N/n``.

    Unit ``k`` (0-based) is selected when ``floor((k+1)·n/N − u) > floor(k·n/N − u)``, ``u`` the
    random start in [0, 1): exactly ``n`` units, each with π = n/N, spread evenly over the list order.
    """
    N = check_int("N", N, "select_systematic", minimum=0)
    n = _check_n(n, N, "select_systematic")
    pi = np.full(N, n / N if N else 0.0)
    if n == 0:
        return Selection(np.array([], dtype=int), pi, "systematic")
    u = _check_start(start, rng, "select_systematic")
    return Selection(_systematic_on_pik(pi, u), pi, "systematic")


def select_pps_systematic(x: object, n: int, rng: np.random.Generator | None = None, *,
                          start: float | None = None, order: object = None) -> Selection:
    """Systematic πps sample of ``n`` units on the list order (Madow's method).

    π comes from :func:`inclusion_probabilities` (certainty units always selected). With random
    start ``u``, unit ``k`` is selected where ``a[k] > a[k+1]`` for
    ``a = (c(0, cumsum(pi)) − u) mod 1`` — R ``sampling::UPsystematic``'s rule.

    ``order`` (sort keys, one per unit) arranges the list before the systematic pass — implicit
    stratification: the sample then spreads over the sort order (for example villages by size or
    by area code). Indices and probabilities are returned in the original positions.

    Examples
    --------
    >>> sel = select_pps_systematic(range(10, 101, 10), 3, start=0.1)
    >>> (sel.indices + 1).tolist()
    [2, 6, 9]
    """
    pik = inclusion_probabilities(x, n)
    if n == 0:
        return Selection(np.array([], dtype=int), pik, "pps_systematic")
    u = _check_start(start, rng, "select_pps_systematic")
    if order is None:
        return Selection(_systematic_on_pik(pik, u), pik, "pps_systematic")
    keys = np.asarray(order)
    if keys.shape != pik.shape:
        raise ParameterError(
            f"The 'order' parameter of select_pps_systematic must have one key per unit "
            f"({pik.size}). Got {keys.size}.")
    perm = np.argsort(keys, kind="stable")
    picked = perm[_systematic_on_pik(pik[perm], u)]
    return Selection(np.sort(picked), pik, "pps_systematic")


def select_sampford(x: object, n: int, rng: np.random.Generator, *,
                    max_tries: int = 100_000) -> Selection:
    """Sampford's rejective πps sample of fixed size ``n`` with exact π from ``x``.

    Certainty units (π = 1) are taken first; among the others the first unit is drawn with
    probability π_k/m and m−1 more with replacement with probability ∝ π_k/(1−π_k); the draw is
    accepted when all m units differ (Sampford 1967; Tillé 2006, §7.6). Inclusion probabilities are
    exactly π.
    """
    pik = inclusion_probabilities(x, n)
    certain = np.flatnonzero(pik >= 1.0 - _EPS)
    free = np.flatnonzero((pik > 0) & (pik < 1.0 - _EPS))
    m = n - certain.size
    if m == 0:
        return Selection(np.sort(certain), pik, "sampford")
    p = pik[free]
    first_p = p / p.sum()
    rest_w = p / (1.0 - p)
    rest_p = rest_w / rest_w.sum()
    for _ in range(max_tries):
        first = rng.choice(free.size, p=first_p)
        others = rng.choice(free.size, size=m - 1, p=rest_p) if m > 1 else np.array([], int)
        draw = np.concatenate(([first], others))
        if np.unique(draw).size == m:
            idx = np.sort(np.concatenate((certain, free[draw])))
            return Selection(idx.astype(int), pik, "sampford")
    raise QuchiStatsError(
        f"Sampford's method found no sample of distinct units in {max_tries} tries; use "
        "'pps_systematic' for this list (probabilities too close to 1).")




def select_replicates(method: str, x: object, n: int, reps: int, rng: np.random.Generator, *,
                      order: object = None, max_tries: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """``reps`` independent selections at once: a (reps × n) array of selected positions, each row
    ascending, and every unit's inclusion probability.

    The same algorithms and the same list order as :func:`select`, vectorised across replicates for
    design simulations (one random start per replicate for the systematic methods, one rejective
    loop over all pending replicates for Sampford's method).

    Examples
    --------
    >>> idx, pi = select_replicates("pps_systematic", [10, 20, 30, 40], 2, 5000,
    ...                             np.random.default_rng(1))
    >>> np.round(np.bincount(idx.ravel(), minlength=4) / 5000, 1).tolist()
    [0.2, 0.4, 0.6, 0.8]
    """
    if method not in SELECTION_METHODS:
        raise ParameterError(
            f"The 'method' parameter of select_replicates must be one of "
            f"{', '.join(map(repr, SELECTION_METHODS))}. Got {method!r}.")
    reps = check_int("reps", reps, "select_replicates", minimum=1)
    size = np.asarray(x).size
    if method in ("srswor", "systematic"):
        sizes = np.ones(size)
        n = _check_n(n, size, "select_replicates")
        pik = np.full(size, n / size if size else 0.0)
    else:
        sizes = _as_sizes(x, "select_replicates")
        pik = inclusion_probabilities(sizes, n)
    if n == 0:
        return np.zeros((reps, 0), dtype=np.intp), pik
    if method == "srswor":
        keys = rng.random((reps, size))
        return np.sort(np.argpartition(keys, n - 1, axis=1)[:, :n], axis=1), pik
    if method == "sampford":
        return _sampford_replicates(pik, n, reps, rng, max_tries), pik
    perm = np.arange(size) if order is None else np.argsort(np.asarray(order), kind="stable")
    if perm.size != size:
        raise ParameterError(
            f"The 'order' parameter of select_replicates must have one key per unit ({size}). "
            f"Got {perm.size}.")
    cum = np.round(np.concatenate(([0.0], np.cumsum(pik[perm]))), 10)
    u = rng.random(reps)
    # R's UPsystematic rule: unit k where u + m falls in (cum[k], cum[k+1]] for an integer m
    points = u[:, None] + np.arange(n)[None, :]
    points = np.where(u[:, None] > 0, points, points + 1.0)
    k = np.searchsorted(cum, points, side="left") - 1
    return np.sort(perm[np.clip(k, 0, size - 1)], axis=1), pik


def _sampford_replicates(pik: np.ndarray, n: int, reps: int, rng: np.random.Generator,
                         max_tries: int) -> np.ndarray:
    certain = np.flatnonzero(pik >= 1.0 - _EPS)
    free = np.flatnonzero((pik > 0) & (pik < 1.0 - _EPS))
    m = n - certain.size
    out = np.empty((reps, n), dtype=np.intp)
    out[:, : certain.size] = certain
    if m == 0:
        return np.sort(out, axis=1)
    p = pik[free]
    rest_w = p / (1.0 - p)
    pending = np.arange(reps)
    for _ in range(max_tries):
        first = rng.choice(free.size, size=pending.size, p=p / p.sum())
        others = rng.choice(free.size, size=(pending.size, m - 1), p=rest_w / rest_w.sum())
        draw = np.sort(np.column_stack((first, others)), axis=1)
        ok = np.all(draw[:, 1:] != draw[:, :-1], axis=1) if m > 1 else np.ones(pending.size, bool)
        out[pending[ok], certain.size:] = free[draw[ok]]
        pending = pending[~ok]
        if not pending.size:
            return np.sort(out, axis=1)
    raise QuchiStatsError(
        f"Sampford's method found no sample of distinct units in {max_tries} tries; use "
        "'pps_systematic' for this list (probabilities too close to 1).")


def select(method: str, x: object, n: int, rng: np.random.Generator, *,
           order: object = None) -> Selection:
    """Dispatch to one algorithm: equal-probability methods use ``len(x)``, πps methods ``x``.

    ``order`` (sort keys) applies to the systematic methods (implicit stratification).
    """
    size = np.asarray(x).size
    if method == "srswor":
        return select_srswor(size, n, rng)
    if method == "systematic":
        if order is None:
            return select_systematic(size, n, rng)
        return select_pps_systematic(np.ones(size), n, rng, order=order)._replace_method(
            "systematic")
    if method == "pps_systematic":
        return select_pps_systematic(x, n, rng, order=order)
    if method == "sampford":
        return select_sampford(x, n, rng)
    raise ParameterError(
        f"The 'method' parameter of select must be one of {', '.join(map(repr, SELECTION_METHODS))}. "
        f"Got {method!r}.")
