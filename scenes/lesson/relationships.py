"""The intro's data: the relationships one short sentence holds, and the real MiniLM heads that carry them.

A fixed example, "The cat sat down", is traced by MiniLM (all 6 layers x 12 heads), whatever sentence the
lesson itself traces. From it:

- the bottleneck: one head's softmax row for "sat" (the head the probe set chose for verb -> subject),
  which sums to 1 over the tokens, and the rows every head of that layer gives "sat";
- the relationship table, one row per relationship, each with the head that carries it, that head's
  weight on the link in this sentence, and the evidence behind choosing it:

      relationship     link              head                              evidence
      subject-verb     sat -> cat        verb->subject's best head         held-out accuracy vs baseline
      verb-modifier    sat -> down       the largest weight of 72 heads    this sentence only (no probe relation)
      determiner-noun  the -> cat        determiner->noun's best head      held-out accuracy vs baseline
      local context    word -> previous  the strongest previous-token head  corpus share (mha_core.analysis)

A head may be called by a relationship's name only when ``Evidence.labelled`` is true. Numbers only: no
Manim; words are chosen where they are drawn.

    >>> r = build_relationships()
    >>> r.tokens
    ('[CLS]', 'the', 'cat', 'sat', 'down', '[SEP]')
    >>> round(r.focus_total, 6)
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mha_core.analysis import LABEL_SIGNATURES, LABELS

#: The example sentence of the intro (fixed: the lesson's own sentence is traced elsewhere).
EXAMPLE = "The cat sat down"
#: Its words the table links (MiniLM's tokenizer lowercases).
VERB, SUBJECT, MODIFIER, DETERMINER = "sat", "cat", "down", "the"

# Row keys, in the order the table shows them.
SUBJECT_VERB = "verb->subject"  # a probe relation (mha_core.relations.RELATIONS)
VERB_MODIFIER = "verb->modifier"  # no probe relation: picked on the example only
DETERMINER_NOUN = "determiner->noun"  # a probe relation
LOCAL = "previous-token"  # a surface signature label (mha_core.analysis.LABELS)
ROWS = (SUBJECT_VERB, VERB_MODIFIER, DETERMINER_NOUN, LOCAL)


@dataclass(frozen=True)
class Evidence:
    """Why a head was chosen for a row, as measured numbers.

    ``kind``: "held-out" (a probe relation: ``value`` is its held-out accuracy over ``n`` pairs,
    ``baseline`` the best position rule's, named ``baseline_name``), "corpus" (a surface signature:
    ``value`` is the head's mean share over ``n`` sentences, ``threshold`` the label's) or "sentence"
    (picked on the example alone: the largest weight of ``n`` heads; ``value`` is None).
    """

    kind: str
    value: float | None
    n: int
    labelled: bool  # the head earned the row's name under the measure's rule
    baseline_name: str | None = None
    baseline: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Relationship:
    """One row of the table: a relationship, its link(s) in the example, the head that carries it."""

    key: str  # one of ROWS
    links: tuple[tuple[int, int], ...]  # (query, key) token positions in the example
    layer: int  # 0-based (on screen: from 1)
    head: int  # 0-based
    weights: tuple[float, ...]  # the head's attention weight on each link, in the example
    evidence: Evidence
    corpus_label: str | None  # the head's surface label over the shipped sentences (analysis), if any
    corpus_value: float | None  # ... and the share that earned it
    top_word: tuple[bool, ...]  # per link: is its key the word the head attends to most (of the other words)?

    @property
    def weight(self) -> float:
        """The head's weight on the link (the mean over the links, for a rule such as "the word before")."""
        return sum(self.weights) / len(self.weights)

    @property
    def labelled(self) -> bool:
        return self.evidence.labelled


