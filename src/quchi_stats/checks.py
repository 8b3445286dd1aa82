"""Check every input of one year at once, and list every problem found.

:func:`check_year` is what ``quchi-stats check`` and ``quchi-stats report`` run first. It reads the
register, the drawn sample (against its manifest), the field results (every sheet of the entry
workbook), the town self-assessments, the reduction targets and the spec, and returns one
:class:`Problem` per problem — the file, sheet, row, column, the value found and what was expected —
instead of stopping at the first: about 900 rows are typed in by field teams each year, and each
mistake should not cost a run.

A file whose structure cannot be read (an unknown encoding, a missing required column, a header
written twice) gives one problem and is not looked into further; otherwise each cell is parsed
against its codebook and every bad cell is listed, then the rows that parsed are checked against
the other files (households of the results in the sample, towns and villages in the register, the
年度 of every row, reserves used no more than primaries missing — per risk group too, in a village whose
non-registered frame a ``risk_factor > 1`` draw split into risk households and the others).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, QuchiStatsError, QuchiStatsWarning, mask_personal
from .io.datadir import DataDir
from .io.entry import ANSWER_COLUMNS, result_sheets
from .io.readers import row_numbers
from .io.schema import RESULTS, TABLES, VISIT_STATUSES

__all__ = ["Problem", "check_year", "read_checked", "unlisted_towns"]


@dataclass(frozen=True)
class Problem:
    """One problem in one place of the year's inputs.

    ``row`` is the row as a spreadsheet shows it (the header is row 1); ``value`` is the cell as
    written (masked when it holds personal data); ``message`` says what is wrong and what was
    expected. ``str(problem)`` is the one line the command line prints.
    """

    file: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:  # personal data never kept, whoever reads the problem
        for name in ("message", "value"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, mask_personal(str(v)))

    def __str__(self) -> str:
        parts = [self.file]
        if self.sheet is not None:
            parts.append(f"工作表“{self.sheet}”")
        if self.row is not None:
            parts.append(f"第 {self.row} 行")
        if self.column is not None:
            parts.append(f"列“{self.column}”")
        text = "，".join(parts) + "："
        if self.value is not None:
            v = self.value
            if len(v) > 40:  # one line: a 100 kB cell is not echoed
                v = f"{v[:40]}…（共 {len(v):,} 个字符）"
            text += f"值“{v}”，"
        return mask_personal(text + self.message)


def _from_error(exc: QuchiStatsError, file: str, sheet: str | None = None) -> Problem:
    """A :class:`Problem` from an error raised by a reader (its file/row/column prefix undone)."""
    text = str(exc)
    if isinstance(exc, DataError):
        parts = [str(exc.file)] if exc.file is not None else []
        if exc.row is not None:
            parts.append(f"第 {exc.row} 行")
        if exc.column is not None:
            parts.append(f"列“{exc.column}”")
        prefix = "，".join(parts)
        if prefix and text.startswith(prefix + "："):
            text = text[len(prefix) + 1:]
        return Problem(file, text, sheet=sheet, row=exc.row, column=exc.column)
    return Problem(file, text, sheet=sheet)


def _from_manifest_error(exc: QuchiStatsError, folder: Path) -> Problem:
    """A problem of the sample's audit record, named ``sample_YYYY/<file>``."""
    text = str(exc)
    head, sep, rest = text.partition("：")
    name = Path(head).name if sep else ""
    if name in ("manifest.json", "sample.csv") and Path(head).parent.name == folder.name:
        return Problem(f"{folder.name}/{name}", rest)
    return Problem(f"{folder.name}/manifest.json", text)


