"""The two-phase decision: inverse-normal combination of stage-wise p-values, its level-α critical
value, the overall (stage-wise ordered) p-value, and the final 第七条（四） table.

Stage ``i`` gives a one-sided p-value ``p_i`` of H0: the town's rate ≥ its standard. With the
pre-fixed weights ``w1² + w2² = 1`` (Lehmacher & Wassmer 1999, Biometrics 55:1286–1290; Bauer &
Köhne 1994, Biometrics 50:1029–1041),

    Z = w1 Φ⁻¹(1 − p1) + w2 Φ⁻¹(1 − p2).

Phase 1 decides when ``p1 ≤ α1`` (reject) or ``p1 > α0`` (stop for futility); otherwise the
town is followed up and H0 is rejected when ``Z ≥ c``. Under H0, ``p1`` is uniform and ``p2`` is
uniform given phase 1 (it uses only the new villages' households), so the level is

    α1 + ∫_{α1}^{α0} [1 − Φ((c − w1 Φ⁻¹(1 − u)) / w2)] du = α,

which :func:`critical_value` solves for ``c``. The integral is computed in ``z1 = Φ⁻¹(1 − u)``
(``du = φ(z1) dz1``) by 96-point Gauss–Legendre quadrature, smooth there.

The overall p-value orders outcomes stage-wise (Jennison & Turnbull 2000, §8.4): phase-1
rejections (by ``p1``), then every follow-up (by ``Z``), then futility stops (by ``p1``). It is
``p1`` when phase 1 decided, and ``α1 + ∫ … (with z in place of c)`` after a follow-up — in
``(α1, α0]`` — so "overall p ≤ α" is exactly "reject at level α", and the overall p-values are
valid p-values for any level. That is what lets the spec's Holm / Hochberg / BH adjustment run on
them: the familywise rate is then controlled for the two-phase procedure as a whole. A town in
the continuation region that was not followed up (cap reached, no village left, fieldwork not
done) counts as ``p2 = 1``, whose overall p-value is ``α0`` — valid, and conservative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import ParameterError
from ..flags.thresholds import CLASS_SIGNIFICANT, adjust_family, verdicts
from ..labels import DISTRICT, Stage
from ..spec import AssessmentSpec, FollowupRule

__all__ = [
    "STAGE_COMBINED",
    "STAGE_CONDITIONAL",
    "STAGE_EXHAUSTED",
    "STAGE_FUTILITY",
    "STAGE_NOT_FOLLOWED",
    "STAGE_OUTSIDE",
    "STAGE_PENDING",
    "STAGE_PHASE1",
    "combine_conditional",
    "combine_followup",
    "critical_value",
    "inverse_normal",
    "overall_pvalue",
    "stage_of",
]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)

#: Where a town × indicator was decided (``stage`` codes of :func:`combine_followup`): the values of
#: :class:`quchi_stats.labels.Stage`, whose words readers see are :data:`quchi_stats.labels.STAGE_LABELS`.
STAGE_PHASE1 = Stage.PHASE1.value  # p1 ≤ α1: decided at phase 1
STAGE_FUTILITY = Stage.FUTILITY.value  # p1 > α0: no follow-up
STAGE_COMBINED = Stage.COMBINED.value  # followed up: the combination decides
STAGE_PENDING = Stage.PENDING.value  # in the continuation region without phase-2 data: p2 = 1
STAGE_EXHAUSTED = Stage.EXHAUSTED.value  # every village visited in phase 1: phase 1 alone
STAGE_OUTSIDE = Stage.OUTSIDE.value  # the indicator is not in the rule: phase 1 alone
STAGE_CONDITIONAL = Stage.CONDITIONAL.value  # followed up: the conditional test decides
STAGE_NOT_FOLLOWED = Stage.NOT_FOLLOWED.value  # screened (conditional method) without phase-2 data


def _check(alpha_stop: float, alpha_futility: float, w1: float, func: str) -> None:
    if not 0 < alpha_stop < alpha_futility <= 1:
        raise ParameterError(f"The 'alpha_stop' and 'alpha_futility' parameters of {func} must "
                             f"satisfy 0 < alpha_stop < alpha_futility <= 1. Got {alpha_stop} and "
                             f"{alpha_futility}.")
    if not 0 < w1 < 1:
        raise ParameterError(f"The 'w1' parameter of {func} must be in (0, 1). Got {w1}.")


def inverse_normal(p1: np.ndarray, p2: np.ndarray, w1: float) -> np.ndarray:
    """``Z = w1 Φ⁻¹(1 − p1) + w2 Φ⁻¹(1 − p2)`` with ``w2 = √(1 − w1²)`` (−inf where p2 = 1).

    Examples
    --------
    >>> round(float(inverse_normal(0.05, 0.05, 0.6 ** 0.5)), 4)
    2.3144
    """
    w2 = np.sqrt(1.0 - w1 ** 2)
    with np.errstate(divide="ignore"):
        return w1 * stats.norm.isf(np.asarray(p1, float)) + w2 * stats.norm.isf(
            np.asarray(p2, float))


def _tail(z: np.ndarray, alpha_stop: float, alpha_futility: float, w1: float) -> np.ndarray:
    """``∫_{α1}^{α0} P(w1 Φ⁻¹(1 − u) + w2 N ≥ z) du`` for each ``z``."""
    w2 = np.sqrt(1.0 - w1 ** 2)
    lo, hi = stats.norm.isf(alpha_futility), stats.norm.isf(alpha_stop)
    if not np.isfinite(lo):  # alpha_futility = 1: the standard normal below −8 carries nothing
        lo = -8.5
    z1 = (hi - lo) / 2 * _NODES + (hi + lo) / 2
    wq = (hi - lo) / 2 * _WEIGHTS * stats.norm.pdf(z1)
    z = np.asarray(z, float)
    return (stats.norm.sf((z[..., None] - w1 * z1) / w2) * wq).sum(axis=-1)


def critical_value(alpha: float, alpha_stop: float, alpha_futility: float, w1: float) -> float:
    """The ``c`` of "reject after a follow-up when Z ≥ c" that gives the two-phase test level
    ``alpha`` exactly (needs ``alpha_stop < alpha < alpha_futility``).

    Examples
    --------
    Without a futility stop and with α1 → 0 it is the one-stage quantile:

    >>> round(critical_value(0.05, 1e-12, 1.0, 0.6), 3)
    1.645
    >>> c = critical_value(0.05, 0.002, 0.3, 0.6)
    >>> bool(abs(0.002 + _tail(c, 0.002, 0.3, 0.6) - 0.05) < 1e-10)
    True
    """
    _check(alpha_stop, alpha_futility, w1, "critical_value")
    if not alpha_stop < alpha < alpha_futility:
        raise ParameterError(f"The 'alpha' parameter of critical_value must be in "
                             f"({alpha_stop}, {alpha_futility}). Got {alpha}.")
    f = lambda c: alpha_stop + float(_tail(c, alpha_stop, alpha_futility, w1)) - alpha  # noqa: E731
    return float(optimize.brentq(f, -40.0, 40.0, xtol=1e-12))


def overall_pvalue(p1: np.ndarray, p2: np.ndarray | None, alpha_stop: float,
                   alpha_futility: float, w1: float) -> np.ndarray:
    """The stage-wise ordered overall p-value of each test.

    ``p1`` where phase 1 decided (``p1 ≤ α1`` or ``p1 > α0``); after a follow-up,
    ``α1 + ∫_{α1}^{α0} P(w1 Φ⁻¹(1 − u) + w2 N ≥ Z) du`` with the observed ``Z``. A NaN ``p2``
    in the continuation region (no follow-up data) is taken as 1 (overall ``α0``); ``p2 = None``
    means no test has phase-2 data. A NaN ``p1`` stays NaN (left out of the family).

    Examples
    --------
    >>> overall_pvalue([0.001, 0.5, 0.1], [np.nan, np.nan, 1.0], 0.002, 0.3, 0.6).round(4).tolist()
    [0.001, 0.5, 0.3]
    """
    _check(alpha_stop, alpha_futility, w1, "overall_pvalue")
    p1 = np.asarray(p1, float)
    p2 = np.full(p1.shape, np.nan) if p2 is None else np.asarray(p2, float)
    cont = (p1 > alpha_stop) & (p1 <= alpha_futility)
    z = inverse_normal(p1, np.where(np.isnan(p2), 1.0, p2), w1)
    with np.errstate(invalid="ignore"):
        combined = alpha_stop + _tail(np.where(cont, z, 0.0), alpha_stop, alpha_futility, w1)
    return np.where(cont, np.minimum(combined, alpha_futility), p1)


def stage_of(p1: np.ndarray, p2: np.ndarray, alpha_stop: float,
             alpha_futility: float) -> np.ndarray:
    """Where each test was decided (``STAGE_*`` codes; :data:`quchi_stats.labels.STAGE_LABELS`
    gives the report's words)."""
    p1 = np.asarray(p1, float)
    cont = (p1 > alpha_stop) & (p1 <= alpha_futility)
    return np.where(p1 <= alpha_stop, STAGE_PHASE1,
                    np.where(~cont, STAGE_FUTILITY,
                             np.where(np.isnan(np.asarray(p2, float)), STAGE_PENDING,
                                      STAGE_COMBINED)))


def combine_followup(phase1_estimates: pd.DataFrame, phase2_results: pd.DataFrame | None,
                     rule: FollowupRule, *, spec: AssessmentSpec,
                     exhausted: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """The final 第七条（四） decision of every town × indicator after a two-phase 复核.

    Parameters
    ----------
    phase1_estimates : DataFrame
        :func:`~quchi_stats.assessment.estimate_indicators`' estimates (``indicator``, ``town``,
        ``estimate``, ``threshold``, ``p_value``; the district row, ``全区``, is left out).
    phase2_results : DataFrame or None
        Stage-2 p-values from the new villages only (:func:`~quchi_stats.followup.stage2_tests`):
        ``indicator``, ``town``, ``p_value`` (and optionally ``estimate``, ``households``).
        Continuation pairs without a row count as ``p2 = 1``.
    rule : FollowupRule
        The pre-registered rule (α1, α0, w1).
    spec : AssessmentSpec
        ``alpha``, ``multiplicity`` and ``multiplicity_family``, as for phase 1 alone.
    exhausted : list of str
        Towns whose villages were all visited in phase 1
        (:func:`~quchi_stats.followup.exhausted_towns`): known before any result, so they are
        decided on phase 1 alone (``p_overall = p1``).

    Returns
    -------
    DataFrame
        One row per town × indicator: ``p1``, ``p2``, ``z`` (after a follow-up), ``stage`` (a
        ``STAGE_*`` code),
        ``p_overall``, ``p_adjusted`` (the spec's adjustment of the overall p-values within the
        family) and ``class`` (a :class:`~quchi_stats.labels.Verdict` code: ``significant``, shown
        显著偏低, when ``p_adjusted < alpha``).
    """
    est = phase1_estimates[phase1_estimates["town"] != DISTRICT]
    out = est[["indicator", "town", "estimate", "threshold"]].copy().reset_index(drop=True)
    out["p1"] = est["p_value"].to_numpy(float)
    out["p2"] = np.nan
    screened = (out["indicator"].isin(rule.indicators)
                & ~out["town"].isin(list(exhausted))).to_numpy()
    if phase2_results is not None and len(phase2_results):
        key = phase2_results.set_index(["indicator", "town"])["p_value"]
        idx = pd.MultiIndex.from_frame(out[["indicator", "town"]])
        out["p2"] = key.reindex(idx).to_numpy(float)
    a1, a0, w1 = rule.alpha_stop, rule.alpha_futility, rule.weight_phase1
    p1 = out["p1"].to_numpy()
    p2 = np.where(screened, out["p2"].to_numpy(), np.nan)
    cont = screened & (p1 > a1) & (p1 <= a0)
    out["p2"] = np.where(cont, p2, np.nan)
    out["z"] = np.where(cont & ~np.isnan(p2), inverse_normal(p1, np.nan_to_num(p2, nan=1.0), w1),
                        np.nan)
    overall = overall_pvalue(p1, p2, a1, a0, w1)
    out["p_overall"] = np.where(screened, overall, p1)
    out["stage"] = np.where(screened, stage_of(p1, p2, a1, a0),
                            np.where(out["town"].isin(list(exhausted)), STAGE_EXHAUSTED,
                                     STAGE_OUTSIDE))
    family = out["indicator"].to_numpy() if spec.multiplicity_family == "indicator" else None
    out["p_adjusted"] = adjust_family(out["p_overall"].to_numpy(), family, spec.multiplicity)
    out["class"] = verdicts(out["estimate"], out["threshold"], out["p_adjusted"], spec.alpha)
    out["flag"] = out["class"] == CLASS_SIGNIFICANT
    return out


def combine_conditional(phase1_estimates: pd.DataFrame, stage2: pd.DataFrame | None,
                        rule: FollowupRule, *, spec: AssessmentSpec) -> pd.DataFrame:
    """The final 第七条（四） decision of every town × indicator under the conditional method.

    The family of the spec (every town × indicator, or each indicator's towns) is split in two
    parts decided apart, with ``alpha`` split between them (weighted Bonferroni, valid under any
    dependence):

    * the rule's indicators: only the **followed-up** pairs can be flagged, by the conditional test
      (:func:`~quchi_stats.followup.conditional.conditional_tests`), with the spec's adjustment
      within those pairs at ``alpha · share`` (``share`` = :meth:`FollowupRule.share`). Given
      phase 1 the followed-up set is fixed and each conditional p-value is valid, so the
      familywise rate of this part is at most ``alpha · share`` given phase 1, hence overall;
      pairs not screened (``p1 > α0``) or screened without phase-2 data are not flagged;
    * the other indicators: phase 1 alone, the spec's adjustment within them at
      ``alpha · (1 − share)``.

    ``p_adjusted`` is reported on the spec's scale (the within-part adjusted p-value divided by
    the part's share, at most 1), so "``p_adjusted < alpha``" is the decision in both parts.
    Returns the columns of :func:`combine_followup` (``z`` is NaN; ``p2`` the conditional
    p-value).
    """
    est = phase1_estimates[phase1_estimates["town"] != DISTRICT]
    out = est[["indicator", "town", "estimate", "threshold"]].copy().reset_index(drop=True)
    out["p1"] = est["p_value"].to_numpy(float)
    in_rule = out["indicator"].isin(rule.indicators).to_numpy()
    a0 = np.array([rule.futility(i) for i in out["indicator"]], float)
    screened = in_rule & (np.nan_to_num(out["p1"].to_numpy(), nan=1.0) <= a0)
    p2 = np.full(len(out), np.nan)
    if stage2 is not None and len(stage2):
        key = stage2.set_index(["indicator", "town"])["p_value"]
        p2 = key.reindex(pd.MultiIndex.from_frame(out[["indicator", "town"]])).to_numpy(float)
    p2 = np.where(screened, p2, np.nan)
    followed = screened & ~np.isnan(p2)
    out["p2"] = p2
    out["z"] = np.nan
    out["p_overall"] = np.where(in_rule, np.where(followed, p2, 1.0), out["p1"].to_numpy())
    out["stage"] = np.where(~in_rule, STAGE_OUTSIDE,
                            np.where(followed, STAGE_CONDITIONAL,
                                     np.where(screened, STAGE_NOT_FOLLOWED, STAGE_FUTILITY)))
    if spec.multiplicity_family == "all":  # one family: α is split between the two parts
        share = rule.share(int(in_rule.sum()), len(out))
        fracs = (share, 1.0 - share)
    else:  # each indicator is its own family, wholly in one part
        share = 1.0
        fracs = (1.0, 1.0)
    family = out["indicator"].to_numpy() if spec.multiplicity_family == "indicator" else None
    adj = np.ones(len(out))
    for part, frac in zip((followed, ~in_rule), fracs, strict=True):
        if not part.any():
            continue
        if frac <= 0:
            adj[part] = 1.0
            continue
        a = adjust_family(out["p_overall"].to_numpy()[part],
                          None if family is None else family[part], spec.multiplicity)
        adj[part] = np.minimum(a / frac, 1.0)
    out["p_adjusted"] = adj
    out["class"] = verdicts(out["estimate"], out["threshold"], out["p_adjusted"], spec.alpha)
    out["flag"] = out["class"] == CLASS_SIGNIFICANT
    out.attrs["share"] = share
    return out
