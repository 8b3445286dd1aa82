"""Personal data never leaks (issue 10, class 4): the masking of every stream, ID numbers as 户编号,
phone and ID numbers in place names, and the guards that must survive ``python -O``.

The synthetic register's phones start with 100 and never look like mobile numbers, so these tests
build real-looking numbers themselves (every mobile prefix 13x–19x, valid ID check characters)."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys
import textwrap
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quchi_stats.cli import main
from quchi_stats.errors import PersonalDataError, id_number_kind, mask_personal
from quchi_stats.io import read_table

# every mobile prefix in use (三大运营商, 虚拟运营商, 物联网/数据卡 included): 13x–19x
PREFIXES = ([f"13{d}" for d in range(10)] + ["145", "146", "147", "148", "149"]
            + [f"15{d}" for d in range(10) if d != 4] + ["162", "165", "166", "167"]
            + [f"17{d}" for d in range(9)] + [f"18{d}" for d in range(10)]
            + [f"19{d}" for d in range(10)])
PHONE_FORMATS = ["{p}{a}{b}", "86{p}{a}{b}", "+86{p}{a}{b}", "+86 {p} {a} {b}", "0086-{p}-{a}-{b}",
                 "(+86){p}{a}{b}", "{p}-{a}-{b}", "{p} {a} {b}", "+86-{p}{a}{b}"]


def valid_id(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]


ID18 = valid_id("44020519800101123")  # ...123X
ID18_DIGIT = valid_id("44022119750613004")


# --- mask_personal -------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_mobile_prefix_and_format_is_masked(prefix):
    a, b = "4821", "7305"
    for fmt in PHONE_FORMATS:
        phone = fmt.format(p=prefix, a=a, b=b)
        masked = mask_personal(f"联系电话：{phone}。")
        assert a not in masked and "****" in masked, (phone, masked)
        assert masked.endswith(f"{b}。") and prefix in masked


@pytest.mark.parametrize("text, expected", [
    ("8613812345678", "86138****5678"),
    ("+86 138 1234 5678", "+86 138 **** 5678"),
    ("138-1234-5678", "138-****-5678"),
    ("138 1234 5678", "138 **** 5678"),
    ("马坝03村（13812345678）", "马坝03村（138****5678）"),
    ("１３８１２３４５６７８", "138****5678"),  # full-width digits
    (ID18, "440205********123X"),
    (ID18.lower(), "440205********123X"),
    ("440205 19800101 123X", "440205********123X"),
    ("4402 0519 8001 0112 3X", "440205********123X"),
    ("440205-1980-0101-123X", "440205********123X"),
    ("440205800101123", "440205******123"),  # 15-digit old ID
    ("(0751)8812345", "(0751)*****45"),
    ("（0751）8812345", "（0751）*****45"),
    ("0751-8812345", "0751-*****45"),
    ("020-88123456", "020-******56"),
    ("010 62751234", "010 ******34"),
])
def test_masked_formats(text, expected):
    assert mask_personal(text) == expected
    assert mask_personal(expected) == expected  # idempotent: masking twice changes nothing


def test_an_id_split_any_way_is_masked_when_its_check_character_is_right():
    s = ID18_DIGIT
    split = f"{s[:2]} {s[2:5]} {s[5:11]} {s[11:]}"
    assert mask_personal(split) == s[:6] + "*" * 8 + s[14:]


@pytest.mark.parametrize("text", [
    "4402051002010001",  # the synthetic register's 16-digit 户编号
    "户编号 4402051002010001 重复",
    "10063286402",  # the synthetic register's phones: not a mobile prefix
    "440205100201",  # a 12-digit village code
    "人均可支配收入 43003 元", "1234567.89", "2018", "2018-12-31", "2018 12 31", "98.5%",
    "1381234567",  # 10 digits
    "138123456789",  # 12 digits
    "0.13812345678",  # a decimal, not a phone
    "12812345678",  # 12x is no mobile prefix
    "440205991399123",  # 15 digits, month 13: no ID
    "12345678901234567890",
    "第 13812 行，第 5678 列",
    "8812345",  # a landline without area code: indistinguishable from an amount
    "马坝镇  25  5  0  1234  156  4567",  # a printed table row
    "4402051002010001 5 2 3 1 1",  # an id followed by numbers in a table
    "抽中 135 个村 2345 户",
])
def test_numbers_that_are_not_personal_data_are_kept(text):
    assert mask_personal(text) == text


def test_id_number_kind():
    assert id_number_kind(ID18) == "18" and id_number_kind(ID18_DIGIT) == "18"
    assert id_number_kind(ID18.lower()) == "18"
    assert id_number_kind("440205 19800101 123X") == "18"
    assert id_number_kind(ID18[:-1] + "1") is None  # wrong check character
    assert id_number_kind(valid_id("44020519800230123")) is None  # 30 February
    assert id_number_kind(valid_id("44020521000101123")) is None  # born in the future
    assert id_number_kind(valid_id("99020519800101123")) is None  # no province 99
    assert id_number_kind("440205800101123") == "15"
    assert id_number_kind("440205801301123") is None  # month 13
    assert id_number_kind("4402051002010001") is None  # 16 digits
    assert id_number_kind("440205100201000001") is None  # village code + 6-digit sequence


# --- reading a register ------------------------------------------------------------------------
HEADER = "乡镇,行政村,户编号,人数,是否建档立卡,脱贫年度,贫困户属性,劳动能力,人均可支配收入,省定贫困村\n"


def register_text(ids, towns=None, villages=None) -> str:
    rows = []
    for i, hid in enumerate(ids):
        town = towns[i] if towns else "马坝镇"
        village = villages[i] if villages else "马坝01村"
        rows.append(f"{town},{village},{hid},3,是,2017,一般贫困户,是,7012,否\n")
    return HEADER + "".join(rows)


def write(tmp_path, text, name="register_2018.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_register_with_id_numbers_as_household_ids_is_refused(tmp_path):
    ids = ["4402051002010001", valid_id("44020519620315001"), valid_id("44020519880707002")]
    with pytest.raises(PersonalDataError) as exc:
        read_table(write(tmp_path, register_text(ids)), "register")
    msg = str(exc.value)
    assert msg.startswith("register_2018.csv，第 3 行，列“户编号”：户编号是身份证号码")
    assert "共 2 行" in msg and "1962" not in msg and "0315" not in msg


def test_old_15_digit_ids_are_refused_but_village_codes_with_sequence_pass(tmp_path):
    with pytest.raises(PersonalDataError, match="第 2 行.*15 位旧证号"):
        read_table(write(tmp_path, register_text(["440205620315001", "440205880707002"])),
                   "register")
    # village code (12 digits) + 3-digit sequence: every id of the village shares 12 digits
    coded = ["440205100201001", "440205100201002", "440205100202001", "440205100202002"]
    reg = read_table(write(tmp_path, register_text(
        coded, villages=["马坝01村", "马坝01村", "马坝02村", "马坝02村"])), "register")
    assert reg["household_id"].tolist() == coded
    # a village mixing a coded id and an ID number: no shared village code, both are refused
    with pytest.raises(PersonalDataError, match="第 2 行.*共 2 行"):
        read_table(write(tmp_path, register_text(["440205100201001", "440205620315001"])),
                   "register")


@pytest.mark.parametrize("ids", [
    ["4402051002010001", "4402051002010002"],  # the synthetic (16 digits)
    ["440205100201000001", "440205100201000002"],  # 18 digits: village code + sequence
    ["44020519800101123" + "1", "44020519800101124" + "2"],  # ID-shaped, wrong check characters
    ["HH-001", "HH-002"], ["1", "2"],
])
def test_legitimate_household_ids_are_accepted(tmp_path, ids):
    reg = read_table(write(tmp_path, register_text(ids)), "register")
    assert reg["household_id"].tolist() == ids


PLACE_LEAKS = ["马坝03村（13812345678）", "马坝03村13812345678", "马坝03村 +86 138 1234 5678",
               "马坝03村(0751)8812345", "马坝03村0751-8812345", f"马坝03村{ID18}",
               "马坝03村440205800101123", "马坝03村１３８-１２３４-５６７８", "马坝03村 8613812345678"]


@pytest.mark.parametrize("village", PLACE_LEAKS)
def test_phone_or_id_in_a_village_name_is_refused_masked(tmp_path, village):
    text = register_text(["4402051002010001", "4402051002010002"], villages=["马坝01村", village])
    with pytest.raises(PersonalDataError) as exc:
        read_table(write(tmp_path, text), "register")
    msg = str(exc.value)
    assert msg.startswith("register_2018.csv，第 3 行，列“行政村”：行政村“马坝03村")
    assert "****" in msg and "1234" not in msg.replace("1234 5678", "") and "8812345" not in msg
    assert "19800101" not in msg and "800101" not in msg


def test_phone_in_a_town_name_is_refused(tmp_path):
    text = register_text(["1", "2"], towns=["马坝镇", "马坝镇（电话 139-2345-6789）"])
    with pytest.raises(PersonalDataError, match=r"列“乡镇”：乡镇“马坝镇\(电话 139-\*\*\*\*-6789\)”"):
        read_table(write(tmp_path, text), "register")


@pytest.mark.parametrize("village", ["马坝03村", "第1组", "马坝村2018年新村", "440205100201",
                                     "马坝03村(一)", "十三村", "马坝123村"])
def test_place_names_with_ordinary_digits_pass(tmp_path, village):
    reg = read_table(write(tmp_path, register_text(["1"], villages=[village])), "register")
    assert reg["village"].tolist() == [village]


# --- the command line: exit 2, the number absent from every stream ------------------------
def test_design_refuses_id_numbers_as_household_ids(tmp_path, capsys):
    ids = [valid_id(f"4402051960{m:02d}15{i:03d}") for i, m in enumerate(range(1, 13))]
    path = write(tmp_path, register_text(ids))
    code = main(["design", "--register", str(path), "--year", "2018", "--seed", "1",
                 "--out", str(tmp_path / "s")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "第 2 行" in err and "户编号是身份证号码" in err
    assert not any(i in out + err or i[6:14] in out + err for i in ids)
    assert not (tmp_path / "s").exists()


def test_design_refuses_phone_in_village_name_masked(tmp_path, capsys):
    villages = ["马坝01村"] * 3 + ["马坝03村（13812345678）"] * 3
    path = write(tmp_path, register_text([str(i) for i in range(1, 7)], villages=villages))
    code = main(["design", "--register", str(path), "--year", "2018", "--seed", "1",
                 "--out", str(tmp_path / "s")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "第 5 行" in err and "马坝03村(138****5678)" in err and "13812345678" not in err
    assert not (tmp_path / "s").exists()


def test_every_stream_of_the_command_line_is_masked(tmp_path, capsys, monkeypatch):
    """Lines a command prints (stdout), its warnings (stderr) and internal errors all mask."""
    import quchi_stats.cli as cli

    def cmd(args):
        print(f"户主电话 +86 139 8765 4321，证件 {ID18}")
        warnings.warn("联系 (0751)8812345", cli.QuchiStatsWarning, stacklevel=1)
        sys.stderr.write("电话 15012345678\n")
        return 0

    parser = cli._build_parser()
    monkeypatch.setattr(cli, "_build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["synth"].set_defaults(func=cmd)
    assert main(["synth", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out == "户主电话 +86 139 **** 4321，证件 440205********123X\n"
    assert "注意：联系 (0751)*****45" in err and "电话 150****5678" in err
    assert "8765" not in out and "8812345" not in err


def test_synthetic_runs_print_nothing_that_looks_masked(tmp_path, capsys):
    """False positives: the design's tables and notes on the synthetic data are not masked."""
    from quchi_stats.datasets import data_path

    data = tmp_path / "data"
    shutil.copytree(data_path(), data, ignore=shutil.ignore_patterns("sample_*", "results_*"))
    assert main(["design", "--data", str(data), "--year", "2018", "--seed", "7"]) == 0
    out, err = capsys.readouterr()
    assert "抽中村" in out and "*" not in out + err
    import json

    notes = json.loads((data / "sample_2018" / "manifest.json").read_text(encoding="utf-8"))["notes"]
    assert notes and not any("*" in n for n in notes)


