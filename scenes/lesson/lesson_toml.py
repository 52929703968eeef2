"""The commented lesson.toml that ``mha-explainer config init`` writes: every key, by concern, with what it is.

    write_default_toml("lesson.toml")    # default_toml(): a section per concern (config.SECTIONS), a comment per key

Reading it back with ``load_config`` gives exactly the defaults (tests/test_config.py).
"""

from __future__ import annotations

from pathlib import Path

from mha_core.files import FileError, check_output_file, write_file

from .chapters import CHAPTER_IDS
from .config import KNOWN_KEYS, MAX_HEADS, LessonConfig, section_of, unset_hint
from .config_errors import ConfigError, has_range, range_text
from .quality import FORMATS, QUALITIES, QUALITY_LETTERS
from .toml_io import toml_value

HEADER = (
    "# mha-explainer lesson config.",
    "# Effective config = these values <- command-line flags (flags win).",
    "# Render with:  mha-explainer render --config lesson.toml",
    "# Check with:   mha-explainer config show --config lesson.toml",
)


def allowed(key: str) -> str | None:
    """What ``key`` takes, in words, for its comment (None: its description says it)."""
    field = LessonConfig.model_fields[key]
    if key == "chapters":
        return f"any of {', '.join(CHAPTER_IDS)}, in the order to play"
    if key == "formats":
        return f"any of {', '.join(FORMATS)}"
    if key == "quality":
        return ", ".join(QUALITIES) + f" (or {', '.join(QUALITY_LETTERS)})"
    if key == "heads":
        return f"1 to {MAX_HEADS}, a divisor of d_model"
    args = getattr(field.annotation, "__args__", ())
    if args and all(isinstance(a, str) for a in args):
        return ", ".join(args)
    if has_range(field):
        return range_text(field)
    return None


def default_toml() -> str:
    """The commented default lesson.toml that ``config init`` writes.

    Reading it back with ``load_config`` gives exactly the defaults.
    """
    defaults = LessonConfig()
    out = list(HEADER)
    section = None
    for key in KNOWN_KEYS:
        if section_of(key) != section:  # the keys of a concern are together: a header where one starts
            section = section_of(key)
            out += ["", f"# --- {section.title} " + "-" * max(3, 70 - len(section.title))]
        field = LessonConfig.model_fields[key]
        out.append("")
        out.append(f"# {field.description}" if field.description else f"# {key}")
        if text := allowed(key):
            out.append(f"# allowed: {text}")
        value = getattr(defaults, key)
        if value is None:
            out.append(f"# {key} = {toml_value(unset_hint(defaults, key))}")
        else:
            out.append(f"{key} = {toml_value(value)}")
    return "\n".join(out) + "\n"


def write_default_toml(path: str | Path, force: bool = False) -> Path:
    """Write ``default_toml()`` to ``path`` (via a new temporary file); refuse to overwrite unless ``force``,
    and refuse, ``force`` or not, a path that is a folder, device, FIFO, socket or link (mha_core.files)."""
    try:
        path = check_output_file(path, force, "lesson.toml")
        write_file(path, default_toml().encode("utf-8"))
    except FileError as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(f"cannot write {path} ({reason[:1].lower() + reason[1:]}); "
                          "choose a folder you can write to") from None
    return path
