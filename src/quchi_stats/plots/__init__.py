"""Plots of the assessment (matplotlib, Chinese labels).

Importing this module registers the bundled CJK font ("QuchiStats Noto Sans SC": Noto Sans CJK SC
subset to its CJK blocks and renamed, as the licence asks of modified fonts; SIL Open
Font License, ``quchi_stats/fonts/OFL.txt``) with matplotlib and puts it first in the sans-serif
list, so Chinese renders on a machine with no system CJK font. A character the font lacks is drawn
as □ with one Chinese warning naming the town or village. Every function takes ``ax=None``
and returns the Axes.
"""

from __future__ import annotations

from .figures import (
    forest_plot,
    funnel_plot,
    income_histogram,
    organ_pipe_plot,
    power_curve,
    trend_plot,
)
from .fonts import FONT_FAMILY, FONT_PATH, register_font

register_font()

__all__ = ["FONT_FAMILY", "FONT_PATH", "forest_plot", "funnel_plot", "income_histogram",
           "organ_pipe_plot", "power_curve", "register_font", "trend_plot"]
