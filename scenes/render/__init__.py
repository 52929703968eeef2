"""Production: render the chapters (processes, cache), join them, and write the lesson folder.

    from scenes.render import render_lesson
    result = render_lesson(config, jobs=2)     # the folder config.out, written in one commit

Modules: ``pipeline`` (render_lesson), ``keys`` (what a render depends on), ``cache``,
``jobs`` (the process pool), ``worker`` (one chapter in a spawned process),
``fast_frames`` (a patch of Manim's encoder), ``progress``, ``media`` (PyAV), ``captions``,
``export`` (captions, frames, tensors, manifest, page), ``folder`` (what the tool may write);
for a course: ``course_file`` (the course file, checked), ``course`` (plan and run), ``engines``
(local processes or a Dask cluster), ``chapter_task`` (one chapter in a fresh process),
``course_progress``.
Names are imported lazily, so that the command line's quick paths (``folder``, ``keys``)
load neither torch nor Manim.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "render_lesson": "pipeline",
    "RenderError": "pipeline",
    "RenderResult": "pipeline",
    "ChapterResult": "pipeline",
    "unchanged_folder": "keys",
    "code_hash": "keys",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
