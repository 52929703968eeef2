"""LessonConfig: every parameter a course author can set, validated once.

Effective config = defaults <- lesson.toml <- command-line flags:

    >>> cfg = load_config("lesson.toml", heads=2)      # flags override the file
    >>> print(default_toml())                           # the commented default file

Scenes never read flags or files: they read the ``Lesson`` built from this
object. Every problem becomes one ``ConfigError`` sentence that names the key,
the bad value and what is allowed (and the file's line when it came from one);
it is a ``click.UsageError``, so a command that lets it through exits with 2.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import Any, Literal

import click
from annotated_types import Ge, Gt, Le, MaxLen
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from mha_core.sizes import divisors, or_list

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CHAPTER_IDS = (
    "intro",
    "one-head",
    "split-heads",
    "parallel-heads",
    "specialization",
    "head-outputs",
    "concat",
    "output-projection",
    "cost",
    "recap",
)

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

DEFAULT_SENTENCE = "The cat sat down because it was tired."
MAX_SENTENCE_CHARS = 500  # MiniLM reads at most 512 word pieces, [CLS] and [SEP] included
MAX_HEADS = 64


def _split_list(value):
    """'intro, cost' (a flag) -> ('intro', 'cost'); lists pass through."""
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[,\s]+", value) if part)
    return value


class LessonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("Multi-Head Attention: Many Patterns at Once", description="title shown on the intro card")
    sentence: str = Field(
        DEFAULT_SENTENCE, max_length=MAX_SENTENCE_CHARS, description="the sentence every chapter traces"
    )
    chapters: tuple[str, ...] = Field(CHAPTER_IDS, description="chapters to render, in this order")
    model: Literal["toy", "minilm"] = Field(
        "toy", description="model for the mechanics chapters: toy (sized by d_model and heads) or minilm (trained)"
    )
    specialization_model: Literal["toy", "minilm"] = Field(
        "minilm", description="model whose heads the 'heads specialise' chapter shows (trained heads need minilm)"
    )
    layer: int = Field(0, ge=0, le=5, description="MiniLM layer to trace")
    d_model: int = Field(16, ge=1, le=1024, description="model width d of the toy model")
    heads: int = Field(4, ge=1, le=MAX_HEADS, description="number of heads h of the toy model; must divide d_model")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed for the toy model's weights and embeddings")
    causal: bool = Field(False, description="causal mask: each token sees only itself and earlier ones")
    device: str = Field("cpu", description="torch device for the core: cpu, cuda, cuda:N, mps or auto")
    theme: Literal["dark", "light"] = Field("dark", description="colour theme of the videos and the player page")
    pacing: float = Field(1.0, ge=0.1, le=4.0, description="multiplies every animation and wait (2 = half speed)")
    quality: Literal["preview", "low", "medium", "high", "4k"] = Field(
        "medium", description="Manim quality preset (also l, m, h, k): 480p15, 720p30, 1080p60, 2160p60"
    )
    fps: int | None = Field(None, ge=1, le=120, description="frame rate; unset: the quality preset's")
    pixel_height: int | None = Field(None, ge=90, le=4320, description="video height (16:9); unset: the preset's")
    formats: tuple[Literal["mp4", "webm", "gif", "png"], ...] = Field(
        ("mp4",), description="video formats to write: mp4 (H.264), webm (VP9), gif previews, png poster frames"
    )
    out: Path = Field(Path("media"), description="output folder (relative to the current directory)")

    # -- checks that need more than a type and a range -------------------------

    @field_validator("sentence")
    @classmethod
    def _sentence_has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; give a sentence with at least one word")
        return value

    @field_validator("chapters", "formats", mode="before")
    @classmethod
    def _accept_comma_lists(cls, value):
        return _split_list(value)

    @field_validator("chapters")
    @classmethod
    def _known_chapters(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"is empty; list at least one of {or_list(CHAPTER_IDS)}")
        for chapter in value:
            if chapter not in CHAPTER_IDS:
                raise ValueError(f"has unknown chapter {chapter!r}; choose from {or_list(CHAPTER_IDS)}")
            if value.count(chapter) > 1:
                raise ValueError(f"lists {chapter!r} twice; list each chapter once")
        return value

    @field_validator("formats")
    @classmethod
    def _some_format(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"is empty; list at least one of {or_list(FORMATS)}")
        return tuple(dict.fromkeys(value))  # drop repeats, keep order

    @field_validator("quality", mode="before")
    @classmethod
    def _quality_letter(cls, value):
        return QUALITY_LETTERS.get(value, value) if isinstance(value, str) else value

    @field_validator("heads")
    @classmethod
    def _heads_divide_width(cls, heads: int, info: ValidationInfo) -> int:
        d_model = info.data.get("d_model")  # absent when d_model itself was invalid
        if d_model and d_model % heads:
            choices = [h for h in divisors(d_model) if h <= MAX_HEADS]
            raise ValueError(f"does not divide d_model = {d_model}; pick {or_list(choices)}")
        return heads

    @field_validator("device")
    @classmethod
    def _device_name(cls, value: str) -> str:
        if not re.fullmatch(r"cpu|cuda(:\d+)?|mps|auto", value):
            raise ValueError("is not a device; choose cpu, cuda, cuda:N, mps or auto")
        import torch

        # Checked here, before anything renders, rather than when the first chapter builds its model.
        if value.startswith("cuda"):
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise ValueError("asks for CUDA, but this torch sees no CUDA device; use auto or cpu")
            if ":" in value and int(value.split(":")[1]) >= count:
                raise ValueError(f"is not there; this machine has cuda:0 to cuda:{count - 1}")
        if value == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError("asks for Apple's MPS, which is not available here; use auto or cpu")
        return value

    # -- derived ---------------------------------------------------------------

    @property
    def frame_rate(self) -> int:
        return self.fps or QUALITIES[self.quality][2]

    @property
    def height(self) -> int:
        return self.pixel_height or QUALITIES[self.quality][1]

    @property
    def width(self) -> int:
        return round(self.height * 16 / 9 / 2) * 2  # even, as H.264 needs

    def to_toml(self, sources: dict[str, str] | None = None) -> str:
        """The effective config as a TOML file (``sources``: a trailing comment per key)."""
        lines = []
        for key in KNOWN_KEYS:
            value = getattr(self, key)
            note = f"  # {sources[key]}" if sources and key in sources else ""
            if value is None:  # TOML has no null: show what it resolves to, commented out
                lines.append(f"# {key} = {toml_value(_unset_hint(self, key))}  # unset: the quality preset's")
            else:
                lines.append(f"{key} = {toml_value(value)}{note}")
        return "\n".join(lines) + "\n"


KNOWN_KEYS = tuple(LessonConfig.model_fields)


class ConfigError(click.UsageError, ValueError):
    """A bad config value or file, as one sentence (``str(err)``); CLI exit code 2."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key

    def __str__(self) -> str:
        return self.message


