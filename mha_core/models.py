"""One interface to every model the lesson traces (MiniLM, the toy block, the induction model), and its registry.

    >>> model = load_model("minilm")                  # loaded and verified once per process and device
    >>> model.attention("The cat sat.").shape        # [layer, head, query_pos, key_pos]
    torch.Size([6, 12, 6, 6])
    >>> model.trace("The cat sat.", 2, zero={(1, 4)}).weights.shape   # layer 2, with layer 1's head 4 zeroed
    torch.Size([12, 6, 6])

A model is anything with the attributes and methods of ``AttentionModel``; the measurements take one
(``relations.relation_heads_of(model)``, ``ablation.head_redundancy_of(model)``, ...). Adding a model is one
module with a class that has them and one entry in ``_LOADERS``. Nothing here imports torch: ``MODEL_NAMES``
is free to read (the CLI's choices, the config's checks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from .attention import MultiHeadAttention
    from .trace import AttentionTrace

#: Heads to zero, as (layer, head) pairs, 0-based: ``{(1, 4), (1, 5)}``.
Heads = Iterable[tuple[int, int]]


@runtime_checkable
class AttentionModel(Protocol):
    """What the lesson and the measurements read from a model. Layers and heads are numbered from 0.

    ``tokenize(text)`` gives the model's own tokens, which ``trace`` and ``attention`` take in place of the
    text (the same numbers either way): MiniLM's (word pieces with [CLS] … [SEP], ids ``[pos]``), the toy
    model's words and punctuation marks (a tuple of str), the induction model's token ids (a LongTensor
    ``[pos]``, from syllables such as "ba ko" or ids). A trace's ``tokens`` are the tokens' names, one per position.

    ``zero``: heads whose output is zeroed (Michel et al. 2019): a zeroed head still attends, so its weights and
    every weight of its layer stay as they are, but it writes nothing into the layer's output, and the layers
    above read the changed residual stream.

    ``sentence_embedding`` exists only where the model defines one (MiniLM: mean pooling, then L2
    normalisation); the others raise ``NotImplementedError`` saying so.
    """

    name: str  # the registry's name: "minilm", "toy", "induction"
    display_name: str  # what the screen calls it: "all-MiniLM-L6-v2", "toy model (untrained, seed 0)"
    kind: Literal["encoder", "causal"]  # encoder: every token sees every token; causal: itself and earlier ones
    trained: bool  # learned weights; False: random ("untrained, random weights" on screen, never "learned")
    n_layer: int
    n_head: int
    d_model: int
    d_head: int

    def tokenize(self, text: str): ...

    def trace(self, tokens_or_text, layer: int, *, zero: Heads = ()) -> AttentionTrace:
        """Layer ``layer``'s attention, every stage kept: ``weights`` ``[head, query_pos, key_pos]``."""

    def attention(self, tokens_or_text, *, zero: Heads = ()) -> torch.Tensor:
        """Every layer's attention weights ``[layer, head, query_pos, key_pos]`` (rows sum to 1), on the CPU."""

    def attention_module(self, layer: int) -> MultiHeadAttention:
        """Layer ``layer``'s attention block: a copy, so changing it leaves the model alone."""

    def attention_norm(self, layer: int) -> dict:
        """The Add & Norm after layer ``layer``'s attention, as keyword arguments of ``block.add_and_norm``:
        MiniLM's learned LayerNorm ``gain``, ``bias`` and ``eps`` (post-LayerNorm, as in BERT); ``{}`` where the
        model learned none (the plain normalisation: gain 1, bias 0)."""

    def sentence_embedding(self, texts, *, zero: Heads = ()) -> torch.Tensor:
        """``[batch, d_model]`` (``[d_model]`` for one str), where the model defines one."""


def heads_by_layer(model: AttentionModel, zero: Heads) -> dict[int, tuple[int, ...]]:
    """``zero`` checked against the model's sizes and grouped: {layer: (head, ...)}."""
    by_layer: dict[int, set[int]] = {}
    for pair in zero:
        layer, head = pair if isinstance(pair, tuple) and len(pair) == 2 else (None, None)
        if not (_index(layer, model.n_layer) and _index(head, model.n_head)):
            raise ValueError(f"cannot zero head {pair!r}: {model.display_name} has layers 0-{model.n_layer - 1} "
                             f"and heads 0-{model.n_head - 1}, as (layer, head) pairs.")
        by_layer.setdefault(layer, set()).add(head)
    return {layer: tuple(sorted(heads)) for layer, heads in by_layer.items()}


def _index(value, size: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size


# -- the registry ------------------------------------------------------------------------------------------


def _minilm(device, **options) -> AttentionModel:
    from .pretrained import load_minilm

    return load_minilm(device, **options)  # options: dtype; one per process, device and dtype


def _toy(device, **options) -> AttentionModel:
    from .toy import ToyModel

    return ToyModel(device=device, **options)  # options: d_model, n_head, seed, causal, dtype; cheap and seeded


def _induction(device, **options) -> AttentionModel:
    from .device import resolve_device
    from .induction import load_induction_model

    if options:  # folder: one's own trained weights, read fresh (they may have been trained again since)
        return load_induction_model(device, **options)
    return _shipped_induction(str(resolve_device(device)))


@functools.lru_cache(maxsize=4)
def _shipped_induction(device: str) -> AttentionModel:
    from .induction import load_induction_model

    return load_induction_model(device)


# name -> loader(device, **options). A new model: its module, and one line here.
_LOADERS: dict[str, Callable[..., AttentionModel]] = {"minilm": _minilm, "toy": _toy, "induction": _induction}
MODEL_NAMES = tuple(_LOADERS)


def load_model(name: str, device="cpu", **options) -> AttentionModel:
    """The model registered as ``name`` on ``device`` ("auto", "cpu", "cuda", ...).

    MiniLM and the shipped induction model are loaded once per process and device (the same object each
    time: do not change it in place); the toy model is built from its options (``d_model``, ``n_head``,
    ``seed``, ``causal``) each time.
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown model {name!r}; the models are {', '.join(MODEL_NAMES)}.")
    return _LOADERS[name](device, **options)
