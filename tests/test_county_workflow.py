"""A new county's year by the commands alone, from the .xls export to the notebook (issue 14, "Resolve when").

Another county (某某县: six towns, 59 villages, none of them Qujiang's) does the year 2019 as the
README's section "在另一个县、另一年使用" walks it: the information system's .xls export with a title
row (tests/data/new_county/register_2019.xls, made by make_register.py there) → ``spec`` → ``design``
→ ``fieldlist`` (the entry workbook) → the workbook filled with openpyxl as a clerk would → ``check``
→ ``report`` → ``notebook`` (executed). Everything runs in-process through ``cli.main`` with the
arguments a user types.

The clerk answers from seeded probabilities: every town is well above its standards except 河西镇,
whose households are satisfied with probability 0.70 against the standard 90 %: with about 60
households over 7 villages its one-sided test rejects with power near 1, so the report must flag
it under 第七条（四） (and the flag is a property of the data, not of this seed: see the assertion's
comment). About 3 % of the primary households are not at home and the village's next reserve of the
same frame steps in, as the entry workbook's instructions say.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.utils.cell import range_boundaries

from quchi_stats.cli import main

HERE = Path(__file__).parent / "data" / "new_county"
TOWNS = ["城关镇", "青云镇", "河西镇", "东山乡", "南岭镇", "白沙镇"]  # the county's own order
LOW_TOWN = "河西镇"


def _answer(ws, row: int, head: dict, asks: dict, rng, status: str, low: bool) -> None:
    ws.cell(row, head["入户状态"]).value = status
    if status == "无法入户":
        return
    for (r, col), choices in asks.items():
        if r != row or col == head["入户状态"]:
            continue
        if "满意" in choices:  # satisfied = 满意 or 基本满意
            ok = rng.random() < (0.70 if low else 0.97)
            value = rng.choice(["满意", "基本满意"] if ok else ["不满意", "很不满意"])
        else:  # 是 is the good answer except for 漏评 (a missed household)
            good = rng.random() < 0.985
            value = "是" if good == (ws.cell(1, col).value != "漏评") else "否"
        ws.cell(row, col).value = str(value)


def fill_as_a_clerk(src: Path, dst: Path, seed: int = 2019) -> dict[str, int]:
    """Fill the entry workbook only where its dropdowns ask, and save it as the results."""
    rng = np.random.default_rng(seed)
    wb = openpyxl.load_workbook(src)
    counts = {"完成": 0, "无法入户": 0, "替补": 0}
    for ws in wb.worksheets:
        head = {c.value: c.column for c in ws[1]}
        asks: dict[tuple[int, int], list[str]] = {}
        for dv in ws.data_validations.dataValidation:
            choices = dv.formula1.strip('"').split(",")
            for part in str(dv.sqref).split():
                c1, r1, _, r2 = range_boundaries(part)
                for r in range(r1, r2 + 1):
                    asks[(r, c1)] = choices
        used: set[int] = set()
        low = ws.title == LOW_TOWN
        for r in range(2, ws.max_row + 1):
            if ws.cell(r, head["角色"]).value != "正选":
                continue
            status = "无法入户" if rng.random() < 0.03 else "完成"
            if status == "无法入户":  # the same village's next unused reserve of the same frame
                for rr in range(r + 1, ws.max_row + 1):
                    same = all(ws.cell(rr, head[k]).value == ws.cell(r, head[k]).value for k in ("行政村", "抽样框"))
                    if same and ws.cell(rr, head["角色"]).value != "正选" and rr not in used:
                        used.add(rr)
                        _answer(ws, rr, head, asks, rng, "替补", low)
                        counts["替补"] += 1
                        break
            _answer(ws, r, head, asks, rng, status, low)
            counts[status] += 1
    wb.save(dst)
    return counts


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """Run the whole year once; the tests read what each command wrote and printed."""
    root = tmp_path_factory.mktemp("county")
    data = root / "数据"
    data.mkdir()
    shutil.copy(HERE / "register_2019.xls", data / "register_2019.xls")
    spec = data / "参数_2019.toml"
    printed = {}
    out = {}
    out["spec"] = main(["spec", "--year", "2019", "--county", "某某县", "--out", str(spec)])
    text = spec.read_text(encoding="utf-8")
    assert "towns = []" in text
    spec.write_text(text.replace("towns = []", "towns = [" + ", ".join(f'"{t}"' for t in TOWNS) + "]"),
                    encoding="utf-8")
    out["design"] = main(["design", "--data", str(data), "--year", "2019", "--spec", str(spec), "--seed", "7"])
    entry = data / "录入_2019.xlsx"
    out["fieldlist"] = main(["fieldlist", "--year", "2019", "--data", str(data), "--spec", str(spec),
                             "--out", str(entry)])
    printed["filled"] = fill_as_a_clerk(entry, data / "results_2019.xlsx")
    out["check"] = main(["check", "--year", "2019", "--data", str(data), "--spec", str(spec)])
    report = root / "报告"
    out["report"] = main(["report", "--year", "2019", "--data", str(data), "--spec", str(spec),
                          "--out", str(report)])
    notebook = root / "2019_analysis.ipynb"
    out["notebook"] = main(["notebook", "--year", "2019", "--data", str(data), "--spec", str(spec),
                            "--out", str(notebook)])
    return {"root": root, "data": data, "spec": spec, "report": report, "notebook": notebook,
            "status": out, **printed}


def test_every_command_succeeds(county):
    assert county["status"] == {"spec": 0, "design": 0, "fieldlist": 0, "check": 0, "report": 0,
                                "notebook": 0}
    assert county["filled"]["替补"] > 0 and county["filled"]["无法入户"] >= county["filled"]["替补"]


def test_the_entry_workbook_has_the_countys_towns_in_its_order(county):
    wb = openpyxl.load_workbook(county["data"] / "录入_2019.xlsx", read_only=True)
    assert wb.sheetnames == TOWNS


def test_the_report_keeps_the_spec_order_and_names_the_county(county):
    est = pd.read_csv(county["report"] / "estimates.csv", dtype=str, encoding="utf-8-sig")
    assert [t for t in dict.fromkeys(est["乡镇"]) if t != "全区"] == TOWNS
    html = (county["report"] / "考核报告.html").read_text(encoding="utf-8")
    assert "某某县 2019 年度" in html
    for path in county["report"].iterdir():
        if path.suffix in (".html", ".csv"):
            assert "曲江" not in path.read_text(encoding="utf-8-sig"), path.name


def test_the_countys_total_row_reads_quanxian(county):
    """某某县's report calls its total row 全县 where people read it (HTML, xlsx, docx); estimates.csv
    keeps the code's 全区."""
    import re

    import docx

    page = (county["report"] / "考核报告.html").read_text(encoding="utf-8")
    assert "<td>全县</td>" in page and "<td>全区</td>" not in page
    book = pd.read_excel(county["report"] / "考核报告.xlsx", sheet_name=None, engine="openpyxl")
    assert "全县" in set(book["估计结果"]["乡镇"]) and "全区" not in set(book["估计结果"]["乡镇"])
    d = docx.Document(county["report"] / "考核报告.docx")
    cells = {c.text for t in d.tables for r in t.rows for c in r.cells}
    assert "全县" in cells and "全区" not in cells
    assert not re.search("全区", " ".join(p.text for p in d.paragraphs))
    est = pd.read_csv(county["report"] / "estimates.csv", dtype=str, encoding="utf-8-sig")
    assert "全区" in set(est["乡镇"])


