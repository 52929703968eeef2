"""The lesson's look, in one place: themes, role and head colours, number formats, sizes, timing.

Every colour a scene draws comes from a ``Theme`` (``style.theme("dark")`` or
``lesson.theme``): Manim's default WHITE is invisible on the light theme, so
parts never fall back to it.

The palettes' colours, and why they are these, are in ``scenes.lesson.colours`` (below the drawing, so that
the config can check an author's accent against them); a ``Theme`` is a palette with its font and lookups, and
``look(config)`` is the lesson's: the author's accent and font over the theme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from manim import ManimColor, interpolate_color

from scenes.lesson import colours
from scenes.lesson.colours import Palette
# re-exported: style.FONT (the words; the config refuses text it cannot draw) and style.MONO (the numbers)
from scenes.lesson.fonts import FONT, MONO  # noqa: F401
# How numbers are written is decided below the drawing (the script's placeholders write them the same way).
from scenes.lesson.formats import DIGITS, MINUS, count, fmt, parse, percent  # noqa: F401

# -- fonts and sizes (Manim font-size units; 48 is Manim's default) ----------


TITLE_SIZE = 34
HEADING_SIZE = 28
BODY_SIZE = 24
LABEL_SIZE = 20
SMALL_SIZE = 17
NUMBER_SIZE = 18  # smallest size still readable at 480p
CAPTION_SIZE = 22  # captions drawn into the frames (--burn-captions)
CAPTION_TEXT, CAPTION_BOX = "#FFFFFF", "#000000"  # ... as broadcast captions are, whatever the theme
# Typst draws a font size ~1.4x smaller than Pango does: parts.formula multiplies by this so that
# a formula and a Text of the same size match.
TYPST_SCALE = 1.4

# -- layout (Manim units; the frame is 14.22 x 8) ------------------------------

FRAME_MARGIN = 0.3  # nothing text-like closer than this to the frame edge
TITLE_BUFF = 0.35  # title's distance from the top-left corner
# Gaps between neighbours, smallest to largest: every `buff=` in parts and chapters names one,
# so spacing is consistent and changes in one place.
GAP_NONE = 0.0  # a mark drawn on its target's edge
GAP_HAIR = 0.02  # a frame hugging a row of cells
GAP_FRAME = 0.05  # a highlight frame around what it highlights
GAP_TIGHT = 0.08  # lines of one tag; a tick or value against its mark; arrow ends
GAP_CHIP = 0.1  # a head chip or axis word against its grid
GAP_LABEL = 0.12  # a label against what it names (shape below, title above)
GAP_NAME = 0.15  # a matrix's or card's name against its body; a note under its figure
GAP_WORD = 0.18  # words and numbers of one line; a list under its lead
GAP_LINE = 0.2  # lines of a text block; a name beside its brackets
GAP_ROW = 0.22  # rows of a formula block or bullet list
GAP_ITEM = 0.25  # items of a row; a caption under a chart
GAP_BLOCK = 0.3  # a heading or figure and the block that follows it
GAP_SECTION = 0.35  # a title and the section it opens
GAP_ASIDE = 0.4  # a colour bar or card beside its figure
GAP_RESULT = 0.45  # a result under the computation that made it
GAP_APART = 0.5  # separate stages or sentences side by side
GAP_COLUMN = 0.8  # columns of a slide
GAP_WIDE = 1.2  # panels that stand apart
MAX_TOKENS = 14  # longer sentences are capped where tokens are drawn (and the screen says so); 14 keeps
# a 13-piece MiniLM sentence whole and its labels readable at 480p
MAX_MATRIX_ROWS = 8  # more rows/columns than this get an ellipsis row/column
MAX_MATRIX_COLS = 8
WEIGHT_LEVELS = 32  # shades of the weight scale in binned (overview) attention patterns

# -- timing (seconds at pacing 1) ---------------------------------------------

BEAT = 1.2  # a typical animation
SHORT = 0.6
BEAT_PAUSE = 1.0  # silence between one beat's speech and the next: room to look at what was just shown
SETTLE = 0.3  # the picture rests a moment after the voice stops, before anything else moves
READING_RATE = 18.0  # characters per second a caption is comfortably read at (silent lessons)
# Characters per second of new on-screen words (three or more at a time), skimmed while the voice speaks: the
# screen labels what the voice explains, so it is skimmed faster than a caption is read; a beat whose new words
# take longer than its speech holds the picture until they have been (scenes/base.py).
ON_SCREEN_RATE = 24.0


def reading_time(text: str) -> float:
    """Seconds a beat's caption stays up in a silent lesson (at pacing 1)."""
    return max(1.5, len(text) / READING_RATE)


def reading_time_on_screen(chars: int) -> float:
    """Seconds ``chars`` characters of new words on screen need, read alongside the speech (at pacing 1)."""
    return chars / ON_SCREEN_RATE

# -- number formats --------------------------------------------------------------

WEIGHT_DIGITS = 2


# -- themes --------------------------------------------------------------------


@dataclass(frozen=True)
class Theme(Palette):
    """A palette (``scenes.lesson.colours``) with what draws it: the font of its words, colour lookups."""

    font: str = FONT  # Pango family of every word drawn (numbers keep ``MONO``: aligned columns)

    def head(self, i: int) -> ManimColor:
        return ManimColor(self.heads[i % len(self.heads)])

    def role(self, name: str) -> ManimColor:
        return ManimColor(self.roles[name])

    def weight_color(self, w: float) -> ManimColor:
        """Colour for an attention weight on the fixed [0, 1] scale."""
        w = min(max(float(w), 0.0), 1.0)
        stops = self.scale
        x = w * (len(stops) - 1)
        i = min(int(x), len(stops) - 2)
        return interpolate_color(ManimColor(stops[i]), ManimColor(stops[i + 1]), x - i)

    def signed_color(self, value: float, scale: float) -> ManimColor:
        """Text colour for a signed number: neutral near 0, full colour at |value| >= scale."""
        if not math.isfinite(value):
            return ManimColor(self.muted)
        t = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
        end = self.positive if value >= 0 else self.negative
        return interpolate_color(ManimColor(self.text), ManimColor(end), 0.35 + 0.65 * t)


DARK = Theme(**vars(colours.DARK))
LIGHT = Theme(**vars(colours.LIGHT))

THEMES = {"dark": DARK, "light": LIGHT}


def theme(name: str) -> Theme:
    """A theme as it ships (``look``: as a lesson's author set it)."""
    return THEMES[name]


def look(config) -> Theme:
    """The theme a lesson draws in: ``config.theme`` with the author's ``accent`` and ``font`` (the config checked
    both: the accent's contrast and distance from the heads' colours, the font installed and able to draw every
    word)."""
    base = THEMES[config.theme]
    return replace(base, highlight=config.accent_of(config.theme) or base.highlight, font=config.font or FONT)
