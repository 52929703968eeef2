"""Held frames (issue 23): a frame Manim holds (``self.wait()``, ``write_frame(repeat=n)``) is encoded once and
shown for n frames (``scenes.render.fast_frames``), and everything downstream keeps each frame's time: probed
durations, the narration's sync, captions, the joined lesson, webm and gif, the same bytes every time.

The segment tests encode tiny synthetic videos (no Manim scene); the last tests render a stand-in chapter
(``render``, 256x144 at 5 fps; the workers import it from here: ``chapters_module="test_held_frames:HELD"``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from manim import LEFT, RIGHT, Dot, Square

from scenes.base import LessonScene
from scenes.lesson.config import LessonConfig
from scenes.lesson.script import parse_script
from scenes.narration import Cue
from scenes.render import audio, media, render_lesson

FPS = 10
WIDTH, HEIGHT = 64, 48
# (grey level, frames shown): starts and ends with a hold, as a chapter does (a breath before its first beat, the
# last beat's speech); 20 frames, 2 s, 6 of them coded.
PATTERN = [(0, 8), (60, 1), (120, 1), (180, 6), (240, 1), (30, 3)]
SECONDS = sum(n for _, n in PATTERN) / FPS
STARTS = [sum(n for _, n in PATTERN[:i]) / FPS for i in range(len(PATTERN))]  # when each coded frame is shown
CLICKS = (0.35, 1.45)  # seconds: one inside the first hold, one inside the second
CUES = [Cue(0.1, 0.7, "held"), Cue(1.0, 1.9, "held again")]


def encoder_class():
    from manim.scene import scene_file_writer

    from scenes.render.fast_frames import install_fast_frames

    install_fast_frames()
    return scene_file_writer.VideoSegmentEncoder


def spec(width: int = WIDTH, height: int = HEIGHT):
    from manim._config.video_encoder import VideoEncoderSpec

    return VideoEncoderSpec("mp4", "libx264", "yuv420p", width, height, Fraction(FPS),
                            (("crf", "23"), ("preset", "veryfast"), ("threads", "1")))


def grey(level: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    pixels = np.full((height, width, 4), 255, np.uint8)
    pixels[..., :3] = level
    return pixels


def held_segment(path: Path, pattern=PATTERN, *, encoder=None, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """A segment as Manim's file writer makes it: each frame given once, with how many frames it is held."""
    encoder = (encoder or encoder_class())(target=path, spec=spec(width, height))
    for level, repeat in pattern:
        encoder.write_frame(grey(level, width, height), repeat=repeat)
    encoder.finish()
    return path


def shown(path: Path) -> list[tuple[float, int]]:
    """(start in seconds, grey level) of every decoded frame."""
    with av.open(str(path)) as container:
        return [(round(float(f.time), 4), int(round(f.to_ndarray(format="rgb24").mean())))
                for f in container.decode(video=0)]


def assert_held(path: Path, offset: float = 0.0, pattern=PATTERN) -> None:
    """Each picture of ``pattern`` is one decoded frame, starting when it should (and, but in a GIF, the right
    picture: GIF's palette has no room for every grey of this synthetic video, with or without holds)."""
    starts = [offset + sum(n for _, n in pattern[:i]) / FPS for i in range(len(pattern))]
    frames = shown(path)
    assert [t for t, _ in frames] == pytest.approx(starts, abs=1e-3), path.name
    if path.suffix != ".gif":
        assert all(abs(level - want) <= 3 for (_, level), (want, _) in zip(frames, pattern)), (path.name, frames)


def clicks() -> np.ndarray:
    x = np.zeros(round(SECONDS * audio.SAMPLE_RATE), np.float32)
    for t in CLICKS:
        x[round(t * audio.SAMPLE_RATE)] = 0.9
    return x


def assert_clicks_on_time(path: Path, offset: float = 0.0) -> None:
    """The narration is where it was put on the video's clock (a hold does not shift it)."""
    times, values = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            x = frame.to_ndarray().astype(np.float64).reshape(len(frame.layout.channels), -1).mean(axis=0)
            times.append(float(frame.time) + np.arange(len(x)) / frame.sample_rate)
            values.append(x)
    times, values = np.concatenate(times), np.concatenate(values)
    for t in CLICKS:
        near = np.abs(times - (t + offset)) < 0.05
        found = times[near][np.argmax(np.abs(values[near]))]
        assert found == pytest.approx(t + offset, abs=0.001), f"{path.name}: click at {t + offset} s heard at {found}"


# -- the encoder ------------------------------------------------------------------------------


