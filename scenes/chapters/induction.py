"""Chapter 6 — induction heads: [A][B] ... [A] -> [B], in a small causal model this project trained.

Storyboard (``lesson.induction``): why another model (the encoder reads both ways; a causal model trained
here on next-token prediction over sequences with repeats; nothing in the objective names a head) -> one
held-out sequence: a random segment, then the same again -> the previous-token head of layer 1, its
pattern and its measured score against an even spread -> the induction head of layer 2, its stripe from
the second copy back to the token after each first occurrence, measured -> one token up close: the second
[A] reads the [B] that followed the first [A], and the model now predicts [B] -> the probability of every
right next token, the first time and the second time -> the circuit: zero the previous-token head and the
induction heads lose their target (each other layer-1 head zeroed, for comparison) -> the caveats.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, GrowFromEdge, LaggedStart, VGroup, VMobject

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.config import CHAPTER_TITLES

# A measured label (mha_core.induction) in a sentence.
LABEL_PHRASES = {"previous-token": "at the token before", "two-back": "two tokens back",
                 "induction": "at the token after the earlier copy"}


def head_name(layer: int, head: int) -> str:
    """(0, 1) -> "layer 1, head 2": numbered from 1, as everywhere on screen."""
    return f"layer {layer + 1}, head {head + 1}"


def number_words(n: int) -> str:
    """2 -> "two" (the narrator reads small counts as words); larger numbers stay digits."""
    return ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")[n] if n <= 10 else str(n)


def ordinal(n: int) -> str:
    """15 -> "15th", 2 -> "2nd": how the narrator counts positions."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def quoted(token: str) -> str:
    return f"\u201c{token}\u201d"


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


