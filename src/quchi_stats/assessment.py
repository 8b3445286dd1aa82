"""One year's assessment: estimates for every indicator, and every 第七条 flag, from a data directory.

:func:`run_assessment` is what ``quchi-stats report`` and the yearly notebooks call. It reads the
register, the drawn sample, the field results, the self-assessments and the targets of the year,
estimates each indicator of the spec by town and district-wide, tests towns against thresholds with
the spec's multiplicity adjustment, and collects the evidence for 第七条 (一)(三)(四) and 第九条.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .design import SurveyDesign
from .errors import DataError, QuchiStatsWarning
from .estimation import Fieldwork, estimate_proportion
from .evidence import CONSEQUENCES, flag_table, watch_table
from .findings import (
    Findings,
    bunching_findings,
    bunching_tables,
    history_findings,
    self_report_findings,
    target_findings,
    threshold_findings,
    watch_findings,
)
from .flags import (
    CLASS_SIGNIFICANT,
    adjust_family,
    check_targets,
    compare_self_report,
    funnel_table,
    lqas_classify,
    shrink_villages,
    threshold_power,
    village_cluster_test,
    village_counts,
)
from .flags.thresholds import pooled_power_n, verdicts
from .flags.town_test import TEST_METHODS as MODEL_TEST_METHODS
from .flags.town_test import TownTestResult, town_test
from .io.datadir import DataDir
from .io.entry import read_results
from .io.readers import read_table
from .io.schema import order_towns
from .labels import DISTRICT as _DISTRICT
from .sampling.manifest import register_options, verify_sample
from .spec import AssessmentSpec, Indicator, check_spec_year, load_spec

__all__ = ["CONSEQUENCES", "Assessment", "difference_interval", "estimate_indicators",
           "run_assessment"]

DISTRICT = _DISTRICT  # the total row (labels.DISTRICT)

@dataclass(frozen=True)
class Assessment:
    """Everything the yearly report shows. Tables use canonical English column names."""

    year: int
    spec: AssessmentSpec
    estimates: pd.DataFrame
    flags: pd.DataFrame
    funnel: dict[str, pd.DataFrame]
    shrinkage: pd.DataFrame
    targets: pd.DataFrame
    bunching: pd.DataFrame
    villages: pd.DataFrame
    self_report: pd.DataFrame
    response: pd.DataFrame
    incomes: pd.DataFrame
    watch: pd.DataFrame = field(default_factory=pd.DataFrame)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    clusters: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    overview: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    verified: bool = True
    """False when the run skipped the check of the samples against their manifests
    (``verify=False``, ``--no-verify``): the report then says so on its first screen."""
    followup: object = None
    """The two-phase 复核 (:class:`~quchi_stats.followup.final.FollowupResult`) when the data
    directory has ``followup_YYYY/``; None otherwise."""
    village_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Each indicator's sampled villages, as the town test and the shrinkage count them
    (:func:`~quchi_stats.flags.village_counts`): ``indicator``, ``town``, ``village``,
    ``households`` (responding households), ``m``, ``y``, ``p_hat`` (the village's good rate)
    and ``share``. Numbers only; no household appears."""
    findings: Findings = field(default_factory=Findings)
    """What each article found, as tables of numbers and codes
    (:class:`~quchi_stats.findings.Findings`: ``targets`` 第七条（一）, ``bunching`` （三）,
    ``threshold`` （四）, ``self_report`` 第九条, ``watch``, ``history``); ``flags`` and
    ``watch`` are their sentences."""

    @property
    def flagged_towns(self) -> list[str]:
        return list(dict.fromkeys(self.flags["town"])) if len(self.flags) else []  # year's order

    def flagged_villages(self) -> pd.DataFrame:
        """The sampled villages of each town × indicator flagged under 第七条（四） (the town's
        class is the code ``significant``, :data:`~quchi_stats.flags.CLASS_SIGNIFICANT`, as for its
        flag), in the order of
        the estimates, with the town's estimate and interval: ``indicator``, ``town``,
        ``village``, ``households``, ``p_hat``, ``estimate``, ``ci_lower``, ``ci_upper``,
        ``threshold`` (good rates). Empty when nothing is flagged or no village rates are kept."""
        cols = ["indicator", "town", "village", "households", "p_hat", "estimate", "ci_lower",
                "ci_upper", "threshold"]
        e = self.estimates
        if not len(self.village_rates) or not len(e) or "class" not in e:
            return pd.DataFrame(columns=cols)
        pairs = e.loc[(e["class"] == CLASS_SIGNIFICANT) & (e["town"] != DISTRICT),
                      ["indicator", "town", "estimate", "ci_lower", "ci_upper", "threshold"]]
        v = pairs.merge(self.village_rates, on=["indicator", "town"], how="inner", sort=False)
        return v[cols].reset_index(drop=True)


