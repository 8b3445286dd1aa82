"""What each article found, as tables of numbers and codes: no sentence, no display word.

One function per article — 第七条（一） (:func:`target_findings`), （三） (:func:`bunching_findings`),
（四） (:func:`threshold_findings`), 第九条 (:func:`self_report_findings`), the watch list
(:func:`watch_findings`) and the change from the previous year (:func:`history_findings`) — each
returns a findings table with the columns of :data:`FINDINGS_COLUMNS` first, in these dtypes:

============  ========  ======================================================================
column        dtype     meaning
============  ========  ======================================================================
town          object    the town (``assessment.DISTRICT`` never appears: towns only)
village       object    the village of a village-level finding, else None
article       object    an :class:`~quchi_stats.labels.Article` code (``"7.4"``, ``"watch"``…)
indicator     object    the indicator's name (``spec.indicators``), else None
estimate      float64   the article's estimate (a good rate; 7.1: verified exits in households;
                        7.3: observed / expected exits just above the line; history: the change)
ci_lower      float64   its interval at ``spec.level`` (NaN where the article has none)
ci_upper      float64
p_value       float64   the one-sided p-value before adjustment
p_adjusted    float64   after the article's multiplicity adjustment
n             Int64     households counted (7.3: the town's exits)
villages      Int64     villages counted
class         object    a :class:`~quchi_stats.labels.Verdict` code
============  ========  ======================================================================

After them come each article's own numbers (documented by each function), which the evidence
sentences use (:mod:`quchi_stats.evidence`). Rows are towns (or villages) in the year's order, one per
unit tested: a compliant town is in the table with its verdict, and the verdicts in
:data:`~quchi_stats.labels.FLAG_VERDICTS` are the flags.

Every table is built from numbers; the words a verdict is shown with are in
:mod:`quchi_stats.labels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from .flags import adjust_pvalues, bunching_test, village_share_test
from .flags.thresholds import verdicts
from .io.schema import order_towns
from .labels import FLAG_VERDICTS, Article, Verdict
from .spec import AssessmentSpec

__all__ = ["FINDINGS_COLUMNS", "Article", "Findings", "Verdict", "bunching_findings", "bunching_tables",
           "empty_findings", "history_findings", "self_report_findings", "target_findings",
           "threshold_findings", "watch_findings"]

#: The columns every findings table starts with, and their dtypes.
FINDINGS_COLUMNS: dict[str, str] = {
    "town": "object", "village": "object", "article": "object", "indicator": "object",
    "estimate": "float64", "ci_lower": "float64", "ci_upper": "float64", "p_value": "float64",
    "p_adjusted": "float64", "n": "Int64", "villages": "Int64", "class": "object",
}


def _table(core: dict, extra: dict | None = None, length: int | None = None) -> pd.DataFrame:
    """A findings table: the :data:`FINDINGS_COLUMNS` (missing ones filled with None/NaN) in their
    dtypes, then ``extra``'s columns as given."""
    if length is None:
        length = len(next(iter(core.values()))) if core else 0
    out = {}
    for col, dtype in FINDINGS_COLUMNS.items():
        value = core.get(col)
        if value is None:
            value = [None] * length if dtype == "object" else [np.nan] * length
        values = np.asarray(value, dtype=object) if dtype == "object" else np.asarray(value, float)
        if dtype == "Int64":
            out[col] = pd.array(np.round(values), dtype="Float64").astype("Int64") if length \
                else pd.array([], dtype="Int64")
        elif dtype == "object":
            out[col] = pd.Series(values, dtype=object)
        else:
            out[col] = pd.Series(values, dtype="float64")
    table = pd.DataFrame(out)
    for col, value in (extra or {}).items():
        table[col] = np.asarray(value) if length else pd.Series(dtype=np.asarray(value).dtype)
    return table


def empty_findings() -> pd.DataFrame:
    """A findings table without rows (an article that was not checked)."""
    return _table({}, length=0)


