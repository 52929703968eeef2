"""A lesson folder or render cache whose own files were planted or damaged never leads the tool out of it.

Everything under the output folder may have been written by someone else (a shared course
folder, a zip handed over with its ``.mha-explainer/``): the journal, the manifest, the lock;
and so may the render cache (``CACHE_CASES``). Each row plants something into a copy of a rendered lesson folder ``L`` (a
stand-in chapter, 144p at 5 fps, silent) next to a tree of the user's files ``V``; then:
- ``V`` is byte for byte as it was, after this run and after a second one;
- the outcome is exit 0 with the correct lesson (the same files, byte for byte, as the
  lesson rendered into a clean folder), or exit 2 with one sentence naming the culprit;
- a second run works the same way (nothing is left that makes the folder stuck).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenes.render import guard, pipeline
from scenes.render.cache import Cache
from scenes.render.folder import OWN, OutputFolderError, claim, resolve_out
from test_output_folder import REPO, RENDER_SCRIPT, assert_one_sentence, exit_code

pytestmark = pytest.mark.render  # the lesson folder they start from is rendered once per module

TINY = ["intro", "--pixel-height", "144", "--fps", "5", "--model", "toy", "--specialization-model", "toy",
        "--voice", "none", "--jobs", "1", "--scorm"]


_CACHE: list[Path] = []  # the module's render cache (``module_cache``): no other module's renders in it


def render(out: Path, *more: str, cache: Path | None = None):
    """``mha-explainer render`` of the stand-in chapter, in this process (cache: the module's)."""
    from cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "render_lesson", functools.partial(pipeline.render_lesson,
                                                                   chapters_module="test_output_folder:DOT"))
        return CliRunner().invoke(main, ["render", *TINY, "--out", str(out), "--cache", str(cache or _CACHE[0]),
                                         *more])


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory) -> Path:
    _CACHE[:] = [tmp_path_factory.mktemp("cache") / "renders"]
    return _CACHE[0]


def tree(root: Path) -> dict:
    """Every entry under ``root``, never following a link: files by hash, links by target."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            found[path.relative_to(root).as_posix()] = (
                "link " + os.readlink(path) if stat.S_ISLNK(mode) else
                hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(mode) else
                "folder" if stat.S_ISDIR(mode) else f"mode {stat.S_IFMT(mode)}")
    return found


def lesson_files(root: Path) -> dict:
    return {k: v for k, v in tree(root).items() if not k.startswith(OWN)}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """The lesson rendered into a new folder: what every run below must end with (or refuse)."""
    out = tmp_path_factory.mktemp("clean") / "lesson"
    result = render(out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def folders(clean, tmp_path):
    """(L, V): a copy of the clean lesson folder, and the user's own files beside it."""
    lesson = tmp_path / "lesson"
    shutil.copytree(clean, lesson, symlinks=True)
    victim = tmp_path / "victim"
    for name, data in {"a.csv": b"1,2\n", "s.txt": b"mine", "staging-notes/n.txt": b"notes",
                       "cache/tmp/experiment/e.txt": b"experiment", "d.txt": b"do not truncate"}.items():
        (victim / name).parent.mkdir(parents=True, exist_ok=True)
        (victim / name).write_bytes(data)
    return lesson, victim


def journal(lesson: Path, staging, moves=("a.csv",), remove=()) -> None:
    (lesson / OWN / "commit.json").write_text(json.dumps({"staging": staging, "moves": list(moves),
                                                           "remove": list(remove)}))


def our_staging(lesson: Path, name: str = "staging-abcd1234") -> str:
    """A staging folder as the tool makes them (its marker inside)."""
    (lesson / OWN / name).mkdir()
    (lesson / OWN / name / ".staging").write_bytes(b"")
    return name


def list_in_manifest(lesson: Path, *names: str) -> None:
    manifest = json.loads((lesson / "manifest.json").read_text())
    manifest["files"].update({name: {"bytes": 4, "sha256": "0" * 64} for name in names})
    (lesson / "manifest.json").write_text(json.dumps(manifest))


def symlink_instead(path: Path, target: Path) -> None:
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
    path.symlink_to(target, target_is_directory=target.is_dir())


def device(path: Path) -> None:
    """A character device like /dev/null, made here (never the machine's own)."""
    path.unlink(missing_ok=True)
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")


def fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def stale(lesson: Path) -> None:
    """Make the next render take the full path (not "Nothing changed"): one lesson file is gone."""
    (lesson / "poster.png").unlink()


# (id, plant(L, V), expected: 0 or the words of the one-sentence error)
CASES = [
    # -- a planted or damaged commit journal: set aside, never followed
    ("journal-absolute-staging", lambda L, V: journal(L, str(V)), 0),
    ("journal-relative-staging", lambda L, V: journal(L, "../../victim"), 0),
    ("journal-symlinked-staging", lambda L, V: ((L / OWN / "staging-abcd1234").symlink_to(V),
                                                journal(L, "staging-abcd1234", remove=["s.txt"])), 0),
    ("journal-names-outside", lambda L, V: journal(L, our_staging(L), moves=["../../victim/a.csv", str(V / "a.csv")],
                                                   remove=["../victim/s.txt", str(V / "s.txt"), f"{OWN}/lock"]), 0),
    ("journal-not-json", lambda L, V: (L / OWN / "commit.json").write_bytes(b"\x00{not json"), 0),
    ("journal-nested-deep", lambda L, V: (L / OWN / "commit.json").write_text("[" * 5000 + "]" * 5000), 0),
    ("journal-fifo", lambda L, V: fifo(L / OWN / "commit.json"), 0),
    # -- the manifest
    ("manifest-under-symlinked-folder", lambda L, V: ((L / "vlink").symlink_to(V), list_in_manifest(L, "vlink/s.txt")),
     0),
    ("manifest-lists-a-folder", lambda L, V: list_in_manifest(L, "thumbs"), 0),
    ("manifest-nested-deep", lambda L, V: (L / "manifest.json").write_text("[" * 5000 + "]" * 5000),
     ["manifest.json is not a manifest mha-explainer can read"]),
    ("manifest-fifo", lambda L, V: fifo(L / "manifest.json"), ["manifest.json is not a manifest mha-explainer can read"]),
    ("manifest-symlink", lambda L, V: symlink_instead(L / "manifest.json", V / "a.csv"),
     ["manifest.json is not a manifest mha-explainer can read"]),
    # -- the work folder and its parts
    ("work-folder-symlink", lambda L, V: symlink_instead(L / OWN, V), [".mha-explainer is a symbolic link", "remove it"]),
    ("work-folder-not-ours", lambda L, V: (L / OWN / "work-folder").unlink(), ["has no work-folder file"]),
    # an earlier version's cache in the work folder (it goes), as links: never followed
    ("old-speech-symlink", lambda L, V: (symlink_instead(L / OWN / "speech", V), stale(L)), 0),
    ("old-cache-symlink", lambda L, V: (symlink_instead(L / OWN / "cache", V / "cache"), stale(L)), 0),
    ("staging-without-marker", lambda L, V: (shutil.copytree(V / "staging-notes", L / OWN / "staging-notes"),
                                             stale(L)), 0),
    ("lock-folder", lambda L, V: ((L / OWN / "lock").unlink(), (L / OWN / "lock").mkdir()),
     ["lock is a directory", "remove it"]),
    ("lock-symlink", lambda L, V: (symlink_instead(L / OWN / "lock", V / "d.txt"), stale(L)), ["lock is a symbolic link"]),
    ("lock-fifo", lambda L, V: (fifo(L / OWN / "lock"), stale(L)), ["lock is a FIFO (named pipe)"]),
    # -- the lesson's own names
    ("chapters-symlink", lambda L, V: symlink_instead(L / "chapters", V), ["chapters is a symbolic link", "move it away"]),
    ("thumbs-symlink", lambda L, V: symlink_instead(L / "thumbs", V), ["thumbs is a symbolic link", "move it away"]),
    ("lesson-file-fifo", lambda L, V: fifo(L / "poster.png"), ["poster.png is a FIFO (named pipe) where"]),
    ("lesson-file-device", lambda L, V: device(L / "poster.png"), ["poster.png is a device where"]),
    ("lesson-file-folder", lambda L, V: ((L / "poster.png").unlink(), (L / "poster.png").mkdir()),
     ["poster.png is a directory where the lesson writes a file"]),
]


