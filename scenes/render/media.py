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
    frames: int
    duration: float  # seconds (frames / fps when the frame count is known)
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
    """Resolution, frame rate, frame count, duration, chapter marks, audio and subtitle streams of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # The nominal rate: average_rate is measured from timestamps and can be off by a tick (30.0008).
        fps = Fraction(stream.base_rate or stream.guessed_rate or stream.average_rate or 0)
        frames = stream.frames
        if not frames:  # some containers (webm, gif) don't store a frame count: count packets
            frames = sum(1 for p in container.demux(stream) if p.size)
        if frames and fps:
            duration = float(frames / fps)
        elif stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        marks = tuple(
            (float(c["start"] * c["time_base"]), float(c["end"] * c["time_base"]), c["metadata"].get("title", ""))
            for c in container.chapters()
        )
        audio = _audio_info(path) if container.streams.audio else None
        subtitles = tuple(s.codec_context.name for s in container.streams.subtitles)
        return VideoInfo(Path(path), stream.codec_context.name, stream.codec_context.width,
                         stream.codec_context.height, fps, frames, duration, marks, audio, subtitles)


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
    """``count`` RGB frames spread evenly over the video (first and last included)."""
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not decoded:
        return []
    picks = np.linspace(0, len(decoded) - 1, num=min(count, len(decoded))).round().astype(int)
    return [decoded[i] for i in picks]


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
    """Can these files be joined by copying packets (same codec, size, rate, pixel format, headers)?"""
    keys = set()
    for path in paths:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            cc = s.codec_context
            keys.add((cc.name, cc.width, cc.height, cc.pix_fmt, s.base_rate, s.time_base, bytes(cc.extradata or b"")))
    return len(keys) == 1


def join_videos(paths: Sequence[Path], target: Path, marks: Sequence[ChapterMark] = (), *,
                audio: np.ndarray | None = None, rate: int = SAMPLE_RATE, captions: Sequence[Cue] = ()) -> str:
    """Concatenate videos into ``target`` with chapter marks; returns "remux" or "re-encode".

    Packets are copied (no quality loss, ~no CPU) when every input has the same
    stream parameters — the case for chapters of one render — else the frames are
    decoded and re-encoded. A GIF target is made from its sources' frames (give it
    the mp4s) with one palette for the whole; GIFs carry no chapter marks, sound or captions.

    ``audio`` (mono at ``rate``, the whole lesson from t=0) becomes the one sound
    track, encoded in one piece so nothing is lost or shifted at the joins, and
    ``captions`` (times on the joined clock) the subtitle track; the inputs' own
    audio and subtitle streams are left out.
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
    infos = [probe(p) for p in paths]
    with atomic_path(target) as tmp:
        out = _open_output(tmp, target)
        try:
            if marks:
                out.set_chapters(_chapters_for(marks))
            if remux:
                stream, seconds = _copy_stream(out, paths[0]), sum(i.duration for i in infos)
                video = _copied_packets(paths, stream)
            else:  # every frame is re-timed at the first input's rate
                stream = _encoder_stream(out, paths[0], fmt)
                seconds = float(sum(i.frames for i in infos) / stream.codec_context.framerate)
                video = _encoded_packets(paths, stream)
            _write(out, fmt, video, seconds, audio, rate, captions)
        finally:
            out.close()
    return "remux" if remux else "re-encode"


def mux(video: Path, target: Path, *, audio: np.ndarray | None = None, rate: int = SAMPLE_RATE,
        captions: Sequence[Cue] = ()) -> None:
    """``video``'s picture (packets copied, not re-encoded) with a sound track and a subtitle track, into ``target``.

    ``target`` has ``video``'s container type (mp4: H.264 + AAC + mov_text; webm:
    VP9 + Opus + WebVTT). ``audio`` is mono at ``rate`` with t=0 at the first
    frame, padded with silence or cut to the video's duration; ``captions`` are
    timed on the video's clock. Chapter marks in ``video`` are kept; its own audio
    and subtitle streams are replaced.
    """
    video, target = Path(video), Path(target)
    fmt = target.suffix.lstrip(".")
    if fmt not in AUDIO_ENCODERS or video.suffix != target.suffix:
        raise ValueError(f"mux copies the picture: {target.name} needs a video of the same type (mp4 or webm)")
    seconds = probe(video).duration
    with av.open(str(video)) as src, atomic_path(target) as tmp:
        out = _open_output(tmp, target)
        try:
            if src.chapters():
                out.set_chapters(src.chapters())
            stream = out.add_stream_from_template(src.streams.video[0])
            _write(out, fmt, _copied_packets([video], stream), seconds, audio, rate, captions)
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
    seconds, audio, captions = probe(source).duration, decode_audio(source), read_captions(source)
    with av.open(str(source)) as src:
        chapters = src.chapters()
    with atomic_path(target) as tmp:
        out = _open_output(tmp, target)
        try:
            if chapters:
                out.set_chapters(chapters)
            stream = _encoder_stream(out, source, fmt)
            _write(out, fmt, _encoded_packets([source], stream), seconds, audio, SAMPLE_RATE, captions)
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
           captions: Sequence[Cue]) -> None:
    """Add the sound and subtitle streams to ``out`` (its video stream is there), then mux every stream's
    packets interleaved in time order (players read the file front to back)."""
    sources = [video]
    if audio is not None:
        samples = fit(_mono(audio, rate), round(seconds * SAMPLE_RATE))
        sound = _audio_stream(out, fmt)
    cues = _caption_times(captions, seconds)
    if cues:
        text = _subtitle_stream(out, fmt)
    out.start_encoding()  # opens the encoders: the audio frame size is known from here
    if audio is not None:
        sources.append(_audio_packets(sound, samples))
    if cues:
        sources.append(_caption_packets(text, cues, fmt))
    for packet in heapq.merge(*sources, key=lambda p: p.dts * p.time_base):
        out.mux(packet)


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


