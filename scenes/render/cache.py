"""The chapter cache: one folder per rendered chapter, named by the hash of what it depends on."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

# Bump when the layout of a cache entry changes: old entries are then ignored.
CACHE_SCHEMA = 3
CACHE_KEEP = 60  # finished chapter entries kept (least recently used go first)
JOINED_KEEP = 4  # joined lessons kept (an unchanged re-render copies its lesson.mp4 instead of joining again)
MASTER = "video.mp4"  # every chapter is rendered once to H.264; other formats are converted from it
FULLEST = "fullest.png"  # the chapter's fullest settled frame (thumbnail and poster of the lesson folder)
NARRATION = "narration.wav"  # the chapter's sound at 48 kHz, as long as its video (voiced lessons only)

_ENTRY_NAME = re.compile(r"[0-9a-f]{64}")  # a cache entry is named by its chapter key
_JOINED_NAME = re.compile(r"lesson-[0-9a-f]{64}")  # a joined lesson, named by its chapters' keys


class Cache:
    """``<root>/<key>/``: meta.json (written last) + video.mp4 + narration.wav + last.png + fullest.png + conversions;
    ``<root>/lesson-<key>/``: the lesson joined from those entries.

    ``root`` is ``<out>/.mha-explainer/cache``. An entry appears in one ``os.replace`` of a
    finished folder, so a folder with meta.json is complete; jobs work in ``<root>/tmp/``.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def entry(self, key: str) -> Path:
        return self.root / key

    def meta(self, key: str) -> dict | None:
        try:
            meta = json.loads((self.entry(key) / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if meta.get("schema") == CACHE_SCHEMA else None

    def missing(self, key: str, formats) -> list[str]:
        """Files (by format) that a finished entry still lacks; every format if there is no entry."""
        if self.meta(key) is None:
            return list(formats)
        return [f for f in formats if not (self.entry(key) / cache_name(f)).is_file()]

    def timings(self) -> dict[str, float]:
        """Seconds each chapter took to render last time (for scheduling the longest first)."""
        try:
            return {str(k): float(v) for k, v in json.loads((self.root / "timings.json").read_text(encoding="utf-8")).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def record_timings(self, seconds: dict[str, float]) -> None:
        if not seconds:
            return
        path = self.root / "timings.json"
        tmp = path.with_name(f".timings.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**self.timings(), **seconds}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def joined(self, chapter_keys) -> Path:
        """The folder of the lesson joined from these chapter entries, in this order (``lesson.<fmt>``):
        what it holds depends on nothing else (the chapter keys cover code, config, voice and tensors)."""
        key = hashlib.sha256("\n".join(chapter_keys).encode()).hexdigest()
        return self.root / f"lesson-{key}"

    def touch(self, key: str) -> None:
        try:
            os.utime(self.entry(key) / "meta.json")
        except OSError:
            pass

    def prune(self, keep: int = CACHE_KEEP, protect: set[str] = frozenset()) -> None:
        """Drop the least recently used entries beyond ``keep`` (never those in ``protect``).
        Only entries are candidates: folders named by a chapter key, inside the cache."""
        entries = []
        for path in self.root.iterdir() if self.root.is_dir() else ():
            meta = path / "meta.json"
            if _ENTRY_NAME.fullmatch(path.name) and path.is_dir() and not path.is_symlink() \
                    and path.name not in protect:
                entries.append((meta.stat().st_mtime if meta.exists() else 0.0, path))
        entries.sort(reverse=True)
        for _, path in entries[max(keep - len(protect), 0):]:
            shutil.rmtree(path, ignore_errors=True)
        joined = sorted(((path.stat().st_mtime, path) for path in self.root.iterdir()
                         if _JOINED_NAME.fullmatch(path.name) and path.is_dir() and not path.is_symlink()),
                        reverse=True) if self.root.is_dir() else []
        for _, path in joined[JOINED_KEEP:]:
            shutil.rmtree(path, ignore_errors=True)


def cache_name(fmt: str) -> str:
    return {"mp4": MASTER, "png": "last.png"}.get(fmt, f"video.{fmt}")
