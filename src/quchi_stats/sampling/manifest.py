"""The audit record of a draw: write a sample with its manifest, and verify a manifest by re-drawing.

A manifest (``manifest.json`` beside ``sample.csv``) holds the library version, the seed, the
SHA-256 of the register file and of the sample, every design parameter and the notes of the draw.
:func:`verify_manifest` re-reads the register, checks its hash, re-draws and confirms that the
result is byte-for-byte the recorded sample. A sample is never replaced by a different one unless
``force=True``; re-drawing the identical sample into its own folder is a no-op.
"""

from __future__ import annotations

import difflib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._strict import Field, check_table, read_text_capped, where
from ..errors import DataError, OutputExistsError, QuchiStatsError, VerificationError, mask_personal
from ..io.readers import read_table
from ..io.schema import RISK_COLUMNS
from ..io.writers import atomic_write_bytes, csv_bytes, file_sha256, write_json
from .draw import MAX_SEED, DesignPlan, DrawResult, draw_sample, require_risk_columns

__all__ = ["MANIFEST_FIELDS", "VerifyReport", "WriteOutcome", "check_manifest", "draw_from_file",
           "manifest_rule", "new_seed", "read_manifest", "register_options", "rule_sha256",
           "verify_manifest", "verify_sample", "write_sample"]

MANIFEST_FORMAT = 1


def new_seed() -> int:
    """A fresh random seed (recorded in the manifest, so the draw stays reproducible)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])


def draw_from_file(register_path: str | Path, plan: DesignPlan, seed: int, *,
                   encoding: str | None = None, sheet: str | int | None = None,
                   columns: dict[str, str] | None = None) -> DrawResult:
    """Read a register file and draw the sample (what ``quchi-stats design`` does)."""
    register = read_table(register_path, "register", encoding=encoding, sheet=sheet, columns=columns)
    if plan.risk_factor > 1:  # said here, where the file's name is known
        require_risk_columns(register, plan.risk_factor, file=Path(register_path).name)
    return draw_sample(register, plan, seed)


@dataclass(frozen=True)
class WriteOutcome:
    """Where a sample was written and whether an identical one was already there."""

    sample_path: Path
    manifest_path: Path
    unchanged: bool
    replaced: Path | None = None
    """Where the sample this write replaced (``force=True``) is kept, with its manifest."""


def rule_sha256(rule: dict[str, Any]) -> str:
    """SHA-256 of a follow-up rule's canonical JSON (sorted keys, no spaces)."""
    return _sha(json.dumps(rule, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False).encode("utf-8"))


