"""`quchi-stats notebook` and quchi_stats.notebook: the yearly notebook written from the shipped
template (the executed runs on the bundled data are in test_notebooks.py)."""

from __future__ import annotations

import json
import sys
import warnings
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

from quchi_stats.cli import main
from quchi_stats.datasets import data_path
from quchi_stats.errors import DataError, NotebookExecutionError
from quchi_stats.notebook import (
    INSTALL_HINT,
    TEMPLATE,
    WARNING_COLUMNS_ZH,
    notebook_dict,
    overview_table,
    recorded_warnings,
    truth_comparison,
    warnings_table,
    write_notebook,
)
from quchi_stats.spec import write_spec


def _template() -> dict:
    return json.loads(TEMPLATE.read_text(encoding="utf-8"))


def _src(cell) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


@pytest.fixture
def real_dir(tmp_path):
    """A user's own data directory: no truth file (not synthetic); a register of 200 households."""
    d = tmp_path / "我的数据"
    d.mkdir()
    lines = (data_path() / "register_2018.csv").read_bytes().splitlines(keepends=True)
    (d / "register_2018.csv").write_bytes(b"".join(lines[:201]))
    return d


def test_template_is_narrative_and_calls_only():
    text = TEMPLATE.read_text(encoding="utf-8")
    nb = _template()
    code = "\n".join(_src(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert "曲江" not in text                      # the county comes from the spec
    assert "simplefilter" not in code and "catch_warnings" not in code  # repairs are shown
    assert "threshold=0." not in code and "0.9" not in code  # thresholds come from the spec
    assert ".map({" not in code                    # no code maps of its own (visit statuses …)
    assert "read_csv" not in code and "read_table" not in code  # reading is the library's
    assert [c["id"] for c in nb["cells"]].count("parameters") == 1
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    nbformat.validate(nbformat.reads(text, as_version=4))


def test_no_execute_writes_the_template_with_its_parameters(tmp_path, capsys):
    out = tmp_path / "nb" / "2018.ipynb"
    assert main(["notebook", "--year", "2018", "--data", str(data_path()), "--out", str(out),
                 "--no-execute"]) == 0
    assert "已写出" in capsys.readouterr().out
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    template = _template()["cells"]
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    # the template's cells, in order, the injected parameters right after the parameters cell
    ours = [c for c in nb.cells if c not in injected]
    assert [c.id for c in ours] == [c["id"] for c in template]
    at = [c.id for c in nb.cells].index("parameters")
    assert nb.cells[at + 1] is injected[0]
    assert nb.cells[at].source == _src(template[at])  # the defaults are kept, as papermill does
    params = {}
    exec(injected[0].source, {}, params)  # our own three assignments
    assert params["year"] == 2018 and params["spec"] is None
    assert (out.parent / params["data_dir"]).resolve() == data_path().resolve()
    for c, t in zip(ours, template, strict=True):
        if c.cell_type == "code":
            assert c.source == _src(t) and c.outputs == []
    title = nb.cells[0].source
    assert title.startswith("# 曲江区 2018 年度") and "合成数据" in title
    assert "{{" not in "".join(c.source for c in nb.cells)
    assert any(c.id == "truth" for c in nb.cells)  # synthetic data: compared with the truth


def test_another_county_and_real_data(tmp_path, real_dir):
    spec = write_spec(2018, tmp_path / "参数_2018.toml", county="某某县")
    out = tmp_path / "out" / "分析.ipynb"
    assert main(["notebook", "--year", "2018", "--data", str(real_dir), "--spec", str(spec),
                 "--out", str(out), "--no-execute"]) == 0
    text = out.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    assert nb.cells[0].source.startswith("# 某某县 2018 年度")
    assert "曲江" not in text
    assert "全区" not in text  # the county level is 全县 (the spec's county), in the narrative too
    assert any("与全县水平比较" in c.source for c in nb.cells if c.cell_type == "markdown")
    assert "合成数据" not in nb.cells[0].source and "参数_2018.toml" in nb.cells[0].source
    assert not any("synthetic-only" in c.metadata.get("tags", []) for c in nb.cells)
    injected = next(c for c in nb.cells if c.id == "injected-parameters")
    assert "spec = '../参数_2018.toml'" in injected.source
    assert "data_dir = '../我的数据'" in injected.source


def test_refusals(tmp_path, real_dir, capsys):
    out = tmp_path / "a.ipynb"
    out.write_text("{}", encoding="utf-8")
    base = ["notebook", "--year", "2018", "--data", str(real_dir), "--no-execute"]
    assert main([*base, "--out", str(out)]) == 2
    assert "已存在；如需替换，请加 --force" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "a.html")]) == 2
    assert "应为 .ipynb 笔记本文件" in capsys.readouterr().err
    assert main(["notebook", "--year", "2017", "--data", str(real_dir), "--no-execute",
                 "--out", str(tmp_path / "b.ipynb")]) == 2
    assert "找不到农户台账文件 register_2017" in capsys.readouterr().err
    spec = write_spec(2019, tmp_path / "参数_2019.toml")
    assert main([*base, "--spec", str(spec), "--out", str(tmp_path / "c.ipynb")]) == 2
    assert "与本次考核年度 2018 不符" in capsys.readouterr().err
    assert not (tmp_path / "b.ipynb").exists() and not (tmp_path / "c.ipynb").exists()
    with pytest.raises(ValueError, match="'out' parameter of write_notebook"):
        write_notebook(2018, real_dir, tmp_path / "x.txt", execute=False)


