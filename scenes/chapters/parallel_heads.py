"""Chapter: Heads in parallel (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class ParallelHeadsScene(LessonScene):
    chapter_id = "parallel-heads"
    title = "Heads in parallel"
    summary = ""

    def construct(self):
        self.wait(1)
