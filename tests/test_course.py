"""The course command without a cluster: course files checked before anything renders, the local default
(no Dask), the plan, the cache shared between runs and courses.

Renders use two stand-in chapters (tests/course_scenes.py: a second of animation each) at 256x144, 5 fps,
silent; each chapter runs in its own fresh process, as on a cluster.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from course_scenes import COURSE as BASE

from scenes.render.course_file import MAX_LESSONS, lesson_name, read_course

SCENES = "course_scenes:TWO"  # tests/course_scenes.py


def write(folder: Path, text: str, name: str = "course.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(*args):
    from cli import main

    return CliRunner().invoke(main, ["course", *args])


def assert_one_sentence(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    # one sentence (an unknown key's lists every key of the lesson, some 330 characters, after the file's path)
    assert errors[0].count(". ") == 0 and len(errors[0]) < 500, errors[0]
    return errors[0]


# -- the course file ------------------------------------------------------------------------------


def test_a_course_is_every_combination_plus_its_extra_lessons(tmp_path):
    extra = '\n[[lessons]]\nsentence = "Birds sing when the sun rises."\n'
    path = write(tmp_path, BASE + 'theme = ["dark", "light"]\n' + extra)
    course = read_course(path)
    assert course.title == "Two sentences"
    assert len(course.lessons) == 2 * 2 + 1
    assert [(l.config.sentence[:8], l.config.theme) for l in course.lessons] == [
        ("The cat ", "dark"), ("The cat ", "light"), ("The dog ", "dark"), ("The dog ", "light"), ("Birds si", "dark")]
    assert all(l.config.pixel_height == 144 and l.config.chapters == ("intro", "recap") for l in course.lessons)
    names = [l.name for l in course.lessons]
    assert len(set(names)) == len(names)
    assert names == [l.name for l in read_course(path).lessons]  # stable across runs
    assert all(n.replace("-", "").isalnum() and n == n.lower() for n in names)
    # adding a value keeps the other lessons' folders
    third = BASE.replace('was fast."]', 'was fast.", "A third one here."]')
    more = write(tmp_path, third + 'theme = ["dark", "light"]\n', "more.toml")
    assert set(names[:4]) <= {l.name for l in read_course(more).lessons}
    assert lesson_name({"theme": "dark"}) != lesson_name({"theme": "light"})


@pytest.mark.parametrize("change, words", [
    (("", "colour = 3\n"), ["line 1", "unknown key 'colour'"]),
    (("[lesson]\n", "[lesson]\nthemes = \"dark\"\n"), ["line 4", "unknown key 'themes'", "theme"]),
    (("[matrix]\n", "[matrix]\ntheme = []\n"), ["line 12", "theme = []", "empty"]),
    (("[matrix]\n", "[matrix]\ntheme = \"dark\"\n"), ["line 12", "is not a list"]),
    (("[matrix]\n", "[matrix]\ntheme = [\"dark\", 3]\n"), ["line 12", "theme = 3", "dark or light"]),
    (("[matrix]\n", "[matrix]\nheads = [3]\n"), ["line 12", "heads = 3", "does not divide"]),
    (("[matrix]\n", f"[matrix]\nseed = {list(range(MAX_LESSONS))}\n"),
     [f"{MAX_LESSONS * 2} lessons", str(MAX_LESSONS)]),
    (("[lesson]\n", "[lesson]\nout = \"elsewhere\"\n"), ["line 4", "decided by the course"]),
    (("chapters = ", "chapters = = "), ["line 9", "not valid TOML"]),
    (("", 'scorm = "slim"\n'), ["line 1", 'scorm = "slim" is not true, false or "lean"']),
])
def test_a_bad_course_file_exits_2_with_one_sentence_before_anything_renders(tmp_path, change, words):
    path = write(tmp_path, BASE.replace(*change, 1) if change[0] else change[1] + BASE)
    result = run_cli(str(path), "--out", str(tmp_path / "out"))
    error = assert_one_sentence(result)
    for word in words:
        assert word in error, error
    assert not (tmp_path / "out").exists()


def test_a_lean_scorm_package_in_every_lesson_folder(tmp_path):
    course = read_course(write(tmp_path, 'scorm = "lean"\n' + BASE))
    assert course.lessons and all(lesson.config.scorm == "lean" for lesson in course.lessons)
    assert all(lesson.config.scorm is True for lesson in read_course(write(tmp_path, "scorm = true\n" + BASE)).lessons)


def test_the_same_mistake_says_what_render_says(tmp_path):
    """A lesson setting is checked with render's own sentence, only the place is the course file's."""
    from cli import main

    path = write(tmp_path, BASE.replace("[matrix]\n", "[matrix]\npacing = [9.0]\n"))
    course = run_cli(str(path), "--out", str(tmp_path / "out"))
    render = CliRunner().invoke(main, ["render", "--pacing", "9", "--out", str(tmp_path / "r")])
    said = assert_one_sentence(course).split(": ", 2)[-1]
    assert said in assert_one_sentence(render)


def test_an_unreachable_scheduler_exits_2_before_anything_renders(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write(tmp_path, BASE)
    error = assert_one_sentence(run_cli(str(path), "--out", str(tmp_path / "out"), "--scheduler",
                                        f"tcp://127.0.0.1:{port}"))
    assert f"127.0.0.1:{port}" in error and "dask scheduler" in error
    assert not (tmp_path / "out").exists()
    error = assert_one_sentence(run_cli(str(path), "--out", str(tmp_path / "out"), "--scheduler", "not an address"))
    assert "tcp://HOST:PORT" in error


def test_a_folder_that_is_not_a_course_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    error = assert_one_sentence(run_cli(str(write(tmp_path, BASE)), "--out", str(out)))
    assert "notes.txt" in error
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_link_where_a_lesson_folder_goes_is_refused(tmp_path):
    """A link planted in a course folder where a lesson's folder goes is never followed: exit 2, nothing written."""
    path = write(tmp_path, BASE)
    name = read_course(path).lessons[0].name
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / name).symlink_to(elsewhere)
    error = assert_one_sentence(run_cli(str(path), "--out", str(out)))
    assert "symbolic link" in error and name in error
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == [name]


