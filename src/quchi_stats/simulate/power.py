"""Design power by simulation: each town's chance of being flagged (第七条（四）) under a design.

:func:`simulate_design` takes the register, a :class:`~quchi_stats.sampling.DesignPlan` and the
year's spec, and for ``reps`` replicate spot-checks:

1. draws the villages of every town exactly as :func:`~quchi_stats.sampling.draw_sample` does
   (same allocation, same πps sizes and list order, certainty villages), vectorised across
   replicates (:func:`~quchi_stats.sampling.select_replicates`);
2. gives every village of a town a true rate per indicator from a beta distribution with the
   town's rate as its mean and intra-village correlation ``icc``, and every household of the
   indicator's frames a Bernoulli outcome at its village's rate: the village's count of "good"
   households is binomial, and the households drawn from it (the plan's numbers per frame, with
   the frame sizes of the register) are a hypergeometric draw from that finite village — so the
   town's true rate of the replicate is a finite-population rate, the estimand of the interval;
3. estimates each town's rate, its linearisation variance, interval and one-sided p-value against
   the threshold with the estimator, variance, interval method, ``deff_floor`` and multiplicity
   adjustment the yearly report uses (strata = towns, PSUs = villages, with-replacement first
   stage, weights ``1/(π_village · m/N)``), in closed form across replicates — a test checks it
   against :func:`~quchi_stats.estimation.estimate_proportion` on the same households;
4. flags a town when its adjusted p-value is below ``alpha``.

Two scenarios are simulated from the same replicates. Under the *compliant* truth every town is at
its compliant rate (default: halfway between the threshold and 1): the share of replicates that
flag a town is its **false-flag rate**. For **power**, one town × indicator at a time is set
``shortfall`` below the threshold, all others compliant, and the share of replicates that flag it
is its power — the situation of one problem town among compliant ones. With an explicit ``truth``
table only that scenario is simulated and ``flag_rate`` is reported for every cell.

Assumptions (stated in the result): every drawn household responds; rates are per household (the
report counts 错退 and 漏评 per person — household sizes change the variance little); the
multiplicity family is every town × indicator test of the spec, the indicators not simulated
counting as compliant (p = 1), which is what the yearly report adjusts over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError, check_int, check_probability
from ..estimation.intervals import one_sided_pvalue, proportion_interval
from ..flags.thresholds import adjust_rows
from ..sampling.draw import FRAME_NAMES, DesignPlan, village_plan
from ..sampling.selection import select_replicates
from ..spec import AssessmentSpec, load_spec

__all__ = ["DEFAULT_INDICATORS", "DesignPowerResult", "compare_designs", "flags_one_replaced",
           "simulate_design"]

#: The four rates of 第七条（四） simulated by default.
DEFAULT_INDICATORS = ("identification_accuracy", "exit_accuracy", "missed_rate",
                      "satisfaction_rate")

#: Replicates per block: each block has its own random stream, so a run of R replicates is the
#: first R replicates of any longer run with the same seed, whatever the progress reporting.
CHUNK = 500
#: ... fewer for a large register, so a block's village arrays stay near this many values.
_BLOCK_VALUES = 4_000_000

_FRAME_ZH = {"registered": "建档立卡户", "exited": "当年退出户", "non_registered": "非建档立卡户"}
_ALLOCATION_ZH = {"equal": "等量分配", "proportional": "按村数比例分配", "sqrt": "平方根分配",
                  "neyman": "Neyman 分配"}

_RESULT_LABELS_ZH = {
    "town": "镇", "indicator": "指标", "label": "指标名称", "threshold": "标准",
    "villages": "抽查村数", "households": "平均入户数", "compliant_rate": "达标时真实比率",
    "low_rate": "偏低时真实比率", "false_flag_rate": "误判率", "power": "判定把握度",
    "power_unadjusted": "未校正把握度", "coverage": "区间覆盖率", "mean_width": "区间平均宽度",
    "true_rate": "真实比率", "flag_rate": "判定偏低比例", "compliant": "真实达标",
}


@dataclass(frozen=True)
class DesignPowerResult:
    """Per town × indicator: false-flag rate, power, coverage and mean width of the intervals.

    Attributes
    ----------
    table : DataFrame
        One row per town and indicator (see :func:`simulate_design` for the columns).
    familywise_false_flag : float
        Share of replicates that flag at least one town while every town is compliant (NaN with an
        explicit ``truth`` that has a low cell).
    plan : DesignPlan
    reps, seed : int
    settings : dict
        ``icc``, ``shortfall``, ``alpha``, ``multiplicity``, ``family_size``, ``method``, ``level``,
        ``deff_floor`` and the assumptions.
    """

    table: pd.DataFrame
    familywise_false_flag: float
    plan: DesignPlan
    reps: int
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self, *, chinese: bool = False) -> pd.DataFrame:
        """The table (a copy); ``chinese=True`` labels the columns in Chinese, for people to read."""
        return self.table.rename(columns=_RESULT_LABELS_ZH) if chinese else self.table.copy()

    def summary(self) -> pd.DataFrame:
        """Per indicator: households per town, the lowest and mean power and the highest
        false-flag rate across towns, and mean coverage."""
        t = self.table
        g = t.groupby(["indicator", "label"], sort=False)
        out = pd.DataFrame({"households": g["households"].mean(),
                            "coverage": g["coverage"].mean(),
                            "mean_width": g["mean_width"].mean()})
        if "power" in t:
            out["min_power"] = g["power"].min()
            out["mean_power"] = g["power"].mean()
            out["max_false_flag_rate"] = g["false_flag_rate"].max()
        else:
            out["mean_flag_rate"] = g["flag_rate"].mean()
        return out.reset_index()

    def __str__(self) -> str:
        p = self.plan
        if p.household_fraction is None:
            per = "、".join(f"{_FRAME_ZH[f]} {p.households_per_village[f]} 户" for f in FRAME_NAMES)
        else:
            per = "、".join(f"{_FRAME_ZH[f]} {p.household_fraction[f]:.0%}" for f in FRAME_NAMES)
        icc = self.settings.get("icc")
        if isinstance(icc, Mapping):
            labels = dict(zip(self.table["indicator"], self.table["label"], strict=False))
            icc = "、".join(f"{labels.get(k, k)} {v:g}" for k, v in icc.items()) + "，其余 0.05"
        head = (f"抽查设计模拟：{p.villages_total} 个村（{_ALLOCATION_ZH.get(p.village_allocation)}），"
                f"每村抽{per}；{self.reps} 次重复（种子 {self.seed}，村内相关系数 ICC {icc}）")
        lines = [head]
        if "shortfall" in self.settings and "power" in self.table:
            lines.append(f"把握度：一个镇的一项指标比标准低 {self.settings['shortfall'] * 100:g} 个百分点、"
                         "其余都达标时，它被判定显著偏低的比例")
        if np.isfinite(self.familywise_false_flag):
            lines.append(f"全部达标时至少误判一个镇的比例：{self.familywise_false_flag:.1%}")
        for _, r in self.summary().iterrows():
            if "min_power" in r:
                lines.append(f"  {r['label']}：每镇约 {r['households']:.0f} 户，最低把握度 "
                             f"{r['min_power']:.1%}，平均 {r['mean_power']:.1%}，最高误判率 "
                             f"{r['max_false_flag_rate']:.1%}，覆盖率 {r['coverage']:.1%}")
            else:
                lines.append(f"  {r['label']}：判定偏低比例平均 {r['mean_flag_rate']:.1%}，"
                             f"覆盖率 {r['coverage']:.1%}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (f"<p>{str(self).splitlines()[0]}</p>"
                + self.to_frame(chinese=True).to_html(index=False, float_format=lambda v: f"{v:.3f}"))


@dataclass(frozen=True)
class _Frame:
    """Fixed facts of the district under a plan: villages, towns, frame sizes, households drawn."""

    towns: list[str]
    village_town: np.ndarray          # (V,) town index of each village
    size: np.ndarray                  # (V,) πps size
    certain: np.ndarray               # (V,) bool: taken with certainty
    n_drawn: np.ndarray               # (T,) villages drawn per town
    N: dict[str, np.ndarray]          # frame → (V,) households in the frame
    m: dict[str, np.ndarray]          # frame → (V,) households drawn when the village is drawn


def _district(register: pd.DataFrame, plan: DesignPlan) -> _Frame:
    _, vill, towns, _, alloc, _ = village_plan(register, plan)
    town_idx = {t: i for i, t in enumerate(towns)}
    village_town = vill["town"].map(town_idx).to_numpy()
    certain = (vill["priority"].to_numpy().astype(bool) if plan.certainty_priority_villages
               else np.zeros(len(vill), bool))
    n_drawn = np.array([max(int(a), int(certain[village_town == i].sum()))
                        for i, a in enumerate(alloc)])
    N = {f: vill[f"households_{f}"].to_numpy().astype(np.int64) for f in FRAME_NAMES}
    m = {f: np.array([plan.households_wanted(f, int(v)) if v else 0 for v in N[f]], np.int64)
         for f in FRAME_NAMES}
    size = np.maximum(vill["n_registered"].to_numpy(), 1).astype(float)
    return _Frame(towns, village_town, size, certain, n_drawn, N, m)


def _select(d: _Frame, plan: DesignPlan, reps: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(reps, T, n_max) global indices of the drawn villages (padding: V) and their π."""
    V, T = d.size.size, len(d.towns)
    n_max = int(d.n_drawn.max())
    idx = np.full((reps, T, n_max), V, dtype=np.intp)
    pi = np.ones((reps, T, n_max))
    for t in range(T):
        vs = np.flatnonzero(d.village_town == t)
        cert = vs[d.certain[vs]]
        rest = vs[~d.certain[vs]]
        k = int(d.n_drawn[t]) - cert.size
        idx[:, t, : cert.size] = cert
        if k > 0 and rest.size:
            order = -d.size[rest] if plan.village_order == "size" else None
            chosen, pik = select_replicates(plan.village_method, d.size[rest], min(k, rest.size),
                                            reps, rng, order=order)
            idx[:, t, cert.size: cert.size + chosen.shape[1]] = rest[chosen]
            pi[:, t, cert.size: cert.size + chosen.shape[1]] = pik[chosen]
    return idx, pi


