"""Chapter 11 — induction heads: [A][B] ... [A] -> [B], in a small causal model this project trained.

Storyboard (``lesson.induction``): why another model (the encoder reads both ways; a causal model trained
here on next-token prediction over sequences with repeats; nothing in the objective names a head) -> one
held-out sequence: random syllables, a segment, then the same again -> the previous-token head of layer 1, its
pattern and its measured score against an even spread -> the induction head of layer 2, its stripe from
the second copy back to the token after each first occurrence, measured -> one token up close: the second
[A] reads the [B] that followed the first [A], and the model now predicts [B] -> the probability of every
right next token, the first time and the second time -> the circuit: zero the previous-token head and the
induction heads lose their target (each other layer-1 head zeroed, for comparison) -> the caveats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, GrowFromEdge, LaggedStart, VGroup, VMobject

from scenes import layout, parts, style
from scenes.base import LessonScene

# The script ids of where a head with a measured label (mha_core.induction) looks, in a sentence.
LOOKS_IDS = {"previous-token": "looks-previous-token", "two-back": "looks-two-back", "induction": "looks-induction"}
# ... of the small counts the narrator says as words (larger numbers stay digits).
NUMBER_IDS = ("number-zero", "number-one", "number-two", "number-three", "number-four", "number-five", "number-six",
              "number-seven", "number-eight", "number-nine", "number-ten")


@dataclass
class InductionState:
    """What the beats have drawn, by name; later beats and tests read it."""

    header: VMobject | None = None
    pipeline: VMobject | None = None  # the model, stage by stage
    row: parts.TokenRow | None = None  # the example sequence
    copies: VMobject | None = None  # the braces naming the first copy and the repeat
    previous_grid: parts.AttentionGrid | None = None
    induction_grid: parts.AttentionGrid | None = None
    previous_tag: VMobject | None = None
    induction_tag: VMobject | None = None
    bar: VMobject | None = None  # the patterns' one [0, 1] scale
    stripe: VMobject | None = None  # frames on the induction head's target cells
    arc: VMobject | None = None  # the second [A] -> the [B] after the first [A]
    prediction: VMobject | None = None  # the card: P([B]) the first time and now
    rule: VMobject | None = None  # [A] [B] ... [A] -> [B]
    table: parts.Table | None = None  # every right next token's probability, first and second time
    position_chart: parts.BarChart | None = None  # held-out: P(right next token) by tokens of the repeat seen
    loss_note: VMobject | None = None
    score_chart: parts.BarChart | None = None  # the circuit: induction score with each layer-1 head zeroed
    loss_chart: parts.BarChart | None = None
    notes: list | None = None  # the caveats


MIN_CELL = 0.12  # the patterns' cells are never smaller than this (a 14-token sequence: 1.7 units across)
BAR_ROOM = 0.8  # right of the patterns: the shared colour bar


class InductionScene(LessonScene):
    chapter_id = "induction"

    def construct(self):
        I = self.lesson.induction
        self.state = InductionState()
        self.state.header = self.header(self.words("header", n_layer=I.n_layer, n_head=I.n_head, d_model=I.d_model))
        self.why_another_model()
        self.sequence()
        self.previous_token_head()
        self.induction_head()
        self.one_token()
        self.every_position()
        self.circuit()
        self.caveats()

    def top(self) -> float:
        """The top of the room under the header."""
        return self.state.header.get_bottom()[1] - style.GAP_LABEL

    # -- words -----------------------------------------------------------------------------

    def _head_name(self, layer: int, head: int) -> str:
        """(0, 1) -> "layer 1, head 2": numbered from 1, as everywhere on screen."""
        return self.words("head-name", layer=layer + 1, head=head + 1)

    def _number(self, n: int) -> str:
        """2 -> "two" (the narrator reads small counts as words); larger numbers stay digits."""
        return self.words(NUMBER_IDS[n]) if n <= 10 else str(n)

    def _ordinal(self, n: int) -> str:
        """15 -> "15th", 2 -> "2nd": how the narrator counts positions."""
        if 10 <= n % 100 <= 20 or n % 10 not in (1, 2, 3):
            return self.words("ordinal", n=n)
        return self.words({1: "ordinal-1", 2: "ordinal-2", 3: "ordinal-3"}[n % 10], n=n)

    def _looks(self, layer: int, head: int) -> str:
        """Where a layer-1 head looks, by its measured label ("two tokens back"; "elsewhere" without one)."""
        label = self.lesson.induction.scores.label(layer, head)
        return self.words(LOOKS_IDS[label]) if label in LOOKS_IDS else self.words("looks-elsewhere")

    def _join(self, items: list[str], join_id: str) -> str:
        """Items joined two at a time by the script entry ``join_id`` ("{first} and {next}")."""
        said = items[0]
        for item in items[1:]:
            said = self.words(join_id, first=said, next=item)
        return said

    # -- beats -----------------------------------------------------------------------------

    def why_another_model(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        names = [self.words("stage-tokens"), self.words("stage-embedding"),
                 *(self.words("stage-layer", layer=layer, n_head=I.n_head) for layer in (1, 2)),
                 self.words("stage-next-token")]
        shapes = [self.words("shape-syllables", n=I.vocab_size), f"d = {I.d_model}", self.words("shape-causal-mask"),
                  self.words("shape-causal-mask"), self.words("shape-probabilities")]
        s.pipeline = parts.Pipeline(th, names, shapes, width=11.5)
        left, right, bottom, _ = layout.content_box()
        facts = parts.paragraph(
            th, self.words("facts", sequences=style.count(I.trained_sequences), n_ctx=I.n_ctx), 11.0, style.LABEL_SIZE)
        encoder = parts.paragraph(th, self.words("encoder"), 11.0, style.SMALL_SIZE, th.muted)
        block = VGroup(s.pipeline, facts, encoder).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit(block, width=right - left, height=self.top() - bottom - style.GAP_BLOCK)
        block.move_to([0, (self.top() + bottom) / 2, 0])
        with self.beat("why-another-model", n_layer=self._number(I.n_layer), n_head=self._number(I.n_head)):
            self.play(FadeIn(s.header), FadeIn(s.pipeline), run_time=style.BEAT)
            self.play(FadeIn(facts, shift=UP * 0.2), FadeIn(encoder), run_time=style.BEAT)
        self._on_stage = [s.pipeline, facts, encoder]

    def sequence(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        left, right, _, _ = layout.content_box()
        s.row = parts.TokenRow(th, I.tokens, size=style.BODY_SIZE, max_width=right - left)
        s.row.move_to([0, self.top() - style.GAP_BLOCK - s.row.height / 2, 0])
        start = VGroup(*s.row.tokens[:I.prefix])
        first = VGroup(*s.row.tokens[I.prefix:I.prefix + I.segment])
        again = VGroup(*s.row.tokens[I.prefix + I.segment:])
        s.copies = VGroup(parts.brace_label(th, start, self.words("prefix", n=I.prefix), DOWN),
                          parts.brace_label(th, first, self.words("first-copy", n=I.segment), DOWN),
                          parts.brace_label(th, again, self.words("second-copy"), DOWN))
        with self.beat("sequence", n=I.segment):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(s.row, shift=DOWN * 0.2), run_time=style.SHORT)
            self.play(FadeIn(s.copies), run_time=style.SHORT)

    def _grid(self, weights, head: tuple[int, int], cell: float, *, join: bool = True) -> parts.AttentionGrid:
        th = self.theme
        grid = parts.AttentionGrid(th, weights, self.lesson.induction.tokens, cell=cell, color=th.head(head[1]),
                                   decor=parts.GridDecor(numbers=False, bar=False, note=False,
                                                         title=self._head_name(*head)))
        # The head's name and "key →" share one line over the key labels where both fit (``joins``): the room
        # under the copies goes to the cells, so the token labels stand further apart.
        key = grid.axis_labels[1]
        if join and self._joins(grid.title.width, key.width, grid.frame.width, grid.frame.get_left()[0] - grid.get_left()[0]):
            grid.title.align_to(grid, LEFT).set_y(key.get_y())
            key.align_to(grid.frame, RIGHT)
        return grid

    @staticmethod
    def _joins(title: float, key: float, side: float, beside: float) -> bool:
        """Whether a pattern ``side`` wide (``beside``: its row labels) has room for its name and "key →" on one line."""
        return title + style.GAP_ITEM + key <= side + beside

    def _grid_cell(self) -> float:
        """The largest cell that fits both patterns side by side under the copies, each with its tag under it (the
        tags are wrapped to their grid's width, so a bigger grid has shorter tags): the token labels stand a
        cell apart, so the bigger the cell, the less they crowd."""
        left, right, bottom, _ = layout.content_box()
        n = len(self.lesson.induction.tokens)
        I = self.lesson.induction
        probes = [self._grid(I.previous_pattern, I.previous_head, 0.2, join=False),
                  self._grid(I.induction_pattern, I.induction_head, 0.2, join=False)]
        beside = self._beside = max(g.frame.get_left()[0] - g.get_left()[0] for g in probes)  # "query", row labels
        top = max(g.frame.get_top()[1] for g in probes)
        apart = max(g.get_top()[1] for g in probes) - top  # the head's name over "key →" over the key labels
        key = max(g.axis_labels[1].get_y() for g in probes) - top
        joined = key + max(g.title.height for g in probes) / 2  # ... the name beside "key →"
        title_w = max(g.title.width for g in probes)
        key_w = max(g.axis_labels[1].width for g in probes)
        room_h = self.state.copies.get_bottom()[1] - bottom - style.GAP_BLOCK
        room_w = right - left - BAR_ROOM
        for cell in np.arange(layout.MAX_CELL, MIN_CELL - 1e-9, -0.005):
            side = n * cell
            above = joined if self._joins(title_w, key_w, side, beside) else apart
            tags = max(self._tag_block(lines, self._tag_width(side, first), self.theme.text).height
                       for lines, first in ((self._previous_lines(), True), (self._induction_lines(), False)))
            if 2 * (beside + side) + style.GAP_WIDE <= room_w and above + side + style.GAP_LABEL + tags <= room_h:
                return float(cell)
        return MIN_CELL

    def _tag_block(self, lines: list[str], width: float, color) -> VGroup:
        th = self.theme
        tag = VGroup(parts.paragraph(th, lines[0], width, style.SMALL_SIZE, color),
                     *(parts.paragraph(th, line, width, style.SMALL_SIZE, th.muted) for line in lines[1:]))
        return tag.arrange(DOWN, buff=style.GAP_TIGHT, aligned_edge=LEFT)

    def _tag(self, lines: list[str], grid: parts.AttentionGrid, color) -> VGroup:
        # As wide as its grid and the room after it (the next grid, or the frame's edge), wrapped there, not
        # shrunk: each line stays readable.
        tag = self._tag_block(lines, self._tag_width(grid.frame.width, grid is self.state.previous_grid), color)
        return tag.next_to(grid.frame, DOWN, buff=style.GAP_LABEL).align_to(grid.frame, LEFT)

    def _tag_width(self, side: float, first: bool) -> float:
        """The wrap width of a tag under a pattern ``side`` wide (the pair placed as ``previous_token_head`` places
        it): the first tag runs to the second pattern, the second to the frame's right edge (the colour bar stands
        beside the pattern, above the tag)."""
        beside = self._beside
        if first:
            return side + beside + style.GAP_WIDE - style.GAP_ITEM
        right = layout.content_box()[1]
        pair = 2 * (beside + side) + style.GAP_WIDE
        second_left = -BAR_ROOM / 2 + pair / 2 - side
        return right - second_left

    def _previous_lines(self) -> list[str]:
        S = self.lesson.induction.scores
        layer, head = self.lesson.induction.previous_head
        return [self.words("previous-score", score=float(S.previous_token[layer][head])),
                self.words("even-spread", baseline=float(S.previous_baseline))]

    def _induction_lines(self) -> list[str]:
        I = self.lesson.induction
        S = I.scores
        layer, head = I.induction_head
        others = [h for h in S.induction_heads if h != I.induction_head]
        lines = [self.words("induction-score", score=float(S.induction[layer][head])),
                 self.words("even-spread", baseline=float(S.induction_baseline))]
        if others:
            values = self._join([style.fmt(float(S.induction[l][h])) for l, h in others], "list-comma")
            if all(l == layer for l, _ in others):  # short enough to keep the tag's type size
                heads = self._join([str(h + 1) for _, h in others], "list-and")
                lines.append(self.words("other-heads" if len(others) > 1 else "other-head", heads=heads,
                                        layer=layer + 1, scores=values))
            else:
                lines.append(self.words("other-heads-elsewhere", scores=values,
                                        heads=self._join([self._head_name(l, h) for l, h in others], "list-comma")))
        return lines

    def previous_token_head(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        S = I.scores
        layer, head = I.previous_head
        cell = self._grid_cell()
        s.previous_grid = self._grid(I.previous_pattern, I.previous_head, cell)
        s.induction_grid = self._grid(I.induction_pattern, I.induction_head, cell)
        pair = VGroup(s.previous_grid, s.induction_grid).arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=UP)
        pair.next_to(s.copies, DOWN, buff=style.GAP_BLOCK).set_x(-BAR_ROOM / 2)
        s.bar = parts.ColorBar(th, height=min(2.2, s.induction_grid.frame.height))
        s.bar.next_to(s.induction_grid.frame, RIGHT, buff=style.GAP_ASIDE).align_to(s.induction_grid.frame, DOWN)
        score = S.previous_token[layer][head]
        s.previous_tag = self._tag(self._previous_lines(), s.previous_grid, th.head(head))
        diagonal = VGroup(*(parts.highlight_box(th, s.previous_grid.cell_box(q, q - 1), buff=style.GAP_NONE)
                            for q in range(1, len(I.tokens))))
        with self.beat("previous-token-head", head=head + 1, score=float(score), n=S.test["sequences"],
                       baseline=float(S.previous_baseline)):
            self.play(FadeIn(s.previous_grid), FadeIn(s.bar), run_time=style.BEAT)
            self.play(Create(diagonal), FadeIn(s.previous_tag), run_time=style.SHORT)
        self._diagonal = diagonal

    def induction_head(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        S = I.scores
        layer, head = I.induction_head
        score = S.induction[layer][head]
        others = [h for h in S.induction_heads if h != I.induction_head]
        s.induction_tag = self._tag(self._induction_lines(), s.induction_grid, th.head(head))
        targets = [(q, q - I.segment + 1) for q in I.second_copy]
        s.stripe = VGroup(*(parts.highlight_box(th, s.induction_grid.cell_box(q, k), buff=style.GAP_NONE)
                            for q, k in targets))
        with self.beat("induction-head-and-others" if len(others) > 1 else
                       "induction-head-and-another" if others else "induction-head", head=head + 1,
                       score=float(score), baseline=float(S.induction_baseline),
                       others=self._join([f"{h + 1}" for _, h in others], "list-and") if others else ""):
            self.play(FadeIn(s.induction_grid), run_time=style.BEAT)
            self.play(Create(s.stripe), FadeIn(s.induction_tag), run_time=style.SHORT)

    def one_token(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        q, k = I.query, I.target
        A, B = I.tokens[q], I.tokens[k]
        first = q - I.segment
        weight = float(I.induction_pattern[q, k])
        p_first, p_second = I.p_at(q)
        top = I.top_at(q)
        row = s.row
        color = th.head(I.induction_head[1])
        s.arc = parts.attention_arc(th, row.tokens[q], row.tokens[k], weight, color, below=True, max_width=8.0)
        marks = VGroup(parts.highlight_box(th, row.tokens[q]), parts.highlight_box(th, row.tokens[first], color=th.muted),
                       parts.highlight_box(th, row.tokens[k], color=color))
        weight_label = parts.number(th, weight, style.WEIGHT_DIGITS, style.NUMBER_SIZE, color=color)
        weight_label.next_to(s.arc, DOWN, buff=style.GAP_TIGHT)
        left, right, bottom, _ = layout.content_box()
        layer_head = {"layer": I.induction_head[0] + 1, "head": I.induction_head[1] + 1}
        lines = [self.words("reads-back", **layer_head, a=A, b=B, weight=weight),
                 self.words("prediction" if top == B else "prediction-top-guess", a=A, b=B, first=float(p_first),
                            second=float(p_second), top=top)]
        card = VGroup(*(parts.paragraph(th, line, right - left - 1.0, style.LABEL_SIZE) for line in lines))
        card.arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        s.prediction = parts.card(th, card, accent=color)
        layout.fit(s.prediction, width=right - left)
        s.prediction.next_to(weight_label, DOWN, buff=style.GAP_SECTION).set_x(0)
        s.rule = parts.text(th, "[A] [B] \u2026 [A] \u2192 [B]", style.HEADING_SIZE, th.text, bold=True)
        s.rule.next_to(s.prediction, DOWN, buff=style.GAP_SECTION)
        if s.rule.get_bottom()[1] < bottom:
            s.rule.next_to(s.prediction, RIGHT, buff=style.GAP_APART)
            layout.fit(VGroup(s.prediction, s.rule), width=right - left)
        with self.beat("copies-forward", a=A, b=B, first=float(p_first), second=float(p_second)):
            self.clear(s.previous_grid, s.induction_grid, s.bar, s.previous_tag, s.induction_tag, s.stripe,
                       self._diagonal, s.copies, run_time=style.SHORT)
            self.play(FadeIn(marks), Create(s.arc), FadeIn(weight_label), run_time=style.BEAT)
            self.play(FadeIn(s.prediction, shift=UP * 0.2), run_time=style.SHORT)
            self.play(FadeIn(s.rule), run_time=style.SHORT)
        self._on_stage = [marks, s.arc, weight_label, s.prediction, s.rule]

    def every_position(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        S = I.scores
        left, right, bottom, _ = layout.content_box()
        rows = [[self.words(text_id) for text_id in ("column-after", "column-next", "column-first-time",
                                                      "column-second-time", "column-top-guess")]]
        for q in I.positions:
            p_first, p_second = I.p_at(q)
            rows.append([I.tokens[q], I.tokens[q + 1], p_first, p_second, I.top_at(q)])
        s.table = parts.Table(th, rows, size=style.LABEL_SIZE, align=["left", "left", "right", "right", "left"])
        table_title = parts.text(th, self.words("table-title"), style.LABEL_SIZE, th.text, bold=True)
        n = len(S.p_by_position)
        s.position_chart = parts.BarChart(th, S.p_by_position, [str(i + 1) for i in range(n)],
                                          colors=[th.head(I.induction_head[1])] * n, height=2.2, bar_width=0.3,
                                          gap=0.12, label_size=style.LABEL_SIZE)
        # Fifteen numbers side by side would not be read: the first and the last, full size (nothing beside them),
        # the bars show the rest; the axis numbers every fifth place, the first and the last.
        chart = s.position_chart
        shown = VGroup()
        for i in (0, n - 1):
            number = parts.number(th, float(S.p_by_position[i]), size=style.NUMBER_SIZE)
            shown.add(number.move_to(chart.numbers[i]).align_to(chart.numbers[i], DOWN))
        chart.remove(chart.numbers)
        chart.add(shown)
        chart.labels.remove(*(label for i, label in enumerate(chart.labels) if i not in (0, n - 1) and (i + 1) % 5))
        chart_title = parts.text(th, self.words("chart-title", n=S.test["sequences"]), style.LABEL_SIZE, th.text,
                                 bold=True)
        axis = parts.text(th, self.words("chart-axis"), style.LABEL_SIZE, th.muted)
        axis.next_to(s.position_chart.labels, DOWN, buff=style.GAP_LABEL)
        columns = VGroup(VGroup(table_title, s.table).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=LEFT),
                         VGroup(chart_title, VGroup(s.position_chart, axis)).arrange(DOWN, buff=style.GAP_BLOCK))
        columns.arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=UP)
        shortest, longest = S.segment_range
        s.loss_note = parts.note(
            th, self.words("loss-note", shortest=shortest, longest=longest, first=float(S.loss_first),
                           second=float(S.loss_second), vocab=I.vocab_size, guess=float(I.guess_loss)),
            width=right - left - 1.0)
        block = VGroup(columns, s.loss_note).arrange(DOWN, buff=style.GAP_SECTION)
        top = s.row.get_bottom()[1] - style.GAP_BLOCK
        layout.fit(block, width=right - left, height=top - bottom)
        block.move_to([0, top - block.height / 2, 0])
        first, second, last = S.p_by_position[0], S.p_by_position[1], S.p_by_position[-1]
        # One token or two: how sure the model is right after the first repeated token says which it matches.
        with self.beat("one-token" if S.one_token_enough else "two-tokens", n=S.test["sequences"], first=float(first),
                       second=float(second), last=float(last),
                       nth=self._ordinal(n)):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(table_title), FadeIn(s.table), FadeIn(chart_title), FadeIn(s.position_chart.baseline),
                      FadeIn(s.position_chart.labels), FadeIn(axis), run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in s.position_chart.bars), lag_ratio=0.08),
                      FadeIn(shown), run_time=style.BEAT)
            self.play(FadeIn(s.loss_note, shift=UP * 0.2), run_time=style.SHORT)
        self._on_stage = [columns, s.loss_note, s.row]

    def circuit(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        S = I.scores
        layer = I.previous_head[0]
        first_layer = [(layer, h) for h in range(I.n_head)]
        labels = [self.words("zeroed-none")] + [f"{l + 1}-{h + 1}" for l, h in first_layer]
        scores = [S.induction_mean] + [S.zeroed_induction[l][h] for l, h in first_layer]
        losses = [S.loss_second] + [S.zeroed_loss_second[l][h] for l, h in first_layer]
        colors = [th.muted] + [th.head(h) for l, h in first_layer]  # a head keeps its colour in every chapter
        bars = {"height": 2.0, "bar_width": 0.7, "gap": 0.35, "label_size": style.SMALL_SIZE}
        s.score_chart = parts.BarChart(th, scores, labels, colors=colors, **bars)
        s.loss_chart = parts.BarChart(th, losses, labels, colors=colors, **bars)
        score_title = parts.text(th, self.words("score-title"), style.LABEL_SIZE, th.text, bold=True)
        loss_title = parts.text(th, self.words("loss-title"), style.LABEL_SIZE, th.text, bold=True)
        charts = VGroup(VGroup(score_title, s.score_chart).arrange(DOWN, buff=style.GAP_BLOCK),
                        VGroup(loss_title, s.loss_chart).arrange(DOWN, buff=style.GAP_BLOCK))
        charts.arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=DOWN)
        roles = [self.words("role", head=f"{l + 1}-{h + 1}", looks=self._looks(l, h),
                            score=float(self._role_score(S, l, h))) for l, h in first_layer if S.label(l, h)]
        axis = parts.text(th, self.words("zeroed-axis", roles=self._join(roles, "list-dot") if roles else ""),
                          style.SMALL_SIZE, th.muted)
        axis.next_to(charts, DOWN, buff=style.GAP_LABEL)
        drop = S.circuit
        zeroed = [tuple(pair) for pair in drop["zeroed"]]
        rest = [(l, h) for l, h in first_layer if (l, h) not in zeroed]
        # Other layer-1 heads whose loss takes half the score away: part of the circuit too, said with their label.
        also = [(l, h) for l, h in rest if S.zeroed_induction[l][h] < S.induction_mean / 2]
        spare = [S.zeroed_induction[l][h] for l, h in rest if (l, h) not in also]
        claim = [self.words("zeroed-claim", heads=self._join([self._head_name(l, h) for l, h in zeroed], "list-and"),
                            before=float(S.induction_mean), after=float(drop["induction"]),
                            loss_before=float(S.loss_second), loss_after=float(drop["loss_second"]),
                            loss_first=float(S.loss_first))]
        if also:
            claim.append(self.words("zeroed-also", heads=self._join(
                [self.words("zeroed-leaves", layer=l + 1, head=h + 1, looks=self._looks(l, h),
                            score=float(S.zeroed_induction[l][h])) for l, h in also], "list-and")))
        if spare:
            claim.append(self.words("zeroed-spare", score=float(min(spare))))
        left, right, _, _ = layout.content_box()
        note = parts.note(th, self._join(claim, "sentences"), width=right - left - 1.0)
        title = parts.paragraph(th, self.words("circuit-title"), right - left - 1.0, style.LABEL_SIZE)
        group = VGroup(title, VGroup(charts, axis), note).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit_in_content(group)
        values = {"before": float(S.induction_mean), "after": float(drop["induction"]),
                  "loss_after": float(drop["loss_second"])}
        if also:
            l, h = also[0]
            values.update(looks=self._looks(l, h), score=float(S.zeroed_induction[l][h]))
        with self.beat("why-two-layers-also" if also else "why-two-layers", **values):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(title), FadeIn(score_title), FadeIn(loss_title), FadeIn(s.score_chart.baseline),
                      FadeIn(s.loss_chart.baseline), FadeIn(s.score_chart.labels), FadeIn(s.loss_chart.labels),
                      FadeIn(axis), run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in [*s.score_chart.bars, *s.loss_chart.bars]),
                                  lag_ratio=0.08),
                      FadeIn(s.score_chart.numbers), FadeIn(s.loss_chart.numbers), run_time=style.BEAT)
            self.play(FadeIn(note, shift=UP * 0.2), run_time=style.SHORT)
        self._on_stage = [title, charts, axis, note]

    @staticmethod
    def _role_score(S, layer: int, head: int) -> float:
        """The measured score behind a head's label."""
        return {"previous-token": S.previous_token, "two-back": S.two_back,
                "induction": S.induction}[S.label(layer, head)][layer][head]

    def caveats(self):
        I, s = self.lesson.induction, self.state
        left, right, bottom, _ = layout.content_box()
        width = right - left - 1.0
        texts = [self.words("caveat-tiny", n_layer=I.n_layer, vocab=I.vocab_size), self.words("caveat-causal"),
                 self.words("caveat-one-circuit", n_heads=I.n_layer * I.n_head)]
        s.notes = [parts.note(self.theme, t, width=width, kind="caveat", full_width=True) for t in texts]
        notes = VGroup(*s.notes).arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        layout.fit(notes, width=right - left, height=self.top() - bottom - style.GAP_BLOCK)
        notes.move_to([0, (self.top() + bottom) / 2, 0])
        with self.beat("cautions"):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(LaggedStart(*(FadeIn(n, shift=LEFT * 0.2) for n in s.notes), lag_ratio=0.5),
                      run_time=style.BEAT)
