"""Shared test helpers: run a chapter headless (animations skipped, no pixels drawn) to read its state;
Manim's own files go to a temporary folder, never into the repository. The session's Lessons and headless
chapter runs are shared by every module (``lesson_for``, ``headless``: each computed once per session)."""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass

# torch's OpenMP threads sleep instead of spinning while they wait: on CI's 2 cores, shared with a render's
# worker processes or another run, spinning made small training steps many times slower (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
from browser import browser  # noqa: F401 - the page tests' fixture (tests/browser.py)
from manim import ManimColor, MarkupText, Text, Typst, Wait, config, tempconfig

from mha_core.store import CACHE_ENV
from scenes import style
from scenes.parts import Glyphs, NumberLabel
from scenes.parts.text import shown_size as typst_size

# Measurements kept between runs (mha_core.store) go to a folder of this test session, not the user's
# ~/.cache; set here, at import, so the CLI subprocesses of the render tests share it.
os.environ.setdefault(CACHE_ENV, tempfile.mkdtemp(prefix="mha-explainer-cache-"))


_running: dict = {}  # the test being set up or run (module fixtures are set up within its setup)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _running["item"] = item


# Tests that take seconds each: those that render or drive a browser, run chapters headless or measure over the
# whole probe set. They are handed out first, so that the workers (-n auto) end on the many quick tests together.
# A module's render tests share the lesson its fixture rendered once: they go to one worker together
# (``--dist loadgroup``), which renders it once.
_SLOW_MARKERS = ("render", "browser", "slow")


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups
def pytest_collection_modifyitems(items):
    def slow(item) -> bool:
        return any(item.get_closest_marker(name) for name in _SLOW_MARKERS) or "headless" in getattr(
            item, "fixturenames", ())

    for item in items:
        if item.get_closest_marker("render") and getattr(item, "module", None) is not None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=lambda item: not slow(item))  # stable: each group keeps its order


def _renders_carry_the_render_marker():
    """A test (or a fixture it reads) that renders video in this process without the ``render`` marker
    fails, naming itself: ``-m "not render"`` must not render (renders in CLI subprocesses are not seen).
    The check sits where a render starts its work, past the checks that refuse one (a busy folder)."""
    from scenes.render import pipeline

    name = "_render_into" if hasattr(pipeline, "_render_into") else "render_lesson"
    real = getattr(pipeline, name)

    @functools.wraps(real)
    def renders(*args, **kwargs):
        item = _running.get("item")
        if item is not None and item.get_closest_marker("render") is None:
            pytest.fail(f"{item.nodeid} renders video: mark it (or its module) @pytest.mark.render", pytrace=False)
        return real(*args, **kwargs)

    setattr(pipeline, name, renders)  # called through the module's globals, so every caller meets it


_renders_carry_the_render_marker()


@pytest.fixture(autouse=True, scope="session")
def _manim_writes_into_a_temporary_folder(tmp_path_factory):
    """Parts built outside a render still make files (Manim caches every Text it draws as an SVG in
    ``<media_dir>/texts``): keep them out of the repository, whose media/ is the default lesson folder."""
    config.media_dir = str(tmp_path_factory.mktemp("manim-media"))


def run_headless(scene_cls, lesson, media_dir, *, on_step=None, pixel_height: int = 180):
    """Run a chapter to its end state with animations skipped; ``on_step(scene)`` after every play
    that is not a wait. Layout and numbers need the mobjects, not pixels, so no frame is drawn."""

    class Probe(scene_cls):
        def play(self, *args, **kwargs):
            self.step_start = self.now  # the video time the step's animation starts
            result = super().play(*args, **kwargs)
            if on_step is not None and not all(isinstance(a, Wait) for a in args):  # a wait moves nothing
                on_step(self)
            return result

    settings = {"media_dir": str(media_dir), "pixel_height": pixel_height, "pixel_width": pixel_height * 16 // 9,
                "frame_rate": 5, "dry_run": True, "verbosity": "ERROR", "progress_bar": "none",
                "background_color": style.theme(lesson.config.theme).background}
    with tempconfig(settings):
        scene = Probe(lesson, skip_animations=True)
        scene.renderer.update_frame = lambda *args, **kwargs: None
        scene.render()
    return scene


