"""Design-based estimators: proportions, means, totals and ratios, overall and by domain.

Domains (``by=``) keep the full design: rows outside a domain contribute zero to the influence
values, so every PSU and stratum of the design stays in the variance (R ``svyby``); a domain's
degrees of freedom are the PSUs minus the strata it touches (its rows with a value or not, and a
positive weight, as R counts them). Rows with a missing ``by`` value are in no domain. ``n`` is
the number of rows of the domain with a value, ``deff`` the design variance over the variance of
simple random sampling without replacement of the same ``n`` (R's ``deff=TRUE``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..design import SurveyDesign, _codes, _first_rows
from ..errors import DataError, ParameterError, QuchiStatsWarning, check_choice, check_probability
from ..io.schema import YES_NO
from .intervals import CI_METHODS, effective_n, one_sided_pvalue, proportion_interval
from .results import RESULT_COLUMNS, EstimateResult
from .variance import Cells, cells_of, jackknife_variance_totals, taylor_variance_cells

__all__ = ["estimate_mean", "estimate_proportion", "estimate_ratio", "estimate_total"]

VARIANCES = ("taylor", "jackknife")


def _binary(design: SurveyDesign, column: str, func: str) -> np.ndarray:
    """0/1 as float, NaN where missing (an integer column as it is: it has no missing value);
    是/否, Y/N, booleans and 0/1 accepted."""
    s = design.column(column)
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        text = s.map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v))
                     else str(v).strip().lower())
        mapped = text.map(lambda v: YES_NO.get(v, "bad") if isinstance(v, str) else np.nan)
        bad = mapped.eq("bad")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"应为是/否（或 1/0），实际为“{s.iloc[i]}”", row=i + 2, column=column)
        return mapped.astype(float).to_numpy()
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        raw = s.to_numpy()
        if raw.size and (raw.min() < 0 or raw.max() > 1):  # two reductions when all are 0/1
            i = int(np.argmax((raw != 0) & (raw != 1)))
            raise DataError(f"{func} 需要 0/1 变量，实际为“{s.iloc[i]}”", row=i + 2, column=column)
        return raw  # integers: no missing values, and no pass to convert them
    values = pd.to_numeric(s.astype("Float64") if s.dtype == "boolean" else s, errors="coerce")
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isnan(arr) & (arr != 0) & (arr != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{func} 需要 0/1 变量，实际为“{s.iloc[i]}”", row=i + 2, column=column)
    return arr


def _numeric(design: SurveyDesign, column: str) -> np.ndarray:
    s = design.column(column)
    values = pd.to_numeric(s.astype("Float64") if s.dtype == "boolean" else s, errors="coerce")
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(arr) & s.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"应为数值，实际为“{s.iloc[i]}”", row=i + 2, column=column)
    return arr


def _domains(design: SurveyDesign, by: str | Sequence[str] | None
             ) -> tuple[list[str], dict[str, np.ndarray], np.ndarray | None, int,
                        np.ndarray | None]:
    """The by columns, the keys of each domain (one object array per column), each row's domain
    code, the number of domain codes and, when the domains are the strata, each PSU's domain
    (else None; the rows' codes are then None when they would need a pass to compute, see
    :func:`_ratio_core`): rows with a missing by value get one more code (after the keys'),
    dropped by :func:`_keep`, as R's ``svyby`` leaves them out of every domain (a counted
    warning)."""
    if by is None:
        return [], {}, np.zeros(design.n, dtype=np.intp), 1, None
    cols = [by] if isinstance(by, str) else list(by)
    na = None
    psu_dom = None
    town_of_key = None  # the town code of each key, when there are several by columns
    if cols == [design.strata]:
        # coded once when the design was bound: never missing, every label has rows
        labels = design.stratum_labels
        keys = {cols[0]: np.asarray(labels, dtype=object)}
        psu_dom = design.psu_stratum
        codes = None  # the rows' codes follow from the PSUs' when needed (see _ratio_core)
    else:
        # one factorisation per column, which also finds the missing values (code −1)
        parts = [_codes(design.column(c))[:2] for c in cols]
        na = parts[0][0] < 0
        for c, _ in parts[1:]:
            na = na | (c < 0)
        if na.all():
            raise DataError("分组列全部为空，没有可估计的分组", column=cols[0])
        if na.any():
            # R's svyby: rows without a domain are in no domain, but stay in the design
            warnings.warn(f"分组列“{'、'.join(cols)}”有 {int(na.sum())} 行为空：这些行不属于任何"
                          "分组（仍保留在抽样设计中，按 R survey 的 svyby 处理）", QuchiStatsWarning,
                          stacklevel=3)
        else:
            na = None
        if len(cols) == 1:
            # every label has a row (factorize returns the values present): −1 where missing
            codes, labels = parts[0]
            keys = {cols[0]: np.asarray(labels, dtype=object)}
        else:
            combined = np.zeros(design.n, dtype=np.int64)
            for c, u in parts:
                combined = combined * len(u) + c
            uniq, inv = np.unique(combined if na is None else combined[~na], return_inverse=True)
            if na is None:
                codes = inv
            else:
                codes = np.full(design.n, -1, dtype=np.intp)
                codes[~na] = inv
            columns, rest = [], uniq
            for _, u in reversed(parts):
                town_of_key = rest % len(u)  # the first column's codes, after the loop
                columns.append(np.asarray(u, dtype=object)[town_of_key])
                rest = rest // len(u)
            keys = dict(zip(cols, reversed(columns), strict=True))
    codes = None if codes is None else np.asarray(codes, dtype=np.intp)
    k = len(keys[cols[0]])
    if cols[0] == "town":
        # towns in order of first appearance in the data (a sample lists them in the year's
        # order), not sorted by name as the strata are: by the first row of each town's code
        # (the order of order_towns(design.column("town").dropna()), without a pass in Python)
        if psu_dom is not None:
            first = _first_rows(lambda a, b: psu_dom[design.psu_code[a:b]], design.n, k)
        else:
            town_codes, town_labels = parts[0]
            first = _first_rows(lambda a, b: town_codes[a:b], design.n, len(town_labels))
        if town_of_key is None:  # one by column: the keys are the towns
            perm = np.argsort(first, kind="stable")
        else:  # several: the towns' order, the keys' (sorted) order within a town
            perm = np.lexsort((np.arange(k), np.argsort(np.argsort(first, kind="stable"))[
                town_of_key]))
        if np.any(perm != np.arange(k)):
            remap = np.empty(k + 1, dtype=np.intp)
            remap[perm] = np.arange(k)
            remap[-1] = -1  # a missing value stays missing
            keys = {c: v[perm] for c, v in keys.items()}
            if psu_dom is None:
                codes = remap[codes]
            else:
                psu_dom = remap[psu_dom]
    if na is not None:
        # the rows without a domain form one more domain, computed and then dropped
        return cols, keys, np.where(na, k, codes), k + 1, None
    return cols, keys, codes, k, psu_dom


def _n_domains(keys: dict[str, np.ndarray]) -> int:
    """The number of domains of :func:`_domains`' keys (one without a by column)."""
    return len(next(iter(keys.values()))) if keys else 1


