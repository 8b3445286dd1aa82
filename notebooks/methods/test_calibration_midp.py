# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The too-low cells of the adjusted town test: an exact mid-p test, and what is attainable
#
# (issue 11; docs/flags.md, "The too-low cells: an exact mid-p test and the attainable levels")
#
# Two things, both on **household-level** cells (there the town's data are the integer counts of
# bad households per village, all villages of one town with the same ``m`` households, so the
# town's sample space can be enumerated):
#
# 1. `attainable(...)`: the levels a non-randomised test of "below p0" can have in a cell, at the
#    true ICC, over the town's *configurations* (the multiset of bad counts of its villages), not
#    only over its total count: every rejection region that is permutation-invariant and monotone
#    (rejecting a configuration rejects every configuration with at least as many bad households
#    in each village) is enumerated, and the levels closest to 5 % on each side are returned.
# 2. `midp_size(...)`: the size of the **exact conditional mid-p test** (Lancaster 1961; Hirji
#    2006, ch. 2–3; Agresti & Gottard 2007): the town's signed likelihood root ``r`` at (p0, ρ̂)
#    — the adjusted test's statistic and ρ̂ — referred not to t but to its exact distribution over
#    the town's configurations under BetaBin(m, p0, ρ̂), with half the probability of the observed
#    value: ``p = P(R < r_obs) + ½ P(R = r_obs)``. Measured with the project's simulator on the
#    same replicates as `simulate_cell(..., adjusted=True)` (so `size_adj` here equals the
#    simulator's), beside the exact (non-mid) version ``P(R ≤ r_obs)``.
#
# Seeds: 20261209 (choice), 20261210 (confirmation); never the grid's 20261202–20261208.
#
#     nice python notebooks/methods/test_calibration_midp.py size 20261209 150
#     nice python notebooks/methods/test_calibration_midp.py attainable
#     nice python notebooks/methods/test_calibration_midp.py lr-ordered
#
# Rows go to `test_calibration_midp.csv` (size; seed 20261209, 1,000 districts),
# `test_calibration_midp_confirm.csv` (size and coverage; seed 20261210, 500 districts:
# `confirm 20261210 500`) and `test_calibration_attainable.csv`, with seed, reps and code version.

# %%
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from quchi_stats.flags.town_test import town_lr_batch
from quchi_stats.simulate.calibration import (
    _cell_streams,
    _draw,
    _new_method,
    attainable_levels,
    code_version,
    district_frame,
)

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
KEYS = ["icc", "villages", "households", "p0", "sizes", "unit"]
MAX_CONFIGS = 6000  # enumerate the town's sample space only up to this many configurations
COVERAGE_MAX_CONFIGS = 300  # coverage (per-town truth) only where the sample space is this small


def _bad_pmf(m: int, p0: float, rho: float) -> np.ndarray:
    """P(b bad of m) in one village: beta-binomial with mean 1 − p0 and ICC rho."""
    k = np.arange(m + 1)
    q = 1.0 - p0
    if q <= 0.0 or q >= 1.0:  # a town's finite-population truth can be exactly 1 (or 0)
        return (k == (0 if q <= 0.0 else m)).astype(float)
    if rho <= 1e-5:
        return stats.binom.pmf(k, m, q)
    s = (1.0 - rho) / rho
    a, b = q * s, p0 * s
    return np.exp(special.gammaln(m + 1) - special.gammaln(k + 1) - special.gammaln(m - k + 1)
                  + special.betaln(k + a, m - k + b) - special.betaln(a, b))


def configurations(villages: int, m: int) -> np.ndarray:
    """Every multiset of bad counts of ``villages`` villages of ``m`` households, sorted
    descending (n_configs, villages)."""
    c = np.array(list(itertools.combinations_with_replacement(range(m + 1), villages)))
    return np.sort(c, axis=1)[:, ::-1]


def _multiplicity(conf: np.ndarray) -> np.ndarray:
    v = conf.shape[1]
    out = np.full(len(conf), math.factorial(v), float)
    for row, c in enumerate(conf):
        for cnt in np.unique(c, return_counts=True)[1]:
            out[row] /= math.factorial(int(cnt))
    return out


