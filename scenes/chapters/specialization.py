"""Chapter 5 — heads specialise: real trained heads from all six layers, labelled only by what was measured.

Storyboard (trained model, ``lesson.gallery``): the sentence as the model sees it (word pieces) -> a gallery
of heads from every layer, chosen by measurement, in layer order: first the heads that attend by position or
park on [CLS] (each with its corpus-mean share and what an even spread would give), then the heads that track
a relation between words (each with its held-out accuracy and the best baseline's) -> one head on one more
sentence ("The scientist who reviewed the paper said it was flawed."): its attention from "it" -> the caveats,
beside a count of every head's kind by layer: many heads earn no label; roles are trained, not given; heads
are not a panel of specialists; a head is no model of its own; one head on one sentence proves nothing.

With the toy model (``lesson.gallery`` is None) the chapter shows untrained heads honestly: different
patterns, no roles, no labels, and the word "learned" never appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, Square, VGroup, VMobject, config

from mha_core.analysis import SHARE_THRESHOLD
from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.config import CHAPTER_TITLES

# Short names of the signatures, for the tags under small patterns ("1.00 previous").
SIGNATURE_NAMES = {"previous": "previous", "next": "next", "current": "own token", "cls": "[CLS]", "sep": "[SEP]",
                   "punctuation": "punct.", "entropy": "entropy"}

# How a corpus label reads on a tile.
LABEL_WORDS = {"previous-token": "previous token", "next-token": "next token", "current-token": "own token",
               "[CLS]": "[CLS]", "[SEP]": "[SEP]", "punctuation": "punctuation", "broad": "broad"}
# ... and in a sentence ("gives the previous token 1.00 of its attention").
LABEL_PHRASES = {"previous-token": "the previous token", "next-token": "the next token",
                 "current-token": "its own token", "[CLS]": "[CLS]", "[SEP]": "[SEP]",
                 "punctuation": "punctuation marks"}
# The kinds of head (scenes.lesson.gallery.KINDS) as the table's columns and the narration say them.
KIND_WORDS = {"position": "position", "broad": "broad", "relation": "relation", "none": "no label"}
KIND_PHRASES = {"position": "position", "broad": "broad spread", "relation": "relations", "none": "no label"}


def measure_text(tag) -> str:
    """A head tag's measured value as its pattern's caption shows it: "1.00 previous"."""
    return f"{tag.value:.2f} {SIGNATURE_NAMES[tag.signature]}"


def showcase_head(spec) -> int:
    """The head to look at up close: the labelled head whose signature is strongest, else the most focused one."""
    scores = []
    for i, tag in enumerate(spec.tags):
        labelled = spec.labels[i] is not None and spec.labels[i] != "broad"
        scores.append((labelled, tag.value, -i))
    return -max(scores)[2]


def relation_words(relation: str) -> str:
    """"pronoun->antecedent" -> "pronoun → antecedent"."""
    return relation.replace("->", " \u2192 ")


def head_name(layer: int, head: int) -> str:
    """0-based indices as the screen numbers them: "layer 2, head 4"."""
    return f"layer {layer + 1}, head {head + 1}"


def tile_lines(tile) -> tuple[str, str]:
    """A gallery tile's label line and number line, as data -> words:

    relation  "pronoun → antecedent"  /  "0.80 vs first noun 0.43"  (held-out accuracy vs the best baseline)
    surface   "previous token"        /  "1.00 vs even spread 0.07"  (corpus-mean share vs an even spread)
    spread    "no label · spread 0.82" /  "broad needs ≥ 0.90"        (normalised entropy vs the broad threshold)
    """
    value, base = style.fmt(tile.value), style.fmt(tile.baseline)
    if tile.measure == "entropy":
        return f"{tile.label or 'no label'} \u00b7 spread {value}", f"broad needs \u2265 {base}"
    label = relation_words(tile.label) if tile.kind == "relation" else LABEL_WORDS[tile.label]
    return label, f"{value} vs {tile.baseline_name} {base}"


def said_list(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def said_layers(layers) -> str:
    """"layer 6", "layers 4 and 5" (0-based in, numbered from 1 out)."""
    shown = [str(x + 1) for x in sorted(set(layers))]
    return ("layer " if len(shown) == 1 else "layers ") + said_list(shown)


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
    table: parts.Table | None = None  # every head's kind, counted per layer (.kinds: its columns)
    notes: list = field(default_factory=list)  # the caveats, in order
    # The toy model's untrained heads:
    grids: VMobject | None = None  # one small pattern per head, each with its measured tag (.tag)
    n_labelled: int = 0
    big: VMobject | None = None
    card: VMobject | None = None


class SpecializationScene(LessonScene):
    chapter_id = "specialization"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("A gallery of measured heads from all six layers of a trained model (all-MiniLM-L6-v2): some attend "
               "by position, many park on [CLS], a few track a relation between words, many earn no label. "
               "One head on one sentence is an example, not evidence.")

    def construct(self):
        self.state = SpecializationState()
        L = self.lesson
        self.state.spec, self.state.gallery = L.specialization, L.gallery
        g = self.state.gallery
        if g is None:
            sp = self.state.spec
            self.state.header = parts.chapter_header(self.theme, L.chapter_number(self.chapter_id), self.title,
                                                     f"{sp.model_name} \u00b7 {sp.n_head} heads \u00b7 "
                                                     "untrained: no roles to find")
            self.word_pieces(sp.trace.tokens)
            self.all_heads()
            self.one_head_up_close()
            self.toy_caveats()
            return
        self.state.header = parts.chapter_header(
            self.theme, L.chapter_number(self.chapter_id), self.title,
            f"{g.model_name} \u00b7 trained \u00b7 {g.n_layers} layers \u00d7 {self.heads_per_layer} heads "
            "\u00b7 layers and heads numbered from 1")
        self.word_pieces(g.tokens)
        self.gallery()
        self.scientist()
        self.caveats()

    @property
    def heads_per_layer(self) -> int:
        g = self.state.gallery
        return g.n_heads // g.n_layers

    def top(self) -> float:
        """The top of the room under the header."""
        return self.state.header.get_bottom()[1] - style.GAP_LABEL

    # -- beats -----------------------------------------------------------------------

    def word_pieces(self, tokens):
        th, g, s = self.theme, self.state.gallery, self.state
        s.row = parts.TokenRow(th, tokens, size=style.LABEL_SIZE, max_width=config.frame_width - 1.0)
        s.row.next_to(s.header, DOWN, buff=style.GAP_BLOCK).set_x(0)
        if g is None:
            said = "With the untrained toy model there is nothing trained to find. Here is what its heads look like anyway."
            with self.beat(said):
                self.play(FadeIn(s.header), FadeIn(s.row, shift=DOWN * 0.2), run_time=style.BEAT)
            return
        s.heads_map = self._heads_map()
        _, _, bottom, _ = layout.content_box()
        layout.fit(s.heads_map, height=s.row.get_bottom()[1] - style.GAP_SECTION - bottom)
        s.heads_map.next_to(s.row, DOWN, buff=style.GAP_SECTION).set_x(0)
        said = (f"Now a real trained model, {g.model_name}. It reads our sentence as word pieces, with [CLS] added "
                f"before it and [SEP] after it, through {g.n_layers} layers of {self.heads_per_layer} heads each: "
                f"{g.n_heads} heads, numbered from 1.")
        with self.beat(said):
            self.play(FadeIn(s.header), FadeIn(s.row, shift=DOWN * 0.2), run_time=style.BEAT)
            self.play(FadeIn(s.heads_map), run_time=style.BEAT)
        chosen = [s.heads_map.squares[t.layer * self.heads_per_layer + t.head] for t in g.tiles]
        with self.beat(f"The {len(chosen)} filled squares are the heads we look at next, picked by measurement "
                       "to span what the heads do."):
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
        rows = VGroup(*(parts.text(th, f"layer {layer + 1}", style.SMALL_SIZE, th.muted)
                        .next_to(squares[layer * self.heads_per_layer], LEFT, buff=style.GAP_LABEL)
                        for layer in range(g.n_layers)))
        cols = VGroup(*(parts.text(th, f"{head + 1}", style.SMALL_SIZE, th.muted)
                        .next_to(squares[head], UP, buff=style.GAP_TIGHT) for head in range(self.heads_per_layer)))
        name = parts.text(th, "head", style.SMALL_SIZE, th.muted).next_to(cols, LEFT, buff=style.GAP_LABEL)
        name.align_to(rows, RIGHT)
        group = VGroup(squares, rows, cols, name)
        group.squares = squares
        return group

    # -- the gallery (trained model) -------------------------------------------------

    def gallery(self):
        th, g, s = self.theme, self.state.gallery, self.state
        left, right, bottom, _ = layout.content_box()
        top = self.top()
        n = min(len(g.tokens), style.MAX_TOKENS)
        word = g.tokens[g.focus]
        legend = (f"rows: queries, columns: keys, in sentence order \u00b7 framed: the row of \u201c{word}\u201d "
                  f"\u00b7 shares: mean over {g.n_sentences} sentences \u00b7 relations: held-out sentences")
        legend += parts.cap_note(len(g.tokens))
        s.legend = layout.fit(parts.text(th, legend, style.SMALL_SIZE, th.muted), width=right - left)
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
            grid = parts.AttentionGrid(th, tile.weights, None, cell=side / n, decor=parts.OVERVIEW, binned=True,
                                       color=th.head(tile.head))
            box = VGroup(grid)
            box.focus_frame = box.focus_word = None
            if g.focus < grid.n_queries:
                frame = parts.highlight_box(th, grid.row_box(g.focus), buff=style.GAP_HAIR, color=th.text)
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
        with self.beat(self._surface_said()):
            self.clear(s.row, s.heads_map, run_time=style.SHORT)
            self.play(*(FadeIn(b) for b in surface), FadeIn(s.bar), FadeIn(s.legend), run_time=style.BEAT)
        if relation:
            with self.beat(self._relation_said()):
                self.play(*(FadeIn(b, shift=UP * 0.15) for b in relation), run_time=style.BEAT)
        self.narrate(self._layers_said())

    def _tile_text(self, tile, width: float) -> VGroup:
        """The lines under a tile's pattern: "layer L, head H", its label, its number and baseline
        (the number line breaks before "vs" when it is wider than the tile)."""
        th = self.theme
        title = parts.text(th, head_name(tile.layer, tile.head), style.SMALL_SIZE, th.head(tile.head), bold=True)
        labelled = tile.label is not None
        color = th.text if labelled else th.muted
        label_line, measure_line = tile_lines(tile)
        label = parts.text(th, label_line, style.SMALL_SIZE, color)
        measure = parts.text(th, measure_line, style.SMALL_SIZE, color)
        if measure.width > width and " vs " in measure_line:
            measure = VGroup(*(parts.text(th, part, style.SMALL_SIZE, color)
                               for part in measure_line.replace(" vs ", "\n vs ").split("\n")))
            measure.arrange(DOWN, buff=style.GAP_TIGHT, aligned_edge=LEFT)
        words = VGroup(title, label, measure).arrange(DOWN, buff=style.GAP_TIGHT, aligned_edge=LEFT)
        layout.fit(words, width=width)
        words.title, words.label, words.measure = title, label, measure
        return words

    def _surface_said(self) -> str:
        g = self.state.gallery
        said = [f"We measured every head over {g.n_sentences} sentences."]
        position = [t for t in g.tiles if t.kind == "position"]
        if position:
            t = max(position, key=lambda t: t.value)
            said.append(f"Some attend by position: {head_name(t.layer, t.head)} gives {LABEL_PHRASES[t.label]} "
                        f"{style.fmt(t.value)} of its attention, where an even spread would give "
                        f"{style.fmt(t.baseline)}.")
        separator = [t for t in g.tiles if t.kind == "separator"]
        if separator:
            labels = said_list(sorted({t.label for t in separator}))
            said.append(f"Heads in {said_layers(t.layer for t in separator)} park their attention on {labels}.")
        for t in (t for t in g.tiles if t.kind == "none"):
            if g.layers[t.layer]["none"] == self.heads_per_layer:
                said.append(f"And in layer {t.layer + 1}, no head earns any label.")
            else:
                said.append(f"And {head_name(t.layer, t.head)} earns no label.")
        return " ".join(said)

    def _relation_said(self) -> str:
        g = self.state.gallery
        relation = [t for t in g.tiles if t.kind == "relation"]
        # The pronoun head leads (the next section follows it), else the widest margin over its baseline.
        t = max(relation, key=lambda t: (t.label == "pronoun->antecedent", t.value - t.baseline))
        dependent, head_word = t.label.split("->")
        name = head_name(t.layer, t.head)
        baseline = (f"the best fixed {t.baseline_name}" if t.baseline_name.startswith("offset")
                    else f"always taking the {t.baseline_name}")
        count = f"{len(relation)} heads track" if len(relation) > 1 else "One head tracks"
        return (f"{count} a relation between words, tested on sentences kept out of the choice. "
                f"{name[0].upper()}{name[1:]} links a {dependent} to its {head_word} {style.fmt(t.value)} of the "
                f"time; {baseline} scores {style.fmt(t.baseline)}.")

    def _layers_said(self) -> str:
        """Which kinds the tiles show in which layers, in the order they first appear."""
        g = self.state.gallery
        kinds: dict[str, list[int]] = {}
        for t in g.tiles:
            kinds.setdefault(t.kind, []).append(t.layer)
        found = []
        for kind, layers in sorted(kinds.items(), key=lambda kv: min(kv[1])):
            words = said_list(list(g.labels_of_kind(kind))) if kind == "separator" else KIND_PHRASES[kind]
            found.append(f"{words} in {said_layers(layers)}")
        return ("Read the tiles in layer order, from the top left, and what heads do changes with depth: "
                f"{'; '.join(found)}.")

    # -- one head, one sentence ---------------------------------------------------------

    def scientist(self):
        th, g, s = self.theme, self.state.gallery, self.state
        p = g.probe
        if p is None:
            return
        left, right, bottom, _ = layout.content_box()
        color = th.head(p.head)
        r = p.relation
        title = parts.text(th, f"{head_name(p.layer, p.head)} \u00b7 {relation_words(r.relation)} \u00b7 "
                           f"{style.fmt(r.accuracy)} held-out ({r.baseline_name} {style.fmt(r.baseline_accuracy)})",
                           style.LABEL_SIZE, color, bold=True)
        layout.fit(title, width=right - left)
        title.move_to([0, self.top() - style.GAP_NAME - title.height / 2, 0])
        row = parts.TokenRow(th, p.tokens, size=style.BODY_SIZE, max_width=right - left)
        row.move_to([0, title.get_bottom()[1] - 2.0 - row.height / 2, 0])
        weights = []
        for k, tok in enumerate(row.tokens):
            strong = k in p.candidates or k == p.top
            num = parts.number(th, float(p.weights[k]), style.WEIGHT_DIGITS, style.NUMBER_SIZE,
                               color=th.text if strong else th.muted)
            weights.append(num.next_to(tok, DOWN, buff=style.GAP_LABEL))
        nums = VGroup(*weights)
        caption = parts.text(th, f"attention from \u201c{p.tokens[p.query]}\u201d in {head_name(p.layer, p.head)}: "
                             "arcs by weight, the weights under the words (they sum to 1)", style.SMALL_SIZE,
                             th.muted)
        layout.fit(caption, width=right - left)
        caption.next_to(nums, DOWN, buff=style.GAP_BLOCK).set_x(0)
        arcs = parts.attention_arcs(th, row, p.query, p.weights, color, min_weight=0.02, max_width=8.0)
        marks = VGroup(*(parts.highlight_box(th, row.tokens[k], buff=style.GAP_FRAME, color=th.text)
                         for k in p.candidates))
        query_mark = parts.highlight_box(th, row.tokens[p.query], buff=style.GAP_FRAME)
        s.probe_title, s.probe_row, s.probe_arcs, s.probe_weights = title, row, arcs, weights
        first, second = p.candidates
        which = "our own sentence, up close:" if p.sentence == g.sentence else "one more sentence:"
        said = (f"One head on {which} {p.sentence} From \u201c{p.tokens[p.query]}\u201d, "
                f"{head_name(p.layer, p.head)} puts {style.fmt(float(p.weights[first]))} on "
                f"\u201c{p.tokens[first]}\u201d and {style.fmt(float(p.weights[second]))} on "
                f"\u201c{p.tokens[second]}\u201d.")
        with self.beat(said):
            self.clear(*s.tiles, s.bar, s.legend, run_time=style.SHORT)
            self.play(FadeIn(title), FadeIn(row), FadeIn(query_mark), run_time=style.SHORT)
            self.play(Create(arcs), FadeIn(nums), FadeIn(caption), FadeIn(marks), run_time=style.BEAT)
        prefers = p.prefers
        other = next(k for k in p.candidates if k != prefers)
        top_word = "" if p.top == prefers else f"; its top word is \u201c{p.tokens[p.top]}\u201d"
        reading = (f"On this sentence it prefers \u201c{p.tokens[prefers]}\u201d: "
                   f"{style.fmt(float(p.weights[prefers]))} against {style.fmt(float(p.weights[other]))} for "
                   f"\u201c{p.tokens[other]}\u201d{top_word}. {style.fmt(p.special_share)} of its attention parks "
                   "on [CLS] and [SEP].")
        proof = (f"One head on one sentence is an example, not evidence: the {style.fmt(r.accuracy)} above comes "
                 f"from {r.n} held-out pronouns.")
        width = right - left - 2 * style.GAP_COLUMN
        card = VGroup(self._note(reading, width, "info"), self._note(proof, width, "caveat"))
        card.arrange(DOWN, buff=style.GAP_NAME, aligned_edge=LEFT)
        layout.fit(card, width=width, height=caption.get_bottom()[1] - bottom - style.GAP_BLOCK)
        card.next_to(caption, DOWN, buff=style.GAP_BLOCK).set_x(0)
        s.probe_card = card
        self._on_stage = [title, row, query_mark, arcs, nums, caption, marks, card]
        said = (f"So on this sentence the head prefers \u201c{p.tokens[prefers]}\u201d. But one head on one "
                f"sentence is an example, not evidence: the {style.fmt(r.accuracy)} comes from {r.n} held-out "
                "pronouns.")
        with self.beat(said):
            self.play(FadeIn(card, shift=UP * 0.2), run_time=style.BEAT)

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
        names = {**KIND_WORDS, "separator": "/".join(g.labels_of_kind("separator"))}
        rows = [["layer"] + [names[k] for k in kinds]]
        rows += [[f"{c.layer + 1}"] + [c[k] for k in kinds] for c in g.layers]
        rows.append(["all"] + [totals[k] for k in kinds])
        table = parts.Table(th, rows, size=style.BODY_SIZE, total=True, align=["left"] + ["right"] * len(kinds))
        table.kinds = kinds
        title = parts.text(th, f"all {g.n_heads} heads, by kind", style.LABEL_SIZE, th.text, bold=True)
        half = (right - left - style.GAP_COLUMN) / 2
        rule = parts.paragraph(th, f"no label: no share of attention reaches {style.fmt(g.share_threshold, 1)} "
                               f"over the {g.n_sentences} sentences, the spread stays under "
                               f"{style.fmt(g.broad_threshold)}, and no relation test was passed",
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
        texts = [
            f"Many heads earn no clean label: {g.n_unlabelled} of the {g.n_heads} here. They may still matter.",
            "Nobody assigns these roles: training shaped every head, and what heads do shifts from layer to layer.",
            (f"Heads are no panel of specialists with one readable job each: {totals['separator']} heads park on "
             f"{said_list(list(g.labels_of_kind('separator')))}, and patterns overlap."),
            "A head is not a model of its own: all heads read the same input, and W_O mixes their outputs into one.",
        ]
        if not totals["separator"]:
            texts[2] = "Heads are no panel of specialists with one readable job each: their patterns overlap."
        notes = VGroup(*(self._note(t, width, "caveat", style.LABEL_SIZE) for t in texts))
        notes.arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        layout.fit(notes, width=width, height=top - bottom)
        notes.move_to([x0 + notes.width / 2, top - notes.height / 2, 0])
        s.notes = list(notes)
        said = (f"Now all {g.n_heads} heads, counted by kind in each layer. {g.n_unlabelled} of them earn no "
                "clean label: what they do fits no single name, and they may still matter to the model.")
        with self.beat(said):
            self.clear(*self._on_stage, run_time=style.SHORT)
            self.play(FadeIn(block), run_time=style.BEAT)
            self.play(Create(ring), FadeIn(notes[0], shift=LEFT * 0.2), run_time=style.SHORT)
        with self.beat("Nobody assigned these roles: training shaped every head, and what heads do shifts from "
                       "layer to layer. Nor are heads a panel of specialists with one readable job each: many do "
                       "the same kind of thing, and their patterns overlap."):
            self.play(FadeIn(notes[1], shift=LEFT * 0.2), FadeIn(notes[2], shift=LEFT * 0.2), run_time=style.BEAT)
        with self.beat("And a head is not a model of its own: every head reads the same input, and W_O mixes all "
                       "their outputs into one."):
            self.play(FadeIn(notes[3], shift=LEFT * 0.2), run_time=style.BEAT)

    # -- the toy model's untrained heads --------------------------------------------------

    def all_heads(self):
        th, sp = self.theme, self.state.spec
        tokens = sp.trace.tokens
        n = min(sp.trace.n_pos, style.MAX_TOKENS)
        left, right, bottom, _top = layout.content_box()
        bar = parts.ColorBar(th, height=2.0)
        tag_w = max(parts.text(th, s, style.SMALL_SIZE).width for tag in sp.tags
                    for s in (tag.headline, measure_text(tag))) + 0.25
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
            g = parts.AttentionGrid(th, sp.trace.weights[i], None, cell=cell, decor=parts.OVERVIEW,
                                    color=th.head(i) if sp.labels[i] else th.grid, binned=True)
            headline, measure = sp.tags[i].headline, measure_text(sp.tags[i])
            labelled = sp.labels[i] is not None
            t1 = parts.text(th, f"{i + 1} \u00b7 {headline}", style.SMALL_SIZE, th.head(i) if labelled else th.muted,
                            bold=labelled)
            t2 = parts.text(th, measure, style.SMALL_SIZE, th.text if labelled else th.muted)
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
        if sp.trained:
            p = sp.profiles[0]
            legend = (f"numbers: mean share of attention over {p.n_sentences} sentences \u00b7 a label needs "
                      f"\u2265 {SHARE_THRESHOLD} \u00b7 rows: queries, columns: keys")
        else:
            legend = "numbers: largest share of attention on this sentence \u00b7 rows: queries, columns: keys"
        legend += parts.cap_note(len(tokens))
        self.state.legend = layout.fit(parts.text(th, legend, style.SMALL_SIZE, th.muted), width=right - left)
        self.state.legend.next_to(grids, DOWN, buff=style.GAP_NAME).align_to(grids, LEFT)
        if self.state.legend.get_bottom()[1] < bottom:
            self.state.legend.shift(UP * (bottom - self.state.legend.get_bottom()[1]))
        n_labelled = sum(1 for x in sp.labels if x is not None)
        said = "Different patterns, yes, but no roles: these weights were never trained."
        with self.beat(said):
            self.play(FadeIn(grids), FadeIn(bar), FadeIn(self.state.legend), run_time=style.BEAT)
        self.state.grids, self.state.bar, self.state.n_labelled = grids, bar, n_labelled

    def one_head_up_close(self):
        th, sp = self.theme, self.state.spec
        i = showcase_head(sp)
        left, right, bottom, _top = layout.content_box()
        frame = parts.highlight_box(th, self.state.grids[i].frame, buff=style.GAP_FRAME, color=th.head(i))
        self.play(Create(frame), run_time=style.SHORT)
        big = parts.AttentionGrid(th, sp.trace.weights[i], sp.trace.tokens, cell=0.3, color=th.head(i),
                                  decor=parts.GridDecor(title=f"head {i + 1}"))
        room_top = self.state.row.get_bottom()[1] - 0.25
        layout.fit(big, width=(right - left) * 0.55, height=room_top - bottom)
        big.move_to([left + big.width / 2, room_top - big.height / 2, 0])
        card = parts.note(th, sp.descriptions[i], width=min(right - big.get_right()[0] - 0.4, 5.6), kind="info",
                          size=style.SMALL_SIZE)
        card.next_to(big, RIGHT, buff=style.GAP_ASIDE).align_to(big, UP)
        said = f"Head {i + 1} up close, described by its numbers on this sentence: there is no role to name."
        s = self.state
        with self.beat(said):
            self.clear(s.grids, s.bar, s.legend, frame, run_time=style.SHORT)
            self.play(FadeIn(big), FadeIn(card, shift=LEFT * 0.2), run_time=style.BEAT)
        self.state.big, self.state.card = big, card

    def toy_caveats(self):
        th = self.theme
        _left, right, bottom, _top = layout.content_box()
        width = min(right - self.state.big.get_right()[0] - 0.4, 5.6)
        texts = ("Untrained heads already differ, because their random weights differ; but they have no roles.",
                 "Do not over-read one head: a pattern on one sentence is not a role.")
        notes = VGroup(*(parts.note(th, t, width=width, kind="caveat", size=style.SMALL_SIZE) for t in texts))
        notes.arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        layout.fit(notes, height=self.state.card.get_bottom()[1] - bottom - 0.2)
        notes.next_to(self.state.card, DOWN, buff=style.GAP_LINE).align_to(self.state.card, LEFT)
        self.state.notes = list(notes)
        with self.beat("Two caveats. Random heads differ without doing anything in particular. "
                       "And a pattern on one sentence is not a role."):
            self.play(FadeIn(notes, shift=UP * 0.2), run_time=style.BEAT)
