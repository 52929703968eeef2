"""The sentence embedding of all-MiniLM-L6-v2 with heads zeroed or copied, checked by hand and against transformers."""

import copy

import pytest
import torch
import torch.nn.functional as F

from mha_core import (
    CopiesEffect,
    MultiHeadAttention,
    Redundancy,
    copies_effect_of,
    copies_of_one_head,
    embedding_shift,
    head_redundancy_of,
    load_minilm,
    load_model,
)
from mha_core.ablation import SHIFT_THRESHOLD, measure_copies, probe_texts
from mha_core.pretrained import model_dir

SENTENCES = [
    "The cat sat down because it was tired.",
    "Unbelievably, the tokenizer splits rare words into pieces!",
    "She gave him the book that he had wanted for weeks, and he smiled.",
]
PROBES = probe_texts()[:4]  # a handful of probe sentences keeps the 73-pass redundancy fast


@pytest.fixture(scope="module")
def model():
    return load_minilm("cpu")


def mask_with(zeros, n_layer=6, n_head=12):
    keep = torch.ones(n_layer, n_head)
    for layer, head in zeros:
        keep[layer, head] = 0
    return keep


def layer_by_hand(model, x, layer, attention_output):
    """BERT's layer after its attention block, written out from the checkpoint's tensors."""
    p, pre = model.params, f"encoder.layer.{layer}."

    def norm(v, name):
        return F.layer_norm(v, (384,), p[name + ".weight"], p[name + ".bias"], model.eps)

    h = norm(x + attention_output, pre + "attention.output.LayerNorm")
    ff = F.gelu(h @ p[pre + "intermediate.dense.weight"].T + p[pre + "intermediate.dense.bias"])
    return norm(h + ff @ p[pre + "output.dense.weight"].T + p[pre + "output.dense.bias"], pre + "output.LayerNorm")


# -- the embedding -------------------------------------------------------------


def test_embedding_is_the_normalised_mean_of_the_last_layer(model):
    e = model.sentence_embedding(SENTENCES)  # [batch, d_model]
    assert e.shape == (3, 384)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3), atol=1e-6, rtol=0)
    for b, traces in enumerate(zip(*model.trace_batch(SENTENCES))):  # traces of sentence b, one per layer
        last = model.block(traces[-1].x, 5)  # [pos, d_model], this sentence's real tokens only
        mean = last.mean(dim=0)  # [CLS] and [SEP] count like any other token
        torch.testing.assert_close(e[b], mean / mean.norm(), atol=1e-6, rtol=0)
    torch.testing.assert_close(model.sentence_embedding(SENTENCES[0]), e[0], atol=1e-6, rtol=0)


def test_embedding_matches_transformers_with_padding(model):
    transformers = pytest.importorskip("transformers")
    bert = transformers.BertModel.from_pretrained(str(model_dir()), local_files_only=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir()), local_files_only=True)
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        last = bert(**enc).last_hidden_state  # [batch, pos, d_model]
    w = enc["attention_mask"][..., None].float()
    reference = F.normalize((last * w).sum(1) / w.sum(1), dim=-1)  # sentence-transformers' mean pooling
    torch.testing.assert_close(model.sentence_embedding(SENTENCES), reference, atol=1e-5, rtol=0)


def test_hidden_states_are_the_layers_of_trace_batch(model):
    states, real = model.hidden_states(SENTENCES)  # [layer + 1, batch, pos, d_model]
    traces = model.trace_batch(SENTENCES)  # [layer][sentence]
    assert states.shape[:2] == (7, 3) and real.shape == states.shape[1:3]
    for b in range(3):
        n = len(traces[0][b].tokens)
        assert int(real[b].sum()) == n and bool(real[b, :n].all())
        for layer in range(6):  # the same padded pass: the same numbers, bit for bit
            assert torch.equal(states[layer, b, :n], traces[layer][b].x)
        torch.testing.assert_close(states[6, b, :n], model.block(traces[5][b].x, 5), atol=1e-5, rtol=0)


def test_padding_does_not_change_a_sentence(model):
    short, long = SENTENCES[0], SENTENCES[2]
    for keep in (None, mask_with([(1, 3), (4, 0)])):
        alone = model.sentence_embedding([short], head_mask=keep)[0]
        padded = model.sentence_embedding([short, long], head_mask=keep)[0]  # short is padded to long's length
        torch.testing.assert_close(padded, alone, atol=1e-6, rtol=0)


