"""Forest, funnel, organ-pipe, trend and income plots. Each takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..flags.funnel import funnel_limits
from ..labels import DISTRICT, Verdict
from .fonts import drawable

__all__ = ["forest_plot", "funnel_plot", "income_histogram", "organ_pipe_plot", "power_curve",
           "trend_plot"]

#: The forest plot's colour of each ``class`` code (:class:`~quchi_stats.labels.Verdict`).
_COLORS = {Verdict.SIGNIFICANT.value: "#c0392b", Verdict.BELOW.value: "#e67e22",
           Verdict.COMPLIANT.value: "#2c7fb8"}


def _plain(text: object) -> str:
    """``text`` drawn as written: a ``$`` (a town named ``$x^2$镇``, a label from a spec) would
    otherwise start matplotlib's math text, which draws something else or fails."""
    return str(text).replace("$", r"\$")


def _names(values: pd.Series, kind: str = "乡镇") -> pd.Series:
    """Names as the bundled font draws them (:func:`~quchi_stats.plots.fonts.drawable`): a
    character the font lacks becomes □, with one Chinese warning per name."""
    return values.map({v: drawable(v, kind) for v in pd.unique(values)})


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def forest_plot(estimates: pd.DataFrame, *, threshold: float, label: str = "",
                complement: bool = False, ax: Axes | None = None) -> Axes:
    """Towns (and the district's total row) with their intervals and the threshold line.

    ``estimates``: rows of one indicator with ``town``, ``estimate``, ``ci_lower``, ``ci_upper``
    and optionally ``class`` (the :class:`~quchi_stats.labels.Verdict` codes of the estimates
    table: each interval is coloured by its code; without it, as ``compliant``).
    ``complement=True`` plots ``1 − rate`` (错退率, 漏评率).
    """
    ax = _axes(ax, (7, 0.45 * len(estimates) + 1.2))
    e = estimates.reset_index(drop=True)
    e["town"], label = _names(e["town"]), drawable(label, "指标")
    est, lo, hi = e["estimate"].to_numpy(), e["ci_lower"].to_numpy(), e["ci_upper"].to_numpy()
    thr = threshold
    if complement:
        est, lo, hi, thr = 1 - est, 1 - hi, 1 - lo, 1 - threshold
    y = np.arange(len(e))[::-1]
    codes = e["class"] if "class" in e else [Verdict.COMPLIANT.value] * len(e)
    colors = [_COLORS.get(c, "#555555") for c in codes]
    ax.hlines(y, lo, hi, colors=colors, lw=2)
    ax.scatter(est, y, c=colors, zorder=3, s=28)
    ax.axvline(thr, color="#7f7f7f", ls="--", lw=1)
    ax.set_yticks(y, [_plain(t) for t in e["town"]])
    ax.set_xlabel(_plain(f"{label}（点为估计值，线段为置信区间，虚线为标准 {thr:.0%}）"))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(_plain(f"各镇{label}"))
    return ax


def funnel_plot(towns: pd.DataFrame, theta0: float, *, label: str = "",
                method: str = "exact", district: str = DISTRICT, ax: Axes | None = None) -> Axes:
    """Towns against 95 % and 99.8 % limits around the district rate, on effective sample size.

    ``towns`` needs ``town``, ``estimate`` and ``n_funnel`` (or ``n_eff``). ``district`` names the
    district's rate in the legend (全县, 全区, 全市: :func:`quchi_stats.labels.district_label`;
    by default :data:`quchi_stats.labels.DISTRICT`).
    """
    ax = _axes(ax, (7, 4.5))
    towns, label = towns.assign(town=_names(towns["town"])), drawable(label, "指标")
    n = towns["n_funnel"] if "n_funnel" in towns else towns["n_eff"]
    grid = np.linspace(max(5.0, float(n.min()) * 0.5), float(n.max()) * 1.3, 120)
    for cov, style in ((0.95, "--"), (0.998, ":")):
        lo, hi = funnel_limits(theta0, grid, cov, method=method)
        ax.plot(grid, lo, "k" + style, lw=1, label=f"{cov:.1%} 控制限")
        ax.plot(grid, hi, "k" + style, lw=1)
    ax.axhline(theta0, color="#7f7f7f", lw=1, label=_plain(f"{district} {theta0:.1%}"))
    ax.scatter(n, towns["estimate"], color="#2c7fb8", zorder=3)
    for _, r in towns.assign(_n=n.to_numpy()).iterrows():
        ax.annotate(_plain(r["town"]), (r["_n"], r["estimate"]), textcoords="offset points",
                    xytext=(4, 3), fontsize=8)
    ax.set_xlabel("有效样本量（户）")
    ax.set_ylabel(_plain(label))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(_plain(f"{label}漏斗图"))
    ax.legend(fontsize=8, loc="lower right")
    return ax


