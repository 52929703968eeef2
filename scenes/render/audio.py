"""Narration audio as numpy arrays: a chapter's sound track, loudness (BS.1770-4), resampling, WAV files."""

from __future__ import annotations

import functools
import math
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# scipy.signal and pyloudnorm are imported where used: they take ~0.5 s to import, and every render
# process imports this module (through media) whether or not it touches audio.
SAMPLE_RATE = 48000
SILENCE_LUFS = -math.inf  # the loudness of a signal with nothing to measure (silent, or shorter than one block)
OVERSAMPLE = 4  # BS.1770-4 Annex 2: 4x oversampling for true peak at 48 kHz
BLOCK_SECONDS = 0.4  # BS.1770-4 gating block: the shortest signal with an integrated loudness
LOOKAHEAD_SECONDS = 0.0015  # limiter attack: the gain starts falling this long before a peak
RELEASE_DB_PER_SECOND = 120.0  # limiter release: 6 dB of gain reduction recovers in 50 ms
LIMITER_MARGIN_DB = 0.2  # the limiter aims this far below the ceiling: gain smoothing and float32 rounding
CHUNK = 1 << 18  # oversample long signals in pieces: 4x a lesson's audio in float64 would be gigabytes
OVERLAP = 64  # input samples each side of a chunk: more than resample_poly's filter reaches (10 at 4x)


