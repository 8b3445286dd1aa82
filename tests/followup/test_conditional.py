"""The conditional 复核 test (followup/conditional.py) and its decisions (combine_conditional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quchi_stats.followup.combine import (
    STAGE_CONDITIONAL,
    STAGE_FUTILITY,
    STAGE_NOT_FOLLOWED,
    STAGE_OUTSIDE,
    combine_conditional,
)
from quchi_stats.followup.conditional import conditional_bounds, conditional_test_batch
from quchi_stats.spec import FollowupRule, load_spec


def _one(t_obs, total, rest, n2, y2, p0, rest_hh=None, sw2=None):
    rest = np.atleast_1d(np.asarray(rest, float))
    n2 = np.atleast_1d(np.asarray(n2, float))
    y2 = np.atleast_1d(np.asarray(y2, float))
    g = np.zeros(rest.size, np.intp)
    rh = rest if rest_hh is None else np.atleast_1d(np.asarray(rest_hh, float))
    return conditional_test_batch(np.array([t_obs], float), np.array([total], float), g, 1,
                                  rest, rh, n2, n2, y2, n2 if sw2 is None else sw2, p0)


def test_srs_is_the_binomial_tail_at_the_effective_size():
    # one cell, no phase 1: 100 of an infinite-like 10^6 households, 95 good, p0 0.98
    r = _one(0.0, 1e6, 1e6, 100, 95, 0.98)
    assert r.n_eff[0] == pytest.approx(100 / (1 - 1e-4))
    assert r.p_value[0] == pytest.approx(stats.binom.cdf(95, 100, 0.98), rel=1e-3)


def test_known_rate_when_every_unobserved_household_is_taken():
    r = _one(90.0, 200.0, 100.0, 100, 80, 0.9)  # census of the rest: 170/200 = 0.85 < 0.9
    assert r.p_hat[0] == pytest.approx(0.85) and r.p_value[0] == 0.0
    r = _one(90.0, 200.0, 100.0, 100, 95, 0.9)  # 185/200 = 0.925
    assert r.p_value[0] == 1.0
    lo, hi = conditional_bounds(r, 0.95)
    assert lo[0] == hi[0] == pytest.approx(0.925)


def test_phase1_can_decide_the_null_value_beyond_the_unit_interval():
    # phase 1 saw 50 bad of 100 in a town of 120: even 20 good of 20 leaves 70/120 < 0.9
    r = _one(50.0, 120.0, 20.0, 5, 5, 0.9)
    assert r.q0[0] > 1 and r.p_value[0] == 0.0
    # phase 1 saw 100 good of 100 in a town of 105: 0 good of 5 still gives 100/105 > 0.9
    r = _one(100.0, 105.0, 5.0, 2, 0, 0.9)
    assert r.q0[0] < 0 and r.p_value[0] == 1.0


def test_test_and_interval_agree():
    rng = np.random.default_rng(5)
    for _ in range(200):
        C = int(rng.integers(1, 6))
        rest = rng.integers(20, 80, C).astype(float)
        n2 = np.minimum(rng.integers(3, 15, C), rest).astype(float)
        y2 = rng.binomial(n2.astype(int), 0.85).astype(float)
        t_obs = float(rng.integers(30, 60))
        total = t_obs + float(rng.integers(0, 10)) + rest.sum()
        r = _one(t_obs, total, rest, n2, y2, 0.9)
        alpha = 0.05
        lo, hi = conditional_bounds(r, 1 - 2 * alpha)
        assert (r.p_value[0] <= alpha) == (hi[0] < 0.9), (r.p_value, hi)
        assert lo[0] <= r.p_hat[0] <= hi[0]


def test_person_weights_enter_the_effective_size():
    # the same households, persons of very unequal sizes: fewer effective draws
    n2 = np.array([10.0])
    flat = _one(0.0, 500.0, 500.0, n2, 8, 0.9, rest_hh=[100.0], sw2=np.array([10.0]))
    uneven = conditional_test_batch(np.zeros(1), np.full(1, 500.0), np.zeros(1, np.intp), 1,
                                    np.array([500.0]), np.array([100.0]), n2, np.array([50.0]),
                                    np.array([40.0]), np.array([50.0 ** 2 / 10 * 3]), 0.9)
    assert uneven.n_eff[0] < flat.n_eff[0]


def test_size_at_an_actual_rate_equal_to_the_standard():
    """A fixed finite population whose rate is exactly p0, a fixed phase 1, phase 2 redrawn:
    the rejection rate at α is at most α (+ 4 Monte Carlo SE)."""
    rng = np.random.default_rng(20261202)
    C, size = 8, 40
    pop = np.zeros((C, size), int)
    rates = np.array([0.75, 0.8, 0.85, 0.9, 0.9, 0.95, 0.95, 0.9])  # cells differ
    for c in range(C):
        pop[c, : int(round(rates[c] * size))] = 1
    p0 = pop.mean()
    observed = np.zeros((C, size), bool)
    observed[:4, :8] = True  # phase 1 saw 8 households in four villages
    t_obs = float(pop[observed].sum())
    rest = (~observed).sum(axis=1).astype(float)
    reps, alpha, rej = 4000, 0.05, 0
    for _ in range(reps):
        y2 = np.array([rng.choice(pop[c][~observed[c]], 6, replace=False).sum()
                       for c in range(C)], float)
        r = conditional_test_batch(np.array([t_obs]), np.array([float(pop.size)]),
                                   np.zeros(C, np.intp), 1, rest, rest, np.full(C, 6.0),
                                   np.full(C, 6.0), y2, np.full(C, 6.0), p0)
        rej += r.p_value[0] <= alpha
    rate = rej / reps
    assert rate <= alpha + 4 * np.sqrt(alpha * (1 - alpha) / reps)


def _estimates():
    spec = load_spec(2018)
    rows = []
    for ind in spec.indicators:
        for t, p in zip(["甲", "乙", "丙"], [0.001, 0.15, 0.6], strict=True):
            rows.append({"indicator": ind.name, "town": t, "estimate": ind.threshold - 0.05,
                         "threshold": ind.threshold, "p_value": p})
        rows.append({"indicator": ind.name, "town": "全区", "estimate": ind.threshold,
                     "threshold": ind.threshold, "p_value": 0.5})
    return spec, pd.DataFrame(rows)


def test_decisions_split_alpha_and_flag_only_followed_up_rule_pairs():
    spec, est = _estimates()
    rule = FollowupRule(indicators=("satisfaction_rate", "exit_accuracy"), method="conditional",
                        alpha_futility=0.2)
    stage2 = pd.DataFrame({"indicator": ["satisfaction_rate", "satisfaction_rate"],
                           "town": ["甲", "乙"], "p_value": [0.001, 0.2]})
    out = combine_conditional(est, stage2, rule, spec=spec).set_index(["indicator", "town"])
    share = 6 / 24  # 2 of 8 indicators × 3 towns
    assert out.attrs["share"] == pytest.approx(share)
    s = out.loc[("satisfaction_rate", "甲")]
    assert s["stage"] == STAGE_CONDITIONAL and bool(s["flag"])
    # Holm over the 2 followed-up pairs at α·share: 2 × 0.001 / 0.25
    assert s["p_adjusted"] == pytest.approx(2 * 0.001 / share)
    assert out.loc[("satisfaction_rate", "乙"), "stage"] == STAGE_CONDITIONAL
    assert not out.loc[("satisfaction_rate", "乙"), "flag"]
    # screened (p1 ≤ α0) without phase-2 data: never flagged, even with p1 = 0.001
    e = out.loc[("exit_accuracy", "甲")]
    assert e["stage"] == STAGE_NOT_FOLLOWED and not e["flag"] and e["p_adjusted"] == 1.0
    assert out.loc[("exit_accuracy", "丙"), "stage"] == STAGE_FUTILITY
    # outside the rule: phase 1, Holm over the 18 pairs at α·(1 − share)
    o = out.loc[("identification_accuracy", "甲")]
    assert o["stage"] == STAGE_OUTSIDE
    assert o["p_adjusted"] == pytest.approx(18 * 0.001 / (1 - share))
    assert bool(o["flag"]) == (18 * 0.001 / (1 - share) < spec.alpha)


def test_decisions_with_a_fixed_share_and_indicator_families():
    spec, est = _estimates()
    rule = FollowupRule(indicators=("satisfaction_rate",), method="conditional",
                        alpha_futility=0.2, alpha_share=0.8)
    stage2 = pd.DataFrame({"indicator": ["satisfaction_rate"], "town": ["甲"], "p_value": [0.03]})
    out = combine_conditional(est, stage2, rule, spec=spec).set_index(["indicator", "town"])
    assert out.loc[("satisfaction_rate", "甲"), "p_adjusted"] == pytest.approx(0.03 / 0.8)
    from dataclasses import replace
    spec_i = replace(spec, multiplicity_family="indicator")
    out = combine_conditional(est, stage2, rule, spec=spec_i).set_index(["indicator", "town"])
    # each indicator its own family: the followed-up pair alone at the full α
    assert out.loc[("satisfaction_rate", "甲"), "p_adjusted"] == pytest.approx(0.03)
    assert out.loc[("identification_accuracy", "甲"), "p_adjusted"] == pytest.approx(3 * 0.001)


def test_write_spec_offers_the_conditional_rule_switched_off(tmp_path):
    import re

    from quchi_stats.spec import write_spec

    p = write_spec(2019, tmp_path / "s.toml", county="某某县")
    text = p.read_text(encoding="utf-8")
    assert load_spec(p, year=2019).followup is None  # commented out: no 复核 unless chosen
    on = re.sub(r"(?m)^# (\[followup\]|method|indicators|alpha_futility|households|census_frames"
                r"|max_extra_households)", r"\1", text)
    (tmp_path / "on.toml").write_text(on, encoding="utf-8")
    rule = load_spec(tmp_path / "on.toml", year=2019).followup
    assert rule.method == "conditional" and rule.census_frames == ("exited",)
    assert rule.alpha_futility == 0.2 and rule.households["registered"] == 6
    assert rule.futility("satisfaction_rate") == 0.3 and rule.futility("exit_accuracy") == 0.2
