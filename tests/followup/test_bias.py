"""followup/bias.py: the conditional bias of estimates after an outcome-triggered 复核, by simulation."""

from __future__ import annotations

import numpy as np

from quchi_stats.followup.bias import simulate_two_phase_bias


def test_bias_after_a_triggered_followup():
    """Given that phase 1 looked low (the trigger), the phase-1 estimate is biased low; the
    two-phase total is unbiased when the visited villages' frames are taken whole, and keeps much
    less bias when households are sampled in them."""
    rng = np.random.default_rng(5)
    sizes = rng.integers(4, 30, 16)
    good = rng.binomial(sizes, rng.beta(0.9 * 19, 0.1 * 19, sizes.size))
    truth = good.sum() / sizes.sum()
    census = simulate_two_phase_bias(sizes, good, villages1=5, villages2=5, households=None,
                                     trigger=(0.0, truth), reps=1500, seed=11)
    s = census.summary
    assert 0.1 < census.triggered < 0.9
    assert abs(s.loc["total_two_phase", "mean_error"]) <= 4 * s.loc["total_two_phase", "mc_se"]
    assert s.loc["total_phase1", "mean_error"] < -4 * s.loc["total_phase1", "mc_se"]
    # over every replicate (not only those that triggered) the phase-1 rate is unbiased
    assert abs(census.rate_phase1_all) <= 4 * census.rate_phase1_all_se + 0.002
    sub = simulate_two_phase_bias(sizes, good, villages1=5, villages2=5, households=6,
                                  trigger=(0.0, truth), reps=1500, seed=12).summary
    two, one = sub.loc["rate_two_phase"], sub.loc["rate_phase1"]
    assert abs(two["mean_error"]) + 4 * two["mc_se"] < abs(one["mean_error"]) / 2
