"""Tokens in boxes, left to right, their words cut from one line so they share a baseline."""

from __future__ import annotations

from collections.abc import Sequence

from manim import DOWN, RIGHT, RoundedRectangle, VGroup

from .. import style
from ..layout import fit
from ..style import Theme
from .text import baseline_words, text


class TokenRow(VGroup):
    """Tokens in boxes, left to right. ``tokens[i]`` = VGroup(box, word), ``words[i]``, ``boxes[i]``;
    ``hidden`` = how many tokens were not drawn (long sentence), ``note`` says so on screen (or None).

    The words are cut from one line of text, so they share a baseline ("was" does not float above "The").
    """

    def __init__(self, th: Theme, tokens: Sequence[str], *, size: float = style.BODY_SIZE,
                 max_tokens: int = style.MAX_TOKENS, max_width: float | None = None, buff: float = 0.14,
                 colors: Sequence | None = None, boxed: bool = True, **kwargs):
        super().__init__(**kwargs)
        shown = list(tokens[:max_tokens])
        self.hidden = len(tokens) - len(shown)
        self.words, self.boxes, self.tokens = VGroup(), VGroup(), VGroup()
        words, mid = baseline_words(th, shown, size)
        box_h = size / 48 * 0.85
        for i, word in enumerate(words):
            box = RoundedRectangle(
                corner_radius=0.08, width=max(word.width, size / 48 * 0.3) + 0.22, height=box_h,
                stroke_color=(colors[i] if colors else th.grid), stroke_width=1.5 if boxed else 0,
                fill_color=th.panel, fill_opacity=1 if boxed else 0,
            )
            box.move_to([word.get_x(), mid, 0])  # same height for every box around the shared line
            self.words.add(word)
            self.boxes.add(box)
            self.tokens.add(VGroup(box, word))
        self.tokens.arrange(RIGHT, buff=buff, center=True, aligned_edge=DOWN)
        self.add(self.tokens)
        self.note = None
        if self.hidden:
            self.note = text(th, f"+{self.hidden} more tokens not drawn", style.SMALL_SIZE, th.muted)
            self.note.next_to(self.tokens, DOWN, buff=style.GAP_NAME)
            self.add(self.note)
        if max_width is not None:
            fit(self, width=max_width)
