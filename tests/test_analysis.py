"""Head signatures, head distances, ablation and the copies-of-one-head trap, against hand computation."""

import math

import pytest
import torch

from mha_core import (
    AttentionTrace,
    MultiHeadAttention,
    copies_of_one_head,
    corpus_profiles_of,
    corpus_sentences,
    head_ablation,
    head_distances,
    head_signatures,
    load_model,
    profile_heads,
    trace_sentence,
)
from mha_core.analysis import SHARE_THRESHOLD, flat_view, is_punctuation, key_plane


def pattern_trace(weights, tokens=None, mask=None) -> AttentionTrace:
    """A trace holding only a hand-written pattern [head, query, key] (the other stages are zeros)."""
    weights = torch.as_tensor(weights, dtype=torch.float64)
    h, n, _ = weights.shape
    per_head, per_pos = torch.zeros(h, n, 1, dtype=torch.float64), torch.zeros(n, h, dtype=torch.float64)
    return AttentionTrace(
        x=per_pos, q=per_head, k=per_head, v=per_head, scores=weights, scaled=weights, masked=weights,
        weights=weights, heads=per_head, concat=per_pos, output=per_pos, mask=mask, tokens=tokens,
    )


TOKENS = ("[CLS]", "hi", "there", "!", "[SEP]")
PREV = [[1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]]  # query 0 has no previous
HALF = [[0.5, 0, 0, 0, 0.5], [0.5, 0, 0, 0, 0.5], [0.5, 0, 0, 0, 0.5], [0, 0, 0.5, 0.5, 0], [0, 0, 0, 0.5, 0.5]]


# -- signatures ------------------------------------------------------------------------


def test_signatures_by_hand():
    prev, half = head_signatures(pattern_trace([PREV, HALF], TOKENS))
    # previous-token head: A[i, i-1] = 1 for every query i = 1..4
    assert prev.previous == 1.0 and prev.next == 0.0
    assert prev.current == pytest.approx(1 / 5)  # only query 0 (on [CLS]) attends to itself
    assert prev.cls == pytest.approx(2 / 5) and prev.sep == 0.0 and prev.punctuation == pytest.approx(1 / 5)
    assert prev.entropy == 0.0  # one-hot rows
    assert prev.top_key == (0, 0, 1, 2, 3) and prev.top_token == ("[CLS]", "[CLS]", "hi", "there", "!")
    # second head, hand-computed over its 5 rows
    assert half.previous == pytest.approx((0.5 + 0 + 0.5 + 0.5) / 4)  # A[1,0], A[2,1], A[3,2], A[4,3]
    assert half.next == 0.0  # A[0,1], A[1,2], A[2,3], A[3,4] are all 0
    assert half.current == pytest.approx((0.5 + 0 + 0 + 0.5 + 0.5) / 5)  # the diagonal
    assert half.top_key == (0, 0, 0, 2, 3)  # ties go to the first key
    assert half.cls == pytest.approx(1.5 / 5) and half.sep == pytest.approx(2.0 / 5)
    assert half.punctuation == pytest.approx(1.0 / 5)
    assert half.entropy == pytest.approx(math.log(2) / math.log(5))  # every row: two keys at 0.5


def test_uniform_attention_from_zero_query_weights():
    # W_Q = 0 makes every score 0: each row is uniform, 1/n on every key.
    mha = MultiHeadAttention(8, 2, bias=False, seed=1, dtype=torch.float64)
    with torch.no_grad():
        mha.W_Q.zero_()
    n = 6
    t = mha.trace(torch.randn(n, 8, dtype=torch.float64), tokens=["a", "b", ",", "c", "d", "."])
    for sig in head_signatures(t):
        assert sig.previous == pytest.approx(1 / n) and sig.next == pytest.approx(1 / n)
        assert sig.current == pytest.approx(1 / n) and sig.punctuation == pytest.approx(2 / n)
        assert sig.entropy == pytest.approx(1.0)
        assert sig.cls is None and sig.sep is None  # no such tokens: not measured, not zero


def test_toy_traces_work_and_are_nan_free():
    for causal in (False, True):
        t = trace_sentence("The cat sat on the mat.", d_model=16, n_head=4, causal=causal, device="cpu")
        sigs = head_signatures(t)
        assert len(sigs) == 4
        for s in sigs:
            assert s.cls is None and s.sep is None and s.punctuation is not None
            for name in ("previous", "next", "current", "punctuation", "entropy"):
                assert math.isfinite(s.get(name)) and 0.0 <= s.get(name) <= 1.0 + 1e-12
            if causal:
                assert s.next == 0.0  # a causal head cannot see the next token
    t = trace_sentence("cat", d_model=8, n_head=2, device="cpu")  # one token: nothing before or after
    assert all(s.previous == 0.0 and s.entropy == 0.0 and s.current == 1.0 for s in head_signatures(t))


