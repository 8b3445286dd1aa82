"""Hostile inputs built by the tests themselves: tiny workbooks that declare huge sheets, formula
cells without cached values, very wide registers and very long lines.

The workbooks are written with :mod:`zipfile` from hand-written sheet XML (inline strings, no
shared-strings part), so a test controls exactly what the file declares and contains.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = ["乡镇", "行政村", "户编号", "人数", "是否建档立卡", "脱贫年度", "贫困户属性", "劳动能力",
          "人均可支配收入", "省定贫困村"]
ROWS = [
    ["马坝镇", "马坝01村", "4402051002010001", 3, "是", 2017, "一般贫困户", "是", 7012, "否"],
    ["马坝镇", "马坝01村", "4402051002010002", 4, "否", None, None, "是", 15000, "否"],
]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA, 16384 -> XFD."""
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


class Error(str):
    """An error value such as ``#REF!`` (a cell of type ``e``)."""


def _column_index(letters: str) -> int:
    """A -> 1, XFD -> 16384."""
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


def _cell(ref: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Error):
        return f'<c r="{ref}" t="e"><v>{escape(value)}</v></c>'
    if isinstance(value, tuple):  # ("=formula", cached value or None)
        formula, cached = value
        v = "" if cached is None else f"<v>{escape(str(cached))}</v>"
        t = ' t="e"' if isinstance(cached, Error) else ' t="str"' if isinstance(cached, str) else ""
        return f'<c r="{ref}"{t}><f>{escape(formula.lstrip("="))}</f>{v}</c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def write_xlsx(path: Path, rows: list[list[object]], *, dimension: str | None = None,
               extra_cells: dict[str, object] | None = None) -> Path:
    """A one-sheet workbook (“Sheet1”). ``rows`` start at row 1; a cell value may be a number, a
    text, ``None`` (no cell), an :class:`Error` or ``("=formula", cached)`` (``cached`` None: no cached value, as
    scripts write them). ``dimension`` is the declared ``<dimension ref>``; ``extra_cells`` adds
    cells by reference (e.g. ``{"XFD1048576": "x"}``) after the rows."""
    by_row: dict[int, dict[int, str]] = {}
    for r, values in enumerate(rows, start=1):
        by_row[r] = {c: _cell(f"{column_letter(c)}{r}", v) for c, v in enumerate(values, start=1)}
    for ref, value in (extra_cells or {}).items():  # a cell of ``rows`` at the same place is replaced
        letters = "".join(ch for ch in ref if ch.isalpha())
        r = int(ref[len(letters):])
        by_row.setdefault(r, {})[_column_index(letters)] = _cell(ref, value)
    body = "".join(f'<row r="{r}">{"".join(c for _, c in sorted(cells.items()))}</row>'
                   for r, cells in sorted(by_row.items()))  # cells in column order, as Excel writes
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"{dim}<sheetData>{body}</sheetData></worksheet>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def register_csv_text(extra_columns: int = 0) -> str:
    """The two-row register as CSV text, with ``extra_columns`` additional columns."""
    def line(values: list[object], extra: list[str]) -> str:
        return ",".join("" if v is None else str(v) for v in values + extra) + "\n"

    head = line(list(HEADER), [f"c{i}" for i in range(extra_columns)])
    return head + "".join(line(list(r), [""] * extra_columns) for r in ROWS)


def write_wide_csv(path: Path, extra_columns: int) -> Path:
    """A register with ``extra_columns`` extra columns (each header ``c<i>``, cells empty)."""
    path.write_text(register_csv_text(extra_columns), encoding="utf-8")
    return path


def write_long_line_csv(path: Path, n_bytes: int) -> Path:
    """A register whose second line is ``n_bytes`` commas."""
    with path.open("wb") as f:
        f.write(register_csv_text().splitlines(keepends=True)[0].encode())
        chunk = b"," * (1 << 20)
        left = n_bytes
        while left > 0:
            f.write(chunk[:left])
            left -= len(chunk)
        f.write(b"\n")
    return path
