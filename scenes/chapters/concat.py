"""Chapter 6 — concatenate: the h head outputs side by side, back to the model width.

Storyboard: the head outputs, each n × d_k in its head's colour, apart, the focus word's row framed in
every block (never hidden in the ellipsis) -> they slide together into one n × d matrix (the real numbers
of Concat), the frames with them, and become one frame: the focus word's row chains every head's output
-> braces count the width: h · d_k = d, and n rows -> the other rows dim: that row, in head blocks, is
what W_O reads next -> "stacked, not yet combined".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Create,
    FadeIn,
    FadeOut,
    GrowFromCenter,
    LaggedStart,
    Rectangle,
    VGroup,
    VMobject,
    config,
)

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
    focus_frames: VMobject | None = None  # a frame around the focus word's row in each block, apart
    focus_row: VMobject | None = None  # one frame around that row of the joined matrix


class ConcatScene(LessonScene):
    chapter_id = "concat"

    def construct(self):
        self.state = ConcatState()
        self.heads_apart()
        self.join()
        self.count_width()
        self.follow_the_row()
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
        layout.clear_of_logo(self.state.takeaway)

        # The focus word's row is always drawn: the lesson follows it into W_O.
        C = parts.HeadBlocks(th, L.trace.concat, L.n_head, labels=parts.MatrixLabels(rows=L.tokens, shape=False),
                             keep=[L.focus])
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
        self.state.header = self.header(parts.model_line(L))
        lead = parts.formula(th, '"head"_i = A_i V_i in RR^(n times d_k)', style.LABEL_SIZE)
        self.state.lead = self.beside_header(lead, self.state.header)
        self.layout()
        C = self.state.C
        # Each head's block (numbers, tint, tag) starts apart from its neighbours, with its own shape.
        self.state.pieces = []
        shapes, frames = VGroup(), VGroup()
        self._focus_label().set_color(th.highlight)
        self.state.focus_row = self._row_frame(C.tints)  # where the row will be once the blocks are joined
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
            frame = self._row_frame(C.slot(k) if h is None else C.block(h)[0])
            frames.add(frame)
            piece.add(frame)
            piece.shift(RIGHT * offset)
            self.state.pieces.append((piece, offset))
        self.state.piece_shapes, self.state.focus_frames = shapes, frames
        blocks = VGroup(*(p for p, _ in self.state.pieces))
        with self.beat("heads-apart", n_head=L.n_head, n_tokens=L.trace.n_pos, d_head=L.d_head):
            self.play(FadeIn(self.state.header), FadeIn(lead), run_time=style.SHORT)
            self.play(FadeIn(blocks), FadeIn(shapes), run_time=style.BEAT)

    def _row_frame(self, across: VMobject) -> VMobject:
        """A frame as wide as ``across`` around the focus word's row, one row pitch high (clear of the numbers)."""
        C, y = self.state.C, self._focus_label().get_y()
        pitch = min(abs(a.get_y() - b.get_y()) for a, b in zip(C.row_labels, C.row_labels[1:]))
        frame = Rectangle(width=across.width + 0.06, height=pitch * 0.95, stroke_color=self.theme.highlight,
                          stroke_width=2)
        return frame.move_to([across.get_x(), y, 0])

    def _focus_label(self) -> VMobject:
        C, L = self.state.C, self.lesson
        drawn = [o for o in C.other if o is not None]
        return C.row_labels[drawn.index(L.focus)]

    def join(self):
        L, C = self.lesson, self.state.C
        with self.beat("join", word=L.tokens[L.focus], n_head=L.n_head):
            self.play(*(p.animate.shift(LEFT * off) for p, off in self.state.pieces), FadeOut(self.state.piece_shapes),
                      run_time=style.BEAT)
            self.play(Create(C.brackets), FadeOut(self.state.focus_frames), FadeIn(self.state.focus_row),
                      run_time=style.SHORT)

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

    def follow_the_row(self):
        """The other rows dim: the focus word's row, every head's output in turn, is what W_O reads next."""
        L, C = self.lesson, self.state.C
        focus = set(C.line(L.focus))
        others = VGroup(*(m for m in C.body if m not in focus),
                        *(label for label in C.row_labels if label is not self._focus_label()))
        with self.beat("follow-the-row", word=L.tokens[L.focus], n_head=L.n_head, d_head=L.d_head,
                       d_model=L.d_model):
            self.play(others.animate.set_opacity(0.3), run_time=style.SHORT)

    def stacked_not_combined(self):
        with self.beat("stacked-not-combined"):
            self.play(FadeIn(self.state.takeaway), run_time=style.BEAT)