# -- interventions ---------------------------------------------------------------


def test_no_intervention_is_exactly_the_plain_pass(model):
    plain = model.sentence_embedding(SENTENCES)
    assert torch.equal(model.sentence_embedding(SENTENCES, head_mask=torch.ones(6, 12)), plain)
    assert torch.equal(model.sentence_embedding(SENTENCES, attention={2: model.attention_module(2)}), plain)
    assert embedding_shift(plain, plain).eq(0).all()


def test_zeroing_every_head_of_a_layer_leaves_only_b_O(model):
    states, real = model.hidden_states(SENTENCES)
    layer = 2
    after = model.run_layers(states[layer], real, first=layer, head_mask=mask_with((layer, h) for h in range(12)))
    b_O = model.attention_module(layer).b_O  # the attention output when no head writes anything
    torch.testing.assert_close(after[1], layer_by_hand(model, states[layer], layer, b_O), atol=1e-5, rtol=0)
    assert (after[1] - states[layer + 1]).abs().max() > 0.1  # and that is a real change


def test_zeroing_one_head_removes_its_columns_of_concat(model):
    states, real = model.hidden_states(SENTENCES)
    layer, head = 4, 7
    mha = model.attention_module(layer)
    t = mha.trace(states[layer], real[:, None, :])  # padded keys masked as in the model
    concat = t.concat.clone()  # [batch, pos, head·d_head]
    concat[..., head * 32 : (head + 1) * 32] = 0  # head 7's d_k columns
    by_hand = layer_by_hand(model, states[layer], layer, concat @ mha.W_O + mha.b_O)
    after = model.run_layers(states[layer], real, first=layer, head_mask=mask_with([(layer, head)]))
    torch.testing.assert_close(after[1], by_hand, atol=1e-5, rtol=0)
    # every later layer is the model's own, fed the changed states
    torch.testing.assert_close(after[2], model.block(after[1], layer + 1, real[:, None, :]), atol=1e-5, rtol=0)


def test_bad_interventions_are_clear_errors(model):
    with pytest.raises(ValueError, match=r"head_mask must be \[layer, head\] = \[6, 12\], got \[12\]"):
        model.sentence_embedding(SENTENCES[0], head_mask=torch.ones(12))
    with pytest.raises(ValueError, match="layer 1 has d_model 8 and 2 heads"):
        model.sentence_embedding(SENTENCES[0], attention={1: MultiHeadAttention(8, 2)})
    with pytest.raises(ValueError, match="layer 6 is out of range"):
        model.sentence_embedding(SENTENCES[0], attention={6: model.attention_module(0)})


# -- redundancy ------------------------------------------------------------------


def test_redundancy_on_a_few_sentences(model):
    r = head_redundancy_of(load_model("minilm"), PROBES)
    assert isinstance(r, Redundancy) and r.n_sentences == 4 and r.n_heads == 72
    assert r.shift.shape == (6, 12) and r.shift.dtype == torch.float64 and r.shift.device.type == "cpu"
    assert (r.shift >= 0).all() and (r.shift > 0).all()  # every head writes something the output feels
    assert head_redundancy_of(load_model("minilm"), list(PROBES)) is r  # cached by the sentence tuple
    # starting at the head's layer gives the numbers of a whole forward pass with the head zeroed
    intact = model.sentence_embedding(PROBES)
    for layer, head in ((0, 5), (5, 11)):
        full = model.sentence_embedding(PROBES, head_mask=mask_with([(layer, head)]))
        assert r.shift[layer, head].item() == pytest.approx(embedding_shift(intact, full).mean().item(), abs=1e-9)


def test_redundancy_summary_by_hand():
    shift = torch.zeros(6, 12, dtype=torch.float64)
    shift[3, 4], shift[1, 2], shift[0, 0] = 0.2, 0.05, 0.009
    r = Redundancy(shift=shift, n_sentences=7)
    assert r.count_below(0.01) == 70 and r.count_below(0.06) == 71
    assert r.largest() == (3, 4, 0.2)
    assert r.median() == 0.0


def test_embedding_shift_is_one_minus_cosine():
    gen = torch.Generator().manual_seed(0)
    a, b = F.normalize(torch.randn(2, 384, generator=gen, dtype=torch.float64), dim=-1)
    assert embedding_shift(a[None], b[None]).item() == pytest.approx(1 - torch.dot(a, b).item(), abs=1e-12)
    assert embedding_shift(a[None], -a[None]).item() == pytest.approx(2.0)


