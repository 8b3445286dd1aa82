"""Read every table of the data contract: encodings, .xlsx, Chinese header aliases, codebooks.

One function, :func:`read_table`, reads a register, a drawn sample, field results, a town
self-assessment or reduction targets from CSV (UTF-8 with or without BOM, GB18030/GBK) or .xlsx, maps
Chinese or English headers to the canonical names of :mod:`quchi_stats.io.schema`, and parses each
value against its codebook. Any problem raises :class:`~quchi_stats.errors.DataError` naming the file,
the row (as a spreadsheet shows it: the header is row 1) and the column.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io as _io
import math
import re
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError, QuchiStatsWarning
from .schema import (
    CATEGORY_FORMS,
    EXIT_STATUS_FORMS,
    LABOUR_FORMS,
    TABLES,
    YES_NO,
    YES_NO_FORMS,
    Column,
    TableSchema,
)
from .writers import restore_cell

__all__ = ["check_columns", "detect_encoding", "load_columns", "normalize_text", "read_table", "row_numbers"]

_ENCODINGS = ("utf-8-sig", "gb18030")


def normalize_text(value: str) -> str:
    """NFKC-normalise (full-width to half-width) and strip surrounding whitespace."""
    return unicodedata.normalize("NFKC", value).strip()


def _header_key(value: object) -> str:
    return re.sub(r"\s+", "", normalize_text(str(value))).lower()


def detect_encoding(raw: bytes) -> str:
    """Return ``"utf-8-sig"`` when ``raw`` decodes as UTF-8, else ``"gb18030"`` (a superset of GBK)."""
    for enc in _ENCODINGS:
        try:
            raw.decode(enc)
        except UnicodeDecodeError:
            continue
        return enc
    raise UnicodeDecodeError("gb18030", raw, 0, 1, "neither UTF-8 nor GB18030")


#: Bounds on what one file may hold. Beyond them the file is refused with one line (docs/errors.md)
#: instead of exhausting the machine; a county's register is far below them (the bundled
#: synthetic one: 43,000 rows, 13 columns, 5 MB). A sheet's declared dimension
#: (``<dimension ref="A1:XFD1048576">``) is not trusted: only the cells a sheet really holds are read.
MAX_ROWS = 1_048_576            # rows of a sheet or a CSV file (Excel's own limit)
MAX_COLUMNS = 200               # columns of a row that hold something
MAX_LINE_BYTES = 1 << 20        # bytes of one line of a CSV file
MAX_CSV_BYTES = 256 << 20       # size of a CSV file
MAX_XLSX_BYTES = 512 << 20      # size of an .xlsx file once unzipped (all its parts)


class _Cells:
    """The non-blank rows of a file as text, with their spreadsheet row numbers (1-based).

    ``fields`` (CSV only) is the number of fields of each row, for the ragged-row check; in a
    sheet, a row ends at its last cell that holds something."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.numbers: list[int] = []
        self.fields: list[int] | None = None
        self.hidden: list[str] = []  # (first sheet of a workbook) hidden sheets left unread


def _restore_quoted(cells: _Cells) -> _Cells:
    """Undo the ``'`` our writers put before text a spreadsheet would run as a formula
    (:func:`~quchi_stats.io.writers.restore_cell`): ``'=x`` reads as ``=x``."""
    for row in cells.rows:
        for j, v in enumerate(row):
            if v[:1] == "'":
                row[j] = restore_cell(v)
    return cells


def _is_blank(row: list[str]) -> bool:
    for v in row:  # (a loop: most rows end at their first cell)
        if v.strip():
            return False
    return True


_BOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")


def _read_raw(path: Path, encoding: str | None, sheet: str | int | None) -> list[tuple[str | None, _Cells]]:
    """All non-blank rows as text, no header yet, with their row numbers: one part for a CSV
    file, one per sheet that holds something for a workbook (only ``sheet`` when given)."""
    suffix = path.suffix.lower()
    if suffix in _BOOK_SUFFIXES:
        return _read_book(path, sheet)
    if suffix not in (".csv", ".txt"):
        raise DataError(f"不支持的文件类型“{suffix}”，应为 .csv、.xlsx 或 .xls", file=path.name)
    return [(None, _read_csv(path, encoding))]


def _read_csv(path: Path, encoding: str | None) -> _Cells:
    file = path.name
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise DataError(f"文件有 {size / 2**20:,.0f} MB，超过上限 {MAX_CSV_BYTES >> 20} MB", file=file)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError("文件为空", file=file)
    if b"\x00" in raw:  # (no UTF-8 or GB18030 character holds a zero byte)
        raise DataError("文件含有 NUL 字符，不是文本 CSV（是否把 .xlsx 改成了 .csv？）", file=file)
    length, line = _longest_line(raw)
    if length > MAX_LINE_BYTES:
        raise DataError(f"第 {line} 行长 {length:,} 字节，超过上限 {MAX_LINE_BYTES:,} 字节"
                        "（一行一户，不会这么长；文件是否损坏？）", file=file)
    if encoding is None:
        try:
            encoding = detect_encoding(raw)
        except UnicodeDecodeError:
            raise DataError("无法识别文件编码（应为 UTF-8 或 GBK/GB18030），可用 --encoding 指定",
                            file=file) from None
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(f"不能按编码 {encoding} 读取：{exc}", file=file) from None
    del raw
    text = text.lstrip("\ufeff")
    if "\x00" in text:  # an --encoding such as UTF-16 that makes zero bytes part of characters
        raise DataError("文件含有 NUL 字符，不是文本 CSV（是否把 .xlsx 改成了 .csv？）", file=file)
    cells = _Cells()
    cells.fields = []
    number = 0
    try:
        for record in csv.reader(_io.StringIO(text, newline="")):
            number += 1
            if number > MAX_ROWS:
                raise DataError(f"超过 {MAX_ROWS:,} 行，超出上限", file=file)
            if len(record) > MAX_COLUMNS:
                raise DataError(f"有 {len(record):,} 列，超过上限 {MAX_COLUMNS} 列", file=file,
                                row=number)
            if _is_blank(record):
                continue
            cells.rows.append(record)
            cells.numbers.append(number)
            cells.fields.append(len(record))
    except csv.Error as exc:
        what = (f"单元格超过 {csv.field_size_limit():,} 个字符" if "field larger" in str(exc)
                else str(exc))
        raise DataError(f"CSV 格式错误：{what}", file=file, row=number + 1) from None
    if not cells.rows:
        raise DataError("文件为空", file=file)
    return cells