def test_manifest_notes_are_masked(tmp_path):
    from quchi_stats.sampling import DesignPlan, draw_sample, write_sample
    from tests.conftest import make_register

    reg = make_register({"甲镇": [(6, 2, 6), (6, 2, 6)], "乙镇": [(6, 2, 6), (6, 0, 6)]})
    result = draw_sample(reg, DesignPlan(year=2018, villages_total=4, min_villages_per_town=2), 3)
    result = type(result)(result.sample, result.allocation,
                          (*result.notes, "联系人 13712345678、证件 " + ID18), result.plan, result.seed)
    reg_path = tmp_path / "r.csv"
    reg_path.write_text("x", encoding="utf-8")
    outcome = write_sample(result, tmp_path / "s", reg_path)
    text = outcome.manifest_path.read_text(encoding="utf-8")
    assert "137****5678" in text and "440205********123X" in text
    assert "13712345678" not in text and ID18 not in text


# --- the guards that python -O would remove --------------------------------------------------
def test_guards_are_not_asserts():
    from quchi_stats.report.build import report_tables
    from quchi_stats.sampling.fieldlist import field_list

    for func in (report_tables, field_list):
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        assert not any(isinstance(n, ast.Assert) for n in ast.walk(tree)), func.__name__


def test_field_list_guard_raises_under_python_O():
    """Under ``python -O`` the guard still raises (it was an ``assert``, silently removed)."""
    code = textwrap.dedent("""
        import pandas as pd
        import quchi_stats.io.schema as schema
        from quchi_stats.errors import PersonalDataError
        from quchi_stats.sampling.fieldlist import field_list
        assert False, "asserts must be off"
        """)
    code = code.replace('assert False, "asserts must be off"', textwrap.dedent("""
        sample = pd.DataFrame({"town": ["甲镇"], "village": ["甲村"], "frame": ["registered"],
                               "role": ["primary"], "reserve_rank": [None],
                               "household_id": ["1"], "household_size": [3]})
        schema.PERSONAL_COLUMNS = schema.PERSONAL_COLUMNS | {"household_size"}  # simulate a leak
        try:
            field_list(sample, pd.DataFrame({"household_id": ["1"]}))
        except PersonalDataError as exc:
            print("raised:", exc)
        else:
            print("no check")
        """))
    run = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("raised: 入户名单含有个人信息列（人数）"), run.stdout


