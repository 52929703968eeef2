"""Lesson data: the validated config and everything a chapter shows, computed once from it.

Numbers only: no Manim, no click. ``config`` (LessonConfig, checked once) and ``fonts`` (what
the lesson's font can draw) load without torch; ``build_lesson(config)`` returns the ``Lesson``,
the single read-only input of every scene (its names are imported lazily, so that checking a
config never loads torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {name: "build" for name in ("CostExample", "HeadTag", "Lesson", "Specialization", "build_lesson")}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