def _longest_line(raw: bytes) -> tuple[int, int]:
    """The length in bytes of the longest line of ``raw`` and its line number, in blocks (no copy
    of the file; CR, LF and CRLF all end a line; neither byte occurs inside a GB18030 character)."""
    best, best_start, start, step = 0, 0, 0, 1 << 24
    for off in range(0, len(raw), step):
        block = np.frombuffer(raw, np.uint8, count=min(step, len(raw) - off), offset=off)
        ends = np.flatnonzero((block == 10) | (block == 13)) + off
        if ends.size:
            lengths = ends - np.concatenate(([start], ends[:-1] + 1))
            j = int(np.argmax(lengths))
            if lengths[j] > best:
                best, best_start = int(lengths[j]), int(ends[j] - lengths[j])
            start = int(ends[-1]) + 1
    if len(raw) - start > best:
        best, best_start = len(raw) - start, start
    newlines = raw.count(b"\n", 0, best_start) or raw.count(b"\r", 0, best_start)
    return best, newlines + 1


class _FormulasFound(Exception):
    """The sheet has formula cells: read it again with their cached values."""


#: Largest .xls file read (BIFF holds at most 65,536 rows by 256 columns).
MAX_XLS_BYTES = 256 << 20
#: A sheet of an .xlsx is read through calamine (fast) when at most this many cells span its
#: rows by :data:`MAX_COLUMNS`: calamine holds a sheet's whole rectangle in memory.
_CALAMINE_MAX_CELLS = 40_000_000

#: Marks of a formula (``<f>``, ``<x:f …>``) or an error value (``t="e"``) in a sheet part: plain
#: substring searches (a false alarm only sends the sheet to openpyxl).
_FORMULA_MARKS = (b"<f>", b"<f ", b":f>", b":f ", b"t=\"e\"", b"t='e'")
#: A cell reference beyond column GR (the 200th, :data:`MAX_COLUMNS`); a ``<row r="…">`` has
#: digits after ``r="`` and never matches.
_FAR_CELL = re.compile(rb"r=[\"'](?:[A-Z]{3}|[H-Z][A-Z]|G[S-Z])[0-9]")
_LAST_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*\br=[\"'](\d+)[\"']")


def _read_book(path: Path, sheet: str | int | None) -> list[tuple[str | None, _Cells]]:
    """Read an .xlsx or .xls workbook within the caps (see :func:`read_table`).

    Sheets are read by python-calamine. calamine reads a formula's cached value and shows a
    formula saved without one, or an error value (#N/A), as a blank cell; it also holds a sheet's
    whole rectangle in memory. An .xlsx whose sheets hold formulas, error values, cells beyond
    :data:`MAX_COLUMNS` or rows beyond what calamine may hold is therefore read by openpyxl,
    streaming, with the checks of :func:`_scan_sheet` (a county's export holds none of these). In
    an .xls (at most 65,536 × 256 cells, and a formula always keeps its result) error values are
    found in the BIFF records (:mod:`._biff`)."""
    import zipfile

    file = path.name
    suffix = path.suffix.lower()
    plain = True
    if suffix == ".xls":
        size = path.stat().st_size
        if size > MAX_XLS_BYTES:
            raise DataError(f"文件有 {size / 2**20:,.0f} MB，超过上限 {MAX_XLS_BYTES >> 20} MB", file=file)
    else:
        try:
            with zipfile.ZipFile(path) as z:
                infos = z.infolist()
                unzipped = sum(i.file_size for i in infos)
                if unzipped > MAX_XLSX_BYTES:
                    raise DataError(f"解压后有 {unzipped / 2**20:,.0f} MB，超过上限 "
                                    f"{MAX_XLSX_BYTES >> 20} MB", file=file)
                for info in infos:
                    if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                        with z.open(info) as part:
                            if not _plain_sheet_xml(part):
                                plain = False
                                break
        except DataError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError,
                NotImplementedError) as exc:
            raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=file) from None
    if not plain:
        names, worksheets, hidden = _xlsx_names(path)
        chosen = _chosen(path, names, sheet) if sheet is not None else [
            n for n in worksheets if n not in hidden]
        parts = [(name, _read_xlsx_sheet(path, name)) for name in chosen]
        parts = [(n, c) for n, c in parts if c.rows]
        if not parts:
            raise DataError("文件为空", file=file)
        if sheet is None:
            parts[0][1].hidden = [n for n in worksheets if n in hidden]
        return parts
    return _read_calamine(path, sheet)


def _plain_sheet_xml(part) -> bool:
    """Whether calamine may read this sheet part (a binary file object, read in blocks): no
    formula, no error value, no cell beyond :data:`MAX_COLUMNS`, and its rows by
    :data:`MAX_COLUMNS` within :data:`_CALAMINE_MAX_CELLS`."""
    block = 1 << 24
    carry = b""
    last_row = 0
    while True:
        chunk = part.read(block)
        if not chunk:
            break
        data = carry + chunk
        if any(mark in data for mark in _FORMULA_MARKS) or _FAR_CELL.search(data):
            return False
        tail = data.rfind(b"<row ")
        if tail < 0:
            tail = data.rfind(b":row ")
        if tail >= 0:
            m = _LAST_ROW.search(data, max(tail - 16, 0))
            if m:
                last_row = max(last_row, int(m.group(1)))
        carry = data[-64:]  # a mark or a row tag cut by the block's end is seen whole next time
    return last_row * MAX_COLUMNS <= _CALAMINE_MAX_CELLS


def _chosen(path: Path, names: list[str], sheet: str | int | None) -> list[str]:
    """The sheets to read: ``sheet`` (a name or a 0-based position), or all of them."""
    if sheet is None:
        return list(names)
    if isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
        return [names[sheet]]
    if isinstance(sheet, str) and sheet in names:
        return [sheet]
    if isinstance(sheet, str) and sheet.strip().isdigit() and sheet.strip() not in names:
        k = int(sheet.strip())  # --sheet 2 from the command line: the sheet's position, from 1
        if 1 <= k <= len(names):
            return [names[k - 1]]
    raise DataError(f"无法读取工作表 {sheet!r}：工作簿只有 {'、'.join(names)}", file=path.name)


def _xlsx_names(path: Path) -> tuple[list[str], list[str], set[str]]:
    """All sheet names, the worksheets' (not chart sheets), and the hidden ones."""
    book, _, _ = _open_sheet(path, 0, data_only=False)
    try:
        worksheets = [ws.title for ws in book.worksheets]
        hidden = {ws.title for ws in book.worksheets if ws.sheet_state != "visible"}
        return list(book.sheetnames), worksheets, hidden
    finally:
        book.close()


def _read_xlsx_sheet(path: Path, name: str) -> _Cells:
    try:
        try:
            return _scan_sheet(path, name, cached=False)
        except _FormulasFound:
            return _scan_sheet(path, name, cached=True)
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # broken sheet XML found while reading: report it, do not crash
        raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=path.name) from None


