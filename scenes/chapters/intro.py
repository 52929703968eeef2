"""Chapter 1 — the question: which relationships can different heads attend to in parallel?

Storyboard: title and question -> what the learner will be able to do -> the single-head bottleneck in
numbers: in "The cat sat down" one MiniLM head's softmax row for "sat" adds up to 1 ([CLS] and [SEP]
named where they first appear), so what goes to "cat" is not left for "down" -> the relationship table:
subject-verb, verb-modifier, determiner-noun, local context, each with the real head that carries it and
its weight here (no measurements yet: whether a head really tracks a relation is the second act's
question) -> why not one bigger head: one softmax row per token, against the layer's h rows -> the
lesson's own sentence: each head's strongest link from one word -> the plan.

All numbers come from ``lesson.relationships`` (the example) and ``lesson.trace`` (the lesson's sentence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Create,
    FadeIn,
    FadeOut,
    GrowFromEdge,
    LaggedStart,
    Rectangle,
    VGroup,
    VMobject,
    Write,
    config,
)

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.chapters import ACTS
from scenes.lesson.focus import where_heads_look
from scenes.lesson.relationships import DETERMINER_NOUN, LOCAL, SUBJECT_VERB, VERB_MODIFIER, Relationship

MAX_ARC_HEADS = 6  # more arcs than this from one word stop being readable
# Where the heads drawn put most of the focus word's weight (scenes.lesson.focus.LOOK_CASES): the beat of each case.
OWN_SENTENCE_IDS = {"mixed": "own-sentence", "parked-one-word": "own-sentence-parked-one-word",
                    "none-parked": "own-sentence-none-parked", "one-word": "own-sentence-one-word",
                    "all-parked": "own-sentence-all-parked"}
BAR_HEIGHT = 2.6  # a weight of 1 is this tall: the bars show shares of one row
ARC_ROOM = 0.5  # above and below a token row: room for arcs between neighbours
ALONE = 1.4  # the one-bigger-head row, alone on screen, is drawn this much larger
CELL = 0.3  # the layer's rows for "sat": 12 rows of this cell size fit under the question
LINE_GAP = style.GAP_TIGHT  # lines of one table cell
TABLE_SIZE = style.LABEL_SIZE

# The table's rows: the script ids of the relationship's name and of the question it answers in "The cat sat down".
ROW_IDS = {
    SUBJECT_VERB: ("subject-verb", "subject-verb-question"),
    VERB_MODIFIER: ("verb-modifier", "verb-modifier-question"),
    DETERMINER_NOUN: ("determiner-noun", "determiner-noun-question"),
    LOCAL: ("local", "local-question"),
}
PLAN_ACTS = {1: "plan-act-1", 2: "plan-act-2"}  # the plan's column heading of each act (chapters.ACTS)
HEADER_IDS = ("column-relationship", "column-link", "column-head", "column-weight")
# What the learner will be able to do by the end, one line each, in the order the lesson teaches it.
OBJECTIVE_IDS = ("objective-one-head", "objective-split", "objective-fuse", "objective-cost", "objective-judge")


@dataclass
class IntroState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: the question, the bottleneck row, the relationship table, one bigger head against
    the layer's heads, and the heads' links from one word of the lesson's sentence.
    """

    question: VMobject | None = None  # the lesson's question, kept at the top
    course: VMobject | None = None  # the course's name over the title on the title card (None: the config has none)
    objectives: VMobject | None = None  # what the learner will be able to do (one Text per line)
    example: parts.TokenRow | None = None  # "The cat sat down" as MiniLM reads it, [CLS] and [SEP] included
    bars: VGroup | None = None  # the bottleneck head's weights for "sat", one bar per token (.value)
    bar_numbers: list = field(default_factory=list)  # NumberLabels over the bars
    sum_terms: list = field(default_factory=list)  # NumberLabels of the sum under the bars
    total: parts.NumberLabel | None = None  # what the row adds up to
    special: VMobject | None = None  # the note on [CLS] and [SEP]
    table: parts.Table | None = None  # relationship, link, head, weight
    table_rows: tuple = ()  # the Relationship of each table row after the header, in order
    heads: list = field(default_factory=list)  # each table row's head cell (its chip)
    links: VMobject | None = None  # arcs over (and under) the example, one group per table row
    layer_grid: parts.AttentionGrid | None = None  # every head of one layer: its row for "sat"
    layer_notes: VMobject | None = None  # the weights named beside two of those rows
    count_line: VMobject | None = None  # heads per layer, layers, heads in all
    row: parts.TokenRow | None = None  # the lesson's sentence
    arcs: VMobject | None = None  # each head's strongest link from the focus word
    chips: VMobject | None = None  # head chips with each link's weight (.weight, .key)