def organ_pipe_plot(villages: pd.DataFrame, *, threshold: float, ci_lower: float,
                    ci_upper: float, estimate: float | None = None, label: str = "",
                    town: str = "", complement: bool = False, ax: Axes | None = None) -> Axes:
    """One town's sampled villages as WHO VCQI draws them: a bar per village at its observed rate,
    the bar's width proportional to its responding households, villages sorted from the highest
    rate to the lowest; the standard as a dashed line and the town's interval as a band.

    ``villages``: rows of one town and indicator with ``village``, ``households`` and ``p_hat``
    (the good rate, :func:`~quchi_stats.flags.village_counts`); ``threshold``, ``ci_lower``,
    ``ci_upper`` and ``estimate`` are good rates too. ``complement=True`` plots ``1 − rate``
    (错退率, 漏评率). The bars are the Axes' first container (``ax.containers[0]``).
    """
    ax = _axes(ax, (7.5, 4.2))
    v = villages.reset_index(drop=True)
    label, town = drawable(label, "指标"), drawable(town, "乡镇")
    names = _names(v["village"].astype(str), "行政村")
    rate = v["p_hat"].to_numpy(float)
    thr, lo, hi, est = threshold, ci_lower, ci_upper, estimate
    if complement:
        rate, thr, lo, hi = 1 - rate, 1 - threshold, 1 - ci_upper, 1 - ci_lower
        est = None if estimate is None else 1 - estimate
    order = np.argsort(-rate, kind="stable")
    rate, width = rate[order], v["households"].to_numpy(float)[order]
    names = names.to_numpy()[order]
    left = np.concatenate([[0.0], np.cumsum(width)[:-1]])
    # a village on the wrong side of the standard in red (higher is worse for a complement rate)
    bad = rate > thr if complement else rate < thr
    ax.bar(left, rate, width=width, align="edge", color=np.where(bad, "#e6a29a", "#9ecae1"),
           edgecolor="white", linewidth=1.2, label="抽查村（柱宽 = 应答户数）")
    ax.axhspan(min(lo, hi), max(lo, hi), color="#7f7f7f", alpha=0.22, lw=0,
               label=f"本镇置信区间 {min(lo, hi):.1%}–{max(lo, hi):.1%}")
    ax.axhline(min(lo, hi), color="#7f7f7f", ls=":", lw=1)
    ax.axhline(max(lo, hi), color="#7f7f7f", ls=":", lw=1)
    if est is not None:
        ax.axhline(est, color="#333333", lw=1.2, label=f"本镇估计 {est:.1%}")
    ax.axhline(thr, color="#c0392b", ls="--", lw=1.5, label=f"标准 {thr:.0%}")
    ax.set_xticks(left + width / 2, [_plain(n) for n in names], rotation=45 if len(v) > 6 else 0,
                  ha="right" if len(v) > 6 else "center", fontsize=8)
    ax.set_xlim(0, max(float(width.sum()), 1.0))
    top = max([*rate, thr, lo, hi] + ([] if est is None else [est]))
    ax.set_ylim(0, 1.0 if not complement else min(1.0, top * 1.15 + 0.01))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel(_plain(label))
    ax.set_xlabel(f"抽查村（按比率从高到低，共 {len(v)} 个村、{int(width.sum())} 户应答）")
    ax.set_title(_plain(f"{town}{label}：各抽查村"))
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the bars
    return ax


