"""Cost-optimal single-phase spot-check designs (``quchi-stats plan``).

Given a cost model — ``c1`` yuan per village visited, ``c2`` yuan per household interviewed, a
budget in yuan (or in households, see :meth:`CostModel.budget_from_households`) — and the
intra-village correlation ρ of each indicator (given, or estimated from the earlier years of the
data directory by :func:`estimate_icc`), :func:`optimise_plan` searches the designs that
:class:`~quchi_stats.sampling.DesignPlan` can express — villages in the district shared equally
across towns, and households per village in each frame — for the one that maximises the **weakest
town's power** to flag a town ``shortfall`` below a standard (lexicographically: the lowest power
over the indicators and towns first, then the mean over the indicators of the weakest town's
power, then the lower cost), with expected cost within the budget.

The search uses an analytic power (:func:`analytic_power`) of the report's calibrated
beta-binomial test (:mod:`quchi_stats.flags.town_test`), evaluated for every candidate on the
register's own villages and frame sizes:

* a village ``v`` drawn with the plan gives, for an indicator over frames ``F``, Kish's effective
  count ``m_v = (Σ_f N_f s̄_f)² / Σ_f (N_f²/m_f) E[s_f²]`` — households weighted ``N_f/m_f`` within
  the village, times their size ``s`` for a person-level rate, as
  :func:`~quchi_stats.flags.village_counts` forms it — and the information ``m_v/(1 + (m_v − 1)ρ)``;
* a town's information is its expectation over the πps draw of villages,
  ``I_t = Σ_v π_v m_v/(1 + (m_v − 1)ρ)`` (the beta-binomial test weights villages this way and
  ignores the between-village design weights);
* the test of town ``t`` rejects at one-sided level ``a = alpha/M`` (Holm's first step with one
  low town among compliant ones; ``M`` the size of the spec's multiplicity family) when the
  signed root of the likelihood ratio is below ``−t_{df}(1 − a)``, ``df`` = villages − towns. With
  ρ known the log-likelihood ratio is that of a binomial with ``I_t`` trials: the rate ``p_c``
  below which the town is flagged solves ``2 I_t KL(p_c ‖ p0) = t²``, and the power is
  ``P(X ≤ I_t p_c − ½ I_t/n_t)`` for ``X ~ Bin(I_t, p1)`` (``n_t`` the households of the
  indicator in the town: half a household of continuity correction; the regularised incomplete
  beta, so that ``I_t`` need not be an integer). Against the report's test simulated on drawn
  samples (:func:`~quchi_stats.flags.town_power.model_power`, ρ held) it is off by up to about
  6 points either way at ρ = 0 (a count that moves by whole households at a given integer size)
  and overstates by about 5 points near a power of 25% at ρ = 0.05 (the beta-binomial's skew near
  a standard of 98% is not a binomial's); against :func:`~quchi_stats.simulate.simulate_design`,
  which also re-estimates ρ in every replicate, it overstated the weakest town's power by 2–6
  points on the synthetic district. It ranks designs; the chosen one's power is the simulated
  one.

The chosen plan is then confirmed by simulation (:func:`confirm_plan`, the whole draw and test of
:func:`~quchi_stats.simulate.simulate_design`). With ``objective="variance"`` the search minimises
the largest town variance ``p0(1 − p0)/I_t`` instead: for equal towns with one indicator and
uncapped frames this is the problem of PracTools ``clusOpt2`` (Valliant, Dever & Kreuter 2018),
whose optimum is ``m* = √(c1/c2 · (1 − ρ)/ρ)`` — the test suite checks the search against it.

The plan is written as a TOML file (:func:`write_plan`) that ``quchi-stats design --plan FILE``
draws (:func:`read_plan`); the manifest of the draw records the file's SHA-256 and text.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from . import __version__
from .errors import DataError, ParameterError, QuchiStatsWarning
from .labels import DISTRICT_UNNAMED, FRAME_SHORT_LABELS_ZH, column_labels, district_label
from .sampling.allocation import allocate
from .sampling.draw import FRAME_NAMES, DesignPlan, village_plan
from .sampling.selection import inclusion_probabilities
from .spec import AssessmentSpec, load_spec

__all__ = ["DEFAULT_COST", "PLAN_INDICATORS", "CostModel", "ICCEstimate", "PlanFile", "PlanResult",
           "analytic_power", "confirm_plan", "estimate_icc", "expected_cost", "optimise_plan",
           "read_plan", "write_plan"]

#: The rates of 第七条（四） the plan is chosen for by default.
PLAN_INDICATORS = ("identification_accuracy", "exit_accuracy", "missed_rate", "satisfaction_rate")
#: Plan-file format written by :func:`write_plan`.
PLAN_FORMAT = 1
#: Largest plan file read.
MAX_PLAN_BYTES = 200_000
#: Largest number of households per village and frame searched.
MAX_PER_FRAME = 60

_FRAME_ZH = FRAME_SHORT_LABELS_ZH  # one spelling: the label registry


# --------------------------------------------------------------------------------------------
# cost model
@dataclass(frozen=True)
class CostModel:
    """Field cost ``C = village·k + household·n`` of a design with ``k`` villages and ``n``
    households (yuan).

    The defaults (1,000 yuan per village visited: transport, a day of the team with the village
    cadres; 100 yuan per household interviewed) are placeholders with the ratio c1/c2 = 10 of the
    textbook example (Valliant, Dever & Kreuter 2018, ch. 9; PracTools `clusOpt2`): give the
    office's own figures.
    """

    village: float = 1000.0
    household: float = 100.0

    def __post_init__(self) -> None:
        for name in ("village", "household"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                    or v < 0:
                raise ParameterError(f"The {name!r} parameter of CostModel must be a finite "
                                     f"number >= 0. Got {v!r}.")
        if self.household <= 0:
            raise ParameterError(f"The 'household' parameter of CostModel must be > 0. "
                                 f"Got {self.household!r}.")

    def cost(self, villages: float, households: float) -> float:
        return float(self.village * villages + self.household * households)


DEFAULT_COST = CostModel()


# --------------------------------------------------------------------------------------------
# ICC
@dataclass(frozen=True)
class ICCEstimate:
    """The intra-village correlation ρ of one indicator: the value planned with, its interval
    (profile likelihood when estimated; the value itself when given), and where it came from."""

    indicator: str
    rho: float
    lower: float
    upper: float
    source: str  # "given" or "estimated"
    years: tuple[int, ...] = ()
    villages: int = 0
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {"rho": self.rho, "lower": self.lower, "upper": self.upper, "source": self.source,
                "years": list(self.years), "villages": self.villages, "level": self.level}

    def design_effect(self, m: float) -> float:
        """``1 + (m − 1)ρ``: the design effect of ``m`` households per village."""
        return 1.0 + (m - 1.0) * self.rho


def estimate_icc(data: str | Path, year: int, *, spec: AssessmentSpec | None = None,
                 indicators: Sequence[str] = PLAN_INDICATORS, level: float = 0.95,
                 years: Sequence[int] | None = None) -> dict[str, ICCEstimate]:
    """ρ of each indicator from the earlier years' spot-checks in a data directory.

    For every year before ``year`` with a sample and field results, the villages' effective
    counts are formed exactly as the report forms them (:func:`~quchi_stats.flags.village_counts`,
    weighted by persons or households as the indicator counts), and one district ρ is fitted to
    all of them with every town × year mean profiled out (Cox–Reid adjusted profile likelihood,
    :func:`~quchi_stats.flags.fit_village_icc`) with its profile-likelihood interval at ``level``.
    The design effect of ``m`` households per village is then ``1 + (m − 1)ρ``.

    Raises :class:`DataError` when no earlier year has field results (give ρ instead).
    """
    from .assessment import _history_years
    from .estimation import Fieldwork
    from .flags.betabinomial import fit_village_icc, village_counts
    from .io.datadir import DataDir
    from .io.entry import read_results
    from .io.readers import read_table

    root = DataDir(data)
    use = list(years) if years is not None else _history_years(root, year)
    if not use:
        raise DataError(f"数据目录中没有 {year} 年以前的抽查样本和核查结果，无法估计村内相关系数；"
                        "请用 --icc 指标=数值 给出", file=str(root.root))
    parts: dict[str, list[pd.DataFrame]] = {i: [] for i in indicators}
    for y in use:
        sample = read_table(root.sample_dir(y) / "sample.csv", "sample")
        results = read_results(root.results(y))
        try:
            ys = load_spec(y)
        except DataError:
            ys = spec if spec is not None else load_spec(year)
        fw = Fieldwork(sample, results, lonely_psu="certainty",
                       satisfied_levels=ys.satisfied_levels)
        names = {i.name for i in ys.indicators}
        for name in indicators:
            if name not in names:
                continue
            ind = ys.indicator(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QuchiStatsWarning)
                d = fw.indicator_design(ind)
            if d is None:
                continue
            vc = village_counts(d.data, "_good", weight=d.weights,
                                size="household_size" if ind.unit == "person" else None)
            vc = vc.assign(town=[f"{y}:{t}" for t in vc["town"]])
            parts[name].append(vc.assign(year=y))
    out = {}
    for name in indicators:
        if not parts[name]:
            raise DataError(f"{'、'.join(map(str, use))} 年的核查结果中没有指标“{name}”，无法估计其村内"
                            f"相关系数；请用 --icc {name}=数值 给出")
        vc = pd.concat(parts[name], ignore_index=True)
        fit = fit_village_icc(vc, level=level, homogeneity=False)
        out[name] = ICCEstimate(name, float(fit.rho), float(fit.rho_lower), float(fit.rho_upper),
                                "estimated", tuple(sorted(set(vc["year"]))), int(len(vc)), level)
    return out


# --------------------------------------------------------------------------------------------
# the district's fixed facts, and the analytic power
@dataclass(frozen=True)
class _District:
    towns: list[str]
    n_villages: np.ndarray            # (T,)
    village_town: np.ndarray          # (V,)
    size: np.ndarray                  # (V,) πps size
    N: dict[str, np.ndarray]          # frame → (V,)
    s1: dict[str, np.ndarray]         # frame → (V,) mean household size
    s2: dict[str, np.ndarray]         # frame → (V,) mean squared household size


def _district(register: pd.DataFrame, year: int) -> _District:
    reg, vill, towns, n_villages, _, _ = village_plan(register, DesignPlan(year=year,
                                                                           villages_total=10**6))
    t_idx = {t: i for i, t in enumerate(towns)}
    vt = vill["town"].map(t_idx).to_numpy()
    keys = pd.MultiIndex.from_frame(vill[["town", "village"]])
    code = keys.get_indexer(pd.MultiIndex.from_frame(reg[["town", "village"]]))
    hh = pd.to_numeric(reg["household_size"], errors="coerce").to_numpy(float)
    hh = np.where(np.isfinite(hh) & (hh > 0), hh, 1.0)
    N, s1, s2 = {}, {}, {}
    frame = reg["frame"].astype(str).to_numpy()
    for f in FRAME_NAMES:
        sel = frame == f
        n = np.bincount(code[sel], minlength=len(vill)).astype(float)
        a = np.bincount(code[sel], weights=hh[sel], minlength=len(vill))
        b = np.bincount(code[sel], weights=hh[sel] ** 2, minlength=len(vill))
        N[f] = n
        s1[f] = np.where(n > 0, a / np.maximum(n, 1), 1.0)
        s2[f] = np.where(n > 0, b / np.maximum(n, 1), 1.0)
    size = np.maximum(vill["n_registered"].to_numpy(), 1).astype(float)
    return _District(list(towns), np.asarray(n_villages), vt, size, N, s1, s2)


def _pi(d: _District, plan: DesignPlan, alloc: np.ndarray) -> np.ndarray:
    """(V,) first-order inclusion probability of every village under ``plan``'s allocation."""
    pi = np.zeros(d.size.size)
    for t in range(len(d.towns)):
        vs = np.flatnonzero(d.village_town == t)
        k = int(min(alloc[t], vs.size))
        if plan.village_method in ("pps_systematic", "sampford"):
            pi[vs] = inclusion_probabilities(d.size[vs], k)
        else:
            pi[vs] = k / vs.size
    return pi


