"""The render pipeline: every chapter through scenes.render, checked with PyAV.

The whole lesson renders once (module fixture, 256x144 at 5 fps, two processes);
the other tests read those files or render tiny stand-in scenes defined here
(the workers import them from this module: ``chapters_module="test_render:QUICK"``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from manim import RIGHT, Dot

from scenes.base import LessonScene
from scenes.lesson.script import parse_script
from scenes.lesson.config import CHAPTER_IDS, LessonConfig
from scenes.render import RenderError, media, render_lesson
from scenes.render.folder import OWN
from scenes import style
from scenes.style import theme

pytestmark = pytest.mark.render

HEIGHT, FPS = 144, 5
WIDTH = 256  # 16:9, even


def tiny(out: Path, **overrides) -> LessonConfig:
    return LessonConfig(pixel_height=HEIGHT, fps=FPS, out=out, **overrides)


def quick(out: Path, **overrides) -> LessonConfig:
    """For the stand-in scenes: one chapter, and no pretrained model to load."""
    return tiny(out, chapters=("intro",), model="toy", specialization_model="toy", **overrides)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("render")


@pytest.fixture(scope="module")
def rendered(out):
    """The full lesson, rendered once: what most tests read."""
    return render_lesson(tiny(out, formats=("mp4", "png")), jobs=2)


# -- stand-in scenes (cheap) for cache and failure behaviour -----------------------------


class QuickScene(LessonScene):
    chapter_id, title, summary = "intro", "A dot", "One dot moves."
    script = parse_script("intro", '[beats]\ndot = "A dot moves."\n'.encode(), "a stand-in script")

    def construct(self):
        with self.beat("dot"):
            self.play(Dot(color=self.theme.text).animate.shift(RIGHT * 2), run_time=1)


class CrashScene(LessonScene):
    chapter_id, title, summary = "intro", "Crash", "Fails half-way."

    def construct(self):
        self.play(Dot(color=self.theme.text).animate.shift(RIGHT), run_time=1)
        raise RuntimeError("this scene fails on purpose")


class KilledScene(LessonScene):
    chapter_id, title, summary = "intro", "Killed", "Its process dies half-way, like a killed job."

    def construct(self):
        self.play(Dot(color=self.theme.text).animate.shift(RIGHT), run_time=1)
        os._exit(3)


QUICK = {"intro": QuickScene}
CRASH = {"intro": CrashScene}
KILLED = {"intro": KilledScene}


# -- every chapter ----------------------------------------------------------------------


def test_the_module_s_tests_share_one_worker(request):
    """Under -n (pytest-xdist), this module's tests run on one worker, which renders its lesson once (conftest
    groups each module's render tests; a pytest that drops the group from the node id fails here)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("one process: nothing to share")
    assert request.node.nodeid.endswith(f"@{__name__}")


def test_the_lesson_lasts_eight_to_twelve_minutes(rendered):
    """At pacing 1 the whole lesson is a class-sized 8 to 12 minutes."""
    total = sum(c.duration for c in rendered.chapters)
    assert 8 * 60 <= total <= 12 * 60, f"{total:.0f} s"


# Room to think (issue 23): spoken words per minute of runtime, the share of the runtime the voice speaks,
# and the longest a single beat speaks without a pause.
WORDS_PER_MINUTE, SPEECH_SHARE, LONGEST_BEAT = 140, 0.85, 14.0


def test_the_lesson_leaves_room_to_think(rendered):
    """At pacing 1 the voice leaves silences to look at what was just shown: no more than 140 spoken words per
    minute, speech at most 85% of the runtime, no beat speaking longer than 14 s."""
    if rendered.voice.kind == "none":
        pytest.skip("no voice installed: a silent lesson's beats last as long as their captions take to read")
    beats = [(c.chapter_id, b) for c in rendered.chapters for b in c.beats]
    total = sum(c.duration for c in rendered.chapters)
    words = sum(len(b.spoken.split()) for _, b in beats)
    speech = sum(b.end - b.start for _, b in beats)
    assert 60 * words / total <= WORDS_PER_MINUTE, f"{60 * words / total:.0f} words per minute ({words} in {total:.0f} s)"
    assert speech / total <= SPEECH_SHARE, f"speech fills {speech / total:.0%} of the lesson"
    long = [f"{cid}: {b.end - b.start:.1f} s, {b.text[:60]!r}" for cid, b in beats if b.end - b.start > LONGEST_BEAT]
    assert not long, "beats speaking too long: " + "; ".join(long)


