"""Design-based variances of linearised estimators: Taylor (R ``svyrecvar``'s formulas) and JKn.

Input is the matrix ``z`` of *weighted* influence values (one column per estimate, one row per unit
of the design; rows outside a domain are zero). The first stage gives, per stratum h with n_h PSUs
and PSU totals t_hi, ``(1 − f_h) · n_h/(n_h − 1) · Σ_i (t_hi − t̄_h)²``; with a second-stage FPC the
within-PSU term ``f_h · (1 − f_2i) · m_i/(m_i − 1) · Σ_k (t_ik − t̄_i)²`` is added for every PSU
(Bellhouse's recursion, as R ``survey`` does). Lonely PSUs follow ``design.lonely_psu``.
"""

from __future__ import annotations

import numpy as np

from ..design import SurveyDesign

__all__ = ["jackknife_variance", "taylor_variance"]


def _group_sum(codes: np.ndarray, z: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size, z.shape[1]))
    np.add.at(out, codes, z)
    return out


def taylor_variance(design: SurveyDesign, z: np.ndarray) -> np.ndarray:
    """Linearisation variances of the columns of ``z`` (weighted influence values)."""
    z = np.asarray(z, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    t1 = _group_sum(design.psu_code, z, design.n_psu)
    per_stratum = _stage_per_group(t1, design.psu_stratum, design.n_strata,
                                   design.n_psu_in_stratum, design.f1, design.lonely_psu)
    v = per_stratum.sum(axis=0)
    if design.f2 is not None:
        n_ssu = int(design.ssu_psu.size)
        t2 = _group_sum(design.ssu_code, z, n_ssu)
        # the second-stage term of each PSU, weighted by the first-stage sampling fraction
        frac1 = (1.0 - design.f1)[design.psu_stratum]
        v2 = _stage_per_group(t2, design.ssu_psu, design.n_psu, design.n_ssu_in_psu, design.f2,
                              design.lonely_psu)
        v = v + (v2 * frac1[:, None]).sum(axis=0)
    return v


def _stage_per_group(totals: np.ndarray, group: np.ndarray, n_groups: int,
                     n_in_group: np.ndarray, one_minus_f: np.ndarray, lonely: str) -> np.ndarray:
    """Per-group variance contributions (groups × k) of one stage."""
    sums = _group_sum(group, totals, n_groups)
    n_g = n_in_group.astype(float)
    means = sums / np.maximum(n_g, 1)[:, None]
    many = n_g > 1
    scale = np.where(many, one_minus_f * n_g / np.maximum(n_g - 1, 1), one_minus_f)
    scale = np.where(one_minus_f < 1e-7, 0.0, scale)
    dev = totals - np.where(many[group][:, None], means[group], 0.0)
    out = _group_sum(group, dev**2, n_groups) * scale[:, None]
    lonely_groups = (~many) & (one_minus_f >= 1e-7)
    # "adjust": a lonely unit's total deviates from the overall mean of the influence values,
    # which is zero, so its uncentred square (computed above) is kept
    if lonely_groups.any() and lonely != "adjust":
        if lonely == "average" and (~lonely_groups).any():
            # R: the other groups' sum scaled by (all groups)/(groups with a variance)
            ok = ~lonely_groups
            out[lonely_groups] = 0.0
            out *= n_groups / int(ok.sum())
        else:
            out[lonely_groups] = 0.0
    return out


def jackknife_variance(design: SurveyDesign, numerator: np.ndarray,
                       denominator: np.ndarray | None) -> np.ndarray:
    """Delete-one-PSU jackknife (JKn) variance of ratios ``Σ numerator / Σ denominator``.

    ``numerator``/``denominator`` are weighted values (rows × k); ``denominator=None`` gives
    totals. The replicate dropping PSU j of stratum h reweights the other PSUs of h by
    ``n_h/(n_h − 1)``; ``v = Σ_h (1 − f_h)(n_h − 1)/n_h Σ_j (θ_(hj) − θ̄)²`` with θ̄ the mean of
    all replicates, as R ``survey`` computes it by default (``survey.replicates.mse = FALSE``).
    Strata with one PSU give no replicate and contribute nothing.
    """
    num = np.asarray(numerator, dtype=float)
    num = num[:, None] if num.ndim == 1 else num
    tn = _group_sum(design.psu_code, num, design.n_psu)
    sn = _group_sum(design.psu_stratum, tn, design.n_strata)
    total_n = sn.sum(axis=0)
    h = design.psu_stratum
    n_h = design.n_psu_in_stratum.astype(float)[h]
    ok = n_h > 1
    factor = np.where(ok, n_h / np.maximum(n_h - 1, 1), 1.0)[:, None]
    rep_n = total_n - sn[h] + factor * (sn[h] - tn)
    if denominator is None:
        theta, rep = total_n, rep_n
    else:
        den = np.asarray(denominator, dtype=float)
        den = den[:, None] if den.ndim == 1 else den
        td = _group_sum(design.psu_code, den, design.n_psu)
        sd = _group_sum(design.psu_stratum, td, design.n_strata)
        total_d = sd.sum(axis=0)
        rep_d = total_d - sd[h] + factor * (sd[h] - td)
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = total_n / total_d
            rep = np.where(rep_d != 0, rep_n / np.where(rep_d != 0, rep_d, 1.0), theta)
    scale = np.where(ok, design.f1[h] * (n_h - 1) / n_h, 0.0)[:, None]
    if not ok.any():
        return np.zeros(rep.shape[1])
    centre = rep[ok].mean(axis=0)
    return (scale * (rep - centre) ** 2).sum(axis=0)