def test_batched_trace_is_refused_clearly():
    t = pattern_trace([PREV])
    batched = AttentionTrace(**{**t.__dict__, "weights": t.weights[None]})
    with pytest.raises(ValueError, match="index the batch first"):
        head_signatures(batched)


def test_punctuation():
    assert is_punctuation(".") and is_punctuation("!?") and is_punctuation("'") and is_punctuation("##,")
    assert not is_punctuation("[CLS]") and not is_punctuation("cat") and not is_punctuation("##s")


# -- labels ------------------------------------------------------------------------------


def test_label_only_above_threshold_with_numbers_in_words():
    traces = [pattern_trace([PREV, HALF], TOKENS) for _ in range(3)]
    prev, half = profile_heads(traces)
    assert prev.label == "previous-token" and prev.threshold == SHARE_THRESHOLD and prev.n_sentences == 3
    assert prev.label_text == (
        "previous-token head: 1.00 of attention on the previous token (key position i-1 for query i), "
        "mean over 3 sentences, threshold 0.5"
    )
    # the second head clears nothing: described by its numbers, no role
    assert half.label is None and half.threshold is None
    assert half.label_text.startswith("no signature above its threshold")
    assert "own token 0.30" in half.label_text and "[SEP] 0.40" in half.label_text
    assert "mean over 3 sentences" in half.label_text


def test_corpus_mean_skips_sentences_without_the_token():
    with_sep = pattern_trace([HALF], TOKENS)
    without = pattern_trace([HALF], ("[CLS]", "hi", "there", "you", "all"))
    (p,) = profile_heads([with_sep, without])
    assert p.sep == pytest.approx(0.4)  # from the one sentence that has a [SEP]
    assert p.previous == pytest.approx(0.375) and p.n_sentences == 2


# -- how different the heads are ---------------------------------------------------------


def test_js_distance_by_hand():
    one_hot = [[1.0, 0.0], [0.0, 1.0]]
    flipped = [[0.0, 1.0], [1.0, 0.0]]
    spread = [[0.5, 0.5], [0.5, 0.5]]
    D = head_distances(torch.tensor([one_hot, flipped, spread, one_hot]))
    assert D.shape == (4, 4)
    assert torch.equal(D, D.T)
    assert torch.all(D.diagonal() == 0) and D[0, 3] == 0  # identical heads: exactly zero
    assert D[0, 1] == pytest.approx(1.0)  # disjoint rows: JSD = 1 bit, the maximum
    # p = (1, 0), q = (0.5, 0.5): m = (0.75, 0.25)
    jsd = (math.log(1 / 0.75) + 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)) / 2 / math.log(2)
    assert D[0, 2] == pytest.approx(math.sqrt(jsd))


def test_key_plane_keeps_every_score_exactly():
    """Across is the query's direction: a key's first coordinate times ‖q‖ is its score q·k; up is a unit direction
    orthogonal to the query, along which the keys spread most (no other unit direction orthogonal to q beats it)."""
    gen = torch.Generator().manual_seed(3)
    q, k = torch.randn(8, generator=gen, dtype=torch.float64), torch.randn(6, 8, generator=gen, dtype=torch.float64)
    plane = key_plane(q, k)
    assert plane.keys.shape == (6, 2)
    assert plane.query_norm == pytest.approx(float(q.norm()))
    assert torch.allclose(plane.keys[:, 0] * plane.query_norm, k @ q, atol=1e-12)
    rest = k - (k @ q / q.norm())[:, None] * (q / q.norm())  # the keys with their part along q removed
    assert float(plane.keys[:, 1].square().sum()) <= float(rest.square().sum()) + 1e-12  # a projection: no growth
    spread = float(plane.keys[:, 1].var())
    for _ in range(200):  # any other direction orthogonal to q spreads the keys less
        u = torch.randn(8, generator=gen, dtype=torch.float64)
        u = u - (u @ q) / (q @ q) * q
        assert float((rest @ (u / u.norm())).var()) <= spread + 1e-9
    with pytest.raises(ValueError, match="zero query"):
        key_plane(torch.zeros(8), k)


