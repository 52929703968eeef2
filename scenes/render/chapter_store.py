"""A chapter store at an fsspec URL: where a cluster's workers share their rendered chapters when they share no
file system (an object store: ``s3://``, ``gs://``, ``az://``, or any URL an installed fsspec implementation reads).

    store = open_store("s3://renders/course", limit)   # checked: reachable, the tool's (its marker) or new
    store.keys()                                       # the chapter keys it holds (one listing)
    store.fetch(key, cache)                            # into the local cache, checked; False if absent or damaged
    store.put(key, cache)                              # the local entry, checked, as one whole object

The store is a second tier behind the local render cache (``cache``): chapters render into a machine's local
cache, as always, and are put into the store; a machine that lacks a chapter fetches it before it would render
it. Layout under the URL: the marker object ``mha-explainer-store`` and ``chapters/<key>.tar``, one uncompressed
tar per chapter entry (its meta.json and every file it records), put whole: a reader sees all of an entry or
none of it, and two workers putting one key leave one of two entries made from the same inputs.

Nothing read back is trusted. A fetched object is copied no further than the cache's size bound, read member
by member (regular files with plain names, each once, no more than ``MAX_FILES``), unpacked into a work folder
of the local cache's tmp/ and checked like any cache entry (its key, and every file's size and SHA-256 as its
meta.json records them) before it moves into place in one ``os.replace``; a damaged object is ignored, and the
chapter rendered and put again. The tool writes only its marker and ``chapters/<key>.tar`` there and never
deletes anything in a store: its bound and expiry are the store owner's (a lifecycle rule).

Credentials and endpoints are the fsspec implementation's, from the environment of each machine (for S3:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``; or fsspec's ``FSSPEC_S3_...``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tarfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from . import guard
from .cache import META, TMP, Cache
from .folder import OutputFolderError

STORE_MARKER = "mha-explainer-store"  # says the location is the tool's (one with other objects and no marker is not)
_STORE_MARKER_TEXT = b"mha-explainer's chapter store: rendered chapters, one object each. Safe to delete.\n"
CHAPTERS = "chapters"
CONNECT_TIMEOUT = 10.0  # seconds the store has to answer its first request
MAX_FILES = 32  # an entry holds a handful of files (video, sound, frames, conversions, meta.json)
_CHATTY = ("botocore", "aiobotocore", "s3fs", "gcsfs", "adlfs", "azure", "google", "urllib3")  # loggers of stores
_OBJECT = re.compile(r"([0-9a-f]{64})\.tar")
_CHUNK = 1 << 20


class StoreError(OutputFolderError):
    """The store cannot be used (as a cache folder that cannot be); ``str(err)`` is one sentence (exit code 2)."""


def is_store(location) -> bool:
    """Whether the cache ``location`` names a store (a URL other than file://) rather than a local folder."""
    location = "" if location is None else str(location)
    return "://" in location and urlparse(location).scheme not in ("", "file")


class Store:
    def __init__(self, url: str, fs, path: str, limit: int):
        self.url, self.fs, self.path, self.limit = url, fs, path.rstrip("/"), limit

    def _object(self, key: str) -> str:
        return f"{self.path}/{CHAPTERS}/{key}.tar"

    def keys(self) -> set[str]:
        """The keys of the chapters the store holds (their objects not yet checked: ``fetch`` does)."""
        return set(self._objects())

    def usage(self) -> tuple[int, int]:
        """(chapters, bytes) the store holds (``mha-explainer cache info``)."""
        objects = self._objects()
        return len(objects), sum(objects.values())

    def _objects(self) -> dict[str, int]:
        """key -> bytes of each chapter object the store lists now (one listing, not from fsspec's cache)."""
        folder = f"{self.path}/{CHAPTERS}"
        with self._calls("list"):
            self.fs.invalidate_cache(folder)
            try:
                listing = self.fs.ls(folder, detail=True)
            except FileNotFoundError:
                return {}
        return {m[1]: int(item.get("size") or 0) for item in listing
                if (m := _OBJECT.fullmatch(str(item["name"]).rstrip("/").rsplit("/", 1)[-1]))}

    def fetch(self, key: str, cache: Cache) -> bool:
        """Copy the store's entry of ``key`` into the local ``cache``, checked (see the module docstring).
        True when the cache now holds an intact entry of ``key``; False when the store has none, or a damaged one."""
        if not _OBJECT.fullmatch(f"{key}.tar"):
            return False
        if cache.verified(key) is not None:  # here already (rendered by a worker of this machine)
            return True
        with _work_folder(cache, key) as work:
            with self._calls("read"):
                try:
                    source = self.fs.open(self._object(key), "rb")
                except FileNotFoundError:
                    return False
                with source, open(work / "entry.tar", "xb") as tar_file:
                    copied = 0
                    while block := source.read(_CHUNK):
                        copied += len(block)
                        if copied > self.limit:  # bigger than the whole cache may be: not an entry of ours
                            return False
                        tar_file.write(block)
            if not _unpack(work / "entry.tar", work / key):
                return False
            meta = Cache(work).verified(key)  # its schema, and every file it records, size and SHA-256
            if meta is None or meta.get("key") != key or \
                    set(guard.names(work, key)) != set(meta["files"]) | {META}:
                return False
            if cache.verified(key) is not None:  # made here meanwhile (a worker of the same machine)
                return True
            cache.discard(key)  # a damaged local entry, if any
            try:
                os.replace(work / key, cache.entry(key))
            except OSError:
                pass  # another process moved one in first
            cache.forget(key)
            return cache.verified(key) is not None

    def put(self, key: str, cache: Cache) -> None:
        """Put the local cache's entry of ``key`` into the store as one object (the entry checked first)."""
        meta = cache.verified(key)
        if meta is None:
            raise StoreError(f"the chapter {key[:12]} is not intact in the cache {cache.root}, so it was not put "
                             f"into the store {self.url}; render again")
        with _work_folder(cache, key) as work:
            _pack(cache.entry(key), sorted({*meta["files"], META}), work / "entry.tar")
            with self._calls("write"):
                self.fs.put_file(str(work / "entry.tar"), self._object(key))

    @contextmanager
    def _calls(self, doing: str):
        """The store's own errors (credentials, a missing bucket, the network) as one sentence."""
        try:
            yield
        except StoreError:
            raise
        except Exception as err:  # noqa: BLE001 - any fsspec implementation's error
            raise StoreError(f"cannot {doing} the chapter store {self.url} ({_reason(err)}); check its address and "
                             "this machine's credentials for it, or give a folder with --cache") from None


def open_store(url: str, limit: int, *, create: bool = True) -> Store:
    """The store at ``url``, checked: its fsspec implementation installed, reachable, and the tool's (its marker)
    or new or empty (the marker is then put, unless ``create`` is False: a dry run writes nothing)."""
    import fsspec

    for name in _CHATTY:  # their INFO lines ("Found credentials ...") would land on the progress display
        if logging.getLogger(name).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as err:
        raise StoreError(f"the cache {url} needs fsspec's {urlparse(url).scheme}:// implementation, which is not "
                         f"installed ({_reason(err)}); install it here and on every worker, or give a folder with "
                         "--cache") from None
    except Exception as err:  # noqa: BLE001 - an unknown protocol, a malformed URL
        raise StoreError(f"the cache {url} is not a URL fsspec can open ({_reason(err)}); give a folder, a file:// "
                         "URL or an object store's URL (such as s3://bucket/renders) with --cache") from None
    store = Store(url, fs, path, limit)
    marker = f"{store.path}/{STORE_MARKER}"
    with store._calls("read"):
        if _answered(lambda: fs.exists(marker), url):
            return store
        try:
            others = fs.ls(store.path, detail=False)
        except FileNotFoundError:
            others = []
    if others:
        first = sorted(str(name).rstrip("/").rsplit("/", 1)[-1] for name in others)[0]
        raise StoreError(f"the store {url} holds objects (such as {first!r}) but not mha-explainer's marker "
                         f"{STORE_MARKER}, so they may be someone else's; choose an empty or new location with --cache")
    if create:
        with store._calls("write"):
            fs.pipe_file(marker, _STORE_MARKER_TEXT)
    return store


def _answered(call, url: str):
    """``call()``'s value, or StoreError when the store does not answer within ``CONNECT_TIMEOUT`` seconds (said
    at once, rather than after the implementation's own retries)."""
    from concurrent.futures import ThreadPoolExecutor, TimeoutError

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-probe")
    try:
        return pool.submit(call).result(timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise StoreError(f"the chapter store {url} did not answer within {CONNECT_TIMEOUT:g} s; check its address "
                         "and this machine's network, or give a folder with --cache") from None
    finally:
        pool.shutdown(wait=False)


@contextmanager
def _work_folder(cache: Cache, key: str):
    """A new work folder of this process in the cache's tmp/ (``<key16>-<pid>``: cleared once the process is
    gone, by ``Cache.clean_tmp``), removed when done."""
    name = f"{key[:16]}-{os.getpid()}"
    guard.remove_tree(cache.root / TMP, name)
    work = guard.real_folder(cache.root, f"{TMP}/{name}")
    try:
        yield work
    finally:
        guard.remove_tree(cache.root / TMP, name)


def _pack(entry: Path, names: list[str], target: Path) -> None:
    """An uncompressed tar of ``names`` (regular files of ``entry``, read without following a link), the same
    bytes for the same files: no times, owners or modes of this machine."""
    with open(target, "xb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            with guard.open_regular(entry, name) as f:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = os.fstat(f.fileno()).st_size, 0o644, 0
                tar.addfile(info, f)


def _unpack(tar_path: Path, folder: Path) -> bool:
    """The tar's members into the new ``folder``, if each is a regular file with a plain name, once; else False."""
    try:
        with tarfile.open(tar_path, mode="r:") as tar:
            members = []
            for member in tar:
                members.append(member)
                if len(members) > MAX_FILES:
                    return False
            names = [m.name for m in members]
            if len(set(names)) != len(names) or not all(
                    m.isreg() and guard.safe_name(m.name) and "/" not in m.name for m in members):
                return False
            folder.mkdir()
            for member in members:
                with tar.extractfile(member) as src, open(folder / member.name, "xb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
        return True
    except (tarfile.TarError, OSError, ValueError, EOFError):
        return False


def _reason(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [""])[0][:160].rstrip(".")
    return text or type(err).__name__
