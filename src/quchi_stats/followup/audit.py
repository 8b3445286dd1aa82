"""``quchi-stats followup``: apply the pre-registered rule to phase 1, draw phase 2, and keep the
audit record (``followup_YYYY/sample.csv`` and ``manifest.json``) that re-draws identically.

The follow-up manifest records everything the draw depended on, each with its SHA-256: the
register, the phase-1 manifest and sample, the phase-1 field results, the spec file and the rule
(which must be the one the phase-1 manifest registered), the screened pairs with their phase-1
p-values, the seed and the sample. :func:`verify_followup` (also reached through
``quchi-stats design --verify followup_YYYY/manifest.json``) re-runs the phase-1 tests, the
screening and the draw and confirms the sample byte for byte.

**The conditional method's observed households.** Its draw depends on which households phase 1
observed (:func:`~quchi_stats.followup.draw.observed_households`: a phase-1 household whose
results row is completed or substitute). They are recovered from the phase-1 results rows, whose
SHA-256 the manifest records (``results.phase1_rows_sha256``), so the field results stay their
only source; the manifest adds their count and the SHA-256 of their sorted ids (``observed``), so
that verification names a changed set on its own line and a reader can check the phase-2
population without the results file. (Listing the ids in the manifest would copy a part of the
results file into the audit record: two sources that could disagree.)

**Households in both samples.** Under the conditional method a phase-1 household that was not
observed (a primary that could not be visited, a reserve not used) may be drawn again in phase 2.
Its row of the results file then belongs to phase 2 (the field team updates it, or adds one when
there was none: the file holds one row per household). So the phase-1 rows that are hashed and
must stay fixed are those of the phase-1 households **not** in the phase-2 sample
(:func:`phase1_rows_sha256` with ``sample2``), and the phase-1 tests are re-run with every such
household as not visited in phase 1 (:func:`phase1_rows` with ``sample2``), which gives the same
estimates as its phase-1 row did: a household phase 1 did not observe counts as not visited
whatever its row said. Under the inverse-normal method the two samples never share a household
and both functions give what they give without ``sample2``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from .._strict import Field, check_table
from ..errors import DataError, OutputExistsError, VerificationError, mask_personal
from ..io.writers import atomic_write_bytes, csv_bytes, file_sha256, write_json
from ..spec import AssessmentSpec, FollowupRule, load_spec
from .draw import FollowupDraw, draw_followup, observed_households
from .rule import continuation, exhausted_towns

__all__ = ["FOLLOWUP_MANIFEST_FIELDS", "FollowupOutcome", "check_followup_manifest",
           "observed_sha256", "phase1_rows", "phase1_rows_sha256", "run_followup",
           "split_results", "verify_followup"]

_SHA = r"[0-9a-f]{64}"
_FILE = {"min_len": 1, "max_len": 4096, "one_line": False}
_COUNT = {"lo": 0, "hi": 100_000_000}
#: Every key of a follow-up manifest, declared once.
FOLLOWUP_MANIFEST_FIELDS: tuple[Field, ...] = (
    Field("format", "int", "清单格式版本", required=True, lo=1, hi=1),
    Field("kind", "choice", "清单种类", required=True, choices=("followup",)),
    Field("tool", "choice", "写出清单的程序", choices=("quchi_stats",)),
    Field("version", "str", "quchi_stats 的版本", max_len=64),
    Field("year", "int", "考核年度", required=True, lo=2000, hi=2100),
    Field("seed", "int", "随机种子", required=True, lo=0, hi=2 ** 128, hi_open=True),
    Field("register", "table", "农户台账", required=True, fields=(
        Field("file", "str", "台账文件（相对清单所在目录）", required=True, **_FILE),
        Field("sha256", "str", "台账的 SHA-256", required=True, pattern=_SHA, max_len=64),
        Field("encoding", "str", "台账的编码", nullable=True, max_len=40),
    )),
    Field("phase1", "table", "第一阶段样本", required=True, fields=(
        Field("manifest", "str", "第一阶段抽样清单（相对本清单所在目录）", required=True, **_FILE),
        Field("manifest_sha256", "str", "其 SHA-256", required=True, pattern=_SHA, max_len=64),
        Field("sample_sha256", "str", "第一阶段样本的 SHA-256", required=True, pattern=_SHA,
              max_len=64),
    )),
    Field("results", "table", "第一阶段入户核查结果", required=True, fields=(
        Field("file", "str", "结果文件（相对清单所在目录）", required=True, **_FILE),
        Field("sha256", "str", "其 SHA-256", required=True, pattern=_SHA, max_len=64),
        Field("encoding", "str", "编码", nullable=True, max_len=40),
        Field("phase1_rows_sha256", "str", "第一阶段样本户的核查结果行（按本库读入后的规范 CSV）的 SHA-256："
              "复核结果追加到同一文件后，据此核对第一阶段的结果未被改动", pattern=_SHA, max_len=64),
    )),
    Field("observed", "table", "conditional 方法：第一阶段已入户（完成或替补）的户，复核只在其余的户中抽取",
          fields=(
              Field("households", "int", "户数", required=True, **_COUNT),
              Field("sha256", "str", "其户编号（排序后每行一个）的 SHA-256", required=True,
                    pattern=_SHA, max_len=64),
          )),
    Field("spec", "table", "考核参数", required=True, fields=(
        Field("file", "str", "考核参数文件（相对清单所在目录；null 为内置参数）", nullable=True, **_FILE),
        Field("sha256", "str", "其 SHA-256", required=True, pattern=_SHA, max_len=64),
    )),
    Field("followup", "table", "复核规则", required=True, open_table=True),
    Field("followup_sha256", "str", "复核规则的 SHA-256", required=True, pattern=_SHA, max_len=64),
    Field("screened", "tables", "进入复核区间的镇 × 指标", required=True, min_len=1,
          max_len=100_000, fields=(
              Field("town", "str", "镇", required=True, max_len=200),
              Field("indicator", "str", "指标", required=True, max_len=64),
              Field("p1", "number", "第一阶段单侧 P 值", required=True, lo=0, hi=1),
          )),
    Field("sample", "table", "复核样本", required=True, fields=(
        Field("file", "choice", "样本文件", default="sample.csv", choices=("sample.csv",)),
        Field("sha256", "str", "样本的 SHA-256", required=True, pattern=_SHA, max_len=64),
        Field("rows", "int", "样本行数", required=True, **_COUNT),
        *(Field(k, "int", doc, **_COUNT) for k, doc in (
            ("primary", "正选户数"), ("reserve", "备选户数"), ("towns", "镇数"), ("villages", "村数"))),
    )),
    Field("notes", "list", "说明", min_len=0, max_len=10_000,
          item=Field("notes", "str", max_len=10_000, one_line=False)),
)


def phase1_rows(results: pd.DataFrame, sample1: pd.DataFrame,
                sample2: pd.DataFrame | None = None) -> pd.DataFrame:
    """The field results of the phase-1 sample's households (phase-2 rows appended to the same
    file are left out), in file order.

    With ``sample2`` (the follow-up sample), a phase-1 household also drawn in phase 2 (the
    conditional method draws households phase 1 did not observe) keeps its row, if any, marked
    not visited (``unreachable``): phase 1 did not observe it, and the row now carries phase 2's
    visit."""
    rows = results[results["household_id"].isin(sample1["household_id"])].reset_index(drop=True)
    if sample2 is not None and len(sample2):
        again = rows["household_id"].isin(sample2["household_id"]).to_numpy()
        if again.any():
            rows = rows.copy()
            rows.loc[again, "visit_status"] = "unreachable"
    return rows


def split_results(results: pd.DataFrame, sample1: pd.DataFrame, sample2: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The field results split into the two phases' rows: phase 1's (:func:`phase1_rows` with
    ``sample2``: a household of both samples is there as not visited) and phase 2's (every row of
    a follow-up household, in file order). A household of both samples is one the conditional
    method drew again because phase 1 did not observe it: its one row is phase 2's.

    Examples
    --------
    >>> s1 = pd.DataFrame({"household_id": ["a", "b", "c"]})
    >>> s2 = pd.DataFrame({"household_id": ["b", "x"]})
    >>> res = pd.DataFrame({"household_id": ["a", "b", "c", "x"],
    ...                     "visit_status": ["completed", "completed", "unreachable", "completed"]})
    >>> r1, r2 = split_results(res, s1, s2)
    >>> r1["visit_status"].tolist(), r2["household_id"].tolist()
    (['completed', 'unreachable', 'unreachable'], ['b', 'x'])
    """
    rows2 = results[results["household_id"].isin(sample2["household_id"])]
    return phase1_rows(results, sample1, sample2), rows2.reset_index(drop=True)


