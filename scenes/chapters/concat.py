"""Chapter 6 — concatenate: the h head outputs side by side, back to the model width.

Storyboard: the head outputs, each n × d_k in its head's colour, apart -> they
slide together into one n × d matrix (the real numbers of Concat) -> braces count
the width: h · d_k = d, and n rows -> "stacked, not yet combined".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, FadeOut, GrowFromCenter, LaggedStart, VGroup, VMobject, config

from scenes import layout, parts, style
from scenes.base import LessonScene

APART = 0.55  # extra gap between head blocks before they are joined


@dataclass
class ConcatState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: the concatenation: every head's output side by side, back to n × d.
    """

    takeaway: VMobject | None = None  # the closing line: Concat(head_1..head_h) and what it means
    C: parts.HeadBlocks | None = None  # Concat(head_1..head_h) [pos, d_model], in head blocks
    header: VMobject | None = None  # chapter number, title and the model line
    lead: VMobject | None = None  # the formula beside the title
    pieces: list = field(default_factory=list)  # (block, offset) of each head output sliding into place
    piece_shapes: VMobject | None = None  # the n × d_k shapes under the pieces
    braces: VMobject | None = None  # width, n and d_k braces around the result


class ConcatScene(LessonScene):
    chapter_id = "concat"

    def construct(self):
        self.state = ConcatState()
        self.heads_apart()
        self.join()
        self.count_width()
        self.stacked_not_combined()

    # -- parts ---------------------------------------------------------------------------------

    def layout(self):
        """The concatenation and the takeaway strip, placed once: nothing has to move to make room later."""
        L, th = self.lesson, self.theme
        eq = parts.formula(th, '"Concat"("head"_1, ..., "head"_h) in RR^(n times d)', style.BODY_SIZE)
        msg = parts.note(th, self.words("takeaway"), width=7.2)
        self.state.takeaway = VGroup(eq, msg).arrange(RIGHT, buff=style.GAP_APART)
        layout.fit(self.state.takeaway, width=config.frame_width - 2 * style.FRAME_MARGIN)
        self.state.takeaway.to_edge(DOWN, buff=style.FRAME_MARGIN + 0.05)

        C = parts.HeadBlocks(th, L.trace.concat, L.n_head, labels=parts.MatrixLabels(rows=L.tokens, shape=False))
        _, _, _, top = layout.content_box()
        # Braces go above (the width), left (n) and under each block (d_k): keep room for them.
        brace_room = 0.75
        low = self.state.takeaway.get_top()[1] + 0.15 + brace_room
        high = top - brace_room
        layout.fit(C, width=config.frame_width - 2 * style.FRAME_MARGIN - 2.0, height=high - low)
        C.move_to([0.5, (high + low) / 2, 0])
        self.state.C = C

    # -- beats ---------------------------------------------------------------------------------

    def heads_apart(self):
        L, th = self.lesson, self.theme
        self.state.header = parts.chapter_header(th, L.chapter_number(self.chapter_id), self.title, parts.model_line(L))
        lead = parts.formula(th, '"head"_i = A_i V_i in RR^(n times d_k)', style.LABEL_SIZE)
        self.state.lead = lead.to_edge(RIGHT, buff=style.FRAME_MARGIN).set_y(self.state.header.get_y())
        self.layout()
        C = self.state.C
        # Each head's block (numbers, tint, tag) starts apart from its neighbours, with its own shape.
        self.state.pieces = []
        shapes = VGroup()
        for k, h in enumerate(C.heads):
            offset = (k - (len(C.heads) - 1) / 2) * APART
            if h is None:
                piece = VGroup(C.slot(k), C.elided)
            else:
                piece = VGroup(C.block(h)[0], C.slot(k), C.chip(h))
                shape = parts.text(th, f"{L.trace.n_pos} \u00d7 {L.d_head}", style.SMALL_SIZE, th.muted)
                shapes.add(shape.next_to(C.block(h), DOWN, buff=style.GAP_LINE).shift(RIGHT * offset))
            if k == 0:  # the token labels travel with the first block
                piece.add(C.row_labels)
            piece.shift(RIGHT * offset)
            self.state.pieces.append((piece, offset))
        self.state.piece_shapes = shapes
        blocks = VGroup(*(p for p, _ in self.state.pieces))
        with self.beat("heads-apart", n_head=L.n_head, n_tokens=L.trace.n_pos, d_head=L.d_head):
            self.play(FadeIn(self.state.header), FadeIn(lead), run_time=style.SHORT)
            self.play(FadeIn(blocks), FadeIn(shapes), run_time=style.BEAT)

    def join(self):
        C = self.state.C
        with self.beat("join"):
            self.play(*(p.animate.shift(LEFT * off) for p, off in self.state.pieces), FadeOut(self.state.piece_shapes),
                      run_time=style.BEAT)
            self.play(Create(C.brackets), run_time=style.SHORT)

    def count_width(self):
        L, th, C = self.lesson, self.theme, self.state.C
        top = parts.brace_label(th, VGroup(C.brackets, C.chips),
                                f"h dot d_k = {L.n_head} dot {L.d_head} = {L.d_model} = d", UP,
                                size=style.LABEL_SIZE, math_mode=True)
        left = parts.brace_label(th, VGroup(C.brackets, C.row_labels), f"n = {L.trace.n_pos}", LEFT,
                                 size=style.LABEL_SIZE, math_mode=True)
        under = VGroup()
        for h in (h for h in C.heads if h is not None):
            under.add(parts.brace_label(th, C.block(h)[0], f"d_k = {L.d_head}", DOWN, th.head(h), math_mode=True))
        self.state.braces = VGroup(top, left, under)
        with self.beat("width-back", n_head=L.n_head, d_head=L.d_head, d_model=L.d_model):
            self.play(LaggedStart(*(GrowFromCenter(b) for b in under), lag_ratio=0.15), run_time=style.BEAT)
            self.play(GrowFromCenter(top), GrowFromCenter(left), run_time=style.BEAT)

    def stacked_not_combined(self):
        with self.beat("stacked-not-combined"):
            self.play(FadeIn(self.state.takeaway), run_time=style.BEAT)
