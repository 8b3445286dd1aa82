"""Readers: encodings, .xlsx, aliases, codebooks, and one-line errors naming file/row/column."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from quchi_stats.errors import DataError, ParameterError, QuchiStatsWarning
from quchi_stats.io import detect_encoding, read_table

HEADER = "乡镇,行政村,户编号,人数,是否建档立卡,脱贫年度,贫困户属性,劳动能力,人均可支配收入,省定贫困村,证件号码\n"
ROWS = ("马坝镇,马坝01村,4402051002010001,3,是,2017,一般贫困户,是,7012,否,440205190001010001\n"
        "马坝镇,马坝01村,4402051002010002,4,否,,,是,15000,否,\n")


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_register_in_every_encoding(tmp_path, encoding):
    reg = read_table(write(tmp_path, "r.csv", HEADER + ROWS, encoding), "register")
    assert reg["town"].tolist() == ["马坝镇", "马坝镇"]
    assert reg["household_id"].tolist() == ["4402051002010001", "4402051002010002"]
    assert reg["registered"].tolist() == [True, False]
    assert reg["exit_year"].iloc[0] == 2017 and pd.isna(reg["exit_year"].iloc[1])
    assert reg["category"].tolist()[0] == "general"
    assert reg["income_per_capita"].tolist() == [7012.0, 15000.0]


def test_detect_encoding():
    assert detect_encoding("乡镇".encode()) == "utf-8-sig"
    assert detect_encoding("乡镇".encode("gbk")) == "gb18030"


def test_explicit_wrong_encoding_is_reported(tmp_path):
    p = write(tmp_path, "r.csv", HEADER + ROWS, "gbk")
    with pytest.raises(DataError, match="r.csv：不能按编码 utf-8 读取"):
        read_table(p, "register", encoding="utf-8")


def test_xlsx_register(tmp_path):
    frame = pd.read_csv(write(tmp_path, "r.csv", HEADER + ROWS), dtype=str, keep_default_na=False)
    frame["人数"] = frame["人数"].astype(int)  # numbers stored as numbers in Excel
    path = tmp_path / "r.xlsx"
    frame.to_excel(path, index=False, sheet_name="台账")
    reg = read_table(path, "register", sheet="台账")
    assert reg["household_size"].tolist() == [3, 4]
    assert reg["household_id"].iloc[0] == "4402051002010001"
    with pytest.raises(DataError, match="无法读取工作表"):
        read_table(path, "register", sheet="nope")


def test_english_headers_fullwidth_and_whitespace(tmp_path):
    text = ("town, village ,household_id,household_size,registered,exit_year,category,"
            "able_to_work,income_per_capita,priority_village\n"
            "　马坝镇 ,马坝01村,A1,３,Y,,一般贫困户,1,\"7,012\",N\n")
    reg = read_table(write(tmp_path, "r.csv", text), "register")
    assert reg.loc[0, "town"] == "马坝镇"
    assert reg.loc[0, "household_size"] == 3  # full-width digit
    assert bool(reg.loc[0, "registered"]) and not bool(reg.loc[0, "priority_village"])
    assert reg.loc[0, "income_per_capita"] == 7012.0


def test_unknown_columns_are_kept(tmp_path):
    text = HEADER.rstrip("\n") + ",备注\n" + ROWS.replace("\n", ",x\n")
    reg = read_table(write(tmp_path, "r.csv", text), "register")
    assert reg["备注"].tolist() == ["x", "x"]


def test_bad_yes_no_names_file_row_column_and_value(tmp_path):
    bad = ROWS.replace(",否,,,是,15000", ",不知道,,,是,15000")
    with pytest.raises(DataError) as exc:
        read_table(write(tmp_path, "reg.csv", HEADER + bad), "register")
    msg = str(exc.value)
    assert msg == "reg.csv，第 3 行，列“是否建档立卡”：应为是/否（或 Y/N、1/0），实际为“不知道”"
    assert "\n" not in msg


@pytest.mark.parametrize(("old", "new", "match"), [
    (",3,是", ",0,是", "第 2 行，列“人数”：应为介于 1 与 100 之间的整数，实际为“0”"),
    (",3,是", ",2.5,是", "第 2 行，列“人数”：应为介于 1 与 100 之间的整数，实际为“2.5”"),
    (",7012,", ",-5,", "列“人均可支配收入”：应为介于 0 与 10,000,000 之间的数值，实际为“-5”"),
    (",7012,", ",abc,", "列“人均可支配收入”：应为介于 0 与 10,000,000 之间的数值，实际为“abc”"),
    (",一般贫困户,", ",贫困户,", "列“贫困户属性”：应为一般贫困户、低保贫困户、特困供养贫困户、低保特困供养贫困户 之一"),
    ("马坝镇,马坝01村,4402051002010001", "马坝镇,马坝01村,", "第 2 行，列“户编号”：不能为空"),
])
def test_bad_values(tmp_path, old, new, match):
    with pytest.raises(DataError, match=match):
        read_table(write(tmp_path, "r.csv", HEADER + ROWS.replace(old, new, 1)), "register")


def test_missing_column(tmp_path):
    text = HEADER.replace("人数,", "") + ROWS.replace(",3,", ",", 1).replace(",4,", ",", 1)
    with pytest.raises(DataError, match="r.csv：缺少必需的列：人数/household_size（农户台账）"):
        read_table(write(tmp_path, "r.csv", text), "register")


def test_two_headers_for_one_column(tmp_path):
    text = HEADER.replace("人均可支配收入", "人均纯收入").rstrip("\n") + ",人均收入\n" + ROWS.replace(
        "\n", ",1\n")
    with pytest.raises(DataError, match="都对应“income_per_capita”"):
        read_table(write(tmp_path, "r.csv", text), "register")


def test_duplicate_household(tmp_path):
    dup = ROWS + ROWS.splitlines(keepends=True)[0]
    with pytest.raises(DataError, match="第 4 行，列“户编号”：户编号“4402051002010001”重复（首次出现在第 2 行）"):
        read_table(write(tmp_path, "r.csv", HEADER + dup), "register")


def test_blank_rows_are_counted_not_silent(tmp_path):
    text = HEADER + ROWS.splitlines(keepends=True)[0] + ",,,,,,,,,,\n\n" + ROWS.splitlines(
        keepends=True)[1]
    with pytest.warns(QuchiStatsWarning, match="跳过 2 个空行"):
        reg = read_table(write(tmp_path, "r.csv", text), "register")
    assert len(reg) == 2


def test_row_numbers_count_blank_lines(tmp_path):
    rows = ROWS.splitlines(keepends=True)
    text = HEADER + rows[0] + "\n" + rows[1].replace(",4,", ",x,")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuchiStatsWarning)
        with pytest.raises(DataError, match="第 4 行，列“人数”"):
            read_table(write(tmp_path, "r.csv", text), "register")


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="e.csv：文件为空"):
        read_table(write(tmp_path, "e.csv", ""), "register")
    with pytest.raises(DataError, match="h.csv：文件没有数据行"):
        read_table(write(tmp_path, "h.csv", HEADER), "register")
    with pytest.raises(DataError, match="文件不存在"):
        read_table(tmp_path / "nope.csv", "register")
    with pytest.raises(DataError, match="不支持的文件类型“.dat”"):
        read_table(write(tmp_path, "x.dat", "a"), "register")
    with pytest.raises(ParameterError, match="'kind' parameter of read_table"):
        read_table(tmp_path / "x.dat", "registers")


def test_results_codebooks(tmp_path):
    text = ("户编号,年度,入户状态,识别准确,满意度,吃穿不愁\n"
            "A1,2018,完成,是,基本满意,是\nA2,2018,无法入户,,,\nA3,2018,替补,0,很不满意,1\n")
    res = read_table(write(tmp_path, "res.csv", text), "results")
    assert res["visit_status"].tolist() == ["completed", "unreachable", "substitute"]
    assert res["satisfaction"].tolist() == ["basically_satisfied", None, "very_dissatisfied"]
    assert res["identified_correctly"].tolist() == [True, pd.NA, False]
    bad = text.replace("基本满意", "还行")
    with pytest.raises(DataError, match="第 2 行，列“满意度”：应为满意、基本满意、不满意、很不满意 之一，实际为“还行”"):
        read_table(write(tmp_path, "res.csv", bad), "results")


def test_self_report_rates(tmp_path):
    text = "乡镇,年度,识别准确率,群众认可度\n马坝镇,2018,98.5%,0.95\n大塘镇,2018,1,96%\n"
    sr = read_table(write(tmp_path, "s.csv", text), "self_report")
    assert sr["identification_accuracy"].tolist() == pytest.approx([0.985, 1.0])
    assert sr["satisfaction_rate"].tolist() == pytest.approx([0.95, 0.96])
    pct = "乡镇,年度,识别准确率\n马坝镇,2018,98.5\n大塘镇,2018,97\n"
    with pytest.warns(QuchiStatsWarning, match="按百分数读取"):
        sr = read_table(write(tmp_path, "p.csv", pct), "self_report")
    assert sr["identification_accuracy"].tolist() == pytest.approx([0.985, 0.97])
    with pytest.raises(DataError, match="应为0–1 的比例或百分数"):
        read_table(write(tmp_path, "b.csv", "乡镇,年度,识别准确率\n马坝镇,2018,150%\n"),
                   "self_report")


def test_title_rows_above_the_header_are_a_counted_repair(tmp_path):
    text = "曲江区马坝镇建档立卡户台账（2018 年）\n制表单位：马坝镇,,\n" + HEADER + ROWS
    with pytest.warns(QuchiStatsWarning, match="前 2 行是标题，表头取第 3 行"):
        reg = read_table(write(tmp_path, "r.csv", text), "register")
    assert len(reg) == 2
    bad = "标题\n" + HEADER + ROWS.replace(",3,是", ",x,是", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuchiStatsWarning)
        with pytest.raises(DataError, match="第 3 行，列“人数”"):
            read_table(write(tmp_path, "b.csv", bad), "register")


def test_ragged_rows_and_binary_files(tmp_path):
    text = HEADER + ROWS.splitlines()[0] + ",多余\n" + ROWS.splitlines()[1][:30] + "\n"
    with pytest.raises(DataError, match="r.csv，第 2 行：有 12 个字段，比表头（第 1 行，11 列）多 1 个"):
        read_table(write(tmp_path, "r.csv", text), "register")
    text = HEADER + ROWS.splitlines()[0] + "\n" + ROWS.splitlines()[1][:30] + "\n"
    with pytest.raises(DataError, match="r.csv，第 3 行：有 5 个字段，比表头（第 1 行，11 列）少 6 个"):
        read_table(write(tmp_path, "r.csv", text), "register")
    p = tmp_path / "fake.csv"
    p.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(DataError, match="fake.csv："):
        read_table(p, "register")
    p = tmp_path / "fake.xlsx"
    p.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="不是有效的 .xlsx 文件"):
        read_table(p, "register")


def test_error_messages_never_show_personal_data(tmp_path):
    dup = ROWS.replace("4402051002010002", "4402051002010001")
    # an ID-shaped 户编号 whose check digit is wrong (X would be right): not refused as an ID number,
    # but the duplicate message quoting it still masks it
    text = HEADER.replace("户编号", "户编号") + dup.replace("4402051002010001", "440205198001011230")
    with pytest.raises(DataError) as exc:
        read_table(write(tmp_path, "r.csv", text), "register")
    assert "19800101" not in str(exc.value) and "440205********1230" in str(exc.value)
    assert "重复" in str(exc.value)


# --- fuzzing: malformed tables give a result or the project's own error, nothing else --------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from quchi_stats.errors import QuchiStatsError  # noqa: E402
from quchi_stats.io.schema import TABLES  # noqa: E402

_HEADERS = sorted({a for s in TABLES.values() for c in s.columns for a in c.all_names()})
_CELLS = st.one_of(st.sampled_from(["是", "否", "Y", "1", "0", "", "完成", "替补", "满意", "98.5%",
                                     "2018", "-3", "3.5", "马坝镇", "4402051002010001", "NaN",
                                     "一般贫困户", "\"", "，", " 1 ", "１２"]),
                   st.text(max_size=6))


@st.composite
def _tables(draw):
    headers = draw(st.lists(st.one_of(st.sampled_from(_HEADERS), st.text(max_size=5)),
                            min_size=0, max_size=14))
    rows = draw(st.lists(st.lists(_CELLS, min_size=0, max_size=len(headers) + 2), max_size=6))
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    cut = draw(st.one_of(st.none(), st.integers(0, 400)))
    return headers, rows, enc, cut


def write_fuzz_csv(path, table) -> None:
    """Write a drawn table as CSV bytes in its encoding, truncated where the draw says."""
    import csv
    import io

    headers, rows, enc, cut = table
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(headers)
    writer.writerows(rows)
    data = buf.getvalue().encode(enc, errors="replace")
    path.write_bytes(data if cut is None else data[:cut])  # possibly a truncated file


@pytest.mark.parametrize("kind", sorted(TABLES))
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(table=_tables())
def test_fuzzed_tables_give_a_table_or_our_error(tmp_path_factory, kind, table):
    path = tmp_path_factory.mktemp("fuzz") / "t.csv"
    write_fuzz_csv(path, table)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuchiStatsWarning)
            out = read_table(path, kind)
    except QuchiStatsError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("t.csv")
        return
    required = [c.name for c in TABLES[kind].columns if c.required]
    assert set(required) <= set(out.columns)


# --- fuzzing: dimension and width bombs (issue 10), with small caps so examples stay small -------
from quchi_stats.io import readers as _readers  # noqa: E402
from tests.io import bombs as _bombs  # noqa: E402

_SMALL_CAPS = {"MAX_ROWS": 40, "MAX_COLUMNS": 16, "MAX_LINE_BYTES": 600}


@st.composite
def _bomb_tables(draw):
    """A valid register, widened, lengthened, given cells far away, a long line of commas or a
    declared dimension far beyond its data."""
    return {
        "fmt": draw(st.sampled_from(["csv", "xlsx"])),
        "extra": draw(st.integers(0, 12)),  # extra columns: the header has 10, the cap is 16
        "rows": draw(st.integers(0, 50)),  # the cap is 40
        "far": draw(st.lists(st.tuples(st.integers(1, 60), st.integers(1, 30)), max_size=2)),
        "commas": draw(st.one_of(st.none(), st.integers(0, 1200))),  # the line cap is 600 bytes
        "dimension": draw(st.sampled_from([None, "A1:XFD1048576", "A1:B2", "A1:ZZ99999"])),
    }


def _write_bomb(path, b) -> bool:
    """Write the drawn table; return whether it exceeds one of the small caps."""
    header = [*_bombs.HEADER, *(f"c{i}" for i in range(b["extra"]))]
    rows = [["马坝镇", "马坝01村", f"H{k}", 3, "是", None, None, "是", 7012, "否", *[None] * b["extra"]]
            for k in range(b["rows"])]
    width = len(header)
    n_rows = 1 + len(rows)
    if b["fmt"] == "xlsx":
        far = {f"{_bombs.column_letter(c)}{r}": "x" for r, c in b["far"]}
        _bombs.write_xlsx(path, [header, *rows], dimension=b["dimension"], extra_cells=far)
        last_row = max([n_rows, *(r for r, _ in b["far"])])
        widest = max([width, *(c for _, c in b["far"])])
        return last_row > _SMALL_CAPS["MAX_ROWS"] or widest > _SMALL_CAPS["MAX_COLUMNS"]
    lines = [",".join("" if v is None else str(v) for v in r) for r in [header, *rows]]
    if b["commas"] is not None:
        lines.insert(1, "," * b["commas"])
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    fields = max(line.count(",") + 1 for line in lines)
    longest = max(len(line) for line in data.split(b"\n"))
    return (len(lines) > _SMALL_CAPS["MAX_ROWS"] or fields > _SMALL_CAPS["MAX_COLUMNS"]
            or longest > _SMALL_CAPS["MAX_LINE_BYTES"])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(b=_bomb_tables())
def test_fuzzed_bombs_are_refused_at_the_caps(tmp_path_factory, b):
    path = tmp_path_factory.mktemp("bomb") / f"t.{b['fmt']}"
    over = _write_bomb(path, b)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _SMALL_CAPS.items():
            mp.setattr(_readers, name, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QuchiStatsWarning)
                out = read_table(path, "register")
        except QuchiStatsError as exc:
            msg = str(exc)
            assert "\n" not in msg and msg.startswith(path.name)
            assert ("上限" in msg) == over, msg  # a cap is named exactly when one is exceeded
            return
    assert not over
    assert out.shape[1] <= _SMALL_CAPS["MAX_COLUMNS"] and len(out) < _SMALL_CAPS["MAX_ROWS"]
    if not b["far"] and b["commas"] is None:
        assert out["household_id"].tolist() == [f"H{k}" for k in range(b["rows"])]
