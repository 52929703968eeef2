"""Narration: the beats a chapter speaks and the captions timed to their speech.

A ``Beat`` is one spoken passage (``LessonScene.beat`` records them). Its caption text is
split into caption lines of at most two lines of 42 characters (the broadcast convention),
each shown while its words are spoken: sentences are placed where the voice says them,
and the lines of a sentence share its time by their length.

No Manim here: the production layer turns beats into sound and caption files.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import asdict, dataclass

LINE_CHARS = 42  # characters per caption line
CAPTION_LINES = 2  # lines per caption


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the start of the video the cue belongs to
    end: float
    text: str  # one or two lines, joined by "\n"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Beat:
    start: float  # when its speech starts, seconds from the start of the chapter
    end: float  # when its speech ends (silent lessons: when its caption has been up long enough to read)
    text: str  # what the captions show, e.g. "d_k = d/h"
    spoken: str  # what the voice says, e.g. "d k equals d over h"
    sentences: tuple[float, ...] = ()  # where each spoken sentence ends, seconds from ``start``

    def to_dict(self) -> dict:
        return asdict(self)

    def cues(self) -> list[Cue]:
        """The beat's captions, timed to its speech."""
        duration = self.end - self.start
        written = split_sentences(self.text)
        if len(written) == len(self.sentences) and len(written) > 1:
            bounds = [0.0, *self.sentences[:-1], duration]
            spans = [(sentence, bounds[i], bounds[i + 1]) for i, sentence in enumerate(written)]
        else:  # one sentence, or the voice split them differently: share the whole beat by length
            spans = [(self.text, 0.0, duration)]
        cues = []
        for sentence, a, b in spans:
            pieces = caption_pieces(sentence)
            total = sum(len(p) for p in pieces) or 1
            t = a
            for piece in pieces:
                d = (b - a) * len(piece) / total
                cues.append(Cue(round(self.start + t, 3), round(self.start + t + d, 3), piece))
                t += d
        return cues


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Sentences as the voice splits them (after . ? and !), whitespace collapsed."""
    text = " ".join(text.split())
    return [s for s in _SENTENCE_END.split(text) if s] if text else []


def caption_pieces(sentence: str, line_chars: int = LINE_CHARS, lines: int = CAPTION_LINES) -> list[str]:
    """``sentence`` as captions of at most ``lines`` lines of ``line_chars`` characters, lines joined by "\\n";
    a word longer than a line stays whole.

    Lines are balanced (the narrowest wrap with as many lines), and a sentence of more than one
    caption gets full captions rather than a last one-line scrap.
    """
    text = " ".join(sentence.split())

    def wrap(width: int) -> list[str]:
        return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)

    count = len(wrap(line_chars))
    if count > lines and count % lines:
        count += lines - count % lines
    width = line_chars
    while width > 1 and len(wrap(width - 1)) <= count:
        width -= 1
    wrapped = wrap(width)
    return ["\n".join(wrapped[i:i + lines]) for i in range(0, len(wrapped), lines)]
