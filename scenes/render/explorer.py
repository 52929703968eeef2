"""The head explorer's data: every head's attention on the lesson's inputs, and what each head was measured to do.

``explorer_models(lesson)`` lists the models the player page lets a learner explore, each with its
weights ``[layer, head, query, key]`` (the tensor of one of the lesson folder's .safetensors files, named by
``file`` and ``tensor``) and, per head, its measured label with the numbers it rests on:

- MiniLM, every layer, on the lesson's sentence (when the lesson measured its heads: the gallery);
- the mechanics model the other chapters show, when it is not that MiniLM (the untrained toy model, or one
  MiniLM layer);
- the induction model on the induction chapter's example sequence.

Each model opens (``start``) at what the video works through: the mechanics chapters' layer, head and word,
or the induction chapter's close-up. ``page_data(models)`` is the JSON the page embeds: the weights as base64 of their float32 little-endian
bytes, so that the page shows exactly the numbers in the folder's files, offline.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import torch

from mha_core.analysis import BROAD_THRESHOLD, LABELS, SHARE_THRESHOLD
from mha_core.induction import LABEL_RATIO, LABEL_SCORE
from mha_core.pretrained import MODEL_NAME as MINILM_NAME

from ..lesson.gallery import make_tile

HEADS_FILE = "heads.safetensors"  # MiniLM, every layer, on the lesson's sentence
INDUCTION_FILE = "induction.safetensors"  # the induction model on its example
TRACE_FILE = "trace.safetensors"  # the mechanics model's own trace (one layer)
WEIGHTS = "weights"  # the tensor's name in each file
CONVENTION = "[layer, head, query_pos, key_pos]"


@dataclass(frozen=True)
class HeadNote:
    """What one head was measured to do: its label (None: none earned, or nothing measured) and why."""

    label: str | None
    evidence: str  # the measurement behind the label (or its absence), in one sentence
    untrained: bool = False  # random weights: nothing to measure
    measured: bool = True  # False: this render did not measure the head

    @property
    def headline(self) -> str:
        """What the page calls the head: its label, "no label", "untrained" or "not measured"."""
        if self.label:
            return self.label
        return "untrained" if self.untrained else "no label" if self.measured else "not measured"


@dataclass(frozen=True)
class ExplorerModel:
    id: str
    name: str
    about: str  # what the weights are of: which model, which input, trained or not
    tokens: tuple[str, ...]
    layers: tuple[int, ...]  # the model's layer (0-based) of each entry of the weights' first axis
    weights: torch.Tensor  # [layer, head, query, key], float32 on the CPU
    heads: tuple[tuple[HeadNote, ...], ...]  # [layer][head]
    file: str  # the lesson folder's .safetensors file holding ``weights``
    start: tuple[int, int, int]  # (layer index, head, query) the page opens at: what the video works through
    tensor: str = WEIGHTS

    def file_tensors(self) -> tuple[dict, dict]:
        """(tensors, metadata) for ``file`` (not for the trace file: the trace writes its own)."""
        return {self.tensor: self.weights}, {"tokens": "\x1f".join(self.tokens), "model": self.name,
                                             "layers": ",".join(str(layer) for layer in self.layers),
                                             "convention": CONVENTION}


def explorer_models(lesson) -> list[ExplorerModel]:
    """The models the explorer offers: of what the rendered chapters computed (``Lesson.computed``), MiniLM's
    measured heads of every layer (the gallery) or else the mechanics layer, and the induction model. A
    render of some chapters measures nothing more for the page."""
    models, computed = [], set(lesson.computed())
    gallery = lesson.gallery if "gallery" in computed else None
    if gallery is not None:
        start = (lesson.layer, lesson.focus_head, lesson.focus) if lesson.layer is not None else None
        models.append(_minilm(gallery, start))
    if gallery is None or lesson.layer is None:
        models.append(_mechanics(lesson))
    if "induction" in computed:
        models.append(_induction(lesson.induction))
    return models


def _minilm(g, start) -> ExplorerModel:
    notes = []
    for layer, profiles in enumerate(g.profiles):
        row = []
        for p in profiles:
            tile = make_tile(layer, p.head, "explorer", g.profiles, g.relations, g.even_shares, g.weights)
            row.append(HeadNote(tile.label, _minilm_evidence(tile, g.n_sentences)))
        notes.append(tuple(row))
    return ExplorerModel(
        "minilm", MINILM_NAME,
        f"{MINILM_NAME} (trained), all {len(g.profiles)} layers, on the lesson's sentence as its word pieces. "
        "Labels come from measurements over other sentences, not from this one.",
        g.tokens, tuple(range(len(g.profiles))), g.weights, tuple(notes), HEADS_FILE,
        start or (g.tiles[0].layer, g.tiles[0].head, g.focus))  # the gallery's first head, at its focus word


def _minilm_evidence(tile, n_sentences: int) -> str:
    if tile.relation is not None:
        return _relation_evidence(tile.relation)
    if tile.measure == "entropy":
        spread = (f"Spread (normalised entropy) {tile.value:.2f}, mean over {n_sentences} sentences, where 1 is "
                  f"an even spread over all keys")
        if tile.label == "broad":
            return f"{spread}: it clears the broad threshold {BROAD_THRESHOLD}."
        return (f"No measurement cleared its threshold (a share of {SHARE_THRESHOLD} on one kind of token, or a "
                f"spread of {BROAD_THRESHOLD}). {spread}.")
    words = LABELS[tile.measure][2]
    return (f"{tile.value:.2f} of its attention on {words}, mean over {n_sentences} sentences, where an even "
            f"spread gives {tile.baseline:.2f}; the label needs {SHARE_THRESHOLD}.")


def _relation_evidence(r) -> str:
    low, high = r.interval
    return (f"Held-out accuracy {r.accuracy:.2f} on {r.n} word pairs (95% interval {low:.2f} to {high:.2f}), "
            f"against {r.baseline_accuracy:.2f} for the baseline \u201c{r.baseline_name}\u201d.")


def _mechanics(lesson) -> ExplorerModel:
    trace = lesson.trace
    weights = trace.weights.detach().to("cpu", torch.float32).unsqueeze(0)  # [head, q, k] -> [1, head, q, k]
    if lesson.layer is None:
        note = HeadNote(None, "Untrained: its weights are random, so no head was measured and none has a label.",
                        untrained=True)
        heads = ((note,) * trace.n_head,)
        about = (f"The toy model the mechanics chapters show (untrained, random weights, seed "
                 f"{lesson.config.seed}), on the lesson's sentence.")
        return ExplorerModel("toy", "toy model", about, tuple(trace.tokens), (0,), weights, heads, TRACE_FILE,
                             (0, lesson.focus_head, lesson.focus))
    earned = {r.head: r for r in lesson.relations if r.labelled and r.layer == lesson.layer}
    heads = (tuple(
        HeadNote(earned[h].relation, _relation_evidence(earned[h])) if h in earned else
        HeadNote(None, "Its surface patterns were not measured in this render (render with "
                       "--specialization-model minilm to measure every head).", measured=False)
        for h in range(trace.n_head)),)
    about = f"{MINILM_NAME} (trained), layer {lesson.layer + 1}, on the lesson's sentence as its word pieces."
    return ExplorerModel("minilm-layer", f"{MINILM_NAME}, layer {lesson.layer + 1}", about, tuple(trace.tokens),
                         (lesson.layer,), weights, heads, TRACE_FILE, (0, lesson.focus_head, lesson.focus))


def _induction(ind) -> ExplorerModel:
    s = ind.scores
    n = s.test.get("sequences")
    over = f"mean over {n} held-out sequences" if n else "held-out mean"
    measures = (("previous-token", s.previous_token, s.previous_baseline, "the previous token"),
                ("two-back", s.two_back, s.two_back_baseline, "the token two back"),
                ("induction", s.induction, s.induction_baseline,
                 "the token after the same token's earlier copy"))
    notes = []
    for layer in range(ind.n_layer):
        row = []
        for head in range(ind.n_head):
            label = s.label(layer, head)
            scores = [(score[layer][head], base, words, name) for name, score, base, words in measures]
            if label is not None:  # the measure that earned the label
                value, base, words, _ = next(m for m in scores if m[3] == label)
                evidence = (f"{value:.2f} of its attention on {words}, {over}, where an even spread gives "
                            f"{base:.2f}; the label needs {LABEL_SCORE} and {LABEL_RATIO:g} times the even spread.")
            else:
                shown = "; ".join(f"{name} {value:.2f} (even spread {base:.2f})" for value, base, _, name in scores)
                evidence = f"No score cleared the label rule ({LABEL_SCORE}, and {LABEL_RATIO:g} times the even " \
                           f"spread): {shown}, {over}."
            row.append(HeadNote(label, evidence))
        notes.append(tuple(row))
    about = (f"The induction chapter's small causal model (trained by this project), both layers, on the "
             f"chapter's example: {ind.segment} random syllables, then the same again.")
    return ExplorerModel("induction", "induction model", about, ind.tokens, tuple(range(ind.n_layer)),
                         ind.attention, tuple(notes), INDUCTION_FILE, (*ind.induction_head, ind.query))


def page_data(models: list[ExplorerModel], theme) -> dict:
    """The page's explorer data: per model its tokens, layers (numbered from 1), the weights as base64 of
    float32 little-endian bytes ``[layer, head, query, key]``, and every head's label and evidence."""
    return {
        "scale": list(theme.scale),
        "heads": list(theme.heads),
        "models": [{
            "id": m.id,
            "name": m.name,
            "about": m.about,
            "file": m.file,
            "tensor": m.tensor,
            "tokens": list(m.tokens),
            "layers": [layer + 1 for layer in m.layers],
            "shape": list(m.weights.shape),
            "weights": _float32_base64(m.weights),
            "start": {"layer": m.start[0], "head": m.start[1], "query": m.start[2]},
            "notes": [[{"label": h.label, "headline": h.headline, "evidence": h.evidence} for h in row]
                      for row in m.heads],
        } for m in models],
    }


def _float32_base64(t: torch.Tensor) -> str:
    array = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False)
    return base64.b64encode(array.tobytes()).decode("ascii")