# -- shared Lessons and headless runs: each computed once per test session -----------------------------------
#
# Building a config's Lesson computes its data (traces, measurements) as chapters read them, and running a
# chapter headless costs seconds: the test modules share both. ``lesson_for(**overrides)`` is the Lesson of
# ``LessonConfig(**overrides)``, one per config; ``headless(overrides, theme, chapter_id)`` the run of one
# chapter of it in one theme, one per (config, theme, chapter), with what every step showed recorded.
# Both are shared: read them, never change them (``Lesson.replace`` makes a private copy to change).

# The text-like mobjects the layout checks read: Pango text, markup, Typst, number labels, words cut from a line.
TEXT_TYPES = (Text, MarkupText, Typst, NumberLabel, Glyphs)


def visible_texts(scene) -> list:
    """Top-level text-like mobjects on screen (a text inside another text counts once)."""
    found = []

    def walk(mob):
        if isinstance(mob, TEXT_TYPES):
            opacity = max((m.get_fill_opacity() for m in mob.family_members_with_points()), default=0)
            if opacity > 0.05:  # faded-out or not yet revealed text is not on screen
                found.append(mob)
            return
        for sub in mob.submobjects:
            walk(sub)

    for m in scene.mobjects:
        walk(m)
    return found


def shown_size(mob) -> float | None:
    """The font size a text-like mobject is shown at, after any scaling (Typst: the text size it was typeset to
    match, scaled as it was since; None for a Typst mobject not made by ``parts``)."""
    if isinstance(mob, (Text, MarkupText)):
        return float(mob.font_size)  # Manim scales it with the text's height
    if isinstance(mob, Typst):
        return typst_size(mob)
    return getattr(mob, "shown_size", None)  # NumberLabel, Glyphs


def describe(mob) -> str:
    s = getattr(mob, "str", None) or getattr(mob, "text", None) or getattr(mob, "typst_code", None) or repr(mob)
    return f"{type(mob).__name__}({s!r})"


@dataclass(frozen=True)
class Seen:
    """One text on screen after a step, as the layout checks read it."""

    description: str  # ``describe(mob)``, for messages
    text: str | None  # its ``.text`` (None: a mobject without one, e.g. a number label or Typst)
    lo: np.ndarray  # its ink's bounding box: the min and max of its points
    hi: np.ndarray
    color: ManimColor  # the fill of its first piece with points
    size: float | None = None  # the font size it is shown at, after any scaling (None: not known)


@dataclass(frozen=True)
class Step:
    """What was on screen after one ``play`` that is not a wait."""

    after: int  # narration cues recorded by then
    texts: tuple[Seen, ...]  # the visible text-like mobjects (``visible_texts``)
    chips: tuple[tuple[int, str], ...] = ()  # the visible head chips: (head, fill colour as #rrggbb)
    start: float = 0.0  # video seconds: when its animation started
    end: float = 0.0  # ... and ended (the picture it leaves stays until the next step starts)
    filled: float = 1.0  # how much of the area under the header the visible content spans (its bounding box)
    corner: tuple[str, ...] = ()  # what visible reaches into the logo's corner (``layout.logo_keep_out``), described


def observe(scene) -> Step:
    """The visible texts of ``scene`` now: each one's ink box and colour, and its words."""
    texts = []
    for t in visible_texts(scene):
        pieces = t.family_members_with_points()
        points = np.concatenate([m.points for m in pieces])
        texts.append(Seen(describe(t), getattr(t, "text", None), points.min(axis=0), points.max(axis=0),
                          pieces[0].get_fill_color(), shown_size(t)))
    share, corner = _filled_and_corner(scene)
    return Step(len(scene.cues), tuple(texts), visible_chips(scene), getattr(scene, "step_start", 0.0), scene.now,
                share, corner)


def visible_chips(scene) -> tuple[tuple[int, str], ...]:
    """The head chips on screen (``parts.head_chip``: ``head_index``): each one's head and box colour."""
    found = []

    def walk(mob):
        if hasattr(mob, "head_index"):
            box = mob[0]
            if box.get_fill_opacity() > 0.05:
                found.append((mob.head_index, box.get_fill_color().to_hex().lower()))
            return
        for sub in mob.submobjects:
            walk(sub)

    for m in scene.mobjects:
        walk(m)
    return tuple(found)


CORNER_TOL = 0.02  # Manim units (~1 px at 480p): touching the logo's corner is fine, reaching into it is not


