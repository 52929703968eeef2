"""Caption files made from the chapters' narration cues (WebVTT, SubRip).

A chapter's beats give its ``Cue``s (``scenes.narration``: at most two lines of 42
characters, timed to the speech); the lesson folder turns them into captions.vtt /
captions.srt, timed to the joined video.
"""

from __future__ import annotations

from ..narration import Cue


def chapter_cues(chapter) -> list[Cue]:
    """A chapter's narration cues, clipped to its video (times relative to the chapter)."""
    cues = []
    for cue in chapter.cues:
        start, end = float(cue.start), min(float(cue.end), float(chapter.duration))
        # A cue keeps its line break (two caption lines) but no blank line, which would end it.
        text = "\n".join(" ".join(line.split()) for line in str(cue.text).splitlines() if line.strip())
        if text and end - start > 0.05:
            cues.append(Cue(round(start, 3), round(end, 3), text))
    return cues


def _timestamp(seconds: float, decimal: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def to_webvtt(cues) -> str:
    """WebVTT text; cue text is escaped (&, <, >) so that it is shown, not parsed as markup."""
    blocks = ["WEBVTT"]
    for i, cue in enumerate(cues, 1):
        text = cue.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        times = f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}"
        blocks.append(f"{i}\n{times}\n{text}")
    return "\n\n".join(blocks) + "\n"


def to_srt(cues) -> str:
    blocks = []
    for i, cue in enumerate(cues, 1):
        times = f"{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}"
        blocks.append(f"{i}\n{times}\n{cue.text}")
    return "\n\n".join(blocks) + "\n"
