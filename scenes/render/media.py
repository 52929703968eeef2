"""Video files with PyAV: inspect, join with chapter marks, convert, grab frames.

Everything here writes to a temporary name next to the target and moves it into
place with ``os.replace``, so an interrupted write never leaves a file that looks
finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Encoder settings for files we encode ourselves (conversions, re-encoded joins).
# VP9: constant quality, row multithreading and a fast preset (libvpx's default is very slow).
ENCODERS = {
    "mp4": ("libx264", "yuv420p", {"crf": "23", "preset": "veryfast"}),
    "webm": ("libvpx-vp9", "yuv420p", {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"}),
}
# Web streaming: the index (moov atom) goes before the media data.
MP4_OPTIONS = {"movflags": "+faststart"}
MS = Fraction(1, 1000)


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
    """Resolution, frame rate, frame count, duration and chapter marks of a video file."""
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
        return VideoInfo(Path(path), stream.codec_context.name, stream.codec_context.width,
                         stream.codec_context.height, fps, frames, duration, marks)


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
    return MP4_OPTIONS if target.suffix == ".mp4" else {}


def _streams_match(paths: Sequence[Path]) -> bool:
    """Can these files be joined by copying packets (same codec, size, rate, pixel format, headers)?"""
    keys = set()
    for path in paths:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            cc = s.codec_context
            keys.add((cc.name, cc.width, cc.height, cc.pix_fmt, s.base_rate, s.time_base, bytes(cc.extradata or b"")))
    return len(keys) == 1


def join_videos(paths: Sequence[Path], target: Path, marks: Sequence[ChapterMark] = ()) -> str:
    """Concatenate videos into ``target`` with chapter marks; returns "remux" or "re-encode".

    Packets are copied (no quality loss, ~no CPU) when every input has the same
    stream parameters — the case for chapters of one render — else the frames are
    decoded and re-encoded. A GIF target is made from its sources' frames (give it
    the mp4s) with one palette for the whole; GIFs carry no chapter marks.
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
    with atomic_path(target) as tmp:
        out = av.open(str(tmp), "w", format="mp4" if fmt == "mp4" else None, options=_container_options(target))
        try:
            if marks:
                out.set_chapters(_chapters_for(marks))
            (_remux_into if remux else _reencode_into)(paths, out, fmt)
        finally:
            out.close()
    return "remux" if remux else "re-encode"


def _remux_into(paths: Sequence[Path], out, fmt: str) -> None:
    stream = None
    offset = 0  # in the (shared) stream time base
    for path in paths:
        with av.open(str(path)) as src:
            s = src.streams.video[0]
            if stream is None:
                stream = out.add_stream_from_template(s)
            end = offset
            for packet in src.demux(s):
                if packet.dts is None:  # demux's flush packet
                    continue
                if packet.pts is not None:
                    packet.pts += offset
                    end = max(end, packet.pts + (packet.duration or 0))
                packet.dts += offset
                packet.stream = stream
                out.mux(packet)
            # The next file starts where this one's last frame ends.
            offset = end if s.duration is None else max(end, offset + s.duration)


def _reencode_into(paths: Sequence[Path], out, fmt: str) -> None:
    with av.open(str(paths[0])) as first:
        s0 = first.streams.video[0]
        width, height, rate = s0.codec_context.width, s0.codec_context.height, s0.base_rate or Fraction(30)
    codec, pix_fmt, options = ENCODERS[fmt]
    stream = out.add_stream(codec, rate=rate, options=dict(options))
    stream.pix_fmt = pix_fmt
    stream.width, stream.height = width, height
    n = 0
    for path in paths:
        with av.open(str(path)) as src:
            for frame in src.decode(video=0):
                frame = frame.reformat(width=width, height=height, format=stream.pix_fmt)
                frame.pts, frame.time_base = n, Fraction(1) / rate
                n += 1
                out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def convert(source: Path, target: Path) -> None:
    """Re-encode ``source`` into the format named by ``target``'s suffix (webm, gif, mp4)."""
    fmt = Path(target).suffix.lstrip(".")
    if fmt == "gif":
        _to_gif([Path(source)], Path(target))
        return
    with atomic_path(Path(target)) as tmp:
        out = av.open(str(tmp), "w", options=_container_options(Path(target)))
        try:
            _reencode_into([Path(source)], out, fmt)
        finally:
            out.close()


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
