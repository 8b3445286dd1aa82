"""Readers and writers for every table of the data contract."""

from .datadir import DataDir
from .readers import detect_encoding, normalize_text, read_table
from .schema import LABELS_ZH, PERSONAL_COLUMNS, TABLES
from .writers import atomic_write_bytes, file_sha256, write_csv, write_json

__all__ = [
    "LABELS_ZH",
    "PERSONAL_COLUMNS",
    "TABLES",
    "DataDir",
    "atomic_write_bytes",
    "detect_encoding",
    "file_sha256",
    "normalize_text",
    "read_table",
    "write_csv",
    "write_json",
]
