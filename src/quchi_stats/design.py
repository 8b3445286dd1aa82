"""``SurveyDesign``: the column names of a complex sample, bound to its data and validated once.

As in R ``survey``'s ``svydesign``, one object carries strata, primary sampling units (PSUs), weights
and finite population corrections; every estimator of :mod:`quchi_stats.estimation` takes it. The
object is frozen: the codes and counts every variance computation needs are derived once, here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError, QuchiStatsWarning, check_choice

__all__ = ["LONELY_PSU", "SurveyDesign"]

#: What to do with a stratum that has a single PSU (R ``survey``'s ``survey.lonely.psu``).
LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), np.asarray(uniques)


def _sampling_fraction(population: np.ndarray, sampled: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Sampling fractions from an FPC given as counts (> 1) or fractions (<= 1), and the first
    group whose fraction is impossible (above 1 or not positive), if any."""
    frac = np.where(population <= 1, population, sampled / population)
    bad = np.flatnonzero((frac > 1 + 1e-9) | (frac <= 0))
    return frac, (int(bad[0]) if bad.size else None)


@dataclass(frozen=True, eq=False, repr=False, init=False)
class SurveyDesign:
    """A stratified (multi-stage) sample design bound to a DataFrame.

    Parameters
    ----------
    data : DataFrame
        One row per observed unit (household).
    strata : str, optional
        Column of the first-stage strata (towns). None: one stratum.
    psu : str, optional
        Column of the primary sampling units (villages). None: each row is its own PSU.
    weights : str, optional
        Column of sampling weights (1/π). None: 1, or N/n from the FPCs when given.
    fpc : str, optional
        Population count of PSUs in the row's stratum (R's ``fpc=~N``); values <= 1 are read as
        sampling fractions. Without it, the first stage is treated as with replacement (the
        ultimate-cluster variance), the standard choice when PSUs were drawn with unequal
        probabilities.
    ssu : str, optional
        Column of the second-stage units (households); with ``fpc2`` the variance gains the
        second-stage term (R's ``ids=~psu+ssu, fpc=~N1+N2``). None: each row.
    fpc2 : str, optional
        Population count of second-stage units in the row's PSU (or a fraction when <= 1).
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        A stratum with one PSU: raise; contribute nothing ("remove", "certainty"); contribute its
        squared deviation from the overall mean ("adjust"); or take the average of the other
        strata ("average") — R ``survey``'s meanings.
    nest : bool
        PSU labels are only unique within strata (R's ``nest=TRUE``).
    adjust_domain_lonely : bool
        A stratum with several PSUs of which only one has rows in a domain is treated by the
        ``lonely_psu`` rule for that domain (R's ``options(survey.adjust.domain.lonely=TRUE)``):
        with "adjust" its square counts ``n_h/(n_h − 1)`` times, with "average" it is left out and
        the domain's other strata are scaled up; "remove" and "certainty" are unchanged, as in R.
        Off by default (R's default).

    Rows with a zero weight are kept, as R ``survey`` keeps them: they count as rows and their PSUs
    count in ``n_h``, but they add nothing to estimates and a PSU with only zero weights is not
    counted in the degrees of freedom (a counted ``QuchiStatsWarning``). Negative weights raise.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"town": ["甲", "甲", "甲", "乙", "乙"], "village": [1, 1, 2, 3, 4],
    ...                    "w": [2.0, 2.0, 3.0, 1.5, 1.5], "y": [1, 0, 1, 1, 1]})
    >>> d = SurveyDesign(df, strata="town", psu="village", weights="w")
    >>> d
    SurveyDesign(5 rows, 2 strata, 4 PSUs, weights='w', with replacement at stage 1)
    >>> d.df
    2
    """

    data: pd.DataFrame
    strata: str | None = None
    psu: str | None = None
    weights: str | None = None
    fpc: str | None = None
    ssu: str | None = None
    fpc2: str | None = None
    lonely_psu: str = "fail"
    nest: bool = False
    adjust_domain_lonely: bool = False
    # derived once
    w: np.ndarray = field(init=False)
    stratum_code: np.ndarray = field(init=False)
    psu_code: np.ndarray = field(init=False)
    psu_stratum: np.ndarray = field(init=False)
    n_psu_in_stratum: np.ndarray = field(init=False)
    f1: np.ndarray = field(init=False)
    ssu_code: np.ndarray | None = field(init=False)
    ssu_psu: np.ndarray | None = field(init=False)
    n_ssu_in_psu: np.ndarray | None = field(init=False)
    f2: np.ndarray | None = field(init=False)
    stratum_labels: np.ndarray = field(init=False)
    info: dict = field(init=False)

    def __init__(self, data: pd.DataFrame, *, strata: str | None = None, psu: str | None = None,
                 weights: str | None = None, fpc: str | None = None, ssu: str | None = None,
                 fpc2: str | None = None, lonely_psu: str = "fail", nest: bool = False,
                 adjust_domain_lonely: bool = False) -> None:
        func = "SurveyDesign"
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(f"The 'data' parameter of {func} must be a DataFrame. "
                                 f"Got {type(data).__name__}.")
        check_choice("lonely_psu", lonely_psu, LONELY_PSU, func)
        for name, col in (("strata", strata), ("psu", psu), ("weights", weights), ("fpc", fpc),
                          ("ssu", ssu), ("fpc2", fpc2)):
            if col is not None and col not in data.columns:
                raise ParameterError(
                    f"The {name!r} parameter of {func} names a column that is not in the data: "
                    f"{col!r}.")
        if fpc2 is not None and fpc is None:
            raise ParameterError(f"The 'fpc2' parameter of {func} needs 'fpc' (the first stage).")
        if len(data) == 0:
            raise DataError("抽样设计没有任何数据行")
        data = data.reset_index(drop=True)
        put = object.__setattr__
        for name, value in (("data", data), ("strata", strata), ("psu", psu), ("weights", weights),
                            ("fpc", fpc), ("ssu", ssu), ("fpc2", fpc2), ("lonely_psu", lonely_psu),
                            ("nest", nest), ("adjust_domain_lonely", bool(adjust_domain_lonely))):
            put(self, name, value)
        n = len(data)
        for col in (strata, psu, ssu):
            if col is not None and data[col].isna().any():
                i = int(np.flatnonzero(data[col].isna().to_numpy())[0])
                raise DataError("抽样设计列不能为空", row=i + 2, column=col)
        s_code, s_lab = (_codes(data[strata]) if strata is not None
                         else (np.zeros(n, np.intp), np.array(["全部"])))
        if psu is None:
            p_code = np.arange(n, dtype=np.intp)
        else:
            key = (data[strata].astype(str) + "\x1f" + data[psu].astype(str)
                   if (nest and strata is not None) else data[psu])
            p_code, _ = _codes(key)
        n_psu = int(p_code.max()) + 1
        psu_stratum = np.full(n_psu, -1, dtype=np.intp)
        psu_stratum[p_code] = s_code
        clash = psu_stratum[p_code] != s_code
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise DataError(f"PSU“{data[psu].iloc[i]}”出现在多个层中；若 PSU 编号只在层内唯一，"
                            "请用 nest=True", row=i + 2, column=psu)
        n_h = np.bincount(psu_stratum, minlength=len(s_lab))
        # weights
        if weights is not None:
            w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"权数应为非负数，实际为“{data[weights].iloc[i]}”", row=i + 2,
                                column=weights)
            zero = int(np.count_nonzero(w == 0))
            if zero == n:
                raise DataError("权数全部为 0，无法估计", column=weights)
            if zero:
                warnings.warn(f"权数列“{weights}”有 {zero} 行为 0：按 R survey 的做法保留这些行"
                              "（计入样本行数与 PSU 数，不参与估计）", QuchiStatsWarning,
                              stacklevel=2)
        else:
            w = np.ones(n)
        # first-stage fpc
        f1 = np.ones(len(s_lab))  # 1 - sampling fraction; 1 = with replacement
        frac1 = np.zeros(len(s_lab))
        if fpc is not None:
            N = self._per_group(data[fpc], s_code, len(s_lab), fpc, "层")
            frac1, h = _sampling_fraction(N, n_h)
            if h is not None:
                raise DataError(f"层“{s_lab[h]}”的 fpc 与样本不符：抽中 {n_h[h]} 个 PSU，"
                                f"fpc 为 {N[h]:g}", column=fpc)
            f1 = 1 - np.minimum(frac1, 1.0)
        # second stage
        ssu_code = ssu_psu = m_i = f2 = None
        if fpc2 is not None:
            key2 = (pd.Series(p_code).astype(str) + "\x1f" + data[ssu].astype(str)
                    if ssu is not None else pd.Series(np.arange(n)))
            ssu_code, _ = _codes(key2)
            ssu_psu = np.full(int(ssu_code.max()) + 1, -1, dtype=np.intp)
            ssu_psu[ssu_code] = p_code
            m_i = np.bincount(ssu_psu, minlength=n_psu)
            M = self._per_group(data[fpc2], p_code, n_psu, fpc2, "PSU")
            frac2, i = _sampling_fraction(M, m_i)
            if i is not None:
                raise DataError(f"第二阶段 fpc 与样本不符：PSU 中抽中 {m_i[i]} 个单位，fpc2 为 "
                                f"{M[i]:g}", column=fpc2)
            f2 = 1 - np.minimum(frac2, 1.0)
            if weights is None:
                w = w / frac1[s_code] / frac2[p_code]
        elif fpc is not None and weights is None:
            w = w / frac1[s_code]
        put(self, "w", w)
        put(self, "stratum_code", s_code)
        put(self, "stratum_labels", s_lab)
        put(self, "psu_code", p_code)
        put(self, "psu_stratum", psu_stratum)
        put(self, "n_psu_in_stratum", n_h)
        put(self, "f1", f1)
        put(self, "ssu_code", ssu_code)
        put(self, "ssu_psu", ssu_psu)
        put(self, "n_ssu_in_psu", m_i)
        put(self, "f2", f2)
        put(self, "info", {})
        if lonely_psu == "fail":
            lonely = np.flatnonzero((n_h == 1) & (f1 > 1e-7))
            if lonely.size:
                raise DataError(
                    f"层“{s_lab[lonely[0]]}”只有 1 个 PSU，无法估计方差；可设 lonely_psu 为 "
                    "'remove'、'certainty'、'adjust' 或 'average'", column=strata)
            if f2 is not None:
                lone2 = np.flatnonzero((m_i == 1) & (f2 > 1e-7))
                if lone2.size:
                    raise DataError("有 PSU 在第二阶段只抽中 1 个单位，无法估计第二阶段方差；可设 "
                                    "lonely_psu", column=ssu or fpc2)

    @staticmethod
    def _per_group(values: pd.Series, code: np.ndarray, size: int, col: str,
                   what: str) -> np.ndarray:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            i = int(np.flatnonzero(~np.isfinite(v) | (v <= 0))[0])
            raise DataError(f"fpc 应为正数，实际为“{values.iloc[i]}”", row=i + 2, column=col)
        out = np.full(size, np.nan)
        out[code] = v
        if np.any(out[code] != v):
            i = int(np.flatnonzero(out[code] != v)[0])
            raise DataError(f"fpc 在同一{what}内应相同", row=i + 2, column=col)
        return out

    # ------------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def n_strata(self) -> int:
        return int(self.stratum_labels.size)

    @property
    def n_psu(self) -> int:
        return int(self.psu_stratum.size)

    @property
    def df(self) -> int:
        """Degrees of freedom: PSUs minus strata among the rows with a positive weight (R's
        ``degf``)."""
        return self.domain_df(np.ones(self.n, dtype=bool))

    def domain_df(self, mask: np.ndarray) -> int:
        """PSUs minus strata among the rows in ``mask`` with a positive weight (R ``svyby``'s
        domain df)."""
        mask = mask & (self.w > 0)
        if not mask.any():
            return 0
        psus = np.unique(self.psu_code[mask])
        strata = np.unique(self.stratum_code[mask])
        return int(psus.size - strata.size)

    def __repr__(self) -> str:
        stage = ("with replacement at stage 1" if self.fpc is None else
                 "two-stage without replacement" if self.fpc2 is not None else
                 "without replacement at stage 1")
        return (f"SurveyDesign({self.n} rows, {self.n_strata} strata, {self.n_psu} PSUs, "
                f"weights={self.weights!r}, {stage})")

    def column(self, name: str) -> pd.Series:
        if name not in self.data.columns:
            raise ParameterError(f"The design's data has no column {name!r}.")
        return self.data[name]
