"""OnePassTightLayout: matplotlib's tight layout measured once, with the same result."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from quchi_stats import plots
from quchi_stats.plots.layout import OnePassTightLayout


def _draw(layout, fill, *, rect=None) -> tuple[bytes, tuple[float, ...]]:
    fig = Figure(figsize=(6, 4), dpi=60, layout=layout)
    if rect is not None:
        fig.get_layout_engine().set(rect=rect)
    canvas = FigureCanvasAgg(fig)
    fill(fig)
    canvas.draw()
    p = fig.subplotpars
    return bytes(canvas.buffer_rgba()), (p.left, p.right, p.bottom, p.top, p.wspace, p.hspace)


def _one_axes(fig):
    ax = fig.subplots()
    towns = ["新疆维吾尔自治区城关镇", "马坝镇", "全区"]
    ax.barh(towns, [0.9, 0.8, 0.95])
    ax.set_title("各镇群众认可度")
    ax.set_xlabel("群众认可度（%）")
    ax.legend(["抽查村"], loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the axes


def _grid(fig):
    axes = fig.subplots(2, 2)
    for i, ax in enumerate(axes.flat):
        ax.plot(np.arange(5), np.arange(5) ** (i + 1))
        ax.set_ylabel(f"很长的纵轴标签 {i}" * (i % 2 + 1))
    fig.suptitle("四个小图")


def _report_figure(fig):
    ax = fig.subplots()
    plots.trend_plot(_history(), label="群众认可度", threshold=0.9, ax=ax)


def _history():
    import pandas as pd

    return pd.DataFrame({"year": [2016, 2017, 2018] * 3, "town": ["马坝镇"] * 3 + ["大塘镇"] * 3 + ["全区"] * 3,
                         "estimate": [0.9, 0.92, 0.95, 0.85, 0.86, 0.9, 0.88, 0.9, 0.93]})


@pytest.mark.parametrize("fill", [_one_axes, _grid, _report_figure])
def test_one_pass_gives_the_pixels_and_parameters_of_matplotlibs_tight_layout(fill):
    png, pars = _draw(OnePassTightLayout(), fill)
    assert (png, pars) == _draw("tight", fill)
    # the layout did something: the margins are not matplotlib's defaults
    assert pars[:4] != _draw(None, fill)[1][:4]


def test_another_rect_is_laid_out_by_matplotlibs_two_passes():
    rect = (0.05, 0.1, 0.9, 0.95)
    assert _draw(OnePassTightLayout(), _one_axes, rect=rect) == _draw("tight", _one_axes, rect=rect)
