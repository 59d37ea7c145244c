"""A font with Chinese glyphs for matplotlib, so the Chinese edition's plots label in Chinese.

matplotlib's default font (DejaVu Sans) has no CJK glyphs: a Chinese label draws as empty boxes and warns
"Glyph ... missing from font(s) DejaVu Sans". `use_cjk_font()` puts the first installed CJK font of CJK_FONTS in
front of the sans-serif list (DejaVu Sans stays behind it for the Latin and math glyphs it draws well). The course
ships no font: every desktop system has one (macOS: PingFang SC; Windows: Microsoft YaHei; Linux: Noto Sans CJK,
`apt install fonts-noto-cjk` or `dnf install google-noto-sans-cjk-fonts`, SIL Open Font License 1.1).

Taught in: solutions/00_welcome.ipynb (the Chinese edition, lessons/zh/)
"""

from __future__ import annotations

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "PingFang SC",
             "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Heiti SC",
             "SimHei", "Noto Sans CJK JP", "Noto Sans CJK TC")


FILE_HINTS = ("cjk", "sourcehan", "wqy", "pingfang", "hiragino", "msyh", "simhei", "notosanssc", "heiti")


def find_cjk_font() -> str | None:
    """The name of the first installed font of CJK_FONTS, or None. matplotlib caches the font list; a font
    installed after the cache was made is found by its file name and added."""
    from matplotlib import font_manager

    def first() -> str | None:
        installed = {font.name for font in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    found = first()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(hint in path.lower().replace("-", "").replace("_", "") for hint in FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a font file matplotlib cannot read
                    continue
        found = first()
    return found


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese: returns the font's name, or None when none is installed (labels then show
    boxes; the README says how to install one)."""
    import matplotlib

    name = find_cjk_font()
    if name is None:
        return None
    fonts = [f for f in matplotlib.rcParams["font.sans-serif"] if f != name]
    matplotlib.rcParams["font.sans-serif"] = [name, *fonts]
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack U+2212, the minus sign
    return name
