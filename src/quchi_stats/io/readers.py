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


def _read_raw(path: Path, encoding: str | None, sheet: str | int | None) -> pd.DataFrame:
    """All cells as text, no header yet (row 0 is the file's first row), ragged rows padded."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object,
                                  header=None, engine="openpyxl")
        except ValueError as exc:  # unknown sheet
            raise DataError(f"无法读取工作表 {sheet!r}：{exc}", file=path.name) from None
        except Exception as exc:  # a corrupt workbook: report it, do not crash
            raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=path.name) from None
        if frame.empty:
            raise DataError("文件为空", file=path.name)
        return frame.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                         else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
    if suffix not in (".csv", ".txt"):
        raise DataError(f"不支持的文件类型“{suffix}”，应为 .csv 或 .xlsx", file=path.name)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError("文件为空", file=path.name)
    if encoding is None:
        try:
            encoding = detect_encoding(raw)
        except UnicodeDecodeError:
            raise DataError("无法识别文件编码（应为 UTF-8 或 GBK/GB18030），可用 --encoding 指定",
                            file=path.name) from None
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(f"不能按编码 {encoding} 读取：{exc}", file=path.name) from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise DataError("文件含有 NUL 字符，不是文本 CSV（是否把 .xlsx 改成了 .csv？）", file=path.name)
    try:
        rows = list(csv.reader(_io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DataError(f"CSV 格式错误：{exc}", file=path.name) from None
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        raise DataError("文件为空", file=path.name)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)


def _restore_quoted(cells: pd.DataFrame) -> pd.DataFrame:
    """Undo the ``'`` our writers put before text a spreadsheet would run as a formula
    (:func:`~quchi_stats.io.writers.restore_cell`): ``'=x`` reads as ``=x``."""
    for i in range(cells.shape[1]):
        col = cells.iloc[:, i]
        quoted = col.str.startswith("'", na=False).to_numpy(dtype=bool)
        if quoted.any():
            values = col.to_numpy(dtype=object).copy()
            values[quoted] = [restore_cell(v) for v in values[quoted]]
            cells.isetitem(i, pd.Series(values, index=cells.index, dtype=object))
    return cells


def _with_header(raw: pd.DataFrame, row: int) -> pd.DataFrame:
    """Use ``raw``'s row ``row`` (0-based) as the header; make the names unique."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for v in raw.iloc[row]:
        name = normalize_text(str(v))
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    body = raw.iloc[row + 1:].copy()
    body.columns = names
    return body.reset_index(drop=True)


def _parse_column(values: pd.Series, col: Column, file: str, first_row: int = 2) -> pd.Series:
    """Parse one column of strings; raise DataError at the first bad value.

    ``first_row`` is the spreadsheet row of the first value (2 when the header is row 1).
    """
    text = values.map(normalize_text)
    blank = text == ""
    if blank.any() and not col.nullable:
        row = int(np.flatnonzero(blank.to_numpy())[0])
        raise DataError(f"不能为空，应为{_expected(col)}", file=file, row=row + first_row,
                        column=col.label)

    def fail(i: int, found: str) -> DataError:
        return DataError(f"应为{_expected(col)}，实际为“{found}”", file=file, row=i + first_row,
                         column=col.label)

    if col.kind == "str":
        return text.where(~blank, None).astype(object)
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
        bad = numbers.isna() & ~blank
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
        if col.minimum is not None:
            low = numbers < col.minimum
            if low.any():
                i = int(np.flatnonzero(low.to_numpy())[0])
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
    if col.kind == "int":
        return "整数" if col.minimum is None else f"不小于 {col.minimum:g} 的整数"
    if col.kind == "float":
        return "数值" if col.minimum is None else f"不小于 {col.minimum:g} 的数值"
    if col.kind == "rate":
        return "0–1 的比例或百分数（如 98.5%）"
    return "文本"


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
        dropped with a :class:`~quchi_stats.errors.QuchiStatsWarning` that counts them.

    Raises
    ------
    DataError
        With the file, row and column: a missing required column, a value outside its codebook,
        a duplicated key, an empty file.

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
    raw, header_row = _find_header(_restore_quoted(_read_raw(path, encoding, sheet)), schema,
                                   file)
    first_row = header_row + 1
    blank_rows = raw.apply(lambda r: all(normalize_text(str(v)) == "" for v in r), axis=1)
    mapping = _map_headers(raw, schema, file)
    parsed: dict[str, pd.Series] = {}
    for header, canonical in mapping.items():
        col = schema.column(canonical)
        series = raw[header].where(~blank_rows, "")
        # blank rows are parsed as if valid, then dropped below
        if not col.nullable:
            series = series.where(~blank_rows, _placeholder(col))
        parsed[canonical] = _parse_column(series, col, file, first_row)
    out = pd.DataFrame({c.name: parsed[c.name] for c in schema.columns if c.name in parsed})
    extra = [h for h in raw.columns if h not in mapping]
    for h in extra:
        out[h] = raw[h].to_numpy()
    n_blank = int(blank_rows.sum())
    if n_blank == len(raw):
        raise DataError("文件没有数据行", file=file)
    if n_blank:
        warnings.warn(f"{file}：跳过 {n_blank} 个空行。", QuchiStatsWarning, stacklevel=2)
    out.index = pd.RangeIndex(len(out)) + first_row  # spreadsheet row numbers
    out = out[~blank_rows.to_numpy()]
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


def _find_header(cells: pd.DataFrame, schema: TableSchema, file: str) -> tuple[pd.DataFrame, int]:
    """The header row: row 1, or — when row 1 is a title such as “XX镇建档立卡户台账” and the
    required headers come in one of the next five rows — that row (a counted repair, warned).
    Returns the table under its header and the header's spreadsheet row."""
    first = _with_header(cells, 0)
    try:
        _map_headers(first, schema, file)
        return first, 1
    except DataError as first_error:
        for k in range(1, min(6, len(cells))):
            candidate = _with_header(cells, k)
            try:
                _map_headers(candidate, schema, file)
            except DataError:
                continue
            warnings.warn(f"{file}：前 {k} 行是标题，表头取第 {k + 1} 行。", QuchiStatsWarning,
                          stacklevel=3)
            return candidate, k + 1
        raise first_error from None


def _placeholder(col: Column) -> str:
    if col.kind == "yesno":
        return "否"
    if col.kind == "enum":
        return next(iter(col.codes))
    if col.kind in ("int", "float"):
        return str(int(col.minimum)) if col.minimum is not None else "0"
    if col.kind == "rate":
        return "0"
    return "-"
