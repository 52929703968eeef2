"""Chapter 9 — heads specialise: real trained heads from all six layers, labelled only by what was measured.

Storyboard (trained model, ``lesson.gallery``): the sentence as the model sees it (word pieces) -> a gallery
of heads from every layer, chosen by measurement, in layer order: first the heads that attend by position or
park on [CLS] (each with its corpus-mean share and what an even spread would give), then the heads that track
a relation between words (each with its held-out accuracy and the best baseline's) -> one head on one more
sentence ("The scientist who reviewed the paper said it was flawed."): its attention from "it" -> words related by
meaning: the head that best links a noun to the other noun of its topic, held out (or "not found"), on one of
its sentences, and how faint the link is -> the caveats,
beside a count of every head's kind by layer: many heads earn no label; roles are trained, not given; heads
are not a panel of specialists; a head is no model of its own; one head on one sentence proves nothing.

With the toy model (``lesson.gallery`` is None) the chapter shows untrained heads honestly: different
patterns, no roles, no labels, and the word "learned" never appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from manim import DOWN, LEFT, ORIGIN, RIGHT, UP, Create, FadeIn, LaggedStart, Square, VGroup, VMobject, config

import numpy as np

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.build import token_window
from scenes.lesson.focus import pick_focus
from scenes.parts.attention import span_cells

# The script ids of the signatures' short names, for the tags under small patterns ("1.00 previous").
SIGNATURE_IDS = {"previous": "signature-previous", "next": "signature-next", "current": "signature-current",
                 "cls": "signature-cls", "sep": "signature-sep", "punctuation": "signature-punctuation",
                 "entropy": "signature-entropy"}
# ... of an untrained head's largest share, in the card beside it up close.
CARD_IDS = {"previous": "toy-card-previous", "next": "toy-card-next", "current": "toy-card-current",
            "cls": "toy-card-cls", "sep": "toy-card-sep", "punctuation": "toy-card-punctuation"}
# ... of a corpus label as a tile shows it (and as the sentences name a separator label).
LABEL_IDS = {"previous-token": "label-previous-token", "next-token": "label-next-token",
             "current-token": "label-current-token", "[CLS]": "label-cls", "[SEP]": "label-sep",
             "punctuation": "label-punctuation", "broad": "label-broad"}
# ... of a positional label in a sentence ("gives the previous token 1.00 of its attention").
POSITION_IDS = {"previous-token": "position-previous-token", "next-token": "position-next-token",
                "current-token": "position-current-token"}
# ... of the kinds of head (scenes.lesson.gallery.KINDS) as the table's columns name them (separator: its labels)
KIND_IDS = {"position": "kind-position", "broad": "kind-broad", "relation": "kind-relation", "none": "kind-none"}
# The meaning head's weights are small and close: three decimals tell its top word from the next.
MEANING_DIGITS = 3


def showcase_head(spec) -> int:
    """The head to look at up close: the labelled head whose signature is strongest, else the most focused one."""
    scores = []
    for i, tag in enumerate(spec.tags):
        labelled = spec.labels[i] is not None and spec.labels[i] != "broad"
        scores.append((labelled, tag.value, -i))
    return -max(scores)[2]


@dataclass
class SpecializationState:
    """What the beats have drawn, by name; later beats and tests read it."""

    spec: object = None  # the Lesson's Specialization (the toy model's heads; the trained layer's otherwise)
    gallery: object = None  # the Lesson's Gallery (None: the toy model)
    header: VMobject | None = None  # chapter number, title and the model
    row: parts.TokenRow | None = None  # the word pieces the model saw
    heads_map: VMobject | None = None  # every head of the model: one square per (layer, head)
    tiles: list = field(default_factory=list)  # per gallery tile a VGroup: .grid, .title, .label, .measure, .data
    legend: VMobject | None = None  # how to read the tiles (or the toy grids)
    bar: parts.ColorBar | None = None  # the [0, 1] scale
    probe_title: VMobject | None = None  # the scientist sentence's head and its held-out measure
    probe_row: parts.TokenRow | None = None  # the scientist sentence
    probe_arcs: VMobject | None = None  # attention from "it", width by weight
    probe_weights: list = field(default_factory=list)  # NumberLabel per token: the head's weight from "it"
    probe_card: VMobject | None = None  # what the numbers show, and the caveat that follows
    meaning_title: VMobject | None = None  # the meaning head and its held-out measure (or: no head passes)
    meaning_row: parts.TokenRow | None = None  # one held-out sentence's nouns, in order
    meaning_weights: VMobject | None = None  # NumberLabel per noun: the head's attention from the query noun
    meaning_reading: VMobject | None = None  # its top word, and its mean attention over the held-out items
    table: parts.Table | None = None  # every head's kind, counted per layer (.kinds: its columns)
    notes: list = field(default_factory=list)  # the caveats, in order
    # The toy model's untrained heads:
    grids: VMobject | None = None  # one small pattern per head, each with its measured tag (.tag)
    big: VMobject | None = None
    card: VMobject | None = None


class SpecializationScene(LessonScene):
    chapter_id = "specialization"

    def construct(self):
        self.state = SpecializationState()
        L = self.lesson
        self.state.spec, self.state.gallery = L.specialization, L.gallery
        g = self.state.gallery
        if g is None:
            sp = self.state.spec
            self.state.header = self.header(self.words("header-untrained", model=sp.model_name,
                                                                n_head=sp.n_head))
            self.word_pieces(sp.trace.tokens, self.window())
            self.all_heads()
            self.one_head_up_close()
            self.toy_caveats()
            return
        self.state.header = self.header(self.words("header", model=g.model_name, n_layers=g.n_layers,
                                                   n_head=self.heads_per_layer))
        self.word_pieces(g.tokens, self.window())
        self.gallery()
        self.scientist()
        self.meaning()
        self.caveats()

    @property
    def heads_per_layer(self) -> int:
        g = self.state.gallery
        return g.n_heads // g.n_layers

    def window(self) -> tuple[int, ...]:
        """The positions of the chapter's sentence its rows and patterns draw: every one, or for a long sentence a
        window around the focus word (``token_window``) that keeps where the heads shown look from it (the
        leading relation head first; with untrained heads, the one looked at up close)."""
        if getattr(self, "_drawn", None) is None:
            g, sp = self.state.gallery, self.state.spec
            if g is not None:
                tiles = list(g.tiles)
                lead = tiles.index(self._leading_relation()) if any(t.kind == "relation" for t in tiles) else 0
                rows = np.stack([np.asarray(t.weights[g.focus], dtype=float) for t in tiles])
                self._drawn = token_window(g.tokens, g.focus, rows, lead, style.MAX_TOKENS)
            else:
                focus = pick_focus(sp.trace.tokens)
                self._drawn = token_window(sp.trace.tokens, focus, sp.trace.weights[:, focus], showcase_head(sp),
                                            style.MAX_TOKENS)
        return self._drawn

    def top(self) -> float:
        """The top of the room under the header."""
        return self.state.header.get_bottom()[1] - style.GAP_LABEL

    # -- beats -----------------------------------------------------------------------

    def word_pieces(self, tokens, drawn):
        th, g, s = self.theme, self.state.gallery, self.state
        s.row = parts.TokenRow(th, tokens, positions=drawn, size=style.LABEL_SIZE, max_width=config.frame_width - 1.0)
        s.row.next_to(s.header, DOWN, buff=style.GAP_BLOCK).set_x(0)
        if g is None:
            return  # the untrained heads come up with the sentence (``all_heads``)
        s.heads_map = self._heads_map()
        _, _, bottom, _ = layout.content_box()
        layout.fit(s.heads_map, height=s.row.get_bottom()[1] - style.GAP_SECTION - bottom)
        s.heads_map.next_to(s.row, DOWN, buff=style.GAP_SECTION).set_x(0)
        with self.beat("trained-model", model=g.model_name, n_layers=g.n_layers, n_head=self.heads_per_layer,
                       n_heads=g.n_heads):
            self.play(FadeIn(s.header), FadeIn(s.row, shift=DOWN * 0.2), run_time=style.BEAT)
            self.play(FadeIn(s.heads_map), run_time=style.BEAT)
        chosen = [s.heads_map.squares[t.layer * self.heads_per_layer + t.head] for t in g.tiles]
        with self.beat("chosen-heads", n=len(chosen)):
            self.play(*(sq.animate.set_fill(self.theme.head(t.head), 1) for sq, t in zip(chosen, g.tiles)),
                      run_time=style.BEAT)

    def _heads_map(self) -> VGroup:
        """One square per head, a row per layer: the model's 72 heads, with layer and head numbers."""
        th, g = self.theme, self.state.gallery
        side, gap = 0.56, style.GAP_TIGHT
        squares = VGroup()
        for layer in range(g.n_layers):
            for head in range(self.heads_per_layer):
                sq = Square(side_length=side, stroke_color=th.head(head), stroke_width=2, fill_color=th.panel,
                            fill_opacity=1).move_to([head * (side + gap), -layer * (side + gap), 0])
                squares.add(sq)
        rows = VGroup(*(parts.text(th, self.words("layer", layer=layer + 1), style.SMALL_SIZE, th.muted)
                        .next_to(squares[layer * self.heads_per_layer], LEFT, buff=style.GAP_LABEL)
                        for layer in range(g.n_layers)))
        cols = VGroup(*(parts.text(th, f"{head + 1}", style.SMALL_SIZE, th.muted)
                        .next_to(squares[head], UP, buff=style.GAP_TIGHT) for head in range(self.heads_per_layer)))
        name = parts.text(th, self.words("map-head"), style.SMALL_SIZE, th.muted)
        name.next_to(cols, LEFT, buff=style.GAP_LABEL)
        name.align_to(rows, RIGHT)
        group = VGroup(squares, rows, cols, name)
        group.squares = squares
        return group

    # -- the gallery (trained model) -------------------------------------------------

    def gallery(self):
        th, g, s = self.theme, self.state.gallery, self.state
        left, right, bottom, _ = layout.content_box()
        top = self.top()
        drawn = self.window()
        n = span_cells(len(g.tokens), drawn)  # cells across a pattern, its gaps included
        word = g.tokens[g.focus]
        legend = self.words("gallery-legend", word=word, n_sentences=g.n_sentences,
                            capped=parts.cap_note(len(g.tokens), drawn))
        # Centred, clear of the logo's corner on both sides (``layout.left_of_logo``): a second line when it needs one.
        s.legend = parts.paragraph(th, legend, 2 * layout.left_of_logo(), style.SMALL_SIZE, th.muted,
                                   line_buff=style.GAP_TIGHT, align=ORIGIN)
        s.legend.move_to([0, bottom + s.legend.height / 2, 0])
        s.bar = parts.ColorBar(th, height=1.6)

        cols = max(1, math.ceil(len(g.tiles) / 2))
        rows = math.ceil(len(g.tiles) / cols)
        width = right - left - s.bar.width - style.GAP_ITEM
        tile_w = (width - (cols - 1) * style.GAP_LINE) / cols
        texts = [self._tile_text(t, tile_w) for t in g.tiles]
        text_h = max(t.height for t in texts)
        word_w = parts.text(th, word, style.SMALL_SIZE).width + style.GAP_TIGHT
        room_h = top - (s.legend.get_top()[1] + style.GAP_NAME)
        side = min((room_h - rows * (text_h + style.GAP_CHIP) - (rows - 1) * style.GAP_ITEM) / rows,
                   tile_w - word_w, n * layout.MAX_CELL)
        for i, (tile, words) in enumerate(zip(g.tiles, texts)):
            grid = parts.AttentionGrid(th, tile.weights, None, positions=drawn, cell=side / n, decor=parts.OVERVIEW,
                                       binned=True, color=th.head(tile.head))
            box = VGroup(grid)
            box.focus_frame = box.focus_word = None
            if grid.query_index(g.focus) is not None:
                frame = parts.highlight_box(th, grid.row_box(grid.query_index(g.focus)), buff=style.GAP_HAIR,
                                            color=th.text)
                frame.set_stroke(width=2)
                name = parts.text(th, word, style.SMALL_SIZE, th.text).next_to(frame, LEFT, buff=style.GAP_TIGHT)
                box.add(frame, name)
                box.focus_frame, box.focus_word = frame, name
            words.next_to(grid.frame, DOWN, buff=style.GAP_CHIP).align_to(grid.frame, LEFT).shift(LEFT * word_w)
            box.add(words)
            box.grid, box.words, box.data = grid, words, tile
            box.title, box.label, box.measure = words.title, words.label, words.measure
            r, c = divmod(i, cols)
            x0 = left + c * (tile_w + style.GAP_LINE) + word_w
            y0 = top - r * (side + text_h + style.GAP_CHIP + style.GAP_ITEM)
            box.shift([x0 - grid.frame.get_left()[0], y0 - grid.frame.get_top()[1], 0])
            s.tiles.append(box)
        s.bar.next_to(VGroup(*s.tiles), RIGHT, buff=style.GAP_ITEM).align_to(s.tiles[0].grid.frame, UP)

        surface = [b for b in s.tiles if b.data.kind != "relation"]
        relation = [b for b in s.tiles if b.data.kind == "relation"]
        self._on_stage = [*s.tiles, s.bar, s.legend]
        findings = self._surface_findings()
        with self.beat("surface" if findings else "surface-alone", n_sentences=g.n_sentences,
                       findings=self._join(findings, "sentences") if findings else ""):
            self.clear(s.row, s.heads_map, run_time=style.SHORT)
            self.play(*(FadeIn(b) for b in surface), FadeIn(s.bar), FadeIn(s.legend), run_time=style.BEAT)
        if relation:
            self.narrate("scoring")  # how a relation head is tested, once, before its first held-out number
            t = self._leading_relation()
            many, offset = len(relation) > 1, t.baseline_name.startswith("offset")
            dependent, head_word = t.label.split("->")
            with self.beat(("relation-heads-offset" if offset else "relation-heads-rule") if many else
                           ("relation-head-offset" if offset else "relation-head-rule"), n=len(relation),
                           layer=t.layer + 1, head=t.head + 1, dependent=dependent, head_word=head_word,
                           accuracy=float(t.value), rule=t.baseline_name, baseline=float(t.baseline)):
                self.play(*(FadeIn(b, shift=UP * 0.15) for b in relation), run_time=style.BEAT)
        self.narrate("depth")

    def _tile_text(self, tile, width: float) -> VGroup:
        """The lines under a tile's pattern: "layer L, head H", its label, its number and baseline
        (the number line breaks before "vs" when it is wider than the tile)."""
        th = self.theme
        title = parts.text(th, self.words("head-name", layer=tile.layer + 1, head=tile.head + 1), style.SMALL_SIZE,
                           th.head(tile.head), bold=True)
        labelled = tile.label is not None
        color = th.text if labelled else th.muted
        label_line, measure_line = self._tile_lines(tile)
        label = parts.text(th, label_line, style.SMALL_SIZE, color)
        measure = parts.text(th, measure_line, style.SMALL_SIZE, color)
        if measure.width > width and tile.measure != "entropy":  # the number, and under it what to compare it with
            measure = VGroup(*(parts.text(th, part, style.SMALL_SIZE, color)
                               for part in (style.fmt(float(tile.value)), self._against(tile))))
            measure.arrange(DOWN, buff=style.GAP_TIGHT, aligned_edge=LEFT)
        words = VGroup(title, label, measure).arrange(DOWN, buff=style.GAP_TIGHT, aligned_edge=LEFT)
        layout.fit(words, width=width)
        words.title, words.label, words.measure = title, label, measure
        return words

    def _tile_lines(self, tile) -> tuple[str, str]:
        """A gallery tile's label line and number line, as data -> words:

        relation  "pronoun → antecedent"  /  "0.80 vs first noun 0.43"  (held-out accuracy vs the best baseline)
        surface   "previous token"        /  "1.00 vs even spread 0.07"  (corpus-mean share vs an even spread)
        spread    "no label · spread 0.82" /  "broad needs ≥ 0.90"        (normalised entropy vs the broad threshold)
        """
        if tile.measure == "entropy":
            label = self.words(LABEL_IDS[tile.label]) if tile.label else self.words("kind-none")
            return (self.words("tile-spread", label=label, spread=float(tile.value)),
                    self.words("tile-broad-needs", threshold=float(tile.baseline)))
        label = parts.relation_name(tile.label) if tile.kind == "relation" else self.words(LABEL_IDS[tile.label])
        return label, self.words("tile-measure", value=float(tile.value), against=self._against(tile))

    def _against(self, tile) -> str:
        """What a tile's number is compared with: "vs even spread 0.07"."""
        return self.words("tile-against", baseline=tile.baseline_name, baseline_value=float(tile.baseline))

    def _join(self, items: list[str], join_id: str) -> str:
        """Items joined two at a time by the script entry ``join_id`` ("{first}; {next}")."""
        said = items[0]
        for item in items[1:]:
            said = self.words(join_id, first=said, next=item)
        return said

    def _list(self, items: list[str]) -> str:
        """"a", "a and b", "a, b and c"."""
        if len(items) == 1:
            return items[0]
        return self.words("list-and", first=self._join(items[:-1], "list-comma"), last=items[-1])

    def _layers(self, layers) -> str:
        """"layer 6", "layers 4 and 5" (0-based in, numbered from 1 out)."""
        shown = [str(x + 1) for x in sorted(set(layers))]
        if len(shown) == 1:
            return self.words("layer", layer=shown[0])
        return self.words("layers", layers=self._list(shown))

    def _labels(self, labels) -> str:
        """Separator labels in a sentence: "[CLS]", "[CLS] and [SEP]"."""
        return self._list([self.words(LABEL_IDS[label]) for label in labels])

    def _surface_findings(self) -> list[str]:
        """What the surface tiles show, a sentence each: the strongest position head, the separator heads'
        layers, each tile of a head (or a whole layer) that earns no label."""
        g = self.state.gallery
        said = []
        position = [t for t in g.tiles if t.kind == "position"]
        if position:
            t = max(position, key=lambda t: t.value)
            said.append(self.words("found-position", layer=t.layer + 1, head=t.head + 1,
                                   target=self.words(POSITION_IDS[t.label]), share=float(t.value),
                                   even=float(t.baseline)))
        separator = [t for t in g.tiles if t.kind == "separator"]
        if separator:
            said.append(self.words("found-separator", layers=self._layers(t.layer for t in separator),
                                   labels=self._labels(sorted({t.label for t in separator}))))
        for t in (t for t in g.tiles if t.kind == "none"):
            if g.layers[t.layer]["none"] == self.heads_per_layer:
                said.append(self.words("found-layer-unlabelled", layer=t.layer + 1))
            else:
                said.append(self.words("found-head-unlabelled", layer=t.layer + 1, head=t.head + 1))
        return said

    def _leading_relation(self):
        """The relation tile the narration names: the pronoun head (the next section follows it), else the
        widest margin over its baseline."""
        relation = [t for t in self.state.gallery.tiles if t.kind == "relation"]
        return max(relation, key=lambda t: (t.label == "pronoun->antecedent", t.value - t.baseline))

    # -- one head, one sentence ---------------------------------------------------------

    def scientist(self):
        th, g, s = self.theme, self.state.gallery, self.state
        p = g.probe
        if p is None:
            return
        left, right, bottom, _ = layout.content_box()
        color = th.head(p.head)
        r = p.relation
        head = {"layer": p.layer + 1, "head": p.head + 1}
        title = parts.text(th, self.words("probe-title", **head, relation=parts.relation_name(r.relation),
                                          accuracy=float(r.accuracy), rule=r.baseline_name,
                                          baseline=float(r.baseline_accuracy)),
                           style.LABEL_SIZE, color, bold=True)
        layout.fit(title, width=right - left)
        title.move_to([0, self.top() - style.GAP_NAME - title.height / 2, 0])
        # One short sentence, drawn whole (a longer one: its window around the pronoun, the words it reads kept).
        drawn = token_window(p.tokens, p.query, np.asarray(p.weights, dtype=float)[None], 0, style.MAX_TOKENS)
        row = parts.TokenRow(th, p.tokens, positions=drawn, size=style.BODY_SIZE, max_width=right - left)
        row.move_to([0, title.get_bottom()[1] - 2.0 - row.height / 2, 0])
        weights = []
        for k, tok in zip(row.positions, row.tokens):
            strong = k in p.candidates or k == p.top
            num = parts.number(th, float(p.weights[k]), style.WEIGHT_DIGITS, style.NUMBER_SIZE,
                               color=th.text if strong else th.muted)
            weights.append(num.next_to(tok, DOWN, buff=style.GAP_LABEL))
        nums = VGroup(*weights)
        caption = parts.text(th, self.words("probe-caption", word=p.tokens[p.query], **head), style.SMALL_SIZE,
                             th.muted)
        layout.fit(caption, width=right - left)
        caption.next_to(nums, DOWN, buff=style.GAP_BLOCK).set_x(0)
        arcs = parts.attention_arcs(th, row, p.query, p.weights, color, min_weight=0.02, max_width=8.0)
        marks = VGroup(*(parts.highlight_box(th, row.tokens[row.index(k)], buff=style.GAP_FRAME, color=th.text)
                         for k in p.candidates if row.index(k) is not None))
        query_mark = parts.highlight_box(th, row.tokens[row.index(p.query)], buff=style.GAP_FRAME)
        s.probe_title, s.probe_row, s.probe_arcs, s.probe_weights = title, row, arcs, weights
        first, second = p.candidates
        with self.beat("probe-own-sentence" if p.sentence == g.sentence else "probe-sentence", sentence=p.sentence,
                       word=p.tokens[p.query], **head, first=float(p.weights[first]), first_word=p.tokens[first],
                       second=float(p.weights[second]), second_word=p.tokens[second]):
            self.clear(*s.tiles, s.bar, s.legend, run_time=style.SHORT)
            self.play(FadeIn(title), FadeIn(row), FadeIn(query_mark), run_time=style.SHORT)
            self.play(Create(arcs), FadeIn(nums), FadeIn(caption), FadeIn(marks), run_time=style.BEAT)
        prefers = p.prefers
        other = next(k for k in p.candidates if k != prefers)
        reading = self.words("probe-reading" if p.top == prefers else "probe-reading-top-word",
                             word=p.tokens[prefers], weight=float(p.weights[prefers]), other_word=p.tokens[other],
                             other=float(p.weights[other]), top_word=p.tokens[p.top], special=float(p.special_share))
        proof = self.words("probe-proof", accuracy=float(r.accuracy), n=r.n)
        width = right - left - 2 * style.GAP_COLUMN
        card = VGroup(self._note(reading, width, "info"), self._note(proof, width, "caveat"))
        card.arrange(DOWN, buff=style.GAP_NAME, aligned_edge=LEFT)
        layout.fit(card, width=width, height=caption.get_bottom()[1] - bottom - style.GAP_BLOCK)
        card.next_to(caption, DOWN, buff=style.GAP_BLOCK).set_x(0)
        s.probe_card = card
        self._on_stage = [title, row, query_mark, arcs, nums, caption, marks, card]
        with self.beat("probe-not-evidence", word=p.tokens[prefers], accuracy=float(r.accuracy), n=r.n):
            self.play(FadeIn(card, shift=UP * 0.2), run_time=style.BEAT)

    # -- words related by meaning -------------------------------------------------------

    def meaning(self):
        """The head that best relates a noun to the other noun of its topic, measured held-out (labelled or
        not), and that head on one held-out sentence: its nouns in order, its attention from one of them."""
        th, g, s = self.theme, self.state.gallery, self.state
        r, e = g.meaning, g.meaning_example
        if r is None:
            return
        left, right, _, _ = layout.content_box()
        color = th.head(r.head)
        head = {"layer": r.layer + 1, "head": r.head + 1}
        numbers = {"accuracy": float(r.accuracy), "rule": r.baseline_name, "baseline": float(r.baseline_accuracy)}
        title = parts.text(th, self.words("meaning-title" if r.labelled else "meaning-title-not-found", **head,
                                          **numbers), style.LABEL_SIZE, color, bold=True)
        layout.fit(title, width=right - left)
        title.move_to([0, self.top() - style.GAP_NAME - title.height / 2, 0])
        s.meaning_title = title
        if e is None:  # no held-out sentence where the head finds the partner: the numbers alone
            with self.beat("meaning" if r.labelled else "meaning-not-found", **head, **numbers):
                self.clear(*self._on_stage, run_time=style.SHORT)
                self.play(FadeIn(title), run_time=style.SHORT)
            self._on_stage = [title]
            return
        # The sentence, muted, then its nouns in order (the other words are not drawn), the weights under them.
        words = " ".join(e.words)
        for mark in ",.;:!?":
            words = words.replace(f" {mark}", mark)  # the probe's words split punctuation off; the page does not
        sentence = parts.paragraph(th, words, right - left, style.SMALL_SIZE, th.muted)
        sentence.next_to(title, DOWN, buff=style.GAP_SECTION).set_x(0)
        row = parts.TokenRow(th, [e.words[k] for k in e.nouns], size=style.BODY_SIZE, max_width=right - left)
        row.next_to(sentence, DOWN, buff=style.GAP_SECTION + 1.0).set_x(0)  # room for the arc above
        weights = VGroup()
        for k, token in zip(e.nouns, row.tokens):
            strong = k in (e.query, e.partner)
            weights.add(parts.number(th, e.weights[k], MEANING_DIGITS, style.NUMBER_SIZE,
                                     color=th.text if strong else th.muted).next_to(token, DOWN, buff=style.GAP_LABEL))
        q, p = e.nouns.index(e.query), e.nouns.index(e.partner)
        arc = parts.attention_arc(th, row.tokens[q], row.tokens[p], e.weights[e.partner], color, max_width=8.0)
        query_mark = VGroup(parts.highlight_box(th, row.tokens[q], buff=style.GAP_FRAME),
                            parts.highlight_box(th, row.tokens[p], buff=style.GAP_FRAME, color=color))
        legend = parts.text(th, self.words("meaning-nouns", word=e.words[e.query]), style.SMALL_SIZE, th.muted)
        reading = parts.paragraph(th, self.words("meaning-reading", partner=e.words[e.partner],
                                                 weight=style.fmt(e.weights[e.partner], MEANING_DIGITS), n=r.n, partner_share=e.partner_share,
                                                 other_share=e.other_share, special_share=e.special_share),
                                  right - left - 1.0, style.LABEL_SIZE)
        layout.fit(legend, width=right - left)
        legend.next_to(weights, DOWN, buff=style.GAP_BLOCK).set_x(0)
        reading.next_to(legend, DOWN, buff=style.GAP_SECTION).set_x(0)
        s.meaning_row, s.meaning_weights, s.meaning_reading = row, weights, reading
        with self.beat("meaning" if r.labelled else "meaning-not-found", **head, **numbers):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(title), FadeIn(sentence), FadeIn(row), FadeIn(query_mark), run_time=style.SHORT)
            self.play(Create(arc), FadeIn(weights), FadeIn(legend), run_time=style.BEAT)
        # Faint when most of its attention goes to [CLS] and [SEP]: the top word wins by a little.
        with self.beat("meaning-faint" if e.special_share > 0.5 else "meaning-strong", partner=e.partner_share,
                       special=e.special_share, other=e.other_share):
            self.play(FadeIn(reading, shift=UP * 0.2), run_time=style.SHORT)
        self._on_stage = [title, sentence, row, query_mark, arc, weights, legend, reading]

    def _note(self, text: str, width: float, kind: str, size: float = style.SMALL_SIZE) -> VGroup:
        """A caveat or info note exactly ``width`` wide (notes stacked together line up)."""
        return parts.note(self.theme, text, width=width, kind=kind, size=size, full_width=True)

    # -- the caveats (trained model) -------------------------------------------------------

    def caveats(self):
        th, g, s = self.theme, self.state.gallery, self.state
        left, right, bottom, _ = layout.content_box()
        top = self.top() - style.GAP_NAME
        totals = {k: sum(c[k] for c in g.layers) for k in ("position", "separator", "broad", "relation", "none")}
        kinds = [k for k in ("position", "separator", "broad", "relation") if totals[k]] + ["none"]
        separators = [self.words(LABEL_IDS[label]) for label in g.labels_of_kind("separator")]
        names = [self._join(separators, "list-slash") if k == "separator" else self.words(KIND_IDS[k]) for k in kinds]
        rows = [[self.words("table-layer")] + names]
        rows += [[f"{c.layer + 1}"] + [c[k] for k in kinds] for c in g.layers]
        rows.append([self.words("table-all")] + [totals[k] for k in kinds])
        table = parts.Table(th, rows, size=style.BODY_SIZE, total=True, align=["left"] + ["right"] * len(kinds))
        table.kinds = kinds
        title = parts.text(th, self.words("table-title", n_heads=g.n_heads), style.LABEL_SIZE, th.text, bold=True)
        half = (right - left - style.GAP_COLUMN) / 2
        rule = parts.paragraph(th, self.words("no-label-rule", share=style.fmt(g.share_threshold, 1),
                                              n_sentences=g.n_sentences, spread=float(g.broad_threshold)),
                               half, style.SMALL_SIZE, th.muted)
        block = VGroup(title, table, rule).arrange(DOWN, buff=style.GAP_NAME, aligned_edge=LEFT)
        rule.next_to(table, DOWN, buff=style.GAP_BLOCK).align_to(table, LEFT)
        layout.fit(block, width=half, height=top - bottom)
        block.move_to([left + block.width / 2, top - block.height / 2, 0])
        ring = parts.highlight_box(th, VGroup(*(table.cell(r, len(kinds)) for r in range(1, len(rows)))),
                                   buff=style.GAP_TIGHT, color=th.warn)
        s.table = table
        x0 = left + block.width + style.GAP_COLUMN
        width = right - x0
        if totals["separator"]:
            specialists = self.words("caveat-specialists-park", n=totals["separator"],
                                     labels=self._labels(g.labels_of_kind("separator")))
        else:
            specialists = self.words("caveat-specialists")
        texts = [self.words("caveat-unlabelled", n_unlabelled=g.n_unlabelled, n_heads=g.n_heads),
                 self.words("caveat-roles"), specialists, self.words("caveat-not-a-model")]
        notes = VGroup(*(self._note(t, width, "caveat", style.LABEL_SIZE) for t in texts))
        notes.arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        layout.fit(notes, width=width, height=top - bottom)
        notes.move_to([x0 + notes.width / 2, top - notes.height / 2, 0])
        s.notes = list(notes)
        with self.beat("all-heads", n_heads=g.n_heads, n_unlabelled=g.n_unlabelled):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(block), run_time=style.BEAT)
            self.play(Create(ring), FadeIn(notes[0], shift=LEFT * 0.2), run_time=style.SHORT)
        with self.beat("no-assigned-roles"):
            self.play(FadeIn(notes[1], shift=LEFT * 0.2), FadeIn(notes[2], shift=LEFT * 0.2), run_time=style.BEAT)
        with self.beat("not-a-model"):
            self.play(FadeIn(notes[3], shift=LEFT * 0.2), run_time=style.BEAT)

    # -- the toy model's untrained heads --------------------------------------------------

    def _measure_text(self, tag) -> str:
        """A head tag's measured value as its pattern's caption shows it: "1.00 previous"."""
        return self.words("toy-measure", value=f"{tag.value:.2f}", signature=self.words(SIGNATURE_IDS[tag.signature]))

    def _card_text(self, i: int) -> str:
        """What the card beside head ``i`` up close says: its largest share and its spread, on this sentence."""
        sp = self.state.spec
        tag = sp.tags[i]
        return self.words(CARD_IDS[tag.signature], head=i + 1, value=f"{tag.value:.2f}",
                          entropy=f"{sp.signatures[i].entropy:.2f}")

    def all_heads(self):
        """Every untrained head's pattern (the chapter's path when there are no trained heads to show)."""
        th, sp = self.theme, self.state.spec
        tokens = sp.trace.tokens
        drawn = self.window()
        n = span_cells(sp.trace.n_pos, drawn)  # cells across a pattern, its gaps included
        left, right, bottom, _top = layout.content_box()
        bar = parts.ColorBar(th, height=2.0)
        tag_w = max(parts.text(th, s, style.SMALL_SIZE).width for i, tag in enumerate(sp.tags)
                    for s in (self.words("toy-tag", head=i + 1), self._measure_text(tag))) + 0.25
        width = right - left - bar.width - 0.5
        room_top = self.state.row.get_bottom()[1] - 0.3
        height = room_top - bottom - 0.45
        # The tags under each pattern set the narrowest column a layout may use.
        max_cols = max(1, int((width + 0.3) // tag_w))
        cols, rows, cell, _ = layout.grid_layout(sp.n_head, n, width, height, 0.0, title_h=0.95)
        if cols > max_cols:
            cols = max_cols
            rows = math.ceil(sp.n_head / cols)
            cell = min((height - rows * 0.95 - (rows - 1) * 0.2) / (rows * n), (width / cols - 0.3) / n, 0.3)
        grids = VGroup()
        for i in range(sp.n_head):
            g = parts.AttentionGrid(th, sp.trace.weights[i], None, positions=drawn, cell=cell, decor=parts.OVERVIEW,
                                    color=th.grid, binned=True)
            t1 = parts.text(th, self.words("toy-tag", head=i + 1), style.SMALL_SIZE, th.muted)
            t2 = parts.text(th, self._measure_text(sp.tags[i]), style.SMALL_SIZE, th.muted)
            tag = VGroup(t1, t2).arrange(DOWN, buff=style.GAP_TIGHT).next_to(g.frame, DOWN, buff=style.GAP_CHIP)
            g.tag = tag
            g.add(tag)
            grids.add(g)
        pitch_x = max(n * cell, tag_w) + 0.3
        for i, g in enumerate(grids):
            r, c = divmod(i, cols)
            g.shift([c * pitch_x - g.frame.get_x(), -r * (n * cell + 1.05) - g.frame.get_y(), 0])
        layout.fit(grids, width=width, height=height)
        grids.move_to([left + grids.width / 2, room_top - grids.height / 2, 0])
        bar.next_to(grids, RIGHT, buff=style.GAP_ASIDE).align_to(grids, UP)
        legend = self.words("toy-legend", capped=parts.cap_note(len(tokens), drawn))
        self.state.legend = layout.fit(parts.text(th, legend, style.SMALL_SIZE, th.muted), width=right - left)
        self.state.legend.next_to(grids, DOWN, buff=style.GAP_NAME).align_to(grids, LEFT)
        if self.state.legend.get_bottom()[1] < bottom:
            self.state.legend.shift(UP * (bottom - self.state.legend.get_bottom()[1]))
        # The sentence and the heads' patterns come up together ("here are its heads"); their tags and the
        # legend with the next beat ("different patterns, but no roles").
        patterns = VGroup(*(VGroup(*(m for m in g.submobjects if m is not g.tag)) for g in grids))
        with self.beat("untrained-model"):
            self.play(FadeIn(self.state.header), FadeIn(self.state.row, shift=DOWN * 0.2), run_time=style.BEAT)
            self.play(LaggedStart(*(FadeIn(p) for p in patterns), lag_ratio=0.2), FadeIn(bar), run_time=style.BEAT)
        with self.beat("no-roles"):
            self.play(LaggedStart(*(FadeIn(g.tag) for g in grids), lag_ratio=0.2), FadeIn(self.state.legend),
                      run_time=style.BEAT)
        self.state.grids, self.state.bar = grids, bar

    def one_head_up_close(self):
        th, sp = self.theme, self.state.spec
        i = showcase_head(sp)
        left, right, bottom, _top = layout.content_box()
        frame = parts.highlight_box(th, self.state.grids[i].frame, buff=style.GAP_FRAME, color=th.head(i))
        self.play(Create(frame), run_time=style.SHORT)
        big = parts.AttentionGrid(th, sp.trace.weights[i], sp.trace.tokens, positions=self.window(), cell=0.3,
                                  color=th.head(i),
                                  decor=parts.GridDecor(title=self.words("head", head=i + 1)))
        room_top = self.state.row.get_bottom()[1] - 0.25
        layout.fit(big, width=(right - left) * 0.55, height=room_top - bottom)
        big.move_to([left + big.width / 2, room_top - big.height / 2, 0])
        card = parts.note(th, self._card_text(i), width=min(right - big.get_right()[0] - 0.4, 5.6), kind="info",
                          size=style.SMALL_SIZE)
        card.next_to(big, RIGHT, buff=style.GAP_ASIDE).align_to(big, UP)
        s = self.state
        with self.beat("up-close", head=i + 1):
            self.clear(s.grids, s.bar, s.legend, frame, run_time=style.SHORT)
            self.play(FadeIn(big), FadeIn(card, shift=LEFT * 0.2), run_time=style.BEAT)
        self.state.big, self.state.card = big, card

    def toy_caveats(self):
        th = self.theme
        _left, right, bottom, _top = layout.content_box()
        width = min(right - self.state.big.get_right()[0] - 0.4, 5.6)
        texts = (self.words("toy-caveat-differ"), self.words("toy-caveat-one-head"))
        notes = VGroup(*(parts.note(th, t, width=width, kind="caveat", size=style.SMALL_SIZE) for t in texts))
        notes.arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        layout.fit(notes, height=self.state.card.get_bottom()[1] - bottom - 0.2)
        notes.next_to(self.state.card, DOWN, buff=style.GAP_LINE).align_to(self.state.card, LEFT)
        self.state.notes = list(notes)
        with self.beat("toy-caveats"):
            self.play(FadeIn(notes, shift=UP * 0.2), run_time=style.BEAT)
