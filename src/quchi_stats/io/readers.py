"""Read every table of the data contract: encodings, .xlsx, Chinese header aliases, codebooks.

One function, :func:`read_table`, reads a register, a drawn sample, field results, a town
self-assessment or reduction targets from CSV (UTF-8 with or without BOM, GB18030/GBK) or .xlsx, maps
Chinese or English headers to the canonical names of :mod:`quchi_stats.io.schema`, and parses each
value against its codebook. Any problem raises :class:`~quchi_stats.errors.DataError` naming the file,
the row (as a spreadsheet shows it: the header is row 1) and the column.
"""

from __future__ import annotations

import csv
import io as _io
import re
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError, QuchiStatsWarning
from .schema import TABLES, YES_NO, Column, TableSchema
from .writers import restore_cell

__all__ = ["detect_encoding", "normalize_text", "read_table"]

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
#: instead of exhausting the machine; a county's register is far below them (曲江: 43,000 rows,
#: 13 columns, 5 MB). A sheet's declared dimension (``<dimension ref="A1:XFD1048576">``) is not
#: trusted: only the cells a sheet really holds are read.
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


def _read_raw(path: Path, encoding: str | None, sheet: str | int | None) -> _Cells:
    """All non-blank rows as text, no header yet, with their row numbers."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    if suffix not in (".csv", ".txt"):
        raise DataError(f"不支持的文件类型“{suffix}”，应为 .csv 或 .xlsx", file=path.name)
    return _read_csv(path, encoding)


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


def _read_xlsx(path: Path, sheet: str | int | None) -> _Cells:
    import zipfile

    file = path.name
    try:
        with zipfile.ZipFile(path) as z:
            unzipped = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=file) from None
    if unzipped > MAX_XLSX_BYTES:
        raise DataError(f"解压后有 {unzipped / 2**20:,.0f} MB，超过上限 {MAX_XLSX_BYTES >> 20} MB",
                        file=file)
    try:
        try:
            return _scan_sheet(path, sheet, cached=False)
        except _FormulasFound:
            return _scan_sheet(path, sheet, cached=True)
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # broken sheet XML found while reading: report it, do not crash
        raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=file) from None


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
    if not cells.rows:
        raise DataError("文件为空", file=file)
    return cells


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
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


def _check_name_collisions(values: pd.Series, rows: np.ndarray, label: str, file: str) -> None:
    """Refuse two spellings of a name that NFKC makes equal (豈村 with U+8C48 and with U+F900,
    马坝01村 and 马坝０１村): they would look alike in every table, or be merged."""
    stripped = values.map(lambda v: v.strip())
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
        raise DataError(f"“{other}”（第 {rows[seen[key]]} 行）与“{spelling}”（第 {rows[pos]} 行）写法不同，"
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


def _parse_column(values: pd.Series, col: Column, file: str, rows: np.ndarray) -> pd.Series:
    """Parse one column of strings; raise DataError at the first bad value.

    ``rows`` are the spreadsheet row numbers of the values (the header is row 1).
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
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise fail(i, text.iloc[i])
        return mapped.astype(object).where(~blank, None)
    if col.kind in ("int", "float", "rate"):
        cleaned = text.str.replace(",", "", regex=False)
        percent = cleaned.str.endswith("%")
        numbers = pd.to_numeric(cleaned.str.rstrip("%"), errors="coerce")
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


def _map_headers(raw: pd.DataFrame, schema: TableSchema, file: str) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for col in schema.columns:
        for alias in col.all_names():
            lookup[_header_key(alias)] = col.name
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


