"""Layout: where things go on the frame. The content box under a chapter's header, fitting and
placing a group in it, aligning label columns, and the grid that makes h patterns as big as possible.

Every distance is in Manim units (the frame is 14.2 wide at 16:9); named gaps live in ``style``.
"""

from __future__ import annotations

import math

from manim import RIGHT, UP, VGroup, VMobject, config

from . import style

# Patterns in a grid: below this cell size token labels would overlap (they are left out); above the
# largest, a few patterns would fill the frame with a handful of huge cells.
LABEL_MIN_CELL = 0.24
MAX_CELL = 0.42
# The author's logo, in the bottom-right corner (``logo_box``): at most this tall and this wide (a square logo is
# 0.45 x 0.45, about 40 px high at 720p; a wide word mark up to 1.4 wide), and this far from anything else.
LOGO_HEIGHT = 0.45
LOGO_WIDTH = 1.4
LOGO_CLEARANCE = style.GAP_LABEL


def content_box() -> tuple[float, float, float, float]:
    """(left, right, bottom, top) of the area below a chapter header, in Manim units."""
    w, h = config.frame_width / 2, config.frame_height / 2
    m = style.FRAME_MARGIN
    return (-w + m, w - m, -h + m, h - 1.25)


def logo_box() -> tuple[float, float, float, float]:
    """(left, right, bottom, top) of the author's logo (``logo`` in lesson.toml): the bottom-right corner, at
    ``style.FRAME_MARGIN`` from the frame's edges, ``LOGO_WIDTH`` x ``LOGO_HEIGHT`` at most. The logo is fitted
    into it keeping its shape, against its bottom-right corner."""
    w, h = config.frame_width / 2, config.frame_height / 2
    right, bottom = w - style.FRAME_MARGIN, -h + style.FRAME_MARGIN
    return (right - LOGO_WIDTH, right, bottom, bottom + LOGO_HEIGHT)


def logo_keep_out() -> tuple[float, float, float, float]:
    """(left, right, bottom, top) every chapter keeps free, with or without a logo: ``logo_box`` and
    ``LOGO_CLEARANCE`` around it, to the frame's edges (the same frame whether the author has a logo or not)."""
    left, _, _, top = logo_box()
    w, h = config.frame_width / 2, config.frame_height / 2
    return (left - LOGO_CLEARANCE, w, -h, top + LOGO_CLEARANCE)


def left_of_logo() -> float:
    """Where content low on the frame that makes room for the logo ends, on its right: the corner's edge
    (``logo_keep_out``) less ``LOGO_CLEARANCE`` once more, so that a line beside the logo does not seem to run on
    into it."""
    return logo_keep_out()[0] - LOGO_CLEARANCE


def clear_of_logo(mob: VMobject) -> VMobject:
    """``mob`` (placed) moved left to end at ``left_of_logo`` when it reaches into ``logo_keep_out``, as far as the
    frame's left margin allows; shrunk about its left edge when that is not far enough. Content low on the frame
    calls this once placed."""
    corner, _, _, top = logo_keep_out()

    def reach() -> float:  # how far right the parts of ``mob`` as low as the corner go
        low = [m.points[m.points[:, 1] < top, 0] for m in mob.family_members_with_points()]
        return max((float(x.max()) for x in low if len(x)), default=-math.inf)

    if reach() <= corner:
        return mob
    left = left_of_logo()
    margin = -config.frame_width / 2 + style.FRAME_MARGIN
    mob.shift(RIGHT * -min(reach() - left, max(mob.get_left()[0] - margin, 0.0)))
    if reach() > left:
        edge = mob.get_left()
        mob.scale((left - edge[0]) / (reach() - edge[0]), about_point=edge)
    return mob


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


def fit_in_content(mob: VMobject, *, trim: float = 0.0) -> VMobject:
    """Shrink ``mob`` to the content box's full width and its height less ``trim``, and centre it there."""
    _, _, bottom, top = content_box()
    fit(mob, width=config.frame_width - 2 * style.FRAME_MARGIN, height=top - bottom - trim)
    return mob.move_to([0, (top + bottom) / 2, 0])


def align_right(group: VGroup) -> None:
    """Right-align the members of ``group`` (a column of labels) on the rightmost one."""
    if len(group):
        x = max(m.get_right()[0] for m in group)
        for m in group:
            m.shift(RIGHT * (x - m.get_right()[0]))


def align_bottom(group: VGroup) -> None:
    """Bottom-align the members of ``group`` (a row of rotated labels) on the lowest one."""
    if len(group):
        y = min(m.get_bottom()[1] for m in group)
        for m in group:
            m.shift(UP * (y - m.get_bottom()[1]))


def grid_layout(h: int, n: int, width: float, height: float, label_w: float, title_h: float = 0.4,
                gap: float = 0.3) -> tuple[int, int, float, bool]:
    """(columns, rows, cell size, with token labels) that make h patterns of n x n cells as big as possible."""
    best = (1, h, 0.0, False)
    for labels in (True, False):
        over_w = label_w + 0.4 if labels else 0.4  # query labels + axis word, left of the first column
        over_h = label_w if labels else 0.3  # rotated key labels above the first row
        for cols in range(1, h + 1):
            rows = math.ceil(h / cols)
            cell_w = (width - over_w - (cols - 1) * gap) / (cols * n)
            cell_h = (height - over_h - rows * title_h - (rows - 1) * gap) / (rows * n)
            cell = min(cell_w, cell_h, MAX_CELL)
            if labels and cell < LABEL_MIN_CELL:
                continue
            if cell > best[2] + 1e-9:
                best = (cols, rows, cell, labels)
        if best[2] > 0 and best[3] == labels:
            return best
    return best
