"""The entry workbook the field teams fill in, and the reader of field results that accepts it.

``quchi-stats fieldlist --out 名单.xlsx`` writes one sheet per town (:func:`entry_workbook_bytes`):
乡镇, 行政村, 户编号 (text), 抽样框 (in Chinese), 角色, 备选顺序 and 年度 prefilled; the result
columns empty, with a dropdown only where the household's frame asks for that answer (the spec's
indicators say which frames each answer is read on); reserve rows marked “未启用请留空”. No personal
data (names, ID numbers, phones) is written.

:func:`read_results` reads field results — a CSV file, a one-sheet workbook, or the filled entry
workbook with one sheet per town — as one table. A row with neither 入户状态 nor any answer is a
household not visited (an unused reserve, or a primary without record) and is dropped as if absent;
a row with answers but without 入户状态 is refused.

**The 复核 (phase 2).** ``quchi-stats fieldlist --followup`` writes the same form for the follow-up
sample (``followup_YYYY/sample.csv``), one sheet per town named ``复核-<town>``
(:data:`FOLLOWUP_SHEET_PREFIX`), so it never collides with a phase-1 town sheet;
``fieldlist --followup --into results_YYYY.xlsx`` adds those sheets to the filled phase-1 workbook
(:func:`add_followup_sheets`: atomically, every phase-1 cell kept). :func:`read_results` reads the
phase-2 sheets after the phase-1 ones — exactly as the CSV path reads phase-2 rows appended to the
file. A household the conditional method drew again because phase 1 did not observe it (its
phase-1 row says 无法入户, or it is an unused reserve) has its phase-2 row take the place of its
phase-1 row (the CSV holds one row per household, updated); a household observed in phase 1
(完成, 替补) that also has a phase-2 row is refused. Which phase-2 rows belong to the follow-up
sample is checked against it by :func:`followup_sheet_problems` (``report``, ``check``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..errors import DataError, ParameterError
from .readers import read_table, row_numbers
from .schema import FRAMES, RESULTS, SATISFACTION_LEVELS, VISIT_STATUSES, order_towns
from .writers import neutralise_cell

__all__ = ["ANSWER_COLUMNS", "FOLLOWUP_SHEET_PREFIX", "UNUSED_RESERVE_ZH", "add_followup_sheets",
           "answers_by_frame", "entry_workbook_bytes", "followup_sheet_problems",
           "is_followup_sheet", "read_results", "result_rows", "result_sheets"]

#: The answer columns of the field results (after 户编号, 年度 and 入户状态), in schema order.
ANSWER_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in RESULTS.columns if c.name not in ("household_id", "year", "visit_status"))

#: What a reserve row says until it is used.
UNUSED_RESERVE_ZH = "备选户：未启用请留空"

#: The start of a phase-2 (复核) sheet's name: ``复核-乌石镇``.
FOLLOWUP_SHEET_PREFIX = "复核-"

_ROLE_ZH = {"primary": "正选", "reserve": "备选"}
_YES_NO_ZH = ("是", "否")


def answers_by_frame(spec) -> dict[str, tuple[str, ...]]:
    """Which answer columns each sampling frame asks for, from the spec's indicators.

    An indicator read on ``satisfied`` asks for 满意度 (``satisfaction``).

    Examples
    --------
    >>> from quchi_stats.spec import load_spec
    >>> answers_by_frame(load_spec(2018))["non_registered"]
    ('missed',)
    """
    asked: dict[str, set[str]] = {f: set() for f in FRAMES}
    for ind in spec.indicators:
        col = "satisfaction" if ind.column == "satisfied" else ind.column
        for f in ind.frames:
            asked[f].add(col)
    return {f: tuple(c for c in ANSWER_COLUMNS if c in cols) for f, cols in asked.items()}


def is_followup_sheet(name: str | None) -> bool:
    """Whether a results sheet is a phase-2 (复核) sheet, by its name.

    >>> is_followup_sheet("复核-乌石镇"), is_followup_sheet("乌石镇"), is_followup_sheet(None)
    (True, False, False)
    """
    return name is not None and str(name).startswith(FOLLOWUP_SHEET_PREFIX)


def _sheet_title(name: str, used: set[str], prefix: str = "") -> str:
    title = re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip("'") or "乡镇"
    if not prefix and is_followup_sheet(title):  # a town's own name must not read as a 复核 sheet
        title = "_" + title
    title = (prefix + title)[:31]
    base, k = title, 2
    while title in used:
        suffix = f"({k})"
        title, k = base[:31 - len(suffix)] + suffix, k + 1
    used.add(title)
    return title


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive row numbers as (first, last) runs."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def entry_workbook_bytes(sample: pd.DataFrame, year: int,
                         asked: Mapping[str, Sequence[str]], *,
                         towns: Sequence[str] = (), followup: bool = False) -> bytes:
    """The entry workbook of a drawn sample, as .xlsx bytes (one sheet per town).

    Parameters
    ----------
    sample : DataFrame
        The drawn sample (canonical columns, as ``read_table(..., "sample")`` returns it).
    year : int
        The assessment year, prefilled in 年度.
    asked : mapping
        Frame -> answer columns asked (:func:`answers_by_frame`). Only those cells get a dropdown
        and a white background; the others are grey and meant to stay empty.
    towns : sequence of str
        The order of the town sheets (the spec's ``towns``); towns it leaves out follow in the
        sample's order (the design's).
    followup : bool
        ``sample`` is the follow-up sample (``followup_YYYY/sample.csv``): the sheets are named
        ``复核-<town>`` and their print header says 复核.
    """
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    _add_entry_sheets(wb, sample, year, asked, towns=towns, followup=followup)
    if not wb.sheetnames:
        raise DataError("抽查样本没有任何户，无法生成录入表")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _add_entry_sheets(wb, sample: pd.DataFrame, year: int, asked: Mapping[str, Sequence[str]], *,
                      towns: Sequence[str], followup: bool) -> list[str]:
    """Add the entry sheets of ``sample`` (one per town) to the openpyxl workbook ``wb``; returns
    their titles (never one of ``wb``'s existing titles)."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    needed = {"town", "village", "household_id", "frame", "role", "reserve_rank"}
    missing = sorted(needed - set(sample.columns))
    if missing:
        raise ParameterError(f"The 'sample' parameter of entry_workbook_bytes lacks the columns "
                             f"{missing}.")
    answers = [c for c in ANSWER_COLUMNS if any(c in cols for cols in asked.values())]
    labels = {c.name: c.label for c in RESULTS.columns}
    header = ["乡镇", "行政村", "户编号", "抽样框", "角色", "备选顺序", "年度", labels["visit_status"],
              *(labels[c] for c in answers), "备注"]
    first_answer = 9  # column I
    widths = [10, 12, 20, 24, 6, 8, 7, 10, *([10] * len(answers)), 20]
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    grey = PatternFill("solid", fgColor="D9D9D9")
    reserve_fill = PatternFill("solid", fgColor="F2F2F2")
    head_fill = PatternFill("solid", fgColor="DDEBF7")

    used_titles: set[str] = set(wb.sheetnames)
    added: list[str] = []
    prefix = FOLLOWUP_SHEET_PREFIX if followup else ""
    what = "复核入户核查结果录入表" if followup else "入户核查结果录入表"
    order = {t: i for i, t in enumerate(order_towns(sample["town"].astype(str), towns))}
    frame_order = {f: i for i, f in enumerate(FRAMES)}
    s = sample.assign(
        _t=sample["town"].astype(str).map(order), _f=sample["frame"].map(frame_order),
        _r=(sample["role"] != "primary").astype(int),
        _k=pd.to_numeric(sample["reserve_rank"], errors="coerce").fillna(0))
    s = s.sort_values(["_t", "village", "_f", "_r", "_k", "household_id"], kind="stable")
    for _town, rows in s.groupby("_t", sort=True):
        town_name = str(rows["town"].iloc[0])
        ws = wb.create_sheet(_sheet_title(town_name, used_titles, prefix))
        added.append(ws.title)
        ws.append([neutralise_cell(h) for h in header])
        for j, cell in enumerate(ws[1], start=1):
            cell.font = Font(bold=True)
            cell.fill = head_fill
            cell.border = border
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.column_dimensions[get_column_letter(j)].width = widths[j - 1]
        status_rows: dict[str, list[int]] = {"primary": [], "reserve": []}
        answer_rows: dict[str, list[int]] = {c: [] for c in answers}
        for i, r in enumerate(rows.itertuples(index=False), start=2):
            reserve = r.role != "primary"
            rank = pd.to_numeric(r.reserve_rank, errors="coerce")
            values = [str(r.town), str(r.village), str(r.household_id),
                      FRAMES.get(r.frame, str(r.frame)), _ROLE_ZH.get(r.role, str(r.role)),
                      int(rank) if reserve and pd.notna(rank) else None, int(year), None,
                      *([None] * len(answers)), UNUSED_RESERVE_ZH if reserve else None]
            ws.append([neutralise_cell(v) for v in values])
            for j, cell in enumerate(ws[i], start=1):
                cell.border = border
                if j <= 5:
                    cell.number_format = "@"  # text: 户编号 never becomes 4.4E+15
                    cell.data_type = "s"
                if reserve:
                    cell.fill = reserve_fill
            status_rows["reserve" if reserve else "primary"].append(i)
            wanted = set(asked.get(r.frame, ()))
            for k, c in enumerate(answers):
                if c in wanted:
                    answer_rows[c].append(i)
                else:
                    ws.cell(i, first_answer + k).fill = grey
        # dropdowns: 入户状态 by role, each answer where the frame asks for it
        lists = [
            (8, status_rows["primary"], "完成,无法入户", "入户状态", "正选户：完成或无法入户"),
            (8, status_rows["reserve"], "替补,无法入户", "入户状态",
             "备选户只在正选户无法入户时按备选顺序启用；未启用请留空"),
        ]
        for k, c in enumerate(answers):
            choices = (",".join(SATISFACTION_LEVELS.values()) if c == "satisfaction"
                       else ",".join(_YES_NO_ZH))
            lists.append((first_answer + k, answer_rows[c], choices, labels[c],
                          "从下拉列表中选择；无法入户或备选户未启用时留空"))
        for col, rws, choices, title, prompt in lists:
            if not rws:
                continue
            dv = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True,
                                showDropDown=False, showErrorMessage=True,
                                errorTitle=title[:32], error=f"请从下拉列表中选择：{choices}",
                                promptTitle=title[:32], prompt=prompt[:255],
                                showInputMessage=True)
            letter = get_column_letter(col)
            for a, b in _runs(rws):
                dv.add(f"{letter}{a}:{letter}{b}" if b > a else f"{letter}{a}")
            ws.add_data_validation(dv)
        ws.freeze_panes = "D2"
        ws.print_title_rows = "1:1"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.gridLines = False
        # "&" starts a code in a print header (&P, &D): a name's own "&" is written "&&"
        ws.oddHeader.center.text = f"{town_name.replace('&', '&&')} {year} 年{what}"
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        ws.oddFooter.left.text = "灰色格不需填写；备选户未启用请留空"
    return added


