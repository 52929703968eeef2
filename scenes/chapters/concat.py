"""Chapter: Concatenate the heads (storyboard being written)."""

from __future__ import annotations

from scenes.base import LessonScene


class ConcatScene(LessonScene):
    chapter_id = "concat"
    title = "Concatenate the heads"
    summary = "The h head outputs are laid side by side, back to the full model width: h · d_k = d. Stacked, not yet combined."

    def construct(self):
        self.wait(1)