def config_probs(conf: np.ndarray, m: int, p0: float, rho: float) -> np.ndarray:
    pmf = _bad_pmf(m, p0, rho)
    return _multiplicity(conf) * np.prod(pmf[conf], axis=1)


def config_roots(conf: np.ndarray, m: int, p0: float, rho: np.ndarray) -> np.ndarray:
    """Signed likelihood root of every configuration at every ρ (n_rho, n_configs)."""
    n_c, v = conf.shape
    n_r = len(rho)
    y = np.broadcast_to(m - conf, (n_r, n_c, v)).astype(float).ravel()
    mm = np.full(y.shape, float(m))
    g = np.repeat(np.arange(n_r * n_c), v)
    z, _ = town_lr_batch(y, mm, g, n_r * n_c, np.repeat(rho, n_c), np.full(n_r * n_c, p0))
    return z.reshape(n_r, n_c)


def _key(conf: np.ndarray, m: int) -> np.ndarray:
    """An integer code of each sorted configuration (base m + 1)."""
    return (conf * (m + 1) ** np.arange(conf.shape[1])[::-1]).sum(axis=1)


def midp_pvalues(bad: np.ndarray, m: int, p0: float, rho: np.ndarray,
                 tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Exact mid-p and exact p-values of every town (R, T, V bad counts) at its district's ρ̂."""
    R, T, V = bad.shape
    conf = configurations(V, m)
    codes = _key(conf, m)
    order = np.argsort(codes)
    obs = _key(np.sort(bad.reshape(R * T, V), axis=1)[:, ::-1], m)
    idx = order[np.searchsorted(codes[order], obs)].reshape(R, T)
    mid = np.empty((R, T))
    exact = np.empty((R, T))
    chunk = max(1, 400_000 // (len(conf) * V))
    for start in range(0, R, chunk):
        rr = np.arange(start, min(R, start + chunk))
        roots = config_roots(conf, m, p0, rho[rr])
        for j, r in enumerate(rr):
            prob = config_probs(conf, m, p0, float(rho[r]))
            z = roots[j]
            zo = z[idx[r]]
            less = (z[None, :] < zo[:, None] - tol)
            tie = np.abs(z[None, :] - zo[:, None]) <= tol
            mid[r] = (less * prob).sum(1) + 0.5 * (tie * prob).sum(1)
            exact[r] = ((less | tie) * prob).sum(1)
    return mid, exact


def midp_tails_at(bad: np.ndarray, m: int, p: np.ndarray, rho: np.ndarray,
                  tol: float = 1e-9, chunk_groups: int = 300_000) -> tuple[np.ndarray, ...]:
    """Both mid-p tails of every town (N, V bad counts) at its own ``p`` and ``rho`` (N,):
    ``P(R < r) + ½ P(R = r)`` (evidence that the rate is below ``p``) and ``P(R > r) + ½ P(R =
    r)`` (above), R the signed root at ``p`` over the town's configurations. The mid-p confidence
    set at level 1 − 2a is ``{p : both tails ≥ a}``: it covers a town's truth exactly when both
    tails at the truth are ≥ a, and its upper bound is below the truth when the lower tail is < a
    (no bisection needed)."""
    N, V = bad.shape
    conf = configurations(V, m)
    nc = len(conf)
    codes = _key(conf, m)
    order = np.argsort(codes)
    obs = _key(np.sort(bad, axis=1)[:, ::-1], m)
    idx = order[np.searchsorted(codes[order], obs)]
    low, high = np.empty(N), np.empty(N)
    step = max(1, chunk_groups // nc)
    for s in range(0, N, step):
        sl = slice(s, min(N, s + step))
        k = sl.stop - sl.start
        y = np.broadcast_to(m - conf, (k, nc, V)).astype(float).ravel()
        g = np.repeat(np.arange(k * nc), V)
        z, _ = town_lr_batch(y, np.full(y.shape, float(m)), g, k * nc,
                             np.repeat(rho[sl], nc), np.repeat(p[sl], nc))
        z = z.reshape(k, nc)
        prob = np.stack([config_probs(conf, m, float(p[i]), float(rho[i]))
                         for i in range(sl.start, sl.stop)])
        zo = z[np.arange(k), idx[sl]][:, None]
        tie = np.abs(z - zo) <= tol
        half = 0.5 * (tie * prob).sum(1)
        low[sl] = ((z < zo - tol) * prob).sum(1) + half
        high[sl] = ((z > zo + tol) * prob).sum(1) + half
    return low, high


def midp_size(icc: float, villages: int, households: int, p0: float, *, sizes: str = "equal",
              reps: int = 150, seed: int = 20261209, alpha: float = 0.05,
              power: bool = False, shift: float = 0.10, coverage: bool = False) -> dict:
    """Size of the adjusted test, its exact mid-p and exact versions on the replicates of
    `simulate_cell` (household-level; the same seeding, so `size_adj` equals the simulator's)."""
    frame = district_frame(sizes, seed=seed)
    ss_null, ss_alt = _cell_streams(seed, icc, villages, households, p0, sizes, "household")
    row = {"icc": icc, "villages": villages, "households": households, "p0": p0,
           "sizes": sizes, "unit": "household", "reps": reps, "seed": seed}
    scen = [("", p0, ss_null)] + ([("power_", p0 - shift, ss_alt)] if power else [])
    for prefix, p, ss in scen:
        sim = _draw(frame, p, icc, villages, households, False, reps,
                    np.random.default_rng(ss))
        adj = _new_method(sim, p0, 0.95, False, "beta-binomial-adjusted")
        bad = households - sim["y"]
        mid, exact = midp_pvalues(bad, households, p0, adj["rho"])
        name = "size" if prefix == "" else "power"
        row[f"{name}_adj"] = float(np.mean(adj["p_value"] < alpha))
        row[f"{name}_midp"] = float(np.mean(mid < alpha))
        row[f"{name}_exact"] = float(np.mean(exact < alpha))
        if prefix == "":
            row["rho_mean_adj"] = float(np.mean(adj["rho"]))
            for k in ("coverage", "upper_below", "lower_above"):  # every row has every column
                row[f"{k}_adj"] = row[f"{k}_midp"] = np.nan
            if coverage and math.comb(households + villages, villages) <= COVERAGE_MAX_CONFIGS:
                ad = _new_method(sim, p0, 0.95, True, "beta-binomial-adjusted")
                truth = sim["truth"]
                row["coverage_adj"] = float(np.mean((ad["lower"] <= truth) & (truth <= ad["upper"])))
                row["upper_below_adj"] = float(np.mean(ad["upper"] < truth))
                row["lower_above_adj"] = float(np.mean(ad["lower"] > truth))
                R, T, V = bad.shape
                lo_t, hi_t = midp_tails_at(bad.reshape(R * T, V), households, truth.ravel(),
                                           np.repeat(adj["rho"], T))
                a = (1 - 0.95) / 2
                row["coverage_midp"] = float(np.mean((lo_t >= a) & (hi_t >= a)))
                row["upper_below_midp"] = float(np.mean(lo_t < a))
                row["lower_above_midp"] = float(np.mean(hi_t < a))
    row["code_version"] = code_version()
    return row


# %% [markdown]
# ## Attainable levels over configurations (monotone, permutation-invariant regions)

# %%
def attainable(villages: int, households: int, p0: float, icc: float,
               band: tuple[float, float] = (0.035, 0.06), tail: float = 1e-4,
               max_nodes: int = 2_000_000) -> dict:
    """Is any level in ``band`` attainable by a non-randomised, permutation-invariant, monotone
    test of a town's own configuration (at the true ICC, under BetaBin(households, p0, icc) per
    village)?

    A rejection region is an up-set of the configurations (sorted bad counts) under "at least as
    many bad in each village". The configurations with total bad ≥ K, where ``P(total ≥ K) ≤
    tail``, form an up-set T; for every region U, U ∪ T is a region with level in [P(U),
    P(U) + tail]. So the regions containing T are searched exhaustively (depth-first over the
    rest in order of decreasing total, including a configuration only with everything above it,
    excluding it with everything below it, pruning levels above ``band[1] + tail``): if none has
    a level in ``[band[0], band[1] + tail]``, no region at all has a level in ``band`` —
    the cell's band is unattainable without randomisation. Returns the levels found nearest the
    band (``below_band``: largest < band[0]; ``above_band``: smallest > band[1], among regions up
    to ``band[1] + 0.05``), ``in_band`` (True, False, or None when ``max_nodes`` was hit), and the
    total-count levels of :func:`attainable_levels` for comparison."""
    conf = configurations(villages, households)
    prob = config_probs(conf, households, p0, icc)
    tot = conf.sum(axis=1)
    # K: smallest total with P(total >= K) <= tail
    pt = np.bincount(tot, weights=prob)
    ge_tail = np.cumsum(pt[::-1])[::-1]
    K = int(np.argmax(ge_tail <= tail))
    base = float(prob[tot >= K].sum())
    free = np.flatnonzero(tot < K)
    free = free[np.argsort(-tot[free], kind="stable")]
    n = len(free)
    cf = conf[free]
    ge = np.all(cf[:, None, :] >= cf[None, :, :], axis=2)   # ge[i, j]: config i >= config j
    pf = prob[free]
    hi_cap = band[1] + 0.05
    levels: set = set()
    nodes = 0
    found = [False]

    def dfs(i: int, state: np.ndarray, level: float) -> None:
        # state: 1 included, -1 excluded, 0 undecided
        nonlocal nodes
        nodes += 1
        if nodes > max_nodes:
            raise RuntimeError
        while i < n and state[i] != 0:
            i += 1
        if i == n:
            levels.add(round(level, 12))
            if band[0] <= level <= band[1] + tail:
                found[0] = True
            return
        # include i: everything above it is already included (decreasing total order,
        # undecided above would be an error)
        above = ge[:, i] & (np.arange(n) != i)
        if not np.any(state[above] == -1):
            lv = level + pf[i]
            if lv <= hi_cap:
                s = state.copy()
                s[i] = 1
                dfs(i + 1, s, lv)
        # exclude i and everything below it
        below = ge[i, :]
        s = state.copy()
        s[below & (s == 0)] = -1
        dfs(i + 1, s, level)

    try:
        dfs(0, np.zeros(n, np.int8), base)
        complete = True
    except RuntimeError:
        complete = False
    lv = np.array(sorted(levels))
    inside = lv[(lv >= band[0]) & (lv <= band[1] + tail)]
    t = attainable_levels(villages, households, p0, icc=icc)
    return {"icc": icc, "villages": villages, "households": households, "p0": p0,
            "configs": len(conf), "tail_K": K, "tail_mass": base, "free_configs": n,
            "nodes": nodes, "complete": complete, "regions": len(lv),
            "below_band": float(lv[lv < band[0]].max()) if (lv < band[0]).any() else np.nan,
            "above_band": float(lv[lv > band[1] + tail].min()) if (lv > band[1] + tail).any()
            else np.nan,
            "in_band": True if found[0] else (False if complete else None),
            "in_band_min": float(inside.min()) if len(inside) else np.nan,
            "in_band_max": float(inside.max()) if len(inside) else np.nan,
            "total_below": t["below"], "total_above": t["above"]}


# %%
def too_low_household_cells(max_configs: int = MAX_CONFIGS) -> pd.DataFrame:
    """The household-level cells of the adjusted grid (seed 20261208) with size below 3.5 %,
    whose sample space has at most ``max_configs`` configurations."""
    t = pd.read_csv(HERE / "test_calibration_adjusted_grid.csv")
    low = t[(t["size_adj"] < 0.035) & (t["unit"] == "household")]
    n = [math.comb(int(r.households) + int(r.villages), int(r.villages))
         for r in low.itertuples()]
    return low.assign(configs=n)[np.array(n) <= max_configs][[*KEYS, "size_adj", "configs"]]


def in_band_household_cells(max_configs: int = MAX_CONFIGS, k: int = 12,
                            seed: int = 11) -> pd.DataFrame:
    """A check of the other side: household cells of the adjusted grid with size ≥ 3.5 % (small
    sample spaces), ``k`` drawn at random plus every one at or above 5 %."""
    t = pd.read_csv(HERE / "test_calibration_adjusted_grid.csv")
    ok = t[(t["size_adj"] >= 0.035) & (t["unit"] == "household")]
    n = np.array([math.comb(int(r.households) + int(r.villages), int(r.villages))
                  for r in ok.itertuples()])
    ok = ok.assign(configs=n)[n <= max_configs]
    hi = ok[ok["size_adj"] >= 0.05]
    rest = ok.drop(index=hi.index)
    pick = rest.sample(n=min(k, len(rest)), random_state=seed)
    return pd.concat([hi, pick])[[*KEYS, "size_adj", "configs"]]


def run_size(seed: int, reps: int, which: str = "low", coverage: bool = False) -> pd.DataFrame:
    """Size (and with ``coverage`` the mid-p confidence set's coverage) on the ``"low"`` or
    ``"high"`` household cells, rows appended to `test_calibration_midp.csv`."""
    out = HERE / ("test_calibration_midp_confirm.csv" if coverage else "test_calibration_midp.csv")
    cells = too_low_household_cells() if which == "low" else in_band_household_cells()
    rows = []
    for c in cells.itertuples():
        r = midp_size(float(c.icc), int(c.villages), int(c.households), float(c.p0),
                      sizes=str(c.sizes), reps=reps, seed=seed, coverage=coverage)
        r["set"] = which
        rows.append(r)
        frame = pd.DataFrame([r])
        if out.exists():  # the file's column order
            frame = frame.reindex(columns=pd.read_csv(out, nrows=0).columns)
        frame.to_csv(out, mode="a", index=False, header=not out.exists())
        print(f"{c.icc} {c.villages}x{c.households} {c.p0} {c.sizes}: adj {r['size_adj']:.4f}"
              f" midp {r['size_midp']:.4f} exact {r['size_exact']:.4f}", flush=True)
    return pd.DataFrame(rows)


def run_attainable() -> pd.DataFrame:
    t = pd.read_csv(HERE / "test_calibration_adjusted_grid.csv")
    low = t[t["size_adj"] < 0.035][["icc", "villages", "households", "p0"]].drop_duplicates()
    rows = []
    for c in low.itertuples():
        if math.comb(int(c.households) + int(c.villages), int(c.villages)) > MAX_CONFIGS:
            continue
        rows.append(attainable(int(c.villages), int(c.households), float(c.p0), float(c.icc),
                               max_nodes=100_000))
        print(rows[-1], flush=True)
    out = pd.DataFrame(rows).assign(code_version=code_version())
    out.to_csv(HERE / "test_calibration_attainable.csv", index=False)
    return out


def lr_ordered_levels(villages: int, households: int, p0: float, icc: float,
                      band: tuple[float, float] = (0.035, 0.06), tol: float = 1e-9) -> dict:
    """The levels of the tests that order a town's configurations by its signed likelihood root
    at (p0, ρ = ``icc``) — the adjusted test's statistic with ρ known — and reject the ``k``
    most extreme values: the cumulative probabilities of the configurations sorted by ``r``,
    ties together. Returns the largest level below ``band[0]``, the smallest above ``band[1]``
    and whether any is in the band: no such test (whatever its reference distribution or
    critical value) has a level in the band when ``in_band`` is False."""
    conf = configurations(villages, households)
    prob = config_probs(conf, households, p0, icc)
    z = config_roots(conf, households, p0, np.array([icc]))[0]
    order = np.argsort(z, kind="stable")
    zs, cum = z[order], np.cumsum(prob[order])
    last = np.append(np.diff(zs) > tol, True)        # the end of each group of tied roots
    lv = cum[last]
    inside = lv[(lv >= band[0]) & (lv <= band[1])]
    return {"icc": icc, "villages": villages, "households": households, "p0": p0,
            "configs": len(conf),
            "lr_below": float(lv[lv < band[0]].max()) if (lv < band[0]).any() else 0.0,
            "lr_above": float(lv[lv > band[1]].min()) if (lv > band[1]).any() else np.nan,
            "lr_in_band": bool(len(inside)),
            "lr_in_band_levels": " ".join(f"{x:.4f}" for x in inside)}


def run_lr_ordered(grid: Path = HERE / "test_calibration_adjusted_grid1000.csv") -> pd.DataFrame:
    """:func:`lr_ordered_levels` (with the configuration-level :func:`attainable` beside it) for
    every (ICC, villages, households, p0) whose household cells are below the band in the
    1,000-district grid; to `test_calibration_lr_ordered.csv`."""
    t = pd.read_csv(grid)
    low = t[(t["size_adj"] < 0.035) & (t["unit"] == "household")]
    rows = []
    for c in low[["icc", "villages", "households", "p0"]].drop_duplicates().itertuples():
        if math.comb(int(c.households) + int(c.villages), int(c.villages)) > MAX_CONFIGS:
            continue
        a = attainable(int(c.villages), int(c.households), float(c.p0), float(c.icc),
                       max_nodes=100_000)
        r = lr_ordered_levels(int(c.villages), int(c.households), float(c.p0), float(c.icc))
        cells = low[(low["icc"] == c.icc) & (low["villages"] == c.villages)
                    & (low["households"] == c.households) & (low["p0"] == c.p0)]
        rows.append({**r, "grid_cells": len(cells),
                     "grid_size_adj": " ".join(f"{x:.4f}" for x in cells["size_adj"]),
                     "any_region_in_band": a["in_band"], "total_below": a["total_below"],
                     "total_above": a["total_above"]})
        print(rows[-1], flush=True)
    out = pd.DataFrame(rows).assign(code_version=code_version())
    out.to_csv(HERE / "test_calibration_lr_ordered.csv", index=False)
    return out


# %%
if __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "size":
    run_size(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "low")
elif __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "confirm":
    for which in ("low", "high"):
        run_size(int(sys.argv[2]), int(sys.argv[3]), which, coverage=True)
elif __name__ == "__main__" and sys.argv[1:] == ["attainable"]:
    run_attainable()
elif __name__ == "__main__" and sys.argv[1:] == ["lr-ordered"]:
    run_lr_ordered()


# %% [markdown]
# ## Summaries

# %%
def read_confirm(path: Path | None = None) -> pd.DataFrame:
    """`test_calibration_midp_confirm.csv`. Its first run (code before every row had every
    column) appended the rows without coverage (more than 300 configurations) with 14 fields
    under the 20-field header; they are read by their own keys."""
    import csv

    path = path or HERE / "test_calibration_midp_confirm.csv"
    short = ["icc", "villages", "households", "p0", "sizes", "unit", "reps", "seed", "size_adj",
             "size_midp", "size_exact", "rho_mean_adj", "code_version", "set"]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    recs = [dict(zip(head if len(r) == len(head) else short, r, strict=True)) for r in rows[1:]]
    t = pd.DataFrame(recs, columns=head).replace("", np.nan)
    num = [c for c in head if c not in ("sizes", "unit", "code_version", "set")]
    t[num] = t[num].astype(float)
    t[["villages", "households", "reps", "seed"]] = t[["villages", "households", "reps",
                                                       "seed"]].astype(int)
    return t


def summary(path: Path | None = None) -> pd.DataFrame:
    """Per seed × set × test: cells, min / median / max size, cells below 3.5 %, in [3.5 %, 6 %],
    above 6 % and above 6.5 %, and (where measured) mean / min coverage and max upper-bound
    misses."""
    t = pd.concat([pd.read_csv(path or HERE / "test_calibration_midp.csv"), read_confirm()],
                  ignore_index=True)
    rows = []
    for (seed, which, reps), g in t.groupby(["seed", "set", "reps"]):
        for test in ("adj", "exact", "midp"):
            s = g[f"size_{test}"]
            r = {"seed": seed, "set": which, "reps": reps, "test": test, "cells": len(g),
                 "size_min": s.min(), "size_median": s.median(), "size_max": s.max(),
                 "below_3.5": int((s < 0.035).sum()),
                 "in_band": int(((s >= 0.035) & (s <= 0.06)).sum()),
                 "above_6": int((s > 0.06).sum()), "above_6.5": int((s > 0.065).sum())}
            if f"coverage_{test}" in g and g[f"coverage_{test}"].notna().any():
                r.update({"coverage_mean": g[f"coverage_{test}"].mean(),
                          "coverage_min": g[f"coverage_{test}"].min(),
                          "upper_below_max": g[f"upper_below_{test}"].max()})
            rows.append(r)
    return pd.DataFrame(rows)


if __name__ == "__main__" and sys.argv[1:] == ["--summary"]:
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary().round(4).to_string(index=False))


def report(choice: int = 20261209, confirm: int = 20261210) -> str:
    """Markdown, one row per household cell: the grid's adjusted size (150 districts, seed
    20261208), the adjusted, exact and mid-p sizes on the choice seed, adjusted and mid-p on the
    confirmation seed with the coverage of the adjusted interval and of the mid-p confidence set
    (where measured), and the attainable levels (total count; configurations)."""
    a = pd.read_csv(HERE / "test_calibration_midp.csv")
    c = read_confirm()
    att = pd.read_csv(HERE / "test_calibration_attainable.csv")
    grid = pd.read_csv(HERE / "test_calibration_adjusted_grid.csv")
    k4 = ["icc", "villages", "households", "p0"]
    t = (a[a["seed"] == choice].merge(c[c["seed"] == confirm], on=[*KEYS, "set"], how="left",
                                       suffixes=("", "_c"))
         .merge(grid[[*KEYS, "size_adj"]].rename(columns={"size_adj": "size_grid"}), on=KEYS,
                how="left")
         .merge(att, on=k4, how="left"))
    lines = []
    for which, g in t.groupby("set", sort=False):
        lines += [f"**{which}** ({len(g)} cells; percent)", "",
                  "| ICC | V × m | p0 | sizes | grid adj. | adj. / exact / **mid-p** "
                  f"({choice}) | adj. / **mid-p** ({confirm}) | coverage adj. → mid-p "
                  f"({confirm}) | upper < truth adj. → mid-p | attainable: total count | "
                  "configurations |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in g.sort_values(["p0", "villages", "households", "icc"]).itertuples():
            cov = (f"{100 * r.coverage_adj:.1f} → {100 * r.coverage_midp:.1f}"
                   if hasattr(r, "coverage_midp") and pd.notna(r.coverage_midp) else "—")
            ub = (f"{100 * r.upper_below_adj:.1f} → {100 * r.upper_below_midp:.1f}"
                  if hasattr(r, "upper_below_midp") and pd.notna(r.upper_below_midp) else "—")
            conf = "—"
            if pd.notna(r.free_configs):
                hi = "> 11" if pd.isna(r.above_band) else f"{100 * r.above_band:.2f}"
                if r.in_band is True or r.in_band == "True":
                    conf = f"in band ({100 * r.in_band_min:.2f}–{100 * r.in_band_max:.2f})"
                elif r.in_band is False or r.in_band == "False":
                    conf = f"**none in band**: {100 * r.below_band:.2f} / {hi}"
                else:
                    conf = "undecided (search limit)"
            tot = ("—" if pd.isna(r.total_below) else
                   f"{100 * r.total_below:.2f} / {100 * r.total_above:.2f}")
            lines.append(
                f"| {r.icc:g} | {r.villages} × {r.households} | {r.p0:g} | {r.sizes} "
                f"| {100 * r.size_grid:.1f} | {100 * r.size_adj:.1f} / {100 * r.size_exact:.1f} / "
                f"**{100 * r.size_midp:.1f}** | "
                + (f"{100 * r.size_adj_c:.1f} / **{100 * r.size_midp_c:.1f}**"
                   if pd.notna(r.size_adj_c) else "—")
                + f" | {cov} | {ub} | {tot} | {conf} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__" and sys.argv[1:] == ["--report"]:
    print(report())
