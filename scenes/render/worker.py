"""A render worker (a spawned process): one chapter at a time into its cache entry.

The main process sends the Lesson once per worker (``init_worker``); each job renders
its chapter under its own Manim ``tempconfig`` with a private media folder, and moves the
finished entry into the cache in one ``os.replace``.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..lesson.config import LessonConfig
from ..voice import SILENT, Narrator, Voice
from . import guard
from .cache import CACHE_SCHEMA, FULLEST, MASTER, META, NARRATION, Cache, cache_name, file_records
from .fast_frames import install_fast_frames

VIDEO_FORMATS = ("mp4", "webm", "gif")

_progress_queue = None
_thread_limits = None
_lesson = None  # the Lesson of the render, sent by the main process


def init_worker(progress_queue, lesson, cores: int) -> None:
    """Set up a render process: the Lesson to draw (built once, in the main process), and
    ``cores``, the CPU cores it may use (all of them / the number of workers)."""
    global _progress_queue, _lesson, _thread_limits
    _progress_queue = progress_queue
    _lesson = lesson
    # Native thread pools (OpenBLAS/OpenMP under numpy, torch's intra-op pool) size themselves to the
    # whole machine; in each of several workers that oversubscribes the cores (BLAS threads spin).
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(cores)
    _thread_limits = threadpool_limits(limits=cores)  # kept: the limits last while it lives
    # Ctrl-C goes to the whole process group: let the main process decide, and clean up.
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Stopped by the main process (terminate): exit through Python, so what the worker holds (its
    # semaphores, temporary files) is released, rather than dying mid-render with a leak warning.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker whose main process died (killed, not interrupted) stops instead of rendering on alone."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _report(*message) -> None:
    if _progress_queue is not None:
        try:
            _progress_queue.put_nowait(message)
        except Exception:  # progress is best effort
            pass


@dataclass(frozen=True)
class Job:
    chapter_id: str
    key: str
    formats: tuple[str, ...]  # what the cache entry must contain when the job ends
    cache_root: str
    chapters_module: str = "scenes.chapters"  # "module[:attribute]" of a {id: LessonScene subclass} dict
    force: bool = False  # render even if the entry exists (--no-cache)
    encoder_threads: int = 0  # x264 threads (0: x264 decides); see render_lesson
    voice: Voice = SILENT  # who speaks the beats (resolved once, by the main process)
    speech_root: str | None = None  # the speech cache folder (None: speech is not kept)


def _chapters(spec: str) -> dict:
    """The scene classes named by "module" (its CHAPTERS) or "module:attribute"."""
    import importlib

    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute or "CHAPTERS")


def manim_settings(config: LessonConfig, media_dir: Path, *, fmt: str = "mp4", encoder_threads: int = 0) -> dict:
    """The ``tempconfig`` a chapter renders under: size, rate, theme background, quiet, private media folder."""
    from .. import style

    encoder_options = {"preset": "veryfast"}
    if encoder_threads:
        encoder_options["threads"] = str(encoder_threads)
    return {
        "media_dir": str(media_dir),
        "pixel_height": config.height,
        "pixel_width": config.width,
        "frame_rate": config.frame_rate,
        "format": fmt,
        "background_color": style.theme(config.theme).background,
        "output_file": "chapter",
        "progress_bar": "none",
        "verbosity": "ERROR",
        "media_loglevel": "ERROR",
        # x264's "veryfast" preset: ~20% less render time than Manim's default ("medium") at the same crf,
        # for flat-colour diagrams a slightly bigger file (measured on a 20 s 720p30 clip: 12.5 s -> 10.4 s).
        "video_encoder_options": encoder_options,
        "disable_caching": True,  # our cache works per chapter; Manim's per-play hashing only costs time here
        "disable_caching_warning": True,
        "preview": False,
        "log_to_file": False,
    }


def render_scene(scene, settings: dict, *, on_play: Callable[[float], None] | None = None):
    """Render a scene under ``settings``; returns (the scene, its video path or None, the last
    frame, the fullest frame), frames as RGBA arrays.

    The fullest frame is, of the frames at the end of each play or wait (settled, not
    mid-fade), the one with the most drawn on it: the chapter's thumbnail, taken from the
    renderer's own pixels instead of decoding the video again.
    ``scene`` is a zero-argument factory: Manim reads its config when the scene is
    constructed, so construction must happen inside the ``tempconfig``.
    """
    from manim import tempconfig

    from . import media

    install_fast_frames()
    with tempconfig(settings):
        instance = scene()
        original = instance.play
        fullest = {"ink": -1.0, "frame": None}

        def play(*args, **kwargs):  # Scene.wait calls self.play too
            result = original(*args, **kwargs)
            pixels = instance.renderer.camera.pixel_array  # read in place; copied only when kept
            ink = media.ink(pixels, settings["background_color"])
            if ink > fullest["ink"]:
                fullest.update(ink=ink, frame=pixels.copy())
            if on_play is not None:  # progress
                on_play(float(instance.renderer.time))
            return result

        instance.play = play
        instance.render()
        writer = instance.renderer.file_writer
        frame = instance.renderer.get_frame()
        try:
            video = Path(writer.movie_file_path)
        except AttributeError:
            video = None
        video = video if video is not None and video.is_file() else None
        return instance, video, frame, frame if fullest["frame"] is None else fullest["frame"]


def run_job(job: Job) -> dict:
    """Make sure ``job.key``'s cache entry has ``job.formats``; returns its meta (or an error)."""
    from . import audio, media

    started = time.perf_counter()
    cache_root = Path(job.cache_root)  # a real folder of the tool's (folder.claim); entries are checked on read
    entry = cache_root / job.key
    work = cache_root / "tmp" / f"{job.key[:16]}-{os.getpid()}"
    try:
        meta = None if job.force else Cache(cache_root).verified(job.key)
        if meta is not None and MASTER in meta["files"]:
            # Only conversions are missing: add them to the intact entry, each atomically, then record them.
            made = _convert(entry / MASTER, entry, [f for f in job.formats if cache_name(f) not in meta["files"]])
            if made:
                meta = {**meta, "files": {**meta["files"], **file_records(entry, made)}}
                guard.write_atomically(cache_root, f"{job.key}/{META}", json.dumps(meta, indent=1).encode())
            return {**meta, "rendered": False}

        _report("start", job.chapter_id)
        lesson = _lesson
        if job.chapters_module == "scenes.chapters":  # the chapter sees what its key hashes, nothing else
            from ..lesson.build import LessonView
            from ..lesson.chapters import chapter

            lesson = LessonView(lesson, job.chapter_id, chapter(job.chapter_id).reads)
        scene_cls = _chapters(job.chapters_module)[job.chapter_id]
        work.mkdir(parents=True, exist_ok=True)
        built = work / "entry"
        built.mkdir()
        video_wanted = any(f in VIDEO_FORMATS for f in job.formats)
        settings = manim_settings(lesson.config, work / "media", fmt="mp4" if video_wanted else "png",
                                  encoder_threads=job.encoder_threads)
        narrator = Narrator(job.voice, job.speech_root and Path(job.speech_root),
                            pacing=lesson.config.pacing_of(job.chapter_id))  # the chapter's own pacing
        scene, video, frame, fullest = render_scene(lambda: scene_cls(lesson, narrator=narrator), settings,
                                                    on_play=lambda t: _report("time", job.chapter_id, t))
        render_seconds = time.perf_counter() - started
        if video_wanted:
            if video is None:
                raise RuntimeError(f"chapter {job.chapter_id!r} produced no video (does it play any animation?)")
            duration = media.probe(video).duration
        else:
            duration = float(scene.renderer.time)
        # The chapter's sound: every beat's speech where it was spoken, at one measured loudness.
        sound = audio.narration_track(scene.speech, duration) if narrator.speaks else None
        if sound is not None:
            audio.write_wav(built / NARRATION, sound, audio.SAMPLE_RATE)
        if video_wanted:
            media.mux(video, built / MASTER, audio=sound, captions=scene.cues,
                      language=lesson.scripts.shared.text("track-language", {}))
        media.save_png(frame, built / "last.png")
        media.save_png(fullest, built / FULLEST)
        _convert(built / MASTER, built, job.formats)
        meta = {
            "schema": CACHE_SCHEMA,
            "chapter_id": job.chapter_id,
            "title": scene.title,
            "summary": scene.summary,
            "duration": duration,
            "cues": [c.to_dict() for c in scene.cues],
            "beats": [b.to_dict() for b in scene.beats],
            "voice": job.voice.name,
            "render_seconds": round(render_seconds, 3),  # Manim: construct + frames + encoding
            "job_seconds": round(time.perf_counter() - started, 3),  # + last frame, conversions
            "key": job.key,
            # what a later render checks before it uses the entry (cache.Cache.verified)
            "files": file_records(built, sorted(p.name for p in built.iterdir())),
        }
        (built / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if job.force or not _complete(cache_root, job):
            guard.remove_tree(cache_root, job.key)  # superseded: an entry without a video (png only), or --no-cache
        try:
            os.replace(built, entry)
        except OSError as err:
            # Another process (a worker of a course) put a complete entry of this key there first: the same
            # inputs, so it is kept and ours goes with the work folder.
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not _complete(cache_root, job):
                raise
        _report("done", job.chapter_id)
        return {**meta, "rendered": True}
    except BaseException as err:  # noqa: BLE001 - reported to the main process, which decides
        first_line = (str(err).strip().splitlines() or [""])[0]
        return {"error": f"{type(err).__name__}: {first_line}".rstrip(": "), "traceback": traceback.format_exc()}
    finally:
        guard.remove_tree(cache_root / "tmp", work.name)


def _complete(cache_root: Path, job: Job) -> bool:
    """Whether the cache holds an intact entry of ``job.key`` with every format the job makes."""
    meta = Cache(cache_root).verified(job.key)
    return meta is not None and all(cache_name(f) in meta["files"] for f in job.formats)


def _convert(master: Path, folder: Path, formats) -> list[str]:
    """Convert the master into each conversion format of ``formats``; returns the names made."""
    from . import media

    made = []
    for fmt in formats:
        target = folder / cache_name(fmt)
        if fmt in ("webm", "gif"):
            media.convert(master, target)
            made.append(target.name)
    return made
