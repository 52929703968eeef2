"""The lesson folder the tool owns: who may write it, one writer at a time, one run in it.

    with claim(Path("media"), planned={"lesson.mp4", ...}) as folder:
        ...                                   # write every file under folder.staging
        folder.commit(names)                  # the folder becomes the new run in one step

Rules (README, "What the tool writes and deletes"):
- A folder is written only when it is new, empty, or a lesson folder this tool wrote
  (its ``manifest.json`` names the generator). The file-system root, the home folder and
  any folder inside a work folder ``.mha-explainer`` are refused. A file the last manifest
  does not list is never replaced or deleted; a new file whose name is taken by such a
  file, a folder, a link or a device stops the render (exit 2).
- Our own working files (lock, staging, journal) live in ``.mha-explainer/``, a real folder
  holding our marker file; a link there, or a folder without the marker, is someone else's and
  stops the render (exit 2). The render cache is not in the lesson folder (``cache_folder``):
  after a run the folder holds what its manifest lists, the marker and the lock.
- Nothing read back from the folder is trusted (``guard``): the manifest, the journal and the
  cache are read without following links, bounded in size and checked before use; every
  move and delete walks the path without following a link.
- One writer at a time: ``.mha-explainer/lock`` is held with ``flock`` for the whole
  render (the kernel releases it when a process dies, so a dead writer's lock is taken over).
- A folder is always one run: files are made in ``.mha-explainer/staging-*`` and moved
  in by ``commit``, which first writes a journal of the moves. Ctrl-C and SIGTERM are
  held back during the moves; a process killed in the middle of them is finished by the
  next run from the journal. A journal is honoured only when it names a staging folder of
  ours; any other is set aside (renamed, never followed) with a notice.
- A run that does not commit leaves nothing: a folder it created is removed whole, and a
  folder that was there keeps its lesson files as they were (chapters that finished stay
  in the render cache for the next run).

No torch, no Manim: the CLI checks folders before it imports anything heavy.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import platform
import re
import signal
import stat
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from mha_core.files import kind_of

from . import guard

OWN = ".mha-explainer"  # our working folder inside the lesson folder
MANIFEST = "manifest.json"  # the marker of a folder we wrote: written last by every run
GENERATOR = "mha-explainer"
FOLDER_FORMAT = 1  # layout of the lesson folder and its manifest
MARKER = "work-folder"  # in OWN: says the folder is ours (a folder without it is someone else's)
_MARKER_TEXT = b"mha-explainer's work folder: its lock, staging and commit journal. Safe to delete.\n"
_STAGING_MARKER = ".staging"  # in each staging folder: a journal may name only such a folder
_STAGING = re.compile(r"staging-[A-Za-z0-9_]{4,32}")  # how tempfile.mkdtemp names them
_JOURNAL = "commit.json"
_SET_ASIDE = ".set-aside"  # a journal we will not follow is renamed to commit.json.set-aside
_LOCK = "lock"
_LEGACY = ("cache", "speech")  # where earlier versions kept the render cache: cleared on the next run
_NAME_MAX, _PATH_MAX = 255, 4096  # bytes, as Linux counts them


class OutputFolderError(ValueError):
    """The output folder cannot be used; ``str(err)`` is one sentence (exit code 2 in the CLI)."""


class FolderBusyError(OutputFolderError):
    """Another process is writing the folder."""


# -- what a folder is ------------------------------------------------------------------


def resolve_out(out: str | os.PathLike) -> Path:
    """The absolute output folder, or OutputFolderError when it can never be ours."""
    root = Path(os.path.abspath(Path(out).expanduser()))
    if len(os.fsencode(root)) >= _PATH_MAX:
        raise OutputFolderError(f"the output folder's path is {len(os.fsencode(root))} bytes long, over the "
                                f"system's limit of {_PATH_MAX - 1}; choose a shorter path with --out")
    long = next((part for part in root.parts if len(os.fsencode(part)) > _NAME_MAX), None)
    if long is not None:
        raise OutputFolderError(f"the output folder's name {long[:40]}… is {len(os.fsencode(long))} bytes long, "
                                f"over the system's limit of {_NAME_MAX}; choose a shorter name with --out")
    if OWN in root.parts:
        raise OutputFolderError(f"{root} is inside a work folder of mha-explainer ({OWN}), which the tool clears; "
                                "choose a folder outside it with --out")
    if root == Path(root.anchor):
        raise OutputFolderError(f"{root} is the root of the file system; choose a folder of its own with --out")
    if root.resolve() == Path.home().resolve():
        raise OutputFolderError(f"{root} is your home folder; choose a folder of its own with --out, "
                                f"such as {root / 'lesson'}")
    if root.exists() and not root.is_dir():
        raise OutputFolderError(f"the output folder {root} is a file; choose a folder with --out")
    return root


def read_manifest(root: Path) -> dict | None:
    """The manifest of a lesson folder this tool wrote, or None (no manifest, someone else's, damaged)."""
    manifest = guard.read_json(root, MANIFEST)
    generator = manifest.get("generator") if isinstance(manifest, dict) else None
    if not (isinstance(generator, str) and generator.split(" ")[0] == GENERATOR):
        return None
    return manifest


def listed_files(root: Path, manifest: dict) -> set[str]:
    """The files a manifest says this tool wrote: relative names inside the folder only."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        return set()
    return {name for name in files if is_lesson_name(name)}


def is_lesson_name(name: object) -> bool:
    """A plain relative path below the folder, outside our own working folder."""
    return guard.safe_name(name) and PurePosixPath(name).parts[0] != OWN


def _what(path: Path) -> str:
    """What stands at ``path``, in a message's words ("a symbolic link", "a device", ...: mha_core.files)."""
    try:
        return kind_of(os.lstat(path).st_mode) or "a file"
    except OSError:
        return "something else"


def check_work_folder(root: Path) -> bool:
    """True when ``root/.mha-explainer`` is ours (a real folder holding our marker), False when there
    is none yet; OutputFolderError when something else stands there. Reads only."""
    what = guard.kind(root, OWN)
    if what is None:
        return False
    if what != "folder":
        raise OutputFolderError(f"{root / OWN} is {_what(root / OWN)}, not the work folder "
                                "mha-explainer makes; remove it or choose another folder with --out")
    if guard.kind(root / OWN, MARKER) != "file":
        raise OutputFolderError(f"{root / OWN} was not made by this version of mha-explainer (it has no "
                                f"{MARKER} file); delete it (it holds only caches) or choose another folder with --out")
    return True


def owned_files(root: Path, planned=(), kind: str = "lesson", ours=()) -> set[str]:
    """What the last render in ``root`` wrote (empty for a new or empty folder), after checking
    that ``root`` and its work folder are ours and that every ``planned`` name is free or a file
    we wrote, reached through real folders. Reads only; raises OutputFolderError.
    ``kind``: "lesson" or "course" (a course folder's manifest says "kind": "course"; one kind is never
    written as the other). ``ours``: names in ``root`` this run made before its first commit (a course's
    lesson folders), which do not make a new folder someone else's."""
    if not root.exists():
        return set()
    try:
        others = sorted(entry.name for entry in root.iterdir() if entry.name != OWN)
    except OSError as err:
        raise OutputFolderError(f"cannot read the output folder {root} ({err.strerror or err}); "
                                "choose another with --out") from None
    check_work_folder(root)
    manifest = read_manifest(root)
    if manifest is None:
        if MANIFEST in others and not isinstance(guard.read_json(root, MANIFEST), dict):
            # damaged, nested too deep, a link or a FIFO: which files are the tool's is unknown
            raise OutputFolderError(f"{root / MANIFEST} is not a manifest mha-explainer can read (damaged, or not a "
                                    "regular file), so its files cannot be told from yours; restore it, or choose an "
                                    "empty or new folder with --out")
        others = [name for name in others if name not in set(ours)]
        if others:
            raise OutputFolderError(f"{root} holds files mha-explainer did not write (such as {others[0]!r}); "
                                    "choose an empty or new folder with --out")
        return set()
    found = manifest.get("kind", "lesson")
    if found != kind:
        what = found if found in ("lesson", "course") else "another kind of"
        raise OutputFolderError(f"{root} is a {what} folder of mha-explainer, not a {kind} folder; choose another "
                                "folder with --out")
    listed = listed_files(root, manifest)
    for name in sorted(planned):
        what = guard.kind(root, name)
        if what == "blocked":  # a folder above it is a link or a file: it must not lead out of the lesson folder
            parts = PurePosixPath(name).parts
            above = next("/".join(parts[:i]) for i in range(1, len(parts)) if guard.kind(root, "/".join(parts[:i]))
                         != "folder")
            raise OutputFolderError(f"{root / above} is {_what(root / above)}, "
                                    "not a folder mha-explainer made; move it away or choose another folder with --out")
        if what not in (None, "file"):
            raise OutputFolderError(f"{root / name} is {_what(root / name)} where the lesson writes a file; "
                                    "move it away or choose another folder with --out")
        if what == "file" and name != MANIFEST and name not in listed:
            raise OutputFolderError(f"{root / name} was not written by mha-explainer and a render would replace it; "
                                    "move it away or choose another folder with --out")
    return listed


# -- claiming a folder -------------------------------------------------------------------


@dataclass
class Claim:
    """A folder held for one render: where to stage files and what the last run wrote."""

    root: Path
    staging: Path
    previous: set[str]  # files the last run's manifest lists: the only ones a commit may replace or delete
    committed: bool = False
    notices: list[str] = field(default_factory=list)  # one line each, for the user: what was set aside
    kind: str = "lesson"  # owned_files
    ours: tuple[str, ...] = ()  # owned_files

    @property
    def own(self) -> Path:
        return self.root / OWN

    def commit(self, names) -> None:
        """Make ``root`` the new run: move every staged file in (the manifest last) and delete the
        files of the last run that this one did not write. ``names``: the staged files, relative."""
        names = sorted(set(names))
        bad = [n for n in names if not is_lesson_name(n) or guard.kind(self.staging, n) != "file"]
        if bad:
            raise RuntimeError(f"cannot commit {bad[0]!r}: not a staged file")
        owned_files(self.root, names, self.kind, self.ours)  # a file of someone else's may have appeared meanwhile
        journal = {"staging": self.staging.name, "moves": names, "remove": sorted(self.previous - set(names))}
        guard.write_atomically(self.own, _JOURNAL, json.dumps(journal, indent=1).encode())
        self.committed = True  # the journal owns the staging folder now: a cut-off commit is finished next run
        with _signals_held():
            _apply(self.root, journal)


@contextmanager
def _locked(root: Path):
    """Hold ``root``'s lock: FolderBusyError if another process does, OutputFolderError if the lock is
    not a regular file of ours, OSError if it cannot be made. Our pid goes into the file, for the
    other process's message. Never through a link."""
    lock = root / OWN / _LOCK
    own = os.open(root / OWN, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd = os.open(_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644, dir_fd=own)
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP):
            raise
        fd = None
    finally:
        os.close(own)
    if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
        if fd is not None:
            os.close(fd)
        raise OutputFolderError(f"{lock} is {_what(lock)}, not mha-explainer's lock file; remove it and render again")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise FolderBusyError(f"another mha-explainer (process {holder}) is writing {root}; "
                                  "wait for it to finish or choose another folder with --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def tidy(root: Path) -> bool:
    """Clear what dead runs left in a folder of ours (``recover``), under the lock; False when the
    folder is not ours, cannot be written, another process holds it, or a commit journal waits
    (a full render finishes it and reports what it did)."""
    try:
        if read_manifest(root) is None or not check_work_folder(root) or guard.kind(root / OWN, _JOURNAL) is not None:
            return False
        with _locked(root):
            recover(root)
    except (OSError, OutputFolderError):
        return False
    return True


@contextmanager
def claim(out, planned=(), kind: str = "lesson", ours=()):
    """Hold ``out`` for one render (see the module docstring); yields a ``Claim``.
    ``kind`` and ``ours``: see ``owned_files`` (a course folder and the lesson folders it makes).

    Raises OutputFolderError (one sentence) when the folder is not ours, cannot be
    created or written, or another process holds it. Nothing is created before the
    folder has been found usable; a run that does not commit removes what it created.
    """
    root = resolve_out(out)
    planned, ours = frozenset(planned), tuple(ours)
    owned_files(root, planned, kind, ours)  # before anything is created
    made = made_own = None  # the outermost folder this run created; whether it created the work folder
    held = None
    try:
        with ExitStack() as stack:
            try:
                made = _make_folders(root)
                made_own = _make_folders(root / OWN) is not None
                if made_own:
                    guard.write_atomically(root / OWN, MARKER, _MARKER_TEXT)
                check_work_folder(root)
                stack.enter_context(_locked(root))
            except OSError as err:
                verb = "write to" if made is None else "create"
                raise OutputFolderError(f"cannot {verb} the output folder {root} ({err.strerror or err}); "
                                        "choose a folder you can write to with --out") from None
            try:
                notices = recover(root)
                previous = owned_files(root, planned, kind, ours)
                staging = Path(tempfile.mkdtemp(prefix="staging-", dir=root / OWN))
                guard.write_atomically(staging, _STAGING_MARKER, b"")
                held = Claim(root, staging, previous, notices=notices, kind=kind, ours=ours)
                yield held
            finally:  # still under the lock
                if held is not None and not held.committed and not (made or made_own):
                    guard.remove_tree(root / OWN, held.staging.name)
    finally:
        if held is None or not held.committed:  # nothing of a run that did not commit stays behind
            if made is not None:
                guard.remove_tree(made.parent, made.name)
            elif made_own:
                guard.remove_tree(root, OWN)


def _make_folders(path: Path) -> Path | None:
    """Make ``path`` and the folders above it that are missing; returns the outermost one this call
    created (None: ``path`` was there, or another process made it first)."""
    missing, here = [], path
    while not os.path.lexists(here) and here.parent != here:
        missing.append(here)
        here = here.parent
    made = None
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        made = made or folder
    return made


def recover(root: Path) -> list[str]:
    """Finish a commit a killed process left half-done; remove the staging folders of dead runs and
    the render cache an earlier version kept in the work folder. Call with the lock held. Returns notices (one line each): a journal
    that does not name a staging folder of ours, or cannot be completed, is set aside."""
    own = root / OWN
    notices = []
    if guard.kind(own, _JOURNAL) is not None:
        journal = guard.read_json(own, _JOURNAL)
        problem = _journal_problem(own, journal)
        if problem is None:
            try:
                _apply(root, journal)
            except OSError as err:
                problem = f"it could not be completed ({err.strerror or err})"
        if problem is not None:
            aside = guard.rename_aside(own, _JOURNAL, _SET_ASIDE)
            notices.append(f"set aside the commit journal {own / _JOURNAL} ({problem}): renamed to {own / aside}, "
                           "nothing it names was moved or deleted")
    for entry in os.listdir(own):  # a real folder of ours (check_work_folder): its names are matched, not followed
        if _STAGING.fullmatch(entry) and guard.kind(own, f"{entry}/{_STAGING_MARKER}") == "file":
            guard.remove_tree(own, entry)
    for entry in _LEGACY:  # a link goes unfollowed, a folder whole: the work folder and all in it are ours
        guard.remove_tree(own, entry)
    return notices


def _journal_problem(own: Path, journal) -> str | None:
    """Why a journal read back from disk must not be followed, or None when it names a staging folder of ours."""
    if not isinstance(journal, dict):
        return "it is not a journal this tool wrote"
    staging = journal.get("staging")
    if not (isinstance(staging, str) and _STAGING.fullmatch(staging)):
        return f"its staging folder {str(staging)[:60]!r} is not one this tool names"
    if guard.kind(own, staging) != "folder" or guard.kind(own / staging, _STAGING_MARKER) != "file":
        return f"{staging} is not a staging folder of this tool"
    for key in ("moves", "remove"):
        if not (isinstance(journal.get(key), list) and all(isinstance(n, str) for n in journal[key])):
            return f"its {key!r} is not a list of names"
    return None


def _apply(root: Path, journal: dict) -> None:
    """Carry out a checked commit journal; safe to repeat (moved files are not in staging any more).
    Only regular files move and go, each through real folders below ``root``: a link, a folder or a
    device where a name points is left alone."""
    staging = root / OWN / journal["staging"]
    umask = os.umask(0)
    os.umask(umask)
    for name in sorted((n for n in journal["moves"] if is_lesson_name(n)), key=lambda n: n == MANIFEST):
        # the manifest last: it marks the run done; readable like any new file (a web server must serve them)
        guard.move(staging, name, root, name, mode=0o666 & ~umask)
    for name in journal["remove"]:
        if is_lesson_name(name) and guard.remove_file(root, name):
            guard.remove_empty_folders(root, name)  # folders this tool made and just emptied
    guard.remove_file(root / OWN, _JOURNAL)
    guard.remove_tree(root / OWN, journal["staging"])


@contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM wait until the block ends (they are delivered then)."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# -- provenance (the manifest records it) ----------------------------------------------------


def versions() -> dict[str, str]:
    """Versions of what computes, draws and encodes the lesson."""
    import av

    found = {package: package_version(package)
             for package in ("mha-explainer", "manim", "torch", "av", "numpy", "pydantic", "safetensors")}
    found["python"] = platform.python_version()
    found["libavcodec"] = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    return found


def package_version(package: str) -> str:
    try:  # package metadata: no import of the package itself (manim and torch take seconds)
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
