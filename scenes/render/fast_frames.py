"""A patch of Manim 0.22's video encoder: a held frame is encoded once and shown for as long as it is held.

Manim writes a ``self.wait()`` on a still scene as one frame repeated (``write_frame(pixels, repeat=n)``)
and encoded n times; here it is encoded once, with a duration of n frames: the segment has a variable
frame rate (every timestamp still on the 1/fps grid). See ``install_fast_frames``.
"""

from __future__ import annotations

from fractions import Fraction


def install_fast_frames() -> None:
    """Encode a held frame once, shown for as long as Manim holds it; convert frames with less copying.

    Manim 0.22 writes a wait on a still scene (``Scene.wait`` -> ``freeze_current_frame``)
    as ``write_frame(pixels, repeat=n)``, and its encoder converts and encodes the frame
    n times (x264 on identical frames: ~3 ms a frame at 720p, a fifth of a chapter's
    render). Here it is converted and encoded once, and the next frame's timestamp is n
    frames later; its packet carries the duration (n frames: the mp4 muxer ends the
    segment after the last frame's duration). A 30 s hold at 720p30 took 2.0-3.6 s, now
    0.06-0.17 s: 0.36-0.53 -> 0.02 of the time as long of new frames takes (the held-frame
    line of ``benchmarks/render.py``, on a shared 2-core machine).
    A segment is then variable-frame-rate on the constant rate's grid: every timestamp is
    a whole number of frames, and x264 codes the frames that do change as before (the
    same coded frames). ``media`` measures durations from the timestamps (not frames / fps)
    and keeps every frame's time through the joins and conversions (webm, gif). A
    segment's packets are kept until it is finished, then muxed with decode times made
    again and a last packet that ends the samples with the picture (``_mux_all``); the
    segments are joined by ``media.join_videos`` (``combine_files`` below).

    Also, one RGBA frame per segment is reused (filling its buffer: 0.2 ms) instead of
    ``VideoFrame.from_ndarray`` (2.5 ms at 720p), with the same swscale conversion.

    Same pixels in, same bytes out (x264 is deterministic for the same frames and
    timestamps). Patched in the render process only; Manim is pinned to 0.22, whose
    ``VideoSegmentEncoder.write_frame`` and ``finish`` this mirrors.
    """
    from manim.scene import scene_file_writer
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    if getattr(scene_file_writer.VideoSegmentEncoder, "fast_frames", False):
        return

    class FastFrameEncoder(VideoSegmentEncoder):
        fast_frames = True
        _rgba = _rgba_view = None
        _durations: dict | None = None  # pts -> frames shown, for the packets x264 has not returned yet

        def write_frame(self, pixels, *, repeat: int = 1) -> None:
            if self._stream.pix_fmt == "rgba":  # no conversion: the reused frame would be encoded as is
                return super().write_frame(pixels, repeat=repeat)
            import av
            import numpy as np

            self._validate_frame(pixels, repeat)
            try:
                if self._rgba is None:
                    height, width = pixels.shape[:2]
                    self._rgba = av.VideoFrame(width, height, "rgba")
                    plane = self._rgba.planes[0]  # rows may be padded to line_size bytes
                    self._rgba_view = (np.frombuffer(plane, np.uint8).reshape(height, plane.line_size)
                                       [:, : width * 4].reshape(height, width, 4))
                    self._durations, self._packets = {}, []
                np.copyto(self._rgba_view, pixels)
                frame = self._rgba.reformat(format=self._stream.pix_fmt)  # a new frame: the encoder keeps it
                frame.time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
                frame.pts = self._next_pts
                self._durations[frame.pts] = repeat  # one frame, shown for ``repeat`` frames
                self._next_pts += repeat
                self._mux(self._stream.encode(frame))
            except BaseException as error:
                raise self._operation_error("encode", error) from error

        _packets: list | None = None  # the segment's packets, muxed when it is finished

        def _mux(self, packets) -> None:
            for packet in packets:
                # x264 leaves the duration out; the muxer ends the segment after the last frame's duration.
                if packet.pts is not None and packet.pts in self._durations:
                    packet.duration = self._durations.pop(packet.pts)
                self._packets.append(packet)

        def _mux_all(self) -> None:
            """Mux the segment's packets, with decode times made again (x264 counts its first ones back by the
            first frame's duration: a held frame's seconds) and the last one ending the samples where the
            picture ends (``media.ending_at``). A segment is small: its packets are kept until here."""
            from . import media

            packets, self._packets = self._packets, []
            times = [p.pts for p in packets]
            reorder = max((sum(1 for r in times[max(0, i - 16) : i] if r > t) for i, t in enumerate(times)), default=0)
            dts = media._decode_times(reorder, 0, 1)  # in frames (the encoder's time base)
            for packet in packets:
                packet.dts = dts.send(packet.pts)
            for packet in media.ending_at(packets, self._next_pts):
                self._container.mux(packet)

        def finish(self) -> None:
            """Flush and close the segment (Manim's ``finish``, the flushed packets through ``_mux``)."""
            if self._closed or self._durations is None:  # nothing was written (or rgba): Manim's own
                return super().finish()
            self._closed = True
            first_error: Exception | None = None
            try:
                try:
                    self._mux(self._stream.encode(None))
                    self._mux_all()
                except Exception as error:
                    first_error = error
            finally:
                try:
                    self._container.close()
                except Exception as error:
                    if first_error is None:
                        first_error = error
            if first_error is not None:
                raise self._operation_error("finish", first_error) from first_error

    scene_file_writer.VideoSegmentEncoder = FastFrameEncoder

    # The segments (one per play or wait) are joined by copying their packets (media.join_videos) rather than
    # through ffmpeg's concat demuxer, which offsets each segment by its duration rounded to microseconds (a
    # frame's timestamps drift off the frame grid) and leaves decode times to be guessed from the first
    # packet's duration (a chapter's first hold put them seconds before its first frame).
    original_combine = scene_file_writer.SceneFileWriter.combine_files

    def combine_files(self, input_files, output_file, create_gif=False, includes_sound=False):
        from pathlib import Path

        output_file = Path(output_file)
        if create_gif or includes_sound or output_file.suffix != ".mp4" or not input_files:
            return original_combine(self, input_files, output_file, create_gif, includes_sound)
        from . import media

        output_file.parent.mkdir(parents=True, exist_ok=True)
        media.join_videos([Path(p) for p in input_files], output_file)

    scene_file_writer.SceneFileWriter.combine_files = combine_files
