"""Readers and writers for every table of the data contract."""

from .datadir import DataDir
from .readers import detect_encoding, normalize_text, read_table
from .schema import ALLOCATION_LABELS_ZH, LABELS_ZH, PERSONAL_COLUMNS, TABLES, order_towns
from .writers import atomic_write_bytes, file_sha256, write_csv, write_json

__all__ = [
    "ALLOCATION_LABELS_ZH",
    "LABELS_ZH",
    "PERSONAL_COLUMNS",
    "TABLES",
    "DataDir",
    "atomic_write_bytes",
    "detect_encoding",
    "file_sha256",
    "normalize_text",
    "order_towns",
    "read_table",
    "write_csv",
    "write_json",
]
