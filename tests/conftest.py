"""Shared test helpers: run a chapter headless (animations skipped, no pixels drawn) to read its state;
Manim's own files go to a temporary folder, never into the repository."""

from __future__ import annotations

import os
import tempfile

import pytest
from browser import browser  # noqa: F401 - the page tests' fixture (tests/browser.py)
from manim import Wait, config, tempconfig

from mha_core.store import CACHE_ENV
from scenes import style

# Measurements kept between runs (mha_core.store) go to a folder of this test session, not the user's
# ~/.cache; set here, at import, so the CLI subprocesses of the render tests share it.
os.environ.setdefault(CACHE_ENV, tempfile.mkdtemp(prefix="mha-explainer-cache-"))


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
