"""The themes' colours: every colour text is drawn in is readable (WCAG AA), and the 12 head colours stay apart
for normal and colour-blind vision, so that a head keeps one recognisable colour in every chapter."""

from __future__ import annotations

import itertools

import pytest
from conftest import reads_runs

from scenes import style
from scenes.lesson.chapters import CHAPTER_IDS
# The measures are the package's (the config checks an author's accent with them): tested here by hand.
from scenes.lesson.colours import DICHROMACY, HEADS_APART, contrast, distance


def test_contrast_by_hand():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)  # the lightest AA grey on white


@pytest.mark.parametrize("name", style.THEMES)
def test_every_text_colour_reads_on_the_background_and_on_cards(name):
    th = style.theme(name)
    colours = {"text": th.text, "muted": th.muted, "highlight": th.highlight, "positive": th.positive,
               "negative": th.negative, "warn": th.warn, **{f"role {r}": c for r, c in th.roles.items()},
               **{f"head {i + 1}": c for i, c in enumerate(th.heads)}}
    low = {f"{what} {colour} on {ground}": round(contrast(colour, getattr(th, ground)), 2)
           for what, colour in colours.items() for ground in ("background", "panel")
           if contrast(colour, getattr(th, ground)) < 4.5}
    assert not low, f"below WCAG AA (4.5:1) in the {name} theme: {low}"


@pytest.mark.parametrize("name", style.THEMES)
def test_twelve_head_colours_stay_apart_in_every_kind_of_vision(name):
    heads = style.theme(name).heads
    assert len(heads) == 12 and len(set(heads)) == 12  # MiniLM's 12 heads: no colour shared by two heads
    close = [(vision or "normal", i + 1, j + 1, round(distance(a, b, vision), 1))
             for vision in (None, *DICHROMACY) for (i, a), (j, b) in itertools.combinations(enumerate(heads), 2)
             if distance(a, b, vision) < HEADS_APART]
    assert not close, f"head colours too close in the {name} theme (vision, head, head, distance): {close}"


@pytest.mark.parametrize("name", style.THEMES)
def test_a_head_colour_names_a_head_and_nothing_else(name):
    """No role (Q, K, V, O, X), sign, warning or highlight is drawn in a colour close to a head's."""
    th = style.theme(name)
    others = {**{f"role {r}": c for r, c in th.roles.items()}, "positive": th.positive, "negative": th.negative,
              "warn": th.warn, "highlight": th.highlight}
    close = [(what, i + 1, round(distance(c, h), 1))
             for what, c in others.items() for i, h in enumerate(th.heads)
             if distance(c, h) < HEADS_APART]
    assert not close, f"colours close to a head's in the {name} theme (what, head, distance): {close}"


def test_the_colour_blind_check_can_fail():
    """Red and green, distinct for normal vision, merge for deutan vision (the check is not vacuous)."""
    red, green = "#CC3333", "#5A8F29"
    assert distance(red, green) > HEADS_APART
    assert distance(red, green, "deutan") < HEADS_APART


# -- a head keeps its colour in every chapter --------------------------------------------------------------------

@pytest.mark.parametrize("theme", [pytest.param(t, marks=reads_runs("default", t)) for t in ("dark", "light")])
def test_every_head_chip_wears_its_heads_colour_in_every_chapter(headless, theme):
    """Every head chip on screen, at every step of every chapter, is filled with that head's colour (numbered
    heads, one colour each: never another head's, never a role's)."""
    th = style.theme(theme)
    seen = {}
    for chapter in CHAPTER_IDS:
        for step in headless({}, theme, chapter).steps:
            for head, colour in step.chips:
                assert colour == th.head(head).to_hex().lower(), (chapter, head, colour)
                seen.setdefault(head, set()).add(chapter)
    assert len(seen) == 12 and len(set().union(*seen.values())) >= 4  # every head, in several chapters


@reads_runs("default")
def test_one_head_carries_its_heads_colour_from_qkv_to_output(headless, lesson_for):
    """The head followed in act 1 keeps its colour through one-head: its chip is on screen from the first play to
    the last; its q, k and v rows are bracketed in its colour; its output entries are in its colour."""
    from manim import Line

    th, lesson = style.theme("dark"), lesson_for()
    run = headless({}, "dark", "one-head")
    head, state = lesson.focus_head, run.state
    colour = th.head(head).to_hex().lower()
    assert all((head, colour) in step.chips for step in run.steps)  # every step, the first to the last
    bar, chip = state.qkv_mark
    assert isinstance(bar, Line) and bar.get_stroke_color().to_hex().lower() == colour and chip.head_index == head
    rows = state.projections[0]  # x, then q, k, v
    assert bar.get_top()[1] >= rows[1].get_top()[1] - 0.05 and bar.get_bottom()[1] <= rows[3].get_bottom()[1] + 0.05
    assert bar.get_right()[0] < min(r.get_left()[0] for r in rows[1:])  # beside the three rows, left of them
    entries = [m for m in state.result[1] if hasattr(m, "value")]
    assert entries and all(m.get_fill_color().to_hex().lower() == colour for m in entries)