def _collect(path: Path, kind: str, sheet: str | None, encoding: str | None,
             ) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a table cell by cell: every bad cell is a problem; the rows whose cells all parsed
    are returned (indexed by spreadsheet row) for the checks across files."""
    from .io import readers as r

    schema = TABLES[kind]
    file = path.name
    try:
        cells = r._restore_quoted(r._read_raw(path, encoding, sheet)[0][1])
        h = r._find_header(cells, schema, file)
        raw, rows = r._body(cells, h, file)
        if not len(raw):
            raise DataError("文件没有数据行", file=file)
        mapping = r._map_headers(raw, schema, file)
    except DataError as exc:
        return None, [_from_error(exc, file, sheet)]
    problems: list[Problem] = []
    good = np.ones(len(raw), dtype=bool)
    parsed: dict[str, pd.Series] = {}
    for header, canonical in mapping.items():
        col = schema.column(canonical)
        values = raw[header]
        if canonical in r._NAME_COLUMNS:
            try:
                r._check_name_collisions(values, rows, col.label, file)
            except DataError as exc:
                problems.append(_from_error(exc, file, sheet))
        norm = values.map(lambda v: r.normalize_text(str(v)))
        keep = np.ones(len(values), dtype=bool)
        out = None
        while keep.any():
            try:
                out = r._parse_column(values[keep], col, file, rows[keep])
                break
            except DataError as exc:
                hit = np.flatnonzero(rows == exc.row) if exc.row is not None else []
                if not len(hit):  # not a cell: the whole column
                    problems.append(_from_error(exc, file, sheet))
                    keep[:] = False
                    break
                same = keep & (norm == norm.iloc[int(hit[0])]).to_numpy()
                blank = norm.iloc[int(hit[0])] == ""
                expected = r._expected(col)
                for p in np.flatnonzero(same):
                    problems.append(Problem(
                        file, f"不能为空，应为{expected}" if blank else f"应为{expected}",
                        sheet=sheet, row=int(rows[p]), column=col.label,
                        value=None if blank else str(values.iloc[p]).strip()))
                keep &= ~same
        good &= keep
        if out is not None:
            parsed[canonical] = out
    table = pd.DataFrame({c: s.reindex(raw.index) for c, s in parsed.items()})
    table.index = pd.Index(rows)
    table = table[good]
    key = schema.key
    if key is not None and key in table:
        dup = table[key].duplicated(keep="first")
        for row in table.index[dup.to_numpy()]:
            value = table.loc[row, key]
            first = int(table.index[(table[key] == value).to_numpy()][0])
            problems.append(Problem(file, f"重复（首次出现在第 {first} 行）", sheet=sheet, row=int(row),
                                    column=schema.column(key).label, value=str(value)))
        table = table[~dup]
    try:
        r._check_personal_data(table, schema, file)
    except DataError as exc:
        problems.append(_from_error(exc, file, sheet))
    return table, problems


def read_checked(path: str | Path, kind: str, *, sheet: str | None = None,
                 encoding: str | None = None) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one table, listing every problem instead of stopping at the first.

    Returns the table (indexed by spreadsheet row; the rows that parsed, when there are
    problems) and the problems. A file that reads cleanly with
    :func:`~quchi_stats.io.readers.read_table` has no problems and is returned as that function
    reads it (with its repairs and their warnings).
    """
    from .io.readers import read_table

    path = Path(path)
    try:
        table = read_table(path, kind, encoding=encoding, sheet=sheet)
    except DataError as exc:
        with warnings.catch_warnings():  # said once already, by read_table
            warnings.simplefilter("ignore", QuchiStatsWarning)
            try:
                table, problems = _collect(path, kind, sheet, encoding)
            except Exception:  # pragma: no cover - the cell-by-cell pass must never hide the error
                table, problems = None, []
        return table, problems or [_from_error(exc, path.name, sheet)]
    if kind != "register":
        table.index = row_numbers(path, kind, sheet, encoding, len(table))
    return table, []


def _by_row(table: pd.DataFrame, mask, file: str, column: str, message, sheet=None,
            value_of=None) -> list[Problem]:
    """One problem per row of ``table`` where ``mask`` holds."""
    out = []
    for row in table.index[np.asarray(mask, dtype=bool)]:
        value = table.loc[row, value_of] if value_of is not None else None
        out.append(Problem(file, message(table.loc[row]) if callable(message) else message,
                           sheet=sheet, row=int(row), column=column,
                           value=None if value is None or pd.isna(value) else str(value)))
    return out


