"""Matrices of numbers: ``NumberMatrix`` (brackets, elided middle), ``HeadBlocks`` (columns or rows
in h head blocks), row vectors and stacks of them, heatmaps for matrices too big to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Line, ManimColor, Rectangle, VGroup, VMobject, interpolate_color

from mha_core.sizes import shown_indices

from .. import style
from ..layout import align_right, fit
from ..style import Theme
from .chrome import head_chip
from .numbers import NumberLabel, char_width, values_of
from .text import formula, text

# A blocked matrix shows at most this many heads (the first ones and the last, an ellipsis between)
# and this many columns (or rows) of each head: enough to see the blocks, few enough to read at 480p.
MAX_BLOCK_HEADS = 4
MAX_PER_HEAD = 3


@dataclass(frozen=True)
class MatrixLabels:
    """The words around a matrix: token labels of its rows (and columns), its name above it, its shape below."""

    rows: Sequence[str] | None = None  # one label per source row (only the drawn ones are shown)
    cols: Sequence[str] | None = None  # one label per source column
    name: str | None = None  # Typst maths, e.g. "W_Q^((1))"
    name_color: object = None
    shape: str | bool | None = True  # True: "n × m" from the values; a string: that text; False: none
    size: float = style.SMALL_SIZE  # row and column labels


class _NumberGrid(VGroup):
    """What a matrix of numbers and a matrix in head blocks share: the pitch of their cells, numbers
    right-aligned in a cell (decimal points line up), row labels left of the brackets, the shape
    under them, and ``entry(i, j)`` by source indices."""

    def _pitch(self, size: float, width_chars: int, col_gap: float, row_gap: float = 0.55) -> tuple[float, float]:
        """(column, row) pitch: ``width_chars`` characters plus ``col_gap`` characters each side."""
        char_w = char_width(size)
        self.inset = col_gap * char_w  # from a cell's right edge to its number's right edge
        return width_chars * char_w + col_gap * char_w * 2, size / style.NUMBER_SIZE * row_gap * 0.62

    def _place(self, mob: NumberLabel, centre, dx: float) -> NumberLabel:
        """Right-align ``mob`` in the cell of width ``dx`` centred at ``centre``."""
        return mob.move_to(centre + RIGHT * (dx / 2 - self.inset), aligned_edge=RIGHT)

    def _label_rows(self, th: Theme, labels: Sequence[str], ys: Sequence[float], size: float) -> VGroup:
        """Row labels, right-aligned, left of the brackets at heights ``ys``."""
        group = VGroup()
        for label, y in zip(labels, ys):
            lab = text(th, str(label), size, th.muted)
            group.add(lab.next_to(self.brackets[0], LEFT, buff=style.GAP_NAME).set_y(y))
        align_right(group)
        return group

    def _label_shape(self, th: Theme, shape: str | bool | None) -> VMobject | None:
        """The matrix's shape ("9 × 16", or the text given) under its brackets."""
        if not shape:
            return None
        shape_text = shape if isinstance(shape, str) else f"{self.values.shape[0]} \u00d7 {self.values.shape[1]}"
        return text(th, shape_text, style.SMALL_SIZE, th.muted).next_to(self.brackets, DOWN, buff=style.GAP_LABEL)

    def entry(self, i: int, j: int) -> NumberLabel | None:
        return self._entries.get((i, j))

    @property
    def entries(self) -> list[NumberLabel]:
        return list(self._entries.values())


