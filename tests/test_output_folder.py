"""The output folder is the tool's alone: ownership, one writer at a time, one run in it.

Most tests drive ``scenes.render.folder`` directly (no rendering); the CLI tests render a
stand-in scene (one dot, 144p at 5 fps) or are refused before anything renders.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from manim import RIGHT, Dot

from scenes.base import LessonScene
from scenes.lesson.script import parse_script
from scenes.lesson.config import LessonConfig
from scenes.render import guard
from scenes.render.folder import OWN, FolderBusyError, OutputFolderError, claim

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict:
    """Every file and folder under ``root`` with its bytes (None for folders)."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def ours(root: Path, files: dict[str, bytes]) -> None:
    """Make ``root`` a lesson folder of ours holding ``files`` (a committed run)."""
    with claim(root, files) as held:
        for name, data in files.items():
            (held.staging / name).parent.mkdir(parents=True, exist_ok=True)
            (held.staging / name).write_bytes(data)
        manifest = {"generator": "mha-explainer test", "files": {name: {} for name in files}}
        (held.staging / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        held.commit([*files, "manifest.json"])


def render_cli(*args, env=None):
    from cli import main

    return CliRunner().invoke(main, ["render", *args], env=env)


def assert_one_sentence(result, *words):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert errors[0].count(". ") == 0, errors[0]  # one sentence
    for word in words:
        assert word in errors[0], errors[0]


# -- whose folder ------------------------------------------------------------------------------


def authors_folder(root: Path) -> dict:
    """A course author's folder with names the lesson folder also uses."""
    files = {"thumbs/vacation.png": b"\x89PNG my holiday", "chapters/lecture.srt": b"1\n00:00 my lecture",
             "chapters/my-subs.vtt": b"WEBVTT\n", "index.html": b"<p>my course</p>", "lesson.mp4": b"my video",
             "manifest.json": b'{"course": "mine"}', ".cache/other-program/state": b"keep me"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return snapshot(root)


def test_a_folder_with_files_the_tool_did_not_write_is_refused_untouched(tmp_path):
    before = authors_folder(tmp_path)
    result = render_cli("intro", "--out", str(tmp_path))
    assert_one_sentence(result, str(tmp_path), "did not write", "empty or new folder")
    assert snapshot(tmp_path) == before


def test_the_home_folder_and_the_root_are_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    before = authors_folder(home)
    result = render_cli("intro", "--out", "~", env={"HOME": str(home)})
    assert_one_sentence(result, "home folder")
    assert snapshot(home) == before

    root_before = sorted(os.listdir("/"))
    assert_one_sentence(render_cli("intro", "--out", "/"), "root of the file system")
    assert sorted(os.listdir("/")) == root_before


def test_a_file_of_the_authors_inside_our_folder_is_never_touched(tmp_path):
    ours(tmp_path, {"lesson.mp4": b"old", "chapters/01-intro.mp4": b"old intro"})
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "chapters" / "mine.srt").write_text("mine too")
    with claim(tmp_path, {"lesson.mp4"}) as held:
        assert held.previous == {"lesson.mp4", "chapters/01-intro.mp4"}
        (held.staging / "lesson.mp4").write_bytes(b"new")
        (held.staging / "manifest.json").write_text('{"generator": "mha-explainer test", "files": {"lesson.mp4": {}}}')
        held.commit(["lesson.mp4", "manifest.json"])
    assert (tmp_path / "lesson.mp4").read_bytes() == b"new"
    assert not (tmp_path / "chapters" / "01-intro.mp4").exists()  # listed by the last run, not written now
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "chapters" / "mine.srt").read_text() == "mine too"
    assert not list((tmp_path / OWN).glob("staging-*"))


def test_a_name_taken_by_the_author_stops_the_render_before_it_starts(tmp_path):
    ours(tmp_path, {"lesson.mp4": b"old"})
    (tmp_path / "thumbs").mkdir()
    (tmp_path / "thumbs" / "01-intro.png").write_bytes(b"the author's picture")
    before = snapshot(tmp_path)
    with pytest.raises(OutputFolderError, match="01-intro.png was not written by mha-explainer"):
        with claim(tmp_path, {"lesson.mp4", "thumbs/01-intro.png"}):
            pass
    assert snapshot(tmp_path) == before


def test_emptied_folders_go_but_only_when_empty(tmp_path):
    ours(tmp_path, {"thumbs/01-intro.png": b"1", "chapters/01-intro.mp4": b"2", "lesson.mp4": b"3"})
    (tmp_path / "chapters" / "keep.txt").write_text("mine")
    with claim(tmp_path) as held:
        (held.staging / "manifest.json").write_text('{"generator": "mha-explainer test", "files": {}}')
        held.commit(["manifest.json"])
    assert not (tmp_path / "thumbs").exists()
    assert sorted(p.name for p in (tmp_path / "chapters").iterdir()) == ["keep.txt"]


