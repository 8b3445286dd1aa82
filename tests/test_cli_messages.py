"""The command line's small things: Chinese messages, synth's refusal, a closed pipe, warnings
said once with a count, no Python argument spelling in messages."""

from __future__ import annotations

import io
import warnings

import pytest

import quchi_stats.cli as cli
from quchi_stats.cli import main
from quchi_stats.errors import OutputExistsError, ParameterError, QuchiStatsWarning


@pytest.mark.parametrize(("argv", "expected"), [
    (["report", "--year", "x"], "参数 --year 应为整数，实际为 'x'"),
    (["check"], "缺少必需的参数：--year"),
    (["frob"], "参数 COMMAND 的值 'frob' 无效，可选："),
    (["power", "--year", "2018", "--allocation", "bad"], "参数 --allocation 的值 'bad' 无效"),
    (["design", "--year", "2018", "--bogus"], "无法识别的参数：--bogus"),
    (["design", "--households", "1,2"], "参数 --households：需要三个用逗号分隔的值"),
])
def test_argparse_errors_are_in_chinese(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("错误：") and expected in err[0]
    for english in ("invalid", "required", "unrecognized", "argument", "choose from"):
        assert english not in err[0]


def test_help_headings_are_in_chinese(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("用法：") and "选项：" in out and "显示本帮助并退出" in out
    assert "usage" not in out and "show this help" not in out


def test_parameter_errors_are_in_chinese_on_the_command_line(capsys):
    assert main(["power", "--year", "2018", "--reps", "10", "--icc", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "错误：参数 icc（simulate_design）应在以下区间内：[0, 1)，实际为 1.5。"
    # the library keeps its English message
    from quchi_stats.errors import check_int

    with pytest.raises(ParameterError, match=r"^The 'reps' parameter of f must be an integer"):
        check_int("reps", 0, "f", minimum=1)


@pytest.mark.parametrize(("message", "shown"), [
    ("The 'level' parameter of f must be in (0, 1). Got 1.5.",
     "参数 level（f）应在以下区间内：(0, 1)，实际为 1.5。"),
    ("The 'reps' parameter of simulate_design must be an integer >= 1. Got 0.",
     "参数 reps（simulate_design）应为不小于 1 的整数，实际为 0。"),
    ("The 'method' parameter of g must be one of 'a', 'b'. Got 'c'.",
     "参数 method（g）应为以下之一：'a', 'b'，实际为 'c'。"),
])
def test_parameter_messages_are_translated(message, shown):
    assert cli._cli_message(ParameterError(message)) == shown


def test_messages_drop_the_python_argument():
    exc = OutputExistsError("reports/2018 已存在；如需重新生成，请加 --force（force=True）。")
    assert cli._cli_message(exc) == "reports/2018 已存在；如需重新生成，请加 --force。"


def test_synth_refuses_a_directory_that_holds_data(tmp_path, capsys):
    d = tmp_path / "mydata"
    d.mkdir()
    (d / "register_2016.csv").write_text("my own register", encoding="utf-8")
    assert main(["synth", "--out", str(d)]) == 2
    err = capsys.readouterr().err
    assert "已有数据" in err and "register_2016.csv" in err and "--force" in err
    assert "force=True" not in err
    assert (d / "register_2016.csv").read_text(encoding="utf-8") == "my own register"


def test_synth_accepts_an_empty_directory_and_force(tmp_path, capsys, monkeypatch):
    written = []
    monkeypatch.setattr("quchi_stats.datasets.write_district",
                        lambda out, **kw: written.append(out) or [])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"")  # not data
    assert main(["synth", "--out", str(empty)]) == 0
    full = tmp_path / "full"
    full.mkdir()
    (full / "results_2018.xlsx").write_bytes(b"")
    assert main(["synth", "--out", str(full), "--force"]) == 0
    assert written == [empty, full]


class _ClosedPipe(io.TextIOBase):
    """stdout whose reader has gone (``quchi-stats … | head``)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        raise io.UnsupportedOperation("no descriptor")


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    status = main(["check", "--year", "2018"])
    monkeypatch.undo()
    assert status == 141
    assert capsys.readouterr().err == ""  # no traceback, no “内部错误”


def test_a_closed_pipe_in_a_real_pipeline():
    import shutil
    import subprocess
    import sys

    exe = shutil.which("quchi-stats")
    cmd = [exe] if exe else [sys.executable, "-m", "quchi_stats.cli"]
    proc = subprocess.Popen([*cmd, "check", "--year", "2018"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before the command prints
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "内部错误" not in err


def test_repeated_warnings_are_said_once_with_a_count(tmp_path, capsys, monkeypatch):
    def cmd(args):
        for _ in range(3):
            warnings.warn("sample.csv：跳过 2 个空行。", QuchiStatsWarning, stacklevel=1)
        warnings.warn("另一件事", QuchiStatsWarning, stacklevel=1)
        return 0

    parser = cli._build_parser()
    monkeypatch.setattr(cli, "_build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["synth"].set_defaults(func=cmd)
    assert main(["synth", "--out", str(tmp_path / "x")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["注意：sample.csv：跳过 2 个空行。（共 3 次）", "注意：另一件事"]
