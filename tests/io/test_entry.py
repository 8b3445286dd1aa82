"""The entry workbook (``fieldlist --out X.xlsx``): written, filled as a clerk would, read back.

The clerk is played with openpyxl: for every household the bundled synthetic results record, the
answers are chosen from the dropdown of that very cell (a value outside the dropdown fails the
test), reserves not used are left blank, and the workbook is saved as ``results_2018.xlsx``. The
results read back must equal the bundled CSV, and the assessment on the filled workbook must give
the same estimates as on the CSV.
"""

from __future__ import annotations

import shutil

import openpyxl
import pandas as pd
import pytest

from quchi_stats.assessment import run_assessment
from quchi_stats.cli import main
from quchi_stats.io import read_table
from quchi_stats.io.entry import (
    ANSWER_COLUMNS,
    UNUSED_RESERVE_ZH,
    answers_by_frame,
    read_results,
)
from quchi_stats.io.schema import LABELS_ZH, RESULTS, SATISFACTION_LEVELS, VISIT_STATUSES
from quchi_stats.spec import load_spec

YEAR = 2018


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    """A copy of the bundled data and the entry workbook written for its 2018 sample."""
    root = tmp_path_factory.mktemp("entry")
    from tests.conftest import single_phase_copy

    # without the 2018 复核: the workbook is the phase-1 sample's, its results replace the CSV
    data = single_phase_copy(root / "data")
    out = root / "名单.xlsx"
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data), "--out", str(out)]) == 0
    return data, out


def _dropdowns(ws) -> dict[str, list[str]]:
    """Cell coordinate -> the values its dropdown offers."""
    out: dict[str, list[str]] = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        choices = dv.formula1.strip('"').split(",")
        for rng in dv.sqref.ranges:
            for row in ws.iter_rows(min_row=rng.min_row, max_row=rng.max_row,
                                    min_col=rng.min_col, max_col=rng.max_col):
                for cell in row:
                    out[cell.coordinate] = choices
    return out


def test_the_workbook_is_an_entry_form(entry):
    data, out = entry
    sample = read_table(data / f"sample_{YEAR}" / "sample.csv", "sample")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == list(dict.fromkeys(sample["town"]))  # one sheet per town, code order
    n = 0
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        assert header[:8] == ["乡镇", "行政村", "户编号", "抽样框", "角色", "备选顺序", "年度", "入户状态"]
        assert ws.freeze_panes == "D2" and ws.print_title_rows == "$1:$1"
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "landscape"  # A4
        drops = _dropdowns(ws)
        for row in ws.iter_rows(min_row=2):
            n += 1
            cells = dict(zip(header, row, strict=True))
            hid = cells["户编号"]
            assert hid.data_type == "s" and isinstance(hid.value, str) and len(hid.value) == 16
            assert cells["抽样框"].value in {"建档立卡户（未在当年退出）", "当年退出户", "非建档立卡户"}
            assert cells["年度"].value == YEAR
            reserve = cells["角色"].value == "备选"
            assert (cells["备注"].value == UNUSED_RESERVE_ZH) == reserve
            assert set(drops[cells["入户状态"].coordinate]) <= set(VISIT_STATUSES.values())
            # the frame's own answer has a dropdown; another frame's answer has none
            own = {"建档立卡户（未在当年退出）": "识别准确", "当年退出户": "退出准确",
                   "非建档立卡户": "漏评"}[cells["抽样框"].value]
            assert drops[cells[own].coordinate] == ["是", "否"]
            for other in {"识别准确", "退出准确", "漏评"} - {own}:
                assert cells[other].coordinate not in drops
            if cells["抽样框"].value != "非建档立卡户":
                assert drops[cells["满意度"].coordinate] == list(SATISFACTION_LEVELS.values())
            else:
                assert cells["满意度"].coordinate not in drops
    assert n == len(sample)
    # no personal data anywhere in the workbook
    register = read_table(data / f"register_{YEAR}.csv", "register")
    drawn = register[register["household_id"].isin(sample["household_id"])]
    text = "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    for col in ("head_name", "id_number", "phone"):
        assert LABELS_ZH[col] not in text
        assert not any(str(v) in text for v in drawn[col].dropna())


