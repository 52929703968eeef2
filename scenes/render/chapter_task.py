"""One chapter of one lesson, in a fresh Python process: ``python -m scenes.render.chapter_task < spec.json``.

What a course engine (``engines``) runs for each chapter, on this machine or on a Dask worker. The spec
(``engines.ChapterSpec``) is small and plain: the lesson's config, the chapter id, its key, the cache
folder. This process builds the Lesson from the config (the build is deterministic), computes the
chapter's key again and refuses to render when it differs (other code, library versions, voice or words
than where the course was planned), then renders through ``worker.run_job`` into the shared cache (the
entry appears in one ``os.replace``; two processes racing on one key keep one of two identical entries).
With a store (``spec["store"]``, an object store's URL), the cache is this machine's own (``spec["cache"]``, or
the default when empty): the chapter is fetched from the store when it is there already (another worker made
it meanwhile), else rendered and put into the store.

The last line of its standard output is ``RESULT`` followed by the job's meta as JSON (or an error).
A fresh process per chapter: one chapter cannot leave anything behind for the next (Manim's global
config, a leaked thread, memory), and a process killed half-way leaves only its work folder in tmp/.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

RESULT = "mha-explainer-result "


def run_spec(spec: dict) -> dict:
    """Render ``spec``'s chapter into its cache (see the module docstring); returns the job's meta."""
    began = time.perf_counter()
    from ..lesson.config import LessonConfig
    from .cache import Cache
    from .cache_folder import limit_bytes, open_cache

    config = LessonConfig(**spec["config"])
    store = None
    if spec.get("store"):  # made meanwhile by another worker: fetched (checked), not rendered again
        from .chapter_store import open_store

        local = Cache(open_cache(spec["cache"] or None))  # one instance: each file is hashed once
        store = open_store(spec["store"], limit_bytes(config.cache_size))
        if store.fetch(spec["key"], local) and not local.missing(spec["key"], spec["formats"]):
            return {**local.verified(spec["key"]), "rendered": False}

    from ..lesson.build import build_lesson
    from ..lesson.script import load_scripts
    from ..voice import resolve_voice
    from .pipeline import chapter_keys
    from .worker import Job, init_worker, run_job

    phases = {"imports": time.perf_counter() - began}
    voice = resolve_voice(config.voice)
    scripts = load_scripts(config.script)
    chapter_id, module = spec["chapter_id"], spec["chapters_module"]
    threads = int(spec.get("build_threads") or 0)
    if threads:
        # The Lesson's numbers as the planner computed them: torch's float sums depend on its thread count
        # (a Dask worker's process starts with OMP_NUM_THREADS=1), and the chapter's key on those numbers.
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        limits = threadpool_limits(limits=threads)
    mark = time.perf_counter()
    lesson = build_lesson(config, scripts)
    keys, _ = chapter_keys(lesson, voice, (chapter_id,), module)  # computes the chapter's data: all it reads
    phases["lesson and key"] = time.perf_counter() - mark
    if threads:
        limits.restore_original_limits()
    if keys[chapter_id] != spec["key"]:
        return {"error": f"this worker computes another key for chapter {chapter_id!r} of {spec['lesson']} "
                         f"({keys[chapter_id][:12]}, the course planned {spec['key'][:12]}): its code, library "
                         "versions, voice or words differ from the machine that planned the course; install the "
                         "same on every worker", "traceback": "", "final": True}
    cache = open_cache(spec["cache"] or None)  # the shared folder, or this machine's own (with a store)
    init_worker(None, lesson, int(spec.get("cores", 1)))  # thread limits; Ctrl-C left to the parent; exits with it
    job = Job(chapter_id, spec["key"], tuple(spec["formats"]), str(cache), module,
              encoder_threads=int(spec.get("encoder_threads", 1)), voice=voice, speech_root=str(cache / "speech"))
    meta = run_job(job)
    if store is not None and "error" not in meta:
        mark = time.perf_counter()
        store.put(spec["key"], Cache(cache))
        phases["put into the store"] = time.perf_counter() - mark
    return {**meta, "process": {name: round(seconds, 3) for name, seconds in phases.items()}}


def main() -> int:
    try:
        spec = json.loads(sys.stdin.read())
        meta = run_spec(spec)
    except BaseException as err:  # noqa: BLE001 - reported to the engine, which decides
        first = (str(err).strip().splitlines() or [""])[0]
        meta = {"error": f"{type(err).__name__}: {first}".rstrip(": "), "traceback": traceback.format_exc()}
    sys.stdout.write("\n" + RESULT + json.dumps(meta) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
