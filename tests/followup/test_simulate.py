"""The whole two-phase procedure by seeded simulation: its level at the boundary."""

from __future__ import annotations

import numpy as np

from quchi_stats.datasets import load_register
from quchi_stats.followup.simulate import simulate_followup
from quchi_stats.sampling import DesignPlan
from quchi_stats.spec import FollowupRule


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
