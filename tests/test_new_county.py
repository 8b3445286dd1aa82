"""Another county, another year: its towns come in the spec's order (else the register's), and
nothing it prints names 曲江 (issue 14, item 1).

A small synthetic register of six towns whose names are none of Qujiang's, and a spec whose
``towns`` lists them in an order that is neither alphabetical nor the register's, go through the
commands a statistician runs: design → fieldlist (.xlsx and .csv) → results → report.
"""

from __future__ import annotations

import json
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from quchi_stats.assessment import estimate_indicators
from quchi_stats.cli import main
from quchi_stats.io import read_table
from quchi_stats.io.entry import answers_by_frame, read_results
from quchi_stats.io.schema import LABELS_ZH, RESULTS, SATISFACTION_LEVELS
from quchi_stats.spec import load_spec, write_spec

YEAR = 2019
COUNTY = "青山县"
# the register lists the towns in this order (first appearance) ...
REGISTER_ORDER = ["石门镇", "安平镇", "龙潭镇", "白沙镇", "东岭乡", "新村镇"]
# ... and the spec in this one: neither the register's nor sorted by name
SPEC_ORDER = ["龙潭镇", "新村镇", "石门镇", "东岭乡", "安平镇", "白沙镇"]
assert SPEC_ORDER != REGISTER_ORDER and sorted(SPEC_ORDER) not in (SPEC_ORDER, REGISTER_ORDER)


def _register(rng: np.random.Generator, exit_line: float) -> pd.DataFrame:
    """Six towns of three or four villages; households of the three frames in every village."""
    rows = []
    for t_i, town in enumerate(REGISTER_ORDER):
        for v_i in range(3 + t_i % 2):
            village = f"{town[:2]}{v_i + 1}村"
            for k in range(int(rng.integers(45, 70))):
                kind = rng.choice(["registered", "exited", "non"], p=[0.35, 0.2, 0.45])
                rows.append({
                    "town": town, "village": village,
                    "household_id": f"5{t_i + 1:02d}{v_i + 1:02d}{k + 1:04d}",
                    "household_size": int(rng.integers(1, 7)),
                    "registered": "否" if kind == "non" else "是",
                    "exit_year": YEAR if kind == "exited" else (
                        YEAR - 1 if kind == "registered" and k % 3 == 0 else None),
                    "category": "" if kind == "non" else "一般贫困户",
                    "able_to_work": "是" if k % 4 else "否",
                    "income_per_capita": round(exit_line + rng.normal(2500, 1800), 1)
                    if kind != "non" else round(exit_line + rng.normal(9000, 3000), 1),
                    "priority_village": "是" if v_i == 0 else "否",
                })
    reg = pd.DataFrame(rows)
    reg["exit_year"] = reg["exit_year"].astype("Int64")
    return reg.rename(columns=LABELS_ZH)


def _results(sample: pd.DataFrame, spec, rng: np.random.Generator) -> pd.DataFrame:
    """Every primary household visited; each asks its frame's answers, mostly good."""
    asked = answers_by_frame(spec)
    labels = {c.name: c.label for c in RESULTS.columns}
    answer_cols = sorted({c for cols in asked.values() for c in cols})
    rows = []
    for r in sample[sample["role"] == "primary"].itertuples():
        row = {labels["household_id"]: r.household_id, labels["year"]: YEAR,
               labels["visit_status"]: "完成"}
        for c in answer_cols:
            if c not in asked[r.frame]:
                row[labels[c]] = ""
            elif c == "satisfaction":
                row[labels[c]] = rng.choice(list(SATISFACTION_LEVELS.values()), p=[.6, .3, .07, .03])
            else:
                good = rng.random() < 0.93
                row[labels[c]] = ("否" if good else "是") if c == "missed" else (
                    "是" if good else "否")
        rows.append(row)
    return pd.DataFrame(rows)


def _all_text(folder) -> str:
    """Every text a run wrote into ``folder``: CSV, HTML, and the cells of every workbook."""
    parts = []
    for p in sorted(folder.rglob("*")):
        if p.suffix in (".csv", ".html", ".json", ".toml"):
            parts.append(p.read_text(encoding="utf-8-sig"))
        elif p.suffix == ".xlsx":
            wb = openpyxl.load_workbook(p, read_only=True)
            parts += [ws.title for ws in wb.worksheets]
            parts += [str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                      for v in row if v is not None]
            wb.close()
    return "\n".join(parts)


def _first_appearance(values) -> list[str]:
    return [t for t in dict.fromkeys(values) if t != "全区"]


