"""The render cache: one folder per rendered chapter, named by the hash of what it depends on, the
lessons joined from them and the synthesised speech, kept outside every lesson folder.

Where: ``cache =`` in lesson.toml or a course file, ``--cache``, else ``renders/`` in the user's cache folder
(``mha_core.store.cache_dir``: ``$XDG_CACHE_HOME/mha-explainer``, else ``~/.cache/mha-explainer``). One cache
serves every lesson and course on the machine (or, on a shared file system, the cluster); it is bounded in
size (``cache_size``, in GB), least recently used entries first (``prune``), never the chapters of the
lesson being written. The folder is the tool's only when it holds its marker file (``CACHE_MARKER``): a
new or empty folder gets one; a folder with other files and no marker is someone else's and is refused.
Only names the tool gives are ever deleted there: a file of yours placed in it, or a link, stays.

Nothing in it is trusted when read back: an entry is used only when its meta.json (written
last) records the size and SHA-256 of every file and each file still matches; a damaged or
planted entry is discarded and the chapter rendered again. Reads, writes and deletes go
through ``guard`` (never through a link).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from . import guard

# Bump when the layout of a cache entry changes: old entries are then ignored.
CACHE_SCHEMA = 4
MASTER = "video.mp4"  # every chapter is rendered once to H.264; other formats are converted from it
FULLEST = "fullest.png"  # the chapter's fullest settled frame (thumbnail and poster of the lesson folder)
NARRATION = "narration.wav"  # the chapter's sound at 48 kHz, as long as its video (voiced lessons only)
META = "meta.json"

_FIELDS = {"title": str, "summary": str, "duration": (int, float), "render_seconds": (int, float), "cues": list,
           "beats": list}  # what the pipeline reads of an entry's meta.json
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}")  # a cache entry is named by its chapter key
_JOINED_NAME = re.compile(r"lesson-[0-9a-f]{64}")  # a joined lesson, named by its chapters' keys
_JOB_FOLDER = re.compile(r"([0-9a-f]{16})-([0-9]+)")  # a chapter job's work folder in tmp/: <key16>-<pid>
_SPEECH_FILE = re.compile(r"[0-9a-f]{64}\.npz")  # speech/: one file per (text, voice, parameters)
TMP, SPEECH, TIMINGS = "tmp", "speech", "timings.json"
STALE_JOB_SECONDS = 24 * 3600  # a job's work folder untouched this long was left by a process that died


class Cache:
    """``<root>/<key>/``: meta.json (written last) + video.mp4 + narration.wav + last.png + fullest.png + conversions;
    ``<root>/lesson-<key>/``: the lesson joined from those entries, with its own meta.json.

    ``root`` is ``<out>/.mha-explainer/cache``, a real folder of the tool's (``folder.claim``).
    An entry appears in one ``os.replace`` of a finished folder; jobs work in ``<root>/tmp/``.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._records: dict[str, dict] = {}  # entries' meta.json, read once per process, by key
        self._intact: dict[str, set[str]] = {}  # the files of each entry checked in this process

    def entry(self, key: str) -> Path:
        return self.root / key

    def meta(self, key: str) -> dict | None:
        """The entry's record, if it is one of this schema (its files not yet checked: ``verified``)."""
        meta = guard.read_json(self.root, f"{key}/{META}") if _ENTRY_NAME.fullmatch(key) else None
        ok = isinstance(meta, dict) and meta.get("schema") == CACHE_SCHEMA and _file_records(meta.get("files")) \
            and all(isinstance(meta.get(name), kinds) for name, kinds in _FIELDS.items()) \
            and all(isinstance(item, dict) for item in [*meta["cues"], *meta["beats"]])
        return meta if ok else None

    def verified(self, key: str, names=None) -> dict | None:
        """The entry's record when each of ``names`` (default: every file it records) is recorded there and
        is a regular file with its recorded size and SHA-256; else None. Only what a render reads is
        checked (hashing a 700 s narration it does not need would cost the unchanged re-render time);
        each file once per process (``forget`` after the entry changes)."""
        meta = self._records.get(key) or self.meta(key)
        if meta is None:
            return None
        names = set(meta["files"] if names is None else names)
        checked = self._intact.setdefault(key, set())
        if not names <= set(meta["files"]) or not intact(self.entry(key), {n: meta["files"][n] for n in names - checked}):
            return None
        self._records[key] = meta
        checked |= names
        return meta

    def forget(self, key: str) -> None:
        self._intact.pop(key, None)
        self._records.pop(key, None)

    def missing(self, key: str, formats) -> list[str]:
        """Files (by format) that an intact entry still lacks; every format if there is none. A damaged
        or planted entry is discarded here, so it is rendered again, never copied. Checked: the files of
        the formats it has, its fullest frame, and the master when a conversion must be made from it."""
        meta = self.meta(key)
        lacking = [] if meta is None else [f for f in formats if cache_name(f) not in meta["files"]]
        used = {cache_name(f) for f in formats if f not in lacking} | {FULLEST} | ({MASTER} if lacking else set())
        if meta is None or self.verified(key, used) is None:
            self.discard(key)
            return list(formats)
        return lacking

    def discard(self, key: str) -> None:
        self.forget(key)
        if _ENTRY_NAME.fullmatch(key):
            guard.remove_tree(self.root, key)

    def timings(self) -> dict[str, float]:
        """Seconds each chapter took to render last time (for scheduling the longest first)."""
        try:
            return {str(k): float(v) for k, v in guard.read_json(self.root, "timings.json").items()}
        except (ValueError, TypeError, AttributeError):
            return {}

    def record_timings(self, seconds: dict[str, float]) -> None:
        if seconds:
            data = json.dumps({**self.timings(), **seconds}, indent=1, sort_keys=True)
            guard.write_atomically(self.root, "timings.json", data.encode())

    def joined(self, chapter_keys) -> Path:
        """The folder of the lesson joined from these chapter entries, in this order (``lesson.<fmt>``):
        what it holds depends on nothing else (the chapter keys cover code, config, voice and tensors).
        A real folder of the cache's (made now if missing; a link or file there is removed first)."""
        key = hashlib.sha256("\n".join(chapter_keys).encode()).hexdigest()
        return guard.real_folder(self.root, f"lesson-{key}")

    def joined_file(self, joined: Path, name: str) -> bool:
        """Whether ``joined/name`` was joined before and is intact (size and SHA-256 as recorded)."""
        files = _joined_records(joined)
        return name in files and intact(joined, {name: files[name]})

    def record_joined(self, joined: Path, name: str) -> None:
        """Record ``joined/name``'s size and SHA-256, just after it was joined (keeping the other formats' records)."""
        files = {k: v for k, v in _joined_records(joined).items() if k != name}
        guard.write_atomically(joined, META, json.dumps({"schema": CACHE_SCHEMA, "files": {
            **files, **file_records(joined, [name])}}, indent=1, sort_keys=True).encode())

    def touch(self, key: str) -> None:
        try:
            os.utime(self.entry(key) / META, follow_symlinks=False)
        except OSError:
            pass

    def prune(self, limit_bytes: int, protect=frozenset()) -> int:
        """Keep the cache within ``limit_bytes``: drop its least recently used items (chapter entries, joined
        lessons, speech files) until the rest fits, and the work folders of jobs that died (untouched for
        ``STALE_JOB_SECONDS``). Never a chapter in ``protect`` (the lesson just written). Only names the
        tool gives, reached without a link, are candidates: anything else stays, uncounted. Returns the bytes
        dropped."""
        items = sorted(self.items(), key=lambda item: item.used)
        total = sum(item.bytes for item in items)
        dropped = 0
        for item in items:
            if total - dropped <= limit_bytes:
                break
            if item.kind == "chapter" and item.name in protect:
                continue
            guard.remove_tree(self.root / item.folder, item.name)
            dropped += item.bytes
        stale = time.time() - STALE_JOB_SECONDS
        for name in guard.names(self.root, TMP):
            if _JOB_FOLDER.fullmatch(name) and _mtime(self.root / TMP / name) < stale:
                guard.remove_tree(self.root / TMP, name)
        return dropped

    def items(self) -> list[CacheItem]:
        """What the cache holds that the tool made: chapter entries, joined lessons and speech files, with
        their sizes and when each was last used. Reads only; never through a link."""
        found = []
        for name in _names(self.root):  # the root: checked by open_cache (a real folder of ours)
            kind = "chapter" if _ENTRY_NAME.fullmatch(name) else "lesson" if _JOINED_NAME.fullmatch(name) else None
            if kind and guard.kind(self.root, name) == "folder":
                used = _mtime(self.root / name / META) if kind == "chapter" else _mtime(self.root / name)
                found.append(CacheItem(kind, "", name, _tree_bytes(self.root / name), used))
        for name in guard.names(self.root, SPEECH):
            if _SPEECH_FILE.fullmatch(name) and guard.kind(self.root, f"{SPEECH}/{name}") == "file":
                path = self.root / SPEECH / name
                found.append(CacheItem("speech", SPEECH, name, _tree_bytes(path), _mtime(path)))
        return found

    def clean_tmp(self, keys=None) -> None:
        """Remove the work folders of these chapters' jobs (default: every chapter's) whose process is gone
        (``<key16>-<pid>`` in tmp/), never following a link; a job of a render still running keeps its folder."""
        prefixes = None if keys is None else {key[:16] for key in keys}
        for name in guard.names(self.root, TMP):
            match = _JOB_FOLDER.fullmatch(name)
            if match and (prefixes is None or match[1] in prefixes) and not _alive(int(match[2])):
                guard.remove_tree(self.root / TMP, name)


