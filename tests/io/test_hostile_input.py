"""Hostile and careless input (issue 10, class 5): files that would exhaust the machine, formulas
without values, absurd numbers, duplicate headers, ragged rows, names that NFKC would merge.

The bombs are built by the tests and read in a child process under an address-space limit and a
generous timeout: bounds, not timing goals (speed lives in ``benchmarks/``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import openpyxl
import pytest

from quchi_stats.errors import DataError, QuchiStatsWarning
from quchi_stats.io import read_table
from quchi_stats.io import readers as rd
from tests.io import bombs

HEADER = ",".join(bombs.HEADER) + "\n"
ROW = "马坝镇,马坝01村,4402051002010001,3,是,2017,一般贫困户,是,7012,否\n"
ROW2 = "马坝镇,马坝01村,4402051002010002,4,否,,,是,15000,否\n"

MEMORY_LIMIT = 1536 << 20  # bytes of address space for the child (the bombs took 3.7 GB before)
TIMEOUT = 120  # seconds; each case takes a few seconds, most of it importing pandas

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from quchi_stats.cli import main
    t = time.perf_counter()
    code = main(["design", "--register", {path!r}, "--year", "2018", "--out", {out!r}])
    print(json.dumps({{"code": code, "seconds": time.perf_counter() - t,
                      "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
""")


def _run_design(path, out) -> tuple[dict, list[str]]:
    code = _CHILD.format(limit=MEMORY_LIMIT, path=str(path), out=str(out))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]  # the child ran to its end (no MemoryError)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result, [line for line in done.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize(("case", "message"), [
    ("xlsx_declared_and_far_cell", "工作表“Sheet1”单元格 XFD1048576 有内容，超过上限 200 列"),
    ("csv_10k_columns", "第 1 行：有 10,010 列，超过上限 200 列"),
    ("csv_1m_columns", "第 1 行长 7,889,022 字节，超过上限 1,048,576 字节"),
    ("csv_50mb_line", "第 2 行长 52,428,800 字节，超过上限 1,048,576 字节"),
])
def test_bombs_are_refused_with_one_line_within_bounds(tmp_path, case, message):
    path = {
        "xlsx_declared_and_far_cell": lambda: bombs.write_xlsx(
            tmp_path / "r.xlsx", [bombs.HEADER, *bombs.ROWS], dimension="A1:XFD1048576",
            extra_cells={"XFD1048576": "x"}),
        "csv_10k_columns": lambda: bombs.write_wide_csv(tmp_path / "r.csv", 10_000),
        "csv_1m_columns": lambda: bombs.write_wide_csv(tmp_path / "r.csv", 1_000_000),
        "csv_50mb_line": lambda: bombs.write_long_line_csv(tmp_path / "r.csv", 50 << 20),
    }[case]()
    result, err = _run_design(path, tmp_path / "out")
    assert result["code"] == 2
    assert len(err) == 1 and err[0].startswith(f"错误：{path.name}") and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_declared_dimension_is_not_trusted(tmp_path):
    """A small table in a sheet that declares A1:XFD1048576 is read as the table it is."""
    path = bombs.write_xlsx(tmp_path / "r.xlsx", [bombs.HEADER, *bombs.ROWS],
                            dimension="A1:XFD1048576")
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
        from quchi_stats.io import read_table
        reg = read_table({str(path)!r}, "register")
        print(reg.shape[0], reg.shape[1], reg["household_size"].tolist())
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2", "10", "[3,", "4]"]


