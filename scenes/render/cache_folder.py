"""Where the render cache is and whose it is: one folder outside every lesson folder (see ``cache``).

    root = open_cache(config.cache, out=config.out)   # checked, made with its marker, tmp/ and speech/
    usage(root)                                        # what it holds (``mha-explainer cache info``)
    clear(root)                                        # empty it (``mha-explainer cache clear``)

The location is ``cache`` as given (a folder, or a file:// URL), else ``renders/`` in the user's cache folder
(``lesson.config.default_cache``), which also stands in front of a store when ``cache`` is a store's URL
(``chapter_store``: an object store the cluster's workers share). The folder is the tool's when it is new,
empty, or holds the marker file ``CACHE_MARKER``; a folder with other files and no marker, a link, a file, a
folder inside a lesson folder or its work folder: each is refused with one sentence (exit 2 in the CLI),
before anything renders.

No torch, no Manim: the CLI checks the cache before it imports anything heavy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..lesson.config import default_cache
from . import guard
from .cache import SPEECH, TIMINGS, TMP, Cache
from .folder import OWN, OutputFolderError, read_manifest
from .chapter_store import is_store

CACHE_MARKER = "cache-folder"  # says the folder is the tool's (a folder with other files and no marker is not)
_CACHE_MARKER_TEXT = b"mha-explainer's render cache: chapters, speech and joined lessons. Safe to delete.\n"
GB = 1_000_000_000


def cache_location(location: str | os.PathLike | None) -> Path:
    """The render cache's local folder: ``location`` (a path, or a file:// URL), else the default; the default
    too when ``location`` is a store's URL (``chapter_store``: the local cache stands in front of it).
    OutputFolderError for a file:// URL of another host."""
    if location is None or is_store(location):
        return default_cache()
    location = str(location)
    if "://" in location:
        url = urlparse(location)
        if url.netloc not in ("", "localhost"):
            raise OutputFolderError(f"the cache {location} is a file:// URL of another host ({url.netloc}); give "
                                    "a folder of this machine, a shared folder every worker mounts, or an object "
                                    "store's URL with --cache")
        location = unquote(url.path)
    return Path(os.path.abspath(Path(location).expanduser()))


def check_cache_folder(root: Path, out: Path | None = None) -> None:
    """Whether ``root`` can be the tool's cache: new, empty, or holding its marker, and not inside the lesson
    folder ``out`` or any work folder of the tool. Reads only; raises OutputFolderError."""
    if OWN in root.parts:
        raise OutputFolderError(f"the cache {root} is inside a work folder of mha-explainer ({OWN}), which the tool "
                                "clears; choose a folder outside it with --cache")
    if out is not None and root.is_relative_to(Path(os.path.abspath(out))):
        raise OutputFolderError(f"the cache {root} is inside the lesson folder {out}, which must hold only the "
                                "lesson; choose a folder outside it with --cache")
    if not os.path.lexists(root):
        return
    if root.is_symlink() or not root.is_dir():
        raise OutputFolderError(f"the cache {root} is not a folder; choose a folder with --cache")
    try:
        names = os.listdir(root)
    except OSError as err:
        raise OutputFolderError(f"cannot read the cache folder {root} ({err.strerror or err}); choose a folder "
                                "you can write to with --cache") from None
    if names and guard.kind(root, CACHE_MARKER) != "file":
        if read_manifest(root) is not None:
            raise OutputFolderError(f"the cache folder {root} is a lesson folder; choose an empty or new folder "
                                    "outside it with --cache")
        raise OutputFolderError(f"the cache folder {root} holds files (such as {sorted(names)[0]!r}) but not "
                                f"mha-explainer's marker file {CACHE_MARKER}, so they may be someone else's; choose "
                                "an empty or new folder with --cache")


def open_cache(location: str | os.PathLike | None, out: Path | None = None) -> Path:
    """The cache folder, checked (``check_cache_folder``) and made ready: its marker, tmp/ and speech/ real
    folders of the tool's. Raises OutputFolderError (one sentence) when it is not ours or cannot be written."""
    root = cache_location(location)
    check_cache_folder(root, out)
    try:
        root.mkdir(parents=True, exist_ok=True)
        check_cache_folder(root, out)  # made meanwhile by someone else: still ours?
        if guard.kind(root, CACHE_MARKER) is None:
            guard.write_atomically(root, CACHE_MARKER, _CACHE_MARKER_TEXT)
        for name in (TMP, SPEECH):
            guard.real_folder(root, name)
    except OSError as err:
        raise OutputFolderError(f"cannot write the cache folder {root} ({err.strerror or err}); choose a folder "
                                "you can write to with --cache") from None
    return root


def limit_bytes(gigabytes: float) -> int:
    """``cache_size`` (lesson.toml, in GB) in bytes."""
    return int(gigabytes * GB)


@dataclass(frozen=True)
class Usage:
    root: Path
    exists: bool
    counts: dict[str, int]  # kind ("chapter", "lesson", "speech") -> items
    bytes: dict[str, int]  # kind -> bytes

    @property
    def total(self) -> int:
        return sum(self.bytes.values())


def usage(root: Path) -> Usage:
    """What the cache at ``root`` holds (reads only; a folder that is not the tool's holds nothing of it)."""
    counts = {"chapter": 0, "lesson": 0, "speech": 0}
    sizes = dict.fromkeys(counts, 0)
    ours = os.path.isdir(root) and not os.path.islink(root) and guard.kind(root, CACHE_MARKER) == "file"
    for item in Cache(root).items() if ours else ():
        counts[item.kind] += 1
        sizes[item.kind] += item.bytes
    return Usage(root, ours, counts, sizes)


def clear(root: Path) -> int:
    """Delete everything the tool keeps in the cache at ``root`` (its entries, speech, work folders, timings),
    never a file it did not name, nor through a link; the folder and its marker stay. Returns the bytes freed.
    Raises OutputFolderError when ``root`` is not a cache of the tool's."""
    if not os.path.lexists(root):
        return 0
    check_cache_folder(root)
    cache = Cache(root)
    freed = cache.prune(0)
    cache.clean_tmp()  # the work folders of jobs that are gone (a render running meanwhile keeps its own)
    guard.remove_file(root, TIMINGS)
    return freed
