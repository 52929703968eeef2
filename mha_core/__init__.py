"""mha_core: real multi-head attention with every intermediate tensor kept.

    >>> from mha_core import trace_sentence
    >>> t = trace_sentence("The cat sat down.", d_model=8, n_head=2)
    >>> t.weights.shape   # [head, query_pos, key_pos]
    torch.Size([2, 5, 5])
"""

from .analysis import (
    HeadProfile,
    HeadSignature,
    copies_of_one_head,
    corpus_profiles,
    corpus_sentences,
    head_ablation,
    head_distances,
    head_signatures,
    profile_heads,
)
from .attention import MultiHeadAttention, divisors, resolve_mask
from .block import add_and_norm
from .cost import AttentionCost, StageCost, attention_cost
from .device import resolve_device, resolve_dtype
from .embeddings import embed, positional_encoding, token_vector, tokenize
from .pretrained import ChecksumError, MiniLM, load_minilm, trace_pretrained, verify_model_files
from .toy import build_toy, toy_block, trace_sentence
from .trace import STAGES, AttentionTrace

__version__ = "0.1.0"

__all__ = [
    "ChecksumError",
    "HeadProfile",
    "HeadSignature",
    "MiniLM",
    "copies_of_one_head",
    "corpus_profiles",
    "corpus_sentences",
    "head_ablation",
    "head_distances",
    "head_signatures",
    "load_minilm",
    "profile_heads",
    "trace_pretrained",
    "verify_model_files",
    "STAGES",
    "AttentionCost",
    "AttentionTrace",
    "MultiHeadAttention",
    "StageCost",
    "add_and_norm",
    "attention_cost",
    "build_toy",
    "divisors",
    "embed",
    "positional_encoding",
    "resolve_device",
    "resolve_dtype",
    "resolve_mask",
    "token_vector",
    "tokenize",
    "toy_block",
    "trace_sentence",
]
