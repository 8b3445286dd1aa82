"""From sample and field results to the respondents' design: nonresponse and substitution."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from quchi_stats.datasets import load_fieldwork
from quchi_stats.errors import DataError, ParameterError, QuchiStatsWarning
from quchi_stats.estimation import estimate_mean, estimate_proportion, fieldwork_design
from tests.estimation.conftest import REF, assert_r


@pytest.fixture(scope="module")
def fieldwork_2018():
    return load_fieldwork(2018)


def test_weights_equal_the_r_reference_file(fieldwork_2018):
    sample, results = fieldwork_2018
    d = fieldwork_design(sample, results, frames=["registered", "exited"])
    ref = pd.read_csv(REF / "fieldwork_2018.csv", dtype={"household_id": str})
    mine = d.data.set_index("household_id").loc[ref["household_id"]]
    np.testing.assert_allclose(mine["weight_adj"].to_numpy(), ref["weight_adj"].to_numpy())
    assert len(d.data) == len(ref)


@pytest.mark.parametrize(("frame", "column"), [("registered", "identified_correctly"),
                                               ("exited", "exit_correct")])
@pytest.mark.parametrize(("method", "r_method"), [("korn-graubard", "beta"), ("logit", "xlogit"),
                                                  ("wald", "mean")])
def test_town_rates_equal_r(fieldwork_2018, r_values, frame, column, method, r_method):
    sample, results = fieldwork_2018
    d = fieldwork_design(sample, results, frames=frame)
    table = estimate_proportion(d, column, by="town", method=method).to_frame()
    assert len(table) == 9
    for _, row in table.iterrows():
        case = f"fieldwork {frame} {r_method} {row['town']}"
        assert_r(row["estimate"], r_values[(case, "estimate")], case)
        assert row["se"] == pytest.approx(r_values[(case, "se")], rel=1e-6, abs=1e-12)
        for stat in ("ci_lower", "ci_upper"):
            expected = r_values[(case, stat)]
            if row["estimate"] == 1.0 and method == "korn-graubard":
                # R: NaN (or [1, 1] when rounding leaves se = 4e-18) at p_hat = 1; ours follows
                # NCHS (n_eff = n) and stays defined
                assert np.isnan(expected) or expected == 1.0
                assert row["ci_lower"] < 0.99 and row["ci_upper"] == 1.0
            elif row["estimate"] == 1.0:
                # logit and Wald collapse to [1, 1]; R gives the same or NaN
                assert row[stat] == 1.0 and (np.isnan(expected) or expected == 1.0)
            elif expected > 1 or expected < 0:
                assert row[stat] == min(max(expected, 0.0), 1.0)
            else:
                assert_r(row[stat], expected, f"{case} {stat}")


def test_two_stage_and_person_level_equal_r(fieldwork_2018, r_values):
    sample, results = fieldwork_2018
    for frame, column in (("registered", "identified_correctly"), ("exited", "exit_correct")):
        d = fieldwork_design(sample, results, frames=frame, stages="two-stage")
        for _, row in estimate_mean(d, column, by="town").to_frame().iterrows():
            case = f"fieldwork two-stage {frame} {row['town']}"
            assert_r(row["estimate"], r_values[(case, "estimate")], case)
            assert row["se"] == pytest.approx(r_values[(case, "se")], rel=1e-6, abs=1e-12)
    d = fieldwork_design(sample, results, frames="exited")
    table = estimate_proportion(d, "exit_correct", by="town", denominator="household_size")
    for _, row in table.to_frame().iterrows():
        case = f"fieldwork persons exited {row['town']}"
        assert_r(row["estimate"], r_values[(case, "estimate")], case)
        assert row["se"] == pytest.approx(r_values[(case, "se")], rel=1e-6, abs=1e-12)


def _tiny():
    sample = pd.DataFrame({
        "year": 2018, "town": "甲镇", "village": ["A"] * 6 + ["B"] * 4,
        "household_id": [f"h{i}" for i in range(10)], "household_size": 2,
        "frame": "registered",
        "role": ["primary"] * 4 + ["reserve"] * 2 + ["primary"] * 3 + ["reserve"],
        "reserve_rank": [None] * 4 + [1, 2] + [None] * 3 + [1],
        "pi_village": 0.5, "pi_household": [0.4] * 6 + [0.3] * 4,
        "n_villages_in_town": 4, "n_villages_sampled_in_town": 2,
        "n_households_in_frame_of_village": [10] * 6 + [10] * 4,
        "n_households_sampled_in_frame_of_village": [4] * 6 + [3] * 4,
        "certainty_village": False,
    })
    sample["pi"] = sample["pi_village"] * sample["pi_household"]
    sample["weight"] = 1 / sample["pi"]
    results = pd.DataFrame({
        "household_id": ["h0", "h1", "h2", "h3", "h4", "h6", "h7", "h8", "h9"],
        "visit_status": ["completed", "completed", "unreachable", "unreachable", "substitute",
                         "completed", "unreachable", "unreachable", "unreachable"],
        "identified_correctly": [True, True, None, None, False, True, None, None, None],
        "satisfaction": ["satisfied", "dissatisfied", None, None, "basically_satisfied",
                         "satisfied", None, None, None],
    })
    results["identified_correctly"] = results["identified_correctly"].astype("boolean")
    return sample, results


def test_substitutes_and_weighting_classes():
    sample, results = _tiny()
    # village A: 4 primaries, 2 completed + 1 substitute -> factor 4/3;
    # village B: 3 primaries, 1 completed, its reserve unreachable -> factor 3/1
    d = fieldwork_design(sample, results)
    data = d.data.set_index("household_id")
    assert sorted(data.index) == ["h0", "h1", "h4", "h6"]
    assert data.loc["h0", "nr_factor"] == pytest.approx(4 / 3)
    assert data.loc["h4", "nr_factor"] == pytest.approx(4 / 3)
    assert data.loc["h6", "nr_factor"] == pytest.approx(3.0)
    # adjusted weights add up to the primaries' base weights (the frame's estimated size)
    assert data["weight_adj"].sum() == pytest.approx(sample.loc[sample["role"] == "primary",
                                                                "weight"].sum())
    assert data["satisfied"].tolist() == [1.0, 0.0, 1.0, 1.0]
    summary = d.info["response"].iloc[0]
    assert (summary["primary"], summary["completed"], summary["unreachable"],
            summary["substitute"], summary["respondents"]) == (7, 3, 4, 1, 4)
    # one class for the town: base weights drawn 4*5 + 3*(20/3) = 40, respondents 3*5 + 20/3
    town = fieldwork_design(sample, results, nonresponse="town").data
    assert np.allclose(town["nr_factor"], 40 / (15 + 20 / 3))
    none = fieldwork_design(sample, results, nonresponse="none").data
    assert (none["nr_factor"] == 1).all()


def test_village_without_respondents_falls_back_to_town():
    sample, results = _tiny()
    results = results[~results["household_id"].isin(["h6"])]
    results = pd.concat([results, pd.DataFrame({"household_id": ["h6"],
                                                "visit_status": ["unreachable"]})])
    with pytest.warns(QuchiStatsWarning) as record:
        d = fieldwork_design(sample, results, lonely_psu="certainty")
    messages = " ".join(str(w.message) for w in record)
    assert "改按镇×抽样框调整权数" in messages
    assert "只有 1 个村有有效样本，按 lonely_psu='certainty'" in messages
    data = d.data
    assert set(data["village"]) == {"A"}
    w_primary = sample.loc[sample["role"] == "primary", "weight"].sum()
    assert data["weight_adj"].sum() == pytest.approx(w_primary)


def test_missing_primary_record_warns_and_bad_records_fail():
    sample, results = _tiny()
    with pytest.warns(QuchiStatsWarning, match="1 个正选户没有入户记录"):
        fieldwork_design(sample, results[results["household_id"] != "h3"])
    extra = pd.concat([results, pd.DataFrame({"household_id": ["zz"], "visit_status": ["completed"]})])
    with pytest.raises(DataError, match="户编号“zz”不在抽查样本中"):
        fieldwork_design(sample, extra)
    dup = pd.concat([results, results.iloc[[0]]])
    with pytest.raises(DataError, match="户编号“h0”在核查结果中重复"):
        fieldwork_design(sample, dup)
    wrong = results.copy()
    wrong.loc[0, "visit_status"] = "substitute"
    with pytest.raises(DataError, match="是正选户，入户状态却是“替补”"):
        fieldwork_design(sample, wrong)
    with pytest.raises(ParameterError, match="takes one frame"):
        fieldwork_design(sample, results, stages="two-stage")


def test_fieldwork_design_of_one_frame_and_lonely_town(fieldwork_2018):
    sample, results = fieldwork_2018
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = fieldwork_design(sample, results, frames="non_registered")
    assert d.n_strata == 9 and d.n_psu == 45
    r = estimate_proportion(d, "missed", by="town").to_frame()
    assert r["ci_lower"].notna().all() and (r["ci_upper"] > r["ci_lower"]).all()


def test_more_substitutes_than_missing_primaries_is_an_error():
    sample, results = _tiny()
    extra = results.copy()
    extra.loc[extra["household_id"] == "h2", "visit_status"] = "completed"
    extra.loc[extra["household_id"] == "h3", "visit_status"] = "completed"
    with pytest.raises(DataError, match="甲镇A（建档立卡户）用了 1 户备选户，但只有 0 户正选户无法入户"):
        fieldwork_design(sample, extra)


def test_visited_households_without_their_answer_are_listed():
    sample, results = _tiny()
    r = results.copy()
    r["identified_correctly"] = r["identified_correctly"].astype(object)
    r.loc[r["household_id"] == "h1", "identified_correctly"] = None
    r["identified_correctly"] = r["identified_correctly"].astype("boolean")
    d = fieldwork_design(sample, r)
    rej = d.info["rejects"]
    assert rej["household_id"].tolist() == ["h1"]
    assert "缺少“识别准确”结果" in rej["reason"].iloc[0]


def test_a_missing_column_is_named_and_a_key_error_inside_is_not_one(monkeypatch, fieldwork_2018):
    sample, results = _tiny()
    with pytest.raises(DataError, match="缺少必需的列：入户状态/visit_status（入户核查结果）"):
        fieldwork_design(sample, results.drop(columns="visit_status"))
    with pytest.raises(DataError, match="缺少必需的列：角色/role、设计权数/weight（抽查样本）"):
        fieldwork_design(sample.drop(columns=["weight", "role"]), results)
    with pytest.raises(DataError, match="村框内户数/n_households_in_frame_of_village"):
        fieldwork_design(sample.drop(columns="n_households_in_frame_of_village"), results,
                         frames="registered", stages="two-stage")

    # the assessment skips an indicator whose results column is absent, by an explicit check: a
    # KeyError raised inside (a bug) propagates instead of being reported as a missing column
    from quchi_stats import assessment
    from quchi_stats.spec import load_spec

    spec = load_spec(2018)
    sample, results = fieldwork_2018
    results = results.drop(columns="exit_correct")
    with pytest.warns(QuchiStatsWarning, match="所需的列 exit_correct，该指标跳过"):
        est, _ = assessment.estimate_indicators(sample, results, spec)
    assert "exit_accuracy" not in set(est["indicator"])
    assert "identification_accuracy" in set(est["indicator"])

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    from quchi_stats.estimation import fieldwork

    monkeypatch.setattr(fieldwork, "_merge", broken)  # inside the year's one Fieldwork
    with pytest.raises(KeyError, match="a bug"):
        assessment.estimate_indicators(sample, results, spec)


def test_risk_households_are_their_own_nonresponse_class():
    """A risk-oversampled draw (sample.csv with ``risk``): within a village, risk and other
    non-registered households are separate weighting classes, so the unreachable risk households
    are made up by the risk respondents only."""
    from quchi_stats.sampling import DesignPlan, draw_sample
    from tests.conftest import make_register

    reg = make_register({"甲镇": [(4, 1, 30), (3, 1, 25)], "乙镇": [(5, 1, 20), (2, 1, 28)]})
    reg["dibao"] = pd.array([i % 5 == 0 for i in range(len(reg))], dtype="boolean")
    plan = DesignPlan(year=2018, villages_total=4, risk_factor=3,
                      households_per_village={"registered": 1, "exited": 1, "non_registered": 6})
    sample = draw_sample(reg, plan, seed=4).sample
    prim = sample[sample["role"] == "primary"]
    lost = prim.index[(prim["frame"] == "non_registered") & prim["risk"].fillna(False)][0]
    status = pd.Series("completed", index=prim.index)
    status[lost] = "unreachable"
    results = pd.DataFrame({"household_id": prim["household_id"], "year": 2018,
                            "visit_status": status, "missed": False})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuchiStatsWarning)
        d = fieldwork_design(sample, results, frames="non_registered")
    data = d.data
    village = sample.loc[lost, "village"]
    cell = data[data["village"] == village]
    risk = cell["risk"].astype(bool)
    n_risk = int(((prim["village"] == village) & prim["risk"].fillna(False)).sum())
    assert cell.loc[risk, "nr_factor"].to_numpy() == pytest.approx(n_risk / (n_risk - 1))
    assert (cell.loc[~risk, "nr_factor"] == 1).all()
    assert data.loc[data["village"] != village, "nr_factor"].eq(1).all()


def test_fieldwork_merges_once_and_keeps_each_design(monkeypatch, fieldwork_2018):
    """One Fieldwork merges and reweights once; each frame's and indicator's design is built once
    and equals what fieldwork_design builds for those frames alone."""
    from quchi_stats.estimation import Fieldwork, fieldwork
    from quchi_stats.spec import load_spec

    spec = load_spec(2018)
    sample, results = fieldwork_2018
    calls = []
    merge = fieldwork._merge
    monkeypatch.setattr(fieldwork, "_merge", lambda *a: calls.append(1) or merge(*a))
    fw = Fieldwork(sample, results, lonely_psu="certainty", satisfied_levels=spec.satisfied_levels)
    assert calls == []  # nothing is computed before it is used
    for ind in spec.indicators:
        d = fw.indicator_design(ind)
        assert d is fw.indicator_design(ind)
        assert set(d.data["frame"]) <= set(ind.frames) and "_good" in d.data
    assert fw.design(["exited", "registered"]) is fw.design(("registered", "exited"))
    assert len(fw.response) and fw.rejects.empty and fw.has_respondents("exited")
    assert calls == [1]
    alone = fieldwork_design(sample, results, frames="exited", lonely_psu="certainty",
                             satisfied_levels=spec.satisfied_levels)
    pd.testing.assert_frame_equal(fw.design("exited").data, alone.data)
    np.testing.assert_array_equal(fw.design("exited").w, alone.w)
    assert len(calls) == 2  # fieldwork_design is a Fieldwork of its own


def test_fieldwork_skips_an_indicator_without_its_column(fieldwork_2018):
    from quchi_stats.estimation import Fieldwork
    from quchi_stats.spec import load_spec

    spec = load_spec(2018)
    sample, results = fieldwork_2018
    fw = Fieldwork(sample, results.drop(columns="exit_correct"))
    assert fw.indicator_design(spec.indicator("exit_accuracy")) is None
    assert fw.indicator_design(spec.indicator("identification_accuracy")) is not None
    only = Fieldwork(sample, results, frames="registered")
    assert set(only.respondents["frame"]) == {"registered"}
    assert not only.has_respondents("exited")
    with pytest.raises(DataError, match="没有任何有效入户记录"):
        only.design("exited")


def _risk_draw(households: int, seed: int):
    import dataclasses

    from quchi_stats.sampling import draw_sample
    from tests.sampling.test_risk import PLAN, risk_register

    plan = dataclasses.replace(PLAN, households_per_village={"registered": 2, "exited": 1,
                                                              "non_registered": households})
    return draw_sample(risk_register().drop(columns=["_missed"]), plan, seed=seed).sample


def _swap(sample, primary, reserve):
    """Results: every primary completed, except ``primary`` (unreachable) replaced by ``reserve``."""
    prim = sample.loc[sample["role"] == "primary", "household_id"]
    res = pd.DataFrame({"household_id": prim, "visit_status": "completed",
                        "missed": pd.array([False] * len(prim), dtype="boolean")})
    res.loc[res["household_id"] == primary, ["visit_status", "missed"]] = ["unreachable", pd.NA]
    extra = pd.DataFrame({"household_id": [reserve], "visit_status": ["substitute"],
                          "missed": pd.array([True], dtype="boolean")})
    return pd.concat([res, extra], ignore_index=True)


def test_a_village_drawn_as_one_frame_is_one_class_whatever_the_risk():
    """One non-registered household per village: the draw does not split the frame (one set of
    reserves for both groups), so a reserve of the other group is a proper substitute and keeps
    its weight (it was once given weight 0 by a class of its own group)."""
    from quchi_stats.estimation import Fieldwork

    for seed in range(50):
        s = _risk_draw(1, seed)
        nr = s[s["frame"] == "non_registered"]
        for _, c in nr.groupby("village"):
            p = c[c["role"] == "primary"]
            other = c[(c["role"] == "reserve") & (c["risk"] != p["risk"].iloc[0])]
            if len(other):
                break
        else:
            continue
        break
    results = _swap(s, p["household_id"].iloc[0], other["household_id"].iloc[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuchiStatsWarning)  # no class left without respondents
        data = Fieldwork(s, results, frames="non_registered").design().data
    row = data[data["household_id"] == other["household_id"].iloc[0]]
    assert row["nr_factor"].iloc[0] == 1 and row["weight_adj"].iloc[0] == row["base_weight"].iloc[0]


def test_a_reserve_of_the_other_risk_group_cannot_replace_a_primary():
    """In a village split by risk, each group replaces its own primaries only (as check says)."""
    from quchi_stats.estimation import Fieldwork

    s = _risk_draw(8, 1)
    c = s[(s["frame"] == "non_registered")
          & (s["village"] == s.loc[s["frame"] == "non_registered", "village"].iloc[0])]
    risk = c["risk"].astype(bool)
    results = _swap(s, c.loc[(c["role"] == "primary") & risk, "household_id"].iloc[0],
                    c.loc[(c["role"] == "reserve") & ~risk, "household_id"].iloc[0])
    with pytest.raises(DataError, match="（非建档立卡户·其他户）用了 1 户备选户，但只有 0 户"):
        Fieldwork(s, results, frames="non_registered").design()


def test_two_stage_variance_is_refused_for_risk_sub_frames():
    from quchi_stats.errors import ParameterError
    from quchi_stats.estimation import Fieldwork

    s = _risk_draw(8, 1)
    prim = s.loc[s["role"] == "primary", "household_id"]
    results = pd.DataFrame({"household_id": prim, "visit_status": "completed",
                            "missed": pd.array([False] * len(prim), dtype="boolean")})
    with pytest.raises(ParameterError, match="'stages' parameter of Fieldwork must be 'ultimate'"):
        Fieldwork(s, results, frames="non_registered", stages="two-stage").design()
    assert Fieldwork(s, results, frames="registered", stages="two-stage").design() is not None
