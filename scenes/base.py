"""LessonScene: the base of every chapter — a Lesson to read from, pacing, narration cues.

A chapter's ``construct`` reads like a storyboard:

    def construct(self):
        self.say("Queries compare against keys.")
        self.play(Create(grid), run_time=2)
        self.wait(1)

``say`` opens a narration cue at the current video time and closes the previous
one; the cues become the captions of the lesson folder.
"""

from __future__ import annotations

from manim import Scene, Wait

from .narration import Cue


class LessonScene(Scene):
    chapter_id: str = ""
    title: str = ""
    summary: str = ""  # one or two sentences for the player page's chapter list

    def __init__(self, lesson, **kwargs):
        self.lesson = lesson
        self.cues: list[Cue] = []
        self._open_cue: tuple[float, str] | None = None
        super().__init__(**kwargs)

    # -- pacing --------------------------------------------------------------

    @property
    def pacing(self) -> float:
        return self.lesson.config.pacing

    def play(self, *animations, run_time: float | None = None, **kwargs):
        """``Scene.play`` with the lesson's pacing applied.

        Give the duration to ``play(..., run_time=)``, not to the animations: the
        default is Manim's 1 s, and either way it is multiplied by the pacing.
        """
        if run_time is not None:
            kwargs["run_time"] = run_time * self.pacing
        elif not all(isinstance(a, Wait) for a in animations):  # waits are paced in ``wait``
            kwargs["run_time"] = self.pacing
        return super().play(*animations, **kwargs)

    def wait(self, duration: float = 1.0, *args, **kwargs):
        """A wait scaled by the lesson's pacing."""
        return super().wait(duration * self.pacing, *args, **kwargs)

    # -- narration cues ------------------------------------------------------

    @property
    def now(self) -> float:
        return float(self.renderer.time)

    @property
    def open_cue(self) -> tuple[float, str] | None:
        """(start time, text) of the narration cue now showing, if any."""
        return self._open_cue

    def say(self, text: str) -> None:
        """Start a narration cue now (and end the previous one)."""
        self._close_cue()
        self._open_cue = (self.now, text)

    def _close_cue(self) -> None:
        if self._open_cue is not None:
            start, text = self._open_cue
            end = max(self.now, start + 0.5)
            self.cues.append(Cue(round(start, 3), round(end, 3), text))
            self._open_cue = None

    def tear_down(self):
        self._close_cue()
        super().tear_down()
