"""The two-phase 复核 in the yearly assessment: read ``followup_YYYY/``, verify it, split the field
results into the two phases, make the final 第七条（四） decisions and the two-phase estimates.

:func:`run_assessment <quchi_stats.assessment.run_assessment>` calls :func:`read_followup` right
after reading the field results (the phase-2 rows appended to ``results_YYYY`` are taken out before
the phase-1 checks) and :func:`assess_followup` once the phase-1 estimates exist. Without a
``followup_YYYY/`` folder neither does anything and the report is the single-phase one.

**Decisions** (:func:`two_phase_findings`, one table of numbers and codes): every town × indicator
gets its overall p-value (:func:`~quchi_stats.followup.combine_followup`: the phase-1 p-value where
phase 1 decided or the pair is outside the rule, the stage-wise ordered p-value of the
inverse-normal combination after a follow-up, ``α0`` for a screened pair without phase-2 data),
and the spec's adjustment (Holm by default) runs on the overall p-values over the spec's family —
the year-wide family of every town × indicator by default, the same family as the single-phase
report. Each overall p-value is a valid p-value for the two-phase procedure, so the familywise
false-flag rate is controlled for the procedure as a whole (docs/followup.md).

**Estimates** (:func:`two_phase_estimates`): given phase 1, a followed-up town's villages fall in
two parts: the villages visited in phase 1 (in the sample with certainty, given phase 1) and the
villages not visited, of which phase 2 is a probability sample with the exact conditional
probabilities ``π2|1``. The town total is estimated by

    T̂ = Σ_{phase-1 villages} ŷ_i + Σ_{phase-2 villages} ŷ_j / π2|1(j),

with ``ŷ`` each village's household-sampling estimate (weights ``1/π_household``, adjusted for
non-response as in phase 1). The second term is conditionally unbiased for the unvisited villages'
total whatever phase 1 showed, so ``T̂`` is conditionally unbiased for the town total given the
phase-1 village sample **and its results** — up to the household sampling inside the phase-1
villages, the only part of phase 1 the trigger can select on that ``T̂`` keeps. The phase-1 (HT)
estimate, by contrast, is unbiased over all samples but biased low given that it triggered the
follow-up. :func:`~quchi_stats.followup.bias.simulate_two_phase_bias` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, VerificationError
from ..labels import DISTRICT as _DISTRICT
from ..labels import p_statement
from ..spec import AssessmentSpec, FollowupRule
from .combine import (
    STAGE_COMBINED,
    STAGE_CONDITIONAL,
    STAGE_PENDING,
    combine_conditional,
    combine_followup,
    critical_value,
)
from .conditional import conditional_tests
from .draw import stage2_tests
from .rule import continuation, exhausted_towns

__all__ = ["FollowupInput", "FollowupResult", "apply_decisions", "assess_followup",
           "conditional_evidence",
           "evidence_suffix", "flag_columns", "followup_costs", "read_followup",
           "two_phase_estimates", "two_phase_findings", "two_phase_weights"]

DISTRICT = _DISTRICT  # the total row (labels.DISTRICT)


@dataclass(frozen=True)
class FollowupInput:
    """What ``followup_YYYY/`` and the field results hold, before any computation."""

    folder: Path
    manifest: dict
    rule: FollowupRule
    sample: pd.DataFrame
    results1: pd.DataFrame
    results2: pd.DataFrame


@dataclass(frozen=True)
class FollowupResult:
    """The two-phase 复核 of a year, as the report shows it.

    ``decisions``: every town × indicator (:func:`~quchi_stats.followup.combine_followup`);
    ``findings``: the screened pairs with both phases, the decision and the cost
    (:func:`two_phase_findings`); ``costs``: one row per screened town (:func:`followup_costs`);
    ``critical``: the combination's critical value ``c`` at the spec's ``alpha``."""

    rule: FollowupRule
    decisions: pd.DataFrame
    findings: pd.DataFrame
    costs: pd.DataFrame
    critical: float
    folder: Path
    share: float = 1.0
    """The conditional method's share of ``alpha`` for the 复核 decisions (1 otherwise)."""


