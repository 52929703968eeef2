"""LessonScene: the base of every chapter — a Lesson to read from, its theme, pacing, narration cues.

A chapter's ``construct`` reads like a storyboard:

    def construct(self):
        self.say("Queries compare against keys.")
        self.play(Create(grid), run_time=2)
        self.hold()                       # until the cue has been up long enough to read
        self.clear(grid)                  # a quick fade-out before the next beat

``say`` opens a narration cue at the current video time and closes the previous
one; the cues become the captions of the lesson folder.
"""

from __future__ import annotations

from manim import FadeOut, Scene, Wait

from . import style
from .narration import Cue

# Leaving is quicker than arriving: a fade-out redraws every glyph it fades on every frame.
EXIT = 0.6 * style.SHORT


class LessonScene(Scene):
    chapter_id: str = ""
    title: str = ""
    summary: str = ""  # one or two sentences for the player page's chapter list

    def __init__(self, lesson, **kwargs):
        self.lesson = lesson
        self.cues: list[Cue] = []
        self._open_cue: tuple[float, str] | None = None
        super().__init__(**kwargs)

    @property
    def theme(self) -> style.Theme:
        return style.theme(self.lesson.config.theme)

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

    def hold(self, at_least: float = 0.0) -> None:
        """Wait until the narration cue now open has been up long enough to read (``style.reading_time``).

        Call it at the end of a beat, after its animations: the captions come from the cues, so a
        cue must stay up as long as it takes to read, whatever the animations take. Reading time
        scales with the pacing like everything else (pacing 2 = everything twice as slow).
        """
        needed = at_least
        cue = self.open_cue
        if cue is not None:
            start, said = cue
            needed = max(needed, style.reading_time(said))
            needed -= (self.now - start) / self.pacing  # in unpaced seconds, as ``wait`` expects
        if needed * self.pacing > 0.05:
            self.wait(needed)

    def clear(self, *mobs, run_time: float = EXIT) -> None:
        """Fade ``mobs`` out (the one way a chapter clears the stage); brought to the front first, so
        nothing drawn after them is redrawn too."""
        self.bring_to_front(*mobs)
        self.play(*(FadeOut(m) for m in mobs), run_time=run_time)

    def tear_down(self):
        self._close_cue()
        super().tear_down()
