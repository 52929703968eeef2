"""The lesson's words as data: one TOML script per chapter, plus one of words shared by several.

Every sentence a chapter speaks or shows lives in ``scenes/scripts/<chapter id>.toml``, keyed by
stable ids; scenes refer to it by id and fill its named placeholders from the chapter's data:

    title = "One head"                      # the chapter's title (the plan, chapter marks, the page)
    summary = "One attention head ..."      # the player page's chapter list

    [beats]                                 # what the voice says and the captions show, one per beat
    why-this-head = "This head was picked because it scored {accuracy} on held-out sentences."

    [beats.special-tokens]                  # when the voice must say it differently from the caption
    text = "[CLS] and [SEP] are special tokens ..."
    spoken = "C L S and S E P are special tokens ..."

    [screen]                                # words drawn on screen
    question = "Which relationships can different heads attend to in parallel?"

Next to the chapters' scripts, ``shared.toml`` holds words several chapters draw and ``page.toml`` the
player page's (its headings, buttons, what a screen reader hears, the head explorer's sentences): a
``[screen]`` table only, filled by ``scenes.render.export`` and ``scenes.render.explorer``.

A placeholder is ``{name}``; ``{{`` and ``}}`` are literal braces. How a value is written is
decided in one place (``formats.value_text``: a measured number with two decimals and a true
minus sign). Where a sentence's wording depends on the data (a head that earns its label or
not), the script has one entry per case, so each reads as a whole sentence in any language.

An author's folder (``--script DIR``, ``script = "DIR"`` in lesson.toml) holds some of these files,
as ``mha-explainer script export DIR`` writes them; a chapter without a file there keeps the
default words. Everything is checked when the folder is loaded, before anything renders: each
file has exactly the default's ids, uses only the placeholders the chapter provides for that id,
and is UTF-8 TOML; a problem is one ``ScriptError`` sentence naming the file, the id and the
placeholder.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mha_core.files import FileError, check_output_file, check_path, read_file, shown, write_file
from mha_core.sizes import or_list

from .author_text import font_problem
from .chapters import CHAPTER_IDS, CHAPTERS
from .config import ConfigError
from .fonts import FONT
from .formats import value_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "scripts"  # scenes/scripts
SHARED = "shared"  # words more than one chapter (or the lesson data below them) use
PAGE = "page"  # the player page's words (index.html, embed.html, the head explorer)
NAMES = (*CHAPTER_IDS, SHARED, PAGE)  # every script file's name, without ".toml"
MAX_SCRIPT_BYTES = 256 * 1024  # a chapter's words are a few kilobytes
_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# The language of the voice and captions, as the videos' tracks name it (shared.toml track-language): ISO 639-2.
TRACK_LANGUAGE = re.compile(r"[a-z]{3}")
_SECTIONS = ("beats", "screen")
_CHAPTER_KEYS = ("title", "summary")


class ScriptError(ConfigError):
    """A script file that cannot be used, in one sentence: which file, which id, what to change (exit 2)."""


def _user(name: str) -> str:
    """Who fills a script's placeholders, for messages: "the intro chapter", "the player page"."""
    return "the player page" if name == PAGE else f"the {name} chapter"


@dataclass(frozen=True)
class Line:
    """One entry of a script: the words shown (a caption, a label) and, for a beat, what the voice says
    when that differs (None: said as written, through ``spoken.spoken_form``)."""

    text: str
    spoken: str | None = None

    @property
    def placeholders(self) -> frozenset[str]:
        return placeholders(self.text) | (placeholders(self.spoken) if self.spoken is not None else frozenset())