def test_flat_view_keeps_sums_and_its_two_directions():
    gen = torch.Generator().manual_seed(5)
    parts_, x = torch.randn(12, 16, generator=gen, dtype=torch.float64), torch.randn(16, generator=gen, dtype=torch.float64)
    total = parts_.sum(0)
    flat = flat_view(torch.cat([parts_, total[None], x[None]]), total, x)
    assert torch.allclose(flat[:12].sum(0), flat[12], atol=1e-12)  # the chain ends where the sum's arrow ends
    assert flat[12, 1] == pytest.approx(0.0, abs=1e-12) and flat[12, 0] == pytest.approx(float(total.norm()))
    assert float(flat[13].norm()) == pytest.approx(float(x.norm()))  # x lies in the plane: drawn at full length
    assert torch.allclose(flat_view(x[None], x, x), torch.tensor([[float(x.norm()), 0.0]], dtype=torch.float64))


def test_copies_of_one_head_give_identical_patterns():
    mha = MultiHeadAttention(16, 4, seed=3, dtype=torch.float64)
    x = torch.randn(7, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    original = mha.trace(x)
    twin = copies_of_one_head(mha, head=2)
    copied = twin.trace(x)
    for h in range(4):
        torch.testing.assert_close(copied.weights[h], original.weights[2])
        torch.testing.assert_close(twin.head_weights("K")[h], mha.head_weights("K")[2], atol=0, rtol=0)
    assert torch.equal(twin.W_O, mha.W_O) and torch.equal(twin.b_O, mha.b_O)
    assert head_distances(copied).max() < 1e-6  # h heads, one view
    off = ~torch.eye(4, dtype=torch.bool)
    assert head_distances(original)[off].min() > 0.01  # separate projections: different views
    assert not torch.equal(mha.W_Q, twin.W_Q)  # the original is untouched
    with pytest.raises(ValueError, match="head 4 is out of range; this module has heads 0-3"):
        copies_of_one_head(mha, head=4)


# -- ablation ----------------------------------------------------------------------------


def test_ablation_of_a_head_with_zero_output_rows_is_zero():
    mha = MultiHeadAttention(12, 3, seed=5, dtype=torch.float64)
    with torch.no_grad():
        mha.head_weights("O")[1].zero_()  # head 1's rows of W_O: it writes nothing
    t = mha.trace(torch.randn(5, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
    change = head_ablation(mha, t)
    assert change.shape == (3,) and change[1] == 0.0 and (change[[0, 2]] > 0).all()


def test_ablation_equals_rerunning_with_the_head_silenced():
    # Independent route: zero head h's value projection (W_V block and b_V block), so head_h = A_h V_h = 0,
    # run the plain forward pass, and measure the relative change of the output.
    mha = MultiHeadAttention(12, 3, seed=7, dtype=torch.float64)
    x = torch.randn(6, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    change = head_ablation(mha, mha.trace(x))
    out = mha(x)
    for h in range(3):
        silenced = MultiHeadAttention(12, 3, dtype=torch.float64)
        silenced.load_state_dict(mha.state_dict())
        with torch.no_grad():
            silenced.head_weights("V")[h].zero_()
            silenced.b_V[h * 4 : (h + 1) * 4] = 0
        expected = torch.linalg.vector_norm(silenced(x) - out) / torch.linalg.vector_norm(out)
        assert change[h].item() == pytest.approx(expected.item(), rel=1e-9)


# -- the real model, over the shipped corpus ------------------------------------------


def test_shipped_corpus():
    sentences = corpus_sentences()
    assert len(sentences) == 40 and len(set(sentences)) == 40


@pytest.fixture(scope="module")
def layer0():
    return corpus_profiles_of(load_model("minilm"), 0)


def test_minilm_layer0_profiles(layer0):
    assert [p.head for p in layer0] == list(range(12))
    assert all(p.n_sentences == 40 and p.layer == 0 for p in layer0)
    labelled = {p.head: p for p in layer0 if p.label is not None}
    # Measured fact about this checkpoint: layer 0 head 2 puts nearly all attention on the previous token.
    assert labelled[2].label == "previous-token" and labelled[2].previous > 0.9
    assert "mean over 40 sentences, threshold 0.5" in labelled[2].label_text
    for p in layer0:
        assert (p.label is None) == (p.threshold is None)
        assert "induction" not in p.label_text
        assert p.ablation is not None and p.ablation > 0
    assert corpus_profiles_of(load_model("minilm"), 0) == layer0  # cached pass, same numbers


def test_minilm_heads_are_not_duplicates():
    from mha_core import load_minilm

    model = load_minilm("cpu")
    t = model.trace(corpus_sentences()[0], 1)
    D = head_distances(t)
    off = ~torch.eye(12, dtype=torch.bool)
    assert D[off].mean() > 0.1  # trained heads attend differently
    copies = copies_of_one_head(model.attention_module(1), head=0).trace(t.x)
    assert head_distances(copies).max() < 1e-6  # exactly 0 on the CPU