class InductionScene(LessonScene):
    chapter_id = "induction"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("A small causal model trained by this project on sequences with repeats: a previous-token head in "
               "layer 1 and induction heads in layer 2 that attend from a repeated token to the token that "
               "followed it before, measured, with the circuit shown by zeroing the previous-token head.")

    def construct(self):
        I = self.lesson.induction
        self.state = InductionState()
        self.state.header = parts.chapter_header(
            self.theme, self.lesson.chapter_number(self.chapter_id), self.title,
            f"a causal model trained by this project \u00b7 {I.n_layer} layers \u00d7 {I.n_head} heads \u00b7 "
            f"d = {I.d_model} \u00b7 layers and heads numbered from 1")
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

    # -- beats -----------------------------------------------------------------------------

    def why_another_model(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        names = ["tokens", "embedding\n+ position", f"layer 1\n{I.n_head} heads", f"layer 2\n{I.n_head} heads",
                 "next token"]
        shapes = [f"{I.vocab_size} syllables", f"d = {I.d_model}", "causal mask", "causal mask", "probabilities"]
        s.pipeline = parts.Pipeline(th, names, shapes, width=11.5)
        left, right, bottom, _ = layout.content_box()
        facts = parts.paragraph(
            th, f"Attention only, no MLP. Trained here on next-token prediction over {style.count(I.trained_sequences)} "
                f"sequences of {I.n_ctx} tokens from a random language in which one stretch repeats. Nothing in "
                "the objective names a head or a pattern.", 11.0, style.LABEL_SIZE)
        encoder = parts.paragraph(
            th, "The MiniLM of the other chapters is an encoder: every token sees the whole sentence, so it has "
                "no next token to predict. It was not checked for induction heads.", 11.0, style.SMALL_SIZE, th.muted)
        block = VGroup(s.pipeline, facts, encoder).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit(block, width=right - left, height=self.top() - bottom - style.GAP_BLOCK)
        block.move_to([0, (self.top() + bottom) / 2, 0])
        said = (f"The most celebrated heads need a model that predicts the next token; MiniLM is an encoder. So this "
                f"project trained a small one, {number_words(I.n_layer)} layers of {number_words(I.n_head)} heads, "
                "on sequences in which a stretch repeats. Nothing in its objective names a head.")
        with self.beat(said):
            self.play(FadeIn(s.header), FadeIn(s.pipeline), run_time=style.BEAT)
            self.play(FadeIn(facts, shift=UP * 0.2), FadeIn(encoder), run_time=style.BEAT)
        self._on_stage = [s.pipeline, facts, encoder]

    def sequence(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        left, right, _, _ = layout.content_box()
        s.row = parts.TokenRow(th, I.tokens, size=style.BODY_SIZE, max_width=right - left)
        s.row.move_to([0, self.top() - style.GAP_BLOCK - s.row.height / 2, 0])
        first = VGroup(*s.row.tokens[:I.segment])
        again = VGroup(*s.row.tokens[I.segment:])
        s.copies = VGroup(parts.brace_label(th, first, f"{I.segment} random syllables", DOWN),
                          parts.brace_label(th, again, "the same again", DOWN))
        with self.beat(f"Here is a new sequence: {I.segment} random syllables, then the same {I.segment} again."):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(s.row, shift=DOWN * 0.2), run_time=style.SHORT)
            self.play(FadeIn(s.copies), run_time=style.SHORT)

    def _grid(self, weights, head: tuple[int, int], cell: float) -> parts.AttentionGrid:
        th = self.theme
        return parts.AttentionGrid(th, weights, self.lesson.induction.tokens, cell=cell, color=th.head(head[1]),
                                   decor=parts.GridDecor(numbers=False, bar=False, note=False,
                                                         title=head_name(*head)))

    def _grid_cell(self) -> float:
        """The cell size that fits both patterns side by side under the token row, with a tag under each."""
        left, right, bottom, _ = layout.content_box()
        n = len(self.lesson.induction.tokens)
        label_w = max(parts.text(self.theme, t, style.SMALL_SIZE).width for t in self.lesson.induction.tokens) + 0.5
        room_h = self.state.copies.get_bottom()[1] - bottom - style.GAP_BLOCK - 1.1  # title above, tag below
        room_w = (right - left - style.GAP_WIDE) / 2 - label_w - 0.6  # the shared colour bar at the right
        return min(layout.MAX_CELL, room_w / n, (room_h - label_w) / n)  # key labels stand above the cells

    def _tag(self, lines: list[str], grid: parts.AttentionGrid, color) -> VGroup:
        th = self.theme
        tag = VGroup(parts.text(th, lines[0], style.SMALL_SIZE, color, bold=True),
                     *(parts.text(th, line, style.SMALL_SIZE, th.muted) for line in lines[1:]))
        tag.arrange(DOWN, buff=style.GAP_TIGHT, aligned_edge=LEFT)
        layout.fit(tag, width=grid.width)
        return tag.next_to(grid.frame, DOWN, buff=style.GAP_LABEL).align_to(grid.frame, LEFT)

    def previous_token_head(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        S = I.scores
        layer, head = I.previous_head
        cell = self._grid_cell()
        s.previous_grid = self._grid(I.previous_pattern, I.previous_head, cell)
        s.induction_grid = self._grid(I.induction_pattern, I.induction_head, cell)
        pair = VGroup(s.previous_grid, s.induction_grid).arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=UP)
        pair.next_to(s.copies, DOWN, buff=style.GAP_BLOCK).set_x(-0.4)
        s.bar = parts.ColorBar(th, height=min(2.2, s.induction_grid.frame.height))
        s.bar.next_to(s.induction_grid.frame, RIGHT, buff=style.GAP_ASIDE).align_to(s.induction_grid.frame, DOWN)
        score = S.previous_token[layer][head]
        s.previous_tag = self._tag([f"previous token: {style.fmt(score)}",
                                    f"held-out mean; an even spread gives {style.fmt(S.previous_baseline)}"],
                                   s.previous_grid, th.head(head))
        diagonal = VGroup(*(parts.highlight_box(th, s.previous_grid.cell_box(q, q - 1), buff=style.GAP_NONE)
                            for q in range(1, len(I.tokens))))
        said = (f"In layer 1, head {head + 1} looks at the token just before: {style.fmt(score)} of its attention "
                f"over {S.test['sequences']} held-out sequences, where an even spread gives "
                f"{style.fmt(S.previous_baseline)}.")
        with self.beat(said):
            self.play(FadeIn(s.previous_grid), FadeIn(s.bar), run_time=style.BEAT)
            self.play(Create(diagonal), FadeIn(s.previous_tag), run_time=style.SHORT)
        self._diagonal = diagonal

    def induction_head(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        S = I.scores
        layer, head = I.induction_head
        score = S.induction[layer][head]
        others = [h for h in S.induction_heads if h != I.induction_head]
        lines = [f"induction: {style.fmt(score)}", f"held-out mean; an even spread gives {style.fmt(S.induction_baseline)}"]
        if others:
            values = ", ".join(style.fmt(S.induction[l][h]) for l, h in others)
            if all(l == layer for l, _ in others):  # short enough to keep the tag's type size
                heads = " and ".join(str(h + 1) for _, h in others)
                lines.append(f"{'heads' if len(others) > 1 else 'head'} {heads} of layer {layer + 1}: {values}")
            else:
                lines.append("also " + ", ".join(head_name(l, h) for l, h in others) + f": {values}")
        s.induction_tag = self._tag(lines, s.induction_grid, th.head(head))
        targets = [(q, q - I.segment + 1) for q in range(I.segment, len(I.tokens))]
        s.stripe = VGroup(*(parts.highlight_box(th, s.induction_grid.cell_box(q, k), buff=style.GAP_NONE)
                            for q, k in targets))
        same = ""
        if others:
            names = " and ".join(f"{h + 1}" for _, h in others)
            same = f" Heads {names} do the same: induction heads." if len(others) > 1 else \
                f" Head {names} does the same: induction heads."
        said = (f"In layer 2, head {head + 1} looks from each repeated token to the one that followed it last time: "
                f"{style.fmt(score)}, against {style.fmt(S.induction_baseline)} for an even spread.{same}")
        with self.beat(said):
            self.play(FadeIn(s.induction_grid), run_time=style.BEAT)
            self.play(Create(s.stripe), FadeIn(s.induction_tag), run_time=style.SHORT)

    def one_token(self):
        th, I, s = self.theme, self.lesson.induction, self.state
        q, k = I.query, I.target
        A, B = I.tokens[q], I.tokens[k]
        first = q - I.segment
        weight = float(I.induction_pattern[q, k])
        p_first, p_second = I.p_at(q)
        top = I.top_second[q - I.segment]
        row = s.row
        color = th.head(I.induction_head[1])
        s.arc = parts.attention_arc(th, row.tokens[q], row.tokens[k], weight, color, below=True, max_width=8.0)
        marks = VGroup(parts.highlight_box(th, row.tokens[q]), parts.highlight_box(th, row.tokens[first], color=th.muted),
                       parts.highlight_box(th, row.tokens[k], color=color))
        weight_label = parts.number(th, weight, style.WEIGHT_DIGITS, style.NUMBER_SIZE, color=color)
        weight_label.next_to(s.arc, DOWN, buff=style.GAP_TIGHT)
        left, right, bottom, _ = layout.content_box()
        guess = "" if top == B else f" Its top guess is still {quoted(top)}."
        lines = [(f"{head_name(*I.induction_head)} from the second {quoted(A)} reads {quoted(B)}, the token after the "
                  f"first {quoted(A)}: weight {style.fmt(weight)}."),
                 (f"The model's probability that {quoted(B)} comes next: {style.fmt(p_first)} after the first "
                  f"{quoted(A)}, {style.fmt(p_second)} after the second.{guess}")]
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
        said = (f"Take the second {A}: the induction head looks back at {B}, which followed {A} last time, and "
                f"copies it forward. The probability of {B} rises from {style.fmt(p_first)} to "
                f"{style.fmt(p_second)}. The last time I saw A, B came next, so B again.")
        with self.beat(said):
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
        rows = [["after", "next", "first time", "second time", "top guess"]]
        for q in I.positions:
            p_first, p_second = I.p_at(q)
            rows.append([I.tokens[q], I.tokens[q + 1], p_first, p_second, I.top_second[q - I.segment]])
        s.table = parts.Table(th, rows, size=style.LABEL_SIZE, align=["left", "left", "right", "right", "left"])
        table_title = parts.text(th, "this sequence: P(right next token)", style.LABEL_SIZE, th.text, bold=True)
        n = len(S.p_by_position)
        s.position_chart = parts.BarChart(th, S.p_by_position, [str(i + 1) for i in range(n)],
                                          colors=[th.head(I.induction_head[1])] * n, height=2.2, bar_width=0.3,
                                          gap=0.12)
        # Fifteen numbers side by side would not be read: the first and the last, the bars show the rest.
        shown = VGroup(s.position_chart.numbers[0], s.position_chart.numbers[-1])
        s.position_chart.remove(s.position_chart.numbers)
        s.position_chart.add(shown)
        chart_title = parts.text(th, f"held-out mean over {S.test['sequences']} sequences", style.LABEL_SIZE, th.text,
                                 bold=True)
        axis = parts.text(th, "tokens of the repeat seen so far", style.SMALL_SIZE, th.muted)
        axis.next_to(s.position_chart.labels, DOWN, buff=style.GAP_LABEL)
        columns = VGroup(VGroup(table_title, s.table).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=LEFT),
                         VGroup(chart_title, VGroup(s.position_chart, axis)).arrange(DOWN, buff=style.GAP_BLOCK))
        columns.arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=UP)
        s.loss_note = parts.note(
            th, f"Next-token loss over those sequences (a random segment of {S.test['segment']}, then the same "
                f"again): {style.fmt(S.loss_first)} nats on the first copy, {style.fmt(S.loss_second)} on the second. "
                f"A guess spread over all {I.vocab_size} syllables costs {style.fmt(I.guess_loss)}.",
            width=right - left - 1.0)
        block = VGroup(columns, s.loss_note).arrange(DOWN, buff=style.GAP_SECTION)
        top = s.row.get_bottom()[1] - style.GAP_BLOCK
        layout.fit(block, width=right - left, height=top - bottom)
        block.move_to([0, top - block.height / 2, 0])
        first, last = S.p_by_position[0], S.p_by_position[-1]
        said = (f"The further into the repeat, the surer the model: across {S.test['sequences']} held-out sequences, "
                f"the right next token gets {style.fmt(first)} after the first repeated token, {style.fmt(last)} "
                f"after the {ordinal(n)}. It picks the pattern up from its own prompt.")
        with self.beat(said):
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
        labels = ["none"] + [f"{l + 1}-{h + 1}" for l, h in first_layer]
        scores = [S.induction_mean] + [S.zeroed_induction[l][h] for l, h in first_layer]
        losses = [S.loss_second] + [S.zeroed_loss_second[l][h] for l, h in first_layer]
        colors = [th.muted] + [th.warn if (l, h) == I.previous_head else th.head(h) for l, h in first_layer]
        bars = {"height": 2.0, "bar_width": 0.7, "gap": 0.35, "label_size": style.SMALL_SIZE}
        s.score_chart = parts.BarChart(th, scores, labels, colors=colors, **bars)
        s.loss_chart = parts.BarChart(th, losses, labels, colors=colors, **bars)
        score_title = parts.text(th, "induction heads' score", style.LABEL_SIZE, th.text, bold=True)
        loss_title = parts.text(th, "second-copy loss (nats)", style.LABEL_SIZE, th.text, bold=True)
        charts = VGroup(VGroup(score_title, s.score_chart).arrange(DOWN, buff=style.GAP_BLOCK),
                        VGroup(loss_title, s.loss_chart).arrange(DOWN, buff=style.GAP_BLOCK))
        charts.arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=DOWN)
        roles = [f"{l + 1}-{h + 1} looks {LABEL_PHRASES[S.label(l, h)]} "
                 f"({style.fmt(self._role_score(S, l, h))})" for l, h in first_layer if S.label(l, h)]
        axis = parts.text(th, "layer-1 head zeroed (none: the model as trained) \u00b7 " + " \u00b7 ".join(roles),
                          style.SMALL_SIZE, th.muted)
        axis.next_to(charts, DOWN, buff=style.GAP_LABEL)
        drop = S.circuit
        zeroed = [tuple(pair) for pair in drop["zeroed"]]
        rest = [(l, h) for l, h in first_layer if (l, h) not in zeroed]
        # Other layer-1 heads whose loss takes half the score away: part of the circuit too, said with their label.
        also = [(l, h) for l, h in rest if S.zeroed_induction[l][h] < S.induction_mean / 2]
        spare = [S.zeroed_induction[l][h] for l, h in rest if (l, h) not in also]
        zeroed_names = " and ".join(head_name(l, h) for l, h in zeroed)
        claim = (f"Zero {zeroed_names}, the previous-token head: the induction heads' score falls from "
                 f"{style.fmt(S.induction_mean)} to {style.fmt(drop['induction'])}, and the second-copy loss rises from "
                 f"{style.fmt(S.loss_second)} to {style.fmt(drop['loss_second'])}, no better than the first copy "
                 f"({style.fmt(S.loss_first)}).")
        also_said = ""
        if also:
            parts_said = [f"{head_name(l, h)} (it looks {LABEL_PHRASES.get(S.label(l, h), 'elsewhere')}) leaves "
                          f"{style.fmt(S.zeroed_induction[l][h])}" for l, h in also]
            claim += f" Zeroing {' and '.join(parts_said)}: the induction heads use it too."
            also_said = (f" The head that looks {LABEL_PHRASES.get(S.label(*also[0]), 'elsewhere')} matters too: "
                         f"{style.fmt(S.zeroed_induction[also[0][0]][also[0][1]])}.")
        if spare:
            claim += f" Any other layer-1 head zeroed leaves {style.fmt(min(spare))} or more."
        left, right, _, _ = layout.content_box()
        note = parts.note(th, claim, width=right - left - 1.0)
        title = parts.paragraph(th, "A circuit across two layers: the induction head finds its target through what "
                                "layer 1 wrote.", right - left - 1.0, style.LABEL_SIZE)
        group = VGroup(title, VGroup(charts, axis), note).arrange(DOWN, buff=style.GAP_SECTION)
        layout.fit_in_content(group)
        said = (f"Why two layers? Zero each layer-1 head in turn. Without the previous-token head, the induction "
                f"score falls from {style.fmt(S.induction_mean)} to {style.fmt(drop['induction'])} and the loss on "
                f"the repeat rises to {style.fmt(drop['loss_second'])}, back to guessing: the induction heads find "
                f"their target through what it wrote.{also_said}")
        with self.beat(said):
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
        texts = [
            (f"A tiny model on a toy task: {I.n_layer} layers and {I.vocab_size} made-up syllables. Large language "
             "models grow induction heads too, among much else (Olsson et al. 2022)."),
            ("Induction heads belong to causal language models, which predict the next token. The encoder in the "
             "other chapters reads both ways and was not checked for them."),
            (f"One circuit is not the whole model: this one has {I.n_layer * I.n_head} heads, and the others "
             "do other work."),
        ]
        s.notes = [parts.note(self.theme, t, width=width, kind="caveat", full_width=True) for t in texts]
        notes = VGroup(*s.notes).arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        layout.fit(notes, width=right - left, height=self.top() - bottom - style.GAP_BLOCK)
        notes.move_to([0, (self.top() + bottom) / 2, 0])
        with self.beat("Three cautions: a tiny model on a toy task. Induction heads belong to models that predict the "
                       "next token; the encoder we traced was not checked for them. And one circuit is not the whole "
                       "model."):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(LaggedStart(*(FadeIn(n, shift=LEFT * 0.2) for n in s.notes), lag_ratio=0.5),
                      run_time=style.BEAT)
