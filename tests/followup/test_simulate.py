"""The whole two-phase procedure by seeded simulation: its level at the boundary, its power; the
conditional test's level given phase 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.datasets import load_register
from quchi_stats.followup.conditional import conditional_test_batch
from quchi_stats.followup.simulate import simulate_followup
from quchi_stats.sampling import DesignPlan
from quchi_stats.spec import FollowupRule, load_spec


def test_level_of_the_two_phase_procedure():
    """Every town exactly at the standard (the H0 boundary, the worst case for false flags).

    Per test (overall p < α before adjustment): 9 towns × 120 replicates. The towns of a replicate
    share ρ̂, so the SE is taken with a design effect of 2: SE = √(2 · 0.05 · 0.95 / 1080) ≈ 0.0094;
    the tolerance is 4 SE. Familywise (Holm within the indicator): 120 replicates, SE ≈ 0.02,
    4 SE. A stage-2 test that reused phase-1 households would push both well above."""
    reps = 120
    res = simulate_followup(load_register(2018), DesignPlan(year=2018),
                            FollowupRule(indicators=("satisfaction_rate",)), truth=0.9,
                            reps=reps, seed=11)
    t = res.table
    assert t["compliant"].all()
    assert t["continuation_rate"].mean() > 0.15  # the follow-up path is exercised
    assert t["followup_rate"].max() > 0.15
    n = reps * len(t)
    level = t["reject_rate_unadjusted"].mean()
    assert level <= 0.05 + 4 * np.sqrt(2 * 0.05 * 0.95 / n)
    assert res.summary["familywise_false_flag"] <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / reps)
    # a town whose villages were all visited in phase 1 cannot be followed up
    assert t.loc[t["town"] == "小坑镇", "followup_rate"].iloc[0] == 0


# --- the conditional method (followup/conditional.py) -------------------------------------------

IND3 = ("identification_accuracy", "exit_accuracy", "satisfaction_rate")
#: the candidate conditional rule of issue 13 (chosen on seed 11; these tests use other seeds)
COND = FollowupRule(indicators=IND3, method="conditional", alpha_futility=0.2,
                    households={"registered": 4, "exited": 4, "non_registered": 4},
                    census_frames=("exited",), max_extra_households=100000)


def test_conditional_rule_keeps_false_flags_on_actual_rates_at_the_boundary():
    """Every town's mean exactly at each standard: about half the pairs' actual rates meet it in
    each replicate, and a flag on one of them is a false flag. The procedure's familywise rate
    against the actual rates must stay at α: 250 replicates, SE = √(0.05 · 0.95 / 250) ≈ 0.014,
    tolerance 4 SE. (A conditional test that ignored the phase-1 households it conditions on, or
    an unadjusted one, goes far above: the boundary is where every screened town is followed up.)"""
    reps = 250
    spec = load_spec(2018)
    truth = {i: spec.indicator(i).threshold for i in IND3}
    res = simulate_followup(load_register(2018), DesignPlan(year=2018), COND, spec=spec,
                            indicators=IND3, truth=truth, icc=0.05, reps=reps, seed=4409)
    t = res.table
    assert t["followup_rate"].mean() > 0.2  # the follow-up path is exercised
    assert 0.2 < t["meets_standard_rate"].mean() < 0.8  # both sides of the standard occur
    fw = res.summary["familywise_false_flag_actual"]
    assert fw <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / reps)
    assert res.summary["familywise_false_flag_actual_se"] == pytest.approx(
        np.sqrt(fw * (1 - fw) / reps))
    assert len(res.replicates) == reps
    assert res.replicates["false_flag_actual"].mean() == pytest.approx(fw)


def test_conditional_rule_flags_towns_ten_points_short():
    """Three towns 10 points below one standard each (not the rule's tuning towns nor seed): the
    benchmark measured 80–95 % for such pairs. With 150 replicates a pair's SE is at most 0.041,
    so a true power of 0.8 falls below 0.6 with probability < 1e-5 (4.9 SE). Phase 1 alone flags
    far fewer (the follow-up is what finds them)."""
    reps = 150
    truth = {"identification_accuracy": {"樟市镇": 0.88}, "exit_accuracy": {"罗坑镇": 0.88},
             "satisfaction_rate": {"白土镇": 0.80}}
    res = simulate_followup(load_register(2018), DesignPlan(year=2018), COND, indicators=IND3,
                            truth=truth, icc=0.05, reps=reps, seed=4411)
    low = res.table[~res.table["compliant"]]
    assert len(low) == 3
    assert low["flag_rate"].min() >= 0.6
    assert (low["flag_rate"] > low["flag_rate_phase1"] + 0.2).all()
    s = res.summary
    assert s["familywise_false_flag_actual"] <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / reps)
    # the low towns are followed up, so most extra households are theirs
    assert s["shortfall_extra_households"] > 0 and 0 < s["compliant_extra_share"] < 0.3


def _conditional_size(N, good, seen, seen_good, n2, p0, reps, seed):
    """Rejection rate at α = 0.05 of the conditional test over ``reps`` phase-2 draws: one town,
    cells (village × frame) of ``N`` households of which ``good`` are good (the town's actual rate
    is ``p0`` exactly), phase 1 fixed (``seen`` observed, ``seen_good`` good), phase 2 a simple
    random sample of ``n2`` of each cell's unobserved households (all when fewer)."""
    N, good, seen, seen_good, n2 = (np.asarray(a) for a in (N, good, seen, seen_good, n2))
    assert good.sum() == pytest.approx(p0 * N.sum())  # exactly at the boundary
    rest, left = N - seen, good - seen_good
    assert (rest >= left).all() and (left >= 0).all()
    k = np.minimum(n2, rest)
    C = N.size
    rng = np.random.default_rng(seed)
    y2 = rng.hypergeometric(np.broadcast_to(left, (reps, C)),
                            np.broadcast_to(rest - left, (reps, C)),
                            np.broadcast_to(np.maximum(k, 1), (reps, C)))
    y2 = np.where(k > 0, y2, 0).ravel().astype(float)
    kk = np.tile(k, reps).astype(float)
    rr = np.tile(rest, reps).astype(float)
    res = conditional_test_batch(np.full(reps, float(seen_good.sum())),
                                 np.full(reps, float(N.sum())), np.repeat(np.arange(reps), C),
                                 reps, rr, rr, kk, kk, y2, kk, p0)
    assert np.isfinite(res.p_value).all()
    # the estimate of the town's actual rate is unbiased given phase 1
    assert res.p_hat.mean() == pytest.approx(p0, abs=4 * res.p_hat.std() / np.sqrt(reps))
    return float((res.p_value < 0.05).mean())


@pytest.mark.parametrize("case", [
    # 认可度-like: p0 = 0.9, four villages, phase 1 saw two of them and found them low
    dict(N=[40, 60, 30, 70], good=[38, 50, 29, 63], seen=[10, 10, 0, 0], seen_good=[8, 9, 0, 0],
         n2=[4, 4, 4, 4], p0=0.9),
    # accuracy-like: p0 = 0.98, five villages, three visited, phase 1 saw two errors
    dict(N=[150, 120, 200, 90, 140], good=[148, 116, 195, 89, 138], seen=[10, 10, 10, 0, 0],
         seen_good=[9, 10, 9, 0, 0], n2=[4, 4, 4, 4, 4], p0=0.98),
    # a sampled frame and a censused one (the exits: n2 above every cell's size)
    dict(N=[40, 60, 30, 70, 8, 6, 6], good=[38, 50, 29, 63, 8, 5, 5],
         seen=[10, 10, 0, 0, 4, 4, 0], seen_good=[8, 9, 0, 0, 4, 3, 0],
         n2=[4, 4, 4, 4, 100, 100, 100], p0=0.9),
])
def test_conditional_test_has_its_level_given_phase_1(case):
    """A fixed finite population whose actual rate equals the standard, phase 1 fixed (and chance
    low), phase 2 redrawn 20,000 times: the rejection rate at α = 0.05 is at most α + 4 SE
    (SE = √(0.05 · 0.95 / 20,000) ≈ 0.0015). A normal-tail test at the same n_eff rejects too
    often here (measured: 7.8 %, 10.7 %, 7.8 % against 3.8 %, 2.4 %, 3.8 %): the binomial tail is
    what keeps the level near a 98 % standard."""
    reps = 20000
    rate = _conditional_size(**case, reps=reps, seed=4421)
    assert rate <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / reps)
    assert rate > 0.005  # the test is not trivially conservative: it can reject


