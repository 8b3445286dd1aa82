"""The 复核 (phase 2) in the entry workbook: ``fieldlist --followup``, ``--into``, and both phases
read by ``check`` and ``report`` exactly as the CSV path reads them.

The whole field path of a two-phase year, from a copy of the bundled data: phase 1 is entered (by an
openpyxl clerk, through the dropdowns) into the phase-1 entry workbook from the bundled 2018 phase-1
results and saved as ``results_2018.xlsx`` (no CSV); ``followup`` draws from it (the same sample as
the bundled one, drawn from the CSV); ``fieldlist --followup --into`` adds the empty 复核 sheets; the
clerk enters the bundled phase-2 results into them. The assessment must equal the bundled CSV's:
estimates, flags and the two-phase decisions.
"""

from __future__ import annotations

import shutil

import openpyxl
import pandas as pd
import pytest

from quchi_stats.assessment import run_assessment
from quchi_stats.cli import main
from quchi_stats.datasets import data_path
from quchi_stats.errors import DataError
from quchi_stats.io import read_table
from quchi_stats.io.entry import FOLLOWUP_SHEET_PREFIX, read_results
from tests.io.test_entry import _fill_as_a_clerk

YEAR = 2018
SEED = 20190301  # the bundled follow-up's seed (docs/followup.md, "Bundled data")


def _values(path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [tuple(c.value for c in r) for r in ws.iter_rows()] for ws in wb.worksheets}


@pytest.fixture(scope="module")
def two_phase(tmp_path_factory):
    """(data directory with results_2018.xlsx holding both phases, its phase-1-only workbook
    values, the bundled CSV results)."""
    root = tmp_path_factory.mktemp("entry_followup")
    src = data_path()
    data = root / "data"
    shutil.copytree(src, data, ignore=shutil.ignore_patterns("followup_*", f"results_{YEAR}.csv"))
    csv = read_table(src / f"results_{YEAR}.csv", "results")
    sample1 = read_table(src / f"sample_{YEAR}" / "sample.csv", "sample")
    phase1 = csv[csv["household_id"].isin(sample1["household_id"])]
    phase2 = csv[~csv["household_id"].isin(sample1["household_id"])]
    assert len(phase2) > 100

    # phase 1: the entry workbook, filled, is the year's results
    form = root / "名单.xlsx"
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data), "--out", str(form)]) == 0
    book = data / f"results_{YEAR}.xlsx"
    _fill_as_a_clerk(form, phase1, book)
    before = _values(book)

    # the follow-up drawn from the workbook is the one the bundled CSV gave
    assert main(["followup", "--year", str(YEAR), "--data", str(data),
                 "--spec", str(data / f"spec_{YEAR}.toml"), "--seed", str(SEED)]) == 0
    drawn = data / f"followup_{YEAR}" / "sample.csv"
    assert drawn.read_bytes() == (src / f"followup_{YEAR}" / "sample.csv").read_bytes()

    # the empty 复核 sheets are added to the results workbook; phase 2 entered in them
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data), "--followup",
                 "--into", str(book)]) == 0
    with_sheets = _values(book)
    _fill_as_a_clerk(book, phase2, book)
    return data, before, with_sheets, csv


def test_into_keeps_every_phase1_cell_and_adds_one_sheet_per_town(two_phase):
    data, before, with_sheets, _ = two_phase
    assert {t: v for t, v in with_sheets.items() if t in before} == before
    added = [t for t in with_sheets if t not in before]
    sample2 = read_table(data / f"followup_{YEAR}" / "sample.csv", "sample")
    assert added == [FOLLOWUP_SHEET_PREFIX + t for t in dict.fromkeys(sample2["town"])]
    assert list(with_sheets)[:len(before)] == list(before)  # phase-1 sheets first, in order
    ids = {r[2] for t in added for r in with_sheets[t][1:]}
    assert ids == set(sample2["household_id"])


