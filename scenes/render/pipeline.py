"""Render the lesson: one process per chapter, a content-hash cache, the joined video.

    result = render_lesson(LessonConfig(chapters=("intro", "one-head")), jobs=2)
    result.lesson_files["mp4"]     # media/lesson.mp4, with chapter marks
    result.chapters[0].cues        # narration cues of the first chapter

How a render goes:
1. The main process builds the Lesson once and hashes what each chapter depends
   on: the config fields that change pixels, the Lesson's tensors, the source code
   that reaches the chapter's frames and sound (``keys.chapter_code_hash``: its scene
   module and what it imports, not the export or page code), and the resolution/frame rate.
2. Chapters whose hash has an intact entry in the render cache (``<cache>/<hash>/``, outside the lesson
   folder: ``cache_folder``) are reused (every file as its meta.json records it, size and SHA-256; a
   damaged entry is discarded); when ``cache`` is an object store's URL, what the store holds is fetched
   into this machine's cache first (``chapter_store``), and what it lacks is put there afterwards.
   The others render in a pool of ``jobs`` spawned processes. Manim's config is process-global, so each
   job renders under its own ``tempconfig`` with a private media folder; the workers receive the main
   process's Lesson (pickled once per worker), so every chapter draws the very tensors that were hashed.
3. A job renders an H.264 master, grabs the last frame, converts to the other
   formats asked for, and moves its finished folder into the cache in one
   ``os.replace``.
4. The chapter videos are copied out of the cache and joined (packets copied, no
   re-encode) into ``lesson.<fmt>`` with one chapter mark per chapter and the index at
   the front of the file (``+faststart``) for web streaming; ``export`` adds
   captions, frames, tensors, the manifest and the page.
5. All of that is made in a staging folder and moved into ``<out>`` in one commit
   (``folder``): the folder is the previous run or the new one, never a mix,
   and the tool never replaces or deletes a file it did not write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..lesson.config import LessonConfig
from ..narration import Beat, Cue
from ..voice import Voice, resolve_voice
from .cache import FULLEST, MASTER, NARRATION, SPEECH, Cache, cache_name
from .cache_folder import limit_bytes, open_cache
from .chapter_store import is_store, open_store
from .captions import chapter_cues
from .folder import claim, resolve_out
from .jobs import cores_per_worker, run_jobs, workers_for
from .keys import chapter_code_hash, chapter_key, code_hash, fingerprint, folder_key, render_settings
from .worker import VIDEO_FORMATS, Job


class RenderError(Exception):
    """A render that cannot go on; ``str(err)`` is one sentence for the user.
    (A folder that cannot be used raises ``scenes.render.folder.OutputFolderError``, a usage error.)"""


@dataclass(frozen=True)
class ChapterResult:
    chapter_id: str
    number: int  # its place in the lesson's chapters (config.chapters, the author's order), from 1
    title: str
    summary: str
    files: dict[str, Path]  # format -> file in out/chapters/
    duration: float  # seconds, from the frames' timestamps (a held frame is one frame shown for its duration)
    start: float  # where this chapter starts in the joined video
    cues: tuple[Cue, ...]  # captions, relative to the chapter's start
    beats: tuple[Beat, ...]  # what the voice says, relative to the chapter's start
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
    voice: Voice  # who speaks (kind "none": a silent lesson)
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
        """Every chapter's captions (``captions.chapter_cues``) on the joined video's clock."""
        return joined_cues(self.chapters)

    def lesson_beats(self) -> list[dict]:
        """Every beat on the joined video's clock, with its chapter's file stem (transcript.json)."""
        from .export import chapter_stem

        return [{"chapter": chapter_stem(ch.chapter_id, ch.number), **b.to_dict(),
                 "start": round(b.start + ch.start, 3), "end": round(b.end + ch.start, 3)}
                for ch in self.chapters for b in ch.beats]

    def chapter_marks(self) -> list[tuple[float, float, str]]:
        """(start, end, title) of each chapter, as written into the joined video."""
        return [(ch.start, ch.end, mark_title(ch)) for ch in self.chapters]


def joined_cues(chapters) -> list[Cue]:
    """The chapters' captions, one after another on the joined video's clock."""
    return [Cue(round(c.start + ch.start, 3), round(c.end + ch.start, 3), c.text)
            for ch in chapters for c in chapter_cues(ch)]


def mark_title(chapter: ChapterResult) -> str:
    """A chapter mark's title in the joined video: "2. One head"."""
    return f"{chapter.number}. {chapter.title}"


