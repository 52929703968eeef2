"""Chapter 7 — W_O blends the heads; the residual update; Add & Norm.

Storyboard: W_O drawn as a matrix of its own (d × d), its rows in head blocks ->
one token's concatenation meets those row blocks and comes out as one output row ->
split by head: every head writes a full-width contribution, drawn flat as arrows tip to tail, and W_O's
output is their sum (+ b_O) -> the output arrow moves onto the token's own vector: the residual stream ->
the same rows as numbers, and LayerNorm -> n × d in, n × d out: a drop-in block you can stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Arrow,
    Create,
    FadeIn,
    FadeOut,
    GrowArrow,
    LaggedStart,
    Transform,
    VGroup,
    VMobject,
    config,
)

from mha_core.analysis import flat_view
from scenes import layout, parts, style
from scenes.base import LessonScene

ARROW_ROOM = 0.7  # between the block diagram's boxes: room for an arrow


@dataclass
class OutputProjectionState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: W_O, the residual and Add & Norm for the focus word.
    """

    q: int = 0  # the query position (the focus word)
    header: VMobject | None = None  # chapter number, title and the model line
    eq: VMobject | None = None  # MultiHead(x) = Concat(...) W_O beside the title
    W: parts.HeadBlocks | None = None  # W_O in row blocks: the rows that read head i
    W_tags: VMobject | None = None  # "reads head i" tags beside W_O's blocks
    concat_column: VMobject | None = None  # the focus word's concat row, stood up
    output_row: VMobject | None = None  # its output row
    product: VMobject | None = None  # concat · W_O = output, with names
    writes: parts.ArrowChain | None = None  # what each head writes into the output (+ b_O), drawn flat, tip to tail
    output_arrow: VMobject | None = None  # their sum, the output, from the origin
    x_arrow: VMobject | None = None  # the word's own vector x
    residual_arrow: VMobject | None = None  # x + output
    scale: float = 1.0  # Manim units per unit of the flat view
    origin: np.ndarray | None = None  # where the flat view's origin is drawn
    residual: VMobject | None = None  # x + MultiHead(x), the residual stack
    sum_rows: VMobject | None = None  # x, + MultiHead(x), = residual: the rows of the residual stack
    norm_row: VMobject | None = None  # LayerNorm of the residual, with the model's own parameters
    note: VMobject | None = None  # what the flat view is


