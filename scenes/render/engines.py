"""Where a course's chapters render: local processes (the default) or a Dask distributed cluster.

    engine = LocalEngine(jobs=2)                      # or DaskEngine("tcp://10.0.0.5:8786")
    metas = engine.run(specs, events)                 # {spec.task: meta or {"error": ...}}

The unit of work is one chapter of one lesson, a ``ChapterSpec``: plain data (the lesson's config as
JSON, the chapter id, its key, the cache folder), never a Lesson, a tensor or a Manim object. Each runs
in a fresh Python process (``chapter_task``), on this machine or on a Dask worker, which builds the Lesson
from the config, checks the key and renders into the shared cache. Both engines run the very same task,
so a chapter is the same bytes wherever it rendered.

``events`` is a ``queue.Queue`` the engine fills with ("start", task, where) and ("done", task, meta);
the caller drains it for its progress display in ``tick()``, which the engine calls a few times a second
from the calling thread (where Ctrl-C arrives: the engine then stops its processes or tasks and re-raises).
Dask is imported only by ``DaskEngine``: the local default
needs no Dask process and no Dask import.
"""

from __future__ import annotations

import json
import os
import queue as queue_module
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass

from .chapter_task import RESULT

TOPIC = "mha-explainer-course"  # the Dask event topic tasks report their start on
RETRIES = 2  # a Dask task that fails (its process killed, out of memory) is tried this many more times
CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler before the course stops with one sentence
ENCODER_THREADS = 1  # x264 threads per chapter: its output depends on the count, so it is the same everywhere


class EngineError(ValueError):
    """The engine cannot be used (an unreachable scheduler); ``str(err)`` is one sentence (exit code 2)."""


class ChapterFailed(RuntimeError):
    """A chapter task that failed on a Dask worker (raised there, so that Dask retries it)."""

    def __init__(self, error: str, traceback: str = ""):
        super().__init__(error, traceback)
        self.error, self.traceback = error, traceback

    def __str__(self) -> str:
        return self.error


@dataclass(frozen=True)
class ChapterSpec:
    task: str  # unique in a course run: "<lesson>/<chapter>"
    lesson: str  # the lesson's folder name (for messages)
    chapter_id: str
    key: str  # the chapter's cache key, as the course computed it
    config: dict  # LessonConfig.model_dump(mode="json")
    cache: str  # the cache folder (a path every worker reaches); "": the worker machine's own (with a store)
    formats: tuple[str, ...]  # what the cache entry must hold
    chapters_module: str = "scenes.chapters"
    encoder_threads: int = ENCODER_THREADS
    cores: int = 1  # torch and BLAS threads of the task's process while it renders
    build_threads: int = 0  # torch and BLAS threads the Lesson is built with: the planner's (its float sums,
    #                         and so the chapter's key, depend on them); 0: the process's default
    store: str | None = None  # the chapter store's URL: fetched from first, put into after (``chapter_store``)

    def to_dict(self) -> dict:
        return {**asdict(self), "formats": list(self.formats)}


def run_in_process(spec: dict, *, stop=None, started=None, environ=None) -> dict:
    """Run one chapter spec in a fresh Python (``chapter_task``); returns its meta or {"error", "traceback"},
    with "seconds" (wall time of the process). ``stop()``: polled; True kills the process and ends the call
    with an error. ``started(process)``: called with the process once it runs. ``environ``: the process's
    environment (default: this one's)."""
    began = time.perf_counter()
    env = {**(os.environ if environ is None else environ), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    # Its OpenMP threads sleep while they wait instead of spinning: other chapters' processes share the cores.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    process = subprocess.Popen([sys.executable, "-m", "scenes.render.chapter_task"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    if started is not None:
        started(process)
    out: dict = {}
    reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), process.communicate(
        json.dumps(spec).encode()))), daemon=True)
    reader.start()
    try:
        while reader.is_alive():
            reader.join(0.25)
            if stop is not None and reader.is_alive() and stop():
                kill(process)
                reader.join()
                return {"error": "stopped", "traceback": "", "seconds": round(time.perf_counter() - began, 3)}
    except BaseException:
        kill(process)
        raise
    meta = _result(out.get("stdout", b""))
    if meta is None:
        tail = out.get("stderr", b"").decode("utf-8", "replace")[-4000:]
        code = process.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        meta = {"error": f"the chapter's process ended without a result ({how})", "traceback": tail}
    meta["seconds"] = round(time.perf_counter() - began, 3)
    return meta