def test_both_phases_are_read_as_the_csv(two_phase):
    data, _, _, csv = two_phase
    got = read_results(data / f"results_{YEAR}.xlsx")
    sample1 = read_table(data / f"sample_{YEAR}" / "sample.csv", "sample")
    n1 = int(csv["household_id"].isin(sample1["household_id"]).sum())
    # phase 2 after phase 1, as appended to the CSV (the workbook's order within a phase)
    assert set(got["household_id"][:n1]) == set(csv["household_id"][:n1])
    assert set(got["household_id"][n1:]) == set(csv["household_id"][n1:])
    # the clerk enters only what the frame asks: the status is always asked
    key = got.set_index("household_id")["visit_status"]
    assert key.reindex(csv["household_id"]).tolist() == csv["visit_status"].tolist()


def test_the_two_phase_assessment_equals_the_csv_one(two_phase):
    data, _, _, _ = two_phase
    a = run_assessment(YEAR, data, history=False, power=False)
    b = run_assessment(YEAR, data_path(), history=False, power=False)
    assert a.followup is not None and b.followup is not None
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    pd.testing.assert_frame_equal(a.flags, b.flags)
    pd.testing.assert_frame_equal(a.followup.decisions, b.followup.decisions)
    pd.testing.assert_frame_equal(a.followup.findings, b.followup.findings)
    pd.testing.assert_frame_equal(a.followup.costs, b.followup.costs)
    # the findings must be able to differ: the bundled 复核 decides something
    assert (a.followup.findings["stage"] != "phase1").any()
    assert main(["check", "--year", str(YEAR), "--data", str(data)]) == 0