def result_sheets(path: str | Path) -> list[str] | None:
    """The sheet names of a results workbook, or ``None`` for a CSV file."""
    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return None
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, keep_links=False)
    except Exception as exc:  # a corrupt workbook: report it, do not crash
        raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=path.name) from None
    try:
        return [ws.title for ws in book.worksheets]
    finally:
        book.close()


def _in_sheet(exc: DataError, file: str, sheet: str) -> DataError:
    """``exc`` with the sheet named after the file."""
    text = str(exc)
    for sep in ("，", "："):
        if text.startswith(file + sep):
            text = f"{file}，工作表“{sheet}”{sep}{text[len(file) + 1:]}"
            break
    else:
        text = f"{file}，工作表“{sheet}”：{text}"
    out = DataError(text)
    out.file, out.row, out.column = exc.file, exc.row, exc.column
    return out


def _unvisited(table: pd.DataFrame) -> pd.Series:
    """Rows with neither 入户状态 nor any answer."""
    blank = table["visit_status"].isna()
    for c in ANSWER_COLUMNS:
        if c in table:
            blank &= table[c].isna()
    return blank


def _answers_without_status(table: pd.DataFrame, file: str, sheet: str | None) -> None:
    bad = table["visit_status"].isna() & ~_unvisited(table)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        err = DataError(f"户编号“{table['household_id'].iloc[i]}”填了核查结果，却没有填入户状态"
                        f"（应为{'、'.join(VISIT_STATUSES.values())}之一；共 {int(bad.sum())} 行）",
                        file=file, column=RESULTS.column("visit_status").label)
        raise _in_sheet(err, file, sheet) if sheet is not None else err


