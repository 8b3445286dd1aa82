"""Rebuild quchi_stats/fonts/NotoSansSC-Regular-GB2312.otf (run once by a developer, not at runtime).

Needs fontTools (``pip install fonttools``) and Noto Sans CJK (Debian: ``apt-get install
fonts-noto-cjk``). Takes Noto Sans CJK SC Regular, keeps GB2312 (all 6,763 hanzi), ASCII, Latin-1,
general punctuation, CJK symbols and punctuation, full-width forms, arrows and mathematical operators,
and renames the family "QuchiStats Noto Sans SC" (the SIL OFL asks modified fonts not to pass as the
original). Licence: SIL Open Font License 1.1, kept beside the font as OFL.txt.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
TARGET = Path(__file__).resolve().parents[1] / "src/quchi_stats/fonts/NotoSansSC-Regular-GB2312.otf"
FAMILY = "QuchiStats Noto Sans SC"
POSTSCRIPT = "QuchiStatsNotoSansSC-Regular"


def characters() -> list[int]:
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    for start, end in ((0x2000, 0x2070), (0x2070, 0x20A0), (0x2100, 0x2150), (0x2190, 0x2200),
                       (0x2200, 0x2300), (0x2460, 0x24A0), (0x3000, 0x3040), (0xFF00, 0xFFF0)):
        chars |= set(range(start, end))
    return sorted(chars)


def main() -> None:
    font = TTCollection(SOURCE).fonts[2]  # Noto Sans CJK SC
    assert font["name"].getDebugName(4) == "Noto Sans CJK SC"
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=characters())
    sub.subset(font)
    for rec in font["name"].names:
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID == 4:
            rec.string = FAMILY + " Regular"
        elif rec.nameID == 6:
            rec.string = POSTSCRIPT
        elif rec.nameID == 3:
            rec.string = POSTSCRIPT + ";GB2312 subset"
    cff = font["CFF "].cff
    cff.fontNames = [POSTSCRIPT]
    cff.topDictIndex[0].FamilyName = FAMILY
    cff.topDictIndex[0].FullName = FAMILY + " Regular"
    font.save(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes, {TTFont(TARGET)['name'].getDebugName(1)}")


if __name__ == "__main__":
    sys.exit(main())