@dataclass(frozen=True)
class Loudness:
    lufs: float  # integrated loudness, LUFS (-inf: silent or shorter than 0.4 s)
    true_peak_dbtp: float  # dBTP (-inf: silent)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` at ``rate_out`` (float32): polyphase filtering at the reduced ratio (22050 -> 48000: 320/147)."""
    samples = np.asarray(samples, dtype=np.float32)
    if rate_in == rate_out:
        return samples.copy()
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(samples.astype(np.float64), rate_out // g, rate_in // g).astype(np.float32)


def measure(samples: np.ndarray, rate: int) -> Loudness:
    """Integrated loudness (BS.1770-4, gated) and true peak (Annex 2, 4x oversampled) of a mono signal."""
    x = np.asarray(samples, dtype=np.float64)
    return Loudness(_integrated(x, rate), _to_db(float(_peaks(x).max(initial=0.0))))


def normalize(samples: np.ndarray, rate: int, *, lufs: float = -16.0, peak_dbtp: float = -1.5) -> np.ndarray:
    """``samples`` (mono) at integrated loudness ``lufs`` with true peaks at or below ``peak_dbtp`` (float32).

    A gain brings the loudness to ``lufs``; a look-ahead limiter then holds the
    peaks under the ceiling, and the gain is raised by what the limiter took until
    the loudness is within 0.05 LU (a few rounds). Speech with a few sharp peaks
    gets there; a signal with dense peaks far above its loudness (a click train)
    cannot get louder under the ceiling and comes out quieter than asked: check
    with ``measure``. A signal too short to measure (< 0.4 s) is only limited; a
    silent one is returned unchanged. Deterministic.
    """
    x = np.asarray(samples, dtype=np.float64)
    if not np.any(x):
        return np.asarray(samples, dtype=np.float32).copy()
    measured = _integrated(x, rate)
    peaks = _peaks(x)  # true peaks scale with the gain: measured once
    if not math.isfinite(measured):  # nothing to measure: keep the level, only hold the peaks
        return _limit(x, peaks, rate, peak_dbtp).astype(np.float32)
    gain_db, best, best_lufs = lufs - measured, x, -math.inf
    tried: tuple[float, float] | None = None  # the previous round's (gain, loudness)
    for _ in range(8):
        gain = 10 ** (gain_db / 20)
        y = _limit(x * gain, peaks * gain, rate, peak_dbtp)
        got = _integrated(y, rate)
        if abs(lufs - got) < abs(lufs - best_lufs):
            best, best_lufs = y, got
        if abs(lufs - got) < 0.05:
            break
        # Secant step: the limiter takes a share of every dB added, so loudness grows slower than the gain.
        slope = 1.0 if tried is None else (got - tried[1]) / (gain_db - tried[0])
        if slope < 0.1:  # more gain no longer makes it louder, only more limited: the ceiling wins
            break
        tried, gain_db = (gain_db, got), gain_db + (lufs - got) / min(slope, 1.0)
    return best.astype(np.float32)


# Web video's loudness: -16 LUFS integrated, true peak at most -1 dBTP once encoded. The limiter aims at
# -2 dBTP: AAC and Opus overshoot the track's peaks (the whole default lesson at -1.5 came out at -1.01).
LESSON_LUFS = -16.0
LESSON_PEAK_DBTP = -2.0


def narration_track(speech, duration: float) -> np.ndarray:
    """A chapter's sound at ``SAMPLE_RATE``, exactly ``duration`` long: each beat's speech where it was
    spoken (``speech``: (start seconds, ``scenes.voice.Speech``) pairs), silence between.

    Every beat is first brought to the same loudness (the voice's raw output varies by ~4 dB
    from beat to beat), then the whole track is normalised to ``LESSON_LUFS`` with its true
    peak under ``LESSON_PEAK_DBTP``: every chapter at the same loudness, so the joined lesson is too.
    """
    track = np.zeros(round(duration * SAMPLE_RATE), np.float32)
    for start, said in speech:
        samples = resample(said.samples, said.rate)
        level = _integrated(samples.astype(np.float64), SAMPLE_RATE)
        if math.isfinite(level):
            samples = samples * np.float32(10 ** ((LESSON_LUFS - level) / 20))
        at = round(start * SAMPLE_RATE)
        piece = samples[: max(0, len(track) - at)]
        track[at : at + len(piece)] += piece
    return normalize(track, SAMPLE_RATE, lufs=LESSON_LUFS, peak_dbtp=LESSON_PEAK_DBTP)


def join_tracks(paths, durations) -> np.ndarray:
    """The chapters' sound files (``narration_track``s written with ``write_wav``) end to end, each fitted
    to its chapter's video duration, sample-exact: one track for the joined lesson, nothing drifts."""
    return np.concatenate([fit(read_wav(path)[0], round(seconds * SAMPLE_RATE))
                           for path, seconds in zip(paths, durations)])


def fit(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` padded with silence or cut to exactly ``length`` samples."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) >= length:
        return samples[:length].copy()
    return np.concatenate([samples, np.zeros(length - len(samples), dtype=np.float32)])


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write mono ``samples`` (floats in [-1, 1]) as a 16-bit PCM WAV, atomically."""
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767).astype("<i2")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".part.wav", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A PCM WAV file as mono float32 samples in [-1, 1] (channels averaged) and its sample rate."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif width == 3:  # 24-bit: widen each sample to 32 bits (little-endian, sign in the top byte)
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        x = (b[:, 0].astype(np.int32) << 8 | b[:, 1].astype(np.int32) << 16 | b[:, 2].astype(np.int32) << 24) / 2.0**31
    elif width in (2, 4):
        x = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float64) / 2.0 ** (8 * width - 1)
    else:
        raise ValueError(f"{path}: unsupported WAV sample width {width}")
    return x.reshape(-1, channels).mean(axis=1).astype(np.float32), rate


def _integrated(x: np.ndarray, rate: int) -> float:
    """Gated integrated loudness in LUFS; -inf when there is nothing to measure."""
    if len(x) < BLOCK_SECONDS * rate or not np.any(x):
        return SILENCE_LUFS
    import pyloudnorm

    value = float(pyloudnorm.Meter(rate).integrated_loudness(x))
    return value if math.isfinite(value) else SILENCE_LUFS  # all blocks gated out: pyloudnorm gives nan


def _to_db(amplitude: float) -> float:
    return 20 * math.log10(amplitude) if amplitude > 0 else -math.inf


def _peaks(x: np.ndarray) -> np.ndarray:
    """Per input sample, the largest magnitude of the 4x-oversampled signal from it to the next sample."""
    from scipy.signal import resample_poly

    out = np.empty(len(x))
    for start in range(0, len(x), CHUNK):
        lo, hi = max(0, start - OVERLAP), min(len(x), start + CHUNK + OVERLAP)
        up = np.abs(resample_poly(x[lo:hi], OVERSAMPLE, 1))
        # Output sample OVERSAMPLE * i lines up with input sample i (resample_poly removes the filter delay).
        per_sample = functools.reduce(np.maximum, (up[k::OVERSAMPLE] for k in range(OVERSAMPLE)))
        end = min(len(x), start + CHUNK)
        out[start:end] = np.maximum(per_sample[start - lo : end - lo], np.abs(x[start:end]))
    return out


def _limit(x: np.ndarray, peaks: np.ndarray, rate: int, peak_dbtp: float) -> np.ndarray:
    """``x`` (true peaks ``peaks``, from ``_peaks``) with a smooth gain that keeps its true peak at or below
    ``peak_dbtp`` (look-ahead, no overshoot).

    The gain each sample needs, in dB, is spread over the look-ahead window by a
    sliding minimum; the release then climbs back at a fixed rate (never above
    what is needed), and a moving average of the window's width rounds the
    corners. Every value averaged at a sample is at most that sample's need, so
    smoothing never lets a peak through. If the smoothed gain still leaves a peak
    above the ceiling (the gain curve itself changes the in-between samples), the
    ceiling is lowered by the excess and the pass repeated.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    half = max(1, round(LOOKAHEAD_SECONDS * rate / 2))
    release = RELEASE_DB_PER_SECOND / rate
    ramp = np.arange(len(x)) * release
    ceiling = peak_dbtp - LIMITER_MARGIN_DB
    y = x
    for _ in range(4):
        with np.errstate(divide="ignore"):
            need = np.minimum(0.0, ceiling - 20 * np.log10(peaks))  # dB; silence needs nothing (-(-inf))
        if need.min() >= 0:
            return x.copy()
        held = minimum_filter1d(need, size=2 * half + 1, mode="nearest")
        released = np.minimum(0.0, ramp + np.minimum.accumulate(held - ramp))
        gain = uniform_filter1d(released, size=2 * half + 1, mode="nearest")
        y = x * 10 ** (gain / 20)
        over = _to_db(float(_peaks(y.astype(np.float32).astype(np.float64)).max())) - (peak_dbtp - 0.01)
        if over <= 0:
            return y
        ceiling -= over + 0.05
    return y * 10 ** (-(over + 0.05) / 20)  # still over after the retries (never seen): a plain gain settles it
