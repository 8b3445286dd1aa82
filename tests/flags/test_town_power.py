"""The report's power column for the beta-binomial test equals simulate_design's power (issue 11,
item 6), on a small district whose sample structure is the same in every replicate, so the two
simulations have one expectation: 4 towns × 4 villages × 10 registered households (sizes 1–7,
unequal, so the person-level effective counts are Kish's), 3 villages drawn per town and every
household of a drawn village visited. Seeded; tolerances from the binomial SE of both."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from quchi_stats.errors import ParameterError
from quchi_stats.flags.town_power import model_power, unit_weights
from quchi_stats.sampling import DesignPlan
from quchi_stats.simulate import simulate_design
from quchi_stats.spec import load_spec

SIZES = [1, 2, 2, 3, 3, 4, 4, 5, 6, 7]
TOWNS = ["甲镇", "乙镇", "丙镇", "丁镇"]


@pytest.fixture(scope="module")
def register():
    rows = []
    for t, town in enumerate(TOWNS):
        for v in range(4):
            for h, size in enumerate(SIZES):
                rows.append({"town": town, "village": f"{town}{v + 1}村",
                             "household_id": f"44{t}{v}{h:04d}", "household_size": size,
                             "registered": True, "exit_year": pd.NA,
                             "priority_village": False})
    return pd.DataFrame(rows)


PLAN = DesignPlan(year=2018, villages_total=12,
                  households_per_village={"registered": 10, "exited": 0, "non_registered": 0})


def _units(person: bool) -> pd.DataFrame:
    """The sample every replicate draws: 3 villages of 10 households per town."""
    rows = [{"town": town, "village": f"{town}{v}", "good": 1, "size": s}
            for town in TOWNS for v in range(3) for s in SIZES]
    return unit_weights(pd.DataFrame(rows), "good", size="size" if person else None)


@pytest.mark.parametrize(("name", "person", "shortfall"), [("satisfaction_rate", False, 0.2),
                                                            ("identification_accuracy", True, 0.1)])
def test_report_power_equals_the_simulated_power(register, name, person, shortfall):
    # one indicator's family of 4 towns on both sides (the shipped default family is the year's)
    spec = dataclasses.replace(load_spec(2018), multiplicity_family="indicator")
    ind = next(i for i in spec.indicators if i.name == name)
    reps = 300
    sim = simulate_design(register, PLAN, spec=spec, indicators=[name], shortfall=shortfall,
                          icc=0.05, reps=reps, seed=21).to_frame()
    assert (sim["villages"] == 3).all()
    p_sim = sim["power"].mean()  # the towns are alike: pool their 4 × 300 replicates
    se_sim = np.sqrt(p_sim * (1 - p_sim) / (4 * reps))
    pw = model_power(_units(person), rho=0.05, p0=ind.threshold, p1=ind.threshold - shortfall,
                     alpha_level=spec.alpha / 4, df=12 - 4, reps=4000, refit_reps=300, seed=5)
    p_model = pw["power"].mean()
    se_model = float(np.sqrt((pw["se"] ** 2).mean() / 4))
    # 3.5 combined SEs (about 4 points here): a miss by more is a real difference
    assert abs(p_sim - p_model) < 3.5 * np.hypot(se_sim, se_model), (p_sim, p_model)
    print(name, p_sim, p_model, pw["correction"].iloc[0])
    assert 0.1 < p_model < 0.95  # a cell where power is neither trivial nor certain


def test_held_rho_and_its_correction():
    """With ρ held the towns' tests are independent of each other; the correction is the mean
    paired difference, and ``refit_reps = reps`` gives the re-estimated test's own power."""
    u = _units(False)
    held = model_power(u, rho=0.0, p0=0.9, p1=0.8, alpha_level=0.0125, df=8, reps=400, seed=3)
    assert (held["correction"] == 0).all() and held["villages"].tolist() == [3] * 4
    both = model_power(u, rho=0.0, p0=0.9, p1=0.8, alpha_level=0.0125, df=8, reps=400,
                       refit_reps=400, seed=3)
    np.testing.assert_allclose(both["power"] - held["power"], both["correction"])
    assert both["se"].gt(held["se"]).all()
    with pytest.raises(ParameterError, match="'refit_reps' parameter"):
        model_power(u, rho=0.0, p0=0.9, p1=0.8, alpha_level=0.01, df=8, reps=10, refit_reps=11)
    with pytest.raises(ParameterError, match="'rho' parameter"):
        model_power(u, rho=1.0, p0=0.9, p1=0.8, alpha_level=0.01, df=8)


def test_model_power_re_estimates_rho_as_the_chosen_test_method(monkeypatch):
    import importlib

    tt = importlib.import_module("quchi_stats.flags.town_test")
    calls = []
    real = tt.anova_rho_batch

    def spy(*args):
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(tt, "anova_rho_batch", spy)
    u = pd.DataFrame({"town": np.repeat(["甲", "乙", "丙"], 30),
                      "village": [f"{t}{i // 10}" for t in "甲乙丙" for i in range(30)], "w": 1.0})
    kw = {"rho": 0.1, "p0": 0.9, "p1": 0.7, "alpha_level": 0.05, "df": 6, "reps": 200,
          "refit_reps": 50, "seed": 2}
    a = model_power(u, **kw)
    assert calls == []  # the default re-estimates ρ by the Cox–Reid fit
    b = model_power(u, **kw, method="beta-binomial-adjusted")
    assert sum(calls) == 50 * 3  # one district per town and re-estimated replicate
    # the same replicates with ρ held: only the re-estimated correction may differ
    np.testing.assert_allclose(a["power"] - a["correction"], b["power"] - b["correction"])
    with pytest.raises(ParameterError, match="'method' parameter of model_power"):
        model_power(u, **kw, method="design")
