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
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..errors import DataError, ParameterError
from .schema import FRAMES, RESULTS, SATISFACTION_LEVELS, VISIT_STATUSES, order_towns
from .writers import neutralise_cell

__all__ = ["ANSWER_COLUMNS", "UNUSED_RESERVE_ZH", "answers_by_frame", "entry_workbook_bytes",
           "read_results", "result_sheets"]

#: The answer columns of the field results (after 户编号, 年度 and 入户状态), in schema order.
ANSWER_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in RESULTS.columns if c.name not in ("household_id", "year", "visit_status"))

#: What a reserve row says until it is used.
UNUSED_RESERVE_ZH = "备选户：未启用请留空"

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


def _sheet_title(name: str, used: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip("'")[:31] or "乡镇"
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
                         towns: Sequence[str] = ()) -> bytes:
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
    """
    from openpyxl import Workbook
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

    wb = Workbook()
    wb.remove(wb.active)
    used_titles: set[str] = set()
    order = {t: i for i, t in enumerate(order_towns(sample["town"].astype(str), towns))}
    frame_order = {f: i for i, f in enumerate(FRAMES)}
    s = sample.assign(
        _t=sample["town"].astype(str).map(order), _f=sample["frame"].map(frame_order),
        _r=(sample["role"] != "primary").astype(int),
        _k=pd.to_numeric(sample["reserve_rank"], errors="coerce").fillna(0))
    s = s.sort_values(["_t", "village", "_f", "_r", "_k", "household_id"], kind="stable")
    for _town, rows in s.groupby("_t", sort=True):
        town_name = str(rows["town"].iloc[0])
        ws = wb.create_sheet(_sheet_title(town_name, used_titles))
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
        ws.oddHeader.center.text = f"{town_name.replace('&', '&&')} {year} 年入户核查结果录入表"
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        ws.oddFooter.left.text = "灰色格不需填写；备选户未启用请留空"
    if not wb.sheetnames:
        raise DataError("抽查样本没有任何户，无法生成录入表")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


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
    stacked; a household in two sheets is refused. Rows with neither 入户状态 nor any answer (unused
    reserves, primaries without record) are dropped, as if absent. Only the canonical columns of
    :data:`~quchi_stats.io.schema.RESULTS` are returned (the prefilled 乡镇, 行政村, 抽样框 … of the
    entry workbook come from the sample).

    Examples
    --------
    >>> from quchi_stats.datasets import data_path
    >>> read_results(data_path() / "results_2017.xlsx")["visit_status"].notna().all()
    np.True_
    """
    from .readers import read_table

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
        t = table.loc[~_unvisited(table), [c for c in RESULTS.names if c in table]]
        kept.append(t.assign(_sheet=sheet))
    out = pd.concat(kept, ignore_index=True)
    dup = out["household_id"].duplicated(keep=False)
    if dup.any() and len(parts) > 1:
        hid = out.loc[dup, "household_id"].iloc[0]
        where = "、".join(str(s) for s in out.loc[out["household_id"] == hid, "_sheet"])
        raise DataError(f"户编号“{hid}”在多个工作表中都有记录（{where}）", file=file,
                        column=RESULTS.column("household_id").label)
    if out.empty:
        raise DataError("没有任何填写了入户状态的行（录入表尚未填写？）", file=file)
    return out.drop(columns="_sheet")
