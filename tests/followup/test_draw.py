"""The phase-2 draw: only unvisited villages, exact conditional probabilities, the cap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.followup.draw import draw_followup, followup_frame
from quchi_stats.sampling import DesignPlan, inclusion_probabilities
from quchi_stats.sampling.draw import draw_sample
from quchi_stats.spec import FollowupRule, load_spec
from tests.conftest import make_register

SPEC = load_spec(2018)


@pytest.fixture(scope="module")
def district():
    # one town of 8 villages of unequal πps size (registered households), 3 visited in phase 1
    reg = make_register({"甲镇": [(r, 3, 4) for r in (2, 4, 6, 9, 12, 16, 20, 30)],
                         "乙镇": [(5, 2, 4)] * 3})
    plan = DesignPlan(year=2018, villages_total=5, min_villages_per_town=2,
                      households_per_village={"registered": 2, "exited": 1, "non_registered": 1})
    phase1 = draw_sample(reg, plan, seed=3).sample
    return reg, plan, phase1


def test_conditional_inclusion_probabilities(district):
    reg, plan, phase1 = district
    rule = FollowupRule(indicators=("exit_accuracy",), villages=2, reserves=0,
                        households={"registered": 0, "exited": 1, "non_registered": 0})
    screened = pd.DataFrame({"town": ["甲镇"], "indicator": ["exit_accuracy"], "p1": [0.1]})
    fr = followup_frame(reg, phase1, plan)
    visited = set(phase1.loc[phase1["town"] == "甲镇", "village"])
    villages = sorted(v for v in reg.loc[reg["town"] == "甲镇", "village"].unique())
    left = [v for v in villages if v not in visited]
    sizes = reg[reg["registered"].fillna(False).astype(bool)].groupby("village").size()
    expected = dict(zip(left, inclusion_probabilities(sizes.reindex(left).to_numpy(), 2),
                        strict=True))
    reps = 300
    counts = dict.fromkeys(left, 0)
    stated: dict[str, float] = {}
    for s in range(reps):
        fd = draw_followup(reg, phase1, screened, rule, SPEC, plan, seed=s, frame=fr)
        got = fd.sample.drop_duplicates("village")
        assert not set(got["village"]) & visited  # never a village of phase 1
        for v, p in zip(got["village"], got["pi_village"], strict=True):
            counts[v] += 1
            stated[v] = p
    for v in left:
        pi = expected[v]
        if v in stated:
            assert stated[v] == pytest.approx(pi, abs=1e-9)  # the recorded π2|not-1
        se = np.sqrt(pi * (1 - pi) / reps)
        # 4 SE: a false alarm has probability about 6e-5 per village
        assert abs(counts[v] / reps - pi) <= 4 * se + 1e-12, (v, counts[v] / reps, pi)
    # combined probability π1 + (1 − π1) π2|not-1 as recorded
    fd = draw_followup(reg, phase1, screened, rule, SPEC, plan, seed=0, frame=fr)
    r = fd.sample.iloc[0]
    assert r["pi_village_combined"] == pytest.approx(
        r["pi_village_phase1"] + (1 - r["pi_village_phase1"]) * r["pi_village"])
    assert 0 < r["pi_village_phase1"] < 1
    assert r["pi"] == pytest.approx(r["pi_village"] * r["pi_household"])


def test_all_villages_left_and_census(district):
    reg, plan, phase1 = district
    rule = FollowupRule(indicators=("satisfaction_rate",), villages=50,
                        census_frames=("exited",), reserves=1)
    screened = pd.DataFrame({"town": ["甲镇", "乙镇"], "indicator": "satisfaction_rate",
                             "p1": [0.2, 0.1]})
    fd = draw_followup(reg, phase1, screened, rule, SPEC, plan, seed=1)
    a = fd.sample[fd.sample["town"] == "甲镇"]
    assert a["village"].nunique() == 8 - phase1.loc[phase1["town"] == "甲镇", "village"].nunique()
    assert np.allclose(a["pi_village"], 1.0)
    ex = a[(a["frame"] == "exited") & (a["role"] == "primary")]
    assert len(ex) == 3 * a["village"].nunique() and np.allclose(ex["pi_household"], 1.0)
    assert set(a["frame"]) == {"registered", "exited"}  # satisfaction's frames only
    # 乙镇 has 3 villages, phase 1 took 2: one left
    assert any("乙镇" in n for n in fd.notes) or fd.sample["town"].eq("乙镇").any()


def test_cap_skips_town(district):
    reg, plan, phase1 = district
    rule = FollowupRule(indicators=("satisfaction_rate",), villages=5, max_extra_households=3)
    screened = pd.DataFrame({"town": ["甲镇"], "indicator": "satisfaction_rate", "p1": [0.2]})
    fd = draw_followup(reg, phase1, screened, rule, SPEC, plan, seed=1)
    assert fd.sample.empty and "上限" in fd.notes[0]
    assert not fd.towns["followed_up"].any()


def test_stage2_tests_and_the_combined_decision():
    """Phase 2 on the bundled year: 大塘镇's 认可度 is in the region (p1 ≈ 0.0004 with α1 = 1e-4);
    its new villages' answers alone make p2, and the combination follows them."""
    import warnings

    from quchi_stats.assessment import estimate_indicators
    from quchi_stats.datasets import load_fieldwork, load_register
    from quchi_stats.followup import combine_followup, continuation, stage2_tests

    reg, (s1, r1) = load_register(2018), load_fieldwork(2018)
    rule = FollowupRule(indicators=("satisfaction_rate",), alpha_stop=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, _ = estimate_indicators(s1, r1, SPEC)
    screened = continuation(est, rule)
    assert screened["town"].tolist() == ["大塘镇"]
    fd = draw_followup(reg, s1, screened, rule, SPEC, DesignPlan(year=2018), seed=1)
    p = fd.primary
    decided = {}
    for answer in ("dissatisfied", "satisfied"):
        r2 = pd.DataFrame({"household_id": p["household_id"], "year": 2018,
                           "visit_status": "completed", "satisfaction": answer})
        t = stage2_tests(fd.sample, r2, SPEC, est, screened)
        assert t["town"].tolist() == ["大塘镇"] and t["households"].iloc[0] == len(p)
        out = combine_followup(est, t, rule, spec=SPEC).set_index(["indicator", "town"])
        row = out.loc[("satisfaction_rate", "大塘镇")]
        assert row["stage"] == "combined" and row["p2"] == t["p_value"].iloc[0]
        decided[answer] = (row["p2"], bool(row["flag"]))
    assert decided["dissatisfied"][0] < 1e-6 and decided["dissatisfied"][1]
    assert decided["satisfied"][0] > 0.9 and not decided["satisfied"][1]
    # pairs outside the rule keep their phase-1 p-value
    other = out.loc[("exit_accuracy", "大塘镇")]
    assert other["p_overall"] == other["p1"] and other["stage"] == "outside_rule"
