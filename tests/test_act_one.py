"""Act 1 as a learner meets it: what they will be able to do, no measurements before the mechanism, a map of the
block that stays beside every act-1 title, the followed word's row never hidden, maths names typeset.

The chapters run headless (the session's runs of the default lesson, ``conftest.headless``); what they drew is
read back by name and compared with the Lesson's tensors and script.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import reads_runs

from mha_core.sizes import shown_indices
from scenes import style
from scenes.lesson.chapters import CHAPTERS, STAGES

pytestmark = reads_runs("default")  # the session's dark runs of the default lesson


@pytest.fixture(scope="module")
def lesson(lesson_for):
    return lesson_for()


# -- which rows a matrix draws --------------------------------------------------------------------------------


@pytest.mark.parametrize("n,limit", [(11, 8), (20, 8), (9, 8), (30, 6)])
def test_a_kept_row_is_always_drawn_in_order_within_the_limit(n, limit):
    for keep in itertools.chain(((k,) for k in range(n)), [(2, n - 3)]):
        shown = shown_indices(n, limit, keep=keep)
        drawn = [i for i in shown if i is not None]
        assert set(keep) <= set(drawn) and len(shown) <= limit and drawn == sorted(drawn)
        assert drawn[-1] == n - 1  # the last row anchors the picture, the first too unless no room is left
        assert shown[0] == 0 or (shown[0] is None and places_without_first(n, keep) > limit)
        # An ellipsis stands exactly where rows are skipped, and only there.
        for a, b in zip(shown, shown[1:]):
            assert (a is None) or (b is None) or b == a + 1
        for i, mark in enumerate(shown):
            if mark is None:
                assert shown[i + 1] - (shown[i - 1] if i else -1) > 1


def places_without_first(n: int, keep) -> int:
    """Places the kept rows, the last and row 0 need, with an ellipsis per gap."""
    rows = sorted({0, n - 1, *keep})
    return len(rows) + sum(b - a > 1 for a, b in zip(rows, rows[1:]))


def test_without_a_kept_row_the_first_rows_are_drawn():
    assert shown_indices(11, 8) == [0, 1, 2, 3, 4, 5, None, 10]
    assert shown_indices(5, 8, keep=[3]) == [0, 1, 2, 3, 4]


# -- the intro: objectives, and no measurement before the mechanism ------------------------------------------------


def test_the_intro_says_what_the_learner_will_be_able_to_do(lesson, headless):
    from scenes.chapters.intro import OBJECTIVE_IDS

    run = headless({}, "dark", "intro")
    script = lesson.scripts["intro"]
    assert len(OBJECTIVE_IDS) >= 4
    for text_id in OBJECTIVE_IDS:
        assert "".join(script.text(text_id, {}).split()) in run.drawn  # (drawn words lose their spaces)
    text, _ = script.beat("objectives", {})
    assert [b.text for b in run.beats][2] == text  # said after the title and the question, before any example


def test_the_intro_shows_no_measurement_before_the_mechanism(headless):
    """The table shows the heads and their weights in one sentence; whether they track a relation is measured in
    the second act: no held-out accuracy, baseline or label in act 1's first chapter, and the voice says so."""
    run = headless({}, "dark", "intro")
    drawn = " ".join(run.drawn).lower()
    for word in ("held-out", "rule:", "nolabel"):  # (drawn words lose their spaces)
        assert word not in drawn, word
    said = " ".join(b.text for b in run.beats)
    assert "second act" in said and "held-out" not in said


def test_the_head_followed_in_act_one_is_chosen_by_a_test_act_two_shows(lesson, headless):
    """One head says why it follows this head and defers the numbers: its accuracy appears first in act 2."""
    r = lesson.focus_relation
    said = " ".join(b.text for b in headless({}, "dark", "one-head").beats)
    drawn = " ".join(headless({}, "dark", "one-head").drawn)
    assert "second act" in said and style.fmt(r.accuracy) not in said and "held-out" not in said
    assert style.fmt(r.accuracy) not in drawn and "secondact" in drawn  # (drawn words lose their spaces)
    specialization = " ".join(b.text for b in headless({}, "dark", "specialization").beats)
    assert style.fmt(r.accuracy) in specialization