def read_results(path: str | Path, *, encoding: str | None = None,
                 columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Read field results — CSV, a workbook, or the filled entry workbook — as one table.

    Every sheet of a workbook is read (the entry workbook has one per town) and the sheets are
    stacked, the phase-2 sheets (``复核-…``) after the phase-1 ones; a household in two sheets of
    the same phase is refused. A household with rows in both phases is one the conditional
    复核 drew again because phase 1 did not observe it: its phase-2 row takes its place (refused
    when its phase-1 row says 完成 or 替补). Rows with neither 入户状态 nor any answer (unused
    reserves, primaries without record) are dropped, as if absent. Only the canonical columns of
    :data:`~quchi_stats.io.schema.RESULTS` are returned (the prefilled 乡镇, 行政村, 抽样框 … of the
    entry workbook come from the sample).

    Examples
    --------
    >>> from quchi_stats.datasets import data_path
    >>> read_results(data_path() / "results_2017.xlsx")["visit_status"].notna().all()
    np.True_
    """
    rows = result_rows(path, encoding=encoding, columns=columns)
    return rows.drop(columns=["_sheet", "_row", "_phase2"]).reset_index(drop=True)


def result_rows(path: str | Path, *, encoding: str | None = None,
                columns: dict[str, str] | None = None, exact_rows: bool = False) -> pd.DataFrame:
    """:func:`read_results` with where each row comes from: ``_sheet`` (None for a CSV or a
    one-sheet workbook), ``_row`` (the spreadsheet's row number) and ``_phase2`` (the row is on a
    ``复核-`` sheet).

    ``_row`` counts the header as row 1 and no blank row unless ``exact_rows``, which reads every
    sheet once more for its true row numbers (a title above the header, blank rows): slower, for
    messages. An error this function raises always names the true row."""
    path = Path(path)
    file = path.name
    sheets = result_sheets(path) if path.is_file() else None
    parts: list[tuple[str | None, pd.DataFrame]] = []
    if not sheets or len(sheets) == 1:
        parts.append((None, read_table(path, "results", encoding=encoding, columns=columns)))
    else:
        for name in sheets:
            try:
                parts.append((name, read_table(path, "results", sheet=name, columns=columns)))
            except DataError as exc:
                raise _in_sheet(exc, file, name) from None
    kept = []
    for sheet, table in parts:
        _answers_without_status(table, file, sheet)
        if exact_rows:  # the spreadsheet's row numbers (a title above the header, blank rows)
            table = table.set_axis(row_numbers(path, "results", sheet, encoding, len(table)))
        else:
            table = table.set_axis(pd.RangeIndex(2, len(table) + 2))
        t = table.loc[~_unvisited(table), [c for c in RESULTS.names if c in table]]
        phase2 = is_followup_sheet(sheet if sheet is not None else (sheets or [None])[0])
        kept.append(t.assign(_sheet=sheet, _row=t.index.to_numpy(), _phase2=phase2))
    # phase-1 sheets first, then the 复核 sheets: as phase-2 rows appended to a CSV
    kept = [t for t in kept if not t["_phase2"].any()] + [t for t in kept if t["_phase2"].any()]
    out = pd.concat(kept, ignore_index=True)
    if out.empty:
        raise DataError("没有任何填写了入户状态的行（录入表尚未填写？）", file=file)
    hid_label = RESULTS.column("household_id").label
    for phase2 in (False, True):
        part = out[out["_phase2"] == phase2]
        dup = part["household_id"].duplicated(keep=False)
        if dup.any() and len(parts) > 1:
            hid = part.loc[dup, "household_id"].iloc[0]
            where = "、".join(str(s) for s in part.loc[part["household_id"] == hid, "_sheet"])
            raise DataError(f"户编号“{hid}”在多个工作表中都有记录（{where}）", file=file,
                            column=hid_label)
    ids2 = set(out.loc[out["_phase2"], "household_id"])
    both = out["household_id"].isin(ids2) & ~out["_phase2"]
    if both.any():  # a household in a phase-1 and a phase-2 sheet
        first = out[both]
        seen = first["visit_status"].isin(["completed", "substitute"])
        if seen.any():
            if not exact_rows:  # the message names the true rows
                return result_rows(path, encoding=encoding, columns=columns, exact_rows=True)
            r1 = first[seen].iloc[0]
            r2 = out[out["_phase2"] & (out["household_id"] == r1["household_id"])].iloc[0]
            raise _in_sheet(DataError(
                f"户编号“{r1['household_id']}”第一阶段已入户（工作表“{r1['_sheet']}”第 "
                f"{int(r1['_row'])} 行：{VISIT_STATUSES[r1['visit_status']]}），又填在复核工作表中："
                f"复核只抽第一阶段未入户的户，同一户只能有一条入户记录", file=file,
                row=int(r2["_row"]), column=hid_label), file, str(r2["_sheet"]))
        # the conditional 复核 drew it again: its phase-2 row is the household's row
        out = out.drop(index=first.index)
    return out.reset_index(drop=True)


def followup_sheet_problems(rows: pd.DataFrame, sample1: pd.DataFrame, sample2: pd.DataFrame | None,
                            followup_name: str) -> list[tuple[str, str, int, str, str]]:
    """The rows of the 复核 sheets that do not belong there, as (message, sheet, row, column,
    value): a household of the phase-1 sample only, or one of neither sample. With ``sample2``
    None (no ``followup_YYYY/``) every 复核 sheet is one problem.

    ``rows`` is :func:`result_rows`'s table; ``followup_name`` names the follow-up sample in the
    messages (``followup_2018/sample.csv``)."""
    hid_label = RESULTS.column("household_id").label
    p2 = rows[rows["_phase2"]]
    if p2.empty:
        return []
    if sample2 is None:
        folder = followup_name.split("/")[0]
        return [(f"在复核工作表中，但数据目录中没有 {folder}/（复核样本）：先运行 quchi-stats followup，"
                 f"或删去此工作表", str(s), int(p2.loc[p2["_sheet"] == s, "_row"].iloc[0]),
                 hid_label, str(p2.loc[p2["_sheet"] == s, "household_id"].iloc[0]))
                for s in dict.fromkeys(p2["_sheet"])]
    in1 = p2["household_id"].isin(sample1["household_id"])
    in2 = p2["household_id"].isin(sample2["household_id"])
    out = []
    for sheet, row, hid, a, b in zip(p2["_sheet"], p2["_row"], p2["household_id"], in1, in2,
                                     strict=True):
        if b:
            continue
        msg = (f"是第一阶段抽查样本户，不在复核样本（{followup_name}）中：第一阶段的结果应填在"
               f"本镇的第一阶段工作表中" if a else f"不在复核样本（{followup_name}）中")
        out.append((msg, str(sheet), int(row), hid_label, str(hid)))
    return out


def add_followup_sheets(path: str | Path, sample2: pd.DataFrame, year: int,
                        asked: Mapping[str, Sequence[str]], *, towns: Sequence[str] = (),
                        force: bool = False) -> list[str]:
    """Add the empty 复核 entry sheets of the follow-up sample to the results workbook ``path``,
    atomically; returns the titles added.

    Every cell of the other sheets keeps its value (checked on the written file through an
    openpyxl round trip, and the results read from them are checked equal to those read before);
    on any difference nothing is written. A workbook that already has 复核 sheets is refused
    unless ``force`` (they are then replaced by empty ones: what was entered in them is lost).
    A workbook holding parts the round trip would drop (an embedded object, a macro, a control,
    a shape's drawing …; :data:`_PARTS`) is refused, naming them: nothing of the clerk's is lost
    silently, and ``--out`` writes the 复核 sheets to a workbook of their own instead.
    The file is replaced by one ``os.replace`` of a complete temporary file beside it, and only if
    it did not change while the new one was prepared.
    """
    import os
    import tempfile

    import openpyxl

    from ..errors import OutputExistsError

    path = Path(path)
    file = path.name
    if path.suffix.lower() != ".xlsx" or not path.is_file():
        raise DataError("不是已有的 .xlsx 入户核查结果工作簿（--into 只能加入录入工作簿）", file=str(path))
    before = path.read_bytes()
    try:
        wb = openpyxl.load_workbook(io.BytesIO(before))
    except Exception as exc:  # a corrupt workbook: report it, do not crash
        raise DataError(f"不是有效的 .xlsx 文件（{type(exc).__name__}）", file=file) from None
    existing = [t for t in wb.sheetnames if is_followup_sheet(t)]
    if existing and not force:
        raise OutputExistsError(f"{file} 中已有复核工作表（{'、'.join(existing)}）；如需换成空白复核表"
                                f"（其中已填的复核结果将被删除），请加 --force。")
    phase1 = result_rows(path)
    phase1 = phase1[~phase1["_phase2"]].reset_index(drop=True)
    for t in existing:
        del wb[t]
    kept = {ws.title: _values(ws) for ws in wb.worksheets}
    added = _add_entry_sheets(wb, sample2, year, asked, towns=towns, followup=True)
    if not added:
        raise DataError("复核样本没有任何户，无法生成录入表", file=file)
    buf = io.BytesIO()
    wb.save(buf)
    lost = _unkept_parts(before, buf.getvalue())
    if lost:
        raise DataError(f"工作簿中有加入复核表时无法保留的内容（{'、'.join(lost)}），未写入（原文件未改动）；"
                        f"请改用 --out 另写复核录入表，或先在 Excel 中删去这些内容", file=file)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        check = openpyxl.load_workbook(tmp)
        for title, values in kept.items():
            if title not in check.sheetnames or _values(check[title]) != values:
                raise DataError(f"加入复核工作表后，工作表“{title}”的内容与原来不同，未写入"
                                f"（原文件未改动）", file=file)
        after = result_rows(tmp)
        after = after[~after["_phase2"]].reset_index(drop=True)
        if not after.equals(phase1):
            raise DataError("加入复核工作表后读到的第一阶段核查结果与原来不同，未写入（原文件未改动）",
                            file=file)
        if path.read_bytes() != before:
            raise OutputExistsError(f"{file} 在加入复核工作表期间被改动过（在 Excel 中保存过？），未写入；"
                                    f"请关闭后重试。")
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return added


#: Parts of an .xlsx package that a workbook may hold beside its cells, by what a clerk would call
#: them; openpyxl keeps some (comments, tables, images with Pillow) and drops others (charts,
#: macros, embedded objects, pivot tables, controls).
_PARTS = (("图片", r"xl/media/"), ("图表", r"xl/charts/chart\d*\.xml"),
          ("绘图", r"xl/drawings/drawing\d*\.xml"), ("批注", r"xl/comments"),
          ("表格", r"xl/tables/"), ("嵌入对象", r"xl/embeddings/"), ("宏", r"xl/vbaProject\.bin"),
          ("数据透视表", r"xl/pivot"), ("控件", r"xl/(ctrlProps|activeX)/"),
          ("外部链接", r"xl/externalLinks/"))


def _unkept_parts(before: bytes, after: bytes) -> list[str]:
    """What kinds of the workbook's parts (:data:`_PARTS`) ``after`` has fewer of than
    ``before``: what saving it again would lose."""
    import zipfile

    def count(data: bytes) -> dict[str, int]:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
        return {kind: sum(bool(re.match(rx, n)) for n in names) for kind, rx in _PARTS}

    a, b = count(before), count(after)
    return [kind for kind, _ in _PARTS if b[kind] < a[kind]]


def _values(ws) -> list[tuple]:
    """Every cell value of a sheet, row by row (formulas as their text)."""
    return [tuple(c.value for c in row) for row in ws.iter_rows()]