# -- loading ---------------------------------------------------------------------


def load_config(path: str | Path | None = None, **overrides: Any) -> LessonConfig:
    """The effective config: defaults <- the TOML file at ``path`` <- ``overrides``.

    Overrides are keyword arguments named like the fields (as CLI flags give them);
    ``None`` and empty tuples mean "not given". Raises ``ConfigError``.
    """
    return load_config_with_sources(path, **overrides)[0]


def load_config_with_sources(path=None, **overrides) -> tuple[LessonConfig, dict[str, str]]:
    """``load_config`` plus where each value came from: "default", the file's name, or "flag"."""
    values, sources, lines = {}, {key: "default" for key in KNOWN_KEYS}, {}
    label = None
    if path is not None:
        label = str(path)
        values, lines = read_toml(path)
        for key in values:
            sources[key] = f"{label} line {lines[key]}" if key in lines else label
    for key, value in overrides.items():
        if value is None or value == ():
            continue
        if key not in KNOWN_KEYS:
            raise ConfigError(_unknown_key(key, "flag"), key=key)
        values[key] = value
        lines.pop(key, None)
        sources[key] = "flag"
    try:
        config = LessonConfig(**values)
    except ValidationError as err:
        raise ConfigError(*_one_sentence(err, values, label, lines)) from None
    return config, sources


