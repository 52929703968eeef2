"""Chapter: What heads cost (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class CostScene(LessonScene):
    chapter_id = "cost"
    title = "What heads cost"
    summary = "Parameters stay 4d² whatever the head count; compute per stage barely changes; but more heads is not free, and not every head is equally useful."

    def construct(self):
        self.wait(1)