def render_lesson(config: LessonConfig, *, jobs: int | None = None, use_cache: bool = True,
                  console=None, lesson=None, chapters_module: str = "scenes.chapters",
                  voice: Voice | None = None, scripts=None, cache_root: Path | None = None,
                  executor=None, prune: bool = True) -> RenderResult:
    """Render ``config.chapters`` and write the lesson folder ``config.out``; see the module docstring.

    ``jobs``: processes rendering at once (default: one per CPU core).
    ``use_cache``: False re-renders every chosen chapter.
    ``console``: a rich Console for the live progress display (None: quiet).
    ``lesson``: a Lesson already built from ``config`` (else it is built here).
    ``voice``: the voice ``config.voice`` names, if the caller resolved it already (else it is resolved here).
    ``scripts``: the lesson's words (``lesson.script.Scripts``), if the caller loaded them already.
    ``chapters_module``: "module[:attribute]" of the {chapter id: scene class} dict to render
    (default: the lesson's CHAPTERS; tests swap in their own).
    ``cache_root``: the render cache, a folder the caller made ready (``cache_folder.open_cache``: a course's);
    default: ``config.cache``, opened here, before the folder is touched.
    ``executor``: what renders the chapters the cache lacks, ``executor(job_list, jobs, lesson, console)`` ->
    {chapter: meta or error} (default: ``jobs.run_jobs``, the local process pool).
    ``prune``: keep the cache within ``config.cache_size`` afterwards (a course prunes once, at its end).
    Raises ``folder.OutputFolderError`` (a usage error) when the folder is not ours, is
    busy or cannot be written, before anything renders; ``RenderError`` when a chapter fails;
    the folder then stays as the previous run left it.
    """
    from . import export

    # Before the folder is touched: a missing voice is a usage error. (A caller that resolved it passes it.)
    voice = voice or resolve_voice(config.voice)
    if voice.notice and console is not None:
        console.print(f"[yellow]note:[/] {voice.notice}")
    store = None
    if cache_root is None:  # someone else's folder there, or one that cannot be written: a usage error, now
        cache_root = open_cache(config.cache, out=resolve_out(config.out))
        if is_store(config.cache):  # a store in front of which this machine's cache stands (a course: its own)
            store = open_store(config.cache, limit_bytes(config.cache_size))
    folder = None
    try:
        with claim(config.out, export.planned_names(config)) as folder:
            for notice in folder.notices:
                if console is not None:
                    console.print(f"[yellow]note:[/] {notice}")
            result = _render_into(folder, config, voice, jobs=jobs, use_cache=use_cache, console=console,
                                  lesson=lesson, chapters_module=chapters_module, scripts=scripts,
                                  cache_root=cache_root, executor=executor, prune=prune, store=store)
            started = time.perf_counter()
            names = export.write_lesson_folder(result, folder.staging)
            result.timings["export"] = round(time.perf_counter() - started, 3)
            folder.commit(names)
    except OSError as err:  # a full disk, a quota, a folder made read-only meanwhile
        state = "will be finished by the next render" if folder is not None and folder.committed \
            else "is as the last render left it"
        raise RenderError(f"cannot write the lesson into {resolve_out(config.out)} ({err.strerror or err}); free "
                          f"some space or choose another folder with --out (the folder {state})") from None
    return dataclasses.replace(result, written=tuple(names))


def cache_formats(formats) -> tuple[str, ...]:
    """What a chapter's cache entry holds for these output formats: conversions (webm, gif) are made from
    the H.264 master, so any video format needs it."""
    formats = tuple(dict.fromkeys(formats))
    return tuple(dict.fromkeys((["mp4"] if set(formats) & set(VIDEO_FORMATS) else []) + list(formats)))


