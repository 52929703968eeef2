"""all-MiniLM-L6-v2 loader, checked against an independent implementation: transformers' BertModel."""


import pytest
import torch

from mha_core import AttentionTrace, ChecksumError, MiniLM, load_minilm, trace_pretrained, verify_model_files
from mha_core.pretrained import OFFICIAL_SHA256, model_dir, sha256_file

SENTENCES = [
    "The cat sat on the mat.",
    "Unbelievably, the tokenizer splits rare words into pieces!",
    "She gave him the book that he had wanted for weeks, and he smiled.",
]


@pytest.fixture(scope="module")
def model():
    return load_minilm("cpu")


@pytest.fixture(scope="module")
def reference():
    """For each sentence: HF's per-layer attention weights, attention-block outputs and hidden states."""
    transformers = pytest.importorskip("transformers")
    bert = transformers.BertModel.from_pretrained(
        str(model_dir()), local_files_only=True, attn_implementation="eager"
    ).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir()), local_files_only=True)
    out = {}
    for sentence in SENTENCES:
        dense, normed = {}, {}
        hooks = [
            layer.attention.output.dense.register_forward_hook(lambda m, i, o, L=L: dense.__setitem__(L, o[0]))
            for L, layer in enumerate(bert.encoder.layer)
        ] + [  # BertSelfOutput: LayerNorm(dense + input), the Add & Norm after attention
            layer.attention.output.register_forward_hook(lambda m, i, o, L=L: normed.__setitem__(L, o[0]))
            for L, layer in enumerate(bert.encoder.layer)
        ]
        enc = tokenizer(sentence, return_tensors="pt")
        with torch.no_grad():
            res = bert(**enc, output_attentions=True, output_hidden_states=True)
        for h in hooks:
            h.remove()
        out[sentence] = {
            "tokens": tokenizer.convert_ids_to_tokens(enc["input_ids"][0]),
            "attentions": [a[0] for a in res.attentions],  # [layer][head, query, key]
            "dense": dense,  # [layer] -> [pos, d_model], before the residual Add & Norm
            "normed": normed,  # [layer] -> [pos, d_model], after it
            "hidden": [h[0] for h in res.hidden_states],  # [layer] -> input of that layer
        }
    return out


