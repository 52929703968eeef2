"""Render a course: every lesson of a course file, its chapters on local processes or a Dask cluster.

    course = read_course("course.toml")                       # course_file: every lesson checked
    plan = plan_course(course, Path("course"))                # lessons built, keys, what the cache holds
    result = render_course(plan, LocalEngine(jobs=2), console=console)

How a course goes:
1. The plan (``plan_course``, also ``--dry-run``): each lesson folder is checked (new, empty, or a lesson
   folder of ours); a lesson whose folder is unchanged (``keys.unchanged_folder``) is kept without building
   anything; the others are built and their chapters' keys computed, and the shared cache says which
   chapters are already made. A chapter shared by several lessons (same key) is one piece of work.
2. The course folder is claimed (``folder.claim``, kind "course": its lock, staging and manifest); the
   first run commits its manifest at once, so the folder (and its cache) stays if the run stops.
3. With a store (``cache`` an object store's URL: ``chapter_store``), the chapters it holds and this
   machine's cache lacks are fetched first (each checked). The engine renders the chapters still lacking,
   longest first, each a ``ChapterSpec`` run in a fresh process (``engines``) that puts its chapter into
   the store; a failed chapter stops the course with one sentence. What workers elsewhere rendered is
   fetched before its lesson folder is written (4.), and what the store still lacks of the course is put
   there at the end.
4. Each lesson folder is written by ``pipeline.render_lesson`` from the cache (nothing left to render),
   as ``render`` writes it (the same bytes), as soon as its chapters are in: while the engine renders the
   others (``_LessonFolders``). Then the course page (``index.html``), the course record
   (``course.json``) and the manifest are committed; the cache is pruned, keeping every course chapter.
"""

from __future__ import annotations


import hashlib
import json
import queue as queue_module
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

from . import guard
from .cache_folder import cache_location, check_cache_folder, limit_bytes, open_cache
from .course_file import Course, CourseLesson, with_folders
from .folder import GENERATOR, MANIFEST, OutputFolderError, claim, owned_files, read_manifest, resolve_out, versions

COURSE_PAGE = "index.html"
COURSE_RECORD = "course.json"
COURSE_FILES = (COURSE_PAGE, COURSE_RECORD, MANIFEST)
COURSE_FORMAT = 1


class CourseError(RuntimeError):
    """A course that cannot go on; ``str(err)`` is one sentence."""


@dataclass
class LessonPlan:
    lesson: CourseLesson
    unchanged: dict | None = None  # the lesson folder's manifest when rendering would write it again as it is
    built: object = None  # the Lesson (None when unchanged)
    voice: object = None
    scripts: object = None
    keys: dict = field(default_factory=dict)  # chapter id -> key
    missing: tuple[str, ...] = ()  # chapters whose entry the cache lacks (and the store, if there is one)
    stored: tuple[str, ...] = ()  # chapters the cache lacks and the store holds: fetched, not rendered

    @property
    def name(self) -> str:
        return self.lesson.name


@dataclass
class CoursePlan:
    course: Course
    out: Path
    cache: Path  # this machine's render cache (in front of the store, when there is one)
    lessons: list[LessonPlan]
    chapters_module: str = "scenes.chapters"
    store: object = None  # chapter_store.Store: the store the course shares, or None (a folder: ``cache``)

    @property
    def chapters(self) -> int:
        return sum(len(p.lesson.config.chapters) for p in self.lessons)

    def todo(self) -> dict[str, tuple[LessonPlan, str]]:
        """key -> (the first lesson that needs it, chapter id): each chapter to render once."""
        work = {}
        for plan in self.lessons:
            for cid in plan.missing:
                work.setdefault(plan.keys[cid], (plan, cid))
        return work


@dataclass(frozen=True)
class CourseResult:
    out: Path
    page: Path
    record: dict
    rendered: int
    reused: int
    kept: bool  # nothing changed: the course folder was kept as it was


