"""``quchi-stats power --followup``: the two-phase procedure of the spec's [followup] rule."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from quchi_stats.cli import main
from quchi_stats.datasets import data_path

CONDITIONAL = """[followup]
indicators = ["identification_accuracy", "exit_accuracy", "satisfaction_rate"]
method = "conditional"
alpha_futility = 0.2
households = {registered = 4, exited = 4, non_registered = 4}
census_frames = ["exited"]
max_extra_households = 100000
"""


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "mydata"
    d.mkdir()
    shutil.copy(data_path() / "register_2018.csv", d / "register_2018.csv")
    return d


def _conditional_spec(tmp_path):
    text = (data_path() / "spec_2018.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[followup\].*?\n\n", CONDITIONAL + "\n", text, count=1, flags=re.S)
    path = tmp_path / "参数.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_power_followup_simulates_the_spec_rule(data_dir, tmp_path, capsys):
    out = tmp_path / "two_phase.csv"
    argv = ["power", "--data", str(data_dir), "--year", "2018", "--spec",
            str(_conditional_spec(tmp_path)), "--followup", "--reps", "20", "--seed", "3301",
            "--shortfall", "0.1", "--indicators", "exit_accuracy,satisfaction_rate",
            "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "两阶段复核模拟：20 次重复" in text and "条件检验" in text
    assert "按当年实际比率" in text and "按假定平均比率" in text
    assert text.count("组（") == 3  # nine towns, three low at a time
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert len(table) == 9 * 2 and set(table["指标"]) == {"错退率", "群众认可度"}
    assert {"两阶段判定比例", "仅第一阶段判定比例", "复核户数（平均）"} <= set(table.columns)
    assert (table["真实比率"] == table["标准"] - 0.1).all()
    assert table["两阶段判定比例"].between(0, 1).all()
    # a low town is followed up whenever phase 1 screens it, and costs households
    assert (table["复核户数（平均）"] > 0).any()
    assert main(argv) == 2 and "已存在" in capsys.readouterr().err


def test_power_followup_needs_a_rule(data_dir, capsys):
    argv = ["power", "--data", str(data_dir), "--year", "2018", "--followup", "--reps", "5"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "没有 [followup] 复核规则" in err[0], err


def test_power_followup_refuses_risk_strata_it_cannot_simulate(data_dir, tmp_path, capsys):
    base = ["power", "--data", str(data_dir), "--year", "2018", "--spec",
            str(_conditional_spec(tmp_path)), "--followup", "--reps", "5"]
    for extra in (["--risk-factor", "3"], ["--risk-ratio", "6"]):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "power --followup 尚不能模拟风险户加抽" in err[0], err


def test_power_followup_refuses_an_indicator_outside_the_rule(data_dir, tmp_path, capsys):
    argv = ["power", "--data", str(data_dir), "--year", "2018", "--spec",
            str(_conditional_spec(tmp_path)), "--followup", "--reps", "5",
            "--indicators", "missed_rate"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missed_rate 不在" in err[0] and "复核规则" in err[0], err
