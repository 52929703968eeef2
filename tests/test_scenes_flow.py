"""Chapters 5-8, 10 and 12 show the Lesson's real numbers: read them back off the number mobjects.

Each chapter runs once, headless (animations skipped, no frames drawn, no video
written), on the default lesson (the session's run, shared with the other modules: ``conftest.headless``);
the tests then compare what the scene's parts display (``NumberLabel.value`` / ``.str``, grid cells'
``.weight``) with the Lesson's tensors at the displayed precision.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import reads_runs

from mha_core import attention_cost
from scenes import style
from scenes.lesson.build import GPT3, TRANSFORMER_BASE, TRANSFORMER_WIDTH
from scenes.parts import NumberLabel

pytestmark = reads_runs("default")  # the session's dark runs of the default lesson

FLOW = ("head-outputs", "concat", "output-projection", "cost", "redundancy", "recap")
TOY = {"model": "toy", "specialization_model": "toy"}  # the untrained toy model in every chapter


@pytest.fixture(scope="module")
def lesson(lesson_for):
    return lesson_for()  # the session's default Lesson (conftest)


@pytest.fixture(scope="module")
def scenes(headless):
    """The state (what was drawn, by name) of those chapters, each run to its end once (the session's runs)."""
    return {cid: headless({}, "dark", cid).state for cid in FLOW}


def shows(label: NumberLabel, expected: float, digits: int = style.DIGITS) -> bool:
    """The label displays ``expected`` at the displayed precision (and keeps it as its value)."""
    return label.str == style.fmt(float(expected), digits) and np.isclose(label.value, float(expected), atol=1e-6)


def assert_entries(matrix, expected: torch.Tensor, *, at_least: int = 1) -> None:
    """Every drawn entry (i, j) of a NumberMatrix/HeadBlocks shows expected[i, j]."""
    expected = expected.detach().double().reshape(expected.shape[0], -1)
    checked = 0
    for (i, j), label in matrix._entries.items():
        assert shows(label, expected[i, j]), f"entry ({i}, {j}) shows {label.str}, expected {float(expected[i, j])}"
        checked += 1
    assert checked >= at_least


def assert_row(vector, expected: torch.Tensor) -> None:
    """A one-row NumberMatrix shows ``expected`` at every drawn column."""
    assert_entries(vector, expected.reshape(1, -1), at_least=min(3, expected.numel()))


# -- 5 head outputs -----------------------------------------------------------------------


def test_head_outputs_every_head_row(scenes, lesson):
    from manim import Text

    s, t, q = scenes["head-outputs"], lesson.trace, lesson.focus
    assert len(s.head_rows) == t.n_head
    for i, row in enumerate(s.head_rows):
        assert [c.weight for c in row.cells] == pytest.approx(t.weights[i, q].tolist())
        assert_row(row.vector, t.heads[i, q])
        top = int(torch.argmax(t.weights[i, q]))
        assert shows(row.top[1], t.weights[i, q, top], style.WEIGHT_DIGITS)
        assert lesson.tokens[top] in row.top[0].text
    # The takeaway counts the different tokens the heads read most, from the real weights.
    reads = {int(t.weights[i, q].argmax()) for i in range(t.n_head)}
    note = "".join(m.text for m in s.note.get_family() if isinstance(m, Text)).replace(" ", "")
    assert f"readmostfrom{len(reads)}differenttokens" in note


# -- 6 concat ----------------------------------------------------------------------------------


def test_concat_shows_the_concatenation_in_head_blocks(scenes, lesson):
    C, t = scenes["concat"].C, lesson.trace
    rows = [o for o in C.other if o is not None]  # the followed word's row is kept: up to two ellipses
    assert lesson.focus in rows and len(rows) >= 6
    assert_entries(C, t.concat, at_least=min(t.n_head, 3) * 2 * len(rows))  # at least three heads' blocks drawn
    for h in (h for h in C.heads if h is not None):
        cols = {j for (_, j), label in C._entries.items() if label in C.block(h)[1]}
        assert cols and all(h * t.d_head <= j < (h + 1) * t.d_head for j in cols), f"head {h + 1}'s block"
        # The block is that head's own output: concatenation only moves numbers.
        for (i, j), label in C._entries.items():
            if j in cols:
                assert shows(label, t.heads[h, i, j - h * t.d_head])


# -- 7 output projection ---------------------------------------------------------------------


def test_output_projection_shows_W_O_and_one_token_through_it(scenes, lesson):
    s, t, q = scenes["output-projection"], lesson.trace, lesson.focus
    assert_entries(s.W, lesson.mha.W_O, at_least=3 * 7 * 2)
    assert s.W.axis == 0 and s.W.d_head == lesson.d_head  # row blocks: the rows that read each head
    assert_entries(s.concat_column, t.concat[q].reshape(-1, 1), at_least=min(2 * t.n_head, 6))
    assert_row(s.output_row, t.output[q])


def test_output_projection_per_head_writes_sum_to_the_output(scenes, lesson):
    """Each head's write is an arrow drawn flat from the trace; tip to tail they end where the output's arrow ends,
    and the output, moved onto x, ends where the residual's arrow ends."""
    from mha_core.analysis import flat_view

    s, t, q = scenes["output-projection"], lesson.trace, lesson.focus
    writes = [*lesson.head_writes[:, q], lesson.b_O]
    assert torch.allclose(torch.stack(writes).sum(0), t.output[q], atol=1e-5)
    flat = flat_view(torch.stack(writes), t.output[q]).numpy()
    chain = s.writes
    assert len(chain.arrows) == len(writes) == lesson.n_head + 1
    for arrow, step in zip(chain.arrows, flat):
        drawn = (arrow.get_end() - arrow.get_start())[:2] / s.scale
        assert np.allclose(drawn, step, atol=0.02 * max(1.0, float(np.abs(step).max()))), (drawn, step)
    assert set(chain.names) <= set(range(len(writes))) and chain.names, "arrows long enough carry their head's number"
    for i, name in chain.names.items():
        if i < lesson.n_head:
            assert name.text == str(i + 1) and name.color == style.theme("dark").head(i)
    output, residual, x = s.output_arrow[0], s.residual_arrow[0], s.x_arrow[0]
    assert np.allclose(output.get_start(), x.get_end(), atol=0.02)  # the update moved onto the word's vector
    assert np.allclose(output.get_end(), residual.get_end(), atol=0.05)  # and they add up to the residual
    out, xx, res = flat_view(torch.stack([t.output[q], t.x[q], lesson.residual[q]]), t.output[q], t.x[q]).numpy()
    assert np.allclose(out + xx, res, atol=1e-6)


def test_output_projection_residual_and_norm(scenes, lesson):
    s, t, q = scenes["output-projection"], lesson.trace, lesson.focus
    for row, values in zip(s.residual.rows, (t.x[q], t.output[q], lesson.residual[q], lesson.normed[q])):
        assert_row(row, values)


# -- 8 cost --------------------------------------------------------------------------------------


def test_cost_parameters_and_stages_come_from_attention_cost(scenes, lesson):
    s, cost = scenes["cost"], lesson.cost
    single = attention_cost(lesson.d_model, 1, lesson.trace.n_pos)
    assert s.param_numbers["weights"].value == cost.weight_parameters == 4 * lesson.d_model**2
    assert s.param_numbers["total"].value == cost.parameters
    assert s.param_numbers["single"].value == single.parameters == cost.parameters
    assert s.param_numbers["total"].str == style.count(cost.parameters)
    T = s.compute_table
    for k, (a, b) in enumerate(zip(cost.stages, single.stages), start=1):
        live, one = (a.macs, b.macs) if a.macs or not a.elementwise else (a.elementwise, b.elementwise)
        assert (T.cell(k, 2).value, T.cell(k, 3).value) == (live, one), a.name
    last = len(cost.stages) + 1
    assert (T.cell(last, 2).value, T.cell(last, 3).value) == (cost.total_macs, single.total_macs)
    assert cost.total_macs == single.total_macs  # what the chapter says: the heads' compute is the same
    # The element-wise work (scale, softmax) has its own total: no row is left out of the totals.
    assert (T.cell(last + 1, 2).value, T.cell(last + 1, 3).value) == (cost.total_elementwise, single.total_elementwise)
    assert cost.total_elementwise > single.total_elementwise or lesson.n_head == 1


def test_cost_examples_table_rows(scenes, lesson):
    T, n = scenes["cost"].examples, lesson.trace.n_pos
    shapes = [*((h, TRANSFORMER_BASE[1]) for h, _ in TRANSFORMER_WIDTH), GPT3, (lesson.n_head, lesson.d_model)]
    for r, (h, d) in enumerate(shapes, start=1):
        c = attention_cost(d, h, n)
        shown = [T.cell(r, k).value for k in range(1, 8)]
        assert shown == [h, d, d // h, c.weight_parameters, c.total_macs, c.total_elementwise, h]  # h patterns
        assert T.cell(r, 5).str == style.count(c.total_macs)
    assert [T.cell(r, 4).value for r in (1, 2, 3)] == [4 * 512**2] * 3  # h does not change the weights at one width


# -- 10 redundancy -----------------------------------------------------------------------------


def test_redundancy_bars_are_minilms_measured_shifts(scenes, lesson):
    """Every one of MiniLM's heads zeroed alone: its bar is its measured shift, and the claim carries its numbers."""
    from manim import Text

    from mha_core.ablation import SHIFT_THRESHOLD

    state, R = scenes["redundancy"], lesson.redundancy
    assert R is not None and R.n_heads == 72
    assert [b.value for b in state.chart.bars] == pytest.approx(R.shift.flatten().tolist())
    layer, head, largest = R.largest()
    note = "".join(m.text for m in state.redundancy_note.get_family() if isinstance(m, Text)).replace(" ", "")
    assert f"{R.count_below(SHIFT_THRESHOLD)}ofthe{R.n_heads}heads" in note
    assert f"{largest:.3f}(layer{layer + 1},head{head + 1})" in note


def test_redundancy_with_the_toy_model_shows_its_own_ablation(headless):
    """No trained heads in the lesson: the bars are the toy's output change per zeroed head, numbered, and the
    note says its differences are chance."""
    run = headless(TOY, "dark", "redundancy")
    state, lesson = run.state, run.lesson
    values = lesson.ablation
    assert lesson.redundancy is None and state.redundancy_note is None
    assert len(state.chart.bars) == len(values) == lesson.n_head
    for bar, label, v in zip(state.chart.bars, state.chart.numbers, values):
        assert bar.value == pytest.approx(float(v))
        assert shows(label, v)
    heights = np.array([b.height for b in state.chart.bars])
    assert np.argmax(heights) == int(torch.argmax(values)) and np.argmin(heights) == int(torch.argmin(values))
    assert "untrained" in " ".join(run.drawn)


# -- 12 recap ---------------------------------------------------------------------------------


def test_recap_evidence_is_the_measured_distances(scenes, lesson):
    real, copies = scenes["recap"].evidence_grids
    h = lesson.n_head
    assert np.array([[c.weight for c in row] for row in real.cells]) == pytest.approx(lesson.js.numpy())
    assert np.array([[c.weight for c in row] for row in copies.cells]) == pytest.approx(lesson.copies_js.numpy())
    assert all(n.str == "0.00" for row in copies.numbers for n in row) and len(copies.numbers) == h
    off_diagonal = lesson.js[~torch.eye(h, dtype=torch.bool)]
    assert off_diagonal.min() > 0.05  # separate projections: really different patterns


def test_recap_pipeline_shapes_are_the_live_ones(scenes, lesson):
    P, t = scenes["recap"].pipe, lesson.trace
    texts = [s.original_text for s in P.shapes]
    full = f"{t.n_pos} \u00d7 {t.d_model}"
    assert texts[0] == texts[3] == texts[-1] == full
    assert texts[2] == f"{t.n_head} \u00d7 {t.n_pos} \u00d7 {t.d_head}"


# -- 9 heads specialise, with the untrained toy model ------------------------------------------


def test_specialization_with_the_toy_model_claims_no_roles(headless):
    """The toy lesson's chapter shows untrained heads as they are: their real patterns, tagged "untrained", and
    no word on screen or in the narration says "learned", names a relation or shows a trained gallery."""
    from mha_core import toy_block

    run = headless(TOY, "dark", "specialization")
    seen = run.drawn  # the words of every Text in the scene after each play (the run records them)
    scene, lesson = run.scene, run.lesson
    s, sp = scene.state, lesson.specialization
    assert lesson.gallery is None and s.gallery is None and not s.tiles and not sp.trained
    c = lesson.config
    _, toy = toy_block(c.sentence, d_model=c.d_model, n_head=c.heads, seed=c.seed, causal=c.causal)
    assert torch.allclose(sp.trace.weights.double(), toy.weights.double().cpu(), atol=1e-6)  # random weights, really
    for i, g in enumerate(s.grids):
        w = torch.as_tensor(g.weights, dtype=torch.float64)[: g.n_queries, : g.n_keys]
        assert torch.allclose(w, sp.trace.weights[i, : g.n_queries, : g.n_keys].double(), atol=1e-6)
        assert sp.tags[i].label is None and f"{i + 1}·untrained" in seen  # nothing measured (drawn words lose spaces)
    words = " ".join(seen | {b.text for b in scene.beats} | {b.spoken for b in scene.beats}).lower()
    assert seen and "learned" not in words and "learnt" not in words
    assert "antecedent" not in words and "held-out" not in words and "relation" not in words


# -- 1 intro, on the toy lesson --------------------------------------------------------------


def test_intro_example_is_minilm_whatever_the_lessons_model(headless):
    """The bottleneck and the table come from MiniLM's trace of "The cat sat down", even in a toy lesson;
    the heads' links from the focus word come from the lesson's own (toy) trace."""
    from mha_core import trace_pretrained
    from scenes.lesson.relationships import EXAMPLE

    # At the default height: Pango wraps long lines in tiny frames, and texts are cached across runs.
    run = headless(TOY, "dark", "intro")
    lesson, state = run.lesson, run.state
    assert not lesson.trained  # the toy model traces the lesson's sentence
    R = lesson.relationships
    b = R.bottleneck
    row = trace_pretrained(EXAMPLE, layer=b.layer, device="cpu").weights[b.head, R.focus]
    assert [bar.value for bar in state.bars] == pytest.approx(row.tolist(), abs=1e-6)
    assert shows(state.total, float(row.sum())) and state.total.str == "1.00"
    assert [r.key for r in state.table_rows] == [r.key for r in R.rows]
    for r, label in zip(state.table_rows, state.table.numbers):
        assert shows(label, r.weight)
    for h, chip in enumerate(state.chips):  # the lesson's own heads, h numbered from 1
        w = lesson.trace.weights[h, lesson.focus]
        assert chip.key == int(w.argmax()) and chip.weight == pytest.approx(float(w.max()))


def test_add_and_norm_says_the_drawn_rows_mean_and_variance(lesson, headless):
    """The row shown is LayerNorm's output with MiniLM's learned gain and bias, so its variance is not 1: the beat
    says the row's own numbers."""
    row = lesson.normed[lesson.focus].double()
    mean, variance = float(row.mean()), float(row.var(unbiased=False))
    said = next(b.text for b in headless({}, "dark", "output-projection").beats if "Add and Norm" in b.text)
    assert "learned gain and bias" in said and abs(variance - 1) > 0.1
    assert f"mean {style.fmt(mean)}, variance {style.fmt(variance)}" in said
