# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The modified signed root r* for the too-low cells (measured, not adopted)
#
# (issue 11; docs/flags.md, "The modified signed root r*")
#
# Most cells below the size band are at p0 0.98 with few households a town, where the count is so
# discrete that the likelihood-ratio root with a t reference rejects too rarely. Barndorff-Nielsen's
# modified signed root
#
#     r* = r + log(q / r) / r,   q = (logit p̂ − logit p0) · √j_θ(p̂),
#
# (r the signed likelihood root at the district ρ̂, j_θ the observed information of the
# beta-binomial mean on the logit scale at ρ̂; exact theory for the binomial, an approximation at
# ρ̂ > 0) is a higher-order correction which, for discrete data, approximates the **mid-p** value
# (Pierce & Peters 1992, JRSS B 54:701–737; Brazzale, Davison & Reid 2007, *Applied Asymptotics*,
# ch. 2). It is referred to the normal (`rstar_normal`) and to t with villages − towns df
# (`rstar_t`), beside the default (`t`), on **the same replicates** as the grid (seed 20261211,
# 1,000 districts a cell, every cell of the grid; the power scenario 10 points below). A town with
# every village empty keeps the default's mid-p. Only the one-sided tests are run: by duality the
# rejection rate at 2.5 % is the share of upper bounds below μ = p0 of the matching interval.
#
#     nice python notebooks/methods/test_calibration_rstar.py run 0 2   # half the cells
#     nice python notebooks/methods/test_calibration_rstar.py run 1 2   # the other half
#     python notebooks/methods/test_calibration_rstar.py report
#
# About 5 minutes of one core per half on a 2-core AMD EPYC.

# %%
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

import quchi_stats.simulate.calibration as cal

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(HERE))
import test_calibration_estimand as estimand  # noqa: E402  (the script beside this one)

tt = importlib.import_module("quchi_stats.flags.town_test")
SEED = 20261211
KEYS = ["icc", "villages", "households", "p0", "sizes", "unit"]
REFERENCES = ("t", "rstar_normal", "rstar_t")


def information(y, m, g, n_groups, p, s):
    """Observed information in the mean p of each group's beta-binomial counts at ``p`` (per
    group), precision ``s`` (per group; the binomial above the module's switch)."""
    sv, pv, r = s[g], p[g], m - y
    binom = sv >= tt._S_BINOMIAL
    sf = np.where(binom, 1.0, sv)
    a, b = pv * sf, (1.0 - pv) * sf
    with np.errstate(all="ignore"):
        bi = y / pv**2 + r / (1.0 - pv) ** 2
        bb = -sf**2 * (special.polygamma(1, a + y) - special.polygamma(1, a)
                       + special.polygamma(1, b + r) - special.polygamma(1, b))
    return np.bincount(g, weights=np.where(binom, bi, bb), minlength=n_groups)


def rstar_batch(y, m, g, n_groups, rho_group, p0_group):
    """(r*, r, p̂) of each group at ``p0_group``; r* = r where p̂ is 0 or 1 or r ≈ 0."""
    s = tt._precision(rho_group)
    r, p_hat = tt.town_lr_batch(y, m, g, n_groups, rho_group, p0_group)
    inside = (p_hat > 0) & (p_hat < 1)
    pc = np.clip(p_hat, 1e-12, 1 - 1e-12)
    with np.errstate(all="ignore"):
        j_theta = information(y, m, g, n_groups, pc, s) * (pc * (1.0 - pc)) ** 2
        q = (special.logit(pc) - special.logit(p0_group)) * np.sqrt(j_theta)
        rs = r + np.log(q / r) / r
    ok = inside & (np.abs(r) > 1e-6) & np.isfinite(rs)
    return np.where(ok, rs, r), r, p_hat


