"""The yearly two-stage spot-check draw (按照一定比例入村入户抽查).

Stage 1 — villages within each town (the towns are strata): the number per town from
:func:`~quchi_stats.sampling.allocation.allocate` (at least ``min_villages_per_town``, so every town
has df >= 1), selected by systematic πps on the number of registered households (default), Sampford's
πps, systematic or simple random sampling; 省定贫困村 optionally taken with certainty.

Stage 2 — households within each selected village from three separate frames that partition the
village's households in the assessment year:

* ``registered``: 建档立卡 households that did not exit in the year (错评, satisfaction);
* ``exited``: households whose 脱贫年度 is the year (错退);
* ``non_registered``: households outside the register (漏评);

each by systematic selection from the list sorted by 户编号 (as Guangdong's third-party checks did)
at a fixed number or a fraction per village, with its own probabilities:
``pi = pi_village · pi_household`` and ``weight = 1/pi``.

Risk strata (``risk_factor`` k > 1, issue 13 §1): when the register carries the optional risk columns
(低保, 危房, 大病/慢性病, 残疾, 独居老人), each sampled village's ``non_registered`` frame is split into
its risk households (any flag 是) and the others; the frame's households are shared between the two
sub-frames by :func:`risk_split` (a risk household's probability about k times another's, both
sub-frames drawn from), and each sub-frame is drawn like a frame, with ``pi_household = n_sub/N_sub``
and reserves of its own. The sample then has a ``risk`` column. Weights stay ``1/π``, so the
Horvitz–Thompson estimators and the ultimate-cluster variance are unchanged.

Reserve households: for every village and frame, ``reserves`` further households of that frame in a
random order (``reserve_rank`` 1, 2, …) for field teams to use, in order, when a drawn household
cannot be visited. They carry the probabilities of the frame's primary households; the estimation
step adjusts the weights for the substitution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError, check_choice, check_int, check_probability
from ..io.schema import ALLOCATION_LABELS_ZH, FRAMES, LABELS_ZH, RISK_COLUMNS, order_towns
from ..labels import FRAME_SHORT_LABELS_ZH
from ..plan_options import (
    ALLOCATION_METHODS,
    HOUSEHOLD_METHODS,
    MAX_RISK_FACTOR,
    SELECTION_METHODS,
    VILLAGE_ORDERS,
)
from ..plan_options import PLAN_DEFAULTS as _D
from .allocation import allocate
from .sample_size import expected_margin
from .selection import select, select_systematic

__all__ = ["FRAME_NAMES", "DesignPlan", "DrawResult", "assign_frames", "draw_sample", "risk_flags",
           "risk_groups", "risk_split", "split_villages", "village_plan"]

#: The three household frames, in the order of :data:`quchi_stats.io.schema.FRAMES`.
FRAME_NAMES: tuple[str, ...] = tuple(FRAMES)
#: Seeds are below 2**128 (what ``numpy.random.SeedSequence`` draws on; recorded in the manifest).
MAX_SEED = 2 ** 128

SAMPLE_COLUMNS = [
    "year", "town", "village", "household_id", "household_size", "frame", "role", "reserve_rank",
    "pi_village", "pi_household", "pi", "weight", "n_villages_in_town",
    "n_villages_sampled_in_town", "n_households_in_frame_of_village",
    "n_households_sampled_in_frame_of_village", "certainty_village",
]


@dataclass(frozen=True)
class DesignPlan:
    """Every choice of the yearly draw; stored whole in the manifest.

    Parameters
    ----------
    year : int
        Assessment year; frames are built from the register as of its 12-31.
    villages_total : int
        Villages to visit in the district, allocated across towns.
    village_allocation : {"equal", "proportional", "sqrt", "neyman"}
        How ``villages_total`` is shared across towns (proportional/sqrt to the town's number of
        villages; Neyman with ``anticipated_p`` and ``anticipated_deff``).
    min_villages_per_town : int
        At least this many villages per town (2 gives each town df >= 1), capped at the town's count.
    village_method : {"pps_systematic", "sampford", "systematic", "srswor"}
        Stage-1 selection; πps methods use the number of registered households (at least 1).
    village_order : {"name", "size"}
        The list order of a town's villages for the systematic methods (implicit stratification):
        by village name (code order) or by number of registered households, largest first.
    certainty_priority_villages : bool
        Take every 省定贫困村 with certainty (π = 1), in addition to the allocation if needed.
    households_per_village : dict
        Households per selected village for each frame (``registered``, ``exited``,
        ``non_registered``), when ``household_fraction`` is None.
    household_fraction : dict, optional
        Alternatively a sampling fraction per frame: ``ceil(f·N)`` households, at least
        ``min_households_per_village``.
    min_households_per_village : int
        Lower bound with fractions (capped at the frame's size).
    household_method : {"systematic", "srswor"}
        Stage-2 selection on the frame sorted by 户编号.
    reserves : int
        Reserve households per village and frame.
    anticipated_p, anticipated_deff : float or dict
        For Neyman allocation: one value, or one per town (``{town: value}``).
    towns : tuple of str
        The order of the towns (the spec's ``towns``): the draw takes them, and the sample lists
        them, in this order; towns it leaves out follow in order of first appearance in the
        register. Empty (the default): order of first appearance.
    risk_factor : float
        Oversampling of risk households for 漏评 (1, the default: off). With ``k > 1`` the register
        must carry at least one of the optional risk columns (低保, 危房, 大病/慢性病, 残疾,
        独居老人); in each sampled village the ``non_registered`` frame's households are split
        into risk households (any flag 是) and the others, and the frame's sample is shared so
        that a risk household's inclusion probability is about ``k`` times another's
        (:func:`risk_split`), each sub-frame drawn as a frame is, with its own reserves.
    """

    year: int
    villages_total: int = _D["villages_total"]
    village_allocation: str = _D["village_allocation"]
    min_villages_per_town: int = _D["min_villages_per_town"]
    village_method: str = _D["village_method"]
    village_order: str = _D["village_order"]
    certainty_priority_villages: bool = _D["certainty_priority_villages"]
    households_per_village: dict[str, int] = field(
        default_factory=lambda: dict(_D["households_per_village"]))
    household_fraction: dict[str, float] | None = _D["household_fraction"]
    min_households_per_village: int = _D["min_households_per_village"]
    household_method: str = _D["household_method"]
    reserves: int = _D["reserves"]
    anticipated_p: float | dict[str, float] = _D["anticipated_p"]
    anticipated_deff: float | dict[str, float] = _D["anticipated_deff"]
    towns: tuple[str, ...] = _D["towns"]
    risk_factor: float = _D["risk_factor"]

    def _int(self, name: str, minimum: int) -> None:
        """Check an integer field and keep it as an int (1.0 from a manifest becomes 1)."""
        object.__setattr__(self, name, check_int(name, getattr(self, name), "DesignPlan", minimum=minimum))

    def __post_init__(self) -> None:
        func = "DesignPlan"
        towns = self.towns
        if (isinstance(towns, str) or not isinstance(towns, list | tuple)
                or not all(isinstance(t, str) and t.strip() for t in towns)
                or len(set(towns)) != len(towns)):
            raise ParameterError(f"The 'towns' parameter of {func} must be a list of distinct "
                                 f"town names. Got {towns!r:.200}.")
        object.__setattr__(self, "towns", tuple(towns))
        self._int("year", 2000)
        self._int("villages_total", 1)
        check_choice("village_allocation", self.village_allocation, ALLOCATION_METHODS, func)
        self._int("min_villages_per_town", 1)
        check_choice("village_method", self.village_method, SELECTION_METHODS, func)
        check_choice("village_order", self.village_order, VILLAGE_ORDERS, func)
        check_choice("household_method", self.household_method, HOUSEHOLD_METHODS, func)
        self._int("min_households_per_village", 0)
        self._int("reserves", 0)
        k = self.risk_factor
        if (isinstance(k, bool) or not isinstance(k, int | float) or not math.isfinite(k)
                or not 1 <= k <= MAX_RISK_FACTOR):
            raise ParameterError(f"The 'risk_factor' parameter of {func} must be in "
                                 f"[1, {MAX_RISK_FACTOR:g}]. Got {k!r:.40}.")
        object.__setattr__(self, "risk_factor", float(k))
        ps = self.anticipated_p.values() if isinstance(self.anticipated_p, dict) else [
            self.anticipated_p]
        for v in ps:
            check_probability("anticipated_p", v, func)
        ds = self.anticipated_deff.values() if isinstance(self.anticipated_deff, dict) else [
            self.anticipated_deff]
        for v in ds:
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise ParameterError(
                    f"The 'anticipated_deff' parameter of {func} must be > 0. Got {v!r}.")
        per = _per_frame(self.households_per_village, "households_per_village", func,
                         lambda name, v: check_int(name, v, func, minimum=0))
        object.__setattr__(self, "households_per_village", {k: int(v) for k, v in per.items()})
        if self.household_fraction is not None:
            frac = _per_frame(self.household_fraction, "household_fraction", func,
                              lambda name, v: check_probability(name, v, func, closed=True))
            object.__setattr__(self, "household_fraction", {k: float(v) for k, v in frac.items()})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["towns"] = list(d["towns"])
        if not d["towns"]:  # the default is left out: manifests written before it stay the same
            del d["towns"]
        if d["risk_factor"] == 1:  # likewise
            del d["risk_factor"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignPlan:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ParameterError(f"Unknown design parameters: {sorted(unknown)}.")
        return cls(**data)

    def households_wanted(self, frame: str, n_frame: int) -> int:
        """Households to draw from a frame of ``n_frame`` households (never more than it holds)."""
        if self.household_fraction is not None:
            f = self.household_fraction[frame]
            if f == 0:
                return 0
            want = max(math.ceil(f * n_frame - 1e-9), self.min_households_per_village)
        else:
            want = self.households_per_village[frame]
        return min(want, n_frame)


@dataclass(frozen=True)
class DrawResult:
    """A drawn sample, the per-town allocation, and notes explaining every edge case met.

    Attributes
    ----------
    sample : DataFrame
        One row per drawn household (primary and reserve), columns of the drawn-sample contract.
    allocation : DataFrame
        One row per town: villages in the town and drawn, frame sizes and households drawn.
    notes : tuple of str
        Chinese sentences, one per edge case (a town with fewer villages than asked, a frame with
        fewer households than asked, an empty frame, certainty villages).
    plan : DesignPlan
    seed : int
    risk : dict, optional
        With ``plan.risk_factor > 1``: the factor, the register's risk columns, the villages whose
        non-registered frame was split, and the risk and other non-registered households of the
        sampled villages and drawn from them (recorded in the manifest). None otherwise.
    """

    sample: pd.DataFrame
    allocation: pd.DataFrame
    notes: tuple[str, ...]
    plan: DesignPlan
    seed: int
    risk: dict[str, Any] | None = None

    def precision(self, *, p: float | dict[str, float] | None = None, deff: float = 1.5,
                  level: float = 0.95) -> pd.DataFrame:
        """The Wilson half-width each town's sample gives per frame near ``p`` (design effect ``deff``).

        One row per town: households drawn per frame and the anticipated ± margin, the precision
        the draw will give before any field work. ``p`` is one proportion or one per frame (default:
        识别准确率 0.98 for ``registered``, 退出准确率 0.99 for ``exited``, 1 − 漏评率 0.995 for
        ``non_registered``).
        """
        if p is None:
            p = {"registered": 0.98, "exited": 0.99, "non_registered": 0.995}
        p_of = p if isinstance(p, dict) else dict.fromkeys(FRAME_NAMES, p)
        rows = []
        for _, r in self.allocation.iterrows():
            row = {"town": r["town"], "n_villages_sampled_in_town": r["n_villages_sampled_in_town"]}
            for f in FRAME_NAMES:
                n = int(r[f"n_{f}_sampled"])
                row[f"n_{f}_sampled"] = n
                row[f"margin_{f}"] = (expected_margin(p_of[f], n, deff=deff, level=level) if n
                                       else np.nan)
            rows.append(row)
        return pd.DataFrame(rows)

    def to_frame(self, *, chinese: bool = False) -> pd.DataFrame:
        """The allocation, one row per town (a copy; the drawn households are ``sample``);
        ``chinese=True`` labels the columns in Chinese, for people to read."""
        if chinese:
            return self.allocation.rename(columns=ALLOCATION_LABELS_ZH)
        return self.allocation.copy()

    @property
    def primary(self) -> pd.DataFrame:
        return self.sample[self.sample["role"] == "primary"]

    def __str__(self) -> str:
        p = self.primary
        return (f"{self.plan.year} 年抽查样本：{p['town'].nunique()} 个镇、{p['village'].nunique()} 个村、"
                f"正选 {len(p)} 户、备选 {len(self.sample) - len(p)} 户（种子 {self.seed}）")


def assign_frames(register: pd.DataFrame, year: int) -> pd.Series:
    """The sampling frame of every household of ``register`` for ``year``.

    ``exited`` when 脱贫年度 is ``year``; ``registered`` for other 建档立卡 households;
    ``non_registered`` otherwise. A 脱贫年度 after ``year`` (impossible in a register as of
    ``year``-12-31) raises :class:`DataError` naming the row.
    """
    exit_year = register["exit_year"]
    late = exit_year.notna() & (exit_year > year)
    if late.any():
        i = int(np.flatnonzero(late.to_numpy())[0])
        raise DataError(f"脱贫年度 {int(exit_year.iloc[i])} 晚于考核年度 {year}",
                        row=i + 2, column="脱贫年度")
    reg = register["registered"].fillna(False).astype(bool).to_numpy()
    exited = (exit_year == year).fillna(False).to_numpy() & reg
    codes = np.where(~reg, 2, np.where(exited, 1, 0)).astype(np.int8)
    frames = pd.Categorical.from_codes(codes, categories=list(FRAME_NAMES))
    return pd.Series(frames, index=register.index, name="frame")


def draw_sample(register: pd.DataFrame, plan: DesignPlan, seed: int) -> DrawResult:
    """Draw the year's two-stage spot-check sample from a register.

    Parameters
    ----------
    register : DataFrame
        Canonical register columns (see :func:`quchi_stats.io.read_table`).
    plan : DesignPlan
    seed : int
        Seeds a fresh ``numpy.random.Generator``; the same register, plan and seed give the same
        sample.

    Returns
    -------
    DrawResult

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> reg = load_register(2018)
    >>> res = draw_sample(reg, DesignPlan(year=2018), seed=20180101)
    >>> int(res.primary["town"].nunique())
    9
    """
    seed = check_int("seed", seed, "draw_sample", minimum=0)
    if seed >= MAX_SEED:  # the manifest records it; 128 bits are all a SeedSequence needs
        raise ParameterError(f"The 'seed' parameter of draw_sample must be below 2**128. "
                             f"Got an integer of {seed.bit_length()} bits.")
    rng = np.random.default_rng(seed)
    year = plan.year
    reg, vill, towns, _, alloc, notes = village_plan(register, plan)
    use_risk = plan.risk_factor > 1
    if use_risk:
        risk = reg["_risk"].to_numpy(dtype=bool)
        risk_count = {"households": {"risk": 0, "other": 0}, "villages_split": 0}

    # row positions of every (town, village, frame), in 户编号 order
    cells = reg.groupby(["town", "village", "frame"], sort=False).indices
    empty = np.array([], dtype=np.intp)
    rows: list[np.ndarray] = []
    cols: dict[str, list] = {k: [] for k in (
        "n_primary", "n_reserve", "pi_village", "pi_household", "n_frame", "n_drawn", "certain")}
    alloc_rows = []
    villages_of_town = vill.groupby("town", sort=False, observed=True).indices
    village_names = vill["village"].to_numpy()
    village_priority = vill["priority"].to_numpy().astype(bool)
    village_size = vill["n_registered"].to_numpy()
    n_rows = 0
    for t, n_t in zip(towns, alloc, strict=True):
        tv_idx = villages_of_town[t]
        tv_names = village_names[tv_idx]
        n_t = int(n_t)
        pi_v = np.zeros(tv_idx.size)
        chosen = np.zeros(tv_idx.size, dtype=bool)
        certain = (village_priority[tv_idx] if plan.certainty_priority_villages
                   else np.zeros(tv_idx.size, bool))
        k = int(certain.sum())
        if k:
            if k > n_t:
                notes.append(f"{t}有 {k} 个省定贫困村，多于分配的 {n_t} 个村，全部作为必选村入样。")
                n_t = k
            else:
                notes.append(f"{t}的 {k} 个省定贫困村作为必选村入样（入样概率 1）。")
            pi_v[certain] = 1.0
            chosen[certain] = True
        rest = np.flatnonzero(~certain)
        m = n_t - k
        if m > 0 and rest.size:
            size = np.maximum(village_size[tv_idx][rest], 1).astype(float)
            order = -size if plan.village_order == "size" else None
            sel = select(plan.village_method, size, m, rng, order=order)
            pi_v[rest] = sel.pi
            chosen[rest[sel.indices]] = True
        frame_n = dict.fromkeys(FRAME_NAMES, 0)
        frame_drawn = dict.fromkeys(FRAME_NAMES, 0)
        is_certain = certain | (pi_v >= 1.0 - 1e-9)
        town_rows_before = n_rows
        town_risk = 0
        for j in np.flatnonzero(chosen):
            village = tv_names[j]
            for frame in FRAME_NAMES:
                pos = cells.get((t, village, frame), empty)
                N = pos.size
                frame_n[frame] += N
                if N == 0:
                    if plan.households_wanted(frame, 1) > 0:
                        notes.append(f"{t}{village}{year} 年没有“{_FRAME_ZH[frame]}”，该框不抽户。")
                    continue
                want = plan.households_wanted(frame, N)
                if want == 0:
                    continue
                asked = (plan.households_per_village[frame] if plan.household_fraction is None
                         else want)
                if want < asked:
                    notes.append(f"{t}{village}的“{_FRAME_ZH[frame]}”只有 {N} 户，少于计划的 "
                                 f"{asked} 户，全部入样。")
                subs = [(pos, want)]
                if use_risk and frame == "non_registered":
                    flag = risk[pos]
                    n_risk = int(flag.sum())
                    risk_count["households"]["risk"] += n_risk
                    risk_count["households"]["other"] += N - n_risk
                    town_risk += n_risk
                    n_r = risk_split(want, n_risk, N - n_risk, plan.risk_factor)  # as simulated
                    if n_r is not None:
                        subs = [(pos[flag], n_r), (pos[~flag], want - n_r)]
                        risk_count["villages_split"] += 1
                    elif n_risk and n_risk < N:
                        notes.append(f"{t}{village}的“{_FRAME_ZH[frame]}”只抽 {want} 户，"
                                     "不分风险户与其他户，按同一概率抽取。")
                for sub_pos, n_sub in subs:
                    N_sub = sub_pos.size
                    if plan.household_method == "systematic":
                        picked = select_systematic(N_sub, n_sub, rng).indices
                    else:
                        picked = select(plan.household_method, np.ones(N_sub), n_sub, rng).indices
                    reserve = empty
                    if plan.reserves and N_sub > n_sub:
                        left = np.ones(N_sub, dtype=bool)
                        left[picked] = False
                        reserve = rng.permutation(np.flatnonzero(left))[: plan.reserves]
                    n_rows += picked.size + reserve.size
                    rows.append(sub_pos[picked])
                    rows.append(sub_pos[reserve])
                    # one entry per cell (or sub-frame); expanded to rows once at the end
                    for key, value in (("n_primary", picked.size), ("n_reserve", reserve.size),
                                       ("pi_village", pi_v[j]), ("pi_household", n_sub / N_sub),
                                       ("n_frame", N_sub), ("n_drawn", n_sub),
                                       ("certain", bool(is_certain[j]))):
                        cols[key].append(value)
                frame_drawn[frame] += want
        if n_rows == town_rows_before:
            notes.append(f"{t}抽中的村里没有任何可抽的户。")
        alloc_rows.append({
            "town": t, "n_villages_in_town": int(tv_idx.size),
            "n_villages_sampled_in_town": int(chosen.sum()),
            "certainty_villages": int(is_certain[chosen].sum()),
            **{f"n_{f}": frame_n[f] for f in FRAME_NAMES},
            **{f"n_{f}_sampled": frame_drawn[f] for f in FRAME_NAMES},
            **({"n_non_registered_risk": town_risk} if use_risk else {}),
        })
    allocation = pd.DataFrame(alloc_rows)
    if not rows:
        raise DataError("台账中没有任何可抽的户")
    take = np.concatenate(rows)
    n_out = np.add(cols["n_primary"], cols["n_reserve"])
    starts = np.cumsum(n_out) - n_out
    within = np.arange(int(n_out.sum())) - np.repeat(starts, n_out)
    n_primary = np.repeat(cols["n_primary"], n_out)
    cat = {k: np.repeat(np.asarray(v), n_out) for k, v in cols.items()
           if k not in ("n_primary", "n_reserve")}
    reserve_row = within >= n_primary
    cat["role"] = np.where(reserve_row, "reserve", "primary")
    cat["reserve_rank"] = np.where(reserve_row, within - n_primary + 1, 0)
    per_town = allocation.set_index("town")
    sample = reg.iloc[take][["town", "village", "household_id", "household_size", "frame"]]
    sample = sample.reset_index(drop=True)
    sample["frame"] = sample["frame"].astype(str)
    rank = cat["reserve_rank"]
    sample = sample.assign(
        year=year, role=cat["role"],
        reserve_rank=pd.array(np.where(rank > 0, rank, 0), dtype="Int64"),
        pi_village=cat["pi_village"], pi_household=cat["pi_household"],
        n_villages_in_town=sample["town"].map(per_town["n_villages_in_town"]).astype(int),
        n_villages_sampled_in_town=sample["town"].map(
            per_town["n_villages_sampled_in_town"]).astype(int),
        n_households_in_frame_of_village=cat["n_frame"],
        n_households_sampled_in_frame_of_village=cat["n_drawn"],
        certainty_village=cat["certain"],
        household_size=sample["household_size"].astype("Int64"),
    )
    sample.loc[rank == 0, "reserve_rank"] = pd.NA
    sample["pi"] = sample["pi_village"] * sample["pi_household"]
    sample["weight"] = 1.0 / sample["pi"]
    for c in ("pi_village", "pi_household", "pi", "weight"):
        sample[c] = sample[c].round(12)
    frame_rank = {f: i for i, f in enumerate(FRAME_NAMES)}
    town_rank = {t: i for i, t in enumerate(towns)}
    keys = [sample["household_id"].to_numpy(), rank, reserve_row.astype(int)]
    columns = SAMPLE_COLUMNS
    risk_record = None
    if use_risk:
        non_reg = (sample["frame"] == "non_registered").to_numpy()
        flag = risk[take]
        sample["risk"] = pd.array(np.where(non_reg, flag, False), dtype="boolean")
        sample.loc[~non_reg, "risk"] = pd.NA
        # risk households first in a village whose frame was split (each group lists its own
        # primaries, then its reserves); a village drawn as one frame lists one set
        keys.append((risk_groups(sample) == "other").astype(int))
        columns = [*SAMPLE_COLUMNS, "risk"]
        primary_risk = (cat["role"] == "primary") & non_reg & flag
        drawn_risk = pd.Series(primary_risk).groupby(sample["town"].to_numpy()).sum()
        allocation["n_non_registered_risk_sampled"] = (
            allocation["town"].map(drawn_risk).fillna(0).astype(int))
        n_nr = int(((cat["role"] == "primary") & non_reg).sum())
        risk_record = {
            "factor": plan.risk_factor,
            "columns": [c for c in RISK_COLUMNS if c in reg],
            "villages_split": risk_count["villages_split"],
            "households": dict(risk_count["households"]),
            "sampled": {"risk": int(primary_risk.sum()), "other": n_nr - int(primary_risk.sum())},
        }
        h, d = risk_record["households"], risk_record["sampled"]
        notes.append(f"风险户加抽（risk_factor = {plan.risk_factor:g}）：抽中村的非建档立卡户中风险户 "
                     f"{h['risk']} 户、其他户 {h['other']} 户，各抽 {d['risk']} 户、{d['other']} 户；"
                     f"{risk_count['villages_split']} 个村分两个子框抽取。")
    keys += [pd.Categorical(sample["frame"], categories=list(frame_rank)).codes,
             sample["village"].to_numpy(), sample["town"].map(town_rank).to_numpy()]
    order = np.lexsort(tuple(keys))
    sample = sample.iloc[order][columns].reset_index(drop=True)
    return DrawResult(sample, allocation, tuple(notes), plan, seed, risk_record)


def require_risk_columns(register: pd.DataFrame, factor: float,
                         file: str | None = None) -> list[str]:
    """The optional risk columns ``register`` has; none raises :class:`DataError` naming ``file``
    (the register's file name, where known) and ``factor``."""
    present = [c for c in RISK_COLUMNS if c in register]
    if not present:
        names = "、".join(LABELS_ZH[c] for c in RISK_COLUMNS)
        raise DataError(f"台账没有风险户列（{names}，至少要有一列），不能按 risk_factor = {factor:g} "
                        "加抽风险户；请在台账中加入这些列，或不用 --risk-factor（risk_factor = 1）",
                        file=file)
    return present


def risk_flags(register: pd.DataFrame, factor: float = 2.0) -> np.ndarray:
    """Whether each household of ``register`` is a risk household: any of the optional risk
    columns (低保, 危房, 大病/慢性病, 残疾, 独居老人; :data:`~quchi_stats.io.schema.RISK_COLUMNS`)
    is 是 (blank counts as 否). A register with none of them raises :class:`DataError`
    (``factor`` is named in the message).

    >>> import pandas as pd
    >>> risk_flags(pd.DataFrame({"dibao": [True, False, None], "disability": [False, None, True]}))
    array([ True, False,  True])
    """
    present = require_risk_columns(register, factor)
    out = np.zeros(len(register), dtype=bool)
    for c in present:
        try:
            flag = register[c].astype("boolean")
        except (TypeError, ValueError):  # a DataFrame built by hand with text: read_table parses it
            raise DataError("应为是/否（布尔值），请用 read_table 读入台账",
                            column=LABELS_ZH[c]) from None
        out |= flag.fillna(False).to_numpy(dtype=bool)
    return out


def split_villages(sample: pd.DataFrame) -> set[tuple[str, str]]:
    """The (town, village) pairs of a drawn sample whose non-registered frame was split into risk
    households and the others (a draw with ``risk_factor > 1``; empty without a ``risk`` column).

    Read from the sample alone: a split village has primaries in both groups, each group as many
    as its rows record drawn (``n_households_sampled_in_frame_of_village``); in a village drawn as
    one frame every row records the frame's whole number drawn, more than either group holds.

    >>> s = pd.DataFrame({"town": "甲", "village": ["一", "一", "一", "二", "二"],
    ...                   "frame": "non_registered", "role": "primary",
    ...                   "risk": [True, False, False, True, False],
    ...                   "n_households_sampled_in_frame_of_village": [1, 2, 2, 2, 2]})
    >>> sorted(split_villages(s))
    [('甲', '一')]
    """
    if "risk" not in sample or not len(sample):
        return set()
    nr = sample[(sample["frame"] == "non_registered").to_numpy() & sample["risk"].notna().to_numpy()
                & (sample["role"] == "primary").to_numpy()]
    if nr.empty:
        return set()
    g = nr.assign(_risk=nr["risk"].astype(bool)).groupby(["town", "village", "_risk"]).agg(
        n=("role", "size"), want=("n_households_sampled_in_frame_of_village", "first"))
    ok = (g["n"] == g["want"]).groupby(level=[0, 1]).agg(["all", "size"])
    return {(t, v) for (t, v), r in ok.iterrows() if r["all"] and r["size"] == 2}


def risk_groups(table: pd.DataFrame,
                split: set[tuple[str, str]] | None = None) -> np.ndarray:
    """Each row's risk group where it is a sampling cell of its own: ``"risk"`` or ``"other"`` for
    the non-registered rows of a village whose frame the draw split (``split``, by default
    :func:`split_villages` of ``table``), ``""`` elsewhere (a village drawn as one frame lists one
    set of reserves for both groups, so its groups are not cells). ``table`` needs ``town``,
    ``village``, ``frame`` and, for any group, ``risk``.

    >>> s = pd.DataFrame({"town": "甲", "village": ["一", "一", "二"], "frame": "non_registered",
    ...                   "risk": [True, False, True]})
    >>> risk_groups(s, split={("甲", "一")}).tolist()
    ['risk', 'other', '']
    """
    out = np.full(len(table), "", dtype=object)
    if "risk" not in table:
        return out
    if split is None:
        split = split_villages(table)
    if not split:
        return out
    pairs = pd.MultiIndex.from_arrays([table["town"].astype(str), table["village"].astype(str)])
    inside = (pairs.isin(list(split)) & (table["frame"] == "non_registered").to_numpy()
              & table["risk"].notna().to_numpy())
    flag = table["risk"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    out[inside & flag] = "risk"
    out[inside & ~flag] = "other"
    return out


def risk_split(n: int, n_risk: int, n_other: int, factor: float) -> int | None:
    """Risk households to draw when a village's non-registered frame of ``n_risk + n_other``
    households gets ``n``, so that a risk household's probability ``n_r/N_r`` is as near ``k``
    times another's ``n_o/N_o`` as integer sizes allow.

    The continuous solution is ``n·k·N_r / (k·N_r + N_o)``; of the integers just below and above
    it, kept within ``[max(1, n − N_o), min(N_r, n − 1)]`` (both sub-frames are drawn from and
    neither is asked for more than it holds), the one whose ratio ``(n_r/N_r)/(n_o/N_o)`` is
    nearest ``k`` on the log scale (the smaller on a tie). None (no split: one frame, one
    probability) when a sub-frame is empty or ``n < 2``.

    >>> risk_split(8, 30, 200, 3.0)   # 2.48: ratio 2.22 (2) or 4.0 (3)
    3
    >>> risk_split(8, 200, 5, 5.0)    # 7.98, but one other household at least
    7
    >>> risk_split(8, 3, 100, 10.0)   # 1.85: ratio 4.8 (1) or 11.1 (2)
    2
    >>> risk_split(8, 0, 100, 3.0) is None
    True
    """
    if n < 2 or n_risk == 0 or n_other == 0:
        return None
    target = n * factor * n_risk / (factor * n_risk + n_other)
    lo, hi = max(1, n - n_other), min(n_risk, n - 1)
    best, err = None, math.inf
    for cand in sorted({min(max(math.floor(target), lo), hi), min(max(math.ceil(target), lo), hi)}):
        ratio = (cand / n_risk) / ((n - cand) / n_other)
        e = abs(math.log(ratio / factor))
        if e < err - 1e-12:
            best, err = cand, e
    return int(best)


def village_plan(register: pd.DataFrame, plan: DesignPlan) -> tuple[
        pd.DataFrame, pd.DataFrame, list[str], np.ndarray, np.ndarray, list[str]]:
    """What the draw needs before any random step, shared with the design simulation.

    Returns the register sorted by town, village and 户编号 with its ``frame``; one row per village
    (``town``, ``village``, ``n_registered`` — the πps size —, ``priority`` and the households of
    each frame ``households_<frame>``); the towns in order; villages per town; villages allocated per town;
    and the notes on edge cases met so far. With ``plan.risk_factor > 1`` the register also has
    ``_risk`` (:func:`risk_flags`) and each village ``households_non_registered_risk``, the risk
    households of its non-registered frame (the draw and :func:`~quchi_stats.simulate.simulate_design`
    share them, and :func:`risk_split`).
    """
    required = ["town", "village", "household_id", "household_size", "registered", "exit_year",
                "priority_village"]
    missing = [c for c in required if c not in register]
    if missing:
        raise DataError(f"台账缺少列 {missing}")
    year = plan.year
    reg = register.assign(frame=assign_frames(register, year).array,
                          _reg=register["registered"].fillna(False).astype(bool).to_numpy(),
                          _prio=register["priority_village"].fillna(False).astype(bool).to_numpy())
    # the year's town order: the plan's (the spec's ``towns``), else first appearance
    towns = order_towns(register["town"].dropna(), plan.towns)
    notes: list[str] = []
    if plan.towns:
        unlisted = [t for t in towns if t not in set(plan.towns)]
        if unlisted:
            notes.append(f"台账中的 {'、'.join(unlisted)} 不在考核参数的乡镇顺序（towns）中，"
                         "排在所列各镇之后。")
    reg = reg.sort_values(["town", "village", "household_id"], kind="stable").reset_index(drop=True)
    vill = (reg.groupby(["town", "village"], sort=True)
            .agg(n_registered=("_reg", "sum"), priority=("_prio", "max")).reset_index())
    sizes = (reg.groupby(["town", "village", "frame"], sort=True).size()
             .unstack("frame", fill_value=0).reindex(columns=list(FRAME_NAMES), fill_value=0))
    for f in FRAME_NAMES:
        vill[f"households_{f}"] = sizes[f].to_numpy()
    if plan.risk_factor > 1:
        reg["_risk"] = risk_flags(reg, plan.risk_factor)
        nr_risk = (reg["_risk"] & (reg["frame"] == "non_registered")).groupby(
            [reg["town"], reg["village"]], sort=True).sum()
        vill["households_non_registered_risk"] = nr_risk.reindex(
            pd.MultiIndex.from_frame(vill[["town", "village"]])).fillna(0).astype(int).to_numpy()
    n_villages = vill.groupby("town").size().reindex(towns).to_numpy()
    minimum = plan.min_villages_per_town
    floor_total = int(np.minimum(n_villages, minimum).sum())
    if plan.villages_total < floor_total:
        raise ParameterError(
            f"The 'villages_total' parameter of DesignPlan must be >= {floor_total} "
            f"(min_villages_per_town={minimum} in each of {len(towns)} towns). "
            f"Got {plan.villages_total}.")
    total = min(plan.villages_total, int(n_villages.sum()))
    if total < plan.villages_total:
        notes.append(f"全县（区）只有 {int(n_villages.sum())} 个行政村，少于计划的 "
                     f"{plan.villages_total} 个，全部入样。")
    alloc = allocate(total, n_villages, method=plan.village_allocation, minimum=minimum,
                     p=_per_town(plan.anticipated_p, towns, "anticipated_p"),
                     deff=_per_town(plan.anticipated_deff, towns, "anticipated_deff"))
    for t, nv in zip(towns, n_villages, strict=True):
        if nv < minimum:
            notes.append(f"{t}只有 {nv} 个行政村，少于每镇最少 {minimum} 个，全部入样（自由度 {nv - 1}）。")
    return reg, vill, towns, n_villages, np.asarray(alloc), notes


def _per_frame(values: dict, name: str, func: str, check: Any) -> dict[str, Any]:
    """Check a ``{frame: value}`` dict; frames left out get 0."""
    values = dict(values)
    if set(values) - set(FRAME_NAMES):
        raise ParameterError(
            f"The {name!r} parameter of {func} takes the frames {FRAME_NAMES}. Got {sorted(values)}.")
    return {k: check(f"{name}[{k!r}]", values.get(k, 0)) for k in FRAME_NAMES}


def _per_town(value: float | dict[str, float], towns: list[str], name: str) -> np.ndarray:
    if not isinstance(value, dict):
        return np.full(len(towns), float(value))
    missing = [t for t in towns if t not in value]
    if missing:
        raise ParameterError(f"The {name!r} parameter of DesignPlan has no value for {missing}.")
    return np.array([float(value[t]) for t in towns])


_FRAME_ZH = FRAME_SHORT_LABELS_ZH  # one spelling: the label registry