def test_caps_on_rows_and_file_sizes(tmp_path, monkeypatch):
    """The row and size caps, exercised with small caps so the test stays small."""
    monkeypatch.setattr(rd, "MAX_ROWS", 5)
    csv = tmp_path / "r.csv"
    csv.write_text(HEADER + ROW * 5, encoding="utf-8")
    with pytest.raises(DataError, match=r"^r.csv：超过 5 行，超出上限$"):
        read_table(csv, "register")
    xlsx = bombs.write_xlsx(tmp_path / "r.xlsx", [bombs.HEADER, *bombs.ROWS],
                            extra_cells={"A1048576": "x"})
    with pytest.raises(DataError, match="^r.xlsx：工作表“Sheet1”超过 5 行，超出上限$"):
        read_table(xlsx, "register")
    monkeypatch.setattr(rd, "MAX_ROWS", 1_048_576)
    monkeypatch.setattr(rd, "MAX_CSV_BYTES", 100)
    with pytest.raises(DataError, match=r"r.csv：文件有 0 MB，超过上限 0 MB"):
        read_table(csv, "register")
    monkeypatch.setattr(rd, "MAX_XLSX_BYTES", 1000)
    with pytest.raises(DataError, match=r"r.xlsx：解压后有 0 MB，超过上限 0 MB"):
        read_table(xlsx, "register")


def test_a_cell_far_below_the_table_costs_little(tmp_path):
    """Blank rows are counted, not stored: a note in row 1,048,576 is read in one pass."""
    xlsx = bombs.write_xlsx(tmp_path / "r.xlsx", [bombs.HEADER, *bombs.ROWS],
                            extra_cells={"A1048576": "马坝镇"})
    with pytest.raises(DataError, match="第 1048576 行，列“行政村”：不能为空"):
        read_table(xlsx, "register")


# --- formulas and error values in sheets --------------------------------------------------------
def _exit_formula_rows(cached):
    first = list(bombs.ROWS[0])
    first[5] = ("=2016+1", cached)
    return [bombs.HEADER, first, bombs.ROWS[1]]


def test_formula_without_cached_value_is_refused_naming_the_cell(tmp_path):
    path = bombs.write_xlsx(tmp_path / "r.xlsx", _exit_formula_rows(None))
    with pytest.raises(DataError) as exc:
        read_table(path, "register")
    assert str(exc.value).startswith("r.xlsx：工作表“Sheet1”单元格 F2：公式没有保存计算结果")


def test_formula_with_cached_value_is_read(tmp_path):
    reg = read_table(bombs.write_xlsx(tmp_path / "r.xlsx", _exit_formula_rows(2017)), "register")
    assert reg["exit_year"].iloc[0] == 2017


