"""Narration: the voice speaks every beat, the videos carry it at web loudness, captions follow the speech.

Most tests read the narrated two-chapter lesson that the export tests render (``render_small_lesson``:
the render cache makes the second use cheap) and measure its files as a player would decode them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import reads_runs

from scenes import style
from scenes.lesson.config import LessonConfig
from scenes.narration import LINE_CHARS, Beat, caption_pieces, split_sentences
from scenes.render import audio, media, render_lesson
from scenes.voice import Narrator, VoiceError, engines, resolve_voice


def _joe_installed() -> bool:
    """Whether ``auto`` speaks with joe: asked when a test is set up, not at import (it hashes the voice's files)."""
    return resolve_voice("auto").name == "joe"


piper_installed = pytest.mark.skipif("not _joe_installed()", reason="needs the joe voice ([voice] extra)")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):  # it renders video: every test that reads it is marked render
    from test_export import render_small_lesson

    return render_small_lesson(tmp_path_factory.getbasetemp())


def videos(result):
    """(name, path) of every video of the folder, joined lesson and chapters."""
    found = [(f"lesson.{fmt}", path) for fmt, path in result.lesson_files.items()]
    return found + [(path.name, path) for ch in result.chapters for path in ch.files.values()]


# -- the voice ------------------------------------------------------------------------------


@piper_installed
@pytest.mark.render
def test_the_lesson_is_spoken_by_joe(lesson):
    assert lesson.voice.name == "joe"
    assert all(ch.beats for ch in lesson.chapters)


@piper_installed
def test_same_text_gives_the_same_samples(tmp_path):
    """Piper's noise is off: two narrators, no cache between them, the same samples to the bit."""
    voice = resolve_voice("joe")
    text = "Divide by the square root of d k, so the scores do not grow with the width."
    first, second = Narrator(voice).speak(text), Narrator(voice).speak(text)
    assert first.seconds > 2 and np.array_equal(first.samples, second.samples)
    cached = Narrator(voice, tmp_path).speak(text)
    assert Narrator(voice, tmp_path).speak(text).samples.tobytes() == cached.samples.tobytes()
    track = [(0.5, first)]
    assert audio.narration_track(track, 6.0).tobytes() == audio.narration_track(track, 6.0).tobytes()


@piper_installed
def test_pacing_stretches_the_speech():
    voice, text = resolve_voice("joe"), "Each head has its own projections."
    normal, slow = Narrator(voice, pacing=1.0).speak(text), Narrator(voice, pacing=1.5).speak(text)
    # Piper's length scale stretches the phonemes; a sentence's edges stretch a little less.
    assert 1.3 <= slow.seconds / normal.seconds <= 1.6


def test_a_damaged_joe_voice_is_refused(monkeypatch):
    if resolve_voice("auto").name != "joe":
        pytest.skip("needs the joe voice")
    monkeypatch.setitem(engines.JOE_SHA256, "en_US-joe-medium.onnx", "0" * 64)
    for spec in ("joe", "auto"):  # auto does not fall back past a damaged voice: that would hide it
        with pytest.raises(VoiceError, match="does not match its published SHA-256"):
            resolve_voice(spec)


def test_none_is_silent():
    voice = resolve_voice("none")
    assert not voice.speaks and Narrator(voice).speak("Hello there.").seconds == 0


# -- sound in every video ------------------------------------------------------------------------


@piper_installed
@pytest.mark.render
def test_every_video_carries_the_narration_and_captions(lesson):
    for name, path in videos(lesson):
        info = media.probe(path)
        assert info.audio is not None, f"{name} has no sound"
        assert (info.audio.codec, info.audio.sample_rate) == (("aac" if path.suffix == ".mp4" else "opus"), 48000)
        assert abs(info.audio.duration - info.duration) <= 1 / lesson.fps + 0.002, name  # within one frame
        assert info.subtitles == (("mov_text",) if path.suffix == ".mp4" else ("webvtt",)), name
        assert media.read_captions(path), f"{name}: empty subtitle track"


@piper_installed
@pytest.mark.render
def test_loudness_is_web_video_loudness(lesson):
    """The whole lesson at -16 LUFS +- 1, true peak <= -1 dBTP, chapters within 1 LU of each other,
    measured (pyloudnorm, 4x true peak) on the decoded files as a player plays them."""
    for fmt, path in lesson.lesson_files.items():
        whole = audio.measure(media.decode_audio(path), audio.SAMPLE_RATE)
        assert -17 <= whole.lufs <= -15, f"lesson.{fmt}: {whole.lufs:.2f} LUFS"
        assert whole.true_peak_dbtp <= -1.0, f"lesson.{fmt}: {whole.true_peak_dbtp:.2f} dBTP"
    chapters = [audio.measure(media.decode_audio(ch.files["mp4"]), audio.SAMPLE_RATE) for ch in lesson.chapters]
    levels = [c.lufs for c in chapters]
    assert max(levels) - min(levels) <= 1.0, levels
    assert all(c.true_peak_dbtp <= -1.0 for c in chapters), chapters


