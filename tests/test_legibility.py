"""Every chapter stays readable and never leaves the learner before a nearly empty screen.

- **Text size.** Every text, number and token drawn is shown at a font size whose em is at least 18 px at 720p
  (12 px at 480p: the sizes scale with the frame), after every shrink-to-fit. Font size s draws an em of
  1.25 s px at 720p (Manim: size 48 is 2/3 of a unit, 60 px), so the floor is size 14.4. Typst maths counts
  at the text size it was typeset to match, scaled as it was since (its sub- and superscripts are smaller, as
  typesetting makes them).
- **No nearly empty screen.** After a step, what is visible under the header spans a bounding box of at least
  ``MIN_FILLED`` of the content area, or the next step starts within 2 s.

Read from the session's headless runs (``conftest.headless``) of the layout configs, dark theme (size and
placement do not depend on the theme).
"""

from __future__ import annotations

import pytest
from conftest import reads_runs
from test_scenes_layout import CONFIGS

from scenes.lesson.chapters import CHAPTER_IDS

PX_PER_SIZE = 1.25  # em in px at 720p per unit of font size
MIN_EM_PX = 18.0  # at 720p
MIN_SIZE = MIN_EM_PX / PX_PER_SIZE
MIN_FILLED = 0.06  # of the content area: less is a nearly empty screen
MAX_EMPTY = 2.0  # seconds a nearly empty screen may stay


def small_texts(step, floor: float = MIN_SIZE) -> list[str]:
    return [f"{t.description} at size {t.size:.1f}" for t in step.texts if t.size is not None and t.size < floor - 1e-6]


def empty_holds(steps, end: float) -> list[str]:
    """Where a nearly empty picture stays more than ``MAX_EMPTY`` seconds (until the next step, or ``end``)."""
    found = []
    for step, nxt in zip(steps, [*steps[1:], None]):
        until = nxt.start if nxt is not None else end
        if step.filled < MIN_FILLED and until - step.end > MAX_EMPTY:
            found.append(f"{step.end:.1f}-{until:.1f} s: {step.filled:.0%} filled ({[t.description for t in step.texts]})")
    return found


RUNS = [pytest.param(name, marks=reads_runs(name)) for name in CONFIGS]  # grouped with the runs they read


@pytest.mark.parametrize("chapter", CHAPTER_IDS)
@pytest.mark.parametrize("name", RUNS)
def test_every_text_is_at_least_18_px_at_720p(headless, name, chapter):
    run = headless(CONFIGS[name], "dark", chapter)
    sized = [t for step in run.steps for t in step.texts if t.size is not None]
    assert sized, "no text with a known size was read"
    problems = sorted({p for step in run.steps for p in small_texts(step)})
    assert not problems, f"{chapter} ({name}): " + "; ".join(problems[:12])


@pytest.mark.parametrize("chapter", CHAPTER_IDS)
@pytest.mark.parametrize("name", RUNS)
def test_no_nearly_empty_screen_stays(headless, name, chapter):
    run = headless(CONFIGS[name], "dark", chapter)
    end = max([b.end for b in run.beats] + [run.steps[-1].end])
    problems = empty_holds(run.steps, end)
    assert not problems, f"{chapter} ({name}): " + "; ".join(problems)


def test_the_checks_can_fail():
    """A tiny text, and a lone note held for 3 s, are caught."""
    from types import SimpleNamespace as S

    tiny = S(description="Text('x')", size=10.0)
    assert small_texts(S(texts=(tiny,))) and not small_texts(S(texts=(S(description="ok", size=17.0),)))
    lone = S(start=0.0, end=1.0, filled=0.01, texts=())
    busy = S(start=4.0, end=5.0, filled=0.5, texts=())
    assert empty_holds([lone, busy], 6.0) and not empty_holds([busy], 6.0)
    assert not empty_holds([lone, S(start=2.5, end=3.0, filled=0.5, texts=())], 4.0)  # gone within 2 s


def test_a_shrunk_formula_is_measured_at_its_shown_size():
    """Typst maths keeps the text size it was typeset to match, scaled with it: a formula shrunk to half is read
    at half its size, and would be caught."""
    from conftest import shown_size

    from scenes import parts, style

    from types import SimpleNamespace as S

    f = parts.formula(style.theme("dark"), "d_k = frac(d, h)", 20)
    assert shown_size(f) == pytest.approx(20)
    f.scale(0.5)
    assert shown_size(f) == pytest.approx(10)
    assert small_texts(S(texts=(S(description="formula", size=shown_size(f)),)))
