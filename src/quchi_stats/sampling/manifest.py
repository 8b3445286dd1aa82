"""The audit record of a draw: write a sample with its manifest, and verify a manifest by re-drawing.

A manifest (``manifest.json`` beside ``sample.csv``) holds the library version, the seed, the
SHA-256 of the register file and of the sample, every design parameter and the notes of the draw.
:func:`verify_manifest` re-reads the register, checks its hash, re-draws and confirms that the
result is byte-for-byte the recorded sample. A sample is never replaced by a different one unless
``force=True``; re-drawing the identical sample into its own folder is a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import DataError, OutputExistsError, VerificationError, mask_personal
from ..io.readers import read_table
from ..io.writers import atomic_write_bytes, csv_bytes, file_sha256, write_json
from .draw import DesignPlan, DrawResult, draw_sample

__all__ = ["VerifyReport", "WriteOutcome", "draw_from_file", "new_seed", "read_manifest", "verify_manifest",
           "write_sample"]

MANIFEST_FORMAT = 1


def new_seed() -> int:
    """A fresh random seed (recorded in the manifest, so the draw stays reproducible)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])


def draw_from_file(register_path: str | Path, plan: DesignPlan, seed: int, *,
                   encoding: str | None = None, sheet: str | int | None = None) -> DrawResult:
    """Read a register file and draw the sample (what ``quchi-stats design`` does)."""
    register = read_table(register_path, "register", encoding=encoding, sheet=sheet)
    return draw_sample(register, plan, seed)


@dataclass(frozen=True)
class WriteOutcome:
    """Where a sample was written and whether an identical one was already there."""

    sample_path: Path
    manifest_path: Path
    unchanged: bool


