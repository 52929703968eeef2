"""The head explorer's data (scenes/render/explorer.py): every head's weights, exactly, with the label its
measurement earned and the numbers behind it. The page itself is tested in a browser (test_player_page)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from mha_core.induction import encode, load_induction_model
from scenes import style
from scenes.lesson.build import build_lesson, chapter_data
from scenes.lesson.chapters import CHAPTER_IDS
from scenes.lesson.config import LessonConfig
from scenes.render import explorer


def rendered_lesson(lesson_for, **overrides):
    """The session's Lesson of ``LessonConfig(**overrides)`` (conftest) as a render of every chapter leaves it:
    each chapter's data computed (the explorer offers what the rendered chapters computed)."""
    lesson = lesson_for(**overrides)
    for cid in CHAPTER_IDS:
        chapter_data(lesson, cid)
    return lesson


@pytest.fixture(scope="module")
def minilm_lesson(lesson_for):
    return rendered_lesson(lesson_for)  # MiniLM for the mechanics and the measured heads


@pytest.fixture(scope="module")
def toy_lesson(lesson_for):
    return rendered_lesson(lesson_for, model="toy", specialization_model="toy")


def test_the_explorer_offers_only_what_the_rendered_chapters_computed():
    # A Lesson of its own: a shared one may have computed more than this render's chapter.
    lesson = build_lesson(LessonConfig(model="toy", specialization_model="toy", chapters=("concat",)))
    chapter_data(lesson, "concat")
    assert [m.id for m in explorer.explorer_models(lesson)] == ["toy"]
    assert "induction" not in lesson.computed()


def _by_id(models):
    return {m.id: m for m in models}


def test_minilm_every_layer_and_head_with_its_measured_label(minilm_lesson):
    g = minilm_lesson.gallery
    models = _by_id(explorer.explorer_models(minilm_lesson))
    assert list(models) == ["minilm", "induction"]  # the mechanics layer is one of MiniLM's: no third model
    m = models["minilm"]
    assert m.file == explorer.HEADS_FILE and m.tokens == g.tokens
    assert m.weights.shape == (6, 12, len(g.tokens), len(g.tokens)) and torch.equal(m.weights, g.weights)
    # The lesson's own layer is in there, the same numbers as the mechanics chapters' trace.
    assert torch.equal(m.weights[minilm_lesson.layer], minilm_lesson.trace.weights.to(torch.float32))
    # It opens at what the mechanics chapters work through: their layer, head and word.
    assert m.start == (minilm_lesson.layer, minilm_lesson.focus_head, minilm_lesson.focus)
    labelled = 0
    for layer in range(6):
        for head in range(12):
            note = m.heads[layer][head]
            assert note.label == g.label_of(layer, head)
            # Named as the video names it: "previous token", a relation with its arrow, never "->"; the space
            # before the arrow does not break (a narrow line breaks after the arrow, never before it).
            assert note.headline == {None: "no label", "previous-token": "previous token", "next-token": "next token",
                                     "current-token": "own token", "broad": "broad"}.get(
                note.label, (note.label or "").replace("->", "\u00a0\u2192 "))
            assert "->" not in note.headline and "-token" not in note.headline
            relation = next((r for r in g.relations if r.labelled and (r.layer, r.head) == (layer, head)), None)
            profile = g.profiles[layer][head]
            if relation is not None:  # its held-out accuracy and the baseline's
                assert f"{relation.accuracy:.2f}" in note.evidence
                assert f"{relation.baseline_accuracy:.2f}" in note.evidence
            elif note.label in ("broad", None):
                assert f"{profile.entropy:.2f}" in note.evidence
            else:  # a share label: the share, and what an even spread gives
                signature = {"previous-token": "previous", "next-token": "next", "current-token": "current",
                             "[CLS]": "cls", "[SEP]": "sep", "punctuation": "punctuation"}[note.label]
                assert f"{profile.get(signature):.2f}" in note.evidence
                assert f"{g.even_shares[signature]:.2f}" in note.evidence
            labelled += note.label is not None
    assert 0 < labelled < 72


def test_induction_heads_with_their_held_out_scores(toy_lesson):
    m = _by_id(explorer.explorer_models(toy_lesson))["induction"]
    model = load_induction_model()
    scores = model.scores
    assert torch.equal(m.weights, model.attention(encode(" ".join(m.tokens))).cpu())  # the model's own pass, again
    assert m.weights.shape == (2, 4, len(m.tokens), len(m.tokens))
    assert torch.equal(m.weights, toy_lesson.induction.attention)
    assert m.start == (*toy_lesson.induction.induction_head, toy_lesson.induction.query)  # the chapter's close-up
    for layer in range(2):
        for head in range(4):
            note = m.heads[layer][head]
            assert note.label == scores.label(layer, head)
            for name in ("previous_token", "two_back", "induction"):
                value = getattr(scores, name)[layer][head]
                if note.label is None or note.label.replace("-", "_") in name:
                    assert f"{value:.2f}" in note.evidence


def test_the_toy_model_is_untrained_and_unlabelled(toy_lesson):
    models = _by_id(explorer.explorer_models(toy_lesson))
    assert list(models) == ["toy", "induction"]  # no measured MiniLM heads in a toy lesson
    toy = models["toy"]
    assert toy.file == explorer.TRACE_FILE and toy.weights.shape[0] == 1  # the trace's one layer
    assert torch.equal(toy.weights[0], toy_lesson.trace.weights.to(torch.float32))
    notes = [n for row in toy.heads for n in row]
    assert len(notes) == toy_lesson.trace.n_head
    assert all(n.label is None and n.headline == "untrained" and "learn" not in n.evidence for n in notes)


def test_page_data_carries_the_exact_float32_values(toy_lesson):
    models = explorer.explorer_models(toy_lesson)
    data = explorer.page_data(models, style.theme("dark"))
    assert data["scale"] == list(style.theme("dark").scale)
    for m, page in zip(models, data["models"]):
        values = np.frombuffer(base64.b64decode(page["weights"]), dtype="<f4").reshape(page["shape"])
        assert np.array_equal(values, m.weights.numpy())
        assert page["tokens"] == list(m.tokens) and page["layers"] == [layer + 1 for layer in m.layers]
        assert [[n["headline"] for n in row] for row in page["notes"]] == [[n.headline for n in row] for row in m.heads]


def test_one_minilm_layer_without_the_measured_gallery_says_what_was_not_measured(lesson_for):
    lesson = rendered_lesson(lesson_for, specialization_model="toy")  # MiniLM mechanics, toy gallery chapter
    models = _by_id(explorer.explorer_models(lesson))
    assert list(models) == ["minilm-layer", "induction"]
    m = models["minilm-layer"]
    assert m.layers == (lesson.layer,) and m.file == explorer.TRACE_FILE and m.weights.shape[0] == 1
    assert torch.equal(m.weights[0], lesson.trace.weights.to(torch.float32))
    earned = {r.head: r.relation for r in lesson.relations if r.labelled and r.layer == lesson.layer}
    for head, note in enumerate(m.heads[0]):
        assert note.label == earned.get(head)  # only the held-out relation labels; nothing else was measured
        assert note.headline == (earned[head].replace("->", "\u00a0\u2192 ") if head in earned else "not measured")