@dataclass(frozen=True)
class Script:
    """One file's words. ``name``: a chapter id, "shared" or "page"; ``source``: where it was read (messages)."""

    name: str
    source: str
    digest: str  # sha256 of the file's bytes: what a chapter's cache key holds of its words
    title: str = ""
    summary: str = ""
    beats: dict[str, Line] = field(default_factory=dict)
    screen: dict[str, Line] = field(default_factory=dict)
    author: bool = False  # read from an author's folder (else the default words)

    def beat(self, beat_id: str, values: dict) -> tuple[str, str | None]:
        """(caption, spoken or None) of beat ``beat_id``, its placeholders filled from ``values``."""
        line = self._line("beats", beat_id)
        text = self._fill(beat_id, line.text, values)
        return text, None if line.spoken is None else self._fill(beat_id, line.spoken, values)

    def text(self, text_id: str, values: dict) -> str:
        """On-screen words ``text_id``, placeholders filled from ``values``."""
        return self._fill(text_id, self._line("screen", text_id).text, values)

    def template(self, text_id: str) -> str:
        """On-screen words ``text_id`` as written, placeholders unfilled (the player page's JavaScript fills them)."""
        return self._line("screen", text_id).text

    def _line(self, section: str, entry_id: str) -> Line:
        try:
            return getattr(self, section)[entry_id]
        except KeyError:
            raise ScriptError(f"{self.source} has no {section} entry {entry_id!r}, which {_user(self.name)} "
                              f"uses; add [{section}] {entry_id} = \"...\" (`mha-explainer script export` writes "
                              "every entry)") from None

    def _fill(self, entry_id: str, template: str, values: dict) -> str:
        missing = placeholders(template) - set(values)
        if missing:
            name = sorted(missing)[0]
            raise ScriptError(f"{self.source}: {entry_id!r} uses {{{name}}}, which {_user(self.name)} does "
                              f"not provide here; use {or_list(sorted(values)) if values else 'no placeholder'}")
        return template.format_map({k: value_text(v) for k, v in values.items()})


@dataclass(frozen=True)
class Scripts:
    """The words of a lesson: every chapter's script, the shared one and the page's (defaults where the author
    gave none)."""

    files: dict[str, Script]

    def __getitem__(self, name: str) -> Script:
        return self.files[name]

    @property
    def shared(self) -> Script:
        return self.files[SHARED]

    @property
    def page(self) -> Script:
        """The player page's words (``page.toml``)."""
        return self.files[PAGE]

    def title(self, chapter_id: str) -> str:
        return self.files[chapter_id].title

    def record(self) -> dict:
        """What the manifest says of the words used: each file's sha256 and whether an author wrote it."""
        return {name: {"sha256": s.digest, "from": "author" if s.author else "default"}
                for name, s in sorted(self.files.items())}


def check_font(scripts: Scripts, family: str = FONT) -> None:
    """``ScriptError`` (which file, which entry, which characters) when ``family`` cannot draw a word of the
    videos: a chapter's title and summary, its beats' captions (drawn with --burn-captions) and its on-screen words.
    The player page's words are the browser's to draw. The default words in the default font are known to be
    drawable (tests/test_author_look.py), so only an author's words or font cost anything."""
    for script in scripts.files.values():
        if script.name == PAGE or (family == FONT and not script.author):
            continue
        entries = {"title": script.title, "summary": script.summary,
                   **{f"[beats] {i!r}": line.text for i, line in script.beats.items()},
                   **{f"[screen] {i!r}": line.text for i, line in script.screen.items()}}
        for where, words in entries.items():
            problem = font_problem(words, family)
            if problem:
                default = "" if script.author else " (the default words: `mha-explainer script export` writes them " \
                                                   "to a folder where you can change them)"
                raise ScriptError(f"{script.source}: {where} {problem}{default}")


