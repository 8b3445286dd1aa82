"""Which town × indicator pairs the pre-registered rule sends to a 复核, and in what order.

The rule itself is the spec's ``[followup]`` section (:class:`~quchi_stats.spec.FollowupRule`),
recorded with its SHA-256 in the phase-1 manifest by ``design``; here it is applied to the
phase-1 results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import DISTRICT
from ..spec import AssessmentSpec, FollowupRule

__all__ = ["conditional_share", "continuation", "exhausted_towns", "frames_needed",
           "screen_levels_text"]


def exhausted_towns(register: pd.DataFrame, phase1_sample: pd.DataFrame) -> list[str]:
    """Towns whose every village was visited in phase 1 (known from the design before any
    result: the allocation took all of them). No village is left to follow them up, so the rule
    does not apply to them: they are decided on phase 1 alone (their ``p1`` is a valid p-value).
    """
    all_v = register.groupby("town")["village"].nunique()
    seen = phase1_sample.groupby("town")["village"].nunique()
    return sorted(t for t, n in all_v.items() if seen.get(t, 0) >= n)


def continuation(estimates: pd.DataFrame, rule: FollowupRule,
                 exhausted: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """The town × indicator pairs of ``rule.indicators`` whose phase-1 one-sided p-value is in
    the continuation region, most suspect (smallest ``p1``) first.

    The region depends on the rule's ``method``:

    * ``"inverse-normal"``: ``alpha_stop < p1 <= alpha_futility``; towns in ``exhausted``
      (:func:`exhausted_towns`: no village left to draw) are left out.
    * ``"conditional"``: ``p1 <= rule.futility(indicator)`` (``alpha_futility``, or the
      indicator's own level in ``alpha_futility_by_indicator``; no phase-1 decision: every screened pair is
      decided by the conditional test of the town's actual rate, :mod:`.conditional`);
      ``exhausted`` is ignored, since phase 2 draws the households phase 1 did not observe in
      every village, visited or not.

    ``estimates`` is :func:`~quchi_stats.assessment.estimate_indicators`' table (the district row
    is ignored). Returns ``town``, ``indicator``, ``label``, ``estimate``, ``threshold``, ``p1``.

    Examples
    --------
    >>> est = pd.DataFrame({"town": ["甲", "乙", "丙", DISTRICT], "indicator": "s", "label": "认可度",
    ...                     "estimate": [.8, .85, .95, .9], "threshold": .9,
    ...                     "p_value": [.0001, .04, .6, .1]})
    >>> continuation(est, FollowupRule(indicators=("s",)))["town"].tolist()
    ['乙']
    >>> continuation(est, FollowupRule(indicators=("s",), method="conditional"),
    ...              exhausted=["甲"])["town"].tolist()
    ['甲', '乙']
    >>> continuation(est, FollowupRule(indicators=("s",), method="conditional", alpha_futility=0.01,
    ...                                alpha_futility_by_indicator={"s": 0.05}))["town"].tolist()
    ['甲', '乙']
    """
    conditional = rule.method == "conditional"
    t = estimates[(estimates["town"] != DISTRICT) & estimates["indicator"].isin(rule.indicators)]
    if not conditional:
        t = t[~t["town"].isin(list(exhausted))]
    p1 = t["p_value"].to_numpy(float)
    a0 = np.array([rule.futility(i) for i in t["indicator"]], float)
    keep = p1 <= a0
    if not conditional:
        keep &= p1 > rule.alpha_stop
    out = t.loc[keep, ["town", "indicator", "label", "estimate", "threshold", "p_value"]]
    out = out.rename(columns={"p_value": "p1"})
    order = np.lexsort((out["indicator"].to_numpy(), out["p1"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def frames_needed(indicators: list[str] | tuple[str, ...], spec: AssessmentSpec) -> list[str]:
    """The sampling frames the given indicators are computed on, in the frames' order."""
    from ..sampling.draw import FRAME_NAMES

    used = {f for name in indicators for f in spec.indicator(name).frames}
    return [f for f in FRAME_NAMES if f in used]


def conditional_share(rule: FollowupRule, spec: AssessmentSpec, n_towns: int
                      ) -> tuple[int, int, float]:
    """The conditional method's part of the spec's ``alpha``: ``(n_rule_pairs, n_pairs, share)``
    with ``n_pairs`` the town × indicator tests of the spec's multiplicity family (every
    indicator's when ``multiplicity_family = "all"``, one indicator's otherwise), ``n_rule_pairs``
    those of the rule's indicators in it, and ``share`` = :meth:`FollowupRule.share` of them (as
    :func:`~quchi_stats.followup.simulate_followup` counts them).

    Examples
    --------
    >>> from quchi_stats.spec import load_spec
    >>> conditional_share(FollowupRule(indicators=("satisfaction_rate", "exit_accuracy"),
    ...                                method="conditional"), load_spec(2018), 9)
    (18, 72, 0.25)
    """
    per = len(spec.indicators) if spec.multiplicity_family == "all" else 1
    n_rule = n_towns * (len(rule.indicators) if spec.multiplicity_family == "all" else 1)
    n_pairs = n_towns * per
    return n_rule, n_pairs, rule.share(n_rule, n_pairs)


def screen_levels_text(rule: FollowupRule, spec: AssessmentSpec) -> str:
    """The rule's screening levels α0 for text people read: ``alpha_futility``, followed by the
    indicators with their own level (``alpha_futility_by_indicator``) in brackets.

    Examples
    --------
    >>> from quchi_stats.spec import load_spec
    >>> spec = load_spec(2018)
    >>> screen_levels_text(FollowupRule(indicators=("satisfaction_rate",)), spec)
    '0.3'
    >>> screen_levels_text(FollowupRule(indicators=("exit_accuracy", "satisfaction_rate"),
    ...     method="conditional", alpha_futility=0.2,
    ...     alpha_futility_by_indicator={"satisfaction_rate": 0.3}), spec)
    '0.2（群众认可度 0.3）'
    """
    from ..labels import threshold_text

    own = [f"{spec.indicator(i).label} {threshold_text(rule.futility(i))}"
           for i in rule.indicators if i in rule.alpha_futility_by_indicator]
    base = threshold_text(rule.alpha_futility)
    return f"{base}（{'、'.join(own)}）" if own else base
