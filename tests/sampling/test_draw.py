"""The two-stage draw: probabilities by simulation, HT weights, edge cases, reproducibility."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from quchi_stats.errors import DataError, ParameterError
from quchi_stats.sampling import DesignPlan, assign_frames, draw_sample
from tests.conftest import make_register

PLAN = {"villages_total": 6, "min_villages_per_town": 2,
        "households_per_village": {"registered": 4, "exited": 2, "non_registered": 3},
        "reserves": 2}


def test_frames_partition_the_register(small_register):
    frames = assign_frames(small_register, 2018)
    assert set(frames) == {"registered", "exited", "non_registered"}
    assert (frames == "exited").sum() == (small_register["exit_year"] == 2018).sum()
    assert (frames == "non_registered").sum() == (~small_register["registered"]).sum()


def test_exit_after_the_year_is_a_data_error(small_register):
    reg = small_register.copy()
    reg.loc[3, "exit_year"] = 2019
    with pytest.raises(DataError, match="第 5 行.*脱贫年度 2019 晚于考核年度 2018"):
        assign_frames(reg, 2018)


def test_columns_and_probabilities_are_consistent(small_register):
    res = draw_sample(small_register, DesignPlan(year=2018, **PLAN), seed=1)
    s = res.sample
    assert list(s.columns[:4]) == ["year", "town", "village", "household_id"]
    np.testing.assert_allclose(s["pi"], s["pi_village"] * s["pi_household"], rtol=1e-10)
    np.testing.assert_allclose(s["weight"], 1 / s["pi"], rtol=1e-10)
    prim = s[s["role"] == "primary"]
    assert prim["reserve_rank"].isna().all()
    res_rows = s[s["role"] == "reserve"]
    assert res_rows["reserve_rank"].notna().all()
    # households drawn per village-frame equal the recorded count
    counts = prim.groupby(["village", "frame"]).size()
    recorded = prim.groupby(["village", "frame"])["n_households_sampled_in_frame_of_village"].first()
    pd.testing.assert_series_equal(counts, recorded, check_names=False)
    # no household twice, reserves never overlap the primary sample
    assert s["household_id"].is_unique


def test_edge_cases_are_handled_and_explained(small_register):
    res = draw_sample(small_register, DesignPlan(year=2018, **PLAN), seed=3)
    notes = "\n".join(res.notes)
    # 丙镇 has a single village: taken, with a note about df = 0
    assert "丙镇只有 1 个行政村" in notes
    alloc = res.allocation.set_index("town")
    assert alloc.loc["丙镇", "n_villages_sampled_in_town"] == 1
    # 乙镇03村 has 1 exited household, fewer than the 2 asked
    prim = res.primary
    if "乙镇03村" in set(prim["village"]):
        assert "乙镇03村的“当年退出户”只有 1 户" in notes
    # 甲镇04村 has no exits at all: when drawn, an explained empty frame, no crash
    if "甲镇04村" in set(prim["village"]):
        assert "甲镇04村2018 年没有“当年退出户”" in notes
        assert not ((prim["village"] == "甲镇04村") & (prim["frame"] == "exited")).any()


def test_empty_frame_and_small_frames_over_seeds(small_register):
    seen_empty = seen_small = False
    for seed in range(40):
        res = draw_sample(small_register, DesignPlan(year=2018, **PLAN), seed=seed)
        notes = "\n".join(res.notes)
        seen_empty |= "甲镇04村2018 年没有“当年退出户”" in notes
        seen_small |= "乙镇03村的“当年退出户”只有 1 户" in notes
        assert res.primary.groupby(["village", "frame"]).size().max() <= 4
    assert seen_empty and seen_small


def test_certainty_priority_villages(small_register):
    plan = DesignPlan(year=2018, certainty_priority_villages=True, **PLAN)
    for seed in range(10):
        res = draw_sample(small_register, plan, seed=seed)
        pv = res.sample[res.sample["village"] == "乙镇02村"]
        assert len(pv) > 0
        assert (pv["pi_village"] == 1.0).all() and pv["certainty_village"].all()
    assert any("必选村" in n for n in res.notes)


def test_more_certainty_villages_than_allocated_are_all_taken():
    reg = make_register({"甲镇": [(5, 1, 5)] * 4, "乙镇": [(5, 1, 5)] * 3},
                        priority={"甲镇01村", "甲镇02村", "甲镇03村"})
    plan = DesignPlan(year=2018, villages_total=4, certainty_priority_villages=True,
                      households_per_village={"registered": 2, "exited": 1, "non_registered": 1})
    res = draw_sample(reg, plan, seed=5)
    alloc = res.allocation.set_index("town")
    assert alloc.loc["甲镇", "n_villages_sampled_in_town"] == 3
    assert any("多于分配的 2 个村" in n for n in res.notes)


def test_fraction_per_village(small_register):
    plan = DesignPlan(year=2018, villages_total=8, household_fraction={
        "registered": 0.5, "exited": 0.5, "non_registered": 0.1}, min_households_per_village=2)
    res = draw_sample(small_register, plan, seed=2)
    prim = res.primary
    g = prim.groupby(["village", "frame"]).agg(n=("household_id", "size"),
                                               N=("n_households_in_frame_of_village", "first"))
    expected = np.minimum(np.maximum(np.ceil(
        g.index.get_level_values("frame").map({"registered": 0.5, "exited": 0.5,
                                               "non_registered": 0.1}) * g["N"]), 2), g["N"])
    np.testing.assert_array_equal(g["n"].to_numpy(), expected.to_numpy())


def test_same_seed_same_sample_and_different_seed_differs(small_register):
    plan = DesignPlan(year=2018, **PLAN)
    a = draw_sample(small_register, plan, seed=11).sample
    shuffled = small_register.sample(frac=1, random_state=0)
    # the town order is part of the design (the spec's towns, else first appearance in the
    # register); given it, the draw is independent of the register's row order
    order = list(dict.fromkeys(small_register["town"]))
    assert list(dict.fromkeys(shuffled["town"])) != order
    b = draw_sample(shuffled, replace(plan, towns=tuple(order)), seed=11).sample
    pd.testing.assert_frame_equal(a, b)
    assert list(dict.fromkeys(a["town"])) == order
    c = draw_sample(small_register, plan, seed=12).sample
    assert not a["household_id"].equals(c["household_id"])


def test_plan_validation():
    with pytest.raises(ParameterError, match="'village_method' parameter of DesignPlan"):
        DesignPlan(year=2018, village_method="cluster")
    with pytest.raises(ParameterError, match="takes the frames"):
        DesignPlan(year=2018, households_per_village={"poor": 3})
    with pytest.raises(ParameterError, match="'reserves' parameter"):
        DesignPlan(year=2018, reserves=-1)


def test_too_few_villages_for_the_minimum(small_register):
    with pytest.raises(ParameterError, match="'villages_total' parameter of DesignPlan must be >= 5"):
        draw_sample(small_register, DesignPlan(year=2018, villages_total=4), seed=1)


@pytest.mark.parametrize("village_method", ["pps_systematic", "sampford"])
def test_two_stage_selection_frequencies_match_pi_and_ht_weights_are_unbiased(
        small_register, village_method):
    """Over seeded draws, each village's selection frequency agrees with pi_village, each
    household's frequency given its village with pi_household, and unconditionally with pi
    (|z| < 4 or 4.5 over ~8 villages / ~240 households); the HT weights of each frame add up to
    the frame's household count per town on average (within 4 SE)."""
    plan = DesignPlan(year=2018, village_method=village_method, **PLAN)
    reps = 500
    ids = small_register["household_id"].to_numpy()
    counts = pd.Series(0.0, index=ids)
    village_counts = pd.Series(0.0, index=small_register["village"].unique())
    cond = pd.Series(0.0, index=ids)  # draws in which the household's village was selected
    pi_seen: dict[str, float] = {}
    pi_v: dict[str, float] = {}
    pi_h: dict[str, float] = {}
    totals = []
    village_of = small_register.set_index("household_id")["village"]
    for seed in range(reps):
        prim = draw_sample(small_register, plan, seed=seed).primary
        counts[prim["household_id"].to_numpy()] += 1
        drawn_villages = prim["village"].unique()
        village_counts[drawn_villages] += 1
        cond[village_of.isin(drawn_villages).to_numpy()] += 1
        pi_seen.update(zip(prim["household_id"], prim["pi"], strict=True))
        pi_h.update(zip(prim["household_id"], prim["pi_household"], strict=True))
        pi_v.update(zip(prim["village"], prim["pi_village"], strict=True))
        totals.append(prim.groupby(["town", "frame"])["weight"].sum())

    def assert_calibrated(freq, p, n, bound):
        p, freq, n = np.asarray(p), np.asarray(freq), np.broadcast_to(n, np.shape(p))
        inner = (p > 0) & (p < 1)
        np.testing.assert_array_equal(freq[p == 1], 1.0)
        z = (freq[inner] - p[inner]) / np.sqrt(p[inner] * (1 - p[inner]) / n[inner])
        assert np.abs(z).max() < bound, f"max |z| = {np.abs(z).max():.2f}"

    pv = pd.Series(pi_v)
    assert_calibrated(village_counts[pv.index] / reps, pv, reps, 4.0)
    ph = pd.Series(pi_h)
    assert_calibrated(counts[ph.index] / cond[ph.index], ph, cond[ph.index].to_numpy(), 4.5)
    pi = pd.Series(pi_seen)
    assert set(pi.index) == set(ids)  # every household can be drawn, always with the same pi
    assert_calibrated(counts[pi.index] / reps, pi, reps, 4.5)

    frames = small_register.assign(frame=assign_frames(small_register, 2018))
    truth = frames.groupby(["town", "frame"]).size().astype(float)
    tot = pd.DataFrame(totals).fillna(0.0)
    mean = tot.mean()
    se = tot.std(ddof=1) / np.sqrt(reps)
    truth = truth.reindex(mean.index)
    exact = se < 1e-9  # towns whose frame is fully enumerated or self-weighting
    np.testing.assert_allclose(mean[exact], truth[exact])
    assert (np.abs(mean[~exact] - truth[~exact]) < 4 * se[~exact]).all()


