"""Reusable visual parts of the lesson: tokens, matrices, attention grids, arcs, badges, formulas.

Every part takes the ``Theme`` first (``th = lesson.theme``) and takes all its
colours and sizes from ``scenes.style``. Parts return plain ``VGroup``
subclasses with named attributes, so a chapter can animate pieces of them:

    row = token_row(th, lesson.tokens)                       # row.tokens[i], row.words[i]
    A = attention_grid(th, lesson.trace.weights[0], lesson.tokens)   # A.cells[q][k], A.bar
    Q = number_matrix(th, lesson.trace.q[0], name="Q_1", row_labels=lesson.tokens)
    Q.entry(2, 1).value, Q.entry(2, 1).str                   # the source number and what is shown

Numbers are ``NumberLabel``s: built from cached glyphs (fast: a matrix of 64
numbers costs milliseconds, not seconds) and carrying ``.value`` (the tensor's
number) and ``.str`` (the displayed string) so tests read what is on screen.
Text and Typst mobjects are cached by content and copied.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Sequence

import numpy as np
from manim import (
    DOWN,
    LEFT,
    ORIGIN,
    RIGHT,
    UL,
    UP,
    ArcBetweenPoints,
    Brace,
    ManimColor,
    MathTypst,
    Rectangle,
    RoundedRectangle,
    Square,
    Text,
    Typst,
    UpdateFromAlphaFunc,
    VGroup,
    VMobject,
    config,
    interpolate_color,
)

from . import style
from .style import Theme

# -- text -----------------------------------------------------------------------


def _lighten(mob):
    """Drop each glyph's parsed SVG path (used only while building the points): copying a Text,
    which every FadeIn/Transform does, then costs ~1 ms instead of ~30 ms."""
    for m in mob.get_family():
        if getattr(m, "path_obj", None) is not None:
            m.path_obj = None
    return mob


@functools.lru_cache(maxsize=2048)
def _text_proto(text: str, font: str, size: float, weight: str, slant: str, ligatures: bool) -> Text:
    return _lighten(Text(text, font=font, font_size=size, weight=weight, slant=slant, disable_ligatures=not ligatures))


def text(th: Theme, s: str, size: float = style.BODY_SIZE, color=None, *, mono=False, bold=False, italic=False,
         ligatures=True) -> Text:
    """A ``manim.Text`` in the theme's text colour (cached by content: creating text is slow in Pango).

    ``ligatures=False`` gives exactly one submobject per character, spaces included.
    """
    font = style.MONO if mono else style.FONT
    weight, slant = "BOLD" if bold else "NORMAL", "ITALIC" if italic else "NORMAL"
    mob = _text_proto(s, font, size, weight, slant, ligatures).copy()
    return mob.set_color(color or th.text)


def paragraph(th: Theme, s: str, width: float, size: float = style.BODY_SIZE, color=None, *, line_buff=0.12,
              align=LEFT) -> VGroup:
    """Text wrapped to ``width`` (Manim units); lines are separate ``Text``s, left-aligned."""
    chars = max(8, int(width / (0.0082 * size)))  # DejaVu Sans: ~0.008 units per character per font point
    lines = textwrap.wrap(s, chars) or [""]
    group = VGroup(*(text(th, line, size, color) for line in lines))
    group.arrange(DOWN, aligned_edge=align, buff=line_buff)
    return fit(group, width=width)


@functools.lru_cache(maxsize=512)
def _typst_proto(source: str, size: float, math_mode: bool):
    return _lighten(MathTypst(source, font_size=size) if math_mode else Typst(source, font_size=size))


def formula(th: Theme, math_src: str, size: float = style.BODY_SIZE + 4, color=None) -> MathTypst:
    """Typst maths, e.g. ``formula(th, "d_k = frac(d, h)")`` (no LaTeX anywhere)."""
    return _typst_proto(math_src, size * style.TYPST_SCALE, True).copy().set_color(color or th.text)


def typst_text(th: Theme, source: str, size: float = style.BODY_SIZE, color=None) -> Typst:
    """Typst markup: ``*bold*``, ``_italic_``, inline ``$maths$``."""
    return _typst_proto(source, size * style.TYPST_SCALE, False).copy().set_color(color or th.text)


# -- numbers --------------------------------------------------------------------

_GLYPHS = "0123456789.\u2212+%"
_GLYPH_SIZE = 48


@functools.lru_cache(maxsize=1)
def _glyph_bank() -> tuple[dict[str, VMobject], float]:
    """One glyph per character of ``_GLYPHS`` cut from a single line of DejaVu Sans Mono (same baseline)."""
    line = _lighten(Text("0" + _GLYPHS + "0", font=style.MONO, font_size=_GLYPH_SIZE))
    glyphs = line.submobjects
    advance = (glyphs[-1].get_center()[0] - glyphs[0].get_center()[0]) / (len(glyphs) - 1)
    origin = glyphs[0].get_center()[0]
    bank = {}
    for j, ch in enumerate(_GLYPHS, start=1):
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
        bank, advance = _glyph_bank()
        if all(ch in bank for ch in shown):
            for k, ch in enumerate(shown):
                self.add(bank[ch].copy().shift(RIGHT * (k * advance)))
            self.scale(size / _GLYPH_SIZE, about_point=ORIGIN)
        else:  # a character the bank lacks: fall back to Pango
            self.add(_text_proto(shown, style.MONO, size, "NORMAL", "NORMAL", True).copy())
        if color is not None:
            self.set_color(color)

    @property
    def char_width(self) -> float:
        return _char_width(self.font_size)


def _char_width(size: float) -> float:
    """Advance of one DejaVu Sans Mono character at font size ``size`` (Manim units)."""
    return _glyph_bank()[1] * size / _GLYPH_SIZE


def number(th: Theme, value: float, digits: int = style.DIGITS, size: float = style.NUMBER_SIZE, color=None,
           *, signed_scale: float | None = None) -> NumberLabel:
    """One number formatted by ``style.fmt``; coloured by sign and size when ``signed_scale`` is given."""
    if color is None:
        color = th.signed_color(value, signed_scale) if signed_scale else th.text
    return NumberLabel(value, style.fmt(value, digits), size, color)


def _values(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().double().numpy()
    return np.asarray(tensor, dtype=float)


def shown_indices(n: int, limit: int) -> list[int | None]:
    """Which of n rows to draw: all if n <= limit, else the first limit-2, an ellipsis (None), the last."""
    if n <= limit:
        return list(range(n))
    return list(range(limit - 2)) + [None, n - 1]


class NumberMatrix(VGroup):
    """A matrix of NumberLabels in brackets; big matrices get an ellipsis row/column.

    ``rows``/``cols``: the source indices drawn (None = the ellipsis). ``entry(i, j)`` (source
    indices) -> NumberLabel or None if elided; ``row(i)``/``column(j)`` -> VGroup of drawn entries.
    ``body`` is numbers + ellipses, ``brackets``, ``row_labels``/``col_labels`` (VGroups, may be
    empty), ``name``/``shape`` (labels above/below, may be None).
    """

    def __init__(self, th: Theme, values, *, digits: int = style.DIGITS, size: float = style.NUMBER_SIZE,
                 max_rows: int = style.MAX_MATRIX_ROWS, max_cols: int = style.MAX_MATRIX_COLS,
                 row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                 name: str | None = None, name_color=None, shape: str | bool | None = True,
                 signed: bool = True, color=None, col_colors: Sequence | None = None, col_gap: float = 0.75,
                 row_gap: float = 0.55, label_size: float = style.SMALL_SIZE, width_chars: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        v = _values(values)
        if v.ndim == 1:
            v = v[None, :]
        self.values = v
        self.rows = shown_indices(v.shape[0], max_rows)
        self.cols = shown_indices(v.shape[1], max_cols)
        shown = v[[r for r in self.rows if r is not None]][:, [c for c in self.cols if c is not None]]
        finite = shown[np.isfinite(shown)]
        scale = float(np.abs(finite).max()) if finite.size else 1.0
        self._entries: dict[tuple[int, int], NumberLabel] = {}

        # Column width in characters: the widest number drawn, unless given (matrices that must line up).
        width_chars = width_chars or (max(len(style.fmt(x, digits)) for x in shown.flat) if shown.size else 1)
        char_w = _glyph_bank()[1] * size / _GLYPH_SIZE
        dx = width_chars * char_w + col_gap * char_w * 2  # column pitch
        dy = size / style.NUMBER_SIZE * row_gap * 0.62  # row pitch
        self.pitch = (dx, dy)
        body = VGroup()
        for a, r in enumerate(self.rows):
            for b, c in enumerate(self.cols):
                pos = np.array([b * dx, -a * dy, 0.0])
                if r is None or c is None:
                    glyph = "\u22f1" if (r is None and c is None) else ("\u22ee" if r is None else "\u22ef")
                    mob = text(th, glyph, size, th.muted)
                    mob.move_to(pos)
                else:
                    x = float(v[r, c])
                    col = color or (col_colors[c] if col_colors is not None else None)
                    if col is None:
                        col = th.signed_color(x, scale) if signed else th.text
                    mob = NumberLabel(x, style.fmt(x, digits), size, col)
                    # Right-align: decimal points line up (fixed digits, monospace).
                    mob.move_to(pos + RIGHT * (dx / 2 - col_gap * char_w), aligned_edge=RIGHT)
                    self._entries[(r, c)] = mob
                body.add(mob)
        self.body = body
        # The brackets hug the columns' width, not the ink: same shape and width for same-sized matrices.
        slot_right = (len(self.cols) - 1) * dx + dx / 2 - col_gap * char_w
        self.brackets = _brackets(th, body, x_range=(dx / 2 - col_gap * char_w - width_chars * char_w, slot_right))
        self.add(self.brackets, body)

        self.row_labels = VGroup()
        if row_labels is not None:
            for a, r in enumerate(self.rows):
                if r is None:
                    continue
                lab = text(th, str(row_labels[r]), label_size, th.muted)
                lab.next_to(self.brackets[0], LEFT, buff=0.15).set_y(body[a * len(self.cols)].get_y())
                self.row_labels.add(lab)
            _align_right(self.row_labels)
            self.add(self.row_labels)
        self.col_labels = VGroup()
        if col_labels is not None:
            for b, c in enumerate(self.cols):
                if c is None:
                    continue
                lab = text(th, str(col_labels[c]), label_size, th.muted)
                lab.next_to(body, UP, buff=0.12).set_x(body[b].get_x())
                self.col_labels.add(lab)
            self.add(self.col_labels)

        self.name = None
        if name:
            self.name = formula(th, name, style.LABEL_SIZE + 4, name_color or th.text)
            top = self.col_labels if len(self.col_labels) else self.brackets
            self.name.next_to(top, UP, buff=0.15)
            self.add(self.name)
        self.shape = None
        if shape:
            shape_text = shape if isinstance(shape, str) else f"{v.shape[0]} \u00d7 {v.shape[1]}"
            self.shape = text(th, shape_text, style.SMALL_SIZE, th.muted)
            self.shape.next_to(self.brackets, DOWN, buff=0.12)
            self.add(self.shape)

    def entry(self, i: int, j: int) -> NumberLabel | None:
        return self._entries.get((i, j))

    @property
    def entries(self) -> list[NumberLabel]:
        return list(self._entries.values())

    def row(self, i: int) -> VGroup:
        return VGroup(*(m for (r, _), m in self._entries.items() if r == i))

    def column(self, j: int) -> VGroup:
        return VGroup(*(m for (_, c), m in self._entries.items() if c == j))

    def column_block(self, j0: int, j1: int) -> VGroup:
        """Drawn entries of source columns j0..j1-1 (a head's block of W_Q)."""
        return VGroup(*(m for (_, c), m in self._entries.items() if j0 <= c < j1))


def number_matrix(th: Theme, values, **kwargs) -> NumberMatrix:
    """See ``NumberMatrix``; e.g. ``number_matrix(th, trace.q[0], name="Q_1", row_labels=tokens)``."""
    return NumberMatrix(th, values, **kwargs)


def number_row(th: Theme, values, *, digits: int = style.DIGITS, size: float = style.NUMBER_SIZE, color=None,
               signed: bool = True, gap: float = 0.35) -> VGroup:
    """A horizontal list of NumberLabels (no brackets): a worked row of scores or weights."""
    v = _values(values).ravel()
    scale = float(np.abs(v[np.isfinite(v)]).max()) if np.isfinite(v).any() else 1.0
    row = VGroup()
    for x in v:
        col = color or (th.signed_color(x, scale) if signed else th.text)
        row.add(NumberLabel(x, style.fmt(x, digits), size, col))
    return row.arrange(RIGHT, buff=gap)


def _brackets(th: Theme, body: VMobject, pad: float = 0.12, tick: float = 0.1,
              x_range: tuple[float, float] | None = None) -> VGroup:
    """[ ] around ``body``; ``x_range``: the (left, right) to enclose, if wider than the ink."""
    left, right = body.get_left()[0], body.get_right()[0]
    if x_range is not None:
        left, right = min(left, x_range[0]), max(right, x_range[1])
    left, right = left - pad, right + pad
    top, bottom = body.get_top()[1] + pad * 0.8, body.get_bottom()[1] - pad * 0.8

    def bracket(x, sign):
        m = VMobject(stroke_color=th.grid, stroke_width=2)
        m.set_points_as_corners([[x + sign * tick, top, 0], [x, top, 0], [x, bottom, 0], [x + sign * tick, bottom, 0]])
        return m

    return VGroup(bracket(left, 1), bracket(right, -1))


def _align_right(group: VGroup) -> None:
    if len(group):
        x = max(m.get_right()[0] for m in group)
        for m in group:
            m.shift(RIGHT * (x - m.get_right()[0]))


def heatmap(th: Theme, values, height: float, *, width: float | None = None, levels: int = 8,
            scale: float | None = None) -> VGroup:
    """A matrix as coloured cells (sign and size), without numbers: for matrices too big to read.

    Cells are binned into ``levels`` shades per sign and each shade is one path, so even
    48 x 48 cells cost a few dozen mobjects. ``.values`` keeps the matrix drawn. (Manim 0.22's
    ImageMobject cannot be drawn with this Pillow, so no images.)
    """
    v = _values(values)
    rows, cols = v.shape
    width = width if width is not None else height * cols / rows
    cw, ch = width / cols, height / rows
    scale = scale or float(np.abs(v).max()) or 1.0
    level = np.minimum((np.abs(v) / scale) ** 0.7 * levels, levels - 1e-9).astype(int)  # gamma: small stay visible
    group = VGroup()
    for sign, end in ((1, th.positive), (-1, th.negative)):
        for lv in range(levels):
            where = np.argwhere((np.sign(v) >= 0 if sign > 0 else v < 0) & (level == lv))
            if not len(where):
                continue
            path = VMobject(stroke_width=0, fill_opacity=1,
                            fill_color=interpolate_color(ManimColor(th.panel), ManimColor(end), (lv + 1) / levels))
            for r, c in where:
                x0, y0 = c * cw, -r * ch
                path.start_new_path(np.array([x0, y0, 0.0]))
                path.add_points_as_corners([[x0 + cw, y0, 0], [x0 + cw, y0 - ch, 0], [x0, y0 - ch, 0], [x0, y0, 0]])
            group.add(path)
    frame = Rectangle(width=width, height=height, stroke_width=0).move_to([width / 2, -height / 2, 0])
    group.add(frame)  # keeps the bounding box whole even where a corner is empty
    group.values = v
    return group


# -- tokens -----------------------------------------------------------------------


class TokenRow(VGroup):
    """Tokens in boxes, left to right. ``tokens[i]`` = VGroup(box, word), ``words[i]``, ``boxes[i]``;
    ``hidden`` = how many tokens were not drawn (long sentence), ``note`` says so on screen (or None).

    The words are cut from one line of text, so they share a baseline ("was" does not float above "The").
    """

    def __init__(self, th: Theme, tokens: Sequence[str], *, size: float = style.BODY_SIZE,
                 max_tokens: int = style.MAX_TOKENS, max_width: float | None = None, buff: float = 0.14,
                 colors: Sequence | None = None, boxed: bool = True, **kwargs):
        super().__init__(**kwargs)
        shown = list(tokens[:max_tokens])
        self.hidden = len(tokens) - len(shown)
        self.words, self.boxes, self.tokens = VGroup(), VGroup(), VGroup()
        words, mid = baseline_words(th, shown, size)
        box_h = size / 48 * 0.85
        for i, word in enumerate(words):
            box = RoundedRectangle(
                corner_radius=0.08, width=max(word.width, size / 48 * 0.3) + 0.22, height=box_h,
                stroke_color=(colors[i] if colors else th.grid), stroke_width=1.5 if boxed else 0,
                fill_color=th.panel, fill_opacity=1 if boxed else 0,
            )
            box.move_to([word.get_x(), mid, 0])  # same height for every box around the shared line
            self.words.add(word)
            self.boxes.add(box)
            self.tokens.add(VGroup(box, word))
        self.tokens.arrange(RIGHT, buff=buff, center=True, aligned_edge=DOWN)
        self.add(self.tokens)
        self.note = None
        if self.hidden:
            self.note = text(th, f"+{self.hidden} more tokens not drawn", style.SMALL_SIZE, th.muted)
            self.note.next_to(self.tokens, DOWN, buff=0.15)
            self.add(self.note)
        if max_width is not None:
            fit(self, width=max_width)


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
        out.append(Glyphs(w, line.submobjects[k:k + len(w)]))
        k += len(w) + 2
    return out, mid


class Glyphs(VGroup):
    """Glyphs cut from a longer Text (a word of a token row); ``.text`` is the word."""

    def __init__(self, word: str, glyphs, **kwargs):
        super().__init__(*glyphs, **kwargs)
        self.text = word


def token_row(th: Theme, tokens: Sequence[str], **kwargs) -> TokenRow:
    return TokenRow(th, tokens, **kwargs)


# -- attention patterns ----------------------------------------------------------


class ColorBar(VGroup):
    """The fixed [0, 1] attention-weight scale, vertical, with ticks 0 / 0.5 / 1 and a label."""

    def __init__(self, th: Theme, height: float = 2.0, width: float = 0.18, *, label: str = "weight",
                 size: float = style.SMALL_SIZE, steps: int = 24, **kwargs):
        super().__init__(**kwargs)
        h = height / steps
        self.strip = VGroup(*(
            Rectangle(width=width, height=h, stroke_width=0, fill_opacity=1,
                      fill_color=th.weight_color((k + 0.5) / steps)).move_to(UP * (k * h))
            for k in range(steps)
        ))
        frame = Rectangle(width=width, height=height, stroke_color=th.grid, stroke_width=1).move_to(self.strip)
        self.ticks = VGroup()
        for value, shown in ((0.0, "0"), (0.5, "0.5"), (1.0, "1")):
            tick = NumberLabel(value, shown, size, th.muted)
            tick.next_to(frame, RIGHT, buff=0.08).set_y(frame.get_bottom()[1] + value * height)
            self.ticks.add(tick)
        self.label = text(th, label, size, th.muted).next_to(VGroup(frame, self.ticks), UP, buff=0.12)
        self.add(self.strip, frame, self.ticks, self.label)


def color_bar(th: Theme, height: float = 2.0, **kwargs) -> ColorBar:
    return ColorBar(th, height, **kwargs)


class AttentionGrid(VGroup):
    """One attention pattern: rows = queries, columns = keys, cells shaded on the fixed [0, 1] scale.

    ``cells[q][k]`` (Squares; ``.weight`` attribute), ``numbers[q][k]`` (NumberLabels when
    ``numbers=True``), ``row_labels``/``col_labels`` (query/key tokens), ``axis_labels``
    ("query" / "key"), ``bar`` (ColorBar or None), ``title`` (or None), ``frame`` (outline in the
    head's colour). Positions beyond ``max_tokens`` are cut and ``note`` says so.
    ``labels``: True, False, "rows" (query tokens only) or "cols" (key tokens only).
    With ``note=False`` nothing says so: put ``parts.cap_note(n)`` in a caption shared by many grids.
    ``binned=True`` (small overview patterns): cells are drawn as one path per shade, ``cells`` is None;
    use ``weights``, ``cell_box(q, k)`` and ``row_box(q)`` instead.
    """

    def __init__(self, th: Theme, weights, tokens: Sequence[str] | None = None, *, cell: float = 0.42,
                 max_tokens: int = style.MAX_TOKENS, numbers: bool = False, digits: int = style.WEIGHT_DIGITS,
                 labels: bool = True, axes: bool = True, bar: bool = True, title: str | None = None,
                 color=None, label_size: float = style.SMALL_SIZE, mask=None, note: bool = True,
                 binned: bool = False, **kwargs):
        super().__init__(**kwargs)
        w = _values(weights)
        n_q, n_k = w.shape
        nq, nk = min(n_q, max_tokens), min(n_k, max_tokens)
        self.weights = w
        self.cells, self.numbers = [], []
        self.n_queries, self.n_keys, self.cell = nq, nk, cell
        # Four characters ("0.37") must fit a cell: below ~0.6 units per cell, leave numbers out.
        number_size = min(style.NUMBER_SIZE, 0.85 * cell / (4 * _char_width(1.0)))
        grid = VGroup()
        if binned:
            # One path per shade (WEIGHT_LEVELS of them): a dozen small patterns stay cheap to draw and copy.
            self.cells = None
            levels = np.minimum((np.clip(w[:nq, :nk], 0, 1) * style.WEIGHT_LEVELS).astype(int), style.WEIGHT_LEVELS - 1)
            for lv in np.unique(levels):
                path = VMobject(stroke_color=th.background, stroke_width=1.0, fill_opacity=1,
                                fill_color=th.weight_color((lv + 0.5) / style.WEIGHT_LEVELS))
                for q, k in np.argwhere(levels == lv):
                    x0, y0 = k * cell - cell / 2, -q * cell + cell / 2
                    path.start_new_path(np.array([x0, y0, 0.0]))
                    path.add_points_as_corners([[x0 + cell, y0, 0], [x0 + cell, y0 - cell, 0], [x0, y0 - cell, 0],
                                                [x0, y0, 0]])
                path.level = int(lv)
                grid.add(path)
        proto = Square(side_length=cell, stroke_color=th.background, stroke_width=1.2, fill_opacity=1)
        for q in range(nq) if not binned else ():
            row, nums = [], []
            for k in range(nk):
                x = float(w[q, k])
                sq = proto.copy().set_fill(th.weight_color(x), 1)  # copying is ~8x cheaper than Square()
                sq.move_to([k * cell, -q * cell, 0])
                sq.weight = x
                row.append(sq)
                grid.add(sq)
                if numbers:
                    # Both scales run from ~background (0) to high contrast (1): flip the ink half-way.
                    num = NumberLabel(x, style.fmt(x, digits), number_size, th.text if x < 0.55 else th.background)
                    num.move_to(sq)
                    nums.append(num)
            self.cells.append(row)
            self.numbers.append(nums)
        self.grid = grid
        self.frame = Rectangle(width=nk * cell, height=nq * cell, stroke_color=color or th.grid,
                               stroke_width=2.5 if color is not None else 1).move_to(grid)
        self.add(grid, self.frame)
        if numbers:
            self.add(VGroup(*(n for row in self.numbers for n in row)))

        self.row_labels, self.col_labels, self.axis_labels = VGroup(), VGroup(), VGroup()
        if labels in (True, "rows") and tokens is not None:
            for q in range(nq):
                lab = text(th, tokens[q], label_size, th.text)
                lab.next_to(self.frame, LEFT, buff=0.12).set_y(self.row_box(q).get_y())
                self.row_labels.add(lab)
            _align_right(self.row_labels)
        if labels in (True, "cols") and tokens is not None:
            for k in range(nk):
                lab = text(th, tokens[k], label_size, th.text).rotate(math.pi / 2)
                lab.next_to(self.frame, UP, buff=0.12).set_x(self.cell_box(0, k).get_x())
                self.col_labels.add(lab)
            _align_bottom(self.col_labels)
        self.add(self.row_labels, self.col_labels)
        if axes:
            left_of = self.row_labels if len(self.row_labels) else self.frame
            top_of = self.col_labels if len(self.col_labels) else self.frame
            key = text(th, "key \u2192", label_size, th.muted).next_to(top_of, UP, buff=0.1)
            key.align_to(self.frame, LEFT)
            query = text(th, "query \u2192", label_size, th.muted).rotate(-math.pi / 2)
            query.next_to(left_of, LEFT, buff=0.12).align_to(self.frame, UP)
            self.axis_labels.add(query, key)
            self.add(self.axis_labels)
        self.title = None
        if title:
            self.title = text(th, title, style.LABEL_SIZE, color or th.text)
            self.title.next_to(VGroup(self.frame, self.col_labels, self.axis_labels), UP, buff=0.12)
            self.add(self.title)
        self.bar = None
        if bar:
            self.bar = ColorBar(th, height=min(2.2, max(1.2, nq * cell)))
            self.bar.next_to(self.frame, RIGHT, buff=0.3).align_to(self.frame, DOWN)
            self.add(self.bar)
        self.note = None
        if note and max(n_q, n_k) > max_tokens:  # (note=False: the caller says it once for many grids)
            self.note = text(th, f"first {max_tokens} of {max(n_q, n_k)} tokens drawn", style.SMALL_SIZE, th.muted)
            self.note.next_to(self.frame, DOWN, buff=0.12)
            self.add(self.note)

    def row_cells(self, q: int) -> VGroup:
        return VGroup(*self.cells[q])

    def cell_box(self, q: int, k: int) -> Rectangle:
        """An invisible square exactly over cell (q, k) (works in binned mode too)."""
        x0, y1 = self.frame.get_left()[0], self.frame.get_top()[1]
        c = self.frame.width / self.n_keys
        return Square(side_length=c, stroke_width=0).move_to([x0 + (k + 0.5) * c, y1 - (q + 0.5) * c, 0])

    def row_box(self, q: int) -> Rectangle:
        """An invisible rectangle over query row q."""
        c = self.frame.width / self.n_keys
        return Rectangle(width=self.frame.width, height=c, stroke_width=0).move_to(
            [self.frame.get_x(), self.frame.get_top()[1] - (q + 0.5) * c, 0])


def cap_note(n_tokens: int, max_tokens: int = style.MAX_TOKENS) -> str:
    """'' or '; first 12 of 18 tokens drawn' — for a caption under many capped patterns."""
    return f"; first {max_tokens} of {n_tokens} tokens drawn" if n_tokens > max_tokens else ""


def attention_grid(th: Theme, weights, tokens=None, **kwargs) -> AttentionGrid:
    return AttentionGrid(th, weights, tokens, **kwargs)


def _align_bottom(group: VGroup) -> None:
    if len(group):
        y = min(m.get_bottom()[1] for m in group)
        for m in group:
            m.shift(UP * (y - m.get_bottom()[1]))


# -- arcs --------------------------------------------------------------------------


def attention_arc(th: Theme, source: VMobject, target: VMobject, weight: float, color=None, *,
                  max_width: float = 10.0, height: float = 0.6, below: bool = False) -> VMobject:
    """An arc over (or under) a token row from ``source`` to ``target``; stroke width and opacity by weight."""
    color = color or th.text
    w = float(weight)
    width, opacity = max(0.8, max_width * w), 0.3 + 0.7 * min(1.0, w * 1.5)
    edge = DOWN if below else UP
    a, b = source.get_edge_center(edge), target.get_edge_center(edge)
    if np.allclose(a, b):  # a token attending to itself: a small loop
        loop = ArcBetweenPoints(a + LEFT * 0.12, a + RIGHT * 0.12, angle=(1 if below else -1) * 1.6 * math.pi)
        return loop.set_stroke(color, width, opacity)
    span = abs(b[0] - a[0])
    angle = -2 * math.atan(2 * min(height + 0.08 * span, 1.6) / max(span, 1e-6))
    if (b[0] < a[0]) != below:
        angle = -angle
    arc = ArcBetweenPoints(a, b, angle=angle)
    arc.set_stroke(color, width, opacity)
    arc.weight = w
    return arc


def attention_arcs(th: Theme, row: TokenRow, query: int, weights_row, color=None, *, min_weight: float = 0.0,
                   top: int | None = None, below: bool = False, max_width: float = 10.0) -> VGroup:
    """Arcs from one query token to the keys it attends to (the ``top`` strongest, or those above ``min_weight``)."""
    w = _values(weights_row).ravel()[: len(row.tokens)]
    order = np.argsort(-w)
    keep = [k for k in order if w[k] >= min_weight][: top or len(order)]
    return VGroup(*(attention_arc(th, row.tokens[query], row.tokens[k], w[k], color, below=below,
                                  max_width=max_width) for k in sorted(keep)))


# -- badges, braces, cards, headers ----------------------------------------------------


def shape_badge(th: Theme, s: str, color=None, size: float = style.SMALL_SIZE, *, math_mode: bool = False) -> VGroup:
    """A small rounded tag: ``shape_badge(th, "9 × 4")`` or ``shape_badge(th, "n times d_k", math_mode=True)``."""
    label = formula(th, s, size, color or th.text) if math_mode else text(th, s, size, color or th.text)
    box = RoundedRectangle(corner_radius=0.1, width=label.width + 0.25, height=label.height + 0.18,
                           stroke_color=color or th.grid, stroke_width=1.5, fill_color=th.panel, fill_opacity=1)
    badge = VGroup(box, label.move_to(box))
    badge.label = label
    return badge


def brace_label(th: Theme, mob: VMobject, s: str, direction=DOWN, color=None, size: float = style.SMALL_SIZE,
                *, math_mode: bool = False, buff: float = 0.08) -> VGroup:
    """A brace along one side of ``mob`` with a label (Typst maths if ``math_mode``)."""
    brace = Brace(mob, direction=direction, buff=buff, sharpness=1.5)
    brace.set_color(color or th.muted)
    label = formula(th, s, size, color or th.text) if math_mode else text(th, s, size, color or th.text)
    label.next_to(brace, direction, buff=0.08)
    group = VGroup(brace, label)
    group.brace, group.label = brace, label
    return group


def card(th: Theme, content: VMobject, *, accent=None, buff: float = 0.22, width: float | None = None) -> VGroup:
    """A panel behind ``content`` (optionally with an accent bar on its left)."""
    pad_left = 0.12 if accent is not None else 0.0  # room for the accent bar
    w = max(content.width + 2 * buff + pad_left, width or 0)
    box = RoundedRectangle(corner_radius=0.12, width=w, height=content.height + 2 * buff,
                           stroke_color=accent or th.grid, stroke_width=1.2, fill_color=th.panel, fill_opacity=1)
    box.move_to(content).shift(LEFT * pad_left / 2)
    group = VGroup(box)
    if accent is not None:
        bar = Rectangle(width=0.07, height=box.height - 0.16, stroke_width=0, fill_color=accent, fill_opacity=1)
        bar.move_to(box.get_left() + RIGHT * 0.1)
        group.add(bar)
    group.add(content)
    group.box, group.content = box, content
    return group


def formula_card(th: Theme, *lines: str, title: str | None = None, size: float = style.BODY_SIZE + 2,
                 accent=None) -> VGroup:
    """Typst maths lines on a panel, e.g. ``formula_card(th, "head_i = softmax(...) V_i", title="one head")``."""
    rows = VGroup(*(formula(th, line, size) for line in lines)).arrange(DOWN, buff=0.22, aligned_edge=LEFT)
    if title:
        rows = VGroup(text(th, title, style.SMALL_SIZE, th.muted), rows).arrange(DOWN, buff=0.15, aligned_edge=LEFT)
    return card(th, rows, accent=accent)


def note(th: Theme, s: str, *, width: float = 5.0, kind: str = "info", size: float = style.LABEL_SIZE) -> VGroup:
    """A callout: ``kind="caveat"`` / ``"trap"`` get the warning accent, ``"info"`` the muted one."""
    accent = th.warn if kind in ("caveat", "trap") else th.muted
    return card(th, paragraph(th, s, width - 0.5, size), accent=accent)


def chapter_header(th: Theme, number: int, title: str, subtitle: str | None = None) -> VGroup:
    """'2  One head' at the top-left, and an optional muted line under it (e.g. the model's sizes)."""
    line = text(th, f"{number}  {title}", style.TITLE_SIZE, th.text, bold=True)
    line[: len(str(number))].set_color(th.highlight)  # one glyph per non-space character
    group = VGroup(line)
    if subtitle:
        group.add(text(th, subtitle, style.SMALL_SIZE, th.muted))
        group.arrange(DOWN, aligned_edge=LEFT, buff=0.12)
    group.to_corner(UL, buff=style.TITLE_BUFF)
    fit(group, width=config.frame_width - 2 * style.TITLE_BUFF)
    return group.to_corner(UL, buff=style.TITLE_BUFF)


def model_line(lesson) -> str:
    """The live model's sizes, for chapter subtitles: 'toy model (untrained, seed 0) · d = 16 · h = 4 · d_k = 4'."""
    return f"{lesson.model_name} \u00b7 d = {lesson.d_model} \u00b7 h = {lesson.n_head} \u00b7 d_k = {lesson.d_head}"


def head_chip(th: Theme, head: int, size: float = style.SMALL_SIZE, label: str | None = None) -> VGroup:
    """A filled tag in head ``head``'s colour reading 'head 1' (heads are numbered from 1 on screen)."""
    word = text(th, label or f"head {head + 1}", size, th.background, bold=True)
    box = RoundedRectangle(corner_radius=0.08, width=word.width + 0.2, height=word.height + 0.14,
                           stroke_width=0, fill_color=th.head(head), fill_opacity=1)
    chip = VGroup(box, word.move_to(box))
    chip.label = word
    return chip


def highlight_box(th: Theme, mob: VMobject, buff: float = 0.06, color=None) -> Rectangle:
    """A frame around ``mob`` (the focus / the sweep)."""
    r = Rectangle(width=mob.width + 2 * buff, height=mob.height + 2 * buff, stroke_color=color or th.highlight,
                  stroke_width=3)
    return r.move_to(mob)


# -- animation helpers ---------------------------------------------------------------------


def sweep(frame: VMobject, targets: Sequence[VMobject], reveal: Sequence[VMobject] | None = None):
    """One animation: ``frame`` slides across ``targets`` in order; ``reveal[i]`` fades in as it reaches target i.

    Use when a product is computed along a row: ``self.play(sweep(box, row_cells, numbers), run_time=3)``.
    """
    centres = [t.get_center() for t in targets]
    n = len(centres)
    revealed = list(reveal or [])
    for mob in revealed:
        mob.set_opacity(0)

    def update(mob, alpha):
        x = alpha * (n - 1)
        i = min(int(x), n - 2) if n > 1 else 0
        p = centres[i] if n == 1 else centres[i] + (centres[i + 1] - centres[i]) * (x - i)
        mob.move_to(p)
        for j, r in enumerate(revealed):
            if j <= x + 0.5:
                r.set_opacity(1)

    return UpdateFromAlphaFunc(frame, update)


def hold(scene, at_least: float = 0.0) -> None:
    """Wait until the narration cue now open has been up long enough to read (``style.reading_time``).

    Call it at the end of a beat, after its animations: the captions come from the cues, so a
    cue must stay up as long as it takes to read, whatever the animations take. Reading time
    scales with the pacing like everything else (pacing 2 = everything twice as slow).
    """
    needed = at_least
    cue = scene.open_cue
    if cue is not None:
        start, said = cue
        needed = max(needed, style.reading_time(said))
        needed -= (scene.now - start) / scene.pacing  # in unpaced seconds, as ``wait`` expects
    if needed * scene.pacing > 0.05:
        scene.wait(needed)


# -- layout helpers ----------------------------------------------------------------

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



def fit(mob: VMobject, width: float | None = None, height: float | None = None) -> VMobject:
    """Scale ``mob`` down (never up) to fit the given box."""
    factor = 1.0
    if width is not None and mob.width > width:
        factor = min(factor, width / mob.width)
    if height is not None and mob.height > height:
        factor = min(factor, height / mob.height)
    if factor < 1.0:
        mob.scale(factor)
    return mob


def content_box() -> tuple[float, float, float, float]:
    """(left, right, bottom, top) of the area below a chapter header, in Manim units."""
    w, h = config.frame_width / 2, config.frame_height / 2
    m = style.FRAME_MARGIN
    return (-w + m, w - m, -h + m, h - 1.25)