def estimate_indicators(sample: pd.DataFrame, results: pd.DataFrame, spec: AssessmentSpec, *,
                        fieldwork: Fieldwork | None = None, models: dict | None = None,
                        power: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Good-rate estimates of every indicator by town and district-wide, with p-values against
    the thresholds, multiplicity-adjusted classes and power. Returns (estimates, response).

    ``fieldwork`` (optional) is the :class:`~quchi_stats.estimation.Fieldwork` of ``sample`` and
    ``results`` when the caller has one (its designs are then reused, not built again);
    ``models`` (optional) is filled with each indicator's
    :class:`~quchi_stats.flags.town_test.TownTestResult` (the district ρ and the village counts),
    which the 第九条 comparison reuses. ``power=False`` leaves the power column out of the
    computation (NaN): the earlier years of the trend need only their estimates."""
    fw = fieldwork if fieldwork is not None else _fieldwork(sample, results, spec)
    parts = []
    for ind in spec.indicators:
        d = fw.indicator_design(ind)
        if d is None:
            warnings.warn(f"核查结果中没有“{ind.label}”所需的列 {ind.column}，该指标跳过。",
                          QuchiStatsWarning, stacklevel=2)
            continue
        parts.append(_estimate_indicator(d, ind, spec, models))
    # towns in the year's order (the spec's ``towns``, else the sample's), 全区 after them
    est = _in_town_order(pd.concat(parts, ignore_index=True),
                         order_towns(sample["town"].dropna(), spec.towns))
    towns = est["town"] != DISTRICT
    est["p_adjusted"] = np.nan
    family = est.loc[towns, "indicator"].to_numpy() if spec.multiplicity_family == "indicator" \
        else None
    est.loc[towns, "p_adjusted"] = adjust_family(est.loc[towns, "p_value"].to_numpy(), family,
                                                 spec.multiplicity)
    # the verdict's code (labels.Verdict; readers see its words through the report); the district
    # rows are never tested (no adjusted p-value)
    est["class"] = verdicts(est["estimate"], est["threshold"], est["p_adjusted"], spec.alpha)
    if not power:
        est["power"] = np.nan
    else:
        est["power"] = _analytic_power(est, towns, spec)
    if power and spec.test_method in MODEL_TEST_METHODS:
        _model_power(est, towns, fw, spec)
    est["n_star"] = est.pop("n_star")  # the last column, as before
    return est, (fw.response if spec.indicators else pd.DataFrame())


def _fieldwork(sample: pd.DataFrame, results: pd.DataFrame, spec: AssessmentSpec) -> Fieldwork:
    """The year's fieldwork as the assessment reads it (a town with one responding village is
    kept, its variance taken as certain)."""
    return Fieldwork(sample, results, lonely_psu="certainty",
                     satisfied_levels=spec.satisfied_levels)


def _estimate_indicator(d: SurveyDesign, ind: Indicator, spec: AssessmentSpec,
                        models: dict | None) -> pd.DataFrame:
    """One indicator's estimates by town (tested) and district-wide (the last row)."""
    denom = "household_size" if ind.unit == "person" else None
    kw = {"denominator": denom, "method": spec.interval_method, "level": spec.level,
          "p0": ind.threshold, "deff_floor": spec.deff_floor}
    by_town = estimate_proportion(d, "_good", by="town", **kw)
    overall = estimate_proportion(d, "_good", **kw)
    # n_star: the effective count each interval used, kept by the result (moved last later)
    towns = by_town.to_frame().assign(n_star=by_town.n_star)
    if spec.test_method in MODEL_TEST_METHODS:
        towns, res = _model_test(towns, d, ind, spec)
        if models is not None:
            models[ind.name] = res
    whole = overall.to_frame().assign(town=DISTRICT, n_star=overall.n_star)
    t = pd.concat([towns, whole], ignore_index=True)
    t.insert(0, "indicator", ind.name)
    t.insert(1, "label", ind.label)
    t["threshold"] = ind.threshold
    t["display"] = ind.display
    t["unit"] = ind.unit
    return t


