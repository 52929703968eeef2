"""The numbers the first five chapters put on screen are the model's numbers.

Each chapter is run headless; the test reads the displayed strings and source values
off the mobjects (NumberLabel ``.str``/``.value``, grid cells' ``.weight``) and compares
them with ``lesson.trace`` (and the analysis) at the precision shown.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import reads_runs
from manim import Text

from mha_core import load_model
from mha_core.analysis import SHARE_THRESHOLD, corpus_profiles_of
from mha_core.relations import earned_relations
from mha_core.pretrained import load_minilm
from scenes import style
from scenes.parts import NumberLabel

pytestmark = reads_runs("default")  # the session's dark runs of the default lesson

MECHANICS = ("intro", "one-head", "split-heads", "parallel-heads", "specialization")


@pytest.fixture(scope="module")
def lesson(lesson_for):
    return lesson_for()  # the session's default Lesson (conftest)


@pytest.fixture(scope="module")
def scenes(headless):
    """The state (what was drawn, by name) of chapters 1-5, each run once with animations skipped (the session's
    runs, shared with the other modules: read them, never change them)."""
    return {cid: headless({}, "dark", cid).state for cid in MECHANICS}


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
    T, t, f, h = scenes["one-head"].table, lesson.trace, lesson.focus, lesson.focus_head
    assert t.tokens[f] == "it"  # the default sentence's pronoun is the worked query
    assert len(T.scores) == t.n_pos
    for j in range(t.n_pos):
        shown(T.scores[j], float(t.scores[h, f, j]))
        shown(T.scaled[j], float(t.scaled[h, f, j]))
        shown(T.weights[j], float(t.weights[h, f, j]))
        # The scaling on screen is the real one: score / sqrt(d_k).
        assert T.scaled[j].value == pytest.approx(T.scores[j].value / math.sqrt(t.d_head), rel=1e-5)
    assert sum(w.value for w in T.weights) == pytest.approx(1.0, abs=1e-5)
    for (dim, j), mob in T.k_block.cells.items():
        shown(mob, float(t.k[h, j, dim]))
    for (dim, j), mob in T.v_block.cells.items():
        shown(mob, float(t.v[h, j, dim]))
    q = [m for m in T.q_col if isinstance(m, NumberLabel)]
    dims = [d for d in T.dims if d is not None]  # the query's dimensions drawn (a wide head is elided)
    assert [m.value for m in q] == pytest.approx(t.q[h, f, dims].tolist(), abs=1e-6)


def test_one_head_projections_are_x_times_the_heads_weights(lesson, scenes):
    """q, k, v of the focus word on screen are x[word] W^(h) + b^(h) of the focus head, recomputed from the weights."""
    group, t, f, mha = scenes["one-head"].projections, lesson.trace, lesson.focus, lesson.mha
    h = lesson.focus_head
    x_row, *role_rows = group[0]
    for (_, j), label in x_row._entries.items():
        shown(label, float(t.x[f, j]))
    d_k = t.d_head
    for row, role in zip(role_rows, "QKV"):
        # The focus head's block: its d_k columns of W and b.
        W, b = mha.head_weights(role)[h], getattr(mha, f"b_{role}")[h * d_k:(h + 1) * d_k]
        expected = (t.x[f] @ W + b).detach()
        assert row._entries, role
        for (_, j), label in row._entries.items():
            shown(label, float(getattr(t, role.lower())[h, f, j]))
            assert label.value == pytest.approx(float(expected[j]), abs=1e-5)


def test_one_head_output_is_the_weighted_sum(lesson, scenes):
    scene, t, f, h = scenes["one-head"], lesson.trace, lesson.focus, lesson.focus_head
    entries = [m for m in scene.result[1] if isinstance(m, NumberLabel)]
    dims = [d for d in scene.table.dims if d is not None]  # the dimensions drawn (a wide head is elided)
    assert len(entries) == len(dims)
    mixed = t.weights[h, f] @ t.v[h]  # what "weights mix values" means, recomputed independently
    for d, m in zip(dims, entries):
        shown(m, float(t.heads[h, f, d]))
        assert m.value == pytest.approx(float(mixed[d]), abs=1e-5)


def test_split_heads_block_is_the_same_numbers(lesson, scenes):
    zoom, mha = scenes["split-heads"].zoom, lesson.mha
    dk = lesson.d_head
    assert zoom.entries, "the W_Q^(1) block shows numbers"
    for (i, j), mob in zoom._entries.items():
        assert j < dk
        shown(mob, float(mha.W_Q.detach()[i, j]))  # a column of the big matrix ...
        assert mob.value == pytest.approx(float(mha.head_weights("Q").detach()[0, i, j]), abs=1e-7)  # ... is head 1's


def test_each_heads_space_is_drawn_from_its_trace(lesson, scenes, headless):
    """The two planes: further right is a higher score (across is exact), the reach written is the top key's
    score, each weight is the trace's, each dot's area grows with its weight, and the beats say those numbers."""
    scene, f, keys = scenes["split-heads"], lesson.focus, lesson.visible_keys()
    a, b = lesson.focus_head, lesson.contrast_head
    assert b is not None and b != a
    link, _ = lesson.strongest_link(lesson.trace.weights[a])
    assert lesson.tokens[lesson.focus_reads[b]] not in ("[CLS]", "[SEP]") and lesson.focus_reads[b] != link
    said = " ".join(beat.text for beat in headless({}, "dark", "split-heads").beats)
    for panel, sized, head in zip(scene.spaces, scene.sized, (a, b)):
        scores = lesson.trace.scaled[head, f, keys].double()
        weights = lesson.trace.weights[head, f, keys].double()
        x = torch.tensor([dot.get_x() for dot in panel.dots], dtype=torch.float64)
        for i in range(len(keys)):
            for j in range(len(keys)):
                if scores[i] > scores[j] + 1e-6:
                    assert x[i] > x[j], (lesson.tokens[keys[i]], lesson.tokens[keys[j]])
        assert panel.top == int(scores.argmax()) == int(weights.argmax())
        shown(panel.reach, float(scores[panel.top]))
        assert panel.weights, "some keys carry their weight"
        for i, label in panel.weights.items():
            shown(label, float(weights[i]))
            assert panel.names[i].text == lesson.tokens[keys[i]]
        radii = torch.tensor([dot.width / 2 for dot in sized], dtype=torch.float64)
        big = weights > 0.05
        assert torch.allclose(radii[big] ** 2 / weights[big], (radii[big] ** 2 / weights[big])[0], rtol=0.02)
        top = lesson.tokens[keys[panel.top]]
        assert f"“{top}” reaches furthest, {style.fmt(float(scores[panel.top]))}" in said or \
            f"“{top}”, {style.fmt(float(scores[panel.top]))}" in said
        assert f"gives “{top}” {style.fmt(float(weights[panel.top]))}" in said


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
    from scenes.chapters.split_heads import trap_heads

    heads = trap_heads(lesson)
    assert lesson.focus_head in heads and lesson.copied_head in heads and lesson.copied_head != lesson.focus_head
    for grid, i in zip(scene.real_grids, heads):
        assert torch.allclose(cell_weights(grid), lesson.trace.weights[i].double(), atol=1e-6)


def test_failure_trap_losses_are_measured(lesson, scenes):
    """What the copies lose, on screen, is the Lesson's measurement; two independent computations agree."""
    text = words_of(scenes["split-heads"].lost)
    change = float(torch.linalg.vector_norm(lesson.copies.output - lesson.trace.output)
                   / torch.linalg.vector_norm(lesson.trace.output))
    assert f"{change:.2f}times" in text
    if lesson.trap is not None:  # MiniLM: the core's own run of the copies agrees with the Lesson's trace
        t = lesson.trap
        assert t.output_change == pytest.approx(change, rel=1e-4) and t.head == lesson.copied_head
        assert f"{t.embedding_similarity:.3f}" in text and f"{t.probe_shift:.3f}" in text
        assert f"{t.others_shift:.3f}" in text and t.others_shift > t.one_head_shift  # the same heads, zeroed