def _year_problems(table: pd.DataFrame, year: int, file: str, sheet=None) -> list[Problem]:
    """Rows of another year; a whole file of one other year is one line (another year's file)."""
    if table is None or "year" not in table:
        return []
    other = table["year"].notna() & (table["year"] != year)
    years = set(table.loc[other, "year"])
    if len(table) > 1 and other.all() and len(years) == 1:
        return [Problem(file, f"全部 {len(table)} 行的年度都是 {years.pop()}，应为本次考核年度 {year}"
                              "（是否放入了另一年的文件？）", sheet=sheet, column="年度")]
    return _by_row(table, other, file, "年度", f"应为本次考核年度 {year}", sheet, "year")


def _known_problems(table: pd.DataFrame, register: pd.DataFrame | None, file: str,
                    ) -> list[Problem]:
    if table is None or register is None:
        return []
    out = []
    for col, label in (("town", "乡镇"), ("village", "行政村")):
        if col in table and col in register:
            unknown = table[col].notna() & ~table[col].isin(set(register[col]))
            out += _by_row(table, unknown, file, label, f"{label}不在农户台账中", value_of=col)
    return out


def unlisted_towns(register: pd.DataFrame, towns: tuple[str, ...] | list[str]) -> list[str]:
    """Towns of ``register`` that a spec's non-empty ``towns`` leaves out, in the register's order
    (they are listed after the spec's towns everywhere); none when ``towns`` is empty."""
    if not towns or "town" not in register:
        return []
    listed = set(towns)
    return [t for t in dict.fromkeys(register["town"].dropna().astype(str)) if t not in listed]


def _unlisted_towns(register: pd.DataFrame, towns: tuple[str, ...], file: str) -> None:
    """A warning (not a problem: the year can still be run) naming the register's towns that
    the spec's ``towns`` leaves out."""
    unlisted = unlisted_towns(register, towns)
    if unlisted:
        named = "、".join(unlisted[:10]) + ("等" if len(unlisted) > 10 else "")
        warnings.warn(f"{file} 中的 {len(unlisted)} 个乡镇（{named}）不在考核参数的乡镇顺序（towns）中："
                      "样本、报告和各表把它们排在所列各镇之后；如是笔误或漏列，请改正考核参数的 towns。",
                      QuchiStatsWarning, stacklevel=3)


def _optional(root: DataDir, stem: str, year: int, what: str) -> Path | None:
    try:
        return getattr(root, stem)(year)
    except DataError:
        warnings.warn(f"没有 {stem}_{year}.csv 或 .xlsx：{what}。", QuchiStatsWarning, stacklevel=3)
        return None


