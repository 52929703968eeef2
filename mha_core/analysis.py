"""What the heads do, measured from real attention weights.

Head signatures follow Clark et al. 2019, "What does BERT look at?": for an
attention pattern A ``[head, query_pos, key_pos]`` (rows sum to 1) and query i,

    previous     A[i, i-1]    key position i-1 for query i (the token just before)
    next         A[i, i+1]    key position i+1 for query i (the token just after)
    current      A[i, i]      the query's own position
    cls / sep    Σ A[i, j] over keys j that are [CLS] / [SEP]
    punctuation  Σ A[i, j] over keys j that are punctuation marks
    entropy      H(A[i]) / ln(number of keys query i may see): 0 = one key, 1 = even spread

each averaged over the queries where it is defined. A head gets a plain-words
label only when a signature, averaged over the shipped sentences
(``data/sentences.txt``), clears the threshold below; otherwise it is described
by its numbers. Labels say what a head attends to, never what it is "for".

MiniLM is a bidirectional encoder: it has no causal mask, so nothing here
looks for (or could claim) induction heads.
"""

from __future__ import annotations

import copy
import functools
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import torch

from .attention import MultiHeadAttention
from .trace import AttentionTrace

# Thresholds. A head is labelled by a signature only when its mean over the
# corpus is at least this. 0.5 for the position/token shares means "more than
# half of every query's attention goes to this one place": with ~15 keys an
# evenly spread head gives each key ~0.07, so 0.5 is far above chance, and two
# shares can rarely both clear it (the labels stay unambiguous). Clark et al.
# call such heads out at the same level ("over 50% of its attention").
SHARE_THRESHOLD = 0.5
# Broad heads: normalised entropy ≥ 0.9 means the pattern is close to an even
# spread over all keys (an even spread scores 1.0; one key gets 0.0).
BROAD_THRESHOLD = 0.9

#: signature name -> (threshold, label, words for "<value> of attention on ...").
LABELS = {
    "previous": (SHARE_THRESHOLD, "previous-token", "the previous token (key position i-1 for query i)"),
    "next": (SHARE_THRESHOLD, "next-token", "the next token (key position i+1 for query i)"),
    "current": (SHARE_THRESHOLD, "current-token", "the query's own token (key position i for query i)"),
    "cls": (SHARE_THRESHOLD, "[CLS]", "[CLS]"),
    "sep": (SHARE_THRESHOLD, "[SEP]", "[SEP]"),
    "punctuation": (SHARE_THRESHOLD, "punctuation", "punctuation marks"),
}

SHARES = tuple(LABELS)  # the share-of-attention signatures, in label priority order
SIGNATURES = SHARES + ("entropy",)
#: label -> the signature whose value earned it ("previous-token" -> "previous"; "broad" -> "entropy").
LABEL_SIGNATURES = {label: name for name, (_, label, _) in LABELS.items()} | {"broad": "entropy"}


# -- one sentence --------------------------------------------------------------


@dataclass(frozen=True)
class HeadSignature:
    """One head's signatures on one sentence (None: the sentence has no such token)."""

    head: int
    previous: float
    next: float
    current: float
    cls: float | None
    sep: float | None
    punctuation: float | None
    entropy: float
    top_key: tuple[int, ...]  # most-attended key position for each query
    top_token: tuple[str, ...] | None  # ... and its token text

    def get(self, name: str) -> float | None:
        return getattr(self, name)


