"""Animations built from parts: a frame that sweeps across a row as a product is computed."""

from __future__ import annotations

from collections.abc import Sequence

from manim import UpdateFromAlphaFunc, VMobject


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
