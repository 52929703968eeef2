"""mha_core: real multi-head attention with every intermediate tensor kept.

    >>> from mha_core import trace_sentence
    >>> t = trace_sentence("The cat sat down.", d_model=8, n_head=2)
    >>> t.weights.shape   # [head, query_pos, key_pos]
    torch.Size([2, 5, 5])
"""

import importlib

__version__ = "0.1.0"

# Public name -> the submodule that defines it. Loaded on first use (PEP 562), so that
# `import mha_core` and the torch-free parts (sizes, the version) do not pay torch's
# ~2 s import: the CLI's --version, config checks and an unchanged render stay fast.
_EXPORTS = {
    "analysis": ("HeadProfile", "HeadSignature", "copies_of_one_head", "corpus_profiles_of",
                 "corpus_sentences", "flat_view", "head_ablation", "head_distances", "head_signatures", "KeyPlane", "key_plane",
                 "profile_heads", "without_heads"),
    "ablation": ("CopiesEffect", "Redundancy", "copies_effect_of", "embedding_shift", "head_redundancy_of"),
    "attention": ("MultiHeadAttention", "resolve_mask"),
    "block": ("add_and_norm",),
    "cost": ("AttentionCost", "StageCost", "attention_cost"),
    "device": ("resolve_device", "resolve_dtype"),
    "embeddings": ("embed", "positional_encoding", "token_vector", "tokenize"),
    "induction": ("InductionModel", "load_induction_model"),
    "models": ("AttentionModel", "MODEL_NAMES", "load_model"),
    "pretrained": ("ChecksumError", "MiniLM", "load_minilm", "trace_pretrained", "verify_model_files"),
    "sizes": ("divisors",),
    "toy": ("ToyModel", "build_toy", "toy_block", "trace_sentence"),
    "trace": ("STAGES", "AttentionTrace"),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name not in _SOURCE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_SOURCE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_SOURCE])


__all__ = sorted(_SOURCE)
