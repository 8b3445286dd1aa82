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
3. tests every town against the threshold with the test the yearly report runs (the spec's
   ``test_method``):

   * ``"beta-binomial-adjusted"`` (default) and ``"beta-binomial"``: the households drawn are
     drawn from the register's list as the draw does (systematic on 户编号, or SRS), with their
     household sizes; each village's effective counts ``(y_v, m_v)`` are formed as
     :func:`~quchi_stats.flags.village_counts` forms them for the report (weights
     ``1/(π_village · m/N)``, times the household size for a person-level rate — 识别准确率, 错退率,
     漏评率 — where the outcome is the household's and counted for each of its persons), the
     district ρ̂ is estimated per replicate across all towns as the test estimates it
     (:func:`~quchi_stats.flags.town_test.rho_batch`: the pooled ANOVA estimate for the adjusted
     test, the Cox–Reid fit for the other), the signed root of each town's likelihood ratio
     (:func:`~quchi_stats.flags.town_test.town_lr_batch`) is referred to t with villages − towns
     df (mid-p at a full or empty town for the adjusted test), and the interval is the likelihood
     interval (:func:`~quchi_stats.flags.town_test.town_bounds_batch`) — a test checks the counts
     against ``village_counts`` on the same households;
   * ``"design"``: the design-based estimate, linearisation variance, interval and one-sided
     p-value with the spec's interval method and ``deff_floor`` (strata = towns, PSUs = villages,
     with-replacement first stage), in closed form across replicates — a test checks it against
     :func:`~quchi_stats.estimation.estimate_proportion` on the same households;
4. adjusts the p-values for multiplicity as the spec says (``multiplicity`` ∈ holm, hochberg, bh,
   none; ``multiplicity_family``: each indicator's towns, or every town × indicator test of the
   spec) and flags a town when its adjusted p-value is below ``alpha``.