class NumberMatrix(_NumberGrid):
    """A matrix of NumberLabels in brackets; big matrices get an ellipsis row/column.

    ``rows``/``cols``: the source indices drawn (None = the ellipsis). ``entry(i, j)`` (source
    indices) -> NumberLabel or None if elided; ``row(i)``/``column(j)`` -> VGroup of drawn entries.
    ``body`` is numbers + ellipses, ``brackets``, ``row_labels``/``col_labels`` (VGroups, may be
    empty), ``name``/``shape`` (labels above/below, may be None). ``keep_rows``: rows always drawn (the
    word the lesson follows is never hidden in the ellipsis).
    """

    def __init__(self, th: Theme, values, *, labels: MatrixLabels = MatrixLabels(), digits: int = style.DIGITS,
                 size: float = style.NUMBER_SIZE, max_rows: int = style.MAX_MATRIX_ROWS,
                 max_cols: int = style.MAX_MATRIX_COLS, signed: bool = True, color=None,
                 col_colors: Sequence | None = None, col_gap: float = 0.75, row_gap: float = 0.55,
                 width_chars: int | None = None, keep_rows: Sequence[int] = (), **kwargs):
        super().__init__(**kwargs)
        v = values_of(values)
        if v.ndim == 1:
            v = v[None, :]
        self.values = v
        self.rows = shown_indices(v.shape[0], max_rows, keep=keep_rows)
        self.cols = shown_indices(v.shape[1], max_cols)
        shown = v[[r for r in self.rows if r is not None]][:, [c for c in self.cols if c is not None]]
        finite = shown[np.isfinite(shown)]
        scale = float(np.abs(finite).max()) if finite.size else 1.0

        # Column width in characters: the widest number drawn, unless given (matrices that must line up).
        width_chars = width_chars or (max(len(style.fmt(x, digits)) for x in shown.flat) if shown.size else 1)
        char_w = char_width(size)
        self.pitch = dx, dy = self._pitch(size, width_chars, col_gap, row_gap)

        def colour(x: float, c: int):
            col = color or (col_colors[c] if col_colors is not None else None)
            return col if col is not None else (th.signed_color(x, scale) if signed else th.text)

        self.body = body = self._body(th, digits, size, colour)
        # The brackets hug the columns' width, not the ink: same shape and width for same-sized matrices.
        slot_right = (len(self.cols) - 1) * dx + dx / 2 - self.inset
        self.brackets = brackets(th, body, x_range=(dx / 2 - self.inset - width_chars * char_w, slot_right))
        self.add(self.brackets, body)

        self.row_labels = VGroup()
        if labels.rows is not None:
            drawn = [(a, r) for a, r in enumerate(self.rows) if r is not None]
            self.row_labels = self._label_rows(th, [labels.rows[r] for _, r in drawn],
                                               [body[a * len(self.cols)].get_y() for a, _ in drawn], labels.size)
            self.add(self.row_labels)
        self.col_labels = VGroup()
        if labels.cols is not None:
            for b, c in enumerate(self.cols):
                if c is None:
                    continue
                lab = text(th, str(labels.cols[c]), labels.size, th.muted)
                lab.next_to(body, UP, buff=style.GAP_LABEL).set_x(body[b].get_x())
                self.col_labels.add(lab)
            self.add(self.col_labels)

        self.name = None
        if labels.name:
            self.name = formula(th, labels.name, style.LABEL_SIZE + 4, labels.name_color or th.text)
            top = self.col_labels if len(self.col_labels) else self.brackets
            self.name.next_to(top, UP, buff=style.GAP_NAME)
            self.add(self.name)
        self.shape = self._label_shape(th, labels.shape)
        if self.shape is not None:
            self.add(self.shape)

    def _body(self, th: Theme, digits: int, size: float, colour) -> VGroup:
        """The drawn numbers (``entry(i, j)``) and the ellipses where rows or columns are elided."""
        self._entries: dict[tuple[int, int], NumberLabel] = {}
        dx, dy = self.pitch
        body = VGroup()
        for a, r in enumerate(self.rows):
            for b, c in enumerate(self.cols):
                pos = np.array([b * dx, -a * dy, 0.0])
                if r is None or c is None:
                    glyph = "\u22f1" if (r is None and c is None) else ("\u22ee" if r is None else "\u22ef")
                    mob = text(th, glyph, size, th.muted, symbol=True)
                    mob.move_to(pos)
                else:
                    x = float(self.values[r, c])
                    mob = self._place(NumberLabel(x, style.fmt(x, digits), size, colour(x, c)), pos, dx)
                    self._entries[(r, c)] = mob
                body.add(mob)
        return body

    def row(self, i: int) -> VGroup:
        return VGroup(*(m for (r, _), m in self._entries.items() if r == i))

    def column(self, j: int) -> VGroup:
        return VGroup(*(m for (_, c), m in self._entries.items() if c == j))

    def column_block(self, j0: int, j1: int) -> VGroup:
        """Drawn entries of source columns j0..j1-1 (a head's block of W_Q)."""
        return VGroup(*(m for (_, c), m in self._entries.items() if j0 <= c < j1))


