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

import torch

from mha_core import (
    AttentionCost,
    AttentionTrace,
    MultiHeadAttention,
    add_and_norm,
    attention_cost,
    copies_of_one_head,
    corpus_profiles,
    head_ablation,
    head_distances,
    head_signatures,
    load_minilm,
    tokenize,
    toy_block,
    trace_pretrained,
)
from mha_core.ablation import CopiesEffect, Redundancy, copies_effect, head_redundancy
from mha_core.analysis import LABEL_SIGNATURES, SHARES
from mha_core.pretrained import MODEL_NAME as MINILM_NAME
from mha_core.relations import RelationResult, best_head, relation_heads, relation_of

from .config import CHAPTER_IDS, LessonConfig
from .focus import pick_focus
from .gallery import Gallery, build_gallery
from .induction import Induction, build_induction
from .relationships import Relationships, build_relationships

# Model shapes the cost chapter compares with the lesson's own, costed by the same accounting: the
# original Transformer's width (Vaswani et al. 2017, base model: d_model 512, 8 heads) cut into 1, 2 and
# 8 heads, and GPT-3's attention (Brown et al. 2020, "Language Models are Few-Shot Learners", table 2.1:
# d_model 12288, 96 heads of 128).
TRANSFORMER_BASE = (8, 512)  # (heads, d_model)
TRANSFORMER_WIDTH = ((1, "one head"), (2, "two heads"), (TRANSFORMER_BASE[0], "Transformer base (2017)"))
GPT3 = (96, 12288)


@dataclass(frozen=True)
class HeadTag:
    """What one head's tag under its pattern says, as data: ("previous-token", "previous", 1.0)."""

    headline: str  # the measured label, "no label" (trained, nothing cleared its threshold) or "untrained"
    signature: str  # the signature the value is (mha_core.analysis.SIGNATURES)
    value: float


@dataclass(frozen=True)
class CostExample:
    """One row of the cost chapter's comparison: a model shape and its cost at the lesson's n tokens."""

    name: str
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
    profiles: tuple | None  # corpus_profiles(layer): measured over a corpus (trained model only)
    tags: tuple[HeadTag, ...]  # per head: its label (or none) and the measured value behind it
    descriptions: tuple[str, ...]  # one measured sentence per head: its label_text, or its numbers

    @property
    def n_head(self) -> int:
        return self.trace.n_head

    @property
    def labels(self) -> tuple[str | None, ...]:
        if self.profiles is None:
            return (None,) * self.n_head
        return tuple(p.label for p in self.profiles)


@dataclass(frozen=True)
class Lesson:
    config: LessonConfig
    mha: MultiHeadAttention  # the mechanics model (toy, or a MiniLM layer)
    trace: AttentionTrace  # its pass over the sentence (CPU)
    focus: int  # the query position worked through in "one head"
    focus_head: int  # the head it is worked through in (0-based; chosen by measurement unless the author set it)
    focus_relation: RelationResult | None  # the relation that head was chosen for, measured held-out (None: set)
    layer: int | None  # the MiniLM layer traced (0-based); None for the toy model
    copied_head: int  # the failure trap's head: every head becomes a copy of it (not the focus head)
    copies: AttentionTrace  # failure trap: same input, every head a copy of copied_head
    js: torch.Tensor  # [head, head] Jensen-Shannon distances (head_distances) between the real heads' patterns
    copies_js: torch.Tensor  # the same for the copies (all ~0)
    ablation: torch.Tensor  # [head] relative output change when each head is zeroed
    cost: AttentionCost
    cost_examples: tuple[CostExample, ...]  # other shapes, the same accounting, at this sentence's length
    residual: torch.Tensor  # x + MultiHead(x)
    normed: torch.Tensor  # LayerNorm(residual)
    specialization: Specialization
    relations: tuple  # RelationResult per relation (mha_core.relations): MiniLM's best head, measured held-out
    gallery: Gallery | None  # the specialisation chapter's measured heads from all layers (None: toy model)
    relationships: Relationships  # the intro's "The cat sat down": its relationships and the heads that carry them
    redundancy: Redundancy | None  # MiniLM's 72 heads zeroed one at a time (None: the lesson uses no MiniLM)
    trap: CopiesEffect | None  # the failure trap on MiniLM: every head of the layer a copy of copied_head (None: toy)
    induction: Induction  # the induction chapter: the project's small causal model, its heads measured

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
        return self.config.model == "minilm"

    @property
    def weights_kind(self) -> str:
        """How the words on screen describe the mechanics model's weights: never "learned" for random ones."""
        return "learned" if self.trained else "untrained, random"

    @property
    def model_name(self) -> str:
        if self.config.model == "minilm":
            return f"{MINILM_NAME}, layer {self.layer + 1}"
        return f"toy model (untrained, seed {self.config.seed})"

    def chapter_number(self, chapter_id: str) -> int:
        return CHAPTER_IDS.index(chapter_id) + 1

    def with_theme(self, theme: str) -> "Lesson":
        """The same numbers in another theme (cheap: no recomputation)."""
        from dataclasses import replace

        return replace(self, config=self.config.model_copy(update={"theme": theme}))

    # -- derived, read-only ----------------------------------------------------------------------------------

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
            if k == self.focus or token in ("[CLS]", "[SEP]"):
                row[k] = -1.0
        k = int(row.argmax())
        return k, float(weights[self.focus, k])

    @property
    def focus_reads(self) -> tuple[int, ...]:
        """Per head, the key position the focus word gives most weight to (each head's strongest link)."""
        return tuple(int(k) for k in self.trace.weights[:, self.focus].argmax(dim=-1))

    @property
    def b_O(self) -> torch.Tensor | None:
        return None if self.mha.b_O is None else self.mha.b_O.detach().cpu()


