"""Chapter 8 — what heads cost.

Storyboard: parameters: four d × d matrices, 4d², whatever h is (heads cut the same
matrices into column blocks) -> multiply-adds per stage for the live h and for h = 1
at the same width: the totals match, only scale + softmax grow with h -> other shapes
(h = 1, 2, 8 at the original Transformer's d = 512; GPT-3's h = 96), with their capacity:
one attention pattern per token per head -> more heads is not free (the KV cache, and
the attention variants that share it). Whether every head is needed is act 2's
(``redundancy``): a measurement, not mechanics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    FadeIn,
    LaggedStart,
    Rectangle,
    Square,
    VGroup,
    VMobject,
    config,
)

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson import CostExample

COUNT_LINE_GAP = 0.28  # the parameter count's lines: formulas need more air than text rows
# The examples table's word columns (after h, d and d_k): their script ids.
EXAMPLE_COLUMN_IDS = ("column-weights", "column-macs", "column-softmax", "column-patterns")
# The script ids of each stage's name (mha_core.cost's stage keys) and of each shape compared (build.cost_examples).
STAGE_IDS = {"qkv": "stage-qkv", "scores": "stage-scores", "softmax": "stage-softmax", "weights-v": "stage-weights-v",
             "concat": "stage-concat", "output": "stage-output"}
EXAMPLE_IDS = {"one-head": "example-one-head", "two-heads": "example-two-heads",
               "transformer-base": "example-transformer-base", "gpt-3": "example-gpt-3", "this-model": "this-model"}


@dataclass
class CostState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: what heads cost: parameters, multiply-adds, other shapes, what more heads cost besides.
    """

    header: VMobject | None = None  # chapter number, title and the model line
    param_numbers: dict = field(default_factory=dict)  # "weights", "total", "single": counts shown
    param_view: VMobject | None = None  # the four d × d squares and W_Q's head blocks
    compute_table: parts.Table | None = None  # multiply-adds per stage, this h against one full-width head
    compute_view: VMobject | None = None  # that table with its title and note
    examples: parts.Table | None = None  # h = 1, 2, 8 at d = 512, GPT-3 and this model, costed alike
    example_costs: list = field(default_factory=list)  # the CostExamples of that table, in its order
    examples_view: VMobject | None = None  # that table with its title
    free_view: VMobject | None = None  # the "more heads is not free" card