def head_signatures(trace: AttentionTrace) -> list[HeadSignature]:
    """Signatures of every head of one (unbatched) trace, computed from ``trace.weights``."""
    A = _pattern(trace)  # [head, query_pos, key_pos], float64 on the CPU
    n_head, n, _ = A.shape
    allowed = _allowed(trace, n)  # [query_pos, key_pos]

    previous = _offset_share(A, -1)  # [head]
    next_ = _offset_share(A, +1)
    current = _offset_share(A, 0)

    tokens = trace.tokens
    if tokens is not None and len(tokens) != n:
        raise ValueError(f"the trace has {n} positions but {len(tokens)} tokens.")
    cls = _token_share(A, tokens, lambda t: t == "[CLS]")
    sep = _token_share(A, tokens, lambda t: t == "[SEP]")
    punct = _token_share(A, tokens, is_punctuation)

    entropy = _normalised_entropy(A, allowed)  # [head]
    top_key = A.argmax(dim=-1)  # [head, query_pos]

    out = []
    for h in range(n_head):
        keys = tuple(int(j) for j in top_key[h])
        out.append(
            HeadSignature(
                head=h,
                previous=float(previous[h]),
                next=float(next_[h]),
                current=float(current[h]),
                cls=None if cls is None else float(cls[h]),
                sep=None if sep is None else float(sep[h]),
                punctuation=None if punct is None else float(punct[h]),
                entropy=float(entropy[h]),
                top_key=keys,
                top_token=None if tokens is None else tuple(tokens[j] for j in keys),
            )
        )
    return out


def is_punctuation(token: str) -> bool:
    """A token made only of punctuation characters (Unicode category P*), word-piece '##' ignored."""
    text = token.removeprefix("##")  # "[CLS]" has letters, so it is not punctuation
    return bool(text) and all(unicodedata.category(c).startswith("P") for c in text)


def _pattern(trace: AttentionTrace) -> torch.Tensor:
    if trace.weights.dim() != 3:
        raise ValueError(
            f"expected one sentence's weights [head, query, key], got shape {list(trace.weights.shape)}; "
            "index the batch first (e.g. trace.weights[0])."
        )
    # Analysis is tiny: do it on the CPU in float64 (MPS has no float64; sums of shares stay exact).
    return trace.weights.detach().to("cpu", torch.float64)


def _allowed(trace: AttentionTrace, n: int) -> torch.Tensor:
    if trace.mask is None:
        return torch.ones(n, n, dtype=torch.bool)
    return trace.mask.detach().cpu().expand(n, n)


def _offset_share(A: torch.Tensor, offset: int) -> torch.Tensor:
    """Mean over queries i of A[i, i + offset] (offset -1 = previous token), over i where i + offset exists."""
    n = A.shape[-1]
    if n - abs(offset) <= 0:
        return torch.zeros(A.shape[0], dtype=A.dtype, device=A.device)
    # diagonal(offset=k) holds A[i, i+k]: k = -1 is the sub-diagonal, i.e. the previous key.
    return A.diagonal(offset=offset, dim1=-2, dim2=-1).mean(dim=-1)  # [head]


def _token_share(A: torch.Tensor, tokens, pick) -> torch.Tensor | None:
    """Mean over queries of the attention on keys whose token satisfies ``pick``; None when none does."""
    if tokens is None:
        return None
    keys = torch.tensor([bool(pick(t)) for t in tokens], device=A.device)
    if not keys.any():
        return None
    return A[..., keys].sum(dim=-1).mean(dim=-1)  # [head, query, key] -> [head]