def test_the_low_town_is_flagged_and_no_personal_data_leaks(county):
    flags = pd.read_csv(county["report"] / "flags.csv", dtype=str, encoding="utf-8-sig")
    low = flags[(flags["乡镇"] == LOW_TOWN) & flags["条款"].str.contains("第七条（四）")]
    # 70 % satisfied against 90 % with ~60 households: the flag is near-certain for any seed
    assert low["事项"].str.contains("群众认可度").any(), flags.to_string()
    # 第七条（四） flags nothing else: every other town × indicator meets its standard by a wide margin
    others = flags[flags["条款"].str.contains("第七条（四）") & (flags["乡镇"] != LOW_TOWN)]
    assert others.empty, others.to_string()
    ids = pd.read_csv(county["data"] / "sample_2019" / "sample.csv", dtype=str)["household_id"]
    reg = pd.read_excel(county["data"] / "register_2019.xls", header=1, dtype=str, engine="calamine")
    id_numbers = reg["户主证件号码"].dropna()
    assert len(ids) and len(id_numbers)
    for path in county["report"].iterdir():
        text = path.read_bytes().decode("utf-8", errors="ignore")
        assert not any(n in text for n in id_numbers.head(200)), path.name


def test_the_notebook_ran_on_the_countys_data_and_names_it(county):
    nb = json.loads(county["notebook"].read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code)  # every cell ran
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = json.dumps(nb, ensure_ascii=False)
    assert "某某县" in text and "曲江" not in text
    assert LOW_TOWN in text
