"""The command line: exit codes, one-line errors, the design and verify commands."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
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
     "参数 villages_total（DesignPlan）应不小于 18"),
    (["design", "--verify", "{d}/nothing.json"], "找不到抽样清单"),
    (["power", "--data", "{d}", "--year", "2018", "--reps", "10", "--icc", "1.5"],
     "参数 icc（simulate_design）应在以下区间内：[0, 1)"),
    (["power", "--data", "{d}", "--year", "2018", "--reps", "10", "--indicators", "nope"],
     "参数 indicators（simulate_design）"),
    (["power", "--data", "{d}", "--year", "2020"], "找不到农户台账文件 register_2020.csv"),
])
def test_errors_are_one_line_with_status_2(data_dir, capsys, argv, message):
    argv = [a.replace("{d}", str(data_dir)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_power_command_simulates_a_design_and_writes_csv(data_dir, tmp_path, capsys):
    out = tmp_path / "power.csv"
    argv = ["power", "--data", str(data_dir), "--year", "2018", "--reps", "40", "--seed", "2",
            "--villages", "27", "--households", "20,8,8", "--indicators",
            "satisfaction_rate,identification_accuracy", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "抽查设计模拟：27 个村" in text and "40 次重复" in text and "群众认可度" in text
    # the shipped family is every town × indicator of the year: 9 towns × 8 indicators
    assert "判定检验：beta-二项似然比检验" in text and "族为全部镇 × 指标（72 个检验）" in text
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert len(table) == 18 and set(table["抽查村数"]) == {3}
    assert {"判定把握度", "误判率", "区间覆盖率"} <= set(table.columns)
    assert main(argv) == 2 and "已存在" in capsys.readouterr().err
    assert main([*argv, "--force", "--icc", "satisfaction_rate=0.2"]) == 0
    assert "ICC 群众认可度 0.2，其余 0.05" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--force", "--icc", "x=y"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "应为一个数或“指标=数值”列表" in err[0]


def test_progress_bar_draws_on_stderr(capsys):
    from quchi_stats.cli import _ProgressBar

    bar = _ProgressBar("模拟", width=10)
    bar(500, 1000)
    bar.close()
    assert "[#####.....] 500/1000" in capsys.readouterr().err


def test_bad_register_value_is_one_line(tmp_path, capsys):
    reg = tmp_path / "register_2018.csv"
    text = (data_path() / "register_2018.csv").read_text(encoding="utf-8-sig").splitlines()
    head, first = text[0], text[1].split(",")
    first[3] = "三"  # 人数
    reg.write_text("\n".join([head, ",".join(first), *text[2:50]]) + "\n", encoding="utf-8")
    assert main(["design", "--register", str(reg), "--year", "2018", "--villages", "18"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "错误：register_2018.csv，第 2 行，列“人数”：应为介于 1 与 100 之间的整数，实际为“三”"


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


# --- personal data never reaches an output ---------------------------------------------------
def _valid_id(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def test_no_personal_data_in_any_output_of_a_full_run(tmp_path, capsys):
    """Real-looking personal data (valid ID check digits, mobile numbers) in the register: no
    output of design, report or fieldlist (without --include-personal-data) carries it."""
    import re

    import pandas as pd

    from quchi_stats.errors import _ID_PATTERN, _PHONE_PATTERN
    from tests.conftest import single_phase_copy

    # without the 2018 复核: its manifest would (rightly) refuse the register edited below
    data = single_phase_copy(tmp_path / "data")
    reg_path = data / "register_2018.csv"
    reg = pd.read_csv(reg_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    n = len(reg)
    reg["证件号码"] = [_valid_id(f"440205{19500101 + (i % 28)}{i % 1000:03d}") for i in range(n)]
    reg["联系电话"] = [f"138{i:08d}" for i in range(n)]
    reg.to_csv(reg_path, index=False, encoding="utf-8-sig")
    out = tmp_path / "out"
    assert main(["design", "--register", str(reg_path), "--year", "2018", "--seed", "5",
                 "--out", str(out / "sample")]) == 0
    assert main(["report", "--year", "2018", "--data", str(data), "--out", str(out / "rep")]) == 0
    assert main(["fieldlist", "--year", "2018", "--data", str(data),
                 "--out", str(out / "fieldlist.csv")]) == 0
    captured = capsys.readouterr()
    texts = [captured.out, captured.err]
    for p in out.rglob("*"):
        if p.suffix in (".csv", ".json", ".html"):
            texts.append(p.read_bytes().decode("utf-8", "ignore"))
        elif p.suffix == ".xlsx":
            texts += [t.to_csv() for t in pd.read_excel(p, sheet_name=None, dtype=str).values()]
        elif p.suffix == ".docx":
            import docx

            d = docx.Document(p)
            texts += [q.text for q in d.paragraphs]
            texts += [c.text for t in d.tables for r in t.rows for c in r.cells]
    blob = "\n".join(texts)
    assert len(texts) >= 8
    ids, phones, names = set(reg["证件号码"]), set(reg["联系电话"]), set(reg["户主姓名"])
    assert not any(m.group(0) in ids for m in _ID_PATTERN.finditer(blob))
    assert not any(m.group(0) in phones for m in _PHONE_PATTERN.finditer(blob))
    found = set(re.findall(r"[\u4e00-\u9fff]{3}", blob)) & names
    assert not found - {t for t in found if t.endswith(("镇", "村"))}
    # with the flag, the field list does carry them (for the field teams only)
    assert main(["fieldlist", "--year", "2018", "--data", str(data), "--include-personal-data",
                 "--out", str(out / "fl_personal.csv")]) == 0
    assert (out / "fl_personal.csv").read_text(encoding="utf-8-sig").count("138") > 100


def test_report_encoding_option(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(data_path(), data)
    p = data / "results_2016.csv"
    p.write_bytes(p.read_text(encoding="utf-8-sig").encode("gbk"))
    assert main(["report", "--year", "2016", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--encoding", "utf-8"]) == 2
    assert "不能按编码 utf-8 读取" in capsys.readouterr().err
    assert main(["report", "--year", "2016", "--data", str(data), "--out", str(tmp_path / "r")]) == 0


def test_unknown_town_and_too_many_unusable_records(tmp_path, capsys):
    from tests.conftest import single_phase_copy

    data = single_phase_copy(tmp_path / "data")  # the phase-1 results are edited
    sr = data / "self_report_2018.csv"
    sr.write_text(sr.read_text(encoding="utf-8-sig").replace("罗坑镇", "松山街道"),
                  encoding="utf-8-sig")
    assert main(["report", "--year", "2018", "--data", str(data), "--out", str(tmp_path / "a")]) == 2
    assert "值“松山街道”，乡镇不在农户台账中" in capsys.readouterr().err
    shutil.copy(data_path() / "self_report_2018.csv", sr)
    res = data / "results_2018.csv"
    text = res.read_text(encoding="utf-8-sig").splitlines()
    head = text[0].split(",")
    col = head.index("识别准确")
    rows = []
    for line in text[1:]:
        cells = line.split(",")
        if cells[col] in ("是", "否"):
            cells[col] = ""  # visited, answer lost
        rows.append(",".join(cells))
    res.write_text("\n".join([text[0], *rows]) + "\n", encoding="utf-8-sig")
    assert main(["report", "--year", "2018", "--data", str(data), "--out", str(tmp_path / "b")]) == 2
    assert "缺少核查结果，超过有效样本的 5%" in capsys.readouterr().err


# --- fuzzing the commands with malformed tables ----------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzzing import examples  # noqa: E402
from tests.io.test_readers import _tables  # noqa: E402
from tests.io.test_readers import write_fuzz_csv as _write_fuzz  # noqa: E402


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from quchi_stats.datasets import write_district

    root = tmp_path_factory.mktemp("tiny")
    write_district(root, scale=0.05)
    return root


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(table=_tables())
def test_design_command_on_fuzzed_registers(tmp_path_factory, table):
    d = tmp_path_factory.mktemp("fz")
    _write_fuzz(d / "register_2018.csv", table)
    code = main(["design", "--register", str(d / "register_2018.csv"), "--year", "2018",
                 "--seed", "1", "--villages", "1", "--min-villages", "1", "--out", str(d / "s")])
    assert code in (0, 2)


def _linked_copy(src, dst, replace: str):
    """A data directory whose files link to ``src``'s, except ``replace`` (written by the test)."""
    dst.mkdir()
    for p in src.iterdir():
        if p.name != replace:
            (dst / p.name).symlink_to(p)