def _check_common(design: SurveyDesign, level: float, variance: str, func: str) -> None:
    if not isinstance(design, SurveyDesign):
        raise ParameterError(f"The 'design' parameter of {func} must be a SurveyDesign. "
                             f"Got {type(design).__name__}.")
    check_probability("level", level, func)
    check_choice("variance", variance, VARIANCES, func)


def _domain_df(design: SurveyDesign, cells: Cells, weight: np.ndarray) -> np.ndarray:
    """PSUs minus strata of each domain, counting the PSUs with a row in it (R ``svyby``):
    ``weight`` holds the cells' sums of weights over all the domain's rows, with a value or not
    (zero for an empty cell or one with zero weights only): R's ``degf`` of the domain."""
    used = weight > 0
    psus = np.bincount(cells.dom[used], minlength=cells.k)
    key = np.unique(design.psu_stratum[cells.unit[used]].astype(np.int64) * cells.k
                    + cells.dom[used])
    strata = np.bincount(key % cells.k, minlength=cells.k)
    return psus - strata


def _variance(design: SurveyDesign, variance: str, cells: Cells, z: np.ndarray,
              second: tuple[Cells, np.ndarray] | None, tn: np.ndarray,
              td: np.ndarray | None, present: np.ndarray | None = None) -> np.ndarray:
    if variance == "taylor":
        return taylor_variance_cells(design, cells, z, *(second or (None, None)),
                                     present=present)
    dense = np.zeros((design.n_psu, cells.k))
    num = dense.copy()
    num[cells.unit, cells.dom] = tn
    den = None
    if td is not None:
        den = dense
        den[cells.unit, cells.dom] = td
    return jackknife_variance_totals(design, num, den)


