"""Chapter: Heads specialise (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class SpecializationScene(LessonScene):
    chapter_id = "specialization"
    title = "Heads specialise"
    summary = ""

    def construct(self):
        self.wait(1)
