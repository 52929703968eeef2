"""Chapter 5 — heads specialise: real trained heads, labelled only by what was measured.

Storyboard: the sentence as the trained model sees it (word pieces) -> all heads of one
layer, each tagged by its measured signature (mean over a corpus; a label only above a
threshold, otherwise the numbers) -> one head up close, with its measured sentence ->
the caveats: specialisation is learned, not assigned; do not over-read one head.

The data come from ``lesson.specialization`` (MiniLM by default; with the toy model the
same chapter shows untrained heads honestly: different patterns, no roles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, VGroup, VMobject, config

from mha_core.analysis import SHARE_THRESHOLD
from scenes import layout, parts, style
from scenes.base import LessonScene
from scenes.lesson.config import CHAPTER_TITLES

# Short names of the signatures, for the tags under small patterns ("1.00 previous").
SIGNATURE_NAMES = {"previous": "previous", "next": "next", "current": "own token", "cls": "[CLS]", "sep": "[SEP]",
                   "punctuation": "punct.", "entropy": "entropy"}


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


@dataclass
class SpecializationState:
    """What the beats have drawn, by name; later beats and tests read it.

    The chapter: a trained model's heads, labelled by measurement, with the caveats.
    """

    spec: object = None  # the Lesson's Specialization: the heads shown and their measures
    header: VMobject | None = None  # chapter number, title and the model's layer
    row: parts.TokenRow | None = None  # the word pieces the model saw
    legend: VMobject | None = None  # how to read the tags
    grids: VMobject | None = None  # one small pattern per head, each with its measured tag (.tag)
    bar: parts.ColorBar | None = None  # the [0, 1] scale
    n_labelled: int = 0  # how many heads cleared a threshold
    big: VMobject | None = None  # the showcased head's pattern, large
    card: VMobject | None = None  # its measured description


class SpecializationScene(LessonScene):
    chapter_id = "specialization"
    title = CHAPTER_TITLES[chapter_id]
    summary = ("The heads of a trained model (all-MiniLM-L6-v2) attend in different, measurable ways. "
               "Specialisation is learned, not assigned, and one head on one sentence proves little.")

    def construct(self):
        self.state = SpecializationState()
        L = self.lesson
        self.state.spec = L.specialization
        sp = self.state.spec
        where = f"layer {sp.layer} \u00b7 " if sp.layer is not None else ""
        kind = "trained" if sp.trained else "untrained: no roles to find"
        self.state.header = parts.chapter_header(self.theme, L.chapter_number(self.chapter_id), self.title,
                                                 f"{sp.model_name} \u00b7 {where}{sp.n_head} heads \u00b7 {kind}")
        self.word_pieces()
        self.all_heads()
        self.one_head_up_close()
        self.caveats()

    # -- beats -----------------------------------------------------------------------

    def word_pieces(self):
        th, sp = self.theme, self.state.spec
        self.state.row = parts.TokenRow(th, sp.trace.tokens, size=style.LABEL_SIZE,
                                        max_width=config.frame_width - 1.0)
        self.state.row.next_to(self.state.header, DOWN, buff=style.GAP_BLOCK).set_x(0)
        if sp.trained:
            said = (f"Now a real trained model, {sp.model_name}. It reads our sentence as word pieces, "
                    "with [CLS] and [SEP] around it: special tokens the model adds, where many heads park "
                    "their attention when what they look for is absent.")
        else:
            said = "With the untrained toy model there is nothing learned to find. Here is what its heads look like anyway."
        with self.beat(said):
            self.play(FadeIn(self.state.header), FadeIn(self.state.row, shift=DOWN * 0.2), run_time=style.BEAT)

    def all_heads(self):
        th, sp = self.theme, self.state.spec
        tokens = sp.trace.tokens
        n = min(sp.trace.n_pos, style.MAX_TOKENS)
        left, right, bottom, top = layout.content_box()
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
        if sp.trained:
            said = (f"Here are its {sp.n_head} heads in layer {sp.layer}. We measured each one over many "
                    f"sentences: {n_labelled} of them earn a label, the rest are described by their numbers.")
        else:
            said = "Different patterns, yes, but no roles: these weights were never trained."
        with self.beat(said):
            self.play(FadeIn(grids), FadeIn(bar), FadeIn(self.state.legend), run_time=style.BEAT)
        self.state.grids, self.state.bar, self.state.n_labelled = grids, bar, n_labelled

    def one_head_up_close(self):
        th, sp = self.theme, self.state.spec
        i = showcase_head(sp)
        left, right, bottom, top = layout.content_box()
        frame = parts.highlight_box(th, self.state.grids[i].frame, buff=style.GAP_FRAME, color=th.head(i))
        self.play(Create(frame), run_time=style.SHORT)
        big = parts.AttentionGrid(th, sp.trace.weights[i], sp.trace.tokens, cell=0.3, color=th.head(i),
                                  decor=parts.GridDecor(title=f"head {i + 1}"))
        room_top = self.state.row.get_bottom()[1] - 0.25
        layout.fit(big, width=(right - left) * 0.55, height=room_top - bottom)
        big.move_to([left + big.width / 2, room_top - big.height / 2, 0])
        text = sp.descriptions[i]
        card = parts.note(th, text, width=min(right - big.get_right()[0] - 0.4, 5.6), kind="info",
                          size=style.SMALL_SIZE)
        card.next_to(big, RIGHT, buff=style.GAP_ASIDE).align_to(big, UP)
        headline = sp.tags[i].headline
        if sp.trained and sp.labels[i]:
            said = f"Head {i + 1} up close: a {headline} head, measured over the corpus, not guessed from a picture."
        else:
            said = f"Head {i + 1} up close, described by its numbers: no signature clears its threshold."
        s = self.state
        with self.beat(said):
            self.clear(s.grids, s.bar, s.legend, frame, run_time=style.SHORT)
            self.play(FadeIn(big), FadeIn(card, shift=LEFT * 0.2), run_time=style.BEAT)
        self.state.big, self.state.card = big, card

    def caveats(self):
        th, sp = self.theme, self.state.spec
        left, right, bottom, top = layout.content_box()
        width = min(right - self.state.big.get_right()[0] - 0.4, 5.6)
        if sp.trained:
            learned = ("Specialisation is learned, not assigned: nobody told any head what to do; "
                       "training shaped each one.")
            unlabelled = sp.n_head - self.state.n_labelled
            over_read = (f"Do not over-read one head: {unlabelled} of {sp.n_head} heads here have no clean label, "
                         "and one sentence proves nothing.")
        else:
            learned = "Specialisation is learned, not assigned: untrained heads differ, but have no roles."
            over_read = "Do not over-read one head: a pattern on one sentence is not a role."
        notes = VGroup(parts.note(th, learned, width=width, kind="caveat", size=style.SMALL_SIZE),
                       parts.note(th, over_read, width=width, kind="caveat", size=style.SMALL_SIZE))
        notes.arrange(DOWN, buff=style.GAP_LINE, aligned_edge=LEFT)
        # Under the measured description, which stays up.
        layout.fit(notes, height=self.state.card.get_bottom()[1] - bottom - 0.2)
        notes.next_to(self.state.card, DOWN, buff=style.GAP_LINE).align_to(self.state.card, LEFT)
        with self.beat("Two caveats. Specialisation is learned, not assigned. "
                       "And do not read one head on one sentence as proof."):
            self.play(FadeIn(notes, shift=UP * 0.2), run_time=style.BEAT)
