"""Chapter 6 — head outputs: each head turns its weights into a weighted sum of its value rows.

Storyboard: head_i = A_i V_i -> one token's output row in head 1, worked through with
the real weights: each value row scaled by its weight, summed -> the same token in
every head: a different weight row, a different output -> "no head is the whole answer".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, FadeIn, FadeOut, LaggedStart, Square, VGroup, VMobject, Write, config

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.config import CHAPTER_TITLES

MAX_HEAD_ROWS = 12  # heads listed one per row in the "every head" beat; more are cut (and the screen says so)
VALUE_COLS = 6  # columns of V_i drawn in the worked row (an ellipsis beyond)
OUTPUT_COLS = 5  # columns of each head's output row in the "every head" beat


@dataclass
class HeadOutputsState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: every head's output for the focus word, and how the heads differ.
    """

    q: int = 0  # the query position (the focus word)
    header: VMobject | None = None  # chapter number, title and the model line
    eq: VMobject | None = None  # head_i = A_i V_i beside the title
    V: VMobject | None = None  # head 1's value vectors V_1
    weight_column: VMobject | None = None  # head 1's weights for the focus word, one per value
    out: VMobject | None = None  # head 1's output for the focus word
    H: VMobject | None = None  # head_1 for every word
    worked: VMobject | None = None  # the worked mix of head 1, cleared before the table
    head_rows: list = field(default_factory=list)  # per head: its row of the every-head table
    table: VMobject | None = None  # every head's output for the focus word, side by side