@dataclass(frozen=True)
class CacheItem:
    kind: str  # "chapter", "lesson" (joined) or "speech"
    folder: str  # its folder inside the cache ("" or "speech")
    name: str
    bytes: int
    used: float  # when it was last used (the mtime a render touches)


def _tree_bytes(path: Path) -> int:
    """Bytes of the regular files at or below ``path``, not following links."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return 0
    if not os.path.isdir(path) or os.path.islink(path):
        return info.st_size if os.path.isfile(path) and not os.path.islink(path) else 0
    total = 0
    for folder, _, files in os.walk(path):  # os.walk does not follow links to folders
        for name in files:
            try:
                entry = os.stat(os.path.join(folder, name), follow_symlinks=False)
            except OSError:
                continue
            total += entry.st_size if stat.S_ISREG(entry.st_mode) else 0
    return total


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a pid taken again counts as alive: kept)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _joined_records(joined: Path) -> dict[str, dict]:
    """A joined lesson's records (name -> size and SHA-256), or none when its meta.json is not one of ours."""
    meta = guard.read_json(joined, META)
    files = meta.get("files") if isinstance(meta, dict) and meta.get("schema") == CACHE_SCHEMA else None
    return files if _file_records(files) else {}


def file_records(folder: Path, names) -> dict[str, dict]:
    """name -> {"bytes", "sha256"} of files just written into ``folder`` (what ``intact`` checks later)."""
    records = {}
    for name in names:
        digest = guard.file_digest(folder, name)
        if digest is None:
            raise OSError(f"{folder / name} is not a regular file")
        records[name] = {"bytes": digest[0], "sha256": digest[1]}
    return records


def intact(folder: Path, files: dict) -> bool:
    """Every file of ``files`` (name -> {"bytes", "sha256"}) is a regular file of ``folder`` with that size and hash."""
    for name, record in files.items():
        try:
            size = os.stat(folder / name, follow_symlinks=False).st_size
        except (OSError, ValueError):
            return False
        if size != record["bytes"] or guard.file_digest(folder, name) != (record["bytes"], record["sha256"]):
            return False
    return True


def _file_records(files) -> bool:
    return isinstance(files, dict) and all(
        guard.safe_name(name) and "/" not in name and isinstance(r, dict) and isinstance(r.get("bytes"), int)
        and isinstance(r.get("sha256"), str) for name, r in files.items())


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _mtime(path: Path) -> float:
    try:
        return os.stat(path, follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def cache_name(fmt: str) -> str:
    return {"mp4": MASTER, "png": "last.png"}.get(fmt, f"video.{fmt}")
