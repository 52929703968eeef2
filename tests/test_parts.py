"""Shared visual parts: regressions found by looking at frames; a long sentence's window (which tokens are drawn,
and how the gaps are marked)."""

import numpy as np
import pytest

from scenes import parts, style
from scenes.lesson.build import WINDOW_TOP_KEYS, token_window
from scenes.parts.tokens import ELISION, gaps, with_gaps


def test_token_row_keeps_one_glyph_per_character_in_ligature_words():
    # Pango joins "fl"/"fi" into one glyph unless told not to; the row cuts words out of one line.
    words = ["The", "scientist", "reviewed", "flawed", "fifty", "offices", "."]
    row = parts.TokenRow(style.theme("light"), words)
    assert [w.text for w in row.words] == words
    assert [len(w.submobjects) for w in row.words] == [len(w) for w in words]
    lefts = [w.get_left()[0] for w in row.words]
    assert lefts == sorted(lefts)  # left to right, none collapsed
    # Each word is exactly its own glyphs: as wide as the word set on its own.
    th = style.theme("light")
    for word, glyphs in zip(words, row.words):
        alone = parts.text(th, word)
        assert abs(glyphs.width - alone.width) < 0.02 * alone.width + 0.01, word


# -- a long sentence: a window around the focus word ----------------------------------------------------------

PIECES = ["[CLS]", "the", "scientist", "who", "reviewed", "the", "paper", "carefully", "before", "the", "long",
          "meeting", "said", "it", "was", "flawed", ".", "[SEP]"]


def rows_from(tops: dict[int, dict[int, float]], n: int) -> np.ndarray:
    """[head, key] attention rows: each head's given weights, the rest spread evenly."""
    rows = np.zeros((len(tops), n))
    for h, given in tops.items():
        rest = (1 - sum(given.values())) / (n - len(given))
        rows[h] = rest
        for k, v in given.items():
            rows[h, k] = v
    return rows


def test_a_short_sentence_is_drawn_whole():
    rows = rows_from({0: {3: 0.5}}, 11)
    assert token_window(PIECES[:11], 6, rows, 0, 14) == tuple(range(11))
    assert token_window(PIECES[:14], 6, rows_from({0: {3: 0.5}}, 14), 0, 14) == tuple(range(14))


def test_the_window_keeps_what_the_relation_needs_then_the_focus_word_s_neighbours():
    n, focus = len(PIECES), 13  # "it"
    # The worked head (1) links "it" to "scientist", far away, and weighs [CLS] and three more words; head 0 parks
    # on [CLS]; head 2 reads "flawed"; head 3's largest weight is on "it" itself but it links to "reviewed".
    rows = rows_from({0: {0: 0.9}, 1: {0: 0.3, 2: 0.25, 6: 0.15, 11: 0.1, 8: 0.08}, 2: {15: 0.6},
                      3: {13: 0.5, 4: 0.2}}, n)
    drawn = token_window(PIECES, focus, rows, 1, 14)
    assert len(drawn) == 14 and list(drawn) == sorted(set(drawn))  # at most 14, in sentence order
    worked = sorted((k for k in range(n) if k != focus), key=lambda k: -rows[1, k])[:WINDOW_TOP_KEYS]
    needed = {focus, 2, *worked, 15, 4, 0}  # the link, the worked head's top keys, each head's read and link
    assert needed <= set(drawn), needed - set(drawn)
    # Head 0's row is flat but for [CLS]: its "link" to a word is no need. [SEP] carries no weight either: the
    # rest is the focus word's nearest neighbours (12, 14, then 10, 16, then 9 and [SEP]), the far words elided.
    assert set(range(n)) - set(drawn) == {1, 3, 5, 7}


