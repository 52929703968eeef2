"""Chapter 9 — what heads cost, and what they are worth.

Storyboard: parameters: four d × d matrices, 4d², whatever h is (heads cut the same
matrices into column blocks) -> multiply-adds per stage for the live h and for h = 1
at the same width: the totals match, only scale + softmax grow with h -> other shapes
(h = 1, 2, 8 at the original Transformer's d = 512; GPT-3's h = 96), with their capacity:
one attention pattern per token per head -> more heads is not free -> measured:
zero each of MiniLM's 72 heads in turn and see how far the sentence embedding moves (the toy
model: its attention output on this sentence, and what trained models show, cited).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Create,
    DashedLine,
    FadeIn,
    GrowFromEdge,
    LaggedStart,
    Rectangle,
    Square,
    VGroup,
    VMobject,
    config,
)

from mha_core.ablation import SHIFT_THRESHOLD
from mha_core.pretrained import MODEL_NAME as MINILM_NAME
from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson import CostExample
from scenes.lesson.config import CHAPTER_TITLES

COUNT_LINE_GAP = 0.28  # the parameter count's lines: formulas need more air than text rows
PRUNING_SOURCE = "Michel et al. 2019, \u201cAre Sixteen Heads Really Better than One?\u201d"


@dataclass
class CostState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: what heads cost: parameters, multiply-adds, other shapes, measured ablation.
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
    chart: parts.BarChart | None = None  # how far the output moves when each head is zeroed
    ablation_values: object = None  # the values the bars show (MiniLM's 72 heads if the lesson has them)
    redundancy_note: VMobject | None = None  # the pruning claim, with its measured numbers


class CostScene(LessonScene):
    chapter_id = "cost"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("Parameters stay 4d² whatever the head count, and the multiply-adds barely change; but more heads "
               "is not free, and not every head is equally useful (measured by zeroing heads).")

    def construct(self):
        self.state = CostState()
        self.parameters()
        self.compute()
        self.examples_table()
        self.not_free()
        self.ablation()

    # -- beats ---------------------------------------------------------------------------------

    def parameters(self):
        L, th, cost = self.lesson, self.theme, self.lesson.cost
        self.state.header = parts.chapter_header(th, L.chapter_number(self.chapter_id), self.title, parts.model_line(L))
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
        split = parts.text(th, f"h = {L.n_head}: the same W_Q, cut into {L.n_head} blocks of d_k = {L.d_head} columns",
                           style.SMALL_SIZE, th.muted)
        single = L.cost.single_head()
        weights = parts.count(th, cost.weight_parameters, style.BODY_SIZE)
        total = parts.count(th, cost.parameters, style.BODY_SIZE, th.highlight)
        single_total = parts.count(th, single.parameters, style.BODY_SIZE)
        lines = VGroup(
            VGroup(parts.formula(th, f"4 d^2 = 4 dot {L.d_model}^2 =", style.BODY_SIZE), weights,
                   parts.text(th, "weights", style.BODY_SIZE, th.muted)),
            VGroup(parts.text(th, "+ biases 4d:", style.BODY_SIZE, th.muted),
                   parts.count(th, cost.parameters - cost.weight_parameters, style.BODY_SIZE)),
            VGroup(parts.text(th, f"parameters with h = {L.n_head}:", style.BODY_SIZE), total),
            VGroup(parts.text(th, "parameters with h = 1:", style.BODY_SIZE), single_total),
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
        with self.beat("Parameters: four d by d matrices, 4 d squared, whatever the number of heads."):
            self.play(FadeIn(self.state.header), LaggedStart(*(FadeIn(s) for s in squares), lag_ratio=0.15),
                      run_time=style.BEAT)
            self.play(FadeIn(lines[0]), FadeIn(lines[1]), run_time=style.BEAT)
        with self.beat("Heads just cut the same matrices into column blocks: the count is identical."):
            self.play(FadeIn(strips), FadeIn(split), run_time=style.BEAT)
            self.play(FadeIn(lines[2]), FadeIn(lines[3]), run_time=style.BEAT)
        self.state.param_view = VGroup(body, strips)

    def compute(self):
        L, th = self.lesson, self.theme
        live, single = L.cost, L.cost.single_head()
        rows = [["stage", "formula", f"h = {L.n_head}", "h = 1"]]
        for a, b in zip(live.stages, single.stages):
            elementwise = a.macs == 0 and a.elementwise > 0
            name = a.name + (" (element-wise)" if elementwise else "")
            rows.append([name, a.formula, a.elementwise if elementwise else a.macs,
                         b.elementwise if elementwise else b.macs])
        rows.append(["multiply-adds in total", "", live.total_macs, single.total_macs])
        # The element-wise work is not a multiply-add: it gets its own total rather than silently none.
        rows.append(["element-wise ops in total", "", live.total_elementwise, single.total_elementwise])
        grows = next(k for k, s in enumerate(live.stages, start=1) if s.elementwise)
        colors = {(r, c): th.highlight for r in (grows, len(rows) - 1) for c in range(4)}
        T = parts.Table(th, rows, total=2, colors=colors)
        title = parts.text(th, f"Operations per stage, n = {L.trace.n_pos} tokens, d = {L.d_model}",
                           style.LABEL_SIZE, th.muted)
        group = VGroup(title, T).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=LEFT)
        note = parts.text(th, "only scale + softmax grow with h (one n \u00d7 n map per head)", style.SMALL_SIZE,
                          th.highlight)
        note.next_to(T, DOWN, buff=style.GAP_BLOCK).align_to(T, LEFT)
        group.add(note)
        layout.fit_in_content(group)
        self.state.compute_table = T
        with self.beat(f"Compute: {L.n_head} heads cost the same multiply-adds as one full-width head; "
                       f"only scale and softmax grow with h."):
            self.clear(self.state.param_view)
            self.play(FadeIn(title), FadeIn(T), run_time=style.BEAT)
            self.play(FadeIn(note), run_time=style.SHORT)
        self.state.compute_view = group

    def examples_table(self):
        L, th = self.lesson, self.theme
        n = L.trace.n_pos
        # Other shapes, costed by the same accounting as the live model (the Lesson computed them).
        examples = [*L.cost_examples, CostExample("this lesson's model", L.n_head, L.d_model, L.cost)]
        # Capacity: each head is one attention pattern per token; h heads, h independent patterns.
        rows = [["", "h", "d", "d_k", "weights 4d\u00b2", "multiply-adds", "softmax ops", "patterns per token"]]
        for ex in examples:
            c = ex.cost
            rows.append([ex.name, ex.n_head, ex.d_model, c.d_head, c.weight_parameters, c.total_macs,
                         c.total_elementwise, ex.n_head])
        colors = {(len(rows) - 1, c): th.highlight for c in range(len(rows[0]))}
        T = parts.Table(th, rows, colors=colors, size=style.SMALL_SIZE + 1)
        title = parts.text(th, f"One attention layer at n = {n} tokens", style.LABEL_SIZE, th.muted)
        group = VGroup(title, T).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=LEFT)
        layout.fit_in_content(group)
        self.state.examples = T
        self.state.example_costs = examples
        with self.beat("At the original Transformer's width, d = 512, one, two or eight heads cost the same weights "
                       "and multiply-adds. What grows is capacity: one attention pattern per token for each head. "
                       "GPT-3 uses 96 heads of 128."):
            self.clear(self.state.compute_view)
            self.play(FadeIn(title), LaggedStart(*(FadeIn(r) for r in T.rows), lag_ratio=0.12), FadeIn(T.rules),
                      run_time=style.BEAT * 1.5)
        self.state.examples_view = group

    def not_free(self):
        L, th = self.lesson, self.theme
        n, h, dk = L.trace.n_pos, L.n_head, L.d_head
        points = (
            f"memory traffic: {h} attention maps of {n} \u00d7 {n} to write and read, not one",
            f"kernel efficiency: many small products, each only d_k = {dk} wide",
            f"KV cache: {h} \u00d7 n \u00d7 {dk} = n \u00d7 {L.d_model} numbers per layer for K and again for V, "
            "whatever h is; multi-query and grouped-query attention shrink it by sharing K and V across heads",
            f"per-head width shrinks: d_k = d / h = {L.d_model} / {h} = {dk}",
        )
        items = VGroup(*(parts.paragraph(th, "\u2022 " + p, 10.5, style.LABEL_SIZE) for p in points))
        items.arrange(DOWN, buff=style.GAP_ROW, aligned_edge=LEFT)
        title = parts.text(th, "More heads is not free", style.HEADING_SIZE, th.warn, bold=True)
        group = VGroup(title, items).arrange(DOWN, buff=style.GAP_SECTION, aligned_edge=LEFT)
        panel = parts.card(th, group, accent=th.warn)
        layout.fit_in_content(panel)
        with self.beat("But more heads is not free: more maps to move, smaller products, narrower heads. The KV cache "
                       "stays n by d per layer whatever h is; sharing keys and values across heads shrinks it."):
            self.clear(self.state.examples_view)
            self.play(FadeIn(panel), run_time=style.BEAT)
        self.state.free_view = panel

    def ablation(self):
        if self.lesson.redundancy is not None:
            self.redundancy()
            return
        L, th = self.lesson, self.theme
        values, where = L.ablation, L.model_name
        n = len(values)
        chart = parts.BarChart(th, values, [str(i + 1) for i in range(n)],
                               colors=[th.head(i) for i in range(n)], height=2.6,
                               bar_width=0.7 if n <= 6 else 0.45)
        axis = parts.text(th, "head zeroed", style.SMALL_SIZE, th.muted).next_to(chart.labels, DOWN, buff=style.GAP_LABEL)
        title = parts.paragraph(th, "Zero one head: how much does the attention output change?", 11,
                                style.LABEL_SIZE)
        sub = parts.text(th, f"\u2016change\u2016 / \u2016output\u2016 \u00b7 {where} \u00b7 this sentence",
                         style.SMALL_SIZE, th.muted)
        chart_group = VGroup(title, sub, VGroup(chart, axis)).arrange(DOWN, buff=style.GAP_ITEM)
        # An untrained model's differences are chance: say what trained models show, with the source.
        lesson = ("This model is untrained, so its differences are chance. In trained models some heads matter "
                  f"far less than others, and many can be pruned with little harm ({PRUNING_SOURCE}).")
        lesson_note = parts.note(th, lesson, width=11)
        group = VGroup(chart_group, lesson_note).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit_in_content(group)
        self.state.chart = chart
        self.state.ablation_values = values
        with self.beat("And not every head is equally useful: zero one head at a time and see how far the output moves."):
            self.clear(self.state.free_view)
            self.play(FadeIn(title), FadeIn(sub), FadeIn(chart.baseline), FadeIn(axis), FadeIn(chart.labels),
                      run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in chart.bars), lag_ratio=0.05), FadeIn(chart.numbers),
                      run_time=style.BEAT)
            self.play(FadeIn(lesson_note), run_time=style.SHORT)

    def redundancy(self):
        """MiniLM's 72 heads, each zeroed alone: how far the sentence embedding moves, over the probe sentences."""
        L, th = self.lesson, self.theme
        R = L.redundancy
        shift = R.shift  # [layer, head]
        n_head = shift.shape[1]
        values = shift.flatten()
        hardly = [float(v) < SHIFT_THRESHOLD for v in values]
        chart = parts.BarChart(th, values, [""] * len(values), colors=[th.muted if h else th.warn for h in hardly],
                               height=2.4, bar_width=0.13, gap=0.04)
        # One name per layer, under its first head (72 head numbers would not be read).
        layers = VGroup(*(parts.text(th, f"layer {i // n_head + 1}", style.SMALL_SIZE, th.muted)
                          .next_to(chart.baseline, DOWN, buff=style.GAP_LABEL).align_to(chart.bars[i], LEFT)
                          for i in range(0, len(values), n_head)))
        chart.labels = layers
        top = float(values.max())
        y = chart.bars[0].get_bottom()[1] + 2.4 * SHIFT_THRESHOLD / top
        line = DashedLine([chart.baseline.get_left()[0], y, 0], [chart.baseline.get_right()[0], y, 0],
                          stroke_color=th.text, stroke_width=1.5, dash_length=0.08)
        tag = parts.text(th, f"{SHIFT_THRESHOLD:g}", style.SMALL_SIZE, th.text).next_to(line, RIGHT, buff=style.GAP_LABEL)
        title = parts.paragraph(th, "Zero one head at a time: how far does the model's sentence embedding move?", 12,
                                style.LABEL_SIZE)
        sub = parts.text(th, f"1 \u2212 cosine, mean over {R.n_sentences} sentences \u00b7 all {R.n_heads} heads of "
                         f"{MINILM_NAME}", style.SMALL_SIZE, th.muted)
        layer, head, largest = R.largest()
        below = R.count_below(SHIFT_THRESHOLD)
        claim = (f"Zeroing any one of {below} of the {R.n_heads} heads moves the embedding by less than "
                 f"{SHIFT_THRESHOLD:g}; the largest move is {largest:.3f} (layer {layer + 1}, head {head + 1}). "
                 "Many heads can be removed one at a time with little harm, as pruning studies found "
                 f"({PRUNING_SOURCE}); which ones, only a measurement says.")
        note = parts.note(th, claim, width=12)
        chart_group = VGroup(title, sub, VGroup(chart, layers, line, tag)).arrange(DOWN, buff=style.GAP_ITEM)
        group = VGroup(chart_group, note).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit_in_content(group)
        self.state.chart = chart
        self.state.ablation_values = values
        self.state.redundancy_note = note
        with self.beat("Are all heads needed? Zero one head at a time, all seventy-two, and measure how far the "
                       "model's sentence embedding moves."):
            self.clear(self.state.free_view)
            self.play(FadeIn(title), FadeIn(sub), FadeIn(chart.baseline), FadeIn(chart.labels), run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in chart.bars), lag_ratio=0.01), run_time=style.BEAT)
        said = (f"{below} of the {R.n_heads} heads move it by less than {{}}. Many heads can be pruned with little "
                "harm; which ones, only a measurement says.")
        with self.beat(said.format(f"{SHIFT_THRESHOLD:g}"), spoken=said.format("one hundredth")):
            self.play(Create(line), FadeIn(tag), run_time=style.SHORT)
            self.play(FadeIn(note), run_time=style.SHORT)
