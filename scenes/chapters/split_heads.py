"""Chapter 3 — split into heads: d_k = d / h, and W_Q's column blocks are the heads' own projections.

Storyboard: d_k = d / h with the live model's numbers (and the original Transformer's,
labelled as such) -> W_Q drawn whole, its columns coloured in h blocks, the blocks
pulled apart: h separate projections W_Q^(i), the same numbers in two views
-> each head's own space: the focus word's query and every key in two heads, drawn flat; a score as a key's
reach along the query, softmax as the dots growing to their weights -> the failure trap, computed: copies of
one head share one space (both panels become the same picture) and give identical patterns (distance 0),
separate projections give different ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    ReplacementTransform,
    Transform,
    VGroup,
    VMobject,
    Write,
    config,
)

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.build import TRANSFORMER_BASE
from scenes.lesson.focus import SPECIAL
from scenes.parts.attention import span_cells
from scenes.parts.tokens import with_gaps

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
    spaces: VMobject | None = None  # the focus head's and the contrast head's planes (parts.KeySpace), side by side
    sized: VMobject | None = None  # their dots after softmax, sized by weight
    note: VMobject | None = None  # what the panels' axes mean
    copied_spaces: VMobject | None = None  # the copied head's plane in both panels: the trap's picture
    real_value: VMobject | None = None  # mean distance between the real heads' patterns
    copies_value: VMobject | None = None  # the same for copies of one head (0)
    real_grids: VMobject | None = None  # the real heads' patterns
    copies_grids: VMobject | None = None  # the copies' patterns
    lost: VMobject | None = None  # the measured losses of the copies (link, layer output, sentence embedding)


class SplitHeadsScene(LessonScene):
    chapter_id = "split-heads"

    def construct(self):
        self.state = SplitHeadsState()
        L = self.lesson
        self.state.header = self.header(parts.model_line(L))
        self.play(FadeIn(self.state.header), run_time=style.SHORT)
        self.head_width()
        self.split_projection()
        self.own_spaces()
        self.failure_trap()

    # -- beats -----------------------------------------------------------------------

    def head_width(self):
        th, L = self.theme, self.lesson
        d, h, dk = L.d_model, L.n_head, L.d_head
        live = parts.formula(th, f"d_k = frac(d, h) = frac({d}, {h}) = {dk}", style.HEADING_SIZE)
        # The original Transformer's base model, next to the live model's own numbers.
        base_h, base_d = TRANSFORMER_BASE
        other = parts.formula_card(th, f"d = {base_d}, h = {base_h} arrow.double d_k = {base_d // base_h}",
                                   title=self.words("original-transformer"), size=style.LABEL_SIZE)
        VGroup(live, other).arrange(RIGHT, buff=2 * style.GAP_APART).move_to(UP * 1.6)
        layout.fit(VGroup(live, other), width=config.frame_width - 1.0)
        with self.beat("head-width", d=d, h=h, d_k=dk, base_d=base_d, base_h=base_h, base_d_k=base_d // base_h):
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
        shape = parts.text(th, self.words("shape-sampled" if stride > 1 else "shape", d=d, stride=stride),
                           style.SMALL_SIZE, th.muted).next_to(stage, DOWN, buff=style.GAP_LABEL)
        same = parts.text(th, self.words("same-blocks"), style.SMALL_SIZE, th.muted)
        same.next_to(shape, DOWN, buff=style.GAP_LABEL)
        with self.beat("column-blocks"):
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
        block_shape = parts.text(th, self.words("block-shape", d=d, d_k=dk), style.SMALL_SIZE, th.muted)
        block_shape.next_to(spread, DOWN, buff=style.GAP_LABEL)
        with self.beat("pulled-apart"):
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
        with self.beat("two-views"):
            self.play(Create(frame), FadeIn(view, shift=LEFT * 0.2), run_time=style.BEAT)
        self.clear(self.state.dk_group[0], labels, block_shape, view, frame, *whole, *blocks, run_time=style.SHORT)

    def space(self, head: int, title: str, labelled: list[int], width: float, height: float, weights=None):
        """Head ``head``'s plane of the focus word's query and the keys it may see (``Lesson.key_plane``), each key
        with its score and its weight (``weights``: [query, key], default the head's own)."""
        L = self.lesson
        keys = L.visible_keys()
        weights = L.trace.weights[head] if weights is None else weights
        scores = L.trace.masked[head, L.focus, keys]  # what softmax reads (the scaled scores when nothing is masked)
        return parts.KeySpace(self.theme, L.key_plane(head).keys, [L.tokens[k] for k in keys],
                              weights[L.focus, keys], scores, self.theme.head(head), title=title,
                              query=L.tokens[L.focus], labelled=labelled, width=width, height=height)

    def own_spaces(self):
        """The focus head's space beside another head's: the same tokens, different neighbours, different weights."""
        th, L = self.theme, self.lesson
        a, b = L.focus_head, L.contrast_head
        if b is None:  # one head: nothing to set beside it
            return
        keys = L.visible_keys()
        values = space_values(L)
        left, right, bottom, top = layout.content_box()
        width, height = (right - left - style.GAP_WIDE) / 2, top - bottom - 1.2
        panels = VGroup()
        for head in (a, b):
            weights = L.trace.weights[head, L.focus, keys]
            labelled = [int(i) for i in np.argsort(-weights.numpy(), kind="stable")[:3]]
            panels.add(self.space(head, self.words("space-title", head=head + 1), labelled, width, height))
        panels.arrange(RIGHT, buff=style.GAP_WIDE, aligned_edge=DOWN)
        note = parts.text(th, self.words("space-note", d_k=L.d_head), style.SMALL_SIZE, th.muted)
        layout.fit(note, width=right - left)
        layout.fit(panels, width=right - left, height=top - bottom - note.height - style.GAP_BLOCK)
        VGroup(panels, note).arrange(DOWN, buff=style.GAP_BLOCK).move_to([(left + right) / 2, (top + bottom) / 2, 0])
        self.state.spaces = panels
        with self.beat("own-space", word=L.tokens[L.focus], d_k=L.d_head):
            self.play(*(FadeIn(VGroup(p.title, p.axis, p.origin)) for p in panels), run_time=style.SHORT)
            self.play(*(Create(p.arrow) for p in panels), *(FadeIn(p.query) for p in panels), run_time=style.SHORT)
            self.play(*(LaggedStart(*(FadeIn(d, scale=0.5) for d in p.dots), lag_ratio=0.08) for p in panels),
                      *(FadeIn(VGroup(*p.names.values())) for p in panels), FadeIn(note), run_time=style.BEAT)
        drops = VGroup(*(p.drops() for p in panels))
        reaches = VGroup(*(p.reach for p in panels))
        with self.beat("alignment", **values):
            self.play(*(Create(d) for d in drops), run_time=style.BEAT)
            self.play(FadeIn(reaches, shift=UP * 0.1), run_time=style.SHORT)
        sized = VGroup(*(p.sized() for p in panels))
        self.state.sized = sized
        parked = values["a_key"] in SPECIAL  # the focus head's top key is [CLS] or [SEP]: its link to a word too
        with self.beat("sharpening-parked" if parked else "sharpening", **values):
            self.play(FadeOut(drops), FadeOut(reaches), run_time=style.SHORT)
            self.play(*(Transform(p.dots, s) for p, s in zip(panels, sized)),
                      *(FadeIn(VGroup(*p.weights.values())) for p in panels), run_time=style.BEAT)
        self.state.note = note

    def failure_trap(self):
        th, L = self.theme, self.lesson
        shown = trap_heads(L)
        left, right, bottom, top = layout.content_box()
        bar = parts.ColorBar(th, height=2.2)
        width = right - left - bar.width - 0.6
        drawn = L.drawn_positions(style.MAX_TOKENS)  # a long sentence: a window around the focus word
        n = span_cells(L.trace.n_pos, drawn)  # cells across, gaps included
        cell = min(0.3, (width / len(shown) - 0.35) / n, (top - bottom - 2.4) / 2 / n)

        # Token names beside the first pattern of each row while they fit one per cell; else the hint lists them.
        first_labels = "rows" if cell >= LABELLED_CELL else False

        def pattern_row(weights, caption, dist, color):
            grids = VGroup(*(parts.AttentionGrid(th, weights[i], L.tokens, positions=drawn, cell=cell,
                                                 decor=parts.OVERVIEW.but(title=self.words("head-title", head=i + 1),
                                                                          labels=first_labels if k == 0 else False),
                                                 color=th.head(i), binned=True)
                            for k, i in enumerate(shown)))
            grids.arrange(RIGHT, buff=style.GAP_SECTION, aligned_edge=DOWN)
            label = parts.text(th, caption, style.LABEL_SIZE, color)
            distance = parts.text(th, self.words("distance"), style.LABEL_SIZE, th.muted)
            value = parts.number(th, dist, 2, style.LABEL_SIZE, color)
            line = parts.inline(label, distance, value, buff=style.GAP_BLOCK)
            group = VGroup(line, grids).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_LINE)
            group.grids, group.value = grids, value
            return group

        real = pattern_row(L.trace.weights, self.words("separate"), mean_off_diagonal(L.js), th.text)
        copies = pattern_row(L.copies.weights, self.words("copies", head=L.copied_head + 1),
                             mean_off_diagonal(L.copies_js), th.warn)
        rows = VGroup(real, copies).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_RESULT)
        trap = parts.text(th, self.words("trap"), style.LABEL_SIZE, th.warn)
        layout.fit(trap, width=right - left)
        trap.next_to(self.state.header, DOWN, buff=style.GAP_BLOCK).align_to(self.state.header, LEFT)
        # Which heads are drawn (all, or some), and the tokens in order when no pattern is labelled with them.
        hint_values = dict(shown=len(shown), n_head=L.n_head, tokens=" ".join(with_gaps(L.tokens, drawn)),
                           cap_note=parts.cap_note(L.trace.n_pos, drawn))
        if L.n_head > len(shown):
            hint = self.words("hint-some-heads" if first_labels else "hint-some-heads-tokens", **hint_values)
        else:
            hint = self.words("hint" if first_labels else "hint-tokens", **hint_values)
        # Left of the logo's corner (``layout.left_of_logo``): wrapped onto a second line when it needs one.
        hint = parts.paragraph(th, hint, layout.left_of_logo() - left, style.SMALL_SIZE, th.muted,
                               line_buff=style.GAP_TIGHT)
        # Fit the two rows between the trap line and the hint at the bottom.
        room_top = trap.get_bottom()[1] - 0.3
        room_bottom = bottom + hint.height + 0.2
        layout.fit(rows, width=width, height=room_top - room_bottom)
        rows.move_to([left + rows.width / 2, room_top - rows.height / 2, 0])
        bar.next_to(rows, RIGHT, buff=style.GAP_APART).align_to(rows, DOWN)
        hint.next_to(rows, DOWN, buff=style.GAP_LINE).align_to(rows, LEFT)
        self.state.real_value, self.state.copies_value = real.value, copies.value
        self.state.real_grids, self.state.copies_grids = real.grids, copies.grids
        spaces = self.state.spaces
        with self.beat("trap", head=L.copied_head + 1):
            self.play(FadeIn(trap), run_time=style.SHORT)
            if spaces is not None:  # copies of one head share its space: every panel becomes the same picture
                keys = L.visible_keys()
                top = int(L.copies.weights[0, L.focus, keys].argmax())
                copied = VGroup()
                for p in spaces:
                    c = self.space(L.copied_head, self.words("space-copy", head=L.copied_head + 1), [top],
                                   p.frame.width, p.height - p.title.height - style.GAP_NAME, weights=L.copies.weights[0])
                    c.dots.become(c.sized())
                    c.remove(c.reach)  # no reach is said for the copies
                    copied.add(c.move_to(p, aligned_edge=DOWN))
                self.state.copied_spaces = copied
                moving = [p.copy() for p in spaces]  # the real heads' panels stay as they were (tests read them)
                for m in moving:
                    m.remove(m.reach)
                self.remove(*spaces.get_family())  # each piece: the beats brought them in piece by piece
                self.play(*(ReplacementTransform(m, c) for m, c in zip(moving, copied)), run_time=style.BEAT)
        with self.beat("copies"):
            if spaces is not None:
                self.clear(self.state.copied_spaces, self.state.note, run_time=style.SHORT)
            self.play(FadeIn(copies), FadeIn(bar), FadeIn(hint), run_time=style.BEAT)
        with self.beat("separate", weights=L.weights_kind):
            self.play(FadeIn(real), run_time=style.BEAT)
        self.what_is_lost(trap, VGroup(rows, bar, hint))

    def what_is_lost(self, trap, evidence):
        """The trap measured: what the copies lose, in this layer's output and (trained model) in the model's."""
        th, L = self.theme, self.lesson
        lines = lost_lines(L)
        items = VGroup(*(parts.paragraph(th, "\u2022 " + self.words(line, **values), 11.0, style.LABEL_SIZE)
                         for line, values in lines))
        items.arrange(DOWN, buff=style.GAP_ROW, aligned_edge=LEFT)
        title = parts.text(th, self.words("lost-title", head=L.copied_head + 1), style.HEADING_SIZE, th.warn, bold=True)
        panel = parts.card(th, VGroup(title, items).arrange(DOWN, buff=style.GAP_SECTION, aligned_edge=LEFT),
                           accent=th.warn)
        layout.fit_in_content(panel)
        panel.next_to(trap, DOWN, buff=style.GAP_SECTION).set_x(0)
        self.state.lost = panel
        for k, (line, values) in enumerate(lines):
            with self.beat(line, **values):
                if k == 0:
                    self.clear(evidence)
                    frame = VGroup(*(m for m in panel if m is not panel.content))  # the panel and its accent bar
                    self.play(FadeIn(frame), FadeIn(title), run_time=style.SHORT)
                self.play(FadeIn(items[k], shift=UP * 0.1), run_time=style.SHORT)


