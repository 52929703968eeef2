"""The chapter store (scenes.render.chapter_store): the render cache as an object store's URL, on a real S3 endpoint (moto's server on
127.0.0.1, the session's ``s3`` fixture), through s3fs as a user's machines reach S3.

What is checked: an entry put by one machine is fetched whole by another; whatever the store holds is untrusted
(a planted or damaged object is never unpacked into the cache, and nothing is written outside it); a location
with someone else's objects, a missing bucket, an unknown or uninstalled protocol: one sentence, exit 2 in the
CLI, before anything renders; a course rendered on one machine serves a second machine (nothing rendered there,
the same bytes) and `render` on a third.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from course_scenes import COURSE as BASE
from test_course import SCENES, assert_one_sentence, write

from scenes.render.cache import CACHE_SCHEMA, META, TMP, Cache, file_records
from scenes.render.cache_folder import open_cache
from scenes.render.folder import OWN
from scenes.render.chapter_store import CHAPTERS, MAX_FILES, STORE_MARKER, StoreError, open_store

KEY, OTHER = "a" * 64, "b" * 64
LIMIT = 10_000_000


def entry_files(key: str, video: bytes = b"\x00video" * 100) -> dict[str, bytes]:
    """A cache entry's files as a worker writes them: its files, then meta.json recording each."""
    files = {"video.mp4": video, "fullest.png": b"\x89PNG fullest", "last.png": b"\x89PNG last"}
    return files


def make_entry(root: Path, key: str = KEY, video: bytes = b"\x00video" * 100) -> Cache:
    cache = Cache(open_cache(root))
    folder = cache.entry(key)
    folder.mkdir()
    for name, data in entry_files(key, video).items():
        (folder / name).write_bytes(data)
    meta = {"schema": CACHE_SCHEMA, "key": key, "title": "A dot", "summary": "One dot moves.", "duration": 1.0,
            "render_seconds": 0.5, "cues": [], "beats": [], "files": file_records(folder, sorted(entry_files(key)))}
    (folder / META).write_text(json.dumps(meta), encoding="utf-8")
    assert cache.verified(key) is not None
    return cache


