"""Every registered model through the one interface (mha_core.models): sizes, tokens, traces, attention, zeroing."""

import pytest
import torch

from mha_core import MODEL_NAMES, AttentionModel, load_model
from mha_core.trace import AttentionTrace

# A text each model reads: words for the models of sentences, syllables and ids for the induction model.
TEXTS = {"minilm": "The cat sat on the mat.", "toy": "The cat sat on the mat.", "induction": "ba ko 3 ba ko"}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_keeps_the_interface(name):
    model = load_model(name, "cpu")
    text = TEXTS[name]
    assert isinstance(model, AttentionModel) and model.name == name and model.display_name
    assert model.kind in ("encoder", "causal") and isinstance(model.trained, bool)
    assert model.d_model == model.n_head * model.d_head

    # attention: every layer's weights [layer, head, query, key], rows summing to 1 over the keys
    a = model.attention(text)
    n = a.shape[-1]
    assert a.shape == (model.n_layer, model.n_head, n, n) and a.device.type == "cpu"
    torch.testing.assert_close(a.sum(-1), torch.ones(model.n_layer, model.n_head, n), atol=1e-5, rtol=0)
    if model.kind == "causal":
        assert torch.all(a.triu(diagonal=1) == 0), "a causal model attends to no later token"
    else:
        assert torch.all(a.triu(diagonal=1).sum(-1)[..., :-1] > 0), "an encoder's queries see later tokens"

    # trace: one layer, every stage, the same weights; the model's own tokens stand in for the text
    tokens = model.tokenize(text)
    for layer in (0, model.n_layer - 1):
        t = model.trace(tokens, layer)
        assert isinstance(t, AttentionTrace) and len(t.tokens) == n
        assert t.weights.shape == (model.n_head, n, n) and t.output.shape == (n, model.d_model)
        torch.testing.assert_close(t.weights.cpu(), a[layer], atol=1e-5, rtol=0)
        assert torch.equal(t.weights, model.trace(text, layer).weights)
    # round trip: the tokens' names, read as text again, are the same tokens
    words = " ".join(token for token in t.tokens if token not in ("[CLS]", "[SEP]"))
    assert model.trace(words, 0).tokens == t.tokens

    # zeroing a head: its layer's output moves; every weight of that layer (its own head's too) stays
    top = model.n_layer - 1
    intact, zeroed = model.trace(text, top), model.trace(text, top, zero={(top, 0)})
    assert torch.equal(zeroed.weights, intact.weights)
    assert (zeroed.output - intact.output).abs().max() > 1e-3
    below = model.attention(text, zero={(0, 0)})
    assert torch.equal(below[0], a[0])
    if model.n_layer > 1:
        assert (below[1:] - a[1:]).abs().max() > 1e-4, "the layers above read what the zeroed head no longer wrote"
    with pytest.raises(ValueError, match=f"layers 0-{top} and heads 0-{model.n_head - 1}"):
        model.attention(text, zero={(top, model.n_head)})

    # a copy of one layer's block; its Add & Norm: learned gain and bias of d_model (trained), or plain (none)
    assert model.attention_module(top).n_head == model.n_head
    norm = model.attention_norm(top)
    if norm:
        assert norm["gain"].shape == norm["bias"].shape == (model.d_model,) and norm["eps"] > 0
        assert not torch.equal(norm["gain"], torch.ones_like(norm["gain"])), "a learned gain, not the plain one"
    else:
        assert not model.trained or model.kind == "causal", "a trained encoder has its LayerNorm"
    with pytest.raises(ValueError, match="out of range"):
        model.attention_norm(model.n_layer)

    # the sentence embedding where the model has one
    try:
        e = model.sentence_embedding([text, text])
    except NotImplementedError as err:
        assert "no sentence embedding" in str(err)
    else:
        assert e.shape == (2, model.d_model)
        assert not torch.equal(model.sentence_embedding([text, text], zero={(0, 0)}), e)


def test_an_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="unknown model 'nope'; the models are minilm, toy, induction"):
        load_model("nope")
