"""The data of the "heads specialise" chapter: a gallery of measured MiniLM heads from all six layers.

Numbers only (no Manim). ``build_gallery(model, sentence, relations)`` returns a ``Gallery`` of a trained
model's heads (the Lesson builds none when the chapter shows the untrained toy model: nothing was trained, so
there are no roles to find):

    >>> g = build_gallery(load_model("minilm"), "The cat sat down because it was tired.", relations)
    >>> [(t.layer + 1, t.head + 1, t.label) for t in g.tiles][:2]   # numbered from 1 on screen
    [(1, 3, 'previous-token'), (2, 4, 'pronoun->antecedent')]
    >>> g.n_unlabelled, g.n_heads                                   # heads no measurement names
    (35, 72)

Which heads the gallery shows is decided by measurement, never by hand (``choose_tiles``):

1. every relation head that passed the held-out test (``RelationResult.labelled``);
2. for each positional label (previous-, next-, current-token), the head with the strongest share;
3. for each layer not shown yet, its most common kind (a corpus label, or none), through its strongest head;
4. any other surface label not shown yet ([CLS], [SEP], punctuation, broad), through its strongest head;

at most ``MAX_TILES``, in layer order. Each tile carries its measured number and what to compare it with:
a relation head's held-out accuracy and the best baseline's; a surface label's corpus-mean share and the
share an even spread over the keys would give; an unlabelled head's spread (normalised entropy) and the
threshold a broad head needs.

``probe``: the pronoun -> antecedent head on one more sentence (``SCIENTIST``), traced live: its attention
from "it" to each word. One head on one sentence: an example, not evidence.

``meaning``: whether a head relates words by meaning (``mha_core.meaning``: from a noun to the other noun of its
topic, held-out against rules that know positions and nouns), labelled or not, and ``meaning_example``: that
head on the first held-out sentence where it finds the partner, its word attention from the noun.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch

from mha_core.analysis import (
    BROAD_THRESHOLD,
    LABEL_SIGNATURES,
    SHARE_THRESHOLD,
    HeadProfile,
    corpus_profiles_of,
    corpus_sentences,
    is_punctuation,
)
from mha_core.meaning import MeaningResult, load_meaning_set, meaning_head_of
from mha_core.relations import RelationResult, earned_relations, predictions, probe_attention_of, relation_of, split_halves

from .focus import pick_focus

MAX_TILES = 9
SCIENTIST = "The scientist who reviewed the paper said it was flawed."
SCIENTIST_CANDIDATES = ("scientist", "paper")  # the two nouns "it" could refer to
PRONOUN = "pronoun->antecedent"
SPECIAL = ("[CLS]", "[SEP]")

# Kinds of head, in the order the chapter's table lists them. A relation label wins over a surface label
# (as ``mha_core.relations.head_table_of`` does); "none": no measurement names the head.
POSITION_LABELS = ("previous-token", "next-token", "current-token")
SEPARATOR_LABELS = ("[CLS]", "[SEP]", "punctuation")
KINDS = ("position", "separator", "broad", "relation", "none")

def kind_of(label: str | None, relation: bool = False) -> str:
    """A head's kind from its label: "relation", "position", "separator", "broad" or "none"."""
    if relation:
        return "relation"
    if label in POSITION_LABELS:
        return "position"
    if label in SEPARATOR_LABELS:
        return "separator"
    return "broad" if label == "broad" else "none"


@dataclass(frozen=True)
class Tile:
    """One head of the gallery: where it is, what it was measured to do, and what to compare that with.

    ``layer``/``head`` are 0-based (on screen: + 1). ``label``: the relation it earned ("pronoun->antecedent"),
    else its corpus label ("previous-token", "[CLS]", "broad"), else None. ``value`` is the measured number
    (``measure`` says which: "accuracy" held-out, a share signature averaged over the corpus, or "entropy"),
    ``baseline`` the number to compare it with (``baseline_name``: "first noun", "offset +2", "even spread",
    "broad threshold").
    """

    layer: int
    head: int
    kind: str  # KINDS
    label: str | None
    measure: str
    value: float
    baseline_name: str
    baseline: float
    weights: torch.Tensor  # [query, key]: this head's attention on the lesson's sentence
    relation: RelationResult | None  # the relation result behind a relation tile
    profile: HeadProfile  # the head's corpus profile
    reason: str  # why the gallery shows it (rule 1-4 of the module doc)


