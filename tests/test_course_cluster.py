"""A course on a real Dask cluster: a scheduler and two worker processes started here on 127.0.0.1 (random
ports, stopped at the end). One course of two lessons, two stand-in chapters each (tests/course_scenes.py,
256x144 at 5 fps, silent), rendered once for the module with one worker killed half-way; the tests read
that run: it completed, its chapters ran on both workers, the killed chapter ran again elsewhere, a
re-run renders nothing, a course lesson is the same bytes as the lesson from `render`, and every lesson the
course page links plays in Chromium. Then a course whose workers keep caches of their own shares its
chapters through a store (S3: moto's server, the ``s3`` fixture).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import course_scenes  # noqa: E402
from scenes.render.course import plan_course, render_course  # noqa: E402
from scenes.render.course_file import read_course  # noqa: E402
from scenes.render.engines import DaskEngine  # noqa: E402
from scenes.render.folder import OWN  # noqa: E402

pytestmark = pytest.mark.render

SCENES = "course_scenes:TWO"
COURSE = course_scenes.COURSE  # two lessons (two sentences) of two chapters: four chapter tasks


@pytest.fixture(scope="module")
def cluster(s3):  # the S3 endpoint first: the workers inherit the variables that reach it
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                      dashboard_address=None, worker_dashboard_address=None, silence_logs=50) as local:
        yield local


class Killer(threading.Thread):
    """Kills a worker process (SIGKILL) while it renders a chapter, once each worker has finished one."""

    def __init__(self, client, cache: Path):
        super().__init__(daemon=True)
        self.client, self.cache, self.killed = client, cache, None
        self.done = threading.Event()

    def run(self):
        pids = self.client.run(os.getpid)  # {worker address: its process}
        deadline = time.monotonic() + 120
        while not self.done.is_set() and time.monotonic() < deadline:
            entries = [p for p in self.cache.glob("[0-9a-f]" * 8 + "*") if (p / "meta.json").is_file()]
            busy = {address: keys for address, keys in self.client.processing().items() if keys}
            if len(entries) >= 2 and busy:
                address = sorted(busy)[0]
                os.kill(pids[address], signal.SIGKILL)
                self.killed = address
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def course(cluster, tmp_path_factory):
    """The course rendered on the cluster, one worker killed mid-course."""
    folder = tmp_path_factory.mktemp("course")
    path = folder / "course.toml"
    path.write_text(COURSE, encoding="utf-8")
    out = folder / "out"
    engine = DaskEngine(cluster.scheduler_address)
    plan = plan_course(read_course(path), out, str(folder / "cache"), chapters_module=SCENES)
    killer = Killer(engine.client, folder / "cache")
    killer.start()
    try:
        result = render_course(plan, engine)
    finally:
        killer.done.set()
        killer.join()
    yield {"path": path, "out": out, "result": result, "plan": plan, "engine": engine, "killed": killer.killed,
           "record": json.loads((out / "course.json").read_text())}
    engine.close()


def chapters(record) -> list[dict]:
    return [c for lesson in record["lessons"] for c in lesson["chapters"]]


def test_the_course_completes_with_a_worker_killed_mid_course(course):
    assert course["killed"] is not None, "no worker was killed: the test did not test it"
    result = course["result"]
    assert (result.rendered, result.reused) == (4, 0)
    assert len(course["record"]["lessons"]) == 2
    for lesson in course["record"]["lessons"]:
        folder = course["out"] / lesson["folder"]
        assert (folder / "lesson.mp4").is_file() and (folder / "index.html").is_file()
        assert lesson["video"]["duration"] > 0
    assert result.page.is_file() and result.page.read_text().count('<li class="lesson">') == 2


def test_the_chapters_ran_on_both_workers(course, cluster):
    ran = [c["worker"] for c in chapters(course["record"])]
    assert all(c["status"] == "rendered" and c["where"] for c in chapters(course["record"]))
    assert set(ran) == {str(name) for name in cluster.workers}, ran  # the workers' names: 0 and 1


def test_a_re_run_renders_nothing(course):
    cache = course["path"].parent / "cache"
    def entries():  # each chapter's video in the cache, as a file (reuse marks its meta.json used, nothing else)
        return {p.name: ((p / "video.mp4").stat().st_ino, (p / "video.mp4").stat().st_mtime_ns)
                for p in cache.iterdir() if (p / "video.mp4").is_file()}

    before = entries()
    assert len(before) == 4
    plan = plan_course(read_course(course["path"]), course["out"], str(cache), chapters_module=SCENES)
    assert plan.todo() == {}
    again = render_course(plan, course["engine"])
    assert (again.rendered, again.reused) == (0, 4)
    assert {c["status"] for c in chapters(again.record)} == {"reused"}
    assert entries() == before


def test_a_course_lesson_is_the_same_bytes_as_the_lesson_from_render(course, tmp_path):
    """The first lesson, rendered again by render (the local pool, its own cache): every file of the
    folder is byte for byte the one the course wrote from the cluster's chapters."""
    from scenes.render import render_lesson

    lesson = course["plan"].lessons[0].lesson
    reference = render_lesson(lesson.config.model_copy(update={"out": tmp_path / "ref", "cache": str(tmp_path / "cache")}),
                              jobs=2, chapters_module=SCENES)
    assert not any(ch.cached for ch in reference.chapters)  # rendered here, not taken from the course's cache
    mine = course["out"] / lesson.name

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
                if p.is_file() and OWN not in p.relative_to(root).parts}

    theirs, ours = files(tmp_path / "ref"), files(mine)
    assert sorted(theirs) == sorted(ours)
    assert [name for name in theirs if theirs[name] != ours[name]] == []