def build_lesson(config: LessonConfig) -> Lesson:
    relations = tuple(relation_heads(config.device))
    focus = resolve_focus(config, relations)
    mha, trace = _mechanics(config, focus.layer)
    copied = 0 if focus.head != 0 else 1  # a head other than the focus head: the trap shows what is lost
    copies_mha = copies_of_one_head(mha, head=copied)
    with torch.no_grad():
        copies = copies_mha.trace(trace.x, trace.mask, tokens=trace.tokens)
        ablation = head_ablation(mha, trace)
        # MiniLM's Add & Norm has its own learned gain and bias; the toy's is the plain normalisation.
        norm = load_minilm(config.device).attention_norm(focus.layer) if config.model == "minilm" else {}
        residual, normed = add_and_norm(trace.x, trace.output, **norm)
    return Lesson(
        config=config,
        mha=mha,
        trace=_cpu(trace),
        focus=focus.position,
        focus_head=focus.head,
        focus_relation=focus.relation,
        layer=focus.layer,
        copied_head=copied,
        copies=_cpu(copies),
        js=head_distances(trace),
        copies_js=head_distances(copies),
        ablation=torch.as_tensor(ablation).detach().cpu(),
        cost=attention_cost(trace.d_model, trace.n_head, trace.n_pos),
        cost_examples=cost_examples(trace.n_pos),
        residual=residual.detach().cpu(),
        normed=normed.detach().cpu(),
        # Switching what the chapter shows is this one line (config.specialization_model).
        specialization=build_specialization(config.specialization_model, config, mechanics=(mha, trace),
                                            layer=focus.layer if focus.layer is not None else relations[0].layer),
        relations=relations,
        gallery=build_gallery(config.specialization_model, config.sentence, relations, config.device),
        relationships=build_relationships(config.device, relations),
        redundancy=head_redundancy(config.device) if "minilm" in (config.model, config.specialization_model) else None,
        trap=copies_effect(config.sentence, focus.layer, copied, config.device) if config.model == "minilm" else None,
        induction=build_induction(config.device),
    )


@dataclass(frozen=True)
class Focus:
    """The word, layer and head the mechanics chapters work through (0-based), and the measurement behind them."""

    position: int
    layer: int | None  # None: the toy model
    head: int
    relation: RelationResult | None  # the head's relation, when the head is the one measured for it


def resolve_focus(config: LessonConfig, relations: tuple[RelationResult, ...]) -> Focus:
    """Pick the focus word, then (for MiniLM, where ``auto``) the layer and head measured to track its relation.

    A pronoun is followed through the pronoun -> antecedent head, a determiner through the determiner -> noun
    head, and so on (``relation_of``); a word with no probe relation through the head whose relation label has
    the widest margin over its baseline. ``layer``/``head`` set by the author (numbered from 1) win.
    """
    if config.model == "toy":
        head = 0 if config.head == "auto" else config.head - 1
        return Focus(pick_focus(tokenize(config.sentence)), None, head, None)
    tokens, _ = load_minilm(config.device).tokenize(config.sentence)
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
        layer, head = best_head(relation.relation, layer, config.device)
    measured = relation if (layer, head) == (relation.layer, relation.head) else None
    return Focus(position, layer, head, measured)