def read_toml(path: str | Path) -> tuple[dict, dict[str, int]]:
    """A config file's table and the line each top-level key is on (raises ConfigError)."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {what}; create one with `mha-explainer config init {path}`")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: the file is not UTF-8 text; save it as UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(_toml_syntax_message(path, err)) from None
    lines = {}
    for number, line in enumerate(text.splitlines(), 1):
        if match := re.match(r"""\s*["']?([A-Za-z0-9_-]+)["']?\s*=""", line):
            lines.setdefault(match.group(1), number)
        elif re.match(r"\s*\[", line):
            if match := re.match(r"\s*\[+\s*([A-Za-z0-9_-]+)", line):
                lines.setdefault(match.group(1), number)
            break  # keys inside tables are not top-level keys
    for key in table:
        if key not in KNOWN_KEYS:
            where = f"{path} line {lines[key]}" if key in lines else str(path)
            raise ConfigError(f"{where}: {_unknown_key(key, 'key')}", key=key)
    return table, lines


def _toml_syntax_message(path: Path, err: Exception) -> str:
    text = str(err)
    if match := re.search(r"\s*\(at line (\d+), column (\d+)\)", text):
        where = f"{path} line {match.group(1)}, column {match.group(2)}"
        text = text[: match.start()] + text[match.end() :]
    elif match := re.search(r"\s*\(at end of document\)", text):
        where = f"{path} at the end of the file"
        text = text[: match.start()]
    else:
        where = str(path)
    text = text[:1].lower() + text[1:]
    return f"{where}: {text} (not valid TOML; strings need quotes, e.g. theme = \"light\")"


def _unknown_key(key: str, kind: str) -> str:
    close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {key!r}; {hint}known keys are {or_list(KNOWN_KEYS)}"


# -- pydantic errors -> one sentence ----------------------------------------------


def _one_sentence(err: ValidationError, values: dict, label: str | None, lines: dict) -> tuple[str, str | None]:
    parts, first_key = [], None
    for error in err.errors(include_url=False):
        key = str(error["loc"][0]) if error["loc"] else None
        first_key = first_key or key
        message = _describe(error, key, values)
        if label and key in lines:
            message = f"{label} line {lines[key]}: {message}"
        parts.append(message)
    return "; also ".join(parts), first_key


def _describe(error: dict, key: str | None, values: dict) -> str:
    kind, msg = error["type"], error["msg"]
    if key is None:  # a whole-model check
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return _unknown_key(key, "key")
    shown = f"{key} = {toml_value(values.get(key, error.get('input')))}"
    if len(error["loc"]) > 1:  # one item of a list
        shown = f"{toml_value(error['input'])} in {shown}"
    if kind == "value_error":
        return f"{shown} {msg.removeprefix('Value error, ')}"
    if kind == "literal_error":
        allowed = error["ctx"]["expected"].replace("'", "")
        extra = " (or l, m, h, k)" if key == "quality" else ""
        return f"{shown} is not allowed; choose {allowed}{extra}"
    if kind in {"greater_than", "greater_than_equal", "less_than_equal", "less_than"}:
        return f"{shown} is out of range; pick {_range_text(key)}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{shown} is not a whole number; pick {_range_text(key)}"
    if kind in {"float_parsing", "float_type"}:
        return f"{shown} is not a number; pick {_range_text(key)}"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{shown} is not true or false"
    if kind in {"string_type"}:
        return f"{shown} is not text; put it in quotes"
    if kind == "string_too_long":
        return f"{key} is {len(str(error['input']))} characters long; keep it to {_max_len(key)} or fewer"
    if kind in {"tuple_type", "list_type"}:
        return f"{shown} is not a list; write e.g. {key} = {toml_value(LessonConfig.model_fields[key].default)}"
    if kind in {"path_type"}:
        return f"{shown} is not a folder path; put it in quotes"
    return f"{shown}: {msg}"


def _range_text(key: str) -> str:
    low = high = None
    low_open = False
    for item in LessonConfig.model_fields[key].metadata:
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Gt):
            low, low_open = item.gt, True
        elif isinstance(item, Le):
            high = item.le
    if low is not None and high is not None:
        return f"more than {low} up to {high}" if low_open else f"{low} to {high}"
    return f"{low} or more" if low is not None else f"at most {high}"


def _max_len(key: str) -> int | None:
    return next((m.max_length for m in LessonConfig.model_fields[key].metadata if isinstance(m, MaxLen)), None)


# -- writing TOML ------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A value as TOML writes it (also how messages quote the user's values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Path):
        value = value.as_posix()
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    return repr(value)


def _unset_hint(config: LessonConfig, key: str):
    """What an unset optional key resolves to, to show next to it."""
    return {"fps": config.frame_rate, "pixel_height": config.height}[key]


_SECTIONS = {
    "title": "What the lesson shows",
    "model": "The model traced (every number on screen is computed by it)",
    "theme": "Look and timing",
    "quality": "Output",
}