def brackets(th: Theme, body: VMobject, pad: float = 0.12, tick: float = 0.1,
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


class HeadBlocks(_NumberGrid):
    """A matrix whose columns (``axis=1``, e.g. Concat) or rows (``axis=0``, e.g. W_O) fall into h head blocks.

    Each drawn head's block sits on a tint of that head's colour with a small gap between blocks, so
    the blocks read as "head 1 | head 2 | ...". ``entry(i, j)`` (source indices) -> NumberLabel or None,
    ``block(h)`` -> VGroup(tint, numbers) of head h (None if not drawn), ``slot(k)`` -> every glyph of
    the k-th drawn slot, ``heads`` (drawn head indices, None = ellipsis), ``other`` (drawn source indices
    along the other axis), ``brackets``, ``row_labels``, ``chips`` (head tags above/left of the blocks),
    ``elided`` (the "3–11" tag of an ellipsis slot, or None), ``name``, ``shape``. ``keep``: indices along
    the other axis always drawn (the row of the word the lesson follows); ``line(o)``: its drawn glyphs.
    """

    def __init__(self, th: Theme, values, n_head: int, *, axis: int = 1, digits: int = style.DIGITS,
                 size: float = style.NUMBER_SIZE, max_heads: int = MAX_BLOCK_HEADS,
                 max_per_head: int = MAX_PER_HEAD, max_other: int = style.MAX_MATRIX_ROWS,
                 labels: MatrixLabels = MatrixLabels(), chips: bool = True, col_gap: float = 0.45,
                 block_gap: float = 0.22, keep: Sequence[int] = (), **kwargs):
        super().__init__(**kwargs)
        v = values_of(values)
        self.values, self.n_head, self.axis = v, n_head, axis
        d_head = v.shape[axis] // n_head
        self.d_head = d_head
        self.heads = shown_indices(n_head, max_heads)
        local = shown_indices(d_head, max_per_head)  # within one head's block
        other = shown_indices(v.shape[1 - axis], max_other, keep=keep)
        self.other = other

        drawn = [h * d_head + j for h in self.heads if h is not None for j in local if j is not None]
        sub = v[:, drawn] if axis == 1 else v[drawn, :]
        sub = sub[[o for o in other if o is not None]] if axis == 1 else sub[:, [o for o in other if o is not None]]
        self.scale_value = float(np.abs(sub).max()) if sub.size else 1.0  # one colour scale for every block
        width_chars = max(len(style.fmt(x, digits)) for x in sub.flat) if sub.size else 1
        dx, dy = self._pitch(size, width_chars, col_gap)

        slots, pos = self._slot_positions(local, dx if axis == 1 else dy, block_gap)
        self.body = body = self._body(th, slots, pos, dx, dy, digits, size)
        self.tints = self._tints(th)
        self.brackets = brackets(th, VGroup(body, self.tints), pad=0.1)
        self.add(self.tints, self.brackets, body)

        self.row_labels = VGroup()
        if labels.rows is not None and axis == 1:
            drawn = [(b, o) for b, o in enumerate(other) if o is not None]
            self.row_labels = self._label_rows(th, [labels.rows[o] for _, o in drawn],
                                               [body[b * len(slots)].get_y() for b, _ in drawn], labels.size)
            self.add(self.row_labels)
        self.chips = VGroup()
        self.elided = None  # the "3–11" tag over an ellipsis slot of heads
        if chips:
            self._head_chips(th)
        self.name = None
        if labels.name:
            self.name = formula(th, labels.name, style.LABEL_SIZE, labels.name_color)
            self.name.next_to(VGroup(self.brackets, self.chips), UP, buff=style.GAP_NAME)
            self.add(self.name)
        self.shape = self._label_shape(th, labels.shape)
        if self.shape is not None:
            self.add(self.shape)

    def _slot_positions(self, local, step: float, block_gap: float) -> tuple[list, list]:
        """Slots along the blocked axis, (k-th drawn head, head, index in the head) with None for an
        ellipsis, and where each slot sits (a gap between heads)."""
        slots, pos, cursor = [], [], 0.0
        for k, h in enumerate(self.heads):
            if k:
                cursor += block_gap
            for j in local if h is not None else (None,):
                slots.append((k, h, j))
                pos.append(cursor)
                cursor += step
        return slots, pos

    def _body(self, th: Theme, slots, pos, dx: float, dy: float, digits: int, size: float) -> VGroup:
        """Every drawn number and ellipsis; fills ``entry``, ``slot(k)``, ``line(o)`` and each head's numbers."""
        self._entries: dict[tuple[int, int], NumberLabel] = {}
        self._numbers_of = {h: VGroup() for h in self.heads if h is not None}
        self._slots = [VGroup() for _ in self.heads]
        self._lines = {o: VGroup() for o in self.other if o is not None}
        axis, d_head = self.axis, self.d_head
        body = VGroup()
        for b, o in enumerate(self.other):
            for (k, h, j), along in zip(slots, pos):
                across = b * (dy if axis == 1 else dx)
                xy = np.array([along, -across, 0.0]) if axis == 1 else np.array([across, -along, 0.0])
                if o is None or h is None or j is None:
                    glyph = _ellipsis(axis, o is None, h is None or j is None)
                    mob = text(th, glyph, size, th.muted, symbol=True).move_to(xy)
                    body.add(mob)
                    self._slots[k].add(mob)
                    if o is not None:
                        self._lines[o].add(mob)
                    continue
                r, c = (o, h * d_head + j) if axis == 1 else (h * d_head + j, o)
                x = float(self.values[r, c])
                mob = self._place(NumberLabel(x, style.fmt(x, digits), size, th.signed_color(x, self.scale_value)),
                                  xy, dx)
                self._entries[(r, c)] = mob
                self._numbers_of[h].add(mob)
                self._slots[k].add(mob)
                self._lines[o].add(mob)
                body.add(mob)
        return body

    def _tints(self, th: Theme) -> VGroup:
        """A tint of each drawn head's colour behind its block (``block(h)`` = VGroup(tint, numbers))."""
        self._blocks: dict[int, VGroup] = {}
        tints = VGroup()
        for k, h in enumerate(self.heads):
            if h is None:
                continue
            extent = self._slots[k]  # the block's numbers and its elided-column dots
            pad = 0.07
            tint = Rectangle(width=extent.width + 2 * pad, height=extent.height + 2 * pad, stroke_color=th.head(h),
                             stroke_width=1.5, fill_color=th.head(h), fill_opacity=0.14).move_to(extent)
            tints.add(tint)
            self._blocks[h] = VGroup(tint, self._numbers_of[h])
        return tints

    def _head_chips(self, th: Theme) -> None:
        """A head chip over (or beside) each drawn block, and which heads an ellipsis slot stands for."""
        axis, size = self.axis, style.SMALL_SIZE
        for h, block in self._blocks.items():
            # Over a block: "head 1" where it fits the block's width, else just the number (as beside a row block).
            chip = head_chip(th, h, size, label=f"{h + 1}" if axis == 0 else None)
            if axis == 1 and chip.width > block[0].width:
                chip = head_chip(th, h, size, label=f"{h + 1}")
            if axis == 1:
                chip.next_to(self.brackets, UP, buff=style.GAP_CHIP).set_x(block[0].get_x())
            else:
                chip.next_to(self.brackets, LEFT, buff=style.GAP_CHIP).set_y(block[0].get_y())
            fit(chip, width=block[0].width if axis == 1 else None)
            self.chips.add(chip)
        self.add(self.chips)
        for k, h in enumerate(self.heads):
            if h is None:
                first, last = self.heads[k - 1] + 2, self.heads[k + 1]
                tag = text(th, f"{first}\u2013{last}", style.SMALL_SIZE - 2, th.muted)
                if axis == 1:
                    tag.next_to(self.brackets, UP, buff=style.GAP_CHIP).set_x(self._slots[k].get_x())
                else:
                    tag.next_to(self.brackets, LEFT, buff=style.GAP_CHIP).set_y(self._slots[k].get_y())
                self.elided = tag
                self.add(tag)

    def slot(self, k: int) -> VGroup:
        """Every drawn glyph of the k-th drawn head slot (``heads[k]``; an ellipsis slot too)."""
        return self._slots[k]

    def line(self, other: int) -> VGroup:
        """Every drawn glyph (numbers and the elided columns' dots) of source index ``other`` along the other
        axis (a row of Concat: a token), across every slot."""
        return self._lines[other]

    def block(self, head: int) -> VGroup | None:
        return self._blocks.get(head)

    def chip(self, head: int):
        drawn = [h for h in self.heads if h is not None]
        return self.chips[drawn.index(head)] if head in drawn and len(self.chips) else None


def _ellipsis(axis: int, other_elided: bool, blocked_elided: bool) -> str:
    if other_elided and blocked_elided:
        return "\u22f1"
    if axis == 1:
        return "\u22ee" if other_elided else "\u22ef"
    return "\u22ef" if other_elided else "\u22ee"


def vector(th: Theme, values, *, name: str | None = None, name_color=None, max_cols: int = style.MAX_MATRIX_COLS,
           col_colors: Sequence | None = None, shape: str | bool = False, **kwargs) -> NumberMatrix:
    """A 1 × n row vector in brackets (a ``NumberMatrix`` of one row), its name on the left."""
    row = NumberMatrix(th, values_of(values).reshape(1, -1), labels=MatrixLabels(shape=shape), max_cols=max_cols,
                       col_colors=col_colors, **kwargs)
    if name:
        row.name = formula(th, name, style.LABEL_SIZE, name_color)
        row.name.next_to(row.brackets, LEFT, buff=style.GAP_LINE)
        row.add(row.name)
    return row


class VectorStack(VGroup):
    """Row vectors one under another with their columns lined up and their names right-aligned on the left.

    ``rows[k]`` is a ``NumberMatrix`` of one row (``.entry(0, j)``), ``names[k]`` its name; ``rule(k)``
    draws a sum line above row k (call it before adding the stack to the scene).
    """

    def __init__(self, th: Theme, items: Sequence[tuple], *, max_cols: int = style.MAX_MATRIX_COLS,
                 buff: float = 0.16, name_size: float = style.LABEL_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.th = th
        self.rows, self.names = VGroup(), VGroup()
        lines = VGroup()
        for name, values, color in items:
            # values None: a "⋮" row standing for rows not drawn (its name says which).
            if values is None:
                row = text(th, "\u22ee", name_size, th.muted, symbol=True)
            else:
                row = vector(th, values, max_cols=max_cols)
            label = name if isinstance(name, VMobject) else formula(th, name, name_size, color)
            label.next_to(row, LEFT, buff=style.GAP_ITEM)
            self.rows.add(row)
            self.names.add(label)
            lines.add(VGroup(label, row))
        # Each line is as tall as the taller of its name and its numbers: names never overlap.
        lines.arrange(DOWN, buff=buff)
        vectors = [r for r in self.rows if isinstance(r, NumberMatrix)]
        x0 = vectors[0].body[0].get_x()
        for row in self.rows:  # same column pitch in every row: line the first entries up
            row.shift(RIGHT * ((x0 - row.body[0].get_x()) if isinstance(row, NumberMatrix) else x0 - row.get_x()))
        left = min(r.get_left()[0] for r in vectors)
        for label in self.names:
            label.next_to([left, label.get_y(), 0], LEFT, buff=style.GAP_ITEM)
        self.rules = VGroup()
        self.add(self.rows, self.names)

    def rule(self, k: int, gap: float = 0.16) -> Line:
        """A sum line between row k-1 and row k, as wide as the rows (rows k.. move down to make room)."""
        for mob in (*self.rows[k:], *self.names[k:]):
            mob.shift(DOWN * gap)
        y = (self.rows[k - 1].get_bottom()[1] + self.rows[k].get_top()[1]) / 2
        left = min(r.get_left()[0] for r in self.rows)
        right = max(r.get_right()[0] for r in self.rows)
        line = Line([left, y, 0], [right, y, 0], stroke_color=self.th.muted, stroke_width=3)
        self.rules.add(line)
        self.add(line)
        return line


def row_label(M: NumberMatrix, r: int) -> list:
    """[the row label of source row r] of a NumberMatrix, or [] if that row is not drawn or unlabelled."""
    drawn = [i for i in M.rows if i is not None]
    if r not in drawn or not len(M.row_labels):
        return []
    return [M.row_labels[drawn.index(r)]]


def heatmap(th: Theme, values, height: float, *, width: float | None = None, levels: int = 8,
            scale: float | None = None) -> VGroup:
    """A matrix as coloured cells (sign and size), without numbers: for matrices too big to read.

    Cells are binned into ``levels`` shades per sign and each shade is one path, so even
    48 x 48 cells cost a few dozen mobjects. ``.values`` keeps the matrix drawn. (Manim 0.22's
    ImageMobject cannot be drawn with this Pillow, so no images.)
    """
    v = values_of(values)
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
