"""Chapter: Each head mixes values (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class HeadOutputsScene(LessonScene):
    chapter_id = "head-outputs"
    title = "Each head mixes values"
    summary = "Every head turns its attention weights into its own weighted sum of value vectors: n × d_k per head, each a different context mix."

    def construct(self):
        self.wait(1)