def test_report_tables_guard_raises(monkeypatch, tmp_path):
    import quchi_stats.io.schema as schema
    from quchi_stats.assessment import run_assessment
    from quchi_stats.datasets import write_district
    from quchi_stats.report import report_tables

    write_district(tmp_path, scale=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = run_assessment(2018, tmp_path, power=False)  # the tables' columns only
    assert report_tables(a)
    monkeypatch.setattr(schema, "PERSONAL_COLUMNS", schema.PERSONAL_COLUMNS | {"town"})
    with pytest.raises(PersonalDataError, match="报告表“.+”含有个人信息列（乡镇）"):
        report_tables(a)


# --- fuzz: place names with digits ----------------------------------------------------------
_DIGITS = st.text(alphabet="0123456789０１２３", min_size=1, max_size=19)
_SEPARATED = st.builds(lambda p, a, b, sep, pre: f"{pre}{p}{sep}{a}{sep}{b}",
                       st.sampled_from(PREFIXES), st.from_regex(r"[0-9]{4}", fullmatch=True),
                       st.from_regex(r"[0-9]{4}", fullmatch=True), st.sampled_from(["", " ", "-"]),
                       st.sampled_from(["", "86", "+86 ", "0086-", "(+86)"]))
_PIECE = st.one_of(_DIGITS, _SEPARATED, st.sampled_from(["村", "镇", "第", "组", "（", "）", "(", ")",
                                                        " ", "-", "马坝", "号", "+", "X"]))


@st.composite
def _place_names(draw):
    return "马坝" + "".join(draw(st.lists(_PIECE, min_size=1, max_size=5))) + "村"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=_place_names())
