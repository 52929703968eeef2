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

Every sentence here (a model's name and what it is, a head's headline and evidence) is an entry of the
lesson's ``page.toml`` script (``lesson.scripts.page``), one whole sentence per case; the numbers in them are
written here, as before.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import torch

from mha_core.analysis import BROAD_THRESHOLD, SHARE_THRESHOLD
from mha_core.induction import LABEL_RATIO, LABEL_SCORE
from mha_core.pretrained import MODEL_NAME as MINILM_NAME
from mha_core.relations import earned_relations, relation_name

from ..lesson.gallery import make_tile
from ..lesson.script import Script

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
    headline: str  # what the page calls the head: its label, or the page's "no label", "untrained", "not measured"


# A named label's headline on the page, as the video names it (page.toml); a relation is named by relation_name.
_HEADLINE_IDS = {"previous-token": "headline-previous-token", "next-token": "headline-next-token",
                 "current-token": "headline-current-token", "[CLS]": "headline-cls", "[SEP]": "headline-sep",
                 "punctuation": "headline-punctuation", "broad": "headline-broad",
                 "two-back": "headline-two-back", "induction": "headline-induction"}


def _note(words: Script, label: str | None, evidence: str, unlabelled: str = "headline-no-label") -> HeadNote:
    """A head's note: its label's name as its headline ("previous token", "pronoun → antecedent"), else the
    page's words ``unlabelled``."""
    if label is None:
        return HeadNote(label, evidence, words.text(unlabelled, {}))
    headline = words.text(_HEADLINE_IDS[label], {}) if label in _HEADLINE_IDS else page_relation_name(label)
    return HeadNote(label, evidence, headline)


def page_relation_name(relation: str) -> str:
    """A relation as the video names it, with its arrow ("pronoun → antecedent"), the space before the arrow a
    no-break space: a narrow line breaks after the arrow, never before it (the arrow never starts a line)."""
    return relation_name(relation).replace(" \u2192", "\u00a0\u2192")


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
    models, computed, words = [], set(lesson.computed()), lesson.scripts.page
    gallery = lesson.gallery if "gallery" in computed else None
    if gallery is not None:
        start = (lesson.layer, lesson.focus_head, lesson.focus) if lesson.layer is not None else None
        models.append(_minilm(gallery, start, words))
    if gallery is None or lesson.layer is None:
        models.append(_mechanics(lesson, words))
    if "induction" in computed:
        models.append(_induction(lesson.induction, words))
    return models


def _two(value: float) -> str:
    """A measured number as the explorer's sentences write it: two decimals."""
    return f"{value:.2f}"


def _minilm(g, start, words: Script) -> ExplorerModel:
    notes = []
    for layer, profiles in enumerate(g.profiles):
        row = []
        for p in profiles:
            tile = make_tile(layer, p.head, "explorer", g.profiles, g.relations, g.even_shares, g.weights)
            row.append(_note(words, tile.label, _minilm_evidence(tile, g.n_sentences, words)))
        notes.append(tuple(row))
    return ExplorerModel(
        "minilm", MINILM_NAME, words.text("model-minilm-about", {"model": MINILM_NAME, "layers": len(g.profiles)}),
        g.tokens, tuple(range(len(g.profiles))), g.weights, tuple(notes), HEADS_FILE,
        start or (g.tiles[0].layer, g.tiles[0].head, g.focus))  # the gallery's first head, at its focus word


# A share label's evidence, by the signature that earned it: one whole sentence each (page.toml).
_SHARE_EVIDENCE = {"previous": "evidence-previous", "next": "evidence-next", "current": "evidence-current",
                   "cls": "evidence-cls", "sep": "evidence-sep", "punctuation": "evidence-punctuation"}


def _minilm_evidence(tile, n_sentences: int, words: Script) -> str:
    if tile.relation is not None:
        return _relation_evidence(tile.relation, words)
    if tile.measure == "entropy":
        spread = {"spread": _two(tile.value), "sentences": n_sentences}
        if tile.label == "broad":
            return words.text("evidence-broad", spread | {"threshold": str(BROAD_THRESHOLD)})
        return words.text("evidence-no-label", spread | {"share_threshold": str(SHARE_THRESHOLD),
                                                         "broad_threshold": str(BROAD_THRESHOLD)})
    return words.text(_SHARE_EVIDENCE[tile.measure], {"share": _two(tile.value), "sentences": n_sentences,
                                                      "even": _two(tile.baseline), "threshold": str(SHARE_THRESHOLD)})


