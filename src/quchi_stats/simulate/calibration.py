"""Calibration of the 第七条（四） town test: size, power and interval coverage on a grid of designs.

One *cell* is a design and a truth: a district of ``towns`` towns, each with a fixed population of
``villages_in_town`` villages (all of ``equal_size`` households, or very unequal sizes: lognormal,
clipped to 20–600 households); in each replicate district

1. every village of the population gets a true rate ``p_v ~ Beta`` with the cell's mean ``p`` and
   intra-village correlation ``icc``, and a count of good households ``Y_v ~ Binomial(N_v, p_v)``;
2. ``villages`` villages per town are drawn by systematic πps on the households (list order, as
   :func:`~quchi_stats.sampling.draw_sample` with ``village_order="name"``;
   :func:`~quchi_stats.sampling.select_replicates`), ``households`` households from each drawn
   village without replacement (a hypergeometric draw from the finite village), with design
   weights ``1/(π_v · m/N_v)``;
3. for a person-level rate every household has ``1 + Poisson(2.5)`` persons, and its outcome holds
   for all of them; the truth is the town's finite-population rate (of persons or households);
4. both tests are run on every town:

   * **new** (``test_method = "beta-binomial"``): village effective counts as
     :func:`~quchi_stats.flags.village_counts` computes them (Kish count ``(Σw)²/Σw²`` of
     ``w = weight × persons``), the district ρ by :func:`~quchi_stats.flags.town_test.fit_rho_batch`,
     the signed root :func:`~quchi_stats.flags.town_test.town_lr_batch` referred to t with
     ``villages − towns`` df, and the interval :func:`~quchi_stats.flags.town_test.town_bounds_batch`;
   * **old** (``test_method = "design"``): the design-based ratio estimator with strata = towns,
     PSUs = villages (with-replacement linearisation), then
     :func:`~quchi_stats.estimation.intervals.one_sided_pvalue` (Jeffreys, ``deff_floor``) and
     :func:`~quchi_stats.estimation.intervals.proportion_interval` (Jeffreys), as the yearly report
     and :mod:`quchi_stats.simulate.power` do.

Two scenarios per cell, from independent replicates: every town *at* the standard (``p = p0``:
**size** = share of town tests with a one-sided p-value below ``alpha``; coverage, the share of
upper bounds below the truth — what would wrongly flag a town — and of lower bounds above it, and
the mean width of the ``level`` interval), and every town ``shift`` below it (**power**,
unadjusted).

:func:`calibration_grid` runs a grid of cells, each with its own random stream derived from the
seed and the cell's coordinates (a cell can be rerun alone and gives the same numbers);
:func:`attainable_levels` gives the levels a non-randomised test can have when the households
are few (why no test can be at 5 % in some cells).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from ..errors import ParameterError, check_choice, check_int, check_probability
from ..estimation.intervals import one_sided_pvalue, proportion_interval
from ..flags.betabinomial import ConvergenceError
from ..flags.town_test import (
    mid_p_tail,
    rho_batch,
    town_bounds_batch,
    town_lr_batch,
    town_pvalue_batch,
)
from ..flags.town_test_fp import fp_bounds, fp_predict_batch, fp_pvalues
from ..sampling.selection import select_replicates

__all__ = ["GOALS", "GRID", "METHOD_NAMES_ZH", "attainable_levels", "calibration_grid", "code_version",
           "coverage_comparison", "district_frame", "goal_checks", "misses", "plot_calibration",
           "simulate_cell", "summarise_grid"]

#: The grid of the calibration issue (issue 11, items 2 and 4).
GRID = {"icc": (0.02, 0.05, 0.10, 0.20), "villages": (3, 5, 8), "households": (5, 10, 20),
        "p0": (0.90, 0.95, 0.98), "sizes": ("equal", "pps"), "unit": ("person", "household")}

_MEAN_EXTRA_PERSONS = 2.5  # household size 1 + Poisson(2.5)
_SIZES = ("equal", "pps")
_UNITS = ("person", "household")
_METRICS = ("size", "power", "coverage", "upper_below", "lower_above", "width")


def code_version() -> str:
    """Package version and a digest of the code the numbers depend on — the simulating functions
    of this module (not its summaries) and the modules of the town test, the design intervals and
    the πps selection — recorded with every grid row."""
    import importlib
    import inspect

    from .. import __version__

    h = hashlib.sha256()
    for f in (district_frame, _village_rates, _draw, _sum_of_squares, _village_counts,
              _new_method, _fp_method, _fp_pvalue, _old_method, _scores, _rate, _cell_streams,
              simulate_cell):
        h.update(inspect.getsource(f).encode())
    for name in ("flags.town_test", "flags.town_test_fp", "estimation.intervals",
                 "sampling.selection"):
        mod = importlib.import_module(f"quchi_stats.{name}")
        h.update(Path(mod.__file__).read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


def district_frame(sizes: str = "equal", *, towns: int = 9, villages_in_town: int = 20,
                   equal_size: int = 100, seed: int = 0) -> np.ndarray:
    """(towns, villages_in_town) households per village: all ``equal_size``, or (``"pps"``) very
    unequal, lognormal with median 100 and log-sd 0.9 clipped to [20, 600], rounded, in random
    (list) order. The frame is fixed by ``seed`` alone, so every cell sees the same district.

    Examples
    --------
    >>> f = district_frame("pps", seed=1)
    >>> f.shape, int(f.min()) >= 20, int(f.max()) <= 600
    ((9, 20), True, True)
    """
    sizes = check_choice("sizes", sizes, _SIZES, "district_frame")
    if sizes == "equal":
        return np.full((towns, villages_in_town), int(equal_size), dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    raw = np.exp(np.log(100.0) + 0.9 * rng.standard_normal((towns, villages_in_town)))
    return np.clip(np.round(raw), 20, 600).astype(np.int64)


def _village_rates(p: float, icc: float, shape: tuple[int, ...],
                   rng: np.random.Generator) -> np.ndarray:
    if icc <= 0:
        return np.full(shape, p)
    s = (1.0 - icc) / icc
    return rng.beta(p * s, (1.0 - p) * s, size=shape)


def _draw(frame: np.ndarray, p: float, icc: float, villages: int, households: int,
          person: bool, reps: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One scenario: the drawn households of every replicate district and the towns' truths."""
    T, K = frame.shape
    V, m = villages, households
    N = frame.astype(float)
    rates = _village_rates(p, icc, (reps, T, K), rng)
    Y = rng.binomial(frame[None], rates)                                  # (R, T, K)
    idx = np.empty((reps, T, V), dtype=np.intp)
    pi = np.empty((reps, T, V))
    for t in range(T):
        chosen, pik = select_replicates("pps_systematic", N[t], V, reps, rng)
        idx[:, t] = chosen
        pi[:, t] = pik[chosen]
    Nd = np.take_along_axis(np.broadcast_to(frame, (reps, T, K)), idx, axis=2)   # (R, T, V)
    Yd = np.take_along_axis(Y, idx, axis=2)
    y = rng.hypergeometric(Yd, Nd - Yd, m)                                # good among the m drawn
    w = Nd / (pi * m)                                                     # household weight
    good = np.arange(m)[None, None, None, :] < y[..., None]              # (R, T, V, m)
    if person:
        size = 1.0 + rng.poisson(_MEAN_EXTRA_PERSONS, size=good.shape)
    else:
        size = np.ones(good.shape)
    # the town's finite-population truth: drawn households + the rest of every village
    in_sample = np.zeros((reps, T, K))
    np.put_along_axis(in_sample, idx, 1.0, axis=2)
    y_full = np.zeros((reps, T, K))
    np.put_along_axis(y_full, idx, y.astype(float), axis=2)
    rest_good = Y - y_full                                                # not drawn, good
    rest_bad = (frame[None] - Y) - (m * in_sample - y_full)
    if person:
        good_p = rest_good + rng.poisson(_MEAN_EXTRA_PERSONS * rest_good)
        bad_p = rest_bad + rng.poisson(_MEAN_EXTRA_PERSONS * rest_bad)
        s_good = (size * good).sum(axis=(2, 3))
        s_all = size.sum(axis=(2, 3))
        num = good_p.sum(axis=2) + s_good
        den = good_p.sum(axis=2) + bad_p.sum(axis=2) + s_all
        r1 = good_p + bad_p
        r2 = _sum_of_squares(rest_good, good_p) + _sum_of_squares(rest_bad, bad_p)
        t_obs = np.zeros((reps, T, K))
        np.put_along_axis(t_obs, idx, (size * good).sum(-1), axis=2)
    else:
        num = Y.sum(axis=2)
        den = np.broadcast_to(N.sum(axis=1), (reps, T))
        r1 = frame[None] - m * in_sample
        r2, t_obs = r1, y_full
    # every village of the town, for the finite-population prediction (``_fp_method``)
    fp = {"y": y_full, "n": m * in_sample, "r1": r1, "r2": r2, "t_obs": t_obs, "total": den}
    return {"good": good, "size": size, "w": w, "truth": num / den, "y": y, "fp": fp}


