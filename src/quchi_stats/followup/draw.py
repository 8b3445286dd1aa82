"""The phase-2 draw of a 复核, and the stage-2 tests on its households.

**Conditional method** (``rule.method == "conditional"``, :mod:`.conditional`): a screened town
(``p1 ≤ α0``, most suspect first, within ``max_extra_households``) gets, in **every** village —
visited in phase 1 or not — and every frame its screened indicators use, ``households[frame]`` of
the households phase 1 did not observe (:func:`observed_households`; the whole remainder for a
``census_frames`` frame), systematic on the list sorted by 户编号, plus reserves. Given phase 1 the
probabilities are exact: ``pi_village`` = ``pi_village_combined`` = 1, ``pi_household`` = ``pi`` =
``want / R`` with ``R`` (``n_households_in_frame_of_village``) the cell's unobserved households.

**Inverse-normal method** (the default). For each town with a town × indicator pair in the
continuation region (most suspect first), the
rule's ``villages`` further villages are drawn from the town's villages **not visited in phase 1**
by the rule's ``village_method`` on the phase-1 πps size (registered households, at least 1) — all
of them when fewer remain — and, in each, households of the frames the town's screened indicators
use, as phase 1 does (systematic on the frame sorted by 户编号; a ``census_frames`` frame whole),
plus reserves. A town whose extra households would pass ``max_extra_households`` is not followed
up (a note says so); its pairs count as ``p2 = 1``.

Probabilities, recorded per household row:

* ``pi_village`` — the conditional probability ``π2|not-1`` of the village given phase 1 (the
  πps probability among the town's unvisited villages): exact, since the phase-2 selection is a
  probability sample of that list;
* ``pi_village_phase1`` — the village's phase-1 probability ``π1`` (it was not drawn then);
* ``pi_village_combined`` — ``π1 + (1 − π1) · π2|not-1`` (Särndal, Swensson & Wretman 1992,
  ch. 9, "added villages"), the probability of the village being in either phase given that the
  town is followed up;
* ``pi_household``, ``pi``, ``weight`` — within the village as in phase 1, and
  ``pi = pi_village · pi_household`` conditional on phase 1 (what the stage-2 test uses).

Why only new villages: the stage-2 p-value must be independent of phase 1 given the town's mean
(then it is uniform under H0 whatever phase 1 showed, which the combination test needs). The
households of a visited village share that village's own rate: a low phase-1 count in a village
predicts low counts among more of its households, so households added there would carry phase 1's
chance low into phase 2 and inflate the false-flag rate. The rates of the villages not yet visited
are independent of the visited ones given the town's mean, and which of them are drawn depends on
phase 1's village list (design information), never on its outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError, check_int
from ..labels import DISTRICT
from ..sampling.draw import _FRAME_ZH, FRAME_NAMES, SAMPLE_COLUMNS, DesignPlan, village_plan
from ..sampling.selection import inclusion_probabilities, select, select_systematic
from ..spec import AssessmentSpec, FollowupRule
from .rule import frames_needed

__all__ = ["FOLLOWUP_COLUMNS", "OBSERVED_STATUSES", "FollowupDraw", "FollowupFrame",
           "draw_followup", "followup_frame", "observed_households", "phase1_village_pi",
           "stage2_tests"]

#: 入户状态 of a phase-1 results row whose household phase 1 observed (its answers are known).
OBSERVED_STATUSES = ("completed", "substitute")

#: Columns of a follow-up ``sample.csv``: the drawn-sample contract, then the phase-1 and
#: combined village probabilities and the screened indicators of the town.
FOLLOWUP_COLUMNS = [*SAMPLE_COLUMNS, "pi_village_phase1", "pi_village_combined", "indicators"]


@dataclass(frozen=True)
class FollowupDraw:
    """A phase-2 sample: household rows (:data:`FOLLOWUP_COLUMNS`), one row per followed-up
    town (``towns``), the pairs screened (``screened``) and Chinese notes."""

    sample: pd.DataFrame
    towns: pd.DataFrame
    screened: pd.DataFrame
    notes: tuple[str, ...]
    seed: int
    method: str = "inverse-normal"

    @property
    def primary(self) -> pd.DataFrame:
        return self.sample[self.sample["role"] == "primary"]

    def __str__(self) -> str:
        p = self.primary
        where = (" 个村（第一阶段未入户的户）" if self.method == "conditional" else " 个新抽村")
        return (f"复核样本：{p['town'].nunique()} 个镇、{p['village'].nunique()}{where}、"
                f"正选 {len(p)} 户、备选 {len(self.sample) - len(p)} 户（种子 {self.seed}）")


def phase1_village_pi(vill: pd.DataFrame, towns: list[str], alloc: np.ndarray,
                      plan: DesignPlan) -> np.ndarray:
    """Phase-1 inclusion probability of every village of ``vill`` (as ``draw_sample`` drew)."""
    pi = np.zeros(len(vill))
    for t, n_t in zip(towns, alloc, strict=True):
        idx = np.flatnonzero((vill["town"] == t).to_numpy())
        certain = (vill["priority"].to_numpy()[idx].astype(bool)
                   if plan.certainty_priority_villages else np.zeros(idx.size, bool))
        pi[idx[certain]] = 1.0
        rest = idx[~certain]
        m = max(int(n_t), int(certain.sum())) - int(certain.sum())
        if m <= 0 or not rest.size:
            continue
        m = min(m, rest.size)
        if plan.village_method in ("pps_systematic", "sampford"):
            size = np.maximum(vill["n_registered"].to_numpy()[rest], 1).astype(float)
            pi[rest] = inclusion_probabilities(size, m)
        else:
            pi[rest] = m / rest.size
    return pi


@dataclass(frozen=True)
class FollowupFrame:
    """What a phase-2 draw needs before any random step: the register sorted as phase 1 sorts it,
    its villages with their phase-1 probabilities, the visited villages and the row positions of
    every (town, village, frame); for the conditional method also the households phase 1
    observed (``observed``) and the register rows they are (``observed_mask``)."""

    reg: pd.DataFrame
    vill: pd.DataFrame
    towns: list[str]
    pi1: np.ndarray
    visited: frozenset
    cells: dict
    observed: frozenset | None = None
    observed_mask: np.ndarray | None = None


def followup_frame(register: pd.DataFrame, phase1_sample: pd.DataFrame,
                   plan: DesignPlan, observed: object = None) -> FollowupFrame:
    """The fixed part of a phase-2 draw (computed once for repeated draws); ``observed`` (the
    household ids phase 1 observed, :func:`observed_households`) for the conditional method."""
    reg, vill, towns, _, alloc, _ = village_plan(register, plan)
    obs = mask = None
    if observed is not None:
        obs = frozenset(observed)
        mask = _not_in_frame(reg, obs, phase1_sample)
    return FollowupFrame(reg, vill, towns, phase1_village_pi(vill, towns, alloc, plan),
                         frozenset(zip(phase1_sample["town"], phase1_sample["village"],
                                       strict=True)),
                         reg.groupby(["town", "village", "frame"], sort=False).indices,
                         obs, mask)


def observed_households(phase1_sample: pd.DataFrame, results: pd.DataFrame) -> list[str]:
    """The households phase 1 observed, sorted: those of the phase-1 sample (primary or reserve)
    whose field-results row has 入户状态 completed or substitute (:data:`OBSERVED_STATUSES`).

    A primary that could not be visited, a reserve not used and a household without a row were
    not observed: under the conditional method phase 2 may draw them.

    Examples
    --------
    >>> s = pd.DataFrame({"household_id": ["a", "b", "c", "d"]})
    >>> r = pd.DataFrame({"household_id": ["a", "b", "c", "x"],
    ...                   "visit_status": ["completed", "unreachable", "substitute", "completed"]})
    >>> observed_households(s, r)
    ['a', 'c']
    """
    ok = (results["household_id"].isin(phase1_sample["household_id"])
          & results["visit_status"].isin(OBSERVED_STATUSES))
    return sorted(results.loc[ok, "household_id"].astype(str).unique())


def _not_in_frame(reg: pd.DataFrame, observed: frozenset, phase1_sample: pd.DataFrame
                  ) -> np.ndarray:
    """Register rows the conditional draw leaves out: the households phase 1 observed and every
    other household of the phase-1 sample (an unreachable primary, an unused reserve). Drawing
    those again would give one household a row in both phases; they are few, and the conditional
    test counts them with the unobserved households of their village × frame, estimated at the
    rate of that cell's phase-2 households (docs/followup.md)."""
    ids = reg["household_id"]
    return (ids.isin(observed) | ids.isin(set(phase1_sample["household_id"]))).to_numpy()


