"""The bundled CJK font: its registration with matplotlib, its coverage, and its subset for the HTML.

The font (``quchi_stats/fonts/QuchiStatsNotoSansSC-Regular.otf``) is Noto Sans CJK SC Regular subset to
every character it has in the CJK blocks (unified ideographs, Extension A, the compatibility
ideographs, the supplementary-plane hanzi it covers) plus Latin and punctuation; see
``tools/make_font_subset.py``. A name with a character the font lacks is drawn with a box (□) in
its place and reported once, in Chinese, naming the place (:class:`MissingGlyphWarning`), instead of
matplotlib's English "Glyph … missing" line per glyph and per draw.
"""

from __future__ import annotations

import base64
import functools
import io
import unicodedata
import warnings
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

from ..errors import QuchiStatsWarning

__all__ = ["BOX", "FONT_FAMILY", "FONT_PATH", "MissingGlyphWarning", "drawable", "font_base64",
           "font_codepoints", "font_face_css", "font_subset", "register_font", "uncovered",
           "uncovered_message"]

FONT_PATH = Path(str(resources.files("quchi_stats") / "fonts" / "QuchiStatsNotoSansSC-Regular.otf"))
FONT_FAMILY = "QuchiStats Noto Sans SC"
BOX = "□"  # U+25A1, drawn in place of a character no bundled font has


class MissingGlyphWarning(QuchiStatsWarning):
    """A town, village or label has a character that no bundled font covers."""


def register_font() -> str:
    """Add the bundled font to matplotlib and make it the first sans-serif family."""
    if FONT_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_PATH))
    fams = list(mpl.rcParams["font.sans-serif"])
    if not fams or fams[0] != FONT_FAMILY:
        mpl.rcParams["font.sans-serif"] = [FONT_FAMILY, *[f for f in fams if f != FONT_FAMILY]]
    mpl.rcParams["font.family"] = "sans-serif"
    mpl.rcParams["axes.unicode_minus"] = False
    return FONT_FAMILY


@functools.cache
def font_codepoints() -> frozenset[int]:
    """The code points the bundled font maps (read once; the file does not change)."""
    from fontTools.ttLib import TTFont

    with TTFont(FONT_PATH, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _ignorable(ch: str) -> bool:
    # whitespace and format/control characters are never drawn as glyphs
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def uncovered(text: str) -> list[str]:
    """The characters of ``text`` the bundled font does not cover, each once, in order of appearance."""
    have = font_codepoints()
    seen: dict[str, None] = {}
    for ch in text:
        if ord(ch) not in have and not _ignorable(ch):
            seen.setdefault(ch)
    return list(seen)


def uncovered_message(kind: str, name: str, chars: Iterable[str], consequence: str) -> str:
    """``行政村“X村”中的字符“𬌗”（U+2C317）不在内置字体中，<consequence>``."""
    listed = "、".join(f"“{c}”（U+{ord(c):04X}）" for c in chars)
    return f"{kind}“{name}”中的字符{listed}不在内置字体中，{consequence}"


def drawable(text: object, kind: str = "乡镇") -> str:
    """``text`` as a figure can draw it: characters no bundled font covers become □, with one
    :class:`MissingGlyphWarning` naming the ``kind`` (乡镇, 行政村, 指标 …) and the text."""
    s = str(text)
    missing = uncovered(s)
    if not missing:
        return s
    warnings.warn(uncovered_message(kind, s, missing, "图中将显示为方框"), MissingGlyphWarning,
                  stacklevel=3)
    return "".join(BOX if c in missing else c for c in s)


# the GPOS features kept by tools/make_font_subset.py (spacing only; no glyph substitution)
_LAYOUT_FEATURES = ["kern", "palt", "halt"]


def font_subset(text: str) -> bytes:
    """The bundled font reduced to the characters of ``text`` (plus printable ASCII), as WOFF.

    Deterministic: the same characters give the same bytes (timestamps are not recalculated;
    WOFF compresses with zlib at a fixed level). WOFF2 would be ~30 % smaller but needs the
    ``brotli`` package, which is not a dependency.

    Two things make it cheaper (about 40 % of the time; issue 12) without changing a glyph: the
    bundled font has no hints (``tools/make_font_subset.py`` removed them), so none are looked for
    (``hinting=True`` keeps what is there: nothing; the same bytes); and the font-wide bounds
    (``head``'s box, ``hhea``/``vhea``'s extremes, the CFF ``FontBBox``) are kept as the bundled
    font has them instead of being recomputed from every kept glyph's outline (three passes over
    the outlines, half the time): they then bound every glyph of the font, those of the subset
    included, which is all a renderer reads from them (line metrics — ascender, descender, line
    gap — are not recomputed either way).
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    chars = {ord(c) for c in text} | set(range(0x20, 0x7F))
    opts = subset.Options()
    opts.hinting = True  # the font has none: nothing to strip (hinting=False executes every glyph)
    opts.layout_features = list(_LAYOUT_FEATURES)
    opts.name_IDs = ["*"]  # keep the copyright and licence records (SIL OFL)
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.flavor = "woff"
    with TTFont(FONT_PATH, recalcTimestamp=False, recalcBBoxes=False, lazy=True) as font:
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=sorted(chars & font_codepoints()))
        sub.subset(font)
        buf = io.BytesIO()
        font.flavor = "woff"
        font.save(buf, reorderTables=True)
    return buf.getvalue()


def font_face_css(text: str, family: str = "QuchiCJK") -> str:
    """An ``@font-face`` rule embedding :func:`font_subset` of ``text`` as base64."""
    data = base64.b64encode(font_subset(text)).decode("ascii")
    return (f'@font-face {{ font-family: "{family}"; '
            f'src: url(data:font/woff;base64,{data}) format("woff"); }}')


def font_base64() -> str:
    """The whole font file as base64."""
    return base64.b64encode(FONT_PATH.read_bytes()).decode("ascii")
