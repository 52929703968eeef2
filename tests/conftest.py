"""Shared test helpers: run a chapter headless (animations skipped, no pixels drawn) to read its state;
Manim's own files go to a temporary folder, never into the repository."""

from __future__ import annotations

import functools
import os
import tempfile

# torch's OpenMP threads sleep instead of spinning while they wait: on CI's 2 cores, shared with a render's
# worker processes or another run, spinning made small training steps many times slower (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from browser import browser  # noqa: F401 - the page tests' fixture (tests/browser.py)
from manim import Wait, config, tempconfig

from mha_core.store import CACHE_ENV
from scenes import style

# Measurements kept between runs (mha_core.store) go to a folder of this test session, not the user's
# ~/.cache; set here, at import, so the CLI subprocesses of the render tests share it.
os.environ.setdefault(CACHE_ENV, tempfile.mkdtemp(prefix="mha-explainer-cache-"))


_running: dict = {}  # the test being set up or run (module fixtures are set up within its setup)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _running["item"] = item


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
