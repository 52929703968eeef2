"""Chapter 2 — one head, one query row worked through with the real numbers.

Storyboard: the formula -> where q, k and v come from (the word's x times this head's
W_Q, W_K, W_V, plus biases) -> the query vector q of one word beside every key vector
k_j -> a sweep computes q·k_j -> divide by √d_k -> softmax turns the row into
weights that sum to 1 -> the weights mix the value vectors into the head's output
for that word -> arcs show where information flows (not why).

Everything on screen is read from ``lesson.trace`` for the head ``lesson.focus_head``
(chosen by measurement: for a pronoun, the head that links pronouns to antecedents) and
the query ``lesson.focus``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from manim import (
    DL,
    DOWN,
    LEFT,
    RIGHT,
    UL,
    UP,
    Create,
    FadeIn,
    FadeOut,
    LaggedStart,
    Line,
    ReplacementTransform,
    VGroup,
    VMobject,
    config,
)

from mha_core.sizes import MINILM_HEADS, MINILM_LAYERS, shown_indices
from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.parts import NumberLabel
from scenes.parts.tokens import ELISION, gaps

MAX_DIMS = 6  # vector entries drawn per column before an ellipsis
GAP_COLUMN = 0.45  # the room a gap in a long sentence's window takes between two key columns (its "…")
NUMBER_GAP = 0.2  # the least room between the numbers of neighbouring key columns (more where the frame allows:
NUMBER_GAPS = (0.3, 0.25)  # the first of these that lets the table fit unshrunk)
WORD_GAP = 0.22  # ... and between their tokens
DOT_ROOM = 0.45  # between the query column and the first key column: room for the "·"


class WorkedRow(VGroup):
    """The worked query row as a table whose columns are the keys.

    Rows: key tokens; the key vectors k_j (or value vectors v_j) as columns; q·k_j; ÷√d_k; softmax.
    The query vector q stands in its own column on the left. Every number is a NumberLabel.
    Columns are the keys of the lesson's window (``keys``: sentence positions, ``Lesson.drawn_positions``);
    where it leaves tokens out, a "…" stands in the key row and in each stage row (``gaps``: by row name).
    """

    def __init__(self, th, lesson, head: int, query: int, mask_word: str, number_gap: float = NUMBER_GAP):
        """``mask_word``: the word the scaling row's label adds when the model masks attention; ``number_gap``: the
        least room between the numbers of neighbouring columns."""
        super().__init__()
        t = lesson.trace
        self.keys = list(lesson.drawn_positions(style.MAX_TOKENS))
        cut = gaps(self.keys, t.n_pos)
        self.dims = shown_indices(t.d_head, MAX_DIMS)
        kT = t.k[head].T  # [d_head, key_pos]
        vT = t.v[head].T
        scores = t.scores[head, query]
        scaled = (t.masked if t.mask is not None else t.scaled)[head, query]
        weights = t.weights[head, query]

        # Column geometry. The key tokens are drawn as big as the numbers under them, and each pair of
        # neighbouring columns stands just far enough apart for their numbers, or for their two words (a long
        # word borrows room from short neighbours): the table stays narrow enough to be shown at a readable size.
        words, _ = parts.baseline_words(th, [t.tokens[j] for j in self.keys], style.NUMBER_SIZE)
        numbers = [scores, scaled, weights, kT, vT]
        width = max(len(style.fmt(float(x))) for arr in numbers for x in np.ravel(arr.numpy())
                    if math.isfinite(float(x)))
        char = parts.NumberLabel(0, "0", style.NUMBER_SIZE).char_width
        self.number_width = width * char
        self.pitch = self.number_width + number_gap  # the least distance between two key columns
        x0 = 0.0  # centre x of the first key column
        self.col_x = [x0]
        for i in range(1, len(self.keys)):
            step = max(self.pitch, (words[i - 1].width + words[i].width) / 2 + WORD_GAP)
            self.col_x.append(self.col_x[-1] + step + (GAP_COLUMN if i in cut else 0.0))
        # The middle of each gap: before column g (after the last when g is the number of columns).
        edge = max(self.pitch, words[-1].width + WORD_GAP) / 2 + GAP_COLUMN / 2
        gap_x = [(self.col_x[g - 1] + self.col_x[g]) / 2 if 0 < g < len(self.keys) else
                 self.col_x[-1] + edge if g else self.col_x[0] - edge for g in cut]
        dy = 0.34
        y = 0.0

        self.key_labels = VGroup(*words)
        for w, x in zip(words, self.col_x):
            w.set_x(x)
        self.key_labels.set_y(y)
        y -= 0.45
        self.vec_top = y
        self.vec_y = [y - a * dy for a in range(len(self.dims))]
        y = self.vec_y[-1] - 0.55

        self.k_block = self._vector_columns(th, kT, th.role("K"))
        self.v_block = self._vector_columns(th, vT, th.role("V"))
        self.columns = [VGroup(*(m for (d, jj), m in self.k_block.cells.items() if jj == j)) for j in self.keys]

        # The query vector, in a column left of the keys (its word above it, beside the first key's).
        self.q_label = parts.text(th, t.tokens[query], style.NUMBER_SIZE, th.role("Q"))
        self.q_x = x0 - max(self.number_width + DOT_ROOM, (self.q_label.width + words[0].width) / 2 + WORD_GAP)
        self.q_x -= GAP_COLUMN if 0 in cut else 0.0
        self.q_col = VGroup()
        for a, dim in enumerate(self.dims):
            if dim is None:
                mob = parts.text(th, "\u22ee", style.NUMBER_SIZE, th.muted)
            else:
                v = float(t.q[head, query, dim])
                mob = NumberLabel(v, style.fmt(v), style.NUMBER_SIZE, th.role("Q"))
            self.q_col.add(mob.move_to([self.q_x, self.vec_y[a], 0]))
        self.q_label.move_to([self.q_x, self.key_labels.get_y(), 0])
        self.dot = parts.text(th, "\u00b7", style.TITLE_SIZE + 10, th.muted).move_to(
            [(self.q_x + x0) / 2, self.q_col.get_y(), 0])

        self.score_y, self.scaled_y, self.weight_y = y, y - 0.45, y - 0.9
        self.scores = self._stage_numbers(th, scores, self.score_y)
        self.scaled = self._stage_numbers(th, scaled, self.scaled_y)
        self.weights = self._stage_numbers(th, weights, self.weight_y, color=th.text)
        self.weight_sum = float(weights.sum())
        self.gaps = {name: VGroup(*(parts.text(th, ELISION, style.NUMBER_SIZE, th.muted).move_to([x, y_, 0])
                                    for x in gap_x))
                     for name, y_ in (("keys", self.key_labels.get_y()), ("scores", self.score_y),
                                      ("scaled", self.scaled_y), ("weights", self.weight_y))}

        # The stages' names end under the query column's right edge (its stage rows are empty); the vectors'
        # names k_j, v_j stand left of the query column.
        self.label_x = self.q_x + self.number_width / 2
        self.vector_label_x = self.q_x - self.number_width / 2 - style.GAP_WORD
        sqrt_dk = style.fmt(math.sqrt(t.d_head))

        self.score_label = self._stage_label(th, "q dot k_j", self.score_y)
        self.scaled_label = self._stage_label(th, f'"÷" sqrt({t.d_head}) = {sqrt_dk}' if t.mask is None else
                                      f'"÷" sqrt({t.d_head}) ", {mask_word}"', self.scaled_y)
        self.weight_label = self._stage_label(th, 'op("softmax")', self.weight_y)
        self.k_label = self._stage_label(th, "k_j", self.vec_y[min(1, len(self.vec_y) - 1)], self.vector_label_x)
        self.v_label = self._stage_label(th, "v_j", self.vec_y[min(1, len(self.vec_y) - 1)], self.vector_label_x)
        self.add(self.key_labels, self.gaps["keys"], self.q_label, self.q_col, self.dot, self.k_block, self.k_label)

    def _vector_columns(self, th, mat, color) -> VGroup:
        """``mat`` [d_head, key] as one column per key (rows: the drawn dimensions); ``.cells[(dim, key)]``."""
        block = VGroup()
        cells = {}
        for a, dim in enumerate(self.dims):
            for j, x in zip(self.keys, self.col_x):
                if dim is None:
                    mob = parts.text(th, "\u22ee", style.NUMBER_SIZE, th.muted)
                else:
                    v = float(mat[dim, j])
                    mob = NumberLabel(v, style.fmt(v), style.NUMBER_SIZE, color)
                    cells[(dim, j)] = mob
                block.add(mob.move_to([x, self.vec_y[a], 0]))
        block.cells = cells
        return block

    def _stage_numbers(self, th, values, y: float, color=None, digits: int = style.DIGITS) -> VGroup:
        """One number per key column at height ``y`` (a stage of the row: scores, scaled, weights)."""
        row = VGroup()
        v = values.numpy()
        scale = float(np.abs(v[np.isfinite(v)]).max()) if np.isfinite(v).any() else 1.0
        for j, x in zip(self.keys, self.col_x):
            val = float(v[j])
            shown = style.fmt(val, digits) if math.isfinite(val) else "\u2212\u221e"
            col = color or th.signed_color(val, scale)
            row.add(NumberLabel(val, shown, style.NUMBER_SIZE, col).move_to([x, y, 0]))
        return row

    def _stage_label(self, th, source: str, y: float, right: float | None = None):
        """A row's name (Typst maths) ending at ``right`` (default: the query column's right edge), at height ``y``."""
        label = parts.formula(th, source, style.LABEL_SIZE, th.muted)
        return label.move_to([self.label_x if right is None else right, y, 0], aligned_edge=RIGHT)


# The script ids of how a probe relation reads in a sentence (mha_core.relations.RELATIONS).
RELATION_IDS = {
    "pronoun->antecedent": "relation-pronoun-antecedent", "determiner->noun": "relation-determiner-noun",
    "adjective->noun": "relation-adjective-noun", "subject->verb": "relation-subject-verb",
    "verb->subject": "relation-verb-subject", "verb->object": "relation-verb-object",
    "preposition->object": "relation-preposition-object", "possessive->noun": "relation-possessive-noun",
    "auxiliary->verb": "relation-auxiliary-verb",
}


def rule_id(name: str) -> tuple[str, dict]:
    """The script id (and placeholders) of a baseline rule's name: "offset -1" -> the previous word."""
    if name.startswith("offset "):
        offset = int(name.removeprefix("offset "))
        if abs(offset) == 1:
            return ("rule-next-word" if offset > 0 else "rule-previous-word"), {}
        return ("rule-next-word-but" if offset > 0 else "rule-previous-word-but"), {"n": abs(offset) - 1}
    return "rule-named", {"name": name}


