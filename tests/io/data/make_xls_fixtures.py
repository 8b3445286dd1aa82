"""Write the small .xls (BIFF8) fixtures of tests/io/test_workbooks.py, once.

python-calamine only reads, and no BIFF writer is a dependency of quchi_stats (xlwt is unmaintained
and not wanted at run time), so the fixtures are committed as binary files made by this script:

    python -m venv /tmp/xlwt && /tmp/xlwt/bin/pip install xlwt==1.3.0
    /tmp/xlwt/bin/python tests/io/data/make_xls_fixtures.py

The content mirrors ``HEADER`` and ``ROWS`` of tests/io/test_readers.py (numbers stored as numbers,
ids as text), as the national system's exports are: a title row above the header, and Excel's
empty Sheet2/Sheet3. Synthetic data only.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
HEADER = ["乡镇", "行政村", "户编号", "人数", "是否建档立卡", "脱贫年度", "贫困户属性", "劳动能力",
          "人均可支配收入", "省定贫困村"]
ROWS = {
    "马坝镇": [["马坝镇", "马坝01村", "4402051002010001", 3, "是", 2017, "一般贫困户", "是", 7012.5, "否"],
            ["马坝镇", "马坝01村", "4402051002010002", 4, "否", "", "", "是", 15000, "否"]],
    "大塘镇": [["大塘镇", "大塘01村", "4402051012010001", 2, "是", 2019, "低保贫困户", "否", 6100, "是"]],
}


def _sheet(book, name: str, title: str | None, rows: list[list]) -> None:
    ws = book.add_sheet(name)
    r = 0
    if title is not None:
        ws.write(r, 0, title)
        r += 1
    for j, h in enumerate(HEADER):
        ws.write(r, j, h)
    for row in rows:
        r += 1
        for j, v in enumerate(row):
            if v != "":
                ws.write(r, j, v)


def main() -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")  # one register sheet with a title row, two empty sheets
    _sheet(book, "台账", "某县建档立卡户台账（合成数据）", ROWS["马坝镇"])
    book.add_sheet("Sheet2")
    book.add_sheet("Sheet3")
    book.save(HERE / "register_title.xls")

    book = xlwt.Workbook(encoding="utf-8")  # one sheet per town, same header
    for town, rows in ROWS.items():
        _sheet(book, town, f"{town}建档立卡户台账（合成数据）", rows)
    book.save(HERE / "register_towns.xls")

    book = xlwt.Workbook(encoding="utf-8")  # a register and a notes sheet: refused, sheets listed
    _sheet(book, "台账", None, ROWS["马坝镇"])
    ws = book.add_sheet("说明")
    ws.write(0, 0, "本表由信息系统导出（合成数据）")
    book.save(HERE / "register_mixed.xls")

    book = xlwt.Workbook(encoding="utf-8")  # #N/A in 脱贫年度 (a BOOLERR record): calamine shows blank
    _sheet(book, "台账", None, ROWS["马坝镇"])
    book.get_sheet(0).row(2).set_cell_error(5, 0x2A)
    book.save(HERE / "register_error.xls")


if __name__ == "__main__":
    main()