def cell_weights(grid) -> torch.Tensor:
    """The weights a grid draws: per cell (Squares) or, for binned overview grids, the matrix it binned."""
    if grid.cells is None:
        return torch.as_tensor(grid.shown, dtype=torch.float64)  # [drawn query, drawn key]
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


def test_specialization_gallery_tiles_show_the_measurements(lesson, scenes):
    """Each tile: the head's real attention, "layer L, head H" numbered from 1, and its measured number beside its
    baseline, read back from lesson.relations (relation heads) and the corpus profiles (surface labels)."""
    scene, g = scenes["specialization"], lesson.gallery
    assert g is not None and len(scene.tiles) == len(g.tiles) >= 6
    passed = earned_relations(lesson.relations)  # a head that earned two relations is named by its most accurate
    assert set(passed) <= {(b.data.layer, b.data.head) for b in scene.tiles}  # every relation head that passed
    for box in scene.tiles:
        t = box.data
        drawn = t.weights[list(box.grid.query_positions)][:, list(box.grid.key_positions)]
        assert torch.allclose(cell_weights(box.grid), drawn.double(), atol=1e-6)
        assert box.title.text.replace(" ", "") == f"layer{t.layer + 1},head{t.head + 1}"
        label, measure = words_of(box.label), words_of(box.measure)
        if (t.layer, t.head) in passed:
            r = passed[(t.layer, t.head)]
            assert label == r.relation.replace("->", "\u2192")
            assert measure == f"{style.fmt(r.accuracy)}vs{r.baseline_name}{style.fmt(r.baseline_accuracy)}".replace(
                " ", "")
        else:
            profile = corpus_profiles_of(load_model("minilm"), t.layer)[t.head]
            assert "\u2192" not in label  # no relation name on a head that did not pass
            if profile.label is None:
                assert label.startswith("nolabel") and style.fmt(profile.entropy) in label
            else:
                sig = {"previous-token": "previous", "next-token": "next", "[CLS]": "cls", "[SEP]": "sep",
                       "current-token": "current", "punctuation": "punctuation"}[profile.label]
                assert measure.startswith(style.fmt(profile.get(sig)) + "vs")
                assert profile.get(sig) >= SHARE_THRESHOLD
    # The framed row is the pronoun's, in every tile.
    assert all(b.focus_word.text == "it" for b in scene.tiles)


