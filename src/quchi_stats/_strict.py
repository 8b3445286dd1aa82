"""Strict reading of the small structured files a user edits or keeps: the TOML assessment spec and
the JSON manifest of a draw.

Each file's keys are declared once as :class:`Field` objects (type, range or choices, required or
optional, default, a Chinese description); :func:`check_table` walks a parsed document against them
and raises :class:`~quchi_stats.errors.DataError` with one line naming the file and the key path for
the first problem: an unknown key (with the nearest valid one), a wrong type, a value out of range,
a missing key, a string too long. :func:`read_text_capped` reads the file itself: size cap, UTF-8
with or without BOM, GBK/GB18030 and UTF-16 recognised and named instead of misread.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError

__all__ = ["Field", "check_table", "describe", "doc_range", "read_text_capped", "where"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True)
class Field:
    """One key of a structured file.

    ``kind`` is ``"int"``, ``"number"`` (int or float, finite), ``"bool"``, ``"str"``,
    ``"choice"`` (a string among ``choices``), ``"list"`` (an array of ``item``), ``"table"``
    (a table of ``fields``; ``open_table`` leaves its keys to the caller) or ``"tables"`` (an
    array of tables of ``fields``). ``lo``/``hi`` bound numbers (``lo_open``/``hi_open`` exclude
    the bound); ``min_len``/``max_len`` bound the characters of a string or the items of an
    array. ``nullable`` also accepts ``None`` (JSON ``null``); ``also_int`` accepts an integer
    where a string is expected (a sheet given by position).
    """

    key: str
    kind: str
    doc: str = ""
    required: bool = False
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | Callable[[], Sequence[str]] = ()
    min_len: int = 0
    max_len: int = 200
    item: Field | None = None
    fields: tuple[Field, ...] = ()
    pattern: str | None = None
    nullable: bool = False
    also_int: bool = False
    one_line: bool = True
    unique: bool = False
    open_table: bool = False

    def allowed(self) -> tuple[str, ...]:
        return tuple(self.choices() if callable(self.choices) else self.choices)


# --- describing keys and values in one line -------------------------------------------------

def _safe(text: str, limit: int = 40) -> str:
    """``text`` on one line, control characters escaped, cut at ``limit`` characters."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= limit else text[:limit] + f"…（共 {len(text)} 字）"


class _Row(int):
    """The index of a table in an array of tables (``[[indicator]]``), as a path segment."""


def where(path: Sequence[str | int], style: str = "toml") -> str:
    """A key path as the user wrote it: ``[lqas] d``, ``[[indicator]] 第 4 项 threshold``,
    ``satisfied_levels 第 2 项`` (TOML) or ``register.sha256`` (JSON)."""
    out: list[str] = []
    for i, seg in enumerate(path):
        if isinstance(seg, int):
            out.append(f"第 {seg + 1} 项")
            continue
        nxt = path[i + 1] if i + 1 < len(path) else None
        key = _safe(seg)
        if style == "json":
            out.append(key if not out or isinstance(path[i - 1], int) else out.pop() + "." + key)
        elif isinstance(nxt, _Row):
            out.append(f"[[{key}]]")
        elif isinstance(nxt, str):
            out.append(f"[{key}]")
        else:
            out.append(key)
    return " ".join(out)


