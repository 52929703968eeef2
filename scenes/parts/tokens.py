"""Tokens in boxes, left to right, their words cut from one line so they share a baseline; a long sentence as a
window of its positions, each gap marked "…"."""

from __future__ import annotations

from collections.abc import Sequence

from manim import DOWN, RIGHT, Rectangle, RoundedRectangle, VGroup

from .. import style
from ..layout import fit
from ..style import Theme
from .text import baseline_words, text
from .words import shared_text

ELISION = "\u2026"  # "…": where a long sentence's window leaves tokens out


def window(n_tokens: int, positions: Sequence[int] | None = None,
           max_tokens: int = style.MAX_TOKENS) -> tuple[int, ...]:
    """The positions drawn: ``positions`` (a chapter's window, ``Lesson.drawn_positions``), else the first
    ``max_tokens`` (what a part draws when it is given no window)."""
    if positions is None:
        return tuple(range(min(n_tokens, max_tokens)))
    positions = tuple(int(p) for p in positions)
    if list(positions) != sorted(set(positions)) or (positions and not 0 <= positions[0] <= positions[-1] < n_tokens):
        raise ValueError(f"drawn positions must rise and lie in 0..{n_tokens - 1}: {positions}")
    return positions


def gaps(positions: Sequence[int], n_tokens: int) -> tuple[int, ...]:
    """Where the window leaves tokens out: each i (0..len(positions)) such that tokens are elided just before the
    i-th drawn position (i = len(positions): after the last one)."""
    edges = [-1, *positions, n_tokens]
    return tuple(i for i in range(len(edges) - 1) if edges[i + 1] - edges[i] > 1)


def with_gaps(tokens: Sequence[str], positions: Sequence[int]) -> list[str]:
    """The drawn tokens in order with "…" in each gap ("[CLS] … the paper said it …"), for a line of text."""
    out, cut = [], set(gaps(positions, len(tokens)))
    for i, p in enumerate(positions):
        if i in cut:
            out.append(ELISION)
        out.append(tokens[p])
    if len(positions) in cut:
        out.append(ELISION)
    return out


def elision_note(n_tokens: int, positions: Sequence[int], *, after: bool = False) -> str:
    """'' when every token is drawn, else "… 4 of 18 tokens not drawn" (``after``: "; … 4 of 18 ...", to follow
    other words in a caption)."""
    hidden = n_tokens - len(positions)
    if not hidden:
        return ""
    return shared_text("tokens-elided-after" if after else "tokens-elided", n=hidden, n_tokens=n_tokens)


class TokenRow(VGroup):
    """Tokens in boxes, left to right. ``tokens[i]`` = VGroup(box, word), ``words[i]``, ``boxes[i]`` for the i-th
    drawn token; ``positions[i]`` is its place in the sentence (``index(position)``: the reverse).

    ``positions``: the sentence positions to draw (a long sentence's window, ``Lesson.drawn_positions``); without
    it the first ``max_tokens``. Each gap in the window holds a "…" (``marks``), ``hidden`` counts the tokens not
    drawn and ``note`` says so on screen (or is None). The words (and marks) are cut from one line of text, so they
    share a baseline ("was" does not float above "The").
    """

    def __init__(self, th: Theme, tokens: Sequence[str], *, positions: Sequence[int] | None = None,
                 size: float = style.BODY_SIZE, max_tokens: int = style.MAX_TOKENS, max_width: float | None = None,
                 buff: float = 0.14, colors: Sequence | None = None, boxed: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.positions = window(len(tokens), positions, max_tokens)
        self.hidden = len(tokens) - len(self.positions)
        cut = set(gaps(self.positions, len(tokens)))
        self.words, self.boxes, self.tokens, self.marks = VGroup(), VGroup(), VGroup(), VGroup()
        line = []  # (word, is a gap's mark), left to right
        for i, p in enumerate(self.positions):
            if i in cut:
                line.append((ELISION, True))
            line.append((tokens[p], False))
        if len(self.positions) in cut:
            line.append((ELISION, True))
        glyphs, mid = baseline_words(th, [w for w, _ in line], size)
        box_h = size / 48 * 0.85
        items, slots = [], VGroup()  # tokens and marks, left to right; the marks in their slots
        for word, (_, mark) in zip(glyphs, line):
            if mark:
                # An unboxed "…" on the shared baseline, in a slot as tall as a box so the row arranges evenly.
                slot = Rectangle(width=word.width + 0.1, height=box_h, stroke_width=0, fill_opacity=0)
                slot.move_to([word.get_x(), mid, 0])
                self.marks.add(word)
                slots.add(VGroup(slot, word))
                items.append(slots[-1])
                continue
            i = len(self.words)
            box = RoundedRectangle(
                corner_radius=0.08, width=max(word.width, size / 48 * 0.3) + 0.22, height=box_h,
                stroke_color=(colors[i] if colors else th.grid), stroke_width=1.5 if boxed else 0,
                fill_color=th.panel, fill_opacity=1 if boxed else 0,
            )
            box.move_to([word.get_x(), mid, 0])  # same height for every box around the shared line
            self.words.add(word)
            self.boxes.add(box)
            self.tokens.add(VGroup(box, word))
            items.append(self.tokens[-1])
        if cut:
            VGroup(*items).arrange(RIGHT, buff=buff, center=True, aligned_edge=DOWN)
            self.add(self.tokens, slots)
        else:
            self.tokens.arrange(RIGHT, buff=buff, center=True, aligned_edge=DOWN)
            self.add(self.tokens)
        self.note = None
        if self.hidden:
            self.note = text(th, elision_note(len(tokens), self.positions), style.SMALL_SIZE, th.muted)
            self.note.next_to(VGroup(*items), DOWN, buff=style.GAP_NAME)
            self.add(self.note)
        if max_width is not None:
            fit(self, width=max_width)

    def index(self, position: int) -> int | None:
        """Where sentence position ``position`` is drawn in the row (None: elided)."""
        return self.positions.index(position) if position in self.positions else None
