"""Chapter 3 — split into heads: d_k = d / h, and W_Q's column blocks are the heads' own projections.

Storyboard: d_k = d / h with the live model's numbers (and the original Transformer's,
labelled as such) -> W_Q drawn whole, its columns coloured in h blocks, the blocks
pulled apart: h separate projections W_Q^(i), the same numbers in two views
-> the failure trap, computed: copies of one head give identical patterns (distance 0),
separate projections give different ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Create,
    FadeIn,
    FadeOut,
    LaggedStart,
    Rectangle,
    VGroup,
    VMobject,
    Write,
    config,
)

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.build import TRANSFORMER_BASE
from scenes.lesson.config import CHAPTER_TITLES

MAX_TRAP_HEADS = 6  # patterns per row in the failure trap
LABELLED_CELL = 0.16  # smallest cell (Manim units) beside which a token name stays readable and apart
MAX_CELLS = 48  # W_Q drawn with at most this many cells per side


def mean_off_diagonal(dist) -> float:
    """Mean distance over pairs of different heads (0 when there is a single head)."""
    h = dist.shape[0]
    if h < 2:
        return 0.0
    return float((dist.sum() - dist.diagonal().sum()) / (h * (h - 1)))


@dataclass
class SplitHeadsState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: d_k = d/h, W_Q's column blocks, and the failure trap measured.
    """

    header: VMobject | None = None  # chapter number, title and the model line
    dk_group: VMobject | None = None  # d_k = d/h with this model's numbers and 512/8 = 64
    zoom: VMobject | None = None  # W_Q cut into column blocks, one per head
    real_value: VMobject | None = None  # mean distance between the real heads' patterns
    copies_value: VMobject | None = None  # the same for copies of one head (0)
    real_grids: VMobject | None = None  # the real heads' patterns
    copies_grids: VMobject | None = None  # the copies' patterns
    lost: VMobject | None = None  # the measured losses of the copies (link, layer output, sentence embedding)