def test_specialization_scientist_weights_are_traced_live(lesson, scenes):
    scene, p = scenes["specialization"], lesson.gallery.probe
    r = next(r for r in lesson.relations if r.relation == "pronoun->antecedent")
    trace = load_minilm().trace_all("The scientist who reviewed the paper said it was flawed.")[r.layer]
    row = trace.weights[r.head, trace.tokens.index("it")]
    assert [w.value for w in scene.probe_weights] == pytest.approx(row.tolist(), abs=1e-6)
    for w in scene.probe_weights:
        shown(w, w.value)
    # The card says which word the numbers favour, and by how much, whichever it is.
    scientist, paper = (float(row[trace.tokens.index(w)]) for w in ("scientist", "paper"))
    (win, w_win), (lose, w_lose) = sorted((("scientist", scientist), ("paper", paper)), key=lambda x: -x[1])
    card = words_of(scene.probe_card)
    assert f"prefers\u201c{win}\u201d:{style.fmt(w_win)}against{style.fmt(w_lose)}for\u201c{lose}\u201d" in card
    assert f"{style.fmt(r.accuracy)}abovecomesfrom{r.n}held-out" in card  # the caveat that follows
    assert p.layer == r.layer and p.head == r.head


def test_specialization_unlabelled_count_is_measured(lesson, scenes):
    scene = scenes["specialization"]
    earned = {(r.layer, r.head) for r in lesson.relations if r.labelled}
    expected = sum(1 for layer in range(6) for p in corpus_profiles_of(load_model("minilm"), layer) if p.label is None
                   and (layer, p.head) not in earned)
    table = scene.table
    last = len(table.rows) - 1
    assert table.cell(last, len(table.kinds)).value == expected  # the "all" row's "no label" column
    for layer in range(6):
        assert sum(n.value for n in table.rows[layer + 1] if isinstance(n, NumberLabel)) == 12
    assert f"{expected}ofthe72" in words_of(scene.notes[0].content)


def words_of(mob) -> str:
    """Every Text in ``mob`` (a line, or lines of a paragraph), joined, spaces left out."""
    return "".join(m.text for m in mob.get_family() if isinstance(m, Text)).replace(" ", "")


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


# -- intro: the single-head bottleneck and the relationship table ("The cat sat down", MiniLM) -------------------


def _texts_in(mob) -> list[str]:
    """The words of every Text in ``mob``'s family, as written (spaces kept)."""
    from manim import Text

    return [getattr(m, "original_text", m.text) for m in mob.get_family() if isinstance(m, Text)]


