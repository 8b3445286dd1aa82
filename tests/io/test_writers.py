"""Writers: UTF-8 with BOM, atomic replacement, personal columns refused."""

from __future__ import annotations

import pandas as pd
import pytest

from quchi_stats.errors import ParameterError
from quchi_stats.io import atomic_write_bytes, file_sha256, write_csv, write_json


def test_csv_is_utf8_with_bom_and_readable(tmp_path):
    frame = pd.DataFrame({"town": ["马坝镇"], "household_id": ["0001"]})
    p = write_csv(frame, tmp_path / "a.csv")
    raw = p.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig") == "town,household_id\n马坝镇,0001\n"
    write_csv(frame, tmp_path / "b.csv", chinese_headers=True)
    assert (tmp_path / "b.csv").read_text(encoding="utf-8-sig").startswith("乡镇,户编号")


def test_personal_columns_are_refused(tmp_path):
    frame = pd.DataFrame({"household_id": ["1"], "id_number": ["440205..."]})
    with pytest.raises(ParameterError, match="personal-data columns \\['id_number'\\]"):
        write_csv(frame, tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "x.txt"
    atomic_write_bytes(p, b"old")

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["x.txt"]  # no temporary left behind


def test_json_and_hash(tmp_path):
    p = write_json({"b": 1, "a": "曲江"}, tmp_path / "m.json")
    assert p.read_text(encoding="utf-8") == '{\n  "a": "曲江",\n  "b": 1\n}\n'
    assert len(file_sha256(p)) == 64


# --- spreadsheet formula injection (OWASP "CSV injection") -------------------------------------
import csv  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402
import openpyxl  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from quchi_stats.io import read_table  # noqa: E402
from quchi_stats.io.schema import LABELS_ZH  # noqa: E402
from quchi_stats.io.writers import (  # noqa: E402
    FORMULA_PREFIXES,
    csv_bytes,
    neutralise_cell,
    neutralise_formulas,
    restore_cell,
    xlsx_bytes,
)

PAYLOADS = ['=HYPERLINK("http://x.invalid/","x")', "=cmd|' /C calc'!A0", "+1+2", "-2+3",
            "@SUM(A1:A2)", "\t=1", "\r=1", "=", "-", "-5%", "'=1", "''-1"]


@pytest.mark.parametrize("value", PAYLOADS)
def test_text_with_a_formula_prefix_gets_one_quote_and_reads_back(value):
    out = neutralise_cell(value)
    assert out == "'" + value
    assert restore_cell(out) == value


@pytest.mark.parametrize("value", ["马坝镇", "a=b", "'", "'abc", "''", "", " =1", "＝1", "4402"])
def test_other_text_is_left_alone(value):
    assert neutralise_cell(value) == value
    assert restore_cell(value) == value


@pytest.mark.parametrize("value", [-5, -0.25, np.float64(-1e-9), np.int64(-3), float("-inf"),
                                   float("nan"), None, True, pd.NA, pd.Timestamp("2018-12-31")])
def test_non_text_is_never_touched(value):
    assert neutralise_cell(value) is value


def _hostile_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "town": ['=HYPERLINK("http://x.invalid/","x")', "马坝镇", "@A1", None],
        "household_id": pd.Series(["-4402", "+4402", "\t4402", "\r4402"], dtype="string"),
        "frame": pd.Categorical(["=a", "b", "=a", "b"]),
        "change": [-0.05, 0.1, np.nan, -12.5],
        "n": [-3, 0, 4, 5],
        "ok": [True, False, True, False],
        "=header": ["-", "-5%", "x", ""],
    })


