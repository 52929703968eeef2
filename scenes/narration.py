"""Narration cues: what a chapter says, and when, as it plays (``LessonScene.say`` records them).

No Manim here: the production layer turns cues into caption files without drawing anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the start of the video the cue belongs to
    end: float
    text: str

    def to_dict(self) -> dict:
        return asdict(self)