def test_intro_bottleneck_row_is_one_softmax_row_that_adds_up_to_one(lesson, scenes):
    from mha_core import trace_pretrained
    from scenes.lesson.relationships import EXAMPLE

    s, R = scenes["intro"], lesson.relationships
    b = R.bottleneck
    assert next(r for r in lesson.relations if r.relation == "verb->subject").head == b.head
    row = trace_pretrained(EXAMPLE, layer=b.layer, device="cpu").weights[b.head, R.focus].double()  # traced afresh
    assert len(s.bars) == len(s.bar_numbers) == len(s.sum_terms) == len(R.tokens) == row.numel()
    for bar, label, term, w in zip(s.bars, s.bar_numbers, s.sum_terms, row.tolist()):
        assert bar.value == pytest.approx(w, abs=1e-6)
        shown(label, w)
        shown(term, w)
    shown(s.total, float(row.sum()))
    assert s.total.str == "1.00"
    # The terms as written add up to the total as written: the viewer can check the sum.
    assert sum(style.parse(t.str) for t in s.sum_terms) == pytest.approx(style.parse(s.total.str), abs=1e-9)
    # Bars are drawn to one scale: heights in proportion to the weights.
    big = max(s.bars, key=lambda m: m.value)
    for bar in s.bars:
        if bar.value > 0.02:
            assert bar.height / big.height == pytest.approx(bar.value / big.value, rel=1e-3)
    assert "[CLS]" in " ".join(_texts_in(s.special)) and "[SEP]" in " ".join(_texts_in(s.special))


def test_intro_table_shows_each_heads_traced_weight(lesson, scenes):
    """Each row: the head that carries the relationship, numbered from 1, and its traced weight on the link; no
    measurement yet (the second act tests heads: tests/test_act_one.py)."""
    from mha_core import trace_pretrained
    from scenes.lesson.relationships import EXAMPLE

    s, R = scenes["intro"], lesson.relationships
    assert [r.key for r in s.table_rows] == [r.key for r in R.rows] and len(s.table.numbers) == len(R.rows)
    for r, number, head in zip(s.table_rows, s.table.numbers, s.heads):
        w = trace_pretrained(EXAMPLE, layer=r.layer, device="cpu").weights[r.head].double()
        shown(number, sum(float(w[q, k]) for q, k in r.links) / len(r.links))
        assert _texts_in(head) == [f"layer {r.layer + 1}, head {r.head + 1}"]  # numbered from 1, no label yet


def test_intro_layer_rows_are_every_head_of_that_layer(lesson, scenes):
    s, R = scenes["intro"], lesson.relationships
    assert torch.allclose(cell_weights(s.layer_grid), R.layer_rows.double(), atol=1e-6)
    assert s.layer_grid.n_queries == R.n_head == 12
    line = " ".join(_texts_in(s.count_line))
    assert f"{R.n_head} heads" in line and f"{R.n_layer} layers" in line and f"= {R.total_heads} " in line


def test_intro_table_text_stays_readable(lesson, scenes):
    """The table is shrunk to fit the frame, but not below the smallest size readable at 480p."""
    from scenes.chapters.intro import TABLE_SIZE

    n = scenes["intro"].table.numbers[0]
    scale = n.height / NumberLabel(n.value, n.str, TABLE_SIZE).height
    assert scale * TABLE_SIZE >= style.NUMBER_SIZE


# 18 word pieces: the chapters draw 14 of them, a window around "it" (Lesson.drawn_positions).
LONG = "The scientist who reviewed the paper carefully before the long meeting said it was flawed."


def test_where_heads_look_has_a_sentence_for_every_case():
    from scenes.chapters.intro import OWN_SENTENCE_IDS
    from scenes.chapters.parallel_heads import SAME_QUERY_IDS
    from scenes.lesson.focus import LOOK_CASES, where_heads_look

    assert set(OWN_SENTENCE_IDS) == set(SAME_QUERY_IDS) == set(LOOK_CASES)
    assert where_heads_look(["[CLS]", "was", "[SEP]", "tired", "was"]) == (
        "mixed", {"n_parked": 2, "n_words": 2, "top": "was"})
    assert where_heads_look(["[CLS]", "was"])[0] == "parked-one-word"
    assert where_heads_look(["cat", "was"])[0] == "none-parked"
    assert where_heads_look(["cat", "cat"])[0] == "one-word"
    assert where_heads_look(["[SEP]", "[CLS]"]) == ("all-parked", {"n_parked": 2, "n_words": 0, "top": ""})


