"""Charts: tables of numbers, bar charts, and the pipeline of stages joined by arrows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Line, Rectangle, RoundedRectangle, VGroup, VMobject

from .. import style
from ..layout import fit
from ..style import Theme
from .numbers import NumberLabel, count, values_of
from .text import text

ARROW_END_GAP = 0.06  # the pipeline's arrows stop just short of the stage boxes


class Table(VGroup):
    """Rows of cells in aligned columns; numbers become NumberLabels (``.value``, ``.str``).

    A cell is a str (text), an int (``style.count``), a float (``style.fmt``) or a mobject.
    ``cell(r, c)`` -> the cell's mobject; ``rows[r]`` -> VGroup of row r; ``rules`` -> the lines
    under the header and above the last row (``total=True``), or above the last ``total`` rows.
    """

    def __init__(self, th: Theme, rows: Sequence[Sequence], *, size: float = style.LABEL_SIZE,
                 col_buff: float = 0.45, row_buff: float = 0.2, header: bool = True, total: bool | int = False,
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
        n_total = int(total)  # True: the last row is a total; 2: the last two rows are
        if n_total and len(self.rows) > n_total + 1:
            yy = (self.rows[-n_total - 1].get_bottom()[1] + self.rows[-n_total].get_top()[1]) / 2
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
    return text(th, str(value), size, color)


class BarChart(VGroup):
    """Vertical bars, one per value, labelled under and numbered on top.

    ``bars[i]`` (Rectangle, ``.value``), ``numbers[i]`` (NumberLabel), ``labels[i]`` (Text),
    ``baseline``. Bars are scaled so the largest value is ``height`` tall.
    """

    def __init__(self, th: Theme, values, labels: Sequence[str], *, colors: Sequence | None = None,
                 height: float = 2.4, bar_width: float = 0.45, gap: float = 0.25, digits: int = style.DIGITS,
                 label_size: float = style.SMALL_SIZE, number_size: float = style.NUMBER_SIZE, **kwargs):
        super().__init__(**kwargs)
        v = values_of(values).ravel()
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
            fit(num, width=bar_width + gap * 0.8)
            num.next_to(bar, UP, buff=style.GAP_TIGHT)
            lab = text(th, labels[i], label_size, th.muted)
            fit(lab, width=bar_width + gap * 0.8)
            lab.next_to([bar.get_x(), 0, 0], DOWN, buff=style.GAP_LABEL)
            self.bars.add(bar)
            self.numbers.add(num)
            self.labels.add(lab)
        left, right = self.bars.get_left()[0] - gap / 2, self.bars.get_right()[0] + gap / 2
        self.baseline = Line([left, 0, 0], [right, 0, 0], stroke_color=th.grid, stroke_width=1.5)
        self.add(self.baseline, self.bars, self.numbers, self.labels)


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
            lines = VGroup(*(text(th, line, size) for line in name.split("\n"))).arrange(DOWN, buff=style.GAP_TIGHT)
            box = RoundedRectangle(corner_radius=0.12, width=lines.width + 0.35, height=max(lines.height + 0.3, 0.9),
                                   stroke_color=(colors[i] if colors else th.grid), stroke_width=2,
                                   fill_color=th.panel, fill_opacity=1)
            self.stages.add(VGroup(box, lines.move_to(box)))
        self.stages.arrange(RIGHT, buff=style.GAP_APART)
        fit(self.stages, width=width)
        for i in range(len(self.stages) - 1):
            a, b = self.stages[i][0], self.stages[i + 1][0]
            self.arrows.add(Arrow(a.get_right(), b.get_left(), buff=ARROW_END_GAP, stroke_width=3, color=th.muted,
                                  max_tip_length_to_length_ratio=0.35, tip_length=0.15))
        for stage, shape in zip(self.stages, shapes):
            lab = text(th, shape, style.SMALL_SIZE, th.muted)
            fit(lab, width=stage.width + 0.3)
            self.shapes.add(lab.next_to(stage, DOWN, buff=style.GAP_LABEL))
        self.add(self.stages, self.arrows, self.shapes)
