"""Chapter 5 — head outputs: each head turns its weights into a weighted sum of its value rows.

Storyboard: head_i = A_i V_i (the sum itself was worked through in "one head") -> the focus
word in every head: a different weight row, a different output, and how many different
words the heads read most -> "no head is the whole answer".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manim import DOWN, LEFT, RIGHT, UP, DashedLine, FadeIn, LaggedStart, Square, VGroup, VMobject, Write, config

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.parts.attention import GAP_CELLS, turned_text
from scenes.parts.tokens import ELISION, gaps

MAX_HEAD_ROWS = 12  # heads listed one per row in the "every head" beat; more are cut (and the screen says so)
OUTPUT_COLS = 5  # columns of each head's output row in the "every head" beat
# Every word and number of the table is as big as its numbers: twelve heads' rows shrink the table to about 0.8,
# which leaves them just above the 18 px floor (parts shrunk further would fall below it).
TEXT_SIZE = KEY_SIZE = style.NUMBER_SIZE


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

    @property
    def drawn(self) -> tuple[int, ...]:
        """The sentence positions drawn: a long sentence's window around the focus word."""
        return self.lesson.drawn_positions(style.MAX_TOKENS)

    # -- beats ---------------------------------------------------------------------------------

    def formula(self):
        L, th = self.lesson, self.theme
        self.state.header = self.header(self.words("subtitle", model_line=parts.model_line(L),
                                                   cap_note=parts.cap_note(L.trace.n_pos, self.drawn)))
        # Two aligned lines: narrow enough to stay readable beside a long subtitle.
        eq = parts.formula(th, r'"head"_i &= A_i V_i in RR^(n times d_k) \ A_i &= op("softmax")(frac(Q_i K_i^T, '
                                  r'sqrt(d_k)))', style.LABEL_SIZE)
        # Top right, under the stage map: it stays up while the chapter works through it.
        self.state.eq = self.beside_header(eq, self.state.header)
        # The table comes up with its first head: one head's weights and the output they make.
        table, first = self.build_table()
        with self.beat("each-head-mixes"):
            self.play(FadeIn(self.state.header), run_time=style.SHORT)
            self.play(Write(eq), FadeIn(table.titles), FadeIn(table.keys), FadeIn(table.breaks), FadeIn(first),
                      run_time=style.BEAT)

    def every_head(self):
        L, table = self.lesson, self.state.table
        rest = self.state.head_rows[1:]
        with self.beat("every-head", word=L.tokens[self.state.q], n_head=L.n_head):
            self.play(FadeIn(table.notes), LaggedStart(*(FadeIn(r) for r in rest), lag_ratio=0.12),
                      run_time=style.BEAT)

    def build_table(self) -> tuple[VGroup, VMobject]:
        """Every head's output for the focus word, one row per head, fitted over the takeaway's room (its
        ``titles``, ``keys``, ``breaks`` and ``notes`` by name); and the first head's row."""
        L, th, q = self.lesson, self.theme, self.state.q
        tok = L.tokens[q]
        n_show = min(L.n_head, MAX_HEAD_ROWS)
        drawn = self.drawn
        cut = gaps(drawn, L.trace.n_pos)
        cell = 0.3
        # One column width for every head's vector, so their brackets line up down the table.
        width = max(len(style.fmt(float(x), style.DIGITS)) for x in L.trace.heads[:n_show, q].flatten())
        rows = VGroup()
        self.state.head_rows = []
        for i in range(n_show):
            w = L.trace.weights[i, q].numpy()
            chip = parts.head_chip(th, i, TEXT_SIZE)
            cells = VGroup(*(
                Square(side_length=cell, stroke_color=th.background, stroke_width=1,
                       fill_color=th.weight_color(float(w[k])), fill_opacity=1)
                for k in drawn
            )).arrange(RIGHT, buff=style.GAP_NONE)
            for j, c in enumerate(cells):  # a gap in the window: the cells after it move right
                c.weight = float(w[drawn[j]])
                c.shift(RIGHT * GAP_CELLS * cell * sum(g <= j for g in cut))
            top_k = L.focus_reads[i]
            # The strongest link, framed where it is drawn (the window keeps every head's, room allowing).
            mark = (parts.highlight_box(th, cells[drawn.index(top_k)], buff=style.GAP_NONE, color=th.head(i))
                    if top_k in drawn else VGroup())
            arrow = parts.text(th, "\u2192", style.LABEL_SIZE, th.muted)
            vec = parts.vector(th, L.trace.heads[i, q], max_cols=OUTPUT_COLS, col_gap=0.45, width_chars=width)
            most = VGroup(parts.text(th, self.words("most-on", word=L.tokens[top_k]), TEXT_SIZE, th.muted),
                          parts.number(th, float(w[top_k]), style.WEIGHT_DIGITS, TEXT_SIZE, th.muted))
            most.arrange(RIGHT, buff=style.GAP_LABEL)
            row = VGroup(chip, VGroup(cells, mark), arrow, vec, most).arrange(RIGHT, buff=style.GAP_ITEM)
            row.cells, row.vector, row.top = cells, vec, most
            rows.add(row)
            self.state.head_rows.append(row)
        rows.arrange(DOWN, buff=style.GAP_FRAME, aligned_edge=LEFT)
        # Columns: line the cells, arrows, vectors and tags up across rows.
        for part in (1, 2, 3, 4):
            x = max(r[part].get_left()[0] for r in rows)
            for r in rows:
                r[part].shift(RIGHT * (x - r[part].get_left()[0]))
        keys = VGroup(*(
            turned_text(th, L.tokens[k], KEY_SIZE, th.muted).next_to(rows[0].cells[j], UP, buff=style.GAP_TIGHT)
            for j, k in enumerate(drawn)
        ))
        # A "…" over each gap in the window, among the key names, and a dashed line down it through every row.
        first = rows[0].cells
        gap_x = [first[g].get_left()[0] - GAP_CELLS * cell / 2 if g < len(drawn) else
                 first[-1].get_right()[0] + GAP_CELLS * cell / 2 for g in cut]
        marks = VGroup(*(turned_text(th, ELISION, KEY_SIZE, th.muted).next_to(first[0], UP, buff=style.GAP_TIGHT)
                         .set_x(x) for x in gap_x))
        layout.align_bottom(VGroup(*keys, *marks))
        keys = VGroup(*keys, *marks) if len(marks) else keys
        breaks = VGroup(*(DashedLine([x, first.get_top()[1], 0], [x, rows[-1].cells.get_bottom()[1], 0],
                                     dash_length=cell / 5, stroke_width=1.5, stroke_color=th.muted) for x in gap_x))
        col_titles = VGroup(
            parts.text(th, self.words("weights-of", word=tok), TEXT_SIZE, th.muted)
            .next_to(keys, UP, buff=style.GAP_CHIP).align_to(rows, LEFT),
            parts.formula(th, f'"head"_(i)["{tok}"] in RR^(d_k)', TEXT_SIZE)
            .next_to(rows[0].vector, UP, buff=style.GAP_NAME).align_to(rows[0].vector, LEFT),
        )
        table = VGroup(col_titles, keys, rows, *([breaks] if len(breaks) else []))
        notes = VGroup()
        if n_show < L.n_head:
            notes.add(parts.text(th, self.words("heads-drawn", shown=n_show, n_head=L.n_head), TEXT_SIZE,
                                 th.muted))
        if len(notes):
            notes.arrange(RIGHT, buff=style.GAP_ASIDE).next_to(rows, DOWN, buff=style.GAP_NAME).align_to(rows, LEFT)
            table.add(notes)
        left, right, bottom, top = layout.content_box()
        # The takeaway note goes under the table: the table gets the room above it, growing (up to 1.4x)
        # when few heads leave it small, shrinking when many would not fit.
        self.state.note = self.takeaway()
        room_w, eq = right - left, self.state.eq
        for below in (top, eq.get_bottom()[1] - style.GAP_LABEL):
            room_h = below - bottom - self.state.note.height - style.GAP_BLOCK
            table.scale(min(1.4, room_w / table.width, room_h / table.height))
            table.move_to([0, below - table.height / 2, 0])
            if all(t.get_right()[0] < eq.get_left()[0] - style.GAP_ITEM
                   or t.get_top()[1] < eq.get_bottom()[1] - style.GAP_LABEL for t in col_titles):
                break  # (else a title would run into the formula at the top right: the table starts below it)
        self.state.note.next_to(table, DOWN, buff=style.GAP_BLOCK).set_x(0)
        self.state.table = table
        table.titles, table.keys, table.breaks, table.notes = col_titles, keys, breaks, notes
        return table, rows[0]

    def reads(self) -> dict:
        """The placeholders of how the heads differ: the focus word, and how many different tokens they read most."""
        L = self.lesson
        return {"word": L.tokens[L.focus], "n_head": L.n_head, "n_tokens": len(set(L.focus_reads))}

    def takeaway(self) -> VMobject:
        L, th = self.lesson, self.theme
        # As wide as the frame allows: one line where it fits, leaving the table more room.
        return parts.note(th, self.words("takeaway", **self.reads(), n=L.trace.n_pos, d_k=L.d_head),
                          width=config.frame_width - 2 * style.FRAME_MARGIN)

    def no_head_is_the_answer(self):
        with self.beat("how-different", **self.reads()):
            self.play(FadeIn(self.state.note), run_time=style.BEAT)