def test_the_window_keeps_every_need_it_has_room_for_and_never_the_worked_head_s():
    n, focus = 30, 20
    rng = np.random.default_rng(3)
    for trial in range(50):
        rows = rng.dirichlet(np.full(n, 0.3), size=12)
        tokens = ["[CLS]", *(f"w{k}" for k in range(1, n - 1)), "[SEP]"]
        head = int(rng.integers(12))
        drawn = token_window(tokens, focus, rows, head, 14)
        assert len(drawn) == 14 and list(drawn) == sorted(set(drawn))
        words = [k for k in range(1, n - 1) if k != focus]
        link = max(words, key=lambda k: rows[head, k])
        top = sorted((k for k in range(n) if k != focus), key=lambda k: -rows[head, k])[:WINDOW_TOP_KEYS]
        assert {focus, link, *top} <= set(drawn), trial


def test_a_token_row_draws_the_window_with_a_mark_in_each_gap():
    th = style.theme("dark")
    drawn = (0, 1, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16)
    assert gaps(drawn, 18) == (2, 4, 13)
    assert with_gaps(PIECES, drawn)[:5] == ["[CLS]", "the", ELISION, "the", "paper"]
    row = parts.TokenRow(th, PIECES, positions=drawn)
    assert [w.text for w in row.words] == [PIECES[p] for p in drawn] and row.positions == drawn
    assert row.hidden == 5 and len(row.marks) == 3 and row.note.text == "…5of18tokensnotdrawn"
    assert row.index(5) == 2 and row.index(2) is None
    xs = sorted([(t.get_x(), "token") for t in row.tokens] + [(m.get_x(), "mark") for m in row.marks])
    assert [kind for _, kind in xs][1:4] == ["token", "mark", "token"] and xs[-1][1] == "mark"
    whole = parts.TokenRow(th, PIECES[:11])  # a short sentence: no mark, no note
    assert len(whole.marks) == 0 and whole.note is None and whole.positions == tuple(range(11))


def test_an_attention_grid_draws_the_window_with_a_strip_and_a_mark_in_each_gap():
    th = style.theme("light")
    w = np.random.default_rng(0).dirichlet(np.ones(18), size=18)
    drawn = (2, 3, 5, 6, 7)  # gaps: before the first, after "the" (4), after the last
    for binned in (False, True):
        g = parts.AttentionGrid(th, w, PIECES, positions=drawn, binned=binned)
        assert g.query_positions == g.key_positions == drawn and g.n_keys == 5
        np.testing.assert_array_equal(g.shown, w[np.ix_(drawn, drawn)])
        assert len(g.marks) == 6 and g.note.text == "…13of18tokensnotdrawn"
        assert g.key_index(5) == 2 and g.query_index(4) is None
        assert g.frame.width == pytest.approx((5 + 3 * parts.attention.GAP_CELLS) * g.cell)
        if not binned:
            for q in range(5):
                for k in range(5):
                    assert np.allclose(g.cell_box(q, k).get_center(), g.cells[q][k].get_center())
                    assert g.cells[q][k].weight == pytest.approx(w[drawn[q], drawn[k]])
        # Each label over its own column, each mark in a gap between them (or past the ends).
        col_x = [lab.get_x() for lab in g.col_labels]
        assert np.allclose(col_x, [g.cell_box(0, k).get_x() for k in range(5)])
        mark_x = sorted(m.get_x() for m in g.marks if m.width < m.height)
        assert mark_x[0] < col_x[0] and col_x[1] < mark_x[1] < col_x[2] and mark_x[2] > col_x[-1]


def test_the_window_keeps_cls_and_sep_when_they_carry_weight():
    n, focus = 24, 4
    # No head's largest weight is on [SEP] (23), far from the focus word, but every head gives it 0.15 > 1/24.
    rows = rows_from({h: {h + 6: 0.3, 23: 0.15} for h in range(3)}, n)
    tokens = ["[CLS]", *(f"w{k}" for k in range(1, n - 1)), "[SEP]"]
    drawn = token_window(tokens, focus, rows, 0, 14)
    assert 23 in drawn and {6, 7, 8} <= set(drawn) and 0 in drawn  # [CLS]: a neighbour of the focus word
    assert token_window(tokens, focus, rows_from({h: {h + 6: 0.3} for h in range(3)}, n), 0, 14)[-1] != 23
