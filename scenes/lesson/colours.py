"""The themes' colours as data, and how readable and how far apart colours are (no Manim, no numpy).

``scenes.style`` draws with these palettes; the config checks an author's ``accent`` against them before
anything renders, with the same measures the tests hold the themes to:

    >>> round(contrast("#767676", "#FFFFFF"), 2)        # WCAG 2 contrast ratio: the lightest AA grey on white
    4.54
    >>> accent_problem("#FFD166", LIGHT) is not None     # the dark theme's highlight is unreadable on white
    True

- contrast: WCAG 2's ratio of relative luminances, 1 to 21; text needs ``TEXT_CONTRAST`` (AA);
- how far apart two colours look: the CIELAB distance (D65), for normal vision and for protan, deutan and
  tritan vision simulated with Machado, Oliveira & Fernandes 2009 (severity 1); a head's colour stays
  ``HEADS_APART`` from every other colour, so that a colour names one head and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEX = re.compile(r"#[0-9A-Fa-f]{6}")
TEXT_CONTRAST = 4.5  # WCAG AA for text: every colour text is drawn in, on the background and on cards
HEADS_APART = 12.0  # smallest CIELAB distance between a head's colour and any other colour the lesson draws

# Machado, Oliveira & Fernandes 2009, severity 1.0: linear-RGB matrices simulating each kind of dichromacy.
DICHROMACY = {
    "protan": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deutan": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritan": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}


@dataclass(frozen=True)
class Palette:
    """A theme's colours (``scenes.style.Theme`` adds drawing to them). Every value is "#RRGGBB"."""

    name: str
    background: str
    text: str
    muted: str  # secondary text, axis labels
    grid: str  # cell borders, brackets, thin lines
    panel: str  # card backgrounds
    highlight: str  # the accent: the sweep / focus frame, totals, the page's links and focus rings
    roles: dict  # "Q" | "K" | "V" | "O" | "X" -> colour
    heads: tuple  # one colour per head number (cycled beyond its length)
    positive: str
    negative: str
    scale: tuple  # attention-weight colour stops for 0 .. 1
    warn: str  # failure-trap / caveat accent


# Heads: 12 colours per theme, chosen (farthest-point search over sRGB) to stay ``HEADS_APART`` for normal and
# simulated protan, deutan and tritan vision, apart from the role, sign and accent colours, and to keep
# ``TEXT_CONTRAST`` on the background and on cards (tests/test_colours.py checks all of it). Signed numbers: a
# blue/orange diverging pair (safe for red-green colour blindness). Attention weights: one sequential scale pinned
# to [0, 1] (viridis on dark, white-to-blue on light).
DARK = Palette(
    name="dark",
    background="#0F1218",
    text="#ECEFF4",
    muted="#9AA3B2",
    grid="#4A5263",
    panel="#1B202A",
    highlight="#FFD166",
    roles={"Q": "#F5B041", "K": "#56B4E9", "V": "#5FD38D", "O": "#D291E0", "X": "#ECEFF4"},
    heads=(
        "#799E0C", "#00F3F3", "#C27986", "#6D86FF", "#DBE7AA", "#E755B6",
        "#AA9E61", "#AAAAFF", "#9EE76D", "#FFAAB6", "#FF86C2", "#DBC23D",
    ),
    positive="#FF9F45",
    negative="#5AB4FF",
    scale=("#1A1D29", "#3B528B", "#21918C", "#5EC962", "#FDE725"),  # viridis, darkest stop ~ background
    warn="#FF6B6B",
)

LIGHT = Palette(
    name="light",
    background="#FFFFFF",
    text="#1C2128",
    muted="#57606A",
    grid="#B8C0CC",
    panel="#F3F5F8",
    highlight="#C2410C",
    roles={"Q": "#A65300", "K": "#0B62A4", "V": "#137A3A", "O": "#8E3A96", "X": "#1C2128"},
    heads=(
        "#6D2431", "#0031B6", "#796D00", "#CE0086", "#3D4900", "#7955C2",
        "#AA4949", "#6D0086", "#1861E7", "#793D61", "#493161", "#8655AA",
    ),
    positive="#B34D00",
    negative="#0061B5",
    scale=("#F4F7FB", "#C6DBEF", "#6BAED6", "#2171B5", "#08306B"),  # Blues, lightest stop ~ background
    warn="#C62828",
)

PALETTES = {"dark": DARK, "light": LIGHT}


def linear(colour: str) -> tuple[float, float, float]:
    """"#RRGGBB" -> linear sRGB, each 0 to 1."""
    channels = (int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance, 0 (black) to 1 (white)."""
    r, g, b = linear(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _times(matrix, v):
    return tuple(sum(m * x for m, x in zip(row, v)) for row in matrix)


def lab(rgb) -> tuple[float, float, float]:
    """Linear sRGB -> CIELAB (D65)."""
    x, y, z = (t / n for t, n in zip(_times(((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722),
                                              (0.0193, 0.1192, 0.9505)), rgb), (0.95047, 1.0, 1.08883)))
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def seen(colour: str, vision: str | None = None) -> tuple[float, float, float]:
    """How ``colour`` looks in CIELAB, for normal vision (None) or a kind of dichromacy ("protan", ...)."""
    rgb = linear(colour)
    if vision is not None:
        rgb = tuple(min(max(c, 0.0), 1.0) for c in _times(DICHROMACY[vision], rgb))
    return lab(rgb)


def distance(a: str, b: str, vision: str | None = None) -> float:
    """CIELAB distance between how ``a`` and ``b`` look (``seen``)."""
    return sum((p - q) ** 2 for p, q in zip(seen(a, vision), seen(b, vision))) ** 0.5


def accent_problem(colour: str, palette: Palette) -> str | None:
    """What stops ``colour`` from being ``palette``'s accent, as the end of a sentence, or None.

    The accent draws text (totals, the question, links) on the background and on cards, so it needs
    ``TEXT_CONTRAST`` on both; and it must not look like a head's colour (a colour names one head and nothing
    else), as the themes' own highlights do not."""
    against = {"background": palette.background, "cards": palette.panel}
    where, worst = min(((name, contrast(colour, c)) for name, c in against.items()), key=lambda pair: pair[1])
    if worst < TEXT_CONTRAST:
        lighter = "a lighter" if luminance(against[where]) < 0.18 else "a darker"
        return (f"has a contrast of {worst:.2f}:1 against the {palette.name} theme's {where} ({against[where]}), "
                f"below the {TEXT_CONTRAST}:1 text needs (the accent colours words and numbers); pick {lighter} "
                f"colour, such as the theme's own {palette.highlight}")
    head, apart = min(((i, distance(colour, h)) for i, h in enumerate(palette.heads)), key=lambda pair: pair[1])
    if apart < HEADS_APART:
        return (f"looks like head {head + 1}'s colour in the {palette.name} theme ({palette.heads[head]}, CIELAB "
                f"distance {apart:.1f}, under {HEADS_APART:g}), and a head's colour names that head and nothing "
                "else; pick a colour further from it")
    return None