# -- the map of the block -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.id != "intro"], ids=lambda c: c.id)
def test_act_one_keeps_a_map_of_the_block_with_its_stage_lit(headless, chapter):
    run = headless({}, "dark", chapter.id)
    header = run.state.header
    if chapter.act != 1:
        assert getattr(header, "map", None) is None
        return
    assert chapter.stages and set(chapter.stages) <= set(STAGES)
    m = header.map
    assert m is not None and m.lit == chapter.stages and len(m.stages) == len(STAGES)
    lit = [stage for stage, box in zip(STAGES, m.stages) if box[0].get_fill_opacity() > 0.5]
    assert lit == [s for s in STAGES if s in chapter.stages]
    # Beside the title, in the frame, and still readable (never shrunk below the smallest number size by much).
    title = header[0]
    assert m.get_left()[0] > title.get_right()[0] and abs(m.get_y() - title.get_y()) < 0.05
    assert m.get_right()[0] <= run.frame[0] - style.FRAME_MARGIN + 1e-6
    word = m.stages[0][1]
    assert word.font_size >= 0.85 * style.NUMBER_SIZE


def test_the_map_stays_on_screen_through_each_act_one_chapter(headless):
    """Drawn with the header and never faded: present at every step after the header arrives."""
    for chapter in (c for c in CHAPTERS if c.act == 1 and c.stages):
        run = headless({}, "dark", chapter.id)
        word = "".join(run.state.header.map.stages[-1][1].original_text.split())
        seen = [any("".join((t.text or "").split()) == word for t in step.texts) for step in run.steps]
        first = seen.index(True)
        assert all(seen[first:]), chapter.id


# -- concat: the followed word's row ------------------------------------------------------------------------------


def test_concat_keeps_the_focus_words_row_and_frames_it(lesson, headless):
    run = headless({}, "dark", "concat")
    s, f = run.state, lesson.focus
    C = s.C
    assert f in C.other  # never inside the ellipsis
    labels = [o for o in C.other if o is not None]
    label = C.row_labels[labels.index(f)]
    assert label.original_text == lesson.tokens[f]
    drawn = [(r, c) for (r, c) in C._entries if r == f]
    assert drawn
    for r, c in drawn:
        number = C.entry(r, c)
        assert number.str == style.fmt(float(lesson.trace.concat[r, c]))
        assert abs(number.get_y() - label.get_y()) < 1e-6
    # The frame around the joined row: level with it, across every block, the other rows dimmed, this one not.
    frame = s.focus_row
    assert abs(frame.get_y() - label.get_y()) < 1e-6 and frame.width >= C.tints.width
    def opacity(m):
        return max(p.get_fill_opacity() for p in m.family_members_with_points())

    others = [C.entry(r, c) for (r, c) in C._entries if r != f]
    assert max(opacity(m) for m in others) < 0.5
    assert min(opacity(C.entry(r, c)) for r, c in drawn) > 0.9
    said = next(b.text for b in run.beats if b.text.startswith("Follow"))
    assert lesson.tokens[f] in said and f"{lesson.d_head} numbers" in said


# -- maths names in running text ----------------------------------------------------------------------------------


def test_a_maths_name_in_running_text_is_drawn_with_its_subscript():
    from scenes.parts import text

    th = style.theme("dark")
    m = text(th, "W_O blends them", style.BODY_SIZE)
    assert m.original_text == "W_O blends them"
    W, O = m[0], m[1]  # "_" is not drawn: O follows W, smaller and lowered
    assert O.height < W.height and O.get_bottom()[1] < W.get_bottom()[1] - 0.02
    plain = text(th, "head_i and all-MiniLM-L6-v2", style.BODY_SIZE)  # a word with an underscore is left alone
    assert type(plain).__name__ == "Text" and np.isclose(plain.height, text(th, "head_i", style.BODY_SIZE).height,
                                                          rtol=0.3)
