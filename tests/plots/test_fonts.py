"""The bundled CJK font: licensed, registered, covering the CJK blocks, and used for Chinese text."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import font_manager

from quchi_stats import plots
from quchi_stats.errors import QuchiStatsWarning
from quchi_stats.plots import FONT_FAMILY, FONT_PATH, register_font
from quchi_stats.plots.fonts import (
    BOX,
    MissingGlyphWarning,
    drawable,
    font_base64,
    font_codepoints,
    font_subset,
    uncovered,
)

# outside GB2312: the characters of issue 10 (珺 堃 犇, 䶮 of Extension A, 𬌗 of Extension E, 石塱镇's
# 塱, 埇, 氹) and the traditional 馬壩鎮
NAMES = ["石塱镇", "珺村", "堃村", "犇村", "䶮村", "𬌗村", "埇村", "氹村", "馬壩鎮"]
RARE = "\U00020000"  # 𠀀, Extension B: not in Noto Sans CJK SC


def _gb2312_hanzi() -> set[int]:
    out = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return out


def test_font_file_and_licence_are_shipped():
    assert FONT_PATH.is_file() and FONT_PATH.stat().st_size > 1_000_000
    assert sorted(p.name for p in FONT_PATH.parent.iterdir()) == ["OFL.txt", FONT_PATH.name]
    licence = (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert len(font_base64()) > 1_000_000
    with TTFont(FONT_PATH, lazy=True) as font:  # renamed, as the OFL asks of modified fonts
        assert font["name"].getDebugName(1) == FONT_FAMILY
        assert "Noto Sans CJK SC" not in {r.toUnicode() for r in font["name"].names if r.nameID in (1, 4, 16)}


def test_coverage_of_the_cjk_blocks():
    have = font_codepoints()
    for name in NAMES:
        assert uncovered(name) == [], name
    assert _gb2312_hanzi() <= have  # everything the earlier GB2312 subset drew
    assert sum(0x4E00 <= u <= 0x9FFF for u in have) >= 20_970  # of 20,992 unified ideographs
    assert sum(0x3400 <= u <= 0x4DBF for u in have) >= 6_580  # of 6,592 in Extension A
    assert sum(u > 0xFFFF for u in have) >= 2_300  # the supplementary-plane hanzi Noto SC has
    assert ord(RARE) not in have and uncovered(f"石{RARE}镇") == [RARE]
    assert uncovered("马坝镇 12.5%（95% 置信区间）→ ≥ × ① ㎡ —") == []


SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.mark.skipif(not SOURCE.is_file(), reason="needs Debian's fonts-noto-cjk (developers only)")
def test_every_bmp_and_extension_a_character_of_noto_sc_is_kept():
    from fontTools.ttLib import TTCollection

    with TTCollection(SOURCE, lazy=True) as fonts:
        source = fonts.fonts[2]
        assert source["name"].getDebugName(4) == "Noto Sans CJK SC"
        want = {u for u in source.getBestCmap() if 0x3400 <= u <= 0x4DBF or 0x4E00 <= u <= 0x9FFF
                or 0xF900 <= u <= 0xFAFF or 0x20000 <= u <= 0x3134F}
    assert want - font_codepoints() == set()


def test_chinese_renders_with_the_bundled_font():
    assert register_font() == FONT_FAMILY
    found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert found == str(FONT_PATH)
    fig, ax = plt.subplots()
    ax.set_title("曲江区马坝镇群众认可度 " + "".join(NAMES))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    plt.close(fig)


def _ink(text: str) -> np.ndarray:
    fig = plt.figure(figsize=(1, 1), dpi=100)
    fig.text(0.5, 0.5, text, fontsize=50, ha="center", va="center")
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2) < 128
    plt.close(fig)
    return img


def test_names_outside_gb2312_draw_real_glyphs():
    """Each character draws something, and all differ (glyphs, not one box repeated)."""
    chars = ["塱", "珺", "堃", "犇", "䶮", "𬌗", "馬", "壩", "鎮", "埇", "氹"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imgs = [_ink(c) for c in chars]
    assert min(i.mean() for i in imgs) > 0.03
    assert min((a != b).mean() for k, a in enumerate(imgs) for b in imgs[k + 1:]) > 0.02


def test_figures_with_names_outside_gb2312_warn_nothing():
    est = pd.DataFrame({"town": [*NAMES, "全区"], "estimate": np.linspace(0.8, 0.95, 10),
                        "ci_lower": np.linspace(0.7, 0.9, 10), "ci_upper": np.linspace(0.9, 0.99, 10),
                        "class": ["compliant"] * 10, "n_funnel": np.linspace(30, 80, 10)})
    hist = pd.DataFrame({"year": [2017, 2018] * 10, "town": np.repeat(est["town"], 2),
                         "estimate": np.linspace(0.8, 0.95, 20)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither matplotlib's "Glyph … missing" nor ours
        ax = plots.forest_plot(est, threshold=0.9, label="群众认可度")
        assert [t.get_text() for t in ax.get_yticklabels()] == [*NAMES, "全区"]
        ax.figure.canvas.draw()
        plots.funnel_plot(est.iloc[:-1], 0.9, label="群众认可度").figure.canvas.draw()
        plots.trend_plot(hist, label="群众认可度").figure.canvas.draw()
        plots.income_histogram(np.arange(-500, 800.0), title="石塱镇退出户收入").figure.canvas.draw()
    plt.close("all")


def test_an_uncovered_character_gives_one_chinese_warning_and_a_box():
    village = f"{RARE}村"
    est = pd.DataFrame({"town": ["石塱镇", village, village], "estimate": [0.9, 0.8, 0.85],
                        "ci_lower": [0.8, 0.7, 0.75], "ci_upper": [0.95, 0.9, 0.92]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = plots.trend_plot(est.assign(year=[2017, 2017, 2018]), label="认可度")
        ax.figure.canvas.draw()  # matplotlib itself has nothing to say: the character is not drawn
    plt.close("all")
    assert [w.category for w in caught] == [MissingGlyphWarning]
    assert issubclass(MissingGlyphWarning, QuchiStatsWarning)
    msg = str(caught[0].message)
    assert msg == f"乡镇“{village}”中的字符“{RARE}”（U+20000）不在内置字体中，图中将显示为方框"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["石塱镇", f"{BOX}村"]
    with pytest.warns(MissingGlyphWarning, match="行政村“𠀀村”"):
        assert drawable(village, "行政村") == f"{BOX}村"


def test_font_subset_is_small_deterministic_and_covers_the_text():
    text = "曲江区 2018 年度考核报告：石塱镇、馬壩鎮、𬌗村、䶮村，群众认可度 95.1%（置信区间）" + RARE
    data = font_subset(text)
    assert data == font_subset(text)  # same input, same bytes
    assert data[:4] == b"wOFF" and len(data) < 100_000
    font = TTFont(io.BytesIO(data))
    cmap = set(font.getBestCmap())
    assert {ord(c) for c in text if c != RARE} <= cmap
    assert set(range(0x20, 0x7F)) <= cmap and ord("鎮") in cmap and ord("镇") in cmap
    assert len(cmap) < 200  # only what was asked for
    assert font["name"].getDebugName(1) == FONT_FAMILY and font["name"].getDebugName(13)  # licence


# place names from every CJK block, the supplementary planes (mostly not in the font), digits, ASCII
_PLACE_CHARS = st.one_of(st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF),
                         st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF),
                         st.characters(min_codepoint=0x20000, max_codepoint=0x3134F),
                         st.sampled_from("0123456789镇村组（）·-ABC"))


@settings(max_examples=60, deadline=None)
@given(st.text(_PLACE_CHARS, min_size=1, max_size=8))
def test_any_place_name_draws_without_matplotlib_warnings(name):
    have = font_codepoints()
    missing = [c for c in dict.fromkeys(name) if ord(c) not in have]
    assert uncovered(name) == missing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = drawable(name, "行政村")
        fig = plt.figure(figsize=(2, 1))
        fig.text(0, 0.5, shown)
        fig.canvas.draw()
        plt.close(fig)
    assert len(shown) == len(name) and uncovered(shown) == []
    assert [c == BOX for c in shown] == [ord(c) not in have for c in name]
    if missing:
        assert [str(w.message) for w in caught] == [
            "行政村“" + name + "”中的字符" + "、".join(f"“{c}”（U+{ord(c):04X}）" for c in missing)
            + "不在内置字体中，图中将显示为方框"]
    else:
        assert caught == []


def test_font_subset_keeps_the_fonts_bounds_and_every_glyph_within_them():
    """The subset keeps the bundled font's font-wide bounds (not recomputed from the kept glyphs:
    issue 12, speed): they must bound every kept glyph, and the line metrics are the font's."""
    from fontTools.pens.boundsPen import BoundsPen

    text = "曲江区石塱镇馬壩鎮、群众认可度 95.1%（置信区间）"
    sub = TTFont(io.BytesIO(font_subset(text)))
    with TTFont(FONT_PATH, lazy=True) as full:
        assert (sub["head"].xMin, sub["head"].yMin, sub["head"].xMax, sub["head"].yMax) == (
            full["head"].xMin, full["head"].yMin, full["head"].xMax, full["head"].yMax)
        for attr in ("ascent", "descent", "lineGap"):
            assert getattr(sub["hhea"], attr) == getattr(full["hhea"], attr)
    head, glyphs = sub["head"], sub.getGlyphSet()
    drawn = 0
    for name in sub.getGlyphOrder():
        pen = BoundsPen(glyphs)
        glyphs[name].draw(pen)
        if pen.bounds is None:  # a space
            continue
        x0, y0, x1, y1 = pen.bounds
        assert head.xMin <= x0 and head.yMin <= y0 and x1 <= head.xMax and y1 <= head.yMax, name
        assert glyphs[name].width <= sub["hhea"].advanceWidthMax
        drawn += 1
    assert drawn > 20
