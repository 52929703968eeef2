"""Layout of every chapter: text stays in the frame, never overlaps other text, and is readable.

Each chapter is run headless (animations skipped, no video written): after every
``play``/``wait`` the text-like mobjects on screen are checked, for the default
config, a large one (12 heads, d_model 384, 10 tokens) and MiniLM on a 13-piece sentence, in both themes. Every
chapter must also record at least two narration cues, in order.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import run_headless
from manim import ManimColor, MarkupText, Text, Typst, config

from scenes import style
from scenes.chapters import CHAPTERS
from scenes.lesson import build_lesson
from scenes.lesson.config import LessonConfig
from scenes.parts import Glyphs, NumberLabel

TEXT_TYPES = (Text, MarkupText, Typst, NumberLabel, Glyphs)
OVERLAP_TOL = 0.02  # Manim units (~1 px at 480p): touching boxes are fine, overlapping ones are not
MIN_CONTRAST = 2.5  # WCAG contrast ratio of text against the background

CONFIGS = {
    "default": LessonConfig(),  # all-MiniLM-L6-v2: 12 heads of 32, d = 384
    # The untrained toy model, for small readable matrices.
    "toy": LessonConfig(model="toy"),
    # 13 word pieces with [CLS] and [SEP]: drawn whole, nothing capped.
    "scientist": LessonConfig(sentence="The scientist who reviewed the paper said it was flawed."),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def lesson(request):
    return build_lesson(CONFIGS[request.param])


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


def describe(mob) -> str:
    s = getattr(mob, "str", None) or getattr(mob, "text", None) or getattr(mob, "typst_code", None) or repr(mob)
    return f"{type(mob).__name__}({s!r})"


def layout_problems(scene) -> list[str]:
    problems = []
    w, h = config.frame_width / 2, config.frame_height / 2
    texts = visible_texts(scene)
    boxes = []
    for t in texts:
        points = np.concatenate([m.points for m in t.family_members_with_points()])
        lo, hi = points.min(axis=0), points.max(axis=0)  # the ink's bounding box
        boxes.append((lo, hi))
        if lo[0] < -w - 1e-3 or hi[0] > w + 1e-3 or lo[1] < -h - 1e-3 or hi[1] > h + 1e-3:
            problems.append(f"off frame: {describe(t)} at x {lo[0]:.2f}..{hi[0]:.2f}, y {lo[1]:.2f}..{hi[1]:.2f}")
    for (a, (alo, ahi)), (b, (blo, bhi)) in itertools.combinations(zip(texts, boxes), 2):
        dx = min(ahi[0], bhi[0]) - max(alo[0], blo[0])
        dy = min(ahi[1], bhi[1]) - max(alo[1], blo[1])
        if dx > OVERLAP_TOL and dy > OVERLAP_TOL:
            problems.append(f"overlap: {describe(a)} and {describe(b)} ({dx:.2f} x {dy:.2f})")
    return problems


def luminance(color) -> float:
    rgb = np.array(ManimColor(color).to_rgb())
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def contrast_problems(scene, theme) -> list[str]:
    problems = []
    for t in visible_texts(scene):
        color = t.family_members_with_points()[0].get_fill_color()
        if ManimColor(color).to_hex().lower() == ManimColor(theme.background).to_hex().lower():
            continue  # drawn on a filled shape (a chip, a bright cell) by design
        if contrast(color, theme.background) < MIN_CONTRAST:
            problems.append(f"low contrast {contrast(color, theme.background):.1f}: {describe(t)} in {color}")
    return problems


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("chapter_id", list(CHAPTERS))
def test_chapter_layout(lesson, chapter_id, theme, tmp_path):
    lesson = lesson.with_theme(theme)
    problems: list[str] = []

    def check(scene):
        for p in layout_problems(scene) + contrast_problems(scene, style.theme(lesson.config.theme)):
            problems.append(f"after play {len(scene.cues)}: {p}")

    shown: set[str] = set()

    def check_and_read(scene):
        check(scene)
        shown.update(t.text for t in visible_texts(scene) if hasattr(t, "text"))

    scene = run_headless(CHAPTERS[chapter_id], lesson, tmp_path, on_step=check_and_read)
    if not lesson.trained:  # random weights are never called learned, on screen or in the narration
        said = shown | {c.text for c in scene.cues} | {b.spoken for b in scene.beats}
        assert not [t for t in said if "learn" in t.lower()], f"{chapter_id}: 'learned' said of the toy model"
    unique = list(dict.fromkeys(problems))
    assert not unique, f"{chapter_id} ({theme}, {lesson.n_head} heads):\n" + "\n".join(unique[:15])

    starts = [c.start for c in scene.cues]
    assert len(scene.cues) >= 2, f"{chapter_id} records {len(scene.cues)} narration cue(s); it needs at least 2"
    assert starts == sorted(starts) and len(set(starts)) == len(starts), f"cue times must increase: {starts}"
    assert all(c.end > c.start and c.text.strip() for c in scene.cues)


def test_intro_relationship_arcs_stay_clear_of_the_text(lesson, tmp_path):
    """The arcs drawn for the table's links sit between the question and the table, crossing none of their words."""
    state = run_headless(CHAPTERS["intro"], lesson, tmp_path).state
    words = [t for mob in (state.question, state.table) for t in mob.get_family() if isinstance(t, TEXT_TYPES)]
    assert state.links is not None and len(state.links) == len(state.table_rows)
    for arc in state.links.family_members_with_points():
        alo, ahi = arc.points.min(axis=0), arc.points.max(axis=0)
        assert state.question.get_bottom()[1] > ahi[1] and alo[1] > state.table.get_top()[1]
        for t in words:
            lo, hi = t.get_corner([-1, -1, 0]), t.get_corner([1, 1, 0])
            dx, dy = min(ahi[0], hi[0]) - max(alo[0], lo[0]), min(ahi[1], hi[1]) - max(alo[1], lo[1])
            assert not (dx > OVERLAP_TOL and dy > OVERLAP_TOL), describe(t)
