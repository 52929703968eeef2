"""The built-in toy model: a sentence -> tokens -> X -> one seeded attention block -> trace."""

from __future__ import annotations

import copy

import torch

from .analysis import without_heads
from .attention import MultiHeadAttention
from .device import resolve_device, resolve_dtype
from .embeddings import embed, tokenize
from .models import Heads, heads_by_layer
from .trace import AttentionTrace


def build_toy(d_model: int, n_head: int, seed: int = 0, *, device="auto", dtype="float32") -> MultiHeadAttention:
    return MultiHeadAttention(d_model, n_head, seed=seed, device=resolve_device(device), dtype=resolve_dtype(dtype))


class ToyModel:
    """The toy model as an ``AttentionModel``: one seeded, *untrained* attention block (layer 0) over toy embeddings.

    Its tokens are the text's words and punctuation marks (``embeddings.tokenize``), each a vector that depends
    only on its text and the seed; ``causal`` adds the causal mask (``kind`` "causal", else "encoder").
    """

    name = "toy"
    trained = False
    n_layer = 1

    def __init__(self, d_model: int = 16, n_head: int = 4, seed: int = 0, causal: bool = False, *,
                 device="auto", dtype="float32"):
        self.mha = build_toy(d_model, n_head, seed, device=device, dtype=dtype)
        self.d_model, self.n_head, self.d_head = d_model, n_head, self.mha.d_head
        self.seed, self.causal = seed, causal
        self.kind = "causal" if causal else "encoder"
        self.display_name = f"toy model (untrained, seed {seed})"

    def __repr__(self) -> str:
        return f"ToyModel(d_model {self.d_model}, {self.n_head} heads, seed {self.seed}, {self.kind})"

    def tokenize(self, text: str) -> tuple[str, ...]:
        """The words and punctuation marks of ``text``: "The cat sat." -> ("The", "cat", "sat", ".")."""
        tokens = tuple(tokenize(text))
        if not tokens:
            raise ValueError("the sentence is empty; give at least one word.")
        return tokens

    @torch.no_grad()
    def trace(self, tokens_or_text, layer: int = 0, *, zero: Heads = ()) -> AttentionTrace:
        """The block's attention on a sentence (or its ``tokenize``), every stage kept; ``zero`` as in
        ``models.AttentionModel``."""
        self._check_layer(layer)
        tokens = self.tokenize(tokens_or_text) if isinstance(tokens_or_text, str) else tuple(tokens_or_text)
        mha = without_heads(self.mha, heads_by_layer(self, zero).get(0, ()))
        x = embed(tokens, self.d_model, self.seed, device=mha.W_Q.device, dtype=mha.W_Q.dtype)
        return mha.trace(x, "causal" if self.causal else None, tokens=tokens)

    def attention(self, tokens_or_text, *, zero: Heads = ()) -> torch.Tensor:
        """``[1, head, query_pos, key_pos]``: the one layer's attention weights, on the CPU."""
        return self.trace(tokens_or_text, 0, zero=zero).weights[None].cpu()

    def attention_module(self, layer: int = 0) -> MultiHeadAttention:
        """The block (a copy: yours to change)."""
        self._check_layer(layer)
        return copy.deepcopy(self.mha)

    def attention_norm(self, layer: int = 0) -> dict:
        """No learned Add & Norm: the lesson shows the plain normalisation (gain 1, bias 0)."""
        self._check_layer(layer)
        return {}

    def sentence_embedding(self, texts, *, zero: Heads = ()) -> torch.Tensor:
        raise NotImplementedError("the toy model has no sentence embedding: it is one untrained attention block.")

    def _check_layer(self, layer) -> None:
        if not (isinstance(layer, int) and not isinstance(layer, bool) and layer == 0):
            raise ValueError(f"layer {layer!r} is out of range; the toy model has one layer, 0.")


def toy_block(
    sentence: str,
    *,
    d_model: int = 16,
    n_head: int = 4,
    seed: int = 0,
    causal: bool = False,
    device="auto",
    dtype="float32",
) -> tuple[MultiHeadAttention, AttentionTrace]:
    """The toy model's block and its trace of a sentence; ``.tokens`` holds the words it was built from."""
    model = ToyModel(d_model, n_head, seed, causal, device=device, dtype=dtype)
    return model.mha, model.trace(sentence)


def trace_sentence(sentence: str, **kwargs) -> AttentionTrace:
    """Trace the toy model on a sentence (keywords as ``toy_block``)."""
    return toy_block(sentence, **kwargs)[1]