@dataclass(frozen=True)
class MeaningExample:
    """The meaning head on the held-out probe sentences: how much attention it gives, and one sentence."""

    words: tuple[str, ...]  # the example sentence's words
    nouns: tuple[int, ...]  # word indices of its nouns
    query: int  # the noun looked from
    partner: int  # the other noun of its topic (the head's top word here)
    weights: tuple[float, ...]  # the head's attention from the query to each word ([CLS] and [SEP] left out)
    partner_share: float  # mean over the held-out items: attention on the partner
    other_share: float  # ... on the most-attended other noun
    special_share: float  # ... on [CLS] and [SEP] (what the words do not get)


def meaning_example(model, result: MeaningResult) -> MeaningExample | None:
    """The meaning head over the report half (mean shares per item) and on its first item (sentence order, then
    item order) where the head's top word is the partner; None when it finds none."""
    sentences = load_meaning_set()
    _, report = split_halves(range(len(sentences)))  # the whole set's attention: meaning_head_of's, cached
    attention = probe_attention_of(model, sentences)
    partner, other, special, example = [], [], [], None
    for sentence, A in ((sentences[i], attention[i]) for i in report):
        top = predictions(A[result.layer, result.head])
        for q, p in sentence.items:
            row = A[result.layer, result.head, q]
            partner.append(float(row[p]))
            other.append(max(float(row[k]) for k in sentence.nouns if k not in (q, p)))
            special.append(1 - float(row.sum()))  # word attention leaves out [CLS] and [SEP] (rows sum to < 1)
            if example is None and int(top[q]) == p:
                example = (sentence, q, p, tuple(float(w) for w in row))
    if example is None:
        return None
    sentence, q, p, weights = example
    n = len(partner)
    return MeaningExample(sentence.words, sentence.nouns, q, p, weights, sum(partner) / n, sum(other) / n,
                          sum(special) / n)


@dataclass(frozen=True)
class Probe:
    """One head on one sentence: the pronoun -> antecedent head's attention from the pronoun to each word."""

    sentence: str
    tokens: tuple[str, ...]
    layer: int
    head: int
    query: int  # the pronoun's position
    weights: torch.Tensor  # [key]: the head's attention row from the pronoun (sums to 1)
    candidates: tuple[int, ...]  # positions of the nouns the pronoun could refer to (SCIENTIST_CANDIDATES)
    top: int  # the word the head attends to most ([CLS], [SEP] and the pronoun itself left out, as the probes do)
    relation: RelationResult  # the head's held-out measurement

    @property
    def prefers(self) -> int:
        """The candidate with the larger weight."""
        return max(self.candidates, key=lambda k: float(self.weights[k]))

    @property
    def special_share(self) -> float:
        """Attention from the pronoun parked on [CLS] and [SEP]."""
        return float(sum(self.weights[k] for k, t in enumerate(self.tokens) if t in SPECIAL))


@dataclass(frozen=True)
class LayerCount:
    """How many heads of one layer are of each kind (KINDS)."""

    layer: int
    counts: dict

    def __getitem__(self, kind: str) -> int:
        return self.counts.get(kind, 0)


