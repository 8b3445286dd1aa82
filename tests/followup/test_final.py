"""The two-phase 复核 in the report: decisions on the bundled 2018 follow-up, its verification,
a year without a qualifying town and the two-phase weights (the bias: test_bias.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from quchi_stats.assessment import run_assessment
from quchi_stats.cli import main
from quchi_stats.datasets import data_path, load_fieldwork, load_followup, load_register
from quchi_stats.flags.thresholds import CLASS_SIGNIFICANT, adjust_family
from quchi_stats.followup import draw_followup
from quchi_stats.followup.draw import followup_frame
from quchi_stats.followup.final import two_phase_weights
from quchi_stats.report.build import report_tables, zh_tables
from quchi_stats.sampling.draw import DesignPlan
from quchi_stats.sampling.manifest import manifest_rule, read_manifest
from quchi_stats.spec import load_spec

ORIGINAL_FLAG_COLUMNS = ["town", "article", "item", "evidence", "consequence"]


@pytest.fixture(scope="module")
def assessment():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_assessment(2018, history=False)


def test_bundled_2018_is_decided_on_both_phases(assessment):
    a = assessment
    fu = a.followup
    assert fu is not None
    m = read_manifest(data_path() / "followup_2018")
    f = fu.findings
    # every recorded pair, in the recorded order, with both phases
    assert list(zip(f["town"], f["indicator"], strict=True)) == [
        (s["town"], s["indicator"]) for s in m["screened"]]
    assert np.allclose(f["p1"], [s["p1"] for s in m["screened"]], rtol=1e-9)
    assert (f["stage"] == "conditional").all() and f["p2"].between(0, 1).all()
    assert (f["p1"] <= fu.rule.alpha_futility).all()
    # the conditional method: Holm within the followed-up pairs at α × share, the pairs outside
    # the rule on phase 1 at α × (1 − share); share = the rule's pairs over the family's
    d = fu.decisions
    assert len(d) == (a.estimates["town"] != "全区").sum()
    in_rule = d["indicator"].isin(fu.rule.indicators)
    assert fu.share == pytest.approx(in_rule.sum() / len(d))
    followed = (d["stage"] == "conditional").to_numpy()
    assert np.allclose(d.loc[followed, "p_adjusted"], np.minimum(
        adjust_family(d.loc[followed, "p2"].to_numpy(), None, "holm") / fu.share, 1))
    outside = (~in_rule).to_numpy()
    assert np.allclose(d.loc[outside, "p_adjusted"], np.minimum(
        adjust_family(d.loc[outside, "p1"].to_numpy(), None, "holm") / (1 - fu.share), 1))
    assert (d.loc[in_rule.to_numpy() & ~followed, "p_adjusted"] == 1).all()
    # each interval holds its two-phase estimate, and the test agrees with the interval
    assert ((f["ci_lower"] <= f["estimate_two_phase"] + 1e-12)
            & (f["estimate_two_phase"] <= f["ci_upper"] + 1e-12)).all()
    towns = a.estimates[a.estimates["town"] != "全区"].merge(d, on=["indicator", "town"],
                                                           suffixes=("", "_d"))
    assert np.allclose(towns["p_adjusted"], towns["p_adjusted_d"])
    # the 第七条（四） flags are exactly the decisions' flags
    flagged = {(r.town, a.spec.indicator(r.indicator).label)
               for r in d[d["class"] == CLASS_SIGNIFICANT].itertuples()}
    f4 = a.flags[a.flags["article"] == "第七条（四）"]
    assert set(zip(f4["town"], f4["item"], strict=True)) == flagged
    # the cost: households of no phase-1 row, in the screened towns
    s1, _ = load_fieldwork(2018)
    s2, r2 = load_followup(2018)
    assert not s2["household_id"].isin(s1["household_id"]).any()
    assert set(s2["town"]) <= set(f["town"])
    assert fu.costs["households"].sum() == (s2["role"] == "primary").sum()
    assert len(r2) > 0
    # the flags table keeps its columns and adds the 复核 ones; the report has its sheet
    assert list(a.flags.columns[:5]) == ORIGINAL_FLAG_COLUMNS
    assert {"followup_stage", "p_phase1", "p_phase2"} <= set(a.flags.columns)
    tables = zh_tables(report_tables(a), a.spec.county)
    sheet = tables["两阶段复核"]
    assert len(sheet) == len(f) and {"第一阶段P值", "复核P值", "复核入户数", "判定"} <= set(sheet.columns)
    assert list(tables["标记"].columns[:5]) == ["乡镇", "条款", "事项", "依据", "处理建议"]


def _data_copy(dst, own=("followup_2018",)):
    dst.mkdir()
    for p in data_path().iterdir():
        if p.name in own:
            (shutil.copytree if p.is_dir() else shutil.copy)(p, dst / p.name)
        else:
            (dst / p.name).symlink_to(p)
    return dst


def test_tampered_followup_manifest_is_one_line_error(tmp_path, capsys):
    data = _data_copy(tmp_path / "data")
    mpath = data / "followup_2018" / "manifest.json"
    m = json.loads(mpath.read_text(encoding="utf-8"))
    m["seed"] += 1  # another draw than the one in sample.csv
    mpath.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    assert main(["report", "--year", "2018", "--data", str(data), "--out",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "复核样本与清单记录的不同" in err[0]
    assert not (tmp_path / "out").exists()


def test_followup_without_qualifying_town_reports_as_today(tmp_path, capsys):
    """A rule under which no pair qualifies: ``followup`` writes nothing and the report is the
    single-phase one (no 复核 section, sheet or flag columns)."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(data_path() / "register_2018.csv", data)
    s1, _ = load_fieldwork(2018)
    ids = set(s1["household_id"])
    raw = pd.read_csv(data_path() / "results_2018.csv", dtype=str, keep_default_na=False,
                      encoding="utf-8-sig")
    raw[raw["户编号"].isin(ids)].to_csv(data / "results_2018.csv", index=False,
                                        encoding="utf-8-sig")
    text = (data_path() / "spec_2018.toml").read_text(encoding="utf-8")
    start, end = text.index("[followup]"), text.index("[[indicator]]")
    spec = tmp_path / "s.toml"
    spec.write_text(text[:start] + '[followup]\nindicators = ["compulsory_education"]\n'
                    'alpha_futility = 0.6\n\n' + text[end:], encoding="utf-8")
    seed = read_manifest(data_path() / "sample_2018")["seed"]
    assert main(["design", "--data", str(data), "--year", "2018", "--seed", str(seed),
                 "--spec", str(spec)]) == 0
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec)]) == 0
    assert "未写出任何文件" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = run_assessment(2018, data, history=False)
    assert a.followup is None
    assert list(a.flags.columns) == ORIGINAL_FLAG_COLUMNS
    assert "followup" not in report_tables(a)
    sig = a.estimates[(a.estimates["class"] == CLASS_SIGNIFICANT)]
    f4 = a.flags[a.flags["article"] == "第七条（四）"]
    assert len(f4) == len(sig)


