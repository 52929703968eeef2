"""The lesson folder the tool owns: who may write it, one writer at a time, one run in it.

    with claim(Path("media"), planned={"lesson.mp4", ...}) as folder:
        ...                                   # write every file under folder.staging
        folder.commit(names)                  # the folder becomes the new run in one step

Rules (README, "What the tool writes and deletes"):
- A folder is written only when it is new, empty, or a lesson folder this tool wrote
  (its ``manifest.json`` names the generator). The file-system root and the home
  folder are refused. A file the last manifest does not list is never replaced or
  deleted; a new file whose name is taken by such a file stops the render (exit 2).
- Our own working files (chapter cache, lock, staging, journal, logs) live in
  ``.mha-explainer/`` inside the folder, and nothing we do outside it touches other names.
- One writer at a time: ``.mha-explainer/lock`` is held with ``flock`` for the whole
  render (the kernel releases it when a process dies, so a dead writer's lock is taken over).
- A folder is always one run: files are made in ``.mha-explainer/staging-*`` and moved
  in by ``commit``, which first writes a journal of the moves. Ctrl-C and SIGTERM are
  held back during the moves; a process killed in the middle of them is finished by the
  next run from the journal. Staging folders of dead runs are removed by the next run.

No torch, no Manim: the CLI checks folders before it imports anything heavy.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import signal
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

OWN = ".mha-explainer"  # our working folder inside the lesson folder
MANIFEST = "manifest.json"  # the marker of a folder we wrote: written last by every run
GENERATOR = "mha-explainer"
FOLDER_FORMAT = 1  # layout of the lesson folder and its manifest
_JOURNAL = "commit.json"
_LOCK = "lock"
_CACHE = "cache"  # chapter cache; its tmp/ holds the jobs' work folders


class OutputFolderError(ValueError):
    """The output folder cannot be used; ``str(err)`` is one sentence (exit code 2 in the CLI)."""


class FolderBusyError(OutputFolderError):
    """Another process is writing the folder."""


# -- what a folder is ------------------------------------------------------------------


def resolve_out(out: str | os.PathLike) -> Path:
    """The absolute output folder, or OutputFolderError when it can never be ours."""
    root = Path(os.path.abspath(Path(out).expanduser()))
    if root == Path(root.anchor):
        raise OutputFolderError(f"{root} is the root of the file system; choose a folder of its own with --out")
    if root.resolve() == Path.home().resolve():
        raise OutputFolderError(f"{root} is your home folder; choose a folder of its own with --out, "
                                f"such as {root / 'lesson'}")
    if root.exists() and not root.is_dir():
        raise OutputFolderError(f"the output folder {root} is a file; choose a folder with --out")
    return root


def read_manifest(root: Path) -> dict | None:
    """The manifest of a lesson folder this tool wrote, or None (no manifest, or someone else's)."""
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    generator = manifest.get("generator") if isinstance(manifest, dict) else None
    if not (isinstance(generator, str) and generator.split(" ")[0] == GENERATOR):
        return None
    return manifest


def listed_files(root: Path, manifest: dict) -> set[str]:
    """The files a manifest says this tool wrote: relative names inside the folder only."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        return set()
    return {name for name in files if isinstance(name, str) and _safe_name(name)}


def _safe_name(name: str) -> bool:
    """A plain relative path below the folder, outside our own working folder."""
    parts = PurePosixPath(name).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts \
        and parts[0] != OWN and "\\" not in name and name == PurePosixPath(name).as_posix()


def owned_files(root: Path, planned=()) -> set[str]:
    """What the last render in ``root`` wrote (empty for a new or empty folder), after checking
    that ``root`` is ours and that none of the ``planned`` names is taken by a file we did not write.
    Reads only; raises OutputFolderError."""
    if not root.exists():
        return set()
    try:
        others = sorted(entry.name for entry in root.iterdir() if entry.name != OWN)
    except OSError as err:
        raise OutputFolderError(f"cannot read the output folder {root} ({err.strerror or err}); "
                                "choose another with --out") from None
    manifest = read_manifest(root)
    if manifest is None:
        if others:
            raise OutputFolderError(f"{root} holds files mha-explainer did not write (such as {others[0]!r}); "
                                    "choose an empty or new folder with --out")
        return set()
    listed = listed_files(root, manifest)
    for name in sorted(planned):
        target = root / name
        if name != MANIFEST and name not in listed and (target.exists() or target.is_symlink()):
            raise OutputFolderError(f"{target} was not written by mha-explainer and a render would replace it; "
                                    "move it away or choose another folder with --out")
        parent = target.parent
        while parent != root:  # a folder of ours must not lead out of the lesson folder (a symlink)
            if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                raise OutputFolderError(f"{parent} is not a folder mha-explainer made; move it away "
                                        "or choose another folder with --out")
            parent = parent.parent
    return listed


# -- claiming a folder -------------------------------------------------------------------


@dataclass
class Claim:
    """A folder held for one render: where to stage files and what the last run wrote."""

    root: Path
    staging: Path
    previous: set[str]  # files the last run's manifest lists: the only ones a commit may replace or delete
    committed: bool = False

    @property
    def own(self) -> Path:
        return self.root / OWN

    @property
    def cache(self) -> Path:
        return self.own / _CACHE

    @property
    def speech(self) -> Path:
        """Synthesised speech, one file per (text, voice, parameters): see ``scenes.voice.Narrator``."""
        return self.own / "speech"

    @property
    def logs(self) -> Path:
        return self.own / "logs"

    def commit(self, names) -> None:
        """Make ``root`` the new run: move every staged file in (the manifest last) and delete the
        files of the last run that this one did not write. ``names``: the staged files, relative."""
        names = sorted(set(names))
        bad = [n for n in names if not _safe_name(n) or not (self.staging / n).is_file()]
        if bad:
            raise RuntimeError(f"cannot commit {bad[0]!r}: not a staged file")
        owned_files(self.root, names)  # a file of someone else's may have appeared meanwhile
        journal = {"staging": self.staging.name, "moves": names, "remove": sorted(self.previous - set(names))}
        _write_atomically(self.own / _JOURNAL, json.dumps(journal, indent=1))
        self.committed = True  # the journal owns the staging folder now: a cut-off commit is finished next run
        with _signals_held():
            _apply(self.root, journal)


@contextmanager
def _locked(root: Path):
    """Hold ``root``'s lock: FolderBusyError if another process does, OSError if the lock file
    cannot be made. Our pid goes into the file, for the other process's message."""
    fd = os.open(root / OWN / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
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
    """Finish or clear what dead runs left in a folder of ours (``recover``), under the lock;
    False when the folder is not ours, cannot be written, or another process holds it."""
    if read_manifest(root) is None or not (root / OWN).is_dir():
        return False
    try:
        with _locked(root):
            recover(root)
    except (OSError, FolderBusyError):
        return False
    return True


@contextmanager
def claim(out, planned=()):
    """Hold ``out`` for one render (see the module docstring); yields a ``Claim``.

    Raises OutputFolderError (one sentence) when the folder is not ours, cannot be
    created or written, or another process holds it. Nothing is created before the
    folder has been found usable.
    """
    root = resolve_out(out)
    planned = frozenset(planned)
    owned_files(root, planned)  # before anything is created
    with ExitStack() as stack:
        try:
            (root / OWN).mkdir(parents=True, exist_ok=True)
            stack.enter_context(_locked(root))
        except OSError as err:
            verb = "write to" if root.is_dir() else "create"
            raise OutputFolderError(f"cannot {verb} the output folder {root} ({err.strerror or err}); "
                                    "choose a folder you can write to with --out") from None
        recover(root)
        previous = owned_files(root, planned)
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=root / OWN))
        held = Claim(root, staging, previous)
        try:
            yield held
        finally:
            if not held.committed:
                shutil.rmtree(staging, ignore_errors=True)