def _filled_and_corner(scene) -> tuple[float, tuple[str, ...]]:
    """(filled, corner) in one pass. filled: the share of the area under the header (``layout.content_box``) that
    the bounding box of everything visible there spans (near 0, a nearly empty screen). corner: what visible reaches
    into the corner kept for the author's logo (``layout.logo_keep_out``; the logo itself aside), each as the text
    it belongs to (or its type) and how far it reaches."""
    from scenes import layout

    left, right, bottom, top = layout.content_box()
    c_left, c_right, c_bottom, c_top = layout.logo_keep_out()
    lo, hi = np.array([np.inf, np.inf]), np.array([-np.inf, -np.inf])
    corner = {}

    def pieces(mob, owner):
        if isinstance(mob, TEXT_TYPES):
            owner = mob  # a glyph is described by its text
        if len(mob.points):
            yield mob, owner
        for sub in mob.submobjects:
            yield from pieces(sub, owner)

    for m in scene.mobjects:
        if getattr(m, "is_logo", False):
            continue
        for piece, owner in pieces(m, None):
            fill = piece.get_fill_opacity() if hasattr(piece, "get_fill_opacity") else 1.0
            stroke = (piece.get_stroke_opacity() * (piece.get_stroke_width() > 0)
                      if hasattr(piece, "get_stroke_opacity") else 0.0)
            if max(fill, stroke) <= 0.05:
                continue
            points = piece.points[:, :2]
            p_lo, p_hi = points.min(axis=0), points.max(axis=0)
            if (p_hi[0] > c_left + CORNER_TOL and p_lo[1] < c_top - CORNER_TOL and p_lo[0] < c_right
                    and p_hi[1] > c_bottom):
                name = describe(owner) if owner is not None else type(piece).__name__
                corner[name] = f"{name[:80]} reaching x {p_hi[0]:.2f}, y {p_lo[1]:.2f}"
            points = points[points[:, 1] < top]  # the header (title, map, model line) does not count
            if len(points):
                lo, hi = np.minimum(lo, points.min(axis=0)), np.maximum(hi, points.max(axis=0))
    if not np.all(np.isfinite(lo)):
        return 0.0, tuple(corner.values())
    lo, hi = np.maximum(lo, [left, bottom]), np.minimum(hi, [right, top])
    share = float(max(hi[0] - lo[0], 0) * max(hi[1] - lo[1], 0) / ((right - left) * (top - bottom)))
    return share, tuple(corner.values())


class Run:
    """One chapter run headless to its end, every step observed (``headless``): read it, never change it.

    The records (steps, beats, cues, words drawn) are kept for the session. The end state (``scene``,
    ``state``) is kept for runs in the config's own theme, the one the end-state tests read; another
    theme's run lets its scene go once recorded (some 15 MB each) and runs the chapter again if asked for it."""

    def __init__(self, lesson, scene, steps, drawn, frame, *, keep: bool, again):
        self.lesson = lesson  # the Lesson it ran on, in the run's theme
        self.steps: tuple[Step, ...] = steps  # after each play that is not a wait
        self.drawn: frozenset[str] = drawn  # the words of every ``Text`` in the scene at any step, shown or faded
        self.frame: tuple[float, float] = frame  # the frame's half width and half height
        self.beats = tuple(scene.beats)  # the narration, as the scene timed it
        self.cues = tuple(scene.cues)  # its captions
        self._scene, self._again = (scene if keep else None), again

    @property
    def scene(self):
        """The scene at its end: ``state`` (what was drawn, by name), ``beats``, ``cues``."""
        if self._scene is None:
            self._scene = self._again()
        return self._scene

    @property
    def state(self):
        return self.scene.state

    @property
    def shown(self) -> set[str]:
        """The words of every visible text that has them, at any step."""
        return {t.text for step in self.steps for t in step.texts if t.text is not None}


# What the session computed: its Lessons by config, its runs by (config, theme, chapter).
SHARED = {"lessons": {}, "runs": {}}


def _base_config(overrides: dict):
    from scenes.lesson.config import LessonConfig

    if "theme" in overrides:
        raise TypeError("give the theme apart (lesson_for(theme=...), headless(overrides, theme, ...)): one "
                        "Lesson serves both themes")
    return LessonConfig(**overrides)


def _lesson_for(theme: str | None = None, **overrides):
    """The Lesson of ``LessonConfig(**overrides)``, built once per session (it computes each datum on first
    read). ``theme``: the same Lesson in that theme (``with_theme``, which reuses what was computed so far)."""
    from scenes.lesson import build_lesson

    config = _base_config(overrides)
    lessons = SHARED["lessons"]
    if config not in lessons:
        lessons[config] = build_lesson(config)
    lesson = lessons[config]
    return lesson if theme in (None, config.theme) else lesson.with_theme(theme)