def _village_rates(mean: np.ndarray, icc: float, reps: int,
                   rng: np.random.Generator) -> np.ndarray:
    """(reps, V) village rates with the given means and intra-village correlation."""
    inner = (mean > 0) & (mean < 1)
    out = np.broadcast_to(mean, (reps, mean.size)).copy()
    if icc > 0 and inner.any():
        a = mean[inner] * (1 - icc) / icc
        b = (1 - mean[inner]) * (1 - icc) / icc
        out[:, inner] = rng.beta(a, b, size=(reps, int(inner.sum())))
    return out


def _replicates(d: _Frame, frames: Sequence[str], truth: np.ndarray, icc: float,
                idx: np.ndarray, pi: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Estimates of one indicator for every town and replicate, and the finite-population truth.

    ``truth`` holds each town's rate (T,). Returns ``p_hat``, ``v``, ``n``, ``df``, ``true``
    (reps × T) and the households ``y``/``m`` drawn per village and frame (for the tests).
    """
    reps, T, n_max = idx.shape
    rates = _village_rates(truth[d.village_town], icc, reps, rng)
    flat = idx.reshape(reps, -1)
    t_v = np.zeros((reps, T, n_max))
    x_v = np.zeros((reps, T, n_max))
    n_v = np.zeros((reps, T, n_max))
    pop_good = np.zeros((reps, T))
    pop_all = np.zeros(T)
    drawn = {}
    for f in frames:
        N = d.N[f]
        Y = rng.binomial(N[None, :], rates)                      # good households per village
        pop_good += np.stack([Y[:, d.village_town == t].sum(axis=1) for t in range(T)], axis=1)
        pop_all += np.bincount(d.village_town, weights=N, minlength=T)
        Npad = np.append(N, 0)
        mpad = np.append(d.m[f], 0)
        Ys = np.take_along_axis(np.pad(Y, ((0, 0), (0, 1))), flat, axis=1).reshape(idx.shape)
        Ns, ms = Npad[idx], mpad[idx]
        y = rng.hypergeometric(Ys, np.where(Ns > 0, Ns - Ys, 1), np.maximum(ms, 1))
        y = np.where(ms > 0, y, 0)
        w = np.where(ms > 0, Ns / np.maximum(ms, 1) / pi, 0.0)   # household weight 1/(π_v · m/N)
        t_v += w * y
        x_v += w * ms
        n_v += ms
        drawn[f] = (y, ms)
    present = n_v > 0
    X = x_v.sum(axis=2)
    Ysum = t_v.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(X > 0, Ysum / np.where(X > 0, X, 1.0), np.nan)
        Rz = np.nan_to_num(R)
        z = np.where(present, (t_v - Rz[..., None] * x_v) / np.where(X > 0, X, 1.0)[..., None], 0)
        n_h = present.sum(axis=2)
        zbar = z.sum(axis=2) / np.maximum(n_h, 1)
        dev2 = (np.where(present, z - zbar[..., None], 0.0) ** 2).sum(axis=2)
        v = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1) * dev2, 0.0)
        n = n_v.sum(axis=2)
        # as estimate_proportion: rounding noise of an exactly constant rate is a zero variance
        s2 = (Ysum * (1 - 2 * Rz) + Rz**2 * X) / X * n / (n - 1)
        v_srs = s2 / n * (X - n) / X
        v = np.where(v <= 1e-12 * np.nan_to_num(v_srs, nan=0.0), 0.0, v)
        true = pop_good / np.where(pop_all > 0, pop_all, np.nan)
    return {"p_hat": R, "v": v, "n": n, "df": np.maximum(n_h - 1, 0), "true": true,
            "drawn": drawn}


def flags_one_replaced(base: np.ndarray, alt: np.ndarray, method: str, m: int,
                       alpha: float) -> np.ndarray:
    """For every row and column c: is test c flagged when its p-value is ``alt[:, c]`` and every
    other test keeps its ``base`` p-value? (replicates × tests, booleans)

    Holm's step-down flags c exactly when every p-value ranked before it, and its own, is below
    ``alpha/(m − position)``; with prefix counts of the failures of the sorted base row (and of the
    row shifted by one, for the positions after c's own), each of the n columns is decided in O(1)
    after one sort: O(n log n) per row instead of n adjustments of n values. Benjamini–Hochberg
    adjusts the n modified rows, in blocks that bound memory. NaN p-values are out of the family
    (a test that is NaN in ``base`` is never flagged).
    """
    r, n = base.shape
    x = alt
    if method == "none":
        return np.nan_to_num(x, nan=1.0) < alpha
    if method == "bh":
        out = np.zeros((r, n), dtype=bool)
        step = max(1, 2_000_000 // max(r * n, 1))
        for c0 in range(0, n, step):
            cs = np.arange(c0, min(n, c0 + step))
            stack = np.broadcast_to(base, (cs.size, r, n)).copy()
            stack[np.arange(cs.size), :, cs] = x[:, cs].T
            adj = adjust_rows(stack.reshape(-1, n), method, m).reshape(cs.size, r, n)
            out[:, cs] = (adj[np.arange(cs.size), :, cs] < alpha).T
        return out
    finite = np.isfinite(base)
    m_row = finite.sum(axis=1, keepdims=True) + (m - n)
    order = np.argsort(np.where(finite, base, np.inf), axis=1, kind="stable")
    srt = np.take_along_axis(np.where(finite, base, 2.0), order, axis=1)    # NaN last, as 2
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(r, axis=0), axis=1)
    crit = alpha / np.maximum(m_row - np.arange(n)[None, :], 1)             # α/(m − j)
    zero = np.zeros((r, 1), dtype=np.int64)
    fail_a = np.concatenate((zero, np.cumsum(~(srt < crit), axis=1)), axis=1)
    fail_b = np.concatenate((zero, np.cumsum(~(srt[:, 1:] < crit[:, :-1]), axis=1)), axis=1)
    # position of x among the other tests: #(sorted base < x) − [c's own base value < x]
    rows = np.arange(r)[:, None]
    xs = np.where(np.isfinite(x), x, 2.0)
    below = (np.searchsorted((srt + 3.0 * rows).ravel(), (xs + 3.0 * rows).ravel(), side="left")
             .reshape(r, n) - n * rows)
    own = np.take_along_axis(srt, rank, axis=1)
    pos = below - (own < xs)
    before = np.minimum(pos, rank)
    ok_a = np.take_along_axis(fail_a, before, axis=1) == 0
    ok_b = np.where(pos > rank, np.take_along_axis(fail_b, np.maximum(pos, rank), axis=1)
                    - np.take_along_axis(fail_b, rank, axis=1), 0) == 0
    ok_x = xs < np.take_along_axis(crit, np.minimum(pos, n - 1), axis=1)
    return ok_a & ok_b & ok_x & np.isfinite(x) & finite


def _test_and_interval(sim: dict[str, np.ndarray], threshold: float, spec: AssessmentSpec,
                       interval: bool = True) -> tuple[np.ndarray, ...]:
    """One-sided p-values against ``threshold`` (NaN for a town with no household drawn) and,
    with ``interval``, the bounds — the calls :func:`~quchi_stats.estimation.estimate_proportion`
    makes for the report."""
    n, v, df = sim["n"], sim["v"], sim["df"]
    pz = np.nan_to_num(sim["p_hat"])
    shape = n.shape
    pv = one_sided_pvalue(pz, v, np.maximum(n, 1), df, threshold, method=spec.interval_method,
                          level_for_n=spec.level, deff_floor=spec.deff_floor).reshape(shape)
    pv = np.where(n > 0, pv, np.nan)
    if not interval:
        return pv, None, None
    ci = proportion_interval(pz, v, np.maximum(n, 1), df, method=spec.interval_method,
                             level=spec.level)
    return pv, ci.lower.reshape(shape), ci.upper.reshape(shape)


def _icc_values(icc: float | Mapping[str, float], indicators: list[str]) -> list[float]:
    """One intra-village correlation per simulated indicator, each checked to be in [0, 1)."""
    if isinstance(icc, Mapping):
        unknown = set(icc) - set(indicators)
        if unknown:
            raise ParameterError(f"The 'icc' parameter of simulate_design names indicators that "
                                 f"are not simulated: {sorted(unknown)}.")
        values = [icc.get(i, 0.05) for i in indicators]
    else:
        values = [icc] * len(indicators)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
            raise ParameterError(
                f"The 'icc' parameter of simulate_design must be in [0, 1). Got {v!r}.")
        out.append(float(v))
    return out


def _rates_table(value: Any, towns: list[str], indicators: Sequence[str], name: str,
                 default: Mapping[str, float]) -> np.ndarray:
    """(T, I) rates from None (defaults), one number, {indicator: number} or
    {indicator: {town: number}}, or a DataFrame with towns as rows and indicators as columns."""
    out = np.array([[default[i] for i in indicators]] * len(towns), dtype=float)
    if value is None:
        return out
    if isinstance(value, pd.DataFrame):
        value = {c: value[c].to_dict() for c in value.columns}
    if not isinstance(value, Mapping):
        return np.full_like(out, check_probability(name, value, "simulate_design", closed=True))
    unknown = set(value) - set(indicators)
    if unknown:
        raise ParameterError(f"The {name!r} parameter of simulate_design names indicators that are "
                             f"not simulated: {sorted(unknown)}. Simulated: {list(indicators)}.")
    for j, ind in enumerate(indicators):
        v = value.get(ind)
        if v is None:
            continue
        if isinstance(v, Mapping):
            bad = set(v) - set(towns)
            if bad:
                raise ParameterError(f"The {name!r} parameter of simulate_design names towns that "
                                     f"are not in the register: {sorted(bad)}.")
            for t, r in v.items():
                out[towns.index(t), j] = check_probability(f"{name}[{ind!r}][{t!r}]", r,
                                                           "simulate_design", closed=True)
        else:
            out[:, j] = check_probability(f"{name}[{ind!r}]", v, "simulate_design", closed=True)
    return out


def simulate_design(register: pd.DataFrame, plan: DesignPlan, *,
                    spec: AssessmentSpec | None = None,
                    indicators: Sequence[str] = DEFAULT_INDICATORS,
                    compliant: Any = None, shortfall: float | None = None,
                    truth: Any = None, icc: float | Mapping[str, float] = 0.05,
                    reps: int = 1000, seed: int = 0,
                    family: str = "spec",
                    progress: Callable[[int, int], None] | None = None) -> DesignPowerResult:
    """Power to flag each town and the false-flag rate of a spot-check design, by simulation.

    Parameters
    ----------
    register : DataFrame
        The canonical register (:func:`~quchi_stats.datasets.load_register`): villages, frames and
        their sizes.
    plan : DesignPlan
        The design to study (allocation, villages, households per village and frame).
    spec : AssessmentSpec, optional
        Thresholds, ``alpha``, multiplicity, interval method, level and ``deff_floor``; default the
        shipped spec of ``plan.year``.
    indicators : sequence of str
        Spec indicators to simulate (default the four rates of 第七条（四）).
    compliant : float or dict, optional
        True "good" rate of a compliant town: one number, ``{indicator: rate}`` or
        ``{indicator: {town: rate}}``. Default: halfway between the threshold and 1.
    shortfall : float, optional
        How far below the threshold a low town is (default the spec's ``power_shortfall``).
    truth : DataFrame or dict, optional
        Instead of the two scenarios, one explicit truth (towns × indicators, or as
        ``compliant``); the result then has ``true_rate`` and ``flag_rate``.
    icc : float or dict
        Intra-village correlation of the households' outcomes, in [0, 1): one value, or
        ``{indicator: value}`` (indicators left out get 0.05) — satisfaction is usually more
        clustered by village than 错退.
    reps : int
        Replicate spot-checks.
    seed : int
        Seeds independent streams for blocks of :data:`CHUNK` replicates (fewer per block when the
        register has more than 8,000 villages, to bound memory).
    family : {"spec", "simulated"}
        Multiplicity family: every town × indicator of the spec (default, as the report) or only
        the simulated tests.
    progress : callable, optional
        Called as ``progress(done, reps)`` after each block (the CLI draws a bar with it).

    Returns
    -------
    DesignPowerResult
        Columns ``town``, ``indicator``, ``label``, ``threshold``, ``villages``, ``households``
        (mean drawn), then ``compliant_rate``, ``low_rate``, ``false_flag_rate``, ``power``,
        ``power_unadjusted`` — or ``true_rate``, ``compliant``, ``flag_rate`` with ``truth`` —
        and ``coverage``/``mean_width`` of the intervals (compliant scenario).

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> from quchi_stats.sampling import DesignPlan
    >>> res = simulate_design(load_register(2018), DesignPlan(year=2018), reps=200, seed=1,
    ...                       indicators=["satisfaction_rate"])
    >>> res.table[["town", "power", "false_flag_rate"]].shape
    (9, 3)
    """
    func = "simulate_design"
    if not isinstance(plan, DesignPlan):
        raise ParameterError(f"The 'plan' parameter of {func} must be a DesignPlan. "
                             f"Got {type(plan).__name__}.")
    spec = load_spec(plan.year) if spec is None else spec
    reps = check_int("reps", reps, func, minimum=1)
    seed = check_int("seed", seed, func, minimum=0)
    if family not in ("spec", "simulated"):
        raise ParameterError(f"The 'family' parameter of {func} must be 'spec' or 'simulated'. "
                             f"Got {family!r}.")
    by_name = {i.name: i for i in spec.indicators}
    indicators = list(indicators)
    unknown = [i for i in indicators if i not in by_name]
    if unknown or not indicators:
        raise ParameterError(f"The 'indicators' parameter of {func} must name indicators of the "
                             f"spec {list(by_name)}. Got {indicators}.")
    inds = [by_name[i] for i in indicators]
    iccs = _icc_values(icc, indicators)
    thr = np.array([i.threshold for i in inds])
    shortfall = spec.power_shortfall if shortfall is None else float(shortfall)
    if not 0 < shortfall < thr.min():
        raise ParameterError(f"The 'shortfall' parameter of {func} must be in (0, {thr.min()}). "
                             f"Got {shortfall!r}.")
    d = _district(register, plan)
    T, K = len(d.towns), len(inds)
    base_default = {i.name: (1 + i.threshold) / 2 for i in inds}
    two = truth is None
    base = _rates_table(truth if not two else compliant, d.towns, indicators,
                        "truth" if not two else "compliant", base_default)
    low = np.broadcast_to(np.round(thr - shortfall, 10), (T, K))
    if two and np.any(base < thr):
        raise ParameterError(f"The 'compliant' rates of {func} must be at least the thresholds "
                             f"{dict(zip(indicators, thr, strict=True))}.")
    m_family = T * (len(spec.indicators) if family == "spec" else K)
    acc = {k: np.zeros((T, K)) for k in ("flag", "flag_alt", "raw_alt", "cover", "width", "n",
                                         "cover_n")}
    any_flag = 0
    block = max(1, min(CHUNK, _BLOCK_VALUES // d.size.size))
    chunks = np.random.SeedSequence(seed).spawn(-(-reps // block))
    done = 0
    for ss in chunks:
        r = min(block, reps - done)
        rng = np.random.default_rng(ss)
        idx, pi = _select(d, plan, r, rng)
        P = np.empty((r, T, K))
        P_alt = np.empty((r, T, K))
        for j, ind in enumerate(inds):
            sims = [_replicates(d, ind.frames, base[:, j], iccs[j], idx, pi, rng)]
            if two:
                sims.append(_replicates(d, ind.frames, low[:, j], iccs[j], idx, pi, rng))
            for s, sim in enumerate(sims):
                pv, lo, hi = _test_and_interval(sim, thr[j], spec, interval=s == 0)
                (P if s == 0 else P_alt)[:, :, j] = pv
                if s == 0:
                    ok, truth_r = sim["n"] > 0, sim["true"]
                    acc["cover"][:, j] += np.sum(ok & (lo <= truth_r + 1e-12)
                                                 & (truth_r <= hi + 1e-12), axis=0)
                    acc["cover_n"][:, j] += ok.sum(axis=0)
                    acc["width"][:, j] += np.where(ok, hi - lo, 0).sum(axis=0)
                    acc["n"][:, j] += sim["n"].sum(axis=0)
        flat = P.reshape(r, T * K)
        flags = adjust_rows(flat, spec.multiplicity, m_family) < spec.alpha
        acc["flag"] += flags.reshape(r, T, K).sum(axis=0)
        any_flag += int(flags.any(axis=1).sum())
        if two:
            # one low town × indicator at a time, all others compliant
            alt = P_alt.reshape(r, T * K)
            hit = flags_one_replaced(flat, alt, spec.multiplicity, m_family, spec.alpha)
            acc["flag_alt"] += hit.sum(axis=0).reshape(T, K)
            acc["raw_alt"] += (np.nan_to_num(alt, nan=1.0) < spec.alpha).sum(
                axis=0).reshape(T, K)
        done += r
        if progress is not None:
            progress(done, reps)
    rows = []
    villages = d.n_drawn
    for t, town in enumerate(d.towns):
        for j, ind in enumerate(inds):
            row = {"town": town, "indicator": ind.name, "label": ind.label,
                   "threshold": thr[j], "villages": int(villages[t]),
                   "households": acc["n"][t, j] / reps}
            if two:
                row.update(compliant_rate=base[t, j], low_rate=low[t, j],
                           false_flag_rate=acc["flag"][t, j] / reps,
                           power=acc["flag_alt"][t, j] / reps,
                           power_unadjusted=acc["raw_alt"][t, j] / reps)
            else:
                row.update(true_rate=base[t, j], compliant=bool(base[t, j] >= thr[j]),
                           flag_rate=acc["flag"][t, j] / reps)
            cn = acc["cover_n"][t, j]
            row.update(coverage=acc["cover"][t, j] / cn if cn else np.nan,
                       mean_width=acc["width"][t, j] / cn if cn else np.nan)
            rows.append(row)
    all_compliant = bool(np.all(base >= thr))
    settings = {"icc": dict(icc) if isinstance(icc, Mapping) else icc,
                "shortfall": shortfall, "alpha": spec.alpha,
                "multiplicity": spec.multiplicity, "family_size": m_family,
                "method": spec.interval_method, "level": spec.level,
                "deff_floor": spec.deff_floor, "indicators": indicators,
                "assumptions": "全部入户成功；按户计算比率；多重比较族为规范中全部镇 × 指标检验"}
    return DesignPowerResult(pd.DataFrame(rows), any_flag / reps if all_compliant else np.nan,
                             plan, reps, seed, settings)


def compare_designs(register: pd.DataFrame, plans: Mapping[str, DesignPlan], *,
                    shortfalls: Sequence[float] | None = None, **kwargs: Any) -> pd.DataFrame:
    """Simulate several designs with the same settings; one row per design (× shortfall) and
    indicator.

    Columns: ``design``, ``shortfall`` (with ``shortfalls``), ``indicator``, ``label``,
    ``villages`` (district), ``households`` (mean per town), ``min_power``, ``mean_power``,
    ``max_false_flag_rate``, ``coverage``, ``mean_width`` and ``familywise_false_flag``. Keyword
    arguments go to :func:`simulate_design` (the same ``seed`` gives a paired comparison).

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> t = compare_designs(load_register(2018), {"默认": DesignPlan(year=2018)},
    ...                     shortfalls=[0.1, 0.3], indicators=["satisfaction_rate"], reps=100)
    >>> t[["design", "shortfall"]].values.tolist()
    [['默认', 0.1], ['默认', 0.3]]
    """
    parts = []
    for name, plan in plans.items():
        for shortfall in (shortfalls if shortfalls is not None else [kwargs.get("shortfall")]):
            res = simulate_design(register, plan, **{**kwargs, "shortfall": shortfall})
            s = res.summary()
            s.insert(0, "design", name)
            if shortfalls is not None:
                s.insert(1, "shortfall", res.settings["shortfall"])
            s.insert(s.columns.get_loc("label") + 1, "villages",
                     int(res.table.drop_duplicates("town")["villages"].sum()))
            s["familywise_false_flag"] = res.familywise_false_flag
            parts.append(s)
    return pd.concat(parts, ignore_index=True)