def _copy(two_phase, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(two_phase[0], data)
    return data, data / f"results_{YEAR}.xlsx"


def _row_of(ws, hid):
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[header.index("户编号")].value == hid:
            return row
    raise AssertionError(hid)


def _first_followup_sheet(wb):
    return next(ws for ws in wb.worksheets if ws.title.startswith(FOLLOWUP_SHEET_PREFIX))


def test_into_refuses_existing_followup_sheets_without_force(two_phase, tmp_path, capsys):
    data, book = _copy(two_phase, tmp_path)
    filled = book.read_bytes()
    args = ["fieldlist", "--year", str(YEAR), "--data", str(data), "--followup", "--into", str(book)]
    assert main(args) == 2
    assert "已有复核工作表" in capsys.readouterr().err
    assert book.read_bytes() == filled  # nothing written
    assert main([*args, "--force"]) == 0  # empty 复核 sheets again; phase 1 kept
    got = _values(book)
    assert {t: v for t, v in got.items() if t in two_phase[1]} == two_phase[1]
    assert got == two_phase[2]


def test_a_household_of_no_followup_sample_in_a_followup_sheet(two_phase, tmp_path):
    data, book = _copy(two_phase, tmp_path)
    wb = openpyxl.load_workbook(book)
    ws = _first_followup_sheet(wb)
    cell = ws.cell(2, 3)
    cell.value = "4402059999999999"  # a household of neither sample
    wb.save(book)
    with pytest.raises(DataError, match=f"results_{YEAR}.xlsx，工作表“{ws.title}”，第 2 行，列“户编号”："
                                        f"户编号“4402059999999999”不在复核样本（followup_{YEAR}/sample.csv）中"):
        run_assessment(YEAR, data, history=False, power=False)
    problems = _check(data)
    assert any(ws.title in p and "第 2 行" in p and "不在复核样本" in p for p in problems)
    assert not any("不在抽查样本中" in p for p in problems)  # said once


def _check(data) -> list[str]:
    from quchi_stats.checks import check_year

    return [str(p) for p in check_year(YEAR, data)]


def test_a_phase1_household_in_a_followup_sheet(two_phase, tmp_path):
    data, book = _copy(two_phase, tmp_path)
    sample1 = read_table(data / f"sample_{YEAR}" / "sample.csv", "sample")
    unused = (sample1["role"] == "reserve") & ~sample1["household_id"].isin(
        two_phase[3]["household_id"])
    hid = sample1.loc[unused, "household_id"].iloc[0]  # a reserve phase 1 did not use
    wb = openpyxl.load_workbook(book)
    ws = _first_followup_sheet(wb)
    ws.cell(2, 3).value = hid
    wb.save(book)
    with pytest.raises(DataError, match=f"工作表“{ws.title}”，第 2 行，列“户编号”：户编号“{hid}”"
                                        "是第一阶段抽查样本户，不在复核样本"):
        run_assessment(YEAR, data, history=False, power=False)
    assert any(ws.title in p and "是第一阶段抽查样本户" in p for p in _check(data))


def test_a_household_visited_in_both_phases_is_refused(two_phase, tmp_path):
    data, book = _copy(two_phase, tmp_path)
    csv = two_phase[3]
    sample1 = read_table(data / f"sample_{YEAR}" / "sample.csv", "sample")
    done = csv[csv["household_id"].isin(sample1["household_id"])
               & (csv["visit_status"] == "completed")]["household_id"].iloc[0]
    wb = openpyxl.load_workbook(book)
    ws = _first_followup_sheet(wb)
    ws.cell(2, 3).value = done  # its 入户状态 (完成) stays
    wb.save(book)
    with pytest.raises(DataError, match=f"工作表“{ws.title}”，第 2 行，列“户编号”：户编号“{done}”"
                                        "第一阶段已入户.*又填在复核工作表中"):
        read_results(book)
    assert any(ws.title in p and "第一阶段已入户" in p for p in _check(data))


def _book(tmp_path, phase1: list[list], phase2: list[list], title: str | None = None):
    """results_2018.xlsx with a 马坝镇 sheet (``title`` row above the header if given) of
    ``phase1`` rows and its 复核 sheet of ``phase2`` rows (户编号, 年度, 入户状态, 满意度)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "马坝镇"
    head = ["户编号", "年度", "入户状态", "满意度"]
    for row in ([[title]] if title else []) + [head, *phase1]:
        ws.append(row)
    ws2 = wb.create_sheet(FOLLOWUP_SHEET_PREFIX + "马坝镇")
    for row in [head, *phase2]:
        ws2.append(row)
    path = tmp_path / f"results_{YEAR}.xlsx"
    wb.save(path)
    return path


def test_a_household_drawn_again_takes_its_followup_row(tmp_path):
    """The conditional method may draw again a household phase 1 did not observe: its 复核 row
    replaces its phase-1 row (无法入户), as the CSV's one updated row does."""
    path = _book(tmp_path, [["4402051002010001", YEAR, "完成", "满意"],
                            ["4402051002010002", YEAR, "无法入户", None]],
                 [["4402051002010002", YEAR, "完成", "不满意"],
                  ["4402051002010003", YEAR, "完成", "满意"]])
    got = read_results(path)
    assert got["household_id"].tolist() == ["4402051002010001", "4402051002010002",
                                            "4402051002010003"]
    assert got["visit_status"].tolist() == ["completed"] * 3
    assert got["satisfaction"].tolist() == ["satisfied", "dissatisfied", "satisfied"]


def test_followup_sheets_without_a_followup(two_phase, tmp_path):
    data, _ = _copy(two_phase, tmp_path)
    shutil.rmtree(data / f"followup_{YEAR}")
    with pytest.raises(DataError, match=f"工作表“{FOLLOWUP_SHEET_PREFIX}.*在复核工作表中，但数据目录中"
                                        f"没有 followup_{YEAR}/"):
        run_assessment(YEAR, data, history=False, power=False)


def test_fieldlist_followup_without_a_followup(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(data_path(), data, ignore=shutil.ignore_patterns("followup_*"))
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data), "--followup",
                 "--out", str(tmp_path / "复核名单.xlsx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"没有 {YEAR} 年的复核样本（followup_{YEAR}/）" in err
    assert not (tmp_path / "复核名单.xlsx").exists()


def test_fieldlist_followup_writes_the_form_and_the_list(tmp_path):
    out = tmp_path / "复核名单.xlsx"
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data_path()), "--followup",
                 "--out", str(out)]) == 0
    sample2 = read_table(data_path() / f"followup_{YEAR}" / "sample.csv", "sample")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [FOLLOWUP_SHEET_PREFIX + t for t in dict.fromkeys(sample2["town"])]
    rows = [r for ws in wb.worksheets for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(r[2] for r in rows) == sorted(sample2["household_id"])
    assert sum(r[4] == "备选" for r in rows) == int((sample2["role"] == "reserve").sum())
    lst = tmp_path / "复核名单.csv"
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data_path()), "--followup",
                 "--out", str(lst)]) == 0
    table = pd.read_csv(lst, dtype=str, encoding="utf-8-sig")
    assert sorted(table["户编号"]) == sorted(sample2["household_id"])
    assert "证件号码" not in table.columns