def describe(value: Any) -> str:
    """A value as a user would recognise it, short and on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        if abs(value) < 10 ** 24:
            return str(value)
        digits = int(value.bit_length() * math.log10(2)) + 1  # str() fails beyond 4,300 digits
        return f"约 {digits} 位的{'负' if value < 0 else ''}整数"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return f"字符串“{_safe(value, 30)}”"
    if isinstance(value, dict):
        return f"表（{len(value)} 个键）"
    if isinstance(value, list):
        return f"数组（{len(value)} 项）"
    if isinstance(value, _dt.date | _dt.time):
        return f"日期时间 {value}"
    return type(value).__name__  # pragma: no cover - parsers produce nothing else


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(x)


def _range_zh(f: Field) -> str:
    parts = []
    if f.lo is not None:
        parts.append(f"大于 {_fmt(f.lo)}" if f.lo_open else f"不小于 {_fmt(f.lo)}")
    if f.hi is not None:
        parts.append(f"小于 {_fmt(f.hi)}" if f.hi_open else f"不超过 {_fmt(f.hi)}")
    noun = "整数" if f.kind == "int" else "数"
    return (" 且".join(parts) + " 的" if parts else "") + noun


def doc_range(f: Field) -> str:
    """The type and range of a field for the documentation (``number in (0, 100000]``)."""
    if f.kind in ("int", "number"):
        lo = "−∞" if f.lo is None else _fmt(f.lo)
        hi = "∞" if f.hi is None else _fmt(f.hi)
        left = "(" if f.lo_open or f.lo is None else "["
        right = ")" if f.hi_open or f.hi is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        return f"{'integer' if f.kind == 'int' else 'number'} in {interval}"
    if f.kind == "choice":
        return "one of " + ", ".join(f"`{c}`" for c in f.allowed())
    if f.kind == "bool":
        return "true / false"
    if f.kind == "str":
        return f"string, {f.min_len}–{f.max_len} characters" + (f", `{f.pattern}`" if f.pattern else "")
    if f.kind == "list" and f.item is not None:
        repeats = ", no repeats" if f.unique else ""
        return f"array of {f.min_len}–{f.max_len} ({doc_range(f.item)}){repeats}"
    if f.kind == "table":
        return "table"
    return f"array of {f.min_len}–{f.max_len} tables"


# --- the validator ---------------------------------------------------------------------------

class _Checker:
    def __init__(self, file: str, style: str, lead: str) -> None:
        self.file, self.style, self.lead = file, style, lead

    def err(self, message: str) -> DataError:
        return DataError(self.lead + message, file=self.file)

    def fail(self, path: Sequence[str | int], message: str) -> DataError:
        return self.err(f"{where(path, self.style)} {message}" if path else message)

    def table(self, doc: Any, fields: Sequence[Field], path: tuple[str | int, ...]) -> dict:
        by_key = {f.key: f for f in fields}
        for key in doc:
            if key not in by_key:
                if not isinstance(key, str):  # pragma: no cover - TOML and JSON keys are strings
                    key = str(key)
                best = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.6)
                hint = (f"是否应为 {best[0]}？" if best
                        else "可用的键：" + "、".join(by_key))
                where_ = where((*path, key), self.style)
                raise self.err(f"未知的键 {where_}（{hint}）")
        out = {}
        for f in fields:
            if f.key not in doc:
                if f.required:
                    place = where((*path, ""), self.style).rstrip(" .") + " 中" if path else ""
                    raise self.err(f"{place}缺少 {f.key}（{f.doc}）")
                if f.default is not None:
                    out[f.key] = f.default
                continue
            out[f.key] = self.value(doc[f.key], f, (*path, f.key))
        return out

    def value(self, v: Any, f: Field, path: tuple[str | int, ...]) -> Any:
        if v is None and f.nullable:
            return None
        kind = f.kind
        if kind in ("int", "number"):
            ok = (isinstance(v, int) and not isinstance(v, bool)) or (
                kind == "number" and isinstance(v, float))
            if not ok or (isinstance(v, float) and not math.isfinite(v)) or not self._in_range(v, f):
                raise self.fail(path, f"应为{_range_zh(f)}（实际为 {describe(v)}）")
            return v
        if kind == "bool":
            if not isinstance(v, bool):
                raise self.fail(path, f"应为 true 或 false（实际为 {describe(v)}）")
            return v
        if kind == "str":
            if f.also_int and isinstance(v, int) and not isinstance(v, bool):
                if not 0 <= v < 10_000:
                    raise self.fail(path, f"应为字符串或 0–9999 的整数（实际为 {describe(v)}）")
                return v
            if not isinstance(v, str):
                raise self.fail(path, f"应为字符串（实际为 {describe(v)}）")
            if f.one_line and _CONTROL.search(v):
                raise self.fail(path, f"不能含换行或控制字符（实际为 {describe(v)}）")
            if not f.min_len <= len(v) <= f.max_len:
                raise self.fail(path, f"应为 {f.min_len}–{f.max_len} 个字符的字符串"
                                      f"（实际为 {len(v)} 个字符）")
            if f.pattern is not None and not re.fullmatch(f.pattern, v):
                raise self.fail(path, f"格式不对（应匹配 {f.pattern}，实际为 {describe(v)}）")
            return v
        if kind == "choice":
            allowed = f.allowed()
            if not isinstance(v, str) or v not in allowed:
                best = (difflib.get_close_matches(v, list(allowed), n=1, cutoff=0.6)
                        if isinstance(v, str) else [])
                hint = f"；是否应为 {best[0]}？" if best else ""
                raise self.fail(path, f"应为 {'、'.join(allowed)} 之一（实际为 {describe(v)}{hint}）")
            return v
        if kind == "list":
            if not isinstance(v, list):
                raise self.fail(path, f"应为数组（实际为 {describe(v)}）")
            self._count(v, f, path, "项")
            assert f.item is not None
            items = [self.value(x, f.item, (*path, i)) for i, x in enumerate(v)]
            if f.unique:
                for i, x in enumerate(items):
                    if x in items[:i]:
                        raise self.fail((*path, i), f"与第 {items.index(x) + 1} 项重复（{describe(x)}）")
            return items
        if kind == "table":
            if not isinstance(v, dict):
                what = f"表 [{where(path, 'json')}]" if self.style == "toml" else "对象"
                raise self.fail(path, f"应为{what}（实际为 {describe(v)}）")
            return dict(v) if f.open_table else self.table(v, f.fields, path)
        if kind == "tables":
            if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
                name = where(path, "json")
                shown = f"表 [{name}]" if isinstance(v, dict) and self.style == "toml" else describe(v)
                what = f"表数组 [[{name}]]" if self.style == "toml" else "对象数组"
                raise self.fail(path, f"应为{what}（实际为 {shown}）")
            self._count(v, f, path, "项")
            return [self.table(x, f.fields, (*path, _Row(i))) for i, x in enumerate(v)]
        raise AssertionError(f"unknown field kind {kind!r}")  # pragma: no cover

    @staticmethod
    def _in_range(v: float, f: Field) -> bool:
        if f.lo is not None and (v <= f.lo if f.lo_open else v < f.lo):
            return False
        return not (f.hi is not None and (v >= f.hi if f.hi_open else v > f.hi))

    def _count(self, v: list, f: Field, path: tuple[str | int, ...], unit: str) -> None:
        if not f.min_len <= len(v) <= f.max_len:
            raise self.fail(path, f"应有 {f.min_len}–{f.max_len} {unit}（实际为 {len(v)} {unit}）")


def check_table(doc: Any, fields: Sequence[Field], file: str, *, style: str = "toml",
                lead: str = "") -> dict:
    """Check a parsed document against its fields; return it with the defaults filled in.

    Raises :class:`DataError` (one line, naming ``file`` and the key path, after ``lead``) at the
    first problem.
    """
    checker = _Checker(file, style, lead)
    if not isinstance(doc, dict):
        raise checker.err(f"顶层应为{'表' if style == 'toml' else '对象'}（实际为 {describe(doc)}）")
    return checker.table(doc, fields, ())


# --- reading the file ------------------------------------------------------------------------

def read_text_capped(path: Path, name: str, max_bytes: int, what: str) -> str:
    """The text of a small UTF-8 file (BOM optional), refusing a file over ``max_bytes`` and naming
    the encoding of a file saved as GBK/GB18030 or UTF-16 instead of misreading it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"文件过大（{size:,} 字节），{what}不应超过 {max_bytes:,} 字节", file=name)
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise DataError(f"无法读取{what}（{type(exc).__name__}）", file=name) from None
    if len(data) > max_bytes:  # grew while read
        raise DataError(f"文件过大，{what}不应超过 {max_bytes:,} 字节", file=name)
    return decode_utf8(data, name, what)


def decode_utf8(data: bytes, name: str, what: str) -> str:
    """Decode UTF-8 (a leading BOM, as Notepad writes, is dropped); name GBK and UTF-16."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{what}是 UTF-16 编码（记事本的“Unicode”），请另存为 UTF-8 编码", file=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            raise DataError(f"{what}不是 UTF-8 编码（第 {line} 行有无法解码的字节），请另存为 UTF-8 编码",
                            file=name) from None
        raise DataError(f"{what}是 GBK/GB18030 编码（第 {line} 行起），请另存为 UTF-8 编码",
                        file=name) from None
