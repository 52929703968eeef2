"""The pool of render processes: one chapter per job, longest first, stopped cleanly on Ctrl-C.

``run_jobs`` spawns the processes. Each one starts by running the main script again (Python's "spawn" start
method), so a script that calls ``render_lesson`` outside ``if __name__ == "__main__":`` would make every
worker render again and die: that call is refused first, in one sentence (``MainGuardError``). ``run_here``
renders the jobs in this process instead, one after another: no guard needed (``scenes.notebook.show``).
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import queue as queue_module
import sys
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from ..lesson.chapters import CHAPTER_IDS
from . import worker
from .cache import Cache
from .progress import Display
from .worker import Job, init_worker, run_job


class MainGuardError(RuntimeError):
    """A render started at the top level of a script, which the spawned workers would run again (one sentence)."""


def run_jobs(job_list: list[Job], jobs: int | None, lesson, console) -> dict:
    """Run the jobs in a pool of spawned processes; returns {chapter: meta or error}.
    Raises ``MainGuardError`` before any process starts when the main script would start the render again."""
    if not job_list:
        return {}
    unguarded = unguarded_main_call()
    if unguarded is not None:
        raise MainGuardError(
            f"render_lesson was called at the top level of {unguarded}, which every render process runs again as "
            "it starts (Python's multiprocessing spawns them); put the call under `if __name__ == \"__main__\":`, "
            "or render in this process with render_lesson(..., executor=scenes.render.jobs.run_here)")
    workers = workers_for(jobs, len(job_list))
    ctx = multiprocessing.get_context("spawn")
    progress_queue = ctx.Queue()
    display = Display(console, _in_lesson_order(job_list, lesson))
    metas = {}
    cores = cores_per_worker(workers)
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                                   initargs=(progress_queue, lesson, cores))
    try:
        with display:
            pending = {}
            for job in job_list:
                pending[executor.submit(run_job, job)] = job.chapter_id
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
            if process.is_alive():  # still rendering 5 s after SIGTERM (seen once on a loaded 2-core machine): the
                process.kill()  # interpreter's exit would wait for its chapter to end, so it is killed
                process.join(timeout=5)
        raise
    finally:
        progress_queue.close()
        _clean_tmp(job_list)
    return metas


def run_here(job_list: list[Job], jobs: int | None, lesson, console) -> dict:
    """Run the jobs one after another in this process, without a pool: an ``executor`` for ``render_lesson``
    that needs no main guard (a script, a notebook). Returns {chapter: meta or error}, as ``run_jobs``.

    Each job renders as in a pool's only worker (``init_worker``: torch and the native thread pools limited to
    ``cores_per_worker(1)``; ``render_lesson`` gives the encoder the same threads), so the same bytes as a
    pool's render of the chapters. Manim's config is restored after each job (``tempconfig``); its encoder
    stays patched in this process (``fast_frames``). Ctrl-C stops the render (KeyboardInterrupt)."""
    if not job_list:
        return {}
    import torch
    from threadpoolctl import threadpool_limits

    cores = cores_per_worker(1)
    metas = {}
    display = Display(console, _in_lesson_order(job_list, lesson))
    saved_lesson, saved_threads = worker._lesson, torch.get_num_threads()
    try:
        with threadpool_limits(limits=cores), display:
            torch.set_num_threads(cores)
            worker._lesson = lesson  # what run_job draws: as init_worker sets it in a pool's worker
            for job in job_list:
                display.start(job.chapter_id)
                metas[job.chapter_id] = meta = run_job(job)
                if meta.get("error") == "KeyboardInterrupt":  # run_job reports every exception; this one stops
                    raise KeyboardInterrupt
                display.finish(job.chapter_id, meta)
    finally:
        worker._lesson = saved_lesson
        torch.set_num_threads(saved_threads)
        _clean_tmp(job_list)
    return metas


def unguarded_main_call() -> str | None:
    """Where the main script runs this call at its top level, outside any ``if`` ("FILE line N"); None when the
    call is under an ``if`` (``if __name__ == "__main__":``), comes from no main script (a notebook, ``python
    -c``, a thread), or the script is one that spawned processes do not run again (a package's __main__)."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    path = getattr(main, "__file__", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return None  # multiprocessing.spawn runs no __main__.py again
    if not path or os.path.splitext(os.path.basename(path))[0] == "ipython" or not os.path.isfile(path):
        return None
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return None
    line = frame.f_lineno
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(1 << 22))
    except (OSError, SyntaxError, ValueError):
        return None
    statements = tree.body
    while True:  # down the statements around the line: under an ``if`` (or a ``while``, a ``match``, an
        # ``except``) the call may be guarded, and is let through; elsewhere it runs again in every process
        here = next((s for s in statements if s.lineno <= line <= (s.end_lineno or s.lineno)), None)
        if here is None or isinstance(here, _GUARDS) or any(
                h.lineno <= line <= (h.end_lineno or h.lineno) for h in getattr(here, "handlers", ())):
            return None
        inner = [s for name in ("body", "orelse", "finalbody") for s in getattr(here, name, ())]
        if not any(s.lineno <= line <= (s.end_lineno or s.lineno) for s in inner):
            return f"{path} line {line}"
        statements = inner


# Statements whose body may not run in a spawned process: a call under one of them is not refused.
_GUARDS = (ast.If, ast.While, ast.Match, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _in_lesson_order(job_list: list[Job], lesson) -> list[str]:
    """The jobs' chapters in the order the lesson plays them (the progress display's rows)."""
    order = tuple(getattr(getattr(lesson, "config", None), "chapters", ())) or CHAPTER_IDS
    return sorted((j.chapter_id for j in job_list), key=lambda cid: order.index(cid) if cid in order else len(order))


def cores_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def workers_for(jobs: int | None, n_jobs: int) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, n_jobs))


def _clean_tmp(job_list: list[Job]) -> None:
    """Remove the work folders of stopped jobs (``<key16>-<pid>`` in the cache's tmp/) whose process is gone,
    never following a link (the cache is shared: another render's running job keeps its folder)."""
    for root in {job.cache_root for job in job_list}:
        Cache(Path(root)).clean_tmp({job.key for job in job_list if job.cache_root == root})


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
