"""What a render depends on, as hashes: a chapter's cache key, the lesson folder's key.

Same config => same tensors => same frames => same bytes: a key changes exactly when
something that can change the output does (the config fields that reach pixels, the
Lesson's tensors, the source code, the library versions).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
from dataclasses import fields, is_dataclass
from importlib import resources
from pathlib import Path

from ..lesson.chapters import chapter
from ..lesson.config import WHERE_KEYS, LessonConfig
from .cache import CACHE_SCHEMA, intact
from .folder import is_lesson_name, package_version, read_manifest, resolve_out, tidy, versions

# Config fields that only one chapter draws: in that chapter's key, not in the others' (the course's name is drawn
# on the title card, in the intro; the closing card's lines on the closing card, which renders like a chapter).
_ONE_CHAPTER = {"course": "intro", "outro": "outro"}
# ``chapter_pacing`` is per chapter too: a chapter's own pacing is in its key alone (``render_settings``), while the
# lesson's ``pacing`` stays in every key.
# Config fields that cannot change a chapter's pixels or cues (what to render and where),
# or whose effect is already in the hash another way (quality/fps/pixel_height via the
# resolved size and rate; device via the tensors), that only add files to the folder (scorm), or that say where
# the files are (``WHERE_KEYS``: the folder, the words' folder, the render cache and its size).
# The words are hashed per chapter, by content (``chapter_key``), not by where their folder is (script); the logo
# by its bytes (``logo_content``), not by its path.
# The accent is hashed as the colour the lesson's theme draws (``accent_of``): another theme's colour in a table
# changes nothing here.
_NOT_IN_HASH = {"chapters", "formats", "device", "quality", "fps", "pixel_height", "scorm", "chapter_pacing",
                "accent", *WHERE_KEYS, *_ONE_CHAPTER}


def code_hash() -> str:
    """sha256 of the source files of mha_core/ and scenes/ plus the Manim and PyAV versions: what the
    lesson folder as a whole depends on (``folder_key``)."""
    return _hash_files(sorted(path for path in _sources() if path.suffix == ".py") + _data_files())


def chapter_code_hash(chapter_id: str, chapters_module: str = "scenes.chapters") -> str:
    """sha256 of the code that reaches one chapter's frames and sound, plus the Manim and PyAV versions:
    the chapter's scene module and the project modules it imports (drawing, lesson data, voice, core),
    the modules that turn its frames into files (``worker`` and what it imports), and the data files
    of mha_core/ and scenes/. Not the export, page, SCORM, folder or command-line code, nor another
    chapter's module: editing those re-renders no chapter (only the folder is written again).
    Scenes from another module (tests) depend on all of mha_core/ and scenes/ (``code_hash``) and on that
    module's own source: two stand-ins for one chapter never share a cache entry (the cache is shared)."""
    if chapters_module != "scenes.chapters":
        return hashlib.sha256(f"{code_hash()} {chapters_module} {_module_source_hash(chapters_module)}".encode()
                              ).hexdigest()
    return _hash_files(sorted(imported_sources([_SCENES / "chapters" / f"{module_name(chapter_id)}.py",
                                                _SCENES / "render" / "worker.py"]) - _BOOKKEEPING) + _data_files())


def _module_source_hash(chapters_module: str) -> str:
    """sha256 of the source file of ``module[:attribute]`` (found without importing it), or "" if it has none."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(chapters_module.split(":")[0])
    except (ImportError, ValueError):
        return ""
    origin = spec.origin if spec is not None else None
    return hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin and os.path.isfile(origin) else ""


def module_name(chapter_id: str) -> str:
    """The module of ``scenes/chapters/`` that holds a chapter's scene (the registry says)."""
    return chapter(chapter_id).module


_SCENES = Path(__file__).resolve().parents[1]  # scenes/
_PROJECT = _SCENES.parent
_CORE = _PROJECT / "mha_core"
# Cache bookkeeping the worker imports, which never touches a frame (its layout is in CACHE_SCHEMA).
_BOOKKEEPING = {_SCENES / "render" / "cache.py", _SCENES / "render" / "guard.py"}


