"""Chapter 5 — head outputs: each head turns its weights into a weighted sum of its value rows.

Storyboard: head_i = A_i V_i (the sum itself was worked through in "one head") -> the focus
word in every head: a different weight row, a different output, and how many different
words the heads read most -> "no head is the whole answer".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, FadeIn, LaggedStart, Square, VGroup, VMobject, Write, config

from scenes import layout, parts, style
from scenes.base import LessonScene

MAX_HEAD_ROWS = 12  # heads listed one per row in the "every head" beat; more are cut (and the screen says so)
OUTPUT_COLS = 5  # columns of each head's output row in the "every head" beat


@dataclass
class HeadOutputsState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: every head's output for the focus word, and how the heads differ.
    """

    q: int = 0  # the query position (the focus word)
    header: VMobject | None = None  # chapter number, title and the model line
    eq: VMobject | None = None  # head_i = A_i V_i beside the title
    head_rows: list = field(default_factory=list)  # per head: its row of the every-head table
    table: VMobject | None = None  # every head's output for the focus word, side by side
    note: VMobject | None = None  # the takeaway under the table: how many different tokens the heads read most


class HeadOutputsScene(LessonScene):
    chapter_id = "head-outputs"

    def construct(self):
        self.state = HeadOutputsState()
        self.state.q = self.lesson.focus
        self.formula()
        self.every_head()
        self.no_head_is_the_answer()

    # -- beats ---------------------------------------------------------------------------------

    def formula(self):
        L, th = self.lesson, self.theme
        self.state.header = parts.chapter_header(th, L.chapter_number(self.chapter_id), self.title, parts.model_line(L))
        eq = parts.formula(th, '"head"_i = A_i V_i in RR^(n times d_k), quad A_i = op("softmax")(frac(Q_i K_i^T, '
                                  'sqrt(d_k)))', style.LABEL_SIZE)
        # Top right, beside the header: it stays up while the chapter works through it.
        room = config.frame_width / 2 - style.FRAME_MARGIN - self.state.header.get_right()[0] - 0.4
        layout.fit(eq, width=room)
        self.state.eq = eq.to_edge(RIGHT, buff=style.FRAME_MARGIN).set_y(self.state.header.get_y())
        with self.beat("each-head-mixes"):
            self.play(FadeIn(self.state.header), run_time=style.SHORT)
            self.play(Write(eq), run_time=style.BEAT)

    def every_head(self):
        L, th, q = self.lesson, self.theme, self.state.q
        tok = L.tokens[q]
        n_show = min(L.n_head, MAX_HEAD_ROWS)
        n_keys = min(L.trace.n_pos, style.MAX_TOKENS)
        cell = 0.3
        # One column width for every head's vector, so their brackets line up down the table.
        width = max(len(style.fmt(float(x), style.DIGITS)) for x in L.trace.heads[:n_show, q].flatten())
        rows = VGroup()
        self.state.head_rows = []
        for i in range(n_show):
            w = L.trace.weights[i, q].numpy()
            chip = parts.head_chip(th, i)
            cells = VGroup(*(
                Square(side_length=cell, stroke_color=th.background, stroke_width=1,
                       fill_color=th.weight_color(float(w[k])), fill_opacity=1)
                for k in range(n_keys)
            )).arrange(RIGHT, buff=style.GAP_NONE)
            for k, c in enumerate(cells):
                c.weight = float(w[k])
            top_k = L.focus_reads[i]
            # The strongest link, framed where it is drawn (a long sentence may put it past the last key drawn).
            mark = (parts.highlight_box(th, cells[top_k], buff=style.GAP_NONE, color=th.head(i)) if top_k < n_keys
                    else VGroup())
            arrow = parts.text(th, "\u2192", style.LABEL_SIZE, th.muted)
            vec = parts.vector(th, L.trace.heads[i, q], max_cols=OUTPUT_COLS, col_gap=0.45, width_chars=width)
            most = VGroup(parts.text(th, self.words("most-on", word=L.tokens[top_k]), style.SMALL_SIZE, th.muted),
                          parts.number(th, float(w[top_k]), style.WEIGHT_DIGITS, style.SMALL_SIZE, th.muted))
            most.arrange(RIGHT, buff=style.GAP_LABEL)
            row = VGroup(chip, VGroup(cells, mark), arrow, vec, most).arrange(RIGHT, buff=style.GAP_ITEM)
            row.cells, row.vector, row.top = cells, vec, most
            rows.add(row)
            self.state.head_rows.append(row)
        rows.arrange(DOWN, buff=style.GAP_CHIP, aligned_edge=LEFT)
        # Columns: line the cells, arrows, vectors and tags up across rows.
        for part in (1, 2, 3, 4):
            x = max(r[part].get_left()[0] for r in rows)
            for r in rows:
                r[part].shift(RIGHT * (x - r[part].get_left()[0]))
        keys = VGroup(*(
            parts.text(th, L.tokens[k], style.SMALL_SIZE - 2, th.muted).rotate(np.pi / 2)
            .next_to(rows[0].cells[k], UP, buff=style.GAP_TIGHT)
            for k in range(n_keys)
        ))
        layout.align_bottom(keys)
        col_titles = VGroup(
            parts.text(th, self.words("weights-of", word=tok), style.SMALL_SIZE, th.muted)
            .next_to(keys, UP, buff=style.GAP_CHIP).align_to(rows, LEFT),
            parts.formula(th, f'"head"_(i)["{tok}"] in RR^(d_k)', style.SMALL_SIZE)
            .next_to(rows[0].vector, UP, buff=style.GAP_NAME).align_to(rows[0].vector, LEFT),
        )
        # One line of titles; the second moves right if a short key row leaves the first no room.
        col_titles[1].set_y(col_titles[0].get_y())
        col_titles[1].shift(RIGHT * max(0.0, col_titles[0].get_right()[0] + 0.4 - col_titles[1].get_left()[0]))
        table = VGroup(col_titles, keys, rows)
        notes = VGroup()
        if n_show < L.n_head:
            notes.add(parts.text(th, self.words("heads-drawn", shown=n_show, n_head=L.n_head), style.SMALL_SIZE,
                                 th.muted))
        if n_keys < L.trace.n_pos:
            notes.add(parts.text(th, self.words("keys-drawn", shown=n_keys, n_keys=L.trace.n_pos), style.SMALL_SIZE,
                                 th.muted))
        if len(notes):
            notes.arrange(RIGHT, buff=style.GAP_ASIDE).next_to(rows, DOWN, buff=style.GAP_NAME).align_to(rows, LEFT)
            table.add(notes)
        _, _, bottom, top = layout.content_box()
        # The takeaway note goes under the table: the table gets the room above it, growing (up to 1.4x)
        # when few heads leave it small, shrinking when many would not fit.
        self.state.note = self.takeaway()
        room_w = config.frame_width - 2 * style.FRAME_MARGIN
        room_h = top - bottom - self.state.note.height - style.GAP_BLOCK
        table.scale(min(1.4, room_w / table.width, room_h / table.height))
        table.move_to([0, top - table.height / 2, 0])
        self.state.note.next_to(table, DOWN, buff=style.GAP_BLOCK).set_x(0)
        self.state.table = table
        with self.beat("every-head", word=tok, n_head=L.n_head):
            self.play(FadeIn(col_titles), FadeIn(keys), FadeIn(notes),
                      LaggedStart(*(FadeIn(r) for r in rows), lag_ratio=0.12), run_time=style.BEAT)

    def reads(self) -> dict:
        """The placeholders of how the heads differ: the focus word, and how many different tokens they read most."""
        L = self.lesson
        return {"word": L.tokens[L.focus], "n_head": L.n_head, "n_tokens": len(set(L.focus_reads))}

    def takeaway(self) -> VMobject:
        L, th = self.lesson, self.theme
        return parts.note(th, self.words("takeaway", **self.reads(), n=L.trace.n_pos, d_k=L.d_head),
                          width=min(11.0, config.frame_width - 2 * style.FRAME_MARGIN))

    def no_head_is_the_answer(self):
        with self.beat("how-different", **self.reads()):
            self.play(FadeIn(self.state.note), run_time=style.BEAT)

