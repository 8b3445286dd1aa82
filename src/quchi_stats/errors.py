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
    "OutputExistsError",
    "ParameterError",
    "QuchiStatsError",
    "QuchiStatsWarning",
    "VerificationError",
    "check_choice",
    "check_int",
    "check_probability",
    "mask_personal",
]

# 18-character resident ID numbers (6-digit area, birth date, sequence, check) and mainland mobile
# numbers; masked wherever they would reach a message, a log or an output.
_ID_PATTERN = re.compile(r"(?<![0-9])([1-9][0-9]{5})((?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9])"
                         r"([0-9]{3})([0-9Xx])(?![0-9])")
_PHONE_PATTERN = re.compile(r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")


def mask_personal(text: str) -> str:
    """Mask ID numbers and mobile numbers in ``text`` (``440205********123X``, ``138****5678``).

    Examples
    --------
    >>> mask_personal("证件号码 44020519800101123X 电话 13812345678")
    '证件号码 440205********123X 电话 138****5678'
    """
    text = _ID_PATTERN.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-3:] + m.group(4), text)
    return _PHONE_PATTERN.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class QuchiStatsError(Exception):
    """Base class of every error raised on purpose by quchi_stats."""


class ParameterError(QuchiStatsError, ValueError):
    """A function or command was called with an invalid parameter."""


class DataError(QuchiStatsError, ValueError):
    """A problem in the user's data: names the file, the row/column and what was expected."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        parts = []
        if file is not None:
            parts.append(str(file))
        if row is not None:
            parts.append(f"第 {row} 行")
        if column is not None:
            parts.append(f"列“{column}”")
        prefix = "，".join(parts)
        # a message may quote a cell: never let personal data through
        super().__init__(mask_personal(f"{prefix}：{message}" if prefix else message))
        self.file = file
        self.row = row
        self.column = column


class OutputExistsError(QuchiStatsError, FileExistsError):
    """An output (a drawn sample, a report) exists and would be replaced without ``force``."""


class VerificationError(QuchiStatsError):
    """A re-drawn sample does not match the audit record in its manifest."""


class QuchiStatsWarning(UserWarning):
    """A documented, counted repair or a situation the user should know about."""


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