def _read_calamine(path: Path, sheet: str | int | None) -> list[tuple[str | None, _Cells]]:
    import python_calamine

    file = path.name
    kind = ".xls" if path.suffix.lower() == ".xls" else ".xlsx"
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # a corrupt or encrypted workbook: report it, do not crash
        raise DataError(f"不是有效的 {kind} 文件（{type(exc).__name__}）", file=file) from None
    parts: list[tuple[str | None, _Cells]] = []
    hidden: list[str] = []
    try:
        if sheet is None:  # every visible worksheet (chart sheets hold no table)
            meta = [m for m in book.sheets_metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet]
            names = [m.name for m in meta if m.visible == python_calamine.SheetVisibleEnum.Visible]
            hidden = [m.name for m in meta if m.visible != python_calamine.SheetVisibleEnum.Visible]
        else:
            names = _chosen(path, list(book.sheet_names), sheet)
        if kind == ".xls":  # calamine reads an error value as blank: find them in the records
            from ._biff import error_cells

            errors = error_cells(path) or {}
            for name in names:
                if name in errors:
                    cell, code = errors[name]
                    raise DataError(f"工作表“{name}”单元格 {cell} 是错误值“{code}”，应为数值或文本",
                                    file=file)
        for name in names:
            try:
                values = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise DataError(f"工作表“{name}”无法读取，不是有效的 {kind} 文件（{type(exc).__name__}）",
                                file=file) from None
            cells = _calamine_cells(values, name, file)
            if cells.rows:
                parts.append((name, cells))
    finally:
        book.close()
    if not parts:
        raise DataError("文件为空", file=file)
    parts[0][1].hidden = hidden
    return parts


def _calamine_cells(values: list[list[object]], name: str, file: str) -> _Cells:
    """The non-blank rows of one sheet read by calamine (whose rows start at A1)."""
    from openpyxl.utils import get_column_letter

    where = f"工作表“{name}”"
    if len(values) > MAX_ROWS:
        raise DataError(f"{where}超过 {MAX_ROWS:,} 行，超出上限", file=file)
    cells = _Cells()
    for number, row in enumerate(values, start=1):
        last = len(row) - 1
        while last >= 0 and row[last] in ("", None):
            last -= 1
        if last < 0:
            continue
        if last >= MAX_COLUMNS:
            raise DataError(f"{where}单元格 {get_column_letter(last + 1)}{number} 有内容，"
                            f"超过上限 {MAX_COLUMNS} 列", file=file)
        text = [v if type(v) is str else _cell_text(v) for v in row[:last + 1]]
        if _is_blank(text):
            continue
        cells.rows.append(text)
        cells.numbers.append(number)
    return cells


def _open_sheet(path: Path, sheet: str | int | None, data_only: bool):
    import openpyxl

    file = path.name
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=data_only, keep_links=False)
    except Exception as exc:  # a corrupt workbook: report it, do not crash
        raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=file) from None
    names = book.sheetnames
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
        name = names[sheet]
    elif isinstance(sheet, str) and sheet in names:
        name = sheet
    else:
        book.close()
        raise DataError(f"无法读取工作表 {sheet!r}：工作簿只有 {'、'.join(names)}", file=file)
    ws = book[name]
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # never trust the declared <dimension>: it may claim A1:XFD1048576
    return book, ws, name


def _scan_sheet(path: Path, sheet: str | int | None, *, cached: bool) -> _Cells:
    """Read one sheet row by row within the caps. Formula cells: the first pass (``cached=False``)
    stops at the first one; the second reads the sheet twice in step, the formulas and their
    cached values, and refuses a formula saved without its value (what scripts write)."""
    from openpyxl.utils import get_column_letter

    file = path.name
    book, ws, name = _open_sheet(path, sheet, data_only=False)
    books = [book]
    where = f"工作表“{name}”"
    try:
        rows = ws.iter_rows()
        values = None
        if cached:
            vbook, vws, _ = _open_sheet(path, sheet, data_only=True)
            books.append(vbook)
            values = vws.iter_rows()
        cells = _Cells()
        for number, row in enumerate(rows, start=1):
            vrow = next(values, ()) if values is not None else row
            if number > MAX_ROWS:
                raise DataError(f"{where}超过 {MAX_ROWS:,} 行，超出上限", file=file)
            last = len(row) - 1
            while last >= 0 and row[last].value in (None, ""):
                last -= 1
            if last < 0:
                continue
            if last >= MAX_COLUMNS:
                raise DataError(f"{where}单元格 {get_column_letter(last + 1)}{number} 有内容，"
                                f"超过上限 {MAX_COLUMNS} 列", file=file)
            text: list[str] = []
            for j in range(last + 1):
                cell = row[j]
                value = cell.value
                if cell.data_type == "f":
                    if values is None:
                        raise _FormulasFound
                    vcell = vrow[j] if j < len(vrow) else None
                    value = None if vcell is None else vcell.value
                    if value is None:
                        raise DataError(
                            f"{where}单元格 {get_column_letter(j + 1)}{number}：公式没有保存计算结果"
                            "（程序生成的文件常见）；请在 Excel 或 WPS 中打开、保存后再导入，"
                            "或把公式换成数值", file=file)
                    cell = vcell
                if cell.data_type == "e":
                    raise DataError(f"{where}单元格 {get_column_letter(j + 1)}{number} 是错误值"
                                    f"“{value}”，应为数值或文本", file=file)
                text.append(_cell_text(value))
            if _is_blank(text):
                continue
            cells.rows.append(text)
            cells.numbers.append(number)
    finally:
        for b in books:
            b.close()
    return cells


#: A number cell at least this large (2**53) is not an exact integer any more: its text is written as
#: Excel shows it (``4.40205199001011E+17``), so that an id saved as a number is recognised as mangled
#: (:func:`_check_mangled_ids`) rather than read with made-up last digits. Below it a number is its
#: exact integer (a 16-digit id written by a program as a number is kept).
_EXCEL_DIGITS = float(2**53)