def _allowed(key: str) -> str | None:
    field = LessonConfig.model_fields[key]
    if key == "chapters":
        return f"any of {', '.join(CHAPTER_IDS)}, in the order to play"
    if key == "formats":
        return f"any of {', '.join(FORMATS)}"
    if key == "quality":
        return ", ".join(QUALITIES) + " (or l, m, h, k)"
    if key == "heads":
        return f"1 to {MAX_HEADS}, a divisor of d_model"
    args = getattr(field.annotation, "__args__", ())
    if args and all(isinstance(a, str) for a in args):
        return ", ".join(args)
    if any(isinstance(m, (Ge, Gt, Le)) for m in field.metadata):
        return _range_text(key)
    return None


def default_toml() -> str:
    """The commented default lesson.toml that ``config init`` writes.

    Reading it back with ``load_config`` gives exactly the defaults.
    """
    defaults = LessonConfig()
    out = [
        "# mha-explainer lesson config.",
        "# Effective config = these values <- command-line flags (flags win).",
        "# Render with:  mha-explainer render --config lesson.toml",
        "# Check with:   mha-explainer config show --config lesson.toml",
    ]
    for key in KNOWN_KEYS:
        if key in _SECTIONS:
            out += ["", f"# --- {_SECTIONS[key]} " + "-" * max(3, 70 - len(_SECTIONS[key]))]
        field = LessonConfig.model_fields[key]
        out.append("")
        out.append(f"# {field.description}" if field.description else f"# {key}")
        if allowed := _allowed(key):
            out.append(f"# allowed: {allowed}")
        value = getattr(defaults, key)
        if value is None:
            out.append(f"# {key} = {toml_value(_unset_hint(defaults, key))}")
        else:
            out.append(f"{key} = {toml_value(value)}")
    return "\n".join(out) + "\n"


def write_default_toml(path: str | Path, force: bool = False) -> Path:
    """Write ``default_toml()`` to ``path`` (via a temp name); refuse to overwrite unless ``force``."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name such as {path / 'lesson.toml'}")
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise ConfigError(f"folder {path.parent} does not exist; create it first")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(default_toml(), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- command-line flags ------------------------------------------------------------

# flag -> (field, short option, extra click settings); help texts come from the fields.
_FLAGS = {
    "--title": ("title", None, {}),
    "--sentence": ("sentence", "-s", {}),
    "--chapters": ("chapters", None, {"metavar": "ID,ID,..."}),
    "--model": ("model", None, {"type": click.Choice(["toy", "minilm"])}),
    "--specialization-model": ("specialization_model", None, {"type": click.Choice(["toy", "minilm"])}),
    "--layer": ("layer", None, {"type": int}),
    "--d-model": ("d_model", "-d", {"type": int}),
    "--heads": ("heads", None, {"type": int}),
    "--seed": ("seed", None, {"type": int}),
    "--causal/--no-causal": ("causal", None, {"default": None}),
    "--device": ("device", None, {}),
    "--theme": ("theme", None, {"type": click.Choice(["dark", "light"])}),
    "--pacing": ("pacing", None, {"type": float}),
    "--quality": ("quality", "-q", {"type": click.Choice([*QUALITIES, *QUALITY_LETTERS])}),
    "--fps": ("fps", None, {"type": int}),
    "--pixel-height": ("pixel_height", None, {"type": int}),
    "--format": ("formats", None, {"type": click.Choice(FORMATS), "multiple": True, "help_suffix": " (repeat for several)"}),
    "--out": ("out", "-o", {"type": click.Path(path_type=Path, file_okay=False)}),
}


def lesson_options(command):
    """Add ``--config FILE`` and one flag per LessonConfig field to a click command.

    The command receives ``config_file`` and keyword arguments named like the fields
    (``None`` / ``()`` when not given), ready for ``load_config(config_file, **overrides)``.
    """
    for flag, (key, short, extra) in reversed(list(_FLAGS.items())):
        extra = dict(extra)
        suffix = extra.pop("help_suffix", "")
        decls = [flag, key] if short is None else [flag, short, key]
        description = LessonConfig.model_fields[key].description or key
        help_text = description[:1].upper() + description[1:] + suffix + "."
        if any(isinstance(m, (Ge, Gt, Le)) for m in LessonConfig.model_fields[key].metadata):
            help_text += f" Range: {_range_text(key)}."
        command = click.option(*decls, default=extra.pop("default", None), help=help_text, **extra)(command)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="lesson.toml to read (flags override it); write one with `mha-explainer config init`.",
    )(command)
