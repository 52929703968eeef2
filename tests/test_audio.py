"""Narration audio: loudness normalisation, and muxing sound and captions into the lesson videos (synthetic signals)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from scenes.narration import Cue
from scenes.render import audio, media

RATE = audio.SAMPLE_RATE
FPS = 10
FRAME = 1 / FPS
CUES = [Cue(0.2, 0.9, "Queries meet keys & <values>"), Cue(1.1, 1.8, "Zweite Zeile: Aufmerksamkeit – ünïcode")]
CLICKS = (0.5, 1.25)  # seconds


def speechlike(seconds: float = 3.0, level: float = 0.1, transients: int = 4, seed: int = 0) -> np.ndarray:
    """Band-limited noise bursts (syllables) with pauses, plus a few one-sample clicks far above them."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n)
    t = 0
    while t < n:
        length = min(int(rng.uniform(0.1, 0.3) * RATE), n - t)
        x[t : t + length] = rng.standard_normal(length) * np.hanning(length)
        t += length + int(rng.uniform(0.05, 0.15) * RATE)
    x = sosfilt(butter(4, [150, 4000], "bandpass", fs=RATE, output="sos"), x)
    x *= level / np.abs(x).max()
    for k in rng.integers(0, n - 2, transients):
        x[k], x[k + 1] = 6 * level, -6 * level
    return x.astype(np.float32)