def test_a_lesson_folder_is_not_written_as_a_course_folder(tmp_path):
    lesson = tmp_path / "lesson"
    lesson.mkdir()
    (lesson / "manifest.json").write_text(json.dumps({"generator": "mha-explainer 0.1.0", "files": {}}))
    error = assert_one_sentence(run_cli(str(write(tmp_path, BASE)), "--out", str(lesson)))
    assert "lesson folder" in error
    assert sorted(p.name for p in lesson.iterdir()) == ["manifest.json"]


def test_a_worker_that_computes_another_key_refuses_to_render(tmp_path):
    """Other code, versions, voice or words on a worker: its key differs and it says so, rendering nothing."""
    from scenes.lesson.config import LessonConfig
    from scenes.render.engines import ChapterSpec, run_in_process

    config = LessonConfig(pixel_height=144, fps=5, voice="none", model="toy", specialization_model="toy",
                          chapters=("intro",), out=tmp_path / "unused")
    spec = ChapterSpec(task="x/intro", lesson="x", chapter_id="intro", key="0" * 64,
                       config=config.model_dump(mode="json"), cache=str(tmp_path / "cache"), formats=("mp4",),
                       chapters_module=SCENES)
    meta = run_in_process(spec.to_dict())
    assert meta.get("final") is True and "computes another key" in meta["error"], meta
    assert not (tmp_path / "cache").exists()


def test_a_foreign_cache_folder_is_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "photo.jpg").write_bytes(b"mine")
    error = assert_one_sentence(run_cli(str(write(tmp_path, BASE)), "--out", str(tmp_path / "out"), "--cache",
                                        str(cache)))
    assert "photo.jpg" in error and "--cache" in error
    assert sorted(p.name for p in cache.iterdir()) == ["photo.jpg"]


# -- the local default ------------------------------------------------------------------------------


LOCAL_RUN = """
import json, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from scenes.render.course_file import read_course
from scenes.render.course import plan_course, render_course
from scenes.render.engines import LocalEngine
plan = plan_course(read_course({course!r}), Path({out!r}), {cache!r}, chapters_module={scenes!r})
result = render_course(plan, LocalEngine(2))
print(json.dumps({{"rendered": result.rendered, "reused": result.reused,
                   "dask": sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))}}))
"""