def rstar_bounds(y, m, g, n_groups, rho_group, crit, iters: int = 42):
    """``{p : |r*(p)| ≤ crit}`` of each group by bisection on each side of p̂ (r*(p) = r(p) +
    log(q(p)/r(p))/r(p), with p̂ and j_θ(p̂) fixed); a group with p̂ 0 or 1 keeps the default's
    bounds (likelihood ratio, mid-p at the full or empty town)."""
    s = tt._precision(rho_group)
    p_hat, l_hat = tt._profile(y, m, g, n_groups, s)
    lo_d, hi_d, _ = tt.town_bounds_batch(y, m, g, n_groups, rho_group, crit,
                                         boundary_tail=tt.mid_p_tail("beta-binomial-adjusted",
                                                                    0.95))
    inside = (p_hat > 0) & (p_hat < 1)
    pc = np.clip(p_hat, 1e-12, 1 - 1e-12)
    with np.errstate(all="ignore"):
        sq = np.sqrt(information(y, m, g, n_groups, pc, s) * (pc * (1.0 - pc)) ** 2)

    def rstar_at(p):
        ll = np.bincount(g, weights=tt._loglik(y, m, p[g], s[g]), minlength=n_groups)
        r = np.sign(p_hat - p) * np.sqrt(np.maximum(2.0 * (l_hat - ll), 0.0))
        with np.errstate(all="ignore"):
            q = (special.logit(pc) - special.logit(p)) * sq
            rs = r + np.log(q / r) / r
        return np.where((np.abs(r) > 1e-6) & np.isfinite(rs), rs, r)

    out = []
    for side in (-1.0, 1.0):  # lower bound: r* = +crit below p̂; upper: r* = −crit above p̂
        a = np.where(side < 0, 1e-12, pc)
        b = np.where(side < 0, pc, 1 - 1e-12)
        for _ in range(iters):
            mid = (a + b) / 2
            beyond = -side * rstar_at(mid) > crit  # mid is outside the interval
            if side < 0:
                a, b = np.where(beyond, mid, a), np.where(beyond, b, mid)
            else:
                a, b = np.where(beyond, a, mid), np.where(beyond, mid, b)
        out.append((a + b) / 2)
    lo = np.where(inside, out[0], lo_d)
    hi = np.where(inside, out[1], hi_d)
    return lo, hi


def cell_rates(icc, villages, households, p0, sizes, unit, reps=1000, seed=SEED,
               bounds: bool = True):
    """Rejection rates at 5 % and 2.5 % (at the standard) and power at 5 % (10 points below) of
    the three references, on the grid's replicates of the cell (as `simulate_cell`)."""
    T = 9
    frame = cal.district_frame(sizes, seed=seed)
    ss_null, ss_alt = cal._cell_streams(seed, icc, villages, households, p0, sizes, unit)
    row = {"icc": icc, "villages": villages, "households": households, "p0": p0, "sizes": sizes,
           "unit": unit, "reps": reps, "seed": seed}
    for scenario, ss, p in (("size", ss_null, p0), ("power", ss_alt, p0 - 0.10)):
        sim = cal._draw(frame, p, icc, villages, households, unit == "person", reps,
                        np.random.default_rng(ss))
        mv, pv = cal._village_counts(sim)
        yv, mm = (mv * pv).ravel(), mv.ravel()
        g = np.repeat(np.arange(reps * T), villages)
        rep = np.repeat(np.arange(reps), T)
        rho = tt.rho_batch("beta-binomial-adjusted", yv, mm, g, rep, reps)
        rs, r, p_hat = rstar_batch(yv, mm, g, reps * T, rho[rep], np.full(reps * T, p0))
        df = T * villages - T
        p_t = tt.town_pvalue_batch(r, p_hat, df, method="beta-binomial-adjusted")
        empty = p_hat <= 0
        pvals = {"t": p_t, "rstar_normal": np.where(empty, p_t, stats.norm.cdf(rs)),
                 "rstar_t": np.where(empty, p_t, stats.t.cdf(rs, df))}
        if scenario == "size" and bounds:
            crit = stats.t.ppf(0.975, df)
            lo, hi = rstar_bounds(yv, mm, g, reps * T, rho[rep], crit)
            truth = sim["truth"].ravel()
            for name, target in (("", truth), ("_mu", np.full(truth.shape, p0))):
                row[f"coverage{name}_rstar_t"] = float(np.mean((lo <= target) & (target <= hi)))
                row[f"upper_below{name}_rstar_t"] = float(np.mean(hi < target))
                row[f"lower_above{name}_rstar_t"] = float(np.mean(lo > target))
            row["width_rstar_t"] = float(np.mean(hi - lo))
        for ref, pv in pvals.items():
            if scenario == "size":
                row[f"size_{ref}"] = float(np.mean(pv < 0.05))
                row[f"size025_{ref}"] = float(np.mean(pv < 0.025))
            else:
                row[f"power_{ref}"] = float(np.mean(pv < 0.05))
    return row


