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


# Caption lines break at phrase boundaries where they can: after a comma, colon or semicolon, or before a word that
# opens a phrase; a line never ends on a word that needs the next one (an article, a preposition).
OPENS_A_PHRASE = frozenset("and but or so because while when where which that than to of in on for with from "
                           "into each every not then".split())
NEEDS_THE_NEXT = frozenset("a an the of to in on into onto for with from by at than and or but that which because its "
                           "their his her this these those".split())
PHRASE_BREAK = 0  # cost of a line break after ",", ";", ":" or before a word that opens a phrase
PLAIN_BREAK = 60  # ... between two other words
BAD_BREAK = 400  # ... after a word that needs the next one


def caption_pieces(sentence: str, line_chars: int = LINE_CHARS, lines: int = CAPTION_LINES) -> list[str]:
    """``sentence`` as captions of at most ``lines`` lines of ``line_chars`` characters, lines joined by "\\n";
    a word longer than a line stays whole.

    As few lines as the width allows (a sentence of more than one caption gets full captions rather than a last
    one-line scrap), broken at phrase boundaries where that keeps them roughly balanced: the breaks minimise the
    squared difference of each line from the mean length plus a cost per break (``PHRASE_BREAK``,
    ``PLAIN_BREAK``, ``BAD_BREAK``).
    """
    text = " ".join(sentence.split())
    words = text.split(" ") if text else []
    count = len(textwrap.wrap(text, width=line_chars, break_long_words=False, break_on_hyphens=False))
    if count > lines and count % lines:
        count += lines - count % lines
    wrapped = _phrase_lines(words, count, line_chars) if count > 1 else [text]
    return ["\n".join(wrapped[i:i + lines]) for i in range(0, len(wrapped), lines)]


def _break_cost(before: str, after: str) -> int:
    if before[-1] in ",;:" or after.lower() in OPENS_A_PHRASE:
        return PHRASE_BREAK
    return BAD_BREAK if before.lower() in NEEDS_THE_NEXT else PLAIN_BREAK


def _phrase_lines(words: list[str], count: int, width: int) -> list[str]:
    """``words`` in ``count`` lines of at most ``width`` characters (a longer word alone on its line), the breaks
    chosen by the cost of ``caption_pieces``: a dynamic programme over the break positions."""
    n, mean = len(words), (sum(map(len, words)) + len(words) - 1) / count

    def length(i: int, j: int) -> int:  # words[i:j] on one line
        return sum(len(w) for w in words[i:j]) + (j - i - 1)

    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(count + 1)]  # best[k][j]: words[:j] in k lines
    back = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for k in range(1, count + 1):
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                size = length(i, j)
                if size > width and j - i > 1:
                    break
                if best[k - 1][i] == inf:
                    continue
                cost = best[k - 1][i] + (size - mean) ** 2 + (_break_cost(words[j - 1], words[j]) if j < n else 0)
                if cost < best[k][j]:
                    best[k][j], back[k][j] = cost, i
    if best[count][n] == inf:  # cannot happen with count from textwrap; kept as a guard
        return textwrap.wrap(" ".join(words), width=width, break_long_words=False, break_on_hyphens=False)
    out, j = [], n
    for k in range(count, 0, -1):
        i = back[k][j]
        out.append(" ".join(words[i:j]))
        j = i
    return out[::-1]
