"""The calibration simulator (issue 11): its two methods are the report's, its scores are right,
and the new test is calibrated in a few cells within Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.estimation import estimate_proportion
from quchi_stats.flags import village_counts
from quchi_stats.flags.town_test import town_test
from quchi_stats.simulate.calibration import (
    _draw,
    _new_method,
    _old_method,
    district_frame,
)


@pytest.mark.parametrize("unit", ["person", "household"])
def test_both_methods_are_those_of_the_report(unit):
    """Per replicate district: the new method equals village_counts + town_test, the old one
    estimate_proportion (strata towns, PSUs villages, weights 1/(π·m/N)) on the same households."""
    frame = district_frame("pps", towns=4, villages_in_town=8, seed=3)
    rng = np.random.default_rng(11)
    sim = _draw(frame, 0.9, 0.1, 3, 6, unit == "person", 3, rng)
    new = _new_method(sim, 0.9, 0.95, True)
    old = _old_method(sim, 0.9, 0.95, 1.0, True)
    R, T, V, m = sim["good"].shape
    for r in range(R):
        rows = []
        for t in range(T):
            for v in range(V):
                for i in range(m):
                    rows.append((f"t{t}", f"t{t}v{v}", sim["w"][r, t, v],
                                 sim["size"][r, t, v, i], float(sim["good"][r, t, v, i])))
        data = pd.DataFrame(rows, columns=["town", "village", "w", "persons", "good"])
        size = "persons" if unit == "person" else None
        res = town_test(village_counts(data, "good", weight="w", size=size), 0.9).to_frame()
        np.testing.assert_allclose(res["p_value"], new["p_value"][r], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res["ci_lower"], new["lower"][r], atol=1e-9)
        np.testing.assert_allclose(res["ci_upper"], new["upper"][r], atol=1e-9)
        design = SurveyDesign(data, strata="town", psu="village", weights="w")
        est = estimate_proportion(design, "good", by="town", denominator=size, method="jeffreys",
                                  level=0.95, p0=0.9, deff_floor=1.0).to_frame()
        np.testing.assert_allclose(est["estimate"], old["p_hat"][r], rtol=1e-12)
        np.testing.assert_allclose(est["p_value"], old["p_value"][r], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(est["ci_lower"], old["lower"][r], rtol=1e-9)
        np.testing.assert_allclose(est["ci_upper"], old["upper"][r], rtol=1e-9)
