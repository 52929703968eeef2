"""Render the lesson: one process per chapter, a content-hash cache, the joined video.

    result = render_lesson(LessonConfig(chapters=("intro", "one-head")), jobs=2)
    result.lesson_files["mp4"]     # media/lesson.mp4, with chapter marks
    result.chapters[0].cues        # narration cues of the first chapter

How a render goes:
1. The main process builds the Lesson once and hashes what each chapter depends
   on: the config fields that change pixels, the Lesson's tensors, the source code
   of ``mha_core/`` and ``scenes/``, and the resolution/frame rate.
2. Chapters whose hash has a finished entry in ``<out>/.mha-explainer/cache/<hash>/`` are reused.
   The others render in a pool of ``jobs`` spawned processes. Manim's config is
   process-global, so each job renders under its own ``tempconfig`` with a private
   media folder; the workers receive the main process's Lesson (pickled once per
   worker), so every chapter draws the very tensors that were hashed.
3. A job renders an H.264 master, grabs the last frame, converts to the other
   formats asked for, and moves its finished folder into the cache in one
   ``os.replace``.
4. The chapter videos are copied out of the cache and joined (packets copied, no
   re-encode) into ``lesson.<fmt>`` with one chapter mark per chapter and the index at
   the front of the file (``+faststart``) for web streaming; ``scenes.export`` adds
   captions, frames, tensors, the manifest and the page.
5. All of that is made in a staging folder and moved into ``<out>`` in one commit
   (``scenes.folder``): the folder is the previous run or the new one, never a mix,
   and the tool never replaces or deletes a file it did not write.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import platform
import queue as queue_module
import re
import shutil
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields, is_dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from mha_core.files import sha256_file

from .captions import Cue
from .config import CHAPTER_IDS, LessonConfig
from .folder import claim, package_version, read_manifest, resolve_out, tidy, versions

# Bump when the layout of a cache entry changes: old entries are then ignored.
CACHE_SCHEMA = 2
CACHE_KEEP = 60  # finished chapter entries kept in <out>/.mha-explainer/cache (least recently used go first)
MASTER = "video.mp4"  # every chapter is rendered once to H.264; other formats are converted from it
FULLEST = "fullest.png"  # the chapter's fullest settled frame (thumbnail and poster of the lesson folder)
VIDEO_FORMATS = ("mp4", "webm", "gif")
# Config fields that cannot change a chapter's pixels or cues (what to render and where),
# or whose effect is already in the hash another way (quality/fps/pixel_height via the
# resolved size and rate; device via the tensors).
_NOT_IN_HASH = {"chapters", "out", "formats", "device", "quality", "fps", "pixel_height"}


class RenderError(Exception):
    """A render that cannot go on; ``str(err)`` is one sentence for the user.
    (A folder that cannot be used raises ``scenes.folder.OutputFolderError``, a usage error.)"""


# -- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChapterResult:
    chapter_id: str
    number: int  # 1-based position in the full lesson (CHAPTER_IDS): stable file names
    title: str
    summary: str
    files: dict[str, Path]  # format -> file in out/chapters/
    duration: float  # seconds (frames / fps)
    start: float  # where this chapter starts in the joined video
    cues: tuple[Cue, ...]  # relative to the chapter's start
    cache_key: str
    frame: Path  # the fullest settled frame, PNG (in the cache): for thumbnails and the poster
    cached: bool  # reused from the cache instead of rendered
    render_seconds: float  # wall time Manim spent on this chapter (0 when cached)

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class RenderResult:
    config: LessonConfig
    out: Path
    chapters: tuple[ChapterResult, ...]
    lesson_files: dict[str, Path]  # format -> joined video in out/
    duration: float
    width: int
    height: int
    fps: int
    lesson_hash: str
    code_hash: str
    folder_key: str  # what the whole lesson folder depends on (see unchanged_folder)
    lesson: object = field(repr=False, compare=False, default=None)  # the Lesson built in this process
    timings: dict = field(repr=False, compare=False, default_factory=dict)  # wall seconds per phase of the render
    written: tuple[str, ...] = ()  # every file of the lesson folder (relative names), once it is written

    @property
    def index(self) -> Path:
        """The player page."""
        return self.out / "index.html"

    @property
    def manifest(self) -> Path:
        return self.out / "manifest.json"

    def lesson_cues(self) -> list[Cue]:
        """Every chapter's narration cues, on the joined video's clock."""
        return [Cue(round(c.start + ch.start, 3), round(c.end + ch.start, 3), c.text)
                for ch in self.chapters for c in ch.cues]

    def chapter_marks(self) -> list[tuple[float, float, str]]:
        """(start, end, title) of each chapter, as written into the joined video."""
        return [(ch.start, ch.end, mark_title(ch)) for ch in self.chapters]


def mark_title(chapter: ChapterResult) -> str:
    """A chapter mark's title in the joined video: "2. One head"."""
    return f"{chapter.number}. {chapter.title}"


