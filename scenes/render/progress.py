"""The live progress display of a render (rich): a row per chapter being rendered, plus the total."""

from __future__ import annotations


class Display:
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