# -- the plan ----------------------------------------------------------------------------------


def plan_course(course: Course, out: Path, cache: str | None = None, *, chapters_module: str = "scenes.chapters",
                dry_run: bool = False, progress=None) -> CoursePlan:
    """Every lesson's folder checked, its Lesson built (unless its folder is unchanged) and its chapters looked
    up in the cache. Raises ``OutputFolderError`` (a usage error) for a folder that is not ours."""
    from . import export
    from .cache import FULLEST, Cache, cache_name
    from .keys import unchanged_folder
    from .chapter_store import is_store, open_store

    out = resolve_out(out)
    owned_files(out, COURSE_FILES, kind="course", ours=[lesson.name for lesson in course.lessons])
    course = with_folders(course, out)
    location = cache if cache is not None else course.cache_location()
    root = cache_location(location)
    check_cache_folder(root, out)
    store = None
    if is_store(location):  # reachable and ours: said now, before anything renders (a dry run puts no marker)
        store = open_store(location, limit_bytes(max(lesson.config.cache_size for lesson in course.lessons)),
                           create=not dry_run)
    stored = store.keys() if store is not None else set()
    for lesson in course.lessons:  # someone else's file in a lesson folder: found before anything renders
        what = guard.kind(out, lesson.name) if out.is_dir() else None
        if what not in (None, "folder"):  # a link planted where a lesson folder goes is never followed
            raise OutputFolderError(f"{out / lesson.name} is {_what(what)}, not a lesson folder mha-explainer made; "
                                    "move it away or choose another folder with --out")
        owned_files(resolve_out(lesson.config.out), export.planned_names(lesson.config))
    voices, words = {}, {}
    local = Cache(root)
    plans = []
    for number, lesson in enumerate(course.lessons, 1):
        config = lesson.config
        voice = voices.get(config.voice) or voices.setdefault(config.voice, _voice(config.voice))
        scripts = words.get(config.script) or words.setdefault(config.script, _scripts(config.script))
        plan = LessonPlan(lesson, voice=voice, scripts=scripts)
        if chapters_module == "scenes.chapters":
            plan.unchanged = unchanged_folder(config, voice, scripts) if not dry_run else _unchanged_readonly(
                config, voice, scripts)
        if plan.unchanged is None:
            if progress is not None:
                progress(f"planning lesson {number} of {len(course.lessons)}: {lesson.name}")
            from ..lesson.build import build_lesson  # torch and Manim: only when a lesson must be built
            from .pipeline import cache_formats, chapter_keys

            plan.built = build_lesson(config, scripts)
            plan.keys, _ = chapter_keys(plan.built, voice, config.chapters, chapters_module)
            formats = cache_formats(config.formats)
            names = {cache_name(f) for f in formats} | {FULLEST}
            if dry_run:  # reads only: a damaged entry is counted as missing, not discarded
                lacking = [cid for cid in config.chapters if local.verified(plan.keys[cid], names) is None]
            else:
                lacking = [cid for cid in config.chapters if local.missing(plan.keys[cid], formats)]
            plan.stored = tuple(cid for cid in lacking if plan.keys[cid] in stored)
            plan.missing = tuple(cid for cid in lacking if plan.keys[cid] not in stored)
        plans.append(plan)
    return CoursePlan(course, out, root, plans, chapters_module, store)


def _what(kind: str) -> str:
    return {"link": "a symbolic link", "file": "a file", "blocked": "inside a link"}.get(kind, "not a folder")


def _voice(spec):
    from ..voice import resolve_voice

    return resolve_voice(spec)


def _scripts(folder):
    from ..lesson.script import load_scripts

    return load_scripts(folder)


