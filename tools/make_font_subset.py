"""Rebuild quchi_stats/fonts/QuchiStatsNotoSansSC-Regular.otf (run once by a developer, not at runtime).

Needs fontTools (installed with matplotlib) and Noto Sans CJK (Debian: ``apt-get install
fonts-noto-cjk``; users and CI never need it, the built font is committed). Takes Noto Sans CJK SC
Regular and keeps every character it maps in the CJK blocks: the unified ideographs (U+4E00–9FFF),
Extension A (U+3400–4DBF), the compatibility ideographs, radicals, strokes, bopomofo, CJK symbols and
punctuation, enclosed CJK letters, full-width forms, and the supplementary-plane hanzi the font has
(Extensions B–G, e.g. 𬌗 U+2C317 of the 通用规范汉字表); plus ASCII, Latin-1, general punctuation,
Latin Extended-A/B (pinyin), Greek, Cyrillic, letterlike symbols, arrows, mathematical operators and
the rest of GB2312 (its kana too, so nothing the earlier GB2312 subset drew is lost). Hangul is left out.

To keep the file small: no hinting (the figures are rasterised at 110 dpi, browsers hint themselves),
CFF subroutines kept, and only the GPOS features that adjust spacing (``kern``, ``palt``, ``halt``):
the GSUB features (``locl``, ``vert``, ``fwid`` …) would pull in ~18,000 alternate glyphs (the
Japanese, Korean and traditional forms), nearly doubling the size. The vertical metrics (``vhea``,
``vmtx``, ``VORG``) are kept. The family is renamed "QuchiStats Noto Sans SC" (the SIL OFL asks
modified fonts not to pass as the original). Licence: SIL Open Font License 1.1, kept beside the font
as OFL.txt. The build is reproducible: the source's timestamps are kept, so the same source gives the
same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
TARGET = Path(__file__).resolve().parents[1] / "src/quchi_stats/fonts/QuchiStatsNotoSansSC-Regular.otf"
FAMILY = "QuchiStats Noto Sans SC"
POSTSCRIPT = "QuchiStatsNotoSansSC-Regular"

RANGES = (
    (0x0020, 0x007E), (0x00A0, 0x00FF),  # ASCII, Latin-1
    (0x0100, 0x024F), (0x02B0, 0x02FF),  # Latin Extended-A and -B (pinyin ǎ ǚ …), modifier letters
    (0x0370, 0x03FF), (0x0400, 0x04FF),  # Greek, Cyrillic
    (0x2000, 0x20CF),  # general punctuation, super/subscripts, currency
    (0x2100, 0x214F), (0x2150, 0x218F),  # letterlike symbols, number forms (Ⅰ Ⅱ …)
    (0x2190, 0x21FF), (0x2200, 0x22FF),  # arrows, mathematical operators
    (0x2460, 0x24FF), (0x2500, 0x25FF),  # enclosed alphanumerics (① …), box drawing, shapes
    (0x2E80, 0x2FDF), (0x2FF0, 0x2FFF),  # CJK radicals, Kangxi radicals, description characters
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3100, 0x312F), (0x31A0, 0x31BF),  # bopomofo
    (0x31C0, 0x31EF),  # CJK strokes
    (0x3200, 0x33FF),  # enclosed CJK letters and months, CJK compatibility (㈠ ㎡ …)
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFE10, 0xFE1F), (0xFE30, 0xFE4F),  # vertical forms, CJK compatibility forms
    (0xFF00, 0xFFEF),  # half- and full-width forms
    (0x20000, 0x3134F),  # Extensions B–G and the compatibility supplement
)


def gb2312() -> set[int]:
    """Every character of GB2312 (so the font stays a superset of the earlier GB2312 subset)."""
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return chars


def characters(cmap: dict[int, str]) -> list[int]:
    """The code points of ``RANGES`` and GB2312 that the source font maps."""
    wanted = {u for lo, hi in RANGES for u in range(lo, hi + 1)} | gb2312()
    return sorted(u for u in wanted if u in cmap)


def options() -> subset.Options:
    opts = subset.Options()
    opts.hinting = False
    opts.desubroutinize = False
    opts.layout_features = ["kern", "palt", "halt"]
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    return opts


def main() -> None:
    font = TTCollection(SOURCE, recalcTimestamp=False).fonts[2]  # Noto Sans CJK SC
    if font["name"].getDebugName(4) != "Noto Sans CJK SC":
        raise SystemExit(f"{SOURCE}: the third face is not Noto Sans CJK SC")
    chars = characters(font.getBestCmap())
    sub = subset.Subsetter(options())
    sub.populate(unicodes=chars)
    sub.subset(font)
    for rec in font["name"].names:
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID == 4:
            rec.string = FAMILY + " Regular"
        elif rec.nameID == 6:
            rec.string = POSTSCRIPT
        elif rec.nameID == 3:
            rec.string = POSTSCRIPT + ";CJK subset"
    cff = font["CFF "].cff
    cff.fontNames = [POSTSCRIPT]
    cff.topDictIndex[0].FamilyName = FAMILY
    cff.topDictIndex[0].FullName = FAMILY + " Regular"
    font.save(TARGET)
    saved = TTFont(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes, {saved['name'].getDebugName(1)}, "
          f"{len(chars):,} characters, {len(saved.getGlyphOrder()):,} glyphs")


if __name__ == "__main__":
    sys.exit(main())
