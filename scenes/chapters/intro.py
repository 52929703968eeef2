"""Chapter 1 — the question: which relationships can different heads attend to in parallel?

Storyboard: title and question -> the sentence, with the kinds of relationship a
sentence holds -> each head's strongest link from one word, drawn from the real
weights, all at once -> the chapter plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, FadeOut, LaggedStart, VGroup, VMobject, Write, config

from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.config import CHAPTER_TITLES

# Kinds of relationship a sentence holds at once (from the lesson texts); they describe
# language, not this model, and are shown as such.
RELATIONS = (
    "who did it: a verb and its subject",
    "what a pronoun refers to",
    "the words right next door",
)
MAX_ARC_HEADS = 6  # more arcs than this from one word stop being readable
BULLET_GAP = 0.14  # the relation bullets, a little tighter than rows
# Below the token row: (without, with) the row's own note underneath.
KINDS_GAP = (0.6, 0.9)
NOTE_GAP = (style.GAP_ITEM, 0.6)


@dataclass
class IntroState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: the question, the sentence and the heads' links from one word.
    """

    question: VMobject | None = None  # the lesson's question, kept at the top
    row: parts.TokenRow | None = None  # the sentence's tokens
    kinds: VMobject | None = None  # the kinds of relationship a sentence holds
    arcs: VMobject | None = None  # each head's strongest link from the focus word
    chips: VMobject | None = None  # head chips with each link's weight (.weight, .key)


