"""The lesson's chapters, in order: ``CHAPTERS[chapter_id]`` is the chapter's LessonScene subclass.

Which chapters there are, in which order, and where each scene lives is the registry's
(``scenes/lesson/chapters.py``); this module imports the scenes it names.
"""

from __future__ import annotations

from importlib import import_module

from ..base import LessonScene
from ..lesson.chapters import CHAPTERS as REGISTRY
from ..lesson.chapters import OUTRO

# The closing card (``outro``) renders like a chapter, after the author's chapters: its scene is here too.
CHAPTERS: dict[str, type[LessonScene]] = {
    c.id: getattr(import_module(f".{c.module}", __name__), c.scene_class) for c in (*REGISTRY, OUTRO)
}
assert all(cls.chapter_id == cid for cid, cls in CHAPTERS.items()), "a scene's chapter_id is its registry id"

__all__ = ["CHAPTERS"]