def _manifest(result: DrawResult, register_path: Path, out_dir: Path, sample_sha: str,
              encoding: str | None, sheet: str | int | None,
              columns: dict[str, str] | None = None, followup: Any = None,
              plan_file: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        reg_ref = Path(_relpath(register_path.resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # pragma: no cover - different drive on Windows
        reg_ref = str(register_path.resolve())
    s = result.sample
    register = {"file": reg_ref, "sha256": file_sha256(register_path), "encoding": encoding,
                "sheet": sheet}
    if columns:  # only when given: manifests written without it stay byte-identical
        register["columns"] = dict(columns)
    rule = {} if followup is None else {"followup": followup.to_dict(),
                                        "followup_sha256": rule_sha256(followup.to_dict())}
    return {
        "format": MANIFEST_FORMAT,
        "tool": "quchi_stats",
        "version": __version__,
        "year": result.plan.year,
        "seed": result.seed,
        "register": register,
        "plan": result.plan.to_dict(),
        "sample": {"file": "sample.csv", "sha256": sample_sha, "rows": len(s),
                   "primary": int((s["role"] == "primary").sum()),
                   "reserve": int((s["role"] == "reserve").sum()),
                   "towns": int(s["town"].nunique()), "villages": int(s["village"].nunique())},
        "notes": [mask_personal(n) for n in result.notes],
        **rule,
        # only when drawn with --plan: manifests written without it stay byte-identical
        **({"plan_file": dict(plan_file)} if plan_file is not None else {}),
        # only with risk_factor > 1: the risk columns and the sub-frame counts of the draw
        **({"risk": _risk_record(result.risk)} if result.risk is not None else {}),
    }


def _risk_record(risk: dict[str, Any]) -> dict[str, Any]:
    """The risk summary of a draw as the manifest records it (plain JSON types)."""
    return {"factor": float(risk["factor"]), "columns": list(risk["columns"]),
            "villages_split": int(risk["villages_split"]),
            "households": {k: int(v) for k, v in risk["households"].items()},
            "sampled": {k: int(v) for k, v in risk["sampled"].items()}}


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


SAMPLE_FILES = ("sample.csv", "manifest.json", "replaced")  # what a sample folder may hold


def write_sample(result: DrawResult, out_dir: str | Path, register_path: str | Path, *,
                 force: bool = False, encoding: str | None = None,
                 sheet: str | int | None = None,
                 columns: dict[str, str] | None = None, followup: Any = None,
                 plan_file: dict[str, str] | None = None) -> WriteOutcome:
    """Write ``sample.csv`` (UTF-8 with BOM) and ``manifest.json`` into ``out_dir``.

    An existing, different sample raises :class:`OutputExistsError` unless ``force``; an existing
    identical sample with its manifest is left as it is (``unchanged=True``). The folder is
    replaced as one set under a lock (:class:`~quchi_stats.io.atomic.AtomicDirectory`); a sample
    replaced with ``force`` is kept, with its manifest, in ``replaced/<UTC time>/`` inside the new
    folder, so that redrawing until a convenient seed appears leaves a trace.

    ``followup`` (a :class:`~quchi_stats.spec.FollowupRule`, the spec's ``[followup]``) is
    recorded with its SHA-256: the two-phase 复核 rule is then fixed before any result is seen.
    ``plan_file`` (:meth:`quchi_stats.planning.PlanFile.to_manifest`: the plan file's name,
    SHA-256 and text) is recorded when the draw follows a plan file (``design --plan``).
    """
    from datetime import UTC, datetime

    from ..io.atomic import AtomicDirectory

    out_dir = Path(out_dir)
    register_path = Path(register_path)
    sample_path = out_dir / "sample.csv"
    manifest_path = out_dir / "manifest.json"
    data = csv_bytes(result.sample)
    sha = _sha(data)
    manifest = _manifest(result, register_path, out_dir, sha, encoding, sheet, columns, followup,
                         plan_file)
    with AtomicDirectory(out_dir, owned=SAMPLE_FILES) as stage:
        if sample_path.exists() or manifest_path.exists():
            same = (sample_path.exists() and sample_path.read_bytes() == data
                    and manifest_path.exists() and _load_json(manifest_path) == manifest)
            if same:
                stage.discard()
                return WriteOutcome(sample_path, manifest_path, True)
            if not force:
                raise OutputExistsError(
                    f"{out_dir} 中已有抽查样本，与本次抽样不同；抽样结果是审计记录，不会被覆盖。"
                    f"如确需替换，请加 --force（force=True），或换一个输出目录。")
        new = stage.path
        if (out_dir / "replaced").is_dir():
            shutil.copytree(out_dir / "replaced", new / "replaced", copy_function=shutil.copy2)
        old = [p for p in (sample_path, manifest_path) if p.exists()]
        kept = None
        if old:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            keep = new / "replaced" / stamp
            k = 1
            while keep.exists():
                k += 1
                keep = new / "replaced" / f"{stamp}-{k}"
            keep.mkdir(parents=True)
            for p in old:
                shutil.copy2(p, keep / p.name)
            kept = out_dir / keep.relative_to(new)
        atomic_write_bytes(new / "sample.csv", data)
        write_json(manifest, new / "manifest.json")
    return WriteOutcome(sample_path, manifest_path, False, kept)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _load_json(path: Path) -> Any:
    """The manifest in ``path`` if it reads as one, else None (to compare with a new draw)."""
    try:
        return _parse_json(read_text_capped(path, path.name, MAX_MANIFEST_BYTES, "抽样清单"), path.name)
    except DataError:
        return None


#: Largest manifest read (a real one is about 2 KB).
MAX_MANIFEST_BYTES = 1_000_000
_SHA256 = r"[0-9a-f]{64}"
_COUNT = {"lo": 0, "hi": 100_000_000}
#: Every key of a manifest, declared once (what :func:`_manifest` writes); the plan's keys are
#: those of :class:`DesignPlan`, checked by it.
MANIFEST_FIELDS: tuple[Field, ...] = (
    Field("format", "int", "清单格式版本", required=True, lo=1, hi=MANIFEST_FORMAT),
    Field("tool", "choice", "写出清单的程序", choices=("quchi_stats",)),
    Field("version", "str", "quchi_stats 的版本", max_len=64),
    Field("year", "int", "考核年度", required=True, lo=2000, hi=2100),
    Field("seed", "int", "随机种子", required=True, lo=0, hi=MAX_SEED, hi_open=True),
    Field("register", "table", "农户台账", required=True, fields=(
        Field("file", "str", "台账文件（相对清单所在目录）", required=True, min_len=1, max_len=4096,
              one_line=False),
        Field("sha256", "str", "台账的 SHA-256", required=True, pattern=_SHA256, max_len=64),
        Field("encoding", "str", "台账的编码", nullable=True, max_len=40),
        Field("sheet", "str", "台账的工作表", nullable=True, also_int=True, max_len=255),
        Field("columns", "table", "台账的列名对照（表头 → 列名）", open_table=True),
    )),
    Field("plan", "table", "抽样参数", required=True, open_table=True),
    Field("sample", "table", "抽查样本", required=True, fields=(
        Field("file", "choice", "样本文件", default="sample.csv", choices=("sample.csv",)),
        Field("sha256", "str", "样本的 SHA-256", required=True, pattern=_SHA256, max_len=64),
        Field("rows", "int", "样本行数", required=True, **_COUNT),
        *(Field(k, "int", doc, **_COUNT) for k, doc in (
            ("primary", "正选户数"), ("reserve", "备选户数"), ("towns", "镇数"), ("villages", "村数"))),
    )),
    Field("notes", "list", "抽样说明", min_len=0, max_len=10_000,
          item=Field("notes", "str", max_len=10_000, one_line=False)),
    Field("followup", "table", "事先登记的两阶段复核规则（考核参数的 [followup]）", open_table=True),
    Field("followup_sha256", "str", "复核规则的 SHA-256", pattern=_SHA256, max_len=64),
    Field("risk", "table", "风险户加抽（risk_factor > 1）：台账的风险户列和抽中村非建档立卡户的子框户数",
          fields=(
        Field("factor", "number", "风险户加抽倍数", required=True, lo=1, hi=100, lo_open=True),
        Field("columns", "list", "台账中的风险户列", required=True, min_len=1, max_len=5,
              item=Field("columns", "choice", choices=RISK_COLUMNS), unique=True),
        Field("villages_split", "int", "分风险户与其他户两个子框抽取的村数", required=True, **_COUNT),
        Field("households", "table", "抽中村非建档立卡户（风险户、其他户）", required=True, fields=(
            Field("risk", "int", "风险户", required=True, **_COUNT),
            Field("other", "int", "其他户", required=True, **_COUNT))),
        Field("sampled", "table", "抽取的正选户（风险户、其他户）", required=True, fields=(
            Field("risk", "int", "风险户", required=True, **_COUNT),
            Field("other", "int", "其他户", required=True, **_COUNT))),
    )),
    Field("plan_file", "table", "抽样所依据的计划文件（design --plan）", fields=(
        Field("file", "str", "计划文件名", required=True, min_len=1, max_len=255),
        Field("sha256", "str", "计划文件的 SHA-256", required=True, pattern=_SHA256, max_len=64),
        Field("text", "str", "计划文件全文", required=True, max_len=200_000, one_line=False),
    )),
)


def _parse_json(text: str, name: str) -> Any:
    """Strict JSON: no duplicate keys, no NaN/Infinity, integers of at most 40 digits."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise ValueError(f"键“{k[:40]}”重复")
            out[k] = v
        return out

    def integer(s: str) -> int:
        if len(s.lstrip("-")) > 40:
            raise ValueError(f"整数位数过多（{len(s)} 位）")
        return int(s)

    def number(s: str) -> float:
        v = float(s)
        if not math.isfinite(v):
            raise ValueError(f"数值 {s[:20]} 超出范围")
        return v

    def constant(s: str) -> float:
        raise ValueError(f"不允许 {s}")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer, parse_float=number,
                          parse_constant=constant)
    except RecursionError:
        raise DataError("不是有效的抽样清单：JSON 嵌套层数过深", file=name) from None
    except ValueError as exc:  # JSONDecodeError and the checks above
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(f"不是有效的抽样清单：JSON 格式错误（{msg}）", file=name) from None


def plan_from_record(plan: dict, name: str, lead: str, *, style: str) -> DesignPlan:
    """The DesignPlan a recorded ``plan`` table describes (a manifest's, ``style="json"``, or a plan
    file's ``[plan]``, ``style="toml"``): an unknown key names the closest valid one, and a value
    DesignPlan refuses is one line; both raise DataError naming ``name`` after ``lead``."""
    known = list(DesignPlan.__dataclass_fields__)
    for key in plan:
        if key not in known:
            best = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"是否应为 {best[0]}？" if best else "可用的键：" + "、".join(known)
            raise DataError(f"{lead}未知的键 {where(('plan', key), style)}（{hint}）", file=name)
    try:
        return DesignPlan.from_dict(plan)
    except (QuchiStatsError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        label = "plan" if style == "json" else "[plan]"
        raise DataError(f"{lead}{label} 不是有效的抽样参数：{msg}", file=name) from None


def check_manifest(data: Any, name: str = "manifest.json") -> dict[str, Any]:
    """Check a parsed manifest strictly: every key known (the nearest one is named), types,
    ranges, hashes, and a plan that :class:`DesignPlan` accepts for the manifest's year.

    Returns the manifest as read (defaults are not filled in). Raises :class:`DataError`.
    """
    if isinstance(data, dict) and data.get("kind") == "followup":
        from ..followup.audit import check_followup_manifest

        return check_followup_manifest(data, name)
    fmt = data.get("format") if isinstance(data, dict) else None
    if type(fmt) is int and fmt > MANIFEST_FORMAT:
        raise DataError(f"format = {fmt}：本版本只读取格式 {MANIFEST_FORMAT} 的清单，"
                        "请用写出它的 quchi_stats 版本核验", file=name)
    lead = "不是有效的抽样清单："
    check_table(data, MANIFEST_FIELDS, name, style="json", lead=lead)
    if "columns" in data["register"]:
        from ..io.readers import check_columns

        check_columns(data["register"]["columns"], f"{name} register.columns")
    parsed = plan_from_record(data["plan"], name, lead, style="json")
    sample = data["sample"]
    parts = (sample.get("primary"), sample.get("reserve"))
    if None not in parts and sum(parts) != sample["rows"]:
        raise DataError(f"{lead}sample.rows = {sample['rows']}，不等于正选 {sample['primary']} 户加备选 "
                        f"{sample['reserve']} 户", file=name)
    if parsed.year != data["year"]:
        raise DataError(f"{lead}plan.year = {parsed.year} 与 year = {data['year']} 不符", file=name)
    manifest_rule(data, name)
    if (parsed.risk_factor > 1) != ("risk" in data):
        what = ("plan.risk_factor > 1 却没有 risk 记录" if parsed.risk_factor > 1 else
                "有 risk 记录，plan 却没有 risk_factor > 1")
        raise DataError(f"{lead}{what}", file=name)
    if "risk" in data and data["risk"]["factor"] != parsed.risk_factor:
        raise DataError(f"{lead}risk.factor = {data['risk']['factor']:g} 与 plan.risk_factor = "
                        f"{parsed.risk_factor:g} 不符", file=name)
    if "plan_file" in data:
        _check_plan_file(data["plan_file"], parsed, name)
    return data


def _check_plan_file(rec: dict[str, Any], plan: DesignPlan, name: str) -> None:
    """The recorded plan file's text must have its recorded SHA-256 (as UTF-8, with or without
    the BOM an editor may have written) and hold the manifest's plan."""
    import tomllib

    lead = "不是有效的抽样清单："
    text = rec["text"]
    body = text.encode("utf-8")
    if rec["sha256"] not in (_sha(body), _sha(b"\xef\xbb\xbf" + body)):
        raise DataError(f"{lead}plan_file 的全文与其 SHA-256 不符：计划文件的记录在抽样后被改动过",
                        file=name)
    try:
        recorded = tomllib.loads(text).get("plan")
        same = recorded is not None and DesignPlan.from_dict(recorded) == plan
    except (tomllib.TOMLDecodeError, QuchiStatsError, TypeError, ValueError):
        same = False
    if not same:
        raise DataError(f"{lead}plan_file 记录的计划文件的 [plan] 与清单的 plan 不同", file=name)


def manifest_rule(data: dict[str, Any], name: str = "manifest.json") -> Any:
    """The follow-up rule a checked manifest records (a :class:`~quchi_stats.spec.FollowupRule`),
    or None; its keys, ranges and SHA-256 are checked (:class:`DataError`)."""
    from ..spec import FOLLOWUP_FIELDS, FollowupRule

    lead = "不是有效的抽样清单："
    if "followup" not in data:
        if "followup_sha256" in data:
            raise DataError(f"{lead}有 followup_sha256 却没有 followup", file=name)
        return None
    raw = data["followup"]
    checked = check_table(raw, FOLLOWUP_FIELDS, name, style="json", lead=lead + "followup ")
    if data.get("followup_sha256") != rule_sha256(raw):
        raise DataError(f"{lead}followup 的 SHA-256 与 followup_sha256 不符：复核规则在抽样后被改动过",
                        file=name)
    return FollowupRule.from_dict(checked)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Load and check a manifest file (the file itself, or the folder holding ``manifest.json``).

    UTF-8 (BOM allowed), at most 1 MB, strict JSON, then :func:`check_manifest`. Every problem is
    one :class:`DataError` line naming the file and the key.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise DataError("找不到抽样清单（manifest.json）", file=str(path))
    data = _parse_json(read_text_capped(path, path.name, MAX_MANIFEST_BYTES, "抽样清单"), path.name)
    return check_manifest(data, path.name)


def register_options(sample_dir: str | Path) -> dict[str, Any]:
    """How the register of a drawn sample was read (``encoding``, ``sheet``, ``columns``), from
    ``sample_dir/manifest.json``, so that ``report``, ``fieldlist`` and the other commands read
    the register as ``design`` did; empty when the folder has no manifest.

    Examples
    --------
    >>> from quchi_stats.datasets import data_path
    >>> register_options(data_path() / "sample_2018")
    {'encoding': None, 'sheet': None, 'columns': None}
    """
    path = Path(sample_dir) / "manifest.json"
    if not path.is_file():
        return {}
    info = read_manifest(path)["register"]
    return {"encoding": info.get("encoding"), "sheet": info.get("sheet"), "columns": info.get("columns")}


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
    if manifest.get("kind") == "followup":
        from ..followup.audit import verify_followup

        return verify_followup(mpath, register=register)
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
                            encoding=reg_info.get("encoding"), sheet=reg_info.get("sheet"),
                            columns=reg_info.get("columns"))
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
    if result.risk is not None and _risk_record(result.risk) != manifest.get("risk"):
        raise VerificationError(
            f"{mpath.name} 记录的风险户子框户数（risk）与重新抽样的不同：清单在抽样后被改动过。")
    return VerifyReport(mpath, reg_path, len(result.sample), sha)


def verify_sample(sample_dir: str | Path, year: int | None = None, *,
                  spec: Any = None) -> dict[str, Any]:
    """Check that ``sample_dir/sample.csv`` is the sample its ``manifest.json`` records.

    The cheap check that every assessment runs before computing: the manifest exists, names
    ``sample.csv``, and the file's row count and SHA-256 equal the recorded ones. (It does not
    re-draw: :func:`verify_manifest` does, and also checks the register.) Returns the manifest.

    With ``spec`` (an :class:`~quchi_stats.spec.AssessmentSpec`), its ``[followup]`` rule must be
    the one the manifest recorded at the draw (or both absent): a rule changed after the draw is
    refused.

    Raises
    ------
    VerificationError
        The manifest or the sample is missing, the sample differs from the record, the
        manifest records another year than ``year`` (when given), or ``spec``'s follow-up rule
        differs from the recorded one.
    """
    folder = Path(sample_dir)
    sample_path = folder / "sample.csv"
    mpath = folder / "manifest.json"
    skip = "如确需在未核验的样本上计算，请加 --no-verify（verify=False），报告将注明未核验"
    if not mpath.is_file():
        raise VerificationError(f"{mpath}：找不到抽样清单，无法核验 sample.csv 是否就是抽取的样本；{skip}。")
    try:
        manifest = read_manifest(mpath)
    except DataError as exc:
        raise VerificationError(f"{exc}；无法核验 sample.csv；{skip}。") from None
    if year is not None and manifest.get("year") != year:
        raise VerificationError(
            f"{mpath}：抽样清单记录的是 {manifest.get('year')} 年的样本，不是本次考核年度 {year} 年的；"
            f"请放入 {year} 年抽取的样本。")
    recorded = manifest["sample"]
    if recorded.get("file", "sample.csv") != "sample.csv":
        raise VerificationError(
            f"{mpath}：清单记录的样本文件是“{recorded['file']}”，不是 sample.csv；{skip}。")
    if not sample_path.is_file():
        raise VerificationError(f"{sample_path}：找不到抽查样本（抽样清单 {mpath.name} 记录了它）。")
    data = sample_path.read_bytes()
    rows = recorded.get("rows")
    if isinstance(rows, int) and not isinstance(rows, bool):
        found = _count_rows(data)
        if found != rows:
            raise VerificationError(
                f"{sample_path}：有 {found} 行，抽样清单记录 {rows} 行：样本在抽样后被改动过；"
                f"{skip}。")
    if _sha(data) != recorded["sha256"]:
        raise VerificationError(
            f"{sample_path}：SHA-256 与抽样清单 {mpath.name} 记录的不同：样本在抽样后被改动过；{skip}。")
    if spec is not None and manifest.get("kind") != "followup":
        recorded_rule = manifest.get("followup")
        given = spec.followup.to_dict() if spec.followup is not None else None
        if (recorded_rule is None) != (given is None) or (
                given is not None and rule_sha256(given) != rule_sha256(recorded_rule)):
            what = ("考核参数没有 [followup] 复核规则" if given is None else
                    "抽样清单没有登记复核规则" if recorded_rule is None else
                    "考核参数的 [followup] 与抽样清单登记的复核规则不同")
            raise VerificationError(
                f"{mpath}：{what}：复核规则须在第一阶段抽样时登记（design --spec），抽样后不能更改；"
                f"请用 --spec 指定抽样时所用的考核参数。")
    return manifest


def _count_rows(data: bytes) -> int:
    """Data rows of a CSV (blank lines not counted), whatever its encoding."""
    import csv
    import io

    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("utf-8", "replace")
    try:
        lines = [r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)]
    except csv.Error:
        lines = [ln for ln in text.splitlines() if ln.strip()]
    return max(len(lines) - 1, 0)