def read_followup(folder: Path, sample1: pd.DataFrame, results: pd.DataFrame,
                  results_file: str, *, verify: bool = True,
                  columns: dict[str, str] | None = None) -> FollowupInput | None:
    """Read ``followup_YYYY/`` (None when the folder does not exist), verify it against its
    manifest first (``verify``: :func:`~quchi_stats.followup.verify_followup`, the audit record
    before any computation) and split the field results into the phase-1 rows and the phase-2
    rows (households of ``followup_YYYY/sample.csv``). A row of neither sample is an error naming
    the file, row and column.

    When the results are an entry workbook with 复核 sheets (``fieldlist --followup``), each of
    their rows must be a household of the follow-up sample (an error naming the file, sheet, row
    and column otherwise, as without ``followup_YYYY/``): the workbook is read again for where its
    rows come from (``columns``: the results' column names, as given to ``read_results``)."""
    from ..io.entry import _in_sheet, followup_sheet_problems, is_followup_sheet, result_rows, result_sheets
    from ..io.readers import read_table
    from ..sampling.manifest import manifest_rule, read_manifest
    from .audit import verify_followup

    res_path = folder.parent / results_file
    sheets = result_sheets(res_path) if res_path.is_file() else None
    has_phase2 = bool(sheets) and any(is_followup_sheet(t) for t in sheets)
    fu_name = f"{folder.name}/sample.csv"

    def sheet_errors(sample2: pd.DataFrame | None) -> None:
        if not has_phase2:
            return
        rows = result_rows(res_path, columns=columns)
        found = followup_sheet_problems(rows, sample1, sample2, fu_name)
        if found:  # again, for the true row numbers of the message
            rows = result_rows(res_path, columns=columns, exact_rows=True)
            found = followup_sheet_problems(rows, sample1, sample2, fu_name)
            msg, sheet, row, column, value = found[0]
            more = f"（共 {len(found)} 处）" if len(found) > 1 else ""
            raise _in_sheet(DataError(f"户编号“{value}”{msg}{more}", file=results_file, row=row,
                                      column=column), results_file, sheet)

    if not folder.is_dir():
        sheet_errors(None)
        return None
    if has_phase2 and (folder / "sample.csv").is_file() and (folder / "manifest.json").is_file():
        # a row in the wrong sheet is named before the verification reports its effect (phase-1
        # rows changed), against the sample the manifest records (its hash)
        from ..io.writers import file_sha256

        recorded = read_manifest(folder / "manifest.json").get("sample", {}).get("sha256")
        if file_sha256(folder / "sample.csv") == recorded:
            sheet_errors(read_table(folder / "sample.csv", "sample"))
    if verify:
        verify_followup(folder / "manifest.json")
    manifest = read_manifest(folder / "manifest.json")
    if manifest.get("kind") != "followup":
        raise DataError("不是复核清单（kind 应为 followup）", file=f"{folder.name}/manifest.json")
    sample2 = read_table(folder / "sample.csv", "sample")
    rule = manifest_rule(manifest)
    sheet_errors(sample2)
    in1 = results["household_id"].isin(sample1["household_id"])
    in2 = results["household_id"].isin(sample2["household_id"])
    neither = ~(in1 | in2)
    if neither.any():
        i = int(np.flatnonzero(neither.to_numpy())[0])
        raise DataError(f"户编号“{results['household_id'].iloc[i]}”既不在抽查样本中，也不在复核样本"
                        f"（{folder.name}/sample.csv）中", file=results_file, row=i + 2,
                        column="户编号")
    return FollowupInput(folder, manifest, rule, sample2,
                         results[in1.to_numpy()].reset_index(drop=True),
                         results[in2.to_numpy()].reset_index(drop=True))


def assess_followup(inp: FollowupInput, register: pd.DataFrame, sample1: pd.DataFrame,
                    est: pd.DataFrame, spec: AssessmentSpec) -> FollowupResult:
    """Check that this report's phase-1 tests screen exactly the pairs the follow-up recorded,
    and make the final decisions and estimates."""
    rule = inp.rule
    conditional = rule.method == "conditional"
    ex = [] if conditional else exhausted_towns(register, sample1)
    screened = continuation(est, rule, ex)
    recorded = [(r["town"], r["indicator"]) for r in inp.manifest["screened"]]
    if list(zip(screened["town"], screened["indicator"], strict=True)) != recorded:
        raise VerificationError(f"按本次的考核参数重新做第一阶段检验，进入复核区间的镇 × 指标与 "
                                f"{inp.folder.name}/manifest.json 记录的不同：考核参数的检验设置与复核"
                                f"抽样时不同，请用抽取复核样本时的考核参数（--spec）")
    results2 = inp.results2
    costs = followup_costs(sample1, inp.sample, results2, screened)
    if conditional:
        stage2 = conditional_tests(register, sample1, inp.results1, inp.sample, results2, spec,
                                   screened)
        decisions = combine_conditional(est, stage2, rule, spec=spec)
        findings = two_phase_findings(decisions, screened, stage2, stage2, costs)
        return FollowupResult(rule, decisions, findings, costs, np.nan, inp.folder,
                              float(decisions.attrs.get("share", 1.0)))
    stage2 = (stage2_tests(inp.sample, results2, spec, est, screened) if len(results2)
              else None)
    decisions = combine_followup(est, stage2, rule, spec=spec, exhausted=ex)
    estimates = two_phase_estimates(sample1, inp.results1, inp.sample, results2, spec, screened)
    findings = two_phase_findings(decisions, screened, stage2, estimates, costs)
    c = critical_value(spec.alpha, rule.alpha_stop, rule.alpha_futility, rule.weight_phase1)
    return FollowupResult(rule, decisions, findings, costs, c, inp.folder)


