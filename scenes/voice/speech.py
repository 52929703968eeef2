"""Speech for one beat: synthesised once per (text, voice, parameters) and kept in a cache folder.

Piper's default output changes from run to run (its noise scales draw random numbers); here
both are zero, and onnxruntime runs on one thread, so the same text gives the same samples
on the same machine. Piper's own per-sentence peak normalisation is off: loudness is measured
and set for the whole chapter by the production layer.

The cache folder is read as untrusted: an entry that is not a regular file (a link is not followed),
does not load, or holds anything but 1-D int16 samples at the voice's rate is made again. A beat's
synthesis has a time limit relative to its text (``time_limit``), so a voice that stalls ends the
render with one sentence instead of running for ever.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import subprocess
import time
import wave
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mha_core.files import FileError, write_file

from .engines import SAMPLE_RATES, Voice, VoiceError

SPEECH_KEEP = 600  # cached speech files kept (a default lesson speaks ~55 beats; least recently used go first)
_ENTRY = re.compile(r"[0-9a-f]{64}\.npz")  # a cache file is named by its key
SENTENCE_PAUSE = 0.25  # seconds of silence between the sentences of one beat, at pacing 1
ESPEAK_WORDS_PER_MINUTE = 165  # espeak-ng's rate at pacing 1 (its default, 175, rushes technical words)
MAX_ENTRY_BYTES = 64 << 20  # a cached beat: ~2.6 MB a minute at 22.05 kHz; anything larger is not ours


def time_limit(text: str, pacing: float = 1.0) -> float:
    """Seconds one beat's synthesis may take: 5 s and 1 s per 10 characters, times the pacing. Generous:
    joe speaks 200 characters in ~1.2 s on 2 cores, and a render runs several voices at once."""
    return (5.0 + len(text) / 10.0) * max(1.0, pacing)


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # float32 mono at ``rate``, as the engine made it
    rate: int
    sentences: tuple[float, ...]  # where each sentence's speech ends, seconds from the start

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


SILENCE = Speech(np.zeros(0, np.float32), 0, ())


class Narrator:
    """Speaks texts in one voice at one pacing; ``speak`` returns cached speech when it can.

    ``pacing`` lengthens the speech like everything else (Piper's length scale; espeak's rate).
    ``cache_dir`` None keeps nothing between processes.
    """

    def __init__(self, voice: Voice, cache_dir: Path | None = None, *, pacing: float = 1.0):
        self.voice = voice
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.pacing = pacing
        self._piper = None  # loaded on first use: an onnxruntime session takes ~0.3 s
        self._thread: ThreadPoolExecutor | None = None

    @property
    def speaks(self) -> bool:
        return self.voice.speaks

    def parameters(self) -> dict:
        """Everything besides the text that the samples depend on."""
        return {"voice": self.voice.identity, "pacing": self.pacing, "sentence_pause": SENTENCE_PAUSE,
                "noise_scale": 0.0, "noise_w_scale": 0.0, "espeak_wpm": ESPEAK_WORDS_PER_MINUTE}

    def key(self, text: str) -> str:
        return hashlib.sha256(json.dumps({"text": text, **self.parameters()}, sort_keys=True).encode()).hexdigest()

    def speak_soon(self, text: str) -> Future:
        """``speak(text)`` on the narrator's own thread: the scene draws the beat's animations meanwhile
        (onnxruntime lets go of the GIL), and asks for the speech when it needs its length."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="narrator")
        return self._thread.submit(self.speak, text)

    def speak(self, text: str) -> Speech:
        if not self.speaks or not text.strip():
            return SILENCE
        path = self.cache_dir / f"{self.key(text)}.npz" if self.cache_dir is not None else None
        if path is not None and (speech := self._cached(path)) is not None:
            return speech
        speech = self._piper_speech(text) if self.voice.kind == "piper" else self._espeak_speech(text)
        if path is not None:
            entry = io.BytesIO()
            np.savez(entry, samples=_int16(speech.samples), rate=speech.rate, sentences=np.array(speech.sentences))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_file(path, entry.getvalue())  # via a new temporary file; never over a link, folder or device
            except (OSError, FileError):
                pass  # not kept (a read-only or odd cache folder): the speech is still right
            # What the cache holds is what a later render reads: the int16 rounding, exactly.
            speech = Speech(_int16(speech.samples).astype(np.float32) / 32767.0, speech.rate, speech.sentences)
        return speech

    def _cached(self, path: Path) -> Speech | None:
        """The speech kept at ``path``, or None when it is absent or anything but what ``speak`` writes."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:  # absent, unreadable, or a symbolic link (ELOOP): never followed
            return None
        try:
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # a folder, FIFO or device with the name
                    return None
                data = f.read(MAX_ENTRY_BYTES + 1)
                if len(data) > MAX_ENTRY_BYTES:
                    return None
                with np.load(io.BytesIO(data), allow_pickle=False) as entry:
                    if sorted(entry.files) != ["rate", "samples", "sentences"]:
                        return None
                    samples, rate, sentences = entry["samples"], entry["rate"], entry["sentences"]
                if not (samples.dtype == np.int16 and samples.ndim == 1 and rate.ndim == 0
                        and rate.dtype.kind in "iu" and sentences.ndim == 1 and sentences.dtype.kind == "f"):
                    return None
                rate = int(rate)
                low, high = SAMPLE_RATES
                if not (low <= rate <= high and rate == (self.voice.rate or rate)):
                    return None
                ends = tuple(float(x) for x in sentences)
                if not all(0 <= end <= len(samples) / rate + 1e-6 for end in ends):
                    return None
                os.utime(f.fileno())  # recently used: kept by ``prune`` (the file itself, not a link)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, RecursionError,
                MemoryError):
            return None  # a damaged entry: make it again
        return Speech(samples.astype(np.float32) / 32767.0, rate, ends)

    # -- engines ---------------------------------------------------------------

    def _load_piper(self):
        if self._piper is None:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig

            options = onnxruntime.SessionOptions()
            # One thread: the same samples whatever the machine's load; render workers run in parallel instead.
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            config = json.loads(Path(str(self.voice.model) + ".json").read_text(encoding="utf-8"))
            session = onnxruntime.InferenceSession(str(self.voice.model), sess_options=options,
                                                   providers=["CPUExecutionProvider"])
            self._piper = PiperVoice(session=session, config=PiperConfig.from_dict(config))
        return self._piper

    def _piper_speech(self, text: str) -> Speech:
        from piper import SynthesisConfig

        voice = self._load_piper()
        settings = SynthesisConfig(length_scale=voice.config.length_scale * self.pacing, noise_scale=0.0,
                                   noise_w_scale=0.0, normalize_audio=False)
        rate = voice.config.sample_rate
        pause = np.zeros(int(round(SENTENCE_PAUSE * self.pacing * rate)), np.float32)
        pieces, ends, length = [], [], 0
        limit, start = time_limit(text, self.pacing), time.monotonic()
        for chunk in voice.synthesize(text, settings):  # one chunk per sentence: the time is checked between them
            if time.monotonic() - start > limit:
                raise VoiceError(f"the voice {self.voice.name} took over {limit:.0f} s to speak a beat of {len(text)} "
                                 "characters; check that the machine is not overloaded, or render with --voice none")
            if pieces:
                pieces.append(pause)
                length += len(pause)
            pieces.append(chunk.audio_float_array.astype(np.float32))
            length += len(pieces[-1])
            ends.append(length / rate)
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        return Speech(samples, rate, tuple(ends))

    def _espeak_speech(self, text: str) -> Speech:
        rate_wpm = str(round(ESPEAK_WORDS_PER_MINUTE / self.pacing))
        limit = time_limit(text, self.pacing)
        try:  # the voice is always en-us here: no voice name comes from a file or a flag
            wav = subprocess.run([str(self.voice.model), "--stdout", "-v", "en-us", "-s", rate_wpm, text],
                                 capture_output=True, check=True, timeout=limit).stdout
            with wave.open(io.BytesIO(wav)) as w:
                rate = w.getframerate()
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        except subprocess.TimeoutExpired:
            raise VoiceError(f"espeak-ng took over {limit:.0f} s to speak a beat of {len(text)} characters; check "
                             "that the machine is not overloaded, or render with --voice none") from None
        except (subprocess.CalledProcessError, OSError, wave.Error, EOFError) as err:
            said = err.stderr.decode(errors="replace").strip().splitlines()[:1] if getattr(err, "stderr", None) else []
            why = (said or [str(err) or type(err).__name__])[0].replace(". ", ", ")[:120]
            raise VoiceError(f"espeak-ng could not speak a beat of {len(text)} characters ({why}); reinstall "
                             "espeak-ng or render with --voice joe or none") from None
        if not SAMPLE_RATES[0] <= rate <= SAMPLE_RATES[1]:
            raise VoiceError(f"espeak-ng made speech at {rate} samples a second, outside {SAMPLE_RATES[0]} to "
                             f"{SAMPLE_RATES[1]}; reinstall espeak-ng or render with --voice joe or none")
        return Speech(samples, rate, (len(samples) / rate,))


def prune(cache_dir: Path, keep: int = SPEECH_KEEP) -> None:
    """Drop the least recently used speech files beyond ``keep``; only files named like cache entries go."""
    entries = []
    for path in Path(cache_dir).iterdir() if Path(cache_dir).is_dir() else ():
        if _ENTRY.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            entries.append((path.stat().st_mtime, path))
    entries.sort(reverse=True)
    for _, path in entries[keep:]:
        path.unlink(missing_ok=True)


def _int16(samples: np.ndarray) -> np.ndarray:
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