@dataclass
class OneHeadState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: one query row worked through: q·k, ÷√d_k, softmax, the mix.
    """

    f: int = 0  # the query position worked through
    header: VMobject | None = None  # chapter number, title and the model line
    table: WorkedRow | None = None  # the worked row: keys as columns, every stage a row
    everything: VMobject | None = None  # the table with every row it gains, fitted once
    formula: VMobject | None = None  # head_1 = softmax(Q_1 K_1ᵀ / √d_k) V_1
    chip: VMobject | None = None  # the head's chip in its colour, beside the formula all chapter
    qkv_mark: VMobject | None = None  # a bar and chip in the head's colour: these q, k, v are this head's
    projections: VMobject | None = None  # x[word] and its q, k, v in this head: where they come from
    total: VMobject | None = None  # the weights' sum, 1
    result: VMobject | None = None  # the head's output for the word: its label and entries


class OneHeadScene(LessonScene):
    chapter_id = "one-head"

    def choice_values(self, r) -> dict:
        """The placeholders of the head-choice beat and card: why the lesson follows head ``r`` (a RelationResult)."""
        low, high = r.interval
        rule, values = rule_id(r.baseline_name)
        return {"layer": r.layer + 1, "head": r.head + 1, "total_heads": MINILM_LAYERS * MINILM_HEADS,
                "relation": self.words(RELATION_IDS[r.relation]), "accuracy": float(r.accuracy), "low": float(low),
                "high": float(high), "rule": self.words(rule, **values), "baseline": float(r.baseline_accuracy),
                "wins": r.wins, "losses": r.losses}

    def construct(self):
        self.state = OneHeadState()
        L = self.lesson
        self.state.f = L.focus
        self.head = L.focus_head
        self.setup_stage()
        self.projections()
        self.queries_meet_keys()
        self.scale_scores()
        self.softmax_row()
        self.mix_values()
        self.where_not_why()

    # -- helpers ---------------------------------------------------------------------

    def setup_stage(self):
        th, L = self.theme, self.lesson
        subtitle = self.words("subtitle", model_line=parts.model_line(L), head=self.head + 1,
                              cap_note=parts.cap_note(L.trace.n_pos, L.drawn_positions(style.MAX_TOKENS)))
        self.state.header = self.header(subtitle)
        left, right, bottom, top = layout.content_box()
        for gap in (*NUMBER_GAPS, NUMBER_GAP):  # the numbers stand as far apart as the width allows
            T = WorkedRow(th, L, self.head, self.state.f, self.words("mask"), number_gap=gap)
            everything = VGroup(T, T.scores, T.scaled, T.weights, T.score_label, T.scaled_label, T.weight_label,
                                T.v_block, T.v_label, *T.gaps.values())
            if everything.width <= right - left - 0.2:
                break
        self.state.table = T
        # Scale the whole table (and the rows added later) to the content width, once.
        layout.fit(everything, width=right - left - 0.2)
        self.state.everything = everything
        i = self.head + 1
        self.state.formula = parts.formula(
            th, f'op("head")_{i} = op("softmax")(frac(Q_{i} K_{i}^T, sqrt(d_k))) V_{i}', style.BODY_SIZE)
        self.beside_header(self.state.formula, self.state.header, may_drop=True)
        # The head's colour, carried from its W_Q block (split-heads) to its output and arcs here: its chip stays
        # beside the formula all chapter, and marks its q, k and v (projections).
        self.state.chip = parts.head_chip(th, self.head).next_to(self.state.formula, LEFT, buff=style.GAP_ITEM)
        table_top = min(top - 0.9, self.state.formula.get_bottom()[1] - 0.7)  # room for the arcs above the keys
        everything.move_to([0, 0, 0]).align_to([0, table_top, 0], UP)

    def projections(self):
        """x[word] times this head's projections: its query, key and value (real numbers, long vectors elided)."""
        th, L, f = self.theme, self.lesson, self.state.f
        word = L.tokens[f]
        x = parts.vector(th, L.trace.x[f], name=f'x["{word}"] =', max_cols=MAX_DIMS)
        rows = [x]
        for role, values in (("Q", L.trace.q), ("K", L.trace.k), ("V", L.trace.v)):
            lhs = f'x["{word}"] W_{role}^(({self.head + 1})) + b_{role}^(({self.head + 1})) ='
            rows.append(parts.vector(th, values[self.head, f], name=lhs, name_color=th.role(role), max_cols=MAX_DIMS))
        lengths = parts.text(th, self.words("lengths", d=L.d_model, d_k=L.d_head), style.SMALL_SIZE, th.muted)
        group = VGroup(*rows).arrange(DOWN, buff=style.GAP_BLOCK, aligned_edge=RIGHT)
        # This head's q, k and v, bracketed in its colour: the same colour as its W_Q block and its output.
        own = VGroup(*rows[1:])
        bar = Line(own.get_corner(UL) + LEFT * style.GAP_ITEM, own.get_corner(DL) + LEFT * style.GAP_ITEM,
                   stroke_color=th.head(self.head), stroke_width=4)
        chip = parts.head_chip(th, self.head).next_to(bar, LEFT, buff=style.GAP_ITEM)
        self.state.qkv_mark = VGroup(bar, chip)
        self.state.projections = VGroup(group, self.state.qkv_mark,
                                        lengths.next_to(group, DOWN, buff=style.GAP_SECTION))
        # The sentence (the table's row of keys) comes up with the chapter and stays: what is shown until the
        # table is built goes under it.
        T = self.state.table
        sentence = VGroup(T.key_labels, T.gaps["keys"])
        self.under(self.state.projections, sentence)
        with self.beat("one-head"):
            self.play(FadeIn(self.state.header), FadeIn(self.state.formula), FadeIn(self.state.chip), run_time=style.BEAT)
            self.play(LaggedStart(*(FadeIn(w, shift=DOWN * 0.1) for w in T.key_labels), lag_ratio=0.08),
                      FadeIn(T.gaps["keys"]), run_time=style.BEAT)
        if (r := L.focus_relation) is not None:  # chosen by measurement (else the author set the head)
            why = self.choice_values(r)
            card = parts.note(th, self.words("head-choice" if r.labelled else "head-choice-too-close", **why),
                              width=min(9.0, config.frame_width - 1.0))
            self.under(card, sentence)
            with self.beat("head-choice" if r.labelled else "head-choice-too-close", **why):
                self.play(FadeIn(card), run_time=style.BEAT)
            self.clear(card)
        with self.beat("projections", word=word):
            self.play(FadeIn(x), run_time=style.SHORT)
            self.play(LaggedStart(*(FadeIn(r, shift=RIGHT * 0.2) for r in rows[1:]), lag_ratio=0.4),
                      FadeIn(lengths), run_time=style.BEAT)
            self.play(Create(bar), FadeIn(chip), run_time=style.SHORT)
        self.clear(self.state.projections)

    @staticmethod
    def under(mob, above) -> None:
        """Shrink ``mob`` to the content box under ``above`` (never past what it needs), and centre it there."""
        left, right, bottom, _ = layout.content_box()
        top = above.get_bottom()[1] - style.GAP_SECTION
        layout.fit(mob, width=right - left, height=top - bottom)
        mob.move_to([0, (top + bottom) / 2, 0])

    def queries_meet_keys(self):
        th, T = self.theme, self.state.table
        word = self.lesson.tokens[self.state.f]
        with self.beat("query-and-keys", word=word):
            self.play(FadeIn(T.q_label), FadeIn(T.q_col, shift=RIGHT * 0.2), run_time=style.BEAT)
            self.play(FadeIn(T.k_block), FadeIn(T.k_label), FadeIn(T.dot), run_time=style.BEAT)
        with self.beat("dot-product"):
            frame = parts.highlight_box(th, T.columns[0], buff=style.GAP_TIGHT)
            qbox = parts.highlight_box(th, T.q_col, buff=style.GAP_TIGHT, color=th.role("Q"))
            self.play(Create(frame), Create(qbox), FadeIn(T.score_label), FadeIn(T.gaps["scores"]),
                      run_time=style.SHORT)
            self.add(T.scores)
            self.play(parts.sweep(frame, T.columns, reveal=list(T.scores)), run_time=max(2.0, 0.3 * len(T.keys)))
            self.play(FadeOut(frame), FadeOut(qbox), run_time=style.SHORT)

    def scale_scores(self):
        T, L = self.state.table, self.lesson
        with self.beat("scale", d_k=L.d_head):
            self.play(FadeIn(T.scaled_label), FadeIn(T.gaps["scaled"]), ReplacementTransform(T.scores.copy(), T.scaled),
                      run_time=style.BEAT)

    def softmax_row(self):
        th, T = self.theme, self.state.table
        total = parts.formula(th, f'sum = {style.fmt(T.weight_sum)}', style.LABEL_SIZE, th.muted)
        total.next_to(T.weight_label, DOWN, buff=style.GAP_LINE).align_to(T.weight_label, RIGHT)
        left = layout.content_box()[0]  # a wide table (a long sentence's window) leaves the sum less room
        total.shift(RIGHT * max(0.0, left - total.get_left()[0]))
        self.state.total = total
        with self.beat("softmax"):
            self.play(FadeIn(T.weight_label), FadeIn(T.gaps["weights"]),
                      ReplacementTransform(T.scaled.copy(), T.weights), run_time=style.BEAT)
            self.play(FadeIn(total), run_time=style.SHORT)

    def mix_values(self):
        th, T, L = self.theme, self.state.table, self.lesson
        out = L.trace.heads[self.head, self.state.f]
        dims = [d for d in T.dims]
        entries = VGroup()
        for d in dims:
            if d is None:
                entries.add(parts.text(th, "\u2026", style.NUMBER_SIZE, th.muted))
            else:
                v = float(out[d])
                entries.add(NumberLabel(v, style.fmt(v), style.NUMBER_SIZE, th.head(self.head)))
        entries.arrange(RIGHT, buff=style.GAP_BLOCK)
        lhs = parts.formula(th, f'op("head")_{self.head + 1} ("{L.tokens[self.state.f]}") = sum_j w_j v_j =', style.LABEL_SIZE)
        result = VGroup(lhs, entries).arrange(RIGHT, buff=style.GAP_ITEM)
        layout.fit(result, width=config.frame_width - 1.0)
        with self.beat("mix-values"):
            # Clear the key side and lift the weights under the value vectors.
            lift = UP * (T.scores.get_y() - T.weights.get_y())
            self.play(FadeOut(VGroup(T.k_block, T.k_label, T.q_col, T.dot, T.scores, T.score_label, T.scaled,
                                     T.scaled_label, T.gaps["scores"], T.gaps["scaled"])),
                      VGroup(T.weights, T.weight_label, self.state.total, T.gaps["weights"]).animate.shift(lift),
                      T.q_label.animate.set_opacity(0.4), run_time=style.BEAT)
            self.play(FadeIn(T.v_block), FadeIn(T.v_label), run_time=style.BEAT)
            result.next_to(T.weights, DOWN, buff=style.GAP_RESULT)
            result.set_x(0)
            frame = parts.highlight_box(th, VGroup(*(m for (d, j), m in T.v_block.cells.items() if j == T.keys[0])),
                                        buff=style.GAP_TIGHT)
            v_columns = [VGroup(*(m for (d, jj), m in T.v_block.cells.items() if jj == j)) for j in T.keys]
            self.play(Create(frame), run_time=style.SHORT)
            self.play(parts.sweep(frame, v_columns), FadeIn(lhs), run_time=max(1.5, 0.2 * len(T.keys)))
            self.play(FadeOut(frame), FadeIn(entries, shift=DOWN * 0.1), run_time=style.BEAT)
            self.state.result = result

    def where_not_why(self):
        th, T, L = self.theme, self.state.table, self.lesson
        w = L.trace.weights[self.head, self.state.f, T.keys]  # the drawn keys' weights, column by column
        keep = [int(k) for k in np.argsort(-w.numpy())[:4]]  # the window keeps the row's 4 strongest keys
        f = T.keys.index(self.state.f) if self.state.f in T.keys else None  # the query's own column
        source = T.key_labels[f] if f is not None else T.q_label
        arcs = VGroup(*(parts.attention_arc(th, source, T.key_labels[k], float(w[k]), th.head(self.head),
                                            max_width=10, height=0.35) for k in sorted(keep) if k != f))
        caveat = parts.note(th, self.words("caveat"), width=min(9.0, config.frame_width - 1.0), kind="caveat")
        caveat.next_to(self.state.result, DOWN, buff=style.GAP_APART)
        if caveat.get_bottom()[1] < -config.frame_height / 2 + style.FRAME_MARGIN:
            caveat.next_to(self.state.result, DOWN, buff=style.GAP_NAME)
        with self.beat("where-not-why"):
            self.play(T.q_label.animate.set_opacity(1), LaggedStart(*(Create(a) for a in arcs), lag_ratio=0.15),
                      run_time=style.BEAT)
            self.play(FadeIn(caveat, shift=UP * 0.2), run_time=style.BEAT)