@piper_installed
@pytest.mark.render
def test_speech_is_heard_inside_beats_and_silence_between(lesson):
    """The joined sound lines up with the beats: loud while a beat speaks, silent in the pauses."""
    sound = media.decode_audio(lesson.lesson_files["mp4"])
    beats = json.loads((lesson.out / "transcript.json").read_text("utf-8"))
    rate = audio.SAMPLE_RATE

    def rms(a: float, b: float) -> float:
        piece = sound[int(a * rate):int(b * rate)]
        return float(np.sqrt(np.mean(piece.astype(np.float64) ** 2))) if len(piece) else 0.0

    for beat in beats:
        assert rms(beat["start"], beat["end"]) > 0.03, beat["text"]
    gaps = [(a["end"] + 0.05, b["start"] - 0.05) for a, b in zip(beats, beats[1:]) if b["start"] - a["end"] > 0.2]
    assert gaps and all(rms(a, b) < 0.003 for a, b in gaps)


# -- beats and captions -----------------------------------------------------------------------


@piper_installed
@pytest.mark.render
def test_beats_never_overlap(lesson):
    pause = style.BEAT_PAUSE * lesson.config.pacing
    frame = 1 / lesson.fps  # waits last whole frames
    for ch in lesson.chapters:
        assert ch.beats[0].start >= pause - frame  # a breath first
        for a, b in zip(ch.beats, ch.beats[1:]):
            assert b.start >= a.end + pause - frame, (a.text, b.text)
        assert ch.beats[-1].end <= ch.duration
    starts = [b["start"] for b in json.loads((lesson.out / "transcript.json").read_text("utf-8"))]
    assert starts == sorted(starts)


@piper_installed
@pytest.mark.render
def test_every_caption_lies_inside_its_beats_speech(lesson):
    for ch in lesson.chapters:
        for cue in ch.cues:
            owner = [b for b in ch.beats if b.start - 0.002 <= cue.start and cue.end <= b.end + 0.002]
            assert len(owner) == 1, cue
            lines = cue.text.split("\n")
            assert len(lines) <= 2 and all(len(line) <= LINE_CHARS or " " not in line for line in lines), cue
        # Together the captions say every beat, word for word.
        said = " ".join(" ".join(b.text.split()) for b in ch.beats)
        assert " ".join(" ".join(c.text.split()) for c in ch.cues) == said


def test_new_words_on_screen_are_read_with_their_spaces():
    """A beat holds the picture until new on-screen words (three or more) have been skimmed: they are counted
    from each Text's words as written (Manim's Text.text drops the spaces, so nothing ever counted as words)."""
    from manim import Text, VGroup

    from scenes.base import _texts

    assert _texts([VGroup(Text("what copies lose"), Text("two words"), Text("0.81"))]) == {"what copies lose"}


def test_captions_split_at_sentences_and_share_them_by_length():
    beat = Beat(start=1.0, end=7.0, text="A first sentence here. And then a much longer second sentence follows it.",
                spoken="", sentences=(2.0, 6.0))
    cues = beat.cues()
    assert cues[0].start == 1.0 and cues[0].end == pytest.approx(3.0) and cues[-1].end == pytest.approx(7.0)
    assert [c.text.replace("\n", " ") for c in cues] == split_sentences(beat.text)


@pytest.mark.parametrize("sentence", [
    "Concatenation lays them side by side: each token's row becomes its head outputs, one after another.",
    "word " * 50, "Short.", "A supercalifragilisticexpialidociousandmoreandmorewithoutspacesatall word and more.",
])
def test_caption_lines_follow_the_broadcast_convention(sentence):
    pieces = caption_pieces(sentence)
    assert " ".join(p.replace("\n", " ") for p in pieces) == " ".join(sentence.split())
    for piece in pieces:
        lines = piece.split("\n")
        assert len(lines) <= 2 and all(len(line) <= LINE_CHARS or " " not in line for line in lines)
    if len(pieces) > 1 and all(len(word) <= LINE_CHARS for word in sentence.split()):
        assert all(piece.count("\n") == 1 for piece in pieces)  # no one-line scrap at the end