def _sources() -> list[Path]:
    return [path for package in ("mha_core", "scenes") for path in (_PROJECT / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts]


def _data_files() -> list[Path]:
    """The data files of mha_core/ and scenes/, not the scripts (a chapter's key holds its own words' hash)."""
    return sorted(path for path in _sources() if path.suffix in (".txt", ".json", ".toml")
                  and not path.is_relative_to(_SCENES / "scripts"))


def _hash_files(paths) -> str:
    h = hashlib.sha256(f"manim {package_version('manim')} av {package_version('av')} schema {CACHE_SCHEMA}".encode())
    for path in paths:
        h.update(path.relative_to(_PROJECT).as_posix().encode() + b"\0" + _read(path)[0].encode() + b"\0")
    return h.hexdigest()


def imported_sources(roots) -> set[Path]:
    """``roots`` and every module of mha_core/ and scenes/ they import, directly or not (read from the
    source: imports inside functions count too). Importing a module runs the ``__init__`` of each package
    above it, so those count too, with what they import; mha_core counts whole (its names load lazily)."""
    seen, todo = set(), [Path(r).resolve() for r in roots]
    while todo:
        path = todo.pop()
        if path not in seen and path.is_file():
            seen.add(path)
            todo.extend(f for f in _read(path)[1] if f not in seen)
    if any(path.is_relative_to(_CORE) for path in seen):  # ``mha_core.name`` resolves lazily (mha_core/__init__):
        seen |= {path for path in _CORE.rglob("*.py") if "__pycache__" not in path.parts}  # the core is one unit
    return seen


def _read(path: Path) -> tuple[str, tuple[Path, ...]]:
    """(sha256, the project modules it imports) of a source file, read once per version of the file."""
    info = path.stat()
    return _read_version(path, info.st_mtime_ns, info.st_size)


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)|import[ \t]+([^\n]+))",
                     re.MULTILINE)


@functools.lru_cache(maxsize=512)
def _read_version(path: Path, mtime_ns: int, size: int) -> tuple[str, tuple[Path, ...]]:
    # Import statements found by a pattern, not by parsing (11 chapters x 40 modules: a parse costs
    # seconds); one in a docstring counts too, which can only add a dependency, never lose one.
    data = path.read_bytes()
    if path.suffix != ".py":
        return hashlib.sha256(data).hexdigest(), ()
    package = path.parent.relative_to(_PROJECT).parts
    found = []
    for module, names, plain in _IMPORT.findall(data.decode("utf-8", "replace")):
        if plain:
            targets = [(tuple(name.split()[0].split(".")), ()) for name in plain.split("#")[0].split(",") if name.strip()]
        else:
            level = len(module) - len(module.lstrip("."))
            base = package[:len(package) - level + 1] if level else ()
            names = [n.split()[0] for n in names.split("#")[0].strip("()").replace("\n", ",").split(",") if n.strip()]
            targets = [(base + tuple(module.lstrip(".").split(".")), tuple(names))]
        for parts, names in targets:
            parts = tuple(p for p in parts if p)
            if not parts or parts[0] not in ("mha_core", "scenes"):
                continue
            folder = _PROJECT.joinpath(*parts)
            found += [folder.with_suffix(".py"), folder / "__init__.py"]
            # ``from package import module``: the module, or a subpackage's __init__
            found += [f for name in names for f in (folder / f"{name}.py", folder / name / "__init__.py")]
            found += [_PROJECT.joinpath(*parts[:depth], "__init__.py") for depth in range(1, len(parts))]
    return hashlib.sha256(data).hexdigest(), tuple(dict.fromkeys(f for f in found if f.is_file()))