Two scenarios are simulated from the same replicates. Under the *compliant* truth every town is at
its compliant rate (default: halfway between the threshold and 1): the share of replicates that
flag a town is its **false-flag rate**. For **power**, one town × indicator at a time is set
``shortfall`` below the threshold, all others compliant, and the share of replicates that flag it
is its power — the situation of one problem town among compliant ones. With the model test the
district ρ̂ moves with the low town, so each replicate holds one district per town (that town's
villages from the low draw, the others' from the compliant draw of the same households) and every
p-value of that indicator is re-computed in it. With an explicit ``truth`` table only that
scenario is simulated and ``flag_rate`` is reported for every cell. Every multiplicity family and
method is evaluated on the same replicates (``familywise``, ``by_method``).

Risk strata: with ``plan.risk_factor > 1`` each village's non-registered frame is split into its
risk households and the others exactly as the draw splits it (:func:`~quchi_stats.sampling.draw.
village_plan` flags the register's risk households, :func:`~quchi_stats.sampling.draw.risk_split`
shares the village's households), each sub-frame drawn with its own numbers and weights
``N_sub/m_sub``; ``risk_ratio`` says how much more often a risk household is 漏评 than another of
its village (the village's rate kept), so the power for 漏评率 reflects the oversampling.

Assumptions (stated in the result): every drawn household responds; village rates are beta with
the town's mean and intra-village correlation ``icc``, households Bernoulli at their village's rate
(whatever their size: 错退/漏评 are household facts counted by persons); the person-level truth
counts each village frame's good households at the frame's mean size; with the family "all" the
indicators not simulated count as compliant (p = 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ParameterError, check_int, check_probability
from ..estimation.intervals import one_sided_pvalue, proportion_interval
from ..flags.thresholds import MULTIPLICITY_METHODS, adjust_rows
from ..flags.town_test import (
    TEST_METHODS,
    mid_p_tail,
    rho_batch,
    town_bounds_batch,
    town_lr_batch,
    town_pvalue_batch,
)
from ..labels import FRAME_SHORT_LABELS_ZH, column_labels
from ..sampling.draw import FRAME_NAMES, DesignPlan, risk_split, village_plan
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

_FRAME_ZH = FRAME_SHORT_LABELS_ZH  # one spelling: the label registry
_ALLOCATION_ZH = {"equal": "等量分配", "proportional": "按村数比例分配", "sqrt": "平方根分配",
                  "neyman": "Neyman 分配"}



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
        ``icc``, ``shortfall``, ``alpha``, ``multiplicity``, ``multiplicity_family``,
        ``family_size``, ``test_method`` and ``test`` (in words), ``method``, ``level``,
        ``deff_floor``, ``mean_rho`` (the mean district ρ̂ per indicator, model test) and the
        assumptions.
    familywise : DataFrame
        ``family`` × ``method`` (every multiplicity family and method, from the same replicates):
        the share of replicates with at least one flag among the simulated tests while every town
        is compliant (NaN when a town of ``truth`` is low).
    by_method : DataFrame
        Per ``family``, ``method``, ``town`` and ``indicator``: ``false_flag_rate`` and ``power``
        (or ``flag_rate`` with ``truth``) under that family and method.
    """

    table: pd.DataFrame
    familywise_false_flag: float
    plan: DesignPlan
    reps: int
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)
    familywise: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_method: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_frame(self, *, chinese: bool = False) -> pd.DataFrame:
        """The table (a copy); ``chinese=True`` labels the columns in Chinese, for people to read."""
        return self.table.rename(columns=column_labels("power")) if chinese else self.table.copy()

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
        if p.risk_factor > 1:
            ratio = self.settings.get("risk_ratio") or {}
            shown = "、".join(f"{k} {v:g}" for k, v in ratio.items() if v != 1) or "1（与其他户相同）"
            lines.append(f"风险户加抽：非建档立卡户中风险户的入样概率约为其他户的 {p.risk_factor:g} 倍"
                         f"（与抽样相同的子框划分）；假定风险户的漏评概率为同村其他户的倍数 {shown}")
        if "test" in self.settings:
            fam = ("每项指标的各镇" if self.settings.get("multiplicity_family") == "indicator"
                   else "全部镇 × 指标")
            lines.append(f"判定检验：{self.settings['test']}；多重比较 "
                         f"{self.settings['multiplicity']}，族为{fam}"
                         f"（{self.settings['family_size']} 个检验），alpha "
                         f"{self.settings['alpha']:g}")
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
    #: frame → (offsets (V,), sizes): the household sizes of each village's frame in list order
    #: (户编号), the order of the systematic draw
    sizes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: risk strata (``plan.risk_factor > 1``): frame → the sub-frames drawn in its place
    #: (``non_registered`` → the other/undivided part and :data:`RISK_FRAME`), the risk
    #: households inside each sub-frame (V,), and the non-registered frame's whole size and risk
    #: households per village (V,), for the risk households' higher 漏评 rate
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    risk_in: dict[str, np.ndarray] = field(default_factory=dict)
    risk_frame: tuple[np.ndarray, np.ndarray] | None = None

    def expand(self, frames: Sequence[str]) -> tuple[str, ...]:
        """The (sub-)frames drawn for ``frames``."""
        return tuple(p for f in frames for p in self.parts.get(f, (f,)))

    def mean_size(self, frame: str) -> np.ndarray:
        """(V,) mean household size of each village's frame (1 where the frame is empty)."""
        val = self.sizes[frame][1]
        n = self.N[frame]
        tot = np.bincount(np.repeat(np.arange(n.size), n), weights=val, minlength=n.size)
        return np.where(n > 0, tot / np.maximum(n, 1), 1.0)


#: The sub-frame of the risk households of a village's non-registered frame (``risk_factor > 1``).
RISK_FRAME = "non_registered_risk"


def _district(register: pd.DataFrame, plan: DesignPlan, *, strata: bool = False) -> _Frame:
    """The district under ``plan``; with ``strata`` and ``plan.risk_factor > 1`` the
    non-registered frame is split into risk sub-frames as the draw splits it (without, as the
    two-phase simulation of :mod:`quchi_stats.followup.simulate` uses it, one frame)."""
    if not strata and plan.risk_factor > 1:
        plan = replace(plan, risk_factor=1.0)
    reg, vill, towns, _, alloc, _ = village_plan(register, plan)
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
    keys = pd.MultiIndex.from_frame(vill[["town", "village"]])
    code = keys.get_indexer(pd.MultiIndex.from_frame(reg[["town", "village"]]))
    hh = pd.to_numeric(reg["household_size"], errors="coerce").to_numpy(float)
    hh = np.where(np.isfinite(hh) & (hh > 0), hh, 1.0)
    label = reg["frame"].astype(str).to_numpy().astype(object)
    parts: dict[str, tuple[str, ...]] = {}
    risk_in: dict[str, np.ndarray] = {}
    risk_frame = None
    frames = list(FRAME_NAMES)
    if plan.risk_factor > 1:  # the draw's split (village_plan, households_wanted, risk_split)
        nr = "non_registered"
        R = vill["households_non_registered_risk"].to_numpy().astype(np.int64)
        n_r = np.array([risk_split(int(mm), int(r), int(n - r), plan.risk_factor) or 0
                        for mm, r, n in zip(m[nr], R, N[nr], strict=True)], np.int64)
        split = n_r > 0        # risk_split gives at least 1 when it splits, None otherwise
        risk_frame = (N[nr].copy(), R)
        label[(label == nr) & reg["_risk"].to_numpy(bool) & split[code]] = RISK_FRAME
        N[RISK_FRAME], m[RISK_FRAME] = np.where(split, R, 0), n_r
        N[nr], m[nr] = np.where(split, N[nr] - R, N[nr]), m[nr] - n_r
        risk_in = {RISK_FRAME: N[RISK_FRAME], nr: np.where(split, 0, R)}
        parts = {nr: (nr, RISK_FRAME)}
        frames.append(RISK_FRAME)
    sizes = {}
    for f in frames:
        sel = label == f
        order = np.argsort(code[sel], kind="stable")  # reg is in list order within each village
        off = np.concatenate(([0], np.cumsum(N[f])[:-1])).astype(np.int64)
        sizes[f] = (off, hh[sel][order])
    return _Frame(towns, village_town, size, certain, n_drawn, N, m, sizes, parts, risk_in,
                  risk_frame)


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


def _draw_sizes(d: _Frame, plan: DesignPlan, frames: Sequence[str], idx: np.ndarray,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The sizes of the households drawn in every drawn village and frame: frame → (reps, T,
    n_max, m_max) sizes, 0 beyond the households drawn.

    The households are drawn as :func:`~quchi_stats.sampling.draw_sample` draws them from the
    register's list (sorted by 户编号): systematic with the fractional interval ``N/m`` (unit
    ``⌈(u + j) N/m⌉ − 1`` for the ``j``-th crossing of the random start ``u``), or a simple random
    sample without replacement. The same households answer every indicator of a replicate.
    """
    out = {}
    for f in frames:
        off, val = d.sizes[f]
        Npad = np.append(d.N[f], 0)[idx]
        mpad = np.append(d.m[f], 0)[idx]
        m_max = int(mpad.max()) if mpad.size else 0
        if m_max == 0 or val.size == 0:
            out[f] = np.zeros((*idx.shape, max(m_max, 1)))
            continue
        j = np.arange(m_max)
        valid = j < mpad[..., None]
        if plan.household_method == "systematic":
            u = rng.random(idx.shape)
            step = Npad / np.maximum(mpad, 1)
            pos = np.ceil((u[..., None] + j) * step[..., None] - 1e-9).astype(np.int64) - 1
        else:  # simple random sample: the k-th draw is the r-th household not drawn before
            rows = Npad.ravel()
            chosen = np.zeros((rows.size, m_max), np.int64)
            for k in range(m_max):
                p_k = np.floor(rng.random(rows.size) * np.maximum(rows - k, 1)).astype(np.int64)
                for c in np.sort(chosen[:, :k], axis=1).T:
                    p_k = p_k + (c <= p_k)
                chosen[:, k] = p_k
            pos = chosen.reshape((*idx.shape, m_max))
        pos = np.clip(pos, 0, np.maximum(Npad - 1, 0)[..., None])
        start = np.append(off, 0)[idx]
        at = np.where(valid, start[..., None] + pos, 0)
        out[f] = np.where(valid, val[np.minimum(at, val.size - 1)], 0.0)
    return out


def _village_counts_sim(d: _Frame, frames: Sequence[str], sim: dict, idx: np.ndarray,
                        sizes: Mapping[str, np.ndarray] | None, rng: np.random.Generator,
                        keep: dict | None = None) -> tuple[np.ndarray, ...]:
    """The villages' effective counts ``(y_v, m_v)`` of :func:`~quchi_stats.flags.village_counts`
    for the households of one replicate set (reps, T, n_max), and which villages have any.

    Every household's weight is ``N/m`` of its frame (the village's π is common to its frames and
    cancels in ``p̂_v`` and Kish's ``m_v``), times its size for a person-level rate (``sizes``);
    the "good" households of a frame are a uniformly random subset of its drawn households (the
    outcome is a household fact, independent of the household's size). ``y_v = m_v p̂_v``.
    ``keep`` (a dict) receives each frame's "good" flags of the drawn households (for the tests).
    """
    W = np.zeros(idx.shape)
    W2 = np.zeros(idx.shape)
    WY = np.zeros(idx.shape)
    goods = {}
    for f in d.expand(frames):
        y, ms = sim["drawn"][f]
        w = np.where(ms > 0, np.append(d.N[f], 0)[idx] / np.maximum(ms, 1), 0.0)
        if sizes is None:
            s1, s2, sy = ms, ms, y
        else:
            s = sizes[f]
            valid = s > 0
            keys = np.where(valid, rng.random(s.shape), 2.0)
            rank = np.argsort(np.argsort(keys, axis=-1), axis=-1)
            good = rank < y[..., None]
            goods[f] = good
            s1, s2, sy = s.sum(axis=-1), (s**2).sum(axis=-1), (s * good).sum(axis=-1)
        W += w * s1
        W2 += w**2 * s2
        WY += w * sy
    present = W > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        m_v = np.where(present, W**2 / np.where(present, W2, 1.0), 0.0)
        y_v = np.where(present, m_v * np.clip(WY / np.where(present, W, 1.0), 0.0, 1.0), 0.0)
    if keep is not None:
        keep.update(goods)
    return y_v, m_v, present


def _bb_tests(y: np.ndarray, m: np.ndarray, present: np.ndarray, p0: float,
              level: float | None = None, method: str = "beta-binomial"
              ) -> tuple[np.ndarray, ...]:
    """The report's beta-binomial test of every town of every district (D, T, n_max villages):
    ρ̂ per district (:func:`~quchi_stats.flags.town_test.fit_rho_batch`), the signed root
    (:func:`town_lr_batch`) referred to t with villages − towns df, and with ``level`` the
    likelihood bounds (:func:`town_bounds_batch`). Returns p-values (D, T; NaN for a town without
    villages), lower and upper bounds (or None) and ρ̂ (D,). ``method`` is the spec's
    ``test_method`` (``"beta-binomial-adjusted"``: ρ̂ by :func:`anova_rho_batch`, mid-p bounds at
    a full or empty town)."""
    D, T, _ = y.shape
    n_groups = D * T
    gid = np.broadcast_to(np.arange(n_groups).reshape(D, T, 1), y.shape)
    sel = present.ravel()
    yy, mm, gg = y.ravel()[sel], m.ravel()[sel], gid.ravel()[sel]
    rep_of_group = np.repeat(np.arange(D), T)
    nv = present.sum(axis=2)
    has = (nv > 0).ravel()
    df = np.maximum(nv.sum(axis=1) - (nv > 0).sum(axis=1), 1)[rep_of_group]
    rho = rho_batch(method, yy, mm, gg, rep_of_group, D)
    rho_g = rho[rep_of_group]
    z, p_ml = town_lr_batch(yy, mm, gg, n_groups, rho_g, np.full(n_groups, p0))
    pv = np.where(has, town_pvalue_batch(z, p_ml, df, method=method), np.nan).reshape(D, T)
    if level is None:
        return pv, None, None, rho
    crit = stats.t.ppf((1 + level) / 2, df)
    lo, hi, _ = town_bounds_batch(yy, mm, gg, n_groups, rho_g, crit,
                                  boundary_tail=mid_p_tail(method, level))
    return (pv, np.where(has, lo, np.nan).reshape(D, T), np.where(has, hi, np.nan).reshape(D, T),
            rho)


def _one_low_districts(base: tuple[np.ndarray, ...], low: tuple[np.ndarray, ...]
                       ) -> tuple[np.ndarray, ...]:
    """(reps·T, T, n_max) districts: district (r, c) has town c's villages from the low draw and
    every other town's from the compliant one (the same households: only the outcomes differ)."""
    yb, m, present = base
    yl = low[0]
    r, T, n = yb.shape
    eye = np.eye(T, dtype=bool)[None, :, :, None]
    y = np.where(eye, yl[:, None], yb[:, None]).reshape(r * T, T, n)
    return (y, np.broadcast_to(m[:, None], (r, T, T, n)).reshape(r * T, T, n),
            np.broadcast_to(present[:, None], (r, T, T, n)).reshape(r * T, T, n))


def _replicates(d: _Frame, frames: Sequence[str], truth: np.ndarray, icc: float,
                idx: np.ndarray, pi: np.ndarray, rng: np.random.Generator,
                person: bool = False, risk_ratio: float = 1.0) -> dict[str, np.ndarray]:
    """Estimates of one indicator for every town and replicate, and the finite-population truth.

    ``truth`` holds each town's rate (T,). Returns ``p_hat``, ``v``, ``n``, ``df``, ``true``
    (reps × T) and the households ``y``/``m`` drawn per village and frame (for the tests). With
    ``person``, ``true`` is the rate by persons: each village frame's good households counted at
    the frame's mean household size (the outcome is independent of the size).

    With risk strata (``d.risk_frame``) a village's non-registered households are "bad" (漏评)
    with probability ``q_r`` when they are risk households and ``q_o`` otherwise, ``q_r/q_o =
    risk_ratio`` (``q_r`` at most 1) and the village's mean ``1 − rate`` kept:
    ``q_o = q·N/(R·ratio + N − R)``, ``q_r = min(1, ratio·q_o)``, then ``q_o = (N·q − R·q_r)/(N − R)``.
    """
    reps, T, n_max = idx.shape
    rates = _village_rates(truth[d.village_town], icc, reps, rng)
    q_risk = q_other = None
    if d.risk_frame is not None:
        Nt, Rt = (a.astype(float) for a in d.risk_frame)
        q = 1.0 - rates
        with np.errstate(invalid="ignore", divide="ignore"):
            q_o = q * Nt / np.maximum(Rt * risk_ratio + Nt - Rt, 1e-300)
            q_risk = np.minimum(1.0, risk_ratio * q_o)
            q_other = np.where(Nt > Rt, np.clip((Nt * q - Rt * q_risk) / np.maximum(Nt - Rt, 1),
                                                0.0, 1.0), q_o)
    flat = idx.reshape(reps, -1)
    t_v = np.zeros((reps, T, n_max))
    x_v = np.zeros((reps, T, n_max))
    n_v = np.zeros((reps, T, n_max))
    pop_good = np.zeros((reps, T))
    pop_all = np.zeros(T)
    drawn = {}
    for f in d.expand(frames):
        N = d.N[f]
        if f in d.risk_in:   # risk households (R of the N) and the others at their own rates
            R = d.risk_in[f]
            Y = (rng.binomial(R[None, :], 1.0 - q_risk)
                 + rng.binomial((N - R)[None, :], 1.0 - q_other))
        else:
            Y = rng.binomial(N[None, :], rates)                  # good households per village
        s_bar = d.mean_size(f) if person else np.ones(N.size)
        pop_good += np.stack([(Y[:, d.village_town == t] * s_bar[d.village_town == t]).sum(axis=1)
                              for t in range(T)], axis=1)
        pop_all += np.bincount(d.village_town, weights=N * s_bar, minlength=T)
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
    after one sort: O(n log n) per row instead of n adjustments of n values. Hochberg and
    Benjamini–Hochberg adjust the n modified rows, in blocks that bound memory. NaN p-values are
    out of the family (a test that is NaN in ``base`` is never flagged).
    """
    r, n = base.shape
    x = alt
    if method not in MULTIPLICITY_METHODS:
        raise ParameterError(f"The 'method' parameter of flags_one_replaced must be one of "
                             f"{list(MULTIPLICITY_METHODS)}. Got {method!r}.")
    if method == "none":
        return np.nan_to_num(x, nan=1.0) < alpha
    if method in ("bh", "hochberg"):
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


#: Multiplicity families of the spec (``multiplicity_family``): each indicator's towns, or every
#: town × indicator test.
_FAMILIES = ("indicator", "all")


def _family_flags(P: np.ndarray, method: str, family: str, m_all: int,
                  alpha: float) -> np.ndarray:
    """Flags (reps, T, K) from p-values (reps, T, K) adjusted within each family: per indicator
    (the towns with a p-value) or all together (family size ``m_all``, tests not simulated counted
    as compliant)."""
    r, T, K = P.shape
    if family == "indicator":
        out = np.zeros(P.shape, dtype=bool)
        for j in range(K):
            out[:, :, j] = adjust_rows(P[:, :, j], method) < alpha
        return out
    return (adjust_rows(P.reshape(r, T * K), method, m_all) < alpha).reshape(r, T, K)


def _power_design(P: np.ndarray, P_alt: np.ndarray, method: str, family: str, m_all: int,
                  alpha: float) -> np.ndarray:
    """Design-based test: is town × indicator (t, j) flagged when its p-value is the low draw's
    and every other test keeps its compliant one? (reps, T, K)"""
    r, T, K = P.shape
    if family == "indicator":
        out = np.zeros(P.shape, dtype=bool)
        for j in range(K):
            out[:, :, j] = flags_one_replaced(P[:, :, j], P_alt[:, :, j], method, T, alpha)
        return out
    return flags_one_replaced(P.reshape(r, T * K), P_alt.reshape(r, T * K), method, m_all,
                              alpha).reshape(r, T, K)


def _power_model(P: np.ndarray, P_one: Sequence[np.ndarray], method: str, family: str,
                 m_all: int, alpha: float) -> np.ndarray:
    """Model test: is (t, j) flagged in the district where town t is low for indicator j and all
    else is compliant? ``P_one[j]`` (reps, C, T) holds every town's p-value of indicator j in the
    district where town c is low — the district ρ̂ moves with the low town, so every town's
    p-value of that indicator is its own in each district; the other indicators keep ``P``."""
    r, T, K = P.shape
    out = np.zeros(P.shape, dtype=bool)
    c = np.arange(T)
    for j, pc in enumerate(P_one):
        if family == "indicator":
            adj = adjust_rows(pc.reshape(r * T, T), method).reshape(r, T, T)
            out[:, :, j] = adj[:, c, c] < alpha
        else:
            rows = np.broadcast_to(P[:, None], (r, T, T, K)).copy()
            rows[:, :, :, j] = pc
            adj = adjust_rows(rows.reshape(r * T, T * K), method, m_all).reshape(r, T, T, K)
            out[:, :, j] = adj[:, c, c, j] < alpha
    return out


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


def _per_indicator(value: Any, indicators: list[str], name: str, default: float) -> list:
    """``value`` (one value, or {indicator: value} with ``default`` for the others) as one value
    per simulated indicator, unchecked; a mapping naming an indicator not simulated is refused."""
    if not isinstance(value, Mapping):
        return [value] * len(indicators)
    unknown = set(value) - set(indicators)
    if unknown:
        raise ParameterError(f"The '{name}' parameter of simulate_design names indicators that are "
                             f"not simulated: {sorted(unknown)}.")
    return [value.get(i, default) for i in indicators]


def _risk_ratios(ratio: float | Mapping[str, float], indicators: list[str]) -> list[float]:
    """One risk ratio (>= 1) per simulated indicator (``simulate_design(risk_ratio=...)``)."""
    values = _per_indicator(ratio, indicators, "risk_ratio", 1.0)
    for v in values:
        if (isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v)
                or not v >= 1):
            raise ParameterError(
                f"The 'risk_ratio' parameter of simulate_design must be >= 1. Got {v!r:.40}.")
    return [float(v) for v in values]


def _icc_values(icc: float | Mapping[str, float], indicators: list[str]) -> list[float]:
    """One intra-village correlation per simulated indicator, each checked to be in [0, 1)."""
    values = _per_indicator(icc, indicators, "icc", 0.05)
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
                    family: str = "spec", risk_ratio: float | Mapping[str, float] = 1.0,
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
        Thresholds, ``alpha``, ``test_method``, ``multiplicity`` and ``multiplicity_family``,
        interval method, level and ``deff_floor``; default the shipped spec of ``plan.year``.
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
        With the spec's ``multiplicity_family = "all"``: the family is every town × indicator of
        the spec (default, as the report) or only the simulated tests. With ``"indicator"`` each
        indicator's towns are one family whatever this says.
    risk_ratio : float or dict
        With ``plan.risk_factor > 1`` (risk households oversampled for 漏评; the register must carry
        a risk column): how many times as likely a risk household of the non-registered frame is
        to be "bad" (漏评) as another of its village, the village's rate kept — one value for every
        simulated indicator over that frame, or ``{indicator: value}`` (others 1). The households
        are drawn as the draw draws them: each village's non-registered frame split into its risk
        households and the others with the plan's numbers (:func:`~quchi_stats.sampling.draw.
        risk_split`), each sub-frame with its own ``π`` and weight. Default 1: risk households no
        different, so the oversampling only makes the weights unequal (power is lost, not gained).
        Ignored when ``plan.risk_factor`` is 1 (the frame is not split; the village's count of
        "bad" households is then what matters).
    progress : callable, optional
        Called as ``progress(done, reps)`` after each block (the CLI draws a bar with it).

    Returns
    -------
    DesignPowerResult
        Columns ``town``, ``indicator``, ``label``, ``threshold``, ``villages``, ``households``
        (mean drawn), then ``compliant_rate``, ``low_rate``, ``false_flag_rate``, ``power``,
        ``power_unadjusted`` — or ``true_rate``, ``compliant``, ``flag_rate`` with ``truth`` —
        and ``coverage``/``mean_width`` of the intervals (compliant scenario); ``familywise`` and
        ``by_method`` give the familywise false-flag rate and each cell's rates under every
        multiplicity family and method from the same replicates.

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> from quchi_stats.sampling import DesignPlan
    >>> res = simulate_design(load_register(2018), DesignPlan(year=2018), reps=20, seed=1,
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
    ratios = _risk_ratios(risk_ratio, indicators)
    thr = np.array([i.threshold for i in inds])
    shortfall = spec.power_shortfall if shortfall is None else float(shortfall)
    if not 0 < shortfall < thr.min():
        raise ParameterError(f"The 'shortfall' parameter of {func} must be in (0, {thr.min()}). "
                             f"Got {shortfall!r}.")
    d = _district(register, plan, strata=True)
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
    model = spec.test_method in TEST_METHODS
    person = [ind.unit == "person" for ind in inds]
    size_frames = sorted({f for ind, p in zip(inds, person, strict=True) if p
                          for f in d.expand(ind.frames)})
    acc = {k: np.zeros((T, K)) for k in ("flag", "flag_alt", "raw_alt", "cover", "width", "n",
                                         "cover_n")}
    combos = [(fam, meth) for fam in _FAMILIES for meth in MULTIPLICITY_METHODS]
    acc_m = {c: {"flag": np.zeros((T, K)), "hit": np.zeros((T, K)), "any": 0} for c in combos}
    rho_sum, rho_n = np.zeros(K), 0
    block = max(1, min(CHUNK, _BLOCK_VALUES // d.size.size))
    chunks = np.random.SeedSequence(seed).spawn(-(-reps // block))
    done = 0
    for ss in chunks:
        r = min(block, reps - done)
        rng = np.random.default_rng(ss)
        idx, pi = _select(d, plan, r, rng)
        sizes = _draw_sizes(d, plan, size_frames, idx, rng) if model and size_frames else None
        P = np.empty((r, T, K))
        P_alt = np.empty((r, T, K))   # design test: every town low at once
        P_one = []                    # model test: (r, C, T) districts with town c low
        for j, ind in enumerate(inds):
            sims = [_replicates(d, ind.frames, base[:, j], iccs[j], idx, pi, rng, person[j],
                                ratios[j])]
            if two:
                sims.append(_replicates(d, ind.frames, low[:, j], iccs[j], idx, pi, rng,
                                        person[j], ratios[j]))
            if model:
                counts = [_village_counts_sim(d, ind.frames, sim, idx,
                                              sizes if person[j] else None, rng) for sim in sims]
                pv, lo, hi, rho = _bb_tests(*counts[0], thr[j], spec.level, spec.test_method)
                P[:, :, j] = pv
                rho_sum[j] += rho.sum()
                if two:
                    pc = _bb_tests(*_one_low_districts(counts[0], counts[1]), thr[j],
                                   method=spec.test_method)[0]
                    P_one.append(pc.reshape(r, T, T))
            else:
                pv, lo, hi = _test_and_interval(sims[0], thr[j], spec)
                P[:, :, j] = pv
                if two:
                    P_alt[:, :, j] = _test_and_interval(sims[1], thr[j], spec, False)[0]
            sim = sims[0]
            ok, truth_r = sim["n"] > 0, sim["true"]
            acc["cover"][:, j] += np.sum(ok & (lo <= truth_r + 1e-12)
                                         & (truth_r <= hi + 1e-12), axis=0)
            acc["cover_n"][:, j] += ok.sum(axis=0)
            acc["width"][:, j] += np.where(ok, hi - lo, 0).sum(axis=0)
            acc["n"][:, j] += sim["n"].sum(axis=0)
        rho_n += r
        for fam, meth in combos:
            a = acc_m[(fam, meth)]
            flags = _family_flags(P, meth, fam, m_family, spec.alpha)
            a["flag"] += flags.sum(axis=0)
            a["any"] += int(flags.reshape(r, -1).any(axis=1).sum())
            if two:  # one low town × indicator at a time, all others compliant
                a["hit"] += (_power_model(P, P_one, meth, fam, m_family, spec.alpha) if model
                             else _power_design(P, P_alt, meth, fam, m_family, spec.alpha)
                             ).sum(axis=0)
        if two:
            raw = (np.stack([np.diagonal(pc, axis1=1, axis2=2) for pc in P_one], axis=2)
                   if model else P_alt)
            acc["raw_alt"] += (np.nan_to_num(raw, nan=1.0) < spec.alpha).sum(axis=0)
        done += r
        if progress is not None:
            progress(done, reps)
    chosen = acc_m[(spec.multiplicity_family, spec.multiplicity)]
    acc["flag"], acc["flag_alt"], any_flag = chosen["flag"], chosen["hit"], chosen["any"]
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
    fw = pd.DataFrame([{"family": fam, "method": meth,
                        "familywise_false_flag": (acc_m[(fam, meth)]["any"] / reps
                                                  if all_compliant else np.nan)}
                       for fam, meth in combos])
    by = []
    for fam, meth in combos:
        a = acc_m[(fam, meth)]
        for t, town in enumerate(d.towns):
            for j, ind in enumerate(inds):
                row = {"family": fam, "method": meth, "town": town, "indicator": ind.name}
                if two:
                    row.update(false_flag_rate=a["flag"][t, j] / reps,
                               power=a["hit"][t, j] / reps)
                else:
                    row["flag_rate"] = a["flag"][t, j] / reps
                by.append(row)
    family_size = (f"每项指标的 {T} 个镇" if spec.multiplicity_family == "indicator"
                   else f"全部 {m_family} 个镇 × 指标检验")
    if model:
        test = "beta-二项似然比检验（全区村内相关系数，t 分布，自由度 = 村数 − 镇数）"
        unit = "错退、漏评、识别按人（户规模取自台账，结果为户的属性、与户规模无关），认可度等按户"
    else:
        test = f"设计检验（{spec.interval_method}，deff 下限 {spec.deff_floor:g}）"
        unit = "按户计算比率"
    risk_note = ""
    if d.risk_frame is not None:
        risk_note = (f"；风险户加抽 risk_factor = {plan.risk_factor:g}，风险户漏评概率为同村其他户的 "
                     + "、".join(f"{r:g}" for r in dict.fromkeys(ratios)) + " 倍（risk_ratio）")
    settings = {"icc": dict(icc) if isinstance(icc, Mapping) else icc,
                "risk_factor": plan.risk_factor,
                "risk_ratio": dict(zip(indicators, ratios, strict=True)),
                "shortfall": shortfall, "alpha": spec.alpha,
                "multiplicity": spec.multiplicity,
                "multiplicity_family": spec.multiplicity_family,
                "family_size": T if spec.multiplicity_family == "indicator" else m_family,
                "test_method": spec.test_method, "test": test,
                "method": spec.interval_method, "level": spec.level,
                "deff_floor": spec.deff_floor, "indicators": indicators,
                "mean_rho": (dict(zip(indicators, (rho_sum / max(rho_n, 1)).tolist(),
                                      strict=True)) if model else None),
                "assumptions": f"全部入户成功；{unit}；多重比较族为{family_size}"
                               f"（{spec.multiplicity}）{risk_note}"}
    return DesignPowerResult(pd.DataFrame(rows), any_flag / reps if all_compliant else np.nan,
                             plan, reps, seed, settings, fw, pd.DataFrame(by))


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
    ...                     shortfalls=[0.1, 0.3], indicators=["satisfaction_rate"], reps=20)
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