def draw_followup(register: pd.DataFrame, phase1_sample: pd.DataFrame, screened: pd.DataFrame,
                  rule: FollowupRule, spec: AssessmentSpec, plan: DesignPlan,
                  seed: int, *, frame: FollowupFrame | None = None,
                  observed: object = None) -> FollowupDraw:
    """Draw the phase-2 sample of the screened pairs.

    Dispatched on ``rule.method``: ``"inverse-normal"`` draws new villages of the town (the
    module's docstring); ``"conditional"`` draws, in **every** village of the town and every frame
    its screened indicators use, ``rule.households[frame]`` households (the whole remainder for
    ``census_frames``) among those phase 1 did not observe (:func:`observed_households`), by
    systematic selection on the list as phase 1 sorts it (户编号), plus reserves from the rest.
    Each row then records the exact conditional probability given phase 1: ``pi_village`` = 1,
    ``pi_household`` = ``want / R`` (``R`` the cell's unobserved households,
    ``n_households_in_frame_of_village``), ``pi_village_combined`` = 1, ``pi`` = ``pi_household``.

    Parameters
    ----------
    register : DataFrame
        The register of the year (canonical columns).
    phase1_sample : DataFrame
        The phase-1 sample (its villages are the visited ones).
    screened : DataFrame
        :func:`~quchi_stats.followup.continuation`'s pairs (``town``, ``indicator``, ``p1``).
    rule : FollowupRule
    spec : AssessmentSpec
        The frames of each indicator.
    plan : DesignPlan
        The phase-1 plan (the manifest's): phase-1 probabilities and list order.
    seed : int
        Seeds a fresh generator; the same inputs and seed give the same sample.
    frame : FollowupFrame, optional
        :func:`followup_frame` of the same register, phase-1 sample and plan, to draw repeatedly
        without recomputing it (with the same ``observed``, its mask is reused too).
    observed : iterable of str
        The conditional method's household ids phase 1 observed (:func:`observed_households`);
        required for it (or given through ``frame``), not used by the inverse-normal method.
    """
    seed = check_int("seed", seed, "draw_followup", minimum=0)
    conditional = rule.method == "conditional"
    if observed is None and frame is not None:
        observed = frame.observed
    if conditional and observed is None:
        raise ParameterError("The 'observed' parameter of draw_followup must be the phase-1 "
                             "observed household ids when rule.method is 'conditional'. Got None.")
    rng = np.random.default_rng(seed)
    fr = followup_frame(register, phase1_sample, plan) if frame is None else frame
    if conditional:
        obs = frozenset(observed)
        mask = (fr.observed_mask if fr.observed is not None and fr.observed == obs
                else _not_in_frame(fr.reg, obs, phase1_sample))
        cells_out, town_rows, notes = _conditional_cells(fr, mask, screened, rule, spec, rng)
    else:
        cells_out, town_rows, notes = _new_village_cells(fr, screened, rule, spec, rng)
    towns_tab = pd.DataFrame(town_rows, columns=["town", "indicators", "p1_min", "villages_left",
                                                 "villages", "households", "followed_up"])
    sample = _assemble(fr, cells_out, plan)
    return FollowupDraw(sample, towns_tab, screened.reset_index(drop=True), tuple(notes), seed,
                        rule.method)