def test_a_workbook_written_by_a_script_is_refused(tmp_path):
    """openpyxl (as scripts use it) writes formulas without values: five exits would vanish."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "台账"
    ws.append(bombs.HEADER)
    for k in range(6):
        ws.append(["马坝镇", "马坝01村", f"A{k}", 3, "是", f"=2010+{7 + (k < 5)}", "一般贫困户", "是",
                   7012, "否"])
    book.save(tmp_path / "s.xlsx")
    with pytest.raises(DataError, match="^s.xlsx：工作表“台账”单元格 F2：公式没有保存计算结果"):
        read_table(tmp_path / "s.xlsx", "register")


def test_error_values_are_refused_not_read_as_blank(tmp_path):
    rows = [bombs.HEADER, list(bombs.ROWS[0]), bombs.ROWS[1]]
    rows[1][5] = bombs.Error("#REF!")
    with pytest.raises(DataError, match="^r.xlsx：工作表“Sheet1”单元格 F2 是错误值“#REF!”"):
        read_table(bombs.write_xlsx(tmp_path / "r.xlsx", rows), "register")
    rows[1][5] = ("=1/0", bombs.Error("#DIV/0!"))  # a formula whose cached value is an error
    with pytest.raises(DataError, match="^e.xlsx：工作表“Sheet1”单元格 F2 是错误值“#DIV/0!”"):
        read_table(bombs.write_xlsx(tmp_path / "e.xlsx", rows), "register")


def test_a_broken_sheet_is_our_error(tmp_path):
    rows = [bombs.HEADER, list(bombs.ROWS[0]), bombs.ROWS[1]]
    rows[1][5] = ("=1/0", 2017)  # then the cached number is replaced by text: invalid XML
    path = bombs.write_xlsx(tmp_path / "b.xlsx", rows)
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"<v>2017</v>",
                                                                                  b"<v>x</v>")
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    with pytest.raises(DataError, match="^b.xlsx：不是有效的 .xlsx 文件（ValueError）"):
        read_table(path, "register")


# --- values -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("column", "value", "expected"), [
    ("人数", "inf", "介于 1 与 100 之间的整数"),
    ("人数", "1e15", "介于 1 与 100 之间的整数"),
    ("人数", "101", "介于 1 与 100 之间的整数"),
    ("人数", "9" * 400, "介于 1 与 100 之间的整数"),
    ("人均可支配收入", "inf", "介于 0 与 10,000,000 之间的数值"),
    ("人均可支配收入", "-inf", "介于 0 与 10,000,000 之间的数值"),
    ("人均可支配收入", "1e308", "介于 0 与 10,000,000 之间的数值"),
    ("人均可支配收入", "nan", "介于 0 与 10,000,000 之间的数值"),
    ("脱贫年度", "1e15", "介于 2000 与 2100 之间的整数"),
])
def test_non_finite_and_absurd_numbers_are_refused(tmp_path, column, value, expected):
    cells = ROW.rstrip("\n").split(",")
    cells[bombs.HEADER.index(column)] = value
    path = tmp_path / "r.csv"
    path.write_text(HEADER + ",".join(cells) + "\n" + ROW2, encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_table(path, "register")
    msg = str(exc.value)
    assert msg.startswith(f"r.csv，第 2 行，列“{column}”：应为{expected}，实际为“")
    assert len(msg) < 200  # a 400-digit cell is not echoed whole


def test_the_largest_values_inside_the_bounds_are_accepted(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + ROW.replace(",3,", ",100,").replace(",7012,", ",10000000,"),
                    encoding="utf-8")
    reg = read_table(path, "register")
    assert reg["household_size"].iloc[0] == 100 and reg["income_per_capita"].iloc[0] == 1e7


def test_sample_probabilities_above_one_are_refused(tmp_path):
    from quchi_stats.datasets import data_path

    text = (data_path() / "sample_2018" / "sample.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    cells = lines[1].rstrip("\n").split(",")
    cells[header.index("pi_village")] = "1.5"
    path = tmp_path / "sample.csv"
    path.write_text(lines[0] + ",".join(cells) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="第 2 行，列“村入样概率”：应为介于 0 与 1 之间的数值"):
        read_table(path, "sample")


# --- headers and ragged rows --------------------------------------------------------------------
def test_duplicate_headers_are_refused_naming_both_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER.rstrip("\n") + ",乡镇\n" + ROW.rstrip("\n") + ",大塘镇\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match="^r.csv，第 1 行：表头“乡镇”出现两次（第 A 列和第 K 列）"):
        read_table(path, "register")
    unknown = HEADER.rstrip("\n") + ",备注,备注\n" + ROW.rstrip("\n") + ",x,y\n"
    path.write_text(unknown, encoding="utf-8")
    with pytest.raises(DataError, match="表头“备注”出现两次（第 K 列和第 L 列）"):
        read_table(path, "register")
    xlsx = bombs.write_xlsx(tmp_path / "r.xlsx", [[*bombs.HEADER, "乡镇"], [*bombs.ROWS[0], "x"]])
    with pytest.raises(DataError, match="^r.xlsx，第 1 行：表头“乡镇”出现两次（第 A 列和第 K 列）"):
        read_table(xlsx, "register")


@pytest.mark.parametrize(("row", "found"), [
    ("马坝镇,马坝,01村,4402051002010002,4,否,,,是,15000,否\n", "有 11 个字段，比表头（第 1 行，10 列）多 1 个"),
    ("马坝镇,马坝01村,4402051002010002,4,否,,,是,15000\n", "有 9 个字段，比表头（第 1 行，10 列）少 1 个"),
    ("马坝镇,马坝01村,4402051002010002,4,否,,,是,15000,否,\n", "有 11 个字段"),
])
def test_ragged_rows_are_refused_naming_the_row(tmp_path, row, found):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + ROW + row, encoding="utf-8")
    with pytest.raises(DataError, match=f"^r.csv，第 3 行：{found}"):
        read_table(path, "register")


def test_a_cell_right_of_the_header_in_a_sheet_is_refused(tmp_path):
    rows = [bombs.HEADER, bombs.ROWS[0], [*bombs.ROWS[1], None, "多余"]]
    with pytest.raises(DataError, match="^r.xlsx，第 3 行：单元格 L3 有内容，但该列没有表头"):
        read_table(bombs.write_xlsx(tmp_path / "r.xlsx", rows), "register")


def test_blank_and_title_rows_still_work_with_the_field_count_check(tmp_path):
    text = ("曲江区马坝镇台账\n制表单位：马坝镇,,\n\n" + HEADER + ROW + ",,,\n\n" + ",,,,,,,,,\n" + ROW2
            + "\n\n")
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.warns(QuchiStatsWarning) as record:
        reg = read_table(path, "register")
    messages = [str(w.message) for w in record]
    assert "r.csv：前 3 行是标题，表头取第 4 行。" in messages
    assert "r.csv：跳过 3 个空行。" in messages
    assert reg["household_id"].tolist() == ["4402051002010001", "4402051002010002"]
    bad = text.replace(ROW2, ROW2.replace(",4,", ",x,"))
    path.write_text(bad, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuchiStatsWarning)
        with pytest.raises(DataError, match="第 9 行，列“人数”"):
            read_table(path, "register")


# --- names and normalisation --------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "points"), [
    ("\u8c48村", "\uf900村", "U+F900"),  # CJK compatibility ideograph 豈
    ("马坝01村", "马坝０１村", "U+FF10、U+FF11"),  # full-width digits
    ("第1组", "第①组", "U+2460"),
])
def test_names_that_nfkc_would_merge_are_refused(tmp_path, a, b, points):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + ROW.replace("马坝01村", a) + ROW2.replace("马坝01村", b), encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_table(path, "register")
    # both spellings shown as written (masking folds full-width digits only where it masks)
    assert str(exc.value) == (
        f"r.csv，列“行政村”：“{a}”（第 2 行）与“{b}”（第 3 行）写法不同，规范化（NFKC）后却相同"
        f"（涉及 {points}），不能确定是一个还是两个名称；请统一写法")


def test_town_names_are_checked_too(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + ROW + ROW2.replace("马坝镇", "马坝镇\u3000").replace("马坝", "马垻", 1)
                    + ROW2.replace("0002", "0003").replace("马坝镇", "ＡＢ镇") + ROW2.replace(
                        "0002", "0004").replace("马坝镇", "AB镇"), encoding="utf-8")
    with pytest.raises(DataError, match="列“乡镇”：“ＡＢ镇”（第 4 行）与“AB镇”（第 5 行）"):
        read_table(path, "register")


def test_names_keep_their_characters(tmp_path):
    """Names are not rewritten: 第①组 and U+F900 stay; full-width ASCII and spaces are folded."""
    path = tmp_path / "r.csv"
    path.write_text(HEADER + ROW.replace("马坝01村", "第①组") + ROW2.replace("马坝01村", "\uf900村")
                    + ROW2.replace("0002", "0003").replace("马坝01村", "\u3000马坝０２村 "),
                    encoding="utf-8")
    reg = read_table(path, "register")
    assert reg["village"].tolist() == ["第①组", "\uf900村", "马坝02村"]


def test_a_huge_cell_and_a_binary_file_with_long_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "x" * 200_000 + ROW[3:], encoding="utf-8")
    with pytest.raises(DataError, match="^r.csv，第 2 行：CSV 格式错误：单元格超过 131,072 个字符$"):
        read_table(path, "register")
    path.write_bytes(b"PK\x03\x04" + bytes(range(1, 256)) * 10_000 + b"\x00")  # no line breaks
    with pytest.raises(DataError, match="^r.csv：文件含有 NUL 字符"):
        read_table(path, "register")
