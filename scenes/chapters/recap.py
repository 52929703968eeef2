"""Chapter 12 — recap: four points, the decision rule as a pipeline, and the failure trap with its evidence.

Storyboard: four points with this model's numbers (parallel heads at d/h, concatenate, W_O, cost about
one head) -> the decision rule -> the pipeline with the live shapes (X -> split
Q/K/V into heads -> each head mixes values -> concat -> W_O -> Add & Norm) -> the
failure trap, and the measured evidence: Jensen–Shannon distances between the
real heads' patterns vs copies of one head (all 0) -> the one sentence to remember.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import DOWN, LEFT, ORIGIN, RIGHT, UP, FadeIn, GrowArrow, LaggedStart, VGroup, VMobject, config

from scenes import layout, parts, style
from scenes.base import LessonScene

# The pipeline's stages, from the input X: their script ids.
STAGE_IDS = ("stage-input", "stage-split", "stage-mix", "stage-concat", "stage-project", "stage-add-norm")
NUMBERED_CELL = 0.6  # grid cells at least this big carry their numbers (4 characters must fit)


@dataclass
class RecapState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: the decision rule, the pipeline in this model's shapes, the failure trap.
    """

    header: VMobject | None = None  # chapter number, title and the model line
    points: VMobject | None = None  # the four points to keep, with this model's numbers
    rule_card: VMobject | None = None  # the decision rule
    pipe: parts.Pipeline | None = None  # x → heads → concat → W_O with this model's shapes
    evidence_grids: tuple = ()  # (real heads, copies of one head): the measured failure trap
    trap_view: VMobject | None = None  # the trap card with its grids


