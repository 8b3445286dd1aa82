"""The spec's [followup] section and the continuation region."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from quchi_stats.errors import DataError
from quchi_stats.followup import continuation
from quchi_stats.spec import FollowupRule, load_spec

TEXT = (resources.files("quchi_stats") / "specs" / "assessment_2018.toml").read_text(
    encoding="utf-8")


def _load(tmp_path, section):
    p = tmp_path / "s.toml"
    p.write_text(TEXT.replace("[[indicator]]", section + "\n[[indicator]]", 1), encoding="utf-8")
    return load_spec(p)


def test_followup_section(tmp_path):
    assert load_spec(2018).followup is None
    rule = _load(tmp_path, '[followup]\nindicators = ["satisfaction_rate", "exit_accuracy"]\n'
                           'census_frames = ["exited"]\nhouseholds = {registered = 6}\n').followup
    assert rule == FollowupRule(indicators=("satisfaction_rate", "exit_accuracy"),
                                census_frames=("exited",),
                                households={"registered": 6, "exited": 8, "non_registered": 8})
    assert rule.weight_phase2 == pytest.approx((1 - rule.weight_phase1 ** 2) ** 0.5)
    assert FollowupRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(DataError, match="不是 \\[\\[indicator\\]\\] 中的指标"):
        _load(tmp_path, '[followup]\nindicators = ["satisfaction"]\n')
    with pytest.raises(DataError, match="alpha_stop < alpha < alpha_futility"):
        _load(tmp_path, '[followup]\nindicators = ["satisfaction_rate"]\nalpha_futility = 0.04\n')
    with pytest.raises(DataError, match="未知的键 \\[followup\\] village（是否应为 villages？）"):
        _load(tmp_path, '[followup]\nindicators = ["satisfaction_rate"]\nvillage = 3\n')
    with pytest.raises(DataError, match="weight_phase1 应为大于 0 且小于 1 的数"):
        _load(tmp_path, '[followup]\nindicators = ["satisfaction_rate"]\nweight_phase1 = 1\n')


def test_continuation_region():
    rule = FollowupRule(indicators=("s",), alpha_stop=0.001, alpha_futility=0.3)
    est = pd.DataFrame({"town": ["甲", "乙", "丙", "丁", "戊", "全区"], "indicator": "s",
                        "label": "认可度", "estimate": 0.85, "threshold": 0.9,
                        "p_value": [0.001, 0.0011, 0.3, 0.31, 0.2, 0.1]})
    got = continuation(est, rule)
    assert got["town"].tolist() == ["乙", "戊", "丙"]  # boundaries: (α1, α0], smallest p1 first
    assert continuation(est, rule, exhausted=["戊"])["town"].tolist() == ["乙", "丙"]


def test_continuation_region_conditional():
    """The conditional method screens every pair with p1 ≤ α0: no phase-1 decision (α1 unused)
    and towns with every village visited included (their unobserved households remain)."""
    rule = FollowupRule(indicators=("s",), alpha_stop=0.001, alpha_futility=0.3,
                        method="conditional")
    est = pd.DataFrame({"town": ["甲", "乙", "丙", "丁", "戊", "己", "全区"], "indicator": "s",
                        "label": "认可度", "estimate": 0.85, "threshold": 0.9,
                        "p_value": [0.001, 0.0011, 0.3, 0.31, 0.2, float("nan"), 0.0001]})
    got = continuation(est, rule, exhausted=["戊"])
    assert got["town"].tolist() == ["甲", "乙", "戊", "丙"]
    assert got["p1"].tolist() == [0.001, 0.0011, 0.2, 0.3]
    # the same table under the inverse-normal method: (α1, α0], exhausted towns left out
    inv = FollowupRule(indicators=("s",), alpha_stop=0.001, alpha_futility=0.3)
    assert continuation(est, inv, exhausted=["戊"])["town"].tolist() == ["乙", "丙"]


def test_conditional_share():
    from quchi_stats.followup.rule import conditional_share

    spec = load_spec(2018)
    rule = FollowupRule(indicators=("satisfaction_rate", "exit_accuracy"), method="conditional")
    n_ind = len(spec.indicators)
    assert conditional_share(rule, spec, 9) == (18, 9 * n_ind, 2 / n_ind)
    import dataclasses

    per_indicator = dataclasses.replace(spec, multiplicity_family="indicator")
    assert conditional_share(rule, per_indicator, 9) == (9, 9, 1.0)
    given = dataclasses.replace(rule, alpha_share=0.4)
    assert conditional_share(given, spec, 9)[2] == 0.4