def trend_plot(history: pd.DataFrame, *, label: str = "", threshold: float | None = None,
               complement: bool = False, district: str = DISTRICT, ax: Axes | None = None) -> Axes:
    """One line per town over the years, with the district as a thick line.

    ``history``: rows of one indicator with ``year``, ``town``, ``estimate``; the row whose
    ``town`` is ``district`` is the district's (by default :data:`quchi_stats.labels.DISTRICT`, the
    total row's value in the tables; the report passes the word its readers see).
    """
    ax = _axes(ax, (7, 4.5))
    district = drawable(district, "乡镇")
    h = history.assign(town=_names(history["town"]))
    label = drawable(label, "指标")
    if complement:
        h["estimate"] = 1 - h["estimate"]
    for town, g in h.groupby("town", sort=False):
        g = g.sort_values("year")
        lw, color = (3, "black") if town == district else (1.2, None)
        ax.plot(g["year"], g["estimate"], marker="o", lw=lw, color=color, label=_plain(town))
    if threshold is not None:
        ax.axhline(1 - threshold if complement else threshold, color="#7f7f7f", ls="--", lw=1)
    ax.set_xticks(sorted(h["year"].unique()))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(_plain(f"{label} 年度变化"))
    ax.legend(fontsize=7, ncol=2)
    return ax


def income_histogram(relative_income: np.ndarray, *, window: float = 250.0,
                     bin_width: float = 125.0, lower: float = -1000.0, upper: float = 3000.0,
                     title: str = "", ax: Axes | None = None) -> Axes:
    """Histogram of exited households' income relative to the exit line, window shaded."""
    ax = _axes(ax, (7, 3.5))
    title = drawable(title, "标题")
    edges = np.arange(lower, upper + bin_width / 2, bin_width)
    r = np.asarray(relative_income, float)
    ax.hist(r[(r >= lower) & (r < upper)], bins=edges, color="#2c7fb8", edgecolor="white")
    ax.axvspan(0, window, color="#c0392b", alpha=0.15, label=f"退出线上方 {window:.0f} 元以内")
    ax.axvline(0, color="#c0392b", lw=1)
    ax.set_xlabel("人均可支配收入 − 退出线（元）")
    ax.set_ylabel("户数")
    ax.set_title(_plain(title or "当年退出户收入分布"))
    ax.legend(fontsize=8)
    return ax


def power_curve(comparison: pd.DataFrame, *, indicator: str | None = None,
                value: str = "min_power", ax: Axes | None = None) -> Axes:
    """Power of each design against the shortfall, one line per design.

    ``comparison`` is :func:`~quchi_stats.simulate.compare_designs` run with ``shortfalls``;
    ``indicator`` picks one indicator (default the first); ``value`` is ``"min_power"`` (the
    weakest town) or ``"mean_power"``.
    """
    ax = _axes(ax, (7, 4))
    t = comparison
    indicator = indicator or t["indicator"].iloc[0]
    t = t[t["indicator"] == indicator]
    t = t.assign(design=_names(t["design"].astype(str), "方案"), label=_names(t["label"], "指标"))
    for design, g in t.groupby("design", sort=False):
        g = g.sort_values("shortfall")
        ax.plot(g["shortfall"], g[value], marker="o", label=_plain(design))
    ax.axhline(0.8, color="#7f7f7f", ls="--", lw=1, label="80% 把握度")
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("真实比率低于标准的幅度")
    ax.set_ylabel("最弱镇的把握度" if value == "min_power" else "各镇平均把握度")
    ax.set_title(_plain(f"{t['label'].iloc[0]}：判定偏低的把握度"))
    ax.legend(fontsize=8)
    return ax