def test_neyman_with_per_town_anticipated_rates():
    reg = make_register({"甲镇": [(5, 1, 5)] * 6, "乙镇": [(5, 1, 5)] * 6})
    plan = DesignPlan(year=2018, villages_total=8, village_allocation="neyman",
                      anticipated_p={"甲镇": 0.6, "乙镇": 0.97}, anticipated_deff={"甲镇": 2, "乙镇": 1})
    alloc = draw_sample(reg, plan, seed=1).allocation.set_index("town")
    # Neyman gives the more variable town more villages
    assert alloc.loc["甲镇", "n_villages_sampled_in_town"] > alloc.loc["乙镇", "n_villages_sampled_in_town"]
    bad = DesignPlan(year=2018, villages_total=8, village_allocation="neyman",
                     anticipated_p={"甲镇": 0.6})
    with pytest.raises(ParameterError, match="has no value for \\['乙镇'\\]"):
        draw_sample(reg, bad, seed=1)


def test_village_order_by_size_spreads_the_sample_over_sizes():
    """Sorted by size (largest first), systematic PPS of 2 villages takes one from the top
    (sizes 10, 9, 8 or 7) and one from the rest, so never two of the three largest; in name order
    that can happen."""
    sizes = [5, 1, 9, 3, 7, 10, 2, 8, 4, 6]
    reg = make_register({"甲镇": [(k, 1, 3) for k in sizes]})
    kwargs = {"year": 2018, "villages_total": 2,
              "households_per_village": {"registered": 1, "exited": 1, "non_registered": 1}}

    def drawn_sizes(order, seed):
        prim = draw_sample(reg, DesignPlan(village_order=order, **kwargs), seed=seed).primary
        reg_rows = prim[prim["frame"] == "registered"]
        return sorted(reg_rows.groupby("village")["n_households_in_frame_of_village"].first())

    both_large_by_name = 0
    for seed in range(60):
        by_size = drawn_sizes("size", seed)
        assert len(by_size) == 2 and not (by_size[0] >= 8), by_size
        both_large_by_name += drawn_sizes("name", seed)[0] >= 8
    assert both_large_by_name > 0