def _unchanged_readonly(config, voice, scripts) -> dict | None:
    """``unchanged_folder`` without taking the folder's lock (a dry run writes nothing)."""
    from .cache import intact
    from .folder import is_lesson_name
    from .keys import folder_key

    if config.device != "cpu":
        return None
    try:
        out = resolve_out(config.out)
        manifest = read_manifest(out)
        if manifest is None or manifest.get("hashes", {}).get("folder") != folder_key(config, voice=voice,
                                                                                       scripts=scripts):
            return None
        files = manifest["files"]
        return manifest if all(map(is_lesson_name, files)) and intact(out, files) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# -- the run -------------------------------------------------------------------------------------


def render_course(plan: CoursePlan, engine, *, jobs: int | None = None, console=None) -> CourseResult:
    """Render what the plan lacks on ``engine`` and write every lesson folder and the course folder (see the
    module docstring). Raises ``OutputFolderError`` (usage), ``CourseError`` or ``pipeline.RenderError``."""
    try:
        return _render_course(plan, engine, jobs=jobs, console=console)
    except OSError as err:  # a full disk, a quota, a folder made read-only meanwhile
        raise CourseError(f"cannot write the course into {plan.out} ({err.strerror or err}); free some space or "
                          "choose another folder with --out (the chapters made so far stay in the cache)") from None


def _render_course(plan: CoursePlan, engine, *, jobs, console) -> CourseResult:
    from .cache import Cache

    out, names = plan.out, [p.name for p in plan.lessons]
    course_key = _course_key(plan)
    previous = read_manifest(out) if out.exists() else None
    if previous is not None and previous.get("kind") == "course" and previous.get("course") == course_key \
            and all(p.unchanged is not None for p in plan.lessons) and _intact_course(out, previous):
        record = guard.read_json(out, COURSE_RECORD)
        return CourseResult(out, out / COURSE_PAGE, record if isinstance(record, dict) else {}, 0,
                            plan.chapters, kept=True)
    if previous is None or previous.get("kind") != "course":
        with claim(out, COURSE_FILES, kind="course", ours=names) as first:  # the folder is the course's from now on
            guard.write_atomically(first.staging, MANIFEST, json.dumps(_manifest(plan, {}, None), indent=1).encode())
            first.commit([MANIFEST])
    with claim(out, COURSE_FILES, kind="course", ours=names) as held:
        for notice in held.notices:
            if console is not None:
                console.print(f"[yellow]note:[/] {notice}")
        root = open_cache(plan.cache, out)
        cache = Cache(root)
        if plan.store is not None:
            _store_step(_fetch_stored, plan, cache, console)
        work = plan.todo()
        last = cache.timings()
        specs = _specs(plan, work, root, engine)
        specs.sort(key=lambda s: -last.get(s.chapter_id, float("inf")))
        started = time.perf_counter()
        # Each lesson folder is written as soon as its last chapter is in, while the others render.
        folders = _LessonFolders(plan, root, jobs, specs, started)
        folders.start()
        try:
            metas = _run(engine, specs, plan, console, folders.chapter_done) if specs else {}
        except BaseException:
            folders.stop()
            raise
        finally:  # what stopped or killed chapter processes left in tmp/ (finished entries stay: the next run's)
            cache.clean_tmp({spec.key for spec in specs})
        cache.record_timings({s.chapter_id: m["seconds"] for s in specs if "error" not in (m := metas[s.task])})
        failures = {task: m for task, m in metas.items() if "error" in m}
        if failures:
            folders.stop()
            task, m = next(iter(failures.items()))
            from .pipeline import _write_logs

            others = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            log = _write_logs({task.replace("/", "-"): m})[task.replace("/", "-")]
            raise CourseError(f"chapter {task.split('/')[1]!r} of lesson {task.split('/')[0]} failed{others}: "
                              f"{m['error']}; the details are in {log}")
        timings = {"chapters": round(time.perf_counter() - started, 3)}
        mark = time.perf_counter()
        try:
            folders.finish()  # the lessons whose last chapters came in last
        except KeyboardInterrupt:
            folders.stop()
            raise
        timings["lesson folders"] = round(time.perf_counter() - mark, 3)  # after the chapters: what did not overlap
        if plan.store is not None:  # what the store lacks of the course (made before it used one), there
            _store_step(_put_lacking, plan, cache, console)
        by_key = {spec.key: {**metas[spec.task], "finished": folders.finished.get(spec.key)} for spec in specs}
        lessons = [{**_lesson_record(p, by_key), "written": folders.written.get(p.name)} for p in plan.lessons]
        record = _record(plan, lessons, engine, timings)
        page = course_page(plan, lessons)
        guard.write_atomically(held.staging, COURSE_RECORD, json.dumps(record, indent=1).encode())
        guard.write_atomically(held.staging, COURSE_PAGE, page.encode())
        guard.write_atomically(held.staging, MANIFEST, json.dumps(_manifest(plan, {
            name: _file_record(held.staging, name) for name in (COURSE_RECORD, COURSE_PAGE)}, course_key),
            indent=1).encode())
        held.commit(list(COURSE_FILES))
        keys = {key for p in plan.lessons for key in p.keys.values()}
        cache.prune(limit_bytes(max(p.lesson.config.cache_size for p in plan.lessons)), protect=keys)
    totals = record["totals"]
    return CourseResult(out, out / COURSE_PAGE, record, totals["rendered"], totals["reused"], kept=False)


