"""The lesson folder, built from a small real render: videos, captions, frames, tensors, manifest.

Every check reads the files back (PyAV, a strict WebVTT parser, the ``srt`` parser,
safetensors) and compares them with what the render and the Lesson say.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
import shutil
from urllib.parse import unquote
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pytest
import srt
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from scenes.lesson.config import WHERE_KEYS, load_config
from scenes.narration import Cue
from scenes.render import export
from scenes.render.captions import to_srt, to_webvtt
from scenes.render.export import ExportError, write_lesson_folder
from scenes.style import theme

CHAPTERS = ("intro", "concat")  # two short real chapters


def render_small_lesson(base: Path):
    """Two narrated chapters at 144p, 5 fps, mp4 + webm; shared by the export, narration and page tests."""
    from scenes.render import render_lesson

    config = load_config(
        chapters=",".join(CHAPTERS), pixel_height=144, fps=5, formats=("mp4", "webm"),
        theme="light", model="toy", specialization_model="toy", out=base / "r2-lesson",
    )
    # The page's explorer offers what the rendered chapters computed; the induction model is measured too,
    # as a render that includes its chapter would, so the page tests drive its explorer as well.
    from scenes.lesson import build_lesson

    lesson = build_lesson(config)
    lesson.induction
    return render_lesson(config, jobs=2, lesson=lesson)


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):  # it renders video: every test that reads it is marked render
    result = render_small_lesson(tmp_path_factory.getbasetemp())  # renders and writes the lesson folder
    manifest = json.loads(result.manifest.read_text("utf-8"))
    return result, result, manifest


# -- a strict WebVTT reader (only what the spec allows, nothing lenient) -------------------

_TIMING = re.compile(r"^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$")


def parse_webvtt(text: str) -> list[tuple[float, float, str]]:
    assert "\r" not in text
    assert text.startswith("WEBVTT\n\n") or text == "WEBVTT\n", "missing WEBVTT header"
    cues = []
    for block in filter(None, text.split("\n\n")[1:]):
        lines = block.strip("\n").split("\n")
        if "-->" not in lines[0]:
            assert lines[0].strip(), "empty cue identifier"
            lines = lines[1:]
        match = _TIMING.match(lines[0])
        assert match, f"bad cue timing line {lines[0]!r}"
        g = [int(x) for x in match.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        payload = lines[1:]
        assert payload and all(line.strip() for line in payload), "a cue needs text and no blank lines"
        for line in payload:
            assert "-->" not in line
            assert "<" not in line, "raw '<' starts a tag"
            assert not re.search(r"&(?!(amp|lt|gt|nbsp|lrm|rlm);)", line), "raw '&' starts an entity"
        assert end > start
        cues.append((start, end, html.unescape("\n".join(payload))))
    return cues


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def video_duration(path: Path) -> float:
    """From the first decoded frame's start to the last one's end (independent of container metadata; a held
    frame is one frame shown for its whole duration)."""
    with av.open(str(path)) as container:
        frames = [(f.time, f.duration * f.time_base) for f in container.decode(video=0)]
    return float(frames[-1][0] + frames[-1][1] - frames[0][0])


# -- captions -------------------------------------------------------------------------------


@pytest.mark.render
def test_captions_match_the_scenes_cues_on_the_joined_timeline(lesson):
    result, folder, manifest = lesson
    cues = parse_webvtt((folder.out / "captions.vtt").read_text("utf-8"))
    expected = [
        (ch.start + c.start, min(c.end, ch.duration) + ch.start, c.text)  # one or two caption lines
        for ch in result.chapters for c in ch.cues if min(c.end, ch.duration) - c.start > 0.05
    ]
    assert len(cues) > 0, "the rendered chapters said nothing"
    assert len(cues) == len(expected)
    for (start, end, text), (e_start, e_end, e_text) in zip(cues, expected):
        assert text == e_text
        assert start == pytest.approx(e_start, abs=0.002) and end == pytest.approx(e_end, abs=0.002)
    duration = manifest["video"]["duration"]
    assert all(0 <= s < e <= duration + 1e-3 for s, e, _ in cues)
    assert all(a[1] <= b[0] + 1e-3 for a, b in zip(cues, cues[1:])), "captions overlap"
    # Each caption lies inside its chapter's span of the joined video.
    for chapter in manifest["chapters"]:
        inside = [c for c in cues if chapter["start"] - 1e-3 <= c[0] < chapter["end"]]
        assert all(c[1] <= chapter["end"] + 1e-3 for c in inside)
        assert len(inside) == chapter["cues"]


@pytest.mark.render
def test_srt_says_the_same_as_webvtt(lesson):
    _, folder, _ = lesson
    vtt = parse_webvtt((folder.out / "captions.vtt").read_text("utf-8"))
    subs = list(srt.parse((folder.out / "captions.srt").read_text("utf-8"), ignore_errors=False))
    assert [s.index for s in subs] == list(range(1, len(vtt) + 1))
    for sub, (start, end, text) in zip(subs, vtt):
        assert sub.start.total_seconds() == pytest.approx(start, abs=1e-6)
        assert sub.end.total_seconds() == pytest.approx(end, abs=1e-6)
        assert sub.content == text


@pytest.mark.render
def test_chapter_track_and_per_chapter_captions(lesson):
    result, folder, manifest = lesson
    track = parse_webvtt((folder.out / "chapters.vtt").read_text("utf-8"))
    assert [(s, e) for s, e, _ in track] == [(c["start"], c["end"]) for c in manifest["chapters"]]
    assert [t for _, _, t in track] == [f"{ch.number}. {ch.title}" for ch in result.chapters]
    for chapter in manifest["chapters"]:
        own = parse_webvtt((folder.out / chapter["captions"]["vtt"]).read_text("utf-8"))
        assert len(own) == chapter["cues"]
        assert all(0 <= s < e <= chapter["duration"] + 1e-3 for s, e, _ in own)
        own_srt = list(srt.parse((folder.out / chapter["captions"]["srt"]).read_text("utf-8")))
        assert [x.content for x in own_srt] == [t for _, _, t in own]


def test_caption_text_is_escaped_and_kept_on_one_paragraph():
    cues = [
        Cue(0.0, 1.25, "Q <K> & V --> softmax"),
        Cue(1.25, 3600 + 61.5, "two\n\nparagraphs  become one"),
    ]
    vtt = to_webvtt([Cue(c.start, c.end, " ".join(c.text.split())) for c in cues])
    parsed = parse_webvtt(vtt)
    assert parsed == [(0.0, 1.25, "Q <K> & V --> softmax"), (1.25, 3661.5, "two paragraphs become one")]
    assert "01:01:01.500" in vtt
    subs = list(srt.parse(to_srt(cues[:1])))
    assert subs[0].content == "Q <K> & V --> softmax" and subs[0].end.total_seconds() == 1.25


# -- videos ---------------------------------------------------------------------------------


@pytest.mark.render
def test_videos_open_with_the_right_durations(lesson):
    result, folder, manifest = lesson
    chapters = manifest["chapters"]
    for chapter, ch in zip(chapters, result.chapters):
        for fmt in ("mp4", "webm"):
            path = folder.out / chapter["videos"][fmt]
            assert video_duration(path) == pytest.approx(chapter["duration"], abs=1 / result.fps + 1e-6)
        assert chapter["duration"] == pytest.approx(ch.duration, abs=1e-3)
        assert chapter["end"] == pytest.approx(chapter["start"] + chapter["duration"], abs=2e-3)
    assert [c["start"] for c in chapters][0] == 0
    assert all(a["end"] == pytest.approx(b["start"], abs=2e-3) for a, b in zip(chapters, chapters[1:]))
    total = sum(c["duration"] for c in chapters)
    assert manifest["video"]["duration"] == pytest.approx(total, abs=2e-3)
    for fmt in ("mp4", "webm"):
        name = manifest["lesson"]["videos"][fmt]
        assert video_duration(folder.out / name) == pytest.approx(total, abs=1e-3)
        assert manifest["lesson"]["durations"][name] == pytest.approx(total, abs=1e-3)


@pytest.mark.render
def test_joined_mp4_is_web_ready_with_chapter_marks(lesson):
    result, folder, manifest = lesson
    path = folder.out / "lesson.mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (result.width, result.height)
        marks = [(float(c["start"] * c["time_base"]), float(c["end"] * c["time_base"])) for c in container.chapters()]
    assert marks == [pytest.approx((c["start"], c["end"]), abs=2e-3) for c in manifest["chapters"]]
    # moov (the index) before mdat (the media): playable while it downloads.
    data, atoms, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, name = int.from_bytes(data[offset : offset + 4], "big"), data[offset + 4 : offset + 8].decode("latin-1")
        atoms.append(name)
        offset += size if size >= 8 else len(data)
    assert atoms.index("moov") < atoms.index("mdat")


# -- frames ---------------------------------------------------------------------------------


@pytest.mark.render
def test_sound_and_caption_tracks_carry_their_language(lesson):
    """Every video's sound and caption tracks say the language they are in (shared.toml's track-language, "eng"),
    not "und": players list them by it. Chapter files, the joined lesson and the webm conversions alike."""
    result, _, _ = lesson
    videos = [*result.lesson_files.values(), *(f for ch in result.chapters for f in ch.files.values())]
    assert {v.suffix for v in videos} == {".mp4", ".webm"}
    for video in videos:
        with av.open(str(video)) as box:
            tracks = [s for s in box.streams if s.type in ("audio", "subtitle")]
            assert tracks and {s.metadata.get("language") for s in tracks} == {"eng"}, video.name


def test_a_track_language_that_is_not_iso_639_2_is_refused_when_the_words_are_read():
    from scenes.lesson.script import SHARED, ScriptError, parse_script

    good = parse_script(SHARED, b'[screen]\ntrack-language = "deu"\n', "shared.toml")
    assert good.text("track-language", {}) == "deu"
    with pytest.raises(ScriptError, match="'en'; write the language .* ISO 639-2 code of three lowercase letters"):
        parse_script(SHARED, b'[screen]\ntrack-language = "en"\n', "shared.toml")


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def png_pixels(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


@pytest.mark.render
def test_poster_and_thumbnails_are_frames_of_the_videos(lesson):
    result, folder, manifest = lesson
    poster = png_pixels(folder.out / manifest["lesson"]["poster"])
    assert poster.shape == (result.height, result.width, 3)
    sources = {c["id"]: decoded_frames(folder.out / c["videos"]["mp4"]) for c in manifest["chapters"]}
    # The poster is a frame of one of the chapters: the renderer's own pixels (lossless PNG), so it
    # matches a decoded video frame up to the video's compression.
    error = min(np.abs(poster.astype(int) - f).mean() for frames in sources.values() for f in frames)
    assert error < 2.0, error
    background = np.array([int(theme(result.config.theme).background[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(poster.astype(int) - background).sum(-1) > 40).mean() > 0.01, "poster is blank"
    for chapter in manifest["chapters"]:
        thumb = png_pixels(folder.out / chapter["thumbnail"])
        assert thumb.shape[1] == min(export.THUMB_WIDTH, result.width)
        assert thumb.shape[0] / thumb.shape[1] == pytest.approx(9 / 16, abs=0.02)


# -- tensors --------------------------------------------------------------------------------


@pytest.mark.render
def test_trace_file_holds_the_lesson_tensors(lesson):
    result, folder, manifest = lesson
    path = folder.out / "trace.safetensors"
    loaded = load_file(str(path))
    trace = result.lesson.trace
    assert set(loaded) == set(trace.tensors())
    for name, tensor in trace.tensors().items():
        assert torch.equal(loaded[name], tensor.cpu()), name
    with safe_open(str(path), "pt") as f:
        assert f.metadata()["tokens"].split("\x1f") == list(trace.tokens)
    copies = load_file(str(folder.out / "copies.safetensors"))
    assert torch.equal(copies["weights"], result.lesson.copies.weights)


@pytest.mark.render
def test_manifest_tensor_summary_matches_the_files(lesson):
    _, folder, manifest = lesson
    assert "trace.safetensors" in manifest["tensors"]
    for name, summary in manifest["tensors"].items():
        tensors = load_file(str(folder.out / name))
        assert set(summary) == set(tensors)
        for key, t in tensors.items():
            entry = summary[key]
            assert entry["shape"] == list(t.shape)
            assert entry["dtype"] == str(t.dtype).removeprefix("torch.")
            if t.dtype == torch.bool:
                assert entry["true"] == int(t.sum())
                continue
            finite = t.double()[torch.isfinite(t.double())]
            assert entry["min"] == pytest.approx(finite.min().item())
            assert entry["max"] == pytest.approx(finite.max().item())
            assert entry["mean"] == pytest.approx(finite.mean().item())
            assert entry.get("non_finite", 0) == t.numel() - finite.numel()


# -- manifest -------------------------------------------------------------------------------


@pytest.mark.render
def test_manifest_hashes_and_sizes_match_the_files(lesson):
    _, folder, manifest = lesson
    listed = manifest["files"]
    on_disk = {
        p.relative_to(folder.out).as_posix()
        for p in folder.out.rglob("*")
        if p.is_file() and not p.relative_to(folder.out).as_posix().startswith(".")
    }
    assert set(listed) == on_disk - {"manifest.json"}
    probe = folder.out / "probe.txt"  # a file made the ordinary way: the folder's files get its permissions
    probe.write_text("x")
    mode = probe.stat().st_mode & 0o777
    probe.unlink()
    for name, entry in listed.items():
        path = folder.out / name
        assert entry["bytes"] == path.stat().st_size, name
        assert entry["sha256"] == sha256(path), name
        if name in folder.written:
            assert path.stat().st_mode & 0o777 == mode, name
    # Every path the manifest mentions is listed.
    mentioned = [*manifest["lesson"]["videos"].values(), *manifest["lesson"]["captions"].values(),
                 manifest["lesson"]["poster"], manifest["lesson"]["page"], manifest["lesson"]["embed"]]
    for chapter in manifest["chapters"]:
        mentioned += [*chapter["videos"].values(), *chapter["captions"].values(), chapter["thumbnail"]]
    assert set(mentioned) <= set(listed)


@pytest.mark.render
def test_manifest_config_versions_and_chapters(lesson):
    result, _, manifest = lesson
    from importlib.metadata import version

    assert manifest["config"] == result.config.model_dump(mode="json", exclude=WHERE_KEYS)  # not where
    assert manifest["words"] == result.lesson.scripts.record() and manifest["words"]["intro"]["from"] == "default"
    assert manifest["versions"]["manim"] == version("manim")
    assert manifest["versions"]["torch"] == torch.__version__
    assert manifest["versions"]["mha-explainer"] == version("mha-explainer")
    assert [c["id"] for c in manifest["chapters"]] == list(CHAPTERS)
    assert [c["title"] for c in manifest["chapters"]] == [ch.title for ch in result.chapters]
    assert [c["summary"] for c in manifest["chapters"]] == [ch.summary for ch in result.chapters]
    assert manifest["video"] == {"width": result.width, "height": result.height, "fps": result.fps,
                                 "duration": pytest.approx(result.duration, abs=2e-3)}


# -- the page's HTML (the browser test drives it) -----------------------------------------------


class _Collect(HTMLParser):
    """The page's tags, and the text of its first <title> and first <h1> (the speaker view has its own, hidden)."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self._in, self._done = [], {}, None, set()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("h1", "title") and tag not in self._done else None

    def handle_endtag(self, tag):
        if tag == self._in:
            self._done.add(tag)
        self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self.text[self._in] = self.text.get(self._in, "") + data