def _relation_evidence(r, words: Script) -> str:
    low, high = r.interval
    return words.text("evidence-relation", {"accuracy": _two(r.accuracy), "pairs": r.n, "low": _two(low),
                                            "high": _two(high), "baseline_accuracy": _two(r.baseline_accuracy),
                                            "baseline": r.baseline_name, "wins": r.wins, "losses": r.losses,
                                            "p": f"{r.p_value:.2g}"})


def _mechanics(lesson, words: Script) -> ExplorerModel:
    trace = lesson.trace
    weights = trace.weights.detach().to("cpu", torch.float32).unsqueeze(0)  # [head, q, k] -> [1, head, q, k]
    if lesson.layer is None:
        note = _note(words, None, words.text("evidence-untrained", {}), "headline-untrained")
        heads = ((note,) * trace.n_head,)
        about = words.text("model-toy-about", {"seed": lesson.config.seed})
        return ExplorerModel("toy", words.text("model-toy-name", {}), about, tuple(trace.tokens), (0,), weights,
                             heads, TRACE_FILE, (0, lesson.focus_head, lesson.focus))
    earned = {head: r for (layer, head), r in earned_relations(lesson.relations).items() if layer == lesson.layer}
    not_measured = _note(words, None, words.text("evidence-not-measured", {}), "headline-not-measured")
    heads = (tuple(
        _note(words, earned[h].relation, _relation_evidence(earned[h], words)) if h in earned else not_measured
        for h in range(trace.n_head)),)
    where = {"model": MINILM_NAME, "layer": lesson.layer + 1}
    return ExplorerModel("minilm-layer", words.text("model-layer-name", where), words.text("model-layer-about", where),
                         tuple(trace.tokens), (lesson.layer,), weights, heads, TRACE_FILE,
                         (0, lesson.focus_head, lesson.focus))


# The induction model's evidence, by the label a head earned (None: none): with the held-out sequences counted,
# and without (scores that do not say how many).
_INDUCTION_EVIDENCE = {"previous-token": ("evidence-previous-token", "evidence-previous-token-mean"),
                       "two-back": ("evidence-two-back", "evidence-two-back-mean"),
                       "induction": ("evidence-induction", "evidence-induction-mean"),
                       None: ("evidence-induction-none", "evidence-induction-none-mean")}


def _induction(ind, words: Script) -> ExplorerModel:
    s = ind.scores
    n = s.test.get("sequences")
    rule = {"label_score": str(LABEL_SCORE), "ratio": f"{LABEL_RATIO:g}"} | ({"sequences": n} if n else {})
    measures = (("previous-token", s.previous_token, s.previous_baseline),
                ("two-back", s.two_back, s.two_back_baseline),
                ("induction", s.induction, s.induction_baseline))
    notes = []
    for layer in range(ind.n_layer):
        row = []
        for head in range(ind.n_head):
            label = s.label(layer, head)
            scores = {name: (score[layer][head], base) for name, score, base in measures}
            if label is not None:  # the measure that earned the label
                value, base = scores[label]
                values = {"score": _two(value), "even": _two(base)}
            else:  # every score, against its even spread
                (previous, previous_even), (two_back, two_back_even), (induction, induction_even) = scores.values()
                values = {"previous_token": _two(previous), "previous_even": _two(previous_even),
                          "two_back": _two(two_back), "two_back_even": _two(two_back_even),
                          "induction": _two(induction), "induction_even": _two(induction_even)}
            evidence = words.text(_INDUCTION_EVIDENCE[label][0 if n else 1], rule | values)
            row.append(_note(words, label, evidence))
        notes.append(tuple(row))
    about = words.text("model-induction-about", {"prefix": ind.prefix, "segment": ind.segment})
    return ExplorerModel("induction", words.text("model-induction-name", {}), about, ind.tokens,
                         tuple(range(ind.n_layer)), ind.attention, tuple(notes), INDUCTION_FILE,
                         (*ind.induction_head, ind.query))


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