def test_missing_extra_says_what_to_install(tmp_path, real_dir, monkeypatch, capsys):
    for name in ("nbclient", "nbformat", "ipykernel"):
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError
    out = tmp_path / "a.ipynb"
    assert main(["notebook", "--year", "2018", "--data", str(real_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "nbclient、nbformat、ipykernel" in err and INSTALL_HINT in err and "--no-execute" in err
    assert not out.exists()
    # writing without running needs none of them
    assert main(["notebook", "--year", "2018", "--data", str(real_dir), "--out", str(out),
                 "--no-execute"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["nbformat"] == 4


def test_overview_table_has_chinese_headers():
    a = SimpleNamespace(year=2018, overview={"households": 10, "towns": 2, "visited": 7,
                                             "rejects": 0})
    t = overview_table(a)
    assert list(t.columns) == ["乡镇数", "农户数", "实际入户（含替补）", "缺少核查结果的户"]
    assert t.index.tolist() == [2018] and t.index.name == "年度"
    assert t.iloc[0].tolist() == [2, 10, 7, 0]


def test_truth_comparison_puts_flags_beside_the_injected_problems(tmp_path):
    flags = pd.DataFrame({"town": ["乌石镇", "乌石镇", "马坝镇"],
                          "item": ["数字脱贫迹象", "自评错退率", "群众认可度"]})
    watch = pd.DataFrame({"town": ["枫湾镇"], "item": ["漏评率集中"]})
    a = SimpleNamespace(year=2018, flags=flags, watch=watch)
    t = truth_comparison(a, data_path()).set_index("乡镇")
    truth = pd.read_csv(data_path() / "truth_2018.csv")
    towns = list(dict.fromkeys(truth.loc[truth["town"] != "全区", "town"]))
    assert t.index.tolist() == towns
    assert t.loc["乌石镇", "标记"] == "数字脱贫迹象、自评错退率"
    assert t.loc["乌石镇", "注入的问题"].count("数字脱贫（乌石0") == 2
    assert "自评错退率虚报" in t.loc["乌石镇", "注入的问题"]
    assert t.loc["枫湾镇", "需关注"] == "漏评率集中" and t.loc["枫湾镇", "标记"] == ""
    # 马坝镇 has no injected problem: a flag there shows as a false alarm
    assert t.loc["马坝镇", "注入的问题"] == "" and t.loc["马坝镇", "标记"] == "群众认可度"
    empty = SimpleNamespace(year=2018, flags=flags.iloc[:0], watch=watch.iloc[:0])
    assert (truth_comparison(empty, data_path())["标记"] == "").all()
    with pytest.raises(DataError, match="找不到真值（合成数据）文件 truth_2018"):
        truth_comparison(a, tmp_path)


def test_a_failing_cell_is_named_and_the_notebook_kept(tmp_path, real_dir, monkeypatch):
    """The run stops at the failing cell; what ran is written, with the error, for reading."""
    import quchi_stats.notebook as qn

    nb = notebook_dict(2018, real_dir, tmp_path / "x.ipynb")
    setup = next(c for c in nb["cells"] if c["id"] == "setup")
    nb["cells"] = [
        nb["cells"][0],  # the title
        {**setup, "source": ["print('第一格')"]},
        {**setup, "id": "fails", "source": ["raise ValueError('证件号码 440205199001011234 有误')"]},
        {**setup, "id": "never", "source": ["print('不会执行')"]},
    ]
    monkeypatch.setattr(qn, "notebook_dict", lambda *a, **k: nb)
    out = tmp_path / "x.ipynb"
    with pytest.raises(NotebookExecutionError, match=r"第 2 个代码单元格出错（ValueError") as e:
        write_notebook(2018, real_dir, out, timeout=120)
    assert "440205199001011234" not in str(e.value) and str(out) in str(e.value)
    done = nbformat.read(out, as_version=4)
    assert done.cells[1].outputs[0]["text"] == "第一格\n"
    error = done.cells[2].outputs[0]
    assert error["output_type"] == "error" and "440205199001011234" not in json.dumps(error)
    assert done.cells[3].outputs == []


def test_inputs_are_checked_before_running(tmp_path, real_dir, capsys):
    """As `report`: every problem of `check` is listed and nothing runs (here: no sample, no
    results in the directory)."""
    out = tmp_path / "a.ipynb"
    assert main(["notebook", "--year", "2018", "--data", str(real_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "sample_2018" in err and "results_2018" in err
    assert "笔记本未生成：请改正以上问题后重新运行" in err
    assert not out.exists()


def test_warnings_are_recorded_and_shown_as_a_table_without_paths():
    """The notebook shows the library's warnings (the counted repairs) as a table of source and
    message, never the developer's install path, and never drops one."""

    from quchi_stats.errors import QuchiStatsWarning

    path = "/home/dev/work/quchi_stats/src/quchi_stats/followup/conditional.py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a silencing filter outside is not obeyed inside
        with recorded_warnings() as caught:
            for _ in range(2):
                warnings.warn_explicit("以下乡镇×抽样框改按镇×抽样框调整权数：甲镇·建档立卡户",
                                       QuchiStatsWarning, path, 234)
            warnings.warn_explicit("跳过 2 行标题", UserWarning,
                                   "C:\\Users\\dev\\quchi_stats\\io\\readers.py", 10)
            warnings.warn_explicit("某个库的提示", DeprecationWarning, "/opt/x/other_lib/mod.py", 1)
    t = warnings_table(caught)
    assert list(t.columns) == list(WARNING_COLUMNS_ZH) == ["来源", "信息", "次数"]
    assert t.to_dict("records")[0] == {
        "来源": "quchi_stats.followup.conditional",
        "信息": "以下乡镇×抽样框改按镇×抽样框调整权数：甲镇·建档立卡户", "次数": 2}
    assert len(t) == 3 and t["次数"].sum() == 4  # every warning counted, none dropped
    assert not t["来源"].str.contains("/|\\\\|dev|home", regex=True).any(), t["来源"].tolist()
    assert t["来源"].iloc[2] == "mod.py"
    assert warnings_table([]).empty and list(warnings_table([]).columns) == ["来源", "信息", "次数"]


def test_show_warnings_shows_the_table_or_says_there_was_none(capsys, monkeypatch):
    """A block that raised nothing gets one line, not an empty table; one that raised warnings
    gets their table (displayed, not printed)."""
    import IPython.display

    from quchi_stats.notebook import NO_WARNINGS_ZH, show_warnings

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    with recorded_warnings() as caught:
        pass
    show_warnings(caught)
    assert capsys.readouterr().out == NO_WARNINGS_ZH + "\n" and shown == []
    with recorded_warnings() as caught:
        warnings.warn("跳过 2 行标题", stacklevel=1)
    show_warnings(caught)
    assert capsys.readouterr().out == ""
    assert len(shown) == 1 and shown[0].equals(warnings_table(caught))


def test_template_shows_the_repairs_of_reading_and_checking():
    nb = _template()
    by_id = {c["id"]: _src(c) for c in nb["cells"]}
    calls = [src for src in by_id.values() if "run_assessment(" in src or "check_year(" in src]
    assert len(calls) == 2
    for src in calls:  # each call that reads the input records its warnings and shows the table
        assert "with recorded_warnings() as caught:" in src and "show_warnings(caught)" in src
