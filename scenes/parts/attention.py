"""Attention patterns: the [0, 1] colour bar, grids (rows = queries, columns = keys), arcs between tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, ArcBetweenPoints, Rectangle, Square, VGroup, VMobject

from .. import style
from ..layout import align_bottom, align_right
from ..style import Theme
from .numbers import NumberLabel, char_width, values_of
from .text import text
from .tokens import TokenRow
from .words import shared_text


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
    note: bool = True  # "first 12 of 18 tokens drawn" under a capped pattern (else say it once: cap_note)
    numbers: bool = False  # each cell's weight written in it
    title: str | None = None

    def but(self, **changes) -> "GridDecor":
        return replace(self, **changes)


#: A small pattern among many: no labels, axis words, bar or note of its own (the layout says them once).
OVERVIEW = GridDecor(labels=False, axes=False, bar=False, note=False)


class AttentionGrid(VGroup):
    """One attention pattern: rows = queries, columns = keys, cells shaded on the fixed [0, 1] scale.

    ``cells[q][k]`` (Squares; ``.weight`` attribute), ``numbers[q][k]`` (NumberLabels when
    ``decor.numbers``), ``row_labels``/``col_labels`` (query/key tokens), ``axis_labels``
    ("query" / "key"), ``bar`` (ColorBar or None), ``title`` (or None), ``frame`` (outline in the
    head's colour). Positions beyond ``max_tokens`` are cut and ``note`` says so (``decor``: what
    is drawn around the cells). ``binned=True`` (small overview patterns): cells are drawn as one
    path per shade, ``cells`` is None; use ``weights``, ``cell_box(q, k)`` and ``row_box(q)`` instead.
    """

    def __init__(self, th: Theme, weights, tokens: Sequence[str] | None = None, *, cell: float = 0.42,
                 decor: GridDecor = GridDecor(), max_tokens: int = style.MAX_TOKENS, color=None,
                 digits: int = style.WEIGHT_DIGITS, label_size: float = style.SMALL_SIZE, binned: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        w = values_of(weights)
        n_q, n_k = w.shape
        nq, nk = min(n_q, max_tokens), min(n_k, max_tokens)
        self.weights = w
        self.n_queries, self.n_keys, self.cell = nq, nk, cell
        self.grid = self._binned_cells(th) if binned else self._cells(th, decor.numbers, digits)
        self.frame = Rectangle(width=nk * cell, height=nq * cell, stroke_color=color or th.grid,
                               stroke_width=2.5 if color is not None else 1).move_to(self.grid)
        self.add(self.grid, self.frame)
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
            self.bar = ColorBar(th, height=min(2.2, max(1.2, nq * cell)))
            self.bar.next_to(self.frame, RIGHT, buff=style.GAP_BLOCK).align_to(self.frame, DOWN)
            self.add(self.bar)
        self.note = None
        if decor.note and max(n_q, n_k) > max_tokens:  # (else the caller says it once for many grids)
            self.note = text(th, shared_text("tokens-drawn", shown=max_tokens, n_tokens=max(n_q, n_k)),
                             style.SMALL_SIZE, th.muted)
            self.note.next_to(self.frame, DOWN, buff=style.GAP_LABEL)
            self.add(self.note)

    def _binned_cells(self, th: Theme) -> VGroup:
        """One path per shade (WEIGHT_LEVELS of them): a dozen small patterns stay cheap to draw and copy."""
        self.cells, self.numbers, cell = None, [], self.cell
        grid = VGroup()
        w = self.weights[: self.n_queries, : self.n_keys]
        levels = np.minimum((np.clip(w, 0, 1) * style.WEIGHT_LEVELS).astype(int), style.WEIGHT_LEVELS - 1)
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
                x = float(self.weights[q, k])
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
        return grid

    def _token_labels(self, th: Theme, tokens, labels: bool | str, size: float) -> None:
        """Query tokens left of the rows, key tokens (rotated) above the columns, as ``labels`` asks."""
        self.row_labels, self.col_labels = VGroup(), VGroup()
        if labels in (True, "rows") and tokens is not None:
            for q in range(self.n_queries):
                lab = text(th, tokens[q], size, th.text)
                lab.next_to(self.frame, LEFT, buff=style.GAP_LABEL).set_y(self.row_box(q).get_y())
                self.row_labels.add(lab)
            align_right(self.row_labels)
        if labels in (True, "cols") and tokens is not None:
            for k in range(self.n_keys):
                lab = text(th, tokens[k], size, th.text).rotate(math.pi / 2)
                lab.next_to(self.frame, UP, buff=style.GAP_LABEL).set_x(self.cell_box(0, k).get_x())
                self.col_labels.add(lab)
            align_bottom(self.col_labels)
        self.add(self.row_labels, self.col_labels)

    def _axis_words(self, th: Theme, size: float) -> VGroup:
        """'query →' down the left and 'key →' along the top, outside the token labels."""
        left_of = self.row_labels if len(self.row_labels) else self.frame
        top_of = self.col_labels if len(self.col_labels) else self.frame
        key = text(th, shared_text("key-axis"), size, th.muted).next_to(top_of, UP, buff=style.GAP_CHIP)
        key.align_to(self.frame, LEFT)
        query = text(th, shared_text("query-axis"), size, th.muted).rotate(-math.pi / 2)
        query.next_to(left_of, LEFT, buff=style.GAP_LABEL).align_to(self.frame, UP)
        return VGroup(query, key)

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
    return shared_text("tokens-drawn-after", shown=max_tokens, n_tokens=n_tokens) if n_tokens > max_tokens else ""


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
    w = values_of(weights_row).ravel()[: len(row.tokens)]
    order = np.argsort(-w)
    keep = [k for k in order if w[k] >= min_weight][: top or len(order)]
    return VGroup(*(attention_arc(th, row.tokens[query], row.tokens[k], w[k], color, below=below,
                                  max_width=max_width) for k in sorted(keep)))
