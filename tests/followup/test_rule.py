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


def test_alpha_futility_by_indicator(tmp_path):
    """Per-indicator screening levels (conditional method only): read, checked, applied by the
    screen, and recorded in the manifest only when given (earlier rules keep their SHA-256)."""
    head = ('[followup]\nmethod = "conditional"\n'
            'indicators = ["satisfaction_rate", "exit_accuracy"]\nalpha_futility = 0.2\n')
    rule = _load(tmp_path, head + 'alpha_futility_by_indicator = { satisfaction_rate = 0.4 }\n'
                 ).followup
    assert rule.alpha_futility_by_indicator == {"satisfaction_rate": 0.4}
    assert rule.futility("satisfaction_rate") == 0.4 and rule.futility("exit_accuracy") == 0.2
    assert FollowupRule.from_dict(rule.to_dict()) == rule
    plain = _load(tmp_path, head).followup
    assert "alpha_futility_by_indicator" not in plain.to_dict()
    with pytest.raises(DataError, match="只能与 method = \"conditional\" 同用"):
        _load(tmp_path, '[followup]\nindicators = ["satisfaction_rate"]\n'
                        'alpha_futility_by_indicator = { satisfaction_rate = 0.4 }\n')
    with pytest.raises(DataError, match="“missed_rate”不是 \\[followup\\] indicators 中的指标"):
        _load(tmp_path, head + 'alpha_futility_by_indicator = { missed_rate = 0.4 }\n')
    for bad in ("0", "1.5", '"0.3"', "true"):
        with pytest.raises(DataError, match="satisfaction_rate 应为 \\(0, 1\\] 内的数"):
            _load(tmp_path, head + f'alpha_futility_by_indicator = {{ satisfaction_rate = {bad} }}\n')
    est = pd.DataFrame({"town": ["甲", "乙", "甲", "乙"], "label": "x", "estimate": 0.85,
                        "indicator": ["satisfaction_rate"] * 2 + ["exit_accuracy"] * 2,
                        "threshold": 0.9, "p_value": [0.35, 0.25, 0.15, 0.25]})
    got = continuation(est, rule)
    assert list(zip(got["town"], got["indicator"], strict=True)) == [
        ("甲", "exit_accuracy"), ("乙", "satisfaction_rate"), ("甲", "satisfaction_rate")]


def test_simulated_screen_uses_the_indicator_level():
    """The simulator screens each indicator at its own level: a larger α0 for one indicator
    screens it at least as often (same seed, same phase 1) and leaves the other's screen as is."""
    import dataclasses

    from quchi_stats.datasets import load_register
    from quchi_stats.followup.simulate import simulate_followup
    from quchi_stats.sampling import DesignPlan

    reg, plan = load_register(2018), DesignPlan(year=2018)
    base = FollowupRule(indicators=("satisfaction_rate", "exit_accuracy"), method="conditional",
                        alpha_futility=0.2, census_frames=("exited",))
    wide = dataclasses.replace(base, alpha_futility_by_indicator={"satisfaction_rate": 0.6})
    kw = dict(indicators=("satisfaction_rate", "exit_accuracy"), reps=40, seed=3,
              truth={"satisfaction_rate": {"大塘镇": 0.85}})
    a = simulate_followup(reg, plan, base, **kw).table.set_index(["town", "indicator"])
    b = simulate_followup(reg, plan, wide, **kw).table.set_index(["town", "indicator"])
    sat, ex = a.xs("satisfaction_rate", level=1), b.xs("satisfaction_rate", level=1)
    assert (ex["continuation_rate"] >= sat["continuation_rate"]).all()
    assert ex["continuation_rate"].sum() > sat["continuation_rate"].sum()
    pd.testing.assert_series_equal(a.xs("exit_accuracy", level=1)["continuation_rate"],
                                   b.xs("exit_accuracy", level=1)["continuation_rate"])
