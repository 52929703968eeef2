"""Chapter: Recap (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class RecapScene(LessonScene):
    chapter_id = "recap"
    title = "Recap"
    summary = "The decision rule and the failure trap, with the measured evidence."

    def construct(self):
        self.wait(1)