@dataclass(frozen=True)
class Gallery:
    model_name: str
    sentence: str
    tokens: tuple[str, ...]  # the lesson's sentence as MiniLM's word pieces
    weights: torch.Tensor  # [layer, head, query, key]: every head's attention on it (CPU)
    profiles: tuple[tuple[HeadProfile, ...], ...]  # [layer][head]: surface signatures over the corpus
    relations: tuple[RelationResult, ...]  # every relation's best head, measured held-out
    tiles: tuple[Tile, ...]  # the heads shown, in layer order
    focus: int  # the query row each tile frames (a word whose relation some head earned, e.g. "it")
    layers: tuple[LayerCount, ...]  # kinds per layer
    even_shares: dict  # signature -> the share an even spread over the keys gives (mean over the corpus)
    probe: Probe | None  # None when no head earned pronoun -> antecedent
    meaning: MeaningResult | None = None  # the best head at relating nouns by meaning, labelled or not
    meaning_example: MeaningExample | None = None  # that head on one held-out sentence
    share_threshold: float = SHARE_THRESHOLD
    broad_threshold: float = BROAD_THRESHOLD

    @property
    def n_layers(self) -> int:
        return len(self.profiles)

    @property
    def n_heads(self) -> int:
        """Heads in the whole model (6 x 12)."""
        return sum(len(p) for p in self.profiles)

    @property
    def n_sentences(self) -> int:
        return self.profiles[0][0].n_sentences

    @property
    def n_unlabelled(self) -> int:
        """Heads that neither earned a relation label nor a surface label."""
        return sum(c["none"] for c in self.layers)

    def labels_of_kind(self, kind: str) -> tuple[str, ...]:
        """The labels of ``kind`` that some head earned, in label order ("separator" -> ("[CLS]",))."""
        earned = {p.label for ps in self.profiles for p in ps}
        order = {"position": POSITION_LABELS, "separator": SEPARATOR_LABELS, "broad": ("broad",)}.get(kind, ())
        return tuple(label for label in order if label in earned)

    def label_of(self, layer: int, head: int) -> str | None:
        """The head's label: the relation it earned, else its corpus label, else None."""
        earned = earned_relations(self.relations).get((layer, head))
        return earned.relation if earned is not None else self.profiles[layer][head].label


def build_gallery(model, sentence: str, relations) -> Gallery:
    """The gallery of ``model``'s heads on ``sentence`` (MiniLM: ``relations`` are ``relation_heads_of(model)``)."""
    traces = model.trace_all(sentence)
    tokens = tuple(traces[0].tokens)
    weights = torch.stack([t.weights.detach().to("cpu", torch.float32) for t in traces])  # [L, H, n, n]
    profiles = tuple(tuple(corpus_profiles_of(model, layer)) for layer in range(model.n_layer))
    relations = tuple(relations)
    even = even_shares(model, corpus_sentences())
    tiles = tuple(make_tile(layer, head, reason, profiles, relations, even, weights)
                  for layer, head, reason in choose_tiles(profiles, relations))
    focus = pick_focus(tokens, tuple(r.relation for r in relations if r.labelled))  # the lesson's own rule
    meaning = meaning_head_of(model)
    return Gallery(model.display_name, sentence, tokens, weights, profiles, relations, tiles, focus,
                   count_kinds(profiles, relations), even, scientist_probe(model, relations), meaning,
                   meaning_example(model, meaning))


# -- choosing the heads -------------------------------------------------------------------------------


def choose_tiles(profiles, relations, max_tiles: int = MAX_TILES) -> list[tuple[int, int, str]]:
    """(layer, head, reason) of the heads to show, by the rules of the module doc, sorted by layer and head."""
    chosen: dict[tuple[int, int], str] = {}

    def add(key, reason):
        if key not in chosen and len(chosen) < max_tiles:
            chosen[key] = reason

    everyone = [(layer, p.head, p) for layer, layer_profiles in enumerate(profiles) for p in layer_profiles]

    def strongest(label, within=None):
        found = [(p.get(LABEL_SIGNATURES[label]), -layer, -head) for layer, head, p in everyone
                 if p.label == label and (within is None or layer == within)]
        if not found:
            return None
        _, layer, head = max(found)
        return -layer, -head

    for r in relations:  # 1
        if r.labelled:
            add((r.layer, r.head), f"relation {r.relation}")
    for label in POSITION_LABELS:  # 2
        key = strongest(label)
        if key is not None:
            add(key, f"strongest {label}")
    relation_heads = {(r.layer, r.head) for r in relations if r.labelled}
    for layer, layer_profiles in enumerate(profiles):  # 3
        if any(key[0] == layer for key in chosen):
            continue
        labels = Counter(p.label for p in layer_profiles if (layer, p.head) not in relation_heads)
        common = max(labels, key=lambda lab: (labels[lab], lab is not None))  # a tie goes to a label
        if common is not None:
            add(strongest(common, within=layer), f"layer {layer + 1}'s most common kind: {common}")
        else:  # no label is the most common: its broadest head, the nearest to a label
            _, head = max((p.entropy, -p.head) for p in layer_profiles
                          if p.label is None and (layer, p.head) not in relation_heads)
            add((layer, -head), f"layer {layer + 1}'s most common kind: no label")
    shown = {profiles[layer][head].label for layer, head in chosen}
    for label in SEPARATOR_LABELS + ("broad",):  # 4
        key = strongest(label)
        if key is not None and label not in shown:
            add(key, f"strongest {label}")
    return sorted((layer, head, reason) for (layer, head), reason in chosen.items())


