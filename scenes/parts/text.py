"""Text: Pango text cached by content, wrapped paragraphs, Typst maths, words cut from one line.

Creating a Text is slow in Pango (~0.1 s); every part here caches by content and copies.
"""

from __future__ import annotations

import functools
import re
import textwrap
from html import escape
from collections.abc import Sequence

from manim import DOWN, LEFT, MarkupText, MathTypst, Text, Typst, VGroup

from .. import style
from ..layout import fit
from ..style import Theme


def lighten(mob):
    """Drop each glyph's parsed SVG path (used only while building the points): copying a Text,
    which every FadeIn/Transform does, then costs ~1 ms instead of ~30 ms."""
    for m in mob.get_family():
        if getattr(m, "path_obj", None) is not None:
            m.path_obj = None
    return mob


@functools.lru_cache(maxsize=2048)
def cached_text(text: str, font: str, size: float, weight: str, slant: str, ligatures: bool) -> Text:
    return lighten(Text(text, font=font, font_size=size, weight=weight, slant=slant, disable_ligatures=not ligatures))


# A one-letter maths name with a subscript in running text ("W_O", "d_k", "W_Q"): drawn subscripted.
SUBSCRIPT = re.compile(r"(?<![A-Za-z0-9])([A-Za-z])_([A-Za-z0-9]{1,3})(?![A-Za-z0-9_])")


@functools.lru_cache(maxsize=512)
def cached_markup(text: str, font: str, size: float, weight: str, slant: str) -> MarkupText:
    markup = SUBSCRIPT.sub(r"\1<sub>\2</sub>", escape(text, quote=False))
    mob = lighten(MarkupText(markup, font=font, font_size=size, weight=weight, slant=slant))
    mob.original_text = text  # as written: what the tests and the reading hold read
    return mob


def text(th: Theme, s: str, size: float = style.BODY_SIZE, color=None, *, mono=False, symbol=False, bold=False,
         italic=False, ligatures=True) -> Text:
    """A ``manim.Text`` in the theme's text colour and font (cached by content: creating text is slow in Pango).

    ``mono``: in ``style.MONO``, as numbers are; ``symbol``: a mathematical symbol (a matrix's ⋮ ⋯ ⋱), in
    ``style.FONT`` whatever the lesson's font, since DejaVu Sans has them and an author's font may not.

    ``ligatures=False`` gives exactly one submobject per character, spaces included. A maths name such as
    "W_O" or "d_k" is drawn with its subscript (a ``MarkupText``; not with ``ligatures=False``).
    """
    font = style.MONO if mono else style.FONT if symbol else th.font
    weight, slant = "BOLD" if bold else "NORMAL", "ITALIC" if italic else "NORMAL"
    if ligatures and SUBSCRIPT.search(s):
        mob = cached_markup(s, font, size, weight, slant).copy()
    else:
        mob = cached_text(s, font, size, weight, slant, ligatures).copy()
    return mob.set_color(color or th.text)


def paragraph(th: Theme, s: str, width: float, size: float = style.BODY_SIZE, color=None, *, line_buff=style.GAP_LABEL,
              align=LEFT) -> VGroup:
    """Text wrapped to ``width`` (Manim units); lines are separate ``Text``s, left-aligned."""
    chars = max(8, int(width / (0.0082 * size)))  # DejaVu Sans: ~0.008 units per character per font point
    lines = textwrap.wrap(s, chars) or [""]
    group = VGroup(*(text(th, line, size, color) for line in lines))
    group.arrange(DOWN, aligned_edge=align, buff=line_buff)
    return fit(group, width=width)


@functools.lru_cache(maxsize=512)
def _typst_proto(source: str, size: float, math_mode: bool):
    return lighten(MathTypst(source, font_size=size) if math_mode else Typst(source, font_size=size))


def formula(th: Theme, math_src: str, size: float = style.BODY_SIZE + 4, color=None) -> MathTypst:
    """Typst maths, e.g. ``formula(th, "d_k = frac(d, h)")`` (no LaTeX anywhere)."""
    return _sized(_typst_proto(math_src, size * style.TYPST_SCALE, True).copy().set_color(color or th.text), size)


def typst_text(th: Theme, source: str, size: float = style.BODY_SIZE, color=None) -> Typst:
    """Typst markup: ``*bold*``, ``_italic_``, inline ``$maths$``."""
    return _sized(_typst_proto(source, size * style.TYPST_SCALE, False).copy().set_color(color or th.text), size)


def _sized(mob, size: float):
    """Typst keeps no font size once drawn: remember the text size it was typeset to match, and its height then,
    so ``shown_size`` tells the size it is shown at after any shrink-to-fit."""
    mob.typeset_size, mob.typeset_height = size, mob.height
    return mob


def shown_size(mob) -> float | None:
    """The text size a Typst mobject made here is shown at now (its main line; sub- and superscripts are smaller,
    as typesetting makes them); None for one made elsewhere."""
    size, height = getattr(mob, "typeset_size", None), getattr(mob, "typeset_height", 0.0)
    return size * mob.height / height if size is not None and height > 0 else None


def baseline_words(th: Theme, words: Sequence[str], size: float = style.BODY_SIZE,
                   color=None) -> tuple[list[VGroup], float]:
    """One VGroup of glyphs per word, cut from a single line of text so their baselines agree,
    and the y of the line's middle (cap height to descender), for boxes that sit evenly around them."""
    clean = ["".join(w.split()) or "\u00b7" for w in words]
    # Without ligatures every character, space included, is one submobject ("fl" stays two glyphs),
    # so a word's glyphs are found by its character positions in the line.
    line_text = "Hg  " + "  ".join(clean)  # "Hg" measures the line, then is dropped
    line = text(th, line_text, size, color, ligatures=False)
    h, g = line.submobjects[:2]
    mid = (h.get_top()[1] + g.get_bottom()[1]) / 2
    out, k = [], len("Hg  ")
    for w in clean:
        out.append(Glyphs(w, line.submobjects[k:k + len(w)], line))
        k += len(w) + 2
    return out, mid


class Glyphs(VGroup):
    """Glyphs cut from a longer Text (a word of a token row); ``.text`` is the word."""

    def __init__(self, word: str, glyphs, line: Text | None = None, **kwargs):
        super().__init__(*glyphs, **kwargs)
        self.text = word
        # The size they are shown at scales with their width (a word's height depends on its letters).
        self._size, self._width = (line.font_size, self.width) if line is not None else (None, None)

    @property
    def shown_size(self) -> float | None:
        """The font size the glyphs are shown at, after any scaling (None: not cut from a line)."""
        return self._size * self.width / self._width if self._size and self._width else None