def phase1_rows_sha256(results: pd.DataFrame, sample1: pd.DataFrame,
                       sample2: pd.DataFrame | None = None) -> str:
    """SHA-256 of the phase-1 households' field results as this library reads them (canonical
    CSV, file order): what stays fixed when phase-2 results are appended to the same file. With
    ``sample2``, the rows of households also in the follow-up sample are left out (they become
    phase 2's rows; see the module's docstring)."""
    from ..sampling.manifest import _sha

    rows = results[results["household_id"].isin(sample1["household_id"])]
    if sample2 is not None and len(sample2):
        rows = rows[~rows["household_id"].isin(sample2["household_id"])]
    return _sha(csv_bytes(rows.reset_index(drop=True)))


def _same_draw(recorded: Any, record: dict[str, Any]) -> bool:
    """Whether an existing follow-up manifest records the draw ``record`` describes. The results
    file's own SHA-256 and the tool's version may differ: the 复核 results are appended to the same
    file after the draw, and a later version may re-draw the same sample; what the draw depended
    on (the phase-1 rows, by ``phase1_rows_sha256``) must not."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("results"), dict):
        return False

    def drop(m: dict[str, Any]) -> dict[str, Any]:
        return {k: ({kk: vv for kk, vv in v.items() if kk != "sha256"} if k == "results" else v)
                for k, v in m.items() if k != "version"}

    return drop(recorded) == drop(record)


def observed_sha256(observed: list[str]) -> str:
    """SHA-256 of the sorted household ids phase 1 observed, one per line (UTF-8)."""
    from ..sampling.manifest import _sha

    return _sha("".join(f"{h}\n" for h in sorted(observed)).encode("utf-8"))


def check_followup_manifest(data: Any, name: str = "manifest.json") -> dict[str, Any]:
    """Check a follow-up manifest strictly (keys, types, hashes, the rule); returns it."""
    from ..sampling.manifest import manifest_rule

    lead = "不是有效的复核清单："
    check_table(data, FOLLOWUP_MANIFEST_FIELDS, name, style="json", lead=lead)
    manifest_rule(data, name)
    return data


@dataclass(frozen=True)
class FollowupOutcome:
    """What :func:`run_followup` found and wrote."""

    estimates: pd.DataFrame
    screened: pd.DataFrame
    exhausted: list
    draw: FollowupDraw | None
    rule: FollowupRule
    out_dir: Path
    written: bool
    unchanged: bool = False
    replaced: Path | None = None
    spec_alpha: float = 0.05
    spec: AssessmentSpec | None = None


def _spec_ref(spec: str | Path | None, year: int) -> tuple[AssessmentSpec, bytes, Path | None]:
    if spec is None:
        ref = resources.files("quchi_stats") / "specs" / f"assessment_{year}.toml"
        return load_spec(year, year=year), ref.read_bytes() if ref.is_file() else b"", None
    path = Path(spec)
    loaded = load_spec(path, year=year)
    return loaded, path.read_bytes(), path


def _rel(target: Path, start: Path) -> str:
    import os

    try:
        return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(target.resolve())


def _prepare(year: int, root_dir: Path, spec: str | Path | None, encoding: str | None):
    from ..assessment import estimate_indicators
    from ..io.datadir import DataDir
    from ..io.entry import read_results
    from ..io.readers import read_table
    from ..sampling.manifest import manifest_rule, verify_sample

    root = DataDir(root_dir)
    spec_obj, spec_bytes, spec_path = _spec_ref(spec, year)
    manifest = verify_sample(root.sample_dir(year), year=year, spec=spec_obj)
    rule = manifest_rule(manifest)
    if rule is None:
        raise DataError(f"{root.sample_dir(year).name}/manifest.json 没有登记复核规则：两阶段复核须在第一阶段"
                        f"抽样时用含 [followup] 的考核参数登记（design --spec）")
    reg_path = root.register(year)
    if file_sha256(reg_path) != manifest["register"]["sha256"]:
        raise VerificationError(f"{reg_path.name} 的 SHA-256 与第一阶段抽样清单记录的不同："
                                f"台账在抽样后被修改过，不能据以抽取复核样本。")
    register = read_table(reg_path, "register", encoding=encoding)
    sample1 = read_table(root.sample_dir(year) / "sample.csv", "sample")
    results_path = root.results(year)
    # read_results: an entry workbook (one sheet per town) is read as report reads it
    results = phase1_rows(read_results(results_path, encoding=encoding), sample1)
    est, _ = estimate_indicators(sample1, results, spec_obj, power=False)
    from ..sampling.draw import DesignPlan

    plan = DesignPlan.from_dict(manifest["plan"])
    return (root, spec_obj, spec_bytes, spec_path, manifest, rule, reg_path, register, sample1,
            results_path, est, plan, results)


def run_followup(year: int, data: str | Path, *, spec: str | Path | None = None,
                 seed: int | None = None, force: bool = False,
                 encoding: str | None = None) -> FollowupOutcome:
    """Screen phase 1 by the registered rule and, if any pair qualifies, draw and write phase 2.

    Writes ``data/followup_YYYY/`` (``sample.csv`` and ``manifest.json``) as one set under a lock;
    an existing different follow-up is kept unless ``force`` (it is then moved into
    ``replaced/<UTC time>/``). Nothing is written when no pair qualifies or no town can be
    followed up.
    """
    from datetime import UTC, datetime

    from ..io.atomic import AtomicDirectory
    from ..sampling.manifest import _sha, new_seed, rule_sha256

    (root, spec_obj, spec_bytes, spec_path, manifest, rule, reg_path, register, sample1,
     results_path, est, plan, results) = _prepare(year, Path(data), spec, encoding)
    out = root.root / f"followup_{year}"
    conditional = rule.method == "conditional"
    # the conditional method follows up towns whose villages were all visited (their
    # unobserved households remain)
    exhausted = [] if conditional else exhausted_towns(register, sample1)
    screened = continuation(est, rule, exhausted)
    if screened.empty:
        return FollowupOutcome(est, screened, exhausted, None, rule, out, False,
                               spec_alpha=spec_obj.alpha, spec=spec_obj)
    seed = new_seed() if seed is None else seed
    observed = observed_households(sample1, results) if conditional else None
    fd = draw_followup(register, sample1, screened, rule, spec_obj, plan, seed,
                       observed=observed)
    if fd.sample.empty:
        return FollowupOutcome(est, screened, exhausted, fd, rule, out, False,
                               spec_alpha=spec_obj.alpha, spec=spec_obj)
    payload = csv_bytes(fd.sample)
    s = fd.sample
    record = {
        "format": 1, "kind": "followup", "tool": "quchi_stats", "version": __version__,
        "year": year, "seed": seed,
        "register": {"file": _rel(reg_path, out), "sha256": manifest["register"]["sha256"],
                     "encoding": encoding},
        "phase1": {"manifest": _rel(root.sample_dir(year) / "manifest.json", out),
                   "manifest_sha256": file_sha256(root.sample_dir(year) / "manifest.json"),
                   "sample_sha256": manifest["sample"]["sha256"]},
        "results": {"file": _rel(results_path, out), "sha256": file_sha256(results_path),
                    "encoding": encoding,
                    "phase1_rows_sha256": phase1_rows_sha256(results, sample1, fd.sample)},
        **({"observed": {"households": len(observed), "sha256": observed_sha256(observed)}}
           if conditional else {}),
        "spec": {"file": None if spec_path is None else _rel(spec_path, out),
                 "sha256": _sha(spec_bytes)},
        "followup": rule.to_dict(), "followup_sha256": rule_sha256(rule.to_dict()),
        "screened": [{"town": r.town, "indicator": r.indicator, "p1": round(float(r.p1), 12)}
                     for r in screened.itertuples()],
        "sample": {"file": "sample.csv", "sha256": _sha(payload), "rows": len(s),
                   "primary": int((s["role"] == "primary").sum()),
                   "reserve": int((s["role"] == "reserve").sum()),
                   "towns": int(s["town"].nunique()), "villages": int(s["village"].nunique())},
        "notes": [mask_personal(n) for n in fd.notes],
    }
    sample_path, mpath = out / "sample.csv", out / "manifest.json"
    with AtomicDirectory(out, owned=("sample.csv", "manifest.json", "replaced")) as stage:
        if sample_path.exists() or mpath.exists():
            from ..sampling.manifest import _load_json

            recorded = _load_json(mpath)  # None when missing or unreadable
            if (sample_path.exists() and sample_path.read_bytes() == payload
                    and _same_draw(recorded, record)):
                stage.discard()
                return FollowupOutcome(est, screened, exhausted, fd, rule, out, True,
                                       unchanged=True, spec_alpha=spec_obj.alpha, spec=spec_obj)
            if not force:
                was = recorded.get("seed") if isinstance(recorded, dict) else None
                hint = (f"（清单记录的随机种子是 {was}，本次是 {seed}：重新抽取同一样本请加 --seed {was}）"
                        if isinstance(was, int) and was != seed else "")
                raise OutputExistsError(f"{out} 中已有复核样本，与本次不同{hint}；复核样本是审计记录，"
                                        f"不会被覆盖。如确需替换，请加 --force。")
        new = stage.path
        if (out / "replaced").is_dir():
            shutil.copytree(out / "replaced", new / "replaced", copy_function=shutil.copy2)
        kept = None
        old = [p for p in (sample_path, mpath) if p.exists()]
        if old:
            keep = new / "replaced" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            keep.mkdir(parents=True)
            for p in old:
                shutil.copy2(p, keep / p.name)
            kept = out / keep.relative_to(new)
        atomic_write_bytes(new / "sample.csv", payload)
        write_json(record, new / "manifest.json")
    return FollowupOutcome(est, screened, exhausted, fd, rule, out, True, replaced=kept,
                           spec_alpha=spec_obj.alpha, spec=spec_obj)


@dataclass(frozen=True)
class FollowupVerifyReport:
    manifest_path: Path
    rows: int
    sample_sha256: str

    def __str__(self) -> str:
        return (f"核验通过：按复核清单重新计算第一阶段检验、筛选并重新抽样，得到与 "
                f"{self.manifest_path.parent / 'sample.csv'} 完全相同的 {self.rows} 行"
                f"（SHA-256 {self.sample_sha256[:12]}…）。")


def verify_followup(path: str | Path, *, register: str | Path | None = None
                    ) -> FollowupVerifyReport:
    """Re-run the phase-1 tests, the screening and the draw a follow-up manifest records, and
    confirm the sample is identical (:class:`VerificationError` otherwise)."""
    from ..sampling.manifest import _sha, read_manifest

    mpath = Path(path)
    if mpath.is_dir():
        mpath = mpath / "manifest.json"
    m = read_manifest(mpath)
    if m.get("kind") != "followup":
        raise DataError("不是复核清单（kind 应为 followup）", file=mpath.name)
    folder = mpath.parent
    reg_path = Path(register) if register is not None else folder / m["register"]["file"]
    p1_manifest = folder / m["phase1"]["manifest"]
    res_path = folder / m["results"]["file"]
    for p, sha, what in ((reg_path, m["register"]["sha256"], "农户台账"),
                         (p1_manifest, m["phase1"]["manifest_sha256"], "第一阶段抽样清单"),
                         (res_path, m["results"]["sha256"], "第一阶段入户核查结果")):
        if not p.is_file():
            raise DataError(f"复核清单记录的{what}不存在", file=str(p))
        if file_sha256(p) != sha and not (p == res_path and "phase1_rows_sha256" in m["results"]):
            raise VerificationError(f"{p.name} 的 SHA-256 与复核清单记录的不同：{what}在复核抽样后被修改过。")
    spec_file = m["spec"]["file"]
    spec_path = None if spec_file is None else folder / spec_file
    spec_obj, spec_bytes, _ = _spec_ref(spec_path, m["year"])
    if _sha(spec_bytes) != m["spec"]["sha256"]:
        raise VerificationError("考核参数的 SHA-256 与复核清单记录的不同：考核参数在复核抽样后被修改过。")
    from ..assessment import estimate_indicators
    from ..io.entry import read_results
    from ..io.readers import read_table
    from ..sampling.draw import DesignPlan
    from ..sampling.manifest import manifest_rule, verify_sample

    p1 = verify_sample(p1_manifest.parent, year=m["year"], spec=spec_obj)
    rule = manifest_rule(p1)
    if rule is None or rule.to_dict() != m["followup"]:
        raise VerificationError("复核清单的规则与第一阶段抽样清单登记的规则不同。")
    reg = read_table(reg_path, "register", encoding=m["register"]["encoding"])
    sample1 = read_table(p1_manifest.parent / "sample.csv", "sample")
    sample_path = folder / "sample.csv"
    if not sample_path.is_file() or file_sha256(sample_path) != m["sample"]["sha256"]:
        raise VerificationError(f"{sample_path} 与复核清单不一致：样本文件缺失或在抽样后被修改过。")
    # the recorded sample (its hash checked above) tells which rows of the results file are
    # phase 2's; the re-draw below must reproduce it byte for byte
    sample2 = read_table(sample_path, "sample")
    all_results = read_results(res_path, encoding=m["results"]["encoding"])
    results = phase1_rows(all_results, sample1, sample2)
    if (file_sha256(res_path) != m["results"]["sha256"]
            and phase1_rows_sha256(all_results, sample1, sample2)
            != m["results"]["phase1_rows_sha256"]):
        # the file changed since the draw (phase-2 results appended): its phase-1 rows must not
        raise VerificationError(f"{res_path.name} 中第一阶段样本户的核查结果与复核清单记录的不同："
                                f"第一阶段结果在复核抽样后被修改过。")
    est, _ = estimate_indicators(sample1, results, spec_obj, power=False)
    conditional = rule.method == "conditional"
    screened = continuation(est, rule, [] if conditional else exhausted_towns(reg, sample1))
    recorded = [(r["town"], r["indicator"]) for r in m["screened"]]
    if list(zip(screened["town"], screened["indicator"], strict=True)) != recorded:
        raise VerificationError("按第一阶段结果重新筛选，进入复核区间的镇 × 指标与复核清单记录的不同。")
    observed = None
    if conditional:
        observed = observed_households(sample1, results)
        rec = m.get("observed")
        if rec is None or (rec["households"], rec["sha256"]) != (len(observed),
                                                                 observed_sha256(observed)):
            raise VerificationError(f"按 {res_path.name} 重新得到的第一阶段已入户的户（{len(observed)} 户）"
                                    f"与复核清单记录的不同：复核抽样所依据的第一阶段入户情况被改动过。")
    fd = draw_followup(reg, sample1, screened, rule, spec_obj, DesignPlan.from_dict(p1["plan"]),
                       int(m["seed"]), observed=observed)
    payload = csv_bytes(fd.sample)
    sha = _sha(payload)
    if sha != m["sample"]["sha256"]:
        raise VerificationError("重新抽取的复核样本与清单记录的不同。")
    if sample_path.read_bytes() != payload:
        raise VerificationError(f"{sample_path} 与复核清单不一致：样本文件缺失或在抽样后被修改过。")
    return FollowupVerifyReport(mpath, len(fd.sample), sha)
