"""Video presets: Manim's quality names and letters (pixel height, frame rate), and the formats a lesson is written in.

    >>> QUALITIES[QUALITY_LETTERS["h"]]        # -q h: 1080 pixels high at 60 frames a second
    ('h', 1080, 60)
"""

from __future__ import annotations

# Manim's quality presets: name -> (letter, pixel height, frame rate).
QUALITIES = {
    "preview": ("l", 480, 15),
    "low": ("l", 480, 15),
    "medium": ("m", 720, 30),
    "high": ("h", 1080, 60),
    "4k": ("k", 2160, 60),
}
QUALITY_LETTERS = {"l": "low", "m": "medium", "h": "high", "k": "4k"}
FORMATS = ("mp4", "webm", "gif", "png")


def preset_height(quality: str) -> int:
    """The pixel height of a quality preset (by name)."""
    return QUALITIES[quality][1]


def preset_rate(quality: str) -> int:
    """The frame rate of a quality preset (by name)."""
    return QUALITIES[quality][2]


def width_for(height: int) -> int:
    """The 16:9 width of a video ``height`` pixels high: even, as H.264 needs."""
    return round(height * 16 / 9 / 2) * 2