def space_values(L) -> dict:
    """The placeholders of the own-space beats: the focus head a, the contrast head b, and each one's top key (the
    one reaching furthest along the query: its largest score, so its largest weight)."""
    a, b = L.focus_head, L.contrast_head
    keys = L.visible_keys()
    scores = L.trace.masked  # what softmax reads (the scaled scores when nothing is masked)
    values = {"word": L.tokens[L.focus], "d_k": L.d_head, "a": a + 1, "b": b + 1}
    for name, head in (("a", a), ("b", b)):
        row = L.trace.weights[head, L.focus]
        top = max(keys, key=lambda k: float(row[k]))
        values.update({f"{name}_key": L.tokens[top], f"{name}_score": float(scores[head, L.focus, top]),
                       f"{name}_weight": float(row[top])})
    link, weight = L.strongest_link(L.trace.weights[a])
    values.update(a_link=L.tokens[link], a_link_weight=weight)
    return values


def trap_heads(L) -> list[int]:
    """The heads the trap draws: all when they fit, else the first ones, always with the focus and copied heads."""
    if L.n_head <= MAX_TRAP_HEADS:
        return list(range(L.n_head))
    must = {L.focus_head, L.copied_head}
    rest = [i for i in range(L.n_head) if i not in must][: MAX_TRAP_HEADS - len(must)]
    return sorted(must | set(rest))