def _headless(overrides: dict, theme: str, chapter_id: str, media_dir) -> Run:
    """Chapter ``chapter_id`` of ``lesson_for(**overrides)`` in ``theme``, run headless once per session."""
    from scenes.chapters import CHAPTERS
    from scenes.lesson.build import chapter_data

    base = _base_config(overrides)
    key = (_what_the_chapter_sees(base, chapter_id), theme, chapter_id)
    runs = SHARED["runs"]
    if key not in runs:
        chapter_data(_lesson_for(**overrides), chapter_id)  # computed on the shared Lesson: both themes reuse it
        lesson = _lesson_for(theme, **overrides)
        steps, drawn, drawn_in, frame = [], set(), set(), []

        def record(scene):
            steps.append(observe(scene))
            texts = [m for top in scene.mobjects for m in top.get_family() if isinstance(m, (Text, MarkupText))]
            drawn.update(m.text for m in texts if isinstance(m, Text))
            drawn_in.update((m.font, getattr(m, "original_text", None) or m.text) for m in texts)
            frame[:] = config.frame_width / 2, config.frame_height / 2  # the run's settings are in force here

        def again():
            return run_headless(CHAPTERS[chapter_id], lesson, media_dir)

        scene = run_headless(CHAPTERS[chapter_id], lesson, media_dir, on_step=record)
        runs[key] = Run(lesson, scene, tuple(steps), frozenset(drawn), tuple(frame), keep=theme == base.theme,
                        again=again)
        runs[key].drawn_in = frozenset(drawn_in)  # (Pango family, text) of every Text drawn
    return runs[key]


# The model and the sentence reach a chapter only through the data it reads; the induction model's data (its
# shipped weights and example) are the same in every config, so a chapter that reads only those runs the same
# whatever the config's model and sentence are, and one run serves them all.
_MODEL_FIELDS = ("sentence", "model", "specialization_model", "layer", "head", "d_model", "heads", "seed", "causal")
_SAME_IN_EVERY_MODEL = {"induction"}


def _what_the_chapter_sees(config, chapter_id: str):
    """``config``, with the model and sentence left out for a chapter that reads none of what they change."""
    from scenes.lesson.chapters import chapter

    if not set(chapter(chapter_id).reads) <= _SAME_IN_EVERY_MODEL:
        return config
    return config.model_copy(update={name: type(config).model_fields[name].default for name in _MODEL_FIELDS})


@pytest.fixture(scope="session")
def lesson_for():
    """``lesson_for(theme=None, **overrides)``: the session's Lesson of ``LessonConfig(**overrides)``, shared."""
    return _lesson_for


# Tests that read the same headless runs go to one worker together (``--dist loadgroup``), which runs each
# chapter once for all of them: the dark runs of the default and toy lessons (read by the layout, numbers,
# flow, spoken-form and narration tests), the light runs (layout), the long sentence's (layout, narration).
_RUN_GROUPS = {("default", "dark"): "runs-dark", ("toy", "dark"): "runs-dark", ("default", "light"): "runs-light",
               ("scientist", "dark"): "runs-scientist", ("long", "dark"): "runs-long",
               ("long", "light"): "runs-long"}


def reads_runs(name: str = "default", theme: str = "dark"):
    """The mark of a test (or module) that reads the session's headless runs of lesson ``name`` in ``theme``."""
    return pytest.mark.xdist_group(_RUN_GROUPS[name, theme])


@pytest.fixture(scope="session")
def headless(tmp_path_factory):
    """``headless(overrides, theme, chapter_id)``: the session's ``Run`` of that chapter, shared."""
    media = tmp_path_factory.mktemp("headless-media")  # one folder: Manim's text cache serves every run
    return functools.partial(_headless, media_dir=media)


@pytest.fixture(scope="session")
def s3():
    """``s3()``: a new bucket's URL ("s3://renders-N") on a real S3 endpoint: moto's server on 127.0.0.1 (a random
    port), for this session. The AWS_* variables that point s3fs there are set in this process, so the
    processes it starts (chapter processes, a Dask cluster's workers started afterwards) reach it too."""
    import itertools
    import logging

    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    before = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    numbers = itertools.count()

    def bucket() -> str:
        name = f"renders-{next(numbers)}"
        fs.mkdir(name)
        return f"s3://{name}"

    yield bucket
    server.stop()
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