def test_a_held_frame_is_coded_once_and_shown_for_its_frames(tmp_path):
    path = held_segment(tmp_path / "held.mp4")
    info = media.probe(path)
    assert (info.codec, info.fps, info.frames) == ("h264", FPS, len(PATTERN))  # one coded frame per picture
    assert info.duration == pytest.approx(SECONDS, abs=1e-9)
    assert_held(path)
    timing = media.video_timing(path)
    assert sorted(timing.shown().values()) == sorted(n * timing.tick for _, n in PATTERN)


def test_held_frames_look_as_manim_s_own_repeats(tmp_path):
    """Manim's encoder writes every repeat; the picture at every moment is the same."""
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    ours = held_segment(tmp_path / "ours.mp4")
    manims = held_segment(tmp_path / "manims.mp4", encoder=VideoSegmentEncoder)
    assert media.probe(manims).frames == SECONDS * FPS
    assert media.probe(manims).duration == pytest.approx(media.probe(ours).duration, abs=1e-9)
    at = lambda frames, t: next(level for start, level in reversed(frames) if start <= t + 1e-6)  # noqa: E731
    theirs, mine = shown(manims), shown(ours)
    for i in range(int(SECONDS * FPS)):
        assert abs(at(theirs, i / FPS) - at(mine, i / FPS)) <= 3, i / FPS


def test_a_long_hold_costs_one_coded_frame(tmp_path):
    """Five minutes held: one packet, not 3000."""
    path = tmp_path / "long.mp4"
    held_segment(path, [(90, 3000)])
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert len(packets) == 1
    assert media.probe(path).duration == pytest.approx(300.0, abs=1e-9)


def test_held_frames_give_the_same_bytes(tmp_path):
    a, b = held_segment(tmp_path / "a.mp4"), held_segment(tmp_path / "b.mp4")
    assert a.read_bytes() == b.read_bytes()


# -- downstream: sound, captions, joins, conversions -------------------------------------------------------


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> Path:
    """A chapter master made from a held segment: picture copied, narration (clicks) and captions added."""
    folder = tmp_path_factory.mktemp("held")
    target = folder / "master.mp4"
    media.mux(held_segment(folder / "segment.mp4"), target, audio=clicks(), captions=CUES)
    return target


def test_mux_keeps_the_holds_the_sound_and_the_captions_in_step(master):
    info = media.probe(master)
    assert info.duration == pytest.approx(SECONDS, abs=1e-9) and info.frames == len(PATTERN)
    assert info.audio is not None and info.audio.duration == pytest.approx(SECONDS, abs=1 / FPS)
    assert_held(master)
    assert_clicks_on_time(master)
    assert media.read_captions(master) == CUES


@pytest.mark.parametrize("fmt", ["webm", "gif"])
def test_conversions_keep_each_frame_s_time(master, tmp_path, fmt):
    target = tmp_path / f"chapter.{fmt}"
    media.convert(master, target)
    info = media.probe(target)
    assert info.duration == pytest.approx(SECONDS, abs=1e-9)
    assert info.frames == len(PATTERN)  # a held frame stays one frame (a GIF frame with a long delay)
    assert_held(target)
    if fmt == "webm":
        assert info.audio is not None and info.audio.duration == pytest.approx(SECONDS, abs=1 / FPS)
        assert_clicks_on_time(target)
        assert media.read_captions(target) == CUES
    again = tmp_path / f"again.{fmt}"
    media.convert(master, again)
    assert again.read_bytes() == target.read_bytes()


def test_joined_lesson_keeps_the_holds_in_step(master, tmp_path):
    """Two chapters that start and end with holds: packets copied, times one after the other, the lesson's
    sound and captions on the joined clock, the same bytes again."""
    marks = [media.ChapterMark(0, SECONDS, "One"), media.ChapterMark(SECONDS, 2 * SECONDS, "Two")]
    cues = [*CUES, *(Cue(c.start + SECONDS, c.end + SECONDS, c.text) for c in CUES)]
    sound = np.concatenate([clicks(), clicks()])
    lesson, again = tmp_path / "lesson.mp4", tmp_path / "again.mp4"
    for target in (lesson, again):
        assert media.join_videos([master, master], target, marks, audio=sound, captions=cues) == "remux"
    assert lesson.read_bytes() == again.read_bytes()
    info = media.probe(lesson)
    assert info.duration == pytest.approx(2 * SECONDS, abs=1e-9) and info.frames == 2 * len(PATTERN)
    assert info.chapters == ((0, SECONDS, "One"), (SECONDS, 2 * SECONDS, "Two"))
    assert info.audio.duration == pytest.approx(2 * SECONDS, abs=1 / FPS)
    assert_held(lesson, pattern=PATTERN + PATTERN)
    assert_clicks_on_time(lesson)
    assert_clicks_on_time(lesson, offset=SECONDS)
    assert media.read_captions(lesson) == cues
    with av.open(str(lesson)) as container:  # decode times: increasing, never after the frame's own time
        packets = [p for p in container.demux(video=0) if p.size]
    assert all(a.dts < b.dts for a, b in zip(packets, packets[1:]))
    assert all(p.dts <= p.pts for p in packets)