def lost_lines(L) -> list[tuple[str, dict]]:
    """The trap's measurements: (script id, its placeholders) per line, each a line of the panel and a beat (the
    ids are in both sections of the script), every number from the Lesson. The link only when the copies read
    another word most; the model only when it was measured (a trained model)."""
    word = L.tokens[L.focus]
    k, w = L.strongest_link(L.trace.weights[L.focus_head])
    copy_k, _ = L.strongest_link(L.copies.weights[0])
    lines = []
    if copy_k != k:
        copy_row = L.copies.weights[0, L.focus]
        top = int(copy_row.argmax())  # where the copies put most of the word's weight, [CLS] and [SEP] included
        lines.append(("lost-link", {"head": L.focus_head + 1, "key": L.tokens[k], "weight": float(w), "word": word,
                                     "kept": float(copy_row[k]), "copy_key": L.tokens[top],
                                     "copy_weight": float(copy_row[top])}))
    lines.append(("lost-layer", {"change": float(L.copies_output_change)}))
    if L.trap is not None:
        t = L.trap
        lines.append(("lost-model", {"similarity": f"{t.embedding_similarity:.3f}", "n_sentences": t.n_sentences,
                                      "shift": f"{t.probe_shift:.3f}", "head": t.head + 1, "n_others": L.n_head - 1,
                                      "others_shift": f"{t.others_shift:.3f}"}))
    return lines
