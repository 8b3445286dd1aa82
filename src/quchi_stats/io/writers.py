"""Atomic writers: CSV as UTF-8 with BOM (Excel opens it), .xlsx, JSON, raw bytes.

Each writer writes to a temporary file in the destination folder and renames it into place, so a
failed run never leaves a half-written output and never damages the previous one. Personal columns
(:data:`~quchi_stats.io.schema.PERSONAL_COLUMNS`) are refused unless ``allow_personal=True`` (only
the synthetic-register generator uses that).

Formula injection: a text field that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would be read by Excel or WPS as a formula (``=HYPERLINK(…)``, ``=cmd|' /C calc'!A0``), so
every CSV and .xlsx output passes through one function, :func:`neutralise_cell`, that puts a ``'``
in front of such text (OWASP's advice). Numbers stay numbers (``-0.05`` is written as it is); only
text is touched, so the text ``"-"`` or ``"-5%"`` is written ``'-`` / ``'-5%``. The readers undo it
(:func:`restore_cell`), so a sample written by ``design`` reads back with the ids it was drawn with.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .schema import LABELS_ZH, PERSONAL_COLUMNS

__all__ = ["FORMULA_PREFIXES", "atomic_write_bytes", "csv_bytes", "display_width", "file_sha256",
           "neutralise_cell",
           "neutralise_formulas", "restore_cell", "write_csv", "write_json", "xlsx_bytes"]

#: First characters that make a spreadsheet read a text field as a formula (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Text that gets the quote: a formula prefix, after any number of quotes already there — so that
# "'=x" (a value that really starts with a quote) is written "''=x" and reads back unchanged.
_QUOTE = re.compile(r"'*[=+\-@\t\r]")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Anything that is not a ``str`` (numbers, including negative ones, NaN, None, booleans, dates)
    is returned unchanged. Text beginning with ``=``, ``+``, ``-``, ``@``, tab or CR — or with
    quotes followed by one of these — gets one more ``'`` in front; :func:`restore_cell` undoes it.

    Examples
    --------
    >>> print(neutralise_cell('=HYPERLINK("http://x","x")'))
    '=HYPERLINK("http://x","x")
    >>> neutralise_cell(-5.0), neutralise_cell("-5%"), neutralise_cell("马坝镇")
    (-5.0, "'-5%", '马坝镇')
    """
    if isinstance(value, str) and _QUOTE.match(value):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """Undo :func:`neutralise_cell` on text read back from a file (``"'=x"`` → ``"=x"``).

    Only a quote followed by what :func:`neutralise_cell` would have quoted is removed; any other
    text, including a lone ``'`` or ``"'abc"``, is returned unchanged.
    """
    if value.startswith("'") and _QUOTE.match(value, 1):
        return value[1:]
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`neutralise_cell` applied to every text cell and column label.

    Numeric, boolean and date columns are not looked at; a text column in which nothing needs
    quoting is left exactly as it is (same object, same dtype), so ordinary outputs do not change.
    """
    out = frame
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if col.dtype.kind in "biufcmM":  # numbers, booleans, dates: never text
            continue
        values = col.to_numpy(dtype=object)
        hits = [j for j, v in enumerate(values) if isinstance(v, str) and _QUOTE.match(v)]
        if not hits:
            continue
        if out is frame:
            out = frame.copy()
        values = values.copy()
        for j in hits:
            values[j] = "'" + values[j]
        out.isetitem(i, pd.Series(values, index=frame.index, dtype=object))
    labels = [neutralise_cell(c) for c in frame.columns]
    if labels != list(frame.columns):
        if out is frame:
            out = frame.copy()
        out.columns = labels
    return out


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def csv_bytes(frame: pd.DataFrame, *, encoding: str = "utf-8-sig", chinese_headers: bool = False,
              allow_personal: bool = False) -> bytes:
    """Render ``frame`` as CSV bytes (the exact bytes :func:`write_csv` writes)."""
    personal = sorted(PERSONAL_COLUMNS.intersection(frame.columns))
    if personal and not allow_personal:
        raise ParameterError(
            f"Refusing to write personal-data columns {personal}: drop them first.")
    out = neutralise_formulas(frame.rename(columns=LABELS_ZH) if chinese_headers else frame)
    # Rows end in "\n", so the csv module would leave a carriage return inside a text field
    # unquoted and a reader would split the row there: then every text field is quoted.
    quoting = csv.QUOTE_NONNUMERIC if _has_carriage_return(out) else csv.QUOTE_MINIMAL
    text = out.to_csv(index=False, lineterminator="\n", quoting=quoting)
    return text.encode(encoding)


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    texts = [c for c in frame.columns if isinstance(c, str)]
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if col.dtype.kind not in "biufcmM":
            texts += [v for v in col.to_numpy(dtype=object) if isinstance(v, str)]
    return any("\r" in t for t in texts)


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame], *,
               number_format: Callable[[str, pd.Series], str | None]
               | Mapping[str, Mapping[str, str | None]] | None = None,
               readable: bool = False,
               preamble: Mapping[str, Sequence[str]] | None = None) -> bytes:
    """An .xlsx workbook, one sheet per table (name cut to Excel's 31 characters), no index.

    Every text cell — headers and preamble lines included — is written as a string cell, never a
    formula, and neutralised by :func:`neutralise_cell`. Numbers stay numeric cells; NaN is an
    empty cell; an infinite value, which a workbook cannot hold, is the text ``inf`` (``'-inf``),
    or ``—`` when ``readable``.

    Parameters
    ----------
    sheets : mapping of sheet name to DataFrame
    number_format : callable, optional
        ``number_format(header, column)`` gives the Excel number format of a column's cells
        (``"0.0%"``, ``"#,##0"``) or None to leave them General; or, as a mapping, each sheet's
        formats by header (``{sheet: {header: format}}``; a header not named is left General).
        The values are not changed.
    readable : bool
        Lay the workbook out for people: bold, frozen header row, column widths fitted to the
        text (a CJK character counts as two), long text wrapped, booleans as 是/否, ±inf as ``—``.
    preamble : mapping of sheet name to lines, optional
        Lines of text written above a sheet's table (a title, a summary); the table's header row
        comes after them and a blank line, and is the row that is frozen.
    """
    import io

    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for table in sheets.values():
        personal = sorted(PERSONAL_COLUMNS.intersection(table.columns))
        if personal:
            raise ParameterError(
                f"Refusing to write personal-data columns {personal}: drop them first.")
    preamble = preamble or {}
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, table in sheets.items():
            lines = list(preamble.get(name, ()))
            top = len(lines) + 1 if lines else 0  # header row index (0-based) after a blank line
            frame = _readable_values(table) if readable else table
            frame.to_excel(xw, sheet_name=name[:31], index=False, startrow=top)
            ws = xw.sheets[name[:31]]
            for i, line in enumerate(lines, start=1):
                ws.cell(row=i, column=1, value=line)
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        cell.value = neutralise_cell(cell.value)
                        cell.data_type = "s"
            header = top + 1  # 1-based row of the header
            if number_format is not None:
                for j, col in enumerate(table.columns, start=1):
                    fmt = (number_format.get(name, {}).get(str(col))
                           if isinstance(number_format, Mapping)
                           else number_format(str(col), table.iloc[:, j - 1]))
                    if fmt is None:
                        continue
                    for (cell,) in ws.iter_rows(min_row=header + 1, min_col=j, max_col=j):
                        if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                            cell.number_format = fmt
            if readable:
                if lines:
                    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
                for cell in ws[header]:
                    cell.font = Font(bold=True)
                    cell.alignment = Alignment(vertical="center", wrap_text=True)
                ws.freeze_panes = ws.cell(row=header + 1, column=1)
                for j, col in enumerate(frame.columns, start=1):
                    width = _column_width(col, frame.iloc[:, j - 1])
                    ws.column_dimensions[get_column_letter(j)].width = width
                    if width >= _WIDEST:
                        for (cell,) in ws.iter_rows(min_row=header + 1, min_col=j, max_col=j):
                            cell.alignment = Alignment(vertical="top", wrap_text=True)
    return buf.getvalue()


_WIDEST = 60  # characters (a CJK character is two): wider text wraps


def _readable_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with booleans as 是/否 and ±inf as ``—`` (text); other values as they are."""
    out = frame
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        values = col.to_numpy(dtype=object)
        is_bool = [isinstance(v, bool | np.bool_) for v in values]
        is_inf = [isinstance(v, float | np.floating) and np.isinf(v) for v in values]
        if not any(is_bool) and not any(is_inf):
            continue
        if out is frame:
            out = frame.copy()
        new = [("是" if v else "否") if b else "—" if f else v
               for v, b, f in zip(values, is_bool, is_inf, strict=True)]
        out.isetitem(i, pd.Series(new, index=frame.index, dtype=object))
    return out


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: two for a CJK (wide or ambiguous) character.

    >>> display_width("马坝镇"), display_width("99.9%"), display_width("≥ 90%")
    (6, 5, 6)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


def _column_width(header: object, column: pd.Series) -> float:
    """A width (in Excel's character units) that shows the header and the column's values."""
    widths = [display_width(str(header))]
    if column.dtype.kind in "biufc":
        widths.append(12)  # a formatted number: "99.9%", "12,345", "< 0.001"
    else:
        widths += [display_width(v) if isinstance(v, str) else 12 for v in column.dropna()]
    return float(min(max(widths) + 2, _WIDEST))


def write_csv(frame: pd.DataFrame, path: str | Path, *, encoding: str = "utf-8-sig",
              chinese_headers: bool = False, allow_personal: bool = False) -> Path:
    """Write ``frame`` atomically as CSV, UTF-8 with BOM by default.

    Parameters
    ----------
    frame : DataFrame
    path : str or Path
    encoding : str
        ``"utf-8-sig"`` (default, opens in Excel) or ``"gb18030"``/``"gbk"``.
    chinese_headers : bool
        Write the Chinese labels of canonical columns instead of their English names.
    allow_personal : bool
        Permit 户主姓名/证件号码/联系电话 columns (the synthetic register only).
    """
    return atomic_write_bytes(path, csv_bytes(frame, encoding=encoding,
                                              chinese_headers=chinese_headers,
                                              allow_personal=allow_personal))


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` atomically as pretty, key-sorted UTF-8 JSON (Chinese kept readable)."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
