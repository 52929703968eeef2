"""What a render depends on, as hashes: a chapter's cache key, the lesson folder's key.

Same config => same tensors => same frames => same bytes: a key changes exactly when
something that can change the output does (the config fields that reach pixels, the
Lesson's tensors, the source code, the library versions).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import fields, is_dataclass
from importlib import resources
from pathlib import Path


from ..lesson.config import LessonConfig
from .cache import CACHE_SCHEMA, intact
from .folder import is_lesson_name, package_version, read_manifest, resolve_out, tidy, versions

# Config fields that cannot change a chapter's pixels or cues (what to render and where),
# or whose effect is already in the hash another way (quality/fps/pixel_height via the
# resolved size and rate; device via the tensors), or that only add files to the folder (scorm).
_NOT_IN_HASH = {"chapters", "out", "formats", "device", "quality", "fps", "pixel_height", "scorm"}


def code_hash() -> str:
    """sha256 of the source files of mha_core/ and scenes/ plus the Manim and PyAV versions."""
    import mha_core
    import scenes

    h = hashlib.sha256(f"manim {package_version('manim')} av {package_version('av')} schema {CACHE_SCHEMA}".encode())
    for package in (mha_core, scenes):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".txt", ".json", ".toml") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def folder_key(config: LessonConfig, code: str | None = None, voice=None) -> str:
    """sha256 of everything a lesson folder depends on: the whole config (chapters and formats
    included; not where the folder is: the same lesson is the same bytes in any folder), the code (``code_hash()``, unless given), the player page's template,
    the library versions, the machine's architecture and core count, and who speaks (``voice``,
    resolved from the config unless given: "auto" speaks with what is installed). The manifest
    records it; see ``unchanged_folder``."""
    from ..voice import resolve_voice

    voice = voice or resolve_voice(config.voice)
    page = resources.files("scenes.render") / "templates"
    payload = {
        "config": config.model_dump(mode="json", exclude={"out"}),
        "code": code or code_hash(),
        "voice": voice.identity,
        "page": {item.name: hashlib.sha256(item.read_bytes()).hexdigest()
                 for item in sorted(page.iterdir(), key=lambda item: item.name) if item.is_file()},
        "versions": versions(),
        # torch's float sums depend on the CPU and its thread count (the main process builds the Lesson)
        "machine": [platform.machine(), os.cpu_count()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def unchanged_folder(config: LessonConfig, voice=None) -> dict | None:
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
        if manifest.get("hashes", {}).get("folder") != folder_key(config, voice=voice):
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


def render_settings(config: LessonConfig) -> dict:
    """What a chapter's pixels and cues depend on, besides the Lesson's numbers and the code."""
    fields_ = config.model_dump(mode="json", exclude=_NOT_IN_HASH)
    return {**fields_, "width": config.width, "height": config.height, "fps": config.frame_rate}


def chapter_key(chapter_id: str, settings: dict, lesson_hash: str, code: str) -> str:
    payload = json.dumps({"chapter": chapter_id, "settings": settings, "lesson": lesson_hash, "code": code},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
