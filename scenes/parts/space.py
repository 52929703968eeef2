"""Vectors drawn flat. One head's query/key space: the query as an arrow, each key as a dot, a score as a key's
reach along the arrow, a weight as a dot's size (``KeySpace``). Sums as arrows tip to tail (``ArrowChain``).

The plane comes from ``mha_core.key_plane``: across is the query's own direction (a key's reach along it, times
‖q‖, is exactly its score), up is where the keys differ most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, DashedLine, Dot, Line, VGroup

from .. import style
from ..style import Theme
from .numbers import NumberLabel
from .text import formula, text

DOT_RADIUS = 0.07  # a key before softmax: every dot the same
WEIGHT_RADIUS = 0.34  # a key with weight 1 after softmax (area grows with the weight)
MIN_RADIUS = 0.03  # a key with weight ~0 stays visible
LABEL_PLACES = (UP + RIGHT, DOWN + RIGHT, UP + LEFT, DOWN + LEFT, RIGHT, LEFT, UP, DOWN)


def weight_radius(weight: float) -> float:
    """A dot's radius for an attention weight: its area is proportional to the weight."""
    return max(MIN_RADIUS, WEIGHT_RADIUS * math.sqrt(max(float(weight), 0.0)))


class KeySpace(VGroup):
    """One head's plane: ``keys`` [key, 2] (``KeyPlane.keys``) fitted into ``width`` x ``height``, each axis to
    its own scale (across spans the panel, so that reaches can be compared; up only separates the keys).

    ``.dots[i]`` key i's dot; ``.names[i]`` its token's label and ``.weights[i]`` its weight beside it (only for
    ``labelled`` keys, placed where they cover nothing); ``.arrow`` the query along ``.axis``, named ``.query``;
    ``.reach`` the score of key ``top`` (the one reaching furthest), under its foot; ``.drops()`` a dashed line
    from each dot to its foot on the axis; ``.sized()`` the dots as softmax leaves them.
    """

    def __init__(self, th: Theme, keys, tokens: Sequence[str], weights, scores, color, *, title: str, query: str,
                 labelled: Sequence[int], width: float, height: float):
        super().__init__()
        xy = np.asarray(keys, dtype=float)
        self.th, self.color, self.weight_values = th, color, [float(w) for w in weights]
        lo, hi = np.minimum(xy.min(axis=0), 0.0), np.maximum(xy.max(axis=0), 0.0)
        margin = 0.4  # room for a label beside the outermost dots
        scale = (np.array([width, height]) - 2 * margin) / np.maximum(hi - lo, 1e-6)
        centre = (lo + hi) / 2

        def at(p) -> np.ndarray:
            return np.array([*((np.asarray(p) - centre) * scale), 0.0])

        self.frame = Line(LEFT * width / 2, RIGHT * width / 2, stroke_opacity=0)  # the panel's width, invisible
        origin = at((0.0, 0.0))
        left, right = at((lo[0], 0))[0] - margin / 2, at((hi[0], 0))[0] + margin / 2
        self.axis = Line([left, origin[1], 0], [right, origin[1], 0], stroke_color=th.grid, stroke_width=2)
        self.arrow = Arrow(origin, [right, origin[1], 0], buff=0, stroke_width=5, color=color,
                           max_tip_length_to_length_ratio=0.06)
        self.query = formula(th, f'q("{query}")', style.LABEL_SIZE, color).next_to(self.axis, LEFT,
                                                                                     buff=style.GAP_TIGHT)
        self.origin = Dot(origin, radius=0.04, color=th.muted)
        self.dots = VGroup(*(Dot(at(p), radius=DOT_RADIUS, color=color, fill_opacity=0.9) for p in xy))
        self.top = int(np.argmax(xy[:, 0]))
        self.reach = NumberLabel(float(scores[self.top]), style.fmt(float(scores[self.top])), style.LABEL_SIZE, color)
        self.reach.next_to(self.foot(self.top), DOWN, buff=style.GAP_TIGHT)
        self.names, self.weights = {}, {}
        sized = self.sized()
        placed: list = [self.query, self.reach, self.axis, *self.dots, *sized]
        for i in labelled:
            name = text(th, tokens[i], style.LABEL_SIZE, th.text)
            weight = NumberLabel(self.weight_values[i], style.fmt(self.weight_values[i]), style.LABEL_SIZE, color)
            tag = VGroup(name, weight.next_to(name, RIGHT, buff=style.GAP_TIGHT))
            for place in LABEL_PLACES:
                tag.next_to(sized[i], place, buff=style.GAP_TIGHT)  # clear of the dot at its largest
                if not any(_overlap(tag, other) for other in placed if other not in (self.dots[i], sized[i])):
                    break
            else:
                continue  # no free place beside the dot: left unlabelled rather than covered
            placed.append(tag)
            self.names[i], self.weights[i] = name, weight
        self.title = text(th, title, style.LABEL_SIZE, color, bold=True)
        # The reach and the weights belong to the panel (they move and scale with it); a scene shows them later.
        self.add(self.frame, self.axis, self.arrow, self.query, self.origin, self.dots, *self.names.values(),
                 self.reach, *self.weights.values())
        self.title.next_to(self, UP, buff=style.GAP_NAME)
        self.add(self.title)

    def foot(self, i: int) -> np.ndarray:
        """Where key ``i``'s reach along the query meets the axis."""
        return np.array([self.dots[i].get_x(), self.axis.get_y(), 0.0])

    def drops(self) -> VGroup:
        """A dashed line from each key down (or up) to its reach on the query's axis."""
        return VGroup(*(DashedLine(dot.get_center(), self.foot(i), stroke_width=1.5, color=self.th.muted,
                                   dash_length=0.06) for i, dot in enumerate(self.dots)))

    def sized(self) -> VGroup:
        """The dots as softmax leaves them: each one's area proportional to its weight."""
        return VGroup(*(Dot(dot.get_center(), radius=weight_radius(w), color=self.color, fill_opacity=0.75)
                        for dot, w in zip(self.dots, self.weight_values)))