def _manifest(result: DrawResult, register_path: Path, out_dir: Path, sample_sha: str,
              encoding: str | None, sheet: str | int | None) -> dict[str, Any]:
    try:
        reg_ref = Path(_relpath(register_path.resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # pragma: no cover - different drive on Windows
        reg_ref = str(register_path.resolve())
    s = result.sample
    return {
        "format": MANIFEST_FORMAT,
        "tool": "quchi_stats",
        "version": __version__,
        "year": result.plan.year,
        "seed": result.seed,
        "register": {"file": reg_ref, "sha256": file_sha256(register_path),
                     "encoding": encoding, "sheet": sheet},
        "plan": result.plan.to_dict(),
        "sample": {"file": "sample.csv", "sha256": sample_sha, "rows": len(s),
                   "primary": int((s["role"] == "primary").sum()),
                   "reserve": int((s["role"] == "reserve").sum()),
                   "towns": int(s["town"].nunique()), "villages": int(s["village"].nunique())},
        "notes": [mask_personal(n) for n in result.notes],
    }


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


def write_sample(result: DrawResult, out_dir: str | Path, register_path: str | Path, *,
                 force: bool = False, encoding: str | None = None,
                 sheet: str | int | None = None) -> WriteOutcome:
    """Write ``sample.csv`` (UTF-8 with BOM) and ``manifest.json`` into ``out_dir``.

    An existing, different sample raises :class:`OutputExistsError` unless ``force``; an existing
    identical sample with its manifest is left as it is (``unchanged=True``).
    """
    out_dir = Path(out_dir)
    register_path = Path(register_path)
    sample_path = out_dir / "sample.csv"
    manifest_path = out_dir / "manifest.json"
    data = csv_bytes(result.sample)
    sha = _sha(data)
    manifest = _manifest(result, register_path, out_dir, sha, encoding, sheet)
    if sample_path.exists() or manifest_path.exists():
        same = (sample_path.exists() and sample_path.read_bytes() == data
                and manifest_path.exists() and _load_json(manifest_path) == manifest)
        if same:
            return WriteOutcome(sample_path, manifest_path, True)
        if not force:
            raise OutputExistsError(
                f"{out_dir} 中已有抽查样本，与本次抽样不同；抽样结果是审计记录，不会被覆盖。"
                f"如确需替换，请加 --force（force=True），或换一个输出目录。")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(sample_path, data)
    write_json(manifest, manifest_path)
    return WriteOutcome(sample_path, manifest_path, False)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Load and check a manifest file."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise DataError("找不到抽样清单（manifest.json）", file=str(path))
    data = _load_json(path)
    keys = ("format", "seed", "year", "register", "plan", "sample")
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise DataError("不是有效的抽样清单：缺少 " + "、".join(
            k for k in keys if not isinstance(data, dict) or k not in data), file=path.name)
    shape = {
        "seed": isinstance(data["seed"], int) and not isinstance(data["seed"], bool)
        and data["seed"] >= 0,
        "year": isinstance(data["year"], int) and not isinstance(data["year"], bool),
        "register": isinstance(data["register"], dict)
        and isinstance(data["register"].get("file"), str)
        and isinstance(data["register"].get("sha256"), str)
        and isinstance(data["register"].get("encoding"), str | None)
        and isinstance(data["register"].get("sheet"), str | int | None),
        "plan": isinstance(data["plan"], dict),
        "sample": isinstance(data["sample"], dict) and isinstance(data["sample"].get("sha256"), str)
        and isinstance(data["sample"].get("file", "sample.csv"), str),
    }
    bad = [k for k, ok in shape.items() if not ok]
    if bad:
        raise DataError("不是有效的抽样清单：" + "、".join(bad) + " 的内容不符合格式", file=path.name)
    return data


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_manifest` checked."""

    manifest_path: Path
    register_path: Path
    rows: int
    sample_sha256: str

    def __str__(self) -> str:
        return (f"核验通过：按清单重新抽样，得到与 {self.manifest_path.parent / 'sample.csv'} 完全相同的 "
                f"{self.rows} 行（SHA-256 {self.sample_sha256[:12]}…）。")


def verify_manifest(path: str | Path, *, register: str | Path | None = None) -> VerifyReport:
    """Re-draw the sample a manifest records and confirm it is identical.

    Parameters
    ----------
    path : str or Path
        The manifest file, or the folder holding it.
    register : str or Path, optional
        The register file, if it moved (its SHA-256 must still match).

    Raises
    ------
    VerificationError
        The register's hash differs, or the re-drawn sample differs from the recorded one.
    """
    manifest = read_manifest(path)
    mpath = Path(path)
    if mpath.is_dir():
        mpath = mpath / "manifest.json"
    folder = mpath.parent
    reg_info = manifest["register"]
    reg_path = Path(register) if register is not None else (folder / reg_info["file"])
    if not reg_path.is_file():
        raise DataError("清单记录的农户台账不存在，可用 --register 指定", file=str(reg_path))
    if file_sha256(reg_path) != reg_info["sha256"]:
        raise VerificationError(
            f"{reg_path.name} 的 SHA-256 与清单记录不同：台账在抽样后被修改过，无法复现该样本。")
    version = manifest.get("version")
    try:
        plan = DesignPlan.from_dict(manifest["plan"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"清单中的抽样参数无效：{exc}", file=mpath.name) from None
    result = draw_from_file(reg_path, plan, int(manifest["seed"]),
                            encoding=reg_info.get("encoding"), sheet=reg_info.get("sheet"))
    data = csv_bytes(result.sample)
    sha = _sha(data)
    sample_path = folder / manifest["sample"].get("file", "sample.csv")
    if sha != manifest["sample"]["sha256"]:
        hint = (f"（清单由 quchi_stats {version} 生成，当前为 {__version__}）"
                if version != __version__ else "")
        raise VerificationError(f"重新抽样的结果与清单记录的样本不同{hint}。")
    if not sample_path.is_file() or sample_path.read_bytes() != data:
        raise VerificationError(
            f"{sample_path} 与清单记录不一致：样本文件缺失或在抽样后被修改过。")
    return VerifyReport(mpath, reg_path, len(result.sample), sha)