def _draw_cell(pos: np.ndarray, frame: str, rule: FollowupRule, rng: np.random.Generator
               ) -> tuple[np.ndarray, int] | None:
    """One village × frame of a phase-2 draw from the register rows ``pos`` (in list order): the
    rule's households (all of them for a census frame) by systematic selection, then up to
    ``rule.reserves`` reserves at random from the rest. Returns the rows (primary first) and the
    number of primary households, or None when nothing is drawn."""
    n = pos.size
    want = n if frame in rule.census_frames else min(rule.households[frame], n)
    if n == 0 or want == 0:
        return None
    picked = select_systematic(n, want, rng).indices
    reserve = np.array([], dtype=np.intp)
    if rule.reserves and n > want:
        free = np.ones(n, bool)
        free[picked] = False
        reserve = rng.permutation(np.flatnonzero(free))[: rule.reserves]
    return np.concatenate((pos[picked], pos[reserve])), want


def _town_order(screened: pd.DataFrame) -> pd.Series:
    """Screened towns, most suspect (smallest ``p1``) first."""
    return screened.groupby("town", sort=False)["p1"].min().sort_values(kind="stable")


def _new_village_cells(fr: FollowupFrame, screened: pd.DataFrame, rule: FollowupRule,
                       spec: AssessmentSpec, rng: np.random.Generator
                       ) -> tuple[list[tuple], list[dict], list[str]]:
    """The inverse-normal method's cells: new villages of each screened town."""
    vill, pi1_all, visited, cells = fr.vill, fr.pi1, fr.visited, fr.cells
    empty = np.array([], dtype=np.intp)
    notes: list[str] = []
    cells_out: list[tuple] = []
    town_rows = []
    used = 0
    order = _town_order(screened)
    for town in order.index:
        inds = screened.loc[screened["town"] == town, "indicator"].tolist()
        frames = frames_needed(inds, spec)
        labels = "、".join(spec.indicator(i).label for i in inds)
        tv = np.flatnonzero((vill["town"] == town).to_numpy())
        left = np.array([j for j in tv if (town, vill["village"].iat[j]) not in visited], np.intp)
        row = {"town": town, "indicators": ";".join(inds), "p1_min": float(order[town]),
               "villages_left": int(left.size), "villages": 0, "households": 0,
               "followed_up": False}
        if not left.size:
            notes.append(f"{town}的全部行政村第一阶段都已入样，没有可新抽的村，{labels}无法复核"
                         f"（按 P2 = 1 合并）。")
            town_rows.append(row)
            continue
        k = min(rule.villages, int(left.size))
        size = np.maximum(vill["n_registered"].to_numpy()[left], 1).astype(float)
        sel = select(rule.village_method, size, k, rng)
        rows: list[tuple] = []  # (positions, n_primary, pi2, pi1, N) per village × frame
        extra = 0
        for j_local in sel.indices:
            j = left[j_local]
            village = vill["village"].iat[j]
            for frame in frames:
                pos = cells.get((town, village, frame), empty)
                N = pos.size
                cell = _draw_cell(pos, frame, rule, rng)
                if cell is None:
                    continue
                take, want = cell
                extra += want
                rows.append((take, want, float(sel.pi[j_local]), float(pi1_all[j]), N))
        if used + extra > rule.max_extra_households:
            notes.append(f"{town}（{labels}）复核需再入户 {extra} 户，超过复核户数上限 "
                         f"{rule.max_extra_households} 户（已安排 {used} 户），不复核（按 P2 = 1 合并）。")
            town_rows.append(row)
            continue
        used += extra
        if k < rule.villages:
            notes.append(f"{town}只剩 {left.size} 个未入样的村，少于规则的 {rule.villages} 个，全部抽取。")
        for take, want, pi2, pi1, N in rows:
            n_out = take.size
            cells_out.append((take, np.arange(n_out) - want + 1, pi2, pi1, N, want, int(tv.size),
                              k, ";".join(inds), pi1 + (1 - pi1) * pi2))
        row.update(villages=k, households=extra, followed_up=True)
        town_rows.append(row)
    return cells_out, town_rows, notes


