"""Text an author gives the lesson (its title, its sentence): read as typed, and refused when the lesson cannot draw it.

    >>> drawable_text("Cafe\\u0301 noir")       # NFC: one character for "é"
    'Café noir'

Each check raises ``ValueError`` with the rest of a sentence that starts ``key = "value" ...``, as the config's
error messages put it (``config_errors``).
"""

from __future__ import annotations

import os
import unicodedata

from .fonts import FONT, FontError, is_right_to_left, undrawable


def text_from_argv(value):
    """A flag's text as the user typed it, even in a C/POSIX locale.

    There Python decodes the command line as ASCII, keeping each other byte as a lone
    surrogate ("café" arrives as "caf\\udcc3\\udca9"); the bytes are UTF-8 almost always.
    """
    if not isinstance(value, str) or value.isascii():
        return value
    try:
        raw = os.fsencode(value)
    except UnicodeEncodeError:
        return value  # real non-ASCII text, no escaped bytes: nothing to repair
    if raw == value.encode("utf-8", "surrogatepass"):
        return value
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text; type it in a UTF-8 terminal or put it in a lesson.toml") from None


def drawable_text(value: str) -> str:
    """``value`` in NFC, unless it holds what no font can draw in the lesson; else ``ValueError`` with the rest of a
    sentence that starts ``key = "value" ...``: invisible control or format characters (named as U+XXXX),
    right-to-left scripts. Whether the lesson's font has a glyph for each character: ``font_problem``, which the
    config asks once it knows the font.
    """
    hidden = [c for c in dict.fromkeys(value) if unicodedata.category(c) in {"Cc", "Cf"}]
    if hidden:
        raise ValueError(f"has invisible control characters: {_char_list(hidden, show=False)}; remove them")
    value = unicodedata.normalize("NFC", value)
    right_to_left = [c for c in dict.fromkeys(value) if is_right_to_left(c)]
    if right_to_left:
        raise ValueError(f"has right-to-left characters: {_char_list(right_to_left)}; right-to-left scripts are "
                         "not supported yet, so use a left-to-right script such as Latin, Greek or Cyrillic")
    return value


def font_problem(value: str, family: str = FONT) -> str | None:
    """The rest of a sentence that starts ``key = "value" ...`` when ``family`` lacks a glyph of ``value`` (or
    cannot be read), else None."""
    try:
        missing = undrawable(value, family)
    except FontError as err:
        return f"has non-ASCII characters, but {err}"
    if not missing:
        return None
    instead = "use Latin, Greek or Cyrillic letters" if family == FONT else \
        f"pick a font that has them (fc-list ':charset={ord(missing[0]):x}' family lists those installed), or " \
        "other letters"
    return f"has characters the lesson's font ({family}) cannot draw: {_char_list(missing)}; {instead}"


def _char_list(chars, show: bool = True, most: int = 5) -> str:
    def one(c: str) -> str:
        code = f"U+{ord(c):04X}"
        name = unicodedata.name(c, "")
        return f"{c} ({code})" if show else f"{code} ({name})" if name else code

    listed = ", ".join(one(c) for c in chars[:most])
    return listed + (f" and {len(chars) - most} more" if len(chars) > most else "")
