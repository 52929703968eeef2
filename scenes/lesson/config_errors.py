"""A config mistake as one sentence: ``ConfigError``, and pydantic's validation errors turned into it.

    load_config(heads=3, d_model=8, model="toy")   # scenes.lesson.config raises ConfigError, whose str is
    # "heads = 3 does not divide d_model = 8; pick 1, 2, 4 or 8"

The sentence names the key, the value as the user wrote it (in TOML, ``toml_value``), what is allowed, and the
file's line when the value came from a file. Nothing here knows the lesson's keys: the settings model is passed in.
"""

from __future__ import annotations

import difflib
import os
import re

from annotated_types import Ge, Gt, Le, MaxLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from mha_core.sizes import or_list

from .author_text import text_from_argv
from .quality import QUALITY_LETTERS
from .toml_io import toml_value


class ConfigError(ValueError):
    """A bad config value or file, as one sentence (``str(err)``); the CLI exits with 2."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.message = message
        self.key = key

    def __str__(self) -> str:
        return self.message


def unknown_key(key: str, kind: str, known: tuple[str, ...]) -> str:
    """"unknown flag 'colour'; did you mean ...? known keys are ..." (``kind``: "key" or "flag")."""
    # of the keys that look alike, the one that begins as the typed one does ('pace': 'pacing', not 'cache')
    alike = difflib.get_close_matches(key, known, n=3)
    close = sorted(alike, key=lambda k: -len(os.path.commonprefix([k, key])))[:1]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {key!r}; {hint}known keys are {or_list(known)}"


def one_sentence(err: ValidationError, values: dict, label: str | None, lines: dict, model: type[BaseModel],
                 auto_int_keys: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """Every error of ``err`` in one sentence, and the key of the first.

    ``values``: what was given, by key; ``label``/``lines``: the file they came from and each key's line in it;
    ``model``: the settings model (its keys, ranges, defaults); ``auto_int_keys``: keys that take a number or
    "auto", whose number typed as a flag is shown as the number it means.
    """
    known = tuple(model.model_fields)
    parts, first_key = [], None
    for error in err.errors(include_url=False):
        key = str(error["loc"][0]) if error["loc"] else None
        first_key = first_key or key
        message = _describe(error, key, values, model, auto_int_keys)
        if key is None and (named := re.match(r"(\w+) = ", message)) and named.group(1) in known:
            key = named.group(1)  # a check across keys names the key it is about first: point at its line
            first_key = first_key or key
        if label and key in lines:
            message = f"{label} line {lines[key]}: {message}"
        parts.append(message)
    return "; also ".join(parts), first_key


def _describe(error: dict, key: str | None, values: dict, model: type[BaseModel], auto_int_keys) -> str:
    kind, msg = error["type"], error["msg"]
    if key is None:  # a whole-model check
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return unknown_key(key, "key", tuple(model.model_fields))
    field = model.model_fields[key]
    value = values.get(key, error.get("input"))
    if key in auto_int_keys and isinstance(value, str) and value.strip().lstrip("-").isdigit():
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
        extra = f" (or {', '.join(QUALITY_LETTERS)})" if key == "quality" else ""
        return f"{shown} is not allowed; choose {allowed}{extra}"
    if kind in {"greater_than", "greater_than_equal", "less_than_equal", "less_than"}:
        return f"{shown} is out of range; pick {range_text(field)}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{shown} is not a whole number; pick {range_text(field)}"
    if kind in {"float_parsing", "float_type"}:
        return f"{shown} is not a number; pick {range_text(field)}"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{shown} is not true or false"
    if kind in {"string_type"}:
        return f"{shown} is not text; put it in quotes"
    if kind == "string_too_long":
        return f"{key} is {len(str(error['input']))} characters long; keep it to {max_len(field)} or fewer"
    if kind in {"tuple_type", "list_type"}:
        return f"{shown} is not a list; write it as {key} = {toml_value(field.default)}"
    if kind in {"path_type"}:
        return f"{shown} is not a folder path; put it in quotes"
    return f"{shown}: {msg}"


def range_text(field: FieldInfo) -> str:
    """A numeric field's range in words: "1 to 64", "more than 0 up to 4", "0 or more"."""
    low = high = None
    low_open = False
    for item in field.metadata:
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Gt):
            low, low_open = item.gt, True
        elif isinstance(item, Le):
            high = item.le
    if low is not None and high is not None:
        return f"more than {low} up to {high}" if low_open else f"{low} to {high}"
    return f"{low} or more" if low is not None else f"at most {high}"


def has_range(field: FieldInfo) -> bool:
    """Whether the field has a numeric range (``range_text`` says it)."""
    return any(isinstance(m, (Ge, Gt, Le)) for m in field.metadata)


def max_len(field: FieldInfo) -> int | None:
    """A text field's most characters."""
    return next((m.max_length for m in field.metadata if isinstance(m, MaxLen)), None)
