"""The in-memory national-scale register: its shape, and that the draw and estimation take it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quchi_stats.datasets.national import national_register, simulate_results
from quchi_stats.design import SurveyDesign
from quchi_stats.estimation import estimate_proportion
from quchi_stats.sampling import DesignPlan, assign_frames, draw_sample


def test_register_shape_and_reproducibility():
    reg = national_register(50_000, towns=40, villages_per_town=6, seed=2)
    assert len(reg) == 50_000
    assert reg["town"].nunique() == 40 and reg["village"].nunique() == 240
    assert reg["household_id"].is_unique
    share = reg["registered"].mean()
    assert 0.05 < share < 0.15  # Beta(2, 18) per village: 10 % on average
    frames = assign_frames(reg, 2018).value_counts(normalize=True)
    assert 0.02 < frames["exited"] < 0.05
    pd.testing.assert_frame_equal(reg, national_register(50_000, towns=40, villages_per_town=6,
                                                         seed=2))
    assert not reg.equals(national_register(50_000, towns=40, villages_per_town=6, seed=3))
    # every village has at least one household, even when asked for fewer households
    tiny = national_register(10, towns=4, villages_per_town=5)
    assert len(tiny) == 20 and tiny["village"].nunique() == 20


def test_draw_and_town_estimates_on_many_towns():
    reg = national_register(60_000, towns=300, villages_per_town=5, seed=1)
    res = draw_sample(reg, DesignPlan(year=2018, villages_total=600), seed=4)
    prim = res.primary
    assert prim["town"].nunique() == 300 and prim["village"].nunique() == 600
    results = simulate_results(res.sample, seed=5)
    assert len(results) == len(prim)
    frame = results["frame"].to_numpy()
    assert results["exit_correct"].notna().to_numpy().tolist() == (frame == "exited").tolist()
    assert results.loc[frame == "non_registered", "satisfied"].isna().all()
    sub = results[results["identified_correctly"].notna()]
    d = SurveyDesign(sub, strata="town", psu="village", weights="weight", lonely_psu="certainty")
    est = estimate_proportion(d, "identified_correctly", by="town", p0=0.98).to_frame()
    assert len(est) == sub["town"].nunique() > 290  # a few towns drew no 建档立卡户
    assert np.all((est["ci_lower"] <= est["estimate"]) & (est["estimate"] <= est["ci_upper"]))
    # the district rate is the weighted mean of the towns' (same design, one pass)
    whole = estimate_proportion(d, "identified_correctly").estimate
    w = sub.groupby("town", observed=True)["weight"].sum()
    np.testing.assert_allclose(whole, np.average(est.set_index("town")["estimate"],
                                                 weights=w.reindex(est["town"])), rtol=1e-12)
