"""Shared by the tests of the report's renderers: the 2018 assessment and its report set, written
once for the session (the figures drawn while writing it are counted)."""

from __future__ import annotations

import pytest

import quchi_stats.report.build as build
from quchi_stats.assessment import run_assessment
from quchi_stats.report import write_report


@pytest.fixture(scope="session")
def assessment_2018_shared():
    return run_assessment(2018)


@pytest.fixture(scope="session")
def written(tmp_path_factory, assessment_2018_shared):
    """The report set, with the number of figures rendered (``_figure_png`` calls) and the plot
    functions called (by name, once per call) while writing it. Counted in a file, one line a
    call: some figures are drawn in a forked process (report/drawing.py)."""
    import quchi_stats.plots as plots

    out = tmp_path_factory.mktemp("rep") / "2018"
    log = tmp_path_factory.mktemp("calls") / "calls.txt"
    real = build._figure_png

    def note(what):
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")

    def counting(draw, canvas=None):
        note("_figure_png")
        return real(draw, canvas)

    def counted(name):
        fn = getattr(plots, name)

        def plot(*args, **kw):
            note(name)
            return fn(*args, **kw)
        return plot

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "_figure_png", counting)
        for name in ("forest_plot", "funnel_plot", "organ_pipe_plot", "trend_plot",
                     "income_histogram", "power_curve"):
            mp.setattr(plots, name, counted(name))
        write_report(assessment_2018_shared, out, synthetic=True)
    calls = log.read_text(encoding="utf-8").split() if log.exists() else []
    plotted = [c for c in calls if c != "_figure_png"]
    return out, calls.count("_figure_png"), plotted
