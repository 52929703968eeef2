"""The live progress display of a course (rich): chapters done / running / left, lessons complete, and a row
for each chapter rendering now with the worker it runs on."""

from __future__ import annotations

import queue as queue_module


class CourseDisplay:
    def __init__(self, console, specs, plan, engine: str):
        self.console = console
        self.progress = None
        self.left = {spec.task for spec in specs}
        # lesson name -> its chapter tasks still to render (a lesson is complete when none is left)
        self.waiting = {p.name: {f"{spec.task}" for spec in specs if spec.key in set(p.keys.values())}
                        for p in plan.lessons}
        self.n_lessons = len(plan.lessons)
        self.running: dict[str, int] = {}
        self.done = self.failed = 0
        if console is None:
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<44}"), BarColumn(bar_width=24),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console,
                                 transient=False)
        console.print(f"Rendering {len(specs)} chapters on {engine}.")
        self.total = self.progress.add_task("chapters", total=len(specs), status=self._status())
        self.lessons = self.progress.add_task("lessons with every chapter made", total=self.n_lessons,
                                              status=f"{self._complete()}/{self.n_lessons}")

    def _complete(self) -> int:
        return sum(not tasks for tasks in self.waiting.values())

    def _status(self) -> str:
        left = len(self.left) - len(self.running)
        failed = f", [red]{self.failed} failed[/]" if self.failed else ""
        return f"{self.done} done, {len(self.running)} running, {left} left{failed}"

    def __enter__(self):
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def drain(self, events: queue_module.Queue) -> None:
        while True:
            try:
                kind, task, detail = events.get_nowait()
            except queue_module.Empty:
                break
            if kind == "start":
                self._start(task, detail)
            elif kind == "done":
                self._finish(task, detail)
        if self.progress is not None:
            self.progress.update(self.total, completed=self.done + self.failed, status=self._status())
            complete = self._complete()
            self.progress.update(self.lessons, completed=complete, status=f"{complete}/{self.n_lessons}")

    def _start(self, task, where) -> None:
        if task not in self.left:
            return
        if self.progress is not None:
            if task in self.running:  # started again (a retry, or a worker that died): moved to its new worker
                self.progress.remove_task(self.running.pop(task))
            self.running[task] = self.progress.add_task(f"  {task}", total=None, status=f"on {where}")
        else:
            self.running[task] = 0

    def _finish(self, task, meta) -> None:
        row = self.running.pop(task, None)
        self.left.discard(task)
        if "error" in meta:
            self.failed += 1
        else:
            self.done += 1
            for tasks in self.waiting.values():
                tasks.discard(task)
        if self.progress is not None and row is not None:
            self.progress.remove_task(row)