def read_table(path: str | Path, kind: str, *, encoding: str | None = None,
               sheet: str | int | None = None) -> pd.DataFrame:
    """Read one table of the data contract into a DataFrame with canonical column names.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (UTF-8, UTF-8 with BOM or GB18030/GBK, detected) or ``.xlsx`` file.
    kind : {"register", "sample", "results", "self_report", "targets"}
        Which table of the data contract the file holds.
    encoding : str, optional
        Override the detected CSV encoding (for example ``"gbk"``).
    sheet : str or int, optional
        The worksheet of an .xlsx file (default: the first).

    Returns
    -------
    pandas.DataFrame
        The canonical columns first, parsed (是/否 as nullable booleans, codes as English values,
        household ids as text), then any other columns of the file unchanged. Fully blank rows are
        dropped with a :class:`~quchi_stats.errors.QuchiStatsWarning` that counts them. Names and
        ids keep their characters (full-width ASCII made half-width, spaces stripped); codes and
        numbers are read after NFKC.

    Raises
    ------
    DataError
        With the file, row and column: a missing required column, a value outside its codebook,
        a duplicated key, an empty file; a header written twice; a CSV row with more or fewer
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
    path = Path(path)
    if not path.is_file():
        raise DataError("文件不存在", file=str(path))
    file = path.name
    cells = _restore_quoted(_read_raw(path, encoding, sheet))
    h = _find_header(cells, schema, file)
    raw, rows = _body(cells, h, file)
    if not len(raw):
        raise DataError("文件没有数据行", file=file)
    mapping = _map_headers(raw, schema, file)
    parsed: dict[str, pd.Series] = {}
    for header, canonical in mapping.items():
        col = schema.column(canonical)
        if canonical in _NAME_COLUMNS:
            _check_name_collisions(raw[header], rows, col.label, file)
        parsed[canonical] = _parse_column(raw[header], col, file, rows)
    columns = {c.name: parsed[c.name] for c in schema.columns if c.name in parsed}
    columns.update((h_, raw[h_]) for h_ in raw.columns if h_ not in mapping)
    out = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=raw.index)  # one step
    n_blank = int(rows[-1] - cells.numbers[h]) - len(rows)
    if n_blank:
        warnings.warn(f"{file}：跳过 {n_blank} 个空行。", QuchiStatsWarning, stacklevel=2)
    out.index = pd.Index(rows)  # spreadsheet row numbers
    _check_personal_data(out, schema, file)
    if schema.key is not None and schema.key == "household_id" and schema.key in out:
        dup = out[schema.key].duplicated(keep="first")
        if dup.any():
            row = int(out.index[dup.to_numpy()][0])
            value = out.loc[row, schema.key]
            first = int(out.index[(out[schema.key] == value).to_numpy()][0])
            raise DataError(f"户编号“{value}”重复（首次出现在第 {first} 行）", file=file, row=row,
                            column=schema.column(schema.key).label)
    return out.reset_index(drop=True)


def _check_personal_data(out: pd.DataFrame, schema: TableSchema, file: str) -> None:
    """Refuse personal data where none belongs (``out`` is indexed by spreadsheet row).

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
            row = int(values.index[hit.to_numpy()][0])
            label = schema.column(name).label
            raise PersonalDataError(
                f"{label}“{mask_personal(str(values[row]))}”含有电话号码或证件号码"
                f"（共 {int(hit.sum())} 行）；地名不会含有这些号码，请从{label}中删去后再读入",
                file=file, row=row, column=label)
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
        row = int(flagged[0])
        kind = kinds[row]
        what = ("18 位，出生日期和校验位都有效" if kind == "18" else "15 位旧证号，出生日期有效")
        raise PersonalDataError(
            f"户编号是身份证号码（{what}；共 {len(flagged)} 行，号码不予显示）；应为全国扶贫开发"
            f"信息系统的户编号，不得用证件号码作户编号", file=file, row=row,
            column=schema.column("household_id").label)


def _find_header(cells: _Cells, schema: TableSchema, file: str) -> int:
    """The header row: row 1, or — when row 1 is a title such as “XX镇建档立卡户台账” and the
    required headers come in one of the next five rows — that row (a counted repair, warned).
    Returns the header's index in ``cells.rows``; a header written twice is refused."""
    first_error: DataError | None = None
    for k, number in enumerate(cells.numbers):
        if number > 6:
            break
        try:
            _map_headers(pd.DataFrame(columns=_header_names(cells.rows[k])), schema, file)
        except DataError as exc:
            first_error = first_error or exc
            continue
        _check_duplicate_headers(cells.rows[k], number, file)
        if number > 1:
            warnings.warn(f"{file}：前 {number - 1} 行是标题，表头取第 {number} 行。", QuchiStatsWarning,
                          stacklevel=3)
        return k
    if first_error is None:  # nothing in the first six rows: no header
        _map_headers(pd.DataFrame(columns=[]), schema, file)  # raises: required columns missing
    raise first_error from None