@pytest.mark.render
def test_page_uses_relative_paths_and_no_network(lesson):
    _, folder, manifest = lesson
    page = folder.index.read_text("utf-8")
    parsed = _Collect()
    parsed.feed(page)
    urls = [v for _, attrs in parsed.tags for k, v in attrs.items() if k in ("src", "href", "poster")]
    assert urls
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), f"network URL {url}"
        if url.startswith("data:") or url.startswith("#"):
            continue
        path = unquote(url.split("#")[0])  # lesson.mp4#t=12.5: a media fragment of a file in the folder
        assert not url.startswith("/") and (folder.out / path).is_file(), f"broken relative link {url}"
    sources = [attrs for tag, attrs in parsed.tags if tag == "source"]
    assert [s["src"] for s in sources] == [manifest["lesson"]["videos"]["mp4"], manifest["lesson"]["videos"]["webm"]]
    assert "<link" not in page and "@import" not in page


@pytest.mark.render
def test_user_text_is_escaped(lesson, tmp_path):
    result, folder, _ = lesson
    staged = tmp_path / "staged"  # what the render stages: the videos, under their relative names
    shutil.copytree(folder.out, staged, ignore=shutil.ignore_patterns(".mha-explainer"))
    hostile = '</script><script>alert("t")</script> & <b>"bold"</b>'
    config = result.config.model_copy(update={"title": hostile, "sentence": "It's <i>2 < 3</i> & done."})
    write_lesson_folder(dataclasses.replace(result, config=config), staged)
    page = (staged / "index.html").read_text("utf-8")
    parsed = _Collect()
    parsed.feed(page)
    assert parsed.text["h1"] == hostile and parsed.text["title"] == hostile
    plain = _Collect()
    plain.feed((folder.out / "index.html").read_text("utf-8"))
    own = [tag for tag, _ in plain.tags].count("script")  # the page's own scripts (player, explorer, SCORM)
    assert own >= 2 and [tag for tag, _ in parsed.tags].count("script") == own
    assert "It&#39;s &lt;i&gt;2 &lt; 3&lt;/i&gt; &amp; done." in page


