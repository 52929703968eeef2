"""LessonConfig: every parameter a course author can set, by concern, validated once; and loading it.

Effective config = defaults <- lesson.toml <- command-line flags:

    >>> cfg = load_config("lesson.toml", heads=2)      # flags override the file
    >>> section_of("voice").title                       # the concern a key belongs to, and lesson.toml's header
    'The narration: its voice, its words, its captions'

Scenes never read flags or files: they read the ``Lesson`` built from this object. Every problem becomes
one ``ConfigError`` sentence that names the key, the bad value and what is allowed (and the file's line
when it came from one); the CLI turns it into a usage error (exit code 2). No click here.

The jobs around the settings model live beside it: ``quality`` (the video presets), ``author_text`` (the
title and sentence as typed, and drawable), ``config_errors`` (a mistake in one sentence), ``toml_io``
(TOML values and lines), ``lesson_toml`` (the commented file ``config init`` writes) and ``flags`` (the
command-line flag of each key, which cli.py turns into click options). The names other modules import
from here are re-exported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from mha_core.files import FileError, check_path
from mha_core.sizes import MINILM_HEADS, MINILM_LAYERS, divisors, or_list

from . import colours
from .author_text import drawable_text, font_problem, text_from_argv
from .chapters import CHAPTER_IDS, OUTRO_ID, chapter_number
from .fonts import DRAWN_BY_CODE, FONT, MONO, FontError, font_file
from .config_errors import ConfigError, one_sentence, unknown_key
from .logo import MAX_LOGO_BYTES, LogoError, read_logo
from .quality import FORMATS, QUALITIES, QUALITY_LETTERS, preset_height, preset_rate, width_for
from .toml_io import read_toml_file, toml_value, tomllib, top_level_lines

__all__ = [
    # the settings model and loading it
    "LessonConfig", "KNOWN_KEYS", "SECTIONS", "Section", "section_of", "load_config", "load_config_with_sources",
    "read_toml", "unset_hint", "default_cache", "WHERE_KEYS",
    # its limits and choices
    "Accent", "AUTO_INT_KEYS", "DEFAULT_SENTENCE", "MAX_CONFIG_BYTES", "MAX_COURSE_CHARS", "OUTRO_FIELDS", "Outro", "MAX_HEADS", "MAX_SENTENCE_CHARS", "MAX_TITLE_CHARS",
    "TOY_KEYS", "VOICE_CHOICES", "VOICED_PACING", "PACING_RANGE", "CHAPTER_IDS",
    # re-exported from the modules beside it
    "ConfigError", "FORMATS", "QUALITIES", "QUALITY_LETTERS", "drawable_text", "text_from_argv", "toml_value",
    "tomllib",
]

DEFAULT_SENTENCE = "The cat sat down because it was tired."
MAX_SENTENCE_CHARS = 500  # a bound before any tokenizer runs; LessonConfig._readable counts the word pieces
MAX_TITLE_CHARS = 200  # the intro card's title: a line or two, never megabytes of text to typeset
MAX_COURSE_CHARS = 120  # the course's name: one line over the title
MAX_FONT_CHARS = 100  # a font family's name
# The closing card's lines (``outro``): each one line of the card, the link a web address or a short name.
OUTRO_FIELDS = {"author": 120, "licence": 120, "link": 200}
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
PACING_RANGE = (0.1, 4.0)  # pacing's range in a silent lesson (and each chapter_pacing value's)

# Strict types: a TOML ``true`` is not the number 1 and ``1`` is not true (a float field
# still takes a whole number: ``pacing = 1``).
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]
StrictBool = Annotated[bool, Strict()]

# The toy model's tokens, as ``mha_core.tokenize`` splits them (mha_core.embeddings._TOKEN; the
# copy keeps config checks free of torch's import, and a test keeps the two the same).
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


# -- the concerns: each key belongs to one, named in its field; lesson.toml has a section per concern ---------


@dataclass(frozen=True)
class Section:
    """A concern of the config: its keys are together in ``LessonConfig``; ``title`` heads them in lesson.toml."""

    id: str
    title: str


TEACH = Section("teach", "What the lesson shows")
MODEL = Section("model", "The model traced (every number on screen is computed by it)")
LOOK = Section("look", "Look and timing")
VOICE = Section("voice", "The narration: its voice, its words, its captions")
OUTPUT = Section("output", "Output")
SECTIONS = (TEACH, MODEL, LOOK, VOICE, OUTPUT)  # in the order of the fields


def _setting(section: Section, default: Any, description: str, **checks: Any) -> Any:
    """A field of ``section``: its default, what it is (a flag's help, a comment in lesson.toml), its checks."""
    return Field(default, description=description, json_schema_extra={"section": section.id}, **checks)


def _split_list(value):
    """'intro, cost' (a flag) -> ('intro', 'cost'); lists pass through."""
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[,\s]+", value) if part)
    return value


class Outro(BaseModel):
    """The closing card: who made the lesson, under which licence, where to find more (each optional, one line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    author: str | None = None
    licence: str | None = None
    link: str | None = None

    def lines(self) -> dict[str, str]:
        """The card's lines that are set, in order: {"author": ..., "licence": ..., "link": ...}."""
        return {key: getattr(self, key) for key in OUTRO_FIELDS if getattr(self, key) is not None}


class Accent(BaseModel):
    """An accent colour for each theme (either may be left to the theme's own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dark: str | None = None
    light: str | None = None


def _accent_value(value):
    """``accent`` as written: one "#RRGGBB" (upper-cased), or a table of theme = "#RRGGBB"; one sentence for the
    first mistake. Whether each colour reads on its theme is checked with the theme (``_accent_reads``)."""
    example = 'accent = "#FFB000", or accent = {dark = "#FFB000", light = "#9A3412"}'
    if value is None or isinstance(value, Accent):
        return value
    if isinstance(value, str):
        if not colours.HEX.fullmatch(value.strip()):
            raise ValueError(f'is not a colour; write it as "#RRGGBB" in hexadecimal, as in {example}')
        return value.strip().upper()
    if not isinstance(value, dict):
        raise ValueError(f"is not a colour or a table of colours; write {example}")
    table = {}
    for theme, colour in value.items():
        if theme not in colours.PALETTES:
            raise ValueError(f"has unknown theme {theme!r}; give a colour for dark, light or both, as in {example}")
        if not isinstance(colour, str) or not colours.HEX.fullmatch(colour.strip()):
            raise ValueError(f"has {theme} = {toml_value(colour)}, which is not a colour; write \"#RRGGBB\" in "
                             "hexadecimal")
        table[theme] = colour.strip().upper()
    if not table:
        raise ValueError("is empty; give a colour for dark, light or both, or leave accent unset for the theme's own")
    return Accent(**table)


def _outro_table(value):
    """``[outro]`` (a table, or an ``Outro``) checked line by line: one sentence for the first mistake."""
    if value is None or isinstance(value, Outro):
        return value
    allowed = or_list(list(OUTRO_FIELDS))
    if not isinstance(value, dict):
        raise ValueError(f"is not a table; write it as outro = {{author = \"A. Teacher\", licence = \"CC BY 4.0\", "
                         f"link = \"https://example.org/course\"}} (any of {allowed})")
    lines = {}
    for key, text in value.items():
        if key not in OUTRO_FIELDS:
            raise ValueError(f"has unknown key {key!r}; the closing card takes {allowed}")
        if not isinstance(text, str):
            raise ValueError(f"has {key} = {toml_value(text)}, which is not text; put it in quotes")
        try:
            text = drawable_text(text_from_argv(text))
        except ValueError as err:
            raise ValueError(f"has {key} = {toml_value(text)}, which {err}") from None
        text = " ".join(text.split())
        if not text:
            raise ValueError(f"has an empty {key}; give it some words, or leave {key} out")
        if len(text) > OUTRO_FIELDS[key]:
            raise ValueError(f"has a {key} of {len(text)} characters; keep it to {OUTRO_FIELDS[key]} or fewer")
        if key == "link" and " " in text:
            raise ValueError(f"has link = {toml_value(text)}, which has spaces; give a web address such as "
                             "\"https://example.org/course\"")
        lines[key] = text
    if not lines:
        raise ValueError(f"is empty; give the closing card at least one of {allowed}, or drop the outro table")
    return Outro(**lines)


def _chapter_pacing_table(value):
    """``[chapter_pacing]`` (a table of chapter id = pacing) checked line by line: one sentence for the first
    mistake. Whether each id is one of the lesson's chapters is checked with them (``_chapter_pacing_known``)."""
    if value is None:
        return value
    low, high = PACING_RANGE
    if isinstance(value, (list, tuple)) and value and all(isinstance(p, (list, tuple)) and len(p) == 2
                                                          and isinstance(p[0], str) for p in value):
        value = dict(value)  # the pairs a config holds, validated again
    if not isinstance(value, dict):
        raise ValueError("is not a table; write it as chapter_pacing = {induction = 1.2} (chapter id = pacing)")
    if not value:
        raise ValueError("is empty; give at least one chapter id = pacing, such as {induction = 1.2}, or drop the "
                         "chapter_pacing table")
    table = {}
    for key, pacing in value.items():
        if isinstance(pacing, bool) or not isinstance(pacing, (int, float)):
            raise ValueError(f"has {toml_value({key: pacing})[1:-1]}, which is not a number; pick {low} to "
                             f"{high}")
        if not low <= pacing <= high:
            raise ValueError(f"has {toml_value({key: pacing})[1:-1]}, which is out of range; pick {low} to "
                             f"{high}")
        table[str(key)] = float(pacing)
    return tuple(table.items())


# What to write instead of an empty optional text.
_BLANK = {"course": "give the course's name, such as \"Transformers 101\", or leave course unset for none",
          "cache": "give a folder for the render cache, such as \"~/lesson-cache\", or leave cache unset for the "
                   "user's cache folder"}


class LessonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- what to teach ----------------------------------------------------------
    title: str = _setting(TEACH, "Multi-Head Attention: Many Patterns at Once", "title shown on the intro card",
                          max_length=MAX_TITLE_CHARS)
    sentence: str = _setting(TEACH, DEFAULT_SENTENCE, "the sentence every chapter traces",
                             max_length=MAX_SENTENCE_CHARS)
    chapters: tuple[str, ...] = _setting(TEACH, CHAPTER_IDS, "chapters to render, in this order, numbered from 1 "
                                         "in this order (in the frames, file names, chapter marks and the page)")

    # -- the model --------------------------------------------------------------
    model: Literal["toy", "minilm"] = _setting(
        MODEL, "minilm",
        "model for the mechanics chapters: minilm (all-MiniLM-L6-v2, trained) or toy (untrained, random "
        "weights, sized by d_model and heads, for small readable matrices)",
    )
    specialization_model: Literal["toy", "minilm"] = _setting(
        MODEL, "minilm", "model whose heads the 'heads specialise' chapter shows (trained heads need minilm)"
    )
    layer: Literal["auto"] | StrictInt = _setting(
        MODEL, "auto", f"MiniLM layer the mechanics chapters trace, 1 to {MINILM_LAYERS} (numbered from 1, as on "
                       "screen), or auto: the layer of the head chosen for the focus word"
    )
    head: Literal["auto"] | StrictInt = _setting(
        MODEL, "auto", "head worked through for the focus word, numbered from 1 as on screen, or auto: with "
                       "minilm the head measured to track the focus word's relation (a pronoun: the pronoun -> "
                       "antecedent head), with the toy model head 1"
    )
    d_model: StrictInt = _setting(MODEL, 16, "model width d of the toy model", ge=1, le=1024)
    heads: StrictInt = _setting(MODEL, 4, "number of heads h of the toy model; must divide d_model", ge=1,
                                le=MAX_HEADS)
    seed: StrictInt = _setting(MODEL, 0, "seed for the toy model's weights and embeddings", ge=0, le=2**32 - 1)
    causal: StrictBool = _setting(MODEL, False, "causal mask: each token sees only itself and earlier ones")
    device: str = _setting(MODEL, "cpu", "torch device for the core: cpu, cuda, cuda:N, mps or auto")

    # -- the look ---------------------------------------------------------------
    theme: Literal["dark", "light"] = _setting(LOOK, "dark", "colour theme of the videos and the player page")
    accent: str | Accent | None = _setting(
        LOOK, None,
        "accent colour of the videos and the player page (the focus frame, totals, links), as \"#RRGGBB\", or a "
        "table with one for each theme, {dark = \"#...\", light = \"#...\"}; it needs a contrast of "
        f"{colours.TEXT_CONTRAST}:1 on the theme's background and cards and must not look like a head's colour; "
        "unset: the theme's own",
    )
    font: str | None = _setting(
        LOOK, None,
        f"font family of the words in the videos (numbers stay in {MONO}), installed on the machine "
        "(fc-list : family lists them) and able to draw every word of the lesson; unset: " + FONT,
        max_length=MAX_FONT_CHARS,
    )
    course: str | None = _setting(
        LOOK, None, "name of the course, shown over the title on the title card and in the player page's header; "
                    "unset: none", max_length=MAX_COURSE_CHARS,
    )
    outro: Outro | None = _setting(
        LOOK, None,
        "closing card after the last chapter (a few seconds, one short spoken line) and on the player page: a "
        "table of author, licence and link, each optional, one line; unset: no closing card",
    )
    logo: Path | None = _setting(
        LOOK, None,
        f"a PNG or SVG file (at most {MAX_LOGO_BYTES // 1000 // 1000} MB) drawn small in the bottom-right corner of "
        "every chapter, the title card and the closing card (in a lesson.toml relative to the file's folder); "
        "unset: no logo",
    )
    pacing: StrictFloat = _setting(
        LOOK, 1.0,
        f"multiplies the length of every animation, wait and sentence (1.25 = a quarter slower); "
        f"with a voice {VOICED_PACING[0]} to {VOICED_PACING[1]}, where speech stays natural",
        ge=PACING_RANGE[0], le=PACING_RANGE[1],
    )
    # Kept as (chapter id, pacing) pairs, in the author's order (a frozen config is hashable; a dict is not); written
    # and dumped as a table.
    chapter_pacing: tuple[tuple[str, float], ...] | None = _setting(
        LOOK, None,
        "pacing of single chapters, in place of pacing for them: a table of chapter id = pacing, each a chapter "
        f"in chapters, in pacing's range ({PACING_RANGE[0]} to {PACING_RANGE[1]}; with a voice {VOICED_PACING[0]} "
        f"to {VOICED_PACING[1]}); unset: every chapter at pacing",
    )

    # -- the voice --------------------------------------------------------------
    voice: str = _setting(
        VOICE, "auto",
        "narrator: auto (joe if installed, else espeak-ng, else silent), joe, espeak, none, or a Piper "
        "voice file (.onnx; in a lesson.toml relative to the file's folder)",
    )
    script: Path | None = _setting(
        VOICE, None,
        "folder of the lesson's words, as `mha-explainer script export` writes it (a chapter without a "
        "file there keeps the default words; in a lesson.toml relative to the file's folder); unset: "
        "the default words",
    )
    burn_captions: StrictBool = _setting(
        VOICE, False, "draw the captions into the frames too, for platforms that load no caption tracks"
    )

    # -- the output -------------------------------------------------------------
    scorm: StrictBool | Literal["lean"] = _setting(
        OUTPUT, False,
        "also write lesson-scorm.zip, a SCORM 1.2 package that reports completion to an LMS: true, of the whole "
        "folder; \"lean\" (--scorm-lean), of the joined lesson video, its captions and the player page only (no "
        "chapter videos, thumbnails or tensor files)",
    )
    quality: Literal["preview", "low", "medium", "high", "4k"] = _setting(
        OUTPUT, "medium", "Manim quality preset (also l, m, h, k): 480p15, 720p30, 1080p60, 2160p60"
    )
    fps: StrictInt | None = _setting(OUTPUT, None, "frame rate; unset: the quality preset's", ge=1, le=120)
    pixel_height: StrictInt | None = _setting(
        OUTPUT, None, "video height (16:9), an even number; unset: the preset's", ge=90, le=4320
    )
    formats: tuple[Literal["mp4", "webm", "gif", "png"], ...] = _setting(
        OUTPUT, ("mp4",), "video formats to write: mp4 (H.264), webm (VP9), gif previews, png poster frames"
    )
    out: Path = _setting(
        OUTPUT, Path("media"),
        "output folder (in a lesson.toml: relative to the file's folder; as a flag: to the current one)",
    )
    cache: str | None = _setting(
        OUTPUT, None,
        "render cache: a folder (or file:// URL) outside the lesson folder where rendered chapters, speech and "
        "joined lessons are kept for the next render, shared by every lesson (in a lesson.toml relative to the "
        "file's folder), or an object store's URL (such as s3://bucket/renders, through fsspec) whose chapters "
        "machines share, in front of which each keeps the default cache; unset: renders/ in the user's cache "
        "folder ($MHA_EXPLAINER_CACHE, else $XDG_CACHE_HOME/mha-explainer, else ~/.cache/mha-explainer)",
    )
    cache_size: StrictFloat = _setting(
        OUTPUT, 5.0, "gigabytes the render cache may hold; the least recently used entries go first (never the "
        "chapters of the lesson just written)", ge=0.0, le=100_000.0,
    )

    # -- checks that need more than a type and a range -------------------------

    @field_validator("title", "sentence", "course", mode="before")
    @classmethod
    def _text_from_argv(cls, value):
        return text_from_argv(value)

    @field_validator("title", "sentence", "course")
    @classmethod
    def _drawable_text(cls, value: str | None) -> str | None:
        return None if value is None else drawable_text(value)

    @field_validator("course", "cache")
    @classmethod
    def _not_blank(cls, value: str | None, info) -> str | None:
        """An optional text given must say something (``_BLANK``: what to write instead); a course's name is kept
        on one line."""
        if value is not None and not value.strip():
            raise ValueError(f"is empty; {_BLANK[info.field_name]}")
        return " ".join(value.split()) if value is not None and info.field_name == "course" else value

    @field_validator("outro", mode="before")
    @classmethod
    def _outro_lines(cls, value):
        return _outro_table(value)

    @field_validator("logo", mode="before")
    @classmethod
    def _logo_file(cls, value):
        """A PNG or SVG read and checked whole (``logo.read_logo``: nothing on disk is trusted), kept as an absolute
        path, so a render process started in another folder finds the same file."""
        if value is None:
            return None
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise ValueError("is not a path; put the path of a .png or .svg file in quotes")
        if not value.strip():
            raise ValueError("is empty; give the path of a .png or .svg file, or leave logo unset for no logo")
        try:
            return read_logo(value).path
        except LogoError as err:
            raise ValueError(str(err)) from None

    @field_validator("accent", mode="before")
    @classmethod
    def _accent_colours(cls, value):
        return _accent_value(value)

    @model_validator(mode="after")
    def _accent_reads(self):
        """Each accent given reads as text on its theme and names no head (``colours.accent_problem``): the lesson's
        own theme's, and the other theme's when a table gives one (a course may render both)."""
        if self.accent is None:
            return self
        given = {self.theme: self.accent} if isinstance(self.accent, str) else \
            {theme: colour for theme, colour in self.accent.model_dump().items() if colour is not None}
        for theme, colour in given.items():
            problem = colours.accent_problem(colour, colours.PALETTES[theme])
            if problem:
                if isinstance(self.accent, str):
                    raise ValueError(f"accent = {toml_value(colour)} {problem}")
                raise ValueError(f"accent = {toml_value(self.accent.model_dump(exclude_none=True))} gives {theme} "
                                 f"{colour}, which {problem}")
        return self

    def accent_of(self, theme: str) -> str | None:
        """The author's accent colour for ``theme``, or None for the theme's own."""
        if self.accent is None or isinstance(self.accent, str):
            return self.accent
        return getattr(self.accent, theme)

    @field_validator("font")
    @classmethod
    def _font_installed(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError('is empty; give an installed font family, such as "DejaVu Serif" (fc-list : family '
                             "lists them), or leave font unset for DejaVu Sans")
        value = " ".join(value.split())
        try:
            font_file(value)
        except FontError as err:
            raise ValueError(f"cannot be used: {err}") from None
        return value

    @model_validator(mode="after")
    def _font_draws_the_texts(self):
        """The lesson's font has a glyph for every character of the texts the config gives (title, sentence, course
        and closing card) and of what the chapters draw from code (``fonts.DRAWN_BY_CODE``); the words of the
        scripts are checked when they are loaded (``script.check_font``)."""
        family = self.font or FONT
        texts = {"title": self.title, "sentence": self.sentence, "course": self.course}
        for key, value in texts.items():
            problem = value and font_problem(value, family)
            if problem:
                raise ValueError(f"{key} = {toml_value(value)} {problem}")
        for key, value in (self.outro.lines() if self.outro else {}).items():
            problem = font_problem(value, family)
            if problem:
                raise ValueError(f"outro has {key} = {toml_value(value)}, which {problem}")
        if self.font is not None:
            problem = font_problem(DRAWN_BY_CODE, family)
            if problem:
                raise ValueError(f"font = {toml_value(self.font)} cannot draw what every lesson shows: "
                                 f"{problem.split(': ', 1)[1]}")
        return self

    @model_validator(mode="after")
    def _sentence_has_words(self):
        """At least two words to attend between (after the font check: a sentence the font cannot draw is told so
        first, whatever its words)."""
        shown = f"sentence = {toml_value(self.sentence)}"
        if not self.sentence.strip():
            raise ValueError(f"{shown} is empty; give a sentence of at least two words, such as \"The cat sat.\"")
        words = [token for token in _TOKEN.findall(self.sentence) if any(c.isalnum() for c in token)]
        if len(words) < 2:
            count = "no words" if not words else "one word"
            raise ValueError(f"{shown} has {count}, but attention needs at least two words to attend between; "
                             "give a longer sentence, such as \"Hello world\"")
        return self

    @model_validator(mode="before")
    @classmethod
    def _closing_card_last(cls, data):
        """With an ``outro``, the closing card plays after the author's chapters (unless they placed it)."""
        if isinstance(data, dict) and data.get("outro") is not None:
            chapters = _split_list(data.get("chapters", CHAPTER_IDS))
            if isinstance(chapters, (list, tuple)) and OUTRO_ID not in chapters:
                data = {**data, "chapters": (*chapters, OUTRO_ID)}
        return data

    @model_validator(mode="after")
    def _closing_card_has_words(self):
        if OUTRO_ID in self.chapters and self.outro is None:
            raise ValueError(f'chapters = {toml_value(list(self.chapters))} lists "{OUTRO_ID}", the closing card, '
                             "but there is no outro table; add one (outro = {author = \"...\", licence = \"...\", "
                             f'link = "..."}}) or drop "{OUTRO_ID}" from chapters')
        return self

    @field_validator("scorm", mode="before")
    @classmethod
    def _scorm_kind(cls, value):
        if isinstance(value, bool) or value == "lean":
            return value
        raise ValueError('is not true, false or "lean"; write scorm = true for the whole folder as a package, '
                         'scorm = "lean" for the lesson video and its page only, or scorm = false')

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

    @field_validator("chapter_pacing", mode="before")
    @classmethod
    def _chapter_pacing_values(cls, value):
        return _chapter_pacing_table(value)

    @field_serializer("chapter_pacing")
    def _chapter_pacing_table_out(self, value):
        return None if value is None else dict(value)

    @model_validator(mode="after")
    def _chapter_pacing_known(self):
        """Each chapter_pacing id is one of the lesson's chapters; with a voice, each pacing is one it speaks at."""
        table = dict(self.chapter_pacing or ())
        shown = f"chapter_pacing = {toml_value(table)}"
        for chapter_id, pacing in table.items():
            if chapter_id not in self.chapters:
                raise ValueError(f"{shown} names chapter {chapter_id!r}, which is not one of the lesson's chapters; "
                                 f"use {or_list(self.chapters)}")
        low, high = VOICED_PACING
        for chapter_id, pacing in table.items():
            if self.voice != "none" and not low <= pacing <= high:
                raise ValueError(f"{shown} sets {chapter_id} to pacing {pacing}, outside {low} to {high}, where the "
                                 "voice stays natural; choose a pacing in that range, or voice none for a silent "
                                 "lesson at any pacing")
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
            if chapter not in CHAPTER_IDS and chapter != OUTRO_ID:
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
        return self.fps or preset_rate(self.quality)

    @property
    def height(self) -> int:
        return self.pixel_height or preset_height(self.quality)

    @property
    def width(self) -> int:
        return width_for(self.height)

    def pacing_of(self, chapter_id: str) -> float:
        """A chapter's pacing: its ``chapter_pacing`` value if it has one (in place of ``pacing``), else ``pacing``."""
        return dict(self.chapter_pacing or ()).get(chapter_id, self.pacing)

    def chapter_number(self, chapter_id: str) -> int:
        """A chapter's number: its place in ``chapters``, from 1 (the order the author gives)."""
        return chapter_number(chapter_id, self.chapters)

    def to_toml(self, sources: dict[str, str] | None = None) -> str:
        """The effective config as a TOML file (``sources``: a trailing comment per key)."""
        lines = []
        for key in KNOWN_KEYS:
            value = getattr(self, key)
            if key in ("out", "script") and value is not None:  # the same folder wherever the text is read again
                value = Path(os.path.abspath(value))
            if key == "cache" and value is not None and "://" not in value:
                value = os.path.abspath(os.path.expanduser(value))
            note = f"  # {sources[key]}" if sources and key in sources else ""
            if isinstance(value, BaseModel):
                value = value.model_dump(exclude_none=True)
            if key == "chapter_pacing" and value is not None:  # its pairs, as the table they were written as
                value = dict(value)
            if value is None:  # TOML has no null: show what it resolves to, commented out
                unset = {"script": "the default words", "cache": "the user's cache folder", **UNSET_NONE}.get(
                    key, "the quality preset's")
                lines.append(f"# {key} = {toml_value(unset_hint(self, key))}  # unset: {unset}")
            else:
                lines.append(f"{key} = {toml_value(value)}{note}")
        return "\n".join(lines) + "\n"


KNOWN_KEYS = tuple(LessonConfig.model_fields)
# Keys that say where the files are and how much cache is kept, not what the lesson is: the same lesson is the same
# bytes wherever its folder, words, logo or cache are (the manifest's record and the folder's key leave them out; the
# render keys hold the logo's bytes instead: ``keys.render_settings``).
WHERE_KEYS = frozenset({"out", "script", "cache", "cache_size", "logo"})


# The look's optional keys: what unset means, and an example value for the commented line (config init, show).
UNSET_NONE = {"course": "no course name", "outro": "no closing card", "chapter_pacing": "every chapter at pacing",
              "logo": "no logo", "accent": "the theme's own", "font": FONT}
UNSET_EXAMPLES = {"course": "Transformers 101", "chapter_pacing": {"induction": 1.2}, "logo": "logo.png",
                  "accent": "#FFB000", "font": "DejaVu Serif",
                  "outro": {"author": "A. Teacher", "licence": "CC BY 4.0", "link": "https://example.org/course"}}


def section_of(key: str) -> Section:
    """The concern ``key`` belongs to (declared in its field)."""
    section_id = LessonConfig.model_fields[key].json_schema_extra["section"]
    return next(section for section in SECTIONS if section.id == section_id)


def default_cache() -> Path:
    """Where the render cache is when ``cache`` is unset: renders/ in the user's cache folder."""
    from mha_core.store import cache_dir

    return Path(os.path.abspath(cache_dir().expanduser() / "renders"))


def unset_hint(config: LessonConfig, key: str):
    """What an unset optional key resolves to, to show next to it."""
    return {"fps": config.frame_rate, "pixel_height": config.height, "script": "my-scripts",
            "cache": str(default_cache()), **UNSET_EXAMPLES}[key]


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
        if isinstance(values.get("logo"), str) and values["logo"].strip():  # the logo: the same
            values["logo"] = Path(path).parent / Path(values["logo"]).expanduser()
        if isinstance(values.get("cache"), str) and values["cache"].strip() and "://" not in values["cache"]:
            values["cache"] = str(Path(path).parent / Path(values["cache"]).expanduser())  # the cache: the same
        if isinstance(values.get("voice"), str) and values["voice"].endswith(".onnx"):  # a voice file: the same
            values["voice"] = str(Path(path).parent / Path(values["voice"]).expanduser())
    for key, value in overrides.items():
        if value is None or value == ():
            continue
        if key not in KNOWN_KEYS:
            raise ConfigError(unknown_key(key, "flag", KNOWN_KEYS), key=key)
        values[key] = value
        lines.pop(key, None)
        sources[key] = "flag"
    try:
        config = LessonConfig(**values)
    except ValidationError as err:
        raise ConfigError(*one_sentence(err, values, label, lines, LessonConfig, AUTO_INT_KEYS)) from None
    return config, sources


def read_toml(path: str | Path) -> tuple[dict, dict[str, int]]:
    """A config file's table and the line each top-level key is on (raises ConfigError)."""
    table, text = read_toml_file(
        path, "config file", MAX_CONFIG_BYTES, ConfigError,
        folder=f"create one with `mha-explainer config init {path}`",
        missing=f"create one with `mha-explainer config init {path}`",
        nested="a lesson.toml holds plain key = value lines, as `mha-explainer config init` writes them")
    lines = top_level_lines(text)
    for key in table:
        if key not in KNOWN_KEYS:
            where = f"{path} line {lines[key]}" if key in lines else str(path)
            raise ConfigError(f"{where}: {unknown_key(key, 'key', KNOWN_KEYS)}", key=key)
    return table, lines
