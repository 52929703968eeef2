"""A course file (course.toml): a matrix of lessons, every one validated before anything renders.

    title = "Multi-head attention, four ways"
    cache = "../course-cache"        # optional: the shared chapter cache (a folder or a file:// URL)
    scorm = true                     # optional: a SCORM package in every lesson folder ("lean": video and page only)

    [lesson]                         # any lesson.toml key: the base of every lesson
    quality = "preview"

    [matrix]                         # lists: the course is every combination
    sentence = ["The cat sat down because it was tired.", "The dog chased the ball because it was fast."]
    theme = ["dark", "light"]

    [[lessons]]                      # optional: single variants added to the matrix
    sentence = "The scientist who reviewed the paper said it was flawed."

    >>> course = read_course("course.toml")      # CourseFileError (a ConfigError: exit 2) on any mistake
    >>> [lesson.name for lesson in course.lessons]

Each lesson is ``[lesson]`` <- its combination <- its ``[[lessons]]`` entry, checked by ``LessonConfig`` with the
messages ``render`` gives, naming the course file's line of the key at fault. A lesson's folder is named from
the settings that make it a variant (its matrix values and its entry), so it is the same folder on every run
and when lessons are added. No torch, no Manim: a course file is checked before anything heavy is imported.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..lesson.config import AUTO_INT_KEYS, KNOWN_KEYS, MAX_CONFIG_BYTES, MAX_TITLE_CHARS, LessonConfig
from ..lesson.config_errors import ConfigError, one_sentence, unknown_key
from ..lesson.toml_io import read_toml_file, toml_value

MAX_LESSONS = 200  # lessons in one course: combinations of the matrix plus [[lessons]] entries
COURSE_KEYS = ("title", "cache", "scorm", "lesson", "matrix", "lessons")
DEFAULT_TITLE = "A course on multi-head attention"
# Keys the course decides for every lesson: each lesson's folder is DIR/<its name>.
_COURSE_DECIDES = ("out",)
_NAME_SLUG = 60  # characters of a folder name taken from the lesson's settings (then its hash)


class CourseFileError(ConfigError):
    """A bad course file, as one sentence (exit code 2)."""


@dataclass(frozen=True)
class CourseLesson:
    name: str  # its folder inside the course folder: stable, safe, unique
    config: LessonConfig  # out = the course folder / name
    settings: dict  # what makes it a variant: its matrix values and its [[lessons]] entry (TOML values)


@dataclass(frozen=True)
class Course:
    path: Path
    title: str
    cache: str | None  # as written (a folder relative to the course file, or a URL); None: the course folder's own
    lessons: tuple[CourseLesson, ...]

    def cache_location(self) -> str | None:
        """The cache as a path or URL that works from any current folder."""
        if self.cache is None or "://" in self.cache:
            return self.cache
        return str((self.path.parent / Path(self.cache).expanduser()).resolve())


def read_course(path: str | Path, out: str | Path | None = None) -> Course:
    """The course in ``path``, every lesson checked; ``out``: the course folder (default: beside the
    course file, named after it). Raises ``CourseFileError`` (one sentence)."""
    path = Path(path)
    table, lines = _read(path)
    label = str(path)

    def where(section: str, key: str | None = None, index: int | None = None) -> str:
        number = lines.get((section, index, key)) or lines.get((section, index, None))
        return f"{label} line {number}" if number else label

    for key in table:
        if key not in COURSE_KEYS:
            raise CourseFileError(f"{where('', key)}: {unknown_key(key, 'key', COURSE_KEYS)} (a lesson setting goes "
                                  "in [lesson] or [matrix])", key=key)
    title = table.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or not title.strip():
        raise CourseFileError(f"{where('', 'title')}: title = {toml_value(title)} is not a course title; write it as "
                              'title = "Multi-head attention, four ways"', key="title")
    if len(title) > MAX_TITLE_CHARS:
        raise CourseFileError(f"{where('', 'title')}: the title is {len(title)} characters long; keep it to "
                              f"{MAX_TITLE_CHARS} or fewer", key="title")
    cache = table.get("cache")
    if cache is not None and (not isinstance(cache, str) or not cache.strip()):
        raise CourseFileError(f"{where('', 'cache')}: cache = {toml_value(cache)} is not a folder or URL; write it as "
                              'cache = "../course-cache"', key="cache")
    scorm = table.get("scorm", False)
    if not isinstance(scorm, bool) and scorm != "lean":
        raise CourseFileError(f"{where('', 'scorm')}: scorm = {toml_value(scorm)} is not true, false or \"lean\"",
                              key="scorm")

    base = _table(table, "lesson", where)
    matrix = _table(table, "matrix", where)
    extras = table.get("lessons", [])
    if not isinstance(extras, list) or not all(isinstance(entry, dict) for entry in extras):
        raise CourseFileError(f"{where('', 'lessons')}: lessons is not a list of tables; write each extra lesson "
                              "as [[lessons]] followed by its key = value lines", key="lessons")
    for section, index, entry in [("lesson", None, base), ("matrix", None, matrix),
                                  *(("lessons", i, e) for i, e in enumerate(extras))]:
        for key in entry:
            here = where(section, key, index)
            if key not in KNOWN_KEYS:
                raise CourseFileError(f"{here}: {unknown_key(key, 'key', KNOWN_KEYS)}", key=key)
            if key in _COURSE_DECIDES:
                raise CourseFileError(f"{here}: {key} is decided by the course (each lesson goes into a folder "
                                      "of the course folder, named from its settings); drop it and give the "
                                      "course folder with --out", key=key)
    for key, values in matrix.items():
        here = where("matrix", key)
        if not isinstance(values, list):
            raise CourseFileError(f"{here}: {key} = {toml_value(values)} in [matrix] is not a list; write the values "
                                  f"to combine as {key} = [{toml_value(values)}, ...]", key=key)
        if not values:
            raise CourseFileError(f"{here}: {key} = [] in [matrix] is an empty list, which makes no lesson; give at "
                                  "least one value or drop the key", key=key)
        repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if repeated is not None:
            raise CourseFileError(f"{here}: {key} lists {toml_value(repeated)} twice in [matrix]; list each value "
                                  "once", key=key)

    count = (1 if matrix or not extras else 0) * _product(len(v) for v in matrix.values()) + len(extras)
    if count > MAX_LESSONS:
        raise CourseFileError(f"{label}: the course makes {count} lessons, more than the {MAX_LESSONS} one course "
                              "may hold; split it into several course files or shorten the [matrix] lists")
    folder = Path(out) if out is not None else path.parent / path.stem
    keys = list(matrix)
    variants = []  # (settings, where each key is: (section, index))
    if matrix or not extras:
        for combination in itertools.product(*(matrix[k] for k in keys)):
            variants.append(({k: v for k, v in zip(keys, combination)}, {k: ("matrix", None) for k in keys}))
    for index, entry in enumerate(extras):
        variants.append((dict(entry), {k: ("lessons", index) for k in entry}))

    lessons, names = [], {}
    for settings, origin in variants:
        values = {**base, **settings}
        key_lines = {k: lines.get((*origin.get(k, ("lesson", None)), k)) for k in values}
        config = _lesson_config(path, values, {k: n for k, n in key_lines.items() if n}, folder, scorm)
        name = lesson_name(settings)
        if name in names:  # the same variant twice (a [[lessons]] entry equal to a combination): one lesson
            continue
        names[name] = True
        lessons.append(CourseLesson(name, config, settings))
    return Course(path=path, title=title, cache=cache, lessons=tuple(lessons))


def lesson_name(settings: dict) -> str:
    """A lesson's folder name: its varying settings as words, then a hash of them (stable, unique, safe).

    >>> lesson_name({"theme": "light", "sentence": "The cat sat."})
    'the-cat-sat-light-…'
    """
    words = "-".join(_slug(settings[k]) for k in sorted(settings, key=_key_order))
    words = re.sub(r"-+", "-", words).strip("-")[:_NAME_SLUG].rstrip("-") or "lesson"
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{words}-{digest}"


def _key_order(key: str) -> int:
    return KNOWN_KEYS.index(key) if key in KNOWN_KEYS else len(KNOWN_KEYS)


def _slug(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "-".join(_slug(v) for v in value)
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode().lower()
    return "-".join(re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text))[:32].replace(".", "_")


def _product(numbers) -> int:
    total = 1
    for n in numbers:
        total *= n
    return total


def _table(table: dict, name: str, where) -> dict:
    value = table.get(name, {})
    if not isinstance(value, dict):
        raise CourseFileError(f"{where('', name)}: {name} is not a table; write it as [{name}] followed by its "
                              "key = value lines", key=name)
    return value


def _lesson_config(path: Path, values: dict, lines: dict, folder: Path, scorm: bool | str) -> LessonConfig:
    """One lesson's checked config, with paths relative to the course file's folder (as in a lesson.toml)."""
    values = dict(values)
    for key in ("script", "logo"):
        if isinstance(values.get(key), str) and (key != "logo" or values[key].strip()):  # an empty logo: said so
            values[key] = path.parent / Path(values[key]).expanduser()
    if isinstance(values.get("voice"), str) and values["voice"].endswith(".onnx"):
        values["voice"] = str(path.parent / Path(values["voice"]).expanduser())
    if scorm and "scorm" not in values:
        values["scorm"] = scorm
    values["out"] = folder / lesson_name({})  # checked here; replaced by the lesson's own folder below
    try:
        config = LessonConfig(**values)
    except ValidationError as err:
        shown = {k: v for k, v in values.items() if k != "out"}
        raise CourseFileError(*one_sentence(err, shown, str(path), lines, LessonConfig, AUTO_INT_KEYS)) from None
    except ConfigError as err:
        raise CourseFileError(str(err), key=err.key) from None
    return config


def with_folders(course: Course, folder: Path) -> Course:
    """The course with each lesson's ``out`` set to ``folder / its name``."""
    lessons = tuple(CourseLesson(lesson.name, lesson.config.model_copy(update={"out": Path(folder) / lesson.name}),
                                 lesson.settings) for lesson in course.lessons)
    return Course(path=course.path, title=course.title, cache=course.cache, lessons=lessons)


def _read(path: Path) -> tuple[dict, dict]:
    """The course file's table and the line of each key: {(section, index of [[lessons]], key): line}."""
    table, text = read_toml_file(
        path, "course file", MAX_CONFIG_BYTES, CourseFileError, folder="give the path of a course.toml",
        missing="write one as the README's \"Rendering a course\" shows",
        nested="a course file holds key = value lines in [lesson], [matrix] and [[lessons]] tables")
    return table, _key_lines(text)


def _key_lines(text: str) -> dict:
    lines, section, index, counts = {}, "", None, {}
    for number, line in enumerate(text.splitlines(), 1):
        if header := re.match(r"\s*(\[\[?)\s*([A-Za-z0-9_-]+)\s*\]", line):
            section = header.group(2)
            if header.group(1) == "[[":
                index = counts.get(section, 0)
                counts[section] = index + 1
            else:
                index = None
            lines.setdefault(("", None, section), number)
            lines.setdefault((section, index, None), number)
        elif match := re.match(r"""\s*["']?([A-Za-z0-9_-]+)["']?\s*=""", line):
            lines.setdefault((section, index, match.group(1)), number)
    return lines