def threshold_findings(estimates: pd.DataFrame, spec: AssessmentSpec,
                       district: str) -> pd.DataFrame:
    """第七条（四）: each town × indicator of the estimates (the district rows left out), with its
    verdict from the estimate, the threshold and the adjusted p-value
    (:func:`~quchi_stats.flags.thresholds.verdicts`: ``significant`` is the flag).

    Own columns: ``threshold``, ``upper_one_sided`` (the one-sided bound of the beta-binomial
    test; NaN otherwise), ``power``, ``df`` (the town's degrees of freedom).
    """
    e = estimates[estimates["town"] != district]
    upper = e["upper_one_sided"] if "upper_one_sided" in e else pd.Series(np.nan, index=e.index)
    return _table(
        {"town": e["town"], "article": [Article.THRESHOLD.value] * len(e),
         "indicator": e["indicator"], "estimate": e["estimate"], "ci_lower": e["ci_lower"],
         "ci_upper": e["ci_upper"], "p_value": e["p_value"], "p_adjusted": e["p_adjusted"],
         "n": e["n"], "villages": e["df"].to_numpy(float) + 1,
         "class": verdicts(e["estimate"], e["threshold"], e["p_adjusted"], spec.alpha)},
        {"threshold": e["threshold"].to_numpy(float), "upper_one_sided": upper.to_numpy(float),
         "power": e["power"].to_numpy(float), "df": e["df"].to_numpy(float)}, length=len(e))


def target_findings(target_check: pd.DataFrame) -> pd.DataFrame:
    """第七条（一）: each town of the targets table
    (:func:`~quchi_stats.flags.check_targets`), ``registered_short`` when its registered exits fall
    short of the plan, else ``verified_short`` when the upper bound of its verified exits does,
    else ``target_met``. ``estimate`` and the interval are the verified exits in households.

    Own columns: ``planned_exit_households``, ``planned_exit_persons``, ``exit_households``,
    ``exit_persons`` (registered), ``verified_households``, ``verified_households_upper``.
    """
    t = target_check
    if not len(t):
        return empty_findings()
    code = np.where(t["registered_short"].to_numpy(bool), Verdict.REGISTERED_SHORT.value,
                    np.where(t["verified_short"].to_numpy(bool), Verdict.VERIFIED_SHORT.value,
                             Verdict.TARGET_MET.value))
    own = ("planned_exit_households", "planned_exit_persons", "exit_households", "exit_persons",
           "verified_households", "verified_households_upper")
    return _table({"town": t["town"], "article": [Article.TARGETS.value] * len(t),
                   "estimate": t["verified_households"],
                   "ci_lower": t["verified_households_lower"],
                   "ci_upper": t["verified_households_upper"], "class": code},
                  {c: t[c].to_numpy(float) for c in own}, length=len(t))