def _store_step(step, plan: CoursePlan, *args) -> None:
    """A step that talks to the store; the store failing half-way (the network, credentials expired) stops the
    course with its one sentence (the chapters made so far stay in the caches)."""
    from .chapter_store import StoreError

    try:
        step(plan, *args)
    except StoreError as err:
        raise CourseError(str(err)) from None


def _fetch_stored(plan: CoursePlan, cache, console) -> None:
    """The chapters the store held when planned and this machine lacks, fetched (each checked); one that
    cannot be (gone meanwhile, damaged) is rendered instead."""
    from .pipeline import cache_formats

    keys = {p.keys[cid] for p in plan.lessons for cid in p.stored}
    if not keys:
        return
    if console is not None:
        console.print(f"Fetching {len(keys)} chapter{'s' if len(keys) > 1 else ''} from the store {plan.store.url}")
    _each(lambda key: plan.store.fetch(key, cache), sorted(keys))
    for lesson_plan in plan.lessons:
        formats = cache_formats(lesson_plan.lesson.config.formats)
        again = tuple(cid for cid in lesson_plan.stored if cache.missing(lesson_plan.keys[cid], formats))
        lesson_plan.missing, lesson_plan.stored = lesson_plan.missing + again, ()


class _LessonFolders(threading.Thread):
    """Writes each lesson folder (``pipeline.render_lesson``, from the cache) as soon as the chapters it waits
    for are in, while the engine renders the others: the folders no longer wait for the course's last chapter.
    A lesson none of whose chapters is rendered is written at once. With a store, the chapters the workers
    rendered into their own caches are fetched first. ``chapter_done`` is called from the engine's side;
    ``finish`` waits for the rest and raises the first failure; ``stop`` writes no more (Ctrl-C, a chapter
    failed): a folder being written is finished, as a lesson folder is committed whole or not at all."""

    def __init__(self, plan: CoursePlan, root: Path, jobs, specs: list, started: float):
        super().__init__(name="lesson-folders", daemon=True)
        self.plan, self.root, self.jobs, self.started = plan, root, jobs, started
        by_key = {spec.key: spec for spec in specs}
        self.elsewhere = {spec.key for spec in specs if not spec.cache}  # rendered in a worker's own cache
        self.waiting = {p.name: {key for key in p.keys.values() if key in by_key}
                        for p in plan.lessons if p.unchanged is None}
        self.task_keys = {spec.task: spec.key for spec in specs}
        self.lock, self.todo = threading.Lock(), queue_module.Queue()
        self.stopping = threading.Event()
        self.failure: BaseException | None = None
        self.finished: dict[str, float] = {}  # chapter key -> seconds after the start when it came in
        self.written: dict[str, float] = {}  # lesson name -> seconds after the start when its folder was written
        for name, keys in self.waiting.items():
            if not keys:
                self.todo.put(name)

    def chapter_done(self, task: str, meta: dict) -> None:
        key = self.task_keys.get(task)
        if key is None or "error" in meta:  # a lesson waiting on a failed chapter is never written
            return
        with self.lock:
            self.finished[key] = round(time.perf_counter() - self.started, 3)
            for name, keys in self.waiting.items():
                if key in keys:
                    keys.discard(key)
                    if not keys:
                        self.todo.put(name)

    def run(self) -> None:
        lessons = {p.name: p for p in self.plan.lessons}
        while (name := self.todo.get()) is not None:
            if self.stopping.is_set() or self.failure is not None:
                continue
            try:
                self._write(lessons[name])
            except BaseException as err:  # noqa: BLE001 - raised again by finish(), in the command's thread
                self.failure = err

    def _write(self, lesson_plan: LessonPlan) -> None:
        from .cache import Cache
        from .chapter_store import StoreError
        from .pipeline import render_lesson

        if self.plan.store is not None:
            cache, store = Cache(self.root), self.plan.store
            try:
                lost = [key for key in sorted(set(lesson_plan.keys.values()) & self.elsewhere)
                        if not store.fetch(key, cache)]
            except StoreError as err:
                raise CourseError(str(err)) from None
            if lost:
                raise CourseError(f"a chapter of lesson {lesson_plan.name} rendered on the cluster ({lost[0][:12]}) "
                                  f"cannot be fetched from the store {store.url}: missing or damaged there; run the "
                                  "course again")
        render_lesson(lesson_plan.lesson.config, jobs=self.jobs, lesson=lesson_plan.built, voice=lesson_plan.voice,
                      scripts=lesson_plan.scripts, chapters_module=self.plan.chapters_module, cache_root=self.root,
                      prune=False)
        self.written[lesson_plan.name] = round(time.perf_counter() - self.started, 3)

    def finish(self) -> None:
        self.todo.put(None)
        self.join()
        if self.failure is not None:
            raise self.failure
        unwritten = [name for name in self.waiting if name not in self.written]
        if unwritten:  # cannot be: every chapter it waited for came in
            raise CourseError(f"the lesson {unwritten[0]} was not written; run the course again")

    def stop(self) -> None:
        self.stopping.set()
        self.todo.put(None)
        self.join()