def run_local(course: Path, out: Path, cache: Path | str | None = None, env: dict | None = None) -> dict:
    """A course rendered by local processes in a new Python (what `mha-explainer course` does without
    --scheduler), with the stand-in chapters; ``env``: variables that differ from this process's."""
    code = LOCAL_RUN.format(tests=str(Path(__file__).parent), course=str(course), out=str(out),
                            cache=None if cache is None else str(cache), scenes=SCENES)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.render
def test_the_local_default_needs_no_dask_and_a_shared_cache_serves_another_course(tmp_path):
    """Two lessons of two chapters on local processes: no Dask imported, every chapter rendered once and
    recorded as run "local"; a second course (one more sentence) sharing the cache renders only its new
    lesson's chapters. The folders hold nothing the course did not write."""
    cache = tmp_path / "cache"
    scorm = BASE.replace("[lesson]\n", "scorm = true\n\n[lesson]\n")  # a SCORM package in every lesson folder
    first = run_local(write(tmp_path, scorm), tmp_path / "one", cache)
    assert first == {"rendered": 4, "reused": 0, "dask": []}
    record = json.loads((tmp_path / "one" / "course.json").read_text())
    chapters = [c for lesson in record["lessons"] for c in lesson["chapters"]]
    assert {(c["status"], c["where"]) for c in chapters} == {("rendered", "local")}
    assert all(c["seconds"] > 0 for c in chapters)
    for lesson in record["lessons"]:
        folder = tmp_path / "one" / lesson["folder"]
        assert (folder / "lesson.mp4").is_file() and (folder / "manifest.json").is_file()
        assert (folder / "lesson-scorm.zip").is_file()  # the course asks for a SCORM package per lesson
        assert (tmp_path / "one" / lesson["poster"]).is_file()
    page = (tmp_path / "one" / "index.html").read_text()
    assert page.count('<li class="lesson">') == 2 and "The dog chased the ball" in page
    assert all(f'href="{lesson["name"]}/index.html"' in page for lesson in record["lessons"])
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(
        [".mha-explainer", "course.json", "index.html", "manifest.json", *(l["name"] for l in record["lessons"])])
    assert (cache / "cache-folder").is_file()
    from cli import main  # a course folder is never written as a lesson folder

    error = assert_one_sentence(CliRunner().invoke(main, ["render", "intro", "--out", str(tmp_path / "one")]))
    assert "course folder" in error

    third = BASE.replace('was fast."]', 'was fast.", "Birds sing when the sun rises."]')
    second = run_local(write(tmp_path, third, "more.toml"), tmp_path / "two", cache)
    assert second == {"rendered": 2, "reused": 4, "dask": []}
    # The lesson folders do not wait for the course's last chapter: the two lessons made of cached chapters
    # were written while the new lesson's chapters rendered.
    record = json.loads((tmp_path / "two" / "course.json").read_text())
    new = [c for lesson in record["lessons"] for c in lesson["chapters"] if c["status"] == "rendered"]
    early = [lesson["written"] for lesson in record["lessons"]
             if {c["status"] for c in lesson["chapters"]} == {"reused"}]
    assert len(new) == 2 and len(early) == 2
    assert max(early) < max(c["finished"] for c in new), record


def test_the_plan_counts_what_the_cache_holds(tmp_path):
    """--dry-run's plan: every chapter to render on a new cache; it writes nothing."""
    from rich.console import Console

    import cli_output
    from scenes.render.course import plan_course

    course = read_course(write(tmp_path, BASE))
    plan = plan_course(course, tmp_path / "out", str(tmp_path / "cache"), chapters_module=SCENES, dry_run=True)
    assert plan.chapters == 4 and len(plan.todo()) == 4
    console = Console(record=True, width=200)
    cli_output.print_course_plan(console, plan)
    text = console.export_text()
    assert "4 chapters in all: 0 already made, 4 to render" in text
    assert all(lesson.name in text for lesson in course.lessons)
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