def _conditional_cells(fr: FollowupFrame, observed_mask: np.ndarray, screened: pd.DataFrame,
                       rule: FollowupRule, spec: AssessmentSpec, rng: np.random.Generator
                       ) -> tuple[list[tuple], list[dict], list[str]]:
    """The conditional method's cells: every village × frame of each screened town, the
    households phase 1 did not observe (``~observed_mask``, in the register's order)."""
    vill, pi1_all, visited, cells = fr.vill, fr.pi1, fr.visited, fr.cells
    empty = np.array([], dtype=np.intp)
    notes: list[str] = []
    cells_out: list[tuple] = []
    town_rows = []
    used = 0
    order = _town_order(screened)
    vill_town = vill["town"].to_numpy()
    vill_name = vill["village"].to_numpy()
    for town in order.index:
        inds = screened.loc[screened["town"] == town, "indicator"].tolist()
        frames = frames_needed(inds, spec)
        labels = "、".join(spec.indicator(i).label for i in inds)
        tv = np.flatnonzero(vill_town == town)
        n_visited = sum((town, vill_name[j]) in visited for j in tv)
        rows: list[tuple] = []  # (positions, n_primary, pi1, R) per village × frame
        extra = rest_total = 0
        open_villages = drawn_villages = 0
        for j in tv:
            village = vill_name[j]
            has_rest = has_draw = False
            for frame in frames:
                pos = cells.get((town, village, frame), empty)
                rest = pos[~observed_mask[pos]]
                R = rest.size
                rest_total += R
                has_rest |= R > 0
                cell = _draw_cell(rest, frame, rule, rng)
                if cell is None:
                    continue
                take, want = cell
                extra += want
                has_draw = True
                rows.append((take, want, float(pi1_all[j]), R))
            open_villages += has_rest
            drawn_villages += has_draw
        row = {"town": town, "indicators": ";".join(inds), "p1_min": float(order[town]),
               "villages_left": int(open_villages), "villages": 0, "households": 0,
               "followed_up": False}
        frames_zh = "、".join(_FRAME_ZH[f] for f in frames)
        if not extra:
            why = ("第一阶段已入户全部户，全镇实际比率已知" if not rest_total
                   else "规则在这些框中不抽户")
            notes.append(f"{town}（{labels}）：{frames_zh}中第一阶段未入户的有 {rest_total} 户，"
                         f"{why}，不抽复核样本。")
            town_rows.append(row)
            continue
        if used + extra > rule.max_extra_households:
            notes.append(f"{town}（{labels}）复核需再入户 {extra} 户，超过复核户数上限 "
                         f"{rule.max_extra_households} 户（已安排 {used} 户），不复核。")
            town_rows.append(row)
            continue
        used += extra
        census = [f for f in frames if f in rule.census_frames]
        per = "、".join(f"{_FRAME_ZH[f]}{'全部' if f in census else f'每村 {rule.households[f]} 户'}"
                        for f in frames)
        first = str(screened.loc[screened["town"] == town, "indicator"].iloc[0])  # smallest p1
        notes.append(f"{town}（{labels}，第一阶段最小单侧 P = {order[town]:.3g} ≤ "
                     f"{rule.futility(first):g}）：按条件检验复核全镇实际比率，在全镇 {tv.size} 个村"
                     f"（第一阶段入样 {n_visited} 个）中，从第一阶段未入户的 {rest_total} 户里抽取 "
                     f"{extra} 户（{per}，不足时全部抽取）。")
        for take, want, pi1, R in rows:
            cells_out.append((take, np.arange(take.size) - want + 1, 1.0, pi1, R, want,
                              int(tv.size), int(tv.size), ";".join(inds), 1.0))
        row.update(villages=int(drawn_villages), households=extra, followed_up=True)
        town_rows.append(row)
    return cells_out, town_rows, notes


