"""Find error values (#N/A, #DIV/0! …) in an .xls (BIFF8) workbook.

python-calamine reads an error cell of an .xls as a blank cell, which would turn ``#N/A`` in
脱贫年度 into "not exited" without a word. This module reads just enough of the file to refuse such
cells as the .xlsx reader does: the compound file's sector chains (MS-CFB) to get the ``Workbook``
stream, then its records (MS-XLS): BOUNDSHEET for the sheet names, BOOLERR and FORMULA for cells
holding an error value. Anything it cannot follow returns ``None`` (no check) — calamine has
already read the file, so a broken file is reported there.
"""

from __future__ import annotations

import struct
from pathlib import Path

_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END = 0xFFFFFFFE
_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?",
           0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}


class _Broken(Exception):
    pass


def _chain(table: list[int], start: int, limit: int) -> list[int]:
    out, n = [], start
    while n != _END:
        if n >= len(table) or len(out) > limit:
            raise _Broken
        out.append(n)
        n = table[n]
    return out


def _workbook_stream(raw: bytes) -> bytes:
    if raw[:8] != _SIGNATURE or len(raw) < 512:
        raise _Broken
    size = 1 << struct.unpack_from("<H", raw, 0x1E)[0]
    mini_size = 1 << struct.unpack_from("<H", raw, 0x20)[0]
    if size not in (512, 4096) or mini_size != 64:
        raise _Broken
    n_sectors = (len(raw) - size) // size + 1
    first_dir, = struct.unpack_from("<I", raw, 0x30)
    cutoff, first_minifat, _n_minifat, first_difat, n_difat = struct.unpack_from("<IIIII", raw, 0x38)

    def sector(n: int) -> bytes:
        off = (n + 1) * size
        if n < 0 or off + size > len(raw) + size:  # the last sector may be short
            raise _Broken
        return raw[off:off + size]

    fat_sectors = [x for x in struct.unpack_from("<109I", raw, 0x4C) if x < 0xFFFFFFFA]
    d = first_difat
    for _ in range(n_difat):
        if d >= 0xFFFFFFFA:
            break
        entries = struct.unpack(f"<{size // 4}I", sector(d))
        fat_sectors += [x for x in entries[:-1] if x < 0xFFFFFFFA]
        d = entries[-1]
    fat: list[int] = []
    for s in fat_sectors:
        fat += struct.unpack(f"<{size // 4}I", sector(s))
    directory = b"".join(sector(s) for s in _chain(fat, first_dir, n_sectors))
    entries = {}
    root = None
    for off in range(0, len(directory) - 127, 128):
        e = directory[off:off + 128]
        length, = struct.unpack_from("<H", e, 0x40)
        name = e[:max(length - 2, 0)].decode("utf-16-le", "replace")
        kind = e[0x42]
        start, = struct.unpack_from("<I", e, 0x74)
        nbytes, = struct.unpack_from("<I", e, 0x78)
        if kind == 5:
            root = (start, nbytes)
        elif kind == 2:
            entries[name] = (start, nbytes)
    stream = entries.get("Workbook") or entries.get("Book")
    if stream is None or root is None:
        raise _Broken
    start, nbytes = stream
    if nbytes >= cutoff:
        data = b"".join(sector(s) for s in _chain(fat, start, n_sectors))
    else:
        ministream = b"".join(sector(s) for s in _chain(fat, root[0], n_sectors))
        minifat: list[int] = []
        for s in _chain(fat, first_minifat, n_sectors):
            minifat += struct.unpack(f"<{size // 4}I", sector(s))
        data = b"".join(ministream[m * 64:(m + 1) * 64]
                        for m in _chain(minifat, start, len(ministream) // 64 + 1))
    return data[:nbytes]


def _column(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def error_cells(path: str | Path) -> dict[str, tuple[str, str]] | None:
    """The first error value of each sheet of an .xls: sheet name -> (cell such as ``F7``, the
    error such as ``#N/A``); ``None`` when the file cannot be followed (not BIFF8)."""
    try:
        data = _workbook_stream(Path(path).read_bytes())
        names: dict[int, str] = {}
        found: dict[str, tuple[str, str]] = {}
        pos, sheet = 0, None
        while pos + 4 <= len(data):
            rtype, length = struct.unpack_from("<HH", data, pos)
            body = data[pos + 4:pos + 4 + length]
            if rtype == 0x0809:  # BOF: a sheet's records start here
                sheet = names.get(pos)
            elif rtype == 0x0085 and length >= 8:  # BOUNDSHEET: where each sheet starts
                offset, = struct.unpack_from("<I", body, 0)
                cch, flags = body[6], body[7]
                raw = body[8:8 + cch * (2 if flags & 1 else 1)]
                names[offset] = raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")
            elif sheet is not None and sheet not in found:
                code = None
                if rtype == 0x0205 and length >= 8 and body[7] == 1:  # BOOLERR holding an error
                    code = body[6]
                elif rtype == 0x0006 and length >= 14 and body[6] == 2 and body[12:14] == b"\xff\xff":
                    code = body[8]  # FORMULA whose cached result is an error
                if code is not None:
                    row, col = struct.unpack_from("<HH", body, 0)
                    found[sheet] = (f"{_column(col)}{row + 1}", _ERRORS.get(code, f"#{code}"))
            pos += 4 + length
        return found
    except (_Broken, struct.error, IndexError, ValueError, OSError, MemoryError):
        return None
