"""The one guarded path: every read, move and delete the tool makes inside a folder it owns.

Whatever lies in the lesson folder may have been planted or damaged (a shared course folder,
a zip handed over with its ``.mha-explainer/``), so nothing below a trusted ``base`` folder
is followed: each call walks ``rel`` one component at a time from a directory file descriptor
with ``O_NOFOLLOW``, so a symbolic link, or a file where a folder should be, stops the walk
instead of leading out of the folder.

    remove_file(root, "chapters/01-intro.mp4")   # a regular file only; never through a link
    move(staging, "lesson.mp4", root, "lesson.mp4")
    data = read_bytes(root, "manifest.json", limit=MAX_JSON)

``base`` is a folder the caller checked once (the lesson folder the user named, or one of
the tool's own folders below it); ``rel`` is a relative POSIX path that ``safe_name``
accepts. The lesson's files, the journal, the staging folders and the cache's
entries are read, moved and deleted only through here; inside the cache and speech folders
(real folders ``folder.claim`` made sure of), files are written under a temporary name and
moved into place with one rename by their owners (``worker``, ``media``, ``voice.speech``).

No torch, no Manim: the command line checks folders before it imports anything heavy.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

MAX_JSON = 16 << 20  # bytes: a manifest, journal or cache record is far smaller; a bigger one was not ours
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not block the open


class NotAFolder(OSError):
    """A component of the path is a link, a file or something else where a real folder should be."""


def safe_name(name: object) -> bool:
    """A plain relative POSIX path below a folder: no ``..``, no absolute path, no backslash, normalised."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "." not in name.split("/") \
        and path.as_posix() == name


def _parts(rel: str) -> list[str]:
    if not safe_name(rel):
        raise ValueError(f"not a plain relative path: {rel!r}")
    return list(PurePosixPath(rel).parts)


@contextmanager
def _folder(base: Path, parts: list[str], *, create: bool = False):
    """A file descriptor of ``base/parts...``, each part a real folder (made when ``create``)."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # base: checked by the caller
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotAFolder(err.errno, f"{part} is not a folder", part) from None
                raise
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def kind(base: Path, rel: str) -> str | None:
    """What ``base/rel`` is, never following a link: "file", "folder", "link", "other" (a device,
    FIFO, socket), "blocked" (a component above it is not a real folder) or None (absent)."""
    *parents, name = _parts(rel)
    try:
        with _folder(base, parents) as fd:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except NotAFolder:
        return "blocked"
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "link" if stat.S_ISLNK(mode) else "other"


def names(base: Path, rel: str) -> list[str]:
    """The names in the real folder ``base/rel`` (reached without a link), sorted; [] if there is none."""
    try:
        with _folder(base, _parts(rel)) as fd:
            return sorted(os.listdir(fd))
    except (OSError, ValueError):
        return []


@contextmanager
def open_regular(base: Path, rel: str):
    """``base/rel`` opened for reading (binary), only if it is a regular file reached without a link."""
    *parents, name = _parts(rel)
    with _folder(base, parents) as parent:
        fd = os.open(name, _READ_FLAGS, dir_fd=parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{rel} is not a regular file")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_bytes(base: Path, rel: str, limit: int = MAX_JSON) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (OSError otherwise)."""
    with open_regular(base, rel) as f:
        if os.fstat(f.fileno()).st_size > limit:
            raise OSError(errno.EFBIG, f"{rel} is larger than {limit} bytes")
        return f.read(limit + 1)[:limit]


def read_json(base: Path, rel: str, limit: int = MAX_JSON):
    """The JSON value of a file the tool wrote, or None when it is absent, not a regular file,
    too big, not UTF-8 JSON, or nested too deep to parse: whatever lies there is untrusted."""
    try:
        return json.loads(read_bytes(base, rel, limit).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def file_digest(base: Path, rel: str) -> tuple[int, str] | None:
    """(size, sha256) of a regular file reached without a link, or None."""
    try:
        with open_regular(base, rel) as f:
            digest = hashlib.sha256()
            size = 0
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
            return size, digest.hexdigest()
    except (OSError, ValueError):
        return None


def write_atomically(base: Path, rel: str, data: bytes, *, make_folders: bool = False) -> None:
    """Write ``base/rel`` whole: a new temporary file (never through a link left there), then one rename."""
    *parents, name = _parts(rel)
    with _folder(base, parents, create=make_folders) as fd:
        tmp = f".{name}.{os.getpid()}.tmp"
        try:
            os.unlink(tmp, dir_fd=fd)  # a leftover of a dead process with our pid
        except FileNotFoundError:
            pass
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=fd)
            except OSError:
                pass
            raise