def followup_costs(sample1: pd.DataFrame, sample2: pd.DataFrame, results2: pd.DataFrame,
                   screened: pd.DataFrame) -> pd.DataFrame:
    """What the 复核 cost, per screened town: ``villages`` and ``households`` drawn (primary) in
    phase 2, ``visited`` (phase-2 households visited, completed or substituted), and the town's
    phase-1 ``households_phase1`` and ``villages_phase1`` (primary)."""
    rows = []
    p1 = sample1[sample1["role"] == "primary"]
    p2 = sample2[sample2["role"] == "primary"]
    ok = results2[results2["visit_status"].isin(["completed", "substitute"])]["household_id"]
    for town in dict.fromkeys(screened["town"]):
        t1, t2 = p1[p1["town"] == town], p2[p2["town"] == town]
        visited = int(sample2.loc[sample2["town"] == town, "household_id"].isin(ok).sum())
        rows.append({"town": town, "villages_phase1": int(t1["village"].nunique()),
                     "households_phase1": len(t1), "villages": int(t2["village"].nunique()),
                     "households": len(t2), "visited": visited,
                     "extra_share": len(t2) / len(t1) if len(t1) else np.nan})
    return pd.DataFrame(rows, columns=["town", "villages_phase1", "households_phase1", "villages",
                                       "households", "visited", "extra_share"])


def two_phase_weights(sample1: pd.DataFrame, sample2: pd.DataFrame, town: str) -> pd.DataFrame:
    """The base weights (before non-response) of a followed-up town's two-phase estimate, one
    row per primary household: phase 1 ``1/π_household`` (its villages are in the sample with
    certainty given phase 1), phase 2 ``1/(π2|1 · π_household)``. Their sum over a frame is the
    frame's size in the visited villages exactly, plus the HT estimate of its size in the others.
    """
    s1 = sample1[(sample1["town"] == town) & (sample1["role"] == "primary")]
    s2 = sample2[(sample2["town"] == town) & (sample2["role"] == "primary")]
    return pd.concat([
        pd.DataFrame({"household_id": s1["household_id"], "village": s1["village"],
                      "frame": s1["frame"], "phase": 1,
                      "weight": 1.0 / s1["pi_household"].astype(float)}),
        pd.DataFrame({"household_id": s2["household_id"], "village": s2["village"],
                      "frame": s2["frame"], "phase": 2,
                      "weight": 1.0 / s2["pi"].astype(float)}),
    ], ignore_index=True)


def _jeffreys(r: float, n_eff: float, level: float) -> tuple[float, float]:
    if not np.isfinite(r) or not n_eff > 0:
        return np.nan, np.nan
    x = r * n_eff
    a = (1 - level) / 2
    lo = 0.0 if r <= 0 else float(stats.beta.ppf(a, x + 0.5, n_eff - x + 0.5))
    hi = 1.0 if r >= 1 else float(stats.beta.isf(a, x + 0.5, n_eff - x + 0.5))
    return lo, hi


