"""Layout of every chapter: text stays in the frame, never overlaps other text, and is readable.

Each chapter is run headless (animations skipped, no video written): after every
``play`` that is not a wait, the text-like mobjects on screen are checked, for the default
config (MiniLM: 12 heads, d_model 384), the untrained toy model, MiniLM on a 13-piece sentence and on an
18-piece one (drawn as a window around "it", "…" in each gap). A theme changes colours, never where text sits:
the default and the toy lesson are checked in both themes (contrast is a theme's), the 13-piece sentence in the
dark one, the 18-piece one in both (its elision marks and notes are muted text: their contrast is checked too).
Every chapter must also record at least two narration cues, in order. The runs are the session's (``conftest.headless``: each chapter of each config and theme runs
once, its steps recorded for these checks and shared with the narration, flow and numbers tests).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import TEXT_TYPES, describe, reads_runs
from manim import ManimColor

from scenes import style
from scenes.lesson.chapters import CHAPTER_IDS

OVERLAP_TOL = 0.02  # Manim units (~1 px at 480p): touching boxes are fine, overlapping ones are not
MIN_CONTRAST = 2.5  # WCAG contrast ratio of text against the background

CONFIGS = {  # LessonConfig overrides; the Lessons and runs are the session's (conftest's lesson_for, headless)
    "default": {},  # all-MiniLM-L6-v2: 12 heads of 32, d = 384
    # The untrained toy model in every chapter, for small readable matrices.
    "toy": {"model": "toy", "specialization_model": "toy"},
    # 13 word pieces with [CLS] and [SEP]: drawn whole, nothing capped.
    "scientist": {"sentence": "The scientist who reviewed the paper said it was flawed."},
    # 18 word pieces: every chapter draws 14, a window around "it" that keeps the words its heads read.
    "long": {"sentence": "The scientist who reviewed the paper carefully before the long meeting said it was flawed."},
}


def layout_problems(step, frame) -> list[str]:
    """What is wrong with the text on screen after one step (``conftest.Step``) in a frame of half-size ``frame``."""
    problems = []
    w, h = frame
    for t in step.texts:
        lo, hi = t.lo, t.hi  # the ink's bounding box
        if lo[0] < -w - 1e-3 or hi[0] > w + 1e-3 or lo[1] < -h - 1e-3 or hi[1] > h + 1e-3:
            problems.append(f"off frame: {t.description} at x {lo[0]:.2f}..{hi[0]:.2f}, y {lo[1]:.2f}..{hi[1]:.2f}")
    for a, b in itertools.combinations(step.texts, 2):
        dx = min(a.hi[0], b.hi[0]) - max(a.lo[0], b.lo[0])
        dy = min(a.hi[1], b.hi[1]) - max(a.lo[1], b.lo[1])
        if dx > OVERLAP_TOL and dy > OVERLAP_TOL:
            problems.append(f"overlap: {a.description} and {b.description} ({dx:.2f} x {dy:.2f})")
    return problems


def luminance(color) -> float:
    rgb = np.array(ManimColor(color).to_rgb())
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def contrast_problems(step, theme) -> list[str]:
    problems = []
    for t in step.texts:
        color = t.color
        if ManimColor(color).to_hex().lower() == ManimColor(theme.background).to_hex().lower():
            continue  # drawn on a filled shape (a chip, a bright cell) by design
        if contrast(color, theme.background) < MIN_CONTRAST:
            problems.append(f"low contrast {contrast(color, theme.background):.1f}: {t.description} in {color}")
    return problems


# (config, theme) pairs the layout is checked in: each model and sentence in the dark theme (positions, overlaps,
# the frame), and the light theme's contrast with the trained model's default and long sentences. Text takes its
# colour from the theme's roles, which those two looks check; the toy model's chapters are not run in light (their
# run cost CI 34 s of its 8-minute budget).
LOOKS = (("default", "dark"), ("default", "light"), ("toy", "dark"), ("scientist", "dark"), ("long", "dark"),
         ("long", "light"))


@pytest.mark.parametrize("chapter_id", CHAPTER_IDS)
@pytest.mark.parametrize(("name", "theme"), [pytest.param(*look, marks=reads_runs(*look)) for look in LOOKS],
                         ids=[f"{name}-{theme}" for name, theme in LOOKS])
def test_chapter_layout(headless, name, chapter_id, theme):
    """After every play that is not a wait (the run's recorded steps), the text on screen is in the frame,
    overlaps no other text and stands out from the background."""
    run = headless(CONFIGS[name], theme, chapter_id)
    lesson = run.lesson
    assert run.steps, f"{chapter_id} plays nothing"
    problems = [f"after play {step.after}: {p}" for step in run.steps
                for p in layout_problems(step, run.frame) + contrast_problems(step, style.theme(lesson.config.theme))]
    if not lesson.trained:  # random weights are never called learned, on screen or in the narration
        said = run.shown | {c.text for c in run.cues} | {b.spoken for b in run.beats}
        assert not [t for t in said if "learn" in t.lower()], f"{chapter_id}: 'learned' said of the toy model"
    unique = list(dict.fromkeys(problems))
    assert not unique, f"{chapter_id} ({theme}, {lesson.n_head} heads):\n" + "\n".join(unique[:15])

    starts = [c.start for c in run.cues]
    assert len(run.cues) >= 2, f"{chapter_id} records {len(run.cues)} narration cue(s); it needs at least 2"
    assert starts == sorted(starts) and len(set(starts)) == len(starts), f"cue times must increase: {starts}"
    assert all(c.end > c.start and c.text.strip() for c in run.cues)


@pytest.mark.parametrize("chapter_id", CHAPTER_IDS)
@pytest.mark.parametrize(("name", "theme"), [pytest.param(*look, marks=reads_runs(*look)) for look in LOOKS],
                         ids=[f"{name}-{theme}" for name, theme in LOOKS])
def test_the_logos_corner_stays_free(headless, name, chapter_id, theme):
    """Nothing a chapter draws (text, shapes, lines: any visible piece) reaches into the bottom-right corner kept
    for the author's logo (``layout.logo_keep_out``), after any play: the same runs as above, with or without a
    logo the chapters are laid out alike."""
    run = headless(CONFIGS[name], theme, chapter_id)
    found = list(dict.fromkeys(f"after play {step.after}: {what}" for step in run.steps for what in step.corner))
    assert not found, f"{chapter_id} ({theme}) draws in the logo's corner:\n" + "\n".join(found[:15])


@pytest.mark.parametrize("name", [pytest.param(name, marks=reads_runs(name)) for name in CONFIGS])
def test_intro_relationship_arcs_stay_clear_of_the_text(headless, name):
    """The arcs drawn for the table's links sit between the question and the table, crossing none of their words."""
    state = headless(CONFIGS[name], "dark", "intro").state
    words = [t for mob in (state.question, state.table) for t in mob.get_family() if isinstance(t, TEXT_TYPES)]
    assert state.links is not None and len(state.links) == len(state.table_rows)
    for arc in state.links.family_members_with_points():
        alo, ahi = arc.points.min(axis=0), arc.points.max(axis=0)
        assert state.question.get_bottom()[1] > ahi[1] and alo[1] > state.table.get_top()[1]
        for t in words:
            lo, hi = t.get_corner([-1, -1, 0]), t.get_corner([1, 1, 0])
            dx, dy = min(ahi[0], hi[0]) - max(alo[0], lo[0]), min(ahi[1], hi[1]) - max(alo[1], lo[1])
            assert not (dx > OVERLAP_TOL and dy > OVERLAP_TOL), describe(t)


@reads_runs("default")
def test_the_session_shares_lessons_and_runs(lesson_for, headless):
    """Every module reads the same Lesson of a config and the same run of a chapter (conftest): asked again,
    nothing is built or run again, and the other theme's Lesson reuses the numbers computed."""
    run = headless({}, "dark", "concat")
    assert headless({}, "dark", "concat") is run and run.lesson is lesson_for() is lesson_for(voice="auto")
    light = headless({}, "light", "concat")
    assert light.lesson.config.theme == "light" and light.lesson.trace is run.lesson.trace
    assert light.steps and [b.text for b in light.beats] == [b.text for b in run.beats]  # the same words