@pytest.mark.parametrize("listed", [True, False], ids=["spec_towns", "first_appearance"])
def test_a_new_countys_year_keeps_its_town_order_and_never_says_qujiang(tmp_path, capsys, listed):
    expected = SPEC_ORDER if listed else REGISTER_ORDER
    rng = np.random.default_rng(2019)
    data = tmp_path / "data"
    data.mkdir()
    spec_path = write_spec(YEAR, tmp_path / f"spec_{YEAR}.toml", county=COUNTY)
    text = spec_path.read_text(encoding="utf-8")
    assert re.search(r"(?m)^towns = \[\]", text)  # another county's towns were cleared
    if listed:
        towns = ", ".join(f'"{t}"' for t in SPEC_ORDER)
        text = re.sub(r"(?m)^towns = \[\].*$", f"towns = [{towns}]", text)
        spec_path.write_text(text, encoding="utf-8")
    spec = load_spec(spec_path, year=YEAR)
    assert spec.county == COUNTY and list(spec.towns) == (SPEC_ORDER if listed else [])
    _register(rng, spec.exit_line).to_csv(data / f"register_{YEAR}.csv", index=False,
                                          encoding="utf-8")
    said: list[str] = []

    def run(*argv: str) -> None:
        assert main(list(argv)) == 0, capsys.readouterr().err
        out = capsys.readouterr()
        said.append(out.out + out.err)

    # design: the draw, its allocation table and the sample follow the year's order
    run("design", "--data", str(data), "--year", str(YEAR), "--seed", "11", "--villages", "14",
        "--spec", str(spec_path))
    sample = read_table(data / f"sample_{YEAR}" / "sample.csv", "sample")
    assert _first_appearance(sample["town"]) == expected
    alloc_lines = [line for line in said[-1].splitlines() if line.split()[:1]
                   and line.split()[0] in REGISTER_ORDER]
    assert [line.split()[0] for line in alloc_lines] == expected
    manifest = json.loads((data / f"sample_{YEAR}" / "manifest.json").read_text(encoding="utf-8"))
    # the order is recorded when the spec gives one (the draw takes the towns in it)
    assert manifest["plan"].get("towns", []) == (SPEC_ORDER if listed else [])

    # field lists: one sheet per town in the workbook, rows in the csv, both in the year's order
    run("fieldlist", "--year", str(YEAR), "--data", str(data), "--spec", str(spec_path),
        "--out", str(tmp_path / "lists" / "录入.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "lists" / "录入.xlsx", read_only=True)
    assert [ws.title for ws in wb.worksheets][:len(expected)] == expected
    wb.close()
    run("fieldlist", "--year", str(YEAR), "--data", str(data), "--out",
        str(tmp_path / "lists" / "名单.csv"))
    fl = pd.read_csv(tmp_path / "lists" / "名单.csv", dtype=str, encoding="utf-8-sig")
    assert _first_appearance(fl["乡镇"]) == expected

    # results, then the report: every table, the flags and the text in the year's order
    _results(sample, spec, rng).to_csv(data / f"results_{YEAR}.csv", index=False,
                                       encoding="utf-8")
    run("check", "--year", str(YEAR), "--data", str(data), "--spec", str(spec_path))
    if not listed:  # the estimates keep the register's order (the report is the same code)
        est, _ = estimate_indicators(sample, read_results(data / f"results_{YEAR}.csv"), spec,
                                     power=False)
        for _, rows in est.groupby("indicator", sort=False):
            assert list(rows["town"]) == [*expected, "全区"]
        assert "曲江" not in "\n".join(said) + _all_text(tmp_path)
        return
    out = tmp_path / "report"
    run("report", "--year", str(YEAR), "--data", str(data), "--spec", str(spec_path),
        "--out", str(out))
    assert f"{COUNTY} {YEAR} 年考核" in said[-1]
    est = pd.read_csv(out / "estimates.csv", dtype=str, encoding="utf-8-sig")
    for _, rows in est.groupby("指标", sort=False):
        assert list(rows["乡镇"]) == [*expected, "全区"]
    flags = pd.read_csv(out / "flags.csv", dtype=str, encoding="utf-8-sig")
    rank = {t: i for i, t in enumerate(expected)}
    assert list(flags["乡镇"].map(rank)) == sorted(flags["乡镇"].map(rank))
    wb = openpyxl.load_workbook(out / "考核报告.xlsx", read_only=True)
    for ws in wb.worksheets:
        head = next(ws.iter_rows(values_only=True), ())
        if "乡镇" in head:
            col = list(head).index("乡镇")
            towns = [r[col] for r in ws.iter_rows(min_row=2, values_only=True)]
            seen = [t for t in _first_appearance(towns) if t in rank]
            assert seen == sorted(seen, key=rank.get), ws.title
    wb.close()
    page = (out / "考核报告.html").read_text(encoding="utf-8")
    assert f"<title>{COUNTY} {YEAR} 年度" in page and f"{COUNTY} 6 个有扶贫任务的镇" in page
    positions = [page.find(f'<td class="town">{t}</td>') for t in expected]  # unwrapped cells
    assert -1 not in positions and positions == sorted(positions)

    # 曲江 appears in nothing the run printed or wrote
    assert "曲江" not in "\n".join(said)
    assert "曲江" not in _all_text(tmp_path)


def test_qujiangs_shipped_specs_list_its_nine_towns_in_code_order():
    from quchi_stats.datasets.synthetic import TOWNS, YEARS

    codes = list(TOWNS.values())
    assert codes == sorted(codes)
    for year in YEARS:  # the shipped specs' years
        spec = load_spec(year)
        assert (spec.county, spec.towns) == ("曲江区", tuple(TOWNS)), year
