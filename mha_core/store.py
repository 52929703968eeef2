"""Measurements kept on disk between runs, keyed by everything they are computed from.

Zeroing each of MiniLM's 72 heads over the probe set costs tens of seconds on a laptop CPU, and its
result is a pure function of the verified model, the sentences, the code that measures and the
device kind. ``remembered`` computes it once per machine and reads it back afterwards:

    shift = remembered("redundancy", key, lambda: {"shift": compute()})["shift"]

The folder is ``$MHA_EXPLAINER_CACHE``, else ``$XDG_CACHE_HOME/mha-explainer``, else
``~/.cache/mha-explainer``; it holds only files this module wrote (``<name>-<key>.safetensors``).
A folder that cannot be written costs only time: the value is computed and returned as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "MHA_EXPLAINER_CACHE"


def cache_dir() -> Path:
    """Where measurements are kept (see the module doc)."""
    if folder := os.environ.get(CACHE_ENV):
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mha-explainer"


def key_of(*parts) -> str:
    """A short hash of JSON-able parts (texts, numbers, file hashes)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def source_hash(*modules) -> str:
    """The SHA-256 of these modules' source files: a change to the code that measures is a new key."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def remembered(name: str, key: str, compute: Callable[[], dict]) -> dict:
    """``compute()`` (name -> tensor), or what it returned before for the same ``name`` and ``key``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .files import save_safetensors

    path = cache_dir() / f"{name}-{key}.safetensors"
    try:
        return load_file(str(path))
    except (OSError, SafetensorError, ValueError):  # absent, unreadable or damaged: compute it again
        pass
    tensors = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_safetensors(tensors, path)
    except OSError:
        pass  # a read-only home: the measurement is still right, only not kept
    return tensors