def _allocation(d: _District, plan: DesignPlan) -> np.ndarray:
    total = min(plan.villages_total, int(d.n_villages.sum()))
    return np.asarray(allocate(total, d.n_villages, method=plan.village_allocation,
                               minimum=plan.min_villages_per_town))


def _drawn(N: np.ndarray, m: np.ndarray | int) -> np.ndarray:
    """Households drawn from frames of sizes ``N`` asking ``m`` per village (broadcasts)."""
    return np.minimum(np.asarray(m, float), N)


def _village_info(d: _District, frames: Sequence[str], person: bool, m: Mapping[str, Any],
                  rho: float) -> np.ndarray:
    """Information ``m_v/(1 + (m_v − 1)ρ)`` of each village (…, V) for households ``m[f]``
    (scalars or arrays broadcasting against (V,)) asked per frame."""
    W = 0.0
    W2 = 0.0
    for f in frames:
        N = d.N[f]
        mf = _drawn(N, m[f])
        s1 = d.s1[f] if person else 1.0
        s2 = d.s2[f] if person else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            W = W + np.where(mf > 0, N * s1, 0.0)
            W2 = W2 + np.where(mf > 0, N**2 / np.where(mf > 0, mf, 1.0) * s2, 0.0)
    W = np.asarray(W, float)
    W2 = np.asarray(W2, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mv = np.where(W2 > 0, W**2 / np.where(W2 > 0, W2, 1.0), 0.0)
    return mv / (1.0 + (mv - 1.0) * rho) * (mv > 0)


def _kl(p: np.ndarray, p0: float) -> np.ndarray:
    return special.xlogy(p, p / p0) + special.xlogy(1 - p, (1 - p) / (1 - p0))


def _power_from_info(info: np.ndarray, p0: float, p1: float, crit: float,
                     households: np.ndarray) -> np.ndarray:
    """P(flag) of a town with information ``info`` (any shape) whose rate is ``p1`` < ``p0``:
    flagged when ``p̂ ≤ p_c`` with ``2·info·KL(p_c ‖ p0) = crit²``; ``p̂·info ~ Bin(info, p1)``,
    evaluated half a household (``info/households`` effective units) inside the boundary — the
    continuity correction of a count that moves by whole households, averaged over where the
    boundary falls between them."""
    info = np.asarray(info, float)
    target = crit**2 / (2.0 * np.maximum(info, 1e-12))
    lo = np.zeros(info.shape)
    hi = np.full(info.shape, p0)
    # KL(p‖p0) falls from KL(0‖p0) = −log(1 − p0) to 0 on [0, p0]: bisection
    for _ in range(50):
        mid = (lo + hi) / 2
        above = _kl(mid, p0) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    pc = (lo + hi) / 2
    none = _kl(np.zeros(1), p0)[0] <= target  # not even p̂ = 0 is flagged
    step = info / np.maximum(np.asarray(households, float), 1e-12)
    x = np.maximum(info * pc - 0.5 * step, 0.0)
    with np.errstate(invalid="ignore"):
        pw = special.betainc(np.maximum(info - x, 1e-12), x + 1.0, 1.0 - p1)
    return np.where((info > 0) & ~none, np.clip(pw, 0.0, 1.0), 0.0)


def _family_size(spec: AssessmentSpec, n_towns: int) -> int:
    if spec.multiplicity == "none":
        return 1
    if spec.multiplicity_family == "indicator":
        return n_towns
    return n_towns * len(spec.indicators)


def _crit(spec: AssessmentSpec, n_towns: int, villages: int) -> float:
    a = spec.alpha / _family_size(spec, n_towns)
    df = max(int(villages) - n_towns, 1)
    return float(stats.t.isf(a, df))


def _check_indicators(spec: AssessmentSpec, indicators: Sequence[str], func: str) -> list:
    by = {i.name: i for i in spec.indicators}
    bad = [i for i in indicators if i not in by]
    if bad or not indicators:
        raise ParameterError(f"The 'indicators' parameter of {func} must name indicators of the "
                             f"spec {list(by)}. Got {list(indicators)}.")
    return [by[i] for i in indicators]


def _rho_of(icc: float | Mapping[str, Any], name: str) -> float:
    if isinstance(icc, Mapping):
        v = icc.get(name, 0.05)
    else:
        v = icc
    if isinstance(v, ICCEstimate):
        v = v.rho
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
        raise ParameterError(f"The 'icc' parameter of optimise_plan must be in [0, 1). Got {v!r}.")
    return float(v)


def analytic_power(register: pd.DataFrame, plan: DesignPlan, *, spec: AssessmentSpec | None = None,
                   icc: float | Mapping[str, Any] = 0.05,
                   indicators: Sequence[str] = PLAN_INDICATORS,
                   shortfall: float = 0.10) -> pd.DataFrame:
    """Each town's analytic power (module docstring) under ``plan``: one row per town and
    indicator with ``town``, ``indicator``, ``label``, ``villages``, ``households`` (expected,
    the indicator's frames), ``info`` (expected effective count ``I_t``), ``power``.

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> t = analytic_power(load_register(2018), DesignPlan(year=2018), icc=0.05,
    ...                    indicators=["satisfaction_rate"])
    >>> bool(t["power"].between(0, 1).all()), len(t)
    (True, 9)
    """
    spec = load_spec(plan.year) if spec is None else spec
    inds = _check_indicators(spec, indicators, "analytic_power")
    d = _district(register, plan.year)
    alloc = _allocation(d, plan)
    pi = _pi(d, plan, alloc)
    T = len(d.towns)
    crit = _crit(spec, T, int(alloc.sum()))
    rows = []
    for ind in inds:
        rho = _rho_of(icc, ind.name)
        m = {f: np.array([plan.households_wanted(f, int(n)) if n else 0 for n in d.N[f]])
             for f in ind.frames}
        info_v = _village_info(d, ind.frames, ind.unit == "person", m, rho)
        hh_v = sum(_drawn(d.N[f], m[f]) for f in ind.frames)
        info = np.bincount(d.village_town, weights=pi * info_v, minlength=T)
        hh = np.bincount(d.village_town, weights=pi * hh_v, minlength=T)
        p1 = ind.threshold - shortfall
        pw = _power_from_info(info, ind.threshold, p1, crit, hh)
        for t in range(T):
            rows.append({"town": d.towns[t], "indicator": ind.name, "label": ind.label,
                         "villages": int(alloc[t]), "households": float(hh[t]),
                         "info": float(info[t]), "power": float(pw[t])})
    return pd.DataFrame(rows)


def expected_cost(register: pd.DataFrame, plan: DesignPlan,
                  cost: CostModel = DEFAULT_COST) -> dict[str, float]:
    """Villages, expected and largest possible households, and the expected and largest cost of
    a draw with ``plan`` (the expectation over the πps draw of villages; the largest: every town's
    villages with the most households drawn)."""
    d = _district(register, plan.year)
    alloc = _allocation(d, plan)
    pi = _pi(d, plan, alloc)
    hh_v = np.zeros(d.size.size)
    for f in FRAME_NAMES:
        hh_v += np.array([plan.households_wanted(f, int(n)) if n else 0 for n in d.N[f]])
    exp_h = float((pi * hh_v).sum())
    max_h = 0.0
    for t in range(len(d.towns)):
        vs = np.flatnonzero(d.village_town == t)
        certain = vs[pi[vs] >= 1 - 1e-9]
        rest = np.sort(hh_v[np.setdiff1d(vs, certain)])[::-1]
        max_h += hh_v[certain].sum() + rest[: max(int(alloc[t]) - certain.size, 0)].sum()
    k = int(alloc.sum())
    return {"villages": k, "households": exp_h, "households_max": float(max_h),
            "yuan": cost.cost(k, exp_h), "yuan_max": cost.cost(k, max_h)}


# --------------------------------------------------------------------------------------------
# the search
@dataclass(frozen=True)
class PlanResult:
    """The cost-optimal plan, the default design beside it, and how they compare.

    Attributes
    ----------
    plan, default : DesignPlan
    table : DataFrame
        One row per design (``design``: ``plan``/``default``) and indicator: ``label``,
        ``min_power`` (weakest town, analytic), ``mean_power``, ``villages``, ``households``
        (expected, all frames), ``yuan`` (expected cost), and after :func:`confirm_plan`
        ``sim_min_power``/``sim_mean_power`` and ``sim_familywise`` (false-flag rate with every
        town compliant).
    towns : DataFrame
        Per design, town and indicator: the analytic power (and ``sim_power`` once confirmed).
    icc : dict of ICCEstimate
    cost : CostModel
    budget : float
        Yuan.
    settings : dict
        ``shortfall``, ``indicators``, ``objective``, ``alpha``, ``family_size``,
        ``budget_households`` (when the budget was given in households), ``reps``/``seed`` of
        the confirmation, ``power_at_upper`` (the plan's weakest power at the upper ρ limits).
    district : str
        What the summary calls the whole county: the spec's county level (全区, 全县, 全市;
        :func:`quchi_stats.labels.district_label`), 全县（区） when the spec names none.
    """

    plan: DesignPlan
    default: DesignPlan
    table: pd.DataFrame
    towns: pd.DataFrame
    icc: dict[str, ICCEstimate]
    cost: CostModel
    budget: float
    settings: dict[str, Any] = field(default_factory=dict)
    district: str = DISTRICT_UNNAMED

    def to_frame(self, *, chinese: bool = False) -> pd.DataFrame:
        if not chinese:
            return self.table.copy()
        t = self.table.copy()
        t["design"] = t["design"].map({"plan": "成本最优设计", "default": "默认设计"})
        return t.rename(columns=column_labels("plan"))

    def __str__(self) -> str:
        p = self.plan
        per = "、".join(f"{_FRAME_ZH[f]} {p.households_per_village[f]} 户" for f in FRAME_NAMES)
        s = self.settings
        lines = [f"成本最优设计（{p.year} 年）：{self.district} {p.villages_total} 个村（各镇等量分配），"
                 f"每村抽{per}；"
                 f"预算 {self.budget:,.0f} 元（每村 {self.cost.village:g} 元，每户 "
                 f"{self.cost.household:g} 元）",
                 f"目标：一个镇的一项指标比标准低 {s['shortfall'] * 100:g} 个百分点时，最弱镇被判定偏低的"
                 f"把握度最大（多重比较族 {s['family_size']} 个检验，alpha {s['alpha']:g}）"]
        v = (self.towns[(self.towns["design"] == "plan")].drop_duplicates("town")
             .set_index("town")["villages"])
        lines.append("  各镇抽村数：" + "、".join(f"{t} {int(n)}" for t, n in v.items()))
        for name, e in self.icc.items():
            src = ("给定" if e.source == "given" else
                   f"由 {'、'.join(map(str, e.years))} 年的 {e.villages} 个村估计，"
                   f"{e.level:.0%} 区间 {e.lower:.3f}–{e.upper:.3f}")
            lines.append(f"  村内相关系数 {_label(self, name)}：{e.rho:.3f}（{src}）")
        return "\n".join(lines)




def _label(res: PlanResult, name: str) -> str:
    t = res.table
    hit = t.loc[t["indicator"] == name, "label"]
    return str(hit.iloc[0]) if len(hit) else name


def _budget(register, cost, budget_yuan, budget_households, default) -> tuple[float, dict]:
    if (budget_yuan is None) == (budget_households is None):
        raise ParameterError("optimise_plan needs exactly one of 'budget_yuan' and "
                             "'budget_households'.")
    info: dict[str, Any] = {}
    if budget_yuan is not None:
        if isinstance(budget_yuan, bool) or not isinstance(budget_yuan, int | float) \
                or not budget_yuan > 0 or not math.isfinite(budget_yuan):
            raise ParameterError(f"The 'budget_yuan' parameter of optimise_plan must be > 0. "
                                 f"Got {budget_yuan!r}.")
        return float(budget_yuan), info
    if isinstance(budget_households, bool) or not isinstance(budget_households, int | float) \
            or not budget_households > 0 or not math.isfinite(budget_households):
        raise ParameterError(f"The 'budget_households' parameter of optimise_plan must be > 0. "
                             f"Got {budget_households!r}.")
    base = expected_cost(register, default, cost)
    # the money that today's design costs for H households (its villages scaled with them)
    b = base["yuan"] * float(budget_households) / base["households"]
    info["budget_households"] = float(budget_households)
    return b, info


def optimise_plan(register: pd.DataFrame, year: int, *, spec: AssessmentSpec | None = None,
                  icc: float | Mapping[str, Any] = 0.05, cost: CostModel = DEFAULT_COST,
                  budget_yuan: float | None = None, budget_households: float | None = None,
                  indicators: Sequence[str] = PLAN_INDICATORS, shortfall: float = 0.10,
                  objective: str = "power", default: DesignPlan | None = None,
                  max_per_frame: int = MAX_PER_FRAME) -> PlanResult:
    """The cost-optimal plan (module docstring).

    Parameters
    ----------
    register : DataFrame
        The canonical register of ``year`` (villages and frame sizes).
    year : int
    spec : AssessmentSpec, optional
        Thresholds, ``alpha``, multiplicity (default the shipped spec of ``year``).
    icc : float or dict
        ρ per indicator: a number, ``{indicator: number}`` or ``{indicator: ICCEstimate}`` (from
        :func:`estimate_icc`); indicators left out get 0.05.
    cost : CostModel
    budget_yuan, budget_households : float
        Exactly one. A budget in households is the cost of the default design scaled to that
        many households (``cost(default) · H / households(default)``): "the money of H households
        at today's villages per household".
    indicators : sequence of str
        The indicators whose weakest town's power is maximised. A frame none of them uses keeps
        the default design's households per village (and their cost counts against the budget).
    shortfall : float
        How far below its standard a low town is (default 10 points).
    objective : {"power", "variance"}
        Maximise the weakest power (default), or minimise the largest ``p0(1 − p0)/I_t``.
    default : DesignPlan, optional
        The design to compare with (and whose other settings — selection method, reserves,
        ``risk_factor`` — the plan keeps); default ``DesignPlan(year=year)``. The analytic power
        ignores ``risk_factor`` (risk households oversampled for 漏评): it is carried through to
        the plan unchanged, not searched; :func:`confirm_plan` simulates it.
    max_per_frame : int
        Largest number of households per village and frame searched.

    The budget constrains the **expected** cost over the πps draw of villages (the largest
    possible cost is reported beside it, :func:`expected_cost`).
    """
    func = "optimise_plan"
    spec = load_spec(year) if spec is None else spec
    if objective not in ("power", "variance"):
        raise ParameterError(f"The 'objective' parameter of {func} must be 'power' or 'variance'. "
                             f"Got {objective!r}.")
    inds = _check_indicators(spec, indicators, func)
    if isinstance(shortfall, bool) or not isinstance(shortfall, int | float) \
            or not 0 < shortfall < min(i.threshold for i in inds):
        raise ParameterError(f"The 'shortfall' parameter of {func} must be in (0, "
                             f"{min(i.threshold for i in inds)}). Got {shortfall!r}.")
    default = DesignPlan(year=year) if default is None else default
    budget, binfo = _budget(register, cost, budget_yuan, budget_households, default)
    rhos = {i.name: _rho_of(icc, i.name) for i in inds}
    d = _district(register, year)
    T = len(d.towns)
    used = [f for f in FRAME_NAMES if any(f in i.frames for i in inds)]
    cap = {f: int(min(max_per_frame, max(d.N[f].max(), 1))) for f in used}
    lo_k = int(np.minimum(d.n_villages, default.min_villages_per_town).sum())
    best: tuple | None = None
    for K in range(lo_k, int(d.n_villages.sum()) + 1):
        if cost.village * K >= budget:
            break
        cand = replace(default, villages_total=K, village_allocation="equal")
        alloc = _allocation(d, cand)
        pi = _pi(d, cand, alloc)
        crit = _crit(spec, T, int(alloc.sum()))
        # frames no chosen indicator uses keep the default design's households, at their cost
        fixed = cost.household * sum(
            (pi * _drawn(d.N[f], default.households_wanted(f, 10**9))).sum()
            for f in FRAME_NAMES if f not in used) if default.household_fraction is None else 0.0
        left = budget - cost.village * K - fixed
        found = _best_households(d, inds, rhos, pi, crit, used, cap, left, cost, shortfall,
                                 objective)
        if found is None:
            continue
        key, m, spent = found
        spent += fixed
        total_key = (key[0], key[1], -(cost.village * K + spent))
        if best is None or _better(total_key, best[0]):
            best = (total_key, K, m)
    if best is None:
        raise DataError(f"预算 {budget:,.0f} 元不足以在每镇抽 {default.min_villages_per_town} 个村、"
                        "每村每个抽样框抽 1 户")
    _, K, m = best
    per = {f: int(m[f]) if f in m else (default.households_per_village[f]
                                        if default.household_fraction is None else 0)
           for f in FRAME_NAMES}
    plan = replace(default, villages_total=int(K), village_allocation="equal",
                   households_per_village=per, household_fraction=None)
    settings = {"shortfall": float(shortfall), "indicators": [i.name for i in inds],
                "objective": objective, "alpha": spec.alpha,
                "family_size": _family_size(spec, T), **binfo}
    icc_est = {}
    for i in inds:
        v = icc.get(i.name) if isinstance(icc, Mapping) else None
        icc_est[i.name] = (v if isinstance(v, ICCEstimate)
                           else ICCEstimate(i.name, rhos[i.name], rhos[i.name], rhos[i.name],
                                            "given"))
    return _compare(register, plan, default, spec, icc_est, cost, budget, settings)


def _better(a: tuple, b: tuple, tol: float = 1e-4) -> bool:
    """Lexicographic comparison with a tolerance on the power terms."""
    for x, y in zip(a[:2], b[:2], strict=True):
        if x > y + tol:
            return True
        if x < y - tol:
            return False
    return a[2] > b[2] + 1e-9


def _best_households(d, inds, rhos, pi, crit, used, cap, left, cost, shortfall, objective):
    """For one village allocation: the households per frame that maximise the objective within
    ``left`` yuan. Returns ((weakest, mean), {frame: m}, households' yuan) or None."""
    T = len(d.towns)
    vt = d.village_town
    # expected households drawn per frame for every m = 1..cap (cost is separable by frame)
    hh = {f: np.array([(pi * _drawn(d.N[f], m)).sum() for m in range(1, cap[f] + 1)])
          for f in used}
    grids = np.meshgrid(*[np.arange(1, cap[f] + 1) for f in used], indexing="ij")
    ms = {f: g.ravel() for f, g in zip(used, grids, strict=True)}
    spend = sum(hh[f][ms[f] - 1] for f in used) * cost.household
    ok = spend <= left + 1e-9
    if not ok.any():
        return None
    ms = {f: v[ok] for f, v in ms.items()}
    spend = spend[ok]
    n = spend.size
    scores = np.empty((len(inds), n))
    for j, ind in enumerate(inds):
        rho = rhos[ind.name]
        fr = list(ind.frames)
        # unique combinations of this indicator's frames only (most indicators use one frame)
        combo = np.stack([ms[f] for f in fr], axis=1)
        uniq, inv = np.unique(combo, axis=0, return_inverse=True)
        inv = inv.ravel()
        val = np.empty((uniq.shape[0],))
        step = max(1, 2_000_000 // max(d.size.size, 1))
        for a in range(0, uniq.shape[0], step):
            u = uniq[a:a + step]
            mm = {f: u[:, c][:, None] for c, f in enumerate(fr)}
            info_v = _village_info(d, fr, ind.unit == "person", mm, rho)  # (u, V)
            info = np.stack([(info_v[:, vt == t] * pi[vt == t]).sum(axis=1) for t in range(T)],
                            axis=1)
            if objective == "power":
                hh_v = sum(_drawn(d.N[f], mm[f]) for f in fr)  # (u, V)
                hh_t = np.stack([(hh_v[:, vt == t] * pi[vt == t]).sum(axis=1)
                                 for t in range(T)], axis=1)
                pw = _power_from_info(info, ind.threshold, ind.threshold - shortfall, crit, hh_t)
                val[a:a + step] = pw.min(axis=1)
            else:
                # log information per unit of variance: the tolerance of the comparisons is then
                # relative (1e-4 = 0.01%)
                with np.errstate(divide="ignore"):
                    val[a:a + step] = np.log(info / (ind.threshold * (1 - ind.threshold))
                                             ).min(axis=1)
        scores[j] = val[inv]
    weakest = scores.min(axis=0)
    mean = scores.mean(axis=0)
    order = np.lexsort((spend, -mean, -weakest))
    i = order[0]
    # ties within the tolerance: the cheapest of the near-best
    near = (weakest >= weakest[i] - 1e-4) & (mean >= mean[i] - 1e-4)
    i = int(np.flatnonzero(near)[np.argmin(spend[near])])
    return (float(weakest[i]), float(mean[i])), {f: int(ms[f][i]) for f in used}, float(spend[i])


def _compare(register, plan, default, spec, icc_est, cost, budget, settings) -> PlanResult:
    rows, towns = [], []
    names = list(icc_est)
    for tag, p in (("plan", plan), ("default", default)):
        ap = analytic_power(register, p, spec=spec, icc={k: v.rho for k, v in icc_est.items()},
                            indicators=names, shortfall=settings["shortfall"])
        c = expected_cost(register, p, cost)
        for name, g in ap.groupby("indicator", sort=False):
            rows.append({"design": tag, "indicator": name, "label": g["label"].iloc[0],
                         "min_power": float(g["power"].min()),
                         "mean_power": float(g["power"].mean()),
                         "villages": c["villages"], "households": c["households"],
                         "yuan": c["yuan"]})
        towns.append(ap.assign(design=tag))
    up = analytic_power(register, plan, spec=spec, icc={k: v.upper for k, v in icc_est.items()},
                        indicators=names, shortfall=settings["shortfall"])
    settings = {**settings, "power_at_upper": up.groupby("indicator", sort=False)["power"].min()
                .to_dict(), "cost_plan": expected_cost(register, plan, cost),
                "cost_default": expected_cost(register, default, cost)}
    return PlanResult(plan, default, pd.DataFrame(rows), pd.concat(towns, ignore_index=True),
                      icc_est, cost, budget, settings, district_label(spec.county))


def confirm_plan(register: pd.DataFrame, result: PlanResult, *, reps: int = 200, seed: int = 0,
                 spec: AssessmentSpec | None = None,
                 risk_ratio: float | Mapping[str, float] = 1.0) -> PlanResult:
    """Simulate both designs of ``result`` with :func:`~quchi_stats.simulate.simulate_design`
    (``reps`` replicates, the planned ρ and shortfall) and add the simulated weakest and mean
    power and the familywise false-flag rate to the table (Monte Carlo SE of a power P:
    √(P(1 − P)/reps)).

    Both designs keep the ``risk_factor`` of the default design :func:`optimise_plan` was given
    (the analytic search does not model the oversampling of risk households; it is carried
    through unchanged); the simulation draws with it, risk households being ``risk_ratio`` times
    as likely to be 漏评 as the others of their village (:func:`~quchi_stats.simulate.
    simulate_design`)."""
    from .simulate import simulate_design

    spec = load_spec(result.plan.year) if spec is None else spec
    s = result.settings
    table = result.table.copy()
    towns = result.towns.copy()
    for tag, p in (("plan", result.plan), ("default", result.default)):
        sim = simulate_design(register, p, spec=spec, indicators=s["indicators"],
                              shortfall=s["shortfall"],
                              icc={k: v.rho for k, v in result.icc.items()}, reps=reps, seed=seed,
                              risk_ratio=risk_ratio)
        g = sim.table.groupby("indicator", sort=False)["power"]
        sel = table["design"] == tag
        table.loc[sel, "sim_min_power"] = table.loc[sel, "indicator"].map(g.min()).to_numpy()
        table.loc[sel, "sim_mean_power"] = table.loc[sel, "indicator"].map(g.mean()).to_numpy()
        table.loc[sel, "sim_familywise"] = sim.familywise_false_flag
        key = sim.table.set_index(["town", "indicator"])["power"]
        tsel = towns["design"] == tag
        towns.loc[tsel, "sim_power"] = [key.get((a, b), np.nan) for a, b in
                                        zip(towns.loc[tsel, "town"], towns.loc[tsel, "indicator"],
                                            strict=True)]
    return replace(result, table=table, towns=towns,
                   settings={**s, "reps": int(reps), "seed": int(seed)})


# --------------------------------------------------------------------------------------------
# the plan file
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return '"nan"'
        return repr(round(v, 6))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v).__name__)


