"""Simulation of the whole two-phase 复核: power per town, the familywise false-flag rate and the
extra households, vectorised across replicates as :mod:`quchi_stats.simulate.power`.

Each replicate:

1. draws phase 1 exactly as :func:`~quchi_stats.simulate.simulate_design` does (same allocation,
   πps sizes, list order), gives every village a true rate per indicator (beta, mean the town's
   rate, intra-village correlation ``icc``) and every household of the indicator's frames a
   Bernoulli outcome (so each village is a finite population), and takes the plan's households
   per frame by a hypergeometric draw;
2. runs the report's phase-1 test: village effective counts (Kish, as
   :func:`~quchi_stats.flags.village_counts` with the design's household weights), the district
   ρ as the spec's ``test_method`` estimates it (:func:`~quchi_stats.flags.town_test.rho_batch`),
   each town's signed-root likelihood ratio against the standard
   (:func:`~quchi_stats.flags.town_test.town_lr_batch`) referred to t with villages − towns df
   (and the mid-p at an all-empty town under ``"beta-binomial-adjusted"``,
   :func:`~quchi_stats.flags.town_test.town_pvalue_batch`);
3. applies the rule: pairs with ``α1 < p1 ≤ α0`` are screened; their towns, most suspect first
   and within ``max_extra_households``, get ``villages`` new villages by systematic πps among the
   unvisited ones (all of them when fewer remain) and the rule's households per frame (or the
   whole frame) in each;
4. computes the stage-2 p-value from the new villages only (same test, phase-1 ρ and df), the
   overall stage-wise p-value (:func:`~quchi_stats.followup.overall_pvalue`), the spec's
   multiplicity adjustment within its family, and flags ``p_adjusted < alpha``.

With ``rule.method == "conditional"`` steps 3–4 are :func:`_conditional_phase2`: a pair with
``p1 ≤ α0`` is screened, its town gets the rule's households per frame among the households phase
1 did not observe in **every** village (census frames whole), and the decision is the conditional
test of the town's actual rate (:mod:`.conditional`), adjusted within the followed-up pairs at the
rule's share of ``alpha``. False flags are counted both against the given means (``compliant``)
and against each replicate's actual finite-population rates (``met``: the 第七条 estimand).

Rates are per household for every indicator (as in :mod:`quchi_stats.simulate.power`: the person
weighting of 错退率 and 漏评率 changes the variance little); every drawn household responds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError, check_int
from ..flags.thresholds import adjust_rows
from ..flags.town_test import rho_batch, town_lr_batch, town_pvalue_batch
from ..sampling.draw import FRAME_NAMES, DesignPlan
from ..simulate.power import _district, _rates_table, _select, _village_rates
from ..spec import AssessmentSpec, FollowupRule, load_spec
from .combine import overall_pvalue
from .conditional import conditional_test_batch

__all__ = ["FollowupSimulation", "compare_followup", "simulate_followup"]

CHUNK = 250


@dataclass(frozen=True)
class FollowupSimulation:
    """Per town × indicator (``table``) and district figures (``summary``) of the simulated
    two-phase procedure."""

    table: pd.DataFrame
    summary: dict[str, float]
    rule: FollowupRule
    reps: int
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)
    replicates: pd.DataFrame | None = None
    """One row per replicate: ``false_flag`` / ``false_flag_phase1`` (a flag on a pair whose
    given mean meets its standard), ``false_flag_actual`` / ``false_flag_actual_phase1`` (a flag
    on a pair whose actual rate meets it), ``extra_households``, ``extra_compliant`` and
    ``phase1_compliant`` (the compliant towns'), ``extra_shortfall`` (the other towns'). The
    Monte Carlo standard errors of ``summary`` (keys ending ``_se``) come from these."""

    def __str__(self) -> str:
        s = self.summary
        lines = [f"两阶段复核模拟：{self.reps} 次重复（种子 {self.seed}）",
                 f"  误判（达标的镇 × 指标被判定显著偏低）的重复比例：按当年实际比率 "
                 f"{s['familywise_false_flag_actual']:.1%}（仅第一阶段 "
                 f"{s['familywise_false_flag_actual_phase1']:.1%}）；按假定的平均比率 "
                 f"{s['familywise_false_flag']:.1%}（仅第一阶段 {s['familywise_false_flag_phase1']:.1%}）"]
        if np.isfinite(s.get("min_power", np.nan)):
            lines.append(f"  偏低的镇 × 指标被判定的比例：最低 {s['min_power']:.1%}，"
                         f"平均 {s['mean_power']:.1%}（仅第一阶段最低 {s['min_power_phase1']:.1%}）")
        lines.append(f"  达标镇复核户数占其第一阶段户数：{s['compliant_extra_share']:.1%}；"
                     f"平均每次复核共 {s['extra_households']:.0f} 户（偏低镇 "
                     f"{s['shortfall_extra_households']:.0f} 户；第一阶段 "
                     f"{s['phase1_households']:.0f} 户）")
        return "\n".join(lines)


def _kish(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
          ) -> tuple[np.ndarray, np.ndarray]:
    """Village effective counts from per-frame (y, m, N): weights N/m within the village."""
    sw = sw2 = swy = 0.0
    for y, m, N in parts:
        w = np.where(m > 0, N / np.maximum(m, 1), 0.0)
        sw = sw + w * m
        sw2 = sw2 + w * w * m
        swy = swy + w * y
    with np.errstate(invalid="ignore", divide="ignore"):
        meff = np.where(sw2 > 0, sw * sw / np.where(sw2 > 0, sw2, 1.0), 0.0)
        phat = np.where(sw > 0, swy / np.where(sw > 0, sw, 1.0), 0.0)
    return np.clip(meff * phat, 0.0, meff), meff


def _town_test(y: np.ndarray, m: np.ndarray, town_of_v: np.ndarray, T: int, p0: float,
               rho: np.ndarray | None, df: np.ndarray | None, method: str = "beta-binomial"
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-sided p-values (r, T) of the towns with data (NaN elsewhere), ρ (r,) and df (r,), by
    the report's test ``method`` (ρ estimated by it when not given; its p-value).

    ``y``, ``m`` are (r, V) effective counts, zero where a village has no data."""
    r = m.shape[0]
    has = m > 0
    rows, cols = np.nonzero(has)
    g_full = rows * T + town_of_v[cols]
    groups, g = np.unique(g_full, return_inverse=True)
    n_groups = groups.size
    rep_of_group = groups // T
    yy, mm = y[rows, cols], m[rows, cols]
    if rho is None:
        rho = rho_batch(method, yy, mm, g.astype(np.intp), rep_of_group, r)
        villages = has.sum(axis=1)
        towns = np.bincount(rep_of_group, minlength=r)
        df = np.maximum(villages - towns, 1)
    z, p_ml = town_lr_batch(yy, mm, g.astype(np.intp), n_groups, rho[rep_of_group],
                            np.full(n_groups, p0))
    out = np.full((r, T), np.nan)
    out[rep_of_group, groups % T] = town_pvalue_batch(z, p_ml, df[rep_of_group], method=method)
    return out, rho, df