def _copy_stream(out, path: Path):
    """An output stream that takes ``path``'s video packets as they are."""
    with av.open(str(path)) as src:
        return out.add_stream_from_template(src.streams.video[0])


def _copied_packets(paths: Sequence[Path], stream) -> Iterator[av.Packet]:
    """The video packets of ``paths`` one after the other, re-timed to follow on, for ``stream``."""
    offset = 0  # in the (shared) stream time base
    for path in paths:
        with av.open(str(path)) as src:
            s = src.streams.video[0]
            end = offset
            for packet in src.demux(s):
                if packet.dts is None:  # demux's flush packet
                    continue
                if packet.pts is not None:
                    packet.pts += offset
                    end = max(end, packet.pts + (packet.duration or 0))
                packet.dts += offset
                packet.stream = stream
                yield packet
            # The next file starts where this one's last frame ends.
            offset = end if s.duration is None else max(end, offset + s.duration)


def _encoder_stream(out, first: Path, fmt: str):
    """A video encoder stream for ``fmt`` with ``first``'s size and frame rate."""
    with av.open(str(first)) as src:
        s0 = src.streams.video[0]
        width, height, rate = s0.codec_context.width, s0.codec_context.height, s0.base_rate or Fraction(30)
    codec, pix_fmt, options = ENCODERS[fmt]
    stream = out.add_stream(codec, rate=rate, options=dict(options))
    stream.pix_fmt = pix_fmt
    stream.width, stream.height = width, height
    return stream


def _encoded_packets(paths: Sequence[Path], stream) -> Iterator[av.Packet]:
    """Every frame of ``paths`` re-encoded by ``stream``, re-timed at its frame rate."""
    rate = stream.codec_context.framerate
    width, height = stream.codec_context.width, stream.codec_context.height
    n = 0
    for path in paths:
        with av.open(str(path)) as src:
            for frame in src.decode(video=0):
                frame = frame.reformat(width=width, height=height, format=stream.pix_fmt)
                frame.pts, frame.time_base = n, Fraction(1) / rate
                n += 1
                yield from stream.encode(frame)
    yield from stream.encode(None)


def _to_gif(sources: Sequence[Path], target: Path) -> None:
    """A GIF with one palette made for these videos (ffmpeg's palettegen/paletteuse, like Manim's).

    Two passes over the sources — palette first, then mapping — so no frame is
    held in memory (a one-pass graph buffers the whole video until the palette exists).
    """
    with av.open(str(sources[0])) as first:
        template = first.streams.video[0]
        rate = template.base_rate or Fraction(30)
        width, height = template.codec_context.width, template.codec_context.height
        stats = av.filter.Graph()
        src = stats.add_buffer(template=template)
        palettegen = stats.add("palettegen", "stats_mode=diff")
        sink = stats.add("buffersink")
        src.link_to(palettegen)
        palettegen.link_to(sink)
        stats.configure()
    for frame in _frames(sources):
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
            n = 0

            def drain():
                nonlocal n
                while True:
                    try:
                        frame = sink.pull()
                    except (av.error.BlockingIOError, av.error.EOFError):
                        return
                    frame.pts, frame.time_base = n, Fraction(1) / rate
                    n += 1
                    out.mux(stream.encode(frame))

            for frame in _frames(sources):
                video_in.push(frame)
                drain()
            video_in.push(None)
            drain()
            out.mux(stream.encode(None))
        finally:
            out.close()


def _frames(sources: Sequence[Path]):
    """Every frame of the sources in order, with continuous timestamps."""
    n = 0
    for path in sources:
        with av.open(str(path)) as src:
            rate = src.streams.video[0].base_rate or Fraction(30)
            for frame in src.decode(video=0):
                frame.pts, frame.time_base = n, Fraction(1) / rate
                n += 1
                yield frame