@pytest.mark.browser
def test_every_lesson_on_the_course_page_plays(course, browser):
    """The course page, opened as a learner opens it (file://): each lesson it links plays in Chromium, with its
    captions and chapter tracks, and nothing on the way logs an error."""
    from browser import severe_errors, wait_for_video

    page = (course["out"] / "index.html").as_uri()
    browser.get("about:blank")
    browser.get(page)
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "li.lesson a[href$='index.html']")]
    assert len(dict.fromkeys(links)) == len(course["record"]["lessons"]) == 2
    for link in dict.fromkeys(links):
        browser.get("about:blank")
        browser.get(link)
        assert wait_for_video(browser)["error"] is None, link
        played = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const v = document.getElementById('lesson');
            v.muted = true;
            const tracks = [...v.textTracks].map(t => t.kind).sort();
            v.play().then(() => setTimeout(() => done({time: v.currentTime, tracks}), 600),
                          err => done({error: String(err), tracks}));
        """)
        assert played.get("error") is None and played["time"] > 0, (link, played)
        assert {"captions", "chapters"} <= set(played["tracks"]), (link, played)
    assert severe_errors(browser) == []


@pytest.mark.render
def test_workers_with_caches_of_their_own_share_chapters_through_a_store(cluster, s3, tmp_path):
    """Each worker renders into a cache of its own (as on another machine) and puts its chapters into the store;
    the command fetches them from there (checked) into its cache and writes the lessons; a re-run on a new
    machine (another empty cache) fetches everything and renders nothing."""
    from mha_core.store import CACHE_ENV
    from scenes.render.cache import Cache
    from scenes.render.chapter_store import open_store

    url = s3() + "/renders"
    path = tmp_path / "course.toml"
    path.write_text(course_scenes.COURSE.replace(  # one lesson of two chapters, new: nothing cached
        '"The cat sat down because it was tired.", "The dog chased the ball because it was fast."',
        '"Rain fell on the town."'))
    engine = DaskEngine(cluster.scheduler_address)
    workers = engine.client.run(lambda dask_worker: str(dask_worker.name))  # {address: name}
    own = {address: str(tmp_path / f"worker-{name}") for address, name in workers.items()}
    engine.client.run(lambda dask_worker: os.environ.__setitem__(CACHE_ENV, own[dask_worker.address]))
    try:
        plan = plan_course(read_course(path), tmp_path / "out", url, chapters_module=SCENES)
        result = render_course(plan, engine)
    finally:
        session = os.environ[CACHE_ENV]  # the workers' cache again, as the other tests expect
        engine.client.run(lambda: os.environ.__setitem__(CACHE_ENV, session))
        engine.close()
    assert (result.rendered, result.reused) == (2, 0)
    ran = chapters(result.record)
    assert {c["worker"] for c in ran} <= set(workers.values()) and result.record["store"] == url
    keys = {c["key"] for c in ran}
    assert open_store(url, 10**9).keys() == keys
    on_workers = {p.name for folder in own.values() for p in (Path(folder) / "renders").glob("?" * 64)}
    assert on_workers == keys  # rendered in the workers' own caches, not the command's
    here = Cache(plan.cache)
    assert all(here.verified(key) is not None for key in keys)  # fetched into the command's cache, checked

    with pytest.MonkeyPatch.context() as patch:  # a new machine: its cache is empty; the store has every chapter
        patch.setenv(CACHE_ENV, str(tmp_path / "new-machine"))
        again = plan_course(read_course(path), tmp_path / "again", url, chapters_module=SCENES)
        assert again.todo() == {}
        from scenes.render.engines import LocalEngine

        second = render_course(again, LocalEngine(1))
    assert (second.rendered, second.reused) == (0, 2)
