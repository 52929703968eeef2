"""TOML as lesson.toml uses it: a value as TOML writes it, the line of each top-level key, a syntax error in words.

    >>> toml_value(("intro", "cost"))
    '["intro", "cost"]'
    >>> top_level_lines('theme = "light"\\n\\nheads = 2\\n')
    {'theme': 1, 'heads': 3}

Nothing here knows the lesson's keys: ``config`` reads and checks a file with these, ``lesson_toml`` writes
the commented default one, and the error messages quote values with ``toml_value``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["TOMLDecodeError", "parse", "read_toml_file", "syntax_message", "toml_value", "tomllib",
           "top_level_lines"]

TOMLDecodeError = tomllib.TOMLDecodeError


def parse(text: str) -> dict:
    """The table of a TOML text (raises ``TOMLDecodeError``, or ``RecursionError`` when nested too deeply)."""
    return tomllib.loads(text)


def toml_value(value: Any) -> str:
    """A value as TOML writes it (also how messages quote the user's values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table: {author = "A. Teacher", licence = "CC BY 4.0"}
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Path):
        value = value.as_posix()
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    return repr(value)


def _toml_key(key) -> str:
    """A table's key as TOML writes it: bare when it can be, else quoted."""
    key = str(key)
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def top_level_lines(text: str) -> dict[str, int]:
    """The line (from 1) each top-level key of ``text`` is on; a table counts as its name's key."""
    lines = {}
    for number, line in enumerate(text.splitlines(), 1):
        if match := re.match(r"""\s*["']?([A-Za-z0-9_-]+)["']?\s*=""", line):
            lines.setdefault(match.group(1), number)
        elif re.match(r"\s*\[", line):
            if match := re.match(r"\s*\[+\s*([A-Za-z0-9_-]+)", line):
                lines.setdefault(match.group(1), number)
            break  # keys inside tables are not top-level keys
    return lines


def syntax_message(path: Path, err: Exception) -> str:
    """A TOML syntax error as one sentence that starts with where it is: "lesson.toml line 3, column 9: ..."."""
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


def read_toml_file(path: str | Path, kind: str, limit: int, error: type[Exception], *, folder: str, missing: str,
                   nested: str) -> tuple[dict, str]:
    """A TOML file the user gives (a lesson.toml, a course file): its table and its text, or ``error`` with one
    sentence. ``kind`` names it ("config file"); ``folder``, ``missing`` and ``nested`` say what to do when it is a
    folder, does not exist, or nests too deeply. Only a regular file of at most ``limit`` bytes is read (a
    device, FIFO or socket never: no hang, no endless /dev/zero); a byte order mark is not part of the text."""
    from mha_core.files import FileError, check_path, read_file

    try:
        path = check_path(path)  # a name or path too long for the system: one sentence, not ENAMETOOLONG
        if path.is_dir():
            raise error(f"{kind} {path} is a folder; {folder}")
        data = read_file(path, limit, kind)
    except FileNotFoundError:
        raise error(f"{kind} {path} does not exist; {missing}") from None
    except FileError as err:
        raise error(str(err)) from None
    except OSError as err:
        raise error(f"cannot read the {kind} {path} ({err.strerror or err}); check its permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.removeprefix(b"\xef\xbb\xbf")[: err.start].count(b"\n") + 1
        raise error(f"{path} line {line}: the file is not UTF-8 text; save it as UTF-8") from None
    try:
        return parse(text), text
    except TOMLDecodeError as err:
        raise error(syntax_message(path, err)) from None
    except RecursionError:  # tomllib recurses once per nested array or table
        raise error(f"{path} nests arrays or tables too deeply to read; {nested}") from None
