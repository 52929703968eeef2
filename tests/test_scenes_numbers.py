"""The numbers the first five chapters put on screen are the model's numbers.

Each chapter is run headless; the test reads the displayed strings and source values
off the mobjects (NumberLabel ``.str``/``.value``, grid cells' ``.weight``) and compares
them with ``lesson.trace`` (and the analysis) at the precision shown.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import run_headless

from mha_core.analysis import SHARES
from scenes import style
from scenes.chapters import CHAPTERS
from scenes.chapters.specialization import measure_text
from scenes.lesson import build_lesson
from scenes.lesson.config import LessonConfig
from scenes.parts import NumberLabel


@pytest.fixture(scope="module")
def lesson():
    return build_lesson(LessonConfig())


@pytest.fixture(scope="module")
def scenes(lesson, tmp_path_factory):
    """The state (what was drawn, by name) of chapters 1-5, each run once with animations skipped."""
    media = tmp_path_factory.mktemp("media")
    return {cid: run_headless(CHAPTERS[cid], lesson, media).state
            for cid in ("intro", "one-head", "split-heads", "parallel-heads", "specialization")}


def shown(label: NumberLabel, value: float, digits: int = style.DIGITS) -> None:
    """The label shows ``value`` at ``digits`` decimals and keeps the exact value."""
    assert label.str == style.fmt(value, digits), (label.str, value)
    assert abs(style.parse(label.str) - value) <= 0.5 * 10**-digits + 1e-9
    assert label.value == pytest.approx(value, abs=1e-6)


def test_fmt_rounds_and_uses_a_true_minus():
    assert style.fmt(-0.004) == "0.00"
    assert style.fmt(-1.236) == "\u22121.24"
    assert style.parse(style.fmt(2.5)) == 2.5


def test_one_head_worked_row_is_the_trace(lesson, scenes):
    T, t, f = scenes["one-head"].table, lesson.trace, lesson.focus
    assert t.tokens[f] == "it"  # the default sentence's pronoun is the worked query
    assert len(T.scores) == t.n_pos
    for j in range(t.n_pos):
        shown(T.scores[j], float(t.scores[0, f, j]))
        shown(T.scaled[j], float(t.scaled[0, f, j]))
        shown(T.weights[j], float(t.weights[0, f, j]))
        # The scaling on screen is the real one: score / sqrt(d_k).
        assert T.scaled[j].value == pytest.approx(T.scores[j].value / math.sqrt(t.d_head), rel=1e-5)
    assert sum(w.value for w in T.weights) == pytest.approx(1.0, abs=1e-5)
    for (dim, j), mob in T.k_block.cells.items():
        shown(mob, float(t.k[0, j, dim]))
    for (dim, j), mob in T.v_block.cells.items():
        shown(mob, float(t.v[0, j, dim]))
    q = [m for m in T.q_col if isinstance(m, NumberLabel)]
    assert [m.value for m in q] == pytest.approx(t.q[0, f, : len(q)].tolist(), abs=1e-6)


def test_one_head_projections_are_x_times_the_heads_weights(lesson, scenes):
    """q, k, v of the focus word on screen are x[word] W^(1) + b^(1), recomputed from the weights."""
    group, t, f, mha = scenes["one-head"].projections, lesson.trace, lesson.focus, lesson.mha
    x_row, *role_rows = group[0]
    for (_, j), label in x_row._entries.items():
        shown(label, float(t.x[f, j]))
    d_k = t.d_head
    for row, role in zip(role_rows, "QKV"):
        W, b = mha.head_weights(role)[0], getattr(mha, f"b_{role}")[:d_k]  # head 1: the first d_k columns
        expected = (t.x[f] @ W + b).detach()
        assert row._entries, role
        for (_, j), label in row._entries.items():
            shown(label, float(getattr(t, role.lower())[0, f, j]))
            assert label.value == pytest.approx(float(expected[j]), abs=1e-5)


def test_one_head_output_is_the_weighted_sum(lesson, scenes):
    scene, t, f = scenes["one-head"], lesson.trace, lesson.focus
    entries = [m for m in scene.result[1] if isinstance(m, NumberLabel)]
    assert len(entries) == t.d_head
    mixed = t.weights[0, f] @ t.v[0]  # what "weights mix values" means, recomputed independently
    for d, m in enumerate(entries):
        shown(m, float(t.heads[0, f, d]))
        assert m.value == pytest.approx(float(mixed[d]), abs=1e-5)


def test_split_heads_block_is_the_same_numbers(lesson, scenes):
    zoom, mha = scenes["split-heads"].zoom, lesson.mha
    dk = lesson.d_head
    assert zoom.entries, "the W_Q^(1) block shows numbers"
    for (i, j), mob in zoom._entries.items():
        assert j < dk
        shown(mob, float(mha.W_Q.detach()[i, j]))  # a column of the big matrix ...
        assert mob.value == pytest.approx(float(mha.head_weights("Q").detach()[0, i, j]), abs=1e-7)  # ... is head 1's


def test_failure_trap_distances_are_computed(lesson, scenes):
    scene = scenes["split-heads"]
    h = lesson.n_head
    off = ~torch.eye(h, dtype=torch.bool)
    shown(scene.real_value, float(lesson.js[off].mean()))
    shown(scene.copies_value, float(lesson.copies_js[off].mean()))
    assert scene.copies_value.str == "0.00" and scene.real_value.value > 0.1
    # The copies' patterns on screen are identical across heads; the real ones differ.
    copies = [cell_weights(g) for g in scene.copies_grids]
    real = [cell_weights(g) for g in scene.real_grids]
    assert all(torch.allclose(c, copies[0], atol=1e-6) for c in copies)
    assert not torch.allclose(real[1], real[0], atol=1e-3)
    assert torch.allclose(real[0], lesson.trace.weights[0].double(), atol=1e-6)


def cell_weights(grid) -> torch.Tensor:
    """The weights a grid draws: per cell (Squares) or, for binned overview grids, the matrix it binned."""
    if grid.cells is None:
        w = torch.as_tensor(grid.weights, dtype=torch.float64)
        return w[: grid.n_queries, : grid.n_keys]
    return torch.tensor([[c.weight for c in row] for row in grid.cells], dtype=torch.float64)


def test_parallel_heads_show_every_pattern_on_one_scale(lesson, scenes):
    grids = scenes["parallel-heads"].grids
    th = style.theme(lesson.config.theme)
    assert len(grids) == lesson.n_head
    for i, g in enumerate(grids):
        assert torch.allclose(cell_weights(g), lesson.trace.weights[i].double(), atol=1e-6)
        # Each shade drawn is the scale's colour for the weights binned into it.
        for path in g.grid:
            lo, hi = path.level / style.WEIGHT_LEVELS, (path.level + 1) / style.WEIGHT_LEVELS
            inside = ((cell_weights(g) >= lo) & (cell_weights(g) < hi)).sum().item()
            n_cells = len(path.get_subpaths())
            assert n_cells == inside or (path.level == style.WEIGHT_LEVELS - 1 and n_cells >= inside)
            assert path.get_fill_color().to_hex() == th.weight_color((lo + hi) / 2).to_hex()


def test_intro_links_are_each_heads_strongest(lesson, scenes):
    chips, f = scenes["intro"].chips, lesson.focus
    for h, chip in enumerate(chips):
        w = lesson.trace.weights[h, f]
        assert chip.key == int(w.argmax())
        assert style.fmt(float(w.max())) in chip.label.text.replace(" ", "")


def test_specialization_tags_are_measured(lesson, scenes):
    scene, sp = scenes["specialization"], lesson.specialization
    assert sp.trained and sp.trace.tokens[0] == "[CLS]"
    for i, g in enumerate(scene.grids):
        n = g.n_queries
        assert torch.allclose(cell_weights(g), sp.trace.weights[i, :n, :n].double(), atol=1e-6)
        tag, profile = sp.tags[i], sp.profiles[i]
        if profile.label:
            assert tag.headline == profile.label
            assert tag.value == profile.get(tag.signature) >= profile.threshold  # a label only above its threshold
        else:
            assert tag.headline == "no label"
            shares = [profile.get(n) for n in SHARES]
            assert tag.value == max(s for s in shares if s is not None)
        # The tag on screen is the measured value, in two decimals.
        assert g.tag[1].text.replace(" ", "") == f"{tag.value:.2f}{measure_text(tag).split(' ', 1)[1]}".replace(" ", "")
    assert scene.card.content[0].text.replace(" ", "") in sp.descriptions[scene_showcase(scene)].replace(" ", "")


def scene_showcase(scene):
    from scenes.chapters.specialization import showcase_head

    return showcase_head(scene.spec)


def test_grid_numbers_and_matrix_ellipsis_keep_their_sources():
    from scenes import parts

    th = style.theme("light")
    w = torch.softmax(torch.randn(5, 5, generator=torch.Generator().manual_seed(0)), dim=-1)
    grid = parts.AttentionGrid(th, w, list("abcde"), cell=0.7, decor=parts.GridDecor(numbers=True))
    for q in range(5):
        for k in range(5):
            shown(grid.numbers[q][k], float(w[q, k]))
    big = torch.randn(20, 30, generator=torch.Generator().manual_seed(1))
    m = parts.NumberMatrix(th, big, max_rows=6, max_cols=5)
    assert m.rows == [0, 1, 2, 3, None, 19] and m.cols == [0, 1, 2, None, 29]
    for (i, j), label in m._entries.items():
        shown(label, float(big[i, j]))
    assert m.entry(10, 10) is None  # elided
