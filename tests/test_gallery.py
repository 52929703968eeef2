"""scenes.lesson.gallery: the specialisation chapter's heads and numbers, read back against the measurements
they come from (mha_core.relations' held-out results, mha_core.analysis' corpus profiles, live traces)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mha_core.analysis import BROAD_THRESHOLD, SHARE_THRESHOLD, corpus_profiles_of, corpus_sentences, is_punctuation
from mha_core import load_model
from mha_core.pretrained import load_minilm
from mha_core.relations import ALPHA, MIN_MARGIN, earned_relations, relation_heads_of
from scenes.lesson.config import DEFAULT_SENTENCE
from scenes.lesson.gallery import (
    MAX_TILES,
    PRONOUN,
    SCIENTIST,
    build_gallery,
    choose_tiles,
    scientist_probe,
)

LABEL_SIGNATURE = {"previous-token": "previous", "next-token": "next", "current-token": "current", "[CLS]": "cls",
                   "[SEP]": "sep", "punctuation": "punctuation"}


@pytest.fixture(scope="module")
def relations():
    return tuple(relation_heads_of(load_model("minilm")))


@pytest.fixture(scope="module")
def profiles():
    return tuple(tuple(corpus_profiles_of(load_model("minilm"), layer)) for layer in range(6))


@pytest.fixture(scope="module")
def gallery(relations):
    return build_gallery(load_model("minilm"), DEFAULT_SENTENCE, relations)


def test_the_toy_model_has_no_gallery():
    from scenes.lesson.build import build_lesson
    from scenes.lesson.config import LessonConfig

    lesson = build_lesson(LessonConfig(specialization_model="toy"))
    assert lesson.gallery is None and "relations" not in lesson.computed()  # untrained heads: nothing measured


def test_every_relation_that_passed_is_shown_with_its_held_out_numbers(gallery, relations):
    passed = list(earned_relations(relations).values())  # a head that earned two is named by its most accurate
    assert passed, "the shipped probe set should give at least one relation head"
    assert {(r.layer, r.head) for r in relations if r.labelled} == {(r.layer, r.head) for r in passed}
    tiles = {(t.layer, t.head): t for t in gallery.tiles}
    for r in passed:
        t = tiles[(r.layer, r.head)]
        assert (t.kind, t.label, t.measure) == ("relation", r.relation, "accuracy")
        assert (t.value, t.baseline_name, t.baseline) == (r.accuracy, r.baseline_name, r.baseline_accuracy)
        assert t.value - t.baseline >= MIN_MARGIN - 1e-9 and r.p_value < ALPHA  # the label rule, as measured
    # ... and no relation name on a head that did not pass.
    for t in gallery.tiles:
        if t.kind == "relation":
            assert t.relation.labelled and (t.relation.layer, t.relation.head) == (t.layer, t.head)


def test_surface_labels_only_where_the_corpus_gave_one(gallery, profiles, relations):
    earned = {(r.layer, r.head) for r in relations if r.labelled}
    for t in gallery.tiles:
        p = profiles[t.layer][t.head]
        assert t.profile.label == p.label and t.profile.n_sentences == p.n_sentences
        if t.kind == "relation":
            continue
        assert (t.layer, t.head) not in earned
        assert t.label == p.label
        if t.kind in ("position", "separator"):
            sig = LABEL_SIGNATURE[p.label]
            assert t.measure == sig and t.value == pytest.approx(p.get(sig)) and t.value >= SHARE_THRESHOLD
            assert t.baseline_name == "even spread" and t.baseline == pytest.approx(gallery.even_shares[sig])
        else:  # no label (or broad): its spread against the broad threshold
            assert t.kind in ("none", "broad") and t.measure == "entropy"
            assert t.value == pytest.approx(p.entropy) and t.baseline == BROAD_THRESHOLD
            assert (t.value >= BROAD_THRESHOLD) == (t.label == "broad")


def test_the_gallery_spans_layers_and_kinds(gallery, profiles):
    keys = [(t.layer, t.head) for t in gallery.tiles]
    assert len(keys) == len(set(keys)) <= MAX_TILES and keys == sorted(keys)
    assert {t.layer for t in gallery.tiles} == set(range(6))  # every layer
    kinds = {t.kind for t in gallery.tiles}
    assert {"position", "separator", "relation"} <= kinds
    # The positional heads are the strongest of their label over all 72 heads.
    for t in gallery.tiles:
        if t.kind == "position":
            sig = LABEL_SIGNATURE[t.label]
            best = max(p.get(sig) for ps in profiles for p in ps if p.label == t.label)
            assert t.value == pytest.approx(best)


def test_tiles_draw_the_heads_real_attention(gallery):
    traces = load_minilm().trace_all(DEFAULT_SENTENCE)
    assert gallery.tokens == tuple(traces[0].tokens)
    assert gallery.tokens[gallery.focus] == "it"  # the default sentence's pronoun row is the framed one
    for t in gallery.tiles:
        assert torch.allclose(t.weights, traces[t.layer].weights[t.head].float(), atol=1e-6)
        assert torch.allclose(t.weights.sum(-1), torch.ones(len(gallery.tokens)), atol=1e-5)


def test_the_unlabelled_count_is_every_head_with_no_label(gallery, profiles, relations):
    earned = {(r.layer, r.head) for r in relations if r.labelled}
    expected = sum(1 for layer, ps in enumerate(profiles) for p in ps
                   if p.label is None and (layer, p.head) not in earned)
    assert gallery.n_heads == 72 and gallery.n_unlabelled == expected
    assert 0 < expected < 72
    for count in gallery.layers:
        assert sum(count.counts.values()) == 12
        assert count["relation"] == sum(1 for layer, _ in earned if layer == count.layer)


def test_even_spread_shares_are_one_over_the_tokens(gallery):
    model = load_minilm()
    lengths = [len(model.tokenize(s)[0]) for s in corpus_sentences()]
    assert gallery.even_shares["previous"] == pytest.approx(sum(1 / n for n in lengths) / len(lengths))
    punct = [sum(map(is_punctuation, model.tokenize(s)[0])) / len(model.tokenize(s)[0]) for s in corpus_sentences()]
    punct = [x for x in punct if x]
    assert gallery.even_shares["punctuation"] == pytest.approx(sum(punct) / len(punct))


def test_the_scientist_weights_are_the_traced_weights(gallery, relations):
    p = gallery.probe
    r = next(r for r in relations if r.relation == PRONOUN)
    assert p is not None and p.relation == r and (p.layer, p.head) == (r.layer, r.head)
    trace = load_minilm().trace_all(SCIENTIST)[r.layer]
    assert p.tokens == tuple(trace.tokens) and p.tokens[p.query] == "it"
    assert torch.allclose(p.weights, trace.weights[r.head, p.query].float(), atol=1e-6)
    assert [p.tokens[k] for k in p.candidates] == ["scientist", "paper"]
    assert p.prefers == max(p.candidates, key=lambda k: float(p.weights[k]))
    words = [k for k, t in enumerate(p.tokens) if t not in ("[CLS]", "[SEP]") and k != p.query]
    assert p.top == max(words, key=lambda k: float(p.weights[k]))
    assert p.special_share == pytest.approx(float(p.weights[0] + p.weights[-1]))


def test_an_unlabelled_relation_gets_no_tile_and_no_probe(relations, profiles):
    unlabelled = tuple(dataclasses.replace(r, labelled=False) for r in relations)
    assert scientist_probe(load_model("minilm"), unlabelled) is None
    chosen = choose_tiles(profiles, unlabelled)
    assert not any(reason.startswith("relation") for *_, reason in chosen)
    g = build_gallery(load_model("minilm"), DEFAULT_SENTENCE, unlabelled)
    assert g.probe is None and all(t.kind != "relation" and t.relation is None for t in g.tiles)
    assert all(c["relation"] == 0 for c in g.layers)


def test_the_meaning_example_is_the_heads_first_held_out_hit_and_its_shares_add_up(gallery):
    """The meaning head on its first report-half item where its top word is the partner: the weights are that
    head's word attention from the query noun; the mean shares are over every report item."""
    from mha_core.meaning import load_meaning_set
    from mha_core.relations import predictions, probe_attention_of, split_halves

    r, e = gallery.meaning, gallery.meaning_example
    assert r is not None and e is not None and r.n == 64
    _, report = split_halves(load_meaning_set())
    attention = probe_attention_of(load_model("minilm"), report)
    hits = [(s, q, p, A) for s, A in zip(report, attention) for q, p in s.items
            if int(predictions(A[r.layer, r.head])[q]) == p]
    s, q, p, A = hits[0]
    assert (e.words, e.query, e.partner) == (s.words, q, p)
    assert e.weights == pytest.approx(A[r.layer, r.head, q].tolist())
    others = [k for k in e.nouns if k not in (q, p)]
    assert e.weights[p] > max(e.weights[k] for k in others)  # the top word, special tokens and itself aside
    # Means over the report half: what the partner gets, the best other noun, and [CLS]/[SEP] (the rest of 1).
    rows = [(A[r.layer, r.head, qq], pp, s) for s, A in zip(report, attention) for qq, pp in s.items]
    assert e.partner_share == pytest.approx(sum(float(row[pp]) for row, pp, _ in rows) / len(rows))
    assert e.special_share == pytest.approx(sum(1 - float(row.sum()) for row, _, _ in rows) / len(rows))
    assert 0 < e.partner_share < 1 and e.partner_share + e.special_share < 1