def folder_key(config: LessonConfig, code: str | None = None, voice=None, scripts=None) -> str:
    """sha256 of everything a lesson folder depends on: the whole config (chapters and formats
    included; not where the folder, words or cache are: ``WHERE_KEYS``), the code
    (``code_hash()``, unless given), the player page's template,
    the library versions, the machine's architecture and core count, who speaks (``voice``,
    resolved from the config unless given: "auto" speaks with what is installed) and the words
    (``scripts``, loaded from ``config.script`` unless given). The manifest records it; see
    ``unchanged_folder``."""
    from ..lesson.script import load_scripts
    from ..voice import resolve_voice

    voice = voice or resolve_voice(config.voice)
    scripts = scripts or load_scripts(config.script)
    page = resources.files("scenes.render") / "templates"
    payload = {
        "config": config.model_dump(mode="json", exclude=WHERE_KEYS),
        "words": scripts.record(),
        "code": code or code_hash(),
        "voice": voice.identity,
        "page": {item.name: hashlib.sha256(item.read_bytes()).hexdigest()
                 for item in sorted(page.iterdir(), key=lambda item: item.name) if item.is_file()},
        "versions": versions(),
        # torch's float sums depend on the CPU and its thread count (the main process builds the Lesson)
        "machine": [platform.machine(), os.cpu_count()],
        **logo_content(config),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def logo_content(config: LessonConfig) -> dict:
    """{"logo": the SHA-256 of the logo's bytes} when the lesson has a logo, else {}: what it is, not where it is
    (its path is one of ``WHERE_KEYS``), so moving the file renders nothing again and changing its bytes renders
    every chapter (each draws it) and writes the folder again. ``ConfigError`` if the file has gone since."""
    if config.logo is None:
        return {}
    from ..lesson.config import ConfigError
    from ..lesson.logo import LogoError, digest

    try:
        return {"logo": digest(config.logo)}
    except LogoError as err:
        raise ConfigError(f"logo = {json.dumps(str(config.logo), ensure_ascii=False)} {err}", key="logo") from None


def unchanged_folder(config: LessonConfig, voice=None, scripts=None) -> dict | None:
    """The manifest of ``config.out`` if rendering ``config`` would write that folder again, else None.

    True when the manifest carries this config's ``folder_key`` and every file it lists
    is still there, a regular file reached without a link, with the recorded size and sha256. The CLI then skips the render
    without importing torch or Manim or building the Lesson (seconds of a new Python).
    The Lesson is a function of the key's inputs: seeded weights and embeddings, MiniLM
    files checked by sha256, the corpus inside ``mha_core/``. Devices other than the CPU
    are left out (a GPU may round differently), so they always take the full path.
    """
    if config.device != "cpu":
        return None
    try:
        out = resolve_out(config.out)
        if not tidy(out):  # not ours, or busy; else what dead runs left is finished or cleared
            return None
        manifest = read_manifest(out)
        if manifest.get("hashes", {}).get("folder") != folder_key(config, voice=voice, scripts=scripts):
            return None
        files = manifest["files"]
        if not all(map(is_lesson_name, files)) or not intact(out, files):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # an old or hand-edited manifest, a missing file: render
    return manifest


def fingerprint(obj) -> str:
    """sha256 of a value's contents: tensors by dtype, shape and bytes; dataclasses, dicts,
    sequences and plain objects recursively. The LessonConfig inside is skipped (its
    pixel-relevant fields are hashed separately, so chapter subsets share the cache)."""
    h = hashlib.sha256()
    _feed(h, obj, set())
    return h.hexdigest()


def _feed(h, obj, seen: set) -> None:
    import numpy as np
    import torch

    def put(tag: str, data: bytes = b"") -> None:
        h.update(tag.encode() + b"\x1f" + data + b"\x1e")

    if obj is None or isinstance(obj, (bool, int, float, str, complex)):
        put(type(obj).__name__, repr(obj).encode())
        return
    if isinstance(obj, (bytes, bytearray)):
        put("bytes", bytes(obj))
        return
    if isinstance(obj, LessonConfig):
        put("config")
        return
    if id(obj) in seen:
        put("cycle")
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        put(f"tensor {t.dtype} {tuple(obj.shape)}", t.view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        put(f"ndarray {obj.dtype} {obj.shape}", np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, torch.nn.Module):
        put(type(obj).__name__)
        _feed(h, dict(obj.state_dict()), seen)
    elif is_dataclass(obj):
        put(type(obj).__name__)
        for f in fields(obj):
            put(f.name)
            _feed(h, getattr(obj, f.name), seen)
    elif isinstance(obj, dict):
        put("dict")
        for key in sorted(obj, key=repr):
            put(repr(key))
            _feed(h, obj[key], seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        put(type(obj).__name__, str(len(items)).encode())
        for item in items:
            _feed(h, item, seen)
    elif hasattr(obj, "model_dump"):  # other pydantic models
        put(type(obj).__name__, json.dumps(obj.model_dump(mode="json"), sort_keys=True).encode())
    elif hasattr(obj, "__dict__"):
        put(type(obj).__name__)
        _feed(h, {k: v for k, v in vars(obj).items() if not callable(v)}, seen)
    else:  # opaque (e.g. a Rust tokenizer): its type is all we can say
        put(f"opaque {type(obj).__module__}.{type(obj).__qualname__}")


def render_settings(config: LessonConfig, chapter_id: str | None = None) -> dict:
    """What a chapter's pixels and cues depend on, besides the Lesson's numbers and the code.

    ``chapter_id``: also what reaches that chapter alone: its number when its frames draw it (its place in
    ``chapters``: a chapter moved in the order renders again, one that draws no number does not) and its own
    pacing when ``chapter_pacing`` gives it one."""
    fields_ = config.model_dump(mode="json", exclude=_NOT_IN_HASH)
    settings = {**fields_, "width": config.width, "height": config.height, "fps": config.frame_rate,
                "accent": config.accent_of(config.theme)}
    if chapter_id is not None and chapter(chapter_id).draws_number:
        settings["number"] = config.chapter_number(chapter_id)
    settings.update({key: config.model_dump(mode="json", include={key})[key]
                     for key, cid in _ONE_CHAPTER.items() if cid == chapter_id})
    settings.update(logo_content(config))
    own_pacing = dict(config.chapter_pacing or ())
    if chapter_id in own_pacing:
        settings["chapter_pacing"] = own_pacing[chapter_id]
    return settings


def chapter_key(chapter_id: str, settings: dict, data: str, code: str, words: tuple[str, ...] = ()) -> str:
    """A chapter's cache key: its id, the config fields that reach pixels (``settings``), the fingerprint of the
    Lesson data it reads (``data``), its code (``chapter_code_hash``) and the hashes of its words (its script
    and the shared one)."""
    payload = json.dumps({"chapter": chapter_id, "settings": settings, "lesson": data, "code": code,
                          "words": list(words)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