@settings(max_examples=examples(120), deadline=None, suppress_health_check=list(HealthCheck))
@given(table=_tables(), which=st.sampled_from(["results", "self_report", "targets"]))
def test_report_command_on_fuzzed_tables(tiny_data, tmp_path_factory, table, which):
    """A malformed results, self-report or targets table: the report command ends with status
    0 or 2 (one-line error), never an internal error. Each example runs the whole command (the
    checks read every input: about 0.2 s), so the suite draws 120 examples (about 40 per table;
    ``read_table`` itself is fuzzed 1000 times per kind in tests/io/test_readers.py);
    ``QUCHI_STATS_FUZZ=deep`` draws 1000 (tests/fuzzing.py)."""
    d = tmp_path_factory.mktemp("fzr")
    _linked_copy(tiny_data, d / "data", f"{which}_2018.csv")
    _write_fuzz(d / "data" / f"{which}_2018.csv", table)
    code = main(["report", "--year", "2018", "--data", str(d / "data"), "--out", str(d / "r")])
    assert code in (0, 2)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(table=_tables())
def test_fieldlist_command_on_fuzzed_samples(tiny_data, tmp_path_factory, table):
    d = tmp_path_factory.mktemp("fzf")
    _linked_copy(tiny_data, d / "data", "sample_2018")
    (d / "data" / "sample_2018").mkdir()
    _write_fuzz(d / "data" / "sample_2018" / "sample.csv", table)
    code = main(["fieldlist", "--year", "2018", "--data", str(d / "data"),
                 "--out", str(d / "fl.csv")])
    assert code in (0, 2)


def test_a_failed_run_leaves_the_earlier_report_intact(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(data_path(), data)
    out = tmp_path / "rep"
    # 2016: the atomic replacement does not depend on the year, and it is the cheapest to report
    assert main(["report", "--year", "2016", "--data", str(data), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before) >= 5
    (data / "results_2016.csv").write_text("户编号,年度\n1,2016\n", encoding="utf-8")
    assert main(["report", "--year", "2016", "--data", str(data), "--out", str(out),
                 "--force"]) == 2
    assert "缺少必需的列：入户状态/visit_status" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
