"""Benchmark 6: drawing the district sample from the 43,003-household register saved as .xlsx
versus the same register as .csv (goal: the .xlsx draw costs at most 2x the .csv draw).

The .xlsx is written here from the synthetic register, as an export would be: numbers (人数,
脱贫年度, 人均可支配收入) as number cells, ids and names as text, one sheet. Each timing is the whole
``draw_from_file`` (read, validate, draw) that ``quchi-stats design`` runs. For the record, the
openpyxl reader that .xlsx went through before python-calamine (still used for sheets with
formulas or error values) is timed too.

Run: ``python benchmarks/bench_xlsx.py`` (speed only; tests never assert time).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _common import cli, median_time

from quchi_stats.datasets import data_path
from quchi_stats.sampling import DesignPlan
from quchi_stats.sampling.manifest import draw_from_file

_NUMBERS = ("人数", "脱贫年度", "人均可支配收入")


def write_xlsx(csv: Path, out: Path, rows: int | None = None) -> int:
    """The register ``csv`` as a one-sheet .xlsx (numbers as numbers, the rest as text)."""
    import openpyxl
    import pandas as pd

    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    if rows is not None:
        frame = frame.iloc[:rows]
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(list(frame.columns))
    numeric = [c in _NUMBERS for c in frame.columns]
    for rec in frame.itertuples(index=False):
        ws.append([(float(v) if "." in v else int(v)) if num and v else v
                   for v, num in zip(rec, numeric, strict=True)])
    wb.save(out)
    return len(frame)


def run(repeats: int = 5, rows: int | None = None) -> dict:
    from quchi_stats.io import readers

    plan = DesignPlan(year=2018)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "register_2018.csv"
        xlsx = Path(tmp) / "register_2018.xlsx"
        src = data_path() / "register_2018.csv"
        if rows is None:
            csv.write_bytes(src.read_bytes())
        else:
            import pandas as pd

            pd.read_csv(src, dtype=str, keep_default_na=False).iloc[:rows].to_csv(
                csv, index=False, encoding="utf-8-sig")
        n = write_xlsx(csv, xlsx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            same = draw_from_file(csv, plan, 1).sample.equals(draw_from_file(xlsx, plan, 1).sample)
            # alternate the two, so that both see the same load of a shared machine; CPU time too
            wall: dict[str, list[float]] = {"csv": [], "xlsx": []}
            cpu: dict[str, list[float]] = {"csv": [], "xlsx": []}
            for _ in range(repeats):
                for key, path in (("csv", csv), ("xlsx", xlsx)):
                    t, c = time.perf_counter(), time.process_time()
                    draw_from_file(path, plan, 1)
                    wall[key].append(time.perf_counter() - t)
                    cpu[key].append(time.process_time() - c)
            calamine_s = median_time(lambda: readers._read_book(xlsx, None), repeats)
            openpyxl_s = median_time(lambda: readers._read_xlsx_sheet(xlsx, "台账"), 1, warmup=0)
        med = statistics.median
        return {"households": n, "csv_s": med(wall["csv"]), "xlsx_s": med(wall["xlsx"]),
                "ratio": med(wall["xlsx"]) / med(wall["csv"]),
                "csv_cpu_s": med(cpu["csv"]), "xlsx_cpu_s": med(cpu["xlsx"]),
                "cpu_ratio": med(cpu["xlsx"]) / med(cpu["csv"]),
                "same_sample": bool(same), "xlsx_mb": xlsx.stat().st_size / 2**20,
                "calamine_cells_s": calamine_s, "openpyxl_cells_s": openpyxl_s}


def report(r: dict) -> str:
    return "\n".join([
        f"6. register as .xlsx vs .csv: {r['households']:,} households ({r['xlsx_mb']:.1f} MB .xlsx)",
        f"   draw from the .csv     {r['csv_s'] * 1e3:8.0f} ms (median, alternated; read + check + draw)",
        f"   draw from the .xlsx    {r['xlsx_s'] * 1e3:8.0f} ms (median)  "
        f"ratio {r['ratio']:.2f}x (goal <= 2x)",
        f"   CPU time               {r['csv_cpu_s'] * 1e3:.0f} ms vs {r['xlsx_cpu_s'] * 1e3:.0f} ms: "
        f"ratio {r['cpu_ratio']:.2f}x",
        f"   same sample from both  {'yes' if r['same_sample'] else 'NO'}",
        f"   cells of the sheet     calamine {r['calamine_cells_s'] * 1e3:.0f} ms, "
        f"openpyxl (formula path) {r['openpyxl_cells_s'] * 1e3:.0f} ms",
    ])


if __name__ == "__main__":
    cli(run, report)