def move(src_base: Path, src_rel: str, dst_base: Path, dst_rel: str, *, mode: int | None = None) -> bool:
    """Move a regular file into place (one rename), making real folders above the target as needed.

    False, and nothing moved, when the source is not a regular file, a folder above the
    target is a link or a file, or the target is anything but a regular file or absent.
    ``mode``: permission bits to give the file first."""
    *src_parents, src_name = _parts(src_rel)
    *dst_parents, dst_name = _parts(dst_rel)
    try:
        with _folder(src_base, src_parents) as src, _folder(dst_base, dst_parents, create=True) as dst:
            if not stat.S_ISREG(os.stat(src_name, dir_fd=src, follow_symlinks=False).st_mode):
                return False
            try:
                target = os.stat(dst_name, dir_fd=dst, follow_symlinks=False).st_mode
                if not stat.S_ISREG(target):
                    return False
            except FileNotFoundError:
                pass
            if mode is not None:
                fd = os.open(src_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
                try:
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
            os.replace(src_name, dst_name, src_dir_fd=src, dst_dir_fd=dst)
            return True
    except (NotAFolder, FileNotFoundError):
        return False


def remove_file(base: Path, rel: str) -> bool:
    """Delete ``base/rel`` if it is a regular file reached without a link; True when it went."""
    *parents, name = _parts(rel)
    try:
        with _folder(base, parents) as fd:
            if not stat.S_ISREG(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                return False
            os.unlink(name, dir_fd=fd)
            return True
    except (NotAFolder, FileNotFoundError):
        return False


def remove_empty_folders(base: Path, rel: str) -> None:
    """Remove the folders above ``base/rel`` that are now empty, deepest first (never ``base``)."""
    parents = _parts(rel)[:-1]
    while parents:
        try:
            with _folder(base, parents[:-1]) as fd:
                os.rmdir(parents[-1], dir_fd=fd)  # fails on a folder that is not empty, or a link
        except OSError:
            return
        parents.pop()


def remove_tree(base: Path, rel: str) -> None:
    """Remove ``base/rel`` whatever it is, without following a link inside it or at it (a link goes,
    its target stays). For the tool's own work folders only: a lesson file goes by ``remove_file``."""
    *parents, name = _parts(rel)
    try:
        with _folder(base, parents) as fd:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                shutil.rmtree(name, dir_fd=fd)  # walks by file descriptors: safe against links inside
            else:
                os.unlink(name, dir_fd=fd)
    except (NotAFolder, FileNotFoundError):
        pass


def real_folder(base: Path, rel: str) -> Path:
    """Make ``base/rel`` a real folder of the tool's: any link or file standing where one of its
    folders should be is removed first (the link alone, never its target). Returns the path."""
    parts = _parts(rel)
    for depth in range(1, len(parts) + 1):
        here = "/".join(parts[:depth])
        what = kind(base, here)
        if what not in (None, "folder"):
            remove_tree(base, here)  # a link or a file: unlinked, never followed
        if what != "folder":
            with _folder(base, parts[:depth], create=True):
                pass
    return base / rel


def rename_aside(base: Path, rel: str, suffix: str) -> str | None:
    """Rename ``base/rel`` (whatever it is, a link included: never followed) to ``rel + suffix``,
    replacing an earlier one; returns the new name, or None when there was nothing to rename."""
    *parents, name = _parts(rel)
    try:
        with _folder(base, parents) as fd:
            aside = name + suffix
            try:
                if stat.S_ISDIR(os.stat(aside, dir_fd=fd, follow_symlinks=False).st_mode):
                    shutil.rmtree(aside, dir_fd=fd)
                else:
                    os.unlink(aside, dir_fd=fd)
            except FileNotFoundError:
                pass
            os.rename(name, aside, src_dir_fd=fd, dst_dir_fd=fd)
            return "/".join([*parents, aside])
    except (NotAFolder, FileNotFoundError):
        return None
