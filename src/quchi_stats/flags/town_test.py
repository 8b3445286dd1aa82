"""第七条（四） decision: is a town's rate below its standard? The calibrated beta-binomial test.

Each town's villages give effective counts ``(y_v, m_v)`` (:func:`village_counts`: weighted by
persons for 错退率/漏评率/识别准确率, by households for 群众认可度), modelled as beta-binomial with the
town's mean ``p_h`` and **one intra-village correlation ρ for the whole district** (per indicator),
fitted by Cox–Reid adjusted profile likelihood from all towns together. A town's test of
H0: ``p_h ≥ p0`` is the signed root of its profile likelihood ratio at ρ̂,

    r(p0) = sign(p̂_h − p0) · √(2 (ℓ_h(p̂_h) − ℓ_h(p0))),

referred to Student's t with the district's village degrees of freedom ``df = villages − towns``
(the ρ of the variance is estimated from that many village contrasts; with ρ known the reference
would be the normal). The interval is the set of ``p`` the two-sided test does not reject,

    {p : |r(p)| ≤ t_{df, (1 + level)/2}},

so a town is flagged at one-sided level α exactly when the upper bound of the ``1 − 2α`` interval
lies below ``p0``. The interval is never undefined: ``p̂ = 1`` gives an upper bound of 1 and a lower
bound from the likelihood; a town with one village borrows ρ from the district, and its interval is
wider than that of the same households spread over two villages.

References: Williams (1982) Appl. Stat. 31:144–148; Cox & Reid (1987) JRSS B 49:1–39; Tarone
(1979) Biometrika 66:585–590; Brown, Cai & DasGupta (2001) Stat. Sci. 16:101–133 (why likelihood
intervals of proportions behave near 0 and 1). The size, power and coverage of this test on the
grid of the calibration issue are in ``notebooks/methods/test_calibration.ipynb`` and
``docs/flags.md``.

Everything here works on many replicate districts at once (the ``rep`` code of each town), so the
design simulations (:mod:`quchi_stats.simulate.power`) run the very functions the report runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from ..errors import ParameterError, check_choice, check_probability
from .betabinomial import RHO_MAX, ConvergenceError, _codes

__all__ = [
    "TEST_METHODS",
    "TownTestResult",
    "anova_rho_batch",
    "fit_rho_batch",
    "mid_p_tail",
    "rho_batch",
    "town_bounds_batch",
    "town_lr_batch",
    "town_pvalue_batch",
    "town_test",
]

#: The model-based town tests (the spec's ``test_method`` values other than ``"design"``):
#: ``"beta-binomial"`` (ρ by Cox–Reid adjusted ML) and ``"beta-binomial-adjusted"`` (ρ by the
#: pooled one-way ANOVA estimator, mid-p bounds at a town whose every village is full or empty).
TEST_METHODS = ("beta-binomial", "beta-binomial-adjusted")

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_S_BINOMIAL = 1e5  # precision (1 − ρ)/ρ above which the binomial form is used (ρ < 1e-5:
# the variance factor 1 + (m − 1)ρ differs from 1 by < 1e-3; digamma differences lose precision)


def _loglik(y: np.ndarray, m: np.ndarray, p: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Beta-binomial log-likelihood (no binomial coefficient) of each count with mean ``p`` and
    precision ``s = (1 − ρ)/ρ`` (arrays of the counts' shape); the binomial where ``s`` is huge.

    ``log Γ(a + x) − log Γ(a)`` is evaluated directly (gammaln differences are exact enough for
    ``a`` < 1e7 in double precision here, as in :mod:`.betabinomial`), zero where ``x = 0`` and
    −inf where ``a = 0 < x``.
    """
    r = np.maximum(m - y, 0.0)
    p = np.clip(p, 0.0, 1.0)
    binom = s >= _S_BINOMIAL
    out = np.empty(y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if binom.any():
            out[binom] = (special.xlogy(y[binom], p[binom])
                          + special.xlog1py(r[binom], -p[binom]))
        bb = ~binom
        if bb.any():
            sb, pb, yb, rb, mb = s[bb], p[bb], y[bb], r[bb], m[bb]
            a, b = pb * sb, (1.0 - pb) * sb
            la = np.where(yb > 0, np.where(a > 0, special.gammaln(a + yb) - special.gammaln(
                np.where(a > 0, a, 1.0)), -np.inf), 0.0)
            lb = np.where(rb > 0, np.where(b > 0, special.gammaln(b + rb) - special.gammaln(
                np.where(b > 0, b, 1.0)), -np.inf), 0.0)
            out[bb] = la + lb - (special.gammaln(sb + mb) - special.gammaln(sb))
    return out


def _profile(y, m, g, n_groups, s_group, iters: int = 80,
             start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each group's ML mean given its precision ``s_group`` (n_groups,), and the group
    log-likelihoods. Vectorised bisection-safeguarded Newton on the score (expected information,
    then the secant slope), started at the quasi-likelihood mean or a warm start; groups whose
    counts are all 0 (all ``m``) have their ML at 0 (1)."""
    s_v = s_group[g]
    rho_v = 1.0 / (1.0 + s_v)
    c = 1.0 + (m - 1.0) * rho_v
    num = np.bincount(g, weights=y / c, minlength=n_groups)
    den = np.bincount(g, weights=m / c, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.clip(np.where(den > 0, num / den, 0.5), 0.0, 1.0)
    active = (p > 0) & (p < 1) & (s_group < _S_BINOMIAL) & (den > 0)
    if start is not None:  # a warm start (the means at a nearby ρ) where it is inside (0, 1)
        p = np.where(active & (start > 0) & (start < 1), start, p)
    if active.any():
        lo, hi = np.zeros(n_groups), np.ones(n_groups)
        r = m - y
        s_fin = np.where(np.isfinite(s_v), s_v, 1.0)  # groups not iterated: any finite value
        prev = None
        for _ in range(iters):
            pa = np.where(active, p, 0.5)
            a = pa[g] * s_fin
            b = s_fin - a
            d1 = np.bincount(g, weights=s_fin * (special.digamma(a + y) - special.digamma(a)
                                                - special.digamma(b + r) + special.digamma(b)),
                             minlength=n_groups)
            # quasi-likelihood (expected) information; once two points are known, the secant
            # slope of the score (polygamma(1, ·) costs four times the digamma)
            d2 = -den / (pa * (1.0 - pa))
            if prev is not None:
                dp = pa - prev[0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    sec = np.where(dp != 0, (d1 - prev[1]) / np.where(dp != 0, dp, 1.0), 0.0)
                d2 = np.where(sec < 0, sec, d2)
            prev = (pa, d1)
            lo = np.where(active & (d1 > 0), pa, lo)
            hi = np.where(active & (d1 < 0), pa, hi)
            with np.errstate(invalid="ignore", divide="ignore"):
                new = pa - d1 / np.where(d2 < 0, d2, -1.0)
            bad = ~(d2 < 0) | ~(new >= lo) | ~(new <= hi)
            new = np.where(bad, (lo + hi) / 2, new)
            with np.errstate(invalid="ignore", divide="ignore"):
                tiny = np.abs(d1 / np.where(d2 < 0, d2, -1.0)) < 1e-9
            new = np.where(tiny, pa, new)
            still = active & ~tiny & (np.abs(new - pa) > 1e-10) & (hi - lo > 1e-8)
            p = np.where(active, new, p)
            active = still
            if not active.any():
                break
        else:
            raise ConvergenceError(f"beta-二项模型拟合未收敛：{int(active.sum())} 个镇的均值迭代 "
                                   f"{iters} 次未收敛")
    ll = np.bincount(g, weights=_loglik(y, m, p[g], s_v), minlength=n_groups)
    return p, ll


def _criterion(y, m, g, n_groups, rep_of_group, n_reps, rho_rep, start=None):
    """Cox–Reid adjusted profile log-likelihood of each replicate's ρ (n_reps,), and the
    towns' ML means."""
    rho_g = rho_rep[rep_of_group]
    rho_g = np.where(rho_g < 1.0 / (1.0 + _S_BINOMIAL), 0.0, rho_g)  # the binomial, consistently
    with np.errstate(divide="ignore"):
        s_g = np.where(rho_g > 0, (1.0 - rho_g) / np.maximum(rho_g, 1e-300), np.inf)
    p, ll = _profile(y, m, g, n_groups, s_g, start=start)
    info = np.bincount(g, weights=m / (1.0 + (m - 1.0) * rho_g[g]), minlength=n_groups)
    inside = (p > 0) & (p < 1) & (info > 0)
    adj = np.where(inside, -0.5 * np.log(np.where(inside, info, 1.0)), 0.0)
    return np.bincount(rep_of_group, weights=ll + adj, minlength=n_reps), p


def fit_rho_batch(y: np.ndarray, m: np.ndarray, g: np.ndarray, rep_of_group: np.ndarray,
                  n_reps: int, *, iters: int = 32) -> np.ndarray:
    """The district intra-village correlation of each replicate: maximiser over [0, RHO_MAX] of
    the Cox–Reid adjusted profile likelihood (towns' means profiled out), by golden-section search
    run on all replicates at once (``iters`` = 32 narrows the bracket below 3e-7), with the bound
    0 itself compared at the end.

    ``g`` is the group (replicate × town) of each village, ``rep_of_group`` the replicate of each
    group. Returns (n_reps,) values.
    """
    n_groups = int(rep_of_group.size)
    lo, hi = np.zeros(n_reps), np.full(n_reps, RHO_MAX)
    x1 = hi - _GOLDEN * (hi - lo)
    x2 = lo + _GOLDEN * (hi - lo)
    f1, means = _criterion(y, m, g, n_groups, rep_of_group, n_reps, x1)
    f2, means = _criterion(y, m, g, n_groups, rep_of_group, n_reps, x2, means)
    for _ in range(iters):
        left = f1 >= f2  # the maximum is in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        nx1 = np.where(left, hi - _GOLDEN * (hi - lo), x2)
        nx2 = np.where(left, x1, lo + _GOLDEN * (hi - lo))
        x = np.where(left, nx1, nx2)
        fx, means = _criterion(y, m, g, n_groups, rep_of_group, n_reps, x, means)
        f1, f2 = np.where(left, fx, f2), np.where(left, f1, fx)
        x1, x2 = nx1, nx2
    rho = (lo + hi) / 2
    best = _criterion(y, m, g, n_groups, rep_of_group, n_reps, rho, means)[0]
    at0 = _criterion(y, m, g, n_groups, rep_of_group, n_reps, np.zeros(n_reps), means)[0]
    if not (np.all(np.isfinite(best)) and np.all(np.isfinite(at0))):
        raise ConvergenceError("beta-二项模型拟合未收敛：似然不是有限值")
    # a likelihood gain below 1e-7 over ρ = 0 is numerical noise (the binomial form is used below
    # ρ = 1e-5): the estimate is then exactly 0
    return np.where(at0 >= best - 1e-7, 0.0, rho)


def anova_rho_batch(y: np.ndarray, m: np.ndarray, g: np.ndarray, rep_of_group: np.ndarray,
                    n_reps: int) -> np.ndarray:
    """The district intra-village correlation of each replicate by the pooled one-way analysis of
    variance of villages within towns (Fleiss 1981, ch. 13; Donner 1986, Int. Stat. Rev.
    54:67–82; Ridout, Demétrio & Firth 1999, Biometrics 55:137–148), truncated to [0, RHO_MAX]:

        ρ̂ = (MSB − MSW) / (MSB + (n₀ − 1) MSW),
        MSB = Σ_h Σ_v m_v (p̂_v − p̂_h)² / Σ_h (V_h − 1),  MSW = Σ_h Σ_v m_v p̂_v (1 − p̂_v) / Σ_h Σ_v (m_v − 1),
        n₀ = Σ_h (M_h − Σ_v m_v² / M_h) / Σ_h (V_h − 1),

    with ``p̂_v = y_v/m_v`` and ``p̂_h = Σ y_v / M_h``. A ratio of unbiased mean squares: nearly
    unbiased whatever the shape of the village rates' distribution, where the Cox–Reid adjusted
    likelihood of :func:`fit_rho_batch` overshoots for rates near 1 and large villages (0.30 for a
    true 0.20 at p 0.98, 8 villages × 20 households; docs/flags.md). ``0`` when the district
    has no between-village contrast (every town one village) or no within-village variation.
    """
    n_groups = int(rep_of_group.size)
    M = np.bincount(g, weights=m, minlength=n_groups)
    Y = np.bincount(g, weights=y, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        pv = np.where(m > 0, y / m, 0.0)
        ph = np.where(M > 0, Y / np.where(M > 0, M, 1.0), 0.0)
    nv = np.bincount(g, minlength=n_groups)
    ssb = np.bincount(rep_of_group, weights=np.bincount(g, weights=m * (pv - ph[g]) ** 2,
                                                         minlength=n_groups), minlength=n_reps)
    ssw = np.bincount(g, weights=m * pv * (1.0 - pv), minlength=n_groups)
    ssw = np.bincount(rep_of_group, weights=ssw, minlength=n_reps)
    dfb = np.bincount(rep_of_group, weights=np.maximum(nv - 1, 0), minlength=n_reps)
    dfw = np.bincount(rep_of_group, weights=np.bincount(g, weights=m - 1.0, minlength=n_groups),
                      minlength=n_reps)
    with np.errstate(invalid="ignore", divide="ignore"):
        m2 = np.bincount(g, weights=m * m, minlength=n_groups)
        n0g = np.where(M > 0, M - m2 / np.where(M > 0, M, 1.0), 0.0)
        n0 = np.bincount(rep_of_group, weights=n0g, minlength=n_reps) / dfb
        msb, msw = ssb / dfb, ssw / dfw
        rho = (msb - msw) / (msb + (n0 - 1.0) * msw)
    ok = (dfb > 0) & (dfw > 0) & np.isfinite(rho)
    return np.clip(np.where(ok, rho, 0.0), 0.0, RHO_MAX)


def _precision(rho_group: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(rho_group > 0, (1.0 - rho_group) / np.maximum(rho_group, 1e-300), np.inf)


def town_lr_batch(y, m, g, n_groups, rho_group, p0_group) -> tuple[np.ndarray, np.ndarray]:
    """Signed root ``r(p0)`` of each group's profile likelihood ratio, and its ML mean."""
    s_g = _precision(rho_group)
    p_hat, l_hat = _profile(y, m, g, n_groups, s_g)
    l0 = np.bincount(g, weights=_loglik(y, m, p0_group[g], s_g[g]), minlength=n_groups)
    with np.errstate(invalid="ignore"):
        lr = np.maximum(2.0 * (l_hat - l0), 0.0)
    return np.sign(p_hat - p0_group) * np.sqrt(lr), p_hat


def town_bounds_batch(y, m, g, n_groups, rho_group, crit, *, iters: int = 42,
                      boundary_tail: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Likelihood-ratio bounds ``{p : 2 (ℓ(p̂) − ℓ(p)) ≤ crit²}`` of each group, by bisection on
    each side of the ML mean (the profile log-likelihood of ``p`` is unimodal). Returns (lower,
    upper, p̂); ``crit`` may be per group.

    With ``boundary_tail`` (the one-sided tail of the bound, ``(1 − level)/2``), a group whose
    every count is full (``p̂ = 1``) gets the mid-p lower bound ``{p : ½ P(all full | p, ρ) ≥
    boundary_tail}`` (``ℓ(p) ≥ log(2 · boundary_tail)``: ℓ(1) = 0 and ℓ is the log-probability of
    the counts), and one whose every count is empty the mid-p upper bound. The sampling
    distribution of the signed root has an atom there, and the likelihood-ratio bound, where
    ``P(all full) = exp(−crit²/2)`` ≈ 0.13, misses the truth far more often than
    ``boundary_tail`` (Brown, Cai & DasGupta 2001, §4.1, for the binomial); the exact bound
    (``P(all full) = boundary_tail``: Clopper–Pearson's at ρ = 0) is conservative, the mid-p one
    (Lancaster 1961; Berry & Armitage 1995) keeps the tail at ``boundary_tail`` on average."""
    s_g = _precision(rho_group)
    p_hat, l_hat = _profile(y, m, g, n_groups, s_g)
    half = np.broadcast_to(np.asarray(crit, float), (n_groups,)) ** 2 / 2.0
    cut = l_hat - half
    cuts = [cut, cut]  # lower side, upper side
    if boundary_tail is not None:
        midp = l_hat + np.log(2.0 * boundary_tail)
        cuts = [np.where(p_hat >= 1.0, midp, cut), np.where(p_hat <= 0.0, midp, cut)]

    def above(p, cut):  # is ℓ(p) ≥ cut, per group
        ll = np.bincount(g, weights=_loglik(y, m, p[g], s_g[g]), minlength=n_groups)
        return ll >= cut

    bounds = []
    for side, cut in zip((0.0, 1.0), cuts, strict=True):
        inside, outside = p_hat.copy(), np.full(n_groups, side)
        done = above(outside, cut)  # the whole side is inside the interval
        for _ in range(iters):
            mid = (inside + outside) / 2
            ok = above(mid, cut)
            inside = np.where(ok, mid, inside)
            outside = np.where(ok, outside, mid)
        bounds.append(np.where(done, side, outside))
    return bounds[0], bounds[1], p_hat


def town_pvalue_batch(z: np.ndarray, p_hat: np.ndarray, df: float, *,
                      method: str = "beta-binomial") -> np.ndarray:
    """One-sided p-values of "below p0" from the signed roots ``z`` (:func:`town_lr_batch`):
    ``t_df(z)``; with ``method = "beta-binomial-adjusted"`` a town whose every count is empty
    (``p̂ = 0``) gets the mid-p ``½ P(all empty | p0, ρ) = ½ exp(−z²/2)`` instead, the test dual
    to the mid-p upper bound of :func:`town_bounds_batch` with ``boundary_tail = alpha``."""
    p = stats.t.cdf(z, df)
    if method == "beta-binomial-adjusted":
        p = np.where(p_hat <= 0.0, 0.5 * np.exp(-np.square(z) / 2.0), p)
    return p


def rho_batch(method: str, y, m, g, rep_of_group, n_reps) -> np.ndarray:
    """The district ρ of each replicate as ``method`` estimates it: :func:`anova_rho_batch` for
    ``"beta-binomial-adjusted"``, else :func:`fit_rho_batch`."""
    if method == "beta-binomial-adjusted":
        return anova_rho_batch(y, m, g, rep_of_group, n_reps)
    return fit_rho_batch(y, m, g, rep_of_group, n_reps)


def _district_rho(method: str, y, m, g, n_towns: int) -> float:
    """The ρ of one district (``n_towns`` groups ``g``) as ``method`` estimates it
    (:func:`rho_batch` with one replicate)."""
    return float(rho_batch(method, y, m, g, np.zeros(n_towns, np.intp), 1)[0])


@dataclass(frozen=True)
class TownTestResult:
    """Per town: the beta-binomial test of "below ``p0``" and the matching interval.

    Keeps the pieces (ML mean, signed root, ``rho``, ``df``) so :meth:`conf_int` can give any
    level late, as R's ``confint(level=)``.
    """

    table: pd.DataFrame
    rho: float
    df: int
    villages: pd.DataFrame
    method: str = "beta-binomial"

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Likelihood-ratio interval of each town at ``level`` (t quantile with ``df``; mid-p at
        a full or empty town with ``method = "beta-binomial-adjusted"``)."""
        level = check_probability("level", level, "TownTestResult.conf_int")
        y, m, g, towns = _codes(self.villages)
        k = len(towns)
        crit = stats.t.ppf((1 + level) / 2, self.df)
        lo, hi, _ = town_bounds_batch(y, m, g, k, np.full(k, self.rho), crit,
                                      boundary_tail=mid_p_tail(self.method, level))
        return pd.DataFrame({"town": towns, "ci_lower": lo, "ci_upper": hi})

    def to_frame(self) -> pd.DataFrame:
        """``town``, ``p_ml``, ``p0``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper``, ``n_icc``,
        ``villages``, ``rho``, ``df``."""
        return self.table.copy()


def mid_p_tail(method: str, level: float) -> float | None:
    """The one-sided tail of the mid-p bound at a full/empty town (``boundary_tail`` of
    :func:`town_bounds_batch`) for ``method`` at two-sided ``level``: ``(1 − level)/2`` for
    ``"beta-binomial-adjusted"``, None (the likelihood-ratio bound) otherwise."""
    return (1.0 - level) / 2.0 if method == "beta-binomial-adjusted" else None


def pooled_df(villages: pd.DataFrame) -> int:
    """Degrees of freedom of the district ρ: villages − towns (at least 1)."""
    return max(int(len(villages)) - int(villages["town"].nunique()), 1)


def town_test(villages: pd.DataFrame, p0: float, *, rho: float | None = None,
              level: float = 0.95, df: int | None = None,
              method: str = "beta-binomial") -> TownTestResult:
    """Test every town of ``villages`` against ``p0`` and give its interval at ``level``.

    Parameters
    ----------
    villages : DataFrame
        ``town``, ``y``, ``m`` per village (:func:`~quchi_stats.flags.village_counts`), all the
        towns of the district: ρ is borrowed from all of them.
    p0 : float
        The standard ("good" rate); small p-values say the town is below it.
    rho : float, optional
        The district intra-village correlation; default its estimate by ``method``.
    level : float
        Level of the two-sided interval.
    df : int, optional
        Degrees of freedom of the t reference; default villages − towns.
    method : {"beta-binomial", "beta-binomial-adjusted"}
        ``"beta-binomial"``: ρ by the Cox–Reid adjusted likelihood (:func:`fit_rho_batch`);
        ``"beta-binomial-adjusted"``: ρ by the pooled ANOVA estimator (:func:`anova_rho_batch`)
        and mid-p bounds (and p-value) at a town whose every count is full (empty) — the
        small-sample correction of docs/flags.md ("Calibration of the town test").

    Examples
    --------
    >>> v = pd.DataFrame({"town": ["甲"] * 3 + ["乙"] * 3, "y": [7, 8, 6, 10, 10, 9],
    ...                   "m": [10] * 6})
    >>> t = town_test(v, 0.9, rho=0.05).to_frame().set_index("town")
    >>> bool(t.loc["甲", "p_value"] < 0.05 < t.loc["乙", "p_value"])
    True
    >>> bool(t.loc["乙", "ci_lower"] < 29 / 30 < t.loc["乙", "ci_upper"] <= 1)
    True
    """
    p0 = check_probability("p0", p0, "town_test")
    level = check_probability("level", level, "town_test")
    method = check_choice("method", method, TEST_METHODS, "town_test")
    y, m, g, towns = _codes(villages)
    k = len(towns)
    if rho is None:
        rho = _district_rho(method, y, m, g, k)
    if not 0 <= rho <= RHO_MAX:
        raise ParameterError(f"The 'rho' parameter of town_test must be in [0, {RHO_MAX}]. "
                             f"Got {rho}.")
    df = pooled_df(villages) if df is None else int(df)
    if df < 1:
        raise ParameterError(f"The 'df' parameter of town_test must be >= 1. Got {df}.")
    rho_g = np.full(k, float(rho))
    z, p_ml = town_lr_batch(y, m, g, k, rho_g, np.full(k, p0))
    crit = stats.t.ppf((1 + level) / 2, df)
    lo, hi, _ = town_bounds_batch(y, m, g, k, rho_g, crit, boundary_tail=mid_p_tail(method, level))
    n_villages = np.bincount(g, minlength=k)
    n_icc = np.bincount(g, weights=m / (1.0 + (m - 1.0) * rho), minlength=k)
    table = pd.DataFrame({"town": towns, "p_ml": p_ml, "p0": p0, "z": z,
                          "p_value": town_pvalue_batch(z, p_ml, df, method=method),
                          "ci_lower": lo, "ci_upper": hi,
                          "n_icc": n_icc, "villages": n_villages, "rho": float(rho),
                          "df": df})
    return TownTestResult(table, float(rho), df, villages, method)