def test_a_visit_in_both_phases_names_the_true_rows(tmp_path):
    """A title row above the header: the message names the spreadsheet's own row numbers."""
    path = _book(tmp_path, [["4402051002010001", YEAR, "完成", "满意"],
                            ["4402051002010002", YEAR, "替补", "满意"]],
                 [["4402051002010003", YEAR, "完成", "满意"],
                  ["4402051002010002", YEAR, "完成", "不满意"]],
                 title="马坝镇 2018 年入户核查结果")
    with pytest.raises(DataError, match=f"results_{YEAR}.xlsx，工作表“{FOLLOWUP_SHEET_PREFIX}马坝镇”，第 3 行，列“户编号”："
                                        "户编号“4402051002010002”第一阶段已入户（工作表“马坝镇”第 4 行：替补）"):
        read_results(path)




def _add_followup_sheets(data, book):
    """What ``fieldlist --followup --into BOOK --force`` does after verifying the follow-up (the
    verification is tested above; it takes most of the command's time)."""
    from quchi_stats.io.entry import add_followup_sheets, answers_by_frame
    from quchi_stats.spec import load_spec

    spec = load_spec(data / f"spec_{YEAR}.toml", year=YEAR)
    sample2 = read_table(data / f"followup_{YEAR}" / "sample.csv", "sample")
    return add_followup_sheets(book, sample2, YEAR, answers_by_frame(spec), towns=spec.towns,
                               force=True)


def test_into_refuses_a_workbook_whose_parts_it_would_drop(two_phase, tmp_path):
    """A part openpyxl does not carry over (here an embedded object's file, as Excel stores an
    inserted document) would be lost silently by adding the 复核 sheets: nothing is written and the
    clerk is told what and how else (a separate workbook with --out)."""
    import zipfile

    data, book = _copy(two_phase, tmp_path)
    with zipfile.ZipFile(book, "a") as z:
        z.writestr("xl/embeddings/oleObject1.bin", b"\xd0\xcf\x11\xe0 an inserted document")
    with_object = book.read_bytes()
    with pytest.raises(DataError, match=f"^results_{YEAR}.xlsx：工作簿中有加入复核表时无法保留的内容"
                                        f"（嵌入对象），未写入（原文件未改动）；请改用 --out") as e:
        _add_followup_sheets(data, book)
    assert "\n" not in str(e.value)
    assert book.read_bytes() == with_object


def test_into_keeps_comments_pictures_and_charts(two_phase, tmp_path):
    """What openpyxl keeps is not refused: a comment, a picture and a chart on a phase-1 sheet
    survive the added 复核 sheets."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment
    from openpyxl.drawing.image import Image
    from PIL import Image as PILImage

    data, book = _copy(two_phase, tmp_path)
    picture = tmp_path / "章.png"
    PILImage.new("RGB", (8, 8), "red").save(picture)
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    ws["A2"].comment = Comment("已电话核实", "核查员")
    ws.add_image(Image(str(picture)), "Z2")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=1, min_row=1, max_row=4))
    ws.add_chart(chart, "Z20")
    wb.save(book)
    assert len(_add_followup_sheets(data, book)) == 6
    got = openpyxl.load_workbook(book).worksheets[0]
    assert got["A2"].comment.text == "已电话核实"
    assert len(got._images) == 1 and len(got._charts) == 1