def _pps_rows(size: np.ndarray, k: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """Systematic πps selection of ``k[i]`` units in each row of ``size`` (0 = not available):
    selection mask and inclusion probabilities (certainty units at 1), as
    :func:`~quchi_stats.sampling.select_pps_systematic` on each row."""
    r, n = size.shape
    avail = size > 0
    pik = np.zeros((r, n))
    certain = np.zeros((r, n), bool)
    for _ in range(n + 1):
        free = avail & ~certain
        rest = k - certain.sum(axis=1)
        tot = np.where(free, size, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(free, rest[:, None] * size / np.where(tot > 0, tot, 1.0)[:, None], 0.0)
        pik = np.where(certain, 1.0, p)
        newly = free & (p >= 1 - 1e-9)
        if not newly.any():
            break
        certain |= newly
    cum = np.round(np.concatenate((np.zeros((r, 1)), np.cumsum(pik, axis=1)), axis=1), 10)
    u = rng.random((r, 1))
    cross = np.floor(cum - u)
    chosen = (cross[:, 1:] > cross[:, :-1]) & avail
    return chosen, pik


def simulate_followup(register: pd.DataFrame, plan: DesignPlan, rule: FollowupRule, *,
                      spec: AssessmentSpec | None = None,
                      indicators: Sequence[str] = ("satisfaction_rate",),
                      truth: Any = None, icc: float | Mapping[str, float] = 0.05,
                      reps: int = 500, seed: int = 0) -> FollowupSimulation:
    """Simulate the pre-registered two-phase procedure on a register and a phase-1 plan.

    Parameters
    ----------
    register, plan
        The district and the phase-1 design (as :func:`~quchi_stats.simulate.simulate_design`).
    rule : FollowupRule
        The 复核 rule (α1, α0, weights, villages, households per frame, census frames, cap).
    spec : AssessmentSpec, optional
        Thresholds, ``alpha``, ``multiplicity`` and ``multiplicity_family`` (default: the shipped
        spec of ``plan.year``).
    indicators : sequence of str
        Indicators simulated (each must be in ``rule.indicators``).
    truth : float, dict or DataFrame, optional
        True rates as ``simulate_design``'s ``truth``/``compliant`` (default: halfway between the
        threshold and 1, every town compliant).
    icc : float or dict
        Intra-village correlation of the outcomes (one value or per indicator; default 0.05).
    reps, seed : int
        Replicates, and the seed of independent streams per block of :data:`CHUNK`.

    Returns
    -------
    FollowupSimulation
        ``table``: per town × indicator ``true_rate``, ``compliant``, ``flag_rate`` (two-phase),
        ``flag_rate_phase1`` (phase 1 alone, same adjustment), ``reject_rate_unadjusted`` (overall
        p-value below ``alpha`` before adjustment: the per-test level at a boundary truth) and its
        phase-1 value, ``continuation_rate``,
        ``followup_rate``, ``extra_households`` (mean per replicate, the town's),
        ``phase1_households`` (the town's phase-1 households, all frames). ``summary``:
        ``familywise_false_flag`` (share of replicates flagging any compliant pair) and its
        phase-1-only value, ``min_power``/``mean_power`` over the pairs below standard (and
        phase 1 alone), ``compliant_extra_share`` (extra households in compliant towns over their
        phase-1 households), ``extra_households`` and ``shortfall_extra_households`` (means per
        replicate), ``familywise_false_flag_actual`` (and phase 1 alone: a flag on a pair whose
        actual rate meets its standard), and the Monte Carlo SE of each of these (``*_se``;
        ``table`` has ``flag_rate_se``). ``replicates``: the per-replicate figures.

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> res = simulate_followup(load_register(2018), DesignPlan(year=2018),
    ...                         FollowupRule(indicators=("satisfaction_rate",)), reps=20, seed=1)
    >>> res.table.shape[0]
    9
    """
    func = "simulate_followup"
    spec = load_spec(plan.year) if spec is None else spec
    reps = check_int("reps", reps, func, minimum=1)
    seed = check_int("seed", seed, func, minimum=0)
    indicators = list(indicators)
    bad = [i for i in indicators if i not in rule.indicators]
    if bad or not indicators:
        raise ParameterError(f"The 'indicators' parameter of {func} must name indicators of the "
                             f"rule {list(rule.indicators)}. Got {indicators}.")
    inds = [spec.indicator(i) for i in indicators]
    iccs = [float(icc.get(i, 0.05)) if isinstance(icc, Mapping) else float(icc)
            for i in indicators]
    d = _district(register, plan)
    T, K, V = len(d.towns), len(inds), d.size.size
    thr = np.array([i.threshold for i in inds])
    base = _rates_table(truth, d.towns, indicators, "truth",
                        {i.name: (1 + i.threshold) / 2 for i in inds})
    compliant = base >= thr[None, :] - 1e-12
    a1, a0, w1 = rule.alpha_stop, rule.alpha_futility, rule.weight_phase1
    frames_of = [list(i.frames) for i in inds]
    m1 = {f: d.m[f].astype(float) for f in FRAME_NAMES}
    m2 = {f: (d.N[f] if f in rule.census_frames
              else np.minimum(rule.households[f], d.N[f])).astype(float) for f in FRAME_NAMES}
    villages_of = [np.flatnonzero(d.village_town == t) for t in range(T)]
    acc = {k: np.zeros((T, K)) for k in ("flag", "flag1", "cont", "raw", "raw1")}
    acc_t = {k: np.zeros(T) for k in ("follow", "extra", "p1hh")}
    fw = fw1 = fwr = fwr1 = 0
    acc["false_real"] = np.zeros((T, K))
    acc["met_real"] = np.zeros((T, K))
    extra_compliant = p1hh_compliant = 0.0
    town_compliant = compliant.all(axis=1)
    m_family = T * (len(spec.indicators) if spec.multiplicity_family == "all" else 1)
    conditional = rule.method == "conditional"
    # the report's town test: rho_batch and town_pvalue_batch take any other value than the
    # adjusted one (the "design" method, which stage2_tests refuses) as the plain model test
    method = spec.test_method
    # the conditional method's α for the 复核 decisions (the rule's share of the family)
    n_rule = T * (len(rule.indicators) if spec.multiplicity_family == "all" else 1)
    share = rule.share(n_rule, m_family)
    chunks = np.random.SeedSequence(seed).spawn(-(-reps // CHUNK))
    done = 0
    per_rep: list[dict[str, np.ndarray]] = []
    for ss in chunks:
        r = min(CHUNK, reps - done)
        rng = np.random.default_rng(ss)
        idx, _ = _select(d, plan, r, rng)
        visited = np.zeros((r, V + 1), bool)
        np.put_along_axis(visited, idx.reshape(r, -1), True, axis=1)
        visited = visited[:, :V]
        p1hh = np.zeros((r, T))
        for f in FRAME_NAMES:
            p1hh += np.stack([(visited[:, vs] * m1[f][vs]).sum(axis=1) for vs in villages_of], 1)
        # phase 1 of every indicator
        P1 = np.full((r, T, K), np.nan)
        met = np.zeros((r, T, K), bool)  # the town's actual rate meets the standard
        pops, rhos, dfs, obs1 = [], [], [], []
        for j in range(K):
            rates = _village_rates(base[d.village_town, j], iccs[j], r, rng)
            pop, parts, seen = {}, [], {}
            for f in frames_of[j]:
                N = d.N[f]
                Y = rng.binomial(N[None, :], rates)
                pop[f] = Y
                mm = np.where(visited, m1[f][None, :], 0.0).astype(np.int64)
                y = rng.hypergeometric(Y, np.maximum(N - Y, 0) + (N == 0), np.maximum(mm, 1))
                y = np.where(mm > 0, y, 0)
                seen[f] = (y, mm)
                parts.append((y.astype(float), mm.astype(float), N[None, :].astype(float)))
            ye, me = _kish(parts)
            P1[:, :, j], rho, df = _town_test(ye, me, d.village_town, T, thr[j], None, None,
                                                  method)
            obs1.append(seen)
            good = sum(np.stack([pop[f][:, vs].sum(axis=1) for vs in villages_of], 1)
                       for f in frames_of[j])
            size_t = sum(np.array([d.N[f][vs].sum() for vs in villages_of], float)
                         for f in frames_of[j])
            met[:, :, j] = good >= thr[j] * size_t[None, :] - 1e-9
            pops.append(pop)
            rhos.append(rho)
            dfs.append(df)
        if conditional:
            P, extra_t, follow, cont = _conditional_phase2(
                d, rule, P1, pops, obs1, visited, frames_of, thr, villages_of, rng,
                np.array([rule.futility(i.name) for i in inds]))
            adj = _adjust_within(P, spec, share)
            adj1 = (adjust_rows(P1.reshape(r, -1), spec.multiplicity, m_family).reshape(r, T, K)
                    if spec.multiplicity_family == "all" else
                    np.stack([adjust_rows(P1[:, :, j], spec.multiplicity) for j in range(K)], 2))
            _accumulate(acc, acc_t, P, P1, adj, adj1, cont, follow, extra_t, p1hh, spec.alpha)
            flag = np.nan_to_num(adj, nan=1.0) < spec.alpha
            flag1 = np.nan_to_num(adj1, nan=1.0) < spec.alpha
            fw += int((flag & compliant[None]).any(axis=(1, 2)).sum())
            fw1 += int((flag1 & compliant[None]).any(axis=(1, 2)).sum())
            fwr += int((flag & met).any(axis=(1, 2)).sum())
            fwr1 += int((flag1 & met).any(axis=(1, 2)).sum())
            acc["false_real"] += (flag & met).sum(axis=0)
            acc["met_real"] += met.sum(axis=0)
            extra_compliant += float(extra_t[:, town_compliant].sum())
            p1hh_compliant += float(p1hh[:, town_compliant].sum())
            per_rep.append(_per_replicate(flag, flag1, compliant, met, extra_t, p1hh,
                                          town_compliant))
            done += r
            continue
        # towns with every village visited are decided on phase 1 alone (known from the design)
        open_t = np.stack([(~visited[:, vs]).any(axis=1) for vs in villages_of], axis=1)
        cont = (P1 > a1) & (P1 <= a0) & open_t[:, :, None]
        # which towns are followed up: most suspect first, within the cap
        need = cont.any(axis=2)
        frames_town = [[f for f in FRAME_NAMES
                        if any(f in frames_of[j] for j in range(K))] for _ in range(T)]
        p1min = np.where(cont, P1, np.inf).min(axis=2)
        new = np.zeros((r, V), bool)
        extra_t = np.zeros((r, T))
        for t in range(T):
            vs = villages_of[t]
            left = ~visited[:, vs]
            size = np.where(left, d.size[vs][None, :], 0.0)
            k = np.minimum(rule.villages, left.sum(axis=1))
            if rule.village_method in ("srswor", "systematic"):
                size = left.astype(float)
            chosen, _ = _pps_rows(size, k, rng)
            chosen &= need[:, t][:, None]
            new[:, vs] = chosen
            for f in frames_town[t]:
                extra_t[:, t] += (chosen * m2[f][vs][None, :]).sum(axis=1)
        follow = _within_cap(p1min, need, extra_t, rule.max_extra_households)
        new &= follow[:, d.village_town]
        extra_t = np.where(follow, extra_t, 0.0)
        # phase 2 and the decisions
        P = np.empty((r, T, K))
        for j in range(K):
            parts = []
            for f in frames_of[j]:
                N, Y = d.N[f], pops[j][f]
                mm = np.where(new, m2[f][None, :], 0.0).astype(np.int64)
                y = rng.hypergeometric(Y, np.maximum(N - Y, 0) + (N == 0), np.maximum(mm, 1))
                y = np.where(mm > 0, y, 0)
                parts.append((y.astype(float), mm.astype(float), N[None, :].astype(float)))
            ye, me = _kish(parts)
            if me.any():
                P2, _, _ = _town_test(ye, me, d.village_town, T, thr[j], rhos[j], dfs[j], method)
            else:
                P2 = np.full((r, T), np.nan)
            P2 = np.where(cont[:, :, j] & follow, P2, np.nan)
            P[:, :, j] = np.where(open_t, overall_pvalue(P1[:, :, j], P2, a1, a0, w1),
                                  P1[:, :, j])
        if spec.multiplicity_family == "all":
            adj = adjust_rows(P.reshape(r, -1), spec.multiplicity, m_family).reshape(r, T, K)
            adj1 = adjust_rows(P1.reshape(r, -1), spec.multiplicity, m_family).reshape(r, T, K)
        else:
            adj = np.stack([adjust_rows(P[:, :, j], spec.multiplicity) for j in range(K)], 2)
            adj1 = np.stack([adjust_rows(P1[:, :, j], spec.multiplicity) for j in range(K)], 2)
        flag = np.nan_to_num(adj, nan=1.0) < spec.alpha
        flag1 = np.nan_to_num(adj1, nan=1.0) < spec.alpha
        acc["flag"] += flag.sum(axis=0)
        acc["flag1"] += flag1.sum(axis=0)
        acc["cont"] += cont.sum(axis=0)
        acc["raw"] += (np.nan_to_num(P, nan=1.0) < spec.alpha).sum(axis=0)
        acc["raw1"] += (np.nan_to_num(P1, nan=1.0) < spec.alpha).sum(axis=0)
        acc_t["follow"] += follow.sum(axis=0)
        acc_t["extra"] += extra_t.sum(axis=0)
        acc_t["p1hh"] += p1hh.sum(axis=0)
        fw += int((flag & compliant[None]).any(axis=(1, 2)).sum())
        fw1 += int((flag1 & compliant[None]).any(axis=(1, 2)).sum())
        fwr += int((flag & met).any(axis=(1, 2)).sum())
        fwr1 += int((flag1 & met).any(axis=(1, 2)).sum())
        acc["false_real"] += (flag & met).sum(axis=0)
        acc["met_real"] += met.sum(axis=0)
        extra_compliant += float(extra_t[:, town_compliant].sum())
        p1hh_compliant += float(p1hh[:, town_compliant].sum())
        per_rep.append(_per_replicate(flag, flag1, compliant, met, extra_t, p1hh, town_compliant))
        done += r
    replicates = pd.DataFrame({k: np.concatenate([b[k] for b in per_rep]) for k in per_rep[0]})
    rows_out = []
    for t, town in enumerate(d.towns):
        for j, ind in enumerate(inds):
            rows_out.append({
                "town": town, "indicator": ind.name, "label": ind.label,
                "threshold": thr[j], "true_rate": base[t, j], "compliant": bool(compliant[t, j]),
                "flag_rate": acc["flag"][t, j] / reps, "flag_rate_phase1": acc["flag1"][t, j] / reps,
                "reject_rate_unadjusted": acc["raw"][t, j] / reps,
                "reject_rate_unadjusted_phase1": acc["raw1"][t, j] / reps,
                "continuation_rate": acc["cont"][t, j] / reps,
                "followup_rate": acc_t["follow"][t] / reps,
                "extra_households": acc_t["extra"][t] / reps,
                "phase1_households": acc_t["p1hh"][t] / reps,
                "meets_standard_rate": acc["met_real"][t, j] / reps,
                "false_flag_rate": (acc["false_real"][t, j] / acc["met_real"][t, j]
                                    if acc["met_real"][t, j] else np.nan)})
    table = pd.DataFrame(rows_out)
    # Monte Carlo SE of a rate over independent replicates
    table["flag_rate_se"] = np.sqrt(table["flag_rate"] * (1 - table["flag_rate"]) / reps)
    table["flag_rate_phase1_se"] = np.sqrt(table["flag_rate_phase1"]
                                           * (1 - table["flag_rate_phase1"]) / reps)
    low = table[~table["compliant"]]
    summary = {
        "familywise_false_flag": fw / reps, "familywise_false_flag_phase1": fw1 / reps,
        "familywise_false_flag_actual": fwr / reps,
        "familywise_false_flag_actual_phase1": fwr1 / reps,
        "min_power": float(low["flag_rate"].min()) if len(low) else np.nan,
        "mean_power": float(low["flag_rate"].mean()) if len(low) else np.nan,
        "min_power_phase1": float(low["flag_rate_phase1"].min()) if len(low) else np.nan,
        "compliant_extra_share": extra_compliant / p1hh_compliant if p1hh_compliant else np.nan,
        "extra_households": float(acc_t["extra"].sum() / reps),
        "shortfall_extra_households": float(acc_t["extra"][~town_compliant].sum() / reps),
        "phase1_households": float(acc_t["p1hh"].sum() / reps),
    }
    summary.update(_standard_errors(replicates, summary, low))
    if conditional:
        summary["alpha_followup"] = spec.alpha * share
    settings = {"icc": icc, "indicators": indicators, "alpha": spec.alpha,
                "multiplicity": spec.multiplicity, "family": spec.multiplicity_family}
    return FollowupSimulation(table, summary, rule, reps, seed, settings, replicates)


_COMPARE_ZH = {
    "design": "设计", "stage": "判定", "phase1_households": "第一阶段户数",
    "min_power": "偏低镇 × 指标最低判定比例",
    "false_actual_compliant": "误判率（实际比率，全部达标）",
    "false_actual_shortfall": "误判率（实际比率，偏低情景）",
    "false_mean_compliant": "误判率（假定平均比率，全部达标）",
    "false_mean_shortfall": "误判率（假定平均比率，偏低情景）",
    "compliant_extra_share": "达标镇复核户数 / 其第一阶段（偏低情景）",
    "extra_compliant": "复核户数（全部达标）", "extra_shortfall": "复核户数（偏低情景）",
    "extra_shortfall_low": "其中偏低镇"}


def compare_followup(compliant: Mapping[str, FollowupSimulation],
                     shortfall: Mapping[str, FollowupSimulation], *,
                     chinese: bool = False) -> pd.DataFrame:
    """Designs side by side: for each name, the two-phase procedure and its phase 1 alone.

    ``compliant`` and ``shortfall`` map a design's name to its simulation with every town
    compliant and with some pairs below standard (same names). One row per design and stage
    (``two_phase``, ``phase1``): phase-1 households, each low pair's flag rate (columns
    ``"town label"``) and the weakest, the familywise false-flag rates against the actual rates and
    against the given means in both scenarios, the compliant towns' extra households over their
    phase-1 households and the extra households (0 for phase 1 alone). ``chinese`` gives Chinese
    headers and stage names.

    Examples
    --------
    >>> from quchi_stats.datasets import load_register
    >>> reg, plan = load_register(2018), DesignPlan(year=2018)
    >>> rule = FollowupRule(indicators=("satisfaction_rate",))
    >>> ok = simulate_followup(reg, plan, rule, reps=10, seed=1)
    >>> low = simulate_followup(reg, plan, rule, truth={"satisfaction_rate": {"马坝镇": 0.8}},
    ...                         reps=10, seed=2)
    >>> compare_followup({"默认": ok}, {"默认": low}).shape
    (2, 13)
    """
    if set(compliant) != set(shortfall):
        raise ParameterError(f"The 'shortfall' parameter of compare_followup must name the same "
                             f"designs as 'compliant'. Got {sorted(shortfall)} and "
                             f"{sorted(compliant)}.")
    rows = []
    for name, comp in compliant.items():
        sf = shortfall[name]
        low = sf.table[~sf.table["compliant"]]
        for stage, suf in (("two_phase", ""), ("phase1", "_phase1")):
            two = stage == "two_phase"
            row: dict[str, Any] = {"design": name, "stage": stage,
                                   "phase1_households": sf.summary["phase1_households"]}
            for r in low.itertuples():
                row[f"{r.town} {r.label}"] = getattr(r, "flag_rate" + suf)
            row["min_power"] = float(low["flag_rate" + suf].min()) if len(low) else np.nan
            for key, res in (("compliant", comp), ("shortfall", sf)):
                row[f"false_actual_{key}"] = res.summary["familywise_false_flag_actual" + suf]
                row[f"false_mean_{key}"] = res.summary["familywise_false_flag" + suf]
            row["compliant_extra_share"] = sf.summary["compliant_extra_share"] if two else 0.0
            row["extra_compliant"] = comp.summary["extra_households"] if two else 0.0
            row["extra_shortfall"] = sf.summary["extra_households"] if two else 0.0
            row["extra_shortfall_low"] = sf.summary["shortfall_extra_households"] if two else 0.0
            rows.append(row)
    out = pd.DataFrame(rows)
    if chinese:
        out["stage"] = out["stage"].map({"two_phase": "两阶段复核", "phase1": "仅第一阶段"})
        out = out.rename(columns=_COMPARE_ZH)
    return out


def _per_replicate(flag: np.ndarray, flag1: np.ndarray, compliant: np.ndarray, met: np.ndarray,
                   extra_t: np.ndarray, p1hh: np.ndarray, town_compliant: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """The per-replicate figures of a block (see ``FollowupSimulation.replicates``)."""
    return {"false_flag": (flag & compliant[None]).any(axis=(1, 2)),
            "false_flag_phase1": (flag1 & compliant[None]).any(axis=(1, 2)),
            "false_flag_actual": (flag & met).any(axis=(1, 2)),
            "false_flag_actual_phase1": (flag1 & met).any(axis=(1, 2)),
            "extra_households": extra_t.sum(axis=1),
            "extra_compliant": extra_t[:, town_compliant].sum(axis=1),
            "phase1_compliant": p1hh[:, town_compliant].sum(axis=1),
            "extra_shortfall": extra_t[:, ~town_compliant].sum(axis=1)}


def _standard_errors(rep: pd.DataFrame, summary: dict, low: pd.DataFrame) -> dict[str, float]:
    """Monte Carlo SEs of the summary: binomial for the replicate shares and the powers (the
    weakest pair's own), the mean's for the households, the linearised ratio's for the
    compliant towns' share."""
    n = len(rep)
    out = {}
    for k in ("familywise_false_flag", "familywise_false_flag_phase1",
              "familywise_false_flag_actual", "familywise_false_flag_actual_phase1",
              "min_power", "min_power_phase1"):
        p = summary[k]
        out[f"{k}_se"] = float(np.sqrt(p * (1 - p) / n)) if np.isfinite(p) else np.nan
    out["mean_power_se"] = (float(np.sqrt((low["flag_rate"] * (1 - low["flag_rate"])).sum() / n)
                                  / len(low)) if len(low) else np.nan)  # pairs as independent
    for k, col in (("extra_households", "extra_households"),
                   ("shortfall_extra_households", "extra_shortfall")):
        out[f"{k}_se"] = float(rep[col].std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    x, y = rep["extra_compliant"].to_numpy(float), rep["phase1_compliant"].to_numpy(float)
    ratio = summary["compliant_extra_share"]
    out["compliant_extra_share_se"] = (float(np.std(x - ratio * y, ddof=1) / np.sqrt(n) / y.mean())
                                       if n > 1 and y.mean() > 0 else np.nan)
    return out


def _within_cap(p1min: np.ndarray, need: np.ndarray, extra_t: np.ndarray, cap: int
                ) -> np.ndarray:
    """Which towns each replicate follows up: those that need it, most suspect (smallest ``p1``)
    first, while their extra households stay within ``cap`` (a town that would pass it is skipped
    and the next one tried), as :func:`~quchi_stats.followup.draw_followup` does."""
    r, T = extra_t.shape
    order = np.argsort(p1min, axis=1, kind="stable")
    used = np.zeros(r)
    follow = np.zeros((r, T), bool)
    rows = np.arange(r)
    for pos in range(T):
        t = order[:, pos]
        e = extra_t[rows, t]
        ok = need[rows, t] & (e > 0) & (used + e <= cap)
        follow[rows, t] = ok
        used += np.where(ok, e, 0.0)
    return follow


def _adjust_within(P: np.ndarray, spec: AssessmentSpec, share: float) -> np.ndarray:
    """The conditional method's adjusted p-values: the spec's adjustment within the followed-up
    pairs of each replicate (NaN elsewhere), scaled by ``1/share`` so that "adjusted < α" is
    "within-family adjusted < share · α"."""
    r, T, K = P.shape
    if spec.multiplicity_family == "all":
        adj = adjust_rows(P.reshape(r, -1), spec.multiplicity).reshape(r, T, K)
    else:
        adj = np.stack([adjust_rows(P[:, :, j], spec.multiplicity) for j in range(K)], 2)
    return np.minimum(adj / share, 1.0)


def _accumulate(acc: dict, acc_t: dict, P: np.ndarray, P1: np.ndarray, adj: np.ndarray,
                adj1: np.ndarray, cont: np.ndarray, follow: np.ndarray, extra_t: np.ndarray,
                p1hh: np.ndarray, alpha: float) -> None:
    acc["flag"] += (np.nan_to_num(adj, nan=1.0) < alpha).sum(axis=0)
    acc["flag1"] += (np.nan_to_num(adj1, nan=1.0) < alpha).sum(axis=0)
    acc["cont"] += cont.sum(axis=0)
    acc["raw"] += (np.nan_to_num(P, nan=1.0) < alpha).sum(axis=0)
    acc["raw1"] += (np.nan_to_num(P1, nan=1.0) < alpha).sum(axis=0)
    acc_t["follow"] += follow.sum(axis=0)
    acc_t["extra"] += extra_t.sum(axis=0)
    acc_t["p1hh"] += p1hh.sum(axis=0)


def _conditional_phase2(d: Any, rule: FollowupRule, P1: np.ndarray, pops: list, obs1: list,
                        visited: np.ndarray, frames_of: list, thr: np.ndarray,
                        villages_of: list, rng: np.random.Generator, a0: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Phase 2 of the conditional method (:mod:`.conditional`) for a block of replicates.

    A pair is screened when ``p1 ≤ α0`` (``a0``: each simulated indicator's
    :meth:`~quchi_stats.spec.FollowupRule.futility`); a screened town (most suspect first, within the cap)
    gets, in every one of its villages and every frame its screened indicators use, the rule's
    households per frame (the whole frame for ``census_frames``) drawn at random from the
    households phase 1 did not observe. Returns the conditional p-values (NaN for pairs not
    followed up), the extra households per town, which towns were followed up and the screened
    pairs."""
    r, T, K = P1.shape
    cont = np.nan_to_num(P1, nan=1.0) <= a0[None, None, :]
    need = cont.any(axis=2)
    vt = d.village_town
    frames_used = [f for f in FRAME_NAMES if any(f in fr for fr in frames_of)]
    rest_hh, n2 = {}, {}
    for f in frames_used:
        N = d.N[f].astype(float)[None, :]
        rest_hh[f] = N - np.where(visited, d.m[f][None, :], 0).astype(float)
        want = (rest_hh[f] if f in rule.census_frames
                else np.minimum(float(rule.households[f]), rest_hh[f]))
        n2[f] = want
    extra_t = np.zeros((r, T))
    for f in frames_used:
        # the frames of the town's screened indicators only, as the draw takes them
        used_f = np.stack([cont[:, :, j] for j in range(K) if f in frames_of[j]], 2).any(axis=2)
        extra_t += used_f * np.stack([n2[f][:, vs].sum(axis=1) for vs in villages_of], axis=1)
    p1min = np.where(cont, P1, np.inf).min(axis=2)
    follow = _within_cap(p1min, need, extra_t, rule.max_extra_households)
    extra_t = np.where(follow, extra_t, 0.0)
    fv = follow[:, vt]  # (r, V): the village's town is followed up
    P = np.full((r, T, K), np.nan)
    g_cells = (np.arange(r)[:, None] * T + vt[None, :])  # (r, V) group of each village
    for j in range(K):
        t_obs = np.zeros((r, T))
        total = np.zeros((r, T))
        g_l, rest_l, n2_l, y2_l = [], [], [], []
        for f in frames_of[j]:
            y1 = obs1[j][f][0]
            Y = pops[j][f]
            N = d.N[f]
            left_good = np.maximum(Y - y1, 0)
            R = rest_hh[f]
            k = np.where(fv, n2[f], 0.0).astype(np.int64)
            bad = np.maximum(R.astype(np.int64) - left_good, 0)
            draw = rng.hypergeometric(np.where(k > 0, left_good, 0),
                                      np.where(k > 0, bad, 1), np.maximum(k, 1))
            y2 = np.where(k > 0, draw, 0)
            t_obs += np.stack([y1[:, vs].sum(axis=1) for vs in villages_of], axis=1)
            total += np.stack([np.broadcast_to(N[vs], (r, vs.size)).sum(axis=1)
                               for vs in villages_of], axis=1)
            g_l.append(g_cells.ravel())
            rest_l.append(R.ravel())
            n2_l.append(k.ravel().astype(float))
            y2_l.append(y2.ravel().astype(float))
        g = np.concatenate(g_l)
        rest = np.concatenate(rest_l)
        nn = np.concatenate(n2_l)
        res = conditional_test_batch(t_obs.ravel(), total.ravel(), g, r * T, rest, rest,
                                     nn, nn, np.concatenate(y2_l), nn, float(thr[j]))
        pv = res.p_value.reshape(r, T)
        P[:, :, j] = np.where(cont[:, :, j] & follow, pv, np.nan)
    return P, extra_t, follow, cont
