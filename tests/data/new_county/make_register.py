"""Write ``register_2019.xls``: a synthetic register export of another county, once.

The end-to-end test of tests/test_county_workflow.py walks a new county's year with the commands alone,
starting, as a statistician would, from the information system's .xls export. python-calamine only
reads and no BIFF writer is a dependency of quchi_stats, so the file is committed, made by this script:

    python -m venv /tmp/xlwt && /tmp/xlwt/bin/pip install -e . xlwt==1.3.0
    /tmp/xlwt/bin/python tests/data/new_county/make_register.py

The county is not Qujiang: six towns with other names (in an order that is neither Qujiang's codes nor
alphabetical), its own administrative code in the household ids, headers as the national system
exports them (乡(镇), 行政村名称, 家庭人口数, 脱贫年份, 户主证件号码 …) and a title row above the header.
The households come from the seeded synthetic district of quchi_stats.datasets (its 2018 state, dated
one year later): every registered household and a tenth of the others, to keep the file small. Synthetic data only: no real person is named.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
SEED, SCALE, NONREGISTERED = 20190101, 0.4, 0.1
#: Qujiang town -> the new county's town (the spec lists them in this order)
TOWNS = {"樟市镇": "青云镇", "大塘镇": "河西镇", "沙溪镇": "东山乡", "乌石镇": "城关镇",
         "白土镇": "南岭镇", "枫湾镇": "白沙镇"}
CODE = ("440205", "441823")  # the administrative-division prefix of 户编号 and 证件号码
HEADER = {"town": "乡(镇)", "village": "行政村名称", "household_id": "户编号", "household_size": "家庭人口数",
          "registered": "是否建档立卡", "exit_year": "脱贫年份", "category": "贫困户属性",
          "able_to_work": "劳动能力", "income_per_capita": "人均纯收入", "priority_village": "是否省定贫困村",
          "id_number": "户主证件号码"}


def register():
    import numpy as np

    from quchi_stats.datasets.synthetic import generate_district, register_frame

    reg = register_frame(generate_district(SEED, scale=SCALE), 2018)
    reg = reg[reg["town"].isin(list(TOWNS))]
    # every registered household, and a tenth of the others (a smaller file; the register is what it is)
    keep = (reg["registered"] == "是") | (np.random.default_rng(SEED).random(len(reg)) < NONREGISTERED)
    reg = reg[keep].copy()
    for old, new in TOWNS.items():
        reg["village"] = reg["village"].str.replace(old[:2], new[:2], regex=False)
    reg["town"] = reg["town"].map(TOWNS)
    for col in ("household_id", "id_number"):
        reg[col] = reg[col].str.replace(CODE[0], CODE[1], regex=False)
    reg["exit_year"] = reg["exit_year"] + 1  # the 2018 state, as the year 2019
    order = {t: i for i, t in enumerate(TOWNS.values())}
    return reg.sort_values("town", key=lambda s: s.map(order), kind="stable")


def main() -> None:
    import pandas as pd
    import xlwt

    reg = register()
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("台账")
    ws.write(0, 0, "某某县建档立卡户及非建档立卡户台账（2019 年，合成数据）")
    for j, col in enumerate(HEADER):
        ws.write(1, j, HEADER[col])
    for i, row in enumerate(reg[list(HEADER)].itertuples(index=False), start=2):
        for j, v in enumerate(row):
            if pd.isna(v) or v == "":
                continue
            ws.write(i, j, int(v) if col_is_int(j) else v)
    book.add_sheet("Sheet2")
    book.save(HERE / "register_2019.xls")
    print(f"{len(reg)} households, {reg['village'].nunique()} villages, {reg['town'].nunique()} towns")


def col_is_int(j: int) -> bool:
    return list(HEADER)[j] in ("household_size", "exit_year")


if __name__ == "__main__":
    main()