def run(part: int = 0, parts: int = 1, reps: int = 1000, seed: int = SEED) -> pd.DataFrame:
    """Every ``parts``-th cell of the grid from ``part`` on, to its own part file (joined by
    :func:`load`)."""
    rows = [cell_rates(**c, reps=reps, seed=seed) for i, c in enumerate(cal._cells(cal.GRID))
            if i % parts == part]
    out = pd.DataFrame(rows).assign(code_version=cal.code_version())
    out.to_csv(HERE / f"test_calibration_rstar.part{part}.csv", index=False)
    return out


def load() -> pd.DataFrame:
    """The grid's rows (the part files joined into the CSV when they exist)."""
    return estimand.load("test_calibration_rstar")


def summary(t: pd.DataFrame) -> pd.DataFrame:
    """Per reference: cells in the size band, below it (at p0 0.98), above 6 % and 6.5 %, the
    largest size, the mean size, cells whose 2.5 % rate exceeds 2.5 % (upper bounds below μ) and
    its largest value, mean power (percent where a rate)."""
    rows = []
    for ref in REFERENCES:
        s, s2, pw = t[f"size_{ref}"], t[f"size025_{ref}"], t[f"power_{ref}"]
        rows.append({"reference": ref,
                     "in band [3.5, 6] %": round(100 * ((s >= 0.035) & (s <= 0.06)).mean(), 1),
                     "below 3.5 %": int((s < 0.035).sum()),
                     "of them p0 0.98": int(((s < 0.035) & (t["p0"] == 0.98)).sum()),
                     "above 6 %": int((s > 0.06).sum()), "above 6.5 %": int((s > 0.065).sum()),
                     "largest size %": round(100 * s.max(), 2),
                     "mean size %": round(100 * s.mean(), 2),
                     "2.5 % rate above 2.5 %": int((s2 > 0.025).sum()),
                     "largest 2.5 % rate %": round(100 * s2.max(), 2),
                     "mean power %": round(100 * pw.mean(), 1)})
    return pd.DataFrame(rows).set_index("reference").T


def goals(t: pd.DataFrame) -> pd.DataFrame:
    """The issue's goals (`calibration.goal_checks`) for the default (`adj`, from the estimand
    run on the same replicates) and r* with t (`rstar_t`), each read as the grid reads it (size
    at μ, coverage against the actual rate) and against μ alone (`_mu`)."""
    m = estimand.load().merge(t, on=KEYS, suffixes=("", "_r"))
    return estimand.reading_goals(m, {
        "adj": ("size_adj", "coverage_adj", "upper_below_adj", "width_adj"),
        "adj_mu": ("size_adj", "coverage_mu_adj", "upper_below_mu_adj", "width_adj"),
        "rstar_t": ("size_rstar_t", "coverage_rstar_t", "upper_below_rstar_t", "width_rstar_t"),
        "rstar_t_mu": ("size_rstar_t", "coverage_mu_rstar_t", "upper_below_mu_rstar_t",
                       "width_rstar_t")})


# %%
if __name__ == "__main__" and len(sys.argv) > 1:
    estimand.main(sys.argv, run, lambda: (lambda t: (summary(t), goals(t)))(load()))
