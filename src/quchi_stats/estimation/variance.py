"""Design-based variances of linearised estimators: Taylor (R ``svyrecvar``'s formulas) and JKn.

The Taylor variance works on *cells*: the (PSU, domain) pairs of the sample, each holding the total
of the weighted influence values of its rows. The first stage gives, per stratum h with n_h PSUs
and PSU totals t_hi of a domain, ``(1 − f_h) · n_h/(n_h − 1) · Σ_i (t_hi − t̄_h)²`` — PSUs of the
stratum with no row in the domain count with a zero total, so every domain keeps the whole design
(R ``svyby``). With a second-stage FPC the within-PSU term ``f_h · (1 − f_2i) · m_i/(m_i − 1) ·
Σ_k (t_ik − t̄_i)²`` is added for every PSU (Bellhouse's recursion, as R ``survey`` does). Lonely
PSUs follow ``design.lonely_psu``.

Cells are a dense PSU × domain grid when it is small and the occupied pairs only otherwise, so the
cost is a few ``bincount`` passes over the rows whatever the number of domains (a national register
has tens of thousands of towns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..design import SurveyDesign

__all__ = ["Cells", "cells_of", "jackknife_variance", "taylor_variance", "taylor_variance_cells"]

#: Largest unit × domain grid kept dense (above it only the occupied cells are kept).
_DENSE_CELLS = 1 << 22


@dataclass(frozen=True)
class Cells:
    """The (unit, domain) cells of a sample: ``unit`` and ``dom`` of each cell, ``k`` domains,
    and the cell of each row (``row_cell``; None when the cells were built from totals)."""

    unit: np.ndarray
    dom: np.ndarray
    k: int
    row_cell: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.unit.size)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-cell sums of a row-level array."""
        return np.bincount(self.row_cell, weights=values, minlength=self.size)

    def to_domains(self, values: np.ndarray) -> np.ndarray:
        """Per-domain sums of a cell-level array."""
        return np.bincount(self.dom, weights=values, minlength=self.k)


def _grid(units: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(units), k), np.tile(np.arange(k), units)


