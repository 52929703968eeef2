"""Lesson data: everything a chapter shows, computed once from the validated config.

Numbers only: no Manim, no click. ``build_lesson(config)`` returns the ``Lesson``, the single
read-only input of every scene.
"""

from __future__ import annotations

from .build import CostExample, HeadTag, Lesson, Specialization, build_lesson

__all__ = ["CostExample", "HeadTag", "Lesson", "Specialization", "build_lesson"]