def _sum_of_squares(households: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """``E[Σ s_i² | k households, S persons]`` for household sizes ``s = 1 + X``, ``X`` i.i.d.
    Poisson: given the sum ``E = S − k`` of the ``X``, they are multinomial with equal cells, so
    ``E[Σ X_i²] = E + E(E − 1)/k`` and ``Σ s² = k + 2E + Σ X²``. The register gives each
    household's persons; the simulation draws only the unobserved households' total, and this is
    the prediction variance's ``R2`` it stands for (0 when there is no household)."""
    k = np.asarray(households, float)
    e = np.asarray(persons, float) - k
    with np.errstate(invalid="ignore", divide="ignore"):
        extra = np.where(k > 0, e * (e - 1.0) / np.where(k > 0, k, 1.0), 0.0)
    return k + 3.0 * e + extra


def _village_counts(sim: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each drawn village's effective size and rate (replicates × towns × villages), as
    ``village_counts`` forms them: the Kish count ``(Σw)²/Σw²`` of ``w = weight × persons`` and
    the ``w``-weighted share good."""
    # w = weight × persons; the weight is constant within a village, so it cancels in both
    ws = sim["w"][..., None] * sim["size"]
    sw, sw2, swy = ws.sum(-1), (ws**2).sum(-1), (ws * sim["good"]).sum(-1)
    return sw**2 / sw2, np.clip(swy / sw, 0.0, 1.0)


def _new_method(sim: dict, p0: float, level: float, interval: bool,
                method: str = "beta-binomial", df: float | None = None,
                actual: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The beta-binomial town test through village effective counts (as ``village_counts``);
    ``method = "beta-binomial-adjusted"``: ρ by the pooled ANOVA estimator and mid-p bounds at a
    full or empty town (as ``town_test(method=...)``). ``df``: the t reference of the signed root
    and the interval (default villages − towns, as the report; ``inf`` for the normal).
    ``actual`` (replicates × towns): also test each town against that value instead of ``p0``
    (``p_value_actual``; the towns' actual rates give the test's size for the actual rate).

    A replicate district whose fit raises :class:`~quchi_stats.flags.ConvergenceError` (found by
    halving the batch) gets NaN p-values and bounds and is counted in ``failed``: the report would
    have stopped on it, so it is left out of the rates and reported beside them."""
    R, T, V, _ = sim["good"].shape
    mv, pv = _village_counts(sim)
    df = T * V - T if df is None else df
    crit = stats.t.ppf((1 + level) / 2, df)
    out = {"p_value": np.full((R, T), np.nan), "rho": np.full(R, np.nan)}
    if interval:
        out["lower"], out["upper"] = np.full((R, T), np.nan), np.full((R, T), np.nan)
    if actual is not None:
        out["p_value_actual"] = np.full((R, T), np.nan)

    def run(reps: np.ndarray) -> None:
        k = reps.size
        yv, mm = (mv[reps] * pv[reps]).ravel(), mv[reps].ravel()
        g = np.repeat(np.arange(k * T), V)
        rep = np.repeat(np.arange(k), T)
        try:
            rho = rho_batch(method, yv, mm, g, rep, k)
            z, p_ml = town_lr_batch(yv, mm, g, k * T, rho[rep], np.full(k * T, p0))
            if actual is not None:
                z_a, _ = town_lr_batch(yv, mm, g, k * T, rho[rep], actual[reps].ravel())
            if interval:
                lo, hi, _ = town_bounds_batch(yv, mm, g, k * T, rho[rep], crit,
                                              boundary_tail=mid_p_tail(method, level))
        except ConvergenceError:
            if k > 1:
                run(reps[: k // 2])
                run(reps[k // 2:])
            return
        out["rho"][reps] = rho
        out["p_value"][reps] = town_pvalue_batch(z, p_ml, df, method=method).reshape(k, T)
        if actual is not None:
            out["p_value_actual"][reps] = town_pvalue_batch(z_a, p_ml, df,
                                                            method=method).reshape(k, T)
        if interval:
            out["lower"][reps], out["upper"][reps] = lo.reshape(k, T), hi.reshape(k, T)

    run(np.arange(R))
    out["failed"] = int(np.isnan(out["rho"]).sum())
    return out


def _fp_method(sim: dict, p0: float, level: float, rho: np.ndarray) -> dict[str, np.ndarray]:
    """The finite-population prediction test of :mod:`~quchi_stats.flags.town_test_fp` (issue 13's
    prototype) on every town: the BLUP of the town's actual rate from all its villages (sampled
    or not; persons of the unobserved households for a person-level rate), the district ``rho``
    of each replicate (the adjusted test's, so both rest on one ρ̂), the score p-value against
    ``p0`` and the Wilson-type ``level`` interval, t with villages − towns df. Keeps ``p_hat``,
    ``K`` and ``df`` so the test can be run against other values (:func:`_fp_pvalue`)."""
    f = sim["fp"]
    R, T, K = f["n"].shape
    V = sim["good"].shape[2]
    g = np.repeat(np.arange(R * T), K)
    p_hat, k_factor, _ = fp_predict_batch(f["y"].ravel(), f["n"].ravel(), f["r1"].ravel(), g,
                                          R * T, np.repeat(np.asarray(rho, float), T),
                                          r2=f["r2"].ravel(), t_obs=f["t_obs"].ravel(),
                                          total=np.asarray(f["total"], float).ravel())
    df = T * V - T
    lo, hi = fp_bounds(p_hat, k_factor, stats.t.ppf((1 + level) / 2, df))
    out = {"p_hat": p_hat.reshape(R, T), "K": k_factor.reshape(R, T), "df": df,
           "lower": lo.reshape(R, T), "upper": hi.reshape(R, T)}
    out["p_value"] = _fp_pvalue(out, p0)
    return out


def _fp_pvalue(res: dict, null) -> np.ndarray:
    """One-sided p-values of :func:`_fp_method`'s towns against ``null`` (a value, or one per
    town)."""
    null = np.broadcast_to(np.asarray(null, float), res["p_hat"].shape)
    return fp_pvalues(res["p_hat"], res["K"], null, res["df"])[1]


def _old_method(sim: dict, p0: float, level: float, deff_floor: float,
                interval: bool) -> dict[str, np.ndarray]:
    """The design-based ratio estimate, its with-replacement linearisation variance (strata =
    towns, PSUs = villages), the Jeffreys p-value and interval — as ``estimate_proportion``."""
    good, size, w = sim["good"], sim["size"], sim["w"]
    R, T, V, m = good.shape
    sy = (size * good).sum(-1)                     # persons (or households) good per village
    sx = size.sum(-1)
    t_v, x_v = w * sy, w * sx
    Ysum, X = t_v.sum(-1), x_v.sum(-1)
    p_hat = Ysum / X
    z = (t_v - p_hat[..., None] * x_v) / X[..., None]
    dev2 = ((z - z.mean(-1, keepdims=True)) ** 2).sum(-1)
    v = V / (V - 1) * dev2
    n = float(V * m)
    # SRS variance of the same n (estimate_proportion's deff; zero variance up to rounding)
    s2g = (size**2 * good).sum(-1)
    s2b = (size**2 * ~good).sum(-1)
    ss = (w * (s2g * (1 - p_hat[..., None]) ** 2 + s2b * p_hat[..., None] ** 2)).sum(-1)
    Nw = (w * m).sum(-1)
    xbar = X / Nw
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = ss / Nw * n / (n - 1) / xbar**2
        v_srs = s2 / n * (Nw - n) / Nw
    v = np.where(v <= 1e-12 * np.nan_to_num(v_srs, nan=0.0), 0.0, v)
    df = np.full(p_hat.shape, V - 1.0)
    pv = one_sided_pvalue(p_hat.ravel(), v.ravel(), n, df.ravel(), p0, method="jeffreys",
                          level_for_n=level, deff_floor=deff_floor).reshape(R, T)
    out = {"p_value": pv, "p_hat": p_hat}
    if interval:
        ci = proportion_interval(p_hat.ravel(), v.ravel(), n, df.ravel(), method="jeffreys",
                                 level=level)
        out["lower"], out["upper"] = ci.lower.reshape(R, T), ci.upper.reshape(R, T)
    return out


def _scores(res: dict, truth: np.ndarray) -> dict[str, float]:
    """Coverage, upper bound below / lower bound above the truth, mean width (over the towns
    with an interval)."""
    lo, hi = res["lower"], res["upper"]
    ok = np.isfinite(lo) & np.isfinite(hi)
    n = max(int(ok.sum()), 1)
    return {"coverage": float(np.sum(ok & (lo <= truth) & (truth <= hi)) / n),
            "upper_below": float(np.sum(ok & (hi < truth)) / n),
            "lower_above": float(np.sum(ok & (lo > truth)) / n),
            "width": float(np.sum(np.where(ok, hi - lo, 0.0)) / n)}


def _rate(p_value: np.ndarray, alpha: float) -> float:
    """Share of the tests (those with a p-value) that reject at ``alpha``."""
    ok = np.isfinite(p_value)
    return float(np.sum(ok & (p_value < alpha)) / max(int(ok.sum()), 1))


def _cell_streams(seed: int, icc: float, villages: int, households: int, p0: float, sizes: str,
                  unit: str) -> list[np.random.SeedSequence]:
    """The random streams of a cell's two scenarios (at the standard, below it), derived from the
    seed and the cell's coordinates: a cell gives the same replicates whatever grid runs it."""
    key = (int(round(icc * 1e4)), villages, households, int(round(p0 * 1e4)),
           _SIZES.index(sizes), _UNITS.index(unit))
    return np.random.SeedSequence(seed, spawn_key=key).spawn(2)


def simulate_cell(icc: float, villages: int, households: int, p0: float, *,
                  sizes: str = "equal", unit: str = "household", reps: int = 1000,
                  shift: float = 0.10, towns: int = 9, villages_in_town: int = 20,
                  equal_size: int = 100, alpha: float = 0.05, level: float = 0.95,
                  deff_floor: float = 1.0, seed: int = 0, power: bool = True,
                  adjusted: bool = False, fp: bool = False) -> dict:
    """Size, power and interval scores of the new and the old town test in one cell.

    Parameters
    ----------
    icc : float
        Intra-village correlation of the households' outcomes, in [0, 1).
    villages, households : int
        Villages drawn per town, households drawn per village.
    p0 : float
        The standard; the towns are at ``p0`` (size, coverage) and at ``p0 − shift`` (power).
    sizes : {"equal", "pps"}
        Village sizes of the population (:func:`district_frame`).
    unit : {"household", "person"}
        Whether the rate counts households or persons (household sizes 1 + Poisson(2.5)).
    reps : int
        Replicate districts per scenario (``reps × towns`` town tests).
    seed : int
        Seeds the frame (with :func:`district_frame`) and, with the cell's coordinates, the
        replicates: the same cell gives the same numbers whatever grid it is run in.
    power : bool
        Also simulate the ``p0 − shift`` scenario.
    adjusted : bool
        Also run ``test_method = "beta-binomial-adjusted"`` on the same replicates (columns with
        the suffix ``_adj``, and ``rho_mean_adj``, ``failed_adj``).
    fp : bool
        Also (with ``adjusted``) score both estimands on the same replicates. The town tests above
        test the model mean μ of a town's village rates; 第七条（四） is about the town's actual
        rate P_h this year (the truth of ``coverage``). Adds, for the adjusted test and for the
        finite-population prediction test of issue 13 (:func:`_fp_method`, suffix ``_fp``, ρ̂ the
        adjusted test's): ``size_actual`` (each town tested against its own actual rate: the
        false-flag rate of a town exactly at the standard in fact), ``coverage_mu``,
        ``upper_below_mu``, ``lower_above_mu`` (the interval scored against μ = p0, the test's
        estimand), and for ``_fp`` the columns of the other methods (``size_fp`` is its rejection
        rate when μ = p0, not its size).

    Returns
    -------
    dict
        The cell's settings, ``tests`` (town tests per scenario), ``rho_mean`` (mean fitted ρ at
        ``p0``), ``failed_new``/``failed_new_power`` (replicate districts whose beta-binomial fit
        raised ``ConvergenceError``: left out of the new method's rates), and for each method
        (suffix ``_new``/``_old``) ``size``, ``power``, ``coverage``, ``upper_below``,
        ``lower_above``, ``width``.

    Examples
    --------
    >>> r = simulate_cell(0.05, 3, 10, 0.9, reps=20, seed=1, power=False)
    >>> r["tests"], 0 <= r["size_new"] <= 1, r["width_new"] > 0
    (180, True, True)
    """
    func = "simulate_cell"
    icc = float(icc)
    if not 0 <= icc < 1:
        raise ParameterError(f"The 'icc' parameter of {func} must be in [0, 1). Got {icc}.")
    villages = check_int("villages", villages, func, minimum=2)
    households = check_int("households", households, func, minimum=1)
    p0 = check_probability("p0", p0, func)
    sizes = check_choice("sizes", sizes, _SIZES, func)
    unit = check_choice("unit", unit, _UNITS, func)
    reps = check_int("reps", reps, func, minimum=1)
    towns = check_int("towns", towns, func, minimum=2)
    villages_in_town = check_int("villages_in_town", villages_in_town, func, minimum=villages)
    seed = check_int("seed", seed, func, minimum=0)
    if not 0 < shift < p0:
        raise ParameterError(f"The 'shift' parameter of {func} must be in (0, {p0}). Got {shift}.")
    frame = district_frame(sizes, towns=towns, villages_in_town=villages_in_town,
                           equal_size=equal_size, seed=seed)
    if households > frame.min():
        raise ParameterError(f"The 'households' parameter of {func} must be at most the smallest "
                             f"village ({int(frame.min())}). Got {households}.")
    ss_null, ss_alt = _cell_streams(seed, icc, villages, households, p0, sizes, unit)
    person = unit == "person"
    row = {"icc": icc, "villages": villages, "households": households, "p0": p0,
           "sizes": sizes, "unit": unit, "reps": reps, "tests": reps * towns, "seed": seed}
    sim = _draw(frame, p0, icc, villages, households, person, reps,
                np.random.default_rng(ss_null))
    adjusted = adjusted or fp
    new = _new_method(sim, p0, level, True)
    old = _old_method(sim, p0, level, deff_floor, True)
    row["rho_mean"] = float(np.nanmean(new["rho"])) if new["failed"] < reps else np.nan
    row["truth_mean"] = float(sim["truth"].mean())
    row["failed_new"] = new["failed"]
    row["failed_new_power"] = np.nan
    methods = [("new", new), ("old", old)]
    if adjusted:
        adj = _new_method(sim, p0, level, True, "beta-binomial-adjusted",
                          actual=sim["truth"] if fp else None)
        row["rho_mean_adj"] = float(np.nanmean(adj["rho"]))
        row["failed_adj"] = adj["failed"]
        methods.append(("adj", adj))
    if fp:
        fpr = _fp_method(sim, p0, level, adj["rho"])
        fpr["p_value_actual"] = _fp_pvalue(fpr, sim["truth"])
        methods.append(("fp", fpr))
    for name, res in methods:
        row[f"size_{name}"] = _rate(res["p_value"], alpha)
        row[f"power_{name}"] = np.nan
        row.update({f"{k}_{name}": v for k, v in _scores(res, sim["truth"]).items()})
        if fp and name in ("adj", "fp"):
            row[f"size_actual_{name}"] = _rate(res["p_value_actual"], alpha)
            mu = _scores(res, np.full(sim["truth"].shape, p0))
            row.update({f"{k}_mu_{name}": mu[k] for k in ("coverage", "upper_below",
                                                          "lower_above")})
    if power:
        sim = _draw(frame, p0 - shift, icc, villages, households, person, reps,
                    np.random.default_rng(ss_alt))
        alt = _new_method(sim, p0, level, False)
        row["power_new"] = _rate(alt["p_value"], alpha)
        row["failed_new_power"] = alt["failed"]
        row["power_old"] = _rate(_old_method(sim, p0, level, deff_floor, False)["p_value"], alpha)
        if adjusted:
            adj = _new_method(sim, p0, level, False, "beta-binomial-adjusted")
            row["power_adj"] = _rate(adj["p_value"], alpha)
            if fp:
                row["power_fp"] = _rate(_fp_method(sim, p0, level, adj["rho"])["p_value"],
                                        alpha)
    return row


def _cells(grid: dict) -> list[dict]:
    names = ("icc", "villages", "households", "p0", "sizes", "unit")
    return [dict(zip(names, c, strict=True)) for c in itertools.product(*(grid[k] for k in names))]


def calibration_grid(grid: dict | None = None, *, reps: int = 1000, seed: int = 20261202,
                     path: str | Path | None = None,
                     progress: Callable[[int, int, dict], None] | None = None,
                     order_seed: int | None = None, cells: pd.DataFrame | None = None,
                     **kwargs) -> pd.DataFrame:
    """Run :func:`simulate_cell` on every cell of ``grid`` (default :data:`GRID`, 432 cells).

    With ``path``, each finished cell is appended to that CSV at once and cells already in it
    (same coordinates, ``reps``, ``seed`` and code version) are skipped, so a long run can be
    stopped and resumed; the returned frame holds the grid's rows of the file. Every row records
    ``seed``, ``reps`` and :func:`code_version`. With ``order_seed`` the cells run in a seeded
    random order, so that a run stopped early has done a random subset of the grid (the numbers of
    a cell do not depend on the order). ``cells`` (a frame with the six coordinate columns, e.g.
    the rows :func:`misses` returns) runs those cells instead of the grid's product.
    """
    grid = GRID if grid is None else {**GRID, **grid}
    reps = check_int("reps", reps, "calibration_grid", minimum=1)
    version = code_version()
    keys_ = ["icc", "villages", "households", "p0", "sizes", "unit"]
    cells = _cells(grid) if cells is None else [
        {"icc": float(r.icc), "villages": int(r.villages), "households": int(r.households),
         "p0": float(r.p0), "sizes": str(r.sizes), "unit": str(r.unit)}
        for r in cells[keys_].drop_duplicates().itertuples()]
    keys = ["icc", "villages", "households", "p0", "sizes", "unit"]
    done = pd.DataFrame()
    if path is not None and Path(path).exists():
        done = pd.read_csv(path)
        done = done[(done["reps"] == reps) & (done["seed"] == seed)
                    & (done["code_version"] == version)]
    have = {tuple(r) for r in done[keys].itertuples(index=False)} if len(done) else set()
    rows = []
    order = (np.random.default_rng(order_seed).permutation(len(cells)) if order_seed is not None
             else np.arange(len(cells)))
    for i, c in enumerate(order):
        cell = cells[c]
        if (cell["icc"], cell["villages"], cell["households"], cell["p0"], cell["sizes"],
                cell["unit"]) in have:
            continue
        row = simulate_cell(**cell, reps=reps, seed=seed, **kwargs)
        row["code_version"] = version
        rows.append(row)
        if path is not None:
            pd.DataFrame([row]).to_csv(path, mode="a", index=False,
                                       header=not Path(path).exists())
        if progress is not None:
            progress(i + 1, len(cells), row)
    out = pd.concat([done, pd.DataFrame(rows)], ignore_index=True) if rows else done
    if len(out):
        want = pd.DataFrame(cells)
        out = want.merge(out, on=keys, how="inner")
    return out.reset_index(drop=True)


def summarise_grid(table: pd.DataFrame, by: Sequence[str] = ("p0", "icc")) -> pd.DataFrame:
    """Min / median / max over the cells of each group of ``size``, ``coverage`` (new and old)
    and of the width ratio new/old."""
    t = table.assign(width_ratio=table["width_new"] / table["width_old"])
    cols = ["size_new", "size_old", "coverage_new", "coverage_old", "width_ratio"]
    out = t.groupby(list(by))[cols].agg(["min", "median", "max"])
    return out


def attainable_levels(villages: int, households: int, p0: float, *, icc: float = 0.0,
                      alpha: float = 0.05) -> dict[str, float]:
    """The levels a non-randomised test can have around ``alpha`` when a town is ``villages``
    villages × ``households`` households (household-level counts).

    Any test that flags a town on its count of "bad" households — and, with equal households per
    village, the beta-binomial test at a given ρ is such a test for a given spread of the bad ones
    over villages — has a rejection region "bad ≥ k". Under H0 (every village rate from
    Beta(mean ``p0``, ``icc``)) its level is ``P(bad ≥ k)``; the two levels that straddle
    ``alpha`` are returned: ``below`` (largest ≤ alpha), ``above`` (smallest > alpha), with their
    ``k_below``/``k_above``. Person-level counts are less discrete, but the households still are.

    Examples
    --------
    >>> a = attainable_levels(3, 5, 0.98)
    >>> round(a["below"], 4), round(a["above"], 4)
    (0.0353, 0.2614)
    """
    villages = check_int("villages", villages, "attainable_levels", minimum=1)
    households = check_int("households", households, "attainable_levels", minimum=1)
    p0 = check_probability("p0", p0, "attainable_levels")
    k = np.arange(households + 1)
    q = 1.0 - p0  # the probability of a bad household
    if icc > 0:
        s = (1.0 - icc) / icc
        a, b = q * s, (1.0 - q) * s
        logpmf = (special.gammaln(households + 1) - special.gammaln(k + 1)
                  - special.gammaln(households - k + 1) + special.betaln(k + a, households - k + b)
                  - special.betaln(a, b))
        pmf = np.exp(logpmf)
    else:
        pmf = stats.binom.pmf(k, households, q)
    total = np.array([1.0])
    for _ in range(villages):
        total = np.convolve(total, pmf)
    tail = np.cumsum(total[::-1])[::-1]  # P(bad >= k), k = 0..n
    ok = tail <= alpha + 1e-15
    kb = int(np.argmax(ok)) if ok.any() else len(tail)
    below = float(tail[kb]) if kb < len(tail) else 0.0
    above = float(tail[kb - 1]) if kb > 0 else 1.0
    return {"below": below, "k_below": kb, "above": above, "k_above": kb - 1}


#: The goals of issue 11 for the default test and interval (nominal 5 % one-sided, 95 % interval).
GOALS = {"size_low": 0.035, "size_high": 0.06, "size_never": 0.065, "coverage_mean_low": 0.95,
         "coverage_mean_high": 0.975, "coverage_min": 0.935, "upper_below_max": 0.025,
         "width_reduction": 0.15}


def goal_checks(table: pd.DataFrame, goals: dict | None = None, *,
                methods: Sequence[str] = ("new", "old")) -> pd.DataFrame:
    """The issue's goals, one row per goal and one column per method of ``methods`` (the
    suffixes of ``table``'s columns: ``new``, ``old``, ``adj`` for the adjusted test of
    notebooks/methods/test_calibration_adjusted.py): the measured value and whether it holds over
    the cells of ``table``.

    Size: share of cells with size in [3.5 %, 6 %] (goal: all), largest size (never above
    6.5 %); coverage: mean over cells in [95 %, 97.5 %], smallest ≥ 93.5 %; largest share of upper
    bounds below the truth ≤ 2.5 %; mean width of the new interval at least 15 % below the old."""
    g = {**GOALS, **(goals or {})}
    rows = []
    for m in methods:
        s, c, u = table[f"size_{m}"], table[f"coverage_{m}"], table[f"upper_below_{m}"]
        inside = ((s >= g["size_low"]) & (s <= g["size_high"])).mean()
        ratio = (table[f"width_{m}"] / table["width_old"]).mean()
        rows += [
            (m, "size_in_band_share", inside, inside == 1.0),
            (m, "size_max", s.max(), s.max() <= g["size_never"]),
            (m, "cells_size_above_6.5%", int((s > g["size_never"]).sum()),
             bool((s <= g["size_never"]).all())),
            (m, "coverage_mean", c.mean(),
             g["coverage_mean_low"] <= c.mean() <= g["coverage_mean_high"]),
            (m, "coverage_min", c.min(), c.min() >= g["coverage_min"]),
            (m, "upper_below_max", u.max(), u.max() <= g["upper_below_max"]),
            (m, "width_ratio_to_old", ratio, ratio <= 1 - g["width_reduction"]),
        ]
    t = pd.DataFrame(rows, columns=["method", "goal", "value", "met"])
    return t.pivot(index="goal", columns="method", values=["value", "met"]).reindex(
        [r[1] for r in rows[:7]])


def misses(table: pd.DataFrame, method: str = "new", goals: dict | None = None) -> pd.DataFrame:
    """The cells where ``method`` misses a per-cell goal, with which (``size_low``,
    ``size_high``, ``size_above_6.5%``, ``coverage_below_93.5%``, ``upper_below_above_2.5%``) and
    the levels a non-randomised test can attain there (:func:`attainable_levels` with the cell's
    households and ICC: ``attainable_below``/``attainable_above`` straddle 5 %)."""
    g = {**GOALS, **(goals or {})}
    s, c, u = (table[f"{k}_{method}"] for k in ("size", "coverage", "upper_below"))
    flags = pd.DataFrame({"size_low": s < g["size_low"], "size_high": s > g["size_high"],
                          "size_above_6.5%": s > g["size_never"],
                          "coverage_below_93.5%": c < g["coverage_min"],
                          "upper_below_above_2.5%": u > g["upper_below_max"]})
    keep = flags.any(axis=1)
    out = table.loc[keep, ["icc", "villages", "households", "p0", "sizes", "unit",
                           f"size_{method}", f"coverage_{method}", f"upper_below_{method}",
                           f"power_{method}"]].copy()
    out["missed"] = flags[keep].apply(lambda r: ", ".join(r.index[r]), axis=1)
    lv = [attainable_levels(int(r.villages), int(r.households), float(r.p0), icc=float(r.icc))
          for r in out.itertuples()]
    out["attainable_below"] = [a["below"] for a in lv]
    out["attainable_above"] = [a["above"] for a in lv]
    return out.reset_index(drop=True)


#: The methods of a calibration grid, by the suffix of its columns, as the plots name them.
METHOD_NAMES_ZH = {"old": "旧方法（设计效应 Jeffreys）", "new": "新方法（beta-二项）",
                   "adj": "调整方法（beta-二项，方差分析估计 ICC、mid-p）"}


def plot_calibration(table: pd.DataFrame, *, value: str = "size", ax=None, x: str = "old",
                     y: str = "new"):
    """Method ``x`` against method ``y`` (suffixes of :data:`METHOD_NAMES_ZH`), one point per
    cell (``value``: ``"size"``, ``"power"``, ``"coverage"`` or ``"width"``), coloured by the
    standard p0, with the goal band where there is one. Returns the Axes."""
    import matplotlib.pyplot as plt

    from .. import plots  # noqa: F401  (registers the bundled CJK font)

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    colours = {0.90: "#2c7fb8", 0.95: "#e67e22", 0.98: "#c0392b"}
    for p0, g in table.groupby("p0"):
        ax.scatter(g[f"{value}_{x}"], g[f"{value}_{y}"], s=14, alpha=0.7,
                   color=colours.get(round(p0, 2), "#7f7f7f"), label=f"p0 = {p0:.2f}")
    lo = float(min(table[f"{value}_{x}"].min(), table[f"{value}_{y}"].min()))
    hi = float(max(table[f"{value}_{x}"].max(), table[f"{value}_{y}"].max()))
    ax.plot([lo, hi], [lo, hi], color="#7f7f7f", lw=0.8, ls=":")
    names = {"size": "检验水平（标准处的拒绝率）", "power": "把握度（低于标准 10 个百分点）",
             "coverage": "95% 区间覆盖率", "width": "区间平均宽度"}
    if value == "size":
        ax.axhspan(GOALS["size_low"], GOALS["size_high"], color="#2ca02c", alpha=0.12,
                   label="目标 3.5%–6%")
        ax.axhline(GOALS["size_never"], color="#c0392b", lw=0.8, ls="--", label="上限 6.5%")
    if value == "coverage":
        ax.axhline(GOALS["coverage_min"], color="#c0392b", lw=0.8, ls="--", label="下限 93.5%")
    ax.set_xlabel(f"{METHOD_NAMES_ZH[x]}：{names[value]}")
    ax.set_ylabel(f"{METHOD_NAMES_ZH[y]}：{names[value]}")
    ax.legend(fontsize=8)
    return ax


def coverage_comparison(*, p: Sequence[float] = (0.90, 0.95, 0.98, 0.995),
                        n: Sequence[int] = (30, 60, 120), villages: Sequence[int] = (3, 6),
                        icc: float = 0.05, reps: int = 100, seed: int = 20181231,
                        level: float = 0.95) -> pd.DataFrame:
    """The coverage study's grid (:func:`~quchi_stats.simulate.coverage_study`: true rate ``p``,
    ``n`` households per town in ``villages`` villages, ICC ``icc``) for the new default interval
    beside the old one: each cell a district of 9 such towns (equal villages of 100 households),
    ``reps`` districts (:func:`simulate_cell` without the power scenario, the truth at ``p``).
    Columns: ``p``, ``n``, ``villages`` and ``coverage``/``upper_below``/``width`` ``_new`` and
    ``_old``."""
    rows = []
    for pv in p:
        for nv in n:
            for k in villages:
                r = simulate_cell(icc, k, nv // k, pv, reps=reps, seed=seed, level=level,
                                  power=False)
                rows.append({"p": pv, "n": nv, "villages": k,
                             **{f"{a}_{b}": r[f"{a}_{b}"] for a in ("coverage", "upper_below",
                                                                   "width") for b in ("new", "old")},
                             "failed_new": r["failed_new"]})
    return pd.DataFrame(rows)
