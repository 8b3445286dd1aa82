"""Oversampling of risk households (低保, 危房, 大病/慢性病, 残疾, 独居老人) for 漏评: the optional
register columns, the split of a village's non-registered frame, exact probabilities, unbiased
Horvitz–Thompson estimates, and the manifest's record of it."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from quchi_stats.datasets import data_path
from quchi_stats.errors import DataError, ParameterError, VerificationError
from quchi_stats.io.readers import read_table
from quchi_stats.io.writers import csv_bytes
from quchi_stats.sampling import (
    DesignPlan,
    draw_from_file,
    draw_sample,
    read_manifest,
    verify_manifest,
    write_sample,
)
from quchi_stats.sampling.draw import risk_flags, risk_split
from tests.conftest import make_register

YEAR = 2018
#: Two towns of three villages (two drawn per town, πps): each village's non-registered frame has
#: risk households (the first ``r``) and others.
VILLAGES = {"甲镇": [(5, 2, 24), (4, 1, 30), (8, 2, 20)], "乙镇": [(6, 1, 26), (3, 2, 21), (5, 0, 28)]}
RISK_PER_VILLAGE = [6, 5, 8, 4, 7, 3]
PLAN = DesignPlan(year=YEAR, villages_total=4, risk_factor=3.0, reserves=2,
                  households_per_village={"registered": 2, "exited": 1, "non_registered": 8})
DRAWS = 160
#: Rows of the bundled register the file-based tests use (its first towns: fast re-draws).
SUBSET = 8000


def risk_register() -> pd.DataFrame:
    """The register of :data:`VILLAGES` with 低保 (the first risk households of each village) and
    残疾 (one more), and a true 漏评 status: risk households missed far more often."""
    reg = make_register(VILLAGES, year=YEAR)
    reg["dibao"] = pd.array([False] * len(reg), dtype="boolean")
    reg["disability"] = pd.array([None] * len(reg), dtype="boolean")
    non = ~reg["registered"].to_numpy(bool)
    for village, r in zip(reg["village"].unique(), RISK_PER_VILLAGE, strict=True):
        idx = np.flatnonzero(non & (reg["village"] == village).to_numpy())
        reg.loc[idx[: r - 1], "dibao"] = True
        reg.loc[idx[r - 1], "disability"] = True
    rng = np.random.default_rng(7)
    risk = risk_flags(reg)
    reg["_missed"] = non & (rng.random(len(reg)) < np.where(risk, 0.30, 0.03))
    return reg


@pytest.fixture(scope="module")
def draws():
    """``DRAWS`` seeded draws of the risk-oversampled plan (shared by the frequency and HT tests)."""
    reg = risk_register()
    return reg, [draw_sample(reg.drop(columns="_missed"), PLAN, seed=1000 + s) for s in range(DRAWS)]


# --- the split ---------------------------------------------------------------------------------

def test_risk_split_keeps_both_subframes_and_is_nearest_k():
    for n in range(2, 12):
        for n_r in (1, 2, 5, 13, 40):
            for n_o in (1, 3, 9, 60, 300):
                if n > n_r + n_o:
                    continue
                for k in (1.5, 2.0, 3.0, 7.5):
                    got = risk_split(n, n_r, n_o, k)
                    assert 1 <= got <= min(n_r, n - 1) and 1 <= n - got <= n_o
                    # no other feasible integer puts the ratio nearer k (log scale)
                    err = abs(math.log((got / n_r) / ((n - got) / n_o) / k))
                    for other in range(max(1, n - n_o), min(n_r, n - 1) + 1):
                        e = abs(math.log((other / n_r) / ((n - other) / n_o) / k))
                        assert err <= e + 1e-9 or abs(other - n * k * n_r / (k * n_r + n_o)) > 1
    assert risk_split(1, 5, 5, 3.0) is None and risk_split(4, 0, 9, 3.0) is None
    assert risk_split(4, 9, 0, 3.0) is None


def test_recorded_probabilities_are_the_subframe_fractions(draws):
    reg, results = draws
    risk = pd.Series(risk_flags(reg), index=reg["household_id"])
    for res in results[:5]:
        s = res.sample
        nr = s[s["frame"] == "non_registered"]
        assert nr["risk"].astype(bool).tolist() == risk[nr["household_id"]].tolist()
        assert s.loc[s["frame"] != "non_registered", "risk"].isna().all()
        for (village, is_risk), cell in nr.groupby(["village", "risk"]):
            in_frame = reg[(reg["village"] == village) & ~reg["registered"].astype(bool)]
            big_n = int((risk[in_frame["household_id"]] == is_risk).sum())
            n = int((cell["role"] == "primary").sum())
            assert (cell["n_households_in_frame_of_village"] == big_n).all()
            assert (cell["n_households_sampled_in_frame_of_village"] == n).all()
            assert np.allclose(cell["pi_household"], n / big_n)
            assert np.allclose(cell["weight"], 1 / (cell["pi_village"] * n / big_n))
            assert int((cell["role"] == "reserve").sum()) == min(2, big_n - n)
        # per village the frame's 8 households are shared, ~3:1 in probability
        prim = nr[nr["role"] == "primary"]
        for _, v in prim.groupby("village"):
            assert len(v) == 8
            ratio = v.loc[v["risk"], "pi_household"].iloc[0] / v.loc[~v["risk"], "pi_household"].iloc[0]
            assert 1.5 < ratio < 6
    assert results[0].risk["villages_split"] == 4
    # the field list says which reserves stand in for a risk household
    from quchi_stats.sampling.fieldlist import field_list

    fl = field_list(results[0].sample, reg)
    assert fl["risk"].equals(results[0].sample["risk"])


def test_inclusion_frequencies_match_pi(draws):
    """Every non-registered household's empirical selection frequency over the seeded draws is
    within 4 binomial SE of its π = π_village · n_sub/N_sub (π is fixed per household here: the
    village sizes do not change between draws)."""
    reg, results = draws
    non = reg[~reg["registered"].astype(bool)]
    hits = pd.Series(0, index=non["household_id"])
    pi = pd.Series(np.nan, index=non["household_id"])
    for res in results:
        p = res.primary
        p = p[p["frame"] == "non_registered"]
        hits[p["household_id"]] += 1
        pi[p["household_id"]] = p["pi"].to_numpy()
    assert pi.notna().all()  # every household was drawn at least once
    freq = hits / DRAWS
    se = np.sqrt(pi * (1 - pi) / DRAWS)
    z = (freq - pi) / se
    assert np.abs(z).max() < 4, z.abs().sort_values().tail()
    risk = pd.Series(risk_flags(non), index=non["household_id"])
    # the risk households are drawn more often than the others in each village (k = 3)
    by = pd.DataFrame({"freq": freq, "risk": risk, "village": non["village"].to_numpy()})
    means = by.groupby(["village", "risk"])["freq"].mean().unstack()
    assert (means[True] > 1.5 * means[False]).all()


def test_horvitz_thompson_missed_rate_is_unbiased(draws):
    """With risk households missed 10 times as often, the HT estimate of the district's 漏评 rate
    (Σ w·y over the known number of non-registered households) averages the truth within 4 MC SE,
    while the unweighted share of missed households overshoots it."""
    reg, results = draws
    missed = pd.Series(reg["_missed"].to_numpy(), index=reg["household_id"])
    non = ~reg["registered"].astype(bool)
    truth = missed[non.to_numpy()].mean()
    ht, naive = [], []
    for res in results:
        p = res.primary
        p = p[p["frame"] == "non_registered"]
        y = missed[p["household_id"]].to_numpy(float)
        ht.append((p["weight"].to_numpy() * y).sum() / non.sum())
        naive.append(y.mean())
    ht, naive = np.array(ht), np.array(naive)
    mc_se = ht.std(ddof=1) / math.sqrt(DRAWS)
    assert abs(ht.mean() - truth) < 4 * mc_se, (ht.mean(), truth, mc_se)
    assert naive.mean() > truth + 4 * naive.std(ddof=1) / math.sqrt(DRAWS)


# --- default and errors ----------------------------------------------------------------------------

def test_default_factor_leaves_the_draw_unchanged():
    reg = risk_register().drop(columns="_missed")
    plain = reg.drop(columns=["dibao", "disability"])
    base = DesignPlan(year=YEAR, villages_total=4)
    assert "risk_factor" not in base.to_dict()
    assert DesignPlan(year=YEAR, villages_total=4, risk_factor=1) == base
    a = draw_sample(plain, base, seed=5)
    b = draw_sample(reg, base, seed=5)
    assert "risk" not in b.sample and b.risk is None
    assert csv_bytes(a.sample) == csv_bytes(b.sample)


def test_factor_without_risk_columns_is_refused():
    reg = make_register(VILLAGES, year=YEAR)
    with pytest.raises(DataError, match="台账没有风险户列") as exc:
        draw_sample(reg, PLAN, seed=1)
    assert "\n" not in str(exc.value) and "risk_factor = 3" in str(exc.value)
    reg["dibao"] = ["是"] * len(reg)
    with pytest.raises(DataError, match="列“低保”：应为是/否"):
        draw_sample(reg, PLAN, seed=1)


@pytest.mark.parametrize("bad", [0.5, 0, -2, float("nan"), float("inf"), 101, True, "3"])
def test_bad_factor_is_a_parameter_error(bad):
    with pytest.raises(ParameterError, match="'risk_factor' parameter of DesignPlan"):
        DesignPlan(year=YEAR, risk_factor=bad)


# --- the register's risk columns -------------------------------------------------------------------

def _register_file(tmp_path, headers=("低保", "危房", "大病", "残疾", "独居老人"), values=None,
                   n_rows=None):
    """The bundled 2018 register with risk columns (Chinese headers), written to tmp_path."""
    text = (data_path() / "register_2018.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if n_rows is not None:
        rows = rows[: n_rows + 1]
    rng = np.random.default_rng(3)
    yes, no = ["是", "1", "Y", "true"], ["否", "0", "N", "false", ""]
    out = [rows[0] + list(headers)]
    for i, r in enumerate(rows[1:]):  # each flag 是 for about 3% of households
        cells = [(yes if u < 0.03 else no)[int(v * 4)] for u, v in rng.random((len(headers), 2))]
        if values is not None and i in values:
            cells = list(values[i])
        out.append(r + cells)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(out)
    path = tmp_path / "register_2018.csv"
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return path


def test_risk_columns_read_with_aliases_and_blank_as_no(tmp_path):
    path = _register_file(tmp_path, n_rows=30, values={
        0: ("是", "否", "1", "0", ""), 1: ("Y", "N", "true", "FALSE", "是")})
    reg = read_table(path, "register")
    cols = ["dibao", "dilapidated_house", "serious_illness", "disability", "elderly_alone"]
    assert all(c in reg for c in cols)
    assert reg.loc[0, cols].tolist() == [True, False, True, False, pd.NA]
    assert reg.loc[1, cols].tolist() == [True, False, True, False, True]
    assert risk_flags(reg)[:2].tolist() == [True, True]
    # 大病/慢性病 under its label and the other alias
    for header in ("大病/慢性病", "慢性病"):
        sub = tmp_path / header.replace("/", "_")
        sub.mkdir()
        p = _register_file(sub, headers=(header,), n_rows=5)
        assert "serious_illness" in read_table(p, "register")


def test_bad_risk_value_is_one_line_naming_file_row_column(tmp_path):
    path = _register_file(tmp_path, n_rows=20, values={6: ("否", "可能", "否", "否", "否")})
    with pytest.raises(DataError) as exc:
        read_table(path, "register")
    msg = str(exc.value)
    assert "\n" not in msg
    for part in ("register_2018.csv", "第 8 行", "列“危房”", "“可能”", "是/否"):
        assert part in msg, msg


# --- the manifest ----------------------------------------------------------------------------------

def test_manifest_records_and_verifies_a_risk_draw(tmp_path):
    path = _register_file(tmp_path, n_rows=SUBSET)
    plan = DesignPlan(year=YEAR, risk_factor=4)
    res = draw_from_file(path, plan, seed=20180601)
    out = write_sample(res, tmp_path / "sample_2018", path)
    manifest = read_manifest(out.manifest_path)
    assert manifest["plan"]["risk_factor"] == 4.0
    rec = manifest["risk"]
    assert rec["columns"] == ["dibao", "dilapidated_house", "serious_illness", "disability",
                              "elderly_alone"]
    s = read_table(out.sample_path, "sample")
    prim = s[(s["role"] == "primary") & (s["frame"] == "non_registered")]
    assert rec["sampled"] == {"risk": int(prim["risk"].sum()), "other": int((~prim["risk"]).sum())}
    assert rec["households"]["risk"] > 0 and rec["villages_split"] > 0
    assert verify_manifest(out.manifest_path).rows == len(res.sample)

    # tampering: the sample's risk column, the recorded counts, the recorded factor
    original = out.sample_path.read_bytes()
    text = original.decode("utf-8-sig").splitlines()
    i = next(k for k, line in enumerate(text) if line.endswith(",True"))
    text[i] = text[i][: -len("True")] + "False"
    out.sample_path.write_bytes(("\n".join(text) + "\n").encode("utf-8-sig"))
    with pytest.raises(VerificationError):
        verify_manifest(out.manifest_path)
    out.sample_path.write_bytes(original)
    raw = out.manifest_path.read_text(encoding="utf-8")
    data = json.loads(raw)
    data["risk"]["households"]["risk"] += 1
    out.manifest_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(VerificationError, match="风险户子框户数"):
        verify_manifest(out.manifest_path)
    data = json.loads(raw)
    data["plan"]["risk_factor"] = 2.0
    out.manifest_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match="risk.factor"):
        verify_manifest(out.manifest_path)
    data["risk"]["factor"] = 2.0
    out.manifest_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(VerificationError):
        verify_manifest(out.manifest_path)
    del data["risk"]
    data["plan"]["risk_factor"] = 4.0
    out.manifest_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match="没有 risk 记录"):
        verify_manifest(out.manifest_path)


def test_cli_design_risk_factor_and_plan_file(tmp_path, capsys):
    from quchi_stats.cli import main

    path = _register_file(tmp_path, n_rows=SUBSET)
    out = tmp_path / "s"
    assert main(["design", "--register", str(path), "--year", "2018", "--seed", "9",
                 "--risk-factor", "2.5", "--out", str(out)]) == 0
    assert "风险户加抽（risk_factor = 2.5）" in capsys.readouterr().out
    assert read_manifest(out)["plan"]["risk_factor"] == 2.5
    assert "risk" in read_table(out / "sample.csv", "sample")
    plan = tmp_path / "plan.toml"
    plan.write_text("[plan]\nyear = 2018\nrisk_factor = 2.5\n", encoding="utf-8")
    out2 = tmp_path / "s2"
    assert main(["design", "--register", str(path), "--plan", str(plan), "--seed", "9",
                 "--out", str(out2)]) == 0
    assert (out2 / "sample.csv").read_bytes() == (out / "sample.csv").read_bytes()
    assert main(["design", "--register", str(path), "--plan", str(plan), "--seed", "9",
                 "--risk-factor", "3", "--out", str(tmp_path / "s3")]) != 0
    assert "--risk-factor" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["design", "--register", str(_register_file(plain, headers=(), n_rows=SUBSET)),
                 "--year", "2018",
                 "--risk-factor", "3", "--out", str(tmp_path / "s4")]) != 0
    err = capsys.readouterr().err
    assert "台账没有风险户列" in err and len(err.strip().splitlines()) == 1
    assert "register_2018.csv：台账没有风险户列" in err  # the message names the register's file


def test_a_village_drawn_as_one_frame_lists_its_primary_before_its_reserves():
    """With one non-registered household per village no frame is split: the village lists one
    set, the primary first and then its reserves by rank, whatever their risk."""
    import dataclasses

    from quchi_stats.sampling.draw import split_villages

    plan = dataclasses.replace(PLAN, households_per_village={"registered": 2, "exited": 1,
                                                              "non_registered": 1})
    mixed = 0
    for seed in range(10):
        s = draw_sample(risk_register().drop(columns=["_missed"]), plan, seed=seed).sample
        assert not split_villages(s)
        for _, c in s[s["frame"] == "non_registered"].groupby(["town", "village"], sort=False):
            assert c["role"].tolist() == ["primary"] + ["reserve"] * (len(c) - 1)
            assert c["reserve_rank"].iloc[1:].tolist() == list(range(1, len(c)))
            mixed += c["risk"].nunique() > 1
    assert mixed  # the check can fail: some villages hold both groups
