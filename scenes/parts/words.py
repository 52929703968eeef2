"""The shared words the parts draw themselves (a grid's axis words, a chip's "head 3"): ``scripts/shared.toml``.

While a LessonScene renders, they are the lesson's (an author's shared.toml, or the default); a part
built outside a scene (a test) draws the default words.

    >>> shared_text("head-number", head=3)
    'head 3'
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from ..lesson.script import SHARED, Script, default_script

_current: ContextVar[Script | None] = ContextVar("shared_words", default=None)


def shared_text(text_id: str, **values) -> str:
    return (_current.get() or default_script(SHARED)).text(text_id, values)


@contextmanager
def using(words: Script):
    """Draw the parts with ``words`` (the lesson's shared script) inside the block."""
    token = _current.set(words)
    try:
        yield
    finally:
        _current.reset(token)
