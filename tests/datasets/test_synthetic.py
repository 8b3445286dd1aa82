"""The synthetic district: reproducible to the byte, true to DOMAIN.md, problems injected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.datasets import YEARS, data_path, generate_district, load_register, write_district
from quchi_stats.datasets.synthetic import _TOWN_SPEC, EXIT_LINES, TOWNS, register_frame
from quchi_stats.io import DataDir, read_table
from quchi_stats.sampling import verify_manifest


@pytest.fixture(scope="module")
def district():
    return generate_district()


def test_regeneration_reproduces_data_samples_byte_for_byte(tmp_path):
    """``quchi-stats synth`` rebuilds every shipped file identically, the .xlsx included."""
    written = write_district(tmp_path)
    shipped = data_path()
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        p.relative_to(shipped).as_posix() for p in shipped.rglob("*")
        if p.is_file() and p.name != "README.md"}
    for p in written:
        rel = p.relative_to(tmp_path)
        assert p.read_bytes() == (shipped / rel).read_bytes(), rel


def test_towns_villages_households(district):
    hh, vil = district.households, district.villages
    assert list(dict.fromkeys(vil["town"])) == list(TOWNS)
    counts = vil.groupby("town").size()
    assert counts["小坑镇"] == 5 and counts["樟市镇"] == 11 and counts["枫湾镇"] == 9
    assert counts["马坝镇"] == 17 and counts.drop(["马坝镇", "小坑镇"]).between(8, 12).all()
    assert len(vil) == 90
    assert 42_000 <= len(hh) <= 44_000
    pv = vil[vil["priority_village"]]
    assert len(pv) == 10 and set(pv["town"]) == {"樟市镇", "罗坑镇", "白土镇"}
    assert 380 <= hh.loc[hh["baseline"] & hh["priority_village"]].shape[0] <= 560
    assert hh["household_id"].is_unique
    assert hh["household_id"].str.fullmatch(r"440205\d{10}").all()


def test_registered_households_match_the_brief(district):
    hh = district.households
    base = hh[hh["baseline"]]
    assert 1800 <= len(base) <= 2100
    assert base["household_size"].mean() == pytest.approx(2.3, abs=0.1)
    assert base["able_to_work"].mean() == pytest.approx(0.65, abs=0.04)
    shares = base["category"].value_counts(normalize=True)
    assert shares["general"] == pytest.approx(0.6, abs=0.04)
    assert shares["dibao"] == pytest.approx(0.3, abs=0.04)
    assert shares["tekun"] == pytest.approx(0.1, abs=0.03)
    exits = base["exit_year"].value_counts(normalize=True)
    for y, share in ((2016, 0.28), (2017, 0.34), (2018, 0.38)):
        assert exits[y] == pytest.approx(share, abs=0.04)
    assert (hh["add_year"] > 0).sum() > 0 and (hh["remove_year"] > 0).sum() > 0


def test_personal_fields_are_invented(district):
    ids = district.households["id_number"]
    assert ids.str.fullmatch(r"440205\d{11}[0-9X]").all()
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    digits = np.array([[int(c) for c in s[:17]] for s in ids.head(500)])
    correct = np.array(list("10X98765432"))[(digits @ weights) % 11]
    assert (correct != ids.head(500).str[-1].to_numpy()).all()  # never a valid number
    assert district.households["phone"].str.startswith("100").all()


def test_exited_incomes_sit_above_the_exit_line(district):
    hh = district.households
    for y in YEARS:
        st = district.years[y]
        m = (st["registered"] & (st["exit_year"] == y) & hh["able_to_work"]
             & st["exit_correct"]).to_numpy()
        assert (st["income_per_capita"].to_numpy()[m] >= EXIT_LINES[y]).all()
        wrong = (st["registered"] & (st["exit_year"] == y) & hh["able_to_work"]
                 & ~st["exit_correct"]).to_numpy()
        assert (st["income_per_capita"].to_numpy()[wrong] < EXIT_LINES[y]).all()


def test_digital_exit_villages_bunch_just_above_the_line(district):
    hh, vil = district.households, district.villages
    st = district.years[2018]
    line = EXIT_LINES[2018]
    exited = (st["registered"] & (st["exit_year"] == 2018) & hh["able_to_work"]
              & st["exit_correct"]).to_numpy()
    inc = st["income_per_capita"].to_numpy()
    near = (inc >= line) & (inc < line + 250)
    dig = st["digital_village"].to_numpy()
    share_dig = near[exited & dig].mean()
    share_clean = near[exited & ~dig].mean()
    assert share_dig > 0.5 > 0.15 > share_clean
    assert (vil["digital_exit_from"] > 0).sum() == 2


def test_truth_files_carry_the_injected_problems():
    d = DataDir(data_path())
    t18 = pd.read_csv(d.truth(2018))
    problems = t18.drop_duplicates("town").set_index("town")["injected_problem"].fillna("")
    assert "low_satisfaction" in problems["沙溪镇"] and "low_satisfaction" in problems["大塘镇"]
    assert "digital_exit" in problems["乌石镇"] and "self_report_inflated" in problems["乌石镇"]
    assert "missed_hotspot" in problems["枫湾镇"]
    assert "target_missed" in pd.read_csv(d.truth(2017)).query("town == '罗坑镇'")[
        "injected_problem"].iloc[0]
    sat = t18[t18["indicator"] == "satisfaction_rate"].set_index("town")["household_rate"]
    assert sat["沙溪镇"] < 0.9 and sat["大塘镇"] < 0.9
    assert sat.drop(["沙溪镇", "大塘镇"]).min() > 0.9
    district_rate = sat["全区"]
    assert 0.92 <= district_rate <= 0.97


def test_every_shipped_table_reads_through_the_contract():
    d = DataDir(data_path())
    for y in d.years():
        reg = read_table(d.register(y), "register")
        assert reg["head_name"].notna().all()  # personal fields present in the register only
        sample = read_table(d.sample_dir(y) / "sample.csv", "sample")
        res = read_table(d.results(y), "results")
        drawn = set(sample["household_id"])
        if (d.root / f"followup_{y}").is_dir():  # phase-2 results are appended (docs/followup.md)
            drawn |= set(read_table(d.root / f"followup_{y}" / "sample.csv", "sample")
                         ["household_id"])
        assert set(res["household_id"]) <= drawn
        assert set(res["visit_status"]) == {"completed", "unreachable", "substitute"}
        sr = read_table(d.self_report(y), "self_report")
        assert sr["identification_accuracy"].between(0, 1).all()
        tg = read_table(d.targets(y), "targets")
        assert list(tg["town"]) == list(TOWNS)


def test_shipped_samples_verify_against_their_manifests():
    for y in YEARS:
        assert verify_manifest(data_path() / f"sample_{y}").rows > 0


def test_gbk_and_xlsx_are_among_the_files():
    d = data_path()
    raw = (d / "register_2016.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    raw.decode("gb18030")
    assert (d / "results_2017.xlsx").is_file()


def test_register_frame_matches_loader(district):
    reg = load_register(2018)
    ours = register_frame(district, 2018)
    assert reg["household_id"].tolist() == ours["household_id"].tolist()
    assert (reg["registered"].astype(bool).to_numpy() == (ours["registered"] == "是").to_numpy()).all()


def test_small_scale_district_for_fast_tests():
    d = generate_district(7, scale=0.05)
    assert 1_800 <= len(d.households) <= 2_600
    assert len(d.villages) == sum(n for _, n, _, _ in _TOWN_SPEC)


def test_optional_risk_columns_leave_the_rest_alone_and_raise_missed_among_risk():
    """``risk_columns=True`` adds the five risk flags; every other column is the same, and risk
    households are missed more often: ratio 6 by construction; with about 20 missed among ~820 risk
    households (seed 11, scale 0.15; measured 8.3, and 5.0–6.6 for seeds 12–13) the ratio's Monte
    Carlo SE is about 25 %, so > 2.5 fails only on a broken ratio."""
    from quchi_stats.io.schema import RISK_COLUMNS
    from quchi_stats.sampling.draw import risk_flags

    plain = generate_district(11, scale=0.15)
    risky = generate_district(11, scale=0.15, risk_columns=True)
    assert not set(RISK_COLUMNS) & set(plain.households)
    pd.testing.assert_frame_equal(plain.households, risky.households.drop(columns=list(RISK_COLUMNS)))
    reg = register_frame(risky, 2018)
    assert set(RISK_COLUMNS) <= set(reg) and set(reg["dibao"]) <= {"是", "否"}
    # incomes follow 漏评 (a missed household is poor): only those of changed households differ
    st_p, st_r = plain.years[2018], risky.years[2018]
    same = (st_p["missed"] == st_r["missed"]).to_numpy()
    pd.testing.assert_frame_equal(register_frame(plain, 2018)[same],
                                  reg.drop(columns=list(RISK_COLUMNS))[same])
    for c in ("registered", "satisfaction", "exit_correct", "identified_correctly"):
        assert (st_p[c] == st_r[c]).all(), c
    risk = risk_flags(risky.households.assign(**{c: risky.households[c].astype("boolean")
                                                for c in RISK_COLUMNS}))
    non = ~st_r["registered"].to_numpy()
    share = risk[non].mean()
    assert 0.10 < share < 0.17
    missed = st_r["missed"].to_numpy()
    p_risk, p_other = missed[non & risk].mean(), missed[non & ~risk].mean()
    assert p_risk > 2.5 * p_other
    # the overall 漏评 rate stays about as without the columns (the mean is kept per village)
    assert abs(missed[non].mean() - st_p["missed"].to_numpy()[non].mean()) < 0.01


def test_risk_missed_ratio_below_one_is_refused():
    from quchi_stats.errors import ParameterError

    with pytest.raises(ParameterError, match="risk_missed_ratio"):
        generate_district(1, scale=0.05, risk_columns=True, risk_missed_ratio=0.5)


def test_risk_columns_read_and_draw_with_risk_factor(tmp_path):
    """A data directory written with the risk columns reads through the contract and draws with
    risk households oversampled."""
    from quchi_stats.sampling import DesignPlan, draw_sample

    d = generate_district(5, scale=0.1, risk_columns=True)
    reg_path = tmp_path / "register_2018.csv"
    register_frame(d, 2018).to_csv(reg_path, index=False)
    reg = read_table(reg_path, "register")
    assert reg["dibao"].dtype == "boolean"
    res = draw_sample(reg, DesignPlan(year=2018, risk_factor=3.0), seed=3)
    assert res.risk is not None and res.sample["risk"].notna().any()
