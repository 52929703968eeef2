"""The built-in toy model: a sentence -> tokens -> X -> one seeded attention block -> trace."""

from __future__ import annotations

import torch

from .attention import MultiHeadAttention
from .device import resolve_device, resolve_dtype
from .embeddings import embed, tokenize
from .trace import AttentionTrace


def build_toy(d_model: int, n_head: int, seed: int = 0, *, device="auto", dtype="float32") -> MultiHeadAttention:
    return MultiHeadAttention(d_model, n_head, seed=seed, device=resolve_device(device), dtype=resolve_dtype(dtype))


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
    """The toy model and its trace of a sentence; ``.tokens`` holds the words it was built from."""
    tokens = tokenize(sentence)
    if not tokens:
        raise ValueError("the sentence is empty; give at least one word.")
    mha = build_toy(d_model, n_head, seed, device=device, dtype=dtype)
    x = embed(tokens, d_model, seed, device=mha.W_Q.device, dtype=mha.W_Q.dtype)
    with torch.no_grad():
        return mha, mha.trace(x, "causal" if causal else None, tokens=tokens)


def trace_sentence(sentence: str, **kwargs) -> AttentionTrace:
    """Trace the toy model on a sentence (keywords as ``toy_block``)."""
    return toy_block(sentence, **kwargs)[1]