def placeholders(template: str) -> frozenset[str]:
    """The names of ``template``'s placeholders; ValueError for anything but plain ``{name}``s."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                             "is not a placeholder; write {name} (numbers are formatted for you), or {{ and }} for "
                             "a literal brace")
        names.add(name)
    return frozenset(names)


# -- loading ------------------------------------------------------------------------------------------


@functools.cache
def default_script(name: str) -> Script:
    """The default words of ``name`` (a chapter id, "shared" or "page"), read once per process."""
    return parse_script(name, (DEFAULT_FOLDER / f"{name}.toml").read_bytes(), f"scenes/scripts/{name}.toml")


def load_scripts(folder: str | Path | None = None) -> Scripts:
    """Every chapter's words, the shared words and the page's: the author's file in ``folder`` where there is
    one, checked against the default (same ids, only the placeholders the chapter provides), else the default."""
    check_scenes()
    files = {name: default_script(name) for name in NAMES}
    if folder is None:
        return Scripts(files)
    path = check_folder(folder)
    for name in _script_names(path):
        files[name] = check_against_default(read_script(name, path / f"{name}.toml"), default_script(name))
    return Scripts(files)


def check_folder(folder: str | Path) -> Path:
    try:
        path = check_path(Path(folder).expanduser())
        if not path.exists():
            raise ScriptError(f"the script folder {shown(path)} does not exist; write the default scripts there with "
                              f"`mha-explainer script export {shown(path)}`")
        if not path.is_dir():
            raise ScriptError(f"the script folder {shown(path)} is not a folder; give the folder "
                              "`mha-explainer script export` wrote")
    except FileError as err:
        raise ScriptError(str(err)) from None
    return path


def _script_names(folder: Path) -> list[str]:
    """The script files in an author's folder: every ``*.toml`` must be named after a chapter, "shared" or
    "page"."""
    try:
        found = sorted(p.name for p in folder.iterdir() if p.suffix == ".toml")
    except OSError as err:
        raise ScriptError(f"cannot read the script folder {shown(folder)} ({err.strerror or err}); check its "
                          "permissions") from None
    for file_name in found:
        if file_name.removesuffix(".toml") not in NAMES:
            raise ScriptError(f"{shown(folder / file_name)} is not a script of this lesson; name a script after its "
                              f"chapter ({or_list([f'{n}.toml' for n in NAMES])})")
    return [name.removesuffix(".toml") for name in found]


def read_script(name: str, path: Path) -> Script:
    source = shown(path)
    try:
        data = read_file(path, MAX_SCRIPT_BYTES, "script")
    except FileError as err:
        raise ScriptError(str(err)) from None
    except OSError as err:
        raise ScriptError(f"cannot read the script {source} ({err.strerror or err}); check its permissions") from None
    return parse_script(name, data, source, author=True)


def parse_script(name: str, data: bytes, source: str, *, author: bool = False) -> Script:
    """A script file's bytes, checked for shape: UTF-8 TOML with ``title``/``summary`` (chapters), ``[beats]``
    and ``[screen]`` tables of ids (the page's: ``[screen]`` only, nothing speaks it); each entry a string, or a
    beat's table of ``text`` and ``spoken``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ScriptError(f"{source} line {line}: the file is not UTF-8 text; save it as UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        at = f" line {where.group(1)}, column {where.group(2)}" if where else ""
        reason = re.sub(r"\s*\(at .*?\)", "", str(err))
        raise ScriptError(f"{source}{at}: {reason[:1].lower() + reason[1:]} (not valid TOML; each entry is "
                          "id = \"words\")") from None
    except RecursionError:
        raise ScriptError(f"{source} nests tables too deeply to read; a script holds [beats] and [screen] tables of "
                          "id = \"words\"") from None
    allowed = ("screen",) if name == PAGE else _SECTIONS if name == SHARED else (*_CHAPTER_KEYS, *_SECTIONS)
    for key, value in table.items():
        if key not in allowed:
            raise ScriptError(f"{source}: unknown key {key!r}; a script holds {or_list(allowed)}")
        if key in _CHAPTER_KEYS and not isinstance(value, str):
            raise ScriptError(f"{source}: {key} must be a string in quotes, as in {key} = \"...\"")
        if key in _SECTIONS and not isinstance(value, dict):
            raise ScriptError(f"{source}: {key} must be a table, [{key}], of id = \"words\"")
    sections = {section: _entries(source, section, table.get(section, {})) for section in _SECTIONS}
    language = sections["screen"].get("track-language") if name == SHARED else None
    if language is not None and not TRACK_LANGUAGE.fullmatch(language.text):
        raise ScriptError(f"{source}: [screen] 'track-language' is {language.text!r}; write the language of the voice "
                          "and captions as an ISO 639-2 code of three lowercase letters, as in eng, deu or fra")
    return Script(name, source, hashlib.sha256(data).hexdigest(), table.get("title", ""), table.get("summary", ""),
                  sections["beats"], sections["screen"], author)


def _entries(source: str, section: str, table: dict) -> dict[str, Line]:
    lines = {}
    for entry_id, value in table.items():
        where = f"{source}: [{section}] {entry_id!r}"
        if not _ID.fullmatch(entry_id):
            raise ScriptError(f"{where}: an id is lower-case words joined by hyphens, as in why-this-head")
        if isinstance(value, str):
            line = Line(value)
        elif isinstance(value, dict) and section == "beats" and set(value) <= {"text", "spoken"} and "text" in value \
                and all(isinstance(v, str) for v in value.values()):
            line = Line(value["text"], value.get("spoken"))
        else:
            shape = "a string, or a table of text and spoken strings" if section == "beats" else "a string"
            raise ScriptError(f"{where} must be {shape}")
        if not line.text.strip():
            raise ScriptError(f"{where} is empty; write the words, or keep the default's")
        try:
            line.placeholders
        except ValueError as err:
            raise ScriptError(f"{where}: {err}") from None
        lines[entry_id] = line
    return lines


def check_against_default(script: Script, default: Script) -> Script:
    """An author's script has exactly the default's ids and uses only the placeholders the chapter provides."""
    for key in _CHAPTER_KEYS:
        if getattr(default, key) and not getattr(script, key).strip():
            raise ScriptError(f"{script.source} has no {key}; add {key} = \"...\"")
    for section in _SECTIONS:
        mine, theirs = getattr(script, section), getattr(default, section)
        if unknown := sorted(set(mine) - set(theirs)):
            raise ScriptError(f"{script.source}: [{section}] has unknown id {unknown[0]!r}; the {script.name} "
                              f"script's ids are {or_list(sorted(theirs))}")
        if missing := sorted(set(theirs) - set(mine)):
            raise ScriptError(f"{script.source}: [{section}] lacks {missing[0]!r}; copy it from "
                              f"`mha-explainer script export` and change its words")
        for entry_id, line in mine.items():
            provided = theirs[entry_id].placeholders
            if extra := sorted(line.placeholders - provided):
                offer = f"use {or_list([f'{{{p}}}' for p in sorted(provided)])}" if provided else \
                    "this entry has no placeholder"
                raise ScriptError(f"{script.source}: [{section}] {entry_id!r} uses {{{extra[0]}}}, which "
                                  f"{_user(script.name)} does not provide; {offer}")
    return script


# -- what the scenes ask for ------------------------------------------------------------------------

SCENES_FOLDER = Path(__file__).resolve().parents[1] / "chapters"  # scenes/chapters
_ASKS = {"beat": "beats", "narrate": "beats", "words": "screen"}


def ids_used(chapter_id: str) -> dict[str, set[str]]:
    """The script ids a chapter's scene asks for, by section, read from its source (never imported): every
    string literal in the first argument of ``self.beat``, ``self.narrate`` and ``self.words``
    (``self.beat("a" if x else "b")`` asks for both; an id held in a variable is checked when it is used)."""
    module = next(c.module for c in CHAPTERS if c.id == chapter_id)
    return _ids_used(SCENES_FOLDER / f"{module}.py")


@functools.lru_cache(maxsize=None)
def _ids_used(path: Path) -> dict[str, set[str]]:
    found = {"beats": set(), "screen": set()}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _ASKS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self" and node.args:
            found[_ASKS[node.func.attr]] |= _strings(node.args[0])
    return found


def _strings(node: ast.AST) -> set[str]:
    """The whole string literals in an expression (an f-string's pieces are no ids)."""
    if isinstance(node, ast.Constant):
        return {node.value} if isinstance(node.value, str) else set()
    if isinstance(node, ast.JoinedStr):
        return set()
    return set().union(*(_strings(child) for child in ast.iter_child_nodes(node)))


def check_scenes() -> None:
    """Every id a scene asks for is in its default script (and so in every author's, which has the same ids):
    a scene that asks for a missing id fails here, before anything renders, naming it."""
    for chapter_id in CHAPTER_IDS:
        script = default_script(chapter_id)
        for section, ids in ids_used(chapter_id).items():
            if missing := sorted(ids - set(getattr(script, section))):
                raise ScriptError(f"the {chapter_id} scene asks for [{section}] {missing[0]!r}, which {script.source} "
                                  "lacks; add it there")


# -- export -------------------------------------------------------------------------------------------


def export_scripts(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write the default script files into ``folder`` (made if absent) for an author to edit; an existing
    file is kept unless ``force`` (``FileError`` naming it). Returns the files written."""
    path = check_path(Path(folder).expanduser())
    targets = [path / f"{name}.toml" for name in NAMES]
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise FileError(f"{shown(path)} is not a folder; give a folder to write the scripts into")
        for target in targets:  # every refusal before the first write: nothing half-exported
            check_output_file(target, force)
    else:
        try:
            path.mkdir(parents=True)
        except OSError as err:
            raise FileError(f"cannot make the folder {shown(path)} ({err.strerror or err}); choose a folder you "
                            "can write to") from None
    for name, target in zip(NAMES, targets):
        write_file(target, (DEFAULT_FOLDER / f"{name}.toml").read_bytes())
    return targets
