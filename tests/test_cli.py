"""The command line: exit codes, one-line errors, the design and verify commands."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from quchi_stats.cli import main
from quchi_stats.datasets import data_path
from quchi_stats.io import read_table


@pytest.fixture
def data_dir(tmp_path):
    """A user's own data directory in the contract's layout (a copy of one register)."""
    d = tmp_path / "mydata"
    d.mkdir()
    shutil.copy(data_path() / "register_2018.csv", d / "register_2018.csv")
    return d


def test_design_writes_sample_and_verifies(data_dir, capsys):
    assert main(["design", "--data", str(data_dir), "--year", "2018", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "2018 年抽查样本：9 个镇、45 个村" in out and "核验通过" in out
    sample = read_table(data_dir / "sample_2018" / "sample.csv", "sample")
    assert set(sample["frame"]) == {"registered", "exited", "non_registered"}
    # no personal data in the drawn sample
    text = (data_dir / "sample_2018" / "sample.csv").read_text(encoding="utf-8-sig")
    reg = read_table(data_dir / "register_2018.csv", "register")
    drawn = reg[reg["household_id"].isin(sample["household_id"])]
    for value in drawn["id_number"].head(20).tolist() + drawn["phone"].head(20).tolist():
        assert value not in text
    # same seed again: unchanged; another seed: refused, then --force
    assert main(["design", "--data", str(data_dir), "--year", "2018", "--seed", "7"]) == 0
    assert "未改动" in capsys.readouterr().out
    assert main(["design", "--data", str(data_dir), "--year", "2018", "--seed", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "不会被覆盖" in err[0]
    assert main(["design", "--data", str(data_dir), "--year", "2018", "--seed", "8",
                 "--force"]) == 0
    capsys.readouterr()
    assert main(["design", "--verify", str(data_dir / "sample_2018" / "manifest.json")]) == 0
    assert "核验通过" in capsys.readouterr().out


def test_design_options_reach_the_plan(data_dir, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["design", "--register", str(data_dir / "register_2018.csv"), "--year", "2018",
                 "--out", str(out), "--seed", "3", "--villages", "20", "--allocation",
                 "proportional", "--village-method", "sampford", "--certainty-priority",
                 "--households", "8,5,4", "--reserves", "2"]) == 0
    import json

    plan = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["plan"]
    assert plan["villages_total"] == 20 and plan["village_method"] == "sampford"
    assert plan["households_per_village"] == {"registered": 8, "exited": 5, "non_registered": 4}
    assert plan["certainty_priority_villages"] and plan["reserves"] == 2
    assert "全部作为必选村入样" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["design", "--year", "2018"], "需要 --register FILE 或 --data DIR"),
    (["design", "--data", "{d}"], "需要 --year"),
    (["design", "--data", "{d}", "--year", "2020"], "找不到农户台账文件 register_2020.csv"),
    (["design", "--data", "{d}", "--year", "2018", "--villages", "5"],
     "'villages_total' parameter of DesignPlan must be >= 18"),
    (["design", "--verify", "{d}/nothing.json"], "找不到抽样清单"),
])
def test_errors_are_one_line_with_status_2(data_dir, capsys, argv, message):
    argv = [a.replace("{d}", str(data_dir)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_bad_register_value_is_one_line(tmp_path, capsys):
    reg = tmp_path / "register_2018.csv"
    text = (data_path() / "register_2018.csv").read_text(encoding="utf-8-sig").splitlines()
    head, first = text[0], text[1].split(",")
    first[3] = "三"  # 人数
    reg.write_text("\n".join([head, ",".join(first), *text[2:50]]) + "\n", encoding="utf-8")
    assert main(["design", "--register", str(reg), "--year", "2018", "--villages", "18"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "错误：register_2018.csv，第 2 行，列“人数”：应为不小于 1 的整数，实际为“三”"


def test_debug_shows_traceback(data_dir):
    with pytest.raises(Exception, match="需要 --year"):
        main(["--debug", "design", "--data", str(data_dir)])


def test_internal_errors_exit_1_with_hint(monkeypatch, data_dir, capsys):
    import quchi_stats.sampling as sampling

    def boom(*_a, **_k):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(sampling, "draw_from_file", boom)
    assert main(["design", "--data", str(data_dir), "--year", "2018", "--seed", "1"]) == 1
    err = capsys.readouterr().err
    assert "内部错误" in err and "--debug" in err and "Traceback" not in err


def test_console_script_runs():
    exe = shutil.which("quchi-stats")
    cmd = [exe] if exe else [sys.executable, "-m", "quchi_stats.cli"]
    res = subprocess.run([*cmd, "--version"], capture_output=True, text=True, check=False)
    assert res.returncode == 0 and "quchi_stats" in res.stdout


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["design", "--villages", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--villages" in err[0] and "--help" in err[0]


def test_report_command_on_a_users_own_directory(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(data_path(), data)
    out = tmp_path / "rep"
    assert main(["report", "--year", "2017", "--data", str(data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2017 年考核" in text and "罗坑镇 第七条（一） 年度减贫任务" in text
    assert (out / "考核报告.html").is_file() and (out / "flags.csv").is_file()
    assert main(["report", "--year", "2017", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--force" in err[0]
    assert main(["report", "--year", "2017", "--data", str(data), "--out", str(out),
                 "--force"]) == 0