def cells_of(unit_code: np.ndarray, n_units: int, dom: np.ndarray, k: int) -> Cells:
    """The cells of rows with unit codes ``unit_code`` (< ``n_units``) and domain codes ``dom``."""
    key = unit_code.astype(np.int64, copy=False) * k + dom
    if n_units * k <= _DENSE_CELLS:
        unit, d = _grid(n_units, k)
        return Cells(unit, d, k, key)
    uniq, inv = np.unique(key, return_inverse=True)
    return Cells(uniq // k, uniq % k, k, inv.astype(np.intp))


def _dense_cells(units: int, k: int) -> Cells:
    unit, d = _grid(units, k)
    return Cells(unit, d, k)


def _stage(cells: Cells, z: np.ndarray, unit_group: np.ndarray, n_groups: int,
           n_in_group: np.ndarray, one_minus_f: np.ndarray, lonely: str,
           present: np.ndarray | None = None,
           domain_lonely: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (group, domain) variance contributions of one stage: (group, dom, contribution).

    ``z`` holds the cell totals; units of a group without a cell in a domain have a zero total.
    ``present`` (one flag per cell: the unit has rows of the domain with a value) makes the
    lonely-PSU rules work per domain as R's ``svyby`` does: "average" scales by the groups present
    in the domain over those of them with a variance, and with ``domain_lonely`` a group with a
    single unit present in the domain is lonely for that domain
    (``survey.adjust.domain.lonely``). Without it every group counts in every domain.
    """
    k = cells.k
    group = unit_group[cells.unit]
    if n_groups * k <= _DENSE_CELLS:
        g_of_cell = group.astype(np.int64) * k + cells.dom
        gg, gd = _grid(n_groups, k)
    else:
        uniq, g_of_cell = np.unique(group.astype(np.int64) * k + cells.dom, return_inverse=True)
        gg, gd = uniq // k, uniq % k
    size = gg.size
    n_g = n_in_group.astype(float)[gg]
    many = n_g > 1
    s = np.bincount(g_of_cell, weights=z, minlength=size)
    present_cells = np.bincount(g_of_cell, minlength=size)
    mean = np.where(many, s / np.maximum(n_g, 1), 0.0)
    dev2 = (np.bincount(g_of_cell, weights=(z - mean[g_of_cell]) ** 2, minlength=size)
            + np.maximum(n_g - present_cells, 0) * mean**2)
    omf = one_minus_f[gg]
    scale = np.where(many, omf * n_g / np.maximum(n_g - 1, 1), omf)
    scale = np.where(omf < 1e-7, 0.0, scale)
    out = dev2 * scale
    lonely_groups = (n_in_group <= 1) & (one_minus_f >= 1e-7)
    lone = lonely_groups[gg]
    in_domain = np.ones(size, dtype=bool)
    if present is not None:
        units_in = np.bincount(g_of_cell, weights=present.astype(float), minlength=size)
        in_domain = units_in > 0
        if domain_lonely and lonely in ("adjust", "average"):
            dom_lone = many & (units_in == 1) & (omf >= 1e-7)
            if lonely == "adjust":
                # the single PSU's uncentred square, scaled as the stratum's n_h/(n_h − 1)
                sq = np.bincount(g_of_cell, weights=z**2, minlength=size)
                out = np.where(dom_lone, sq * scale, out)
            else:
                lone = lone | dom_lone
    # "adjust": a lonely unit's total deviates from the overall mean of the influence values,
    # which is zero, so its uncentred square (computed above) is kept
    if lone.any() and lonely != "adjust":
        out = np.where(lone, 0.0, out)
        if lonely == "average" and present is None and (~lonely_groups).any():
            # the other groups' sum scaled by (all groups)/(groups with a variance)
            out = out * (n_groups / int((~lonely_groups).sum()))
        elif lonely == "average" and present is not None:
            # R: scaled by (groups in the domain)/(those of them with a variance)
            groups_in = np.bincount(gd, weights=in_domain, minlength=k)
            ok_in = np.bincount(gd, weights=in_domain & ~lone, minlength=k)
            factor = np.where(ok_in > 0, groups_in / np.maximum(ok_in, 1), 1.0)
            out = out * factor[gd]
    return gg, gd, out


def taylor_variance_cells(design: SurveyDesign, psu_cells: Cells, z1: np.ndarray,
                          ssu_cells: Cells | None = None, z2: np.ndarray | None = None,
                          present: np.ndarray | None = None) -> np.ndarray:
    """Linearisation variance of each domain from its (PSU, domain) influence totals ``z1`` and,
    for a design with a second-stage FPC, its (SSU, domain) totals ``z2``. ``present`` flags the
    (PSU, domain) cells with rows of the domain (for the per-domain lonely-PSU rules)."""
    k = psu_cells.k
    _, gd, out = _stage(psu_cells, z1, design.psu_stratum, design.n_strata,
                        design.n_psu_in_stratum, design.f1, design.lonely_psu, present,
                        design.adjust_domain_lonely)
    v = np.bincount(gd, weights=out, minlength=k)
    if design.f2 is not None and ssu_cells is not None and z2 is not None:
        gg, gd, out = _stage(ssu_cells, z2, design.ssu_psu, design.n_psu, design.n_ssu_in_psu,
                             design.f2, design.lonely_psu)
        # the second-stage term of each PSU, weighted by the first-stage sampling fraction
        frac1 = (1.0 - design.f1)[design.psu_stratum]
        v = v + np.bincount(gd, weights=out * frac1[gg], minlength=k)
    return v


def _group_sum(codes: np.ndarray, z: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size, z.shape[1]))
    np.add.at(out, codes, z)
    return out


def taylor_variance(design: SurveyDesign, z: np.ndarray) -> np.ndarray:
    """Linearisation variances of the columns of ``z`` (weighted influence values, one row per
    row of the design; rows outside a domain are zero)."""
    z = np.asarray(z, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    k = z.shape[1]
    t1 = _group_sum(design.psu_code, z, design.n_psu)
    ssu_cells = t2 = None
    if design.f2 is not None:
        n_ssu = int(design.ssu_psu.size)
        t2 = _group_sum(design.ssu_code, z, n_ssu).ravel()
        ssu_cells = _dense_cells(n_ssu, k)
    return taylor_variance_cells(design, _dense_cells(design.n_psu, k), t1.ravel(), ssu_cells, t2)


def jackknife_variance(design: SurveyDesign, numerator: np.ndarray,
                       denominator: np.ndarray | None) -> np.ndarray:
    """Delete-one-PSU jackknife (JKn) variance of ratios ``Σ numerator / Σ denominator``.

    ``numerator``/``denominator`` are weighted values (rows × k); ``denominator=None`` gives
    totals. See :func:`jackknife_variance_totals`.
    """
    num = np.asarray(numerator, dtype=float)
    num = num[:, None] if num.ndim == 1 else num
    tn = _group_sum(design.psu_code, num, design.n_psu)
    td = None
    if denominator is not None:
        den = np.asarray(denominator, dtype=float)
        den = den[:, None] if den.ndim == 1 else den
        td = _group_sum(design.psu_code, den, design.n_psu)
    return jackknife_variance_totals(design, tn, td)


def jackknife_variance_totals(design: SurveyDesign, tn: np.ndarray,
                              td: np.ndarray | None) -> np.ndarray:
    """JKn variance from PSU totals (PSUs × k) of the numerator and the denominator.

    The replicate dropping PSU j of stratum h reweights the other PSUs of h by
    ``n_h/(n_h − 1)``; ``v = Σ_h (1 − f_h)(n_h − 1)/n_h Σ_j (θ_(hj) − θ̄)²`` with θ̄ the mean of
    all replicates, as R ``survey`` computes it by default (``survey.replicates.mse = FALSE``).
    A stratum with one PSU gives no replicate; ``design.lonely_psu`` then says what it adds:
    nothing ("remove", "certainty"); "average" multiplies the variance by (all PSUs)/(PSUs of
    strata with a replicate), as R's ``as.svrepdesign(type="JKn")`` does; "adjust" gives the
    lonely PSU a replicate that drops it and reweights every other PSU by H/(H − 1) (H strata),
    with the factor (H − 1)/H, equal to R 4.1.1's JKn replicates (see docs/estimation.md).
    """
    sn = _group_sum(design.psu_stratum, tn, design.n_strata)
    total_n = sn.sum(axis=0)
    h = design.psu_stratum
    n_h = design.n_psu_in_stratum.astype(float)[h]
    ok = n_h > 1
    factor = np.where(ok, n_h / np.maximum(n_h - 1, 1), 1.0)[:, None]
    rep_n = total_n - sn[h] + factor * (sn[h] - tn)
    n_strata = design.n_strata
    adjust = design.lonely_psu == "adjust" and (~ok).any() and n_strata > 1
    if adjust:
        # the lonely PSU's replicate: itself dropped, the rest of the sample × H/(H − 1)
        grow = n_strata / (n_strata - 1)
        rep_n = np.where(ok[:, None], rep_n, grow * (total_n - tn))
    if td is None:
        rep = rep_n
    else:
        sd = _group_sum(design.psu_stratum, td, design.n_strata)
        total_d = sd.sum(axis=0)
        rep_d = total_d - sd[h] + factor * (sd[h] - td)
        if adjust:
            rep_d = np.where(ok[:, None], rep_d, grow * (total_d - td))
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = total_n / total_d
            rep = np.where(rep_d != 0, rep_n / np.where(rep_d != 0, rep_d, 1.0), theta)
    scale = np.where(ok, design.f1[h] * (n_h - 1) / n_h, 0.0)
    used = ok.copy()
    if adjust:
        scale = np.where(ok, scale, design.f1[h] * (n_strata - 1) / n_strata)
        used[:] = True
    if not used.any():
        return np.zeros(rep.shape[1])
    centre = rep[used].mean(axis=0)
    v = (scale[:, None] * (rep - centre) ** 2).sum(axis=0)
    if design.lonely_psu == "average" and (~ok).any() and ok.any():
        v = v * (ok.size / int(ok.sum()))
    return v
