# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Why the default town test misses in a few cells (issue 11): the diagnosis runs
#
# Scratch study (not part of the package; it patches private functions of
# `flags/town_test.py` to swap the estimator of ρ). Each run draws `reps` districts of one cell
# with the calibration simulator's `_draw` (seeded `np.random.default_rng(seed)`; seeds 11, 12 and 13,
# never the grid's) and tests every town against p0 with the default likelihood ratio at
#
# * `orig`: the Cox–Reid adjusted ML ρ̂ (the default), `obs`: Cox–Reid with the observed
#   information of the beta-binomial mean, `ml`: plain ML, `loo`: each town's ρ̂ from the other
#   towns, `mom`: the pooled ANOVA estimator (the adjusted method's), `true`: the true ICC;
# * `profile` (second part): the district's full profile likelihood ratio, ρ re-maximised with the
#   tested town's mean fixed at p0.
#
#     python notebooks/methods/test_calibration_diagnosis.py 0.2 8 20 0.98 equal household 1000 11 orig,obs,ml,loo,mom
#     python notebooks/methods/test_calibration_diagnosis.py profile 0.2 8 20 0.98 equal household 300 11
#
# The figures are in docs/flags.md ("The adjusted test").

# %%
import sys, time
import numpy as np
from scipy import special, stats
from quchi_stats.simulate import calibration as C
import importlib; TT = importlib.import_module("quchi_stats.flags.town_test")

def _shapes(rho_rep, rep_of_group):
    """Each group's ρ (0 below the binomial switch) and beta-binomial shape s = (1 − ρ)/ρ."""
    rho_g = rho_rep[rep_of_group]
    rho_g = np.where(rho_g < 1.0 / (1.0 + TT._S_BINOMIAL), 0.0, rho_g)
    with np.errstate(divide="ignore"):
        s_g = np.where(rho_g > 0, (1.0 - rho_g) / np.maximum(rho_g, 1e-300), np.inf)
    return rho_g, s_g


def crit_factory(kind):
    def _criterion(y, m, g, n_groups, rep_of_group, n_reps, rho_rep, start=None):
        rho_g, s_g = _shapes(rho_rep, rep_of_group)
        p, ll = TT._profile(y, m, g, n_groups, s_g, start=start)
        if kind == "ql":
            info = np.bincount(g, weights=m / (1.0 + (m - 1.0) * rho_g[g]), minlength=n_groups)
        elif kind == "obs":
            pv = p[g]; s = s_g[g]; r = m - y
            binom = ~np.isfinite(s) | (s >= TT._S_BINOMIAL)
            sf = np.where(binom, 1.0, s)
            with np.errstate(all="ignore"):
                a, b = pv * sf, (1 - pv) * sf
                bb = sf**2 * (np.where(y > 0, special.polygamma(1, a) - special.polygamma(1, a + y), 0.0)
                              + np.where(r > 0, special.polygamma(1, b) - special.polygamma(1, b + r), 0.0))
                bi = y / pv**2 + r / (1 - pv)**2
            j = np.where(binom, bi, bb)
            info = np.bincount(g, weights=np.nan_to_num(j), minlength=n_groups)
        else:
            info = np.ones(n_groups)
        inside = (p > 0) & (p < 1) & (info > 0)
        adj = np.where(inside, -0.5 * np.log(np.where(inside, info, 1.0)), 0.0)
        if kind == "ml":
            adj = 0 * adj
        return np.bincount(rep_of_group, weights=ll + adj, minlength=n_reps), p
    return _criterion

ORIG = TT._criterion
def fit(kind, y, m, g, rep, R):
    TT._criterion = crit_factory(kind) if kind != "orig" else ORIG
    try:
        return TT.fit_rho_batch(y, m, g, rep, R)
    finally:
        TT._criterion = ORIG