@pytest.mark.parametrize("plant, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_planted_folder_never_leads_the_tool_outside_it(folders, clean, plant, expected):
    lesson, victim = folders
    plant(lesson, victim)
    user_files = tree(victim)
    for attempt in ("first", "second"):
        result = render(lesson)
        assert tree(victim) == user_files, attempt
        if expected == 0:
            assert result.exit_code == 0, (attempt, result.output)
            assert "Traceback" not in result.output
            assert lesson_files(lesson) == lesson_files(clean) | {k: v for k, v in tree(lesson).items()
                                                                  if k.startswith("vlink")}
            assert (lesson / OWN / "work-folder").is_file() and not (lesson / OWN).is_symlink()
        else:
            assert_one_sentence(result, *expected)
    if expected == 0:
        assert "Nothing changed" in result.output  # the second run found the folder intact


def test_a_set_aside_journal_is_reported_and_kept_for_a_person_to_read(folders):
    lesson, victim = folders
    journal(lesson, str(victim))
    result = render(lesson)
    assert result.exit_code == 0, result.output
    assert "set aside the commit journal" in " ".join(result.output.split())
    assert json.loads((lesson / OWN / "commit.json.set-aside").read_text())["staging"] == str(victim)
    assert not (lesson / OWN / "commit.json").exists() and (victim / "a.csv").read_bytes() == b"1,2\n"


def entries(cache: Path) -> list[Path]:
    return [p for p in cache.iterdir() if len(p.name) == 64]


@pytest.fixture
def own_cache(module_cache, tmp_path) -> Path:
    """A copy of the module's render cache, for a test that damages it."""
    cache = tmp_path / "cache"
    shutil.copytree(module_cache, cache, symlinks=True)
    return cache


# (id, plant(C, V) into a copy C of the render cache, expected: 0 or the words of the one-sentence error)
CACHE_CASES = [
    ("tmp-symlink", lambda C, V: symlink_instead(C / "tmp", V / "cache" / "tmp"), 0),
    ("speech-symlink", lambda C, V: symlink_instead(C / "speech", V), 0),
    ("entry-symlink", lambda C, V: [symlink_instead(e, V) for e in entries(C)], 0),
    ("entry-file-symlink", lambda C, V: [symlink_instead(e / "video.mp4", V / "d.txt") for e in entries(C)], 0),
    ("meta-symlink", lambda C, V: [symlink_instead(e / "meta.json", V / "a.csv") for e in entries(C)], 0),
    ("joined-symlink", lambda C, V: [symlink_instead(p, V) for p in C.glob("lesson-*")], 0),
    ("timings-symlink", lambda C, V: symlink_instead(C / "timings.json", V / "d.txt"), 0),
    ("job-folder-symlink", lambda C, V: (C / "tmp" / "0123456789abcdef-999999999").symlink_to(V), 0),
    ("marker-gone", lambda C, V: (C / "cache-folder").unlink(), ["may be someone else's", "--cache"]),
    ("cache-symlink", lambda C, V: symlink_instead(C, V), ["is not a folder", "--cache"]),
    ("cache-file", lambda C, V: (shutil.rmtree(C), C.write_text("x")), ["is not a folder", "--cache"]),
]


@pytest.mark.parametrize("plant, expected", [c[1:] for c in CACHE_CASES], ids=[c[0] for c in CACHE_CASES])
def test_a_planted_cache_never_leads_the_tool_outside_it(folders, clean, own_cache, plant, expected):
    lesson, victim = folders
    stale(lesson)  # the full path: chapters looked up in the cache, the lesson joined again
    plant(own_cache, victim)
    user_files = tree(victim)
    for attempt in ("first", "second"):
        result = render(lesson, cache=own_cache)
        assert tree(victim) == user_files, attempt
        if expected == 0:
            assert result.exit_code == 0, (attempt, result.output)
            assert lesson_files(lesson) == lesson_files(clean), attempt
        else:
            assert_one_sentence(result, *expected)


def test_a_damaged_cache_entry_is_rendered_again_never_copied(folders, clean, own_cache, module_cache):
    lesson, _ = folders
    (entry,) = entries(own_cache)
    video = entry / "video.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 3])  # truncated
    stale(lesson)
    result = render(lesson, cache=own_cache)
    assert result.exit_code == 0, result.output
    assert lesson_files(lesson) == lesson_files(clean)
    assert Cache(own_cache).verified(entry.name) is not None  # rendered again, whole
    assert video.read_bytes() == (module_cache / entry.name / "video.mp4").read_bytes()


def test_a_corrupted_entry_of_the_same_size_is_not_intact(own_cache):
    cache = Cache(own_cache)
    (key,) = [p.name for p in entries(own_cache)]
    assert cache.verified(key) is not None
    data = bytearray((cache.entry(key) / "fullest.png").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (cache.entry(key) / "fullest.png").write_bytes(bytes(data))
    fresh = Cache(cache.root)
    assert fresh.verified(key) is None
    assert fresh.missing(key, ["mp4"]) == ["mp4"] and not cache.entry(key).exists()  # discarded


def test_an_earlier_versions_cache_in_the_work_folder_goes_unfollowed(clean, tmp_path):
    lesson = tmp_path / "lesson"
    shutil.copytree(clean, lesson, symlinks=True)
    theirs = tmp_path / "theirs"
    (theirs / "tmp" / "0123456789abcdef-42").mkdir(parents=True)  # named like a job's work folder
    (theirs / "keep.txt").write_text("keep")
    before = tree(theirs)
    symlink_instead(lesson / OWN / "cache", theirs)
    (lesson / OWN / "speech").mkdir()
    (lesson / OWN / "speech" / f"{0:064x}.npz").write_bytes(b"old")
    with claim(lesson):
        assert not os.path.lexists(lesson / OWN / "cache") and not os.path.lexists(lesson / OWN / "speech")
    assert tree(theirs) == before


def test_paths_over_the_systems_limits_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(OutputFolderError, match="over the system's limit of 255"):
        resolve_out(tmp_path / ("n" * 256))
    with pytest.raises(OutputFolderError, match="over the system's limit of 4095"):
        resolve_out(tmp_path / "/".join(["d" * 200] * 22))
    assert_one_sentence(render(tmp_path / ("n" * 256)), "over the system's limit of 255")


def test_the_guard_walks_no_link(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "f").write_text("keep")
    base = tmp_path / "base"
    base.mkdir()
    (base / "link").symlink_to(tmp_path / "outside")
    assert guard.kind(base, "link") == "link" and guard.kind(base, "link/f") == "blocked"
    assert not guard.remove_file(base, "link/f")
    assert guard.read_json(base, "link/f") is None
    guard.remove_tree(base, "link")
    assert not (base / "link").exists() and (tmp_path / "outside" / "f").read_text() == "keep"
    for bad in ("../x", "/etc/hostname", "a/../b", "a\\b", "", "./a"):
        assert not guard.safe_name(bad)


def test_an_interrupted_first_render_into_a_new_folder_leaves_nothing(tmp_path):
    out = tmp_path / "new" / "lesson"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    argv = [sys.executable, "-c", RENDER_SCRIPT, "SLOW", "render", *TINY, "--out", str(out), "--cache", str(_CACHE[0])]
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not any((_CACHE[0] / "tmp").glob("*")) and process.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGINT)
    assert exit_code(process) == 130
    assert "Traceback" not in process.stderr.read()
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_exporting_is_one_sentence_and_the_folder_is_kept(folders, clean, monkeypatch):
    lesson, _ = folders
    stale(lesson)
    before = tree(lesson)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pipeline.shutil, "copyfile", full)
    result = render(lesson)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert f"cannot write the lesson into {lesson} (No space left on device)" in errors[0]
    assert tree(lesson) == before
    monkeypatch.undo()
    assert render(lesson).exit_code == 0 and lesson_files(lesson) == lesson_files(clean)


def test_a_format_added_to_a_cached_chapter_is_recorded_and_used(folders):
    """A conversion made from a cached entry (webm from its mp4) is recorded in the entry and copied out."""
    lesson, _ = folders
    result = render(lesson, "--format", "mp4", "--format", "webm")
    assert result.exit_code == 0, result.output
    assert (lesson / "lesson.webm").is_file() and (lesson / "chapters" / "01-intro.webm").is_file()
    (entry,) = entries(_CACHE[0])
    assert "video.webm" in Cache(entry.parent).verified(entry.name)["files"]


def test_a_full_disk_while_claiming_a_new_folder_is_one_sentence_and_leaves_nothing(tmp_path, monkeypatch):
    from scenes.render import folder

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(folder.tempfile, "mkdtemp", full)  # the staging folder cannot be made
    result = render(tmp_path / "new" / "lesson")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "cannot write the lesson into" in result.output and "No space left on device" in result.output
    assert list(tmp_path.iterdir()) == []