def _fill_as_a_clerk(out, results: pd.DataFrame, path) -> dict:
    """Enter ``results`` into the workbook through its dropdowns; reserves not used stay blank."""
    by_id = results.set_index("household_id")
    labels = {c.name: c.label for c in RESULTS.columns}
    wb = openpyxl.load_workbook(out)
    entered = {"households": 0, "substitutes": 0, "blank_reserves": 0, "not_asked": 0}
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        drops = _dropdowns(ws)
        for row in ws.iter_rows(min_row=2):
            cells = dict(zip(header, row, strict=True))
            hid = cells["户编号"].value
            if hid not in by_id.index:
                if cells["角色"].value == "备选":
                    entered["blank_reserves"] += 1
                continue
            r = by_id.loc[hid]
            for name in ("visit_status", *(c.name for c in RESULTS.columns[3:])):
                value = r[name]
                if pd.isna(value):
                    continue
                if isinstance(value, bool | type(pd.NA)) or name not in ("visit_status",
                                                                           "satisfaction"):
                    shown = "是" if bool(value) else "否"
                elif name == "visit_status":
                    shown = VISIT_STATUSES[value]
                else:
                    shown = SATISFACTION_LEVELS[value]
                cell = cells[labels[name]]
                if cell.coordinate not in drops:  # a grey cell: the frame does not ask for it
                    assert name != "visit_status"
                    entered["not_asked"] += 1
                    continue
                assert shown in drops[cell.coordinate], (cell.coordinate, shown)
                cell.value = shown
            entered["households"] += 1
            entered["substitutes"] += r["visit_status"] == "substitute"
    wb.save(path)
    return entered


def test_a_filled_workbook_is_read_as_the_results(entry, tmp_path):
    data, out = entry
    csv = read_table(data / f"results_{YEAR}.csv", "results")
    filled = tmp_path / "data"
    shutil.copytree(data, filled)
    (filled / f"results_{YEAR}.csv").unlink()
    entered = _fill_as_a_clerk(out, csv, filled / f"results_{YEAR}.xlsx")
    assert entered["households"] == len(csv)
    assert entered["substitutes"] >= 1 and entered["blank_reserves"] >= 100

    # what the clerk could enter: the CSV without the answers the household's frame is not asked
    sample = read_table(data / f"sample_{YEAR}" / "sample.csv", "sample")
    asked = answers_by_frame(load_spec(YEAR))
    frame = csv["household_id"].map(sample.set_index("household_id")["frame"])
    expected = csv.copy()
    for col in ANSWER_COLUMNS:
        m = frame.map(lambda f, c=col: c in asked[f]).astype(bool)
        expected[col] = expected[col].where(m, None if expected[col].dtype == object else pd.NA)
    got = read_results(filled / f"results_{YEAR}.xlsx")
    key = "household_id"
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)

    # the whole assessment on the filled workbook gives the CSV's estimates
    a = run_assessment(YEAR, filled, history=False, power=False)  # compared: no power
    b = run_assessment(YEAR, data, history=False, power=False)
    cols = ["indicator", "town", "estimate", "ci_lower", "ci_upper", "n"]
    pd.testing.assert_frame_equal(a.estimates[cols], b.estimates[cols])
    assert a.flags.equals(b.flags)
    # and check finds nothing to say
    assert main(["check", "--year", str(YEAR), "--data", str(filled)]) == 0


def test_answers_without_a_status_are_refused(entry, tmp_path):
    _data, out = entry
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[1]
    header = [c.value for c in ws[1]]
    ws.cell(3, header.index("满意度") + 1, "满意")  # a status forgotten
    path = tmp_path / f"results_{YEAR}.xlsx"
    wb.save(path)
    from quchi_stats.errors import DataError

    with pytest.raises(DataError, match=f"工作表“{ws.title}”.*填了核查结果，却没有填入户状态"):
        read_results(path)


def test_the_csv_list_is_still_written(entry, tmp_path, capsys):
    data, _ = entry
    out = tmp_path / "名单.csv"
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, CSV text
    assert "户编号" in out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert main(["fieldlist", "--year", str(YEAR), "--data", str(data), "--out",
                 str(tmp_path / "x.xlsx"), "--include-personal-data"]) == 2
    assert "录入工作簿不写个人信息" in capsys.readouterr().err


def test_formula_like_names_are_text_and_read_back_as_written(tmp_path):
    import io

    from quchi_stats.datasets import load_fieldwork
    from quchi_stats.io.entry import entry_workbook_bytes

    sample, _ = load_fieldwork(YEAR)
    sample = sample.copy()
    sample.loc[sample["town"] == "马坝镇", "town"] = "=cmd|' /C calc'!A0 & Co"
    first = sample.index[0]
    sample.loc[first, "village"] = "-枫湾06村"
    sample.loc[first, "household_id"] = "+4402051002020002"
    book = openpyxl.load_workbook(io.BytesIO(
        entry_workbook_bytes(sample, YEAR, answers_by_frame(load_spec(YEAR)))))
    ws = next(w for w in book.worksheets if "cmd" in w.title)
    row = [c for c in ws[2]][:3]
    assert [c.value for c in row] == ["'=cmd|' /C calc'!A0 & Co", "'-枫湾06村", "'+4402051002020002"]
    assert all(c.data_type == "s" for ws_ in book.worksheets for r in ws_.iter_rows() for c in r
               if isinstance(c.value, str))
    assert "&&" in ws.oddHeader.center.text  # a name's "&" is not a print-header code
    ws.cell(2, 8).value = "完成"
    path = tmp_path / f"results_{YEAR}.xlsx"
    book.save(path)
    got = read_results(path)
    assert got["household_id"].tolist() == ["+4402051002020002"]
    assert got["visit_status"].tolist() == ["completed"]
