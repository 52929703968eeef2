"""Chapter: W_O blends the heads (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class OutputProjectionScene(LessonScene):
    chapter_id = "output-projection"
    title = "W_O blends the heads"
    summary = "The output projection W_O mixes the concatenated heads into one update per token, added to the residual stream, then Add & Norm."

    def construct(self):
        self.wait(1)