def bunching_tables(exited: pd.DataFrame, spec: AssessmentSpec, order: Sequence[str],
                    rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bunching test of each town's exited incomes (``relative_income``: income minus the exit
    line), Holm-adjusted, and each village's share test. Returns (bunching, villages), the
    tables ``Assessment.bunching`` and ``Assessment.villages`` show."""
    rows = []
    for town in order_towns(exited["town"].unique(), order):
        r = bunching_test(exited.loc[exited["town"] == town, "relative_income"].to_numpy(),
                          window=spec.bunching_window, rng=rng)
        rows.append({"town": town, "exits": r.n, "in_window": r.observed,
                     "expected": r.expected, "excess": r.excess, "excess_ratio": r.excess_ratio,
                     "p_value": r.p_value})
    bunching = pd.DataFrame(rows)
    villages = pd.DataFrame()
    if len(bunching):
        bunching["p_adjusted"] = adjust_pvalues(bunching["p_value"].to_numpy(), "holm")
        villages = village_share_test(exited, window=spec.bunching_window)
    return bunching, villages


def bunching_findings(bunching: pd.DataFrame, villages: pd.DataFrame,
                      spec: AssessmentSpec) -> pd.DataFrame:
    """第七条（三）: each town (``bunched`` when its Holm-adjusted p < alpha) and, after the towns,
    each village whose share of the excess is significant (``concentrated_village``; the
    village-level test of :func:`~quchi_stats.flags.village_share_test`). ``estimate`` is the
    excess ratio (observed / expected exits just above the line), ``n`` the town's exits.

    Own columns: ``in_window`` (exits just above the line), ``expected``.
    """
    if not len(bunching):
        return empty_findings()
    b = bunching
    town_rows = _table(
        {"town": b["town"], "article": [Article.BUNCHING.value] * len(b),
         "estimate": b["excess_ratio"], "p_value": b["p_value"], "p_adjusted": b["p_adjusted"],
         "n": b["exits"],
         "class": np.where(b["p_adjusted"].to_numpy(float) < spec.alpha, Verdict.BUNCHED.value,
                           Verdict.NOT_BUNCHED.value)},
        {"in_window": b["in_window"].to_numpy(float), "expected": b["expected"].to_numpy(float)},
        length=len(b))
    if not len(villages):
        return town_rows
    v = villages[villages["p_adjusted"] < spec.alpha]
    village_rows = _table(
        {"town": v["town"], "village": v["village"], "article": [Article.BUNCHING.value] * len(v),
         "p_value": v["p_value"], "p_adjusted": v["p_adjusted"],
         "class": [Verdict.CONCENTRATED_VILLAGE.value] * len(v)},
        {"in_window": np.full(len(v), np.nan), "expected": np.full(len(v), np.nan)},
        length=len(v))
    return pd.concat([town_rows, village_rows], ignore_index=True) if len(v) else town_rows


def self_report_findings(self_report: pd.DataFrame, spec: AssessmentSpec) -> pd.DataFrame:
    """第九条: each town × indicator of the self-assessment comparison
    (:func:`~quchi_stats.flags.compare_self_report`), ``above_interval`` when the adjusted p of
    the self-assessment lying above the verified rate is below alpha, else ``consistent``.

    Own columns: ``reported_good`` (the self-assessed good rate).
    """
    s = self_report
    if not len(s):
        return empty_findings()
    return _table(
        {"town": s["town"], "article": [Article.SELF_REPORT.value] * len(s),
         "indicator": s["indicator"], "estimate": s["estimate"], "ci_lower": s["ci_lower"],
         "ci_upper": s["ci_upper"], "p_value": s["p_value"], "p_adjusted": s["p_adjusted"],
         "class": np.where(s["p_adjusted"].to_numpy(float) < spec.alpha,
                           Verdict.ABOVE_INTERVAL.value, Verdict.CONSISTENT.value)},
        {"reported_good": s["reported_good"].to_numpy(float)}, length=len(s))


def watch_findings(threshold: pd.DataFrame, funnel: dict[str, pd.DataFrame],
                   clusters: pd.DataFrame, spec: AssessmentSpec) -> pd.DataFrame:
    """The watch list: evidence short of a flag, a reason to verify (复核) and to enlarge next
    year's sample there, never a basis for 约谈.

    ``watch_low``: a town × indicator below its standard but not significantly (verdict ``below``
    in ``threshold``, the :func:`threshold_findings` table) with an unadjusted one-sided p < alpha,
    or below the lower 99.8 % limit of its indicator's funnel. ``watch_cluster``: a village where
    a problem clusters (``clusters``, adjusted p < alpha); ``estimate`` is its rate, ``n`` the
    households assessed.

    Own columns: ``unadjusted`` and ``below_funnel`` (bool: which reason applies), ``power``,
    ``cases`` and ``reference_rate`` (the cluster's cases and the other villages' rate).
    """
    parts = []
    low = threshold[threshold["class"] == Verdict.BELOW.value]
    if len(low):
        unadjusted = (low["p_value"].to_numpy(float) < spec.alpha)
        below = np.zeros(len(low), bool)
        for i, (town, ind) in enumerate(zip(low["town"], low["indicator"], strict=True)):
            f = funnel.get(ind)
            if f is not None:
                row = f[f["town"] == town]
                below[i] = bool(len(row)) and bool(row["estimate"].iloc[0] < row["lower998"].iloc[0])
        keep = unadjusted | below
        w = low[keep]
        core = {c: w[c] for c in FINDINGS_COLUMNS if c not in ("article", "class")}
        core.update(article=[Article.WATCH.value] * len(w), **{"class": [Verdict.WATCH_LOW.value] * len(w)})
        parts.append(_table(core, {"unadjusted": unadjusted[keep], "below_funnel": below[keep],
                                   "power": w["power"].to_numpy(float),
                                   "cases": np.full(len(w), np.nan),
                                   "reference_rate": np.full(len(w), np.nan)}, length=len(w)))
    if len(clusters):
        c = clusters[clusters["p_adjusted"] < spec.alpha]
        if len(c):
            assessed = c["assessed"].to_numpy(float)
            parts.append(_table(
                {"town": c["town"], "village": c["village"],
                 "article": [Article.WATCH.value] * len(c), "indicator": c["indicator"],
                 "estimate": c["cases"].to_numpy(float) / assessed, "p_value": c["p_value"],
                 "p_adjusted": c["p_adjusted"], "n": assessed,
                 "class": [Verdict.WATCH_CLUSTER.value] * len(c)},
                {"unadjusted": np.zeros(len(c), bool), "below_funnel": np.zeros(len(c), bool),
                 "power": np.full(len(c), np.nan), "cases": c["cases"].to_numpy(float),
                 "reference_rate": c["reference_rate"].to_numpy(float)}, length=len(c)))
    if not parts:
        return _table({}, {"unadjusted": np.zeros(0, bool), "below_funnel": np.zeros(0, bool),
                           "power": np.zeros(0), "cases": np.zeros(0),
                           "reference_rate": np.zeros(0)}, length=0)
    out = pd.concat(parts, ignore_index=True)
    # towns in their order of first appearance (the low rows' year order, then the clusters')
    rank = {t: i for i, t in enumerate(order_towns(out["town"].tolist()))}
    return out.iloc[np.argsort(out["town"].map(rank).to_numpy(), kind="stable")].reset_index(
        drop=True)


def history_findings(changes: pd.DataFrame) -> pd.DataFrame:
    """The change of each town × indicator from the previous year (the ``changes`` table, MOVER
    interval of the difference): ``increase`` or ``decrease`` when the interval excludes 0, else
    ``no_change``; ``estimate`` is the change. The district row is kept (town 全区).

    Own columns: ``previous``, ``current``.
    """
    c = changes
    if not len(c):
        return empty_findings()
    lo, hi = c["ci_lower"].to_numpy(float), c["ci_upper"].to_numpy(float)
    code = np.where(lo > 0, Verdict.INCREASE.value,
                    np.where(hi < 0, Verdict.DECREASE.value, Verdict.NO_CHANGE.value))
    return _table({"town": c["town"], "article": [Article.HISTORY.value] * len(c),
                   "indicator": c["indicator"], "estimate": c["change"], "ci_lower": lo,
                   "ci_upper": hi, "class": code},
                  {"previous": c["previous"].to_numpy(float),
                   "current": c["current"].to_numpy(float)}, length=len(c))


@dataclass(frozen=True)
class Findings:
    """The year's findings tables, one per article (each :data:`FINDINGS_COLUMNS` first)."""

    targets: pd.DataFrame = field(default_factory=empty_findings)
    """第七条（一）, :func:`target_findings` (empty when no targets file)."""
    bunching: pd.DataFrame = field(default_factory=empty_findings)
    """第七条（三）, :func:`bunching_findings`."""
    threshold: pd.DataFrame = field(default_factory=empty_findings)
    """第七条（四）, :func:`threshold_findings`."""
    self_report: pd.DataFrame = field(default_factory=empty_findings)
    """第九条, :func:`self_report_findings` (empty when no self-assessment file)."""
    watch: pd.DataFrame = field(default_factory=empty_findings)
    """The watch list, :func:`watch_findings`."""
    history: pd.DataFrame = field(default_factory=empty_findings)
    """The change from the previous year, :func:`history_findings` (empty without history)."""

    def table(self) -> pd.DataFrame:
        """Every article's findings in one table, :data:`FINDINGS_COLUMNS` only."""
        parts = [getattr(self, f.name)[list(FINDINGS_COLUMNS)] for f in fields(self)]
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_findings()
        return pd.concat(parts, ignore_index=True).astype(FINDINGS_COLUMNS)

    def flags(self) -> pd.DataFrame:
        """The rows that flag a town (:data:`~quchi_stats.labels.FLAG_VERDICTS`)."""
        t = self.table()
        return t[t["class"].isin([v.value for v in FLAG_VERDICTS])].reset_index(drop=True)