def test_two_phase_weights_sum_to_the_frames():
    """Phase-1 weights (villages certain given phase 1) sum to the visited villages' frame sizes
    exactly; phase-2 weights (1/(π2|1·π_household)) to the unvisited villages' in expectation over
    re-draws (within 4 Monte Carlo SE)."""
    reg = load_register(2018)
    s1, _ = load_fieldwork(2018)
    spec = load_spec(data_path() / "spec_2018.toml", year=2018)
    assert manifest_rule(read_manifest(data_path() / "sample_2018")) == spec.followup
    # the inverse-normal method's draw (the bundled rule is the conditional one)
    rule = dataclasses.replace(spec.followup, method="inverse-normal", alpha_stop=0.0000625,
                               alpha_futility=0.3, villages=5, census_frames=(),
                               households={"registered": 10, "exited": 8, "non_registered": 8})
    town = "马坝镇"
    screened = pd.DataFrame({"town": [town], "indicator": ["exit_accuracy"], "p1": [0.1]})
    plan = DesignPlan.from_dict(read_manifest(data_path() / "sample_2018")["plan"])
    fr = followup_frame(reg, s1, plan)
    frame_of = reg[(reg["town"] == town)]
    exited = frame_of[(frame_of["exit_year"] == 2018) & frame_of["registered"].astype(bool)]
    visited = set(s1.loc[s1["town"] == town, "village"])
    n_visited = int(exited["village"].isin(visited).sum())
    n_other = int((~exited["village"].isin(visited)).sum())
    sums = []
    for seed in range(100):
        fd = draw_followup(reg, s1, screened, rule, spec, plan, seed, frame=fr)
        w = two_phase_weights(s1, fd.sample, town)
        w = w[w["frame"] == "exited"]
        assert w.loc[w["phase"] == 1, "weight"].sum() == pytest.approx(n_visited, rel=1e-9)
        sums.append(w.loc[w["phase"] == 2, "weight"].sum())
    sums = np.asarray(sums)
    se = sums.std(ddof=1) / np.sqrt(sums.size)
    assert abs(sums.mean() - n_other) <= 4 * se


def test_appended_phase2_results_verify_and_edited_phase1_results_do_not(tmp_path):
    """The bundled results file changed after the follow-up draw only by its phase-2 rows: it
    verifies; an edited phase-1 answer does not."""
    from quchi_stats.errors import VerificationError
    from quchi_stats.followup import verify_followup
    from quchi_stats.io.writers import file_sha256

    data = _data_copy(tmp_path / "data", own=("followup_2018", "results_2018.csv"))
    m = read_manifest(data / "followup_2018")
    assert m["results"]["sha256"] != file_sha256(data / "results_2018.csv")  # rows appended
    assert verify_followup(data / "followup_2018").rows == m["sample"]["rows"]
    path = data / "results_2018.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[1] = lines[1].replace(",满意,", ",不满意,", 1)
    assert ",不满意," in lines[1]
    path.write_text("".join(lines), encoding="utf-8-sig")
    with pytest.raises(VerificationError, match="第一阶段结果在复核抽样后被修改过"):
        verify_followup(data / "followup_2018")