@pytest.mark.parametrize("method", ["beta-binomial", "beta-binomial-adjusted"])
def test_simulators_town_test_is_the_reports(method):
    """The 复核 simulator's town test (ρ, df and p-values of each replicate) is the report's
    ``town_test`` with the same method, an all-empty town (the adjusted test's mid-p) included."""
    from quchi_stats.flags.town_test import town_test
    from quchi_stats.followup.simulate import _town_test

    rng = np.random.default_rng(5)
    town_of_v = np.repeat(np.arange(4), 3)  # 4 towns × 3 villages
    m = rng.integers(4, 9, (3, 12)).astype(float)
    y = np.minimum(m, rng.binomial(m.astype(int), 0.9)).astype(float)
    y[:, 3:6] = 0.0  # town 1 all empty in every replicate
    m[2, 11] = 0.0  # a village without data
    P, rho, df = _town_test(y, m, town_of_v, 4, 0.85, None, None, method)
    for r in range(3):
        keep = m[r] > 0
        v = pd.DataFrame({"town": town_of_v[keep], "y": y[r, keep], "m": m[r, keep]})
        t = town_test(v, 0.85, method=method)
        assert rho[r] == pytest.approx(t.rho, rel=1e-9) and df[r] == t.df
        np.testing.assert_allclose(P[r], t.to_frame().set_index("town")["p_value"]
                                   .reindex(range(4)).to_numpy(), rtol=1e-9)
