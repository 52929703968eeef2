"""Chapter: Split into heads (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class SplitHeadsScene(LessonScene):
    chapter_id = "split-heads"
    title = "Split into heads"
    summary = ""

    def construct(self):
        self.wait(1)