def anova_rho(yv, mv):
    """pooled one-way ANOVA ICC (villages within towns), per replicate district; (R, T, V) arrays"""
    pv = np.where(mv > 0, yv / mv, 0)
    M = mv.sum(-1, keepdims=True)
    ph = yv.sum(-1, keepdims=True) / M
    ssb = (mv * (pv - ph) ** 2).sum((-1, -2))
    ssw = (mv * pv * (1 - pv)).sum((-1, -2))
    V = mv.shape[-1]; T = mv.shape[-2]
    dfb = T * (V - 1)
    dfw = (mv.sum((-1, -2)) - T * V)
    n0 = (M[..., 0] - (mv**2).sum(-1) / M[..., 0]).sum(-1) / dfb
    msb, msw = ssb / dfb, ssw / dfw
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (msb - msw) / (msb + (n0 - 1) * msw)
    return np.clip(np.nan_to_num(r, nan=0.0), 0.0, 0.99)

def counts(sim):
    good, size = sim["good"], sim["size"]
    ws = sim["w"][..., None] * size
    sw, sw2, swy = ws.sum(-1), (ws**2).sum(-1), (ws * good).sum(-1)
    mv = sw**2 / sw2
    pv = np.clip(swy / sw, 0.0, 1.0)
    return mv * pv, mv

def run(icc, V, H, p0, sizes, unit, reps, seed, kinds=("orig", "obs", "ml", "loo")):
    frame = C.district_frame(sizes, seed=seed)
    rng = np.random.default_rng(seed)
    sim = C._draw(frame, p0, icc, V, H, unit == "person", reps, rng)
    yv, mv = counts(sim)
    R, T, _ = yv.shape
    y, m = yv.ravel(), mv.ravel()
    g = np.repeat(np.arange(R * T), V); rep = np.repeat(np.arange(R), T)
    df = T * V - T
    crit = stats.t.ppf(0.975, df)
    truth = sim["truth"].ravel()
    print(f"cell icc={icc} V={V} H={H} p0={p0} {sizes} {unit} reps={reps} seed={seed}")
    for kind in kinds + ("true",):
        t0 = time.time()
        if kind == "true":
            rg = np.full(R * T, icc); rr = np.full(R, icc)
        elif kind == "loo":
            # each town's rho from the other towns of its district
            yy, mm = yv, mv
            keep = ~np.eye(T, dtype=bool)  # (h, t): t kept when testing h
            # wrong shape use; rebuild properly below
            Y2 = np.stack([yy[:, keep[h]] for h in range(T)], 1)  # (R, T, T-1, V)
            M2 = np.stack([mm[:, keep[h]] for h in range(T)], 1)
            n = R * T
            g2 = np.repeat(np.arange(n * (T - 1)), V)
            rep2 = np.repeat(np.arange(n), T - 1)
            rg = fit("orig", Y2.ravel(), M2.ravel(), g2, rep2, n)
            rr = rg
        elif kind == "mom":
            rr = anova_rho(yv, mv); rg = rr[rep]
        else:
            rr = fit(kind, y, m, g, rep, R); rg = rr[rep]
        z, _ = TT.town_lr_batch(y, m, g, R * T, rg, np.full(R * T, p0))
        lo, hi, _ = TT.town_bounds_batch(y, m, g, R * T, rg, crit)
        size = np.mean(stats.t.cdf(z, df) < .05)
        se = np.sqrt(size * (1 - size) / (R * T))
        cov = np.mean((lo <= truth) & (truth <= hi))
        print(f"  {kind:5s} rho mean {np.mean(rr):.3f} size {100*size:.2f} (SE {100*se:.2f}) cov {100*cov:.1f} "
              f"up<truth {100*np.mean(hi < truth):.2f} lo>truth {100*np.mean(lo > truth):.2f} width {np.mean(hi-lo):.4f}  [{time.time()-t0:.1f}s]")
        if kind == "orig":  # size by quartile of the district's ρ̂
            rej = (stats.t.cdf(z, df) < .05).reshape(R, T)
            q = np.quantile(rr, [0, .25, .5, .75, 1])
            print("        size by quartile of rho_hat:", " / ".join(
                f"{100 * rej[(rr >= a) & (rr <= b)].mean():.1f}" for a, b in zip(q[:-1], q[1:])))

def _main_variants():
    a = sys.argv[1:]
    kinds = tuple(a[8].split(",")) if len(a) > 8 else ("orig", "obs", "ml", "loo")
    run(float(a[0]), int(a[1]), int(a[2]), float(a[3]), a[4], a[5], int(a[6]), int(a[7]), kinds)