class CostScene(LessonScene):
    chapter_id = "cost"

    def construct(self):
        self.state = CostState()
        self.parameters()
        self.compute()
        self.examples_table()
        self.not_free()

    # -- beats ---------------------------------------------------------------------------------

    def parameters(self):
        L, th, cost = self.lesson, self.theme, self.lesson.cost
        self.state.header = self.header(parts.model_line(L))
        side = 1.6
        squares = VGroup()
        for role in ("Q", "K", "V", "O"):
            sq = Square(side_length=side, stroke_color=th.role(role), stroke_width=2.5, fill_color=th.role(role),
                        fill_opacity=0.12)
            # Labels outside the square: W_Q's inside gets covered by its head blocks.
            name = parts.formula(th, f"W_{role}", style.LABEL_SIZE, th.role(role)).next_to(sq, UP, buff=style.GAP_LABEL)
            dims = parts.text(th, "d \u00d7 d", style.SMALL_SIZE, th.muted).next_to(sq, DOWN, buff=style.GAP_LABEL)
            squares.add(VGroup(sq, name, dims))
        squares.arrange(RIGHT, buff=style.GAP_BLOCK)
        split = parts.text(th, self.words("w-q-blocks", n_head=L.n_head, d_head=L.d_head), style.SMALL_SIZE, th.muted)
        single = L.cost.single_head()
        weights = parts.count(th, cost.weight_parameters, style.BODY_SIZE)
        total = parts.count(th, cost.parameters, style.BODY_SIZE, th.highlight)
        single_total = parts.count(th, single.parameters, style.BODY_SIZE)
        lines = VGroup(
            VGroup(parts.formula(th, f"4 d^2 = 4 dot {L.d_model}^2 =", style.BODY_SIZE), weights,
                   parts.text(th, self.words("weights"), style.BODY_SIZE, th.muted)),
            VGroup(parts.text(th, self.words("biases"), style.BODY_SIZE, th.muted),
                   parts.count(th, cost.parameters - cost.weight_parameters, style.BODY_SIZE)),
            VGroup(parts.text(th, self.words("parameters-with", n_head=L.n_head), style.BODY_SIZE), total),
            VGroup(parts.text(th, self.words("parameters-with", n_head=1), style.BODY_SIZE), single_total),
        )
        for line in lines:
            line.arrange(RIGHT, buff=style.GAP_WORD)
        lines.arrange(DOWN, buff=COUNT_LINE_GAP, aligned_edge=LEFT)
        self.state.param_numbers = {"weights": weights, "total": total, "single": single_total}
        left = VGroup(squares, split)
        split.next_to(squares, DOWN, buff=style.GAP_BLOCK).align_to(squares, LEFT)
        body = VGroup(left, lines).arrange(RIGHT, buff=style.GAP_COLUMN)
        layout.fit(body, width=config.frame_width - 2 * style.FRAME_MARGIN)
        _, _, bottom, top = layout.content_box()
        body.move_to([0, (top + bottom) / 2 + 0.3, 0])
        # W_Q again, cut into h column blocks: the heads' W_Q^(i) are views of the same numbers.
        W_Q = squares[0][0]
        strip_w = W_Q.width / L.n_head
        edge = 0.8 if L.n_head <= 24 else 0  # separators would swallow very thin strips
        strips = VGroup(*(
            Rectangle(width=strip_w, height=W_Q.height, stroke_width=edge, stroke_color=th.background,
                      fill_color=th.head(i), fill_opacity=0.75)
            .move_to(W_Q.get_left() + RIGHT * strip_w * (i + 0.5))
            for i in range(L.n_head)
        ))
        with self.beat("parameters"):
            self.play(FadeIn(self.state.header), LaggedStart(*(FadeIn(s) for s in squares), lag_ratio=0.15),
                      run_time=style.BEAT)
            self.play(FadeIn(lines[0]), FadeIn(lines[1]), run_time=style.BEAT)
        with self.beat("same-count"):
            self.play(FadeIn(strips), FadeIn(split), run_time=style.BEAT)
            self.play(FadeIn(lines[2]), FadeIn(lines[3]), run_time=style.BEAT)
        self.state.param_view = VGroup(body, strips)

    def compute(self):
        L, th = self.lesson, self.theme
        live, single = L.cost, L.cost.single_head()
        rows = [[self.words("column-stage"), self.words("column-formula"), f"h = {L.n_head}", "h = 1"]]
        for a, b in zip(live.stages, single.stages):
            elementwise = a.macs == 0 and a.elementwise > 0
            name = self.words(STAGE_IDS[a.key])
            name = self.words("stage-element-wise", stage=name) if elementwise else name
            rows.append([name, a.formula, a.elementwise if elementwise else a.macs,
                         b.elementwise if elementwise else b.macs])
        rows.append([self.words("total-macs"), "", live.total_macs, single.total_macs])
        # The element-wise work is not a multiply-add: it gets its own total rather than silently none.
        rows.append([self.words("total-element-wise"), "", live.total_elementwise, single.total_elementwise])
        grows = next(k for k, s in enumerate(live.stages, start=1) if s.elementwise)
        colors = {(r, c): th.highlight for r in (grows, len(rows) - 1) for c in range(4)}
        T = parts.Table(th, rows, total=2, colors=colors)
        title = parts.text(th, self.words("compute-title", n_tokens=L.trace.n_pos, d_model=L.d_model),
                           style.LABEL_SIZE, th.muted)
        group = VGroup(title, T).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=LEFT)
        note = parts.text(th, self.words("compute-note"), style.SMALL_SIZE, th.highlight)
        note.next_to(T, DOWN, buff=style.GAP_BLOCK).align_to(T, LEFT)
        group.add(note)
        layout.fit_in_content(group)
        self.state.compute_table = T
        with self.beat("compute", n_head=L.n_head):
            self.clear(self.state.param_view)
            self.play(FadeIn(title), FadeIn(T), run_time=style.BEAT)
            self.play(FadeIn(note), run_time=style.SHORT)
        self.state.compute_view = group

    def examples_table(self):
        L, th = self.lesson, self.theme
        n = L.trace.n_pos
        # Other shapes, costed by the same accounting as the live model (the Lesson computed them).
        examples = [*L.cost_examples, CostExample("this-model", L.n_head, L.d_model, L.cost)]
        # Capacity: each head is one attention pattern per token; h heads, h independent patterns.
        rows = [["", "h", "d", "d_k", *(self.words(text_id) for text_id in EXAMPLE_COLUMN_IDS)]]
        for ex in examples:
            c = ex.cost
            rows.append([self.words(EXAMPLE_IDS[ex.key]), ex.n_head, ex.d_model, c.d_head, c.weight_parameters, c.total_macs,
                         c.total_elementwise, ex.n_head])
        colors = {(len(rows) - 1, c): th.highlight for c in range(len(rows[0]))}
        T = parts.Table(th, rows, colors=colors, size=style.SMALL_SIZE + 1)
        title = parts.text(th, self.words("examples-title", n_tokens=n), style.LABEL_SIZE, th.muted)
        group = VGroup(title, T).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=LEFT)
        layout.fit_in_content(group)
        self.state.examples = T
        self.state.example_costs = examples
        with self.beat("other-shapes"):
            self.clear(self.state.compute_view)
            self.play(FadeIn(title), LaggedStart(*(FadeIn(r) for r in T.rows), lag_ratio=0.12), FadeIn(T.rules),
                      run_time=style.BEAT * 1.5)
        self.state.examples_view = group

    def not_free(self):
        L, th = self.lesson, self.theme
        n, h, dk = L.trace.n_pos, L.n_head, L.d_head
        points = (
            self.words("memory-traffic", n_head=h, n_tokens=n),
            self.words("kernel-efficiency", d_head=dk),
            self.words("kv-cache", n_head=h, d_head=dk, d_model=L.d_model),
            self.words("narrower-heads", n_head=h, d_head=dk, d_model=L.d_model),
        )
        items = VGroup(*(parts.paragraph(th, "\u2022 " + p, 10.5, style.LABEL_SIZE) for p in points))
        items.arrange(DOWN, buff=style.GAP_ROW, aligned_edge=LEFT)
        title = parts.text(th, self.words("not-free"), style.HEADING_SIZE, th.warn, bold=True)
        group = VGroup(title, items).arrange(DOWN, buff=style.GAP_SECTION, aligned_edge=LEFT)
        panel = parts.card(th, group, accent=th.warn)
        layout.fit_in_content(panel)
        with self.beat("not-free"):
            self.clear(self.state.examples_view)
            self.play(FadeIn(panel), run_time=style.BEAT)
        self.state.free_view = panel