@pytest.mark.parametrize("overrides", [{}, {"sentence": LONG}], ids=["default", "long"])
def test_what_the_heads_read_from_the_focus_word_is_what_the_beat_says(lesson_for, headless, overrides):
    """Where each head puts most of the focus word's weight, counted on the whole row of the trace, is what the
    parallel-heads beat says (8 of MiniLM's 12 heads put most of "it"'s weight on [CLS]: "each head links it
    elsewhere" was false), also when a long sentence is drawn only in part (a window of 14 of its 18 pieces)."""
    lesson = lesson_for(**overrides)
    f = lesson.focus
    keys = [lesson.tokens[int(k)] for k in lesson.trace.weights[:, f].argmax(dim=-1)]
    parked = sum(k in ("[CLS]", "[SEP]") for k in keys)
    words = {k for k in keys if k not in ("[CLS]", "[SEP]")}
    said = next(b.text for b in headless(overrides, "dark", "parallel-heads").beats if "across the heads" in b.text)
    assert parked > 0 and len(words) > 1  # both sentences' case: "mixed"
    assert f"{parked} of the {lesson.n_head} put most of its weight on [CLS] or [SEP]" in said
    assert f"the others on {len(words)} different words" in said


def test_the_copies_line_says_where_the_copies_put_the_weight(lesson, headless):
    """Where the copies put most of the focus word's weight, [CLS] included (it was said to be ".", 0.03, while
    [CLS] had 0.81)."""
    row = lesson.copies.weights[0, lesson.focus]
    top = int(row.argmax())
    said = next(b.text for b in headless({}, "dark", "split-heads").beats if b.text.startswith("In the real layer"))
    assert f"{style.fmt(float(row[top]))} to “{lesson.tokens[top]}”" in said


# -- a long sentence: every chapter draws the same window, and each number is its own token's -----------------


@pytest.fixture(scope="module")
def long_lesson(lesson_for):
    return lesson_for(sentence=LONG)


def test_a_long_sentence_keeps_the_words_its_relation_needs(long_lesson):
    """The window keeps "it", where the worked head links it and its four heaviest keys, and the word each head's
    largest weight lands on ("was", "flawed", "said", [CLS]); it leaves out 4 of the 18 pieces, far from "it"."""
    L = long_lesson
    drawn = L.drawn_positions(style.MAX_TOKENS)
    assert L.trace.n_pos == 18 and len(drawn) == style.MAX_TOKENS and list(drawn) == sorted(set(drawn))
    assert L.tokens[L.focus] == "it" and L.focus in drawn
    row = L.trace.weights[L.focus_head, L.focus]
    link, _ = L.strongest_link(L.trace.weights[L.focus_head])
    top = [int(k) for k in torch.argsort(row, descending=True) if int(k) != L.focus][:4]
    assert {link, *top, *L.focus_reads} <= set(drawn)
    assert {L.tokens[k] for k in L.focus_reads} == {"[CLS]", "was", "flawed", "said"}
    assert "flawed" in [L.tokens[k] for k in drawn]


def test_a_short_sentence_is_drawn_whole(lesson):
    assert lesson.drawn_positions(style.MAX_TOKENS) == tuple(range(lesson.trace.n_pos))


def test_one_head_on_a_long_sentence_works_through_the_window(long_lesson, headless):
    """Each column of the worked row is a drawn key: its name, its score, scaled score and weight are that key's,
    under its name, a "…" in each gap; the arcs start at the focus word's own column."""
    L, state = long_lesson, headless({"sentence": LONG}, "dark", "one-head").state
    T, t, f, h = state.table, L.trace, L.focus, L.focus_head
    drawn = list(L.drawn_positions(style.MAX_TOKENS))
    assert T.keys == drawn and state.f == f
    assert [w.text for w in T.key_labels] == [t.tokens[k] for k in drawn]
    for j, k in enumerate(drawn):
        shown(T.scores[j], float(t.scores[h, f, k]))
        shown(T.scaled[j], float(t.scaled[h, f, k]))
        shown(T.weights[j], float(t.weights[h, f, k]))
        for row in (T.scores, T.scaled, T.weights):  # each number under its own token
            assert abs(row[j].get_x() - T.key_labels[j].get_x()) < 0.05
    for (dim, k), mob in T.k_block.cells.items():
        assert k in drawn
        shown(mob, float(t.k[h, k, dim]))
    n_gaps = len([1 for a, b in zip([-1, *drawn], [*drawn, t.n_pos]) if b - a > 1])
    assert all(len(g) == n_gaps for g in T.gaps.values()) and n_gaps == 2
    xs = sorted([(x.get_x(), "key") for x in T.key_labels] + [(m.get_x(), "gap") for m in T.gaps["keys"]])
    assert [kind for _, kind in xs].count("gap") == 2 and xs[0][1] == xs[-1][1] == "key"
    assert any("4of18tokensnotdrawn" in getattr(m, "text", "") for m in state.header.get_family())
    assert T.key_labels[drawn.index(f)].text == "it"  # the arcs' source: the focus word's own column


