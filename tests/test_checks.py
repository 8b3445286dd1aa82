"""``quchi-stats check``: every problem of a year's inputs in one run, one line each."""

from __future__ import annotations

import csv
import shutil

import pytest

from quchi_stats.checks import Problem, check_year
from quchi_stats.cli import main
from quchi_stats.datasets import data_path

YEAR = 2018


def _copy_year(dst, year=YEAR):
    src = data_path()
    dst.mkdir()
    for stem in ("register", "results", "self_report", "targets"):
        shutil.copy(src / f"{stem}_{year}.csv", dst / f"{stem}_{year}.csv")
    shutil.copytree(src / f"sample_{year}", dst / f"sample_{year}")
    if (src / f"followup_{year}").is_dir():  # the 复核 whose results are in results_YYYY
        shutil.copytree(src / f"followup_{year}", dst / f"followup_{year}")
        shutil.copy(src / f"spec_{year}.toml", dst / f"spec_{year}.toml")  # its rule's spec
    return dst


def _edit(path, edits):
    """Set cells of a CSV: ``edits`` maps (data row index, header) to the new text."""
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    for (i, col), value in edits.items():
        rows[i][rows[0].index(col)] = value
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


@pytest.fixture
def planted(tmp_path):
    """Five entry mistakes in four kinds and two files."""
    d = _copy_year(tmp_path / "data")
    _edit(d / f"results_{YEAR}.csv", {
        (1, "满意度"): "满意吗",            # not a 满意度 level
        (2, "识别准确"): "也许",            # not 是/否 (对/错 are read as 是/否 variants)
        (3, "年度"): "2017",               # another year
        (4, "户编号"): "4402059999999999",  # not drawn
    })
    _edit(d / f"targets_{YEAR}.csv", {(1, "计划脱贫户数"): "-3"})  # a negative count
    return d