def _cell_text(value: object) -> str:
    if type(value) is float:  # the common case first
        if -_EXCEL_DIGITS < value < _EXCEL_DIGITS:
            return str(int(value)) if value.is_integer() else str(value)
        return f"{value:.14E}" if math.isfinite(value) else str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):  # openpyxl: the digits the file holds
        return str(value)
    if isinstance(value, float):
        if abs(value) >= _EXCEL_DIGITS:
            return f"{value:.14E}" if math.isfinite(value) else str(value)
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time() else value.isoformat(" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _column_letter(j: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(j + 1)


def _header_names(row: list[str]) -> list[str]:
    """The header row's names, normalised; blank names made unique (“”, “.1”, …)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for v in row:
        name = normalize_text(str(v))
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _check_duplicate_headers(row: list[str], number: int, file: str) -> None:
    """Refuse a header written twice (“乡镇” twice): which column holds the data is unknown."""
    first: dict[str, int] = {}
    for j, v in enumerate(row):
        key = _header_key(v)
        if not key:
            continue
        if key in first:
            raise DataError(f"表头“{normalize_text(str(v))}”出现两次（第 {_column_letter(first[key])} 列和"
                            f"第 {_column_letter(j)} 列），不知道该用哪一列；请删去或改名其中一列",
                            file=file, row=number)
        first[key] = j


def _body(cells: _Cells, h: int, file: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows under the header ``cells.rows[h]`` as a frame with the header's names, and their
    row numbers. A row with more or fewer fields than the header (an unquoted comma, a lost one)
    or a cell to the right of the header is refused, naming the row."""
    header = cells.rows[h]
    width = len(header)
    hnum = cells.numbers[h]
    if cells.fields is not None:  # CSV: every row has exactly the header's fields
        for k in range(h + 1, len(cells.rows)):
            n = cells.fields[k]
            if n != width:
                more = "多" if n > width else "少"
                raise DataError(f"有 {n} 个字段，比表头（第 {hnum} 行，{width} 列）{more} {abs(n - width)}"
                                " 个：是否有未加引号的逗号，或漏了逗号？这会使整行错位", file=file,
                                row=cells.numbers[k])
    else:  # a sheet: blank header cells at the right do not count; nothing may stand right of it
        while width and not header[width - 1].strip():
            width -= 1
        for k in range(h + 1, len(cells.rows)):
            row = cells.rows[k]
            if len(row) > width:  # rows end at their last cell holding something
                raise DataError(f"单元格 {_column_letter(len(row) - 1)}{cells.numbers[k]} 有内容，但该列"
                                f"没有表头（表头在第 {hnum} 行，共 {width} 列）", file=file,
                                row=cells.numbers[k])
    names = _header_names(header[:width])
    rows = [r if len(r) == width else r + [""] * (width - len(r)) for r in cells.rows[h + 1:]]
    columns = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(names, ())
    frame = pd.DataFrame({k: np.asarray(v, dtype=object) for k, v in columns.items()}, dtype=object)
    return frame, np.asarray(cells.numbers[h + 1:], dtype=np.int64)


_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


_WIDE = re.compile("[\uff01-\uff5e\u3000]")


def _fold_name(value: str) -> str:
    """A name or an id as written, with full-width ASCII and the ideographic space made half-width
    and surrounding space stripped. Unlike NFKC it keeps every other character (``第①组`` stays,
    the compatibility ideograph U+F900 豈 is not turned into U+8C48 豈): a name is an identity,
    not a number to be parsed."""
    return (value.translate(_FULL_WIDTH) if _WIDE.search(value) else value).strip()


def _check_name_collisions(values: pd.Series, places: list[tuple[str, int]], label: str,
                           file: str) -> None:
    """Refuse two spellings of a name that NFKC makes equal (豈村 with U+8C48 and with U+F900,
    马坝01村 and 马坝０１村): they would look alike in every table, or be merged."""
    stripped = values.reset_index(drop=True).map(lambda v: v.strip())
    firsts = stripped[stripped != ""].drop_duplicates()
    seen: dict[str, int] = {}
    for pos, spelling in firsts.items():
        key = unicodedata.normalize("NFKC", spelling)
        if key not in seen:
            seen[key] = pos
            continue
        other = firsts[seen[key]]
        odd = sorted({f"U+{ord(c):04X}" for c in other + spelling
                      if unicodedata.normalize("NFKC", c) != c})
        raise DataError(f"“{other}”（{_place(places, seen[key], file)}）与“{spelling}”"
                        f"（{_place(places, pos, file)}）写法不同，"
                        f"规范化（NFKC）后却相同（涉及 {'、'.join(odd)}），不能确定是一个还是两个名称；"
                        "请统一写法", file=file, column=label)


#: Names that must not be merged or confused by normalisation (see _check_name_collisions).
_NAME_COLUMNS = ("town", "village")


def _map_unique(values: pd.Series, func) -> pd.Series:
    """``values.map(func)``, calling ``func`` once per distinct value."""
    distinct = pd.unique(values)
    if 2 * len(distinct) > len(values):  # mostly distinct (ids): a dict would only cost
        return values.map(func)
    return values.map({v: func(v) for v in distinct})


class _Notes:
    """The counted repairs of one read, each said once (a QuchiStatsWarning) when it ends."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.titles: dict[int, list[str | None]] = {}
        self.blank = 0
        self.forms: dict[str, list] = {}  # column label -> [count, {form: value}]
        self.other: list[str] = []

    def form(self, label: str, found: pd.Series, read: pd.Series) -> None:
        entry = self.forms.setdefault(label, [0, {}])
        entry[0] += len(found)
        for f, v in zip(found, read, strict=True):
            if len(entry[1]) >= 3:
                break
            entry[1].setdefault(f, v)

    def emit(self, stacklevel: int) -> None:
        file = self.file
        for number, sheets in self.titles.items():
            named = [n for n in sheets if n is not None]
            where = "工作表" + "、".join(f"“{n}”" for n in named) + "的" if len(named) > 1 else ""
            warnings.warn(f"{file}：{where}前 {number - 1} 行是标题，表头取第 {number} 行。",
                          QuchiStatsWarning, stacklevel=stacklevel)
        if self.blank:
            warnings.warn(f"{file}：跳过 {self.blank} 个空行。", QuchiStatsWarning, stacklevel=stacklevel)
        for label, (count, examples) in self.forms.items():
            shown = "，".join(f"“{f}”读作“{_shown(v)}”" for f, v in examples.items())
            warnings.warn(f"{file}：列“{label}”有 {count:,} 个值按常见写法读取（{shown}）。",
                          QuchiStatsWarning, stacklevel=stacklevel)
        for text in self.other:
            warnings.warn(text, QuchiStatsWarning, stacklevel=stacklevel)


def _shown(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: ``2019年``, ``2019 年度``: a year with its unit.
_YEAR_FORM = re.compile(r"^(\d{4})\s*年度?$")
#: A date whose year is taken (脱贫年度 written as the exit date): 2019-12-31, 2019/12/31,
#: 2019.12, 2019年12月31日, 2019-12-31 00:00:00.
_DATE_FORM = re.compile(r"^(\d{4})\s*[-/.年]\s*\d{1,2}\s*(?:[-/.月]\s*(?:\d{1,2}\s*日?)?)?"
                        r"(?:\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
#: ``3人``, ``3 口``: a household size with its unit.
_PERSONS_FORM = re.compile(r"^(\d+)\s*(?:人|口|口人)$")
#: Which forms each integer column repairs.
_INT_FORMS: dict[str, tuple[re.Pattern, ...]] = {
    "exit_year": (_YEAR_FORM, _DATE_FORM),
    "year": (_YEAR_FORM,),
    "household_size": (_PERSONS_FORM,),
}
#: Other spellings of codes, per column (read with a counted note).
_ENUM_FORMS: dict[str, dict[str, str]] = {"category": CATEGORY_FORMS, "exit_status": EXIT_STATUS_FORMS}


def _repair_numbers(text: pd.Series, numbers: pd.Series, blank: pd.Series, col: Column,
                    notes: _Notes | None) -> pd.Series:
    """Numbers of ``text`` that failed to parse but have a common form of ``col`` (``2019年``,
    a date in 脱贫年度, ``3人``), read and counted."""
    forms = _INT_FORMS.get(col.name)
    bad = numbers.isna() & ~blank
    if not forms or not bad.any():
        return numbers

    def one(value: str) -> float:
        for form in forms:
            m = form.match(value)
            if m:
                return float(m.group(1))
        return np.nan

    fixed = _map_unique(text[bad], one)
    ok = fixed.notna()
    if ok.any():
        if notes is not None:
            notes.form(col.label, text[bad][ok], fixed[ok])
        numbers = numbers.copy()
        numbers[fixed[ok].index] = fixed[ok]
    return numbers


def _parse_column(values: pd.Series, col: Column, file: str, rows: np.ndarray,
                  notes: _Notes | None = None) -> pd.Series:
    """Parse one column of strings; raise DataError at the first bad value.

    ``rows`` are the spreadsheet row numbers of the values (the header is row 1). Common forms
    (``√``, ``有劳动能力``, ``2019年``, ``3人``, a code's other spellings) are read and counted
    in ``notes``.
    """
    text = _map_unique(values, normalize_text)
    blank = text == ""
    if blank.any() and not col.nullable:
        row = int(np.flatnonzero(blank.to_numpy())[0])
        raise DataError(f"不能为空，应为{_expected(col)}", file=file, row=int(rows[row]),
                        column=col.label)

    def fail(i: int, found: str) -> DataError:
        if len(found) > 40:  # one line: a 100 kB cell is not echoed
            found = f"{found[:40]}…（共 {len(found):,} 个字符）"
        return DataError(f"应为{_expected(col)}，实际为“{found}”", file=file, row=int(rows[i]),
                         column=col.label)

    if col.kind == "str":
        return _map_unique(values, _fold_name).where(~blank, None).astype(object)
    if col.kind == "yesno":
        lowered = text.str.lower()
        mapped = lowered.map(YES_NO)
        bad = mapped.isna() & ~blank
        if bad.any():
            extra = {**YES_NO_FORMS, **(LABOUR_FORMS if col.name == "able_to_work" else {})}
            fixed = lowered[bad].map(extra)
            ok = fixed.notna()
            if ok.any():
                if notes is not None:
                    notes.form(col.label, text[bad][ok], fixed[ok])
                mapped = mapped.astype(object)
                mapped[fixed[ok].index] = fixed[ok]
                bad = mapped.isna() & ~blank
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise fail(i, text.iloc[i])
        return mapped.astype("boolean")
    if col.kind == "enum":
        lookup = {}
        for code, label in col.codes.items():
            lookup[code.lower()] = code
            lookup[label.lower()] = code
        mapped = text.str.lower().map(lookup)
        bad = mapped.isna() & ~blank
        if bad.any() and col.name in _ENUM_FORMS:
            fixed = text[bad].str.lower().str.replace(r"\s+", "", regex=True).map(_ENUM_FORMS[col.name])
            ok = fixed.notna()
            if ok.any():
                if notes is not None:
                    notes.form(col.label, text[bad][ok], fixed[ok].map(col.codes))
                mapped[fixed[ok].index] = fixed[ok]
                bad = mapped.isna() & ~blank
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise fail(i, text.iloc[i])
        return mapped.astype(object).where(~blank, None)
    if col.kind in ("int", "float", "rate"):
        cleaned = text.str.replace(",", "", regex=False)
        percent = cleaned.str.endswith("%")
        numbers = pd.to_numeric(cleaned.str.rstrip("%"), errors="coerce")
        if col.kind == "int":
            numbers = _repair_numbers(text, numbers, blank, col, notes)
        bad = (numbers.isna() | ~np.isfinite(numbers)) & ~blank  # inf, nan: never a count or an income
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise fail(i, text.iloc[i])
        if col.kind == "rate":
            numbers = numbers.where(~percent, numbers / 100.0)
            plain = ~percent & ~blank
            if (numbers[plain] > 1).any():
                i = int(np.flatnonzero((plain & (numbers > 1)).to_numpy())[0])
                if (numbers[plain] <= 100).all():
                    warnings.warn(f"{file}：列“{col.label}”的数值大于 1，按百分数读取（除以 100）。",
                                  QuchiStatsWarning, stacklevel=4)
                    numbers = numbers.where(~plain, numbers / 100.0)
                else:
                    raise fail(i, text.iloc[i])
            out_of_range = (numbers < 0) | (numbers > 1)
            if out_of_range.any():
                i = int(np.flatnonzero(out_of_range.to_numpy())[0])
                raise fail(i, text.iloc[i])
            return numbers.astype(float)
        out_of_range = pd.Series(False, index=numbers.index)
        if col.minimum is not None:
            out_of_range |= numbers < col.minimum
        if col.maximum is not None:
            out_of_range |= numbers > col.maximum
        if out_of_range.any():
            i = int(np.flatnonzero(out_of_range.to_numpy())[0])
            raise fail(i, text.iloc[i])
        if col.kind == "int":
            frac = numbers.notna() & (numbers != np.round(numbers))
            if frac.any():
                i = int(np.flatnonzero(frac.to_numpy())[0])
                raise fail(i, text.iloc[i])
            return numbers.astype("Int64")
        return numbers.astype(float)
    raise AssertionError(f"unknown column kind {col.kind!r}")  # pragma: no cover


def _expected(col: Column) -> str:
    if col.kind == "yesno":
        return "是/否（或 Y/N、1/0）"
    if col.kind == "enum":
        return "、".join(col.codes.values()) + " 之一"
    if col.kind in ("int", "float"):
        what = "整数" if col.kind == "int" else "数值"
        if col.minimum is not None and col.maximum is not None:
            return f"介于 {_bound(col.minimum)} 与 {_bound(col.maximum)} 之间的{what}"
        if col.minimum is not None:
            return f"不小于 {_bound(col.minimum)} 的{what}"
        if col.maximum is not None:  # pragma: no cover - every bounded column has a minimum
            return f"不大于 {_bound(col.maximum)} 的{what}"
        return what
    if col.kind == "rate":
        return "0–1 的比例或百分数（如 98.5%）"
    return "文本"


def _bound(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


def _map_headers(raw: pd.DataFrame, schema: TableSchema, file: str,
                 user: dict[str, str] | None = None) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for col in schema.columns:
        for alias in col.all_names():
            lookup[_header_key(alias)] = col.name
    if user:
        lookup.update(user)
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header in raw.columns:
        canonical = lookup.get(_header_key(header))
        if canonical is None:
            continue
        if canonical in seen:
            raise DataError(f"列“{seen[canonical]}”与列“{header}”都对应“{canonical}”，只能保留一列",
                            file=file)
        seen[canonical] = str(header)
        mapping[header] = canonical
    missing = [c for c in schema.columns if c.required and c.name not in mapping.values()]
    if missing:
        names = "、".join(f"{c.label}/{c.name}" for c in missing)
        raise DataError(f"缺少必需的列：{names}（{schema.label}）", file=file)
    return mapping


def row_numbers(path: Path, kind: str, sheet: str | None, encoding: str | None, n: int) -> pd.Index:
    """Spreadsheet row numbers of the ``n`` data rows of a ``kind`` table that read without error
    (a title above the header and blank rows counted), for messages that name a row; 2, 3, … when
    the file cannot be read again or its rows do not match ``n``. Used by
    :func:`quchi_stats.checks.read_checked` and :func:`quchi_stats.io.entry.result_rows`."""
    try:
        cells = _restore_quoted(_read_raw(Path(path), encoding, sheet)[0][1])
        h = _find_header(cells, TABLES[kind], Path(path).name)
        rows = np.asarray(cells.numbers[h + 1:], dtype=np.int64)
    except Exception:  # pragma: no cover - the file read a moment ago
        rows = np.array([])
    return pd.Index(rows if len(rows) == n else np.arange(2, n + 2))


def read_table(path: str | Path, kind: str, *, encoding: str | None = None,
               sheet: str | int | None = None,
               columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read one table of the data contract into a DataFrame with canonical column names.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (UTF-8, UTF-8 with BOM or GB18030/GBK, detected), ``.xlsx`` or ``.xls`` file
        (workbooks are read by python-calamine).
    kind : {"register", "sample", "results", "self_report", "targets"}
        Which table of the data contract the file holds.
    encoding : str, optional
        Override the detected CSV encoding (for example ``"gbk"``).
    sheet : str or int, optional
        The worksheet of a workbook, by name or 0-based position (a text of digits that is not a
        sheet's name is its position from 1, as typed after ``--sheet``). By default every sheet
        that holds something is read: one sheet is the table; several sheets with the same header
        (one per town) are read as one table, said in a counted note; sheets with different
        headers are refused, listing them.
    columns : mapping of str to str, optional
        The user's header aliases: a header of the file -> the canonical column (English name or
        Chinese label), for exports whose headers :mod:`~quchi_stats.io.schema` does not know
        (see :func:`load_columns`). They take precedence over the built-in aliases.

    Returns
    -------
    pandas.DataFrame
        The canonical columns first, parsed (是/否 as nullable booleans, codes as English values,
        household ids as text), then any other columns of the file unchanged. Fully blank rows are
        dropped with a :class:`~quchi_stats.errors.QuchiStatsWarning` that counts them; so are
        a title row above the header, and values read in a common form (``2019年``, a date in
        脱贫年度, ``3人``, ``√``/``×``, ``有劳动能力``, 劳动技能 such as ``普通劳动力``, other
        spellings of 贫困户属性 and 脱贫状态). Names and
        ids keep their characters (full-width ASCII made half-width, spaces stripped); codes and
        numbers are read after NFKC.

    Raises
    ------
    DataError
        With the file, row and column: a missing required column, a value outside its codebook,
        a duplicated key, an empty file; a 户编号 that Excel saved as a number (``5.30999E+15``,
        ``530999123456789.0``: its last digits are lost); a header written twice; a CSV row with more or fewer
        fields than the header; a formula saved without its value or an error value in a sheet;
        two spellings of a town or village that NFKC would make equal; a file beyond the caps
        (:data:`MAX_ROWS`, :data:`MAX_COLUMNS`, :data:`MAX_LINE_BYTES`, :data:`MAX_CSV_BYTES`,
        :data:`MAX_XLSX_BYTES`).

    Examples
    --------
    >>> from quchi_stats.io import read_table
    >>> from quchi_stats.datasets import data_path
    >>> reg = read_table(data_path() / "register_2018.csv", "register")
    >>> reg[["town", "village", "household_id", "registered"]].dtypes.astype(str).tolist()
    ['object', 'object', 'object', 'boolean']
    """
    if kind not in TABLES:
        raise ParameterError(
            f"The 'kind' parameter of read_table must be one of {sorted(TABLES)}. Got {kind!r}.")
    schema = TABLES[kind]
    user = _user_aliases(columns, schema)
    path = Path(path)
    if not path.is_file():
        raise DataError("文件不存在", file=str(path))
    file = path.name
    notes = _Notes(file)
    parts = _read_raw(path, encoding, sheet)
    if parts[0][1].hidden:
        shown = "、".join(f"“{n}”" for n in parts[0][1].hidden)
        notes.other.append(f"{file}：隐藏的工作表 {shown} 未读入（如需读入，用 --sheet 指定）。")
    multi = len(parts) > 1
    labels = [f"{file} 工作表“{name}”" if multi else file for name, _ in parts]
    found: list[tuple[int, object]] = []  # each part's header index, or the error finding it
    for (_, cells), label in zip(parts, labels, strict=True):
        _restore_quoted(cells)
        try:
            found.append((_find_header(cells, schema, label, notes if not multi else None, user), None))
        except DataError as exc:
            if not multi:
                raise
            found.append((-1, exc))
    if multi:
        _check_sheets_agree(parts, found, file)
        for (name, cells), (h, _) in zip(parts, found, strict=True):
            if cells.numbers[h] > 1:
                notes.titles.setdefault(cells.numbers[h], []).append(name)
    frames, places = [], []
    for (_name, cells), (h, _), label in zip(parts, found, labels, strict=True):
        frame, rows = _read_part(cells, h, schema, label, user, notes)
        frames.append(frame)
        places.extend((label, int(r)) for r in rows)
    out = pd.concat(frames, ignore_index=True) if multi else frames[0].reset_index(drop=True)
    if multi:
        for name in _NAME_COLUMNS:
            if name in out:
                _check_name_collisions(out[name].fillna("").astype(str), places,
                                       schema.column(name).label, file)
        counts = "、".join(f"{name} {len(f):,} 行" for (name, _), f in zip(parts, frames, strict=True))
        notes.other.append(f"{file}：{len(parts)} 个工作表表头相同，合为一个{schema.label}读入："
                           f"{counts}，共 {len(out):,} 行。")
    _check_mangled_ids(out, schema, places, notes)
    _check_personal_data(out, schema, places)
    if schema.key is not None and schema.key == "household_id" and schema.key in out:
        dup = out[schema.key].duplicated(keep="first")
        if dup.any():
            pos = int(np.flatnonzero(dup.to_numpy())[0])
            value = out[schema.key].iloc[pos]
            first = int(np.flatnonzero((out[schema.key] == value).to_numpy())[0])
            label, row = places[pos]
            ids = out[schema.key].dropna().astype(str)
            long = ids[ids.str.len() >= 16]
            if _TRUNCATED.match(str(value)) and long.str.match(_TRUNCATED).all():
                # every id of 16+ digits ends in zeros after the 15th: Excel cut them all (an id
                # written in full ends in 0 one time in ten)
                col = schema.column(schema.key).label
                n = len(long)
                raise DataError(
                    f"{col}被 Excel 当作数字保存，末位已丢失（{n:,} 个{col}超过 15 位且第 15 位之后全是 0，"
                    f"于是出现重复，如本行与{_place(places, first, label)}；号码不予显示）；{_MANGLED_FIX}",
                    file=label, row=row, column=col)
            at = _place(places, first, label)
            raise DataError(f"户编号“{value}”重复（首次出现在{at}）", file=label, row=row,
                            column=schema.column(schema.key).label)
    notes.emit(stacklevel=3)
    return out


def _place(places: list[tuple[str, int]], pos: int, label: str | None = None) -> str:
    """Where row ``pos`` of a read is, for a message: 第 5 行, or 工作表“马坝镇”第 5 行 when it
    is on another sheet than ``label``."""
    where, row = places[pos]
    if label is not None and where == label:
        return f"第 {row} 行"
    sheet = where.split(" ", 1)[1] if " 工作表“" in where else ""
    return f"{sheet}第 {row} 行"


def _read_part(cells: _Cells, h: int, schema: TableSchema, file: str, user: dict[str, str],
               notes: _Notes) -> tuple[pd.DataFrame, np.ndarray]:
    """One sheet (or the CSV file) under its header, parsed, with its rows' numbers."""
    raw, rows = _body(cells, h, file)
    if not len(raw):
        raise DataError("文件没有数据行", file=file)
    mapping = _map_headers(raw, schema, file, user)
    parsed: dict[str, pd.Series] = {}
    for header, canonical in mapping.items():
        col = schema.column(canonical)
        if canonical in _NAME_COLUMNS:
            _check_name_collisions(raw[header], [(file, int(r)) for r in rows], col.label, file)
        parsed[canonical] = _parse_column(raw[header], col, file, rows, notes)
    columns = {c.name: parsed[c.name] for c in schema.columns if c.name in parsed}
    columns.update((h_, raw[h_]) for h_ in raw.columns if h_ not in mapping)
    out = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=raw.index)  # one step
    notes.blank += int(rows[-1] - cells.numbers[h]) - len(rows)
    return out, rows


def _check_sheets_agree(parts: list[tuple[str | None, _Cells]], found: list[tuple[int, object]],
                        file: str) -> None:
    """Several sheets are one table only when each has the table's header and all the same
    header; otherwise refuse, listing the sheets (never silently read the first)."""
    def header(k: int) -> tuple[str, ...] | None:
        h = found[k][0]
        if h < 0:
            return None
        row = parts[k][1].rows[h]
        keys = [_header_key(v) for v in row]
        while keys and not keys[-1]:
            keys.pop()
        return tuple(keys)

    heads = [header(k) for k in range(len(parts))]
    if heads[0] is not None and all(hd == heads[0] for hd in heads):
        return
    listed = []
    for k, (name, cells) in enumerate(parts):
        first = next((x for x in heads if x is not None), None)
        if heads[k] is None:
            listed.append(f"“{name}”（{len(cells.rows):,} 行，找不到表头）")
        elif heads[k] == first:
            listed.append(f"“{name}”（{len(cells.rows):,} 行）")
        else:
            listed.append(f"“{name}”（{len(cells.rows):,} 行，表头不同）")
    raise DataError(f"工作簿有 {len(parts)} 个有内容的工作表：{'、'.join(listed)}；表头不一致，不能合为一表。"
                    "请用 --sheet 指定要读的工作表（sheet=…），或把各表整理成相同的表头", file=file)


def _column_names_by_key() -> dict[str, str]:
    """Every canonical column of the data contract, keyed by its name and by its Chinese label
    (normalised as headers are), for the user's alias maps."""
    known: dict[str, str] = {}
    for table in TABLES.values():
        for col in table.columns:
            known[_header_key(col.name)] = col.name
            known[_header_key(col.label)] = col.name
    return known


def _user_aliases(columns: Mapping[str, str] | None, schema: TableSchema) -> dict[str, str]:
    """The user's header aliases that name a column of ``schema``, keyed like the built-in ones."""
    if columns is None:
        return {}
    if not isinstance(columns, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        raise ParameterError("The 'columns' parameter of read_table must be a mapping of header "
                             f"to column name (str to str). Got {type(columns).__name__}.")
    known = _column_names_by_key()
    out: dict[str, str] = {}
    for header, target in columns.items():
        canonical = known.get(_header_key(target))
        if canonical is None or not _header_key(header):
            raise ParameterError(
                "The 'columns' parameter of read_table must map headers to column names of the "
                f"data contract. Got {header!r} -> {target!r}.")
        if canonical in schema.names:
            out[_header_key(header)] = canonical
    return out


#: An id of 16 digits or more whose digits after the 15th are all 0: what Excel keeps of a longer
#: number (15 significant digits). Taken as mangled only when such ids collide and every id of 16
#: digits or more has that form.
_TRUNCATED = re.compile(r"^\d{15}0+$")
_MANGLED_FIX = ("请从信息系统重新导出，或在 Excel 中先把该列设为“文本”格式再粘贴/导入，"
                "不要用 Excel 打开后另存为 CSV")
#: Text that Excel made of an id it took for a number: 5.30999E+15, 530999123456789.0.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$")
_FLOAT_ID = re.compile(r"^\d+\.0+$")


def _check_mangled_ids(out: pd.DataFrame, schema: TableSchema, places: list[tuple[str, int]],
                       notes: _Notes) -> None:
    """A 户编号 saved by Excel as a number is refused with one line that says so (not as a run of
    duplicates); a mangled 证件号码 (not used by any statistic) is a counted note. No number is
    ever printed."""
    for name in ("household_id", "id_number"):
        if name not in out:
            continue
        values = out[name].dropna().astype(str)
        sci = values.str.match(_SCIENTIFIC)
        flt = values.str.match(_FLOAT_ID)
        if not (sci.any() or flt.any()):
            continue
        label = schema.column(name).label
        n_sci, n_flt = int(sci.sum()), int(flt.sum())
        if n_sci:
            what = (f"{label}被 Excel 当作数字保存，末位已丢失（{n_sci:,} 行是科学计数法，如 5.30999E+15；"
                    "号码不予显示）")
            first = int(values.index[sci.to_numpy()][0])
        else:
            what = (f"{label}被当作数字保存（{n_flt:,} 行带“.0”，超过 15 位的末位可能已丢失；"
                    "号码不予显示）")
            first = int(values.index[flt.to_numpy()][0])
        where, row = places[first]
        if name == "household_id":
            raise DataError(f"{what}；{_MANGLED_FIX}", file=where, row=row, column=label)
        notes.other.append(f"{where}：{what}；名单中的{label}不可靠。")

def _check_personal_data(out: pd.DataFrame, schema: TableSchema,
                         places: list[tuple[str, int]]) -> None:
    """Refuse personal data where none belongs (``places[i]`` is the file and row of ``out``'s
    row ``i``).

    - a town or village name holding a phone number, a landline or an ID number (anything
      :func:`~quchi_stats.errors.mask_personal` would mask): place names never carry them;
    - a 户编号 that is a resident ID number (:func:`~quchi_stats.errors.id_number_kind`: 18
      characters with a real birth date and a correct check character, or 15 digits with a real
      birth date). A 15-digit 户编号 is accepted when every 15-digit 户编号 of its village (two or
      more) shares its first 12 digits: that is a village code followed by a sequence number, as
      the national system writes them, not ID numbers (which would all share one birth date).

    The messages name the file, the row and the column; the number itself is never printed.
    """
    from ..errors import PersonalDataError, id_number_kind, mask_personal

    for name in ("town", "village"):
        if name not in out:
            continue
        values = out[name].dropna()
        bad_names = {v for v in values.unique() if mask_personal(str(v)) != str(v)}
        if bad_names:
            hit = values.isin(bad_names)
            pos = int(values.index[hit.to_numpy()][0])
            label = schema.column(name).label
            where, row = places[pos]
            raise PersonalDataError(
                f"{label}“{mask_personal(str(values[pos]))}”含有电话号码或证件号码"
                f"（共 {int(hit.sum())} 行）；地名不会含有这些号码，请从{label}中删去后再读入",
                file=where, row=row, column=label)
    if "household_id" not in out or "village" not in out:
        return
    ids = out["household_id"].astype(str).str.replace(r"[ \-]", "", regex=True)
    candidates = ids[ids.str.len().isin((15, 18))]
    kinds = {i: id_number_kind(v) for i, v in candidates.items()}
    flagged = [i for i, k in kinds.items() if k is not None]
    if not flagged:
        return
    fifteen = ids[ids.str.len() == 15]
    coded: set = set()
    if len(fifteen):
        villages = out.loc[fifteen.index, "village"].astype(str)
        if "town" in out:
            villages = out.loc[fifteen.index, "town"].astype(str) + "\x1f" + villages
        shared = fifteen.str[:12].groupby(villages).agg(lambda p: p.nunique() == 1 and len(p) >= 2)
        coded = set(fifteen.index[villages.map(shared).astype(bool).to_numpy()])
    flagged = [i for i in flagged if not (kinds[i] == "15" and i in coded)]
    if flagged:
        where, row = places[int(flagged[0])]
        kind = kinds[flagged[0]]
        what = ("18 位，出生日期和校验位都有效" if kind == "18" else "15 位旧证号，出生日期有效")
        raise PersonalDataError(
            f"户编号是身份证号码（{what}；共 {len(flagged)} 行，号码不予显示）；应为全国扶贫开发"
            f"信息系统的户编号，不得用证件号码作户编号", file=where, row=row,
            column=schema.column("household_id").label)


def _find_header(cells: _Cells, schema: TableSchema, file: str, notes: _Notes | None = None,
                 user: dict[str, str] | None = None) -> int:
    """The header row: row 1, or — when row 1 is a title such as “XX镇建档立卡户台账” and the
    required headers come in one of the next five rows — that row (a counted repair, warned).
    Returns the header's index in ``cells.rows``; a header written twice is refused."""
    first_error: DataError | None = None
    for k, number in enumerate(cells.numbers):
        if number > 6:
            break
        try:
            _map_headers(pd.DataFrame(columns=_header_names(cells.rows[k])), schema, file, user)
        except DataError as exc:
            first_error = first_error or exc
            continue
        _check_duplicate_headers(cells.rows[k], number, file)
        if number > 1 and notes is not None:
            notes.titles.setdefault(number, []).append(None)
        return k
    if first_error is None:  # nothing in the first six rows: no header
        _map_headers(pd.DataFrame(columns=[]), schema, file, user)  # raises: required columns missing
    raise first_error from None


#: Largest column-alias file read (a real one is a few hundred bytes).
MAX_COLUMNS_FILE_BYTES = 1_000_000


def check_columns(table: object, file: str) -> dict[str, str]:
    """Check a ``[columns]`` table (user header -> canonical column, English name or Chinese
    label of any table of the data contract) and return it as a plain dict; one Chinese line
    naming the file and the key otherwise."""
    if not isinstance(table, Mapping):
        raise DataError(f"[columns] 应为表（表头 = \"列名\"），实际为 {type(table).__name__}", file=file)
    known = _column_names_by_key()
    out: dict[str, str] = {}
    for header, target in table.items():
        shown = header if len(header) <= 40 else header[:40] + "…"
        if not _header_key(header):
            raise DataError("[columns] 中有空的表头", file=file)
        if not isinstance(target, str):
            raise DataError(f"[columns] “{shown}”应为列名文本（如 \"household_id\" 或 \"户编号\"），"
                            f"实际为 {type(target).__name__}", file=file)
        if _header_key(target) not in known:
            raise DataError(f"[columns] “{shown}”对应的“{target[:40]}”不是数据约定中的列"
                            "（应为 household_id、town 等英文列名或 户编号、乡镇 等中文列名）", file=file)
        out[header] = target
    return out


def load_columns(path: str | Path) -> dict[str, str]:
    """Read a user's header aliases from the ``[columns]`` section of a TOML file
    (``--columns FILE.toml``; a spec file's ``[columns]`` works too).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "columns.toml"
    >>> text = '[columns]\\n"户主身份证" = "id_number"\\n"农户编码" = "户编号"\\n'
    >>> _ = p.write_text(text, encoding="utf-8")
    >>> load_columns(p)
    {'户主身份证': 'id_number', '农户编码': '户编号'}
    """
    import tomllib

    from .._strict import read_text_capped

    path = Path(path)
    if not path.is_file():
        raise DataError("列名对照文件不存在", file=str(path))
    text = read_text_capped(path, path.name, MAX_COLUMNS_FILE_BYTES, "列名对照文件")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"不是有效的 TOML：{exc}", file=path.name) from None
    if "columns" not in doc:
        raise DataError("缺少 [columns] 一节（每行：表头 = \"列名\"）", file=path.name)
    return check_columns(doc["columns"], path.name)