def _phase1_variance(a: pd.DataFrame, u: np.ndarray, group: np.ndarray) -> float:
    """The household-sampling variance of the expanded total of ``u`` over the visited villages'
    cells: one cell per village × frame, and per risk sub-frame (``group``, :func:`~quchi_stats.
    sampling.draw.risk_groups`) where a risk-oversampled phase 1 split the village's frame, each
    with its own N and n (the households that answered). A cell contributes ``(1 − n/N) s_z²/n``
    of ``z_i = n · (N_g/n_g) · u_i`` — ``N²(1 − n/N) s_u²/n`` when its households share one weight.

    A risk sub-frame with a single answering household has no variance of its own: it is
    collapsed with the village's other sub-frame (collapsed strata: N and n summed, each household
    keeping its own sub-frame's weight), not taken as exactly known. A cell of one household
    elsewhere (nothing to collapse with) contributes nothing."""
    cells = a[["village", "frame"]].assign(_u=u, _grp=group, _sub=group,
                                           _big_n=a["n_households_in_frame_of_village"].astype(float))
    keys = ["village", "frame", "_grp"]
    cells["_n"] = cells.groupby(keys, sort=False)["_u"].transform("size")
    cells["_w"] = cells["_big_n"] / cells["_n"]  # the sub-frame's weight (answering households)
    lonely = (cells["_n"] == 1) & (cells["_grp"] != "")
    if lonely.any():
        vf = pd.MultiIndex.from_frame(cells.loc[lonely, ["village", "frame"]])
        collapse = pd.MultiIndex.from_frame(cells[["village", "frame"]]).isin(vf)
        cells.loc[collapse, "_grp"] = "collapsed"
    v = 0.0
    for _, cell in cells.groupby(keys, sort=False):
        n = len(cell)
        # a collapsed cell's N: its sub-frames' N summed
        big_n = float(cell.groupby("_sub", sort=False)["_big_n"].first().sum())
        if n > 1 and big_n > n:
            z = n * cell["_w"].to_numpy(float) * cell["_u"].to_numpy(float)
            v += (1 - n / big_n) * z.var(ddof=1) / n
    return v


def two_phase_estimates(sample1: pd.DataFrame, results1: pd.DataFrame, sample2: pd.DataFrame,
                        results2: pd.DataFrame, spec: AssessmentSpec,
                        pairs: pd.DataFrame) -> pd.DataFrame:
    """The two-phase estimate of each followed-up town × indicator of ``pairs`` (``town``,
    ``indicator``) with an interval at ``spec.level``.

    ``R̂ = (Σ₁ w y + Σ₂ w y) / (Σ₁ w m + Σ₂ w m)`` with phase-1 weights ``1/π_household`` and
    phase-2 weights ``1/(π2|1 · π_household)``, both adjusted for non-response within village ×
    frame as in phase 1 (``y`` the good count, ``m`` persons or 1 as the indicator counts). The
    variance of the linearised ``u = m (good − R̂)`` is the household-sampling variance within the
    phase-1 villages (``N²(1 − n/N) s²/n`` per village × frame, and per risk sub-frame where a
    risk-oversampled phase 1 split the frame; a sub-frame with one answering household collapsed
    with the other, :func:`_phase1_variance`) plus the with-replacement between-village variance
    of the phase-2 villages' expanded totals; the interval is the Jeffreys interval at the
    effective size ``R̂(1 − R̂)/V``, never more than the households counted (all of them when
    ``V = 0``).
    Returns ``indicator``, ``town``, ``estimate_two_phase``, ``ci_lower``, ``ci_upper``,
    ``households_phase2_answered``; pairs without phase-2 answers are left out.
    """
    from ..estimation import Fieldwork
    from ..sampling.draw import risk_groups, split_villages

    cols = ["indicator", "town", "estimate_two_phase", "ci_lower", "ci_upper",
            "households_phase2_answered"]
    if pairs.empty or results2.empty:
        return pd.DataFrame(columns=cols)
    fw1 = Fieldwork(sample1, results1, lonely_psu="certainty",
                    satisfied_levels=spec.satisfied_levels)
    fw2 = Fieldwork(sample2, results2, lonely_psu="certainty",
                    satisfied_levels=spec.satisfied_levels)
    split = split_villages(sample1)
    rows = []
    for ind_name, sub in pairs.groupby("indicator", sort=False):
        ind = spec.indicator(ind_name)
        if not (fw1.has_respondents(ind.frames) and fw2.has_respondents(ind.frames)):
            continue  # no answer of this indicator's frames in a phase
        d1, d2 = fw1.indicator_design(ind), fw2.indicator_design(ind)
        if d1 is None or d2 is None:
            continue
        for town in sub["town"]:
            a = d1.data[(d1.data["town"] == town) & d1.data["_good"].notna()]
            b = d2.data[(d2.data["town"] == town) & d2.data["_good"].notna()]
            if b.empty:
                continue
            wa = a["weight_adj"].to_numpy(float) * a["pi_village"].to_numpy(float)
            wb = b["weight_adj"].to_numpy(float)
            ma = a["household_size"].to_numpy(float) if ind.unit == "person" else np.ones(len(a))
            mb = b["household_size"].to_numpy(float) if ind.unit == "person" else np.ones(len(b))
            ga, gb = a["_good"].to_numpy(float), b["_good"].to_numpy(float)
            M = (wa * ma).sum() + (wb * mb).sum()
            r = ((wa * ma * ga).sum() + (wb * mb * gb).sum()) / M
            ua, ub = ma * (ga - r), mb * (gb - r)
            v_a = _phase1_variance(a, ua, risk_groups(a, split))
            tot = pd.Series(wb * ub).groupby(b["village"].to_numpy()).sum().to_numpy()
            k = tot.size
            v_b = k / (k - 1) * ((tot - tot.mean()) ** 2).sum() if k > 1 else 0.0
            var = (v_a + v_b) / M ** 2
            n_all = len(a) + len(b)
            n_eff = min(r * (1 - r) / var, n_all) if var > 0 else float(n_all)
            lo, hi = _jeffreys(r, n_eff, spec.level)
            rows.append({"indicator": ind_name, "town": town, "estimate_two_phase": r,
                         "ci_lower": lo, "ci_upper": hi, "households_phase2_answered": len(b)})
    return pd.DataFrame(rows, columns=cols)


