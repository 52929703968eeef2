"""Chapter: Which relationships? (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class IntroScene(LessonScene):
    chapter_id = "intro"
    title = "Which relationships?"
    summary = ""

    def construct(self):
        self.wait(1)