def make_clip(path: Path, seconds: float = 2.0, shade: int = 0) -> Path:
    """A tiny H.264 clip (64x36, 10 fps, B-frames as in real renders)."""
    with av.open(str(path), "w", options=media.MP4_OPTIONS) as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        for i in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(np.full((36, 64, 3), (shade + 9 * i) % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def clicks(seconds: float = 2.0) -> np.ndarray:
    x = np.zeros(round(seconds * RATE), np.float32)
    for t in CLICKS:
        x[round(t * RATE)] = 0.9
    return x


def tone(seconds: float, start: float = 0.0) -> np.ndarray:
    t = start + np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def decoded(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every decoded sample of the first audio track and its presentation time, on the video's clock."""
    times, values = [], []
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        origin = float((video.start_time or 0) * video.time_base)
        for frame in container.decode(audio=0):
            x = frame.to_ndarray().astype(np.float64).reshape(len(frame.layout.channels), -1).mean(axis=0)
            times.append(float(frame.time) - origin + np.arange(len(x)) / frame.sample_rate)
            values.append(x)
    return np.concatenate(times), np.concatenate(values)


def assert_clicks_on_time(path: Path) -> None:
    times, values = decoded(path)
    for t in CLICKS:
        near = np.abs(times - t) < 0.05
        found = times[near][np.argmax(np.abs(values[near]))]
        assert found == pytest.approx(t, abs=0.001), f"{path.name}: click at {t} s heard at {found:.4f} s"


def ffmpeg_captions(path: Path) -> list[Cue]:
    """The subtitle track as FFmpeg's own decoders (mov_text, webvtt) read it: a reader independent of media.py."""
    cues = []
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            for sub in stream.decode(packet) if packet.size else ():
                start = float(packet.pts * packet.time_base)
                cues.append(Cue(start, start + float(packet.duration * packet.time_base), sub.dialogue.decode()))
    return cues


def assert_captions(path: Path, expected) -> None:
    for got in (media.read_captions(path), ffmpeg_captions(path)):
        assert [c.text for c in got] == [c.text for c in expected]
        for g, e in zip(got, expected):
            assert g.start == pytest.approx(e.start, abs=0.002)
            assert g.end == pytest.approx(e.end, abs=0.002)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Two silent chapter clips in mp4 and webm."""
    d = tmp_path_factory.mktemp("clips")
    files = {}
    for i in (1, 2):
        files[f"mp4{i}"] = make_clip(d / f"clip{i}.mp4", shade=100 * i)
        media.convert(files[f"mp4{i}"], d / f"clip{i}.webm")
        files[f"webm{i}"] = d / f"clip{i}.webm"
    return files


# -- audio.py ----------------------------------------------------------------------------------------------------


def test_resample_gives_the_target_length():
    y = audio.resample(np.zeros(22050, np.float32), 22050)
    assert y.dtype == np.float32 and len(y) == 48000
    assert len(audio.resample(np.ones(22050, np.float32), 44100)) == 24000
    # A tone keeps its frequency: 1 kHz at 22050 Hz peaks in the 1 kHz bin at 48 kHz.
    x = np.sin(2 * np.pi * 1000 * np.arange(22050) / 22050).astype(np.float32)
    assert np.argmax(np.abs(np.fft.rfft(audio.resample(x, 22050)))) == 1000


@pytest.mark.parametrize("level, transients", [(0.3, 4), (0.003, 0)], ids=["peaky", "quiet"])
def test_normalize_reaches_the_loudness_under_the_peak_ceiling(level, transients):
    x = speechlike(level=level, transients=transients)
    before = audio.measure(x, RATE)
    y = audio.normalize(x, RATE)
    after = audio.measure(y, RATE)
    assert y.dtype == np.float32 and len(y) == len(x)
    assert after.lufs == pytest.approx(-16.0, abs=0.3)
    assert after.true_peak_dbtp <= -1.5 + 0.01
    if transients:  # the input's peaks were too high for a plain gain: the limiter had work to do
        assert before.true_peak_dbtp - before.lufs > 16.0 - 1.5 + 3


def test_normalize_is_deterministic_and_leaves_silence_alone():
    x = speechlike(seconds=2.0, level=0.2, seed=3)
    assert audio.normalize(x, RATE).tobytes() == audio.normalize(x.copy(), RATE).tobytes()
    silence = np.zeros(RATE, np.float32)
    assert np.array_equal(audio.normalize(silence, RATE), silence)


def test_short_signals_have_no_loudness_but_a_true_peak():
    blip = tone(0.2) / 0.3 * 0.5  # 0.2 s: shorter than one 400 ms gating block
    m = audio.measure(blip, RATE)
    assert m.lufs == -math.inf
    assert m.true_peak_dbtp == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert audio.measure(audio.normalize(blip * 2, RATE), RATE).true_peak_dbtp <= -1.5 + 0.01


def test_true_peak_sees_between_the_samples():
    # A sine at fs/4 sampled at 45 degrees: every sample is at 0.707 of the peak; the true peak is 3 dB higher.
    x = np.sin(2 * np.pi * np.arange(RATE) / 4 + np.pi / 4).astype(np.float32)
    assert audio.measure(x, RATE).true_peak_dbtp == pytest.approx(0.0, abs=0.2)  # the 4x filter's ripple at fs/4
    assert 20 * math.log10(np.abs(x).max()) == pytest.approx(-3.01, abs=0.01)


def test_wav_round_trip_and_fit(tmp_path):
    x = speechlike(seconds=0.5, level=0.5, transients=0)
    path = tmp_path / "voice.wav"
    audio.write_wav(path, x, RATE)
    y, rate = audio.read_wav(path)
    assert rate == RATE and y.dtype == np.float32 and len(y) == len(x)
    assert np.abs(y - x).max() <= 1 / 32767
    assert [p.name for p in tmp_path.iterdir()] == ["voice.wav"]  # no temporary file left behind
    assert len(audio.fit(x, 100)) == 100 and np.array_equal(audio.fit(x, 100), x[:100])
    padded = audio.fit(x, len(x) + 10)
    assert len(padded) == len(x) + 10 and not padded[-10:].any()


# -- media.py: mux, join, convert --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, codec, text", [("mp4", "aac", "mov_text"), ("webm", "opus", "webvtt")])
def test_mux_adds_audio_and_captions_in_step_with_the_video(clips, tmp_path, fmt, codec, text):
    target = tmp_path / f"chapter.{fmt}"
    media.mux(clips[f"{fmt}1"], target, audio=clicks(), captions=CUES)
    info = media.probe(target)
    assert (info.codec, info.frames, info.duration) == (media.probe(clips[f"{fmt}1"]).codec, 20, pytest.approx(2.0))
    assert info.audio is not None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == (codec, RATE, 1)
    assert info.audio.duration == pytest.approx(info.duration, abs=FRAME)
    assert info.subtitles == (text,)
    assert_captions(target, CUES)
    assert_clicks_on_time(target)  # encoder priming (AAC 1024, Opus 312 samples) does not shift the sound


def test_mux_fits_the_audio_to_the_video_and_is_reproducible(clips, tmp_path):
    long = np.concatenate([clicks(), tone(1.0)])  # 3 s of sound for 2 s of picture
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    media.mux(clips["mp41"], a, audio=long, captions=[Cue(1.5, 2.7, "runs past the end")])
    media.mux(clips["mp41"], b, audio=long, captions=[Cue(1.5, 2.7, "runs past the end")])
    assert a.read_bytes() == b.read_bytes()
    assert media.probe(a).audio.duration == pytest.approx(2.0, abs=FRAME)
    assert media.read_captions(a) == [Cue(1.5, 2.0, "runs past the end")]
    # Another sample rate (a Piper voice's) is resampled to 48 kHz.
    media.mux(clips["mp41"], b, audio=np.zeros(2 * 22050, np.float32), rate=22050)
    assert media.probe(b).audio.sample_rate == RATE


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_join_encodes_the_lesson_audio_once_without_gaps(clips, tmp_path, fmt):
    # The chapters carry their own (silent) sound and captions; the lesson's sound is one continuous tone.
    chapters = []
    for i in (1, 2):
        chapters.append(tmp_path / f"ch{i}.{fmt}")
        media.mux(clips[f"{fmt}{i}"], chapters[-1], audio=np.zeros(2 * RATE, np.float32), captions=CUES[i - 1 : i])
    marks = [media.ChapterMark(0, 2, "One"), media.ChapterMark(2, 4, "Two")]
    lesson_cues = [CUES[0], Cue(CUES[1].start + 2, CUES[1].end + 2, CUES[1].text)]
    target = tmp_path / f"lesson.{fmt}"
    assert media.join_videos(chapters, target, marks, audio=tone(4.0), captions=lesson_cues) == "remux"
    info = media.probe(target)
    assert info.duration == pytest.approx(4.0) and info.chapters == ((0, 2, "One"), (2, 4, "Two"))
    assert info.audio is not None and info.audio.duration == pytest.approx(info.duration, abs=FRAME)
    assert info.subtitles == (media.SUBTITLE_CODECS[fmt],)
    with av.open(str(target)) as c:
        assert len(c.streams.audio) == 1
    assert_captions(target, lesson_cues)
    times, values = decoded(target)
    inside = values[(times >= 0) & (times < info.duration)]
    assert len(inside) == pytest.approx(4.0 * RATE, abs=FRAME * RATE)
    rms = np.sqrt((inside[: len(inside) // 480 * 480].reshape(-1, 480) ** 2).mean(axis=1))  # 10 ms windows
    assert rms.min() > 0.15, f"a gap at {np.argmin(rms) * 0.01:.2f} s"  # the tone's RMS is 0.21


def test_join_is_reproducible(clips, tmp_path):
    a, b = tmp_path / "a.webm", tmp_path / "b.webm"
    for target in (a, b):
        media.join_videos([clips["webm1"], clips["webm2"]], target, audio=tone(4.0), captions=CUES)
    assert a.read_bytes() == b.read_bytes()


def test_convert_to_webm_keeps_audio_and_captions_and_gif_stays_silent(clips, tmp_path):
    marks = [media.ChapterMark(0, 1, "First"), media.ChapterMark(1, 2, "Second")]
    joined = tmp_path / "one.mp4"
    media.join_videos([clips["mp41"]], joined, marks)
    source = tmp_path / "narrated.mp4"
    media.mux(joined, source, audio=clicks(), captions=CUES)
    webm, again = tmp_path / "narrated.webm", tmp_path / "again.webm"
    media.convert(source, webm)
    media.convert(source, again)
    assert webm.read_bytes() == again.read_bytes()
    info = media.probe(webm)
    assert info.codec == "vp9" and info.chapters == ((0, 1, "First"), (1, 2, "Second"))
    assert info.audio is not None and (info.audio.codec, info.audio.sample_rate) == ("opus", RATE)
    assert info.audio.duration == pytest.approx(info.duration, abs=FRAME)
    assert info.subtitles == ("webvtt",)
    assert_captions(webm, CUES)
    assert_clicks_on_time(webm)
    gif = tmp_path / "narrated.gif"
    media.convert(source, gif)
    info = media.probe(gif)
    assert info.audio is None and info.subtitles == () and info.frames == 20
    media.join_videos([source, source], gif, audio=tone(4.0), captions=CUES)
    info = media.probe(gif)
    assert info.audio is None and info.subtitles == () and info.frames == 40


def test_mux_refuses_a_picture_it_cannot_copy(clips, tmp_path):
    with pytest.raises(ValueError):
        media.mux(clips["mp41"], tmp_path / "x.webm", audio=clicks())
    with pytest.raises(ValueError):
        media.mux(clips["mp41"], tmp_path / "x.mp4", audio=np.zeros((2, RATE), np.float32))
