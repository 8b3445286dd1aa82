"""Benchmark 7: writing the district's yearly report (``write_report``: 考核报告.html, .xlsx, .docx,
estimates.csv, flags.csv) for a bundled year (goal, issue 12: under 3 s; each figure drawn once).

The assessment is computed once, untimed (``run_assessment``, as ``quchi-stats report`` runs it);
the timing is the whole ``write_report``, with its parts timed apart: the report's tables, the
figures (PNG drawing and palette), the CJK font subset embedded in the page, the HTML templates,
the workbook and the docx. The figures drawn per report are counted.

The figures are drawn alongside the font subset, part of them in a forked process on Linux
(``report/drawing.py``): "drawing" is the wall (or CPU) time of that step, figures and font subset
together, and "font" the font subset within it. ``--serial`` draws everything in this process, one
after another; ``--fork`` forks whatever the load (by default :func:`drawing.can_fork` decides
from the load average). On a tree without that step (before issue 12's second part) "figures" times each
figure's drawing instead.

Run: ``python benchmarks/bench_report.py [--cpu] [--serial | --fork]`` (speed only; tests never assert time).
``--cpu`` times CPU instead of wall time — this process's and its forked processes' (``os.times``:
user + system, children included) —, steadier on a loaded machine.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from _common import cli, median_time


def run(year: int = 2018, repeats: int = 3, cpu: bool | None = None,
        serial: bool | None = None, fork: bool | None = None) -> dict:
    import quchi_stats.plots.fonts as fonts
    import quchi_stats.report.build as build
    from quchi_stats.assessment import run_assessment

    cpu = "--cpu" in sys.argv if cpu is None else cpu
    serial = "--serial" in sys.argv if serial is None else serial
    fork = "--fork" in sys.argv if fork is None else fork
    timer = _cpu if cpu else time.perf_counter
    a = run_assessment(year, history=(year == 2018))
    spent = {"tables": 0.0, "figures": 0.0, "font": 0.0, "xlsx": 0.0, "docx": 0.0}
    counts = {"figures": 0, "reports": 0}
    queued = hasattr(build.FigureCanvas, "drawing")  # figures drawn alongside the font subset

    def timed(key, fn):
        def wrapper(*args, **kw):
            t = timer()
            try:
                return fn(*args, **kw)
            finally:
                spent[key] += timer() - t
        return wrapper

    patches = []
    if queued:
        import quchi_stats.report.drawing as drawing

        real_later = build.FigureCanvas.later

        def later(self, draw):
            counts["figures"] += 1
            return real_later(self, draw)

        patches += [(build.FigureCanvas, "later", later),
                    (build.FigureCanvas, "drawing", timed("figures", build.FigureCanvas.drawing))]
        if serial or fork:  # else as the load average decides (drawing.can_fork)
            patches.append((drawing, "can_fork", lambda: not serial))
    else:
        real_png = build._figure_png

        def figure(draw, *canvas):
            counts["figures"] += 1
            return real_png(draw, *canvas)

        patches.append((build, "_figure_png", timed("figures", figure)))
    patches += [(build, "report_tables", timed("tables", build.report_tables)),
               (fonts, "font_face_css", timed("font", fonts.font_face_css)),
               (build, "_xlsx_bytes", timed("xlsx", build._xlsx_bytes)),
               (build, "docx_bytes", timed("docx", build.docx_bytes))]
    saved = [(m, name, getattr(m, name)) for m, name, _ in patches]
    with tempfile.TemporaryDirectory() as tmp:
        def write():
            counts["reports"] += 1
            build.write_report(a, Path(tmp) / "r", force=True, synthetic=True)

        try:
            for m, name, fn in patches:
                setattr(m, name, fn)
            seconds = median_time(write, repeats=repeats, warmup=1, timer=timer)
        finally:
            for m, name, fn in saved:
                setattr(m, name, fn)
    n = counts["reports"]
    return {"year": year, "clock": "CPU" if cpu else "wall", "seconds": seconds, "repeats": repeats,
            "figures_per_report": counts["figures"] / n,
            "figures_timed": ("drawing (figures + font subset)" if queued else "figures") + (
                ", serial" if queued and serial else ", forked" if queued and fork else ""),
            **{f"{k}_seconds": v / n for k, v in spent.items()}}


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the forked drawing)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def report(r: dict) -> str:
    parts = "、".join(f"{k.removesuffix('_seconds')} {v:.2f} s" for k, v in r.items()
                     if k.endswith("_seconds") and k != "seconds")
    parts += f" (figures: {r.get('figures_timed', 'figures')})"
    return (f"7. yearly report ({r['year']}): write_report {r['seconds']:.2f} s {r['clock']} (median "
            f"of {r['repeats']}; goal < 3 s); {r['figures_per_report']:.0f} figures drawn per report\n"
            f"   mean per report: {parts} (the rest: HTML templates, CSV, atomic write); without the "
            f"font subset: {r['seconds'] - r['font_seconds']:.2f} s"
            + (" (an upper bound: the font is subset while figures are drawn)"
               if "drawing" in r.get("figures_timed", "") and "serial" not in r["figures_timed"]
               else ""))


if __name__ == "__main__":
    cli(run, report)