def _assemble(fr: FollowupFrame, cells_out: list[tuple], plan: DesignPlan) -> pd.DataFrame:
    """The household rows of the drawn cells (:data:`FOLLOWUP_COLUMNS`), in the sample's order
    (town, village, frame, primaries before reserves, 户编号)."""
    if not cells_out:
        return pd.DataFrame(columns=FOLLOWUP_COLUMNS)
    reg = fr.reg
    take = np.concatenate([c[0] for c in cells_out])
    n_out = np.array([c[0].size for c in cells_out])

    def rep(i: int) -> np.ndarray:
        return np.repeat(np.array([c[i] for c in cells_out]), n_out)

    rank = np.concatenate([c[1] for c in cells_out])
    town = reg["town"].to_numpy()[take]
    village = reg["village"].to_numpy()[take]
    hid = reg["household_id"].to_numpy()[take]
    frame = reg["frame"].astype(str).to_numpy()[take] if len(reg) else np.array([], object)
    town_rank = {t: i for i, t in enumerate(fr.towns)}
    frame_rank = {f: i for i, f in enumerate(FRAME_NAMES)}
    o = np.lexsort((hid, np.maximum(rank, 0), (rank > 0).astype(int),
                    np.array([frame_rank[f] for f in frame]), village,
                    np.array([town_rank[t] for t in town])))
    pi2, pi1 = rep(2)[o], rep(3)[o]
    N, want = rep(4)[o].astype(float), rep(5)[o]
    rank = rank[o]
    pi_h = want / N
    pi = pi2 * pi_h
    reserve = rank > 0
    cols = {
        "year": np.full(o.size, plan.year), **{c: pd.Series(reg[c].to_numpy()[take[o]], dtype=reg[c].dtype)
                                       for c in ("town", "village", "household_id")},
        "household_size": pd.array(reg["household_size"].array.take(take[o]), dtype="Int64"),
        "frame": frame[o], "role": np.where(reserve, "reserve", "primary"),
        "reserve_rank": pd.array(np.where(reserve, rank, 0), dtype="Int64"),
        "pi_village": pi2.astype(float).round(12), "pi_household": pi_h.round(12),
        "pi": pi.round(12), "weight": (1.0 / pi).round(12),
        "n_villages_in_town": rep(6)[o], "n_villages_sampled_in_town": rep(7)[o],
        "n_households_in_frame_of_village": rep(4)[o],
        "n_households_sampled_in_frame_of_village": want,
        "certainty_village": pi2 >= 1 - 1e-9,
        "pi_village_phase1": pi1.astype(float).round(12),
        "pi_village_combined": rep(9)[o].astype(float).round(12), "indicators": rep(8)[o]}
    sample = pd.DataFrame(cols, columns=FOLLOWUP_COLUMNS)
    sample.loc[~reserve, "reserve_rank"] = pd.NA
    return sample