def _overlap(a, b) -> bool:
    """Whether the bounding boxes of ``a`` and ``b`` meet."""
    return not (a.get_right()[0] < b.get_left()[0] or b.get_right()[0] < a.get_left()[0]
                or a.get_top()[1] < b.get_bottom()[1] or b.get_top()[1] < a.get_bottom()[1])


class ArrowChain(VGroup):
    """Vectors drawn flat as arrows tip to tail: ``steps`` [n, 2] (``mha_core.flat_view`` coordinates, times
    ``scale`` Manim units each), from ``start``. ``.arrows[i]``, ``.ends[i]`` (where arrow i ends), ``.names[i]``
    (``names[i]``, a text or formula, beside arrow i where it covers no other name; none for an arrow too short
    to carry one)."""

    def __init__(self, th: Theme, steps, colors: Sequence, names: Sequence, *, scale: float,
                 start=(0.0, 0.0), avoid: Sequence = ()):
        super().__init__()
        at = np.array([float(start[0]), float(start[1]), 0.0])
        self.arrows, self.names, self.ends = VGroup(), {}, []
        placed = list(avoid)
        for i, (step, colour, name) in enumerate(zip(np.asarray(steps, dtype=float), colors, names)):
            end = at + np.array([*(step * scale), 0.0])
            self.arrows.add(vector_arrow(at, end, colour))
            if name is not None and np.linalg.norm(end - at) >= 0.25:
                normal = np.array([-(end - at)[1], (end - at)[0], 0.0]) / np.linalg.norm(end - at)
                for side in (normal, -normal):
                    name.move_to((at + end) / 2 + side * (0.12 + max(name.width, name.height) / 2))
                    if not any(_overlap(name, other) for other in placed):
                        placed.append(name)
                        self.names[i] = name
                        break
            self.ends.append(end)
            at = end
        self.add(self.arrows, *self.names.values())


def vector_arrow(start, end, colour, stroke_width: float = 4) -> Arrow:
    """An arrow for a vector drawn flat; a very short one keeps a visible tip."""
    return Arrow(start, end, buff=0, stroke_width=stroke_width, color=colour, max_tip_length_to_length_ratio=0.35,
                 max_stroke_width_to_length_ratio=12, tip_length=0.16)