# -- hashing ---------------------------------------------------------------------


def code_hash() -> str:
    """sha256 of the source files of mha_core/ and scenes/ plus the Manim and PyAV versions."""
    import mha_core
    import scenes

    h = hashlib.sha256(f"manim {package_version('manim')} av {package_version('av')} schema {CACHE_SCHEMA}".encode())
    for package in (mha_core, scenes):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".txt", ".json", ".toml") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def folder_key(config: LessonConfig, code: str | None = None) -> str:
    """sha256 of everything a lesson folder depends on: the whole config (chapters, formats
    and folder included), the code (``code_hash()``, unless given), the player page's template,
    the library versions and the machine's architecture and core count. The manifest records
    it; see ``unchanged_folder``."""
    page = resources.files("scenes") / "templates"
    payload = {
        "config": config.model_dump(mode="json"),
        "code": code or code_hash(),
        "page": {item.name: hashlib.sha256(item.read_bytes()).hexdigest()
                 for item in sorted(page.iterdir(), key=lambda item: item.name) if item.is_file()},
        "versions": versions(),
        # torch's float sums depend on the CPU and its thread count (the main process builds the Lesson)
        "machine": [platform.machine(), os.cpu_count()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def unchanged_folder(config: LessonConfig) -> dict | None:
    """The manifest of ``config.out`` if rendering ``config`` would write that folder again, else None.

    True when the manifest carries this config's ``folder_key`` and every file it lists
    is still there with the recorded size and sha256. The CLI then skips the render
    without importing torch or Manim or building the Lesson (seconds of a new Python).
    The Lesson is a function of the key's inputs: seeded weights and embeddings, MiniLM
    files checked by sha256, the corpus inside ``mha_core/``. Devices other than the CPU
    are left out (a GPU may round differently), so they always take the full path.
    """
    if config.device != "cpu":
        return None
    try:
        out = resolve_out(config.out)
        if not tidy(out):  # not ours, or busy; else what dead runs left is finished or cleared
            return None
        manifest = read_manifest(out)
        if manifest.get("hashes", {}).get("folder") != folder_key(config):
            return None
        for name, recorded in manifest["files"].items():
            path = out / name
            if path.stat().st_size != recorded["bytes"] or sha256_file(path) != recorded["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # an old or hand-edited manifest, a missing file: render
    return manifest


def fingerprint(obj) -> str:
    """sha256 of a value's contents: tensors by dtype, shape and bytes; dataclasses, dicts,
    sequences and plain objects recursively. The LessonConfig inside is skipped (its
    pixel-relevant fields are hashed separately, so chapter subsets share the cache)."""
    h = hashlib.sha256()
    _feed(h, obj, set())
    return h.hexdigest()


def _feed(h, obj, seen: set) -> None:
    import numpy as np
    import torch

    def put(tag: str, data: bytes = b"") -> None:
        h.update(tag.encode() + b"\x1f" + data + b"\x1e")

    if obj is None or isinstance(obj, (bool, int, float, str, complex)):
        put(type(obj).__name__, repr(obj).encode())
        return
    if isinstance(obj, (bytes, bytearray)):
        put("bytes", bytes(obj))
        return
    if isinstance(obj, LessonConfig):
        put("config")
        return
    if id(obj) in seen:
        put("cycle")
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        put(f"tensor {t.dtype} {tuple(obj.shape)}", t.view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        put(f"ndarray {obj.dtype} {obj.shape}", np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, torch.nn.Module):
        put(type(obj).__name__)
        _feed(h, dict(obj.state_dict()), seen)
    elif is_dataclass(obj):
        put(type(obj).__name__)
        for f in fields(obj):
            put(f.name)
            _feed(h, getattr(obj, f.name), seen)
    elif isinstance(obj, dict):
        put("dict")
        for key in sorted(obj, key=repr):
            put(repr(key))
            _feed(h, obj[key], seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        put(type(obj).__name__, str(len(items)).encode())
        for item in items:
            _feed(h, item, seen)
    elif hasattr(obj, "model_dump"):  # other pydantic models
        put(type(obj).__name__, json.dumps(obj.model_dump(mode="json"), sort_keys=True).encode())
    elif hasattr(obj, "__dict__"):
        put(type(obj).__name__)
        _feed(h, {k: v for k, v in vars(obj).items() if not callable(v)}, seen)
    else:  # opaque (e.g. a Rust tokenizer): its type is all we can say
        put(f"opaque {type(obj).__module__}.{type(obj).__qualname__}")


def render_settings(config: LessonConfig) -> dict:
    """What a chapter's pixels and cues depend on, besides the Lesson's numbers and the code."""
    fields_ = config.model_dump(mode="json", exclude=_NOT_IN_HASH)
    return {**fields_, "width": config.width, "height": config.height, "fps": config.frame_rate}


def chapter_key(chapter_id: str, settings: dict, lesson_hash: str, code: str) -> str:
    payload = json.dumps({"chapter": chapter_id, "settings": settings, "lesson": lesson_hash, "code": code},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


# -- the cache ---------------------------------------------------------------------


_ENTRY_NAME = re.compile(r"[0-9a-f]{64}")  # a cache entry is named by its chapter key


class Cache:
    """``<root>/<key>/``: meta.json (written last) + video.mp4 + last.png + fullest.png + conversions.

    ``root`` is ``<out>/.mha-explainer/cache``. An entry appears in one ``os.replace`` of a
    finished folder, so a folder with meta.json is complete; jobs work in ``<root>/tmp/``.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def entry(self, key: str) -> Path:
        return self.root / key

    def meta(self, key: str) -> dict | None:
        try:
            meta = json.loads((self.entry(key) / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if meta.get("schema") == CACHE_SCHEMA else None

    def missing(self, key: str, formats) -> list[str]:
        """Files (by format) that a finished entry still lacks; every format if there is no entry."""
        if self.meta(key) is None:
            return list(formats)
        return [f for f in formats if not (self.entry(key) / _cache_name(f)).is_file()]

    def timings(self) -> dict[str, float]:
        """Seconds each chapter took to render last time (for scheduling the longest first)."""
        try:
            return {str(k): float(v) for k, v in json.loads((self.root / "timings.json").read_text(encoding="utf-8")).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def record_timings(self, seconds: dict[str, float]) -> None:
        if not seconds:
            return
        path = self.root / "timings.json"
        tmp = path.with_name(f".timings.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**self.timings(), **seconds}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def touch(self, key: str) -> None:
        try:
            os.utime(self.entry(key) / "meta.json")
        except OSError:
            pass

    def prune(self, keep: int = CACHE_KEEP, protect: set[str] = frozenset()) -> None:
        """Drop the least recently used entries beyond ``keep`` (never those in ``protect``).
        Only entries are candidates: folders named by a chapter key, inside the cache."""
        entries = []
        for path in self.root.iterdir() if self.root.is_dir() else ():
            meta = path / "meta.json"
            if _ENTRY_NAME.fullmatch(path.name) and path.is_dir() and not path.is_symlink() \
                    and path.name not in protect:
                entries.append((meta.stat().st_mtime if meta.exists() else 0.0, path))
        entries.sort(reverse=True)
        for _, path in entries[max(keep - len(protect), 0):]:
            shutil.rmtree(path, ignore_errors=True)


def _cache_name(fmt: str) -> str:
    return {"mp4": MASTER, "png": "last.png"}.get(fmt, f"video.{fmt}")


# -- the worker (runs in a spawned process) -------------------------------------------

_progress_queue = None
_thread_limits = None
_lesson = None  # the Lesson of the render, sent by the main process


def _init_worker(progress_queue, lesson, cores: int) -> None:
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


def _chapters(spec: str) -> dict:
    """The scene classes named by "module" (its CHAPTERS) or "module:attribute"."""
    import importlib

    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute or "CHAPTERS")


def manim_settings(config: LessonConfig, media_dir: Path, *, fmt: str = "mp4", encoder_threads: int = 0) -> dict:
    """The ``tempconfig`` a chapter renders under: size, rate, theme background, quiet, private media folder."""
    from . import style

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


def _install_fast_frames() -> None:
    """Convert Manim's frames to the video's pixel format with less copying.

    Manim 0.22 hands each RGBA frame to PyAV through ``VideoFrame.from_ndarray``
    (2.5 ms for a 720p frame, more than x264 takes to encode it) and converts it
    again for every repeat of a held frame (``self.wait()``, holds). Here one RGBA
    frame per segment is reused (filling its buffer: 0.2 ms) and converted to YUV
    once per distinct frame, with the same swscale conversion, so the packets are
    the same. A held second costs ~40% less (150 identical 720p frames: 3.0 s ->
    1.9 s), and a new 720p frame costs the encoder thread (which a one-dot video
    waits on) ~7 ms instead of ~9.3 (from_ndarray 2.5, conversion 2.0, x264 4.8). Patched in the render process only; Manim is pinned to 0.22,
    whose ``VideoSegmentEncoder.write_frame`` this mirrors.
    """
    from manim.scene import scene_file_writer
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    if getattr(scene_file_writer.VideoSegmentEncoder, "fast_frames", False):
        return

    class FastFrameEncoder(VideoSegmentEncoder):
        fast_frames = True
        _rgba = _rgba_view = None

        def write_frame(self, pixels, *, repeat: int = 1) -> None:
            if self._stream.pix_fmt == "rgba":  # no conversion: the reused frame would be encoded as is
                return super().write_frame(pixels, repeat=repeat)
            import av
            import numpy as np

            self._validate_frame(pixels, repeat)
            time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
            try:
                if self._rgba is None:
                    height, width = pixels.shape[:2]
                    self._rgba = av.VideoFrame(width, height, "rgba")
                    plane = self._rgba.planes[0]  # rows may be padded to line_size bytes
                    self._rgba_view = (np.frombuffer(plane, np.uint8).reshape(height, plane.line_size)
                                       [:, : width * 4].reshape(height, width, 4))
                np.copyto(self._rgba_view, pixels)
                frame = self._rgba.reformat(format=self._stream.pix_fmt)  # a new frame: the encoder keeps it
                frame.time_base = time_base
                for _ in range(repeat):
                    frame.pts = self._next_pts
                    self._next_pts += 1
                    for packet in self._stream.encode(frame):
                        self._container.mux(packet)
            except BaseException as error:
                raise self._operation_error("encode", error) from error

    scene_file_writer.VideoSegmentEncoder = FastFrameEncoder


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

    _install_fast_frames()
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


def _run_job(job: Job) -> dict:
    """Make sure ``job.key``'s cache entry has ``job.formats``; returns its meta (or an error)."""
    from . import media

    started = time.perf_counter()
    cache_root = Path(job.cache_root)
    entry = cache_root / job.key
    work = cache_root / "tmp" / f"{job.key[:16]}-{os.getpid()}"
    try:
        if not job.force and (entry / "meta.json").is_file() and (entry / MASTER).is_file():
            # Only conversions are missing: add them to the finished entry, each atomically.
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            _convert(entry / MASTER, entry, job.formats)
            return {**meta, "rendered": False}

        _report("start", job.chapter_id)
        lesson = _lesson
        scene_cls = _chapters(job.chapters_module)[job.chapter_id]
        work.mkdir(parents=True, exist_ok=True)
        built = work / "entry"
        built.mkdir()
        video_wanted = any(f in VIDEO_FORMATS for f in job.formats)
        settings = manim_settings(lesson.config, work / "media", fmt="mp4" if video_wanted else "png",
                                  encoder_threads=job.encoder_threads)
        scene, video, frame, fullest = render_scene(lambda: scene_cls(lesson), settings,
                                                    on_play=lambda t: _report("time", job.chapter_id, t))
        render_seconds = time.perf_counter() - started
        if video_wanted:
            if video is None:
                raise RuntimeError(f"chapter {job.chapter_id!r} produced no video (does it play any animation?)")
            os.replace(video, built / MASTER)
            duration = media.probe(built / MASTER).duration
        else:
            duration = float(scene.renderer.time)
        media.save_png(frame, built / "last.png")
        media.save_png(fullest, built / FULLEST)
        _convert(built / MASTER, built, job.formats)
        meta = {
            "schema": CACHE_SCHEMA,
            "chapter_id": job.chapter_id,
            "title": scene_cls.title,
            "summary": scene_cls.summary,
            "duration": duration,
            "cues": [c.to_dict() for c in scene.cues],
            "render_seconds": round(render_seconds, 3),  # Manim: construct + frames + encoding
            "job_seconds": round(time.perf_counter() - started, 3),  # + last frame, conversions
            "key": job.key,
        }
        (built / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if entry.exists():  # superseded: an entry without a video (png only), or --no-cache
            shutil.rmtree(entry)
        os.replace(built, entry)
        _report("done", job.chapter_id)
        return {**meta, "rendered": True}
    except BaseException as err:  # noqa: BLE001 - reported to the main process, which decides
        first_line = (str(err).strip().splitlines() or [""])[0]
        return {"error": f"{type(err).__name__}: {first_line}".rstrip(": "), "traceback": traceback.format_exc()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _convert(master: Path, folder: Path, formats) -> None:
    from . import media

    for fmt in formats:
        target = folder / _cache_name(fmt)
        if fmt in ("webm", "gif") and not target.is_file():
            media.convert(master, target)


# -- the main process ------------------------------------------------------------------


def render_lesson(config: LessonConfig, *, jobs: int | None = None, use_cache: bool = True,
                  console=None, lesson=None, chapters_module: str = "scenes.chapters") -> RenderResult:
    """Render ``config.chapters`` and write the lesson folder ``config.out``; see the module docstring.

    ``jobs``: processes rendering at once (default: one per CPU core).
    ``use_cache``: False re-renders every chosen chapter.
    ``console``: a rich Console for the live progress display (None: quiet).
    ``lesson``: a Lesson already built from ``config`` (else it is built here).
    ``chapters_module``: "module[:attribute]" of the {chapter id: scene class} dict to render
    (default: the lesson's CHAPTERS; tests swap in their own).
    Raises ``scenes.folder.OutputFolderError`` (a usage error) when the folder is not ours, is
    busy or cannot be written, before anything renders; ``RenderError`` when a chapter fails;
    the folder then stays as the previous run left it.
    """
    from . import export

    with claim(config.out, export.planned_names(config)) as folder:
        result = _render_into(folder, config, jobs=jobs, use_cache=use_cache, console=console, lesson=lesson,
                              chapters_module=chapters_module)
        started = time.perf_counter()
        names = export.write_lesson_folder(result, folder.staging)
        result.timings["export"] = round(time.perf_counter() - started, 3)
        folder.commit(names)
    return dataclasses.replace(result, written=tuple(names))


def _render_into(folder, config: LessonConfig, *, jobs, use_cache, console, lesson, chapters_module) -> RenderResult:
    """Render the chapters (cache first) and put their videos and the joined lesson in ``folder.staging``."""
    from . import export, media

    clock = _Clock()
    out, staging = folder.root, folder.staging
    formats = tuple(dict.fromkeys(config.formats))
    chapter_ids = tuple(dict.fromkeys(config.chapters))
    # Conversions (webm, gif) are made from the H.264 master, so any video format needs it.
    cache_formats = tuple(dict.fromkeys((["mp4"] if set(formats) & set(VIDEO_FORMATS) else []) + list(formats)))

    if lesson is None:
        from .lesson import build_lesson

        lesson = build_lesson(config)
    clock.lap("lesson")
    lesson_hash = fingerprint(lesson)
    code = code_hash()
    settings = render_settings(config)
    if chapters_module != "scenes.chapters":  # other scenes, other pixels
        settings = {**settings, "chapters_module": chapters_module}
    keys = {cid: chapter_key(cid, settings, lesson_hash, code) for cid in chapter_ids}
    cache = Cache(folder.cache)
    (cache.root / "tmp").mkdir(parents=True, exist_ok=True)  # (what killed renders left there is gone: recover)
    # --no-cache renders every chosen chapter; the old entry is replaced only once the new one is done.
    todo = [cid for cid in chapter_ids if not use_cache or cache.missing(keys[cid], cache_formats)]

    # Longest first (from the last render's timings), so the pool does not end on one long job.
    last_times = cache.timings()
    todo.sort(key=lambda cid: -last_times.get(cid, float("inf")))
    workers = _workers(jobs, len(todo))
    # Each worker's cores: one draws (Manim's thread), the rest encode. x264's own choice (0) takes
    # every core and costs ~10% more CPU on 2 cores for no gain (cost chapter, 720p30: 32.0 s -> 28.9 s).
    threads = max(1, _cores_per_worker(workers) - 1)
    job_list = [Job(cid, keys[cid], cache_formats, str(cache.root), chapters_module,
                    force=not use_cache, encoder_threads=threads) for cid in todo]
    clock.lap("hash")
    metas = _run_jobs(job_list, jobs, lesson, console)
    clock.lap("jobs")
    cache.record_timings({cid: m["job_seconds"] for cid, m in metas.items() if m.get("rendered")})

    rendered = {cid for cid, m in metas.items() if m.get("rendered")}
    failures = {cid: m for cid, m in metas.items() if "error" in m}
    if failures:
        folder.logs.mkdir(parents=True, exist_ok=True)
        for cid, m in failures.items():
            (folder.logs / f"{cid}.log").write_text(m["traceback"], encoding="utf-8")
        cid, m = next(iter(failures.items()))
        others = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise RenderError(f"chapter {cid!r} failed{others}: {m['error']}; "
                          f"the full traceback is in {folder.logs / (cid + '.log')}")

    # Each chapter's files, copied out of the cache into the staging folder.
    results, start = [], 0.0
    for cid in chapter_ids:
        key = keys[cid]
        meta = cache.meta(key)
        cache.touch(key)
        files = {}
        for fmt in formats:
            name = f"chapters/{export.chapter_stem(cid)}.{fmt}"
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cache.entry(key) / _cache_name(fmt), staging / name)
            files[fmt] = out / name
        results.append(ChapterResult(
            chapter_id=cid, number=CHAPTER_IDS.index(cid) + 1, title=meta["title"], summary=meta["summary"],
            files=files, duration=meta["duration"], start=round(start, 6), cues=tuple(Cue(**c) for c in meta["cues"]),
            cache_key=key, frame=cache.entry(key) / FULLEST, cached=cid not in rendered,
            render_seconds=meta["render_seconds"] if cid in rendered else 0.0,
        ))
        start += meta["duration"]

    clock.lap("copy")
    # The joined lesson video, per video format, with one chapter mark per chapter.
    marks = [media.ChapterMark(ch.start, ch.end, mark_title(ch)) for ch in results]
    lesson_files = {}
    for fmt in formats:
        if fmt not in VIDEO_FORMATS:
            continue
        name = f"lesson.{fmt}"
        # A GIF is made from the masters' frames (one palette); other formats copy packets.
        sources = [cache.entry(ch.cache_key) / (MASTER if fmt == "gif" else _cache_name(fmt)) for ch in results]
        media.join_videos(sources, staging / name, marks)
        lesson_files[fmt] = out / name
    cache.prune(protect=set(keys.values()))
    clock.lap("join")
    return RenderResult(config=config, out=out, chapters=tuple(results), lesson_files=lesson_files,
                        duration=round(start, 6), width=config.width, height=config.height, fps=config.frame_rate,
                        lesson_hash=lesson_hash, code_hash=code, folder_key=folder_key(config, code), lesson=lesson,
                        timings=clock.laps)


def _run_jobs(job_list: list[Job], jobs: int | None, lesson, console) -> dict:
    """Run the jobs in a pool of spawned processes; returns {chapter: meta or error}."""
    if not job_list:
        return {}
    workers = _workers(jobs, len(job_list))
    ctx = multiprocessing.get_context("spawn")
    progress_queue = ctx.Queue()
    display = _Display(console, sorted((j.chapter_id for j in job_list), key=CHAPTER_IDS.index))
    metas = {}
    cores = _cores_per_worker(workers)
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(progress_queue, lesson, cores))
    try:
        with display:
            pending = {}
            for job in job_list:
                pending[executor.submit(_run_job, job)] = job.chapter_id
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, display)
                for future in done:
                    cid = pending.pop(future)
                    try:
                        metas[cid] = future.result()
                    except Exception as err:  # a worker died (killed, out of memory)
                        metas[cid] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
                    display.finish(cid, metas[cid])
        executor.shutdown(wait=True)
    except BaseException:
        # Interrupted: stop the workers now (else the pool waits for their jobs to finish); their
        # half-made files are in the cache's tmp/ and go below. shutdown() forgets the processes: take them first.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        executor.shutdown(wait=True)  # the pool's manager sees its workers gone and frees its queues
        raise
    finally:
        progress_queue.close()
        progress_queue.join_thread()
        _clean_tmp(job_list)
    return metas


class _Clock:
    """Wall time per phase of a render (``RenderResult.timings``; the benchmark prints it)."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def _cores_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _workers(jobs: int | None, n_jobs: int) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, n_jobs))


def _clean_tmp(job_list: list[Job]) -> None:
    for job in job_list:
        for path in (Path(job.cache_root) / "tmp").glob(f"{job.key[:16]}-*"):
            shutil.rmtree(path, ignore_errors=True)


def _drain(progress_queue, display) -> None:
    while True:
        try:
            message = progress_queue.get_nowait()
        except (queue_module.Empty, OSError, EOFError, ValueError):
            return
        kind, cid, *rest = message
        if kind == "start":
            display.start(cid)
        elif kind == "time":
            display.advance(cid, rest[0])


class _Display:
    """The live progress table (rich): one row per chapter being rendered, plus the total."""

    def __init__(self, console, chapter_ids):
        self.console = console
        self.progress = None
        if console is None:
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description:<22}"), BarColumn(bar_width=24),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console, transient=False,
        )
        self.total = self.progress.add_task("all chapters", total=len(chapter_ids), status=f"0/{len(chapter_ids)}")
        self.rows = {cid: self.progress.add_task(cid, total=None, start=False, status="queued")
                     for cid in chapter_ids}
        self.n_done = 0

    def __enter__(self):
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def start(self, cid):
        if self.progress is not None:
            self.progress.start_task(self.rows[cid])
            self.progress.update(self.rows[cid], status="rendering")

    def advance(self, cid, video_seconds):
        if self.progress is not None:
            self.progress.update(self.rows[cid], status=f"{video_seconds:5.1f} s of video")

    def finish(self, cid, meta):
        if self.progress is None:
            return
        self.n_done += 1
        row = self.rows[cid]
        if "error" in meta:
            status = "[red]failed[/]"
        else:
            status = f"[green]done[/] {meta.get('duration', 0):.1f} s"
        self.progress.update(row, total=1, completed=1, status=status)
        self.progress.stop_task(row)
        self.progress.update(self.total, completed=self.n_done, status=f"{self.n_done}/{len(self.rows)}")