def test_to_frame_is_the_allocation_with_one_chinese_spelling(small_register):
    res = draw_sample(small_register, DesignPlan(year=2018, **PLAN), seed=1)
    t = res.to_frame()
    pd.testing.assert_frame_equal(t, res.allocation)
    t.loc[0, "town"] = "x"
    assert res.allocation.loc[0, "town"] != "x"  # a copy
    zh = res.to_frame(chinese=True)
    assert list(zh.columns[:3]) == ["乡镇", "行政村数", "抽中村数"]
    assert not hasattr(res, "allocation_zh")


def test_frame_names_are_the_schema_frames():
    from quchi_stats.io.schema import FRAMES
    from quchi_stats.sampling import FRAME_NAMES

    assert FRAME_NAMES == tuple(FRAMES)


def test_the_plans_town_order_is_checked_and_towns_it_leaves_out_come_after(small_register):
    for bad in (["甲镇", "甲镇"], "甲镇", ["甲镇", " "], [1]):
        with pytest.raises(ParameterError, match="'towns' parameter of DesignPlan"):
            DesignPlan(year=2018, towns=bad)
    plan = DesignPlan(year=2018, **PLAN, towns=["丙镇", "戊镇"])  # 戊镇 is not in the register
    assert plan.to_dict()["towns"] == ["丙镇", "戊镇"]
    assert "towns" not in DesignPlan(year=2018).to_dict()  # older manifests stay as they were
    res = draw_sample(small_register, plan, seed=3)
    assert list(dict.fromkeys(res.sample["town"])) == ["丙镇", "甲镇", "乙镇"]
    assert list(res.allocation["town"]) == ["丙镇", "甲镇", "乙镇"]
    assert any("甲镇、乙镇 不在考核参数的乡镇顺序" in n for n in res.notes)


def test_integral_floats_become_ints():
    """1.0 in a manifest's plan (JSON) is the integer 1: kept as an int, it slices and indexes
    (found by the manifest fuzz test)."""
    plan = DesignPlan(year=2018.0, villages_total=27.0, reserves=1.0, min_villages_per_town=2.0,
                      min_households_per_village=0.0)
    assert all(type(getattr(plan, k)) is int for k in
               ("year", "villages_total", "reserves", "min_villages_per_town", "min_households_per_village"))
    with pytest.raises(ParameterError, match="'reserves' parameter of DesignPlan must be an integer"):
        DesignPlan(year=2018, reserves=1.5)
