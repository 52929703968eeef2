"""Attention patterns: the [0, 1] colour bar, grids (rows = queries, columns = keys), arcs between tokens."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, ArcBetweenPoints, DashedLine, Rectangle, Square, Text, VGroup, VMobject

from .. import style
from ..layout import align_bottom, align_right
from ..style import Theme
from .numbers import NumberLabel, char_width, values_of
from .text import lighten, text
from .tokens import ELISION, TokenRow, elision_note, gaps, window
from .words import shared_text


class TurnedText(Text):
    """A ``Text`` turned on its side (a column's key label). Manim reads a text's font size from its height, which
    for turned text is how wide its letters run ("it" would read as size 12, "I" as 2); this one reads it from the
    spread of its glyphs about their centre, which turning leaves alone and scaling scales: after any turn and
    any shrink-to-fit, ``font_size`` is the size it is shown at."""

    upright: tuple[float, float] | None = None  # (font size, spread) before the first turn

    def _spread(self) -> float:
        points = self.get_all_points()[:, :2]
        return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))

    def turn(self, angle: float = math.pi / 2) -> "TurnedText":
        """Turn it by ``angle`` (a quarter turn: it reads bottom to top)."""
        if self.upright is None:
            self.upright = (Text.font_size.fget(self), self._spread())
        return self.rotate(angle)

    @property
    def font_size(self) -> float:
        if self.upright is None:
            return Text.font_size.fget(self)
        size, spread = self.upright
        return size * self._spread() / spread

    @font_size.setter
    def font_size(self, value: float) -> None:
        Text.font_size.fset(self, value)


@functools.lru_cache(maxsize=1024)
def _turned_proto(s: str, size: float, font: str) -> TurnedText:
    return lighten(TurnedText(s, font=font, font_size=size))


def turned_text(th: Theme, s: str, size: float, color=None, angle: float = math.pi / 2) -> TurnedText:
    """``s`` in the theme's font, turned by ``angle`` (a quarter turn: reads bottom to top), its ``font_size`` the
    size it is shown at (``TurnedText``)."""
    return _turned_proto(s, size, th.font).copy().set_color(color or th.text).turn(angle)


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
            tick.next_to(frame, RIGHT, buff=style.GAP_TIGHT).set_y(frame.get_bottom()[1] + value * height)
            self.ticks.add(tick)
        self.label = text(th, label, size, th.muted).next_to(VGroup(frame, self.ticks), UP, buff=style.GAP_LABEL)
        self.add(self.strip, frame, self.ticks, self.label)


@dataclass(frozen=True)
class GridDecor:
    """What is drawn around and on an attention pattern's cells."""

    labels: bool | str = True  # token labels: True, False, "rows" (query tokens only) or "cols" (key tokens)
    axes: bool = True  # the "query →" and "key →" words
    bar: bool = True  # the [0, 1] colour bar beside the pattern
    note: bool = True  # "… 4 of 18 tokens not drawn" under a windowed pattern (else say it once: cap_note)
    numbers: bool = False  # each cell's weight written in it
    title: str | None = None

    def but(self, **changes) -> "GridDecor":
        return replace(self, **changes)


GAP_CELLS = 0.5  # a gap in a long sentence's window: an empty strip this many cells wide across a pattern

#: A small pattern among many: no labels, axis words, bar or note of its own (the layout says them once).
OVERVIEW = GridDecor(labels=False, axes=False, bar=False, note=False)


class AttentionGrid(VGroup):
    """One attention pattern: rows = queries, columns = keys, cells shaded on the fixed [0, 1] scale.

    ``cells[q][k]`` (Squares; ``.weight`` attribute), ``numbers[q][k]`` (NumberLabels when
    ``decor.numbers``), ``row_labels``/``col_labels`` (query/key tokens), ``axis_labels``
    ("query" / "key"), ``bar`` (ColorBar or None), ``title`` (or None), ``frame`` (outline in the
    head's colour); ``decor``: what is drawn around the cells.

    ``positions``: the sentence positions drawn, as queries and as keys (a long sentence's window,
    ``Lesson.drawn_positions``); without it the first ``max_tokens`` of each. ``q`` and ``k`` above count drawn
    rows and columns: ``query_positions[q]``/``key_positions[k]`` are their places in the sentence
    (``query_index``/``key_index``: the reverse). Each gap in the window is an empty strip ``GAP_CELLS`` cells
    wide across the pattern, a dashed line down its middle (``breaks``), with a "…" among the token labels
    (``marks``), and ``note`` says how many tokens are not drawn. ``binned=True`` (small overview patterns): cells
    are drawn as one path per shade, ``cells`` is None; use ``weights``, ``cell_box(q, k)`` and ``row_box(q)``
    instead.
    """

    def __init__(self, th: Theme, weights, tokens: Sequence[str] | None = None, *,
                 positions: Sequence[int] | None = None, cell: float = 0.42, decor: GridDecor = GridDecor(),
                 max_tokens: int = style.MAX_TOKENS, color=None, digits: int = style.WEIGHT_DIGITS,
                 label_size: float = style.SMALL_SIZE, binned: bool = False, **kwargs):
        super().__init__(**kwargs)
        w = values_of(weights)
        n_q, n_k = w.shape
        self.query_positions = window(n_q, None if positions is None else [p for p in positions if p < n_q],
                                      max_tokens)
        self.key_positions = window(n_k, None if positions is None else [p for p in positions if p < n_k], max_tokens)
        self.weights = w
        self.shown = w[np.ix_(self.query_positions, self.key_positions)]  # [drawn query, drawn key]
        nq, nk = len(self.query_positions), len(self.key_positions)
        self.n_queries, self.n_keys, self.cell = nq, nk, cell
        self.query_gaps, self.key_gaps = gaps(self.query_positions, n_q), gaps(self.key_positions, n_k)
        # Each drawn row/column's offset in cells from the first (gaps included), and the pattern's size in cells.
        self._q_at = [q + GAP_CELLS * sum(g <= q for g in self.query_gaps) for q in range(nq)]
        self._k_at = [k + GAP_CELLS * sum(g <= k for g in self.key_gaps) for k in range(nk)]
        self._rows = nq + GAP_CELLS * len(self.query_gaps)
        self._cols = nk + GAP_CELLS * len(self.key_gaps)
        self.grid = self._binned_cells(th) if binned else self._cells(th, decor.numbers, digits)
        self.frame = Rectangle(width=self._cols * cell, height=self._rows * cell, stroke_color=color or th.grid,
                               stroke_width=2.5 if color is not None else 1)
        if self.query_gaps or self.key_gaps:  # the strips are part of the pattern: frame them too
            self.frame.move_to([(self._cols - 1) * cell / 2, -(self._rows - 1) * cell / 2, 0])
        else:
            self.frame.move_to(self.grid)
        self.add(self.grid, self.frame)
        self.breaks = self._breaks(th)
        if len(self.breaks):
            self.add(self.breaks)
        if decor.numbers and not binned:
            self.add(VGroup(*(n for row in self.numbers for n in row)))
        self._token_labels(th, tokens, decor.labels, label_size)
        self.axis_labels = self._axis_words(th, label_size) if decor.axes else VGroup()
        self.add(self.axis_labels)
        self.title = None
        if decor.title:
            self.title = text(th, decor.title, style.LABEL_SIZE, color or th.text)
            self.title.next_to(VGroup(self.frame, self.col_labels, self.axis_labels), UP, buff=style.GAP_LABEL)
            self.add(self.title)
        self.bar = None
        if decor.bar:
            self.bar = ColorBar(th, height=min(2.2, max(1.2, self._rows * cell)))
            self.bar.next_to(self.frame, RIGHT, buff=style.GAP_BLOCK).align_to(self.frame, DOWN)
            self.add(self.bar)
        self.note = None
        self.hidden = max(n_q - nq, n_k - nk)
        if decor.note and self.hidden:  # (else the caller says it once for many grids: cap_note)
            n_tokens = max(n_q, n_k)
            drawn = self.key_positions if n_k >= n_q else self.query_positions
            self.note = text(th, elision_note(n_tokens, drawn), style.SMALL_SIZE, th.muted)
            self.note.next_to(self.frame, DOWN, buff=style.GAP_LABEL)
            self.add(self.note)

    def _breaks(self, th: Theme) -> VGroup:
        """A dashed line down (across) the middle of each gap's strip: the pattern visibly breaks there, whatever
        the shade of the cells beside it (the lightest weights are near the background in the light theme)."""
        c, left, top = self.cell, self.frame.get_left()[0], self.frame.get_top()[1]
        dash = dict(dash_length=max(0.02, c / 5), stroke_width=1.5, stroke_color=th.muted)
        lines = VGroup()
        for g in self.key_gaps:
            x = left + ((self._k_at[g] if g < self.n_keys else self._cols) - GAP_CELLS / 2) * c
            lines.add(DashedLine([x, top, 0], [x, top - self._rows * c, 0], **dash))
        for g in self.query_gaps:
            y = top - ((self._q_at[g] if g < self.n_queries else self._rows) - GAP_CELLS / 2) * c
            lines.add(DashedLine([left, y, 0], [left + self._cols * c, y, 0], **dash))
        return lines

    def query_index(self, position: int) -> int | None:
        """The drawn row of sentence position ``position`` (None: elided)."""
        return self.query_positions.index(position) if position in self.query_positions else None

    def key_index(self, position: int) -> int | None:
        """The drawn column of sentence position ``position`` (None: elided)."""
        return self.key_positions.index(position) if position in self.key_positions else None

    def _binned_cells(self, th: Theme) -> VGroup:
        """One path per shade (WEIGHT_LEVELS of them): a dozen small patterns stay cheap to draw and copy."""
        self.cells, self.numbers, cell = None, [], self.cell
        grid = VGroup()
        w = self.shown
        levels = np.minimum((np.clip(w, 0, 1) * style.WEIGHT_LEVELS).astype(int), style.WEIGHT_LEVELS - 1)
        for lv in np.unique(levels):
            path = VMobject(stroke_color=th.background, stroke_width=1.0, fill_opacity=1,
                            fill_color=th.weight_color((lv + 0.5) / style.WEIGHT_LEVELS))
            for q, k in np.argwhere(levels == lv):
                x0, y0 = self._k_at[k] * cell - cell / 2, -self._q_at[q] * cell + cell / 2
                path.start_new_path(np.array([x0, y0, 0.0]))
                path.add_points_as_corners([[x0 + cell, y0, 0], [x0 + cell, y0 - cell, 0], [x0, y0 - cell, 0],
                                            [x0, y0, 0]])
            path.level = int(lv)
            grid.add(path)
        return grid

    def _cells(self, th: Theme, numbers: bool, digits: int) -> VGroup:
        """One Square per cell (``cells[q][k]``, ``.weight``), and its weight written in it if ``numbers``."""
        self.cells, self.numbers, cell = [], [], self.cell
        # Four characters ("0.37") must fit a cell: below ~0.6 units per cell, leave numbers out.
        number_size = min(style.NUMBER_SIZE, 0.85 * cell / (4 * char_width(1.0)))
        grid = VGroup()
        proto = Square(side_length=cell, stroke_color=th.background, stroke_width=1.2, fill_opacity=1)
        for q in range(self.n_queries):
            row, nums = [], []
            for k in range(self.n_keys):
                x = float(self.shown[q, k])
                sq = proto.copy().set_fill(th.weight_color(x), 1)  # copying is ~8x cheaper than Square()
                sq.move_to([self._k_at[k] * cell, -self._q_at[q] * cell, 0])
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
        return grid

    def _token_labels(self, th: Theme, tokens, labels: bool | str, size: float) -> None:
        """Query tokens left of the rows, key tokens (rotated) above the columns, as ``labels`` asks; a "…" where
        the window leaves tokens out (``marks``)."""
        self.row_labels, self.col_labels, self.marks = VGroup(), VGroup(), VGroup()
        if labels in (True, "rows") and tokens is not None:
            for q, p in enumerate(self.query_positions):
                lab = text(th, tokens[p], size, th.text)
                lab.next_to(self.frame, LEFT, buff=style.GAP_LABEL).set_y(self.row_box(q).get_y())
                self.row_labels.add(lab)
            marks = VGroup(*(text(th, ELISION, size, th.muted).next_to(self.frame, LEFT, buff=style.GAP_LABEL)
                             .set_y(self._gap_y(g)) for g in self.query_gaps))
            align_right(VGroup(*self.row_labels, *marks))
            self.marks.add(*marks)
        if labels in (True, "cols") and tokens is not None:
            for k, p in enumerate(self.key_positions):
                lab = turned_text(th, tokens[p], size, th.text)
                lab.next_to(self.frame, UP, buff=style.GAP_LABEL).set_x(self.cell_box(0, k).get_x())
                self.col_labels.add(lab)
            marks = VGroup(*(turned_text(th, ELISION, size, th.muted)
                             .next_to(self.frame, UP, buff=style.GAP_LABEL).set_x(self._gap_x(g))
                             for g in self.key_gaps))
            align_bottom(VGroup(*self.col_labels, *marks))
            self.marks.add(*marks)
        self.add(self.row_labels, self.col_labels)
        if len(self.marks):
            self.add(self.marks)

    def _axis_words(self, th: Theme, size: float) -> VGroup:
        """'query →' down the left and 'key →' along the top, outside the token labels."""
        left_of = self.row_labels if len(self.row_labels) else self.frame
        top_of = self.col_labels if len(self.col_labels) else self.frame
        key = text(th, shared_text("key-axis"), size, th.muted).next_to(top_of, UP, buff=style.GAP_CHIP)
        key.align_to(self.frame, LEFT)
        query = turned_text(th, shared_text("query-axis"), size, th.muted, angle=-math.pi / 2)
        query.next_to(left_of, LEFT, buff=style.GAP_LABEL).align_to(self.frame, UP)
        return VGroup(query, key)

    def row_cells(self, q: int) -> VGroup:
        return VGroup(*self.cells[q])

    def _unit(self) -> float:
        """A cell's side as drawn now (the pattern may have been scaled since)."""
        return self.frame.width / self._cols

    def _gap_x(self, g: int) -> float:
        """The x of the middle of the gap before drawn column ``g`` (``g = n_keys``: after the last)."""
        at = self._k_at[g] if g < self.n_keys else self._cols
        return self.frame.get_left()[0] + (at - GAP_CELLS / 2) * self._unit()

    def _gap_y(self, g: int) -> float:
        """The y of the middle of the gap before drawn row ``g`` (``g = n_queries``: after the last)."""
        at = self._q_at[g] if g < self.n_queries else self._rows
        return self.frame.get_top()[1] - (at - GAP_CELLS / 2) * self._unit()

    def cell_box(self, q: int, k: int) -> Rectangle:
        """An invisible square exactly over drawn cell (q, k) (works in binned mode too)."""
        x0, y1 = self.frame.get_left()[0], self.frame.get_top()[1]
        c = self._unit()
        return Square(side_length=c, stroke_width=0).move_to([x0 + (self._k_at[k] + 0.5) * c,
                                                             y1 - (self._q_at[q] + 0.5) * c, 0])

    def row_box(self, q: int) -> Rectangle:
        """An invisible rectangle over drawn query row q."""
        c = self._unit()
        return Rectangle(width=self.frame.width, height=c, stroke_width=0).move_to(
            [self.frame.get_x(), self.frame.get_top()[1] - (self._q_at[q] + 0.5) * c, 0])


def span_cells(n_tokens: int, positions: Sequence[int] | None = None, max_tokens: int = style.MAX_TOKENS) -> float:
    """How many cells across (and down) a pattern of ``n_tokens`` drawn through the window ``positions`` is, its
    gaps included (for sizing cells before the patterns are made)."""
    drawn = window(n_tokens, positions, max_tokens)
    return len(drawn) + GAP_CELLS * len(gaps(drawn, n_tokens))


def cap_note(n_tokens: int, positions: Sequence[int] | None = None, max_tokens: int = style.MAX_TOKENS) -> str:
    """'' or '; … 4 of 18 tokens not drawn' — for a caption under many patterns of one window (``positions``; else
    the first ``max_tokens``)."""
    return elision_note(n_tokens, window(n_tokens, positions, max_tokens), after=True)


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
    """Arcs from one query token to the keys it attends to (the ``top`` strongest, or those above ``min_weight``),
    among the tokens ``row`` draws. ``query``: the query's position in the sentence; ``weights_row``: its attention
    over the whole sentence."""
    w = values_of(weights_row).ravel()[list(row.positions)]
    order = np.argsort(-w)
    keep = [k for k in order if w[k] >= min_weight][: top or len(order)]
    source = row.tokens[row.index(query)]
    return VGroup(*(attention_arc(th, source, row.tokens[k], w[k], color, below=below,
                                  max_width=max_width) for k in sorted(keep)))