def _normalised_entropy(A: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    # H(row) / ln(#keys the query may see); a query with one visible key is certain: 0.
    H = -torch.special.xlogy(A, A).sum(dim=-1)  # [head, query]
    n_keys = allowed.sum(dim=-1).to(A.dtype)  # [query]
    norm = torch.where(n_keys > 1, H / n_keys.clamp_min(2).log(), torch.zeros_like(H))
    rows = allowed.any(dim=-1)  # queries that see anything at all
    return norm[:, rows].mean(dim=-1) if rows.any() else torch.zeros(A.shape[0], dtype=A.dtype, device=A.device)


# -- a corpus of sentences -----------------------------------------------------


@dataclass(frozen=True)
class HeadProfile:
    """One head's signatures, each the mean over ``n_sentences`` sentences, and its label if one is earned."""

    head: int
    layer: int | None
    previous: float
    next: float
    current: float
    cls: float | None
    sep: float | None
    punctuation: float | None
    entropy: float
    ablation: float | None  # mean relative change of the block output when this head is zeroed
    label: str | None  # e.g. "previous-token"; None when no signature clears its threshold
    label_text: str
    n_sentences: int
    threshold: float | None  # the threshold the label cleared (None when unlabelled)

    def get(self, name: str) -> float | None:
        return getattr(self, name)


def profile_heads(
    traces: list[AttentionTrace], *, layer: int | None = None, ablations: list[torch.Tensor] | None = None
) -> list[HeadProfile]:
    """Average each head's signatures over traces of different sentences (each sentence counts once) and label."""
    if not traces:
        raise ValueError("profile_heads needs at least one trace.")
    per_sentence = [head_signatures(t) for t in traces]  # [sentence][head]
    n_head = len(per_sentence[0])
    profiles = []
    for h in range(n_head):
        means = {name: _mean([sig[h].get(name) for sig in per_sentence]) for name in SIGNATURES}
        ablation = None if ablations is None else float(torch.stack([a[h] for a in ablations]).mean())
        label, threshold, text = _label(means, len(traces))
        profiles.append(
            HeadProfile(
                head=h, layer=layer, **means, ablation=ablation,
                label=label, label_text=text, n_sentences=len(traces), threshold=threshold,
            )
        )
    return profiles


def _mean(values: list[float | None]) -> float | None:
    # Sentences without a [SEP] or punctuation say nothing about it: skip them, don't count 0.
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _label(means: dict, n: int) -> tuple[str | None, float | None, str]:
    over = f"mean over {n} sentence{'s' if n != 1 else ''}"
    cleared = [
        (means[name] / threshold, name) for name, (threshold, _, _) in LABELS.items()
        if means[name] is not None and means[name] >= threshold
    ]
    if cleared:
        _, name = max(cleared)  # the signature that clears its threshold by most
        threshold, label, words = LABELS[name]
        text = f"{label} head: {means[name]:.2f} of attention on {words}, {over}, threshold {threshold}"
        return label, threshold, text
    if means["entropy"] >= BROAD_THRESHOLD:
        return "broad", BROAD_THRESHOLD, (
            f"broad head: normalised entropy {means['entropy']:.2f} (1 = even spread over all keys), "
            f"{over}, threshold {BROAD_THRESHOLD}"
        )
    shown = ", ".join(f"{_NAMES[name]} {means[name]:.2f}" for name in SIGNATURES if means[name] is not None)
    return None, None, (
        f"no signature above its threshold (shares {SHARE_THRESHOLD}, entropy {BROAD_THRESHOLD}); {shown} ({over})"
    )


_NAMES = {
    "previous": "previous token", "next": "next token", "current": "own token", "cls": "[CLS]",
    "sep": "[SEP]", "punctuation": "punctuation", "entropy": "entropy",
}


def corpus_sentences() -> tuple[str, ...]:
    """The shipped sentences (``mha_core/data/sentences.txt``), one per line."""
    text = resources.files("mha_core").joinpath("data/sentences.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def corpus_profiles_of(model, layer: int, sentences: tuple[str, ...] | None = None) -> list[HeadProfile]:
    """MiniLM layer ``layer``'s 12 heads profiled over the shipped sentences (or ``sentences``).

    ``model``: all-MiniLM-L6-v2 (``load_model("minilm")``). Cached per model and sentences.
    """
    from .pretrained import as_minilm

    as_minilm(model, "a corpus profile")._check_layer(layer)
    traces, ablations = _corpus_layers(model, tuple(sentences or corpus_sentences()))
    return profile_heads(traces[layer], layer=layer, ablations=ablations[layer])


@functools.lru_cache(maxsize=2)
def _corpus_layers(model, sentences: tuple[str, ...]):
    # One padded forward pass serves every sentence and all six layers; cached so that
    # asking layer by layer costs one pass.
    traces = model.trace_batch(sentences)  # [layer][sentence]
    ablations = [[head_ablation(model._attention(layer), t) for t in ts] for layer, ts in enumerate(traces)]
    return traces, ablations


# -- how different are the heads ---------------------------------------------


def head_distances(trace_or_weights: AttentionTrace | torch.Tensor) -> torch.Tensor:
    """Pairwise Jensen–Shannon distance between heads' patterns -> ``[head, head]``.

    For heads a, b and each query row i, JSD(A_a[i] ‖ A_b[i]) with log base 2 (so it lies in
    [0, 1]); the distance is its square root (a metric), averaged over query rows. 0 means the
    two heads attend identically; identical heads are duplicated attention. Returned on the CPU.
    """
    if isinstance(trace_or_weights, AttentionTrace):
        A = _pattern(trace_or_weights)
    else:
        A = trace_or_weights.detach().to("cpu", torch.float64)
        if A.dim() != 3:
            raise ValueError(f"expected weights [head, query, key], got shape {list(A.shape)}.")
    # float64: the JSD of near-equal rows is a difference of near-equal terms; this keeps it ~0.
    P = A[:, None]  # [head, 1, query, key]
    Q = A[None, :]  # [1, head, query, key]
    M = (P + Q) / 2  # [head, head, query, key]
    kl_pm = (torch.special.xlogy(P, P) - torch.special.xlogy(P, M)).sum(-1)
    kl_qm = (torch.special.xlogy(Q, Q) - torch.special.xlogy(Q, M)).sum(-1)
    jsd = ((kl_pm + kl_qm) / (2 * math.log(2))).clamp_min(0)  # [head, head, query]
    dist = jsd.sqrt().mean(dim=-1)  # [head, head]
    return (dist + dist.T) / 2  # exact symmetry despite rounding


# -- one head's query/key space, drawn flat --------------------------------------


@dataclass(frozen=True)
class KeyPlane:
    """One query and the keys it is compared with, projected onto a plane of the head's d_k-dimensional space.

    ``across`` is the query's own direction, so a key's first coordinate times ``query_norm`` is exactly its
    score q·k (the projection keeps every score); ``up`` is the direction, orthogonal to the query, along which
    the keys differ most (their first principal direction there). The other d_k - 2 directions are not drawn.
    """

    keys: torch.Tensor  # [key, 2]: (along the query, along `up`)
    query_norm: float  # ‖q‖


def key_plane(q: torch.Tensor, k: torch.Tensor) -> KeyPlane:
    """``q`` [d_head] (one query), ``k`` [key, d_head] (the keys it may see) -> their ``KeyPlane``."""
    norm = float(q.detach().double().norm())
    if norm == 0:
        raise ValueError("a zero query has no direction to project on.")
    return KeyPlane(flat_view(k, q), norm)


def flat_view(vectors: torch.Tensor, across: torch.Tensor, up: torch.Tensor | None = None) -> torch.Tensor:
    """``vectors`` [n, d] projected onto a plane -> [n, 2] coordinates.

    The plane's first axis is ``across``'s direction; its second is the part of ``up`` orthogonal to it, or,
    without ``up``, the direction orthogonal to ``across`` along which the vectors differ most (their first
    principal direction there, oriented so that they lie mostly on its positive side). The projection is
    linear, so sums survive it: the flat view of a sum is the sum of the flat views (an arrow chain drawn tip
    to tail ends where the summed vector's arrow ends).
    """
    vectors, across = vectors.detach().to("cpu", torch.float64), across.detach().to("cpu", torch.float64)
    e1 = across / across.norm()
    rest = vectors - (vectors @ e1)[:, None] * e1  # [n, d]: each vector with its part along `across` removed
    if up is not None:
        up = up.detach().to("cpu", torch.float64)
        e2 = up - (up @ e1) * e1
    elif rest.shape[0] > 1:
        e2 = torch.linalg.svd(rest - rest.mean(0), full_matrices=False).Vh[0]
    else:
        e2 = rest[0]
    if e2.norm() < 1e-9:  # nothing but `across`: any direction orthogonal to it will do
        e2 = torch.zeros_like(e1)
        e2[int(e1.abs().argmin())] = 1.0
        e2 = e2 - (e2 @ e1) * e1
    e2 = e2 / e2.norm()
    if up is None and float((rest @ e2).sum()) < 0:
        e2 = -e2
    return vectors @ torch.stack([e1, e2], dim=-1)  # [n, 2]


# -- how useful is each head ---------------------------------------------------


@torch.no_grad()
def head_ablation(mha: MultiHeadAttention, trace: AttentionTrace) -> torch.Tensor:
    """Zero each head in turn: ‖output − output_without_head‖ / ‖output‖ -> ``[head]``.

    Zeroing head h's d_k columns of Concat(head_1..head_h) removes exactly head_h W_O^(h) from
    Concat(...) W_O + b_O (the projection is linear), so that product is the change.
    """
    heads = trace.heads.detach()  # [.., head, pos, d_head]
    output = trace.output.detach()
    if heads.shape[-3] != mha.n_head or heads.shape[-1] != mha.d_head:
        raise ValueError(
            f"the trace has {heads.shape[-3]} heads of size {heads.shape[-1]}; "
            f"the module has {mha.n_head} of size {mha.d_head}."
        )
    W_O = mha.head_weights("O").detach()  # [head, d_head, d_model]
    change = heads @ W_O  # [.., head, pos, d_model]: what head h writes into the output
    # Norm over everything but the head axis: the whole [pos, d_model] output (and batch).
    dims = [d for d in range(change.dim()) if d != change.dim() - 3]
    return torch.linalg.vector_norm(change, dim=dims) / torch.linalg.vector_norm(output)  # [head]


# -- interventions -------------------------------------------------------------


@torch.no_grad()
def without_heads(mha: MultiHeadAttention, heads: Iterable[int]) -> MultiHeadAttention:
    """A copy of ``mha`` in which ``heads`` write nothing: their rows of W_O are zero, b_O is kept.

    Concat(head_1..head_h) W_O then lacks exactly head_h W_O^(h) (the head mask of Michel et al. 2019); the
    zeroed heads still attend, so every head's weights stay as they are. ``mha`` itself when ``heads`` is empty.
    """
    heads = sorted(set(heads))
    if not heads:
        return mha
    out = copy.deepcopy(mha).requires_grad_(False)
    out.head_weights("O")[heads] = 0  # [head, d_head, d_model]: a view of W_O
    return out


# -- the failure trap ----------------------------------------------------------


@torch.no_grad()
def copies_of_one_head(mha: MultiHeadAttention, head: int = 0) -> MultiHeadAttention:
    """A new module whose every head's W_Q, W_K, W_V block (and bias block) is a copy of ``head``'s.

    W_O and b_O are kept. Tracing it gives the same pattern in every head: h heads, one view.
    """
    if not isinstance(head, int) or isinstance(head, bool) or not 0 <= head < mha.n_head:
        raise ValueError(f"head {head!r} is out of range; this module has heads 0-{mha.n_head - 1}.")
    w = mha.W_Q
    twin = MultiHeadAttention(mha.d_model, mha.n_head, bias=mha.bias, device=w.device, dtype=w.dtype)
    twin.load_state_dict(mha.state_dict())
    block = slice(head * mha.d_head, (head + 1) * mha.d_head)
    for name in ("Q", "K", "V"):
        W = getattr(twin, f"W_{name}")  # [d_model, head·d_head]
        W.copy_(W[:, block].repeat(1, mha.n_head))
        if mha.bias:
            b = getattr(twin, f"b_{name}")
            b.copy_(b[block].repeat(mha.n_head))
    return twin.requires_grad_(mha.W_Q.requires_grad)
