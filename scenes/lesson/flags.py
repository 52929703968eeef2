"""The command-line flag of each LessonConfig key, and its help and choices, read from the field.

    >>> FLAGS["--heads"]                  # flag -> (key, short option, kind)
    ('heads', None, 'int')
    >>> flag_help("heads")
    'Number of heads h of the toy model; must divide d_model. Range: 1 to 64. Default: 4.'

cli.py turns each entry into a click option (``lesson_options``); there is no click here. Every key has
exactly one flag or is in ``FILE_ONLY`` with the reason (tests/test_config.py checks both ways).
"""

from __future__ import annotations

from .config import LessonConfig
from .config_errors import has_range, range_text
from .quality import FORMATS, QUALITIES, QUALITY_LETTERS
from .toml_io import toml_value

# flag -> (key, short option, kind). kind: "text", "int", "float", "auto-int" (a number or "auto"), "choice" (the
# field's allowed values), "switch" (--x/--no-x), "multiple" (repeatable choice), "folder".
FLAGS = {
    "--title": ("title", None, "text"),
    "--sentence": ("sentence", "-s", "text"),
    "--chapters": ("chapters", None, "text"),
    "--model": ("model", None, "choice"),
    "--specialization-model": ("specialization_model", None, "choice"),
    "--layer": ("layer", None, "auto-int"),
    "--head": ("head", None, "auto-int"),
    "--d-model": ("d_model", "-d", "int"),
    "--heads": ("heads", None, "int"),
    "--seed": ("seed", None, "int"),
    "--causal/--no-causal": ("causal", None, "switch"),
    "--device": ("device", None, "text"),
    "--theme": ("theme", None, "choice"),
    "--accent": ("accent", None, "text"),  # one colour; a table of one per theme only in a lesson.toml
    "--font": ("font", None, "text"),
    "--course": ("course", None, "text"),
    "--logo": ("logo", None, "text"),  # a path, checked by the config (one sentence, not click's)
    "--pacing": ("pacing", None, "float"),
    "--quality": ("quality", "-q", "choice"),
    "--fps": ("fps", None, "int"),
    "--pixel-height": ("pixel_height", None, "int"),
    "--format": ("formats", None, "multiple"),
    "--voice": ("voice", None, "text"),
    "--script": ("script", None, "folder"),
    "--burn-captions/--no-burn-captions": ("burn_captions", None, "switch"),
    "--scorm/--no-scorm": ("scorm", None, "switch"),
    "--out": ("out", "-o", "folder"),
    "--cache": ("cache", None, "text"),
    "--cache-size": ("cache_size", None, "float"),
}

#: More flags of a key that set it to one value each, beside its own flag: flag -> (key, value, help). click makes
#: them one feature switch with the key's flag (the last one given wins).
VALUE_FLAGS: dict[str, tuple[str, object, str]] = {
    "--scorm-lean": ("scorm", "lean", 'Write lesson-scorm.zip lean: the joined lesson video, its captions and the '
                                      'player page only, no chapter videos, thumbnails or tensor files (scorm = '
                                      '"lean").'),
}

#: Keys set only in a lesson.toml, with the reason they have no flag: key -> reason.
FILE_ONLY: dict[str, str] = {
    "outro": "a table of three lines (author, licence, link), which a lesson.toml writes as outro = {...} or [outro]",
    "chapter_pacing": "a table of chapter id = pacing, which a lesson.toml writes as chapter_pacing = {...} or "
                      "[chapter_pacing]",
}

#: The keys ``inspect`` takes: the model it traces, nothing about the video.
MODEL_KEYS = ("sentence", "model", "layer", "head", "d_model", "heads", "seed", "causal", "device")

KINDS = ("text", "int", "float", "auto-int", "choice", "switch", "multiple", "folder")


def flag_of(key: str) -> str | None:
    """The flag that sets ``key`` ("--d-model"), or None for a key set only in a file."""
    return next((flag for flag, (k, _, _) in FLAGS.items() if k == key), None)


def flag_choices(key: str) -> tuple[str, ...]:
    """The values a choice flag accepts."""
    if key == "quality":
        return (*QUALITIES, *QUALITY_LETTERS)
    if key == "formats":
        return FORMATS
    return tuple(LessonConfig.model_fields[key].annotation.__args__)


def flag_help(key: str) -> str:
    """A flag's help text, from the field: what it is, its range and its default."""
    field = LessonConfig.model_fields[key]
    description = field.description or key
    suffix = " (repeat for several)" if key == "formats" else ""
    text = description[:1].upper() + description[1:] + suffix + "."
    if has_range(field):
        text += f" Range: {range_text(field)}."
    default = field.default
    if isinstance(default, (str, int, float)) and not isinstance(default, bool) and key != "title":
        text += f" Default: {toml_value(default) if key == 'sentence' else default}."
    return text


__all__ = ["FILE_ONLY", "FLAGS", "VALUE_FLAGS", "KINDS", "MODEL_KEYS", "flag_choices", "flag_help", "flag_of"]
