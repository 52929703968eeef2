"""Video files with PyAV: inspect, join with chapter marks, convert, add narration audio and captions, grab frames.

Everything here writes to a temporary name next to the target and moves it into
place with ``os.replace``, so an interrupted write never leaves a file that looks
finished. Outputs are bit-exact: the same inputs give the same bytes.
"""

from __future__ import annotations

import heapq
import html
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..narration import Cue
from .audio import SAMPLE_RATE, fit, resample

# Encoder settings for files we encode ourselves (conversions, re-encoded joins).
# VP9: constant quality, row multithreading and a fast preset (libvpx's default is very slow).
ENCODERS = {
    "mp4": ("libx264", "yuv420p", {"crf": "23", "preset": "veryfast"}),
    "webm": ("libvpx-vp9", "yuv420p", {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"}),
}
# Narration: AAC-LC in mp4 (every player), Opus in webm; (encoder, sample format, bit rate), mono 48 kHz.
AUDIO_ENCODERS = {"mp4": ("aac", "fltp", 128_000), "webm": ("libopus", "flt", 64_000)}
# FFmpeg's AAC "fast" coder: 3x quicker than the default two-loop search, as clean for speech (measured
# on the lesson's 343 s: 4.1 s -> 1.3 s, true peak after decoding -1.0 -> -1.4 dBTP).
AUDIO_OPTIONS = {"mp4": {"aac_coder": "fast"}, "webm": {}}
# Soft captions: 3GPP timed text in mp4, WebVTT in webm.
SUBTITLE_CODECS = {"mp4": "mov_text", "webm": "webvtt"}
# Web streaming: the index (moov atom) goes before the media data.
MP4_OPTIONS = {"movflags": "+faststart"}
# No random track/segment ids (Matroska) and no library-version tags: same inputs, same bytes.
BITEXACT = {"fflags": "+bitexact"}
MS = Fraction(1, 1000)
# The subtitle encoders read their default style from an ASS header (mov_text turns it into the track's
# sample description): white sans text on a half-transparent black box, bottom centre.
_STYLE_FIELDS = ("Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
                 "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
                 "MarginL, MarginR, MarginV, Encoding")
ASS_HEADER = "\n".join([
    "[Script Info]", "ScriptType: v4.00+", "PlayResX: 384", "PlayResY: 288", "",
    "[V4+ Styles]", f"Format: {_STYLE_FIELDS}",
    "Style: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H80000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1", "",
    "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text", "",
]).encode()


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds: from the start of the presentation (0) to the end of the last packet


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    codec: str
    width: int
    height: int
    fps: Fraction
    frames: int  # coded frames: a held frame is one frame, however long it is shown (see ``fast_frames``)
    duration: float  # seconds the video is shown: from its first frame's start to its last frame's end
    chapters: tuple[tuple[float, float, str], ...]  # (start, end, title) in seconds
    audio: AudioInfo | None = None  # the first audio stream
    subtitles: tuple[str, ...] = ()  # codec names of the subtitle streams, e.g. ("mov_text",)


@dataclass(frozen=True)
class ChapterMark:
    start: float
    end: float
    title: str


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it onto ``target`` only on success."""
    target = Path(target)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.part{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def probe(path: Path) -> VideoInfo:
    """Resolution, frame rate, frame count, duration, chapter marks, audio and subtitle streams of a video file.

    The frame rate is the nominal one (the rate the frames' times are counted in); a frame may be shown for
    several of its ticks (a held frame, ``fast_frames``), so the duration is measured from the timestamps,
    not taken as frames / fps.
    """
    timing = video_timing(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        marks = tuple(
            (float(c["start"] * c["time_base"]), float(c["end"] * c["time_base"]), c["metadata"].get("title", ""))
            for c in container.chapters()
        )
        audio = _audio_info(path) if container.streams.audio else None
        subtitles = tuple(s.codec_context.name for s in container.streams.subtitles)
        return VideoInfo(Path(path), stream.codec_context.name, stream.codec_context.width,
                         stream.codec_context.height, timing.fps, stream.frames or len(timing.pts),
                         float(timing.seconds), marks, audio, subtitles)


@dataclass(frozen=True)
class VideoTiming:
    """When a video stream's frames are shown, from their timestamps (ticks of ``time_base``)."""

    time_base: Fraction
    fps: Fraction  # the nominal frame rate: every frame starts on its grid (0 if unknown)
    pts: tuple[int, ...]  # each frame's presentation time, in decode (file) order
    end: int  # when the last frame stops being shown
    reorder: int  # how many frames at most a frame is decoded ahead of one shown before it (B-frames)

    @property
    def start(self) -> int:
        return min(self.pts, default=self.end)

    @property
    def seconds(self) -> Fraction:
        return (self.end - self.start) * self.time_base

    def shown(self) -> dict[int, int]:
        """pts -> how long that frame is shown (ticks): until the next frame, the last until ``end``."""
        times = sorted(self.pts)
        return {t: following - t for t, following in zip(times, [*times[1:], self.end])}

    @property
    def tick(self) -> int:
        """One frame at the nominal rate, in ticks (at least 1)."""
        return max(1, int(1 / (self.fps * self.time_base))) if self.fps else 1


def video_timing(path: Path) -> VideoTiming:
    """The presentation times of ``path``'s video frames (its first video stream), read from the packets.

    The end is where players end the picture: in mp4 the track's presentation length (its edit list,
    which the muxer sets from each packet's pts + duration); elsewhere (webm, gif) the latest pts +
    duration of a packet. An mp4 packet's own duration is its *decode* step (with B-frames, another
    frame's), so a frame's display time is measured to the next frame's pts instead (``shown``).
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base)
        cc = stream.codec_context
        # The nominal rate: H.264 carries it in its headers; average_rate is measured from the timestamps
        # (of a video with held frames: lower) and can be off by a tick (30.0008).
        fps = Fraction(cc.framerate or stream.base_rate or stream.guessed_rate or stream.average_rate or 0)
        pts, last, reorder, recent = [], None, 0, []
        for packet in container.demux(stream):
            if packet.dts is None and packet.pts is None or not packet.size:  # demux's flush packet
                continue
            t = packet.pts if packet.pts is not None else packet.dts
            pts.append(t)
            end = t + (packet.duration or 0)
            last = end if last is None else max(last, end)
            reorder = max(reorder, sum(1 for r in recent if r > t))
            recent = [*recent[-15:], t]  # H.264 reorders at most 16 frames
        if "mp4" in container.format.name.split(",") or "mov" in container.format.name.split(","):
            if stream.duration:
                last = (stream.start_time or 0) + stream.duration
        if pts and last is not None and last <= max(pts):  # no duration on the last packet: one frame
            last = max(pts) + (max(1, round(1 / (fps * tb))) if fps else 1)
        return VideoTiming(tb, fps, tuple(pts), last if last is not None else 0, reorder)


def _audio_info(path: Path) -> AudioInfo:
    """The file's first audio stream, its duration taken from the packets' timestamps."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        # In the stream's ticks: a lesson has tens of thousands of packets, and Fractions per packet cost
        # half a second of an unchanged render.
        end_ticks = 0
        for packet in container.demux(stream):
            if packet.pts is not None:
                end_ticks = max(end_ticks, packet.pts + (packet.duration or 0))
        end = end_ticks * Fraction(stream.time_base)
        # Players start at 0: the encoder's priming before it (AAC, Opus) is cut by the edit list / codec delay.
        start = max(0, stream.start_time or 0) * stream.time_base
        cc = stream.codec_context
        return AudioInfo(cc.name, cc.sample_rate, cc.channels, max(0.0, float(end - start)))


def sample_frames(path: Path, count: int = 5) -> list[np.ndarray]:
    """``count`` RGB frames spread evenly over the video's time (the first and last frames included): what it
    shows at ``count`` moments from its start to its last frame's start (a frame held long is picked as often
    as it is seen)."""
    with av.open(str(path)) as container:
        decoded = [(f.pts or 0, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    if not decoded:
        return []
    times = np.array([t for t, _ in decoded])
    moments = np.linspace(times[0], times[-1], num=count)
    picks = np.searchsorted(times, moments + 1e-9 * max(1, abs(times[-1])), side="right") - 1
    return [decoded[i][1] for i in picks.clip(0, len(decoded) - 1)]


def last_frame(path: Path) -> np.ndarray | None:
    frame = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            pass
        return None if frame is None else frame.to_ndarray(format="rgb24")


def ink(pixels: np.ndarray, background: str) -> float:
    """Share of a frame that is drawn on (differs from the ``background`` colour, "#rrggbb"):
    how much a frame shows. Measured on about 160 x 90 samples, enough to rank frames."""
    step = max(1, pixels.shape[0] // 90)
    small = pixels[::step, ::step, :3].astype(np.int16)
    rgb = np.array([int(background.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.int16)
    return float((np.abs(small - rgb).sum(axis=-1) > 40).mean())


def save_png(pixels: np.ndarray, target: Path) -> None:
    """Write an RGB(A) uint8 array as a PNG, atomically."""
    from PIL import Image

    with atomic_path(target) as tmp:
        Image.fromarray(np.ascontiguousarray(pixels[..., :3])).save(tmp, format="PNG")


def _chapters_for(marks: Sequence[ChapterMark]) -> list[dict]:
    return [
        {"id": i + 1, "start": round(m.start * 1000), "end": round(m.end * 1000), "time_base": MS,
         "metadata": {"title": m.title}}
        for i, m in enumerate(marks)
    ]


def _container_options(target: Path) -> dict:
    return {**BITEXACT, **(MP4_OPTIONS if target.suffix == ".mp4" else {})}


def _open_output(tmp: Path, target: Path):
    """An output container of ``target``'s format (mp4, webm), written at ``tmp``."""
    return av.open(str(tmp), "w", format="mp4" if target.suffix == ".mp4" else None, options=_container_options(target))


def _streams_match(paths: Sequence[Path]) -> bool:
    """Can these files be joined by copying packets (same codec, size, nominal rate, pixel format, headers)?"""
    keys = set()
    for path in paths:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            cc = s.codec_context
            # The nominal rate (H.264 carries it in its headers), not base_rate: the rate ffmpeg guesses from the
            # first timestamps differs between files whose frames are held for different times.
            rate = cc.framerate or s.base_rate
            keys.add((cc.name, cc.width, cc.height, cc.pix_fmt, rate, s.time_base, bytes(cc.extradata or b"")))
    return len(keys) == 1


def join_videos(paths: Sequence[Path], target: Path, marks: Sequence[ChapterMark] = (), *,
                audio: np.ndarray | None = None, rate: int = SAMPLE_RATE, captions: Sequence[Cue] = (),
                language: str | None = None) -> str:
    """Concatenate videos into ``target`` with chapter marks; returns "remux" or "re-encode".

    Packets are copied (no quality loss, ~no CPU) when every input has the same
    stream parameters — the case for chapters of one render — else the frames are
    decoded and re-encoded. A GIF target is made from its sources' frames (give it
    the mp4s) with one palette for the whole; GIFs carry no chapter marks, sound or captions.

    ``audio`` (mono at ``rate``, the whole lesson from t=0) becomes the one sound
    track, encoded in one piece so nothing is lost or shifted at the joins, and
    ``captions`` (times on the joined clock) the subtitle track, both tagged with ``language``
    (the shared script's track-language); the inputs' own audio and subtitle streams are left out.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("nothing to join")
    target = Path(target)
    fmt = target.suffix.lstrip(".")
    if fmt == "gif":  # GIFs have no chapter marks; give it the sources' frames (mp4s) for one palette
        _to_gif(paths, target)
        return "re-encode"
    remux = _streams_match(paths)
    timings = [video_timing(p) for p in paths]
    with atomic_path(target) as tmp:
        out = _open_output(tmp, target)
        try:
            if marks:
                out.set_chapters(_chapters_for(marks))
            if remux:
                stream = _copy_stream(out, paths[0], timings[0].fps)
                video = _copied_packets(paths, timings, stream)
            else:  # every frame keeps its time, on the first input's frame grid
                stream = _encoder_stream(out, paths[0], fmt)
                video = _encoded_packets(paths, timings, stream)
            seconds = float(sum(t.seconds for t in timings))
            _write(out, fmt, video, seconds, audio, rate, captions, language)
        finally:
            out.close()
    return "remux" if remux else "re-encode"


def mux(video: Path, target: Path, *, audio: np.ndarray | None = None, rate: int = SAMPLE_RATE,
        captions: Sequence[Cue] = (), language: str | None = None) -> None:
    """``video``'s picture (packets copied, not re-encoded) with a sound track and a subtitle track, into ``target``.

    ``target`` has ``video``'s container type (mp4: H.264 + AAC + mov_text; webm:
    VP9 + Opus + WebVTT). ``audio`` is mono at ``rate`` with t=0 at the first
    frame, padded with silence or cut to the video's duration; ``captions`` are
    timed on the video's clock. Chapter marks in ``video`` are kept; its own audio
    and subtitle streams are replaced. ``language``: what the sound and captions are in (the shared script's track-language).
    """
    video, target = Path(video), Path(target)
    fmt = target.suffix.lstrip(".")
    if fmt not in AUDIO_ENCODERS or video.suffix != target.suffix:
        raise ValueError(f"mux copies the picture: {target.name} needs a video of the same type (mp4 or webm)")
    timing = video_timing(video)
    with av.open(str(video)) as src, atomic_path(target) as tmp:
        out = _open_output(tmp, target)
        try:
            if src.chapters():
                out.set_chapters(src.chapters())
            stream = _copy_stream(out, video, timing.fps)
            _write(out, fmt, _copied_packets([video], [timing], stream), float(timing.seconds), audio, rate,
                   captions, language)
        finally:
            out.close()


def convert(source: Path, target: Path) -> None:
    """Re-encode ``source`` into the format named by ``target``'s suffix (webm, gif, mp4).

    Its chapter marks, first audio track and first subtitle track come along,
    re-encoded for the target (webm: Opus and WebVTT); a GIF is picture only.
    """
    source, target = Path(source), Path(target)
    fmt = target.suffix.lstrip(".")
    if fmt == "gif":
        _to_gif([source], target)
        return
    timing, audio, captions = video_timing(source), decode_audio(source), read_captions(source)
    with av.open(str(source)) as src:
        chapters = src.chapters()
        language = next((s.metadata.get("language") for s in src.streams if s.type in ("audio", "subtitle")), None)
    with atomic_path(target) as tmp:
        out = _open_output(tmp, target)
        try:
            if chapters:
                out.set_chapters(chapters)
            stream = _encoder_stream(out, source, fmt)
            _write(out, fmt, _encoded_packets([source], [timing], stream), float(timing.seconds), audio, SAMPLE_RATE,
                   captions, language)
        finally:
            out.close()


def decode_audio(path: Path) -> np.ndarray | None:
    """The file's first audio track as mono float32 at ``SAMPLE_RATE``, sample 0 at t=0; None if it has none.

    Encoder priming is already cut by the decoder (edit list, codec delay); the
    encoder's padding after the end is not, so the result may run a frame long.
    """
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        to_float = av.AudioResampler(format="fltp")  # same layout and rate: only the sample format changes
        start, rate, pieces = None, SAMPLE_RATE, []
        for frame in container.decode(audio=0):
            if start is None:
                start, rate = float(frame.time or 0.0), frame.sample_rate
            for f in to_float.resample(frame):
                pieces.append(f.to_ndarray().mean(axis=0))
        for f in to_float.resample(None):
            pieces.append(f.to_ndarray().mean(axis=0))
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    samples = resample(np.concatenate(pieces), rate)
    lead = round((start or 0.0) * SAMPLE_RATE)  # a track that starts late keeps its place on the clock
    return np.concatenate([np.zeros(max(0, lead), np.float32), samples[max(0, -lead):]])


def read_captions(path: Path) -> list[Cue]:
    """The cues of the file's first subtitle track (mov_text or WebVTT), times in seconds; [] if it has none."""
    with av.open(str(path)) as container:
        if not container.streams.subtitles:
            return []
        stream = container.streams.subtitles[0]
        codec = stream.codec_context.name
        cues = []
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            text = _caption_text(bytes(packet), codec)
            start = packet.pts * packet.time_base
            if text.strip():  # mp4 fills the gaps between cues with empty samples
                cues.append(Cue(round(float(start), 3), round(float(start + packet.duration * packet.time_base), 3),
                                text))
    return cues


def _caption_text(data: bytes, codec: str) -> str:
    if codec != "mov_text":  # WebVTT: the cue text, with its markup characters escaped
        return html.unescape(data.decode("utf-8", errors="replace"))
    # 3GPP timed text: a 16-bit big-endian length, then the text (UTF-8, or UTF-16 after a byte-order mark).
    (size,) = struct.unpack(">H", data[:2])
    text = data[2 : 2 + size]
    return text.decode("utf-16") if text[:2] in (b"\xfe\xff", b"\xff\xfe") else text.decode("utf-8", errors="replace")


def _write(out, fmt: str, video: Iterable[av.Packet], seconds: float, audio: np.ndarray | None, rate: int,
           captions: Sequence[Cue], language: str | None = None) -> None:
    """Add the sound and subtitle streams to ``out`` (its video stream is there), tagged with ``language``, then
    mux every stream's packets interleaved in time order (players read the file front to back)."""
    sources = [video]
    if audio is not None:
        samples = fit(_mono(audio, rate), round(seconds * SAMPLE_RATE))
        sound = _audio_stream(out, fmt)
        _tag(sound, language)
    cues = _caption_times(captions, seconds)
    if cues:
        text = _subtitle_stream(out, fmt)
        _tag(text, language)
    out.start_encoding()  # opens the encoders: the audio frame size is known from here
    if audio is not None:
        sources.append(_audio_packets(sound, samples))
    if cues:
        sources.append(_caption_packets(text, cues, fmt))
    for packet in heapq.merge(*sources, key=lambda p: p.dts * p.time_base):
        out.mux(packet)


def _tag(stream, language: str | None) -> None:
    """The track's language: an ISO 639-2 code ("eng"; the muxer drops anything else, leaving "und"), checked
    where the words are read (``script.TRACK_LANGUAGE``)."""
    if language:
        stream.metadata["language"] = language


def _mono(audio: np.ndarray, rate: int) -> np.ndarray:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"audio must be mono (one dimension), not of shape {samples.shape}")
    return np.clip(resample(samples, rate), -1.0, 1.0)


def _audio_stream(out, fmt: str):
    codec, sample_format, bit_rate = AUDIO_ENCODERS[fmt]
    stream = out.add_stream(codec, rate=SAMPLE_RATE, layout="mono", options=dict(AUDIO_OPTIONS[fmt]))
    stream.codec_context.format = sample_format
    stream.bit_rate = bit_rate
    stream.time_base = Fraction(1, SAMPLE_RATE)
    return stream


def _audio_packets(stream, samples: np.ndarray) -> Iterator[av.Packet]:
    """``samples`` encoded in frames of the encoder's size, timestamps counted in samples from 0.

    The encoder's priming (AAC 1024 samples, Opus 312) gets negative timestamps and
    the muxer writes an edit list / codec delay for it, so players start at sample 0.
    """
    cc = stream.codec_context
    size, sample_format = cc.frame_size or 1024, cc.format.name
    for start in range(0, len(samples), size):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + size], format=sample_format, layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _subtitle_stream(out, fmt: str):
    stream = out.add_stream(SUBTITLE_CODECS[fmt])
    # The encoder is opened only for its track header (mov_text's sample description); packets are made here.
    stream.codec_context.subtitle_header = ASS_HEADER
    stream.codec_context.time_base = MS
    stream.time_base = MS
    return stream


def _caption_times(captions: Sequence[Cue], seconds: float) -> list[tuple[int, int, str]]:
    """Cues as (start ms, end ms, text): in order, inside the video, one at a time (a timed-text track in mp4
    shows one sample at a time: a cue ends where the next begins; cues that start together are joined)."""
    limit = round(seconds * 1000)
    items = sorted((max(0, round(c.start * 1000)), min(limit, round(c.end * 1000)), c.text.strip()) for c in captions)
    cues: list[tuple[int, int, str]] = []
    for start, end, text in items:
        if not text or end <= start:
            continue
        if cues and cues[-1][0] == start:
            cues[-1] = (start, max(end, cues[-1][1]), f"{cues[-1][2]}\n{text}")
            continue
        if cues and cues[-1][1] > start:
            cues[-1] = (cues[-1][0], start, cues[-1][2])
        cues.append((start, end, text))
    return cues


def _caption_packets(stream, cues: list[tuple[int, int, str]], fmt: str) -> Iterator[av.Packet]:
    for start, end, text in cues:
        if fmt == "mp4":
            data = text.encode()
            if len(data) > 0xFFFF:
                raise ValueError(f"caption too long for mp4 timed text ({len(data)} bytes): {text[:40]}...")
            payload = struct.pack(">H", len(data)) + data
        else:  # WebVTT cue text is markup: show <, > and & as themselves
            payload = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
        packet = av.Packet(payload)
        packet.stream, packet.time_base = stream, MS
        packet.pts, packet.dts, packet.duration = start, start, end - start
        yield packet


def _copy_stream(out, path: Path, fps: Fraction):
    """An output stream that takes ``path``'s video packets as they are (``fps``: their nominal rate)."""
    with av.open(str(path)) as src:
        stream = out.add_stream_from_template(src.streams.video[0])
    if fps and "mp4" not in out.format.name.split(","):
        # Matroska writes a frame's duration only where it differs from the track's default frame duration,
        # which it takes from this rate: without it, the last frame (a hold) would lose its duration.
        stream.codec_context.framerate = fps
    return stream


def _copied_packets(paths: Sequence[Path], timings: Sequence[VideoTiming], stream) -> Iterator[av.Packet]:
    """The video packets of ``paths`` one after the other, re-timed to follow on, for ``stream``.

    Each file's frames keep their presentation times (shifted by where the file starts in the whole) and
    get their display durations (``VideoTiming.shown``): the mp4 muxer ends the track at the latest
    pts + duration. Decode times are made again for the whole (``_decode_times``): a file that starts with a
    held frame can have its first decode times seconds before its first frame, before the previous file's last.
    """
    def packets():
        dts = _decode_times(max((t.reorder for t in timings), default=0), 0, timings[0].tick if timings else 1)
        offset = 0  # in the (shared) stream time base
        for path, timing in zip(paths, timings):
            shown = timing.shown()
            with av.open(str(path)) as src:
                for packet in src.demux(src.streams.video[0]):
                    if packet.dts is None and packet.pts is None or not packet.size:  # demux's flush packet
                        continue
                    t = packet.pts if packet.pts is not None else packet.dts
                    packet.duration = shown[t]
                    packet.pts = t - timing.start + offset
                    packet.dts = dts.send(packet.pts)
                    packet.stream = stream
                    yield packet
            # The next file starts where this one's last frame ends.
            offset += timing.end - timing.start

    return ending_at(packets(), sum(t.end - t.start for t in timings))


def ending_at(packets: Iterable[av.Packet], end: int) -> Iterator[av.Packet]:
    """``packets`` (one video stream, decode order, pts from 0, each with its frame's display duration) with
    the last one's decode time and duration set so that an mp4 track ends at ``end`` by every reckoning.

    The mp4 muxer ends the edit list (what players present) at the latest pts + duration, but the track's
    samples (its decode timeline) end at the last packet's dts + duration; readers that take the shorter of
    the two (ffmpeg) cut the last frame when a held frame lies among the last ones decoded. Here the last
    packet's dts is raised, if needed, to its pts minus the first packet's (the edit list's offset), and its
    duration made to end the decode timeline with the edit list: both end at ``end``.
    """
    held, shift = None, None
    for packet in packets:
        if shift is None:
            shift = packet.pts - packet.dts
        if held is not None:
            yield held
        held = packet
    if held is not None:
        held.dts = max(held.dts, held.pts - shift)
        held.duration = max(1, end - held.dts - shift)
        yield held


def _decode_times(reorder: int, start: int, tick: int):
    """A generator that is sent each packet's pts in decode order and answers its dts: what libavformat does
    for a packet without one (the pts of the frames so far, sorted, ``reorder`` places behind), the first
    ones counted back from ``start`` one ``tick`` (frame) at a time. Strictly increasing and never after the
    pts, for frames decoded at most ``reorder`` places ahead of their turn."""
    waiting = [start - i * tick for i in range(reorder, 0, -1)]  # a heap

    def answer():
        dts = None
        while True:
            pts = yield dts
            dts = heapq.heappushpop(waiting, pts)

    times = answer()
    next(times)
    return times


def _encoder_stream(out, first: Path, fmt: str):
    """A video encoder stream for ``fmt`` with ``first``'s size and (nominal) frame rate."""
    with av.open(str(first)) as src:
        s0 = src.streams.video[0]
        cc = s0.codec_context
        width, height, rate = cc.width, cc.height, cc.framerate or s0.base_rate or Fraction(30)
    codec, pix_fmt, options = ENCODERS[fmt]
    stream = out.add_stream(codec, rate=rate, options=dict(options))
    stream.pix_fmt = pix_fmt
    stream.width, stream.height = width, height
    return stream


def _timed_frames(paths: Sequence[Path], timings: Sequence[VideoTiming], rate: Fraction):
    """Every frame of ``paths`` in order with how long it is shown: its pts counted in frames of ``rate`` from
    the first file's start (the files one after the other), and its duration in frames (until the next frame;
    the last of a file until that file's end). A held frame stays one frame, shown for as long as it was."""
    offset = Fraction(0)  # seconds: where this file starts in the whole
    for path, timing in zip(paths, timings):

        def on_grid(ticks: int, offset=offset, timing=timing) -> int:
            return round((offset + (ticks - timing.start) * timing.time_base) * rate)

        with av.open(str(path)) as src:
            held = None
            for frame in src.decode(video=0):
                if held is not None and (shown := on_grid(frame.pts) - held.pts) > 0:
                    yield held, shown
                held = frame  # (a frame shown for less than one frame of ``rate`` is left out)
                held.pts, held.time_base = on_grid(frame.pts), Fraction(1) / rate
            if held is not None and (shown := on_grid(timing.end) - held.pts) > 0:
                yield held, shown
        offset += timing.seconds


def _with_durations(packets: Iterable[av.Packet], durations: dict[int, int]) -> Iterator[av.Packet]:
    """Encoded packets with the durations of their frames (pts -> duration): encoders (x264) leave them out,
    and the muxers end the video after the last frame's duration."""
    for packet in packets:
        if packet.pts in durations:
            packet.duration = durations.pop(packet.pts)
        yield packet


def _encoded_packets(paths: Sequence[Path], timings: Sequence[VideoTiming], stream) -> Iterator[av.Packet]:
    """Every frame of ``paths`` re-encoded by ``stream``, each at its time on the stream's frame grid: a held
    frame is encoded once (``_timed_frames``)."""
    rate = stream.codec_context.framerate
    width, height = stream.codec_context.width, stream.codec_context.height

    def encoded():
        durations: dict[int, int] = {}
        for frame, shown in _timed_frames(paths, timings, rate):
            pts = frame.pts
            frame = frame.reformat(width=width, height=height, format=stream.pix_fmt)
            frame.pts, frame.time_base = pts, Fraction(1) / rate
            durations[pts] = shown
            yield from _with_durations(stream.encode(frame), durations)
        yield from _with_durations(stream.encode(None), durations)

    def packets():
        # Decode times made again (as in ``fast_frames``): x264 counts its first ones back by the first frame's
        # duration. H.264 reorders at most 16 frames; a VP9 frame is decoded when it is shown.
        dts = _decode_times(16 if stream.codec_context.name == "libx264" else 0, 0, 1)
        for packet in encoded():
            packet.dts = dts.send(packet.pts)
            yield packet

    return ending_at(packets(), round(sum(t.seconds for t in timings) * rate))


def _to_gif(sources: Sequence[Path], target: Path) -> None:
    """A GIF with one palette made for these videos (ffmpeg's palettegen/paletteuse, like Manim's).

    Two passes over the sources — palette first, then mapping — so no frame is
    held in memory (a one-pass graph buffers the whole video until the palette exists).
    A held frame is one GIF frame with a long delay.
    """
    timings = [video_timing(p) for p in sources]
    rate = timings[0].fps or Fraction(30)
    with av.open(str(sources[0])) as first:
        template = first.streams.video[0]
        width, height = template.codec_context.width, template.codec_context.height
        stats = av.filter.Graph()
        src = stats.add_buffer(template=template)
        palettegen = stats.add("palettegen", "stats_mode=diff")
        sink = stats.add("buffersink")
        src.link_to(palettegen)
        palettegen.link_to(sink)
        stats.configure()
    for frame, _ in _timed_frames(sources, timings, rate):
        stats.push(frame)
    stats.push(None)
    palette = stats.pull()

    with av.open(str(sources[0])) as first:
        graph = av.filter.Graph()
        video_in = graph.add_buffer(template=first.streams.video[0])
    palette_in = graph.add_buffer(width=16, height=16, format=palette.format.name, time_base=Fraction(1, 1))
    paletteuse = graph.add("paletteuse", "dither=bayer:bayer_scale=5:diff_mode=rectangle")
    sink = graph.add("buffersink")
    video_in.link_to(paletteuse, 0, 0)
    palette_in.link_to(paletteuse, 0, 1)
    paletteuse.link_to(sink)
    graph.configure()
    palette.pts = 0
    palette_in.push(palette)
    palette_in.push(None)

    with atomic_path(target) as tmp:
        out = av.open(str(tmp), "w")
        try:
            stream = out.add_stream("gif", rate=rate)
            stream.pix_fmt = "pal8"
            stream.width, stream.height = width, height
            durations: dict[int, int] = {}  # pts -> frames shown (the graph keeps each frame's pts)

            def drain():
                while True:
                    try:
                        frame = sink.pull()
                    except (av.error.BlockingIOError, av.error.EOFError):
                        return
                    frame.time_base = Fraction(1) / rate
                    out.mux(list(_with_durations(stream.encode(frame), durations)))

            for frame, shown in _timed_frames(sources, timings, rate):
                durations[frame.pts] = shown
                video_in.push(frame)
                drain()
            video_in.push(None)
            drain()
            out.mux(list(_with_durations(stream.encode(None), durations)))
        finally:
            out.close()
