"""LessonConfig: every parameter a course author can set, validated once.

Effective config = defaults <- lesson.toml <- command-line flags:

    >>> cfg = load_config("lesson.toml", heads=2)      # flags override the file
    >>> print(default_toml())                           # the commented default file

Scenes never read flags or files: they read the ``Lesson`` built from this
object. Every problem becomes one ``ConfigError`` sentence that names the key,
the bad value and what is allowed (and the file's line when it came from one);
the CLI turns it into a usage error (exit code 2). No click here: cli.py builds the
flags from ``FLAGS`` and ``flag_help``.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, MaxLen
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mha_core.files import FileError, check_output_file, check_path, read_file, write_file
from mha_core.sizes import MINILM_HEADS, MINILM_LAYERS, divisors, or_list

from .chapters import CHAPTER_IDS
from .fonts import FONT, FontError, is_right_to_left, undrawable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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
MAX_SENTENCE_CHARS = 500  # a bound before any tokenizer runs; LessonConfig._readable counts the word pieces
MAX_TITLE_CHARS = 200  # the intro card's title: a line or two, never megabytes of text to typeset
MAX_CONFIG_BYTES = 1 << 20  # a lesson.toml is a page of key = value lines
MAX_HEADS = 64
# Keys that take a number (numbered from 1, as on screen) or "auto".
AUTO_INT_KEYS = ("layer", "head")
# Options that set up the toy model only (MiniLM has its own width, heads and weights).
TOY_KEYS = ("d_model", "heads", "seed")
# The narrator: these names, or the path of a Piper voice (.onnx, its .onnx.json beside it).
VOICE_CHOICES = ("auto", "joe", "espeak", "none")
# Pacing stretches the speech too (Piper's length scale); outside this range it stops sounding natural.
VOICED_PACING = (0.75, 1.5)

# Strict types: a TOML ``true`` is not the number 1 and ``1`` is not true (a float field
# still takes a whole number: ``pacing = 1``).
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]
StrictBool = Annotated[bool, Strict()]

# The toy model's tokens, as ``mha_core.tokenize`` splits them (mha_core.embeddings._TOKEN; the
# copy keeps config checks free of torch's import, and a test keeps the two the same).
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def _split_list(value):
    """'intro, cost' (a flag) -> ('intro', 'cost'); lists pass through."""
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[,\s]+", value) if part)
    return value


class LessonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("Multi-Head Attention: Many Patterns at Once", max_length=MAX_TITLE_CHARS,
                       description="title shown on the intro card")
    sentence: str = Field(
        DEFAULT_SENTENCE, max_length=MAX_SENTENCE_CHARS, description="the sentence every chapter traces"
    )
    chapters: tuple[str, ...] = Field(CHAPTER_IDS, description="chapters to render, in this order")
    model: Literal["toy", "minilm"] = Field(
        "minilm",
        description="model for the mechanics chapters: minilm (all-MiniLM-L6-v2, trained) or toy (untrained, random "
                    "weights, sized by d_model and heads, for small readable matrices)",
    )
    specialization_model: Literal["toy", "minilm"] = Field(
        "minilm", description="model whose heads the 'heads specialise' chapter shows (trained heads need minilm)"
    )
    layer: Literal["auto"] | StrictInt = Field(
        "auto", description=f"MiniLM layer the mechanics chapters trace, 1 to {MINILM_LAYERS} (numbered from 1, as on "
                            "screen), or auto: the layer of the head chosen for the focus word"
    )
    head: Literal["auto"] | StrictInt = Field(
        "auto", description="head worked through for the focus word, numbered from 1 as on screen, or auto: with "
                            "minilm the head measured to track the focus word's relation (a pronoun: the pronoun -> "
                            "antecedent head), with the toy model head 1"
    )
    d_model: StrictInt = Field(16, ge=1, le=1024, description="model width d of the toy model")
    heads: StrictInt = Field(4, ge=1, le=MAX_HEADS, description="number of heads h of the toy model; must divide d_model")
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="seed for the toy model's weights and embeddings")
    causal: StrictBool = Field(False, description="causal mask: each token sees only itself and earlier ones")
    device: str = Field("cpu", description="torch device for the core: cpu, cuda, cuda:N, mps or auto")
    theme: Literal["dark", "light"] = Field("dark", description="colour theme of the videos and the player page")
    pacing: StrictFloat = Field(
        1.0, ge=0.1, le=4.0,
        description=f"multiplies the length of every animation, wait and sentence (1.25 = a quarter slower); "
                    f"with a voice {VOICED_PACING[0]} to {VOICED_PACING[1]}, where speech stays natural",
    )
    voice: str = Field(
        "auto",
        description="narrator: auto (joe if installed, else espeak-ng, else silent), joe, espeak, none, or a Piper "
                    "voice file (.onnx; in a lesson.toml relative to the file's folder)",
    )
    script: Path | None = Field(
        None,
        description="folder of the lesson's words, as `mha-explainer script export` writes it (a chapter without a "
                    "file there keeps the default words; in a lesson.toml relative to the file's folder); unset: "
                    "the default words",
    )
    burn_captions: StrictBool = Field(
        False, description="draw the captions into the frames too, for platforms that load no caption tracks"
    )
    scorm: StrictBool = Field(
        False, description="also write lesson-scorm.zip, a SCORM 1.2 package of the folder that reports completion to an LMS"
    )
    quality: Literal["preview", "low", "medium", "high", "4k"] = Field(
        "medium", description="Manim quality preset (also l, m, h, k): 480p15, 720p30, 1080p60, 2160p60"
    )
    fps: StrictInt | None = Field(None, ge=1, le=120, description="frame rate; unset: the quality preset's")
    pixel_height: StrictInt | None = Field(
        None, ge=90, le=4320, description="video height (16:9), an even number; unset: the preset's"
    )
    formats: tuple[Literal["mp4", "webm", "gif", "png"], ...] = Field(
        ("mp4",), description="video formats to write: mp4 (H.264), webm (VP9), gif previews, png poster frames"
    )
    out: Path = Field(
        Path("media"),
        description="output folder (in a lesson.toml: relative to the file's folder; as a flag: to the current one)",
    )

    # -- checks that need more than a type and a range -------------------------

    @field_validator("title", "sentence", mode="before")
    @classmethod
    def _text_from_argv(cls, value):
        return text_from_argv(value)

    @field_validator("title", "sentence")
    @classmethod
    def _drawable_text(cls, value: str) -> str:
        return drawable_text(value)

    @field_validator("sentence")
    @classmethod
    def _sentence_has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; give a sentence of at least two words, such as \"The cat sat.\"")
        words = [token for token in _TOKEN.findall(value) if any(c.isalnum() for c in token)]
        if len(words) < 2:
            count = "no words" if not words else "one word"
            raise ValueError(f"has {count}, but attention needs at least two words to attend between; "
                             "give a longer sentence, such as \"Hello world\"")
        return value

    @field_validator(*AUTO_INT_KEYS, mode="before")
    @classmethod
    def _number_or_auto(cls, value, info: ValidationInfo):
        # A flag arrives as text: "3" is the number 3; "auto" stays a word.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ValueError(f"is not a {info.field_name} number; give a whole number (numbered from 1, as on screen) "
                         "or auto")

    @field_validator("layer")
    @classmethod
    def _layer_in_range(cls, value):
        if value != "auto" and not 1 <= value <= MINILM_LAYERS:
            raise ValueError(f"is out of range; pick 1 to {MINILM_LAYERS} (layers are numbered from 1, as on screen) "
                             "or auto")
        return value

    @field_validator("voice", mode="before")
    @classmethod
    def _voice_name_or_file(cls, value):
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, str) and value not in VOICE_CHOICES and not value.endswith(".onnx"):
            raise ValueError(f"is not a voice; choose {', '.join(VOICE_CHOICES)} or the path of a Piper voice file "
                             "(.onnx)")
        return value

    @model_validator(mode="after")
    def _voice_path_length(self):
        # A name or path the system cannot open: said now, not as ENAMETOOLONG when the voice is looked for.
        if self.voice not in VOICE_CHOICES:
            try:
                check_path(self.voice)
            except FileError as err:
                raise ValueError(f"voice: {err}") from None
        return self

    @model_validator(mode="after")
    def _options_of_the_models_used(self):
        """An option of a model the lesson does not use is a mistake, not something to ignore silently.
        (Values equal to their default do not count: a full lesson.toml lists every key.)"""
        models = {self.model, self.specialization_model}
        changed = {key for key in self.model_fields_set if getattr(self, key) != type(self).model_fields[key].default}
        if self.model == "minilm" and self.causal:
            raise ValueError('MiniLM is a bidirectional encoder: causal = true applies to the toy model only; '
                             'drop it or set model = "toy"')
        toy_only = [key for key in TOY_KEYS if key in changed]
        if toy_only and "toy" not in models:
            raise ValueError(f"{toy_only[0]} = {getattr(self, toy_only[0])} sets up the toy model, which this lesson "
                             'does not use (MiniLM has its own width, heads and weights); drop it or set model = "toy"')
        if "layer" in changed and self.model != "minilm":
            raise ValueError(f"layer = {self.layer} picks a MiniLM layer, but the mechanics chapters use the toy "
                             'model; drop it or set model = "minilm"')
        n_head = MINILM_HEADS if self.model == "minilm" else self.heads
        if self.head != "auto" and not 1 <= self.head <= n_head:
            which = "all-MiniLM-L6-v2 has" if self.model == "minilm" else f"the toy model has heads = {self.heads}, so"
            raise ValueError(f"head = {self.head} is out of range: {which} heads 1 to {n_head} (numbered from 1, as "
                             "on screen); pick one of them or auto")
        return self

    @model_validator(mode="after")
    def _readable(self):
        """A sentence MiniLM cannot read whole is refused here, by config show, inspect and render alike:
        its sentence embedding (the mechanics chapters' failure trap) reads at most 256 word pieces, its
        encoder (the gallery's trace) 512. Counted with the model's own tokenizer (no torch)."""
        if "minilm" not in (self.model, self.specialization_model):
            return self
        from mha_core.minilm_files import MODEL_NAME, word_piece_limits, word_pieces

        encoder, embedding = word_piece_limits()
        limit, what = (embedding, "sentence embedding") if self.model == "minilm" else (encoder, "encoder")
        count = word_pieces(self.sentence)  # None: the tokenizer is damaged, and loading the model will say so
        if count is not None and count > limit:
            raise ValueError(f"the sentence is {count} word pieces for {MODEL_NAME}, whose {what} reads at most "
                             f"{limit} ([CLS] and [SEP] included); shorten it")
        return self

    @model_validator(mode="after")
    def _natural_pacing(self):
        low, high = VOICED_PACING
        if self.voice != "none" and not low <= self.pacing <= high:
            raise ValueError(
                f"pacing {self.pacing} is outside {low} to {high}, where the voice stays natural; "
                f"choose a pacing in that range, or voice none for a silent lesson at any pacing")
        return self

    @field_validator("pixel_height")
    @classmethod
    def _even_height(cls, value: int | None) -> int | None:
        if value is not None and value % 2:
            raise ValueError(f"is odd, but H.264 needs an even height; pick {value - 1} or {value + 1}")
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
        if value in {"cpu", "auto"}:
            return value  # always there: no need to pay for torch's import
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
            if key in ("out", "script") and value is not None:  # the same folder wherever the text is read again
                value = Path(os.path.abspath(value))
            note = f"  # {sources[key]}" if sources and key in sources else ""
            if value is None:  # TOML has no null: show what it resolves to, commented out
                unset = "the default words" if key == "script" else "the quality preset's"
                lines.append(f"# {key} = {toml_value(_unset_hint(self, key))}  # unset: {unset}")
            else:
                lines.append(f"{key} = {toml_value(value)}{note}")
        return "\n".join(lines) + "\n"


KNOWN_KEYS = tuple(LessonConfig.model_fields)


# -- text the lesson draws ---------------------------------------------------------


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
    """``value`` in NFC, if the lesson can draw it; else ``ValueError`` with the rest of a sentence
    that starts ``key = "value" ...``: invisible control or format characters (named as U+XXXX),
    right-to-left scripts, characters without a glyph in the lesson's font.
    """
    hidden = [c for c in dict.fromkeys(value) if unicodedata.category(c) in {"Cc", "Cf"}]
    if hidden:
        raise ValueError(f"has invisible control characters: {_char_list(hidden, show=False)}; remove them")
    value = unicodedata.normalize("NFC", value)
    try:
        missing = undrawable(value)
    except FontError as err:
        raise ValueError(f"has non-ASCII characters, but {err}") from None
    if not missing:
        return value
    right_to_left = [c for c in missing if is_right_to_left(c)]
    if right_to_left:
        raise ValueError(f"has right-to-left characters: {_char_list(right_to_left)}; right-to-left scripts are "
                         "not supported yet, so use a left-to-right script such as Latin, Greek or Cyrillic")
    raise ValueError(f"has characters the lesson's font ({FONT}) cannot draw: {_char_list(missing)}; "
                     "use Latin, Greek or Cyrillic letters")


def _char_list(chars, show: bool = True, most: int = 5) -> str:
    def one(c: str) -> str:
        code = f"U+{ord(c):04X}"
        name = unicodedata.name(c, "")
        return f"{c} ({code})" if show else f"{code} ({name})" if name else code

    listed = ", ".join(one(c) for c in chars[:most])
    return listed + (f" and {len(chars) - most} more" if len(chars) > most else "")


class ConfigError(ValueError):
    """A bad config value or file, as one sentence (``str(err)``); the CLI exits with 2."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.message = message
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
        if isinstance(values.get("out"), str):  # the file's folder, not the current one, is where it points from
            values["out"] = Path(path).parent / Path(values["out"]).expanduser()
        if isinstance(values.get("script"), str):  # the scripts' folder: the same
            values["script"] = Path(path).parent / Path(values["script"]).expanduser()
        if isinstance(values.get("voice"), str) and values["voice"].endswith(".onnx"):  # a voice file: the same
            values["voice"] = str(Path(path).parent / Path(values["voice"]).expanduser())
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
    try:
        path = check_path(path)  # a name or path too long for the system: one sentence, not ENAMETOOLONG
        if path.is_dir():
            raise ConfigError(f"config file {path} is a folder; create one with `mha-explainer config init {path}`")
        # A regular file of at most 1 MiB: a device, FIFO or socket is never read (no hang, no endless /dev/zero).
        data = read_file(path, MAX_CONFIG_BYTES, "config file")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create one with `mha-explainer config init {path}`") \
            from None
    except FileError as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        raise ConfigError(f"cannot read the config file {path} ({err.strerror or err}); check its permissions") from None
    try:
        text = data.decode("utf-8-sig")  # a byte order mark (some Windows editors write one) is not part of the text
    except UnicodeDecodeError as err:
        line = data.removeprefix(b"\xef\xbb\xbf")[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: the file is not UTF-8 text; save it as UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(_toml_syntax_message(path, err)) from None
    except RecursionError:  # tomllib recurses once per nested array or table
        raise ConfigError(f"{path} nests arrays or tables too deeply to read; a lesson.toml holds plain key = value "
                          "lines, as `mha-explainer config init` writes them") from None
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
    return f"{where}: {text} (not valid TOML; strings need quotes, as in theme = \"light\")"


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
        if key is None and (named := re.match(r"(\w+) = ", message)) and named.group(1) in KNOWN_KEYS:
            key = named.group(1)  # a check across keys names the key it is about first: point at its line
            first_key = first_key or key
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
    value = values.get(key, error.get("input"))
    if key in AUTO_INT_KEYS and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # a number typed as a flag is shown as the number it means
    try:
        value = text_from_argv(value)  # "café" typed in a C locale is shown as typed
    except ValueError:
        pass
    shown = f"{key} = {toml_value(value)}"
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
        return f"{shown} is not a list; write it as {key} = {toml_value(LessonConfig.model_fields[key].default)}"
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
    return {"fps": config.frame_rate, "pixel_height": config.height, "script": "my-scripts"}[key]


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


# -- command-line flags ------------------------------------------------------------

# The command-line flag of each key: flag -> (key, short option, kind); cli.py turns them into
# click options. kind: "text", "int", "float", "auto-int" (a number or "auto"), "choice" (the field's allowed values),
# "switch" (--x/--no-x), "multiple" (repeatable choice), "folder".
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
}

#: The keys ``inspect`` takes: the model it traces, nothing about the video.
MODEL_KEYS = ("sentence", "model", "layer", "head", "d_model", "heads", "seed", "causal", "device")


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
    if any(isinstance(m, (Ge, Gt, Le)) for m in field.metadata):
        text += f" Range: {_range_text(key)}."
    default = field.default
    if isinstance(default, (str, int, float)) and not isinstance(default, bool) and key != "title":
        text += f" Default: {toml_value(default) if key == 'sentence' else default}."
    return text