def _render_into(folder, config: LessonConfig, voice: Voice, *, jobs, use_cache, console, lesson,
                 chapters_module, scripts, cache_root, executor=None, prune=True, store=None) -> RenderResult:
    """Render the chapters (cache first) and put their videos and the joined lesson in ``folder.staging``."""
    from . import audio, export, media

    clock = _Clock()
    out, staging = folder.root, folder.staging
    formats = tuple(dict.fromkeys(config.formats))
    chapter_ids = tuple(dict.fromkeys(config.chapters))
    entry_formats = cache_formats(formats)

    if lesson is None:
        from ..lesson.build import build_lesson

        lesson = build_lesson(config, scripts)
    keys, lesson_hash = chapter_keys(lesson, voice, chapter_ids, chapters_module)
    clock.lap("lesson")
    code = code_hash()
    cache = Cache(cache_root)  # with tmp/ and speech/, real folders of ours (``open_cache``)
    cache.clean_tmp()  # work folders of renders that were killed (a running one keeps its own)
    if store is not None and use_cache:  # what the store holds and this machine lacks: fetched, each checked
        with _store_failures():
            stored = store.keys()
            for cid in chapter_ids:
                if keys[cid] in stored and cache.missing(keys[cid], entry_formats):
                    store.fetch(keys[cid], cache)
    # --no-cache renders every chosen chapter; the old entry is replaced only once the new one is done.
    # An entry whose files do not match their recorded hashes is discarded by ``missing`` and rendered again.
    todo = [cid for cid in chapter_ids if not use_cache or cache.missing(keys[cid], entry_formats)]

    # Longest first (from the last render's timings), so the pool does not end on one long job.
    last_times = cache.timings()
    todo.sort(key=lambda cid: -last_times.get(cid, float("inf")))
    workers = workers_for(jobs, len(todo))
    # Each worker's cores: one draws (Manim's thread), the rest encode. x264's own choice (0) takes
    # every core and costs ~10% more CPU on 2 cores for no gain (cost chapter, 720p30: 32.0 s -> 28.9 s).
    threads = max(1, cores_per_worker(workers) - 1)
    job_list = [Job(cid, keys[cid], entry_formats, str(cache.root), chapters_module, force=not use_cache,
                    encoder_threads=threads, voice=voice, speech_root=str(cache.root / SPEECH)) for cid in todo]
    clock.lap("hash")
    metas = (executor or run_jobs)(job_list, jobs, lesson, console)
    clock.lap("jobs")
    cache.record_timings({cid: m["job_seconds"] for cid, m in metas.items() if m.get("rendered")})

    rendered = {cid for cid, m in metas.items() if m.get("rendered")}
    failures = {cid: m for cid, m in metas.items() if "error" in m}
    if failures:
        cid, m = next(iter(failures.items()))
        others = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise RenderError(f"chapter {cid!r} failed{others}: {m['error']}; "
                          f"the full traceback is in {_write_logs(failures)[cid]}")
    if store is not None:  # what was rendered or converted here, and what the store lacks of this lesson
        with _store_failures():
            for cid in metas:  # changed here: read and checked again before they are put
                cache.forget(keys[cid])
            for key in sorted({keys[cid] for cid in metas} | (set(keys.values()) - store.keys())):
                store.put(key, cache)
        clock.lap("store")

    # Each chapter's files, copied out of the cache into the staging folder (each entry checked first).
    results, start = [], 0.0
    for cid in chapter_ids:
        key = keys[cid]
        if cid in metas:
            cache.forget(key)  # rendered or converted just now: read and check what the worker wrote
        meta = cache.verified(key, {cache_name(fmt) for fmt in formats} | {FULLEST})
        try:
            if meta is None:
                raise ValueError("files missing or changed")
            cues = tuple(Cue(**c) for c in meta["cues"])
            beats = tuple(Beat(**{**b, "sentences": tuple(b["sentences"])}) for b in meta["beats"])
        except (ValueError, TypeError, KeyError):
            cache.discard(key)
            raise RenderError(f"the cached render of chapter {cid!r} changed while it was in use and was "
                              "discarded; render again") from None
        cache.touch(key)
        files = {}
        for fmt in formats:
            name = f"chapters/{export.chapter_stem(cid, config.chapter_number(cid))}.{fmt}"
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cache.entry(key) / cache_name(fmt), staging / name)
            files[fmt] = out / name
        results.append(ChapterResult(
            chapter_id=cid, number=config.chapter_number(cid), title=meta["title"], summary=meta["summary"],
            files=files, duration=meta["duration"], start=round(start, 6), cues=cues, beats=beats,
            cache_key=key, frame=cache.entry(key) / FULLEST, cached=cid not in rendered,
            render_seconds=meta["render_seconds"] if cid in rendered else 0.0,
        ))
        start += meta["duration"]

    clock.lap("copy")
    # The joined lesson video, per video format, with one chapter mark per chapter.
    marks = [media.ChapterMark(ch.start, ch.end, mark_title(ch)) for ch in results]
    lesson_cues = joined_cues(results)
    joined = cache.joined([ch.cache_key for ch in results])
    sound = None
    lesson_files = {}
    for fmt in formats:
        if fmt not in VIDEO_FORMATS:
            continue
        name = f"lesson.{fmt}"
        if not use_cache or not cache.joined_file(joined, name):  # else these chapters were joined before: copied
            # A GIF is made from the masters' frames (one palette); other formats copy packets.
            source = MASTER if fmt == "gif" else cache_name(fmt)
            for ch in results:  # what the join reads, checked first (the narration only now: it is big)
                if cache.verified(ch.cache_key, {source} | ({NARRATION} if voice.speaks else set())) is None:
                    cache.discard(ch.cache_key)
                    raise RenderError(f"the cached render of chapter {ch.chapter_id!r} is damaged and was discarded; "
                                      "render again")
            if sound is None and voice.speaks:
                # One sound track for the whole lesson, encoded once: each chapter's sound fitted to its
                # video, sample-exact, so nothing drifts or clicks at the joins.
                sound = audio.join_tracks([cache.entry(ch.cache_key) / NARRATION for ch in results],
                                          [ch.duration for ch in results])
            sources = [cache.entry(ch.cache_key) / source for ch in results]
            media.join_videos(sources, joined / name, marks, audio=sound, captions=lesson_cues,
                              language=lesson.scripts.shared.text("track-language", {}))
            cache.record_joined(joined, name)
        shutil.copyfile(joined / name, staging / name)
        os.utime(joined)  # recently used: kept by the cache's pruning
        lesson_files[fmt] = out / name
    if prune:
        cache.prune(limit_bytes(config.cache_size), protect=set(keys.values()))
    clock.lap("join")
    return RenderResult(config=config, out=out, chapters=tuple(results), lesson_files=lesson_files,
                        duration=round(start, 6), width=config.width, height=config.height, fps=config.frame_rate,
                        lesson_hash=lesson_hash, code_hash=code, voice=voice,
                        folder_key=folder_key(config, code, voice, lesson.scripts), lesson=lesson,
                        timings=clock.laps)