@pytest.mark.parametrize("chapter_id", CHAPTER_IDS)
def test_chapter_video(rendered, chapter_id):
    ch = next(c for c in rendered.chapters if c.chapter_id == chapter_id)
    info = media.probe(ch.files["mp4"])
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == FPS
    assert 15 <= info.duration <= 150, f"{chapter_id}: {info.duration:.1f} s at pacing 1"
    assert info.duration == pytest.approx(ch.duration)

    # The background is the theme's, and something is drawn on it.
    background = np.array([int(theme("dark").background[i:i + 2], 16) for i in (1, 3, 5)])
    frames = media.sample_frames(ch.files["mp4"], 7)
    drawn = [np.abs(f.astype(int) - background).max(axis=2) > 40 for f in frames]
    assert max(d.mean() for d in drawn) > 0.005, f"{chapter_id}: every sampled frame is blank"
    corner = frames[len(frames) // 2][2, 2].astype(int)
    assert np.abs(corner - background).max() <= 12  # H.264 moves colours a little

    # Narration cues lie inside the video, in order; the last frame was saved.
    assert ch.cues, f"{chapter_id} says nothing"
    # (a cue lasts at least 0.5 s, so the last one may end just after the video)
    assert all(0 <= c.start < ch.duration and c.start < c.end <= ch.duration + 0.5 and c.text.strip()
               for c in ch.cues)
    assert [c.start for c in ch.cues] == sorted(c.start for c in ch.cues)
    assert ch.files["png"].stat().st_size > 0


def test_pacing_scales_duration(rendered, tmp_path):
    """Pacing 1.5 gives a video 1.5 times as long, speech included (up to one frame per animation)."""
    ch = min(rendered.chapters, key=lambda c: c.render_seconds)  # the cheapest chapter to render again
    slow = render_lesson(tiny(tmp_path, chapters=(ch.chapter_id,), pacing=1.5), jobs=1).chapters[0]
    assert not slow.cached
    assert slow.duration == pytest.approx(ch.duration * 1.5, rel=0.12)
    said = lambda chapter: sum(b.end - b.start for b in chapter.beats)  # noqa: E731
    assert 1.3 <= said(slow) / said(ch) <= 1.6  # the voice's length scale: phonemes stretch, edges a little less


# -- the joined lesson ---------------------------------------------------------------------


def test_joined_video_has_every_chapter_and_marks(rendered):
    lesson = rendered.lesson_files["mp4"]
    info = media.probe(lesson)
    chapter_infos = [media.probe(ch.files["mp4"]) for ch in rendered.chapters]
    assert info.frames == sum(i.frames for i in chapter_infos)  # remuxed, nothing lost or added
    assert info.duration == pytest.approx(sum(i.duration for i in chapter_infos), abs=1 / FPS)
    assert info.codec == "h264" and (info.width, info.height) == (WIDTH, HEIGHT)

    assert len(info.chapters) == len(rendered.chapters) == len(CHAPTER_IDS)
    for (start, end, title), ch in zip(info.chapters, rendered.chapters):
        assert start == pytest.approx(ch.start, abs=0.002)
        assert end == pytest.approx(ch.start + ch.duration, abs=0.002)
        assert ch.title in title
    assert info.chapters[0][0] == 0
    assert info.chapters[-1][1] == pytest.approx(info.duration, abs=0.002)


def test_joined_mp4_streams_from_the_start(rendered):
    """+faststart: the index (moov) comes before the media data (mdat)."""
    boxes, data = [], rendered.lesson_files["mp4"].read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        boxes.append(data[pos + 4:pos + 8].decode("latin-1"))
        if size < 8:
            break
        pos += size
    assert boxes.index("moov") < boxes.index("mdat")


# -- the cache --------------------------------------------------------------------------------


def skip_if_sources_changed(rendered):
    from scenes.render import code_hash

    if code_hash() != rendered.code_hash:  # (someone edited mha_core/ or scenes/ while this ran)
        pytest.skip("the sources changed since the fixture rendered: a re-render is right, not a cache hit")


def test_unchanged_render_comes_from_the_cache(rendered, out):
    skip_if_sources_changed(rendered)
    from scenes.render.cache_folder import cache_location

    cache = cache_location(rendered.config.cache)  # outside the lesson folder
    entries = {ch.chapter_id: cache / ch.cache_key / "video.mp4" for ch in rendered.chapters}
    before = {cid: p.stat().st_mtime_ns for cid, p in entries.items()}
    again = render_lesson(tiny(out, formats=("mp4", "png")), jobs=2)
    assert all(ch.cached for ch in again.chapters)
    assert [ch.cache_key for ch in again.chapters] == [ch.cache_key for ch in rendered.chapters]
    assert {cid: p.stat().st_mtime_ns for cid, p in entries.items()} == before  # not rewritten
    assert again.lesson_hash == rendered.lesson_hash


def test_cache_hit_and_misses(tmp_path):
    """Same config: hit. Another sentence: miss. use_cache=False (--no-cache): rendered again."""
    def render(**overrides):  # a cache of the test's own: no other test's render is a hit
        config = {"cache": str(tmp_path / "cache"), **overrides.pop("config", {})}
        return render_lesson(quick(tmp_path / "lesson", **config), jobs=1,
                             chapters_module="test_render:QUICK", **overrides).chapters[0]

    first = render()
    same = render()
    other = render(config={"sentence": "Dogs bark at night."})
    forced = render(use_cache=False)
    assert not first.cached
    assert same.cached and same.cache_key == first.cache_key
    assert not other.cached and other.cache_key != first.cache_key
    assert not forced.cached
    # A breath, the beat's animation (1 s; its speech is shorter), the picture resting a moment.
    assert media.probe(other.files["mp4"]).duration == pytest.approx(other.duration)
    assert other.duration >= 1.0 + style.BEAT_PAUSE


def test_a_chapter_s_data_hash_follows_its_tensors():
    from scenes.lesson import build_lesson
    from scenes.lesson.build import chapter_data
    from scenes.render.keys import fingerprint

    def data(config):
        return fingerprint(chapter_data(build_lesson(config), "one-head"))

    base = LessonConfig(model="toy", specialization_model="toy")
    a = data(base)
    assert a == data(base)
    assert len({a, data(base.model_copy(update={"sentence": "Dogs bark at night."})),
                data(base.model_copy(update={"seed": 1}))}) == 3
    # The config itself is not hashed (its pixel-relevant fields are hashed separately).
    assert a == data(base.model_copy(update={"out": Path("elsewhere")}))


# -- failures leave nothing that looks finished -------------------------------------------------


@pytest.mark.parametrize("scenes, words", [("test_render:CRASH", "fails on purpose"),
                                           ("test_render:KILLED", "terminated abruptly")])
def test_failed_job_leaves_no_final_file(tmp_path, scenes, words):
    with pytest.raises(RenderError) as err:
        render_lesson(quick(tmp_path, formats=("mp4", "png")), jobs=1, chapters_module=scenes)
    message = str(err.value)
    assert "intro" in message and words in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # the folder was empty: a run that did not commit leaves nothing
    log = Path(message.rsplit("the full traceback is in ", 1)[1])  # outside the lesson folder
    assert "Traceback" in log.read_text() and not log.is_relative_to(tmp_path)
    log.unlink()


def test_atomic_path_keeps_nothing_on_failure(tmp_path):
    target = tmp_path / "video.mp4"
    with pytest.raises(OSError):
        with media.atomic_path(target) as tmp:
            tmp.write_bytes(b"half a video")
            raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


# -- the command line --------------------------------------------------------------------------


def run_cli(*args):
    from cli import main

    return CliRunner().invoke(main, ["render", *args])


def assert_one_sentence(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert errors[0].count(". ") == 0 and len(errors[0]) < 300  # one sentence


def test_cli_unknown_chapter(tmp_path):
    result = run_cli("intro", "attention-is-magic", "--out", str(tmp_path / "o"))
    assert_one_sentence(result)
    assert "attention-is-magic" in result.output and "one-head" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_unsupported_format(tmp_path):
    result = run_cli("--format", "avi", "--out", str(tmp_path / "o"))
    assert_one_sentence(result)
    assert "avi" in result.output and "webm" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_heads_must_divide_d_model(tmp_path):
    result = run_cli("--model", "toy", "--heads", "3", "--d-model", "16", "--out", str(tmp_path / "o"))
    assert_one_sentence(result)
    assert "heads" in result.output and "16" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_unwritable_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("intro", "--out", str(blocker / "media"))
    assert_one_sentence(result)
    assert "output folder" in result.output
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_cli_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_cli("intro", "--out", str(locked))
        assert_one_sentence(result)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_cli_render_from_cache_writes_the_lesson_folder(rendered, out):
    """Other formats into the same folder: a new folder, every chapter from the cache."""
    skip_if_sources_changed(rendered)
    result = run_cli("--pixel-height", str(HEIGHT), "--fps", str(FPS), "--format", "mp4", "--out", str(out),
                     "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "Nothing changed" not in result.output and result.output.count("cached") == len(CHAPTER_IDS)
    assert (out / "lesson.mp4").is_file() and (out / "index.html").is_file()
    assert not list((out / "chapters").glob("*.png"))  # the last run's png files went with it
    assert media.probe(out / "lesson.mp4").duration == pytest.approx(rendered.duration, abs=1 / FPS)


def test_cli_keeps_an_unchanged_folder_without_rendering(rendered, out):
    """The same command again finds the folder as it would write it: nothing is rewritten, and
    neither torch nor Manim is imported (the fast path of a new Python). A damaged file or
    another option means a real render again."""
    import subprocess
    import sys

    skip_if_sources_changed(rendered)
    args = ["--pixel-height", str(HEIGHT), "--fps", str(FPS), "--format", "mp4", "--format", "png",
            "--out", str(out), "--jobs", "2"]
    assert run_cli(*args).exit_code == 0  # the folder, with its manifest, as this code writes it
    folder = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*")
              if p.is_file() and OWN not in p.relative_to(out).parts}

    probe = ("import sys; from cli import main; main(sys.argv[1:], standalone_mode=False); "
             "print('imported:', *[m for m in ('torch', 'manim') if m in sys.modules])")
    again = subprocess.run([sys.executable, "-c", probe, "render", *args], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    assert again.returncode == 0, again.stderr
    assert "Nothing changed" in again.stderr
    assert again.stdout.strip() == "imported:"
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder} == folder

    captions = out / "captions.vtt"
    captions.write_text("WEBVTT\n")  # damaged by hand: the manifest's sha256 no longer matches
    repaired = run_cli(*args)
    assert repaired.exit_code == 0, repaired.output
    assert "Nothing changed" not in repaired.output and "cached" in repaired.output
    assert captions.read_bytes() == folder[captions][1]

    from scenes.render import unchanged_folder

    same = tiny(out, formats=("mp4", "png"))
    assert unchanged_folder(same) is not None
    for other in ({"theme": "light"}, {"chapters": ("intro",)}, {"formats": ("mp4",)}):
        assert unchanged_folder(tiny(out, **{"formats": ("mp4", "png"), **other})) is None, other


def test_fast_frame_encoder_writes_what_manim_writes(tmp_path):
    """The patched encoder (one reused RGBA frame; a held frame encoded once, shown as long) shows Manim's
    picture at every moment of Manim's own video (tests/test_held_frames.py has the rest)."""
    from fractions import Fraction

    import av
    from manim._config.video_encoder import VideoEncoderSpec
    from manim.scene import scene_file_writer
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    from scenes.render.fast_frames import install_fast_frames

    install_fast_frames()
    fast = scene_file_writer.VideoSegmentEncoder
    assert fast is not VideoSegmentEncoder and issubclass(fast, VideoSegmentEncoder)
    spec = VideoEncoderSpec("mp4", "libx264", "yuv420p", 64, 48, Fraction(5),
                            (("crf", "23"), ("preset", "veryfast"), ("threads", "1")))
    levels = (30, 120, 210)
    decoded = {}
    for cls in (VideoSegmentEncoder, fast):
        target = tmp_path / f"{cls.__name__}.mp4"
        encoder = cls(target=target, spec=spec)
        for i, level in enumerate(levels):
            encoder.write_frame(np.full((48, 64, 4), level, np.uint8), repeat=i + 1)  # 1, 2 and 3 copies: 6 frames
        encoder.finish()
        with av.open(str(target)) as container:
            decoded[cls] = [(round(float(f.time) * 5), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
        assert media.probe(target).duration == pytest.approx(6 / 5)
    assert [t for t, _ in decoded[VideoSegmentEncoder]] == [0, 1, 2, 3, 4, 5]
    assert [t for t, _ in decoded[fast]] == [0, 1, 3]  # each picture once, at the frame it starts
    shown = dict(decoded[fast])
    for t, pixels in decoded[VideoSegmentEncoder]:
        ours = shown[max(k for k in shown if k <= t)]
        assert np.abs(ours.astype(int) - pixels).max() <= 2, t