def two_phase_findings(decisions: pd.DataFrame, screened: pd.DataFrame,
                       stage2: pd.DataFrame | None, estimates: pd.DataFrame,
                       costs: pd.DataFrame) -> pd.DataFrame:
    """第七条（四） after the 复核: one row per screened town × indicator, numbers and codes only.

    ``estimate`` (phase 1), ``threshold``, ``p1``; ``p2``, ``villages2``, ``households2`` (the
    stage-2 test on the new villages); ``estimate_two_phase``, ``ci_lower``, ``ci_upper``; ``z``,
    ``stage`` (a ``STAGE_*`` code), ``p_overall``, ``p_adjusted``, ``class``, ``flag``; and the
    town's cost (``villages``, ``households``, ``visited``, ``households_phase1``,
    ``extra_share``)."""
    keys = ["indicator", "town"]
    out = screened[keys].merge(decisions, on=keys, how="left")
    if stage2 is not None and len(stage2):
        out = out.merge(stage2[[*keys, "villages", "households"]].rename(
            columns={"villages": "villages2", "households": "households2"}), on=keys, how="left")
    else:
        out["villages2"] = np.nan
        out["households2"] = np.nan
    out = out.merge(estimates[[*keys, "estimate_two_phase", "ci_lower", "ci_upper"]], on=keys,
                    how="left")
    out = out.merge(costs[["town", "villages", "households", "visited", "households_phase1",
                           "extra_share"]], on="town", how="left")
    return out[["indicator", "town", "estimate", "threshold", "p1", "p2", "villages2",
                "households2", "estimate_two_phase", "ci_lower", "ci_upper", "z", "stage",
                "p_overall", "p_adjusted", "class", "flag", "villages", "households", "visited",
                "households_phase1", "extra_share"]].reset_index(drop=True)


def apply_decisions(est: pd.DataFrame, fu: FollowupResult, spec: AssessmentSpec) -> pd.DataFrame:
    """The estimates table with each town's adjusted p-value and class from the two-phase
    decisions (the adjustment ran on the overall p-values of the whole family)."""
    out = est.copy()
    towns = out["town"] != DISTRICT
    key = fu.decisions.set_index(["indicator", "town"])
    idx = pd.MultiIndex.from_frame(out.loc[towns, ["indicator", "town"]])
    out.loc[towns, "p_adjusted"] = key["p_adjusted"].reindex(idx).to_numpy(float)
    out.loc[towns, "class"] = key["class"].reindex(idx).to_numpy()
    return out


