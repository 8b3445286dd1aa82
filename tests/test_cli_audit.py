"""Issue 10, classes 2 and 3 from the command line: the sample is checked against its manifest
before a report is computed, and outputs are replaced as one set under a lock."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from quchi_stats.cli import main
from quchi_stats.io.atomic import AtomicDirectory


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from quchi_stats.datasets import write_district

    root = tmp_path_factory.mktemp("tiny")
    write_district(root, scale=0.05)
    return root


def _copy(src, dst, *, own=("sample_2018", "results_2018.csv")):
    """A data directory linking to ``src``'s files, with real copies of ``own`` to tamper with."""
    import shutil

    dst.mkdir()
    for p in src.iterdir():
        if p.name in own:
            (shutil.copytree if p.is_dir() else shutil.copy)(p, dst / p.name)
        else:
            (dst / p.name).symlink_to(p)
    return dst


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _write(frame: pd.DataFrame, path) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    path.write_bytes(buf.getvalue().encode("utf-8-sig"))


def _delete_visited(data):
    """One visited household removed from both the sample and the results (consistent files)."""
    sample, results = _read(data / "sample_2018" / "sample.csv"), _read(data / "results_2018.csv")
    hid = results.loc[results["入户状态"] == "完成", "户编号"].iloc[0]
    _write(sample[sample["household_id"] != hid], data / "sample_2018" / "sample.csv")
    _write(results[results["户编号"] != hid], data / "results_2018.csv")


def _dissatisfied_to_reserve(data):
    """A dissatisfied primary household turned into an unused reserve (its result dropped)."""
    sample, results = _read(data / "sample_2018" / "sample.csv"), _read(data / "results_2018.csv")
    bad = results.loc[results["满意度"].isin(["不满意", "很不满意", "比较不满意"]), "户编号"]
    hid = bad.iloc[0] if len(bad) else results["户编号"].iloc[0]
    row = sample["household_id"] == hid
    assert (sample.loc[row, "role"] == "primary").all()
    sample.loc[row, "role"] = "reserve"
    sample.loc[row, "reserve_rank"] = "9"
    _write(sample, data / "sample_2018" / "sample.csv")
    _write(results[results["户编号"] != hid], data / "results_2018.csv")


def _delete_manifest(data):
    (data / "sample_2018" / "manifest.json").unlink()


def _last_years_sample(data):
    """Last year's sample and manifest (consistent with each other) put in this year's folder."""
    import shutil

    for name in ("sample.csv", "manifest.json"):
        shutil.copy(data / "sample_2017" / name, data / "sample_2018" / name)