def check_year(year: int, data: str | Path | None = None, *, spec=None,
               encoding: str | None = None, verify: bool = True) -> list[Problem]:
    """Every problem in the inputs of ``year`` in a data directory, one :class:`Problem` each.

    Parameters
    ----------
    year : int
    data : path, optional
        A data directory (default: the bundled synthetic ``data_samples/``).
    spec : AssessmentSpec or path, optional
        Default: the shipped spec of the year. A spec for another year is a problem.
    encoding : str, optional
        Encoding of the CSV files (default: detected).
    verify : bool
        Check the sample against its ``manifest.json`` (as ``report`` does unless
        ``--no-verify``).

    Returns
    -------
    list of Problem
        Empty when the year's inputs are fit for :func:`~quchi_stats.assessment.run_assessment`.
        An absent self-assessment or targets file is not a problem: a
        :class:`~quchi_stats.errors.QuchiStatsWarning` says which check cannot be made.

    Examples
    --------
    >>> check_year(2018)
    []
    """
    from .datasets import data_path
    from .sampling.manifest import verify_sample
    from .spec import AssessmentSpec, check_spec_year, load_spec

    root = DataDir(Path(data) if data is not None else data_path())
    problems: list[Problem] = []

    # the spec
    loaded = None
    try:
        if spec is None:
            loaded = load_spec(year, year=year)
        elif isinstance(spec, AssessmentSpec):
            check_spec_year(spec, year)
            loaded = spec
        else:
            loaded = load_spec(spec, year=year)
    except DataError as exc:
        problems.append(_from_error(exc, str(exc.file or f"考核参数（{year} 年）")))

    # the register
    register = None
    try:
        reg_path = root.register(year)
    except DataError as exc:
        problems.append(_from_error(exc, str(root.root)))
    else:
        register, found = read_checked(reg_path, "register", encoding=encoding)
        problems += found
        if found:  # rows left out of a register with problems are not “unknown” elsewhere
            register = None
        elif loaded is not None:
            _unlisted_towns(register, loaded.towns, reg_path.name)

    # the sample and its manifest
    sample = None
    sample_path = root.sample_dir(year) / "sample.csv"
    sample_file = f"{root.sample_dir(year).name}/sample.csv"
    before = len(problems)
    if verify:
        try:
            verify_sample(root.sample_dir(year), year=year)
        except QuchiStatsError as exc:
            problems.append(_from_manifest_error(exc, root.sample_dir(year)))
    if not sample_path.is_file():
        if not verify:
            problems.append(Problem(sample_file, "找不到抽查样本（先用 quchi-stats design 抽样）"))
    else:
        sample, found = read_checked(sample_path, "sample")
        problems += [Problem(sample_file, p.message, p.sheet, p.row, p.column, p.value)
                     if p.file == "sample.csv" else p for p in found]
        if sample is not None:
            problems += _year_problems(sample, year, sample_file)
            problems += _known_problems(sample, register, sample_file)
            if register is not None and "household_id" in sample:
                unknown = ~sample["household_id"].isin(set(register["household_id"]))
                problems += _by_row(sample, unknown, sample_file, "户编号", "户编号不在农户台账中",
                                    value_of="household_id")

    # the field results: every sheet of a workbook
    try:
        res_path = root.results(year)
    except DataError as exc:
        problems.append(_from_error(exc, str(root.root)))
    else:
        # results are matched only against a sample without problems: against a changed or
        # another year's sample, every household would be listed as not drawn
        matched = sample if len(problems) == before else None
        fu_sample = root.root / f"followup_{year}" / "sample.csv"
        phase1 = matched
        fu = None
        if matched is not None and fu_sample.is_file():
            # phase-2 results of a two-phase 复核 are appended to the same file (docs/followup.md)
            fu, found = read_checked(fu_sample, "sample")
            problems += [Problem(f"followup_{year}/sample.csv", p.message, p.sheet, p.row,
                                 p.column, p.value) if p.file == "sample.csv" else p
                         for p in found]
            # (a risk-oversampled phase 1 has a ``risk`` column the 复核 sample has not)
            matched = None if fu is None else pd.concat(
                [matched, fu.reindex(columns=matched.columns)], ignore_index=True)
        # the 复核 sheets of an entry workbook hold the follow-up sample's households only
        phases = (None if phase1 is None or (fu_sample.is_file() and fu is None)
                  else (phase1, fu, f"followup_{year}/sample.csv"))
        problems += _check_results(res_path, year, matched, encoding, phases)

    # optional tables
    for stem, kind, what in (
            ("self_report", "self_report", "第九条（自评与抽查不符、数据失真）将不检查"),
            ("targets", "targets", "第七条（一）（年度减贫任务）将不检查")):
        path = _optional(root, stem, year, what)
        if path is None:
            continue
        table, found = read_checked(path, kind, encoding=encoding)
        problems += found
        problems += _year_problems(table, year, path.name)
        problems += _known_problems(table, register, path.name)
    return _in_order(problems)


def _in_order(problems: list[Problem]) -> list[Problem]:
    """Files in the order checked; within a file, by sheet (as met) and row (file-wide last)."""
    files = {f: i for i, f in enumerate(dict.fromkeys(p.file for p in problems))}
    sheets = {s: i for i, s in enumerate(dict.fromkeys(p.sheet for p in problems))}
    return sorted(problems, key=lambda p: (files[p.file], sheets[p.sheet],
                                           p.row if p.row is not None else 1 << 62))


