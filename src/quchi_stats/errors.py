"""Exceptions and warnings of quchi_stats.

Every error the library raises on purpose subclasses :class:`QuchiStatsError`, so the command line
can tell a problem in the user's data or parameters (exit status 2, one line) from an internal bug.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container
from numbers import Real

__all__ = [
    "DataError",
    "MissingDependencyError",
    "NotebookExecutionError",
    "OutputExistsError",
    "OutputLockedError",
    "ParameterError",
    "PersonalDataError",
    "QuchiStatsError",
    "QuchiStatsWarning",
    "VerificationError",
    "check_choice",
    "check_int",
    "check_probability",
    "id_number_kind",
    "mask_personal",
]

# What :func:`mask_personal` masks (docs/errors.md, “个人信息的隐去”):
# - resident ID numbers: 18 characters (6-digit area, birth date 18xx–20xx, 3-digit sequence, check
#   character), also split by spaces or hyphens (6-8-4, 6-4-4-4, 4-4-4-4-2, or any split whose check
#   character is right); 15-digit old IDs (area, YYMMDD, sequence), written without separators;
# - mainland mobile numbers 1[3-9]x xxxx xxxx, with an optional +86 / 86 / 0086 / (+86) prefix and
#   an optional space or hyphen between the 3-4-4 groups;
# - landlines with an area code in parentheses or followed by a hyphen or space: (0751)8812345,
#   0751-8812345, 020 88123456.
# Full-width digits are read as digits. Numbers without this structure (amounts, years, the
# 16-digit 户编号 of the register) are left as they are.
_ID_PATTERN = re.compile(r"(?<![0-9])([1-9][0-9]{5})((?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9])"
                         r"([0-9]{3})([0-9Xx])(?![0-9])")
_ID_SPLIT_PATTERN = re.compile(r"(?<![0-9])[1-9](?:[ \-]?[0-9]){16}[ \-]?[0-9Xx](?![0-9])")
_ID15_PATTERN = re.compile(r"(?<![0-9])([1-9][0-9]{5})([0-9]{2}[01][0-9][0-3][0-9])([0-9]{3})(?![0-9])")
_PHONE_PATTERN = re.compile(
    r"(?<![0-9+.])((?:\+|00)?86[ \-]?|[(（]\+?86[)）][ \-]?)?"
    r"(1[3-9][0-9])([ \-]?)([0-9]{4})([ \-]?)([0-9]{4})(?!\.?[0-9])")
_LANDLINE_PATTERN = re.compile(
    r"(?<![0-9])([(（]0(?:10|2[0-9]|[3-9][0-9]{2})[)）][ \-]?|0(?:10|2[0-9]|[3-9][0-9]{2})[ \-])"
    r"([2-9][0-9]{6,7})(?![0-9])")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_SPLIT_LAYOUTS = {(6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2), (3, 3, 4, 4, 4)}


def _check_char(body17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def _mask_split_id(m: re.Match) -> str:
    text = m.group(0)
    chars = re.sub(r"[ \-]", "", text).upper()
    layout = tuple(len(g) for g in re.split(r"[ \-]", text))
    if not _ID_PATTERN.fullmatch(chars):
        return text
    if len(layout) > 1 and layout not in _ID_SPLIT_LAYOUTS and _check_char(chars[:17]) != chars[17]:
        return text  # numbers that merely sit side by side in a table, not one ID
    return chars[:6] + "*" * 8 + chars[14:]


def _mask_phone(m: re.Match) -> str:
    return (m.group(1) or "") + m.group(2) + m.group(3) + "****" + m.group(5) + m.group(6)


def mask_personal(text: str) -> str:
    """Mask ID numbers, mobile and landline numbers in ``text`` (``440205********123X``,
    ``138****5678``, ``(0751)*****45``).

    The one function every message, warning, printed line and manifest note goes through.

    Examples
    --------
    >>> mask_personal("证件号码 44020519800101123X 电话 13812345678")
    '证件号码 440205********123X 电话 138****5678'
    >>> mask_personal("+86 138 1234 5678；(0751)8812345；户编号 4402051002010001")
    '+86 138 **** 5678；(0751)*****45；户编号 4402051002010001'
    """
    original = str(text)
    text = original.translate(_FULLWIDTH_DIGITS)  # full-width digits are digits when matching
    text = _ID_SPLIT_PATTERN.sub(_mask_split_id, text)
    text = _ID15_PATTERN.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)
    text = _PHONE_PATTERN.sub(_mask_phone, text)
    text = _LANDLINE_PATTERN.sub(
        lambda m: m.group(1) + "*" * (len(m.group(2)) - 2) + m.group(2)[-2:], text)
    # nothing masked: the text as written (a message may be about full-width spellings)
    return original if text == original.translate(_FULLWIDTH_DIGITS) else text


_PROVINCES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
                        "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
                        "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83"})


def id_number_kind(value: str) -> str | None:
    """``"18"`` or ``"15"`` when ``value`` is structurally a resident ID number, else ``None``.

    18 characters: a province code, a real birth date from 1900-01-01 to today, and a correct
    GB 11643 check character. 15 digits: a province code and a real birth date 19YYMMDD.
    Spaces and hyphens are ignored. Used to refuse ID numbers where a 户编号 belongs.
    """
    import datetime

    s = re.sub(r"[ \-]", "", str(value).translate(_FULLWIDTH_DIGITS)).upper()
    if len(s) == 18 and s[:17].isdigit() and (s[17].isdigit() or s[17] == "X"):
        date, kind = s[6:14], "18"
    elif len(s) == 15 and s.isdigit():
        date, kind = "19" + s[6:12], "15"
    else:
        return None
    if s[:2] not in _PROVINCES:
        return None
    try:
        born = datetime.date(int(date[:4]), int(date[4:6]), int(date[6:]))
    except ValueError:
        return None
    if not datetime.date(1900, 1, 1) <= born <= datetime.date.today():
        return None
    if kind == "18" and _check_char(s[:17]) != s[17]:
        return None
    return kind


class QuchiStatsError(Exception):
    """Base class of every error raised on purpose by quchi_stats."""


class ParameterError(QuchiStatsError, ValueError):
    """A function or command was called with an invalid parameter."""


def _visible(name: str) -> str:
    """A file or column name with its control characters escaped (``\\n``, ``\\x07``): the
    message stays one line whatever name a manifest or a header holds."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


