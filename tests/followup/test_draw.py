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


def _datang_followup(spec):
    """The bundled 2018 year's phase-1 estimates under ``spec``, the pair a satisfaction rule with
    α1 = 1e-4 screens (大塘镇), the rule and the phase-2 draw of seed 1."""
    import warnings

    from quchi_stats.assessment import estimate_indicators
    from quchi_stats.datasets import load_fieldwork, load_register
    from quchi_stats.followup import continuation

    reg, (s1, r1) = load_register(2018), load_fieldwork(2018)
    rule = FollowupRule(indicators=("satisfaction_rate",), alpha_stop=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, _ = estimate_indicators(s1, r1, spec)
    screened = continuation(est, rule)
    assert screened["town"].tolist() == ["大塘镇"]
    return est, screened, rule, draw_followup(reg, s1, screened, rule, spec, DesignPlan(year=2018),
                                              seed=1)


def test_stage2_tests_and_the_combined_decision():
    """Phase 2 on the bundled year: 大塘镇's 认可度 is in the region (p1 ≈ 0.0004 with α1 = 1e-4);
    its new villages' answers alone make p2, and the combination follows them."""
    from quchi_stats.followup import combine_followup, stage2_tests

    est, screened, rule, fd = _datang_followup(SPEC)
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


def test_stage2_tests_use_the_specs_test_method():
    """Under ``test_method = "beta-binomial-adjusted"`` a screened town whose new villages are all
    empty gets the adjusted test's mid-p, ½·exp(−z²/2) (z from the default t reference with the
    same ρ and df), and a town with good answers the t reference, as the phase-1 test does."""
    import dataclasses

    from scipy import stats

    from quchi_stats.followup import stage2_tests

    adjusted = dataclasses.replace(SPEC, test_method="beta-binomial-adjusted")
    plain_spec = dataclasses.replace(SPEC, test_method="beta-binomial")
    est, screened, _, fd = _datang_followup(adjusted)
    df = int(est.loc[est["indicator"] == "satisfaction_rate", "test_df"].iloc[0])
    p, fd_sample = fd.primary, fd.sample
    for answer in ("dissatisfied", "satisfied"):
        r2 = pd.DataFrame({"household_id": p["household_id"], "year": 2018,
                           "visit_status": "completed", "satisfaction": answer})
        plain = stage2_tests(fd_sample, r2, plain_spec, est, screened)["p_value"].iloc[0]
        mid = stage2_tests(fd_sample, r2, adjusted, est, screened)["p_value"].iloc[0]
        if answer == "dissatisfied":  # every new household dissatisfied: p̂ = 0
            z = stats.t.ppf(plain, df)
            assert mid == pytest.approx(0.5 * np.exp(-z * z / 2), rel=1e-6) and mid != plain
        else:
            assert mid == plain


# --- the conditional method -------------------------------------------------------------------

#: The conditional rule of these tests (the bundled spec_2018.toml's [followup] with
#: method = "conditional", α0 = 0.2, 4 households per village and frame, exits censused).
COND_RULE = FollowupRule(
    indicators=("identification_accuracy", "exit_accuracy", "missed_rate", "satisfaction_rate"),
    alpha_stop=0.0000625, alpha_futility=0.2, villages=5, reserves=3, method="conditional",
    households={"registered": 4, "exited": 4, "non_registered": 4}, census_frames=("exited",))


@pytest.fixture(scope="module")
def bundled_phase1():
    """The bundled 2018 register, phase-1 sample, its plan and the households phase 1 observed
    (results rows completed or substitute)."""
    from quchi_stats.datasets import data_path, load_fieldwork, load_register
    from quchi_stats.followup.draw import observed_households
    from quchi_stats.sampling.manifest import read_manifest

    reg = load_register(2018)
    s1, r1 = load_fieldwork(2018)
    plan = DesignPlan.from_dict(read_manifest(data_path() / "sample_2018")["plan"])
    return reg, s1, r1, plan, observed_households(s1, r1)


def test_observed_households_are_completed_or_substitute(bundled_phase1):
    _, s1, r1, _, observed = bundled_phase1
    status = r1.set_index("household_id")["visit_status"]
    assert observed == sorted(observed) and len(observed) == len(set(observed))
    assert set(status.loc[observed]) == {"completed", "substitute"}
    left = set(s1["household_id"]) - set(observed)
    # unreachable primaries, unused reserves: phase 1 did not observe them
    assert not status.reindex(sorted(left)).isin(["completed", "substitute"]).any()
    assert (status == "unreachable").sum() > 0 and len(left) > (status == "unreachable").sum()


def test_conditional_draw_needs_the_observed_households(bundled_phase1):
    from quchi_stats.errors import ParameterError

    reg, s1, _, plan, _ = bundled_phase1
    screened = pd.DataFrame({"town": ["大塘镇"], "indicator": ["satisfaction_rate"], "p1": [0.1]})
    with pytest.raises(ParameterError, match="'observed' parameter of draw_followup"):
        draw_followup(reg, s1, screened, COND_RULE, SPEC, plan, seed=1)


def test_conditional_method_inclusion_probabilities(bundled_phase1):
    """Given phase 1 (its sample and results fixed), every household of a screened town's cells
    that phase 1 did not observe is drawn with the recorded probability want/R: over 400
    re-draws, each one's empirical frequency is within 4 SE of it (about 130 households with
    0 < π < 1: the chance that any strays beyond 4 SE by Monte Carlo error alone is below 1 %,
    and the seeds are fixed; the others have π = 1 and must be drawn every time); phase-1
    observed households are never drawn; a town whose villages were all visited in phase 1
    (小坑镇) is followed up."""
    reg, s1, _, plan, observed = bundled_phase1
    screened = pd.DataFrame({"town": ["小坑镇", "大塘镇", "马坝镇"],
                             "indicator": ["satisfaction_rate", "satisfaction_rate",
                                           "identification_accuracy"],
                             "p1": [0.03, 0.0004, 0.15]})
    fr = followup_frame(reg, s1, plan, observed)
    obs = set(observed)
    # the phase-2 population, computed here from the register: per (village, frame) cell of the
    # frames each town's screened indicators use, the households of no phase-1 row
    frames = {"小坑镇": ("registered", "exited"), "大塘镇": ("registered", "exited"),
              "马坝镇": ("registered",)}
    r = fr.reg[fr.reg["town"].map(frames).notna()]
    r = r[[f in frames[t] for t, f in zip(r["town"], r["frame"], strict=True)]]
    # the phase-2 frame: the households of no phase-1 row (observed or not)
    r = r[~r["household_id"].isin(obs) & ~r["household_id"].isin(s1["household_id"])]
    R = r.groupby(["village", "frame"])["household_id"].transform("size").to_numpy()
    census = (r["frame"] == "exited").to_numpy()
    expected = pd.Series(np.where(census, 1.0, np.minimum(4, R) / R),
                         index=r["household_id"].to_numpy())
    assert set(r["town"]) == set(frames)  # 小坑镇 has unobserved households left
    visited = s1.groupby("town")["village"].nunique()
    assert visited["小坑镇"] == reg.loc[reg["town"] == "小坑镇", "village"].nunique()
    reps = 400
    counts = pd.Series(0, index=expected.index)
    for seed in range(reps):
        fd = draw_followup(reg, s1, screened, COND_RULE, SPEC, plan, seed=seed, frame=fr)
        s = fd.sample
        assert not s["household_id"].isin(s1["household_id"]).any()  # never a phase-1 one
        assert not s["household_id"].duplicated().any()
        p = s[s["role"] == "primary"]
        if seed < 3:  # the recorded probabilities: exact, given phase 1
            assert set(s["town"]) == set(frames) and fd.towns["followed_up"].all()
            assert np.allclose(p["pi_household"], expected.loc[p["household_id"]].to_numpy(),
                               rtol=0, atol=1e-12)
            assert (s["pi_village"] == 1).all() and (s["pi_village_combined"] == 1).all()
            assert np.allclose(s["pi"], s["pi_household"]) and np.allclose(
                s["weight"], 1 / s["pi"])
            assert (s["n_households_sampled_in_frame_of_village"]
                    == np.minimum(s["n_households_in_frame_of_village"],
                                  np.where(s["frame"] == "exited", 10 ** 9, 4))).all()
            assert np.allclose(s["pi_household"], s["n_households_sampled_in_frame_of_village"]
                               / s["n_households_in_frame_of_village"])
            n_vill = reg.groupby("town")["village"].nunique()
            assert (s["n_villages_sampled_in_town"] == s["town"].map(n_vill)).all()
            got = s.groupby("town")["village"].nunique()
            assert (got <= n_vill.reindex(got.index)).all()
            # 小坑镇: all visited in phase 1; every village with households left is drawn
            left = r.loc[r["town"] == "小坑镇", "village"].nunique()
            assert s.loc[s["town"] == "小坑镇", "village"].nunique() == left >= 4
        counts.loc[p["household_id"]] += 1
    freq = counts / reps
    se = np.sqrt(expected * (1 - expected) / reps)
    bad = (freq - expected).abs() > 4 * se + 1e-12
    assert not bad.any(), pd.DataFrame({"freq": freq, "pi": expected})[bad]
    assert ((expected > 0) & (expected < 1)).sum() > 100  # the check is not vacuous


def test_conditional_cap_and_order(bundled_phase1):
    """Towns are taken most suspect first within max_extra_households; a town past the cap is
    not followed up and a note says so."""
    reg, s1, _, plan, observed = bundled_phase1
    screened = pd.DataFrame({"town": ["马坝镇", "大塘镇"],
                             "indicator": ["exit_accuracy", "satisfaction_rate"],
                             "p1": [0.15, 0.0004]})
    full = draw_followup(reg, s1, screened, COND_RULE, SPEC, plan, seed=2, observed=observed)
    t = full.towns.set_index("town")
    assert full.towns["town"].tolist() == ["大塘镇", "马坝镇"]  # smallest p1 first
    cap = int(t.loc["大塘镇", "households"])
    rule = FollowupRule(**{**COND_RULE.to_dict(), "indicators": COND_RULE.indicators,
                           "census_frames": COND_RULE.census_frames,
                           "max_extra_households": cap})
    fd = draw_followup(reg, s1, screened, rule, SPEC, plan, seed=2, observed=observed)
    assert fd.towns["followed_up"].tolist() == [True, False]
    assert set(fd.sample["town"]) == {"大塘镇"} and any("上限" in n for n in fd.notes)
    assert len(fd.primary) == cap
