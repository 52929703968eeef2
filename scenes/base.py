"""LessonScene: the base of every chapter — a Lesson to read from, its theme, pacing, words and narration beats.

A chapter's ``construct`` reads like a storyboard of beats, each named by its id in the chapter's
script (``scenes/scripts/<chapter>.toml``, see ``lesson.script``), its placeholders filled from data:

    def construct(self):
        with self.beat("scores", d_k=self.lesson.d_head) as b:  # [beats] scores = "... by √{d_k} ..."
            self.play(Create(grid), run_time=b.duration)   # as long as the sentence takes to say
        self.clear(grid)                                   # a quick fade-out before the next beat

``beat`` speaks the script's text (the caption) in the lesson's voice, or its ``spoken`` form when the
voice must say it differently ("d_k" is said "d k"; by default ``spoken_form`` converts it). Leaving the
block waits out what is left of the speech, so animation and speech cannot drift apart;
the next beat starts after a short pause. The beats become the videos' sound and captions.
Words drawn on screen come from the script too: ``self.words("question")``.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future
from contextlib import contextmanager

from manim import DOWN, RIGHT, FadeOut, Paragraph, RoundedRectangle, Scene, Text, VGroup, Wait, config

from . import layout, parts, style
from .lesson import chapters
from .lesson.spoken import spoken_form
from .narration import Beat, Cue
from .voice import SILENT, Narrator, Speech

# A formula beside the header is shrunk at most to this share of its width; more, and it goes under the subtitle.
MIN_BESIDE = 0.7
# Leaving is quicker than arriving: a fade-out redraws every glyph it fades on every frame.
EXIT = 0.6 * style.SHORT


class LessonScene(Scene):
    chapter_id: str = ""

    def __init__(self, lesson, *, narrator: Narrator | None = None, **kwargs):
        """``narrator``: the voice the beats speak in (default: none, beats last as long as their caption
        takes to read; the render workers give the lesson's voice)."""
        self.lesson = lesson
        self.narrator = narrator or Narrator(SILENT, pacing=lesson.config.pacing_of(self.chapter_id))
        self.beats: list[Beat] = []
        self.speech: list[tuple[float, Speech]] = []  # (start in the video, what is said): the chapter's sound
        self._speech_end = 0.0  # when the last beat's speech ended (video seconds)
        # What a finished beat still owes: the picture held until then (video seconds), and its burned
        # caption removed after. Held lazily, so the hold and the next beat's pause are one wait.
        self._hold_until, self._burned = 0.0, None
        super().__init__(**kwargs)

    def setup(self):
        """The author's logo (``logo`` in lesson.toml), when there is one, in the bottom-right corner
        (``layout.logo_box``, which every chapter keeps free) from the first frame to the last: added before anything
        else and never animated, so it stays still through every play, and a chapter clears only what it names."""
        super().setup()
        self.logo = parts.logo(self.lesson.config.logo) if self.lesson.config.logo is not None else None
        if self.logo is not None:
            self.add(self.logo)

    @property
    def script(self):
        """This chapter's words (``lesson.script.Script``): the author's, or the default."""
        return self.lesson.scripts[self.chapter_id]

    @property
    def title(self) -> str:
        return self.script.title

    @property
    def summary(self) -> str:
        """One or two sentences for the player page's chapter list."""
        return self.script.summary

    def header(self, subtitle: str | None = None):
        """The chapter's number and title at the top-left, ``subtitle`` under it, and in act 1 the map of the
        block's stages with this chapter's lit (``chapters.Chapter.stages``)."""
        chapter = chapters.chapter(self.chapter_id)
        return parts.chapter_header(self.theme, self.lesson.chapter_number(self.chapter_id), self.title, subtitle,
                                    stages=chapter.stages, all_stages=chapters.STAGES)

    @staticmethod
    def beside_header(mob, header, *, may_drop: bool = False):
        """Place ``mob`` (a formula the chapter keeps up) at the top right, shrunk to the room right of the
        subtitle: under the stage map, or level with the title when there is no map. ``may_drop``: when that
        room would shrink it below ``MIN_BESIDE`` of its width, put it under the subtitle instead (the chapter
        starts its content below ``mob``)."""
        title, subtitle = header[0], header[1] if len(header) > 1 and header[1] is not header.map else None
        left_of = max(m.get_right()[0] for m in (title, subtitle) if m is not None)
        room = config.frame_width / 2 - style.FRAME_MARGIN - left_of - style.GAP_APART
        if may_drop and header.map is not None and subtitle is not None and room < MIN_BESIDE * mob.width:
            # A long subtitle leaves too little room: under it instead, at most half the frame wide.
            layout.fit(mob, width=config.frame_width / 2 - style.FRAME_MARGIN)
            return mob.next_to(subtitle, DOWN, buff=style.GAP_LABEL).to_edge(RIGHT, buff=style.FRAME_MARGIN)
        layout.fit(mob, width=room)
        if header.map is None:
            return mob.to_edge(RIGHT, buff=style.FRAME_MARGIN).set_y(title.get_y())
        return mob.next_to(header.map, DOWN, buff=style.GAP_TIGHT).to_edge(RIGHT, buff=style.FRAME_MARGIN)

    def words(self, text_id: str, **values) -> str:
        """On-screen words ``text_id`` of the chapter's script ([screen]), placeholders filled from ``values``."""
        return self.script.text(text_id, values)

    @functools.cached_property
    def theme(self) -> style.Theme:
        """The lesson's look: its theme with the author's accent and font (``style.look``)."""
        return style.look(self.lesson.config)

    # -- pacing --------------------------------------------------------------

    @property
    def pacing(self) -> float:
        """This chapter's pacing: its ``chapter_pacing`` if the author gave one, else the lesson's."""
        return self.lesson.config.pacing_of(self.chapter_id)

    def play(self, *animations, run_time: float | None = None, **kwargs):
        """``Scene.play`` with the lesson's pacing applied.

        Give the duration to ``play(..., run_time=)``, not to the animations: the
        default is Manim's 1 s, and either way it is multiplied by the pacing.
        """
        self._hold()
        if run_time is not None:
            kwargs["run_time"] = run_time * self.pacing
        elif not all(isinstance(a, Wait) for a in animations):  # waits are paced in ``wait``
            kwargs["run_time"] = self.pacing
        return super().play(*animations, **kwargs)

    def wait(self, duration: float = 1.0, *args, **kwargs):
        """A wait scaled by the lesson's pacing."""
        return super().wait(duration * self.pacing, *args, **kwargs)

    # -- narration -----------------------------------------------------------

    @property
    def now(self) -> float:
        return float(self.renderer.time)

    @property
    def cues(self) -> list[Cue]:
        """The captions of every beat so far, timed to their speech."""
        return [cue for beat in self.beats for cue in beat.cues()]

    @contextmanager
    def beat(self, beat_id: str, **values):
        """Speak beat ``beat_id`` of the chapter's script while the block's animations play, its placeholders
        filled from ``values``; see the module docstring.

        Yields a ``BeatTiming``: ``duration`` is the speech's length in ``play`` run-time units
        (pacing already taken out), to time an animation to the sentence. The beat starts
        ``style.BEAT_PAUSE`` after the previous one's speech ends, and leaving the block waits
        until this one's speech has ended and the new text on screen has been up long enough
        to read alongside it.
        """
        text, spoken = self.script.beat(beat_id, values)
        # Also before the first beat: a breath at the chapter's start (and no speech in an encoder's first frame).
        self._hold(until=self._speech_end + style.BEAT_PAUSE * self.pacing)
        spoken = spoken_form(text) if spoken is None else spoken
        start = self.now
        timing = BeatTiming(self.narrator.speak_soon(spoken), text, self.pacing, self.narrator.speaks)
        burned = self._burn_captions(text, start, timing) if self.lesson.config.burn_captions else None
        on_screen = _texts(self.mobjects)
        yield timing
        speech, seconds = timing.speech, timing.seconds
        new_text = sum(len(s) for s in _texts(self.mobjects) - on_screen)
        # New on-screen words are skimmed while the voice speaks (style.ON_SCREEN_RATE); the picture holds until
        # they have been, if that takes longer than the speech.
        needed = max(seconds, style.reading_time_on_screen(new_text) * self.pacing) + style.SETTLE * self.pacing
        self._hold_until, self._burned = start + needed, burned  # held by the next play, beat or the end
        self._speech_end = start + seconds
        self.beats.append(Beat(round(start, 3), round(start + seconds, 3), " ".join(text.split()), spoken,
                               tuple(round(s, 3) for s in speech.sentences)))
        if speech.seconds:
            self.speech.append((start, speech))

    def _hold(self, until: float = 0.0) -> None:
        """Hold the picture until the last beat has finished (and until ``until``), in one wait."""
        # Cleared first: Scene.wait goes through play, which holds again (nothing left to hold by then).
        until, burned, self._hold_until, self._burned = max(until, self._hold_until), self._burned, 0.0, None
        if until - self.now > 0.01:
            super().wait(until - self.now)  # Scene.wait: not paced again
        if burned is not None:
            self.remove(burned)

    def render(self, *args, **kwargs):
        """Render with the lesson's shared words in the parts (a grid's axis words, a chip's "head 3")."""
        from .parts.words import using

        with using(self.lesson.scripts.shared):
            return super().render(*args, **kwargs)

    def tear_down(self):
        self._hold()  # the last beat's speech ends inside the video
        super().tear_down()

    def narrate(self, beat_id: str, **values) -> None:
        """A beat with nothing new on screen: the voice speaks over the picture as it is."""
        with self.beat(beat_id, **values):
            pass

    def _burn_captions(self, text: str, start: float, beat: BeatTiming):
        """Draw the beat's captions into the frames (``--burn-captions``), each while its words are spoken
        (the same times as the caption files: this beat's own ``Beat.cues``)."""
        sentences = beat.speech.sentences if beat.voiced else ()
        timing = Beat(start, start + beat.seconds, text, "", sentences).cues()
        # Broadcast captions: light text on a dark translucent box in either theme, readable over anything.
        lines = [Paragraph(*cue.text.split("\n"), alignment="center", font=self.theme.font, font_size=style.CAPTION_SIZE,
                           color=style.CAPTION_TEXT, line_spacing=0.8) for cue in timing]
        width = max(line.width for line in lines) + 2 * style.GAP_BLOCK
        height = max(line.height for line in lines) + 2 * style.GAP_NAME
        panel = RoundedRectangle(corner_radius=0.08, width=width, height=height, stroke_width=0,
                                 fill_color=style.CAPTION_BOX, fill_opacity=0.75)
        band = VGroup(panel).to_edge(DOWN, buff=style.FRAME_MARGIN / 2)
        shown = {"i": -1}

        def show(mob):
            t = self.now
            i = max((k for k, cue in enumerate(timing) if cue.start <= t + 1e-6), default=0)
            if i != shown["i"]:
                shown["i"] = i
                mob.submobjects = [panel, lines[i].move_to(panel)]

        band.add_updater(show)
        show(band)
        self.add(band)
        return band

    def clear(self, *mobs, run_time: float = EXIT) -> None:
        """Fade ``mobs`` out (the one way a chapter clears the stage); brought to the front first, so
        nothing drawn after them is redrawn too."""
        self.bring_to_front(*mobs)
        self.play(*(FadeOut(m) for m in mobs), run_time=run_time)


class BeatTiming:
    """What a beat block gets: ``duration``, the speech's length in ``play`` run-time units.

    The speech is made while the block's animations play; asking for its length waits for it.
    """

    def __init__(self, speech: Future, text: str, pacing: float, voiced: bool):
        self._future, self._text, self._pacing, self.voiced = speech, text, pacing, voiced

    @property
    def speech(self) -> Speech:
        return self._future.result()

    @property
    def seconds(self) -> float:
        """Video seconds the beat speaks for (a silent lesson: as long as its caption takes to read)."""
        return self.speech.seconds if self.voiced else style.reading_time(self._text) * self._pacing

    @property
    def duration(self) -> float:
        return self.seconds / self._pacing


def _texts(mobjects) -> set[str]:
    """The words on screen: the text of every Text in ``mobjects``' families that has a word in it
    (numbers in a matrix are looked at, not read)."""
    found = set()
    for mob in mobjects:
        for part in mob.get_family():
            # Manim keeps a Text's words with their spaces in original_text (its .text has none).
            text = getattr(part, "original_text", None) if isinstance(part, Text) else None
            if text and any(c.isalpha() for c in text) and len(text.split()) >= 3:
                found.add(text)
    return found