def test_webm_and_gif_lessons_keep_the_holds(master, tmp_path):
    webm = tmp_path / "chapter.webm"
    media.convert(master, webm)
    for fmt, sources in (("webm", [webm, webm]), ("gif", [master, master])):
        target = tmp_path / f"lesson.{fmt}"
        media.join_videos(sources, target)
        assert media.probe(target).duration == pytest.approx(2 * SECONDS, abs=1e-9), fmt
        assert_held(target, pattern=PATTERN + PATTERN)


def test_a_re_encoded_join_keeps_the_holds(master, tmp_path):
    """Streams that cannot be copied together (another size) are decoded and encoded again, each frame once."""
    small = tmp_path / "small-master.mp4"
    media.mux(held_segment(tmp_path / "small.mp4", width=32, height=24), small)
    target = tmp_path / "lesson.mp4"
    assert media.join_videos([master, small], target) == "re-encode"
    info = media.probe(target)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.duration == pytest.approx(2 * SECONDS, abs=1e-9) and info.frames == 2 * len(PATTERN)
    assert_held(target, pattern=PATTERN + PATTERN)


def test_sample_frames_spreads_over_time_not_over_coded_frames(master):
    """Frames are picked at even moments from the first frame to the last: the first hold fills 40% of the
    video, so it is seen in 2 of 5."""
    levels = [int(round(f.mean())) for f in media.sample_frames(master, 5)]  # at 0, 0.425, 0.85, 1.275, 1.7 s
    expected = [0, 0, 60, 180, 30]
    assert all(abs(a - b) <= 3 for a, b in zip(levels, expected, strict=True)), levels


# -- a rendered chapter --------------------------------------------------------------------------------------


class HeldScene(LessonScene):
    """A dot, a hold, a square, two holds to end (the last frames decoded are held: the track must still end
    where the last hold does)."""

    chapter_id, title, summary = "intro", "Holds", "Still pictures between moves."
    script = parse_script("intro", '[beats]\nhold = "A dot waits."\n'.encode(), "a stand-in script")

    def construct(self):
        dot = Dot(color=self.theme.text).shift(LEFT * 2)
        with self.beat("hold"):
            self.play(dot.animate.shift(RIGHT), run_time=0.6)
        self.wait(2)
        self.play(dot.animate.shift(RIGHT), Square(color=self.theme.text).animate.shift(LEFT), run_time=0.4)
        self.wait(3)
        self.wait(1)


HELD = {"intro": HeldScene}


def quick(out: Path) -> LessonConfig:
    return LessonConfig(pixel_height=144, fps=5, out=out, chapters=("intro",), model="toy",
                        specialization_model="toy", formats=("mp4", "webm", "gif"))


@pytest.mark.render
def test_a_rendered_chapter_codes_its_holds_once_and_renders_the_same_bytes(tmp_path):
    first = render_lesson(quick(tmp_path / "a"), jobs=1, chapters_module="test_held_frames:HELD")
    second = render_lesson(quick(tmp_path / "b"), jobs=1, use_cache=False, chapters_module="test_held_frames:HELD")
    ch = first.chapters[0]
    info = media.probe(ch.files["mp4"])
    assert info.fps == 5 and info.duration == pytest.approx(ch.duration, abs=1e-6)
    assert info.frames < round(ch.duration * 5) - 25  # 6 s of holds: 30 frames shown, coded 2 or 3 times
    for fmt in ("webm", "gif"):
        assert media.probe(ch.files[fmt]).duration == pytest.approx(ch.duration, abs=1e-6), fmt
        assert media.probe(first.lesson_files[fmt]).duration == pytest.approx(ch.duration, abs=1e-6), fmt
    lesson = media.probe(first.lesson_files["mp4"])
    assert lesson.duration == pytest.approx(ch.duration, abs=1e-6)
    if lesson.audio is not None:  # (a voice is installed)
        assert lesson.audio.duration == pytest.approx(ch.duration, abs=0.2)
    # The last four seconds (``self.wait(3)``, ``self.wait(1)``) are two coded frames, the last shown to the end.
    assert [t for t, _ in shown(first.lesson_files["mp4"])[-2:]] == pytest.approx([ch.duration - 4, ch.duration - 1],
                                                                                  abs=1e-3)
    # Rendered again from nothing: the same bytes.
    again = second.chapters[0]
    for fmt in ("mp4", "webm", "gif"):
        assert ch.files[fmt].read_bytes() == again.files[fmt].read_bytes(), fmt
        assert first.lesson_files[fmt].read_bytes() == second.lesson_files[fmt].read_bytes(), fmt