class OutputProjectionScene(LessonScene):
    chapter_id = "output-projection"

    def construct(self):
        self.state = OutputProjectionState()
        self.state.q = self.lesson.focus
        self.the_matrix()
        self.one_token_through()
        self.per_head_writes()
        self.residual_update()
        self.add_and_norm()
        self.drop_in_block()

    # -- beats ---------------------------------------------------------------------------------

    def the_matrix(self):
        L, th = self.lesson, self.theme
        self.state.header = self.header(parts.model_line(L))
        eq = parts.formula(th, '"MultiHead"(X) = "Concat"("head"_1, ..., "head"_h) W_O', style.LABEL_SIZE)
        self.state.eq = self.beside_header(eq, self.state.header)

        W = parts.HeadBlocks(th, L.mha.W_O, L.n_head, axis=0, max_other=style.MAX_MATRIX_COLS, chips=False,
                             labels=parts.MatrixLabels(shape=False))
        W.name = parts.formula(th, "W_O in RR^(d times d)", style.LABEL_SIZE, th.role("O"))
        W.shape = parts.text(th, self.words("w-o-shape", d_model=L.d_model, weights=L.weights_kind), style.SMALL_SIZE,
                             th.muted)
        W.name.next_to(W.brackets, UP, buff=style.GAP_NAME)
        W.add(W.name)
        # Tags on the right of each row block: which head's numbers those rows read.
        tags = VGroup()
        for h in (h for h in W.heads if h is not None):
            tag = parts.head_chip(th, h, style.SMALL_SIZE - 2, label=self.words("reads-head", head=h + 1))
            tags.add(tag.next_to(W.brackets, RIGHT, buff=style.GAP_NAME).set_y(W.block(h)[0].get_y()))
        self.state.W, self.state.W_tags = W, tags
        group = VGroup(W, tags)
        _, _, bottom, top = layout.content_box()
        layout.fit(group, height=top - bottom - 1.0)
        group.move_to([1.0, (top + bottom) / 2 + 0.4, 0])
        W.shape.next_to(W.brackets, DOWN, buff=style.GAP_LABEL)
        with self.beat("the-matrix", weights=L.weights_kind):
            self.play(FadeIn(self.state.header), FadeIn(eq), run_time=style.SHORT)
            self.play(FadeIn(W), FadeIn(W.shape), run_time=style.BEAT)
            self.play(LaggedStart(*(FadeIn(t, shift=LEFT * 0.2) for t in tags), lag_ratio=0.15), run_time=style.BEAT)

    def one_token_through(self):
        L, th, q, W = self.lesson, self.theme, self.state.q, self.state.W
        tok = L.tokens[q]
        # The token's concatenation, drawn as a column so that its entry j sits beside row j of W_O.
        c = parts.HeadBlocks(th, L.trace.concat[q].reshape(-1, 1), L.n_head, axis=0, max_other=1,
                             labels=parts.MatrixLabels(shape=False))
        c.scale(W.body[0].height / c.body[0].height if c.body[0].height else 1)
        c.shift(UP * (W.body.get_top()[1] - c.body.get_top()[1]))
        c.next_to(W, LEFT, buff=style.GAP_RESULT)
        c.shift(UP * (W.body.get_top()[1] - c.body.get_top()[1]))
        c_name = parts.formula(th, f'"Concat"["{tok}"]', style.LABEL_SIZE).next_to(c.brackets, UP, buff=style.GAP_NAME)
        c_name.align_to(c.brackets, RIGHT)
        dot = parts.formula(th, "dot", style.BODY_SIZE).move_to((c.get_right() + W.get_left()) / 2)
        out = parts.vector(th, L.trace.output[q], max_cols=style.MAX_MATRIX_COLS, col_gap=0.45)
        out.next_to(W.brackets, DOWN, buff=style.GAP_APART)
        out.shift(RIGHT * (W.body[0].get_x() - out.body[0].get_x()))  # column j under column j of W_O
        out_name = parts.formula(th, f'"output"["{tok}"] =', style.LABEL_SIZE, th.role("O"))
        out_name.next_to(out.brackets, LEFT, buff=style.GAP_LINE)
        self.state.concat_column, self.state.output_row = c, out
        self.state.product = VGroup(c, c_name, dot, out, out_name)
        with self.beat("one-token-through", word=tok):
            self.play(FadeOut(W.shape), FadeIn(c), FadeIn(c_name), FadeIn(dot), run_time=style.BEAT)
            self.play(FadeIn(out), FadeIn(out_name), run_time=style.BEAT)

    def writes(self) -> list[torch.Tensor]:
        """What each head writes into the focus word's output (head_i W_O^(i)), then b_O: they sum to the output."""
        L, q = self.lesson, self.state.q
        return [*L.head_writes[:, q], *([L.b_O] if L.b_O is not None else [])]

    def fit_flat(self, corners: np.ndarray, note: VMobject) -> tuple[float, np.ndarray]:
        """The scale (Manim units per unit) and the drawn origin that fit flat-view ``corners`` [n, 2] above ``note``."""
        left, right, bottom, top = layout.content_box()
        width, height = right - left - 2.0, top - note.get_top()[1] - 1.0
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        scale = float(min(width / max(hi[0] - lo[0], 1e-9), height / max(hi[1] - lo[1], 1e-9)))
        centre = np.array([(left + right) / 2, (note.get_top()[1] + top) / 2 - 0.2])
        return scale, np.array([*(centre - (lo + hi) / 2 * scale), 0.0])

    def output_arrow(self, out: np.ndarray, scale: float, origin: np.ndarray) -> VGroup:
        """The output, drawn flat from ``origin``, and its name at its tip."""
        th, tok = self.theme, self.lesson.tokens[self.state.q]
        arrow = parts.vector_arrow(origin, origin + np.array([*(out * scale), 0.0]), th.role("O"), stroke_width=6)
        name = parts.formula(th, f'"MultiHead"(X)["{tok}"]', style.LABEL_SIZE, th.role("O"))
        side = RIGHT if out[0] >= 0 else LEFT
        name.next_to(arrow.get_end(), DOWN, buff=style.GAP_LABEL).align_to(arrow.get_end(), side)
        if name.get_bottom()[1] < self.state.note.get_top()[1] + style.GAP_LABEL:  # no room above the note: above
            name.next_to(arrow.get_end(), UP, buff=style.GAP_LABEL).align_to(arrow.get_end(), side)
        return VGroup(arrow, name)

    def per_head_writes(self):
        L, th, q = self.lesson, self.theme, self.state.q
        # Drawn flat on a plane along the output (``flat_view``): a sum stays a sum, so the chain of the heads'
        # writes, tip to tail, ends where the output's arrow ends.
        flat = flat_view(torch.stack([*self.writes(), L.trace.output[q]]), L.trace.output[q]).numpy()
        steps, out = flat[:-1], flat[-1]
        left, right, _, _ = layout.content_box()
        note = parts.text(th, self.words("flat-note", d=L.d_model), style.SMALL_SIZE, th.muted)
        layout.fit(note, width=right - left)
        note.to_edge(DOWN, buff=style.FRAME_MARGIN)
        layout.clear_of_logo(note)
        scale, origin = self.fit_flat(np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)]), note)
        self.state.scale, self.state.origin, self.state.note = scale, origin, note
        output = self.output_arrow(out, scale, origin)
        colours = [th.head(h) for h in range(L.n_head)] + [th.muted] * (len(steps) - L.n_head)
        names = [parts.text(th, str(h + 1), style.SMALL_SIZE, th.head(h)) for h in range(L.n_head)]
        names += [parts.formula(th, "b_O", style.SMALL_SIZE, th.muted)] * (len(steps) - L.n_head)
        chain = parts.ArrowChain(th, steps, colours, names, scale=scale, start=origin[:2], avoid=[note, output[1]])
        self.state.writes, self.state.output_arrow = chain, output
        with self.beat("per-head-writes"):
            self.clear(self.state.W, self.state.W_tags, self.state.product)
            self.play(FadeIn(note), LaggedStart(*(GrowArrow(a) for a in chain.arrows), lag_ratio=0.4),
                      FadeIn(VGroup(*chain.names.values())), run_time=style.BEAT * 2.5)
            self.play(GrowArrow(output[0]), FadeIn(output[1]), run_time=style.BEAT)

    def residual_update(self):
        L, th, q = self.lesson, self.theme, self.state.q
        tok = L.tokens[q]
        # A plane along the output again, now through x: the update and the word's own vector.
        out, x, residual = flat_view(torch.stack([L.trace.output[q], L.trace.x[q], L.residual[q]]),
                                     L.trace.output[q], L.trace.x[q]).numpy()
        s, o = self.fit_flat(np.vstack([[0.0, 0.0], x, residual, out]), self.state.note)
        zoomed = self.output_arrow(out, s, o)  # the output at the new picture's scale
        x_arrow = parts.vector_arrow(o, o + np.array([*(x * s), 0.0]), th.role("X"), stroke_width=6)
        x_name = parts.formula(th, f'X["{tok}"]', style.LABEL_SIZE, th.role("X"))
        x_name.next_to(x_arrow.get_end(), LEFT if x[0] <= residual[0] else RIGHT, buff=style.GAP_LABEL)
        res_arrow = parts.vector_arrow(o, o + np.array([*(residual * s), 0.0]), th.text, stroke_width=6)
        res_name = parts.formula(th, '"residual"', style.LABEL_SIZE, th.text)
        res_name.next_to(res_arrow.get_end(), RIGHT if residual[0] >= 0 else LEFT, buff=style.GAP_LABEL)
        output = self.state.output_arrow
        self.state.x_arrow, self.state.residual_arrow = VGroup(x_arrow, x_name), VGroup(res_arrow, res_name)
        with self.beat("residual-update", word=tok):
            self.play(FadeOut(self.state.writes), Transform(output, zoomed), run_time=style.BEAT)
            self.play(GrowArrow(x_arrow), FadeIn(x_name), run_time=style.SHORT)
            # The update moves onto the word's own vector: tip to tail, they add up to the residual.
            self.play(output.animate.shift(x_arrow.get_end() - output[0].get_start()), run_time=style.BEAT)
            self.play(GrowArrow(res_arrow), FadeIn(res_name), run_time=style.BEAT)

        stack = parts.VectorStack(th, [
            (f'X["{tok}"]', L.trace.x[q], th.role("X")),
            (f'+ "MultiHead"(X)["{tok}"]', L.trace.output[q], th.role("O")),
            ('= "residual"', L.residual[q], th.text),
            ('"LayerNorm"("residual")', L.normed[q], th.highlight),
        ], max_cols=style.MAX_MATRIX_COLS)
        stack.rule(2)
        _, _, bottom, top = layout.content_box()
        layout.fit(stack, width=config.frame_width - 2 * style.FRAME_MARGIN, height=top - bottom - 1.8)
        stack.move_to([0, top - 0.3 - stack.height / 2 - 0.4, 0])
        self.state.residual = stack
        body = [VGroup(n, r) for n, r in zip(stack.names, stack.rows)]
        self.state.sum_rows, self.state.norm_row = VGroup(*body[:3], stack.rules), body[3]

    def add_and_norm(self):
        L, q = self.lesson, self.state.q
        row = L.normed[q].double()  # the row drawn: LayerNorm's output, the model's gain and bias applied
        with self.beat("add-and-norm" if L.norm_learned else "add-and-norm-plain", word=L.tokens[q],
                       mean=float(row.mean()), variance=float(row.var(unbiased=False))):
            self.clear(self.state.output_arrow, self.state.x_arrow, self.state.residual_arrow, self.state.note)
            self.play(FadeIn(self.state.sum_rows), run_time=style.SHORT)  # the picture's three rows, as numbers
            self.play(FadeIn(self.state.norm_row, shift=DOWN * 0.2), run_time=style.BEAT)

    def drop_in_block(self):
        L, th = self.lesson, self.theme
        shape = dict(n_tokens=L.trace.n_pos, d_model=L.d_model)
        x_in = parts.shape_badge(th, self.words("shape-in", **shape), th.role("X"))
        block = parts.card(th, parts.text(th, self.words("block"), style.LABEL_SIZE), accent=th.role("O"))
        x_out = parts.shape_badge(th, self.words("shape-out", **shape), th.role("O"))
        nxt = parts.card(th, parts.text(th, self.words("next-block"), style.LABEL_SIZE, th.muted))
        row = VGroup(x_in, block, x_out, nxt).arrange(RIGHT, buff=ARROW_ROOM)
        arrows = VGroup(*(Arrow(a.get_right(), b.get_left(), buff=style.GAP_TIGHT, stroke_width=3, color=th.muted,
                                tip_length=0.15) for a, b in zip(row[:-1], row[1:])))
        strip = VGroup(row, arrows)
        layout.fit(strip, width=config.frame_width - 2 * style.FRAME_MARGIN)
        strip.to_edge(DOWN, buff=style.FRAME_MARGIN + 0.3)
        layout.clear_of_logo(strip)
        note = parts.text(th, self.words("drop-in"), style.LABEL_SIZE, th.muted)
        note.next_to(strip, UP, buff=style.GAP_ITEM)
        with self.beat("drop-in-block", **shape):
            self.play(FadeIn(row[:3]), Create(arrows[:2]), run_time=style.BEAT)
            self.play(FadeIn(row[3]), Create(arrows[2]), FadeIn(note), run_time=style.BEAT)
