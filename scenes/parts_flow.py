"""Visual parts for the second half of the lesson (head outputs -> concat -> W_O -> cost -> recap).

Built on ``scenes.parts`` and ``scenes.style`` like every other part: the theme
comes first, colours and sizes come from the style, and every displayed number
is a ``NumberLabel`` that keeps ``.value`` (the source number) and ``.str`` (the
string on screen) so tests read what is shown.

    C = head_blocks(th, trace.concat, n_head=4, row_labels=tokens)   # C.block(i), C.entry(r, c)
    W = head_blocks(th, mha.W_O, n_head=4, axis=0)                     # row blocks: the rows that read head i
    T = table(th, [["stage", "h = 4"], ["Q, K, V", 6912]])            # T.cell(r, c)
    B = bar_chart(th, ablation, labels=["head 1", ...])                  # B.bars[i], B.numbers[i]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, FadeOut, Line, Rectangle, RoundedRectangle, VGroup, VMobject

from . import parts, style
from .parts import NumberLabel, _values, shown_indices
from .style import Theme

# A blocked matrix shows at most this many heads (the first ones and the last, an ellipsis between)
# and this many columns (or rows) of each head: enough to see the blocks, few enough to read at 480p.
MAX_BLOCK_HEADS = 4
MAX_PER_HEAD = 3


def shown_heads(n_head: int, limit: int = MAX_BLOCK_HEADS) -> list[int | None]:
    """Which heads a blocked matrix draws: all if they fit, else the first limit-1, an ellipsis (None), the last."""
    if n_head <= limit:
        return list(range(n_head))
    return list(range(limit - 2)) + [None, n_head - 1]


class HeadBlocks(VGroup):
    """A matrix whose columns (``axis=1``, e.g. Concat) or rows (``axis=0``, e.g. W_O) fall into h head blocks.

    Each drawn head's block sits on a tint of that head's colour with a small gap between blocks, so
    the blocks read as "head 1 | head 2 | ...". ``entry(i, j)`` (source indices) -> NumberLabel or None,
    ``block(h)`` -> VGroup(tint, numbers) of head h (None if not drawn), ``slot(k)`` -> every glyph of
    the k-th drawn slot, ``heads`` (drawn head indices, None = ellipsis), ``other`` (drawn source indices
    along the other axis), ``brackets``, ``row_labels``, ``chips`` (head tags above/left of the blocks),
    ``elided`` (the "3–11" tag of an ellipsis slot, or None), ``name``, ``shape``.
    """

    def __init__(self, th: Theme, values, n_head: int, *, axis: int = 1, digits: int = style.DIGITS,
                 size: float = style.NUMBER_SIZE, max_heads: int = MAX_BLOCK_HEADS,
                 max_per_head: int = MAX_PER_HEAD, max_other: int = style.MAX_MATRIX_ROWS,
                 row_labels: Sequence[str] | None = None, name: str | None = None, name_color=None,
                 shape: str | bool = True, chips: bool = True, col_gap: float = 0.45, block_gap: float = 0.22,
                 **kwargs):
        super().__init__(**kwargs)
        v = _values(values)
        self.values, self.n_head, self.axis = v, n_head, axis
        d_head = v.shape[axis] // n_head
        self.d_head = d_head
        self.heads = shown_heads(n_head, max_heads)
        local = shown_indices(d_head, max_per_head)  # within one head's block
        other = shown_indices(v.shape[1 - axis], max_other)
        self.other = other

        drawn = [h * d_head + j for h in self.heads if h is not None for j in local if j is not None]
        sub = v[:, drawn] if axis == 1 else v[drawn, :]
        sub = sub[[o for o in other if o is not None]] if axis == 1 else sub[:, [o for o in other if o is not None]]
        self.scale_value = float(np.abs(sub).max()) if sub.size else 1.0  # one colour scale for every block
        width_chars = max(len(style.fmt(x, digits)) for x in sub.flat) if sub.size else 1
        char_w = parts._char_width(size)
        dx = width_chars * char_w + 2 * col_gap * char_w
        dy = size / style.NUMBER_SIZE * 0.55 * 0.62

        # Slots along the blocked axis: (k-th drawn head, head, local index), None for ellipses;
        # a gap between heads.
        slots, pos, cursor = [], [], 0.0
        step = dx if axis == 1 else dy
        for k, h in enumerate(self.heads):
            if k:
                cursor += block_gap
            if h is None:
                slots.append((k, None, None))
                pos.append(cursor)
                cursor += step
                continue
            for j in local:
                slots.append((k, h, j))
                pos.append(cursor)
                cursor += step

        self._entries: dict[tuple[int, int], NumberLabel] = {}
        self._blocks: dict[int, VGroup] = {}
        body = VGroup()
        numbers_of = {h: VGroup() for h in self.heads if h is not None}
        self._slots = [VGroup() for _ in self.heads]
        for b, o in enumerate(other):
            for (k, h, j), along in zip(slots, pos):
                across = b * (dy if axis == 1 else dx)
                xy = np.array([along, -across, 0.0]) if axis == 1 else np.array([across, -along, 0.0])
                if o is None or h is None or j is None:
                    glyph = _ellipsis(axis, o is None, h is None or j is None)
                    mob = parts.text(th, glyph, size, th.muted).move_to(xy)
                    body.add(mob)
                    self._slots[k].add(mob)
                    continue
                r, c = (o, h * d_head + j) if axis == 1 else (h * d_head + j, o)
                x = float(v[r, c])
                mob = NumberLabel(x, style.fmt(x, digits), size, th.signed_color(x, self.scale_value))
                # Right-align: decimal points line up.
                half = dx / 2 - col_gap * char_w
                mob.move_to(xy + RIGHT * half, aligned_edge=RIGHT)
                self._entries[(r, c)] = mob
                numbers_of[h].add(mob)
                self._slots[k].add(mob)
                body.add(mob)
        self.body = body

        # Tints behind each head's block, in the head's colour.
        tints = VGroup()
        for k, h in enumerate(self.heads):
            if h is None:
                continue
            extent, nums = self._slots[k], numbers_of[h]  # the block's numbers and its elided-column dots
            pad = 0.07
            tint = Rectangle(width=extent.width + 2 * pad, height=extent.height + 2 * pad, stroke_color=th.head(h),
                             stroke_width=1.5, fill_color=th.head(h), fill_opacity=0.14).move_to(extent)
            tints.add(tint)
            self._blocks[h] = VGroup(tint, nums)
        self.tints = tints
        self.brackets = parts._brackets(th, VGroup(body, tints), pad=0.1)
        self.add(tints, self.brackets, body)

        self.row_labels = VGroup()
        if row_labels is not None and axis == 1:
            for b, o in enumerate(other):
                if o is None:
                    continue
                lab = parts.text(th, str(row_labels[o]), style.SMALL_SIZE, th.muted)
                y = body[b * len(slots)].get_y()
                lab.next_to(self.brackets[0], LEFT, buff=0.15).set_y(y)
                self.row_labels.add(lab)
            parts._align_right(self.row_labels)
            self.add(self.row_labels)

        self.chips = VGroup()
        self.elided = None  # the "3–11" tag over an ellipsis slot of heads
        if chips:
            for h, block in self._blocks.items():
                chip = parts.head_chip(th, h, style.SMALL_SIZE - 2, label=f"{h + 1}" if axis == 0 else None)
                if axis == 1:
                    chip.next_to(self.brackets, UP, buff=0.1).set_x(block[0].get_x())
                else:
                    chip.next_to(self.brackets, LEFT, buff=0.1).set_y(block[0].get_y())
                parts.fit(chip, width=block[0].width if axis == 1 else None)
                self.chips.add(chip)
            self.add(self.chips)
            # The ellipsis slot says which heads it stands for.
            for k, h in enumerate(self.heads):
                if h is None:
                    first, last = self.heads[k - 1] + 2, self.heads[k + 1]
                    tag = parts.text(th, f"{first}\u2013{last}", style.SMALL_SIZE - 2, th.muted)
                    if axis == 1:
                        tag.next_to(self.brackets, UP, buff=0.1).set_x(self._slots[k].get_x())
                    else:
                        tag.next_to(self.brackets, LEFT, buff=0.1).set_y(self._slots[k].get_y())
                    self.elided = tag
                    self.add(tag)

        self.name = None
        if name:
            self.name = parts.formula(th, name, style.LABEL_SIZE, name_color)
            self.name.next_to(VGroup(self.brackets, self.chips), UP, buff=0.15)
            self.add(self.name)
        self.shape = None
        if shape:
            text = shape if isinstance(shape, str) else f"{v.shape[0]} \u00d7 {v.shape[1]}"
            self.shape = parts.text(th, text, style.SMALL_SIZE, th.muted).next_to(self.brackets, DOWN, buff=0.12)
            self.add(self.shape)

    def entry(self, i: int, j: int) -> NumberLabel | None:
        return self._entries.get((i, j))

    @property
    def entries(self) -> list[NumberLabel]:
        return list(self._entries.values())

    def slot(self, k: int) -> VGroup:
        """Every drawn glyph of the k-th drawn head slot (``heads[k]``; an ellipsis slot too)."""
        return self._slots[k]

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


def head_blocks(th: Theme, values, n_head: int, **kwargs) -> HeadBlocks:
    """See ``HeadBlocks``: ``head_blocks(th, trace.concat, lesson.n_head, row_labels=lesson.tokens)``."""
    return HeadBlocks(th, values, n_head, **kwargs)


# -- beats ------------------------------------------------------------------------------

# Leaving is quicker than arriving: a fade-out redraws every glyph it fades on every frame.
EXIT = 0.6 * style.SHORT


def clear(scene, *mobs) -> None:
    """Fade ``mobs`` out quickly; brought to the front first, so nothing drawn after them is redrawn too."""
    scene.bring_to_front(*mobs)
    scene.play(*(FadeOut(m) for m in mobs), run_time=EXIT)


# -- vectors --------------------------------------------------------------------------


def vector(th: Theme, values, *, name: str | None = None, name_color=None, max_cols: int = style.MAX_MATRIX_COLS,
           col_colors: Sequence | None = None, shape: str | bool = False, **kwargs) -> parts.NumberMatrix:
    """A 1 × n row vector in brackets (a ``NumberMatrix`` of one row), its name on the left."""
    row = parts.number_matrix(th, _values(values).reshape(1, -1), max_cols=max_cols, col_colors=col_colors,
                              shape=shape, **kwargs)
    if name:
        row.name = parts.formula(th, name, style.LABEL_SIZE, name_color)
        row.name.next_to(row.brackets, LEFT, buff=0.2)
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
                row = parts.text(th, "\u22ee", name_size, th.muted)
            else:
                row = vector(th, values, max_cols=max_cols)
            label = name if isinstance(name, VMobject) else parts.formula(th, name, name_size, color)
            label.next_to(row, LEFT, buff=0.25)
            self.rows.add(row)
            self.names.add(label)
            lines.add(VGroup(label, row))
        # Each line is as tall as the taller of its name and its numbers: names never overlap.
        lines.arrange(DOWN, buff=buff)
        vectors = [r for r in self.rows if isinstance(r, parts.NumberMatrix)]
        x0 = vectors[0].body[0].get_x()
        for row in self.rows:  # same column pitch in every row: line the first entries up
            row.shift(RIGHT * ((x0 - row.body[0].get_x()) if isinstance(row, parts.NumberMatrix) else x0 - row.get_x()))
        left = min(r.get_left()[0] for r in vectors)
        for label in self.names:
            label.next_to([left, label.get_y(), 0], LEFT, buff=0.25)
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


def vector_stack(th: Theme, items: Sequence[tuple], **kwargs) -> VectorStack:
    """``vector_stack(th, [("x", trace.x[i], None), ("+ MultiHead(x)", trace.output[i], None)])``."""
    return VectorStack(th, items, **kwargs)


def row_label(M: parts.NumberMatrix, r: int) -> list:
    """[the row label of source row r] of a NumberMatrix, or [] if that row is not drawn or unlabelled."""
    drawn = [i for i in M.rows if i is not None]
    if r not in drawn or not len(M.row_labels):
        return []
    return [M.row_labels[drawn.index(r)]]


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


# -- tables ---------------------------------------------------------------------------


class Table(VGroup):
    """Rows of cells in aligned columns; numbers become NumberLabels (``.value``, ``.str``).

    A cell is a str (text), an int (``style.count``), a float (``style.fmt``) or a mobject.
    ``cell(r, c)`` -> the cell's mobject; ``rows[r]`` -> VGroup of row r; ``rules`` -> the lines
    under the header and above the last row (``total=True``).
    """

    def __init__(self, th: Theme, rows: Sequence[Sequence], *, size: float = style.LABEL_SIZE,
                 col_buff: float = 0.45, row_buff: float = 0.2, header: bool = True, total: bool = False,
                 align: Sequence[str] | None = None, colors: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self._cells: list[list[VMobject]] = []
        colors = colors or {}
        for r, row in enumerate(rows):
            mobs = []
            for c, value in enumerate(row):
                color = colors.get((r, c)) or (th.muted if header and r == 0 else th.text)
                mobs.append(_cell(th, value, size, color))
            self._cells.append(mobs)
        n_cols = max(len(r) for r in self._cells)
        widths = [max(row[c].width for row in self._cells if c < len(row)) for c in range(n_cols)]
        heights = [max(m.height for m in row) for row in self._cells]
        align = align or (["left"] + ["right"] * (n_cols - 1))
        self.rows = VGroup()
        y = 0.0
        for r, row in enumerate(self._cells):
            x = 0.0
            line_h = max(heights[r], size / 48 * 0.5)
            for c, mob in enumerate(row):
                if align[c] == "left":
                    mob.move_to([x, y, 0], aligned_edge=LEFT)
                elif align[c] == "right":
                    mob.move_to([x + widths[c], y, 0], aligned_edge=RIGHT)
                else:
                    mob.move_to([x + widths[c] / 2, y, 0])
                x += widths[c] + col_buff
            self.rows.add(VGroup(*row))
            y -= line_h + row_buff
        self.add(self.rows)
        self.rules = VGroup()
        left, right = self.rows.get_left()[0], self.rows.get_right()[0]
        if header and len(self.rows) > 1:
            yy = (self.rows[0].get_bottom()[1] + self.rows[1].get_top()[1]) / 2
            self.rules.add(Line([left, yy, 0], [right, yy, 0], stroke_color=th.grid, stroke_width=1.5))
        if total and len(self.rows) > 2:
            yy = (self.rows[-2].get_bottom()[1] + self.rows[-1].get_top()[1]) / 2
            self.rules.add(Line([left, yy, 0], [right, yy, 0], stroke_color=th.grid, stroke_width=1.5))
        self.add(self.rules)

    def cell(self, r: int, c: int) -> VMobject:
        return self._cells[r][c]

    @property
    def numbers(self) -> list[NumberLabel]:
        return [m for row in self._cells for m in row if isinstance(m, NumberLabel)]


def _cell(th: Theme, value, size: float, color) -> VMobject:
    if isinstance(value, VMobject):
        return value
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, (int, np.integer)):
        return count(th, value, size, color)
    if isinstance(value, float):
        return NumberLabel(value, style.fmt(value), size, color)
    return parts.text(th, str(value), size, color)


def table(th: Theme, rows: Sequence[Sequence], **kwargs) -> Table:
    return Table(th, rows, **kwargs)


# -- bar chart ------------------------------------------------------------------------


class BarChart(VGroup):
    """Vertical bars, one per value, labelled under and numbered on top.

    ``bars[i]`` (Rectangle, ``.value``), ``numbers[i]`` (NumberLabel), ``labels[i]`` (Text),
    ``baseline``. Bars are scaled so the largest value is ``height`` tall.
    """

    def __init__(self, th: Theme, values, labels: Sequence[str], *, colors: Sequence | None = None,
                 height: float = 2.4, bar_width: float = 0.45, gap: float = 0.25, digits: int = style.DIGITS,
                 label_size: float = style.SMALL_SIZE, number_size: float = style.NUMBER_SIZE, **kwargs):
        super().__init__(**kwargs)
        v = _values(values).ravel()
        top = float(v.max()) if v.size and v.max() > 0 else 1.0
        self.values = v
        self.bars, self.numbers, self.labels = VGroup(), VGroup(), VGroup()
        for i, x in enumerate(v):
            h = max(height * float(x) / top, 0.02)
            color = colors[i] if colors is not None else th.text
            bar = Rectangle(width=bar_width, height=h, stroke_width=0, fill_color=color, fill_opacity=0.9)
            bar.move_to([i * (bar_width + gap), h / 2, 0])
            bar.value = float(x)
            num = NumberLabel(float(x), style.fmt(float(x), digits), number_size, th.text)
            parts.fit(num, width=bar_width + gap * 0.8)
            num.next_to(bar, UP, buff=0.08)
            lab = parts.text(th, labels[i], label_size, th.muted)
            parts.fit(lab, width=bar_width + gap * 0.8)
            lab.next_to([bar.get_x(), 0, 0], DOWN, buff=0.12)
            self.bars.add(bar)
            self.numbers.add(num)
            self.labels.add(lab)
        left, right = self.bars.get_left()[0] - gap / 2, self.bars.get_right()[0] + gap / 2
        self.baseline = Line([left, 0, 0], [right, 0, 0], stroke_color=th.grid, stroke_width=1.5)
        self.add(self.baseline, self.bars, self.numbers, self.labels)


def bar_chart(th: Theme, values, labels: Sequence[str], **kwargs) -> BarChart:
    return BarChart(th, values, labels, **kwargs)


# -- pipeline -------------------------------------------------------------------------


class Pipeline(VGroup):
    """Stages left to right, joined by arrows: each a panel with a name and, under it, a shape.

    ``stages[i]`` (VGroup(box, name)), ``shapes[i]`` (Text under the box), ``arrows[i]`` (between
    stage i and i+1). ``colors[i]`` tints a stage's border.
    """

    def __init__(self, th: Theme, names: Sequence[str], shapes: Sequence[str], *, colors: Sequence | None = None,
                 width: float = 13.0, size: float = style.LABEL_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.stages, self.shapes, self.arrows = VGroup(), VGroup(), VGroup()
        for i, name in enumerate(names):
            lines = VGroup(*(parts.text(th, line, size) for line in name.split("\n"))).arrange(DOWN, buff=0.08)
            box = RoundedRectangle(corner_radius=0.12, width=lines.width + 0.35, height=max(lines.height + 0.3, 0.9),
                                   stroke_color=(colors[i] if colors else th.grid), stroke_width=2,
                                   fill_color=th.panel, fill_opacity=1)
            self.stages.add(VGroup(box, lines.move_to(box)))
        self.stages.arrange(RIGHT, buff=0.5)
        parts.fit(self.stages, width=width)
        for i in range(len(self.stages) - 1):
            a, b = self.stages[i][0], self.stages[i + 1][0]
            self.arrows.add(Arrow(a.get_right(), b.get_left(), buff=0.06, stroke_width=3, color=th.muted,
                                  max_tip_length_to_length_ratio=0.35, tip_length=0.15))
        for stage, shape in zip(self.stages, shapes):
            lab = parts.text(th, shape, style.SMALL_SIZE, th.muted)
            parts.fit(lab, width=stage.width + 0.3)
            self.shapes.add(lab.next_to(stage, DOWN, buff=0.12))
        self.add(self.stages, self.arrows, self.shapes)


def pipeline(th: Theme, names: Sequence[str], shapes: Sequence[str], **kwargs) -> Pipeline:
    return Pipeline(th, names, shapes, **kwargs)