class HeadOutputsScene(LessonScene):
    chapter_id = "head-outputs"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("Every head turns its attention weights into its own weighted sum of value vectors: "
               "an n × d_k output per head, each a different context mix.")

    def construct(self):
        self.state = HeadOutputsState()
        self.state.q = self.lesson.focus
        self.formula()
        self.weighted_sum()
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
        with self.beat("Each head now uses its weights: a token's output is a weighted sum of value vectors."):
            self.play(FadeIn(self.state.header), run_time=style.SHORT)
            self.play(Write(eq), run_time=style.BEAT)

    def weighted_sum(self):
        L, th, q = self.lesson, self.theme, self.state.q
        tok = L.tokens[q]
        w = L.trace.weights[0, q]
        # Every value row counts in the sum, so up to MAX_TOKENS rows are drawn (not the usual 8).
        shape = f"{L.trace.n_pos} \u00d7 {L.d_head}"
        V = parts.NumberMatrix(th, L.trace.v[0], max_cols=VALUE_COLS, max_rows=style.MAX_TOKENS,
                               labels=parts.MatrixLabels(rows=L.tokens, name="V_1", name_color=th.role("V"),
                                                         shape=shape))
        # The weights of the focus token, one beside each value row: a column of A_1's row for that token.
        weights = VGroup()
        for r in V.rows:
            if r is None:
                continue
            cell = Square(side_length=0.26, stroke_color=th.grid, stroke_width=1, fill_color=th.weight_color(float(w[r])),
                          fill_opacity=1)
            num = parts.number(th, float(w[r]), style.WEIGHT_DIGITS)
            times = parts.text(th, "\u00d7", style.LABEL_SIZE, th.muted)
            item = VGroup(cell, num, times).arrange(RIGHT, buff=style.GAP_CHIP)
            item.next_to(V.row_labels, LEFT, buff=style.GAP_ITEM).set_y(V.row(r).get_y())
            item.num = num
            weights.add(item)
        layout.align_right(weights)
        w_title = parts.formula(th, f'A_1["{tok}", j]', style.LABEL_SIZE)
        w_title.next_to(weights, UP, buff=style.GAP_NAME).set_y(V.name.get_y())
        out = parts.vector(th, L.trace.heads[0, q], max_cols=VALUE_COLS)
        out.name = parts.formula(th, f'"head"_1["{tok}"] =', style.LABEL_SIZE, th.head(0))
        sigma = parts.formula(th, 'sum_j A_1["' + tok + '", j] dot V_1[j]', style.LABEL_SIZE, th.muted)
        panel = VGroup(weights, w_title, V)
        out.next_to(V.brackets, DOWN, buff=style.GAP_APART + style.GAP_FRAME)  # clear of V's highlight frame.align_to(V.brackets, LEFT)
        # The output's columns line up under V's columns (same layout, same column pitch).
        out.shift(RIGHT * (V.body[0].get_x() - out.body[0].get_x()))
        out.name.next_to(out.brackets, LEFT, buff=style.GAP_LINE)
        sigma.next_to(out.brackets, RIGHT, buff=style.GAP_BLOCK)
        out.add(out.name)
        # On the right, head 1's whole output: the worked row is one of its n rows.
        H = parts.NumberMatrix(th, L.trace.heads[0], max_cols=VALUE_COLS, max_rows=style.MAX_TOKENS,
                               labels=parts.MatrixLabels(rows=L.tokens, name='"head"_1', name_color=th.head(0),
                                                         shape=shape))
        H.next_to(panel, RIGHT, buff=style.GAP_WIDE).align_to(V, UP)
        block = VGroup(panel, out, sigma, H)
        layout.fit_in_content(block)
        self.state.V, self.state.weight_column, self.state.out, self.state.H = V, weights, out, H

        drawn = [r for r in V.rows if r is not None]
        frame = parts.highlight_box(th, VGroup(weights[0], V.row(drawn[0])), buff=style.GAP_FRAME)
        hidden = "" if len(drawn) == L.trace.n_pos else " (hidden rows count too)"
        with self.beat(f"Take head 1 and \u201c{tok}\u201d: each value row is scaled by its attention weight{hidden}."):
            self.play(FadeIn(V), run_time=style.BEAT)
            self.play(FadeIn(w_title), LaggedStart(*(FadeIn(x) for x in weights), lag_ratio=0.08), run_time=style.BEAT)
            # Rows the token barely attends to fade: what is left is what it reads.
            top_w = max(float(w[r]) for r in drawn)
            self.play(*(V.row(r).animate.set_opacity(0.3 + 0.7 * float(w[r]) / top_w) for r in drawn), run_time=style.SHORT)
        with self.beat(f"Add the scaled rows: that is \u201c{tok}\u201d's output in head 1, a blend of what it attends to."):
            rows = [VGroup(weights[k], V.row(r)) for k, r in enumerate(drawn)]
            self.add(frame)
            self.play(parts.sweep(frame, rows), run_time=style.BEAT * 1.5)
            self.play(FadeOut(frame), FadeIn(out), FadeIn(sigma), run_time=style.BEAT)
        h_row = H.row(q)
        with self.beat(f"Every token gets such a row: head 1's output is {L.trace.n_pos} by {L.d_head}."):
            mark = parts.highlight_box(th, VGroup(h_row, *parts.row_label(H, q)), color=th.head(0))
            self.play(FadeIn(H, shift=LEFT * 0.3), run_time=style.BEAT)
            if len(h_row):  # the focus row may sit behind the ellipsis in a long sentence
                self.play(FadeIn(mark), run_time=style.SHORT)
                block.add(mark)
        self.state.worked = VGroup(block)

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
            top_k = int(np.argmax(w[:n_keys]))
            mark = parts.highlight_box(th, cells[top_k], buff=style.GAP_NONE, color=th.head(i))
            arrow = parts.text(th, "\u2192", style.LABEL_SIZE, th.muted)
            vec = parts.vector(th, L.trace.heads[i, q], max_cols=OUTPUT_COLS, col_gap=0.45, width_chars=width)
            most = VGroup(parts.text(th, f"most on \u201c{L.tokens[top_k]}\u201d", style.SMALL_SIZE, th.muted),
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
            parts.text(th, f"weights of \u201c{tok}\u201d over the keys", style.SMALL_SIZE, th.muted)
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
            notes.add(parts.text(th, f"first {n_show} of {L.n_head} heads drawn", style.SMALL_SIZE, th.muted))
        if n_keys < L.trace.n_pos:
            notes.add(parts.text(th, f"first {n_keys} of {L.trace.n_pos} keys drawn", style.SMALL_SIZE, th.muted))
        if len(notes):
            notes.arrange(RIGHT, buff=style.GAP_ASIDE).next_to(rows, DOWN, buff=style.GAP_NAME).align_to(rows, LEFT)
            table.add(notes)
        _, _, bottom, top = layout.content_box()
        # Few heads make a small table: let it grow (up to 1.4x) into the room, or shrink to fit.
        room_w, room_h = config.frame_width - 2 * style.FRAME_MARGIN, top - bottom - 1.2
        table.scale(min(1.4, room_w / table.width, room_h / table.height))
        table.move_to([0, (top + bottom) / 2 + 0.55, 0])  # centred, with room below for the takeaway
        self.state.table = table
        with self.beat("Every head does this with its own weights and values: a different mix for the same token."):
            self.clear(self.state.worked)
            self.play(FadeIn(col_titles), FadeIn(keys), FadeIn(notes),
                      LaggedStart(*(FadeIn(r) for r in rows), lag_ratio=0.12), run_time=style.BEAT)

    def no_head_is_the_answer(self):
        L, th = self.lesson, self.theme
        msg = parts.note(th, f"Same shape from every head ({L.trace.n_pos} \u00d7 {L.d_head}), a different context "
                         f"mix in each: no head is the whole answer.", width=9.5)
        msg.next_to(self.state.table, DOWN, buff=style.GAP_BLOCK)
        msg.set_x(0)
        with self.beat("Same shapes, different context mixes: no head is the whole answer."):
            self.play(FadeIn(msg), run_time=style.BEAT)

