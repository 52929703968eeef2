"""How much MiniLM's real output needs each head: zero heads, copy heads, measure the sentence embedding.

The output is the sentence embedding e(s) of all-MiniLM-L6-v2 (``MiniLM.sentence_embedding``: mean of the
last layer's token vectors, L2-normalised, as sentence-transformers computes it). A change is measured as

    shift = 1 − cos(e_intact(s), e_changed(s)),   averaged over the probe sentences s

(0: the embedding did not move; 1: it turned a right angle). For unit vectors 1 − cos(a, b) = ‖a − b‖² / 2,
which is how we compute it: never negative, and exactly 0 when nothing changed.

    head_redundancy_of   zero each of the 72 heads in turn (Michel et al. 2019): one shift per head
    copies_effect_of     the failure trap on the trained model: every head of one layer made a copy of one head

Both take the model (``models.load_model("minilm")``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .analysis import copies_of_one_head, head_ablation
from .sizes import MINILM_HEADS, MINILM_LAYERS

# A head is "hardly missed" when zeroing it moves the embedding by less than this (1 − cos, mean over the
# probe sentences). For scale, measured with this model: two different probe sentences sit at a median
# 1 − cos of 0.89 (the closest pair, two sentences about a waiter dropping a plate, at 0.27); small edits of
# "The cat sat down because it was tired." move it by 0.005 (dropping the full stop), 0.020 ("The" -> "A"),
# 0.044 ("tired" -> "sleepy") and 0.24 ("cat" -> "dog"). Below 0.01 losing the head moves the sentence less
# than changing its article does, and less than 1/25 of the way to the nearest other sentence.
SHIFT_THRESHOLD = 0.01


def embedding_shift(intact: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
    """1 − cos per row of two batches of unit vectors ``[batch, d]`` -> ``[batch]`` (float64, on the CPU)."""
    a, b = (torch.nn.functional.normalize(e.detach().to("cpu", torch.float64), dim=-1) for e in (intact, changed))
    return ((a - b) ** 2).sum(-1) / 2  # = 1 − a·b for unit vectors, and ≥ 0 by construction


def probe_texts(sentences: Sequence | None = None) -> tuple[str, ...]:
    """The sentences to measure on, as text: ``sentences`` (str or ProbeSentence) or the whole probe set."""
    if sentences is None:
        from .relations import load_probe_set

        sentences = load_probe_set()
    texts = tuple(s if isinstance(s, str) else s.text for s in sentences)
    if not texts:
        raise ValueError("give at least one sentence to measure on.")
    return texts


# -- zero one head at a time ---------------------------------------------------


@dataclass(frozen=True)
class Redundancy:
    """``shift[layer, head]``: mean over ``n_sentences`` of 1 − cos(embedding, embedding with that head zeroed)."""

    shift: torch.Tensor  # [layer, head], float64 on the CPU
    n_sentences: int

    @property
    def n_heads(self) -> int:
        return self.shift.numel()

    def count_below(self, threshold: float = SHIFT_THRESHOLD) -> int:
        """How many heads move the embedding by less than ``threshold`` when zeroed."""
        return int((self.shift < threshold).sum())

    def largest(self) -> tuple[int, int, float]:
        """(layer, head, shift) of the head whose loss moves the embedding most."""
        i = int(self.shift.argmax())
        layer, head = divmod(i, self.shift.shape[1])
        return layer, head, float(self.shift[layer, head])

    def median(self) -> float:
        """The median shift over all heads (the middle value; the lower one of the two for an even count)."""
        return float(self.shift.flatten().median())


def head_redundancy_of(model, sentences: Sequence | None = None) -> Redundancy:
    """Zero each of MiniLM's 72 heads in turn; ``shift[layer, head]`` is how far the sentence embedding moves.

    Default sentences: the probe set (``relations.load_probe_set``), 128 sentences. Cached per model and
    sentence tuple, and on disk (``mha_core.store``) under the verified weights' hash: the model as loaded, not
    changed in memory. One padded pass over all sentences, then one per head, starting at the head's layer
    (the layers below it are not changed, so their intact output is reused).
    """
    from .pretrained import as_minilm

    return _redundancy(as_minilm(model, "head redundancy"), probe_texts(sentences))


@functools.lru_cache(maxsize=4)
def _redundancy(model, texts: tuple[str, ...]) -> Redundancy:
    # Kept on disk (mha_core.store): a pure function of the verified model, the sentences, this code, the device
    # kind and the dtype. float32, the only dtype before a model could be passed in, keeps its key as it was.
    from . import attention, pretrained, store

    code = store.source_hash(sys.modules[__name__], pretrained, attention)
    dtype = [] if model.dtype == torch.float32 else [str(model.dtype)]
    key = store.key_of(pretrained.OFFICIAL_SHA256, texts, code, torch.__version__, model.device.type, *dtype)
    shift = store.remembered("redundancy", key, lambda: {"shift": _measure_redundancy(model, texts)},
                             check=_a_shift_table)["shift"]
    return Redundancy(shift=shift, n_sentences=len(texts))


def _a_shift_table(tensors: dict) -> bool:
    # What _measure_redundancy returns: read back from disk, anything else is computed again.
    shift = tensors.get("shift")
    return (set(tensors) == {"shift"} and shift.shape == (MINILM_LAYERS, MINILM_HEADS)
            and shift.dtype == torch.float64 and bool(torch.isfinite(shift).all()))


def _measure_redundancy(model, texts: tuple[str, ...]) -> torch.Tensor:
    ids, real = model.pad(texts)
    states = model.run_layers(model.embed(ids), real)  # [layer + 1] x [batch, pos, d_model]
    intact = model.pool(states[-1], real)
    shift = torch.zeros(model.n_layer, model.n_head, dtype=torch.float64)
    for layer in range(model.n_layer):
        for head in range(model.n_head):
            keep = torch.ones(model.n_layer, model.n_head)
            keep[layer, head] = 0
            last = model.run_layers(states[layer], real, first=layer, head_mask=keep)[-1]
            shift[layer, head] = embedding_shift(intact, model.pool(last, real)).mean()
    return shift


# -- every head a copy of one --------------------------------------------------


@dataclass(frozen=True)
class CopiesEffect:
    """Layer ``layer``'s 12 heads replaced by copies of head ``head`` (W_O, b_O kept), the rest of MiniLM run.

    On ``sentence``: ``output_change`` = ‖attention output with copies − real one‖ / ‖real one‖ (same layer
    input), ``embedding_similarity`` = cos(real embedding, embedding with copies), ``weights`` the copies'
    attention ``[head, query, key]`` (every head draws the same pattern). ``probe_shift``: mean 1 − cos over the
    ``n_sentences`` probe sentences, the measure of ``head_redundancy_of``. The ``one_head_*`` fields are the same
    numbers for zeroing only head ``head`` (``one_head_shift`` equals ``head_redundancy_of(model).shift[layer, head]``);
    ``others_shift`` is the probe shift of zeroing the layer's other heads, the ones the copies replace.
    """

    layer: int
    head: int
    sentence: str
    tokens: tuple[str, ...]
    output_change: float
    embedding_similarity: float
    probe_shift: float
    weights: torch.Tensor  # [head, query_pos, key_pos], on the CPU
    one_head_output_change: float
    one_head_similarity: float
    one_head_shift: float
    others_shift: float
    n_sentences: int


def copies_effect_of(
    model, sentence: str, layer: int, head: int, sentences: Sequence | None = None
) -> CopiesEffect:
    """Make every head of ``layer`` a copy of ``head`` and measure what that does to the real model (MiniLM).

    Cached per model and arguments; ``measure_copies`` measures a model changed in memory."""
    from .pretrained import as_minilm

    return _copies_effect(as_minilm(model, "the copies' effect"), sentence, layer, head, probe_texts(sentences))


@functools.lru_cache(maxsize=16)
def _copies_effect(model, sentence: str, layer: int, head: int, texts: tuple[str, ...]) -> CopiesEffect:
    return measure_copies(model, sentence, layer, head, texts)


@torch.no_grad()
def measure_copies(model, sentence: str, layer: int, head: int, texts: tuple[str, ...]) -> CopiesEffect:
    """``copies_effect_of`` uncached, e.g. on a ``MiniLM`` whose layer was already changed."""
    model._check_layer(layer)
    real = model._attention(layer)
    twin = copies_of_one_head(real, head)  # 12 copies of head `head`, W_O and b_O kept
    keep = torch.ones(model.n_layer, model.n_head)
    keep[layer, head] = 0
    others = torch.ones(model.n_layer, model.n_head)
    others[layer] = 0
    others[layer, head] = 1  # every head of the layer zeroed but `head`: the heads the copies replace

    tokens, _ = model.tokenize(sentence)
    x = model.hidden_states(sentence)[0][layer, 0]  # [pos, d_model]: the layer's input (one sentence, no padding)
    t = real.trace(x)

    def shifts(**intervention) -> tuple[float, float]:
        # (1 − cos on the sentence, mean 1 − cos over the probes); the probes in their own batch, exactly
        # as head_redundancy_of runs them, so one_head_shift is its number to the last bit.
        one = embedding_shift(alone, model.sentence_embedding([sentence], **intervention))
        probes = embedding_shift(intact, model.sentence_embedding(texts, **intervention))
        return float(one[0]), float(probes.mean())

    alone, intact = model.sentence_embedding([sentence]), model.sentence_embedding(texts)
    (copies_one, copies_probes), (head_one, head_probes) = shifts(attention={layer: twin}), shifts(head_mask=keep)
    others_probes = float(embedding_shift(intact, model.sentence_embedding(texts, head_mask=others)).mean())
    return CopiesEffect(
        layer=layer,
        head=head,
        sentence=sentence,
        tokens=tokens,
        output_change=float(torch.linalg.vector_norm(twin(x) - t.output) / torch.linalg.vector_norm(t.output)),
        embedding_similarity=1 - copies_one,
        probe_shift=copies_probes,
        weights=twin.trace(x).weights.detach().cpu(),
        one_head_output_change=float(head_ablation(real, t)[head]),
        one_head_similarity=1 - head_one,
        one_head_shift=head_probes,
        others_shift=others_probes,
        n_sentences=len(texts),
    )
