"""Chapter 4 — heads in parallel: all h patterns side by side on one colour scale.

Storyboard: every head's attention pattern appears at once (they run in parallel),
rows = queries and columns = keys, one [0, 1] colour bar for all -> the same query
row highlighted in every head: each head reads from different places -> each head
sees the same sequence through a different lens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, FadeOut, VGroup, VMobject

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.focus import where_heads_look
from scenes.parts.attention import span_cells
from scenes.parts.tokens import with_gaps

# Where each head puts most of the focus query's weight (scenes.lesson.focus.LOOK_CASES): the beat of each case.
SAME_QUERY_IDS = {"mixed": "same-query", "parked-one-word": "same-query-parked-one-word",
                  "none-parked": "same-query-none-parked", "one-word": "same-query-one-word",
                  "all-parked": "same-query-all-parked"}


@dataclass
class ParallelHeadsState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: all heads' patterns side by side on one scale.
    """

    header: VMobject | None = None  # chapter number, title and the model line
    bar: parts.ColorBar | None = None  # the one [0, 1] scale of every pattern
    note: VMobject | None = None  # what rows and columns are (or the tokens in order)
    grids: VMobject | None = None  # one AttentionGrid per head
    axes: VMobject | None = None  # the query and key axis words
    cell: float = 0.0  # the patterns' cell size


class ParallelHeadsScene(LessonScene):
    chapter_id = "parallel-heads"

    def construct(self):
        self.state = ParallelHeadsState()
        L = self.lesson
        self.state.header = self.header(parts.model_line(L))
        self.build_patterns()
        self.all_at_once()
        self.same_query()

    def build_patterns(self):
        th, L = self.theme, self.lesson
        tokens = L.tokens
        drawn = L.drawn_positions(style.MAX_TOKENS)  # a long sentence: a window around the focus word
        n = span_cells(L.trace.n_pos, drawn)  # cells across a pattern, its gaps included
        left, right, bottom, top = layout.content_box()
        self.state.bar = parts.ColorBar(th, height=2.4)
        width = right - left - self.state.bar.width - 0.4
        room_top = self.state.header.get_bottom()[1] - 0.25
        height = room_top - bottom - 0.5  # leaves a line for the note under the patterns
        label_w = max(parts.text(th, tokens[p], style.SMALL_SIZE).width for p in drawn) + 0.15
        cols, rows, cell, labels = layout.grid_layout(L.n_head, n, width, height, label_w)
        grids = VGroup()
        for i in range(L.n_head):
            r, c = divmod(i, cols)
            which = False
            if labels:
                which = "rows" if c == 0 and r > 0 else ("cols" if r == 0 and c > 0 else (True if i == 0 else False))
            g = parts.AttentionGrid(th, L.trace.weights[i], tokens, positions=drawn, cell=cell,
                                    decor=parts.OVERVIEW.but(labels=which), color=th.head(i), binned=True)
            chip = parts.text(th, self.words("head-title", head=i + 1), style.SMALL_SIZE, th.head(i))
            chip.next_to(g.frame, DOWN, buff=style.GAP_CHIP)
            g.chip = chip
            g.add(chip)
            grids.add(g)
        # Place frames on a regular lattice (labels hang outside the frames).
        pitch_x = n * cell + 0.3
        pitch_y = n * cell + 0.45
        for i, g in enumerate(grids):
            r, c = divmod(i, cols)
            g.shift([c * pitch_x - g.frame.get_x(), -r * pitch_y - g.frame.get_y(), 0])
        axes = VGroup()
        key = parts.text(th, self.words("key-axis"), style.SMALL_SIZE, th.muted)
        query = parts.text(th, self.words("query-axis"), style.SMALL_SIZE, th.muted).rotate(-math.pi / 2)
        key.next_to(grids, UP, buff=style.GAP_CHIP).align_to(grids[0].frame, LEFT)
        query.next_to(grids, LEFT, buff=style.GAP_CHIP).align_to(grids[0].frame, UP)
        axes.add(key, query)
        arranged = VGroup(grids, axes)
        layout.fit(arranged, width=width, height=room_top - bottom - 0.45)
        arranged.move_to([left + arranged.width / 2, room_top - arranged.height / 2, 0])
        self.state.bar.next_to(arranged, RIGHT, buff=style.GAP_ASIDE).align_to(grids[0].frame, UP)
        # The tokens in order when the patterns are too small to name them.
        note = self.words("note" if labels else "note-tokens", tokens=" ".join(with_gaps(tokens, drawn)),
                          cap_note=parts.cap_note(len(tokens), drawn))
        self.state.note = layout.fit(parts.text(th, note, style.SMALL_SIZE, th.muted), width=right - left)
        self.state.note.next_to(arranged, DOWN, buff=style.GAP_LINE).align_to(arranged, LEFT)
        if self.state.note.get_bottom()[1] < bottom:
            self.state.note.shift(UP * (bottom - self.state.note.get_bottom()[1]))
        self.state.grids, self.state.axes, self.state.cell = grids, axes, cell

    def all_at_once(self):
        L = self.lesson
        with self.beat("all-heads", n_head=L.n_head):
            self.play(FadeIn(self.state.header), run_time=style.SHORT)
            # One animation for all heads: they run in parallel, not one after another.
            s = self.state
            self.play(FadeIn(s.grids), FadeIn(s.axes), FadeIn(s.bar), FadeIn(s.note), run_time=style.BEAT)
        with self.beat("same-scale"):
            # A frame around the scale points at it; the bar itself stays put (scaling it made it jump).
            frame = parts.highlight_box(self.theme, self.state.bar, buff=style.GAP_FRAME)
            self.play(Create(frame), run_time=style.SHORT)
            self.play(FadeOut(frame), run_time=style.SHORT)

    def same_query(self):
        th, L = self.theme, self.lesson
        grids = self.state.grids
        f = grids[0].query_index(L.focus)  # the focus word's row (a long sentence's window always draws it)
        boxes = VGroup(*(parts.highlight_box(th, g.row_box(f), buff=style.GAP_HAIR) for g in grids))
        tops = VGroup()
        for i, g in enumerate(grids):
            # Each head's largest weight in the row, where it is drawn (the window keeps every head's, room allowing).
            k = g.key_index(L.focus_reads[i])
            if k is not None:
                tops.add(parts.highlight_box(th, g.cell_box(f, k), buff=style.GAP_NONE, color=th.text)
                         .set_stroke(width=2))
        # Counted over the whole row (a long sentence draws only a window of it): true of the model, not the window.
        case, values = where_heads_look(L.tokens[k] for k in L.focus_reads[: len(grids)])
        with self.beat(SAME_QUERY_IDS[case], word=L.tokens[L.focus], n_head=len(grids), **values):
            self.play(Create(boxes), run_time=style.BEAT)
            self.play(Create(tops), run_time=style.SHORT)
        self.narrate("lenses")