def _analytic_power(est: pd.DataFrame, towns: pd.Series, spec: AssessmentSpec) -> np.ndarray:
    """Power to detect a town ``power_shortfall`` below the threshold, at the Bonferroni level
    (the design test's analytic power; with the beta-binomial test it stays for the district
    rows and the towns without a test, :func:`_model_power` replaces the others)."""
    m = int(towns.sum())
    deff_d = est[~towns].set_index("indicator")["deff"]
    n_pow = pooled_power_n(est["n"], 1.0, est["df"], spec.level)
    n_pow = n_pow / np.maximum(1.0, est["indicator"].map(deff_d).fillna(1.0).to_numpy())
    p1 = np.clip(est["threshold"] - spec.power_shortfall, 1e-6, None)
    return threshold_power(n_pow, est["threshold"], p1, spec.alpha / max(m, 1))


def _model_power(est: pd.DataFrame, towns: pd.Series, fw: Fieldwork,
                 spec: AssessmentSpec) -> None:
    """The model test's own power in ``est["power"]``, simulated on each town's sampled villages
    and households at the district ρ̂, family level alpha/m (flags/town_power.py; equals
    simulate_design's within Monte Carlo error: 1000 replicates with ρ held, corrected on 30 with
    ρ re-estimated — about 2 s of CPU per indicator; SE about 2 points)."""
    from .flags.town_power import model_power, unit_weights

    tested = towns & est["p_value"].notna()
    for ind in spec.indicators:
        rows = tested & (est["indicator"] == ind.name)
        if not rows.any() or "rho" not in est or est.loc[rows, "rho"].isna().all():
            continue
        d = fw.indicator_design(ind)
        units = unit_weights(d.data, "_good", weight=d.weights,
                             size="household_size" if ind.unit == "person" else None)
        fam = int(rows.sum()) if spec.multiplicity_family == "indicator" else int(tested.sum())
        pw = model_power(units, rho=float(est.loc[rows, "rho"].iloc[0]), p0=ind.threshold,
                         p1=max(ind.threshold - spec.power_shortfall, 0.0),
                         alpha_level=spec.alpha / max(fam, 1),
                         df=int(est.loc[rows, "test_df"].iloc[0]), reps=1000,
                         refit_reps=30, seed=0, method=spec.test_method)
        est.loc[rows, "power"] = (est.loc[rows, "town"]
                                  .map(pw.set_index("town")["power"]).to_numpy())



def _model_test(towns: pd.DataFrame, d: SurveyDesign, ind: Indicator,
                spec: AssessmentSpec) -> tuple[pd.DataFrame, TownTestResult]:
    """Each town's p-value and interval by the calibrated beta-binomial test with the district's
    intra-village correlation (:func:`~quchi_stats.flags.town_test.town_test`), weighted by
    persons or households as the indicator counts; the design-based estimate is kept.

    Adds ``p_ml`` (the model's mean), ``rho`` and ``test_df`` (its t reference), and
    ``upper_one_sided``: the one-sided ``1 − alpha`` upper bound, below the standard exactly when
    the town is significantly low before adjustment."""
    vc = village_counts(d.data, "_good", weight=d.weights,
                        size="household_size" if ind.unit == "person" else None)
    if vc.empty:  # no household answered this indicator: nothing to test (estimates are NaN)
        vc = pd.DataFrame({"town": [], "village": [], "households": [], "m": [], "y": [],
                           "p_hat": [], "share": []})
        res = TownTestResult(pd.DataFrame(columns=["town", "p_ml", "p0", "z", "p_value",
                                                   "ci_lower", "ci_upper", "n_icc", "villages",
                                                   "rho", "df"]), np.nan, 1, vc)
        out = towns.assign(p_value=np.nan, ci_lower=np.nan, ci_upper=np.nan,
                           method=spec.test_method, p_ml=np.nan, rho=np.nan, test_df=np.nan,
                           upper_one_sided=np.nan, n_star=np.nan)
        return out, res
    res = town_test(vc, ind.threshold, level=spec.level, method=spec.test_method)
    t = res.to_frame().set_index("town")
    one = res.conf_int(1 - 2 * spec.alpha).set_index("town")["ci_upper"]
    out = towns.copy()
    key = out["town"]
    out["ci_lower"] = key.map(t["ci_lower"]).to_numpy()
    out["ci_upper"] = key.map(t["ci_upper"]).to_numpy()
    out["p_value"] = key.map(t["p_value"]).to_numpy()
    out["method"] = spec.test_method
    out["p_ml"] = key.map(t["p_ml"]).to_numpy()
    out["rho"] = res.rho
    out["test_df"] = res.df
    out["upper_one_sided"] = key.map(one).to_numpy()
    out["n_star"] = key.map(t["n_icc"]).to_numpy()  # the model's effective count
    return out, res