def _table(name: str, values: Mapping[str, Any], comment: str = "") -> list[str]:
    out = [f"[{name}]" + (f"  # {comment}" if comment else "")]
    subs = []
    for k, v in values.items():
        if v is None:
            continue
        if isinstance(v, Mapping):
            subs.append((k, v))
            continue
        out.append(f"{k} = {_toml_value(v)}")
    for k, v in subs:
        out.append("")
        out.extend(_table(f"{name}.{k}", v))
    return out


def plan_toml(result: PlanResult) -> str:
    """The text of the plan file of ``result`` (see :func:`write_plan`)."""
    s = result.settings
    c = s["cost_plan"]
    lines = [f"# 成本最优的单阶段抽查设计（quchi-stats plan 生成，{result.plan.year} 年）",
             "# [plan] 是抽样参数：quchi-stats design --plan 本文件 按它抽样；其余各节记录它是怎样选出的。",
             f"format = {PLAN_FORMAT}", 'kind = "plan"', f"year = {result.plan.year}",
             f"version = {_toml_value(__version__)}", ""]
    lines += _table("plan", result.plan.to_dict(), "抽样参数（DesignPlan）")
    lines.append("")
    lines += _table("cost", {"village_yuan": float(result.cost.village),
                             "household_yuan": float(result.cost.household),
                             "budget_yuan": float(result.budget),
                             "budget_households": s.get("budget_households"),
                             "villages": int(c["villages"]),
                             "expected_households": float(c["households"]),
                             "expected_yuan": float(c["yuan"]),
                             "max_households": float(c["households_max"]),
                             "max_yuan": float(c["yuan_max"])}, "费用模型与预算（按期望费用约束）")
    lines.append("")
    lines += _table("objective", {"shortfall": s["shortfall"], "indicators": s["indicators"],
                                  "objective": s["objective"], "alpha": s["alpha"],
                                  "family_size": int(s["family_size"]),
                                  "reps": s.get("reps"), "seed": s.get("seed")},
                    "目标：最弱镇的判定把握度最大")
    for name, e in result.icc.items():
        lines.append("")
        lines += _table(f"icc.{name}", e.to_dict())
    t = result.table.set_index(["design", "indicator"])
    for name in result.icc:
        vals = {"plan_min_power": float(t.loc[("plan", name), "min_power"]),
                "default_min_power": float(t.loc[("default", name), "min_power"]),
                "plan_min_power_at_upper_icc": float(s["power_at_upper"][name])}
        if "sim_min_power" in t:
            vals["plan_sim_min_power"] = float(t.loc[("plan", name), "sim_min_power"])
            vals["default_sim_min_power"] = float(t.loc[("default", name), "sim_min_power"])
        lines.append("")
        lines += _table(f"power.{name}", vals)
    return "\n".join(lines) + "\n"


