"""Atomic writers: CSV as UTF-8 with BOM (Excel opens it), JSON, raw bytes.

Each writer writes to a temporary file in the destination folder and renames it into place, so a
failed run never leaves a half-written output and never damages the previous one. Personal columns
(:data:`~quchi_stats.io.schema.PERSONAL_COLUMNS`) are refused unless ``allow_personal=True`` (only
the synthetic-register generator uses that).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ParameterError
from .schema import LABELS_ZH, PERSONAL_COLUMNS

__all__ = ["atomic_write_bytes", "file_sha256", "write_csv", "write_json"]


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
    out = frame.rename(columns=LABELS_ZH) if chinese_headers else frame
    text = out.to_csv(index=False, lineterminator="\n")
    return text.encode(encoding)


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