class IntroScene(LessonScene):
    chapter_id = "intro"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("The question of the lesson: which relationships can different heads attend to in parallel? "
               "One sentence holds several at once; each head of the model links its words differently.")

    def construct(self):
        self.state = IntroState()
        self.title_card()
        self.sentence_relations()
        self.heads_in_parallel()
        self.chapter_plan()

    # -- beats -------------------------------------------------------------------------------

    def title_card(self):
        th = self.theme
        title = layout.fit(parts.text(th, self.lesson.config.title, style.TITLE_SIZE + 6, bold=True),
                           width=config.frame_width - 1.2)
        question = parts.text(th, "Which relationships can different heads attend to in parallel?",
                              style.HEADING_SIZE, th.highlight)
        layout.fit(question, width=config.frame_width - 1.2)
        VGroup(title, question).arrange(DOWN, buff=style.GAP_APART).move_to(UP * 0.3)
        with self.beat("One attention head gives a model one way of looking at a sentence."):
            self.play(Write(title), run_time=style.BEAT)
        with self.beat("The question of this lesson: which relationships can different heads attend to, in parallel?"):
            self.play(FadeIn(question, shift=UP * 0.2), run_time=style.BEAT)
        self.play(FadeOut(title), question.animate.scale(0.8).to_edge(UP, buff=style.TITLE_BUFF),
                  run_time=style.BEAT)
        self.state.question = question

    def sentence_relations(self):
        th = self.theme
        self.state.row = parts.TokenRow(th, self.lesson.tokens, size=style.HEADING_SIZE,
                                        max_width=config.frame_width - 1.0).move_to(DOWN * 0.6)
        kinds = VGroup(*(parts.text(th, f"\u2022 {r}", style.LABEL_SIZE, th.muted) for r in RELATIONS))
        kinds.arrange(DOWN, aligned_edge=LEFT, buff=BULLET_GAP)
        lead = parts.text(th, "A sentence holds several relationships at once:", style.LABEL_SIZE)
        self.state.kinds = VGroup(lead, kinds).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_WORD)
        self.state.kinds.next_to(self.state.row, DOWN, buff=KINDS_GAP[self.state.row.note is not None])
        with self.beat("A sentence holds many relationships at once: a verb and its subject, "
                       "a pronoun and what it refers to, neighbouring words."):
            self.play(FadeIn(self.state.row, shift=UP * 0.2), run_time=style.BEAT)
            self.play(FadeIn(self.state.kinds), run_time=style.BEAT)

    def heads_in_parallel(self):
        th, L = self.theme, self.lesson
        f = min(L.focus, len(self.state.row.tokens) - 1)
        n_heads = min(L.n_head, MAX_ARC_HEADS)
        arcs, chips = VGroup(), VGroup()
        for h in range(n_heads):
            w = L.trace.weights[h, f, : len(self.state.row.tokens)]
            k = int(w.argmax())
            arc = parts.attention_arc(th, self.state.row.tokens[f], self.state.row.tokens[k], float(w[k]), th.head(h),
                                      max_width=12)
            arcs.add(arc)
            chip = parts.head_chip(th, h, label=f"head {h + 1}: {style.fmt(float(w[k]))} on \u201c{L.tokens[k]}\u201d")
            chip.weight, chip.key = float(w[k]), k
            chips.add(chip)
        chips.arrange_in_grid(cols=n_heads if n_heads <= 4 else 3, buff=(0.25, 0.15))
        layout.fit(chips, width=config.frame_width - 1.0)
        chips.move_to(UP * 2.0)
        focus = parts.highlight_box(th, self.state.row.tokens[f])
        caption = f"each head's strongest link from \u201c{L.tokens[f]}\u201d \u00b7 real weights, {L.model_name}"
        if L.n_head > n_heads:
            caption += f"; first {n_heads} of {L.n_head} heads"
        note = layout.fit(parts.text(th, caption, style.SMALL_SIZE, th.muted), width=config.frame_width - 1.0)
        note.next_to(self.state.row, DOWN, buff=NOTE_GAP[self.state.row.note is not None])
        with self.beat(f"Watch the word \u201c{L.tokens[f]}\u201d. Each head of the model links it somewhere else, "
                       "all at the same time."):
            self.play(FadeOut(self.state.kinds), Create(focus), run_time=style.SHORT)
            self.play(LaggedStart(*(Create(a) for a in arcs), lag_ratio=0.05), FadeIn(chips), FadeIn(note),
                      run_time=style.BEAT * 1.5)
        self.narrate("That is multi-head attention: several learned ways of relating the same tokens, "
                     "run in parallel, then fused.")
        self.state.arcs, self.state.chips = arcs, chips
        self.clear(self.state.row, arcs, chips, note, focus, run_time=style.SHORT)

    def chapter_plan(self):
        th = self.theme
        items = VGroup()
        for cid in self.lesson.config.chapters:
            number = str(self.lesson.chapter_number(cid))
            line = parts.text(th, f"{number}  {CHAPTER_TITLES[cid]}", style.LABEL_SIZE)
            line[: len(number)].set_color(th.highlight)  # glyphs: one per non-space character
            items.add(line)
        cols = 2 if len(items) > 5 else 1
        rows = -(-len(items) // cols)
        pitch = 0.45  # fixed line pitch: rows of both columns line up
        columns = VGroup()
        for c in range(cols):
            column = VGroup(*items[c * rows:(c + 1) * rows])
            for r, line in enumerate(column):
                # Align baselines via the chapter number's first digit (digits sit on the baseline).
                line.shift(DOWN * r * pitch - line[0].get_bottom() * UP - line.get_left() * RIGHT)
            columns.add(column)
        columns.arrange(RIGHT, aligned_edge=UP, buff=style.GAP_WIDE)
        heading = parts.text(th, "The plan", style.HEADING_SIZE, bold=True)
        plan = VGroup(heading, columns).arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_SECTION)
        layout.fit(plan, width=config.frame_width - 1.0, height=config.frame_height - 2.2)
        plan.move_to(DOWN * 0.3)
        with self.beat("We build it step by step: one head, split heads, their patterns, "
                       "then how their outputs are joined and projected."):
            self.play(FadeIn(heading), LaggedStart(*(FadeIn(i, shift=RIGHT * 0.2) for i in items), lag_ratio=0.08),
                      run_time=style.BEAT * 1.5)
