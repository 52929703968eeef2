"""Deterministic toy embeddings: a vector per token text plus sinusoidal positions.

The built-in toy model has no vocabulary to learn from, so each token's vector is
drawn from a generator seeded by (seed, token text): "cat" gets the same vector in
every sentence, and the same seed gives bit-identical tensors on every machine.
"""

from __future__ import annotations

import hashlib
import re

import torch

# Words (with an inner apostrophe: "it's") and single punctuation marks.
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def tokenize(sentence: str) -> list[str]:
    """Split a sentence into words and punctuation: "The cat sat." -> ["The", "cat", "sat", "."]."""
    return _TOKEN.findall(sentence)


def token_vector(token: str, d_model: int, seed: int = 0) -> torch.Tensor:
    """A float64 vector in R^d_model that depends only on the token's text (case-folded) and the seed."""
    digest = hashlib.sha256(f"{seed}\x00{token.casefold()}".encode()).digest()
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))
    return torch.randn(d_model, generator=gen, dtype=torch.float64)


def positional_encoding(n_pos: int, d_model: int) -> torch.Tensor:
    """Sinusoidal positions (Vaswani et al. 2017): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / d_model)  # [pos, ceil(d/2)]
    pe = torch.zeros(n_pos, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)[:, : d_model // 2]
    return pe


def embed(tokens: list[str], d_model: int, seed: int = 0, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """X = token vectors + positional encoding, shape [pos, d_model]."""
    if not tokens:
        raise ValueError("the sentence has no tokens; give at least one word.")
    vectors = torch.stack([token_vector(t, d_model, seed) for t in tokens])
    x = vectors + positional_encoding(len(tokens), d_model)
    return x.to(device=device, dtype=dtype)

