"""Plot functions: take ax=None, return the Axes, draw Chinese without missing glyphs."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from quchi_stats import plots


def _est():
    return pd.DataFrame({"town": ["马坝镇", "大塘镇", "全区"], "estimate": [0.95, 0.80, 0.92],
                         "ci_lower": [0.90, 0.70, 0.90], "ci_upper": [0.99, 0.88, 0.94],
                         "class": ["compliant", "significant", "compliant"]})


def test_forest_plot():
    ax = plots.forest_plot(_est(), threshold=0.9, label="群众认可度")
    assert isinstance(ax, Axes)
    labels = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert labels["马坝镇"] > labels["大塘镇"] > labels["全区"]  # first row on top
    ax.figure.canvas.draw()
    _, ax2 = plt.subplots()
    assert plots.forest_plot(_est(), threshold=0.98, label="错退率", complement=True, ax=ax2) is ax2
    assert ax2.lines[0].get_xdata()[0] == 1 - 0.98  # the threshold line on the 错退率 scale
    plt.close("all")


def test_forest_plot_colours_by_class_code():
    """The intervals are coloured by the estimates' ``class`` codes (labels.Verdict); a word is no
    code (grey), and without the column every interval is drawn as compliant."""
    from matplotlib.colors import to_hex

    from quchi_stats.plots.figures import _COLORS

    def colours(e):
        ax = plots.forest_plot(e, threshold=0.9)
        return [to_hex(c) for c in ax.collections[0].get_colors()]

    est = _est().assign(**{"class": ["compliant", "significant", "below"]})
    assert colours(est) == [_COLORS["compliant"], _COLORS["significant"], _COLORS["below"]]
    assert len(set(_COLORS.values())) == 3
    assert colours(est.drop(columns="class")) == [_COLORS["compliant"]] * 3
    assert colours(est.assign(**{"class": "显著偏低"})) == ["#555555"] * 3
    plt.close("all")


def test_funnel_trend_and_income_plots():
    towns = _est().iloc[:2].assign(n_funnel=[60.0, 40.0])
    ax = plots.funnel_plot(towns, 0.92, label="群众认可度")
    ax.figure.canvas.draw()
    from quchi_stats.labels import DISTRICT  # the default word of the district's rate

    assert f"{DISTRICT} 92.0%" in [t.get_text() for t in ax.get_legend().get_texts()]
    hist = pd.DataFrame({"year": [2016, 2017, 2018] * 2, "town": ["马坝镇"] * 3 + ["全区"] * 3,
                         "estimate": [0.9, 0.92, 0.95, 0.91, 0.93, 0.94]})
    ax = plots.trend_plot(hist, label="群众认可度", threshold=0.9)
    ax.figure.canvas.draw()
    rng = np.random.default_rng(0)
    ax = plots.income_histogram(rng.normal(500, 600, 200), title="乌石镇退出户收入")
    ax.figure.canvas.draw()
    assert sum(p.get_height() for p in ax.patches[:-1]) > 0
    plt.close("all")


def test_power_curve_one_line_per_design():
    comp = pd.DataFrame({
        "design": ["3 村×20 户"] * 3 + ["6 村×10 户"] * 3, "shortfall": [0.05, 0.1, 0.2] * 2,
        "indicator": "satisfaction_rate", "label": "群众认可度",
        "min_power": [0.01, 0.1, 0.5, 0.02, 0.2, 0.8], "mean_power": 0.3})
    ax = plots.power_curve(comp)
    assert isinstance(ax, Axes)
    lines = [ln for ln in ax.lines if ln.get_label() in ("3 村×20 户", "6 村×10 户")]
    assert [list(ln.get_ydata()) for ln in lines] == [[0.01, 0.1, 0.5], [0.02, 0.2, 0.8]]
    ax.figure.canvas.draw()
    _, ax2 = plt.subplots()
    assert plots.power_curve(comp, value="mean_power", ax=ax2) is ax2
    assert "平均" in ax2.get_ylabel()
    plt.close("all")


def test_names_with_dollar_signs_are_drawn_as_written():
    """A town or label with ``$…$`` is plain text, not matplotlib math text (which fails on
    ``$\\frac{$`` and would draw ``$x^2$`` as a formula)."""
    towns = ["$x^2$镇", "$\\frac{$村", "马坝镇"]
    est = pd.DataFrame({"town": towns, "estimate": [0.9, 0.8, 0.95], "ci_lower": [0.85, 0.7, 0.9],
                        "ci_upper": [0.95, 0.9, 0.99], "class": ["compliant", "significant", "compliant"],
                        "n_funnel": [40.0, 50.0, 60.0]})
    hist = pd.DataFrame({"year": [2017, 2018] * 3, "town": [t for t in towns for _ in (0, 1)],
                         "estimate": [0.9, 0.92, 0.8, 0.85, 0.95, 0.96]})
    comp = pd.DataFrame({"design": ["$a$ 设计"] * 2, "shortfall": [0.05, 0.1],
                         "indicator": "x", "label": "$y$ 认可度", "min_power": [0.1, 0.5],
                         "mean_power": 0.3})
    axes = [plots.forest_plot(est, threshold=0.9, label="$认可度$"),
            plots.funnel_plot(est, 0.9, label="$认可度$"),
            plots.trend_plot(hist, label="$认可度$"),
            plots.income_histogram(np.array([100.0, 200.0]), title="$x^2$镇退出户"),
            plots.power_curve(comp)]
    for ax in axes:
        ax.figure.canvas.draw()  # math text would raise ValueError on "$\frac{$"
        texts = [t for t in ax.findobj(matplotlib.text.Text) if "$" in t.get_text()]
        assert texts  # the names are there ...
        for t in texts:  # ... and drawn as plain text
            assert not t._preprocess_math(t.get_text())[1]
            assert "$" in t._preprocess_math(t.get_text())[0]
    drawn = {t._preprocess_math(t.get_text())[0] for t in axes[0].get_yticklabels()}
    assert {"$x^2$镇", "$\\frac{$村", "马坝镇"} <= drawn
    plt.close("all")


def test_trend_and_funnel_name_the_district_as_told():
    """The report passes the total row's word (全县 for a 县): it is the thick line and the legend."""
    hist = pd.DataFrame({"year": [2017, 2018] * 2, "town": ["马坝镇"] * 2 + ["全县"] * 2,
                         "estimate": [0.9, 0.92, 0.91, 0.93]})
    ax = plots.trend_plot(hist, label="群众认可度", district="全县")
    widths = {ln.get_label(): ln.get_linewidth() for ln in ax.lines}
    assert widths["全县"] == 3 and widths["马坝镇"] < 3
    ax = plots.trend_plot(hist, label="群众认可度")  # default: the data's 全区, so no thick line
    assert max(ln.get_linewidth() for ln in ax.lines) < 3
    towns = _est().iloc[:2].assign(n_funnel=[60.0, 40.0])
    ax = plots.funnel_plot(towns, 0.92, label="群众认可度", district="全县")
    assert "全县 92.0%" in [t.get_text() for t in ax.get_legend().get_texts()]


def _villages():
    return pd.DataFrame({"village": ["沙溪02村", "沙溪05村", "沙溪07村"],
                         "households": [20, 12, 8], "p_hat": [0.70, 0.95, 0.80]})


def test_organ_pipe_plot_a_bar_per_village_sorted_width_by_households():
    ax = plots.organ_pipe_plot(_villages(), threshold=0.9, ci_lower=0.68, ci_upper=0.86,
                               estimate=0.78, label="群众认可度", town="沙溪镇")
    assert isinstance(ax, Axes)
    bars = list(ax.containers[0])
    assert len(bars) == 3
    assert [b.get_height() for b in bars] == [0.95, 0.80, 0.70]  # highest rate first
    assert [b.get_width() for b in bars] == [12, 8, 20]  # each village's responding households
    assert [b.get_x() for b in bars] == [0, 12, 20]  # side by side
    assert [t.get_text() for t in ax.get_xticklabels()] == ["沙溪05村", "沙溪07村", "沙溪02村"]
    ys = {ln.get_label(): ln.get_ydata()[0] for ln in ax.lines}
    assert ys["标准 90%"] == 0.9 and ys["本镇估计 78.0%"] == 0.78
    ax.figure.canvas.draw()
    plt.close("all")


def test_organ_pipe_plot_of_a_complement_rate():
    """错退率 is drawn as 1 − the good rate: the worst village (highest 错退率) first."""
    _, ax = plt.subplots()
    out = plots.organ_pipe_plot(_villages().assign(p_hat=[0.99, 0.90, 1.0]), threshold=0.98,
                                ci_lower=0.93, ci_upper=0.99, label="错退率", town="乌石镇",
                                complement=True, ax=ax)
    assert out is ax
    heights = [b.get_height() for b in ax.containers[0]]
    assert np.allclose(heights, [0.10, 0.01, 0.0])
    assert np.isclose({ln.get_label(): ln.get_ydata()[0] for ln in ax.lines}["标准 2%"], 0.02)
    assert ax.get_ylim()[1] < 0.2  # scaled to the small rates, not to 100 %
    ax.figure.canvas.draw()
    plt.close("all")