def _put_lacking(plan: CoursePlan, cache, console) -> None:
    """Put the course's chapters the store lacks (made before the course used a store), for the next machine."""
    keys = {key for p in plan.lessons for key in p.keys.values()} - plan.store.keys()
    if keys and console is not None:
        console.print(f"Putting {len(keys)} chapter{'s' if len(keys) > 1 else ''} into the store {plan.store.url}")
    _each(lambda key: plan.store.put(key, cache), sorted(keys))


def _each(call, keys: list) -> list:
    """``call(key)`` for every key, a few at once (a store's requests wait on the network, not the CPU)."""
    from concurrent.futures import ThreadPoolExecutor

    if len(keys) <= 1:
        return [call(key) for key in keys]
    with ThreadPoolExecutor(max_workers=min(8, len(keys)), thread_name_prefix="store") as pool:
        return list(pool.map(call, keys))


def _specs(plan: CoursePlan, work: dict, root: Path, engine) -> list:
    from .engines import ChapterSpec
    from .pipeline import cache_formats

    wanted: dict[str, dict] = {}  # key -> every format a lesson of the course wants of that chapter
    for lesson_plan in plan.lessons:
        for cid, key in lesson_plan.keys.items():
            wanted.setdefault(key, {}).update(dict.fromkeys(cache_formats(lesson_plan.lesson.config.formats)))
    if not work:
        return []
    import torch

    threads = torch.get_num_threads()  # what this process built the Lessons with (see ChapterSpec.build_threads)
    specs = []
    for key, (lesson_plan, cid) in work.items():
        config = lesson_plan.lesson.config
        # With a store, a worker of a cluster renders into its own machine's cache ("") and puts the chapter there.
        cache = "" if plan.store is not None and not getattr(engine, "local", False) else str(root)
        specs.append(ChapterSpec(task=f"{lesson_plan.name}/{cid}", lesson=lesson_plan.name, chapter_id=cid, key=key,
                                 config=config.model_dump(mode="json"), cache=cache,
                                 store=plan.store.url if plan.store is not None else None,
                                 formats=cache_formats(wanted[key]), chapters_module=plan.chapters_module,
                                 cores=engine.cores(), build_threads=threads))
    return specs