@pytest.mark.parametrize("tamper, message", [
    (_delete_visited, r"sample_2018/sample\.csv：有 \d+ 行，抽样清单记录 \d+ 行"),
    (_dissatisfied_to_reserve, r"sample_2018/sample\.csv：SHA-256 与抽样清单 manifest\.json 记录的不同"),
    (_delete_manifest, r"sample_2018/manifest\.json：找不到抽样清单"),
    (_last_years_sample, r"sample_2018/manifest\.json：抽样清单记录的是 2017 年的样本，不是本次考核年度 2018 年的"),
], ids=["deleted-household", "role-changed", "manifest-deleted", "last-years-sample"])
def test_report_refuses_a_sample_that_differs_from_its_manifest(tiny, tmp_path, capsys, tamper,
                                                                message):
    import re

    data = _copy(tiny, tmp_path / "data")
    tamper(data)
    out = tmp_path / "rep"
    assert main(["report", "--year", "2018", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # every problem found by the checks `report` runs first, then what to do
    assert re.match(message, err[0]) and err[-1].startswith("报告未生成"), err
    assert err[-2].startswith(f"共 {len(err) - 2} 个问题"), err
    if tamper is not _last_years_sample:  # another year's sample is refused with or without it
        assert "--no-verify" in err[0] and len(err) == 3, err
    else:
        assert err[1] == "sample_2018/sample.csv，列“年度”：全部 {} 行的年度都是 2017，应为本次考核年度 2018" \
            "（是否放入了另一年的文件？）".format(len(_read(data / "sample_2018" / "sample.csv"))), err
    assert not out.exists()


def test_report_refuses_results_of_another_year(tiny, tmp_path, capsys):
    data = _copy(tiny, tmp_path / "data")
    results = _read(data / "results_2018.csv")
    results["年度"] = "2017"
    _write(results, data / "results_2018.csv")
    out = tmp_path / "rep"
    assert main(["report", "--year", "2018", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"results_2018.csv，列“年度”：全部 {len(results)} 行的年度都是 2017，应为本次考核年度" \
                     " 2018（是否放入了另一年的文件？）", err
    assert len(err) == 3 and err[-1].startswith("报告未生成")
    assert not out.exists()


def test_no_verify_does_not_let_another_years_sample_through(tiny, tmp_path, capsys):
    data = _copy(tiny, tmp_path / "data")
    _last_years_sample(data)
    assert main(["report", "--year", "2018", "--data", str(data), "--out", str(tmp_path / "rep"),
                 "--no-verify"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("sample_2018/sample.csv，列“年度”：全部 ") and "都是 2017，应为本次考核年度 2018" in err[0]
    assert len(err) == 3 and err[-1].startswith("报告未生成"), err


def test_an_earlier_years_sample_is_checked_too(tiny, tmp_path, capsys):
    data = _copy(tiny, tmp_path / "data", own=("sample_2017",))
    (data / "sample_2017" / "manifest.json").unlink()
    assert main(["report", "--year", "2018", "--data", str(data), "--out",
                 str(tmp_path / "rep")]) == 2
    assert "sample_2017/manifest.json：找不到抽样清单" in capsys.readouterr().err


_KILLED_REPORT = textwrap.dedent("""
    import sys, time
    import quchi_stats.report.build as build
    real = build.atomic_write_bytes
    def slow(path, data):
        out = real(path, data)
        if path.name == "estimates.csv":
            print("READY", flush=True)
            time.sleep(120)
        return out
    build.atomic_write_bytes = slow
    from quchi_stats.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_no_verify_banner_lock_and_kill(tmp_path, capsys, monkeypatch):
    """--no-verify runs on a tampered sample and says so at the top of the report; a second run
    while the first holds the lock is refused; a run killed (SIGKILL) just after writing
    estimates.csv leaves the earlier report whole."""
    import quchi_stats.assessment as assessment
    from quchi_stats.datasets import data_path

    data = _copy(data_path(), tmp_path / "data")
    _delete_visited(data)
    out = tmp_path / "rep"
    argv = ["report", "--year", "2018", "--data", str(data), "--out", str(out), "--no-verify"]
    real, seen = assessment.run_assessment, []

    def spy(*args, **kwargs):
        seen.append(kwargs)
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(assessment, "run_assessment", spy)
    assert main(argv) == 0
    assert seen[0]["verify"] is False and seen[1].verified is False
    cap = capsys.readouterr()
    assert "未核验抽样清单（--no-verify）" in cap.err
    html = (out / "考核报告.html").read_text(encoding="utf-8")
    body = html[html.index("<body>"):]
    assert body.index("未核验抽样清单") < body.index("一、基本情况")
    assert "样本核验" in _read(out / "estimates.csv").columns
    for p in out.iterdir():  # mark the earlier set, so a new file in it cannot pass for old
        p.write_bytes(p.read_bytes() + b"\n<!-- earlier run -->\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    monkeypatch.setattr(assessment, "run_assessment", lambda *a, **k: seen[1])  # computed above
    with AtomicDirectory(out) as holder:  # another run is writing this report
        holder.discard()
        assert main([*argv, "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "正在写" in err[0] and ".rep.lock" in err[0], err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_REPORT, *argv, "--force"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert line.strip() == "READY" and proc.returncode == -signal.SIGKILL
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no mix, no stray .tmp
    assert any(p.name.startswith(".rep.tmp-") for p in tmp_path.iterdir())  # hidden, beside


def test_design_force_keeps_the_replaced_sample(tiny, tmp_path, capsys):
    data = _copy(tiny, tmp_path / "data", own=())
    base = ["design", "--data", str(data), "--year", "2018", "--out", str(tmp_path / "s"),
            "--villages", "9", "--min-villages", "1"]
    assert main([*base, "--seed", "1"]) == 0
    first = (tmp_path / "s" / "sample.csv").read_bytes()
    assert main([*base, "--seed", "2"]) == 2
    capsys.readouterr()
    assert main([*base, "--seed", "2", "--force"]) == 0
    kept = list((tmp_path / "s" / "replaced").iterdir())
    assert f"被替换的样本及其清单保留在 {kept[0]}" in capsys.readouterr().out
    assert len(kept) == 1 and (kept[0] / "sample.csv").read_bytes() == first
    assert (kept[0] / "manifest.json").is_file()
    capsys.readouterr()
    assert main(["design", "--verify", str(tmp_path / "s" / "manifest.json")]) == 0
    assert "核验通过" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
