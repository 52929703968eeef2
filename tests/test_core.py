"""The traced core agrees with PyTorch's own attention, exactly enough to teach from."""

import math

import pytest
import torch
import torch.nn.functional as F

import mha_core
from mha_core import MultiHeadAttention, attention_cost, embed, tokenize, trace_sentence

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
DTYPES = [torch.float64, torch.float32]


def _random_x(*shape, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _masks(n):
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    gen = torch.Generator().manual_seed(3)
    random = torch.rand(n, n, generator=gen) > 0.4
    random.fill_diagonal_(True)  # every query may attend somewhere (nn.MHA gives NaN otherwise)
    return {"none": None, "causal": "causal", "bool": random, "causal-tensor": causal}


def _as_tensor(mask, n):
    return mha_core.resolve_mask(mask, n, "cpu")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("mask_name", ["none", "causal", "bool", "causal-tensor"])
@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_trace_matches_torch_multihead_attention(dtype, mask_name, batched):
    d, h, n = 12, 3, 6
    mha = MultiHeadAttention(d, h, seed=7, dtype=dtype)
    ref = mha.to_torch(batch_first=True)
    x = _random_x(*((2,) if batched else ()), n, d, dtype=dtype)
    mask = _masks(n)[mask_name]
    allowed = _as_tensor(mask, n)

    trace = mha.trace(x, mask)
    # nn.MultiheadAttention's boolean attn_mask means the opposite: True = masked.
    attn_mask = None if allowed is None else ~allowed
    out, weights = ref(x, x, x, attn_mask=attn_mask, need_weights=True, average_attn_weights=False)

    tol = TOL[dtype]
    torch.testing.assert_close(trace.output, out, atol=tol, rtol=0)
    torch.testing.assert_close(trace.weights, weights, atol=tol, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("mask_name", ["none", "causal", "bool"])
def test_heads_match_scaled_dot_product_attention(dtype, mask_name):
    d, h, n = 16, 4, 7
    mha = MultiHeadAttention(d, h, seed=1, dtype=dtype)
    x = _random_x(2, n, d, dtype=dtype, seed=5)
    mask = _masks(n)[mask_name]
    trace = mha.trace(x, mask)
    # Our convention and SDPA's agree: True = may attend.
    expected = F.scaled_dot_product_attention(trace.q, trace.k, trace.v, attn_mask=_as_tensor(mask, n))
    torch.testing.assert_close(trace.heads, expected, atol=TOL[dtype], rtol=0)
    # Each stage is what its name says.
    torch.testing.assert_close(trace.scaled, trace.scores / math.sqrt(trace.d_head), atol=0, rtol=0)
    torch.testing.assert_close(trace.concat, trace.heads.transpose(-3, -2).flatten(-2), atol=0, rtol=0)


def test_stages_follow_the_paper_per_head():
    """head_i = softmax(Q_i K_iᵀ / √d_k) V_i with Q_i = X W_Q^(i): computed head by head from the views."""
    mha = MultiHeadAttention(8, 2, seed=3, bias=False, dtype=torch.float64)
    x = _random_x(5, 8, dtype=torch.float64)
    trace = mha.trace(x)
    for i in range(2):
        q_i = x @ mha.head_weights("Q")[i]
        k_i = x @ mha.head_weights("K")[i]
        v_i = x @ mha.head_weights("V")[i]
        head_i = torch.softmax(q_i @ k_i.T / math.sqrt(4), dim=-1) @ v_i
        torch.testing.assert_close(trace.q[i], q_i)
        torch.testing.assert_close(trace.heads[i], head_i)
    # Output projection: Concat(head_1, head_2) W_O = Σ_i head_i W_O^(i) (W_O's row blocks).
    blocks = sum(trace.heads[i] @ mha.head_weights("O")[i] for i in range(2))
    torch.testing.assert_close(trace.output, blocks)


def test_per_head_weights_are_views_of_the_full_matrices():
    mha = MultiHeadAttention(8, 4, seed=0)
    per_head = mha.head_weights("Q")
    assert per_head.shape == (4, 8, 2)
    assert per_head.untyped_storage().data_ptr() == mha.W_Q.untyped_storage().data_ptr()
    torch.testing.assert_close(per_head[2], mha.W_Q[:, 4:6], atol=0, rtol=0)
    with torch.no_grad():
        mha.W_Q[0, 4] = 123.0  # a change to the big matrix shows in the small view
    assert per_head[2, 0, 0].item() == 123.0
    assert mha.head_weights("O").shape == (4, 2, 8)


def test_forward_is_exactly_the_traced_output():
    mha = MultiHeadAttention(16, 4, seed=2)
    x = _random_x(3, 9, 16, dtype=torch.float32)
    for mask in (None, "causal"):
        assert torch.equal(mha(x, mask), mha.trace(x, mask).output)


def test_rows_of_weights_sum_to_one():
    trace = trace_sentence("The scientist who reviewed the paper said it was flawed.", d_model=16, n_head=4)
    torch.testing.assert_close(trace.weights.sum(-1), torch.ones(4, trace.n_pos))
    assert (trace.weights >= 0).all()


def test_fully_masked_query_gets_zero_weights_not_nan():
    n = 5
    mha = MultiHeadAttention(8, 2, seed=4, dtype=torch.float64)
    x = _random_x(n, 8, dtype=torch.float64)
    mask = torch.ones(n, n, dtype=torch.bool)
    mask[2] = False  # query 2 may attend to nothing
    trace = mha.trace(x, mask)
    assert not torch.isnan(trace.weights).any() and not torch.isnan(trace.output).any()
    assert torch.equal(trace.weights[:, 2], torch.zeros(2, n, dtype=torch.float64))
    torch.testing.assert_close(trace.heads[:, 2], torch.zeros(2, 4, dtype=torch.float64), atol=0, rtol=0)
    expected = F.scaled_dot_product_attention(trace.q, trace.k, trace.v, attn_mask=mask)
    torch.testing.assert_close(trace.heads, expected, atol=1e-10, rtol=0)
    # The other rows are untouched by the empty one.
    torch.testing.assert_close(trace.weights[:, 3].sum(-1), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
def test_from_torch_and_to_torch_round_trip(bias, batch_first):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(12, 3, bias=bias, batch_first=batch_first, dtype=torch.float64)
    mha = MultiHeadAttention.from_torch(ref)
    back = mha.to_torch(batch_first=batch_first)
    for name, tensor in ref.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name
    x = _random_x(4, 12, dtype=torch.float64)
    out, _ = ref(x, x, x)  # unbatched input is layout-independent
    torch.testing.assert_close(mha(x), out, atol=1e-12, rtol=0)


def test_from_torch_copies_weights_exactly():
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    mha = MultiHeadAttention.from_torch(ref)
    assert torch.equal(mha.W_K, ref.in_proj_weight[8:16].T)
    assert torch.equal(mha.b_V, ref.in_proj_bias[16:])
    assert torch.equal(mha.W_O, ref.out_proj.weight.T)


def test_same_seed_gives_bit_identical_tensors():
    a = trace_sentence("The cat sat.", d_model=8, n_head=2, seed=11)
    b = trace_sentence("The cat sat.", d_model=8, n_head=2, seed=11)
    c = trace_sentence("The cat sat.", d_model=8, n_head=2, seed=12)
    for name, tensor in a.tensors().items():
        assert torch.equal(tensor, b.tensors()[name]), name
    assert not torch.equal(a.x, c.x)


def test_token_vectors_depend_only_on_text_and_seed():
    tokens_a = tokenize("The cat sat down.")
    tokens_b = tokenize("A dog chased the cat!")
    assert tokens_a == ["The", "cat", "sat", "down", "."]
    pe = mha_core.positional_encoding(6, 8)
    xa = embed(tokens_a, 8, seed=1, dtype=torch.float64) - pe[:5]
    xb = embed(tokens_b, 8, seed=1, dtype=torch.float64) - pe
    torch.testing.assert_close(xa[1], xb[4], atol=1e-12, rtol=0)  # "cat" in either sentence
    torch.testing.assert_close(xa[0], xb[3], atol=1e-12, rtol=0)  # "The" and "the" are one word
    assert not torch.allclose(xa[1], xa[2])


def test_positional_encoding_is_the_sinusoid():
    pe = mha_core.positional_encoding(4, 6)
    assert pe[3, 0].item() == pytest.approx(math.sin(3))
    assert pe[3, 1].item() == pytest.approx(math.cos(3))
    assert pe[2, 4].item() == pytest.approx(math.sin(2 / 10000 ** (4 / 6)))


def test_tokenizer_keeps_words_and_punctuation():
    assert tokenize("It's 3 o'clock, isn't it?") == ["It's", "3", "o'clock", ",", "isn't", "it", "?"]
    assert tokenize("   ") == []
    with pytest.raises(ValueError, match="empty"):
        trace_sentence("  ")


@pytest.mark.parametrize("d_model, heads", [(8, 3), (0, 1), (8, 0), (-4, 2)])
def test_bad_shapes_are_clear_value_errors(d_model, heads):
    with pytest.raises(ValueError, match="d_model|n_head"):
        MultiHeadAttention(d_model, heads)


def test_divisibility_error_lists_the_choices():
    with pytest.raises(ValueError, match="pick 1, 2, 4 or 8"):
        MultiHeadAttention(8, 3)


def test_cost_totals_match_the_single_head_model():
    for d, h, n in [(16, 4, 9), (512, 8, 10), (384, 12, 12), (12288, 96, 4)]:
        cost = attention_cost(d, h, n)
        single = cost.single_head()
        assert cost.parameters == single.parameters == 4 * d * d + 4 * d
        assert cost.total_macs == single.total_macs == 4 * n * d * d + 2 * n * n * d
        assert cost.total_elementwise == h * single.total_elementwise  # only scale + softmax grow with h
        assert cost.d_head * h == d


def test_cost_counts_match_the_real_parameter_count():
    mha = MultiHeadAttention(16, 4)
    assert sum(p.numel() for p in mha.parameters()) == attention_cost(16, 4, 3).parameters
    no_bias = MultiHeadAttention(16, 4, bias=False)
    assert sum(p.numel() for p in no_bias.parameters()) == attention_cost(16, 4, 3, bias=False).parameters


def test_add_and_norm_rows_are_normalised():
    trace = trace_sentence("The cat sat down.", d_model=8, n_head=2, dtype="float64")
    residual, normed = mha_core.add_and_norm(trace.x, trace.output)
    torch.testing.assert_close(residual, trace.x + trace.output)
    torch.testing.assert_close(normed.mean(-1), torch.zeros(5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(normed.var(-1, unbiased=False), torch.ones(5, dtype=torch.float64), atol=1e-4, rtol=0)


def test_trace_saves_every_stage(tmp_path):
    from safetensors import safe_open

    trace = trace_sentence("The cat sat.", d_model=8, n_head=2, causal=True)
    path = tmp_path / "t.safetensors"
    trace.save(path)
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(mha_core.STAGES) | {"mask"}
        assert torch.equal(f.get_tensor("weights"), trace.weights)
        assert f.metadata()["tokens"].split("\x1f") == ["The", "cat", "sat", "."]


def test_device_and_dtype_choices():
    assert mha_core.resolve_device("cpu").type == "cpu"
    assert mha_core.resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="unknown device"):
        mha_core.resolve_device("tpu9")
    trace = trace_sentence("The cat.", d_model=8, n_head=2, dtype="float64", device="cpu")
    assert trace.weights.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_cuda_trace_matches_cpu(dtype):
    mha_cpu = MultiHeadAttention(32, 4, seed=9, dtype=dtype)
    mha_gpu = MultiHeadAttention(32, 4, seed=9, dtype=dtype, device="cuda")
    x = _random_x(2, 10, 32, dtype=dtype)
    cpu = mha_cpu.trace(x, "causal")
    gpu = mha_gpu.trace(x.cuda(), "causal")
    assert gpu.weights.device.type == "cuda"
    for name, tensor in cpu.tensors().items():
        torch.testing.assert_close(gpu.tensors()[name].cpu(), tensor, atol=TOL[dtype], rtol=1e-5)
    ref = mha_gpu.to_torch()
    out, _ = ref(x.cuda(), x.cuda(), x.cuda(), attn_mask=~gpu.mask)
    torch.testing.assert_close(gpu.output, out, atol=TOL[dtype], rtol=1e-5)


def test_a_key_mask_of_shape_n_broadcasts_over_queries():
    mha = MultiHeadAttention(8, 2, seed=1, dtype=torch.float64)
    x = _random_x(4, 8, dtype=torch.float64)
    keys = torch.tensor([True, True, False, True])  # key 2 may not be attended to by anyone
    trace = mha.trace(x, keys)
    assert torch.equal(trace.weights[..., 2], torch.zeros(2, 4, dtype=torch.float64))
    torch.testing.assert_close(trace.output, mha.trace(x, keys.expand(4, 4)).output, atol=0, rtol=0)


def test_trace_to_casts_tensors_and_keeps_the_mask_boolean():
    trace = trace_sentence("The cat sat.", d_model=8, n_head=2, causal=True)
    cast = trace.to("cpu", torch.float64)
    assert cast.weights.dtype == torch.float64 and cast.mask.dtype == torch.bool
    assert cast.tokens == trace.tokens