class _Events(queue_module.Queue):
    """The engine's events for the progress display; each chapter done is also told to ``on_done(task, meta)``."""

    def __init__(self, on_done):
        super().__init__()
        self.on_done = on_done

    def put(self, item, block=True, timeout=None):
        super().put(item, block, timeout)
        if item[0] == "done":
            self.on_done(item[1], item[2])


def _run(engine, specs, plan: CoursePlan, console, on_done) -> dict:
    """The engine's run, with the course's progress display fed from its events."""
    from .course_progress import CourseDisplay

    events: queue_module.Queue = _Events(on_done)
    display = CourseDisplay(console, specs, plan, engine.description)
    with display:
        metas = engine.run(specs, events, tick=lambda: display.drain(events))
        display.drain(events)
    return metas


# -- the record, the page, the manifest ---------------------------------------------------------------


def _lesson_record(plan: LessonPlan, by_key: dict) -> dict:
    """One lesson of course.json, from its folder's manifest (read back: checked, never trusted)."""
    config = plan.lesson.config
    folder = resolve_out(config.out)
    manifest = read_manifest(folder) or {}
    video = manifest.get("video") if isinstance(manifest.get("video"), dict) else {}
    poster = (manifest.get("lesson") or {}).get("poster") if isinstance(manifest.get("lesson"), dict) else None
    poster = poster if guard.safe_name(poster) and guard.kind(folder, poster) == "file" else None
    duration = video.get("duration") if isinstance(video.get("duration"), (int, float)) else None
    chapters = []
    for cid in config.chapters:
        key = plan.keys.get(cid)
        meta = by_key.get(key) if key else None
        entry = {"id": cid, "key": key}
        if meta is not None and "error" not in meta:  # made for this course (by this run, or a killed try of it)
            entry.update(status="rendered", where=meta.get("where"), worker=meta.get("worker", meta.get("where")),
                         seconds=meta.get("seconds"), render_seconds=meta.get("render_seconds"),
                         finished=meta.get("finished"))  # seconds after the course's chapters started
        else:
            entry.update(status="reused", where=None, worker=None, seconds=0.0)
        chapters.append(entry)
    return {"name": plan.name, "folder": f"{plan.name}/", "page": f"{plan.name}/index.html",
            "settings": plan.lesson.settings, "config": config.model_dump(mode="json", exclude={"out"}),
            "title": config.title, "sentence": config.sentence, "theme": config.theme,
            "video": {"width": config.width, "height": config.height, "fps": config.frame_rate, "duration": duration},
            "poster": f"{plan.name}/{poster}" if poster else None, "chapters": chapters}


