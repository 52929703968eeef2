"""The author's logo (issue 25, the author's look): ``logo`` in lesson.toml and ``--logo``, a PNG or SVG in the
bottom-right corner of every chapter, the title card and the closing card.

Checked where it shows: the config (every bad file one sentence, exit 2, nothing on disk trusted), the render keys
(its bytes, not its path), the part (fitted into ``layout.logo_box``), and one tiny render (its colour in the corner
of the first and the last frame). That no chapter draws in its corner is checked with the layout, on the session's
headless runs (tests/test_scenes_layout.py, ``test_the_logos_corner_stays_free``).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_bad_inputs import assert_one_sentence

from cli import main
from scenes import layout
from scenes.lesson.config import CHAPTER_IDS, WHERE_KEYS, ConfigError, LessonConfig, load_config
from scenes.lesson.logo import MAX_LOGO_BYTES, read_logo
from scenes.render.keys import folder_key, render_settings

TOY = {"model": "toy", "specialization_model": "toy"}
ORANGE = (240, 140, 20)  # the test logo's colour: in no theme's palette
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 100">'
       '<rect x="0" y="0" width="300" height="100" rx="12" fill="#f08c14"/></svg>')


def png(path: Path, size=(300, 100), color=ORANGE) -> Path:
    """A PNG of one colour, made with Pillow."""
    from PIL import Image

    Image.new("RGBA", size, (*color, 255)).save(path)
    return path


def png_bytes(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` (Pillow makes no empty image; written by hand)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def show(*args):
    return CliRunner().invoke(main, ["config", "show", "--voice", "none", *args])


# -- 1. the key and its flag ----------------------------------------------------------------------------------


def test_a_png_or_an_svg_is_a_logo_from_the_file_or_the_flag(tmp_path, monkeypatch):
    (tmp_path / "course").mkdir()
    png(tmp_path / "course" / "school.png")
    (tmp_path / "course" / "mark.svg").write_text(SVG, encoding="utf-8")
    (tmp_path / "course" / "lesson.toml").write_text('logo = "mark.svg"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # in a lesson.toml: relative to the file's folder; as a flag: to the current one (kept absolute either way)
    assert load_config("course/lesson.toml").logo == tmp_path / "course" / "mark.svg"
    assert load_config(logo="course/school.png").logo == tmp_path / "course" / "school.png"
    assert load_config().logo is None  # unset: no logo
    result = show("--config", "course/lesson.toml", "--logo", "course/school.png")  # the flag wins
    assert result.exit_code == 0, result.output
    assert f'logo = "{tmp_path / "course" / "school.png"}"  # flag' in result.output
    assert '# logo = "logo.png"  # unset: no logo' in show().output
    logo = read_logo("course/mark.svg")
    assert (logo.kind, logo.width, logo.height) == ("svg", 300.0, 100.0)
    assert read_logo("course/school.png").aspect == 3.0


BAD = [  # (name, file's bytes or a maker, words the sentence has)
    ("missing", None, "does not exist"),
    ("a folder", "folder", "is a directory"),
    ("a FIFO", "fifo", "is a FIFO"),
    ("too big", b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_LOGO_BYTES, "more than a logo needs"),
    ("empty", b"", "is an empty file"),
    ("text named .png", b"not a picture\n", "is not a PNG or SVG file"),
    ("a GIF", "gif", "is not a PNG or SVG file"),
    ("a damaged PNG", "damaged", "is a damaged PNG file"),
    ("zero pixels wide", png_bytes(0, 10), "is 0 x 10 pixels"),
    ("too many pixels", png_bytes(5000, 10), "is 5000 x 10 pixels"),
    ("broken XML", b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "is not well-formed XML"),
    ("not svg", b"<html><body><p>logo</p></body></html>", "whose root element is <html>"),
    ("no size", b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="3" height="4"/></svg>', "without a usable size"),
    ("draws nothing", b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><text>AB</text></svg>',
     "without a path or shape"),
    ("entities", b'<!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
                 b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><rect/>&b;</svg>',
     "declares XML entities"),
]


def _make(path: Path, made) -> None:
    from PIL import Image

    if made == "folder":
        path.mkdir()
    elif made == "fifo":
        os.mkfifo(path)
    elif made == "gif":
        Image.new("RGB", (8, 8)).save(path, format="GIF")
    elif made == "damaged":
        data = bytearray(png(path).read_bytes())
        data[-20] ^= 0xFF  # inside the pixel data: its checksum no longer matches
        path.write_bytes(bytes(data))
    elif made is not None:
        path.write_bytes(made)


@pytest.mark.parametrize(("made", "words"), [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_a_bad_logo_is_one_sentence_from_the_flag_and_the_file(tmp_path, made, words):
    name = "logo.svg" if isinstance(made, bytes) and made.lstrip().startswith(b"<") else "logo.png"
    _make(tmp_path / name, made)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_one_sentence(show("--logo", str(tmp_path / name)), words)
    assert_one_sentence(show("--logo", str(tmp_path / name)), f'logo = "{tmp_path / name}" ')  # key and value first
    (tmp_path / "lesson.toml").write_text(f'logo = "{name}"\n', encoding="utf-8")
    assert_one_sentence(show("--config", str(tmp_path / "lesson.toml")), "lesson.toml line 1: logo = ")
    with pytest.raises(ConfigError, match=words):
        load_config(logo=str(tmp_path / name))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "lesson.toml"])  # nothing left behind


def test_a_course_files_logo_is_relative_to_the_course_file(tmp_path, monkeypatch):
    from course_scenes import COURSE

    from scenes.render.course_file import CourseFileError, read_course

    (tmp_path / "course").mkdir()
    png(tmp_path / "course" / "school.png")
    path = tmp_path / "course" / "course.toml"
    path.write_text(COURSE.replace("[lesson]\n", '[lesson]\nlogo = "school.png"\n'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert {lesson.config.logo for lesson in read_course(path).lessons} == {tmp_path / "course" / "school.png"}
    path.write_text(COURSE.replace("[lesson]\n", '[lesson]\nlogo = "nope.png"\n'), encoding="utf-8")
    with pytest.raises(CourseFileError, match="does not exist"):
        read_course(path)


@pytest.mark.parametrize(("value", "words"), [(3, "is not a path"), ("", "is empty"), ("  ", "is empty")])
def test_a_logo_that_is_no_path_is_one_sentence(tmp_path, value, words):
    (tmp_path / "lesson.toml").write_text(f"logo = {json.dumps(value)}\n", encoding="utf-8")
    assert_one_sentence(show("--config", str(tmp_path / "lesson.toml")), words)


def test_a_logo_that_is_too_big_is_refused_before_it_is_read_whole(tmp_path):
    big = tmp_path / "huge.svg"
    with open(big, "wb") as f:  # 1 GB, sparse: only its size is looked at
        f.truncate(1 << 30)
    assert_one_sentence(show("--logo", str(big)), "1073.7 MB, more than a logo needs")


# -- 2. the render keys: its bytes, not its path ----------------------------------------------------------------


def test_the_logos_bytes_are_in_every_key_and_its_path_in_none(tmp_path):
    from scenes.lesson.script import load_scripts
    from scenes.voice import SILENT

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = png(tmp_path / "a" / "logo.png")
    moved = tmp_path / "b" / "elsewhere.png"
    shutil.copyfile(first, moved)
    plain, here, there = load_config(**TOY), load_config(logo=first, **TOY), load_config(logo=moved, **TOY)
    assert "logo" in WHERE_KEYS  # the path says where, like the folder and the words' folder
    digest = read_logo(first).sha256
    scripts = load_scripts(None)

    def folder(config):
        return folder_key(config, "code", SILENT, scripts)

    for cid in CHAPTER_IDS:
        settings = render_settings(here, cid)
        assert settings["logo"] == digest and str(first) not in json.dumps(settings), cid
        assert render_settings(there, cid) == settings, cid  # moved: nothing renders again
        assert render_settings(plain, cid) != settings and "logo" not in render_settings(plain, cid), cid
    assert folder(there) == folder(here) != folder(plain)
    png(moved, color=(20, 140, 240))  # other bytes at the same path: every chapter renders again
    changed = load_config(logo=moved, **TOY)
    assert all(render_settings(changed, cid) != render_settings(here, cid) for cid in CHAPTER_IDS)
    assert folder(changed) != folder(here)
    # a render process elsewhere (a Dask worker) rebuilds the config from the spec and finds the same file
    assert LessonConfig(**changed.model_dump(mode="json")) == changed
    moved.unlink()  # gone since the config was checked: one sentence, not a traceback
    with pytest.raises(ConfigError, match="does not exist any more"):
        render_settings(changed, "intro")


# -- 3. the part: fitted into the corner, its shape kept ----------------------------------------------------


@pytest.mark.parametrize("kind", ["wide png", "tall png", "svg"])
def test_the_logo_fits_its_box_against_the_bottom_right(tmp_path, kind):
    from scenes import parts

    if kind == "svg":
        path = tmp_path / "mark.svg"
        path.write_text(SVG, encoding="utf-8")
    else:
        path = png(tmp_path / "logo.png", (900, 100) if kind == "wide png" else (100, 300))
    before = sorted(tmp_path.iterdir())
    mob = parts.logo(path)
    left, right, bottom, top = layout.logo_box()
    assert mob.is_logo
    assert mob.get_right()[0] == pytest.approx(right, abs=1e-6)
    assert mob.get_bottom()[1] == pytest.approx(bottom, abs=1e-6)
    assert mob.get_left()[0] >= left - 1e-6 and mob.get_top()[1] <= top + 1e-6
    assert max(mob.width / (right - left), mob.height / (top - bottom)) == pytest.approx(1.0, abs=1e-3)  # fills it
    aspect = {"wide png": 9.0, "tall png": 1 / 3, "svg": 3.0}[kind]
    assert mob.width / mob.height == pytest.approx(aspect, rel=0.02)
    assert sorted(tmp_path.iterdir()) == before  # nothing written beside the author's file


def test_the_logos_box_is_in_the_corner_the_chapters_keep_free():
    left, right, bottom, top = layout.logo_box()
    k_left, k_right, k_bottom, k_top = layout.logo_keep_out()
    assert (right - left, top - bottom) == pytest.approx((layout.LOGO_WIDTH, layout.LOGO_HEIGHT))
    assert k_left < left and k_top > top and k_right > right and k_bottom < bottom


# -- 4. one tiny render: in the first and the last frame --------------------------------------------------------


def _corner_colours(frame: np.ndarray) -> np.ndarray:
    """The pixels of ``frame`` (height x width x 3) inside ``layout.logo_box``."""
    from manim import config

    height, width = frame.shape[:2]
    left, right, bottom, top = layout.logo_box()
    x = lambda u: int(round((u / config.frame_width + 0.5) * width))  # noqa: E731
    y = lambda v: int(round((0.5 - v / config.frame_height) * height))  # noqa: E731
    return frame[y(top) + 1:y(bottom) - 1, x(left) + 1:x(right) - 1].reshape(-1, 3)


@pytest.mark.render
def test_a_rendered_chapter_has_the_logo_from_its_first_frame_to_its_last(tmp_path):
    import av

    from scenes.render import render_lesson
    from scenes.render.keys import unchanged_folder

    logo = png(tmp_path / "logo.png")
    outro = {"author": "A. Teacher", "licence": "CC BY 4.0", "link": "https://example.org/course"}
    config = load_config(chapters="outro", outro=outro, logo=str(logo), pixel_height=144, fps=5, voice="none",
                         out=tmp_path / "lesson", **TOY)
    result = render_lesson(config, jobs=1)
    video = result.out / "chapters" / "01-outro.mp4"
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for which, frame in (("first", frames[0]), ("last", frames[-1])):
        pixels = _corner_colours(frame).astype(int)
        near = np.abs(pixels - ORANGE).max(axis=1) <= 24  # H.264 moves colours a little
        assert near.mean() > 0.5, f"the {which} frame has no logo in its corner"
    # the folder is whole: its key (with the logo's bytes) matches, and its page is there
    assert unchanged_folder(config) is not None and (result.out / "index.html").is_file()
    moved = tmp_path / "moved.png"
    shutil.copyfile(logo, moved)
    assert unchanged_folder(config.model_copy(update={"logo": moved})) is not None  # moved: nothing to render