def recover(root: Path) -> None:
    """Finish a commit a killed process left half-done; remove the staging folders and job work
    folders of dead runs. Call with the lock held."""
    own = root / OWN
    journal_path = own / _JOURNAL
    try:
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        journal = None
    except (OSError, ValueError):
        journal_path.unlink(missing_ok=True)  # torn before it was complete: nothing was moved yet
        journal = None
    if journal is not None:
        _apply(root, journal)
    for path in [*own.glob("staging-*"), *(own / _CACHE / "tmp").glob("*")]:
        shutil.rmtree(path, ignore_errors=True)


def _apply(root: Path, journal: dict) -> None:
    """Carry out a commit journal; safe to repeat (moved files are not in staging any more)."""
    staging = root / OWN / str(journal["staging"])
    moves = [n for n in journal["moves"] if _safe_name(n)]
    umask = os.umask(0)
    os.umask(umask)
    for name in sorted(moves, key=lambda n: n == MANIFEST):  # the manifest last: it marks the run done
        source = staging / name
        if source.is_file():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(source, 0o666 & ~umask)  # readable like any new file (a web server must serve them)
            os.replace(source, target)
    for name in journal["remove"]:
        if not _safe_name(name):
            continue
        (root / name).unlink(missing_ok=True)
        parent = (root / name).parent
        while parent != root:  # folders this tool made and just emptied (rmdir keeps any that are not empty)
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    (root / OWN / _JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM wait until the block ends (they are delivered then)."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