class _LazyRows:
    """A row-level array computed on first use (``lazy[:]``)."""

    def __init__(self, make) -> None:
        self._make, self._value = make, None

    def __getitem__(self, key):
        if self._value is None:
            self._value = self._make()
        return self._value[key]


def _ratio_core(design: SurveyDesign, y: np.ndarray, x: np.ndarray | None,
                dom: np.ndarray | None, k: int, variance: str, binary: bool = False,
                total: bool = False, psu_dom: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Ratio Σw·y / Σw·x per domain (rows with missing y or x are out of the domain).

    ``x=None`` means x = 1 (a mean); ``binary`` says y is 0/1, which saves a pass for the
    design effect's simple-random-sampling variance; ``total`` estimates Σw·y instead.
    ``psu_dom``: the domain of each PSU, when every PSU lies in one domain (domains by strata):
    the PSUs are then the cells, with no pass over the rows to find them, and ``dom`` (each
    row's domain) may be None: it is then derived from ``psu_dom`` if needed.
    """
    w = design.w
    if dom is None:
        dom = _LazyRows(lambda: psu_dom[design.psu_code])
    # a sum is NaN when a value is: one fast reduction when nothing is missing
    all_valid = ((y.dtype.kind != "f" or not np.isnan(np.sum(y)))
                 and (x is None or not np.isnan(np.sum(x))))
    if all_valid:
        valid = True
    else:
        valid = ~np.isnan(y) if x is None else ~np.isnan(y) & ~np.isnan(x)
        all_valid = bool(valid.all())
    yv = y if all_valid else np.where(valid, y, 0.0)
    wx = (w if all_valid else w * valid) if x is None else w * np.where(valid, x, 0.0)
    wy = w * yv
    cells = (cells_of(design.psu_code, design.n_psu, dom[:], k) if psu_dom is None
             else Cells(np.arange(design.n_psu), psu_dom, k, design.psu_code))
    ty, tx = cells.sum(wy), cells.sum(wx)
    Y, X = cells.to_domains(ty), cells.to_domains(tx)
    rows = (np.bincount(psu_dom, weights=design.n_rows_in_psu, minlength=k) if psu_dom is not None
            else None)  # the rows of each domain, from the PSUs' counts
    if all_valid:
        n = rows if rows is not None else np.bincount(dom[:], minlength=k).astype(float)
    else:
        n = np.bincount(dom[:][valid], minlength=k).astype(float)
    tw = tx if x is None else cells.sum(w * valid)  # weights of the valid rows per cell
    N = cells.to_domains(tw)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(X != 0, Y / np.where(X != 0, X, 1.0), np.nan)
        inv_x = np.where(X != 0, 1.0 / np.where(X != 0, X, 1.0), 0.0)
    Rz = np.nan_to_num(R)
    z = ty if total else (ty - Rz[cells.dom] * tx) * inv_x[cells.dom]
    second = None
    if variance == "taylor" and design.f2 is not None:
        c2 = cells_of(design.ssu_code, int(design.ssu_psu.size), dom[:], k)
        z2 = c2.sum(wy) if total else (c2.sum(wy) - Rz[c2.dom] * c2.sum(wx)) * inv_x[c2.dom]
        second = (c2, z2)
    # (PSU, domain) cells with a value (rows, whatever their weight)
    zero_w = design.n_zero_weight > 0
    present = (np.bincount(cells.row_cell, weights=None if all_valid else valid,
                           minlength=cells.size) > 0 if zero_w else tw > 0)
    v = _variance(design, variance, cells, z, second, ty, None if total else tx, present)
    # SRS variance of the same n for the design effect (R: svyvar / n * (N - n) / N)
    if binary and x is None:
        ss = Y * (1 - 2 * Rz) + Rz**2 * X  # Σ w (y − R)² with y² = y
    else:
        xr = 1.0 if x is None else np.where(valid, x, 0.0)
        resid = yv - Rz[dom[:]] * xr
        ss = np.bincount(dom[:], weights=w * valid * resid**2, minlength=k)
    xbar = X / np.where(N > 0, N, 1.0)
    # rows with a zero weight are not observations of the SRS comparison (R's deff)
    n_pos = (np.bincount(dom[:], weights=valid & (w > 0), minlength=k) if zero_w else n)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = ss / N * n_pos / (n_pos - 1) / xbar**2
        v_srs = s2 / n_pos * (N - n_pos) / N * (N**2 if total else 1.0)
        # rounding noise of an exactly constant PSU-level rate is a zero variance
        v = np.where(v <= 1e-12 * np.nan_to_num(v_srs, nan=0.0), 0.0, v)
        deff = np.where(v_srs > 0, v / v_srs, np.nan)
    # R counts a domain's rows without a value in its df and in nrow() (Korn–Graubard's t_{n−1})
    w_all = tw if all_valid else cells.sum(w)
    n_rows = (n if all_valid else rows if rows is not None
              else np.bincount(dom[:], minlength=k).astype(float))
    return {"estimate": Y if total else R, "v": v, "n": n, "N": N, "deff": deff,
            "df": _domain_df(design, cells, w_all), "n_rows": n_rows}


def _keep(core: dict, k: int) -> dict:
    """The first ``k`` domains of ``core`` (drops the rows without a domain, see :func:`_domains`)."""
    return {key: value[:k] for key, value in core.items()}


def _table(cols: list[str], keys: dict[str, np.ndarray], core: dict, lower: np.ndarray,
           upper: np.ndarray, n_eff: np.ndarray, df: np.ndarray, level: float,
           method: str) -> pd.DataFrame:
    est = core["estimate"]
    se = np.sqrt(np.maximum(core["v"], 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(est != 0, se / np.abs(est), np.nan)
    n = core["n"].astype(int)
    # the columns in the table's order (cols + RESULT_COLUMNS): one DataFrame, built once
    data = {c: keys[c] for c in cols}
    data.update({"estimate": est, "se": se, "ci_lower": lower, "ci_upper": upper,
                 "level": level, "n": n, "n_eff": n_eff,
                 "df": df.astype(int), "deff": core["deff"], "cv": cv, "method": method})
    out = pd.DataFrame(data)
    if not n.all():  # domains without a row with a value
        out = out[out["n"] != 0].reset_index(drop=True)
    return out[cols + RESULT_COLUMNS] if len(out.columns) != len(cols) + len(RESULT_COLUMNS) else out


def _pool(core: dict, df: np.ndarray, pool_deff: bool | int) -> tuple[np.ndarray, np.ndarray]:
    """Replace the variance of domains with ``df <= k`` by the pooled design effect × SRS variance.

    The pooled deff is the n-weighted mean of the design effects of the domains with more df
    (where estimable); those domains' df add up to the pooled df. Returns (variance, df).
    """
    k = 1 if pool_deff is True else int(pool_deff)
    small = df <= k
    donors = ~small & np.isfinite(core["deff"]) & (core["n"] > 0)
    if not small.any() or not donors.any():
        return core["v"], df
    deff_pool = float(np.sum(core["n"][donors] * core["deff"][donors]) / np.sum(core["n"][donors]))
    deff_pool = max(deff_pool, 1.0)
    p, n, N = core["estimate"], core["n"], core["N"]
    with np.errstate(invalid="ignore", divide="ignore"):
        v_srs = p * (1 - p) / np.maximum(n - 1, 1) * (N - n) / N
    v = np.where(small, deff_pool * v_srs, core["v"])
    df_out = np.where(small, int(df[donors].sum()), df)
    return v, df_out


def estimate_proportion(design: SurveyDesign, y: str, *, by: str | Sequence[str] | None = None,
                        denominator: str | None = None, method: str = "jeffreys",
                        level: float = 0.95, variance: str = "taylor",
                        pool_deff: bool | int = False, p0: float | None = None,
                        deff_floor: float | None = None) -> EstimateResult:
    """Estimate a proportion (household- or person-level) with a design-based interval.

    Parameters
    ----------
    design : SurveyDesign
    y : str
        A 0/1, boolean or 是/否 column; missing values are left out of the domain.
    by : str or list of str, optional
        Domain columns (for example ``"town"``); the full design is kept for the variance.
        Towns come in order of first appearance in the design's data (a drawn sample lists them
        in the year's order).
    denominator : str, optional
        A size column (household size): the person-level rate ``Σw·size·y / Σw·size``, as the
        national rules count 错退 and 漏评 in persons.
    method : str
        Interval method, one of :data:`~quchi_stats.estimation.intervals.CI_METHODS`
        (default ``"jeffreys"``: defined and non-degenerate even when p̂ = 1).
    level : float
        Confidence level, in (0, 1).
    variance : {"taylor", "jackknife"}
        Linearisation (default) or delete-one-PSU jackknife (JKn).
    pool_deff : bool or int
        For domains with ``df <= pool_deff`` (``True`` means 1: two villages), use the
        n-weighted mean design effect of the other domains (at least 1) and their pooled df.
        Off by default; see ``docs/estimation.md``.
    p0 : float, optional
        A threshold: adds the column ``p_value`` of the one-sided test of H0: p >= p0 (small
        values: the rate is significantly below ``p0``), consistent with ``method``.
    deff_floor : float, optional
        For the p-value only: the design effect used by the test is at least this (see
        :func:`~quchi_stats.estimation.one_sided_pvalue`).

    Returns
    -------
    EstimateResult

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"town": ["甲"] * 6 + ["乙"] * 6, "village": [1, 1, 2, 2, 3, 3] * 2,
    ...                    "w": 10.0, "ok": ["是", "是", "是", "否", "是", "是"] * 2})
    >>> df.loc[6:, "village"] += 3
    >>> d = SurveyDesign(df, strata="town", psu="village", weights="w")
    >>> r = estimate_proportion(d, "ok", by="town")
    >>> r.to_frame()[["town", "estimate", "n", "df"]]
      town  estimate  n  df
    0    甲  0.833333  6   2
    1    乙  0.833333  6   2
    """
    func = "estimate_proportion"
    _check_common(design, level, variance, func)
    check_choice("method", method, CI_METHODS, func)
    yv = _binary(design, y, func)
    x = None if denominator is None else _numeric(design, denominator)
    if x is not None and np.any(x[~np.isnan(x)] <= 0):
        raise DataError(f"分母列“{denominator}”应为正数")
    cols, keys, dom, k, psu_dom = _domains(design, by)
    core = _ratio_core(design, yv if x is None else yv * x, x, dom, k, variance, binary=True,
                       psu_dom=psu_dom)
    core = _keep(core, _n_domains(keys))
    df = core["df"]
    v, df_used = (_pool(core, df, pool_deff) if pool_deff else (core["v"], df))
    core = {**core, "v": v}
    p = np.nan_to_num(core["estimate"], nan=0.0)
    n = core["n"].astype(float)
    n_rows = np.maximum(core["n_rows"], 1)
    ci = proportion_interval(p, v, np.maximum(n, 1), df_used, method=method, level=level,
                             n_design=n_rows)
    n_eff = effective_n(p, v, n)
    var_label = variance + ("+pooled-deff" if pool_deff else "")
    name = y if denominator is None else f"{y}（按{denominator}加权）"
    table = _table(cols, keys, core, ci.lower, ci.upper, n_eff, df_used, level, method)
    keep = core["n"] > 0  # the rows of the table
    if p0 is not None:
        p0 = check_probability("p0", p0, func)
        table["p_value"] = one_sided_pvalue(p[keep], v[keep], np.maximum(n[keep], 1),
                                            df_used[keep], p0, method=method, level_for_n=level,
                                            deff_floor=deff_floor, n_design=n_rows[keep])
    return EstimateResult("proportion", name, tuple(cols), method, level, var_label, table,
                          p=p[keep], v=v[keep], n=n[keep], df=df_used[keep],
                          n_star=ci.n_star[keep], n_design=n_rows[keep])


def _t_interval(est: np.ndarray, v: np.ndarray, df: np.ndarray,
                level: float) -> tuple[np.ndarray, np.ndarray]:
    t = stats.t.ppf(1 - (1 - level) / 2, np.maximum(df, 1))
    se = np.sqrt(np.maximum(v, 0))
    return est - t * se, est + t * se


def _t_estimate(design: SurveyDesign, kind: str, name: str, y: np.ndarray, x: np.ndarray | None,
                by: str | Sequence[str] | None, level: float, variance: str) -> EstimateResult:
    """A mean (``x=None``), ratio or total (``kind="total"``) by domain with a ``t_df`` interval."""
    cols, keys, dom, k, psu_dom = _domains(design, by)
    core = _keep(_ratio_core(design, y, x, dom, k, variance, total=kind == "total",
                             psu_dom=psu_dom), _n_domains(keys))
    lower, upper = _t_interval(core["estimate"], core["v"], core["df"], level)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = core["n"] / core["deff"]
    table = _table(cols, keys, core, lower, upper, n_eff, core["df"], level, "t")
    keep = core["n"] > 0  # the rows of the table
    return EstimateResult(kind, name, tuple(cols), "t", level, variance, table,
                          p=core["estimate"][keep], v=core["v"][keep], n=core["n"][keep],
                          df=core["df"][keep])


def estimate_mean(design: SurveyDesign, y: str, *, by: str | Sequence[str] | None = None,
                  level: float = 0.95, variance: str = "taylor") -> EstimateResult:
    """Estimate a mean ``Σw·y / Σw`` with a ``t_df`` interval (R ``svymean``/``svyby``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"s": [1, 1, 2, 2], "c": [1, 2, 3, 4], "w": [1.0, 1, 2, 2],
    ...                    "y": [1.0, 2, 3, 4]})
    >>> round(estimate_mean(SurveyDesign(df, strata="s", psu="c", weights="w"), "y").estimate, 4)
    2.8333
    """
    func = "estimate_mean"
    _check_common(design, level, variance, func)
    return _t_estimate(design, "mean", y, _numeric(design, y), None, by, level, variance)


def estimate_ratio(design: SurveyDesign, numerator: str, denominator: str, *,
                   by: str | Sequence[str] | None = None, level: float = 0.95,
                   variance: str = "taylor") -> EstimateResult:
    """Estimate a ratio of totals ``Σw·y / Σw·x`` with a ``t_df`` interval (R ``svyratio``)."""
    func = "estimate_ratio"
    _check_common(design, level, variance, func)
    return _t_estimate(design, "ratio", f"{numerator}/{denominator}", _numeric(design, numerator),
                       _numeric(design, denominator), by, level, variance)


def estimate_total(design: SurveyDesign, y: str, *, by: str | Sequence[str] | None = None,
                   level: float = 0.95, variance: str = "taylor") -> EstimateResult:
    """Estimate a population total ``Σw·y`` with a ``t_df`` interval (R ``svytotal``)."""
    func = "estimate_total"
    _check_common(design, level, variance, func)
    return _t_estimate(design, "total", y, _numeric(design, y), None, by, level, variance)