def test_caption_lines_break_at_phrase_boundaries():
    """Where a comma, colon or semicolon, or a word that opens a phrase, keeps the lines roughly balanced, the line
    breaks there; a line never ends on an article or preposition when another break fits."""
    from scenes.narration import NEEDS_THE_NEXT, OPENS_A_PHRASE

    pieces = caption_pieces("Softmax turns reach into weight, and sharpens it: head 4 gives cat 0.27; head 9 gives "
                            "was 0.69.")
    lines = [line for piece in pieces for line in piece.split("\n")]
    assert len(lines) == 4  # as many as before: phrase breaks do not cost lines
    assert all(line[-1] in ",;:" or nxt.split()[0] in OPENS_A_PHRASE for line, nxt in zip(lines, lines[1:])), lines
    for sentence in ("We follow the head of 72 that best links a pronoun to the word it refers to: 0.80 right on "
                     "held-out sentences; the rule first noun gets 0.43.",
                     "Block i reads only head i's part of it; each output sums all blocks of the matrix."):
        ends = [line.split()[-1] for piece in caption_pieces(sentence) for line in piece.split("\n")]
        assert not any(end.lower() in NEEDS_THE_NEXT for end in ends), ends


# -- silent lessons ----------------------------------------------------------------------------


@pytest.mark.render
def test_voice_none_renders_a_silent_lesson_with_captions(tmp_path):
    config = LessonConfig(chapters=("concat",), pixel_height=144, fps=5, voice="none", pacing=0.5,
                          formats=("mp4",), model="toy", specialization_model="toy", out=tmp_path / "silent")
    result = render_lesson(config, jobs=1)
    info = media.probe(result.lesson_files["mp4"])
    assert info.audio is None and info.subtitles == ("mov_text",)
    ch = result.chapters[0]
    assert ch.cues and all(b.end - b.start >= style.reading_time(b.text) * 0.5 - 0.01 for b in ch.beats)
    assert (result.out / "captions.vtt").read_text("utf-8").count("-->") == len(ch.cues)


# -- every spoken text can be said ---------------------------------------------------------------

@piper_installed
@pytest.mark.parametrize("overrides", [
    pytest.param({}, marks=reads_runs("default")),
    pytest.param({"sentence": "The scientist who reviewed the paper said it was flawed."}, marks=reads_runs("scientist")),
], ids=["default", "scientist"])
def test_every_beat_of_every_chapter_is_plain_speech(headless, overrides):
    """Piper reads no character of any beat by its code point ("letter 1D40"): each chapter is run
    (headless: the session's runs, whose narrator is silent whatever voice the config names, shared with the
    layout tests) for the default config and a longer sentence, and every spoken text is linted on its
    phonemes."""
    from piper import PiperVoice

    from scenes.lesson.chapters import CHAPTER_IDS
    from scenes.lesson.spoken import lint

    voice = PiperVoice.load(resolve_voice("joe").model)
    known = set(voice.config.phoneme_id_map)
    phonemize = lambda text: "".join("".join(s) for s in voice.phonemize(text))  # noqa: E731
    problems, count = [], 0
    for cid in CHAPTER_IDS:
        for beat in headless(overrides, "dark", cid).beats:
            count += 1
            problems += [f"{cid}: {beat.spoken!r}: {p}" for p in lint(beat.spoken, phonemize, known)]
    assert count >= 40 and not problems, "\n".join(problems)


def test_the_speech_cache_keeps_the_recently_used(tmp_path):
    import os

    from scenes.voice.speech import prune

    names = [f"{i:064x}.npz" for i in range(5)]
    for age, name in enumerate(names):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1000 - age, 1000 - age))  # names[0] the most recent
    (tmp_path / "notes.txt").write_bytes(b"mine")
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[:2], "notes.txt"])


@pytest.mark.render
def test_burned_captions_are_drawn_while_their_words_are_spoken(tmp_path):
    """--burn-captions draws each caption into the frames under its beat (a dark box, bottom centre)."""
    def bottom_centre(burn: bool):
        config = LessonConfig(chapters=("intro",), pixel_height=144, fps=10, theme="light", burn_captions=burn,
                              formats=("mp4",), model="toy", specialization_model="toy", out=tmp_path / f"burn-{burn}")
        ch = render_lesson(config, jobs=1, chapters_module="test_render:QUICK").chapters[0]
        frames = media.sample_frames(ch.files["mp4"], 12)
        times = np.linspace(0, ch.duration, len(frames))
        beat = ch.beats[0]
        during = [f for f, t in zip(frames, times) if beat.start + 0.1 < t < beat.end - 0.1]
        h, w = during[0].shape[:2]
        return [f[int(h * 0.8):, w // 3:2 * w // 3] for f in during]

    assert all((crop.max(axis=2) < 100).mean() > 0.05 for crop in bottom_centre(True))  # the caption box
    assert all((crop.max(axis=2) < 100).mean() < 0.01 for crop in bottom_centre(False))
