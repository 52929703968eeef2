"""Measurements kept on disk between runs, keyed by everything they are computed from.

Zeroing each of MiniLM's 72 heads over the probe set costs tens of seconds on a laptop CPU, and its
result is a pure function of the verified model, the sentences, the code that measures and the
device kind. ``remembered`` computes it once per machine and reads it back afterwards:

    shift = remembered("redundancy", key, lambda: {"shift": compute()})["shift"]

The folder is ``$MHA_EXPLAINER_CACHE`` (as given: a relative one is relative to the current folder),
else ``$XDG_CACHE_HOME/mha-explainer`` when that is an absolute path (the XDG rule: a relative one is
ignored), else ``~/.cache/mha-explainer``; it holds only files this module wrote
(``<name>-<key>.safetensors``). A folder that cannot be written costs only time: the value is
computed and returned as usual. Nothing read back is trusted: a file that is not a regular file (a
link is not followed), does not load, or fails the caller's ``check`` is computed again.

Two processes that need the same measurement at once (two renders, the test suite's workers) compute it
once: the one that computes holds a lock on the folder itself (``flock``, no file added) while the other
waits, then reads what was written. Where there is no lock to take (no ``fcntl``, a folder that does not
open) or the wait passes ``LOCK_WAIT``, each computes its own, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CACHE_ENV = "MHA_EXPLAINER_CACHE"
LOCK_WAIT = 600.0  # seconds to wait for another process's measurement (one takes tens of seconds)


def cache_dir() -> Path:
    """Where measurements are kept (see the module doc)."""
    if folder := os.environ.get(CACHE_ENV):
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: the XDG Base Directory spec says to ignore it
        base = Path.home() / ".cache"
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


def remembered(name: str, key: str, compute: Callable[[], dict],
               check: Callable[[dict], bool] | None = None) -> dict:
    """``compute()`` (name -> tensor), or what it returned before for the same ``name`` and ``key``
    when that loads and passes ``check`` (e.g. the names, shapes and dtypes ``compute`` gives)."""
    from .files import FileError, save_safetensors

    path = cache_dir() / f"{name}-{key}.safetensors"

    def kept() -> dict | None:
        tensors = _load(path)
        return tensors if tensors is not None and (check is None or _passes(check, tensors)) else None

    if (tensors := kept()) is not None:
        return tensors
    with _alone(path.parent):
        if (tensors := kept()) is not None:  # another process computed it while this one waited
            return tensors
        tensors = compute()
        try:
            save_safetensors(tensors, path)
        except (OSError, FileError):
            pass  # a read-only home, or something not a regular file in the way: the value is right, only not kept
    return tensors


@contextlib.contextmanager
def _alone(folder: Path) -> Iterator[None]:
    """Hold the folder's lock (made first if need be) while a measurement is computed into it: another
    process waits up to ``LOCK_WAIT`` seconds, then goes on without it. No lock to take: go on at once."""
    try:
        import fcntl

        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):  # no fcntl (Windows), a read-only home, a file where the folder should be
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:  # another process is measuring
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            except OSError:  # a file system without locks
                break
        yield
    finally:
        os.close(fd)  # and with it the lock


def _load(path: Path) -> dict | None:
    """The tensors of the regular file ``path`` (a link is not followed), or None for anything else."""
    from safetensors.torch import load

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:  # absent, unreadable, or a link (ELOOP)
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # a FIFO or device planted under the name
                return None
            return load(f.read())
    except Exception:  # damaged in any way (truncated, a planted header, nested JSON): compute it again
        return None


def _passes(check: Callable[[dict], bool], tensors: dict) -> bool:
    try:
        return bool(check(tensors))
    except Exception:
        return False