def conditional_evidence(fu: FollowupResult, row: pd.Series, spec: AssessmentSpec) -> str | None:
    """The whole evidence of a 第七条（四） flag the conditional 复核 decided (None otherwise): the
    decisive test first — the town's actual rate given phase 1, its interval, the conditional
    test's P and the adjusted P — then phase 1 and what the 复核 took. ``row`` is the flag's row
    of the estimates table (phase 1's estimate, n and villages)."""
    f = fu.findings[(fu.findings["town"] == row["town"])
                    & (fu.findings["indicator"] == row["indicator"])]
    if f.empty or f["stage"].iloc[0] != STAGE_CONDITIONAL:
        return None
    r = f.iloc[0]
    ind = spec.indicator(row["indicator"])
    lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
    return (f"两阶段复核：全镇实际{ind.label}估计 {ind.shown(r['estimate_two_phase']):.1%}"
            f"（{spec.level:.0%} 区间 {lo:.1%}–{hi:.1%}），标准 {ind.comparison} "
            f"{ind.shown_threshold:.0%}；给定第一阶段的条件检验 {p_statement(r['p2'])}，"
            f"校正后 {p_statement(r['p_adjusted'])}；第一阶段抽查 {ind.shown(row['estimate']):.1%}"
            f"（{p_statement(r['p1'], 'P1')}，{int(row['n'])} 户、{int(row['df']) + 1} 个村），"
            f"复核在全镇 {int(r['villages'])} 个村补抽 {int(r['households'])} 户")


def evidence_suffix(fu: FollowupResult, town: str, indicator: str, spec: AssessmentSpec) -> str:
    """The 复核 part of a 第七条（四） flag's evidence (empty for a pair not followed up)."""
    f = fu.findings[(fu.findings["town"] == town) & (fu.findings["indicator"] == indicator)]
    if f.empty or f["stage"].iloc[0] not in (STAGE_COMBINED, STAGE_PENDING, STAGE_CONDITIONAL):
        return ""
    r = f.iloc[0]
    if r["stage"] == STAGE_CONDITIONAL:
        ind = spec.indicator(indicator)
        lo, hi = sorted((ind.shown(r["ci_lower"]), ind.shown(r["ci_upper"])))
        return (f"；两阶段复核：第一阶段 {p_statement(r['p1'], 'P1')}，"
                f"复核在全镇 {int(r['villages'])} 个村补抽 "
                f"{int(r['households'])} 户，全镇实际{ind.label}估计 {ind.shown(r['estimate_two_phase']):.1%}"
                f"（{spec.level:.0%} 区间 {lo:.1%}–{hi:.1%}），给定第一阶段的条件检验 {p_statement(r['p2'])}")
    if r["stage"] == STAGE_PENDING:
        return f"；两阶段复核：第一阶段 {p_statement(r['p1'], 'P1')}，未取得复核结果，按 P2 = 1 合并"
    ind = spec.indicator(indicator)
    est2 = ""
    if pd.notna(r["estimate_two_phase"]):
        est2 = f"，两阶段估计 {ind.shown(r['estimate_two_phase']):.1%}"
    return (f"；两阶段复核：第一阶段 {p_statement(r['p1'], 'P1')}，复核新抽 {int(r['villages'])} 个村 "
            f"{int(r['households'])} 户，{p_statement(r['p2'], 'P2')}{est2}，合并 Z = {r['z']:.2f}"
            f"（临界值 {fu.critical:.3f}）")


def flag_columns(flags: pd.DataFrame, fu: FollowupResult, spec: AssessmentSpec) -> pd.DataFrame:
    """The flags table with the 复核 columns added (``followup_stage``, ``p_phase1``,
    ``p_phase2``, ``p_adjusted_two_phase``, ``followup_villages``, ``followup_households``),
    filled for the 第七条（四） flags (the last two for followed-up towns only)."""
    label_of = {i.name: i.label for i in spec.indicators}
    d = fu.decisions.assign(item=fu.decisions["indicator"].map(label_of), article="第七条（四）")
    d = d.rename(columns={"stage": "followup_stage", "p1": "p_phase1", "p2": "p_phase2",
                          "p_adjusted": "p_adjusted_two_phase"})
    cost = fu.findings.drop_duplicates(["indicator", "town"]).set_index(["indicator", "town"])
    idx = pd.MultiIndex.from_frame(d[["indicator", "town"]])
    d["followup_villages"] = cost["villages"].reindex(idx).to_numpy()
    d["followup_households"] = cost["households"].reindex(idx).to_numpy()
    for c in ("followup_villages", "followup_households"):
        d[c] = pd.array(d[c].to_numpy(float), dtype="Float64").round().astype("Int64")
    add = ["followup_stage", "p_phase1", "p_phase2", "p_adjusted_two_phase",
           "followup_villages", "followup_households"]
    return flags.merge(d[["town", "article", "item", *add]], on=["town", "article", "item"],
                       how="left")