def stage2_tests(sample2: pd.DataFrame, results2: pd.DataFrame, spec: AssessmentSpec,
                 phase1_estimates: pd.DataFrame, screened: pd.DataFrame) -> pd.DataFrame:
    """Stage-2 one-sided p-values of the screened pairs, from the new villages' households only.

    The same calibrated beta-binomial test as phase 1
    (:func:`~quchi_stats.flags.town_test.town_lr_batch`, and the spec's ``test_method``: the mid-p
    of a town whose new villages are all empty under ``"beta-binomial-adjusted"``) on the new
    villages' effective counts, with the district ρ and the t reference (``test_df``) of phase 1:
    ρ is a nuisance parameter fixed before phase 2, so the stage-2 statistic depends on phase 1
    only through it (its effect on the level is measured by
    :func:`~quchi_stats.followup.simulate_followup`). Returns
    ``indicator``, ``town``, ``p_value``, ``p_ml``, ``villages``, ``households``.
    """
    from ..estimation import Fieldwork
    from ..flags.betabinomial import village_counts
    from ..flags.town_test import town_lr_batch, town_pvalue_batch

    rows = []
    fw = Fieldwork(sample2, results2, lonely_psu="certainty",
                   satisfied_levels=spec.satisfied_levels)
    for ind_name, pairs in screened.groupby("indicator", sort=False):
        ind = spec.indicator(ind_name)
        e = phase1_estimates[(phase1_estimates["indicator"] == ind_name)
                             & (phase1_estimates["town"] != DISTRICT)]
        if "rho" not in e or e["rho"].isna().all():
            raise DataError(f"第一阶段的“{ind.label}”没有用 beta-binomial 检验（test_method），"
                            f"无法做复核检验")
        rho, df = float(e["rho"].iloc[0]), int(e["test_df"].iloc[0])
        if not fw.has_respondents(ind.frames):
            continue  # no answer of this indicator's frames in phase 2
        d = fw.indicator_design(ind)
        if d is None:
            continue
        vc = village_counts(d.data, "_good", weight=d.weights,
                            size="household_size" if ind.unit == "person" else None)
        vc = vc[vc["town"].isin(pairs["town"])]
        if vc.empty:
            continue
        codes, towns = pd.factorize(vc["town"], sort=False)
        k = len(towns)
        z, p_ml = town_lr_batch(vc["y"].to_numpy(float), vc["m"].to_numpy(float),
                                codes.astype(np.intp), k, np.full(k, rho),
                                np.full(k, ind.threshold))
        n_v = np.bincount(codes, minlength=k)
        n_h = np.bincount(codes, weights=vc["households"].to_numpy(float), minlength=k)
        # the phase-1 test's reference: the mid-p at a town whose new villages are all empty
        # under "beta-binomial-adjusted", t with the phase-1 df otherwise
        p2 = town_pvalue_batch(z, p_ml, df, method=spec.test_method)
        for i, t in enumerate(towns):
            rows.append({"indicator": ind_name, "town": t, "p_value": float(p2[i]),
                         "p_ml": float(p_ml[i]), "villages": int(n_v[i]),
                         "households": int(n_h[i])})
    return pd.DataFrame(rows, columns=["indicator", "town", "p_value", "p_ml", "villages",
                                       "households"])