def chapter_keys(lesson, voice: Voice, chapter_ids, chapters_module: str = "scenes.chapters") -> tuple[dict, str]:
    """({chapter id: cache key}, the lesson's hash): each key covers what reaches that chapter's frames and
    sound (``keys.chapter_key``): the Lesson data it reads, computed here and only that (``render concat``
    measures no heads), its words, its code, the config fields that reach pixels and who speaks. The
    lesson's hash (in the manifest) is the hash of the chapters' data hashes."""
    from ..lesson.build import chapter_data

    config = lesson.config
    data = {cid: fingerprint(chapter_data(lesson, cid) if chapters_module == "scenes.chapters" else lesson)
            for cid in chapter_ids}
    settings = {"voice": voice.identity}  # "auto" speaks with what is installed
    if chapters_module != "scenes.chapters":  # other scenes, other pixels
        settings = {**settings, "chapters_module": chapters_module}
    words = lesson.scripts
    keys = {cid: chapter_key(cid, {**render_settings(config, cid), **settings}, data[cid],
                             chapter_code_hash(cid, chapters_module),
                             words=(words[cid].digest if cid in words.files else "", words.shared.digest))
            for cid in chapter_ids}
    return keys, hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@contextlib.contextmanager
def _store_failures():
    """The store failing half-way (the network, credentials expired): the render stops with its one sentence."""
    from .chapter_store import StoreError

    try:
        yield
    except StoreError as err:
        raise RenderError(str(err)) from None


def _write_logs(failures: dict) -> dict[str, str]:
    """Each failed chapter's traceback in a new file of the temporary folder (not the lesson folder: a run
    that does not commit leaves nothing there); made with O_EXCL under a random name, never through a link."""
    logs = {}
    for cid, m in failures.items():
        try:
            fd, path = tempfile.mkstemp(prefix=f"mha-explainer-{cid}-", suffix=".log")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(m["traceback"])
            logs[cid] = path
        except OSError as err:
            logs[cid] = f"nowhere (the temporary folder cannot be written: {err.strerror or err})"
    return logs


class _Clock:
    """Wall time per phase of a render (``RenderResult.timings``; the benchmark prints it)."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now