def difference_interval(p1: np.ndarray, l1: np.ndarray, u1: np.ndarray, p2: np.ndarray,
                        l2: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MOVER interval (Zou & Donner 2008; Newcombe 1998) for ``p2 − p1`` of independent samples
    from each one's interval — defined even where p̂ = 1.

    Examples
    --------
    >>> lo, hi = difference_interval(0.9, 0.85, 0.94, 0.95, 0.91, 0.98)
    >>> round(float(lo), 4), round(float(hi), 4)
    (-0.0066, 0.1083)
    """
    d = np.asarray(p2) - np.asarray(p1)
    lo = d - np.sqrt((np.asarray(p2) - l2) ** 2 + (u1 - np.asarray(p1)) ** 2)
    hi = d + np.sqrt((u2 - np.asarray(p2)) ** 2 + (np.asarray(p1) - l1) ** 2)
    return lo, hi


def _read_optional(path_fn, kind: str, encoding: str | None = None,
                   columns: dict | None = None) -> pd.DataFrame | None:
    """Read an optional table: None when the file is absent; errors in a present file propagate."""
    try:
        path = path_fn()
    except DataError:
        return None
    return read_table(path, kind, encoding=encoding, columns=columns)


@dataclass(frozen=True)
class _Inputs:
    """The year's inputs, read and checked before any computation (errors come at once)."""

    year: int
    root: DataDir
    spec: AssessmentSpec
    register: pd.DataFrame
    sample: pd.DataFrame
    results: pd.DataFrame
    followup: object
    targets: pd.DataFrame | None
    self_report: pd.DataFrame | None


def run_assessment(year: int, data: str | Path | None = None, *,
                   spec: AssessmentSpec | str | Path | None = None, seed: int = 20190131,
                   history: bool = True, encoding: str | None = None,
                   verify: bool = True, sheet: str | int | None = None,
                   columns: dict[str, str] | None = None, power: bool = True) -> Assessment:
    """Run the whole assessment of ``year`` on a data directory.

    Parameters
    ----------
    year : int
    data : path, optional
        A data directory (default: the bundled synthetic ``data_samples/``).
    spec : AssessmentSpec or path, optional
        Default: the shipped spec of the year. A spec for another year is refused.
    seed : int
        Seeds the bootstrap of the bunching test (results are reproducible).
    history : bool
        Also estimate the earlier years found in the directory, for trends and year-on-year
        changes.
    encoding : str, optional
        Encoding of the CSV files (default: detected, UTF-8 or GB18030/GBK).
    verify : bool
        Check, before computing, that each sample used (this year's, and earlier years' for the
        trend) is the one its ``manifest.json`` records (row count and SHA-256,
        :func:`~quchi_stats.sampling.verify_sample`); a missing manifest or a changed sample
        raises :class:`~quchi_stats.errors.VerificationError`. ``False`` skips the check and is
        recorded in ``Assessment.verified`` (the report carries a warning).
    sheet : str or int, optional
        The register's sheet (default: the one the sample's manifest records, else every sheet,
        see :func:`~quchi_stats.io.read_table`).
    columns : dict, optional
        Header aliases (header -> column) for every table, on top of the spec's ``[columns]``
        and the register aliases the sample's manifest records.
    power : bool
        Compute the report's power column (``estimates["power"]``: the model test's power,
        simulated for every town and indicator, about a third of the run's time). ``False``
        leaves it NaN, as for the trend's earlier years: for uses that read the estimates,
        flags or tables but not the power (a report written from it shows no 把握度 and no
        low-power notes).

    Examples
    --------
    >>> a = run_assessment(2018)
    >>> sorted(a.flags["article"].unique())[:1]
    ['第七条（三）']
    """
    # read → one fieldwork → estimates → findings per article → wording
    inp = _read_inputs(year, data, spec, history=history, encoding=encoding, verify=verify,
                       sheet=sheet, columns=columns)
    spec, register, sample = inp.spec, inp.register, inp.sample
    fw = _fieldwork(sample, inp.results, spec)
    _check_rejects(fw, inp)
    models: dict = {}  # each indicator's town test: the district ρ and the village counts
    est, response = estimate_indicators(sample, inp.results, spec, fieldwork=fw, models=models,
                                        power=power)
    followup = None
    if inp.followup is not None:  # 第七条（四） decided on both phases (followup/final.py)
        from .followup.final import apply_decisions, assess_followup

        followup = assess_followup(inp.followup, register, sample, est, spec)
        est = apply_decisions(est, followup, spec)
    # the year's town order: the spec's ``towns``, else first appearance in the register
    order = order_towns(register["town"].dropna(), spec.towns)
    funnel, shrinkage, village_parts = _funnel_and_shrinkage(est, fw, spec)
    if spec.design == "lqas" and spec.lqas_rule:
        rule = spec.lqas_rule
        est["lqas"] = lqas_classify(np.round(est["estimate"] * est["n"]), est["n"],
                                    int(rule["d"]), int(rule["n"]))
    target_check = _target_check(inp, est, fw)
    exited = _exited(register, year, spec)
    bunching, villages = bunching_tables(exited, spec, order, np.random.default_rng(seed))
    self_rep = (compare_self_report(est, inp.self_report, spec, models=models)
                if inp.self_report is not None else pd.DataFrame())
    clusters = _clusters(fw, spec)

    threshold = threshold_findings(est, spec, DISTRICT)
    findings = Findings(targets=target_findings(target_check),
                        bunching=bunching_findings(bunching, villages, spec),
                        threshold=threshold, self_report=self_report_findings(self_rep, spec),
                        watch=watch_findings(threshold, funnel, clusters, spec))
    flags_df = flag_table(findings, spec, order, followup)
    if followup is not None:
        from .followup.final import flag_columns

        flags_df = flag_columns(flags_df, followup, spec)
    watch = watch_table(findings, spec)

    hist, changes = (_history(inp.root, year, est, spec) if history
                     else (pd.DataFrame(), pd.DataFrame()))
    findings = Findings(**{f: _in_town_order(getattr(findings, f), order) for f in
                           ("targets", "bunching", "threshold", "self_report")},
                        watch=findings.watch, history=history_findings(changes))
    est, target_check, villages, self_rep, shrinkage, watch, clusters, response = (
        _in_town_order(t, order) for t in (est, target_check, villages, self_rep, shrinkage,
                                           watch, clusters, response))
    return Assessment(
        year=year, spec=spec, estimates=est, flags=flags_df, funnel=funnel, shrinkage=shrinkage,
        targets=target_check, bunching=bunching, villages=villages, self_report=self_rep,
        response=response, incomes=exited[["town", "village", "relative_income"]].reset_index(
            drop=True), watch=watch, rejects=fw.rejects, clusters=clusters, history=hist,
        changes=changes, overview=_overview(register, sample, inp.results, year, fw),
        notes=_notes(inp, est), verified=verify, followup=followup,
        village_rates=_village_rates(village_parts, order), findings=findings)


def _read_inputs(year: int, data: str | Path | None, spec: AssessmentSpec | str | Path | None,
                 *, history: bool, encoding: str | None, verify: bool, sheet: str | int | None,
                 columns: dict[str, str] | None) -> _Inputs:
    """Every input of the year, read and checked (the samples against their manifests first)."""
    from .datasets import data_path

    root = DataDir(Path(data) if data is not None else data_path())
    if spec is None:
        spec = load_spec(year, year=year)
    elif not isinstance(spec, AssessmentSpec):
        spec = load_spec(spec, year=year)
    else:
        check_spec_year(spec, year)
    if verify:  # the audit record first: this year's sample, and those the trend uses
        for y in [year, *(_history_years(root, year) if history else [])]:
            verify_sample(root.sample_dir(y), year=y)
    recorded = _recorded_register_options(root.sample_dir(year), strict=verify)
    if sheet is None:
        sheet = recorded.get("sheet")
    user = {**spec.columns, **(columns or {})}
    register = read_table(root.register(year), "register",
                          encoding=encoding if encoding is not None else recorded.get("encoding"),
                          sheet=sheet, columns={**(recorded.get("columns") or {}), **user})
    columns = user or None
    sample = read_table(root.sample_dir(year) / "sample.csv", "sample")
    results = read_results(root.results(year), encoding=encoding, columns=columns)
    # a two-phase 复核 (followup_YYYY/): its phase-2 rows in the results are set apart
    from .followup.final import read_followup

    fu_input = read_followup(root.root / f"followup_{year}", sample, results,
                             root.results(year).name, verify=verify)
    if fu_input is not None:
        results = fu_input.results1
    _check_known(sample, register, root.sample_dir(year).name + "/sample.csv")
    _check_year(sample, year, root.sample_dir(year).name + "/sample.csv")
    _check_year(results, year, root.results(year).name)
    # every input is read and checked before any computation: errors come at once
    targets_tab = _read_optional(lambda: root.targets(year), "targets", encoding, columns)
    if targets_tab is not None:
        _check_known(targets_tab, register, root.targets(year).name)
        _check_year(targets_tab, year, root.targets(year).name)
    sr_tab = _read_optional(lambda: root.self_report(year), "self_report", encoding, columns)
    if sr_tab is not None:
        _check_known(sr_tab, register, root.self_report(year).name)
        _check_year(sr_tab, year, root.self_report(year).name)
    _check_results(results, sample, root.results(year).name)
    return _Inputs(year, root, spec, register, sample, results, fu_input, targets_tab, sr_tab)


def _check_rejects(fw: Fieldwork, inp: _Inputs) -> None:
    """Records visited but unusable stop the run before anything is estimated from the rest."""
    rejects = fw.rejects
    respondents = int(inp.results["visit_status"].isin(["completed", "substitute"]).sum())
    if respondents and len(rejects) > inp.spec.max_reject_share * respondents:
        raise DataError(f"{len(rejects)} 户已入户却缺少核查结果，超过有效样本的 "
                        f"{inp.spec.max_reject_share:.0%}（考核参数 max_reject_share）；请补全后再运行",
                        file=inp.root.results(inp.year).name)


def _funnel_and_shrinkage(est: pd.DataFrame, fw: Fieldwork, spec: AssessmentSpec
                          ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[pd.DataFrame]]:
    """The funnel and empirical Bayes, per indicator: one beta-binomial model of towns and
    villages (district-wide village ICC, then the between-town level; docs/flags.md). Returns
    (funnel tables by indicator, shrinkage, the village counts of each indicator)."""
    funnel: dict[str, pd.DataFrame] = {}
    eb_parts, village_parts = [], []
    for ind in spec.indicators:
        sub = est[(est["indicator"] == ind.name)]
        if sub.empty:
            continue
        towns = sub[sub["town"] != DISTRICT]
        d = fw.indicator_design(ind)
        vc = village_counts(d.data, "_good", weight=d.weights,
                            size="household_size" if ind.unit == "person" else None)
        village_parts.append(vc.assign(indicator=ind.name))
        eb = shrink_villages(vc, ind.threshold, level=spec.level,  # ρ̂ as the town test's
                             method=(spec.test_method if spec.test_method in MODEL_TEST_METHODS
                                     else "beta-binomial"))
        theta0 = float(sub.loc[sub["town"] == DISTRICT, "estimate"].iloc[0])
        if 0 < theta0 < 1:
            ft = towns[["town", "estimate", "n", "n_eff"]].merge(
                eb[["town", "n_star"]].rename(columns={"n_star": "n_icc"}), on="town", how="left")
            funnel[ind.name] = funnel_table(
                ft, theta0, adjust_overdispersion="icc" if spec.funnel_overdispersion else False)
        eb.insert(0, "indicator", ind.name)
        eb_parts.append(eb)
    shrinkage = pd.concat(eb_parts, ignore_index=True) if eb_parts else pd.DataFrame()
    return funnel, shrinkage, village_parts


def _target_check(inp: _Inputs, est: pd.DataFrame, fw: Fieldwork) -> pd.DataFrame:
    """第七条（一）'s table: each town's planned, registered and verified exits (empty when the
    year has no targets file or the spec no exit accuracy, :func:`_notes` says which)."""
    spec = inp.spec
    if inp.targets is None or "exit_accuracy" not in set(est["indicator"]):
        return pd.DataFrame()
    ind = spec.indicator("exit_accuracy")
    d = fw.design(ind.frames)
    kw = {"method": spec.interval_method, "level": spec.level}
    acc_h = estimate_proportion(d, ind.column, by="town", **kw).to_frame()
    acc_p = estimate_proportion(d, ind.column, by="town", denominator="household_size",
                                **kw).to_frame()
    return check_targets(inp.register, inp.targets, inp.year, acc_h, acc_p)


def _exited(register: pd.DataFrame, year: int, spec: AssessmentSpec) -> pd.DataFrame:
    """第七条（三）'s households: the year's registered exits able to work, with their income
    relative to the exit line (``relative_income``)."""
    exited = register[(register["exit_year"] == year)
                      & register["registered"].fillna(False).astype(bool)
                      & register["able_to_work"].fillna(False).astype(bool)].copy()
    exited["relative_income"] = exited["income_per_capita"] - spec.exit_line
    return exited


def _clusters(fw: Fieldwork, spec: AssessmentSpec) -> pd.DataFrame:
    """Villages where 漏评 (or another problem counted as ``good = "no"``) clusters."""
    clusters = pd.DataFrame()
    for ind in spec.indicators:
        if ind.good != "no":
            continue
        data = fw.design(ind.frames).data
        # risk households drawn at a higher rate: the reference rate per risk group (flags/clusters.py)
        c = village_cluster_test(data, ind.column, group="risk" if "risk" in data else None).assign(
            indicator=ind.name, label=ind.label)
        clusters = pd.concat([clusters, c], ignore_index=True)
    return clusters


def _notes(inp: _Inputs, est: pd.DataFrame) -> tuple[str, ...]:
    """What the run could not check, and why."""
    year = inp.year
    notes = []
    if inp.targets is None:
        notes.append(f"未找到年度减贫任务文件（targets_{year}.csv 或 .xlsx），未检查第七条（一）"
                     "（年度减贫任务完成情况）。")
    elif "exit_accuracy" not in set(est["indicator"]):
        notes.append("考核参数中没有错退率指标（exit_accuracy），无法核实退出户数，未检查第七条（一）"
                     "（年度减贫任务完成情况）。")
    if inp.self_report is None:
        notes.append(f"未找到乡镇自评文件（self_report_{year}.csv 或 .xlsx），未检查第九条"
                     "（自评与抽查核实不符、数据失真）。")
    return tuple(notes)


def _overview(register: pd.DataFrame, sample: pd.DataFrame, results: pd.DataFrame, year: int,
              fw: Fieldwork) -> dict:
    """The counts the report's first table shows."""
    return {
        "households": int(len(register)),
        "registered": int(register["registered"].fillna(False).sum()),
        "exits": int(((register["exit_year"] == year)
                      & register["registered"].fillna(False).astype(bool)).sum()),
        "towns": int(register["town"].nunique()), "villages": int(register["village"].nunique()),
        "sampled_villages": int(sample["village"].nunique()),
        "primary": int((sample["role"] == "primary").sum()),
        "visited": int(results["visit_status"].isin(["completed", "substitute"]).sum()),
        "rejects": len(fw.rejects),
    }



def _village_rates(parts: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
    """The indicators' village counts as one table, ``indicator`` first, towns in ``order``."""
    if not parts:
        return pd.DataFrame()
    v = pd.concat(parts, ignore_index=True)
    return _in_town_order(v[["indicator", *[c for c in v.columns if c != "indicator"]]], order)


def _in_town_order(table: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """``table`` with its towns in ``order`` (others, and 全区, after them, as they came), within
    each indicator when it has one (indicators in the order they came)."""
    if not len(table) or "town" not in table:
        return table
    rank = {t: i for i, t in enumerate(order)}
    keys = [table["town"].map(rank).fillna(len(rank)).to_numpy()]
    if "indicator" in table:
        keys.append(pd.factorize(table["indicator"])[0])
    return table.iloc[np.lexsort(keys)].reset_index(drop=True)


def _check_results(results: pd.DataFrame, sample: pd.DataFrame, file: str) -> None:
    """Field results only for drawn households (the file and row named)."""
    unknown = ~results["household_id"].isin(sample["household_id"])
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(f"户编号“{results['household_id'].iloc[i]}”不在抽查样本中", file=file,
                        row=i + 2, column="户编号")


def _check_year(table: pd.DataFrame, year: int, file: str) -> None:
    """A table's 年度 column, where it has one, must be the assessment's year (the row named)."""
    if "year" not in table:
        return
    other = table["year"].notna() & (table["year"] != year)
    if other.any():
        i = int(np.flatnonzero(other.to_numpy())[0])
        raise DataError(f"年度应为本次考核年度 {year}，实际为 {table['year'].iloc[i]}", file=file,
                        row=i + 2, column="年度")


def _recorded_register_options(sample_dir: Path, *, strict: bool) -> dict:
    """How ``design`` read the register (sheet, encoding, column aliases), from the sample's
    manifest; a broken manifest is an error only when the run verifies (it is reported there)."""
    try:
        return register_options(sample_dir)
    except DataError:
        if strict:
            raise
        return {}


def _check_known(table: pd.DataFrame, register: pd.DataFrame, file: str) -> None:
    """Every town (and village, where the table has one) must be in the register."""
    for col, label in (("town", "乡镇"), ("village", "行政村")):
        if col not in table:
            continue
        known = set(register[col])
        unknown = ~table[col].isin(known)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataError(f"{label}“{table[col].iloc[i]}”不在农户台账中", file=file, row=i + 2,
                            column=label)


def _history_years(root: DataDir, year: int) -> list[int]:
    """Earlier years with a sample and field results: a year without fieldwork is not in the
    trend."""
    years = []
    for y in root.years():
        if y >= year or not (root.sample_dir(y) / "sample.csv").is_file():
            continue
        try:
            root.results(y)
        except DataError:
            continue
        years.append(y)
    return years


def _earlier_spec(year: int, spec: AssessmentSpec) -> AssessmentSpec:
    """The spec an earlier year's estimates are made with for the trend: the shipped spec of that
    year when it is this county's (Qujiang's years), else the current one — another county's
    earlier years are never judged by Qujiang's shipped specs."""
    try:
        shipped = load_spec(year)
    except DataError:  # no shipped spec for that year
        return spec
    return shipped if shipped.county == spec.county else spec


def _history(root: DataDir, year: int, est: pd.DataFrame,
             spec: AssessmentSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = [est.assign(year=year)]
    for y in _history_years(root, year):
        s = read_table(root.sample_dir(y) / "sample.csv", "sample")
        r = read_results(root.results(y))
        if (root.root / f"followup_{y}").is_dir():  # the trend uses phase 1 (same design yearly)
            r = r[r["household_id"].isin(s["household_id"])].reset_index(drop=True)
        ys = _earlier_spec(y, spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuchiStatsWarning)
            e, _ = estimate_indicators(s, r, ys, power=False)  # the trend needs no power
        parts.append(e.assign(year=y))
    hist = pd.concat(parts, ignore_index=True)
    changes = pd.DataFrame()
    prev_year = year - 1
    if prev_year in set(hist["year"]):
        cur = hist[hist["year"] == year].set_index(["indicator", "town"])
        prev = hist[hist["year"] == prev_year].set_index(["indicator", "town"])
        both = cur.merge(prev, left_index=True, right_index=True, suffixes=("", "_prev"))
        lo, hi = difference_interval(both["estimate_prev"], both["ci_lower_prev"],
                                     both["ci_upper_prev"], both["estimate"], both["ci_lower"],
                                     both["ci_upper"])
        changes = pd.DataFrame({"label": both["label"], "previous": both["estimate_prev"],
                                "current": both["estimate"],
                                "change": both["estimate"] - both["estimate_prev"],
                                "ci_lower": lo, "ci_upper": hi}).reset_index()
        changes["significant"] = (changes["ci_lower"] > 0) | (changes["ci_upper"] < 0)
    return hist, changes