def test_a_hand_edited_manifest_cannot_lead_outside_the_folder(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    root = tmp_path / "lesson"
    ours(root, {"lesson.mp4": b"x"})
    manifest = {"generator": "mha-explainer", "files": {"../precious.txt": {}, "/etc/hostname": {},
                                                      f"{OWN}/lock": {}, "lesson.mp4": {}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    with claim(root) as held:
        assert held.previous == {"lesson.mp4"}
        (held.staging / "manifest.json").write_text('{"generator": "mha-explainer test", "files": {}}')
        held.commit(["manifest.json"])
    assert outside.read_text() == "keep" and Path("/etc/hostname").exists()


# -- one writer at a time ------------------------------------------------------------------------


def test_a_second_writer_is_told_who_holds_the_folder(tmp_path):
    ours(tmp_path, {"lesson.mp4": b"old"})
    with claim(tmp_path):
        before = snapshot(tmp_path)
        with pytest.raises(FolderBusyError, match=f"process {os.getpid()}"):
            with claim(tmp_path):
                pass
        result = render_cli("intro", "--out", str(tmp_path))
        assert_one_sentence(result, f"process {os.getpid()}", "is writing")
        assert snapshot(tmp_path) == before


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path):
    ours(tmp_path, {"lesson.mp4": b"old"})
    (tmp_path / OWN / "lock").write_text("999999\n")  # no process holds it any more
    (tmp_path / OWN / "staging-dead").mkdir()  # what a killed render left
    (tmp_path / OWN / "staging-dead" / "lesson.mp4").write_bytes(b"half")
    (tmp_path / OWN / "staging-dead" / ".staging").write_bytes(b"")  # the marker of the tool's staging folders
    with claim(tmp_path) as held:
        assert (tmp_path / OWN / "lock").read_text() == f"{os.getpid()}\n"
        assert [p.name for p in (tmp_path / OWN).glob("staging-*")] == [held.staging.name]
    assert (tmp_path / "lesson.mp4").read_bytes() == b"old"


# -- a folder is always one run ------------------------------------------------------------------


def test_a_commit_cut_off_half_way_is_finished_by_the_next_run(tmp_path, monkeypatch):
    ours(tmp_path, {"a.txt": b"old a", "b.txt": b"old b", "gone.txt": b"old"})
    real_replace, moves = os.replace, []

    def dies_after_one_move(src, dst, **where):
        if moves:
            raise KeyboardInterrupt  # stands for a SIGKILL: the process stops between two moves
        moves.append(dst)
        real_replace(src, dst, **where)

    with pytest.raises(KeyboardInterrupt):
        with claim(tmp_path) as held:
            for name in ("a.txt", "b.txt"):
                (held.staging / name).write_text(f"new {name[0]}")
            (held.staging / "manifest.json").write_text(
                '{"generator": "mha-explainer test", "files": {"a.txt": {}, "b.txt": {}}}')
            monkeypatch.setattr(guard.os, "replace", dies_after_one_move)
            held.commit(["a.txt", "b.txt", "manifest.json"])
    monkeypatch.setattr(guard.os, "replace", real_replace)
    assert (tmp_path / OWN / "commit.json").exists()  # the journal of the unfinished commit

    with claim(tmp_path) as held:  # the next run finishes it before anything else
        assert held.previous == {"a.txt", "b.txt"}
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "new b"
    assert not (tmp_path / "gone.txt").exists()
    assert not (tmp_path / OWN / "commit.json").exists()
    assert not list((tmp_path / OWN).glob("staging-*"))


def test_the_cache_keeps_within_its_bound_and_deletes_only_its_own(tmp_path):
    """Least recently used first, down to the bound; never a protected chapter; never a file of someone else's,
    a link or what a link points to; a job folder of a dead render goes once it is stale."""
    from scenes.render.cache import META, STALE_JOB_SECONDS, Cache

    cache = Cache(tmp_path / "cache")
    keys = [f"{i:064x}" for i in range(4)]
    for i, key in enumerate(keys):  # 1000 bytes each, keys[0] the least recently used
        cache.entry(key).mkdir(parents=True)
        (cache.entry(key) / "video.mp4").write_bytes(b"v" * 900)
        (cache.entry(key) / META).write_bytes(b"m" * 100)
        os.utime(cache.entry(key) / META, (1000 + i, 1000 + i))
    (cache.root / "speech").mkdir()
    speech = cache.root / "speech" / f"{9:064x}.npz"
    speech.write_bytes(b"s" * 500)
    os.utime(speech, (999, 999))  # older than every chapter
    (cache.root / "other-program").mkdir()
    (cache.root / "other-program" / "state").write_bytes(b"keep" * 1000)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("mine")
    (cache.root / f"{7:064x}").symlink_to(outside, target_is_directory=True)  # named like an entry: a link
    (cache.root / "tmp").mkdir()
    dead = cache.root / "tmp" / "0123456789abcdef-999999999"
    dead.mkdir()
    os.utime(dead, (time.time() - STALE_JOB_SECONDS - 60,) * 2)
    fresh = cache.root / "tmp" / "0123456789abcdef-999999998"
    fresh.mkdir()

    assert sum(item.bytes for item in cache.items()) == 4 * 1000 + 500  # the link and the user's folder: not counted
    dropped = cache.prune(2000, protect={keys[0]})
    assert dropped == 500 + 1000 + 1000  # the speech file, then keys[1] and keys[2]; keys[0] is protected
    assert sorted(p.name for p in cache.root.iterdir()) == sorted([keys[0], keys[3], "other-program", "speech", "tmp",
                                                                   f"{7:064x}"])
    assert (outside / "precious.txt").read_text() == "mine" and (cache.root / "other-program" / "state").exists()
    assert not dead.exists() and fresh.exists()  # a job folder goes only when stale
    assert sum(item.bytes for item in cache.items()) <= 2000


def test_cache_info_and_clear_show_and_empty_only_the_tools_own(tmp_path):
    """`cache info` counts what the tool keeps; `cache clear` deletes it and nothing else (a file of yours, a link and
    what it points to stay); a folder of someone else's is refused by both in one sentence (exit 2)."""
    from cli import main

    cache = tmp_path / "renders"
    (cache / "speech").mkdir(parents=True)
    (cache / "cache-folder").write_text("marker")
    for i in range(2):
        (cache / f"{i:064x}").mkdir()
        (cache / f"{i:064x}" / "video.mp4").write_bytes(b"v" * 1000)
    (cache / "speech" / f"{5:064x}.npz").write_bytes(b"s" * 500)
    (cache / "notes.txt").write_text("mine")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep.txt").write_text("keep")
    (cache / f"{7:064x}").symlink_to(tmp_path / "outside", target_is_directory=True)

    info = CliRunner().invoke(main, ["cache", "info", "--cache", str(cache), "--json"])
    assert info.exit_code == 0, info.output
    found = json.loads(info.output)
    assert found["bytes"] == 2500 and found["items"]["chapter"] == {"count": 2, "bytes": 2000}
    assert found["items"]["speech"] == {"count": 1, "bytes": 500} and found["limit_bytes"] == 5_000_000_000

    cleared = CliRunner().invoke(main, ["cache", "clear", "--cache", str(cache), "-y"])
    assert cleared.exit_code == 0 and "2.5 kB freed" in cleared.output, cleared.output
    assert sorted(p.name for p in cache.iterdir()) == sorted(["cache-folder", "notes.txt", "speech", f"{7:064x}"])
    assert list((cache / "speech").iterdir()) == [] and (tmp_path / "outside" / "keep.txt").read_text() == "keep"

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "photo.jpg").write_bytes(b"mine")
    for command in (["cache", "info"], ["cache", "clear", "-y"]):
        assert_one_sentence(CliRunner().invoke(main, [*command, "--cache", str(theirs)]), "may be someone else's")
    assert sorted(p.name for p in theirs.iterdir()) == ["photo.jpg"]


# -- through the command line, with a stand-in chapter -----------------------------------------------


class DotScene(LessonScene):
    chapter_id, title, summary = "intro", "A dot", "One dot moves."
    script = parse_script("intro", '[beats]\ndot = "A dot moves."\n'.encode(), "a stand-in script")

    def construct(self):
        with self.beat("dot"):
            self.play(Dot(color=self.theme.text).animate.shift(RIGHT * 2), run_time=1)


class SlowScene(DotScene):
    """Renders until it is stopped (a minute is longer than any test waits)."""

    def construct(self):
        with self.beat("dot"):
            self.play(Dot(color=self.theme.text).animate.shift(RIGHT * 2), run_time=1)
        time.sleep(60)


DOT = {"intro": DotScene}
SLOW = {"intro": SlowScene}


def tiny(out: Path, **overrides) -> LessonConfig:
    return LessonConfig(pixel_height=144, fps=5, out=out, chapters=("intro",), model="toy", specialization_model="toy",
                        **overrides)


@pytest.mark.render
def test_identical_runs_write_identical_bytes(tmp_path):
    """The same config rendered again from scratch (no cache) writes the same bytes, tensors included."""
    from scenes.render import render_lesson

    runs = []
    for _ in range(2):
        render_lesson(tiny(tmp_path), jobs=1, use_cache=False, chapters_module="test_output_folder:DOT")
        runs.append({k: v for k, v in snapshot(tmp_path).items() if not k.startswith(OWN)})
    assert runs[0] == runs[1]
    assert any(name.endswith(".safetensors") for name in runs[0])


RENDER_SCRIPT = """
import faulthandler, signal, sys
faulthandler.register(signal.SIGUSR1, all_threads=True)  # exit_code() asks for every thread's stack
from cli import main
from scenes import render
# the stand-in chapter, as the CLI would render a real one
original = render.render_lesson
render.render_lesson = lambda *a, **k: original(*a, **{**k, "chapters_module": "test_output_folder:" + sys.argv[1]})
main(sys.argv[2:])
"""


def exit_code(process: subprocess.Popen, timeout: float = 60) -> int:
    """How an interrupted render ended; one that does not end in ``timeout`` seconds fails the test with every
    thread's stack (RENDER_SCRIPT's faulthandler), so a hang says where it hangs."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(2)
        process.kill()
        pytest.fail(f"the render did not end {timeout:g} s after the signal; its threads:\n{process.communicate()[1]}")


def run_render(scenes: str, out: Path, *args) -> subprocess.Popen:
    """The CLI rendering a stand-in chapter into ``out``, with its own render cache beside it (``out``-cache)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    argv = [sys.executable, "-c", RENDER_SCRIPT, scenes, "render", "intro", "--pixel-height", "144", "--fps", "5",
            "--model", "toy", "--specialization-model", "toy", "--jobs", "1", "--out", str(out),
            "--cache", str(cache_of(out)), *args]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def first_render(tmp_path_factory) -> Path:
    """A lesson folder rendered once by the CLI (the stand-in chapter), with its render cache beside it."""
    out = tmp_path_factory.mktemp("first") / "lesson"
    first = run_render("DOT", out)
    assert first.wait(timeout=240) == 0, first.stderr.read()
    assert_only_listed(out)  # after a render: what the manifest lists, the manifest, the marker and the lock
    return out


@pytest.mark.render
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_re_render_leaves_the_previous_folder(first_render, tmp_path, signum, code):
    out = tmp_path / "lesson"
    shutil.copytree(first_render, out, symlinks=True)  # the folder a first render left, and its cache beside it
    shutil.copytree(cache_of(first_render), cache_of(out), symlinks=True)
    before = {k: v for k, v in snapshot(out).items() if not k.startswith(OWN)}

    again = run_render("SLOW", out, "--sentence", "Dogs bark at night.")
    wait_until_rendering(again, out)
    again.send_signal(signum)
    assert exit_code(again) == code
    stderr = again.stderr.read()
    assert "Traceback" not in stderr, stderr
    assert {k: v for k, v in snapshot(out).items() if not k.startswith(OWN)} == before

    if signum != signal.SIGKILL:  # a killed process cannot tidy up: its staging folder goes with the next run
        assert_only_listed(out)

    third = run_render("DOT", out)  # the next run cleans up what the interrupted one left
    assert third.wait(timeout=240) == 0, third.stderr.read()
    # what the interrupted run's jobs left in the cache went, but for a job still running (a killed render's
    # orphaned worker finishes its chapter and tidies up itself)
    assert not [job for job in (cache_of(out) / "tmp").glob("*") if not alive(int(job.name.split("-")[1]))]
    assert_only_listed(out)
    assert {k: v for k, v in snapshot(out).items() if not k.startswith(OWN)} == before


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cache_of(out: Path) -> Path:
    return out.with_name(f"{out.name}-cache")


def assert_only_listed(out: Path) -> None:
    """The lesson folder holds what its manifest lists, the manifest, and the work folder's marker and lock: no
    cache, no staging, nothing half-written (it can be copied to a web server as it is)."""
    manifest = json.loads((out / "manifest.json").read_text())
    files = {name for name, data in snapshot(out).items() if data is not None}
    assert files == {*manifest["files"], "manifest.json", f"{OWN}/work-folder", f"{OWN}/lock"}


def wait_until_rendering(process: subprocess.Popen, out: Path) -> None:
    work = cache_of(out) / "tmp"
    deadline = time.monotonic() + 240
    while not any(work.glob("*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.stderr.read()


@pytest.mark.render
def test_two_renders_into_one_folder_do_not_break_each_other(tmp_path):
    out = tmp_path / "lesson"
    first = run_render("SLOW", out)
    wait_until_rendering(first, out)
    second = run_render("DOT", out)
    assert second.wait(timeout=240) == 2
    stderr = second.stderr.read()
    assert f"process {first.pid}" in stderr and "Traceback" not in stderr, stderr
    assert first.poll() is None  # the first goes on, its work untouched
    assert any((cache_of(out) / "tmp").glob("*"))
    first.send_signal(signal.SIGTERM)
    assert exit_code(first) == 143