def test_parallel_heads_on_a_long_sentence_frame_each_heads_own_cell(long_lesson, headless):
    """The framed row is "it"'s, and each head's framed cell is its largest weight in that row (the window keeps
    every head's), the grids draw the window's weights, and the note says what is elided."""
    L, run = long_lesson, headless({"sentence": LONG}, "dark", "parallel-heads")
    state, drawn = run.state, L.drawn_positions(style.MAX_TOKENS)
    for i, g in enumerate(state.grids):
        assert g.query_positions == g.key_positions == drawn
        assert torch.allclose(cell_weights(g), L.trace.weights[i][list(drawn)][:, list(drawn)].double(), atol=1e-6)
    f = state.grids[0].query_index(L.focus)
    assert drawn[f] == L.focus
    assert any("4of18tokensnotdrawn" in s for s in run.shown)


def test_head_outputs_on_a_long_sentence_shade_each_key_under_its_name(long_lesson, headless):
    L, state = long_lesson, headless({"sentence": LONG}, "dark", "head-outputs").state
    drawn = L.drawn_positions(style.MAX_TOKENS)
    keys = [m for m in state.table[1] if m.text != "…"]
    assert [k.text for k in keys] == [L.tokens[p] for p in drawn]
    for i, row in enumerate(state.head_rows):
        assert [c.weight for c in row.cells] == pytest.approx(L.trace.weights[i, L.focus, list(drawn)].tolist())
        for key, cell in zip(keys, row.cells):
            assert abs(key.get_x() - cell.get_x()) < 0.02
        assert L.focus_reads[i] in drawn  # its strongest link is framed where it is drawn


def test_the_trap_and_the_gallery_draw_the_window(long_lesson, headless):
    L = long_lesson
    drawn = L.drawn_positions(style.MAX_TOKENS)
    state = headless({"sentence": LONG}, "dark", "split-heads").state
    for g in (*state.real_grids, *state.copies_grids):
        assert g.key_positions == drawn
    spec = headless({"sentence": LONG}, "dark", "specialization").state
    gallery = L.gallery
    for box in spec.tiles:
        f = box.grid.query_index(gallery.focus)
        assert f is not None and box.focus_frame is not None  # "it" is always drawn, its row framed
        assert abs(box.focus_frame.get_y() - box.grid.row_box(f).get_y()) < 1e-6
    assert [w.text for w in spec.row.words] == [gallery.tokens[p] for p in spec.row.positions]
    assert len(spec.row.marks) >= 1 and spec.row.hidden == len(gallery.tokens) - style.MAX_TOKENS


# -- specialisation: words related by meaning ----------------------------------------------------------------------


def test_the_meaning_section_shows_the_measured_head_and_its_weights(lesson, scenes, headless):
    """The title says the held-out result of mha_core.meaning; each noun's number is the head's attention from the
    query noun (three decimals: they are small and close); the voice says faint when [CLS]/[SEP] take most."""
    from scenes.chapters.specialization import MEANING_DIGITS

    run = headless({}, "dark", "specialization")
    s, g = scenes["specialization"], lesson.gallery
    r, e = g.meaning, g.meaning_example
    title = " ".join(_texts_in(s.meaning_title))
    assert f"layer {r.layer + 1}, head {r.head + 1}" in title and style.fmt(r.accuracy) in title
    assert style.fmt(r.baseline_accuracy) in title and r.baseline_name in title
    assert [w.text for w in s.meaning_row.words] == [e.words[k] for k in e.nouns]  # its nouns, in order
    for k, number in zip(e.nouns, s.meaning_weights):
        shown(number, e.weights[k], MEANING_DIGITS)
    reading = " ".join(_texts_in(s.meaning_reading))
    for value in (e.partner_share, e.other_share, e.special_share):
        assert style.fmt(value) in reading
    said = " ".join(b.text for b in run.beats)
    assert ("faint preference" in said) == (e.special_share > 0.5)
    assert (f"{style.fmt(r.accuracy)} of the time held out" in said) == r.labelled
