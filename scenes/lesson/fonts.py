"""The lesson's font, and which characters of a text it cannot draw (no Manim, no torch).

Every text a scene draws uses the Pango family ``FONT``. Pango would quietly draw a
character the font lacks with some other font (or as a box), and it would draw
right-to-left text in reading order while the lesson puts each word in its own box,
left to right: either way the video would show something other than the sentence.
``undrawable`` finds those characters so that the config can refuse the text in one
sentence before anything renders.

    >>> undrawable("Le café est fermé.")
    ()
    >>> undrawable("猫が座った")
    ('猫', 'が', '座', 'っ', 'た')

Only text with non-ASCII characters costs anything: the font's character map is read
once per process (fontTools), found with fontconfig's ``fc-match``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import unicodedata
from pathlib import Path

FONT = "DejaVu Sans"  # Pango name; the only sans family guaranteed on the render machines
MONO = "DejaVu Sans Mono"  # the numbers' font, whatever the words' font: fixed width keeps matrix columns aligned

# Where Debian and Ubuntu's fonts-dejavu-core put it: used when fontconfig is not installed.
FALLBACK_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# Characters the chapters draw in the lesson's font from their code rather than from words (a list's bullet): the
# font check asks an author's font for them too (tests/test_author_look.py keeps this list whole). Mathematical
# symbols (a matrix's elided rows: ⋮ ⋯ ⋱) are always drawn in ``FONT``, which has them (``parts.text(symbol=True)``).
DRAWN_BY_CODE = "•"

# Bidirectional classes of right-to-left text: letters (R, AL), Arabic digits (AN) and the
# embedding, override and isolate controls that start right-to-left runs.
RIGHT_TO_LEFT = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI"})


class FontError(RuntimeError):
    """The lesson's font cannot be found, so what it can draw is unknown (one sentence)."""


def is_right_to_left(char: str) -> bool:
    """True for a character of a right-to-left script (Arabic, Hebrew, Syriac, Thaana, N'Ko, ...)."""
    return unicodedata.bidirectional(char) in RIGHT_TO_LEFT


def undrawable(text: str, family: str = FONT) -> tuple[str, ...]:
    """The characters of ``text`` the lesson cannot draw, each once, in order of appearance.

    These are the right-to-left characters and those without a glyph in ``family``'s
    character map (not spaces: Pango draws a space of any width whatever the font). ASCII text
    returns ``()`` at once (no font is read). Raises ``FontError`` when the font cannot be found.
    """
    if text.isascii():
        return ()
    found = []
    cmap = None
    for char in dict.fromkeys(text):
        if char.isascii() or unicodedata.category(char) == "Zs":
            continue
        if is_right_to_left(char):
            found.append(char)
            continue
        if cmap is None:
            cmap = font_cmap(family)
        if ord(char) not in cmap:
            found.append(char)
    return tuple(found)


@functools.lru_cache(maxsize=4)
def font_cmap(family: str = FONT) -> frozenset[int]:
    """The code points ``family`` has a glyph for (its best Unicode cmap). Raises ``FontError``."""
    path = font_file(family)
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        raise FontError("the Python package fonttools is missing, so the lesson's font cannot be read; "
                        "install it with `pip install fonttools`") from None
    try:
        font = TTFont(str(path), lazy=True)
        try:
            cmap = font["cmap"].getBestCmap() or {}
        finally:
            font.close()
    except Exception as err:  # noqa: BLE001 - a damaged or unreadable font file, whatever fontTools says
        raise FontError(f"the font file {path} cannot be read ({type(err).__name__}); "
                        f"reinstall the font {family!r} (Debian: apt install --reinstall fonts-dejavu-core)") from None
    return frozenset(cmap)


@functools.lru_cache(maxsize=4)
def font_file(family: str = FONT) -> Path:
    """The file fontconfig uses for ``family``; raises ``FontError`` when it is not installed.

    Without fontconfig (no ``fc-match``), the usual Debian path is used if it is there.
    """
    install = f"install the font {family!r} (Debian: apt install fonts-dejavu-core)" if family == FONT else \
        "install it, or pick an installed family (fc-list : family lists them)"
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        if family == FONT and FALLBACK_FILE.is_file():
            return FALLBACK_FILE
        raise FontError(f"fontconfig (fc-match) is not installed and {FALLBACK_FILE} is not there, so the lesson's "
                        f"font {family!r} cannot be found; install fontconfig and the font "
                        "(Debian: apt install fontconfig fonts-dejavu-core)")
    try:
        answer = subprocess.run([fc_match, "-f", "%{family}\n%{file}", family], capture_output=True, text=True,
                                encoding="utf-8", errors="replace", timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise FontError(f"fc-match {family!r} failed ({type(err).__name__}), so the lesson's font cannot be found; "
                        "check that fontconfig works") from None
    families, _, file = answer.partition("\n")
    # fontconfig always answers with some font: when the family is missing, with another one.
    if family.casefold() not in (name.strip().casefold() for name in families.split(",")):
        raise FontError(f"the lesson's font {family!r} is not installed (fontconfig offers "
                        f"{families.split(',')[0] or 'nothing'} instead); {install}")
    path = Path(file.strip())
    if not path.is_file():
        raise FontError(f"fontconfig names {path} for the font {family!r}, but that file is not there; {install}")
    return path
