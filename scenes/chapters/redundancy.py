"""Chapter 10 — are all heads needed? Zero each head alone and measure what moves.

Storyboard: MiniLM's 72 heads, each zeroed alone, one bar per head, grouped by layer: how far the
sentence embedding moves (1 − cosine, mean over the probe sentences) -> the line at 0.01: most heads
hardly move it, one at a time, on this one measure (what removing several at once, or a task score,
would show is said to differ, with the pruning study cited). Without MiniLM (the toy model): its
attention output on this sentence, each head zeroed, and what trained models show, cited.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, Create, DashedLine, FadeIn, GrowFromEdge, LaggedStart, VGroup, VMobject

from mha_core.ablation import SHIFT_THRESHOLD
from mha_core.pretrained import MODEL_NAME as MINILM_NAME
from scenes import layout, parts, style
from scenes.base import LessonScene

CHART_HEIGHT = 2.4  # the bars' full height, in scene units


@dataclass
class RedundancyState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: every head zeroed alone, how far the output moves.
    """

    header: VMobject | None = None  # chapter number, title and the model line
    chart: parts.BarChart | None = None  # how far the output moves when each head is zeroed
    ablation_values: object = None  # the values the bars show (MiniLM's 72 heads if the lesson has them)
    threshold_line: VMobject | None = None  # the dashed line at SHIFT_THRESHOLD (MiniLM)
    redundancy_note: VMobject | None = None  # the pruning claim, with its measured numbers (MiniLM)


class RedundancyScene(LessonScene):
    chapter_id = "redundancy"

    def construct(self):
        self.state = RedundancyState()
        if self.lesson.redundancy is not None:
            self.zero_each_head()
            self.most_hardly_move()
        else:
            self.toy_ablation()

    # -- beats ---------------------------------------------------------------------------------

    def zero_each_head(self):
        """MiniLM's 72 heads, each zeroed alone: how far the sentence embedding moves, over the probe sentences."""
        L, th = self.lesson, self.theme
        R = L.redundancy
        self.state.header = self.header(self.words("redundancy-measure", n_sentences=R.n_sentences,
                                                   n_heads=R.n_heads, model=MINILM_NAME))
        shift = R.shift  # [layer, head]
        n_head = shift.shape[1]
        values = shift.flatten()
        hardly = [float(v) < SHIFT_THRESHOLD for v in values]
        chart = parts.BarChart(th, values, [""] * len(values), colors=[th.muted if h else th.warn for h in hardly],
                               height=CHART_HEIGHT, bar_width=0.13, gap=0.04)
        # One name per layer, under its first head (72 head numbers would not be read).
        layers = VGroup(*(parts.text(th, self.words("layer", layer=i // n_head + 1), style.SMALL_SIZE, th.muted)
                          .next_to(chart.baseline, DOWN, buff=style.GAP_LABEL).align_to(chart.bars[i], LEFT)
                          for i in range(0, len(values), n_head)))
        chart.labels = layers
        top = float(values.max())
        y = chart.bars[0].get_bottom()[1] + CHART_HEIGHT * SHIFT_THRESHOLD / top
        line = DashedLine([chart.baseline.get_left()[0], y, 0], [chart.baseline.get_right()[0], y, 0],
                          stroke_color=th.text, stroke_width=1.5, dash_length=0.08)
        threshold = f"{SHIFT_THRESHOLD:g}"
        tag = parts.text(th, threshold, style.SMALL_SIZE, th.text).next_to(line, RIGHT, buff=style.GAP_LABEL)
        title = parts.paragraph(th, self.words("redundancy-title"), 12, style.LABEL_SIZE)
        layer, head, largest = R.largest()
        below = R.count_below(SHIFT_THRESHOLD)
        note = parts.note(th, self.words("redundancy-note", below=below, n_heads=R.n_heads, threshold=threshold,
                                         largest=f"{largest:.3f}", layer=layer + 1, head=head + 1,
                                         source=self.words("pruning-source")), width=12)
        chart_group = VGroup(title, VGroup(chart, layers, line, tag)).arrange(DOWN, buff=style.GAP_ITEM)
        group = VGroup(chart_group, note).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit_in_content(group)
        self.state.chart, self.state.ablation_values = chart, values
        self.state.threshold_line, self.state.redundancy_note = VGroup(line, tag), note
        with self.beat("redundancy"):
            self.play(FadeIn(self.state.header), FadeIn(title), FadeIn(chart.baseline), FadeIn(chart.labels),
                      run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in chart.bars), lag_ratio=0.01), run_time=style.BEAT)

    def most_hardly_move(self):
        R = self.lesson.redundancy
        below, threshold = R.count_below(SHIFT_THRESHOLD), f"{SHIFT_THRESHOLD:g}"
        # The voice says the threshold in words ("one hundredth"): SHIFT_THRESHOLD is 0.01.
        with self.beat("most-heads-hardly-move", below=below, n_heads=R.n_heads, threshold=threshold):
            self.play(Create(self.state.threshold_line[0]), FadeIn(self.state.threshold_line[1]), run_time=style.SHORT)
            self.play(FadeIn(self.state.redundancy_note), run_time=style.SHORT)

    def toy_ablation(self):
        """No trained heads in the lesson: the live model's attention output on this sentence, each head zeroed."""
        L, th = self.lesson, self.theme
        values, where = L.ablation, L.model_name
        self.state.header = self.header(self.words("ablation-measure", model=where))
        n = len(values)
        chart = parts.BarChart(th, values, [str(i + 1) for i in range(n)],
                               colors=[th.head(i) for i in range(n)], height=2.6,
                               bar_width=0.7 if n <= 6 else 0.45)
        axis = parts.text(th, self.words("head-zeroed"), style.SMALL_SIZE, th.muted)
        axis.next_to(chart.labels, DOWN, buff=style.GAP_LABEL)
        title = parts.paragraph(th, self.words("ablation-title"), 11, style.LABEL_SIZE)
        chart_group = VGroup(title, VGroup(chart, axis)).arrange(DOWN, buff=style.GAP_ITEM)
        # An untrained model's differences are chance: say what trained models show, with the source.
        lesson_note = parts.note(th, self.words("untrained-note", source=self.words("pruning-source")), width=11)
        group = VGroup(chart_group, lesson_note).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit_in_content(group)
        self.state.chart, self.state.ablation_values = chart, values
        with self.beat("ablation"):
            self.play(FadeIn(self.state.header), FadeIn(title), FadeIn(chart.baseline), FadeIn(axis),
                      FadeIn(chart.labels), run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in chart.bars), lag_ratio=0.05), FadeIn(chart.numbers),
                      run_time=style.BEAT)
        with self.beat("untrained"):
            self.play(FadeIn(lesson_note), run_time=style.SHORT)