def cost_examples(n_pos: int) -> tuple[CostExample, ...]:
    """The original Transformer's width in 1, 2 and 8 heads, and GPT-3, costed at ``n_pos`` tokens."""
    shapes = [(name, h, TRANSFORMER_BASE[1]) for h, name in TRANSFORMER_WIDTH]
    shapes.append(("GPT-3 (2020)", *GPT3))
    return tuple(CostExample(name, h, d, attention_cost(d, h, n_pos)) for name, h, d in shapes)


def build_specialization(source: str, config: LessonConfig, *, mechanics=None, layer: int = 0) -> Specialization:
    """Trained MiniLM heads of ``layer`` (0-based; ``"minilm"``) or the toy model's untrained heads (``"toy"``).

    ``mechanics``: the mechanics model's (module, trace), reused when it is the model and layer asked for."""
    same_model = mechanics is not None and config.model == source
    if source == "minilm":
        same_layer = same_model and mechanics[1].meta.get("layer") == layer
        trace = mechanics[1] if same_layer else trace_pretrained(config.sentence, layer=layer, device=config.device)
        trace, profiles = _cpu(trace), tuple(corpus_profiles(layer, device=config.device))
        name, trained = MINILM_NAME, True
    else:
        # The mechanics model's trace only when it is the toy (a MiniLM layer is trained, never "untrained").
        _, trace = mechanics if same_model else _toy(config)
        trace, profiles = _cpu(trace), None
        name, layer, trained = f"toy model (untrained, seed {config.seed})", None, False
    signatures = tuple(head_signatures(trace))
    per_head = [profiles[i] if profiles else None for i in range(trace.n_head)]
    tags = tuple(head_tag(i, signatures, p) for i, p in enumerate(per_head))
    descriptions = tuple(describe_head(i, signatures, p) for i, p in enumerate(per_head))
    return Specialization(source, name, layer, trained, trace, signatures, profiles, tags, descriptions)


# How a signature is named in words (a description: "largest share 0.62 on the previous token").
SIGNATURE_WORDS = {"previous": "the previous token", "next": "the next token", "current": "its own token",
                   "cls": "[CLS]", "sep": "[SEP]", "punctuation": "punctuation", "entropy": "entropy"}


def head_tag(head: int, signatures, profile=None) -> HeadTag:
    """A head's measured tag: its corpus label and the value that earned it; else "no label" and its
    strongest share (a trained model), or "untrained" and its strongest share on this sentence."""
    if profile is not None and profile.label:
        name = LABEL_SIGNATURES.get(profile.label, "entropy")
        return HeadTag(profile.label, name, float(profile.get(name)))
    source = profile if profile is not None else signatures[head]
    name, value = strongest_share(source)
    # Without a corpus profile (the untrained toy model) there is nothing to label: say so.
    return HeadTag("no label" if profile is not None else "untrained", name, value)


def describe_head(head: int, signatures, profile=None) -> str:
    """A measured sentence for one head: the corpus profile's label_text, or its numbers on this sentence."""
    if profile is not None:
        return profile.label_text
    sig = signatures[head]
    name, value = strongest_share(sig)
    return (f"head {head + 1}: largest share {value:.2f} on {SIGNATURE_WORDS[name]}, "
            f"normalised entropy {sig.entropy:.2f} (this sentence only)")


def strongest_share(sig) -> tuple[str, float]:
    """The share signature (previous/next/own/[CLS]/[SEP]/punctuation) with the largest value."""
    shares = [(sig.get(n), n) for n in SHARES if sig.get(n) is not None]
    value, name = max(shares)
    return name, float(value)


def _toy(config: LessonConfig):
    return toy_block(config.sentence, d_model=config.d_model, n_head=config.heads, seed=config.seed,
                     causal=config.causal, device=config.device)


def _mechanics(config: LessonConfig, layer: int | None):
    if config.model == "toy":
        return _toy(config)
    # (A causal mask on MiniLM, a bidirectional encoder, is refused by the config.)
    mha = load_minilm(config.device).attention(layer)
    trace = trace_pretrained(config.sentence, layer=layer, device=config.device)
    return mha, trace


def _cpu(trace: AttentionTrace) -> AttentionTrace:
    return trace.to(device="cpu")
