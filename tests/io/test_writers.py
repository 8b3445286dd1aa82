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