def test_fuzzed_place_names_with_digits(tmp_path_factory, name):
    """A place name is refused exactly when masking would change it, and the refusal never
    shows the digits that were masked; otherwise it is read unchanged (after NFKC)."""
    import csv
    import io

    d = tmp_path_factory.mktemp("place")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER.strip().split(","))
    writer.writerow(["马坝镇", name, "1", "3", "是", "2017", "一般贫困户", "是", "7012", "否"])
    path = d / "r.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    from quchi_stats.io.readers import normalize_text

    folded = normalize_text(name)
    leaks = mask_personal(folded) != folded
    try:
        reg = read_table(path, "register")
    except PersonalDataError as exc:
        msg = str(exc)
        assert leaks and "\n" not in msg and msg.startswith("r.csv，第 2 行，列“行政村”")
        assert mask_personal(folded) in msg
        return
    assert not leaks
    assert reg["village"].tolist() == [folded]


def test_library_warnings_are_masked_outside_the_command_line():
    from quchi_stats.errors import QuchiStatsWarning

    with pytest.warns(QuchiStatsWarning) as record:
        warnings.warn("户主电话 13912345678", QuchiStatsWarning, stacklevel=1)
    assert str(record[0].message) == "户主电话 139****5678"


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=_place_names())
def test_design_command_on_fuzzed_place_names(tmp_path_factory, name):
    """Through the command: exit 0 with the name in sample.csv only when it carries nothing
    masking would hide; otherwise exit 2, one line, and nothing written."""
    import csv
    import io

    from quchi_stats.io.readers import normalize_text

    d = tmp_path_factory.mktemp("placecli")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER.strip().split(","))
    for i in range(8):
        village = name if i < 4 else "马坝01村"
        writer.writerow(["马坝镇", village, str(i + 1), "3", "是" if i % 2 else "否",
                         "2018" if i % 4 == 1 else "", "一般贫困户" if i % 2 else "", "是", "7012",
                         "否"])
    path = d / "register_2018.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    folded = normalize_text(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["design", "--register", str(path), "--year", "2018", "--seed", "1",
                     "--villages", "2", "--min-villages", "1", "--households", "1,1,1",
                     "--reserves", "0", "--out", str(d / "s")])
    if mask_personal(folded) != folded:
        assert code == 2 and not (d / "s").exists()
    else:
        assert code == 0
        assert folded in (d / "s" / "sample.csv").read_text(encoding="utf-8-sig")
