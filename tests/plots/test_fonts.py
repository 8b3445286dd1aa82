"""The bundled CJK font: licensed, registered, and used for Chinese text."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
from matplotlib import font_manager

from quchi_stats.plots import FONT_FAMILY, FONT_PATH, register_font
from quchi_stats.plots.fonts import font_base64


def test_font_file_and_licence_are_shipped():
    assert FONT_PATH.is_file() and FONT_PATH.stat().st_size > 1_000_000
    licence = (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert len(font_base64()) > 1_000_000


def test_chinese_renders_with_the_bundled_font():
    assert register_font() == FONT_FAMILY
    found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert found == str(FONT_PATH)
    fig, ax = plt.subplots()
    ax.set_title("曲江区马坝镇群众认可度")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    plt.close(fig)