# -- copies of one head ------------------------------------------------------------


def test_copies_effect_on_the_trained_model(model):
    c = copies_effect_of(load_model("minilm"), SENTENCES[0], layer=1, head=3, sentences=PROBES)
    assert isinstance(c, CopiesEffect) and (c.layer, c.head, c.n_sentences) == (1, 3, 4)
    n = len(c.tokens)
    assert c.tokens[0] == "[CLS]" and c.weights.shape == (12, n, n) and c.weights.device.type == "cpu"
    assert torch.equal(c.weights, c.weights[3].expand(12, n, n))  # every head draws head 3's pattern
    torch.testing.assert_close(c.weights[0], model.trace(SENTENCES[0], 1).weights[3], atol=1e-6, rtol=0)
    assert c.output_change > 0 and c.embedding_similarity < 1 and c.probe_shift > 0
    # the one-head numbers are head_redundancy's, to the last bit (same batch, same passes)
    assert c.one_head_shift == head_redundancy_of(load_model("minilm"), PROBES).shift[1, 3].item()
    assert 0 < c.one_head_output_change < c.output_change
    # what the copies are compared with: the same eleven heads zeroed, computed here on its own
    from mha_core.ablation import embedding_shift, probe_texts

    texts = probe_texts(PROBES)
    zeroed = model.sentence_embedding(texts, zero=[(1, h) for h in range(12) if h != 3])
    assert c.others_shift == pytest.approx(float(embedding_shift(model.sentence_embedding(texts), zeroed).mean()),
                                           rel=1e-5)
    assert c.others_shift > c.one_head_shift
    assert copies_effect_of(load_model("minilm"), SENTENCES[0], layer=1, head=3, sentences=PROBES) is c  # cached


def test_copies_change_nothing_where_the_heads_already_are_copies(model):
    # A model whose layer 1 is already twelve copies of head 3: copying head 3 again is no change.
    already = copy.copy(model)
    already._attn = {layer: model._attention(layer) for layer in range(6)}
    already._attn[1] = copies_of_one_head(model.attention_module(1), 3)
    c = measure_copies(already, SENTENCES[1], 1, 3, PROBES)
    assert c.output_change == 0 and c.embedding_similarity == 1 and c.probe_shift == 0
    # ...while the real model does change
    real = measure_copies(model, SENTENCES[1], 1, 3, PROBES)
    assert real.output_change > 0.1 and real.probe_shift > 0


def test_copies_effect_refuses_bad_heads_and_layers():
    with pytest.raises(ValueError, match="head 12 is out of range"):
        copies_effect_of(load_model("minilm"), SENTENCES[0], layer=0, head=12, sentences=PROBES)
    with pytest.raises(ValueError, match="layer 6 is out of range"):
        copies_effect_of(load_model("minilm"), SENTENCES[0], layer=6, head=0, sentences=PROBES)


# -- the whole probe set, once ----------------------------------------------------------


@pytest.mark.slow
def test_the_lessons_sentence_on_the_whole_probe_set():
    r = head_redundancy_of(load_model("minilm"))
    assert r.n_sentences == 128
    c = copies_effect_of(load_model("minilm"), SENTENCES[0], layer=1, head=3)
    assert c.n_sentences == 128 and c.one_head_shift == r.shift[1, 3].item()
    # What the lesson says, kept true by the test: most single heads are hardly missed, and twelve copies
    # of one head move the embedding more than losing that head, or any one head of its layer, does.
    assert r.count_below(SHIFT_THRESHOLD) > r.n_heads / 2
    assert c.probe_shift > r.shift[1].max().item()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    gpu, cpu = (head_redundancy_of(load_model("minilm", d), PROBES) for d in ("cuda", "cpu"))
    assert gpu.shift.device.type == "cpu"
    torch.testing.assert_close(gpu.shift, cpu.shift, atol=1e-4, rtol=1e-2)
    c_gpu, c_cpu = (copies_effect_of(load_model("minilm", d), SENTENCES[0], 1, 3, PROBES) for d in ("cuda", "cpu"))
    assert c_gpu.output_change == pytest.approx(c_cpu.output_change, rel=1e-3)
    assert c_gpu.probe_shift == pytest.approx(c_cpu.probe_shift, rel=1e-2, abs=1e-4)