def head_numbers(r: Relationship) -> dict:
    """A head's placeholders as the screen numbers it, from 1: {layer}, {head}."""
    return {"layer": r.layer + 1, "head": r.head + 1}


class IntroScene(LessonScene):
    chapter_id = "intro"

    def construct(self):
        self.state = IntroState()
        self.title_card()
        self.objectives()
        self.bottleneck()
        self.relationship_table()
        self.bigger_head()
        self.heads_in_parallel()
        self.chapter_plan()

    # -- beats -------------------------------------------------------------------------------

    def title_card(self):
        th = self.theme
        title = layout.fit(parts.text(th, self.lesson.config.title, style.TITLE_SIZE + 6, bold=True),
                           width=config.frame_width - 1.2)
        question = parts.text(th, self.words("question"), style.HEADING_SIZE, th.highlight)
        layout.fit(question, width=config.frame_width - 1.2)
        card = VGroup(title, question)
        course = None
        if self.lesson.config.course:  # the author's course, over the title
            # ligatures=False: the author's words as typed ("CS_101" is not a maths name with a subscript)
            course = layout.fit(parts.text(th, self.lesson.config.course, style.BODY_SIZE, th.muted, ligatures=False),
                                width=config.frame_width - 1.2)
            card = VGroup(course, title, question)
        card.arrange(DOWN, buff=style.GAP_APART).move_to(UP * 0.3)
        if course is not None:
            course.next_to(title, UP, buff=style.GAP_SECTION)
        self.state.course = course
        with self.beat("title-card"):
            self.play(Write(title), *([FadeIn(course)] if course is not None else []), run_time=style.BEAT)
        with self.beat("question"):
            self.play(FadeIn(question, shift=UP * 0.2), run_time=style.BEAT)
        self.play(FadeOut(title), *([FadeOut(course)] if course is not None else []),
                  question.animate.scale(0.8).to_edge(UP, buff=style.TITLE_BUFF), run_time=style.BEAT)
        self.state.question = question

    def objectives(self):
        """What the learner will be able to do, as a short list under the question; the voice sums it up."""
        th = self.theme
        lines, pitch = VGroup(), 0.55  # a fixed line pitch: baselines evenly spaced, whatever the letters
        for r, text_id in enumerate(OBJECTIVE_IDS):
            line = parts.text(th, self.words(text_id), style.BODY_SIZE)
            number = parts.text(th, f"{r + 1}", style.BODY_SIZE, th.highlight)
            line.shift(DOWN * r * pitch - parts.baseline_y(line) * UP - line.get_left() * RIGHT)
            number.shift(DOWN * r * pitch - parts.baseline_y(number) * UP)
            number.shift((line.get_left()[0] - style.GAP_ITEM - number.get_right()[0]) * RIGHT)
            lines.add(VGroup(number, line))
        heading = parts.text(th, self.words("objectives"), style.LABEL_SIZE, th.muted, bold=True)
        view = VGroup(heading, lines).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_BLOCK)
        self._fit_below_question(view)
        self.state.objectives = lines
        with self.beat("objectives"):
            self.play(FadeIn(heading), LaggedStart(*(FadeIn(line, shift=RIGHT * 0.2) for line in lines),
                                                   lag_ratio=0.15), run_time=style.BEAT)
        self.clear(view)

    def _below_question(self) -> float:
        """The top of the space under the question."""
        return self.state.question.get_bottom()[1] - style.GAP_SECTION

    def bottleneck(self):
        th, R = self.theme, self.lesson.relationships
        b = R.bottleneck
        color = th.head(b.head)
        example = parts.TokenRow(th, R.tokens, size=style.HEADING_SIZE)
        bars, numbers = VGroup(), []
        for token, w in zip(example.tokens, R.focus_row):
            bar = Rectangle(width=min(token.width, 0.7), height=max(BAR_HEIGHT * w, 0.02), stroke_width=0,
                            fill_color=color, fill_opacity=0.9)
            bar.next_to(token, UP, buff=style.GAP_LABEL)
            bar.value = w
            num = parts.number(th, w, size=style.LABEL_SIZE).next_to(bar, UP, buff=style.GAP_TIGHT)
            bars.add(bar)
            numbers.append(num)
        heading = parts.text(th, self.words("row-heading", **head_numbers(b)), style.LABEL_SIZE, th.muted)
        # The sum of the row, term by term, under the tokens.
        terms = [parts.number(th, w, size=style.LABEL_SIZE) for w in R.focus_row]
        total = parts.number(th, R.focus_total, size=style.LABEL_SIZE, color=th.highlight)
        pieces = [terms[0]]
        for t in terms[1:]:
            pieces += [parts.text(th, "+", style.LABEL_SIZE, th.muted), t]
        pieces += [parts.text(th, "=", style.LABEL_SIZE, th.muted), total]
        sum_line = parts.inline(*pieces, buff=style.GAP_CHIP)
        special = parts.note(th, self.words("special-tokens"), width=9.0)
        chart = VGroup(heading, VGroup(bars, VGroup(*numbers), example), sum_line, special)
        heading.next_to(VGroup(*numbers, bars), UP, buff=style.GAP_BLOCK)
        sum_line.next_to(example, DOWN, buff=style.GAP_RESULT)
        special.next_to(sum_line, DOWN, buff=style.GAP_SECTION)
        self._fit_below_question(chart)
        query = parts.highlight_box(th, example.tokens[R.focus])
        cat, down = R.position("cat"), R.position("down")
        marks = VGroup(*(parts.highlight_box(th, numbers[k]) for k in (cat, down)))
        s = self.state
        s.example, s.bars, s.bar_numbers, s.sum_terms, s.total, s.special = example, bars, numbers, terms, total, special
        with self.beat("row-sums-to-one", total=R.focus_total):
            self.play(FadeIn(example), FadeIn(heading), Create(query), run_time=style.SHORT)
            self.play(LaggedStart(*(GrowFromEdge(bar, DOWN) for bar in bars), lag_ratio=0.1),
                      FadeIn(VGroup(*numbers)), run_time=style.BEAT)
            self.play(FadeIn(sum_line), run_time=style.SHORT)
        with self.beat("special-tokens"):
            self.play(FadeIn(special), run_time=style.SHORT)
        w = R.focus_row
        with self.beat("cat-or-down", cat=w[cat], down=w[down]):
            self.play(Create(marks), run_time=style.SHORT)
        self.clear(heading, bars, VGroup(*numbers), example, query, sum_line, special, marks)

    def _fit_below_question(self, group: VMobject) -> VMobject:
        """Shrink ``group`` into the space under the question and centre it there."""
        top, bottom = self._below_question(), -config.frame_height / 2 + style.FRAME_MARGIN
        layout.fit(group, width=config.frame_width - 2 * style.FRAME_MARGIN, height=top - bottom)
        return group.move_to([0, (top + bottom) / 2, 0])

    def relationship_table(self):
        th, R = self.theme, self.lesson.relationships
        size = TABLE_SIZE
        header = [self.words(text_id) for text_id in HEADER_IDS]
        rows, heads = [header], []
        for r in R.rows:
            name, question = (self.words(text_id) for text_id in ROW_IDS[r.key])
            if r.key == LOCAL:
                link = self._lines(self.words("local-link"), self.words("local-mean", question=question,
                                                                                   n=len(r.links)))
            else:
                (q, k), = r.links
                link = self._lines(self.words("link", query=R.tokens[q], key=R.tokens[k]), question)
            # No relation's name on a head yet: whether it earned one is measured in the second act.
            head = parts.head_chip(th, r.head, size, label=self.words("head-name", **head_numbers(r)))
            heads.append(head)
            rows.append([parts.text(th, name, size), link, head, r.weight])
        T = parts.Table(th, rows, size=size, row_buff=style.GAP_ITEM, col_buff=style.GAP_ITEM,
                        align=["left", "left", "left", "right"])
        self._tidy_header(T)
        example = parts.TokenRow(th, R.tokens, size=style.HEADING_SIZE)
        foot = parts.text(th, self.words("table-foot"), style.SMALL_SIZE, th.muted)
        view = VGroup(example, T, foot)
        example.next_to(T, UP, buff=ARC_ROOM + style.GAP_BLOCK)
        foot.next_to(T, DOWN, buff=style.GAP_BLOCK).align_to(T, LEFT)
        layout.fit(foot, width=T.width)
        top = self._below_question() - ARC_ROOM
        bottom = -config.frame_height / 2 + style.FRAME_MARGIN
        layout.fit(view, width=config.frame_width - 2 * style.FRAME_MARGIN, height=top - bottom)
        view.move_to([0, (top + bottom) / 2, 0])
        links = VGroup()
        for r in R.rows:
            below = r.key == LOCAL  # under the row: the neighbour links share endpoints with those above
            links.add(VGroup(*(parts.attention_arc(th, example.tokens[q], example.tokens[k], w, th.head(r.head),
                                                   max_width=8, below=below)
                               for (q, k), w in zip(r.links, r.weights))))
        s = self.state
        s.table, s.table_rows, s.heads, s.links = T, tuple(R.rows), heads, links
        sv, vm, dn, loc = (R.row(k) for k in (SUBJECT_VERB, VERB_MODIFIER, DETERMINER_NOUN, LOCAL))
        with self.beat("who-sat-most" if all(sv.top_word) else "who-sat", **head_numbers(sv), weight=sv.weight):
            self.play(FadeIn(example), FadeIn(T.rows[0]), FadeIn(T.rules), FadeIn(foot), run_time=style.SHORT)
            self.play(FadeIn(T.rows[1]), Create(links[0]), run_time=style.BEAT)
        with self.beat("how-sit", **head_numbers(vm), weight=vm.weight):
            self.play(FadeIn(T.rows[2]), Create(links[1]), run_time=style.BEAT)
        with self.beat("which-cat-previous-token" if loc.labelled else "which-cat", **head_numbers(dn),
                       weight=dn.weight, local_layer=loc.layer + 1, local_head=loc.head + 1):
            self.play(FadeIn(T.rows[3]), Create(links[2]), run_time=style.BEAT)
            self.play(FadeIn(T.rows[4]), Create(links[3]), run_time=style.BEAT)
        # Shown, not yet tested: a link between neighbours may be position alone (the second act measures it).
        adjacent = all(abs(q - k) == 1 for r in R.rows for q, k in r.links)
        self.narrate("tested-later-neighbours" if adjacent else "tested-later")
        self.clear(example, links, T, foot)

    @staticmethod
    def _tidy_header(T: parts.Table) -> None:
        """The header on one baseline, a row gap above the (taller) first row, its rule half-way between."""
        header, first = T.rows[0], T.rows[1]
        y = parts.baseline_y(header[0])
        for cell in header[1:]:
            cell.shift(UP * (y - parts.baseline_y(cell)))
        header.shift(UP * (first.get_top()[1] + style.GAP_ITEM - header.get_bottom()[1]))
        T.rules[0].set_y((header.get_bottom()[1] + first.get_top()[1]) / 2)

    def _lines(self, *lines: str, muted: bool = True, size: float | None = None) -> VGroup:
        """Lines of one table cell: the first in the text colour, the rest muted (or not)."""
        th, size = self.theme, size or TABLE_SIZE
        group = VGroup(*(parts.text(th, line, size, th.muted if muted and i else th.text)
                         for i, line in enumerate(lines)))
        return group.arrange(DOWN, aligned_edge=LEFT, buff=LINE_GAP)

    def bigger_head(self):
        th, R = self.theme, self.lesson.relationships
        b = R.bottleneck
        grid = parts.AttentionGrid(th, R.layer_rows, R.tokens, cell=CELL,
                                   decor=parts.GridDecor(labels="cols", axes=False, bar=False, note=False))
        names = VGroup()
        for h in range(R.n_head):
            name = parts.text(th, self.words("head-number", head=h + 1), style.SMALL_SIZE, th.head(h))
            name.next_to(grid.frame, LEFT, buff=style.GAP_LABEL).set_y(grid.row_box(h).get_y())
            names.add(name)
        layout.align_right(names)
        # The two table heads of this layer: their cell framed and their weight named beside the row.
        notes, frames = VGroup(), VGroup()
        for r in (R.row(SUBJECT_VERB), R.row(VERB_MODIFIER)):
            if r.layer == b.layer:
                (_, k), = r.links
                note = parts.inline(parts.text(th, self.words("quoted", word=R.tokens[k]), style.SMALL_SIZE,
                                               th.head(r.head)),
                                    parts.number(th, r.weight, size=style.SMALL_SIZE, color=th.head(r.head)),
                                    buff=style.GAP_TIGHT)
                note.next_to(grid.frame, RIGHT, buff=style.GAP_LABEL).set_y(grid.row_box(r.head).get_y())
                notes.add(note)
                frames.add(parts.highlight_box(th, grid.cell_box(r.head, k), buff=style.GAP_NONE))
        bar = parts.ColorBar(th, height=grid.frame.height * 0.6)
        bar.next_to(VGroup(grid.frame, notes), RIGHT, buff=style.GAP_ASIDE).align_to(grid.frame, DOWN)
        grid_title = parts.text(th, self.words("layer-heads", layer=b.layer + 1, n_head=R.n_head, d_head=R.d_head),
                                style.LABEL_SIZE)
        grid_count = parts.text(th, self.words("layer-rows", n_head=R.n_head), style.LABEL_SIZE, th.highlight)
        right = VGroup(grid_title, VGroup(grid, names, notes, frames, bar), grid_count).arrange(DOWN, buff=style.GAP_BLOCK)
        # One head as wide as the model: still one softmax row for "sat" (drawn empty: MiniLM has no such head).
        one = VGroup(*(Rectangle(width=CELL, height=CELL, stroke_color=th.muted, stroke_width=1.5)
                       for _ in R.tokens)).arrange(RIGHT, buff=style.GAP_NONE)
        keys = grid.col_labels.copy()
        keys.next_to(one, UP, buff=style.GAP_LABEL)
        for key, cell in zip(keys, one):
            key.set_x(cell.get_x())
        one_title = self._lines(self.words("one-head", d_model=R.d_model), self.words("one-head-width"),
                                size=style.LABEL_SIZE)
        one_count = self._lines(self.words("one-row"), self.words("one-row-sum"), size=style.LABEL_SIZE)
        one_count[0].set_color(th.highlight)
        left = VGroup(one_title, VGroup(keys, one), one_count).arrange(DOWN, buff=style.GAP_BLOCK)
        panels = VGroup(left, right).arrange(RIGHT, buff=style.GAP_WIDE)
        count = parts.text(th, self.words("all-patterns", n_head=R.n_head, n_layer=R.n_layer, total_heads=R.total_heads),
                           style.LABEL_SIZE, th.muted)
        view = VGroup(panels, count).arrange(DOWN, buff=style.GAP_SECTION)
        self._fit_below_question(view)
        s = self.state
        s.layer_grid, s.layer_notes, s.count_line = grid, notes, count
        # Alone on screen first, larger and centred; it makes room when the layer's heads arrive.
        home, width = left.get_center(), left.width
        left.scale(ALONE).move_to([0, view.get_y(), 0])
        with self.beat("bigger-head"):
            self.play(FadeIn(one_title), FadeIn(keys), Create(one), FadeIn(one_count), run_time=style.BEAT)
        same_layer = len(notes) == 2
        rows_id = ("rows-per-token-overfull" if R.link_sum > 1 else "rows-per-token-both") if same_layer \
            else "rows-per-token"
        with self.beat(rows_id, n_head=R.n_head, layer=b.layer + 1, cat=R.row(SUBJECT_VERB).weight,
                       down=R.row(VERB_MODIFIER).weight):
            self.play(left.animate.scale_to_fit_width(width).move_to(home), run_time=style.SHORT)
            self.play(FadeIn(grid_title), FadeIn(grid), FadeIn(names), FadeIn(bar), run_time=style.BEAT)
            self.play(FadeIn(grid_count), FadeIn(notes), Create(frames), run_time=style.SHORT)
        with self.beat("all-layers", n_layer=R.n_layer, total_heads=R.total_heads):
            self.play(FadeIn(count), run_time=style.SHORT)
        self.clear(view)

    def heads_in_parallel(self):
        th, L = self.theme, self.lesson
        # A long sentence: the window every mechanics chapter draws, which keeps each head's strongest link.
        row = parts.TokenRow(th, L.tokens, positions=L.drawn_positions(style.MAX_TOKENS), size=style.HEADING_SIZE,
                             max_width=config.frame_width - 1.0)
        if row.note is not None:  # the row shrank to fit: its note keeps its own size
            row.note.scale(style.SMALL_SIZE / row.note.font_size).next_to(row.tokens, DOWN, buff=style.GAP_NAME)
        row.move_to(DOWN * 0.6)
        self.state.row = row
        f = L.focus
        n_heads = min(L.n_head, MAX_ARC_HEADS)
        arcs, chips = VGroup(), VGroup()
        for h in range(n_heads):
            k = L.focus_reads[h]
            w = float(L.trace.weights[h, f, k])
            if row.index(k) is not None:
                arcs.add(parts.attention_arc(th, row.tokens[row.index(f)], row.tokens[row.index(k)], w, th.head(h),
                                             max_width=12))
            chip = parts.head_chip(th, h, label=self.words("strongest-link", head=h + 1, weight=w, word=L.tokens[k]))
            chip.weight, chip.key = w, k
            chips.add(chip)
        chips.arrange_in_grid(cols=n_heads if n_heads <= 4 else 3, buff=(style.GAP_ITEM, style.GAP_NAME))
        layout.fit(chips, width=config.frame_width - 1.0)
        chips.move_to(UP * 2.0)
        focus = parts.highlight_box(th, row.tokens[row.index(f)])
        caption = self.words("links-note-first" if L.n_head > n_heads else "links-note", word=L.tokens[f],
                             model=L.model_name, shown=n_heads, n_head=L.n_head)
        note = layout.fit(parts.text(th, caption, style.SMALL_SIZE, th.muted), width=config.frame_width - 1.0)
        note.next_to(row, DOWN, buff=style.GAP_RESULT if row.note is not None else style.GAP_ITEM)
        # Counted over the whole row (a long sentence draws only a window of it): true of the model, not the window.
        case, values = where_heads_look(L.tokens[k] for k in L.focus_reads[:n_heads])
        with self.beat(OWN_SENTENCE_IDS[case], word=L.tokens[f], shown=n_heads, **values):
            self.play(FadeIn(row, shift=UP * 0.2), Create(focus), run_time=style.SHORT)
            self.play(LaggedStart(*(Create(a) for a in arcs), lag_ratio=0.05), FadeIn(chips), FadeIn(note),
                      run_time=style.BEAT * 1.5)
        self.narrate("fused")
        self.state.arcs, self.state.chips = arcs, chips
        self.clear(row, arcs, chips, note, focus, run_time=style.SHORT)

    def chapter_plan(self):
        """The lesson's chapters in two columns, one per act: the mechanism, then what heads learn."""
        th = self.theme
        items, columns = VGroup(), VGroup()
        pitch = 0.45  # fixed line pitch: rows of both columns line up
        for act in ACTS:
            lines = VGroup()
            for number, title, _ in (p for p in self.lesson.plan if p[2] == act):
                number = str(number)
                line = parts.text(th, self.words("plan-line", number=number, title=title), style.LABEL_SIZE)
                line[: len(number)].set_color(th.highlight)  # glyphs: one per non-space character
                lines.add(line)
            if not lines:
                continue
            for r, line in enumerate(lines):
                # Align baselines via the chapter number's first digit (digits sit on the baseline).
                line.shift(DOWN * r * pitch - line[0].get_bottom() * UP - line.get_left() * RIGHT)
            name = parts.text(th, self.words(PLAN_ACTS[act]), style.LABEL_SIZE, th.muted, bold=True)
            columns.add(VGroup(name, lines).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_BLOCK))
            items.add(*lines)
        columns.arrange(RIGHT, aligned_edge=UP, buff=style.GAP_WIDE)
        heading = parts.text(th, self.words("plan"), style.HEADING_SIZE, bold=True)
        plan = VGroup(heading, columns).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_SECTION)
        layout.fit(plan, width=config.frame_width - 1.0, height=config.frame_height - 2.2)
        plan.move_to(DOWN * 0.3)
        names = VGroup(*(column[0] for column in columns))
        with self.beat("plan"):
            self.play(FadeIn(heading), FadeIn(names), LaggedStart(*(FadeIn(i, shift=RIGHT * 0.2) for i in items),
                                                                 lag_ratio=0.08),
                      run_time=style.BEAT * 1.5)