class RecapScene(LessonScene):
    chapter_id = "recap"

    def construct(self):
        self.state = RecapState()
        self.summary_points()
        self.decision_rule()
        self.pipeline()
        self.failure_trap()
        self.remember()

    # -- beats ---------------------------------------------------------------------------------

    def summary_points(self):
        """The four points to keep, each with this model's numbers."""
        L, th = self.lesson, self.theme
        self.state.header = self.header(parts.model_line(L))
        d, h, dk, n = L.d_model, L.n_head, L.d_head, L.trace.n_pos
        single = L.cost.single_head()
        points = (
            self.words("point-parallel", n_head=h, d_model=d, d_head=dk),
            self.words("point-concat", n_tokens=n, d_model=d),
            self.words("point-blend", d_model=d),
            self.words("point-cost", weights=style.count(L.cost.weight_parameters),
                       macs=style.count(L.cost.total_macs), single_macs=style.count(single.total_macs)),
        )
        items = VGroup(*(parts.paragraph(th, f"{k}  {p}", 11.5, style.BODY_SIZE) for k, p in enumerate(points, 1)))
        items.arrange(DOWN, buff=style.GAP_ROW, aligned_edge=LEFT)
        layout.fit_in_content(items)
        self.state.points = items
        with self.beat("four-points", n_head=h, d_head=dk, d_model=d):
            self.play(FadeIn(self.state.header), LaggedStart(*(FadeIn(i, shift=UP * 0.1) for i in items),
                                                               lag_ratio=0.5), run_time=style.BEAT * 2)
        self.clear(items)

    def decision_rule(self):
        th = self.theme
        label = parts.text(th, self.words("decision-rule-label"), style.LABEL_SIZE, th.highlight, bold=True)
        rule = parts.paragraph(th, self.words("decision-rule"), 11.5, style.BODY_SIZE)
        self.state.rule_card = parts.card(th, VGroup(label, rule).arrange(DOWN, buff=style.GAP_NAME, aligned_edge=LEFT),
                                          accent=th.highlight)
        layout.fit(self.state.rule_card, width=config.frame_width - 2 * style.FRAME_MARGIN)
        self.state.rule_card.next_to(self.state.header, DOWN, buff=style.GAP_SECTION).set_x(0)
        with self.beat("decision-rule"):
            self.play(FadeIn(self.state.rule_card), run_time=style.BEAT)

    def pipeline(self):
        L, th = self.lesson, self.theme
        n, d, h, dk = L.trace.n_pos, L.d_model, L.n_head, L.d_head
        names = [self.words(text_id) for text_id in STAGE_IDS]
        shapes = [f"{n} \u00d7 {d}", self.words("shape-each", n_head=h, n_tokens=n, d_head=dk),
                  f"{h} \u00d7 {n} \u00d7 {dk}",
                  f"{n} \u00d7 {d}", f"{n} \u00d7 {d}", f"{n} \u00d7 {d}"]
        colors = [th.role("X"), th.role("Q"), th.role("V"), th.grid, th.role("O"), th.highlight]
        P = parts.Pipeline(th, names, shapes, colors=colors, size=style.BODY_SIZE,
                           width=config.frame_width - 2 * style.FRAME_MARGIN)
        _, _, bottom, _ = layout.content_box()
        P.move_to([0, (self.state.rule_card.get_bottom()[1] + bottom) / 2, 0])
        self.state.pipe = P
        with self.beat("pipeline", n_tokens=n, d_model=d, n_head=h, d_head=dk):
            self.play(FadeIn(P.stages[0]), FadeIn(P.shapes[0]), run_time=style.SHORT)
            self.play(LaggedStart(*(
                LaggedStart(GrowArrow(a), FadeIn(s), FadeIn(t), lag_ratio=0.3)
                for a, s, t in zip(P.arrows, P.stages[1:], P.shapes[1:])
            ), lag_ratio=0.5), run_time=style.BEAT * 3)

    def failure_trap(self):
        L, th = self.lesson, self.theme
        h = L.n_head
        label = parts.text(th, self.words("failure-trap-label"), style.LABEL_SIZE, th.warn, bold=True)
        trap = parts.paragraph(th, self.words("failure-trap"), 11.5, style.BODY_SIZE)
        trap_card = parts.card(th, VGroup(label, trap).arrange(DOWN, buff=style.GAP_NAME, aligned_edge=LEFT), accent=th.warn)
        layout.fit(trap_card, width=config.frame_width - 2 * style.FRAME_MARGIN)
        trap_card.next_to(self.state.header, DOWN, buff=style.GAP_SECTION).set_x(0)

        _, _, bottom, top = layout.content_box()
        room = trap_card.get_bottom()[1] - 0.5 - (bottom + 0.9)  # height left for the grids and their labels
        cell = min(0.75, room / h)
        # Head numbers along both axes while they fit (as many as tokens in a pattern), else none.
        heads = [str(i + 1) for i in range(h)]
        labelled = h <= style.MAX_TOKENS
        grids = VGroup()
        if labelled:
            titles = (self.words("separate-projections", weights=L.weights_kind),
                      self.words("copies", head=L.copied_head + 1))
        else:  # too many heads to number: the titles say the grids' size instead
            titles = (self.words("separate-projections-many", weights=L.weights_kind, n_head=h),
                      self.words("copies-many", head=L.copied_head + 1, n_head=h))
        for values, title in zip((L.js, L.copies_js), titles):
            # Many heads: one Square per cell would be thousands of mobjects, so shaded paths (binned).
            decor = parts.GridDecor(labels=labelled, axes=False, bar=False, numbers=labelled and cell >= NUMBERED_CELL)
            g = parts.AttentionGrid(th, values, heads if labelled else None, cell=cell, decor=decor,
                                    binned=not labelled, positions=range(h))
            g.title = parts.text(th, title, style.LABEL_SIZE).next_to(g, UP, buff=style.GAP_NAME)
            g.add(g.title)
            grids.add(g)
        bar = parts.ColorBar(th, height=min(2.2, h * cell), label=self.words("js-distance"))
        evidence = VGroup(grids[0], grids[1], bar).arrange(RIGHT, buff=style.GAP_COLUMN, aligned_edge=DOWN)
        caption = parts.text(th, self.words("js-caption"), style.SMALL_SIZE, th.muted)
        caption.next_to(evidence, DOWN, buff=style.GAP_ITEM)
        block = VGroup(evidence, caption)
        layout.fit(block, width=config.frame_width - 2 * style.FRAME_MARGIN,
                   height=trap_card.get_bottom()[1] - 0.3 - (bottom + 0.1))
        block.next_to(trap_card, DOWN, buff=style.GAP_BLOCK).set_x(0)
        # Clear of the logo's corner: the grids and their scale, then the caption under them on its own (it may sit
        # left of their centre; the block is often as wide as the frame, with no room to move as a whole).
        layout.clear_of_logo(evidence)
        layout.clear_of_logo(caption)
        self.state.evidence_grids = grids
        with self.beat("failure-trap"):
            self.clear(self.state.rule_card, self.state.pipe)
            self.play(FadeIn(trap_card), run_time=style.SHORT)
        with self.beat("measured"):
            self.play(FadeIn(grids[0]), FadeIn(bar), FadeIn(caption), run_time=style.BEAT)
            self.play(FadeIn(grids[1]), run_time=style.BEAT)
        self.state.trap_view = VGroup(trap_card, block)

    def remember(self):
        th = self.theme
        line = parts.paragraph(th, self.words("remember"), 12.5, style.HEADING_SIZE, th.highlight, align=ORIGIN)
        line.move_to(self.state.trap_view[1])
        with self.beat("remember"):
            self.clear(self.state.trap_view[1])
            self.play(FadeIn(line), run_time=style.BEAT)
