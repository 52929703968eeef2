"""The Lesson: the single read-only input of every scene.

``build_lesson(config)`` runs everything once — the trace of the mechanics model,
the failure-trap model (every head a copy of one), head distances, ablations,
costs, Add & Norm, and the data of the "heads specialise" chapter — so scenes
only read and draw. Nothing a scene shows is computed in the scene; measured
values stay numbers here (a ``HeadTag`` is a name and a value) and are formatted
only where they are drawn.

    >>> lesson = build_lesson(LessonConfig())
    >>> lesson.trace.weights.shape      # [head, query_pos, key_pos]: MiniLM, "[CLS] the cat ... . [SEP]"
    torch.Size([12, 11, 11])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from mha_core import (
    AttentionCost,
    AttentionModel,
    AttentionTrace,
    MultiHeadAttention,
    add_and_norm,
    attention_cost,
    copies_of_one_head,
    corpus_profiles_of,
    head_ablation,
    head_distances,
    head_signatures,
    load_model,
)
from mha_core.ablation import CopiesEffect, Redundancy, copies_effect_of, head_redundancy_of
from mha_core.analysis import LABEL_SIGNATURES, SHARES, KeyPlane, key_plane
from mha_core.relations import RelationResult, best_head_of, relation_heads_of, relation_of

from .chapters import CHAPTER_IDS, chapter
from .config import LessonConfig
from .focus import SPECIAL, pick_focus
from .gallery import Gallery, build_gallery
from .induction import Induction, build_induction
from .relationships import Relationships, build_relationships
from .fonts import FONT
from .script import Scripts, check_font, load_scripts

# Model shapes the cost chapter compares with the lesson's own, costed by the same accounting: the
# original Transformer's width (Vaswani et al. 2017, base model: d_model 512, 8 heads) cut into 1, 2 and
# 8 heads, and GPT-3's attention (Brown et al. 2020, "Language Models are Few-Shot Learners", table 2.1:
# d_model 12288, 96 heads of 128).
TRANSFORMER_BASE = (8, 512)  # (heads, d_model)
TRANSFORMER_WIDTH = ((1, "one-head"), (2, "two-heads"), (TRANSFORMER_BASE[0], "transformer-base"))
GPT3 = (96, 12288)  # "gpt-3"
# The trained model whose heads the lesson measures (relation probes, corpus profiles, ablations), by its
# registry name: the probe set's words are read as its word pieces.
MEASURED_MODEL = "minilm"


@dataclass(frozen=True)
class HeadTag:
    """What one head's tag under its pattern says, as data: ("previous-token", "previous", 1.0); the chapter's
    script words it (a label; or none earned, or untrained: nothing measured)."""

    label: str | None  # the measured label; None: none earned (trained) or nothing to measure (untrained)
    signature: str  # the signature the value is (mha_core.analysis.SIGNATURES)
    value: float


@dataclass(frozen=True)
class CostExample:
    """One row of the cost chapter's comparison: a model shape and its cost at the lesson's n tokens."""

    key: str  # which shape: "one-head", "two-heads", "transformer-base", "gpt-3" (the chapter's script names it)
    n_head: int
    d_model: int
    cost: AttentionCost


@dataclass(frozen=True)
class Specialization:
    """What the 'heads specialise' chapter shows; ``source`` picks the data (one line in ``build_lesson``)."""

    source: str  # "minilm" (trained heads) or "toy" (untrained heads)
    model_name: str
    layer: int | None
    trained: bool
    trace: AttentionTrace  # tokens are what that model saw (word pieces for MiniLM)
    signatures: tuple  # HeadSignature per head, on this sentence
    profiles: tuple | None  # corpus_profiles_of(model, layer): measured over a corpus (trained model only)
    tags: tuple[HeadTag, ...]  # per head: its label (or none) and the measured value behind it

    @property
    def n_head(self) -> int:
        return self.trace.n_head

    @property
    def labels(self) -> tuple[str | None, ...]:
        if self.profiles is None:
            return (None,) * self.n_head
        return tuple(p.label for p in self.profiles)


# Each datum of the Lesson and the data it is computed from: a chapter that reads one reads those too
# (its cache key hashes them; the render worker's view of the Lesson allows them).
DERIVED = {
    "tokens": ("trace",), "n_head": ("trace",), "d_model": ("trace",), "d_head": ("trace",),
    "head_writes": ("mha", "trace"), "copies_output_change": ("copies", "trace"), "b_O": ("mha",),
    "strongest_link": ("trace", "focus"), "focus_reads": ("trace", "focus"), "model_name": ("layer",),
    "norm_learned": ("layer",), "contrast_head": ("trace", "focus", "focus_head"), "visible_keys": ("trace", "focus"),
    "key_plane": ("trace", "focus"), "drawn_positions": ("trace", "focus", "focus_head"),
}
# The data a Lesson computes, each on first use: ``render concat`` builds no gallery.
DATA = ("mha", "trace", "focus", "focus_head", "focus_relation", "layer", "copied_head", "copies", "js", "copies_js",
        "ablation", "cost", "cost_examples", "residual", "normed", "specialization", "relations", "gallery",
        "relationships", "redundancy", "trap", "induction", "plan")
# Always there and never hashed as data: the config (its pixel fields are in every chapter's key), the words
# (each chapter's key holds its own script's hash), and what reads only those.
GIVEN = ("config", "scripts", "model", "measured_model", "trained", "weights_kind", "chapter_number", "with_theme",
         "replace", "computed")


class Lesson:
    """Everything the chapters read, computed from the config on first use and kept (``cached_property``).

    Data (``DATA``):
        mha              the mechanics model (toy, or a MiniLM layer)
        trace            its pass over the sentence (CPU)
        focus            the query position worked through in "one head"
        focus_head       the head it is worked through in (0-based; chosen by measurement unless the author set it)
        focus_relation   the relation that head was chosen for, measured held-out (None: set by the author)
        layer            the MiniLM layer traced (0-based); None for the toy model
        copied_head      the failure trap's head: every head becomes a copy of it (not the focus head)
        copies           failure trap: same input, every head a copy of copied_head
        js, copies_js    [head, head] Jensen-Shannon distances between the real heads' patterns / the copies'
        ablation         [head] relative output change when each head is zeroed
        cost             the layer's cost; cost_examples: other shapes, the same accounting, this many tokens
        residual, normed x + MultiHead(x) and LayerNorm(residual)
        specialization   the 'heads specialise' chapter's layer of heads
        relations        RelationResult per relation (mha_core.relations): MiniLM's best head, measured held-out
        gallery          the specialisation chapter's measured heads from all layers (None: toy model)
        relationships    the intro's "The cat sat down": its relationships and the heads that carry them
        redundancy       MiniLM's 72 heads zeroed one at a time (None: the lesson uses no MiniLM)
        trap             the failure trap on MiniLM: every head of the layer a copy of copied_head (None: toy)
        induction        the induction chapter: the project's small causal model, its heads measured
        plan             (number, title) of each chapter the lesson renders, in order (the intro's plan)
    """

    def __init__(self, config: LessonConfig, scripts: Scripts, **data):
        self.config, self.scripts = config, scripts
        self.__dict__.update(data)  # data already computed (``replace``)

    def computed(self) -> tuple[str, ...]:
        """The data computed so far."""
        return tuple(name for name in DATA if name in self.__dict__)

    def replace(self, **data) -> "Lesson":
        """The same Lesson with some data (or the config, or the words) swapped; what is computed is kept
        (what it is computed from too: a new config must not change the numbers, as a theme does not)."""
        values = {name: value for name, value in self.__dict__.items() if name not in ("config", "scripts")} | data
        config, scripts = values.pop("config", self.config), values.pop("scripts", self.scripts)
        return Lesson(config, scripts, **values)

    def with_theme(self, theme: str) -> "Lesson":
        """The same numbers in another theme (cheap: no recomputation)."""
        return self.replace(config=self.config.model_copy(update={"theme": theme}))

    # -- the mechanics: the focus word, the layer and head, the trace ---------------------------------------

    @cached_property
    def relations(self) -> tuple:
        return tuple(relation_heads_of(self.measured_model))

    @cached_property
    def _focus(self) -> "Focus":
        # An untrained model's head needs no measurement; a trained one's is the head measured for the focus word.
        return resolve_focus(self.config, self.model, self.relations if self.model.trained else ())

    @cached_property
    def focus(self) -> int:
        return self._focus.position

    @cached_property
    def focus_head(self) -> int:
        return self._focus.head

    @cached_property
    def focus_relation(self) -> RelationResult | None:
        return self._focus.relation

    @cached_property
    def layer(self) -> int | None:
        return self._focus.layer

    @cached_property
    def mha(self) -> MultiHeadAttention:
        return self._mechanics[0]

    @cached_property
    def trace(self) -> AttentionTrace:
        return self._mechanics[1]

    @cached_property
    def _mechanics(self) -> tuple:
        mha, trace = mechanics(self.config, self.layer, self.model)
        return mha, _cpu(trace)

    # -- the failure trap, distances, ablation, cost, Add & Norm ---------------------------------------------

    @cached_property
    def copied_head(self) -> int:
        return 0 if self.focus_head != 0 else 1  # a head other than the focus head: the trap shows what is lost

    @cached_property
    def copies(self) -> AttentionTrace:
        trace = self.trace
        with torch.no_grad():
            copies = copies_of_one_head(self.mha, head=self.copied_head).trace(trace.x, trace.mask, tokens=trace.tokens)
        return _cpu(copies)

    @cached_property
    def js(self) -> torch.Tensor:
        return head_distances(self.trace)

    @cached_property
    def copies_js(self) -> torch.Tensor:
        return head_distances(self.copies)

    @cached_property
    def ablation(self) -> torch.Tensor:
        with torch.no_grad():
            return torch.as_tensor(head_ablation(self.mha, self.trace)).detach().cpu()

    @cached_property
    def cost(self) -> AttentionCost:
        return attention_cost(self.trace.d_model, self.trace.n_head, self.trace.n_pos)

    @cached_property
    def cost_examples(self) -> tuple[CostExample, ...]:
        return cost_examples(self.trace.n_pos)

    @cached_property
    def residual(self) -> torch.Tensor:
        return self._add_and_norm[0]

    @cached_property
    def normed(self) -> torch.Tensor:
        return self._add_and_norm[1]

    @property
    def norm_learned(self) -> bool:
        """Whether the Add & Norm shown applies a learned gain and bias (MiniLM's LayerNorm; the toy has none)."""
        return bool(self._norm)

    @property
    def _norm(self) -> dict:
        # MiniLM's Add & Norm has its own learned gain and bias; the toy's is the plain normalisation.
        return self.model.attention_norm(self.layer or 0)

    @cached_property
    def _add_and_norm(self) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            residual, normed = add_and_norm(self.trace.x, self.trace.output, **self._norm)
        return residual.detach().cpu(), normed.detach().cpu()

    # -- the measured chapters --------------------------------------------------------------------------------

    @cached_property
    def specialization(self) -> Specialization:
        model = self.specialist  # what the chapter shows: config.specialization_model
        mechanics = (self.mha, self.trace) if model is self.model else None
        if self.layer is not None or not model.trained:
            layer = self.layer or 0
        else:  # a trained model's heads next to the toy's mechanics: the layer of the first relation measured
            layer = self.relations[0].layer
        return build_specialization(model, self.config.sentence, mechanics=mechanics, layer=layer)

    @cached_property
    def gallery(self) -> Gallery | None:
        if not self.specialist.trained:
            return None  # untrained heads: nothing measured to show
        return build_gallery(self.measured_model, self.config.sentence, self.relations)

    @cached_property
    def relationships(self) -> Relationships:
        return build_relationships(self.measured_model, self.relations)

    @cached_property
    def redundancy(self) -> Redundancy | None:
        if not (self.model.trained or self.specialist.trained):
            return None  # the lesson shows no trained heads: no ablation of them to tell
        return head_redundancy_of(self.measured_model)

    @cached_property
    def trap(self) -> CopiesEffect | None:
        if not self.model.trained:
            return None
        return copies_effect_of(self.model, self.config.sentence, self.layer, self.copied_head)

    @cached_property
    def induction(self) -> Induction:
        return build_induction(load_model("induction", self.config.device))

    @cached_property
    def plan(self) -> tuple[tuple[int, str, int], ...]:
        """(number, title, act) of each chapter the lesson renders, in order."""
        return tuple((self.config.chapter_number(cid), self.scripts.title(cid), chapter(cid).act)
                     for cid in self.config.chapters if cid in CHAPTER_IDS)  # not the closing card

    # -- derived, read-only ----------------------------------------------------------------------------------

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.trace.tokens

    @property
    def n_head(self) -> int:
        return self.trace.n_head

    @property
    def d_model(self) -> int:
        return self.trace.d_model

    @property
    def d_head(self) -> int:
        return self.trace.d_head

    @property
    def trained(self) -> bool:
        """Whether the mechanics model's weights were learned (MiniLM) or drawn at random (the toy)."""
        return self.model.trained

    @cached_property
    def model(self) -> AttentionModel:
        """The mechanics model, from the registry (``mha_core.models``)."""
        return lesson_model(self.config)

    @cached_property
    def specialist(self) -> AttentionModel:
        """The model whose heads the 'heads specialise' chapter shows (``config.specialization_model``)."""
        name = self.config.specialization_model
        return self.model if name == self.config.model else named_model(self.config, name)

    @cached_property
    def measured_model(self) -> AttentionModel:
        """The trained model whose heads the lesson measures: relation probes, corpus profiles, ablations."""
        return load_model(MEASURED_MODEL, self.config.device)

    @property
    def weights_kind(self) -> str:
        """How the words on screen describe the mechanics model's weights: never "learned" for random ones."""
        return self.scripts.shared.text("weights-learned" if self.trained else "weights-untrained", {})

    @property
    def model_name(self) -> str:
        """The mechanics model as the screen names it: "all-MiniLM-L6-v2, layer 3"."""
        if self.model.trained:
            return self.scripts.shared.text("model-layer", {"model": self.model.display_name, "layer": self.layer + 1})
        return self.scripts.shared.text("model-toy", {"seed": self.config.seed})

    def chapter_number(self, chapter_id: str) -> int:
        """Its place in the author's ``chapters``, from 1 (drawn in its header: in its cache key, ``keys``)."""
        return self.config.chapter_number(chapter_id)

    @property
    def head_writes(self) -> torch.Tensor:
        """``[head, pos, d_model]``: what head i writes into the output, head_i W_O^(i).

        Summed over heads, plus b_O, this is ``trace.output`` (the projection is linear).
        """
        with torch.no_grad():
            W_O = self.mha.head_weights("O").detach().to("cpu", self.trace.heads.dtype)
            return self.trace.heads @ W_O

    @property
    def copies_output_change(self) -> float:
        """‖output with every head a copy − real output‖ / ‖real output‖ for this layer on this sentence."""
        return float(torch.linalg.vector_norm(self.copies.output - self.trace.output)
                     / torch.linalg.vector_norm(self.trace.output))

    def strongest_link(self, weights: torch.Tensor) -> tuple[int, float]:
        """(key, weight): where the focus word's row of ``weights`` [query, key] puts most weight among the
        sentence's words (its own position, [CLS] and [SEP] left out: parked attention is not a link)."""
        row = weights[self.focus].detach().to("cpu", torch.float64).clone()
        for k, token in enumerate(self.tokens):
            if k == self.focus or token in SPECIAL:
                row[k] = -1.0
        k = int(row.argmax())
        return k, float(weights[self.focus, k])

    @property
    def focus_reads(self) -> tuple[int, ...]:
        """Per head, the key position the focus word gives most weight to (each head's strongest link)."""
        return tuple(int(k) for k in self.trace.weights[:, self.focus].argmax(dim=-1))

    @property
    def contrast_head(self) -> int | None:
        """The head set beside the focus head to show that each head has its own space: another head whose
        largest weight for the focus word falls on a word ([CLS] and [SEP] aside) other than the focus head's
        strongest link, the most confident such head; else the head whose row for the focus word differs most
        from the focus head's (total variation). None when the layer has one head."""
        others = [h for h in range(self.n_head) if h != self.focus_head]
        if not others:
            return None
        rows = self.trace.weights[:, self.focus].detach().to("cpu", torch.float64)  # [head, key]
        link, _ = self.strongest_link(self.trace.weights[self.focus_head])
        reads = self.focus_reads
        elsewhere = [h for h in others if self.tokens[reads[h]] not in SPECIAL and reads[h] not in (link, self.focus)]
        if elsewhere:
            return max(elsewhere, key=lambda h: float(rows[h].max()))
        return max(others, key=lambda h: float((rows[h] - rows[self.focus_head]).abs().sum()))

    def visible_keys(self) -> list[int]:
        """The key positions the focus word may attend to (all but the masked ones)."""
        mask = self.trace.mask
        return [k for k in range(self.trace.n_pos) if mask is None or bool(mask[self.focus, k])]

    def key_plane(self, head: int) -> KeyPlane:
        """Head ``head``'s query of the focus word and the keys it may see, drawn flat (``mha_core.key_plane``;
        its keys in the order of ``visible_keys``)."""
        keys = self.visible_keys()
        return key_plane(self.trace.q[head, self.focus], self.trace.k[head, keys])

    def drawn_positions(self, max_tokens: int) -> tuple[int, ...]:
        """The sentence positions the chapters draw, in order: every one when the sentence has at most
        ``max_tokens`` (``style.MAX_TOKENS``), else a window around the focus word that keeps what its relation
        needs (the rule: ``token_window``). The mechanics chapters all draw this window, so a word of the sentence
        is elided in all of them or in none."""
        return token_window(self.tokens, self.focus, self.trace.weights[:, self.focus], self.focus_head, max_tokens)

    @property
    def b_O(self) -> torch.Tensor | None:
        return None if self.mha.b_O is None else self.mha.b_O.detach().cpu()


class LessonView:
    """One chapter's view of a Lesson: the data it declares it reads (``chapters.Chapter.reads``), what is
    computed from those alone (``DERIVED``) and ``GIVEN``; reading anything else is an error naming it, so
    a chapter's cache key, which hashes exactly its reads, cannot miss what reaches its frames."""

    def __init__(self, lesson: Lesson, chapter_id: str, reads: tuple[str, ...]):
        self._lesson, self._chapter_id = lesson, chapter_id
        self._allowed = {*GIVEN, *reads, *(name for name, needs in DERIVED.items() if set(needs) <= set(reads))}

    def __getattr__(self, name: str):
        if name.startswith("__") or name in self._allowed:
            return getattr(self._lesson, name)
        raise AttributeError(f"the {self._chapter_id} chapter reads lesson.{name}, which its entry in "
                             "scenes/lesson/chapters.py does not list in reads; add it there (its cache key must "
                             "hash what the chapter draws)")


def chapter_data(lesson: Lesson, chapter_id: str) -> dict:
    """What ``chapter_id`` reads of ``lesson``, by name (computed now if it was not): its cache key hashes this."""
    return {name: getattr(lesson, name) for name in chapter(chapter_id).reads}


def build_lesson(config: LessonConfig, scripts: Scripts | None = None) -> Lesson:
    """The Lesson of ``config``: nothing is computed until a chapter (or the export) reads it.
    ``scripts``: the lesson's words, if already loaded (else from ``config.script``). ``ScriptError`` when the
    lesson's font cannot draw one of its words."""
    scripts = scripts or load_scripts(config.script)
    check_font(scripts, config.font or FONT)
    return Lesson(config, scripts)


@dataclass(frozen=True)
class Focus:
    """The word, layer and head the mechanics chapters work through (0-based), and the measurement behind them."""

    position: int
    layer: int | None  # None: the toy model
    head: int
    relation: RelationResult | None  # the head's relation, when the head is the one measured for it


def resolve_focus(config: LessonConfig, model: AttentionModel, relations: tuple[RelationResult, ...]) -> Focus:
    """Pick the focus word, then (for a trained ``model``, where ``auto``) the layer and head measured to track its
    relation (``relations``: ``relation_heads_of(model)``).

    A pronoun is followed through the pronoun -> antecedent head, a determiner through the determiner -> noun
    head, and so on (``relation_of``); a word with no probe relation through the head whose relation label has
    the widest margin over its baseline. ``layer``/``head`` set by the author (numbered from 1) win.
    """
    tokens = model.trace(config.sentence, 0).tokens
    if not model.trained:
        head = 0 if config.head == "auto" else config.head - 1
        return Focus(pick_focus(tokens), None, head, None)
    position = pick_focus(tokens, labelled=tuple(r.relation for r in relations if r.labelled))
    by_name = {r.relation: r for r in relations}
    labelled = [r for r in relations if r.labelled] or list(relations)
    widest = max(labelled, key=lambda r: r.accuracy - r.baseline_accuracy)
    relation = by_name.get(relation_of(tokens[position]) or "", widest)
    layer = None if config.layer == "auto" else config.layer - 1
    if config.head != "auto":
        layer = relation.layer if layer is None else layer
        head = config.head - 1
    elif layer is None:
        layer, head = relation.layer, relation.head
    else:
        layer, head = best_head_of(model, relation.relation, layer)
    measured = relation if (layer, head) == (relation.layer, relation.head) else None
    return Focus(position, layer, head, measured)


# A long sentence's window always keeps this many of the worked head's strongest keys from the focus word (the
# one-head chapter draws an arc to each).
WINDOW_TOP_KEYS = 4


def token_window(tokens, focus: int, rows, head: int, max_tokens: int) -> tuple[int, ...]:
    """The positions of a long sentence to draw: at most ``max_tokens`` of them, in sentence order, chosen around
    the ``focus`` word so that the words its attention needs are never dropped. ``rows``: [head, key] each head's
    attention row from the focus word; ``head``: the head the lesson works through. A sentence of at most
    ``max_tokens`` tokens is drawn whole.

    The rule, step by step, each step adding positions while there is room:

    1. the focus word itself;
    2. in ``head``: the word it links the focus word to most ([CLS], [SEP] and the focus word aside: the word the
       relation is about), then its ``WINDOW_TOP_KEYS`` heaviest keys, heaviest first;
    3. in every head, most confident first: the key its largest weight falls on; then, heaviest first, each head's
       strongest link to a word ([CLS], [SEP] and the focus word aside) when it carries more than an even share
       (1 / n: a flat row links nowhere);
    4. [CLS] and [SEP] when they carry weight: more than an even share (1 / n) of the focus word's attention,
       averaged over the heads;
    5. the focus word's nearest neighbours, nearer first, the earlier one on a tie.

    Steps 1 and 2 always fit (``max_tokens`` >= 2 + ``WINDOW_TOP_KEYS``); what is left out is elided where it is
    drawn ("…" in each gap, and a note saying how many tokens are not drawn)."""
    n = len(tokens)
    if n <= max_tokens:
        return tuple(range(n))
    if max_tokens < 2 + WINDOW_TOP_KEYS:
        raise ValueError(f"a window of {max_tokens} tokens cannot keep the focus word and its head's "
                         f"{1 + WINDOW_TOP_KEYS} strongest keys")
    w = rows.detach().to("cpu", torch.float64).numpy() if isinstance(rows, torch.Tensor) else rows
    special = [k for k, t in enumerate(tokens) if t in SPECIAL]

    def by_weight(h: int, keys) -> list[int]:  # heaviest first; the earlier position on a tie
        return sorted(keys, key=lambda k: (-float(w[h, k]), k))

    words = [k for k in range(n) if k != focus and k not in special]
    steps = [focus, by_weight(head, words)[0], *by_weight(head, [k for k in range(n) if k != focus])[:WINDOW_TOP_KEYS]]
    confident = sorted(range(len(w)), key=lambda h: (-float(w[h].max()), h))
    steps += [by_weight(h, range(n))[0] for h in confident]
    links = [(by_weight(h, words)[0], h) for h in range(len(w))]
    steps += [k for k, h in sorted(links, key=lambda kh: (-float(w[kh[1], kh[0]]), kh[1])) if w[h, k] > 1 / n]
    steps += [k for k in special if float(w[:, k].mean()) > 1 / n]
    steps += sorted(range(n), key=lambda k: (abs(k - focus), k))
    kept: list[int] = []
    for k in steps:
        if k not in kept:
            kept.append(k)
        if len(kept) == max_tokens:
            break
    return tuple(sorted(kept))


def cost_examples(n_pos: int) -> tuple[CostExample, ...]:
    """The original Transformer's width in 1, 2 and 8 heads, and GPT-3, costed at ``n_pos`` tokens."""
    shapes = [(key, h, TRANSFORMER_BASE[1]) for h, key in TRANSFORMER_WIDTH]
    shapes.append(("gpt-3", *GPT3))
    return tuple(CostExample(key, h, d, attention_cost(d, h, n_pos)) for key, h, d in shapes)


def build_specialization(model: AttentionModel, sentence: str, *, mechanics=None, layer: int = 0) -> Specialization:
    """A trained model's heads of ``layer`` (0-based), profiled over the corpus, or an untrained model's heads.

    ``mechanics``: the mechanics model's (module, trace) when ``model`` is the mechanics model, reused when it
    traced the layer asked for."""
    if model.trained:
        same_layer = mechanics is not None and mechanics[1].meta.get("layer") == layer
        trace = mechanics[1] if same_layer else model.trace(sentence, layer)
        profiles = tuple(corpus_profiles_of(model, layer))
    else:
        trace = mechanics[1] if mechanics is not None else model.trace(sentence, 0)
        profiles, layer = None, None
    trace, name, trained = _cpu(trace), model.display_name, model.trained
    signatures = tuple(head_signatures(trace))
    per_head = [profiles[i] if profiles else None for i in range(trace.n_head)]
    tags = tuple(head_tag(i, signatures, p) for i, p in enumerate(per_head))
    return Specialization(model.name, name, layer, trained, trace, signatures, profiles, tags)


def head_tag(head: int, signatures, profile=None) -> HeadTag:
    """A head's measured tag: its corpus label and the value that earned it; else no label and its strongest
    share (over the corpus for a trained model, on this sentence for an untrained one)."""
    if profile is not None and profile.label:
        name = LABEL_SIGNATURES.get(profile.label, "entropy")
        return HeadTag(profile.label, name, float(profile.get(name)))
    source = profile if profile is not None else signatures[head]
    name, value = strongest_share(source)
    return HeadTag(None, name, value)


def strongest_share(sig) -> tuple[str, float]:
    """The share signature (previous/next/own/[CLS]/[SEP]/punctuation) with the largest value."""
    shares = [(sig.get(n), n) for n in SHARES if sig.get(n) is not None]
    value, name = max(shares)
    return name, float(value)


def toy_model(config: LessonConfig) -> AttentionModel:
    """The toy model, sized and seeded by the config."""
    return load_model("toy", config.device, d_model=config.d_model, n_head=config.heads, seed=config.seed,
                      causal=config.causal)


def lesson_model(config: LessonConfig) -> AttentionModel:
    """The mechanics model ``config`` names, from the registry (``mha_core.models``)."""
    return named_model(config, config.model)


def named_model(config: LessonConfig, name: str) -> AttentionModel:
    """The registry's model ``name`` on the config's device; the toy sized and seeded by the config."""
    return toy_model(config) if name == "toy" else load_model(name, config.device)


def mechanics(config: LessonConfig, layer: int | None, model: AttentionModel | None = None):
    """The mechanics model's attention block at ``layer`` (the toy's one layer: None) and its trace of the sentence;
    ``model``: ``lesson_model(config)``, if already loaded. (A causal mask on MiniLM, a bidirectional encoder,
    is refused by the config.)"""
    model, layer = model or lesson_model(config), layer or 0
    return model.attention_module(layer), model.trace(config.sentence, layer)


def _cpu(trace: AttentionTrace) -> AttentionTrace:
    return trace.to(device="cpu")