def make_tile(layer, head, reason, profiles, relations, even, weights) -> Tile:
    profile = profiles[layer][head]
    relation = earned_relations(relations).get((layer, head))
    w = weights[layer, head]
    if relation is not None:
        return Tile(layer, head, "relation", relation.relation, "accuracy", relation.accuracy,
                    relation.baseline_name, relation.baseline_accuracy, w, relation, profile, reason)
    if profile.label is not None and profile.label != "broad":
        signature = LABEL_SIGNATURES[profile.label]
        return Tile(layer, head, kind_of(profile.label), profile.label, signature, float(profile.get(signature)),
                    "even spread", even[signature], w, None, profile, reason)
    # Broad, or no label: its spread, against the threshold a broad head needs.
    return Tile(layer, head, kind_of(profile.label), profile.label, "entropy", float(profile.entropy),
                "broad threshold", BROAD_THRESHOLD, w, None, profile, reason)


def count_kinds(profiles, relations) -> tuple[LayerCount, ...]:
    """Each layer's heads counted by kind; a head that earned a relation counts as "relation" only."""
    earned = {(r.layer, r.head) for r in relations if r.labelled}
    return tuple(LayerCount(layer, dict(Counter(kind_of(p.label, (layer, p.head) in earned) for p in ps)))
                 for layer, ps in enumerate(profiles))


def even_shares(model, sentences) -> dict:
    """signature -> the mean share an even spread over the keys would give, over the corpus sentences.

    An even spread gives each of n keys 1/n: that is its share of the previous, next or own token, of [CLS] and
    of [SEP]; its share of punctuation is (punctuation keys)/n (sentences without punctuation left out, as the
    profiles leave them out).
    """
    lengths, punct = [], []
    for s in sentences:
        tokens, _ = model.tokenize(s)
        n = len(tokens)
        lengths.append(1.0 / n)
        k = sum(1 for t in tokens if is_punctuation(t))
        if k:
            punct.append(k / n)
    one = sum(lengths) / len(lengths)
    shares = {name: one for name in ("previous", "next", "current", "cls", "sep")}
    shares["punctuation"] = sum(punct) / len(punct) if punct else 0.0
    return shares


def scientist_probe(model, relations, sentence: str = SCIENTIST) -> Probe | None:
    """The pronoun -> antecedent head on ``sentence``, traced live (None when no head earned that label)."""
    result = next((r for r in relations if r.relation == PRONOUN), None)
    if result is None or not result.labelled:
        return None
    trace = model.trace(sentence, result.layer)
    tokens = tuple(trace.tokens)
    query = next(i for i, t in enumerate(tokens) if relation_of(t) == PRONOUN)
    row = trace.weights[result.head, query].detach().to("cpu", torch.float32)
    candidates = tuple(tokens.index(w) for w in SCIENTIST_CANDIDATES)
    allowed = [k for k, t in enumerate(tokens) if t not in SPECIAL and k != query]
    top = max(allowed, key=lambda k: float(row[k]))
    return Probe(sentence, tokens, result.layer, result.head, query, row, candidates, top, result)

