"""The intro's data: "The cat sat down" traced by MiniLM, and the heads chosen for its relationships.

Every number is checked against an independent computation: a fresh trace of the example, the probe
relations (``relation_heads_of``) and the corpus profiles (``corpus_profiles_of``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mha_core import corpus_profiles_of, load_minilm, load_model, trace_pretrained
from mha_core.relations import relation_heads_of
from scenes.lesson.relationships import (
    DETERMINER_NOUN,
    EXAMPLE,
    LOCAL,
    ROWS,
    SUBJECT_VERB,
    VERB_MODIFIER,
    build_relationships,
)


@pytest.fixture(scope="module")
def relations():
    return tuple(relation_heads_of(load_model("minilm")))


@pytest.fixture(scope="module")
def rel(relations):
    return build_relationships(load_model("minilm"), relations)


def traced(layer: int) -> torch.Tensor:
    """MiniLM's weights on the example at ``layer``, traced afresh: [head, query, key]."""
    return trace_pretrained(EXAMPLE, layer=layer, device="cpu").weights.double()


def test_the_example_is_read_as_minilm_reads_it(rel):
    model = load_minilm("cpu")
    assert rel.tokens == ("[CLS]", "the", "cat", "sat", "down", "[SEP]")
    assert rel.tokens[rel.focus] == "sat"
    assert (rel.n_layer, rel.n_head, rel.total_heads) == (model.n_layer, model.n_head, model.n_layer * model.n_head)
    assert rel.d_model == model.d_model and rel.d_head * rel.n_head == rel.d_model
    assert [r.key for r in rel.rows] == list(ROWS)


def test_the_bottleneck_is_the_verb_subject_heads_softmax_row(rel, relations):
    chosen = next(r for r in relations if r.relation == "verb->subject")
    b = rel.bottleneck
    assert (b.layer, b.head) == (chosen.layer, chosen.head) and b is rel.row(SUBJECT_VERB)
    row = traced(b.layer)[b.head, rel.focus]
    assert rel.focus_row == pytest.approx(row.tolist(), abs=1e-6)
    assert len(rel.focus_row) == len(rel.tokens)
    assert rel.focus_total == pytest.approx(1.0, abs=1e-6) == sum(rel.focus_row)
    assert torch.allclose(rel.layer_rows, traced(b.layer)[:, rel.focus], atol=1e-6)  # every head of that layer


def test_every_rows_weight_is_the_traced_weight_at_its_head(rel):
    for r in rel.rows:
        w = traced(r.layer)
        assert len(r.weights) == len(r.links) >= 1
        for (q, k), weight in zip(r.links, r.weights):
            assert weight == pytest.approx(float(w[r.head, q, k]), abs=1e-6)
        assert r.weight == pytest.approx(sum(r.weights) / len(r.weights))
    at = rel.position
    assert rel.row(SUBJECT_VERB).links == ((at("sat"), at("cat")),)
    assert rel.row(VERB_MODIFIER).links == ((at("sat"), at("down")),)
    assert rel.row(DETERMINER_NOUN).links == ((at("the"), at("cat")),)
    assert rel.row(LOCAL).links == ((at("cat"), at("the")), (at("sat"), at("cat")), (at("down"), at("sat")))


def test_probed_rows_carry_the_held_out_measure(rel, relations):
    by_name = {r.relation: r for r in relations}
    for key in (SUBJECT_VERB, DETERMINER_NOUN):
        row, result = rel.row(key), by_name[key]
        e = row.evidence
        assert (row.layer, row.head) == (result.layer, result.head)
        assert e.kind == "held-out" and e.value == result.accuracy and e.n == result.n
        assert (e.baseline_name, e.baseline) == (result.baseline_name, result.baseline_accuracy)
        assert row.labelled == result.labelled


def test_a_row_is_labelled_exactly_when_its_relation_is(relations):
    """Flip the probe's verdicts: the rows follow them (the scene names a head only when labelled)."""
    flipped = build_relationships(load_model("minilm"), [replace(r, labelled=not r.labelled) for r in relations])
    by_name = {r.relation: r for r in relations}
    for key in (SUBJECT_VERB, DETERMINER_NOUN):
        assert flipped.row(key).labelled == (not by_name[key].labelled)
    assert flipped.row(VERB_MODIFIER).labelled is False  # picked on one sentence: never a name


def test_the_modifier_head_is_the_largest_weight_of_all_heads_on_this_sentence(rel):
    row = rel.row(VERB_MODIFIER)
    (q, k), = row.links
    weights = torch.stack([traced(layer)[:, q, k] for layer in range(rel.n_layer)])  # [layer, head]
    assert row.weight == pytest.approx(float(weights.max()), abs=1e-6)
    assert float(weights[row.layer, row.head]) == pytest.approx(float(weights.max()), abs=1e-9)
    assert row.evidence.kind == "sentence" and row.evidence.n == rel.total_heads and not row.labelled


def test_local_context_is_the_strongest_previous_token_head_of_the_corpus(rel):
    profiles = [corpus_profiles_of(load_model("minilm"), layer) for layer in range(rel.n_layer)]
    best = max((p for ps in profiles for p in ps), key=lambda p: p.previous)
    row = rel.row(LOCAL)
    assert (row.layer, row.head) == (best.layer, best.head)
    assert row.evidence.kind == "corpus" and row.evidence.value == best.previous
    assert row.evidence.n == best.n_sentences
    assert row.labelled == (best.label == "previous-token") and row.evidence.threshold == 0.5
    assert row.labelled == (row.evidence.value >= row.evidence.threshold)
    assert row.corpus_label == best.label


def test_top_word_is_the_heads_prediction(rel):
    """``top_word``: the link's key is the word the head attends to most, [CLS], [SEP] and itself left out."""
    words = [i for i, t in enumerate(rel.tokens) if t not in ("[CLS]", "[SEP]")]
    for r in rel.rows:
        w = traced(r.layer)[r.head]
        for (q, k), top in zip(r.links, r.top_word):
            others = [j for j in words if j != q]
            assert top == (max(others, key=lambda j: float(w[q, j])) == k)


def test_two_heads_of_one_layer_give_sat_more_than_one_row_could(rel):
    subject, modifier = rel.row(SUBJECT_VERB), rel.row(VERB_MODIFIER)
    assert rel.link_sum == pytest.approx(subject.weight + modifier.weight)
    # What the intro says of MiniLM: both links come from the same layer, and together outweigh one row.
    assert subject.layer == modifier.layer and rel.link_sum > 1