def _record(plan: CoursePlan, lessons: list[dict], engine, timings: dict) -> dict:
    chapters = [c for lesson in lessons for c in lesson["chapters"]]
    rendered = sum(c["status"] == "rendered" for c in chapters)
    return {"generator": f"{GENERATOR} {versions()['mha-explainer']}", "format": COURSE_FORMAT,
            "title": plan.course.title, "engine": engine.description, "cache": str(plan.cache),
            "store": plan.store.url if plan.store is not None else None,
            "lessons": lessons, "totals": {"lessons": len(lessons), "chapters": len(chapters), "rendered": rendered,
                                           "reused": len(chapters) - rendered},
            "seconds": timings}  # wall time of the chapters (the engine) and of writing the lesson folders


def _manifest(plan: CoursePlan, files: dict, course_key: str | None) -> dict:
    return {"generator": f"{GENERATOR} {versions()['mha-explainer']}", "kind": "course", "format": COURSE_FORMAT,
            "course": course_key, "lessons": [p.name for p in plan.lessons], "files": files}


def _file_record(folder: Path, name: str) -> dict:
    size, digest = guard.file_digest(folder, name)
    return {"bytes": size, "sha256": digest}


def _intact_course(out: Path, manifest: dict) -> bool:
    from .cache import intact

    files = manifest.get("files")
    return isinstance(files, dict) and set(files) == {COURSE_RECORD, COURSE_PAGE} and all(
        isinstance(r, dict) and isinstance(r.get("bytes"), int) and isinstance(r.get("sha256"), str)
        for r in files.values()) and intact(out, files)


def _course_key(plan: CoursePlan) -> str:
    """What the course page and record depend on besides the lesson folders: the title, the lessons in order
    (their settings and folder keys), the page's template and the code version."""
    from .keys import folder_key

    template = (Path(__file__).parent / "templates" / "course.html").read_bytes()
    payload = {"title": plan.course.title, "version": versions()["mha-explainer"],
               "template": hashlib.sha256(template).hexdigest(),
               "lessons": [[p.name, p.lesson.settings, folder_key(p.lesson.config, voice=p.voice, scripts=p.scripts)]
                           for p in plan.lessons]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def course_page(plan: CoursePlan, lessons: list[dict]) -> str:
    """index.html of the course folder: every lesson with its poster, settings and length, linking to its page."""
    import jinja2

    from .. import style
    from ..lesson.script import load_scripts
    from .export import template_words

    themes = {lesson["theme"] for lesson in lessons}
    name = "light" if themes == {"light"} else "dark"
    # The author's accent for that theme when every lesson gives the same one (a course of one look).
    accents = {planned.lesson.config.accent_of(name) for planned in plan.lessons}
    theme = style.theme(name) if len(accents) != 1 or None in accents else \
        replace(style.theme(name), highlight=accents.pop())
    env = jinja2.Environment(loader=jinja2.PackageLoader("scenes.render", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    # The page's words: the course's page.toml (its first lesson's script folder), as every lesson page's are.
    w, _ = template_words(load_scripts(plan.lessons[0].lesson.config.script).page)
    items = []
    for lesson in lessons:
        duration = lesson["video"]["duration"]
        items.append({
            "title": lesson["title"], "sentence": lesson["sentence"],
            "page": quote(lesson["page"]), "poster": quote(lesson["poster"]) if lesson["poster"] else None,
            "settings": [(key, _shown(value, w)) for key, value in lesson["settings"].items()
                         if key not in ("sentence", "title")],  # shown above it
            "length": _clock(duration) if duration is not None else "?",
            "size": f"{lesson['video']['width']}×{lesson['video']['height']}, {lesson['video']['fps']} fps",
            "chapters": len(lesson["chapters"]),
        })
    total = sum(lesson["video"]["duration"] or 0 for lesson in lessons)
    return env.get_template("course.html").render(
        title=plan.course.title, lessons=items, total=_clock(total), theme=theme, w=w,
        color_scheme="light" if themes == {"light"} else "dark",
        generator=f"{GENERATOR} {versions()['mha-explainer']}")


def _shown(value, w) -> str:
    if isinstance(value, bool):
        return w("course-yes") if value else w("course-no")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