def _fields(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_quotes_text_and_keeps_numbers():
    frame = _hostile_frame()
    before = frame.copy()
    rows = _fields(csv_bytes(frame))
    assert rows[0] == ["town", "household_id", "frame", "change", "n", "ok", "'=header"]
    body = {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}
    assert body["town"] == ['\'=HYPERLINK("http://x.invalid/","x")', "马坝镇", "'@A1", ""]
    assert body["household_id"] == ["'-4402", "'+4402", "'\t4402", "'\r4402"]
    assert body["frame"] == ["'=a", "b", "'=a", "b"]
    assert body["change"] == ["-0.05", "0.1", "", "-12.5"]  # numbers stay numbers
    assert body["n"] == ["-3", "0", "4", "5"]
    assert body["'=header"] == ["'-", "'-5%", "x", ""]
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not changed


def test_a_frame_without_formulas_is_written_as_before():
    frame = pd.DataFrame({"town": ["马坝镇", "a-b"], "x": [-1.5, 2.0]})
    assert neutralise_formulas(frame) is frame
    assert csv_bytes(frame).decode("utf-8-sig") == "town,x\n马坝镇,-1.5\na-b,2.0\n"


def test_xlsx_has_no_formula_cells_and_quotes_text():
    data = xlsx_bytes({"表": _hostile_frame(), "二": pd.DataFrame({"=x": ["=1+1"], "y": [-1]})})
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["表", "二"]
    cells = [c for ws in book for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    ws = book["表"]
    header = [c.value for c in ws[1]]
    assert header[-1] == "'=header"
    col = {h: [ws.cell(row=r, column=j + 1).value for r in range(2, 6)] for j, h in enumerate(header)}
    assert col["town"] == ['\'=HYPERLINK("http://x.invalid/","x")', "马坝镇", "'@A1", None]
    # (openpyxl writes a carriage return as &#13; with lxml, which python-docx brings; the
    # plain-XML writer it falls back on without lxml let it be read back as a line feed)
    assert col["household_id"][:3] == ["'-4402", "'+4402", "'\t4402"]
    assert col["household_id"][3] in ("'\r4402", "'\n4402")
    assert col["change"][0] == -0.05 and col["change"][2] is None and col["change"][3] == -12.5
    assert col["n"] == [-3, 0, 4, 5] and col["ok"] == [True, False, True, False]
    assert [ws.cell(row=r, column=4).data_type for r in (2, 3, 5)] == ["n", "n", "n"]
    assert book["二"]["A1"].value == "'=x" and book["二"]["A2"].value == "'=1+1"
    assert book["二"]["B2"].value == -1 and book["二"]["B2"].data_type == "n"


def test_xlsx_refuses_personal_columns():
    with pytest.raises(ParameterError, match="personal-data columns"):
        xlsx_bytes({"a": pd.DataFrame({"phone": ["13812345678"]})})


def test_what_we_write_reads_back_unchanged(tmp_path):
    """A sample with hostile ids, as ``design`` writes it, reads back with the same ids."""
    from tests.conftest import make_register

    ids = ["=1", "+2", "-3", "@4", "'=5", "''+6", "'7", "8"]
    frame = make_register({'=HYPERLINK("a","b")': [(3, 1, 4)]}).assign(household_id=ids,
                                                                        village="-村")
    p = write_csv(frame, tmp_path / "r.csv", chinese_headers=True)
    assert all(f.startswith("'") for f in _fields(p.read_bytes())[1][:3])
    back = read_table(p, "register")
    assert back["household_id"].tolist() == ids
    assert set(back["town"]) == {"=HYPERLINK(\"a\",\"b\")"} and set(back["village"]) == {"-村"}
    x = tmp_path / "r.xlsx"
    x.write_bytes(xlsx_bytes({"台账": frame.rename(columns=LABELS_ZH)}))
    assert read_table(x, "register")["household_id"].tolist() == ids


# fuzz: text with formula prefixes next to numbers, through both writers
_DANGER = st.sampled_from([*FORMULA_PREFIXES, "'=", "''-", "'", ""])
_BODY = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"),
                                       whitelist_characters="\t\r\n'\"=+-@,"), max_size=8)
_TEXT = st.one_of(st.builds(lambda p, b: p + b, _DANGER, _BODY), st.none())
_NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=False, width=32),
                    st.integers(-10**6, 10**6).map(float))


@st.composite
def _formula_frames(draw):
    n = draw(st.integers(1, 5))
    texts = draw(st.lists(st.lists(_TEXT, min_size=n, max_size=n), min_size=1, max_size=3))
    numbers = draw(st.lists(_NUMBER, min_size=n, max_size=n))
    header = draw(st.builds(lambda p, b: p + b, _DANGER, st.text(alphabet="=+-@甲乙", min_size=1,
                                                                  max_size=3)))
    cols = {f"t{i}": pd.Series(t, dtype=object) for i, t in enumerate(texts)}
    return pd.DataFrame({**cols, header: numbers})


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text)) or text == "nan"
    except ValueError:
        return False


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(frame=_formula_frames())
def test_fuzzed_formula_text_is_neutralised_in_csv(frame):
    rows = _fields(csv_bytes(frame))
    header, body = rows[0], rows[1:]
    assert len(body) == len(frame)
    for name, got in zip(frame.columns, header, strict=True):
        assert got == neutralise_cell(name) and restore_cell(got) == name
    for r, row in zip(frame.itertuples(index=False), body, strict=True):
        for value, field in zip(r, row, strict=True):
            if isinstance(value, str):
                assert restore_cell(field) == value  # nothing lost
            assert not field.startswith(FORMULA_PREFIXES) or (
                not isinstance(value, str) and _is_number(field))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(frame=_formula_frames())
def test_fuzzed_formula_text_is_never_a_formula_in_xlsx(frame):
    def as_read(text):  # an empty string is an empty cell; CR kept (lxml) or read back as LF
        quoted = neutralise_cell(text)
        return {quoted or None, re.sub("\r\n?", "\n", quoted) or None}

    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"s": frame}))).active
    for j, name in enumerate(frame.columns):
        assert ws.cell(row=1, column=j + 1).value in as_read(name)
        for i, value in enumerate(frame.iloc[:, j]):
            cell = ws.cell(row=i + 2, column=j + 1)
            assert cell.data_type != "f"
            if isinstance(value, str) and value:
                assert cell.value in as_read(value) and cell.data_type == "s"
            elif isinstance(value, float) and not math.isnan(value):
                assert cell.data_type == "n" and cell.value == pytest.approx(value)