def test_check_lists_every_problem_at_once(planted, capsys):
    assert main(["check", "--year", str(YEAR), "--data", str(planted)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("共 5 个问题")
    lines = err[:-1]
    assert lines == [
        "results_2018.csv，第 2 行，列“满意度”：值“满意吗”，应为满意、基本满意、不满意、很不满意 之一",
        "results_2018.csv，第 3 行，列“识别准确”：值“也许”，应为是/否（或 Y/N、1/0）",
        "results_2018.csv，第 4 行，列“年度”：值“2017”，应为本次考核年度 2018",
        "results_2018.csv，第 5 行，列“户编号”：值“4402059999999999”，户编号不在抽查样本中",
        "targets_2018.csv，第 2 行，列“计划脱贫户数”：值“-3”，应为介于 0 与 10,000,000 之间的整数",
    ]


def test_report_lists_the_same_problems_and_writes_nothing(planted, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", "--year", str(YEAR), "--data", str(planted), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "共 5 个问题" in err and "值“满意吗”" in err and "值“-3”" in err
    assert "报告未生成" in err and not out.exists()


def test_check_passes_the_bundled_data(capsys):
    assert main(["check", "--year", str(YEAR)]) == 0
    assert "未发现问题" in capsys.readouterr().out


def test_problems_are_objects_with_their_place_and_mask_personal_values(tmp_path):
    d = _copy_year(tmp_path / "data")
    _edit(d / f"results_{YEAR}.csv", {(1, "户编号"): "13812345678", (2, "入户状态"): "替补",
                                      (3, "漏评"): "也许", (5, "漏评"): "也许"})
    problems = check_year(YEAR, d)
    assert all(isinstance(p, Problem) for p in problems)
    where = {(p.row, p.column) for p in problems}
    assert where == {(2, "户编号"), (3, "入户状态"), (4, "漏评"), (6, "漏评")}
    text = "\n".join(map(str, problems))
    assert "138****5678" in text and "13812345678" not in text
    assert "正选户的入户状态不能是“替补”" in text


def test_a_structural_problem_is_one_line_and_other_files_are_still_checked(tmp_path):
    d = _copy_year(tmp_path / "data")
    text = (d / f"results_{YEAR}.csv").read_text(encoding="utf-8-sig")
    (d / f"results_{YEAR}.csv").write_text(text.replace("入户状态", "状态", 1), encoding="utf-8-sig")
    _edit(d / f"self_report_{YEAR}.csv", {(2, "年度"): "2019"})
    (d / "sample_2018" / "manifest.json").unlink()
    problems = [str(p) for p in check_year(YEAR, d)]
    assert len(problems) == 3
    assert any("manifest.json" in p and "找不到抽样清单" in p for p in problems)
    assert any(p.startswith("results_2018.csv：缺少必需的列：入户状态") for p in problems)
    assert any(p.startswith("self_report_2018.csv，第 3 行，列“年度”") for p in problems)


def test_a_results_csv_and_workbook_side_by_side_are_a_problem(tmp_path):
    d = _copy_year(tmp_path / "data")
    (d / f"results_{YEAR}.xlsx").write_bytes(b"")  # the filled workbook saved beside the CSV
    problems = [str(p) for p in check_year(YEAR, d)]
    assert problems == [f"{d}：results_{YEAR}.csv、results_{YEAR}.xlsx 都存在，不知道该用哪一个"
                        "入户核查结果文件；请删去或改名其中一个"]


def test_a_spec_for_another_year_is_a_problem(tmp_path):
    d = _copy_year(tmp_path / "data")
    spec = tmp_path / "参数.toml"
    from importlib import resources

    text = (resources.files("quchi_stats") / "specs" / "assessment_2017.toml").read_text("utf-8")
    spec.write_text(text, encoding="utf-8")
    problems = [str(p) for p in check_year(YEAR, d, spec=spec)]
    assert problems == [f"参数.toml：year = 2017，与本次考核年度 {YEAR} 不符：考核参数须是当年的（退出线等逐年不同）"]


def test_absent_optional_files_are_said_and_the_report_names_the_checks_not_made(tmp_path):
    from quchi_stats.assessment import run_assessment
    from quchi_stats.report import build_html, report_tables

    d = _copy_year(tmp_path / "data")
    (d / f"self_report_{YEAR}.csv").unlink()
    (d / f"targets_{YEAR}.csv").unlink()
    with pytest.warns(UserWarning) as caught:
        assert check_year(YEAR, d) == []
    said = " ".join(str(w.message) for w in caught)
    assert "第九条" in said and "第七条（一）" in said
    a = run_assessment(YEAR, d, history=False, power=False)  # notes, not power
    assert any("第九条" in n for n in a.notes) and any("第七条（一）" in n for n in a.notes)
    notes = report_tables(a)["notes"]["note"].tolist()
    assert notes == list(a.notes)
    html = build_html(a)
    assert "本报告未进行的检查" in html and "第九条" in html and "第七条（一）" in html


def test_mistakes_in_the_entry_workbook_name_their_sheets(tmp_path, capsys):
    import openpyxl

    from quchi_stats.io import read_table
    from tests.io.test_entry import _fill_as_a_clerk

    d = _copy_year(tmp_path / "data")
    book = tmp_path / "录入表.xlsx"
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(d), "--out", str(book)]) == 0
    results = read_table(d / f"results_{YEAR}.csv", "results")
    (d / f"results_{YEAR}.csv").unlink()
    path = d / f"results_{YEAR}.xlsx"
    _fill_as_a_clerk(book, results, path)
    wb = openpyxl.load_workbook(path)
    first, second = wb.worksheets[0], wb.worksheets[3]
    head = [c.value for c in first[1]]
    first.cell(2, head.index("满意度") + 1, "还行")           # typed over the dropdown
    status = head.index("入户状态") + 1
    done = next(r for r in range(6, second.max_row + 1) if second.cell(r, status).value == "完成")
    second.cell(done, status).value = None                     # status deleted, answers kept
    moved = first.cell(4, head.index("户编号") + 1).value      # a household entered twice
    second.cell(5, head.index("户编号") + 1, moved)
    wb.save(path)
    capsys.readouterr()
    assert main(["check", "--year", str(YEAR), "--data", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("共 3 个问题"), err
    assert err[0] == (f"results_{YEAR}.xlsx，工作表“{first.title}”，第 2 行，列“满意度”：值“还行”，"
                      "应为满意、基本满意、不满意、很不满意 之一")
    assert err[2].startswith(f"results_{YEAR}.xlsx，工作表“{second.title}”，第 {done} 行，列“入户状态”："
                             "填了核查结果，却没有填入户状态")
    assert err[1] == (f"results_{YEAR}.xlsx，工作表“{second.title}”，第 5 行，列“户编号”：值“{moved}”，"
                      f"重复（首次出现在工作表“{first.title}”第 4 行）")


# --- fuzzing: check_year never fails on a malformed table, it lists it -----------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.io.test_readers import _tables, write_fuzz_csv  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from quchi_stats.datasets import write_district

    root = tmp_path_factory.mktemp("tiny")
    write_district(root, scale=0.05)
    return root


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(table=_tables(),
       which=st.sampled_from(["results", "self_report", "targets", "register", "sample"]))
def test_fuzzed_tables_are_listed_not_crashed_on(tiny, tmp_path_factory, table, which):
    d = tmp_path_factory.mktemp("fzc") / "data"
    d.mkdir()
    for p in tiny.iterdir():
        if p.name.endswith(f"_{YEAR}.csv") or p.name == f"sample_{YEAR}":
            (d / p.name).symlink_to(p)
    if which == "sample":
        (d / f"sample_{YEAR}").unlink()
        (d / f"sample_{YEAR}").mkdir()
        target = d / f"sample_{YEAR}" / "sample.csv"
    else:
        (d / f"{which}_{YEAR}.csv").unlink()
        target = d / f"{which}_{YEAR}.csv"
    write_fuzz_csv(target, table)
    problems = check_year(YEAR, d, verify=False)
    assert all("\n" not in str(p) for p in problems)


def test_register_towns_left_out_of_the_spec_are_named_in_one_warning(tmp_path, capsys):
    """Towns the register has and the spec's ``towns`` leaves out are listed last everywhere: check
    names them in one Chinese line, a warning, and the exit status stays that of the problems."""
    from importlib import resources

    d = _copy_year(tmp_path / "data")
    text = (resources.files("quchi_stats") / "specs" / f"assessment_{YEAR}.toml").read_text("utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("towns ="))
    short = line.replace(', "白土镇"', "").replace(', "罗坑镇"', "")
    assert short != line
    spec = tmp_path / "参数.toml"
    spec.write_text(text.replace(line, short), encoding="utf-8")
    assert main(["check", "--year", str(YEAR), "--data", str(d), "--spec", str(spec)]) == 0
    out = capsys.readouterr()
    said = [ln for ln in out.err.splitlines() if "towns" in ln]
    assert said == [f"注意：register_{YEAR}.csv 中的 2 个乡镇（白土镇、罗坑镇）不在考核参数的乡镇顺序（towns）中："
                    "样本、报告和各表把它们排在所列各镇之后；如是笔误或漏列，请改正考核参数的 towns。"]
    assert "未发现问题" in out.out
    # the shipped spec lists every town: nothing said
    assert main(["check", "--year", str(YEAR), "--data", str(d)]) == 0
    assert "towns" not in capsys.readouterr().err
    # with a problem elsewhere the status is the problems' (2), and the towns are still named
    _edit(d / f"targets_{YEAR}.csv", {(1, "计划脱贫户数"): "-3"})
    assert main(["check", "--year", str(YEAR), "--data", str(d), "--spec", str(spec)]) == 2
    assert "白土镇、罗坑镇" in capsys.readouterr().err


def test_unlisted_towns_in_register_order():
    import pandas as pd

    from quchi_stats.checks import unlisted_towns

    reg = pd.DataFrame({"town": ["乙镇", "甲镇", "丙镇", "乙镇", None, "丁镇"]})
    assert unlisted_towns(reg, ("甲镇",)) == ["乙镇", "丙镇", "丁镇"]
    assert unlisted_towns(reg, ()) == []  # no order given: nothing is left out
    assert unlisted_towns(reg, ["甲镇", "乙镇", "丙镇", "丁镇"]) == []


# --- risk strata: a reserve stands in only for a primary of its own group ----------------------

@pytest.fixture(scope="module")
def risky(tmp_path_factory):
    """A small synthetic district with the optional risk columns, drawn with risk_factor 3."""
    from quchi_stats.datasets import write_district

    root = tmp_path_factory.mktemp("risky")
    write_district(root, scale=0.05, risk_columns=True, plan_overrides={"risk_factor": 3.0})
    return root


def _swap_in_reserve(root, dst, reserve_risk: bool):
    """Copy the 2016 year and, in a split village, make an *other* primary 无法入户 and a reserve
    of the risk group (``reserve_risk``) or of the other group its 替补. Returns the results row
    (as the spreadsheet numbers it) and the household of the reserve."""
    import pandas as pd

    from quchi_stats.sampling.draw import split_villages

    year = 2016
    dst.mkdir()
    for p in root.glob(f"*_{year}*"):
        (shutil.copytree if p.is_dir() else shutil.copy)(p, dst / p.name)
    s = pd.read_csv(dst / f"sample_{year}" / "sample.csv", encoding="utf-8-sig",
                    dtype={"household_id": str})
    res_path = dst / f"results_{year}.csv"
    res = pd.read_csv(res_path, encoding="utf-8-sig", dtype=str)
    visited = set(res["户编号"])
    for town, village in sorted(split_villages(s.assign(risk=s["risk"].map(
            {True: True, False: False, "True": True, "False": False})))):
        g = s[(s["town"] == town) & (s["village"] == village) & (s["frame"] == "non_registered")]
        prim = g[(g["role"] == "primary") & (g["risk"].astype(str) == "False")]
        prim = prim[prim["household_id"].isin(
            res.loc[res["入户状态"] == "完成", "户编号"])]
        spare = g[(g["role"] == "reserve") & (g["risk"].astype(str) == str(reserve_risk))
                  & ~g["household_id"].isin(visited)].sort_values("reserve_rank")
        # the group's earlier reserves are unused too (reserves are used in order)
        used = g[(g["role"] == "reserve") & (g["risk"].astype(str) == str(reserve_risk))
                 & g["household_id"].isin(visited)]
        if len(prim) and len(spare) and used.empty:
            break
    else:
        raise AssertionError("no split village to plant the mistake in")
    i = int(res.index[res["户编号"] == prim["household_id"].iloc[0]][0])
    res.loc[i, "入户状态"] = "无法入户"
    res.loc[i, res.columns.drop(["户编号", "年度", "入户状态"])] = None
    hid = spare["household_id"].iloc[0]
    res.loc[len(res)] = {"户编号": hid, "年度": str(year), "入户状态": "替补", "漏评": "否",
                         "满意度": "满意"}
    res.to_csv(res_path, index=False, encoding="utf-8-sig")
    return len(res) + 1, hid


def test_a_risk_reserve_for_another_household_is_named_by_row(risky, tmp_path):
    row, hid = _swap_in_reserve(risky, tmp_path / "bad", reserve_risk=True)
    problems = check_year(2016, tmp_path / "bad")
    assert len(problems) == 1, [str(p) for p in problems]
    p = problems[0]
    assert (p.file, p.row, p.column, p.value) == ("results_2016.csv", row, "户编号", hid)
    assert "风险户的备选户" in p.message and "其他户的正选户只能由其他户的备选户替补" in str(p)
    assert "\n" not in str(p)
    # the same swap with a reserve of the other group is right
    _swap_in_reserve(risky, tmp_path / "good", reserve_risk=False)
    assert check_year(2016, tmp_path / "good") == []


def test_the_risk_drawn_years_pass_the_check(risky):
    for year in (2016, 2018):   # 2018 with its 复核 sample (no risk column) appended
        assert check_year(year, risky) == [], year
