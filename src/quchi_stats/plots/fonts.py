"""The bundled CJK font and its registration with matplotlib."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["FONT_FAMILY", "FONT_PATH", "font_base64", "register_font"]

FONT_PATH = Path(str(resources.files("quchi_stats") / "fonts" / "NotoSansSC-Regular-GB2312.otf"))
FONT_FAMILY = "QuchiStats Noto Sans SC"


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


def font_base64() -> str:
    """The font file as base64 (for embedding in the HTML report)."""
    import base64

    return base64.b64encode(FONT_PATH.read_bytes()).decode("ascii")