def tar_of(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def entry_members(folder: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [regular(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root``, with its bytes (a lesson folder's work folder left out: its lock names a process)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and OWN not in p.relative_to(root).parts}


def test_an_entry_put_into_the_store_is_fetched_whole_by_another_machine(s3, tmp_path):
    url = s3() + "/course"
    store = open_store(url, LIMIT)
    here = make_entry(tmp_path / "here")
    store.put(KEY, here)
    assert store.keys() == {KEY} and store.usage()[0] == 1
    assert store.fs.exists(f"{store.path}/{STORE_MARKER}")

    there = Cache(open_cache(tmp_path / "there"))
    assert open_store(url, LIMIT).fetch(KEY, there)
    assert tree(there.entry(KEY)) == tree(here.entry(KEY))
    assert there.verified(KEY) is not None
    assert list((there.root / TMP).iterdir()) == []  # the work folder went with the fetch
    assert not open_store(url, LIMIT).fetch(OTHER, there)  # absent: False, nothing made
    assert not there.entry(OTHER).exists()


def _planted(case: str, good: Path) -> bytes:
    """The bytes of a planted or damaged object for ``KEY`` (``good``: a real entry of KEY to start from)."""
    members = entry_members(good)
    if case == "not a tar":
        return b"\x00not a tar\n" * 100
    if case == "a link":
        link = tarfile.TarInfo("video.mp4")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        return tar_of([m for m in members if m[0].name != "video.mp4"] + [(link, b"")])
    if case == "a path out of the cache":
        return tar_of(members + [regular("../../escaped", b"planted")])
    if case == "a changed file":
        return tar_of([(i, b"\x00other" * 100) if i.name == "video.mp4" else (i, d) for i, d in members])
    if case == "an unrecorded file":
        return tar_of(members + [regular("run.sh", b"#!/bin/sh\n")])
    if case == "a name twice":
        return tar_of(members + [regular("video.mp4", b"\x00video" * 100)])
    if case == "too many files":
        return tar_of(members + [regular(f"f{i}", b"x") for i in range(MAX_FILES)])
    if case == "another key's entry":
        meta = json.loads((good / META).read_text())
        return tar_of([(i, json.dumps({**meta, "key": OTHER}).encode()) if i.name == META else (i, d)
                       for i, d in members])
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["not a tar", "a link", "a path out of the cache", "a changed file",
                                  "an unrecorded file", "a name twice", "too many files", "another key's entry",
                                  "bigger than the cache"])
def test_a_planted_or_damaged_object_is_never_unpacked_into_the_cache(s3, tmp_path, case):
    """Each is ignored (the chapter is then rendered, and put again); the cache gets no entry and keeps no work
    folder, and nothing is written outside it."""
    url = s3()
    good = make_entry(tmp_path / "good").entry(KEY)
    store = open_store(url, 2_000 if case == "bigger than the cache" else LIMIT)
    data = _planted(case, good) if case != "bigger than the cache" else tar_of(entry_members(good))
    store.fs.pipe_file(f"{store.path}/{CHAPTERS}/{KEY}.tar", data)
    machine = tmp_path / "machine"
    cache = Cache(open_cache(machine / "cache"))
    before = tree(tmp_path)
    assert store.keys() == {KEY}
    assert store.fetch(KEY, cache) is False
    assert not cache.entry(KEY).exists()
    assert list((cache.root / TMP).iterdir()) == []
    assert tree(tmp_path) == before  # nothing escaped, nothing left


def test_a_damaged_local_entry_is_replaced_by_the_stores(s3, tmp_path):
    url = s3()
    store = open_store(url, LIMIT)
    store.put(KEY, make_entry(tmp_path / "good"))
    local = make_entry(tmp_path / "local")
    (local.entry(KEY) / "video.mp4").write_bytes(b"damaged")
    local.forget(KEY)
    assert store.fetch(KEY, local)
    assert (local.entry(KEY) / "video.mp4").read_bytes() == b"\x00video" * 100


def test_a_location_with_someone_elses_objects_is_refused(s3):
    url = s3()
    store = open_store(url + "/ours", LIMIT)  # new: the marker is put
    store.fs.pipe_file(f"{url[5:]}/theirs/photo.jpg", b"mine")
    with pytest.raises(StoreError, match="photo.jpg.*marker") as refused:
        open_store(url + "/theirs", LIMIT)
    assert "\n" not in str(refused.value)
    assert not store.fs.exists(f"{url[5:]}/theirs/{STORE_MARKER}")  # nothing written there
    assert store.fs.cat_file(f"{url[5:]}/theirs/photo.jpg") == b"mine"


def test_a_dry_run_puts_no_marker(s3):
    url = s3() + "/new"
    store = open_store(url, LIMIT, create=False)
    assert store.keys() == set() and not store.fs.exists(f"{store.path}/{STORE_MARKER}")


@pytest.mark.parametrize("url, words", [
    ("s3://no-such-bucket/renders", "bucket does not exist"),
    ("zzz://renders", "not a URL fsspec can open"),
])
def test_a_store_that_cannot_be_used_exits_2_with_one_sentence_before_anything_renders(s3, tmp_path, url, words):
    s3()  # the endpoint is up: only the address is wrong
    course = write(tmp_path, BASE + f'\ncache = "{url}"\n'.replace("\ncache", "cache", 0))
    course.write_text(f'cache = "{url}"\n' + BASE, encoding="utf-8")
    from cli import main

    for args in (["course", str(course), "--out", str(tmp_path / "out")],
                 ["render", "intro", "--out", str(tmp_path / "lesson"), "--cache", url]):
        error = assert_one_sentence(CliRunner().invoke(main, args))
        assert words in error and url in error, error
        assert not (tmp_path / "out").exists() and not (tmp_path / "lesson").exists()


def test_an_uninstalled_protocol_says_which_package_it_needs(tmp_path):
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed here")
    with pytest.raises(StoreError, match="not installed.*gcsfs"):
        open_store("gs://bucket/renders", LIMIT)


def on_machine(cache: Path, course: Path, out: Path, url: str, dry_run: bool = False):
    """The course run (or planned) as on another machine: this process and its chapter processes with the user
    cache folder ``cache``; local processes, the stand-in chapters."""
    from mha_core.store import CACHE_ENV
    from scenes.render.course import plan_course, render_course
    from scenes.render.course_file import read_course
    from scenes.render.engines import LocalEngine

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(cache))
        plan = plan_course(read_course(course), out, url, chapters_module=SCENES, dry_run=dry_run)
        return plan if dry_run else render_course(plan, LocalEngine(2))


@pytest.mark.render
def test_a_course_on_a_store_serves_a_second_machine_and_render_on_a_third(s3, tmp_path):
    """Machine A renders the course into its own cache and puts each chapter into the store; machine B (a new,
    empty cache) renders nothing: it fetches every chapter, and its lesson folders are A's, byte for byte; on
    machine C, `render` of one lesson fetches its chapters too (none rendered) and writes the same folder.
    (The machines are this process and its chapter processes, each time with another user cache folder.)"""
    url = s3() + "/renders"
    course = write(tmp_path, BASE.replace(', "The dog chased the ball because it was fast."', ""))  # one lesson
    a = on_machine(tmp_path / "cache-a", course, tmp_path / "a", url)
    assert (a.rendered, a.reused) == (2, 0)
    store = open_store(url, LIMIT)
    assert len(store.keys()) == 2
    record = a.record
    assert record["store"] == url

    from rich.console import Console

    import cli_output

    plan = on_machine(tmp_path / "cache-b", course, tmp_path / "b", url, dry_run=True)  # the store's count as made
    console = Console(record=True, width=200)
    cli_output.print_course_plan(console, plan)
    text = console.export_text()
    assert "2 chapters in all: 2 already made, 0 to render" in text and f"Store: {url}, where 2 of" in text, text
    assert not (tmp_path / "b").exists() and not (tmp_path / "cache-b" / "renders").exists()  # it wrote nothing

    b = on_machine(tmp_path / "cache-b", course, tmp_path / "b", url)
    assert (b.rendered, b.reused) == (0, 2)
    names = [lesson["name"] for lesson in record["lessons"]]
    for name in names:
        assert tree(tmp_path / "b" / name) == tree(tmp_path / "a" / name) != {}
    assert len([p for p in (tmp_path / "cache-b" / "renders").iterdir() if len(p.name) == 64]) == 2

    from mha_core.store import CACHE_ENV
    from scenes.render import render_lesson
    from scenes.render.course_file import read_course

    lesson = read_course(course, tmp_path / "a").lessons[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path / "cache-c"))
        result = render_lesson(lesson.config.model_copy(update={"out": tmp_path / "c", "cache": url}), jobs=1,
                               chapters_module=SCENES)
    assert all(ch.cached for ch in result.chapters)  # fetched from the store, none rendered on C

    assert tree(tmp_path / "c") == tree(tmp_path / "a" / lesson.name)


def test_cache_info_shows_the_store_and_clear_leaves_it_alone(s3, tmp_path, monkeypatch):
    from cli import main
    from mha_core.store import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    url = s3() + "/renders"
    store = open_store(url, LIMIT)
    store.put(KEY, make_entry(tmp_path / "elsewhere"))
    shown = CliRunner().invoke(main, ["cache", "info", "--cache", url, "--json"])
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.stdout)
    assert info["store"]["url"] == url and info["store"]["chapters"] == 1 and info["store"]["bytes"] > 0
    assert info["folder"] == str(tmp_path / "user-cache" / "renders")  # this machine's cache in front of it
    cleared = CliRunner().invoke(main, ["cache", "clear", "-y", "--cache", url])
    assert cleared.exit_code == 0 and "never deletes there" in cleared.output, cleared.output
    assert store.keys() == {KEY}  # the store keeps what it held