def kill(process: subprocess.Popen) -> None:
    """Stop a chapter's process now (its work folder in the cache's tmp/ is cleared afterwards)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the process and anything it started
        except (ProcessLookupError, PermissionError):
            pass


def _result(stdout: bytes) -> dict | None:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith(RESULT):
            try:
                meta = json.loads(line[len(RESULT):])
            except ValueError:
                return None
            return meta if isinstance(meta, dict) else None
    return None


# -- local processes ---------------------------------------------------------------------------


class LocalEngine:
    """Chapters in fresh local processes, ``jobs`` at once (default: one per CPU core)."""

    local = True  # its processes share this machine's cache

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.description = f"{self.jobs} local process{'es' if self.jobs > 1 else ''}"

    def cores(self) -> int:
        return max(1, (os.cpu_count() or 1) // self.jobs)

    def run(self, specs: list[ChapterSpec], events: queue_module.Queue, tick=None) -> dict:
        processes: set = set()
        stopping = threading.Event()

        def one(spec: ChapterSpec) -> dict:
            if stopping.is_set():
                return {"error": "stopped", "traceback": ""}
            events.put(("start", spec.task, "local"))
            meta = run_in_process(spec.to_dict(), stop=stopping.is_set, started=processes.add)
            return {**meta, "where": "local"}

        metas = {}
        pool = ThreadPoolExecutor(max_workers=min(self.jobs, max(1, len(specs))), thread_name_prefix="chapter")
        try:
            pending = {pool.submit(one, spec): spec for spec in specs}
            while pending:
                done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                if tick is not None:
                    tick()
                for future in done:
                    spec = pending.pop(future)
                    metas[spec.task] = future.result()
                    events.put(("done", spec.task, metas[spec.task]))
        except BaseException:
            stopping.set()
            for process in list(processes):
                kill(process)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return metas


# -- a Dask distributed cluster ------------------------------------------------------------------


class DaskEngine:
    """Chapters as tasks of a Dask distributed cluster: each runs ``run_in_process`` on a worker,
    retried up to ``RETRIES`` times (a worker that dies costs only time: its tasks go to the others)."""

    local = False  # its workers may be other machines

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT):
        self.address = address
        try:
            from distributed import Client
        except ImportError:
            raise EngineError("--scheduler needs Dask (dask[distributed]), which is not installed; install the "
                              "project with its cluster extra (pip install -e '.[cluster]'), or leave out "
                              "--scheduler to render on this machine") from None
        unreachable = _unreachable(address, timeout)
        if unreachable:
            raise EngineError(f"cannot reach the Dask scheduler at {address} ({unreachable}); start one with "
                              "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out --scheduler "
                              "(and DASK_SCHEDULER_ADDRESS) to render on this machine")
        class _Client(Client):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.connected = True

            def __del__(self):  # one that failed to connect: nothing to close (Dask would wait 10 s, then print)
                if getattr(self, "connected", False):
                    super().__del__()

        try:
            self.client = _Client(address, timeout=f"{timeout}s", set_as_default=False)
        except Exception as err:  # noqa: BLE001 - refused, timed out, or something that is not a Dask scheduler
            reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
            if not isinstance(err, (OSError, TimeoutError)):
                reason = f"it did not answer as a Dask scheduler: {type(err).__name__}"
            raise EngineError(f"cannot reach the Dask scheduler at {address} ({reason.rstrip('.')}); start one with "
                              "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out --scheduler "
                              "(and DASK_SCHEDULER_ADDRESS) to render on this machine") from None
        self.description = f"the Dask cluster at {address}"

    def cores(self) -> int:
        return 1  # decided on each worker (dask_chapter)

    def run(self, specs: list[ChapterSpec], events: queue_module.Queue, tick=None) -> dict:
        from distributed import Event

        client = self.client
        stop = f"mha-explainer-stop-{uuid.uuid4().hex}"
        client.subscribe_topic(TOPIC, lambda event: _started(event, events))
        futures = {client.submit(dask_chapter, spec.to_dict(), stop, retries=RETRIES, pure=False,
                                 key=f"chapter-{spec.key[:16]}-{uuid.uuid4().hex[:8]}"): spec for spec in specs}
        metas = {}
        try:
            pending = dict(futures)
            while pending:
                time.sleep(0.2)
                if tick is not None:
                    tick()
                for future in [f for f in pending if f.done()]:
                    spec = pending.pop(future)
                    try:
                        meta = future.result()
                    except ChapterFailed as err:
                        meta = {"error": err.error, "traceback": err.traceback}
                    except Exception as err:  # noqa: BLE001 - the worker died too often, the task was lost
                        meta = {"error": f"{type(err).__name__}: {err}", "traceback": ""}
                    metas[spec.task] = meta
                    events.put(("done", spec.task, meta))
        except BaseException:
            try:  # the running tasks stop their processes; the queued ones never start
                Event(stop, client=client).set()
                client.cancel(list(futures), force=True)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            raise
        finally:
            try:
                client.unsubscribe_topic(TOPIC)
            except Exception:  # noqa: BLE001
                pass
        return metas

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - the scheduler may be gone
            pass


_ADDRESS = re.compile(r"(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})")


def _unreachable(address: str, timeout: float) -> str | None:
    """Why ``address`` cannot be a scheduler's, or None: a malformed address, or a TCP port that refuses or does
    not answer within ``timeout`` (said at once, rather than after Dask's retries)."""
    match = _ADDRESS.fullmatch(address.strip())
    if match is None:
        return "not an address of the form tcp://HOST:PORT"
    host, port = match.group(2).strip("[]"), int(match.group(3))
    if not 0 < port < 65536:
        return f"port {port} is out of range"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        return (err.strerror or str(err) or type(err).__name__).rstrip(".").lower()
    return None


def _started(event, events: queue_module.Queue) -> None:
    _, message = event
    if isinstance(message, dict) and message.get("event") == "start":
        events.put(("start", message.get("task"), message.get("where")))


def dask_chapter(spec: dict, stop: str | None = None) -> dict:
    """A Dask task: one chapter in a fresh process on this worker. Raises ``ChapterFailed`` on a failure
    worth another try (Dask retries it); a key that differs on this worker is returned as a final error."""
    from distributed import Event, get_worker

    worker = get_worker()
    name = str(worker.name) if worker.name is not None else worker.address
    where = worker.address if name == worker.address else f"{name} ({worker.address})"
    worker.log_event(TOPIC, {"event": "start", "task": spec["task"], "where": where})
    spec = {**spec, "cores": _cores_per_task(worker)}
    event = Event(stop) if stop else None
    last = [0.0]

    def stopped() -> bool:  # asked once a second: the client was interrupted
        if event is None or time.monotonic() - last[0] < 1.0:
            return False
        last[0] = time.monotonic()
        try:
            return event.is_set()
        except Exception:  # noqa: BLE001 - the scheduler is unreachable: carry on
            return False

    meta = run_in_process(spec, stop=stopped, environ=_without_worker_settings(os.environ))
    meta.update(where=where, worker=name, address=worker.address)
    if "error" in meta and not meta.get("final"):
        raise ChapterFailed(meta["error"], meta.get("traceback", ""))
    return meta


def _cores_per_task(worker) -> int:
    """The cores of this machine one chapter may use: its cores shared by every task slot of the cluster's workers
    on this host (two one-thread workers on a 2-core machine: one core each, not two each)."""
    from distributed import get_client

    slots = max(1, worker.state.nthreads)
    try:
        host = worker.address.rsplit(":", 1)[0]
        workers = get_client().scheduler_info(n_workers=-1).get("workers") or {}
        slots = max(slots, sum(int(w.get("nthreads") or 0) for address, w in workers.items()
                               if address.rsplit(":", 1)[0] == host))
    except Exception:  # noqa: BLE001 - the worker's own slots, then
        pass
    return max(1, (os.cpu_count() or 1) // slots)


def _without_worker_settings(environ) -> dict:
    """This worker's environment without what Dask's nanny set for the worker process itself (one BLAS thread,
    an eager malloc trim: ``distributed.nanny.pre-spawn-environ``): a chapter's process sets its own threads, and
    the trim slows its allocations; a chapter renders as on a local process."""
    import dask

    nanny = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {k: v for k, v in environ.items() if not (k in nanny and str(nanny[k]) == v)}
