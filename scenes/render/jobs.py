"""The pool of render processes: one chapter per job, longest first, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from ..lesson.chapters import CHAPTER_IDS
from . import guard
from .progress import Display
from .worker import Job, init_worker, run_job


def run_jobs(job_list: list[Job], jobs: int | None, lesson, console) -> dict:
    """Run the jobs in a pool of spawned processes; returns {chapter: meta or error}."""
    if not job_list:
        return {}
    workers = workers_for(jobs, len(job_list))
    ctx = multiprocessing.get_context("spawn")
    progress_queue = ctx.Queue()
    display = Display(console, sorted((j.chapter_id for j in job_list), key=CHAPTER_IDS.index))
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
        raise
    finally:
        progress_queue.close()
        _clean_tmp(job_list)
    return metas


def cores_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def workers_for(jobs: int | None, n_jobs: int) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, n_jobs))


def _clean_tmp(job_list: list[Job]) -> None:
    """Remove the work folders of stopped jobs (``<key16>-<pid>`` in the cache's tmp/), never following a link."""
    for job in job_list:
        tmp = Path(job.cache_root) / "tmp"
        for path in tmp.glob(f"{job.key[:16]}-*"):
            if path.name.removeprefix(f"{job.key[:16]}-").isdigit():
                guard.remove_tree(tmp, path.name)


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