def _check_results(path: Path, year: int, sample: pd.DataFrame | None,
                   encoding: str | None, phases: tuple | None = None) -> list[Problem]:
    """The field results: every sheet; with ``phases`` (phase-1 sample, follow-up sample or None,
    its name), the 复核 sheets of an entry workbook are matched against the follow-up sample."""
    from .io.entry import followup_sheet_problems, is_followup_sheet

    file = path.name
    try:
        sheets = result_sheets(path)
    except DataError as exc:
        return [_from_error(exc, file)]
    names: list[str | None] = [None] if not sheets or len(sheets) == 1 else list(sheets)
    problems: list[Problem] = []
    parts = []
    status_label = RESULTS.column("visit_status").label
    for name in names:
        table, found = read_checked(path, "results", sheet=name, encoding=encoding)
        problems += found
        if table is None:
            continue
        blank = table["visit_status"].isna() if "visit_status" in table else None
        if blank is not None:
            answered = pd.Series(False, index=table.index)
            for c in ANSWER_COLUMNS:
                if c in table:
                    answered |= table[c].notna()
            problems += _by_row(table, blank & answered, file, status_label,
                                "填了核查结果，却没有填入户状态（应为"
                                f"{'、'.join(VISIT_STATUSES.values())}之一）", name)
            table = table[~blank]
        problems += _year_problems(table, year, file, name)
        phase2 = is_followup_sheet(name if name is not None else (sheets or [None])[0])
        parts.append(table.assign(_sheet=name, _row=table.index, _phase2=phase2))
    if not parts:
        return problems
    # phase-1 sheets first, then the 复核 sheets (as read_results stacks them)
    parts = ([t for t in parts if not t["_phase2"].any()]
             + [t for t in parts if t["_phase2"].any()])
    res = pd.concat(parts, ignore_index=True)
    if len(names) > 1 and "household_id" in res:
        ids2 = set(res.loc[res["_phase2"], "household_id"])
        # a household the conditional 复核 drew again (phase 1 did not observe it): its 复核 row
        # takes the place of its phase-1 row (read_results)
        again = (res["household_id"].isin(ids2) & ~res["_phase2"]
                 & ~res["visit_status"].isin(["completed", "substitute"]))
        res = res[~again]
        dup = res["household_id"].duplicated(keep="first")
        for _, r in res[dup].iterrows():
            first = res[res["household_id"] == r["household_id"]].iloc[0]
            if r["_phase2"] and not first["_phase2"]:
                msg = (f"第一阶段已入户（工作表“{first['_sheet']}”第 {first['_row']} 行："
                       f"{VISIT_STATUSES.get(first['visit_status'], first['visit_status'])}），"
                       "又填在复核工作表中：复核只抽第一阶段未入户的户，同一户只能有一条入户记录")
            else:
                msg = f"重复（首次出现在工作表“{first['_sheet']}”第 {first['_row']} 行）"
            problems.append(Problem(file, msg, r["_sheet"], int(r["_row"]), "户编号",
                                    str(r["household_id"])))
        res = res[~dup]
        if phases is not None and res["_phase2"].any():
            rows = res.assign(_row=res["_row"].astype(int))
            for msg, sheet, row, column, value in followup_sheet_problems(rows, *phases):
                problems.append(Problem(file, msg, sheet, row, column, value))
            # said once: not again as households of no sample
            s2 = phases[1]
            res = res[~(res["_phase2"] if s2 is None
                        else res["_phase2"] & ~res["household_id"].isin(s2["household_id"]))]
    if sample is None or "household_id" not in sample:
        return problems
    known = res["household_id"].isin(set(sample["household_id"]))
    for _, r in res[~known].iterrows():
        problems.append(Problem(file, "户编号不在抽查样本中", r["_sheet"], int(r["_row"]), "户编号",
                                str(r["household_id"])))
    merged = res[known].merge(sample[["household_id", "town", "village", "frame", "role"]],
                              on="household_id", how="left")
    bad = (merged["role"] == "primary") & (merged["visit_status"] == "substitute")
    for _, r in merged[bad].iterrows():
        problems.append(Problem(file, "正选户的入户状态不能是“替补”（替补只用于启用的备选户；"
                                      "正选户应为完成或无法入户）", r["_sheet"], int(r["_row"]),
                                status_label, "替补"))
    # a village-frame cannot use more reserves than primaries it could not visit
    full = sample[["household_id", "town", "village", "frame", "role"]].merge(
        merged[["household_id", "visit_status"]], on="household_id", how="left")
    primary = full["role"] == "primary"
    missing = primary & (full["visit_status"].isna() | (full["visit_status"] == "unreachable"))
    used = ~primary & full["visit_status"].isin(["substitute", "completed"])
    cells = pd.DataFrame({"missing": missing, "used": used}).groupby(
        [full["town"], full["village"], full["frame"]]).sum()
    from .io.schema import FRAMES

    over = cells[cells["used"] > cells["missing"]]
    for (town, village, frame), c in over.iterrows():
        problems.append(Problem(file, f"{town}{village}（{FRAMES.get(frame, frame)}）用了 "
                                      f"{int(c['used'])} 户备选户，但只有 {int(c['missing'])} 户正选户"
                                      "无法入户：替补多于所缺"))
    if "risk" in sample:
        problems += _risk_reserve_problems(sample, full, merged, missing, used,
                                           set(over.index), file, status_label)
    return problems