class SplitHeadsScene(LessonScene):
    chapter_id = "split-heads"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("Each head works in d_k = d / h dimensions through its own projections: the column "
               "blocks of W_Q. Copies of one head would give identical patterns; separate projections do not.")

    def construct(self):
        self.state = SplitHeadsState()
        L = self.lesson
        self.state.header = parts.chapter_header(self.theme, L.chapter_number(self.chapter_id), self.title,
                                                 parts.model_line(L))
        self.play(FadeIn(self.state.header), run_time=style.SHORT)
        self.head_width()
        self.split_projection()
        self.failure_trap()

    # -- beats -----------------------------------------------------------------------

    def head_width(self):
        th, L = self.theme, self.lesson
        d, h, dk = L.d_model, L.n_head, L.d_head
        live = parts.formula(th, f"d_k = frac(d, h) = frac({d}, {h}) = {dk}", style.HEADING_SIZE)
        # The original Transformer's base model, next to the live model's own numbers.
        base_h, base_d = TRANSFORMER_BASE
        other = parts.formula_card(th, f"d = {base_d}, h = {base_h} arrow.double d_k = {base_d // base_h}",
                                   title="the original Transformer (2017)", size=style.LABEL_SIZE)
        VGroup(live, other).arrange(RIGHT, buff=2 * style.GAP_APART).move_to(UP * 1.6)
        layout.fit(VGroup(live, other), width=config.frame_width - 1.0)
        with self.beat(f"Multi-head attention splits the model width d across h heads: each head works in d over h "
                       f"dimensions, here {d} over {h}, that is {dk}; in the original Transformer, "
                       f"{base_d} over {base_h}, that is {base_d // base_h}."):
            self.play(Write(live), run_time=style.BEAT)
            self.play(FadeIn(other, shift=LEFT * 0.2), run_time=style.SHORT)
        self.state.dk_group = VGroup(live, other)

    def split_projection(self):
        th, L = self.theme, self.lesson
        d, h, dk = L.d_model, L.n_head, L.d_head
        W = L.mha.W_Q.detach()
        size = 2.6
        # Wide models: draw every stride-th row and column (a divisor of d_k keeps the blocks whole).
        stride = next(s for s in range(1, dk + 1) if dk % s == 0 and d // s <= MAX_CELLS)
        Ws = W[::stride, ::stride]
        ks = dk // stride
        scale = float(W.abs().max())
        # One heatmap per column block, side by side: together they are W_Q.
        blocks = [parts.heatmap(th, Ws[:, i * ks:(i + 1) * ks], size, width=size / h, scale=scale)
                  for i in range(h)]
        for i, b in enumerate(blocks):
            b.move_to(LEFT * (size / 2 - (i + 0.5) * size / h))
        whole = VGroup(*[Rectangle(width=size / h, height=size, stroke_color=th.head(i), stroke_width=2)
                         .move_to(b) for i, b in enumerate(blocks)])
        stage = VGroup(*whole).move_to(DOWN * 0.9 + LEFT * 3.2)
        for b, r in zip(blocks, whole):
            b.move_to(r)
        name = parts.formula(th, "W_Q", style.BODY_SIZE, th.role("Q")).next_to(stage, UP, buff=style.GAP_NAME)
        sampled = f" \u00b7 every {stride}th row and column drawn" if stride > 1 else ""
        shape = parts.text(th, f"{d} \u00d7 {d}{sampled}", style.SMALL_SIZE, th.muted).next_to(stage, DOWN, buff=style.GAP_LABEL)
        same = parts.text(th, "W_K and W_V: the same h column blocks", style.SMALL_SIZE, th.muted)
        same.next_to(shape, DOWN, buff=style.GAP_LABEL)
        with self.beat("The query projection W_Q is one d by d matrix, but its columns fall into h blocks, one per head. "
                       "W_K and W_V are cut the same way: each head gets its own query, key and value projections."):
            dk_group = self.state.dk_group
            self.play(FadeOut(dk_group[1]), dk_group[0].animate.scale(0.8).move_to(UP * 2.3 + LEFT * 3.2),
                      run_time=style.SHORT)
            self.play(*(FadeIn(b) for b in blocks), FadeIn(name), FadeIn(shape), run_time=style.BEAT)
            self.play(LaggedStart(*(Create(r) for r in whole), lag_ratio=0.1), run_time=style.BEAT)
            self.play(FadeIn(same), run_time=style.SHORT)

        # Pull the blocks apart: h separate projections W_Q^(i), each d x d_k.
        gap = min(0.35, 4.0 / h)
        spread = VGroup(*(r.copy() for r in whole)).arrange(RIGHT, buff=gap).move_to(stage)
        labels = VGroup()
        step = 1 if spread[0].width + gap >= 0.75 else max(1, h - 1)  # label all, or first and last
        for i in range(h):
            if i % step == 0 or i == h - 1:
                lab = parts.formula(th, f"W_Q^(({i + 1}))", style.SMALL_SIZE, th.head(i))
                labels.add(lab.next_to(spread[i], UP, buff=style.GAP_LABEL))
        block_shape = parts.text(th, f"each {d} \u00d7 {dk}", style.SMALL_SIZE, th.muted)
        block_shape.next_to(spread, DOWN, buff=style.GAP_LABEL)
        with self.beat("Pulled apart, the blocks are h separate projections, W_Q one to h, each d by d_k."):
            self.play(*(b.animate.move_to(s) for b, s in zip(blocks, spread)),
                      *(r.animate.move_to(s) for r, s in zip(whole, spread)),
                      FadeOut(name), FadeOut(shape), FadeOut(same), run_time=style.BEAT)
            self.play(FadeIn(labels), FadeIn(block_shape), run_time=style.SHORT)

        # The same numbers, as numbers: head 1's block.
        zoom = parts.NumberMatrix(th, L.mha.head_weights("Q")[0], max_rows=7, max_cols=4,
                                  labels=parts.MatrixLabels(name="W_Q^((1))", name_color=th.head(0),
                                                            shape=f"{d} \u00d7 {dk}"))
        same = parts.formula(th, f"= W_Q [:, 1..{dk}]", style.LABEL_SIZE, th.muted)
        view = VGroup(zoom, same).arrange(DOWN, buff=style.GAP_LINE)
        left, right, bottom, top = layout.content_box()
        layout.fit(view, width=right - spread.get_right()[0] - 0.8, height=top - bottom - 0.4)
        view.move_to([(spread.get_right()[0] + right) / 2, stage.get_y() + 0.3, 0])
        self.state.zoom = zoom
        frame = parts.highlight_box(th, spread[0], buff=style.GAP_FRAME, color=th.head(0))
        with self.beat("Same numbers, two views: head 1's projection is simply the first d_k columns of W_Q."):
            self.play(Create(frame), FadeIn(view, shift=LEFT * 0.2), run_time=style.BEAT)
        self.clear(self.state.dk_group[0], labels, block_shape, view, frame, *whole, *blocks, run_time=style.SHORT)

    def failure_trap(self):
        th, L = self.theme, self.lesson
        shown = trap_heads(L)
        left, right, bottom, top = layout.content_box()
        bar = parts.ColorBar(th, height=2.2)
        width = right - left - bar.width - 0.6
        n = min(L.trace.n_pos, style.MAX_TOKENS)
        cell = min(0.3, (width / len(shown) - 0.35) / n, (top - bottom - 2.4) / 2 / n)

        # Token names beside the first pattern of each row while they fit one per cell; else the hint lists them.
        first_labels = "rows" if cell >= LABELLED_CELL else False

        def pattern_row(weights, caption, dist, color):
            grids = VGroup(*(parts.AttentionGrid(th, weights[i], L.tokens, cell=cell,
                                                 decor=parts.OVERVIEW.but(title=f"head {i + 1}",
                                                                          labels=first_labels if k == 0 else False),
                                                 color=th.head(i), binned=True)
                            for k, i in enumerate(shown)))
            grids.arrange(RIGHT, buff=style.GAP_SECTION, aligned_edge=DOWN)
            label = parts.text(th, caption, style.LABEL_SIZE, color)
            distance = parts.text(th, "mean Jensen-Shannon distance between heads (0 = identical):", style.LABEL_SIZE,
                                  th.muted)
            value = parts.number(th, dist, 2, style.LABEL_SIZE, color)
            line = parts.inline(label, distance, value, buff=style.GAP_BLOCK)
            group = VGroup(line, grids).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_LINE)
            group.grids, group.value = grids, value
            return group

        real = pattern_row(L.trace.weights, "separate projections:", mean_off_diagonal(L.js), th.text)
        copies = pattern_row(L.copies.weights, f"copies of head {L.copied_head + 1}:", mean_off_diagonal(L.copies_js),
                             th.warn)
        rows = VGroup(real, copies).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_RESULT)
        trap = parts.text(th, "Failure trap: multi-head attention is not the same attention repeated.",
                          style.LABEL_SIZE, th.warn)
        layout.fit(trap, width=right - left)
        trap.next_to(self.state.header, DOWN, buff=style.GAP_BLOCK).align_to(self.state.header, LEFT)
        hint = "rows: queries \u00b7 columns: keys"
        if L.n_head > len(shown):
            hint = f"{len(shown)} of {L.n_head} heads \u00b7 rows: queries, columns: keys"
        if not first_labels:
            hint += " \u00b7 tokens in order: " + " ".join(L.tokens[:n])
        hint = layout.fit(parts.text(th, hint + parts.cap_note(L.trace.n_pos), style.SMALL_SIZE, th.muted),
                          width=right - left)
        # Fit the two rows between the trap line and the hint at the bottom.
        room_top = trap.get_bottom()[1] - 0.3
        room_bottom = bottom + hint.height + 0.2
        layout.fit(rows, width=width, height=room_top - room_bottom)
        rows.move_to([left + rows.width / 2, room_top - rows.height / 2, 0])
        bar.next_to(rows, RIGHT, buff=style.GAP_APART).align_to(rows, DOWN)
        hint.next_to(rows, DOWN, buff=style.GAP_LINE).align_to(rows, LEFT)
        self.state.real_value, self.state.copies_value = real.value, copies.value
        self.state.real_grids, self.state.copies_grids = real.grids, copies.grids
        with self.beat("The failure trap: treating multi-head attention as one attention duplicated."):
            self.play(FadeIn(trap), run_time=style.SHORT)
        with self.beat(f"Make every head a copy of head {L.copied_head + 1} and run it: all patterns come out "
                       "identical, distance zero."):
            self.play(FadeIn(copies), FadeIn(bar), FadeIn(hint), run_time=style.BEAT)
        with self.beat(f"With separate projections ({L.weights_kind} here), the same sentence gives different patterns "
                       "in every head."):
            self.play(FadeIn(real), run_time=style.BEAT)
        self.what_is_lost(trap, VGroup(rows, bar, hint))

    def what_is_lost(self, trap, evidence):
        """The trap measured: what the copies lose, in this layer's output and (trained model) in the model's."""
        th, L = self.theme, self.lesson
        lines = lost_lines(L)
        items = VGroup(*(parts.paragraph(th, "\u2022 " + line, 11.0, style.LABEL_SIZE) for line, _ in lines))
        items.arrange(DOWN, buff=style.GAP_ROW, aligned_edge=LEFT)
        title = parts.text(th, f"What copies of head {L.copied_head + 1} lose, measured", style.HEADING_SIZE,
                           th.warn, bold=True)
        panel = parts.card(th, VGroup(title, items).arrange(DOWN, buff=style.GAP_SECTION, aligned_edge=LEFT),
                           accent=th.warn)
        layout.fit_in_content(panel)
        panel.next_to(trap, DOWN, buff=style.GAP_SECTION).set_x(0)
        self.state.lost = panel
        for k, (line, spoken) in enumerate(lines):
            with self.beat(line, spoken=spoken):
                if k == 0:
                    self.clear(evidence)
                    frame = VGroup(*(m for m in panel if m is not panel.content))  # the panel and its accent bar
                    self.play(FadeIn(frame), FadeIn(title), run_time=style.SHORT)
                self.play(FadeIn(items[k], shift=UP * 0.1), run_time=style.SHORT)


