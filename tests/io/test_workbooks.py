"""Workbooks read through python-calamine: .xls (BIFF) with a title row, several sheets (one
table when they share the header, else refused), --sheet recorded in the manifest and reused;
header aliases and codes of the national system's exports, user aliases, common value forms
repaired and counted, and ids that Excel turned into numbers."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from quchi_stats.errors import DataError, ParameterError, QuchiStatsWarning
from quchi_stats.io import read_table
from quchi_stats.io.readers import load_columns

DATA = Path(__file__).parent / "data"
HEADER = ["乡镇", "行政村", "户编号", "人数", "是否建档立卡", "脱贫年度", "贫困户属性", "劳动能力",
          "人均可支配收入", "省定贫困村"]
MABA = [["马坝镇", "马坝01村", "4402051002010001", "3", "是", "2017", "一般贫困户", "是", "7012.5", "否"],
        ["马坝镇", "马坝01村", "4402051002010002", "4", "否", "", "", "是", "15000", "否"]]
DATANG = [["大塘镇", "大塘01村", "4402051012010001", "2", "是", "2019", "低保贫困户", "否", "6100", "是"]]


def _csv(tmp_path, rows, header=HEADER, name="r.csv"):
    p = tmp_path / name
    p.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return p


def _read(path, kind="register", **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = read_table(path, kind, **kw)
    return out, [str(w.message) for w in caught if issubclass(w.category, QuchiStatsWarning)]


def _book(path, sheets: dict[str, list[list]]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


# --- .xls and several sheets --------------------------------------------------------------

def test_xls_with_title_row_reads_like_the_csv(tmp_path):
    xls, notes = _read(DATA / "register_title.xls")
    csv, _ = _read(_csv(tmp_path, MABA))
    pd.testing.assert_frame_equal(xls, csv)
    assert xls["household_id"].tolist() == ["4402051002010001", "4402051002010002"]
    assert notes == ["register_title.xls：前 1 行是标题，表头取第 2 行。"]  # empty Sheet2/3 ignored


def test_xls_sheets_sharing_the_header_are_one_register_with_a_counted_note(tmp_path):
    reg, notes = _read(DATA / "register_towns.xls")
    csv, _ = _read(_csv(tmp_path, MABA + DATANG))
    pd.testing.assert_frame_equal(reg, csv)
    assert "register_towns.xls：2 个工作表表头相同，合为一个农户台账读入：马坝镇 2 行、大塘镇 1 行，共 3 行。" in notes
    assert any("工作表“马坝镇”、“大塘镇”的前 1 行是标题" in n for n in notes)
    only, _ = _read(DATA / "register_towns.xls", sheet="大塘镇")
    assert only["town"].tolist() == ["大塘镇"]


def test_error_values_in_an_xls_are_refused():
    # calamine reads #N/A as a blank cell: 脱贫年度 would silently become "not exited"
    with pytest.raises(DataError, match="register_error.xls：工作表“台账”单元格 F3 是错误值“#N/A”"):
        read_table(DATA / "register_error.xls", "register")


def test_biff_reader(tmp_path):
    from quchi_stats.io._biff import error_cells

    assert error_cells(DATA / "register_title.xls") == {}
    assert error_cells(DATA / "register_error.xls") == {"台账": ("F3", "#N/A")}
    assert error_cells(Path(__file__)) is None  # not a compound file: no check, calamine reports it
    broken = tmp_path / "b.xls"
    broken.write_bytes((DATA / "register_title.xls").read_bytes()[:1000])
    assert error_cells(broken) is None


def test_xlsx_sheets_per_town_are_one_register(tmp_path):
    path = _book(tmp_path / "r.xlsx", {"马坝镇": [HEADER, *MABA], "大塘镇": [HEADER, *DATANG],
                                        "空表": []})
    reg, notes = _read(path)
    assert reg["town"].tolist() == ["马坝镇", "马坝镇", "大塘镇"]
    assert any("2 个工作表表头相同" in n and "共 3 行" in n for n in notes)


@pytest.mark.parametrize("formula", [False, True])
def test_hidden_and_chart_sheets_are_not_read_unless_named(tmp_path, formula):
    path = _book(tmp_path / "r.xlsx", {"台账": [HEADER, *MABA], "下拉选项": [["是"], ["否"]]})
    wb = openpyxl.load_workbook(path)
    wb["下拉选项"].sheet_state = "hidden"
    if formula:  # the openpyxl path (which cannot open an empty chart sheet, as before)
        wb["下拉选项"]["B1"] = "=A1"
    else:
        wb.create_chartsheet("图")
    wb.save(path)
    reg, notes = _read(path)
    assert len(reg) == 2
    assert any("隐藏的工作表 “下拉选项” 未读入" in n for n in notes)
    with pytest.raises(DataError, match="公式没有保存计算结果" if formula else "缺少必需的列"):
        read_table(path, "register", sheet="下拉选项")


def test_sheets_with_other_headers_are_refused_listing_the_sheets(tmp_path):
    with pytest.raises(DataError) as exc:
        read_table(DATA / "register_mixed.xls", "register")
    msg = str(exc.value)
    assert "\n" not in msg and "“台账”" in msg and "“说明”" in msg and "--sheet" in msg
    other = [*HEADER, "备注"]
    path = _book(tmp_path / "r.xlsx", {"A": [HEADER, *MABA], "B": [other, [*DATANG[0], "x"]]})
    with pytest.raises(DataError, match="“A”（3 行）、“B”（2 行，表头不同）"):
        read_table(path, "register")
    reg, _ = _read(path, sheet="B")  # --sheet picks one; by position too
    assert reg["town"].tolist() == ["大塘镇"]
    assert read_table(path, "register", sheet="2")["town"].tolist() == ["大塘镇"]
    assert read_table(path, "register", sheet=0)["town"].tolist() == ["马坝镇", "马坝镇"]


def test_union_checks_ids_across_sheets(tmp_path):
    twin = [[*DATANG[0][:2], MABA[0][2], *DATANG[0][3:]]]
    path = _book(tmp_path / "r.xlsx", {"马坝镇": [HEADER, *MABA], "大塘镇": [HEADER, *twin]})
    with pytest.raises(DataError, match=r"工作表“大塘镇”，第 2 行.*首次出现在工作表“马坝镇”第 2 行"):
        read_table(path, "register")


def test_bad_value_on_a_sheet_names_the_sheet(tmp_path):
    bad = [[*DATANG[0][:3], "abc", *DATANG[0][4:]]]
    path = _book(tmp_path / "r.xlsx", {"马坝镇": [HEADER, *MABA], "大塘镇": [HEADER, *bad]})
    with pytest.raises(DataError, match="r.xlsx 工作表“大塘镇”，第 2 行，列“人数”"):
        read_table(path, "register")


def test_xlsx_numbers_dates_and_booleans_read_through_calamine(tmp_path):
    import datetime as dt

    rows = [HEADER, ["马坝镇", "马坝01村", "4402051002010001", 3, True, dt.datetime(2017, 12, 31),
                     "一般贫困户", "是", 7012.5, False]]
    reg, notes = _read(_book(tmp_path / "r.xlsx", {"台账": rows}))
    assert reg["household_size"].tolist() == [3] and reg["registered"].tolist() == [True]
    assert reg["exit_year"].tolist() == [2017] and reg["priority_village"].tolist() == [False]
    assert any("“2017-12-31”读作“2017”" in n for n in notes)


def test_a_sheet_with_formulas_still_goes_through_the_formula_checks(tmp_path):
    rows = [HEADER, [*MABA[0][:3], "=1+2", *MABA[0][4:]]]
    path = _book(tmp_path / "r.xlsx", {"台账": rows})  # openpyxl saves no cached value
    with pytest.raises(DataError, match="公式没有保存计算结果"):
        read_table(path, "register")


# --- aliases and codes of the national system's exports ----------------------------------

@pytest.mark.parametrize(("alias", "column"), [
    ("家庭人口数", "household_size"), ("脱贫年份", "exit_year"), ("aac023", "exit_year"),
    ("乡(镇)", "town"), ("乡（镇）", "town"), ("行政村名称", "village"), ("劳动技能", "able_to_work"),
])
def test_export_header_aliases(tmp_path, alias, column):
    from quchi_stats.io.schema import LABELS_ZH

    header = [alias if LABELS_ZH.get(column) == h else h for h in HEADER]
    assert header != HEADER
    reg, _ = _read(_csv(tmp_path, MABA, header))
    assert column in reg and len(reg) == 2


def test_id_number_and_exit_status_aliases_and_codes(tmp_path):
    header = [*HEADER, "户主证件号码", "脱贫属性"]
    rows = [[*MABA[0], "", "已脱贫"], [*MABA[1], "", "未脱贫"],
            [*DATANG[0][:2], "4402051012010009", *DATANG[0][3:], "", "返贫"],
            [*DATANG[0][:2], "4402051012010010", *DATANG[0][3:], "", "已脱贫（不再享受政策）"],
            [*DATANG[0][:2], "4402051012010011", *DATANG[0][3:], "", "3"]]
    reg, notes = _read(_csv(tmp_path, rows, header))
    assert "id_number" in reg
    assert reg["exit_status"].tolist() == ["exited", "not_exited", "returned", "exited", "returned"]
    assert any("列“脱贫状态”有 2 个值按常见写法读取" in n for n in notes)


def test_category_codes_including_combined_kinds(tmp_path):
    kinds = ["一般贫困户", "低保贫困户", "特困供养贫困户", "低保特困供养户", "五保户", "低保五保户"]
    rows = [[*MABA[0][:2], f"44020510020100{i:02d}", *MABA[0][3:6], k, *MABA[0][7:]]
            for i, k in enumerate(kinds)]
    reg, notes = _read(_csv(tmp_path, rows))
    assert reg["category"].tolist() == ["general", "dibao", "tekun", "dibao_tekun", "tekun",
                                        "dibao_tekun"]
    assert any("列“贫困户属性”有 3 个值按常见写法读取" in n for n in notes)


@pytest.mark.parametrize(("value", "expected"), [
    ("普通劳动力", True), ("技能劳动力", True), ("弱劳动力或半劳动力", True), ("丧失劳动力", False),
    ("无劳动力", False), ("有劳动能力", True), ("无劳动能力", False), ("√", True), ("×", False),
    ("有", True), ("无", False),
])
def test_labour_values_and_yes_no_forms(tmp_path, value, expected):
    rows = [[*MABA[0][:7], value, *MABA[0][8:]], MABA[1]]
    reg, notes = _read(_csv(tmp_path, rows))
    assert reg["able_to_work"].tolist() == [expected, True]
    assert notes == [f"r.csv：列“劳动能力”有 1 个值按常见写法读取（“{value}”读作“{'是' if expected else '否'}”）。"]


def test_yes_no_variants_in_other_columns(tmp_path):
    rows = [[*MABA[0][:4], "√", *MABA[0][5:9], "×"], [*MABA[1][:4], "是的", *MABA[1][5:9], "不是"]]
    reg, notes = _read(_csv(tmp_path, rows))
    assert reg["registered"].tolist() == [True, True]
    assert reg["priority_village"].tolist() == [False, False]
    assert len(notes) == 2


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("脱贫年度", "2019年", 2019), ("脱贫年度", "2019-12-31", 2019), ("脱贫年度", "2019/12/31", 2019),
    ("脱贫年度", "2019年12月", 2019), ("脱贫年度", "2019年12月31日", 2019),
    ("脱贫年度", "2019-12-31 00:00:00", 2019), ("人数", "3人", 3), ("人数", "3 口", 3),
])
def test_number_forms_repaired_and_counted(tmp_path, column, value, expected):
    j = HEADER.index(column)
    rows = [[*MABA[0][:j], value, *MABA[0][j + 1:]], MABA[1]]
    reg, notes = _read(_csv(tmp_path, rows))
    name = {"脱贫年度": "exit_year", "人数": "household_size"}[column]
    assert reg[name].iloc[0] == expected
    assert notes == [f"r.csv：列“{column}”有 1 个值按常见写法读取（“{value}”读作“{expected}”）。"]


@pytest.mark.parametrize(("column", "value"), [
    ("脱贫年度", "2019年底"), ("脱贫年度", "19年"), ("人数", "3户"), ("劳动能力", "一般"),
    ("人数", "2019-12-31"),
])
def test_other_forms_are_still_refused(tmp_path, column, value):
    j = HEADER.index(column)
    rows = [[*MABA[0][:j], value, *MABA[0][j + 1:]]]
    with pytest.raises(DataError, match=f"列“{column}”：应为.*实际为“{value}”"):
        read_table(_csv(tmp_path, rows), "register")


def test_results_year_form(tmp_path):
    p = tmp_path / "res.csv"
    p.write_text("户编号,年度,入户状态,识别准确\n4402051002010001,2019年,完成,√\n", encoding="utf-8")
    res, notes = _read(p, "results")
    assert res["year"].tolist() == [2019] and res["identified_correctly"].tolist() == [True]
    assert len(notes) == 2


# --- user aliases -------------------------------------------------------------------------

def test_user_column_aliases(tmp_path):
    header = ["所在乡镇", "所在村", "农户编码", *HEADER[3:]]
    path = _csv(tmp_path, MABA, header)
    with pytest.raises(DataError, match="缺少必需的列"):
        read_table(path, "register")
    toml = tmp_path / "columns.toml"
    toml.write_text('[columns]\n"所在乡镇" = "town"\n"所在村" = "行政村"\n"农户编码" = "户编号"\n',
                    encoding="utf-8")
    columns = load_columns(toml)
    reg = read_table(path, "register", columns=columns)
    assert reg["household_id"].tolist() == ["4402051002010001", "4402051002010002"]
    with pytest.raises(ParameterError, match="'columns' parameter of read_table"):
        read_table(path, "register", columns={"农户编码": "no_such_column"})


@pytest.mark.parametrize(("text", "match"), [
    ('"农户编码" = "户编号"\n', "缺少 \\[columns\\]"),
    ('[columns]\n"农户编码" = "门牌"\n', "“农户编码”对应的“门牌”不是数据约定中的列"),
    ('[columns]\n"农户编码" = 3\n', "应为列名文本"),
    ("[columns\n", "不是有效的 TOML"),
])
def test_bad_columns_files(tmp_path, text, match):
    toml = tmp_path / "columns.toml"
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_columns(toml)


def test_spec_columns_section(tmp_path):
    from quchi_stats.spec import load_spec

    base = (Path(__import__("quchi_stats").__file__).parent / "specs" / "assessment_2018.toml")
    text = base.read_text(encoding="utf-8") + '\n[columns]\n"农户编码" = "household_id"\n'
    p = tmp_path / "spec.toml"
    p.write_text(text, encoding="utf-8")
    assert load_spec(p, year=2018).columns == {"农户编码": "household_id"}
    p.write_text(base.read_text(encoding="utf-8") + '\n[columns]\n"农户编码" = "x"\n', encoding="utf-8")
    with pytest.raises(DataError, match="columns"):
        load_spec(p, year=2018)


# --- ids mangled by Excel -----------------------------------------------------------------

def test_scientific_ids_are_explained_not_reported_as_duplicates(tmp_path):
    rows = [[*MABA[0][:2], "5.30999E+15", *MABA[0][3:]], [*MABA[1][:2], "5.30999E+15", *MABA[1][3:]]]
    with pytest.raises(DataError) as exc:
        read_table(_csv(tmp_path, rows), "register")
    msg = str(exc.value)
    assert "户编号被 Excel 当作数字保存，末位已丢失" in msg and "重复" not in msg
    assert "\n" not in msg and "第 2 行" in msg and "2 行是科学计数法" in msg


def test_float_looking_ids_are_explained(tmp_path):
    rows = [[*MABA[0][:2], "4402051002010.0", *MABA[0][3:]], [*MABA[1][:2], "4402051002011.0", *MABA[1][3:]]]
    with pytest.raises(DataError, match="户编号被当作数字保存（2 行带“.0”"):
        read_table(_csv(tmp_path, rows), "register")


def test_numeric_id_cells_in_a_workbook_are_explained_without_echoing_them(tmp_path):
    # 18 digits as a number cell: beyond a double's exact integers, the digits are gone
    rows = [HEADER, [*MABA[0][:2], 4.40205100201000e17, *MABA[0][3:]],
            [*MABA[1][:2], 4.40205100201001e17, *MABA[1][3:]]]
    with pytest.raises(DataError) as exc:
        read_table(_book(tmp_path / "r.xlsx", {"台账": rows}), "register")
    msg = str(exc.value)
    assert "户编号被 Excel 当作数字保存" in msg and "44020510020" not in msg and "4.402" not in msg
    # 16 digits that Excel cut to 15: the ids collide -> explained, not reported as a duplicate
    rows = [HEADER, [*MABA[0][:2], 4402051002010000, *MABA[0][3:]],
            [*MABA[1][:2], 4402051002010000, *MABA[1][3:]]]
    with pytest.raises(DataError) as exc:
        read_table(_book(tmp_path / "r.xlsx", {"台账": rows}), "register")
    msg = str(exc.value)
    assert "户编号被 Excel 当作数字保存，末位已丢失（2 个户编号超过 15 位" in msg
    assert "重复”" not in msg and "4402051002010000" not in msg and "第 2 行" in msg


def test_a_real_duplicate_ending_in_zero_is_still_a_duplicate(tmp_path):
    rows = [[*MABA[0][:2], "4402051002010010", *MABA[0][3:]], [*MABA[1][:2], "4402051002010010", *MABA[1][3:]],
            [*DATANG[0][:2], "4402051012010001", *DATANG[0][3:]]]
    with pytest.raises(DataError, match="重复（首次出现在第 2 行）"):
        read_table(_csv(tmp_path, rows), "register")


def test_exact_16_digit_number_cells_are_kept(tmp_path):
    # a program (not Excel) wrote the ids as numbers: below 2**53 they are exact integers
    rows = [HEADER, [*MABA[0][:2], 4402051002010001, *MABA[0][3:]],
            [*MABA[1][:2], 4402051002010002, *MABA[1][3:]]]
    reg = read_table(_book(tmp_path / "r.xlsx", {"台账": rows}), "register")
    assert reg["household_id"].tolist() == ["4402051002010001", "4402051002010002"]


def test_mangled_id_numbers_are_a_note_without_the_numbers(tmp_path):
    header = [*HEADER, "证件号码"]
    rows = [[*MABA[0], "4.40205E+17"], [*MABA[1], ""]]
    reg, notes = _read(_csv(tmp_path, rows, header))
    assert len(reg) == 2
    assert any("证件号码被 Excel 当作数字保存，末位已丢失（1 行" in n for n in notes)
    assert not any("4.40205" in n for n in notes)


# --- --sheet and --columns on the commands, recorded in the manifest ----------------------

@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from quchi_stats.datasets import write_district

    root = tmp_path_factory.mktemp("tiny")
    write_district(root, scale=0.05)
    return root


def test_sheet_and_columns_recorded_in_the_manifest_and_reused(tiny_dir, tmp_path, capsys):
    from quchi_stats.cli import main
    from quchi_stats.sampling.manifest import register_options

    d = tmp_path / "d"
    d.mkdir()
    reg = pd.read_csv(tiny_dir / "register_2018.csv", dtype=str, keep_default_na=False)
    reg = reg.rename(columns={"户编号": "农户编码"})
    with pd.ExcelWriter(d / "register_2018.xlsx", engine="openpyxl") as xw:
        pd.DataFrame({"说明": ["合成数据"]}).to_excel(xw, sheet_name="说明", index=False)
        reg.to_excel(xw, sheet_name="台账", index=False)
    cols = tmp_path / "columns.toml"
    cols.write_text('[columns]\n"农户编码" = "户编号"\n', encoding="utf-8")
    assert main(["design", "--data", str(d), "--year", "2018", "--seed", "3"]) == 2
    assert "--sheet" in capsys.readouterr().err
    assert main(["design", "--data", str(d), "--year", "2018", "--seed", "3", "--sheet", "台账",
                 "--columns", str(cols), "--villages", "18"]) == 0
    assert "核验通过" in capsys.readouterr().out
    manifest = json.loads((d / "sample_2018" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["register"]["sheet"] == "台账"
    assert manifest["register"]["columns"] == {"农户编码": "户编号"}
    assert register_options(d / "sample_2018")["sheet"] == "台账"
    # fieldlist reads the register as design did, without --sheet or --columns
    out = tmp_path / "名单.csv"
    assert main(["fieldlist", "--year", "2018", "--data", str(d), "--out", str(out)]) == 0
    assert len(pd.read_csv(out, dtype=str)) == manifest["sample"]["rows"]
    # --sheet on fieldlist and power too
    assert main(["fieldlist", "--year", "2018", "--data", str(d), "--out", str(out), "--force",
                 "--sheet", "说明"]) == 2
    assert "缺少必需的列" in capsys.readouterr().err
    assert main(["design", "--verify", str(d / "sample_2018")]) == 0


def test_report_reuses_the_manifests_sheet(tiny_dir, tmp_path):
    from quchi_stats.assessment import _recorded_register_options, run_assessment
    from quchi_stats.sampling.manifest import read_manifest
    from tests.conftest import single_phase_copy

    d = single_phase_copy(tmp_path / "d", tiny_dir)  # the 复核 records the .csv register
    reg = pd.read_csv(d / "register_2018.csv", dtype=str, keep_default_na=False)
    (d / "register_2018.csv").unlink()
    with pd.ExcelWriter(d / "register_2018.xlsx", engine="openpyxl") as xw:
        pd.DataFrame({"说明": ["合成数据"]}).to_excel(xw, sheet_name="说明", index=False)
        reg.to_excel(xw, sheet_name="台账", index=False)
    with pytest.raises(DataError, match="“说明”.*“台账”.*--sheet"):
        run_assessment(2018, d, history=False, power=False)
    m = read_manifest(d / "sample_2018")
    m["register"]["sheet"] = "台账"
    (d / "sample_2018" / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = run_assessment(2018, d, history=False, power=False)  # sheet from the manifest
    assert a.overview["households"] == len(reg) and len(a.estimates)
    (d / "sample_2018" / "manifest.json").write_text("{", encoding="utf-8")
    assert _recorded_register_options(d / "sample_2018", strict=False) == {}
    with pytest.raises(DataError):
        _recorded_register_options(d / "sample_2018", strict=True)


@pytest.mark.parametrize(("xml", "plain"), [
    (b'<row r="5"><c r="A5" t="s"><v>1</v></c></row>', True),
    (b'<row r="5"><c r="GR5"><v>1</v></c></row>', True),  # column 200: within the cap
    (b'<row r="5"><c r="A5"><f>1+1</f><v>2</v></c></row>', False),  # a formula
    (b'<row r="5"><c r="A5"><f t="shared" si="0"/></c></row>', False),
    (b'<row r="5"><c r="A5" t="e"><v>#N/A</v></c></row>', False),  # an error value
    (b'<row r="5"><c r="GS5"><v>1</v></c></row>', False),  # column 201
    (b'<row r="5"><c r="XFD5"/></row>', False),
    (b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>1</v></c></row>',
     False),  # calamine would hold 1,048,576 rows x columns in memory
])
def test_which_sheets_calamine_reads(xml, plain):
    import io

    from quchi_stats.io.readers import _plain_sheet_xml

    assert _plain_sheet_xml(io.BytesIO(xml)) is plain


def test_far_cells_and_error_values_still_refused_in_xlsx(tmp_path):
    path = _book(tmp_path / "r.xlsx", {"台账": [HEADER, *MABA]})
    wb = openpyxl.load_workbook(path)
    wb["台账"]["GS2"] = "备注"
    wb.save(path)
    with pytest.raises(DataError, match="单元格 GS2 有内容，超过上限 200 列"):
        read_table(path, "register")
    wb["台账"]["GS2"] = None
    wb["台账"]["D3"] = "#N/A"
    wb.save(path)
    with pytest.raises(DataError, match="单元格 D3 是错误值"):
        read_table(path, "register")