def _risk_reserve_problems(sample: pd.DataFrame, full: pd.DataFrame, merged: pd.DataFrame,
                           missing: pd.Series, used: pd.Series, over: set, file: str,
                           status_label: str) -> list[Problem]:
    """A risk-oversampled draw (``risk`` column): in a village whose non-registered frame was split
    into risk households and the others, each sub-frame has its own reserves, so a reserve used
    must stand in for a primary of its own group — the reserves used in a group beyond its primaries
    not visited are listed, one row each (the last used, by 备选顺序). A village not split (one
    frame, one probability) and a frame already over its primaries missing are left to the check
    above."""
    from .sampling.draw import split_villages

    needed = ["frame", "role", "n_households_sampled_in_frame_of_village", "reserve_rank"]
    if any(c not in sample for c in needed):
        return []
    split = {k for k in split_villages(sample) if (*k, "non_registered") not in over}
    if not split:
        return []
    group = sample.drop_duplicates("household_id").set_index("household_id")["risk"]
    sel = ((full["frame"] == "non_registered").to_numpy()
           & full["household_id"].map(group).notna().to_numpy() & np.array(
               [(t, v) in split for t, v in zip(full["town"], full["village"], strict=True)],
               dtype=bool))
    f = full[sel].assign(_risk=full.loc[sel, "household_id"].map(group).astype(bool).to_numpy(),
                         _missing=missing[sel].to_numpy(), _used=used[sel].to_numpy())
    rank = pd.to_numeric(sample.drop_duplicates("household_id").set_index("household_id")[
        "reserve_rank"], errors="coerce")
    where = merged.drop_duplicates("household_id").set_index("household_id")[["_sheet", "_row"]]
    problems = []
    for (town, village, is_risk), g in f.groupby(["town", "village", "_risk"], sort=False):
        n_used, n_missing = int(g["_used"].sum()), int(g["_missing"].sum())
        if n_used <= n_missing:
            continue
        ids = g.loc[g["_used"], "household_id"]
        ids = ids.iloc[np.argsort(rank[ids].to_numpy(dtype=float), kind="stable")]
        this, other = ("风险户", "其他户") if is_risk else ("其他户", "风险户")
        for hid in ids.iloc[n_missing:]:
            sheet, row = where.loc[hid, "_sheet"], int(where.loc[hid, "_row"])
            problems.append(Problem(
                file, f"是{town}{village}非建档立卡{this}的备选户，但该村{this}只有 {n_missing} 户正选户"
                      f"无法入户，却用了 {n_used} 户{this}备选户：风险户与其他户分框抽取，"
                      f"{other}的正选户只能由{other}的备选户替补", sheet, row, "户编号", str(hid)))
    return problems