# %% the full profile likelihood ratio (ρ re-maximised under H0)
def make_crit(fixed, p_fixed):
    def _criterion(y, m, g, n_groups, rep_of_group, n_reps, rho_rep, start=None):
        rho_g, s_g = _shapes(rho_rep, rep_of_group)
        p, ll = TT._profile(y, m, g, n_groups, s_g, start=start)
        p = np.where(fixed, p_fixed, p)
        llf = np.bincount(g, weights=TT._loglik(y, m, p[g], s_g[g]), minlength=n_groups)
        ll = np.where(fixed, llf, ll)
        info = np.bincount(g, weights=m / (1.0 + (m - 1.0) * rho_g[g]), minlength=n_groups)
        inside = (info > 0) & (((p > 0) & (p < 1)) | fixed)
        adj = np.where(inside, -0.5 * np.log(np.where(inside, info, 1.0)), 0.0)
        return np.bincount(rep_of_group, weights=ll + adj, minlength=n_reps), p
    return _criterion

def maxcrit(y, m, g, rep, n, fixed, p_fixed):
    """max over rho of the criterion; returns (value, rho)"""
    orig = TT._criterion
    TT._criterion = make_crit(fixed, p_fixed)
    try:
        rho = TT.fit_rho_batch(y, m, g, rep, n)
        val, _ = TT._criterion(y, m, g, fixed.size, rep, n, rho)
    finally:
        TT._criterion = orig
    return val, rho

def run_profile(icc, V, H, p0, sizes, unit, reps, seed):
    frame = C.district_frame(sizes, seed=seed)
    rng = np.random.default_rng(seed)
    sim = C._draw(frame, p0, icc, V, H, unit == "person", reps, rng)
    yv, mv = counts(sim)
    R, T, _ = yv.shape
    t0 = time.time()
    # unconstrained
    y, m = yv.ravel(), mv.ravel()
    g = np.repeat(np.arange(R * T), V); rep = np.repeat(np.arange(R), T)
    nofix = np.zeros(R * T, bool)
    v1, rho1 = maxcrit(y, m, g, rep, R, nofix, 0.0)
    # one copy of each district per tested town
    Y = np.repeat(yv[:, None], T, 1)  # (R, T(copy), T, V)
    M = np.repeat(mv[:, None], T, 1)
    n = R * T
    g2 = np.repeat(np.arange(n * T), V); rep2 = np.repeat(np.arange(n), T)
    fixed = np.tile(np.eye(T, dtype=bool)[None], (R, 1, 1)).ravel()
    v0, rho0 = maxcrit(Y.ravel(), M.ravel(), g2, rep2, n, fixed, p0)
    # signed root, using the unconstrained town ML mean at rho1 for the sign
    z1, phat = TT.town_lr_batch(y, m, g, R * T, rho1[rep], np.full(R * T, p0))
    lr = np.maximum(2 * (np.repeat(v1, T) - v0), 0)
    r = np.sign(phat - p0) * np.sqrt(lr)
    df = T * V - T
    s_fixed = np.mean(stats.t.cdf(z1, df) < .05)
    s_prof = np.mean(stats.t.cdf(r, df) < .05)
    s_prof_n = np.mean(stats.norm.cdf(r) < .05)
    print(f"cell icc={icc} V={V} H={H} p0={p0} {sizes} {unit} reps={reps} seed={seed} [{time.time()-t0:.1f}s]")
    print(f"  rho1 mean {rho1.mean():.3f}  rho0 (under H0) mean {rho0.mean():.3f}")
    print(f"  size fixed-rho {100*s_fixed:.2f}  profile-rho t {100*s_prof:.2f} normal {100*s_prof_n:.2f}")

def _main_profile():
    a = sys.argv[2:]
    run_profile(float(a[0]), int(a[1]), int(a[2]), float(a[3]), a[4], a[5], int(a[6]), int(a[7]))


if __name__ == "__main__":
    if sys.argv[1] == "profile":
        _main_profile()
    else:
        _main_variants()