# -- all or nothing -------------------------------------------------------------------------------


@pytest.mark.render
def test_a_failure_leaves_the_previous_folder(lesson, monkeypatch):
    """The export fails after captions, frames and tensors were staged: the folder is the last run's."""
    from scenes.render import RenderError, render_lesson
    from scenes.render.folder import OWN

    result, folder, _ = lesson
    before = {p: p.read_bytes() for p in folder.out.rglob("*") if p.is_file() and OWN not in p.parts}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export, "render_page", boom)
    with pytest.raises(RenderError, match="disk full"):  # another folder (mp4 only), from the cached chapters
        render_lesson(result.config.model_copy(update={"formats": ("mp4",)}), jobs=1)
    after = {p: p.read_bytes() for p in folder.out.rglob("*") if p.is_file() and OWN not in p.parts}
    assert after == before  # nothing new, nothing changed
    assert not list((folder.out / OWN).glob("staging-*"))


@pytest.mark.render
def test_missing_video_is_one_sentence(lesson, tmp_path):
    result, _, _ = lesson
    gone = dataclasses.replace(result, lesson_files={"mp4": result.out / "nope.mp4"})
    with pytest.raises(ExportError, match=r"rendered file .*nope\.mp4 is missing; render again"):
        write_lesson_folder(gone, result.out)


@pytest.mark.render
def test_the_folder_holds_only_planned_names(lesson):
    """What a render may write is known before it renders (so a file of the author's is found first)."""
    result, _, _ = lesson
    assert set(result.written) <= export.planned_names(result.config)
