"""Chapter: One head (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class OneHeadScene(LessonScene):
    chapter_id = "one-head"
    title = "One head"
    summary = ""

    def construct(self):
        self.wait(1)
