"""Numbers on screen: ``NumberLabel`` (``.value``, the source number, and ``.str``, what is shown),
built from cached glyphs, so a matrix of 64 numbers costs milliseconds, not seconds.
"""

from __future__ import annotations

import functools

import numpy as np
from manim import LEFT, ORIGIN, RIGHT, UP, Text, VGroup, VMobject

from .. import style
from ..style import Theme
from .text import cached_text, lighten


def values_of(tensor) -> np.ndarray:
    """A tensor or array as float64 numpy (what the parts draw from)."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().double().numpy()
    return np.asarray(tensor, dtype=float)


GLYPHS = "0123456789.\u2212+%"
GLYPH_SIZE = 48


@functools.lru_cache(maxsize=1)
def glyph_bank() -> tuple[dict[str, VMobject], float]:
    """One glyph per character of ``GLYPHS`` cut from a single line of DejaVu Sans Mono (same baseline)."""
    line = lighten(Text("0" + GLYPHS + "0", font=style.MONO, font_size=GLYPH_SIZE))
    glyphs = line.submobjects
    advance = (glyphs[-1].get_center()[0] - glyphs[0].get_center()[0]) / (len(glyphs) - 1)
    origin = glyphs[0].get_center()[0]
    bank = {}
    for j, ch in enumerate(GLYPHS, start=1):
        g = glyphs[j].copy()
        g.shift(LEFT * (j * advance))  # as if it sat in slot 0
        bank[ch] = g
    # Shift so that slot 0 is centred at x = 0.
    for g in bank.values():
        g.shift(LEFT * origin)
    return bank, advance


class NumberLabel(VGroup):
    """A displayed number: ``.value`` is the source value, ``.str`` the exact string on screen."""

    def __init__(self, value: float, shown: str, size: float = style.NUMBER_SIZE, color=None, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)
        self.str = shown
        self.font_size = size
        bank, advance = glyph_bank()
        if all(ch in bank for ch in shown):
            for k, ch in enumerate(shown):
                self.add(bank[ch].copy().shift(RIGHT * (k * advance)))
            self.scale(size / GLYPH_SIZE, about_point=ORIGIN)
        else:  # a character the bank lacks: fall back to Pango
            self.add(cached_text(shown, style.MONO, size, "NORMAL", "NORMAL", True).copy())
        if color is not None:
            self.set_color(color)
        self._drawn_height = self.height  # at ``size``: the size it is shown at scales with its height

    @property
    def shown_size(self) -> float:
        """The font size it is shown at, after any scaling (``font_size`` is the size it was made at)."""
        return self.font_size * self.height / self._drawn_height if self._drawn_height else self.font_size

    @property
    def char_width(self) -> float:
        return char_width(self.font_size)


def char_width(size: float) -> float:
    """Advance of one DejaVu Sans Mono character at font size ``size`` (Manim units)."""
    return glyph_bank()[1] * size / GLYPH_SIZE


def number(th: Theme, value: float, digits: int = style.DIGITS, size: float = style.NUMBER_SIZE, color=None,
           *, signed_scale: float | None = None) -> NumberLabel:
    """One number formatted by ``style.fmt``; coloured by sign and size when ``signed_scale`` is given."""
    if color is None:
        color = th.signed_color(value, signed_scale) if signed_scale else th.text
    return NumberLabel(value, style.fmt(value, digits), size, color)


def count(th: Theme, n: int, size: float = style.LABEL_SIZE, color=None) -> NumberLabel:
    """A big integer as ``style.count`` writes it (thin-space thousands), keeping ``.value`` and ``.str``.

    Built from the digit glyphs with a thin gap opened before each group of three (a thin space
    is not in the glyph bank, and a Pango Text per number costs ~65 ms).
    """
    shown = style.count(int(n))
    label = NumberLabel(int(n), shown.replace("\u2009", ""), size, color or th.text)
    gap, k = 0.4 * label.char_width, 0
    for ch in shown:
        if ch == "\u2009":
            for glyph in label.submobjects[k:]:
                glyph.shift(RIGHT * gap)
        else:
            k += 1
    label.str = shown
    return label


def number_row(th: Theme, values, *, digits: int = style.DIGITS, size: float = style.NUMBER_SIZE, color=None,
               signed: bool = True, gap: float = 0.35) -> VGroup:
    """A horizontal list of NumberLabels (no brackets): a worked row of scores or weights."""
    v = values_of(values).ravel()
    scale = float(np.abs(v[np.isfinite(v)]).max()) if np.isfinite(v).any() else 1.0
    row = VGroup()
    for x in v:
        col = color or (th.signed_color(x, scale) if signed else th.text)
        row.add(NumberLabel(x, style.fmt(x, digits), size, col))
    return row.arrange(RIGHT, buff=gap)


_FLAT_BOTTOM = set("HIKLMNEFTZXhiklmnrxz1234570.:")  # glyphs that end exactly on the baseline


def baseline_y(mob: VMobject) -> float:
    """The baseline of a line of text: Pango centres each Text on its ink, so 'joy' and 'hat' differ."""
    if isinstance(mob, NumberLabel):
        return float(mob.get_bottom()[1])  # digits sit on the baseline
    chars = getattr(mob, "text", None)
    if isinstance(chars, str):
        glyphs = [c for c in chars if not c.isspace()]
        if len(glyphs) == len(mob.submobjects):
            for c, g in zip(glyphs, mob.submobjects):
                if c in _FLAT_BOTTOM:
                    return float(g.get_bottom()[1])
    return float(mob.get_bottom()[1])


def inline(*mobs: VMobject, buff: float = 0.25) -> VGroup:
    """Mobjects side by side on one baseline (a sentence made of several Texts and numbers)."""
    group = VGroup(*mobs).arrange(RIGHT, buff=buff)
    y = baseline_y(mobs[0])
    for m in mobs[1:]:
        m.shift(UP * (y - baseline_y(m)))
    return group