def write_plan(result: PlanResult, path: str | Path, *, force: bool = False) -> Path:
    """Write the plan file (TOML, UTF-8): ``[plan]`` holds the :class:`DesignPlan` that
    ``design --plan`` draws; ``[cost]``, ``[objective]``, ``[icc.*]`` and ``[power.*]`` record how
    it was chosen. An existing file is replaced only with ``force``."""
    from .errors import OutputExistsError
    from .io.writers import atomic_write_bytes

    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} 已存在；如需替换，请加 --force。")
    atomic_write_bytes(path, plan_toml(result).encode("utf-8"))
    return path


@dataclass(frozen=True)
class PlanFile:
    """A plan file as read: the :class:`DesignPlan`, the file's text and its SHA-256 (of the
    bytes on disk)."""

    plan: DesignPlan
    text: str
    sha256: str
    name: str

    def to_manifest(self) -> dict[str, str]:
        return {"file": self.name, "sha256": self.sha256, "text": self.text}


_TOP_KEYS = ("format", "kind", "year", "version", "plan", "cost", "objective", "icc", "power")


def read_plan(path: str | Path, *, year: int | None = None) -> PlanFile:
    """Read a plan file written by :func:`write_plan` (or edited by hand).

    Every problem is one :class:`DataError` line naming the file: not UTF-8 or not TOML, an
    unknown top-level key or ``[plan]`` key (with the nearest valid one), a ``[plan]`` that
    :class:`DesignPlan` refuses, a plan for another year than ``year``.
    """
    from ._strict import read_text_capped
    from .sampling.manifest import plan_from_record

    path = Path(path)
    name = path.name
    if not path.is_file():
        raise DataError("抽样计划文件不存在" if not path.exists() else "抽样计划应为普通的 TOML 文件",
                        file=str(path))
    raw = path.read_bytes()
    text = read_text_capped(path, name, MAX_PLAN_BYTES, "抽样计划文件")
    lead = "不是有效的抽样计划："
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{lead}TOML 格式错误（{str(exc).splitlines()[0][:160]}）", file=name) \
            from None
    except (RecursionError, ValueError):
        raise DataError(f"{lead}TOML 无法读取", file=name) from None
    for key in doc:
        if key not in _TOP_KEYS:
            best = difflib.get_close_matches(key, _TOP_KEYS, n=1, cutoff=0.6)
            hint = f"是否应为 {best[0]}？" if best else "可用的键：" + "、".join(_TOP_KEYS)
            raise DataError(f"{lead}未知的键 {key}（{hint}）", file=name)
    if doc.get("kind", "plan") != "plan":
        raise DataError(f"{lead}kind 应为 \"plan\"，实际为 {doc.get('kind')!r}", file=name)
    fmt = doc.get("format", PLAN_FORMAT)
    if type(fmt) is not int or not 1 <= fmt <= PLAN_FORMAT:
        raise DataError(f"{lead}format 应为 1–{PLAN_FORMAT} 的整数，实际为 {fmt!r}", file=name)
    plan = doc.get("plan")
    if not isinstance(plan, dict):
        raise DataError(f"{lead}缺少 [plan] 一节（抽样参数）", file=name)
    if "year" not in plan:
        raise DataError(f"{lead}[plan] 缺少 year（考核年度）", file=name)
    parsed = plan_from_record(plan, name, lead, style="toml")
    if "year" in doc and doc["year"] != parsed.year:
        raise DataError(f"{lead}year = {doc['year']!r} 与 [plan] year = {parsed.year} 不符",
                        file=name)
    if year is not None and parsed.year != year:
        raise DataError(f"抽样计划是 {parsed.year} 年的，不是本次的 {year} 年", file=name)
    return PlanFile(parsed, text, hashlib.sha256(raw).hexdigest(), name)