@pytest.mark.parametrize("sentence", SENTENCES)
def test_every_layer_matches_transformers(model, reference, sentence):
    ref = reference[sentence]
    traces = model.trace_all(sentence)
    assert len(traces) == 6
    for L, t in enumerate(traces):
        assert list(t.tokens) == ref["tokens"]
        torch.testing.assert_close(t.x, ref["hidden"][L], atol=1e-5, rtol=0)
        torch.testing.assert_close(t.weights, ref["attentions"][L], atol=1e-5, rtol=0)
        torch.testing.assert_close(t.output, ref["dense"][L], atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", [0, 3, 5])
def test_trace_pretrained_is_the_layer_of_the_real_model(model, reference, layer):
    sentence = SENTENCES[1]
    t = trace_pretrained(sentence, layer=layer, device="cpu")
    ref = reference[sentence]
    n = len(ref["tokens"])
    assert isinstance(t, AttentionTrace)
    assert t.tokens[0] == "[CLS]" and t.tokens[-1] == "[SEP]" and "[PAD]" not in t.tokens
    assert t.weights.shape == (12, n, n) and t.d_head == 32 and t.d_model == 384
    assert t.meta["layer"] == layer and t.meta["model"] == "all-MiniLM-L6-v2"
    torch.testing.assert_close(t.weights, ref["attentions"][layer], atol=1e-5, rtol=0)
    # layer_input + attention_module(layer) is the same computation, for analysis that reuses one load
    tokens, x = model.layer_input(sentence, layer)
    assert tokens == t.tokens
    torch.testing.assert_close(model.attention_module(layer)(x), ref["dense"][layer], atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", [0, 4])
def test_add_and_norm_uses_the_models_own_layernorm(model, reference, layer):
    from mha_core.block import add_and_norm

    sentence = SENTENCES[0]
    t = trace_pretrained(sentence, layer=layer, device="cpu")
    _, normed = add_and_norm(t.x, t.output, **model.attention_norm(layer))
    torch.testing.assert_close(normed, reference[sentence]["normed"][layer], atol=1e-5, rtol=0)
    _, plain = add_and_norm(t.x, t.output)  # without the learned gain and bias: not what the model computes
    assert (plain - normed).abs().max() > 0.1


def test_attention_block_carries_the_checkpoint_weights(model):
    # nn.Linear stores Wᵀ: our row-vector W_Q must be its transpose, biases as they are.
    p = model.params
    mha = model.attention_module(4)
    torch.testing.assert_close(mha.W_Q, p["encoder.layer.4.attention.self.query.weight"].T, atol=0, rtol=0)
    torch.testing.assert_close(mha.W_O, p["encoder.layer.4.attention.output.dense.weight"].T, atol=0, rtol=0)
    torch.testing.assert_close(mha.b_V, p["encoder.layer.4.attention.self.value.bias"], atol=0, rtol=0)
    # the module is the caller's copy: changing it leaves the model's forward pass alone
    before = model.trace(SENTENCES[0], 4).weights
    with torch.no_grad():
        mha.W_Q.zero_()
    torch.testing.assert_close(model.trace(SENTENCES[0], 4).weights, before, atol=0, rtol=0)


def test_batched_pass_equals_one_sentence_at_a_time(model):
    batch = model.trace_batch(SENTENCES)  # [layer][sentence]
    for i, sentence in enumerate(SENTENCES):
        single = model.trace_all(sentence)
        for L in (0, 5):
            assert batch[L][i].tokens == single[L].tokens and batch[L][i].mask is None
            torch.testing.assert_close(batch[L][i].weights, single[L].weights, atol=1e-5, rtol=0)
            torch.testing.assert_close(batch[L][i].output, single[L].output, atol=1e-5, rtol=0)


def test_load_is_cached(model):
    assert load_minilm("cpu") is model
    assert "6 layers × 12 heads" in repr(model)


@pytest.mark.parametrize("layer, message", [(6, "layer 6 is out of range; MiniLM has layers 0-5."),
                                            (-1, "layer -1 is out of range; MiniLM has layers 0-5."),
                                            ("2", "layer must be an integer 0-5")])
def test_bad_layer_is_a_clear_error(model, layer, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        model.trace(SENTENCES[0], layer)


def test_empty_sentence_is_a_clear_error(model):
    with pytest.raises(ValueError, match="the sentence is empty"):
        model.trace("   ", 0)


def test_real_files_pass_the_hash_check():
    assert verify_model_files() == model_dir()
    for name, expected in OFFICIAL_SHA256.items():
        assert sha256_file(model_dir() / name) == expected


@pytest.mark.parametrize("tampered, intact", [("tokenizer.json", "model.safetensors"),
                                              ("model.safetensors", "tokenizer.json")])
def test_tampered_copy_is_refused_naming_the_file(tmp_path, tampered, intact):
    src = model_dir()
    for name in ("config.json", intact):
        (tmp_path / name).symlink_to(src / name)  # the intact big file: linked, not copied
    if tampered == "tokenizer.json":
        data = bytearray((src / tampered).read_bytes())
        data[100] ^= 1  # one flipped bit
        (tmp_path / tampered).write_bytes(bytes(data))
    else:
        (tmp_path / tampered).write_bytes(b"not the real weights")
    with pytest.raises(ChecksumError, match=tampered) as err:
        MiniLM(tmp_path)
    assert intact not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_missing_file_is_named(tmp_path):
    (tmp_path / "tokenizer.json").symlink_to(model_dir() / "tokenizer.json")
    with pytest.raises(ChecksumError, match="model.safetensors is missing"):
        verify_model_files(tmp_path)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(model):
    gpu = trace_pretrained(SENTENCES[2], layer=3, device="cuda")
    assert gpu.weights.device.type == "cuda"
    torch.testing.assert_close(gpu.weights.cpu(), model.trace(SENTENCES[2], 3).weights, atol=1e-5, rtol=0)
    torch.testing.assert_close(gpu.output.cpu(), model.trace(SENTENCES[2], 3).output, atol=1e-4, rtol=0)