@dataclass(frozen=True)
class Relationships:
    sentence: str
    tokens: tuple[str, ...]  # MiniLM's tokens of the example, [CLS] and [SEP] included
    weights: torch.Tensor  # [layer, head, query, key]: MiniLM's attention on the example (CPU, float64)
    d_model: int
    focus: int  # the token position of "sat"
    bottleneck: Relationship  # the subject-verb row: its head's row for "sat" is the bottleneck
    rows: tuple[Relationship, ...]  # in ROWS order

    @property
    def n_layer(self) -> int:
        return self.weights.shape[0]

    @property
    def n_head(self) -> int:
        return self.weights.shape[1]

    @property
    def total_heads(self) -> int:
        return self.n_layer * self.n_head

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    @property
    def focus_row(self) -> tuple[float, ...]:
        """The bottleneck head's softmax row for "sat": one weight per token."""
        b = self.bottleneck
        return tuple(float(w) for w in self.weights[b.layer, b.head, self.focus])

    @property
    def focus_total(self) -> float:
        """What that row sums to (a softmax row: 1)."""
        return float(self.weights[self.bottleneck.layer, self.bottleneck.head, self.focus].sum())

    @property
    def layer_rows(self) -> torch.Tensor:
        """``[head, key]``: every head of the bottleneck head's layer, its row for "sat"."""
        return self.weights[self.bottleneck.layer, :, self.focus]

    def row(self, key: str) -> Relationship:
        return next(r for r in self.rows if r.key == key)

    def position(self, word: str) -> int:
        return self.tokens.index(word)

    @property
    def link_sum(self) -> float:
        """The subject head's weight on "cat" plus the modifier head's on "down" (more than 1: no one row holds both)."""
        return self.row(SUBJECT_VERB).weight + self.row(VERB_MODIFIER).weight


def build_relationships(model, relations=None, profiles=None) -> Relationships:
    """Trace the example with ``model`` (MiniLM) and fill the table (``relations``: ``relation_heads_of(model)``;
    ``profiles``: ``corpus_profiles_of`` every layer; both computed when not given)."""
    from mha_core import corpus_profiles_of
    from mha_core.relations import relation_heads_of

    traces = model.trace_all(EXAMPLE)
    tokens = tuple(traces[0].tokens)
    weights = torch.stack([t.weights.detach().to("cpu", torch.float64) for t in traces])  # [L, H, T, T]
    relations = {r.relation: r for r in (relation_heads_of(model) if relations is None else relations)}
    if profiles is None:
        profiles = [corpus_profiles_of(model, layer) for layer in range(model.n_layer)]
    at = tokens.index
    verb, subject, modifier, determiner = at(VERB), at(SUBJECT), at(MODIFIER), at(DETERMINER)
    words = [i for i, t in enumerate(tokens) if not (t.startswith("[") and t.endswith("]"))]

    def make(key, links, layer, head, evidence):
        profile = profiles[layer][head]
        value = None
        if profile.label is not None:
            value = float(profile.get(LABEL_SIGNATURES[profile.label]))
        top = []
        for q, k in links:  # as the probe's prediction: [CLS], [SEP] and the word itself left out
            others = [w for w in words if w != q]
            top.append(max(others, key=lambda w: float(weights[layer, head, q, w])) == k)
        return Relationship(key, tuple(links), layer, head, tuple(float(weights[layer, head, q, k]) for q, k in links),
                            evidence, profile.label, value, tuple(top))

    def probed(key, link):
        r = relations[key]
        evidence = Evidence("held-out", r.accuracy, r.n, r.labelled, r.baseline_name, r.baseline_accuracy)
        return make(key, [link], r.layer, r.head, evidence)

    # sat -> down: no probe relation covers it, so the head is the one with the largest weight here (of all 72).
    on_link = weights[:, :, verb, modifier].flatten()
    best = int(on_link.argmax())
    n_head = weights.shape[1]
    modifier_row = make(VERB_MODIFIER, [(verb, modifier)], best // n_head, best % n_head,
                        Evidence("sentence", None, on_link.numel(), False))
    # Local context: the head with the largest previous-token share over the corpus; named only if labelled.
    layer, head = max((p.previous, p.layer, p.head) for ps in profiles for p in ps)[1:]
    profile = profiles[layer][head]
    local = make(LOCAL, [(w, w - 1) for w in words if w - 1 in words], layer, head,
                 Evidence("corpus", float(profile.previous), profile.n_sentences, profile.label == LOCAL,
                          threshold=_THRESHOLD))
    rows = (probed(SUBJECT_VERB, (verb, subject)), modifier_row, probed(DETERMINER_NOUN, (determiner, subject)), local)
    return Relationships(EXAMPLE, tokens, weights, model.d_model, verb, rows[0], rows)


# The share a previous-token label needs.
_THRESHOLD = LABELS["previous"][0]
