"""The closing card (lesson.toml's ``outro``): the lesson's title, the course, who made it, its licence, its link.

A few seconds after the last chapter, with one short spoken line (never the card read aloud). Rendered like a
chapter, with its own cache key (``keys.render_settings``: the outro's lines are in its key only), so changing
the licence re-renders this card and nothing else. Its words are the shared script's ``outro-*`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import DOWN, UP, FadeIn, VGroup, VMobject, config

from scenes import layout, parts, style
from scenes.base import LessonScene

SECONDS = 4.5  # the card's length at pacing 1 (longer when its spoken line takes longer)
LINE_IDS = {"author": "outro-author", "licence": "outro-licence", "link": "outro-link"}  # shared.toml [screen]


@dataclass
class OutroState:
    card: VMobject | None = None  # the whole card
    lines: dict | None = None  # the author's lines drawn, by key (author, licence, link)


class OutroScene(LessonScene):
    chapter_id = "outro"

    @property
    def script(self):
        return self.lesson.scripts.shared  # the closing card's words are shared ones: outro-*

    @property
    def title(self) -> str:
        return self.script.text("outro-title", {})

    @property
    def summary(self) -> str:
        return self.script.text("outro-summary", {})

    def construct(self):
        th, cfg = self.theme, self.lesson.config
        width = config.frame_width - 2 * style.GAP_WIDE
        title = layout.fit(parts.text(th, cfg.title, style.TITLE_SIZE, bold=True), width=width)
        top = VGroup(title)
        if cfg.course:  # as on the title card: the course's name over the title
            course = layout.fit(parts.text(th, cfg.course, style.BODY_SIZE, th.muted, ligatures=False), width=width)
            top = VGroup(course, title)
        top.arrange(DOWN, buff=style.GAP_SECTION)
        lines = {}
        colours = {"author": th.text, "licence": th.muted, "link": th.highlight}
        for key, value in (cfg.outro.lines() if cfg.outro else {}).items():
            words = self.words(LINE_IDS[key], **{key: value})
            lines[key] = layout.fit(parts.text(th, words, style.BODY_SIZE, colours[key], ligatures=False), width=width)
        block = VGroup(*lines.values()).arrange(DOWN, buff=style.GAP_ROW)
        card = VGroup(top, block).arrange(DOWN, buff=style.GAP_COLUMN).move_to(UP * 0.2)
        self.state = OutroState(card, lines)
        with self.beat("outro-closing"):
            self.play(FadeIn(card, shift=UP * 0.2), run_time=style.BEAT)
        self._hold()
        rest = SECONDS - self.now / self.pacing
        if rest > 0.01:
            self.wait(rest)