def trap_heads(L) -> list[int]:
    """The heads the trap draws: all when they fit, else the first ones, always with the focus and copied heads."""
    if L.n_head <= MAX_TRAP_HEADS:
        return list(range(L.n_head))
    must = {L.focus_head, L.copied_head}
    rest = [i for i in range(L.n_head) if i not in must][: MAX_TRAP_HEADS - len(must)]
    return sorted(must | set(rest))


def lost_lines(L) -> list[tuple[str, str | None]]:
    """The trap's measurements as sentences (caption, spoken form or None), every number from the Lesson."""
    word = L.tokens[L.focus]
    k, w = L.strongest_link(L.trace.weights[L.focus_head])
    copy_k, _ = L.strongest_link(L.copies.weights[0])
    lines = []
    if copy_k != k:
        kept = float(L.copies.weights[0, L.focus, k])
        link = (f"The link: in the real layer head {L.focus_head + 1} gives \u201c{L.tokens[k]}\u201d {w:.2f} of "
                f"\u201c{word}\u201d's attention. In the copies no head links them: every head gives "
                f"\u201c{L.tokens[k]}\u201d {kept:.2f} and reads \u201c{L.tokens[copy_k]}\u201d most.")
        lines.append((link, None))
    change = L.copies_output_change
    layer = f"The layer: its output moves by {change:.2f} times its own size"
    lines.append((layer + " (\u2016change\u2016 / \u2016output\u2016, this sentence).", layer + ", on this sentence."))
    if L.trap is not None:
        t = L.trap
        ratio = t.probe_shift / t.one_head_shift
        model = (f"The model: the sentence embedding's cosine with the real one falls to "
                 f"{t.embedding_similarity:.3f}. Over {t.n_sentences} sentences it moves ")
        lines.append((model + f"{t.probe_shift:.3f} (1 \u2212 cosine), {ratio:.0f} times as far as losing head "
                      f"{t.head + 1} alone ({t.one_head_shift:.4f}).",
                      model + f"{ratio:.0f} times as far as when head {t.head + 1} alone is lost."))
    return lines