class DataError(QuchiStatsError, ValueError):
    """A problem in the user's data: names the file, the row/column and what was expected."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        parts = []
        if file is not None:
            parts.append(_visible(str(file)))
        if row is not None:
            parts.append(f"第 {row} 行")
        if column is not None:
            parts.append(f"列“{_visible(str(column))}”")
        prefix = "，".join(parts)
        # a message may quote a cell: never let personal data through
        super().__init__(mask_personal(f"{prefix}：{message}" if prefix else message))
        self.file = file
        self.row = row
        self.column = column


class PersonalDataError(DataError):
    """Personal data (an ID number, a phone number) where none may be, or about to be written."""


class OutputExistsError(QuchiStatsError, FileExistsError):
    """An output (a drawn sample, a report) exists and would be replaced without ``force``."""


class OutputLockedError(QuchiStatsError):
    """Another run is writing the same output (its lock file is held)."""


class VerificationError(QuchiStatsError):
    """A re-drawn sample does not match the audit record in its manifest."""


class MissingDependencyError(QuchiStatsError, ImportError):
    """An optional extra a command needs is not installed; the message says what to install."""


class NotebookExecutionError(QuchiStatsError):
    """A cell of a notebook being run failed; the message names the cell and the error."""


class QuchiStatsWarning(UserWarning):
    """A documented, counted repair or a situation the user should know about.

    Its text is masked (:func:`mask_personal`) wherever it is shown, not only by the command line.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_personal(a) if isinstance(a, str) else a for a in args))


def check_probability(name: str, value: object, func: str, *, closed: bool = False) -> float:
    """Check that ``value`` lies in (0, 1) (or [0, 1] when ``closed``) and return it as float."""
    interval = "[0, 1]" if closed else "(0, 1)"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ParameterError(
            f"The {name!r} parameter of {func} must be a number in {interval}. Got {value!r}.")
    v = float(value)
    ok = (0.0 <= v <= 1.0) if closed else (0.0 < v < 1.0)
    if not ok:
        raise ParameterError(f"The {name!r} parameter of {func} must be in {interval}. Got {value!r}.")
    return v


def check_int(name: str, value: object, func: str, *, minimum: int | None = None) -> int:
    """Check that ``value`` is an integer (>= ``minimum`` if given) and return it."""
    if isinstance(value, bool) or not isinstance(value, Real) or (
            not isinstance(value, int) and (not math.isfinite(value) or float(value) != int(value))):
        raise ParameterError(f"The {name!r} parameter of {func} must be an integer. Got {value!r}.")
    v = int(value)  # an int is taken as it is: float() of a 400-digit int would overflow
    if minimum is not None and v < minimum:
        raise ParameterError(
            f"The {name!r} parameter of {func} must be an integer >= {minimum}. Got {value!r}.")
    return v


def check_choice(name: str, value: object, choices: Container[str], func: str) -> str:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)  # type: ignore[attr-defined]
        raise ParameterError(f"The {name!r} parameter of {func} must be one of {opts}. Got {value!r}.")
    return str(value)
