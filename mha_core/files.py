"""Files the core writes and checks: one sha256 helper, byte-deterministic safetensors, and the one
gate for single files the tool writes or reads (bounded paths; regular files or nothing).

Torch is imported only when a tensor file is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import struct
import tempfile
from pathlib import Path


def sha256_file(path: str | os.PathLike) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_safetensors(tensors: dict, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``tensors`` (name -> tensor) to ``path`` as safetensors, the same bytes for the same input.

    safetensors keeps the header's metadata in a hash map, so its key order (and the file's
    bytes) change from process to process; here the header is written again with the keys
    sorted. Written to a temporary name in the same folder, then moved into place (``write_file``:
    ``FileError`` when ``path`` is no longer absent or a regular file).
    """
    from safetensors.torch import save

    # Clone: tensors may share storage (e.g. ``masked`` is ``scaled`` when nothing is masked).
    tensors = {str(k): v.detach().cpu().clone().contiguous() for k, v in tensors.items()}
    data = save(tensors, metadata={str(k): str(v) for k, v in (metadata or {}).items()} or None)
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data that follows stays 8-byte aligned
    write_file(path, struct.pack("<Q", len(text)) + text + data[8 + length:])


# -- paths the tool reads and writes: bounded, and regular files or nothing ------------------

NAME_MAX = 255  # bytes in one name (Linux and macOS file systems)
PATH_MAX = 4096  # bytes in a whole path (Linux)
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


class FileError(ValueError):
    """A path the tool will not read or write; ``str(err)`` is one sentence saying what to do instead."""


def shown(path: str | os.PathLike, most: int = 160) -> str:
    """``path`` as a message quotes it: a very long one cut in the middle, so the sentence stays readable."""
    text = str(path)
    return text if len(text) <= most else f"{text[:most // 2]}…{text[-(most // 2):]}"


def check_path(path: str | os.PathLike) -> Path:
    """``path`` expanded (~), or ``FileError`` when the system could not use it: a name over NAME_MAX
    bytes or a path over PATH_MAX (checked here, so no command ends in ENAMETOOLONG)."""
    path = Path(path).expanduser()
    raw = os.fsencode(path)
    if len(raw) >= PATH_MAX:
        raise FileError(f"the path {shown(path)} is {len(raw)} bytes long, but paths are limited to {PATH_MAX - 1} "
                        "bytes; choose a shorter one")
    for name in raw.split(b"/"):
        if len(name) > NAME_MAX:
            where = "" if name == raw else f" in {shown(path)}"
            raise FileError(f"the name {shown(os.fsdecode(name), 40)}{where} is {len(name)} bytes long, but names "
                            f"are limited to {NAME_MAX} bytes; choose a shorter one")
    return path


def kind_of(mode: int) -> str | None:
    """What a non-regular file is ("a device", "a directory", ...), from ``st_mode``; None for a regular file."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def check_output_file(path: str | os.PathLike, force: bool = False, example: str = "output") -> Path:
    """``path`` (expanded) if a new file can be written there: absent, or a regular file with ``force``.

    Refused with ``FileError``, ``force`` or not: a directory, device, FIFO or socket, and a symbolic
    link (never written through, nor replaced: a link is someone's choice of where a name points),
    a name or path too long, a folder that does not exist or cannot be written. ``example``: a file
    name to suggest when ``path`` is a directory. ``write_file`` checks the path again just before
    the file is moved into place.
    """
    path = check_path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:  # e.g. a component of the path is a file
        raise FileError(f"cannot use {shown(path)} ({_reason(err)}); give the path of a new or regular file") \
            from None
    if mode is not None and stat.S_ISDIR(mode):
        raise FileError(f"{shown(path)} is a directory; give a file name such as {shown(path / example)}")
    if mode is not None and (kind := kind_of(mode)):
        raise FileError(f"{shown(path)} is {kind}, not a regular file; give the path of a new or regular file")
    if mode is not None and not force:
        raise FileError(f"{shown(path)} already exists; pass --force to overwrite it or choose another name")
    parent = path.parent
    if not parent.is_dir():
        raise FileError(f"the folder {shown(parent)} does not exist; create it or choose another path")
    try:  # really try: permission bits say nothing for root or read-only file systems
        tempfile.TemporaryFile(dir=parent).close()
    except OSError:
        raise FileError(f"cannot write to {shown(parent)}; choose a folder you can write to") from None
    return path


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` whole: into a new temporary file beside it (O_EXCL, so never through a
    planted link), then moved over ``path`` only if ``path`` is still absent or a regular file.

    Raises ``FileError`` (nothing changed) when ``path`` became something else since it was checked:
    ``os.replace`` over a device node would replace the node. Other failures raise ``OSError``.
    """
    path = Path(path)
    while True:  # mkstemp's files are 0600; this one gets the umask's mode, as open() would give
        tmp = path.with_name(f".mha-explainer-{secrets.token_hex(8)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and (kind := kind_of(mode)):
            raise FileError(f"{shown(path)} became {kind} while it was being written; it was left as it is, so "
                            "give the path of a new or regular file")
        os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def read_file(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path`` (symbolic links followed), at most ``limit`` of them.

    ``FileError`` when it is not a regular file (a device, FIFO or folder is never read: no hang on
    a FIFO, no endless /dev/zero) or is larger than ``limit``; ``FileNotFoundError`` when absent;
    other ``OSError`` as they come.
    """
    path = check_path(path)
    mode = os.stat(path).st_mode
    if kind := kind_of(mode):
        raise FileError(f"the {what} {shown(path)} is {kind}, not a regular file; give the path of a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO swapped in since: open does not wait
    with os.fdopen(fd, "rb") as f:
        if kind := kind_of(os.fstat(fd).st_mode):
            raise FileError(f"the {what} {shown(path)} is {kind}, not a regular file; give the path of a regular "
                            "file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileError(f"the {what} {shown(path)} is larger than {limit // 1024} KiB, more than a {what} ever "
                        "needs; give the right file")
    return data


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike):
    """Hold an exclusive ``flock`` on the directory ``folder`` itself (no lock file left behind) while
    the block runs; ``BlockingIOError`` at once when another process holds it. The kernel lets go of a
    dead process's lock."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # closing the descriptor lets go of the lock


def _reason(err: OSError) -> str:
    reason = err.strerror or type(err).__name__
    return reason[:1].lower() + reason[1:]
