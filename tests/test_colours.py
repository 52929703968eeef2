"""The themes' colours: every colour text is drawn in is readable (WCAG AA), and the 12 head colours stay apart
for normal and colour-blind vision, so that a head keeps one recognisable colour in every chapter."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import reads_runs

from scenes import style
from scenes.lesson.chapters import CHAPTER_IDS

# Machado, Oliveira & Fernandes 2009, severity 1.0: linear-RGB matrices simulating each kind of dichromacy.
DICHROMACY = {
    "protan": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                        [-0.003882, -0.048116, 1.051998]]),
    "deutan": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                        [-0.011820, 0.042940, 0.968881]]),
    "tritan": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                        [0.004733, 0.691367, 0.303900]]),
}
HEADS_APART = 12.0  # smallest CIELAB distance between two heads' colours, in every kind of vision


def linear(colour: str) -> np.ndarray:
    c = np.array([int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    la, lb = sorted((float(np.dot([0.2126, 0.7152, 0.0722], linear(c))) for c in (a, b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def lab(rgb: np.ndarray) -> np.ndarray:
    """Linear sRGB -> CIELAB (D65)."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen(colour: str, vision: str | None) -> np.ndarray:
    rgb = linear(colour)
    return lab(rgb if vision is None else np.clip(DICHROMACY[vision] @ rgb, 0, 1))


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
    close = [(vision or "normal", i + 1, j + 1, round(float(np.linalg.norm(seen(a, vision) - seen(b, vision))), 1))
             for vision in (None, *DICHROMACY) for (i, a), (j, b) in itertools.combinations(enumerate(heads), 2)
             if np.linalg.norm(seen(a, vision) - seen(b, vision)) < HEADS_APART]
    assert not close, f"head colours too close in the {name} theme (vision, head, head, distance): {close}"


@pytest.mark.parametrize("name", style.THEMES)
def test_a_head_colour_names_a_head_and_nothing_else(name):
    """No role (Q, K, V, O, X), sign, warning or highlight is drawn in a colour close to a head's."""
    th = style.theme(name)
    others = {**{f"role {r}": c for r, c in th.roles.items()}, "positive": th.positive, "negative": th.negative,
              "warn": th.warn, "highlight": th.highlight}
    close = [(what, i + 1, round(float(np.linalg.norm(seen(c, None) - seen(h, None))), 1))
             for what, c in others.items() for i, h in enumerate(th.heads)
             if np.linalg.norm(seen(c, None) - seen(h, None)) < HEADS_APART]
    assert not close, f"colours close to a head's in the {name} theme (what, head, distance): {close}"


def test_the_colour_blind_check_can_fail():
    """Red and green, distinct for normal vision, merge for deutan vision (the check is not vacuous)."""
    red, green = "#CC3333", "#5A8F29"
    assert np.linalg.norm(seen(red, None) - seen(green, None)) > HEADS_APART
    assert np.linalg.norm(seen(red, "deutan") - seen(green, "deutan")) < HEADS_APART


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
