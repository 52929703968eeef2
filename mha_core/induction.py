"""A small causal transformer trained by this project, to show induction heads as they really emerge.

Attention only, as in the setting where induction heads were first described (Elhage et al. 2021,
"A Mathematical Framework for Transformer Circuits"; Olsson et al. 2022, "In-context Learning and
Induction Heads"):

    resid_0     = W_E[tokens] + W_pos[:n]                                  [pos, d_model]
    resid_{l+1} = resid_l + MultiHead_l(resid_l, causal mask)              (no MLP, no LayerNorm)
    logits      = resid_L W_U                                              [pos, vocab]

Each ``MultiHead_l`` is ``mha_core.MultiHeadAttention`` with the causal mask: the same attention the
lesson teaches. The model is trained on next-token prediction over sequences of a random second-order
Markov language with one segment repeated at a random offset (``training_batch``). Nothing in the
objective names a head or a pattern; what each head does is measured afterwards (``measure``):

- previous-token score: mean attention from position i to i - 1 (two-back: to i - 2, which the
  language also depends on);
- induction score: on a random segment of length T followed by the same segment, mean attention
  from each token of the second copy to the token after its first occurrence (key i - T + 1),
  the definition TransformerLens uses;
- in-context learning: the loss on the second copy against the loss on the first;
- the circuit: the previous-token heads zeroed, the induction score and the second-copy loss again.

A head is labelled only when its score clears ``LABEL_SCORE`` and is at least ``LABEL_RATIO`` times
what attention spread evenly over the visible tokens would score (the baseline).

The trained weights ship in ``data/induction/`` (checked by SHA-256 on load); ``train`` reproduces them.

    >>> model = load_induction_model()
    >>> model.attention(torch.tensor([3, 9, 3])).shape      # [layer, head, query_pos, key_pos]
    torch.Size([2, 4, 3, 3])
    >>> model.attention("ba ko ba").shape                   # the same from syllables (``tokenize``)
    torch.Size([2, 4, 3, 3])
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .analysis import without_heads
from .attention import MultiHeadAttention
from .device import resolve_device
from .files import save_safetensors, sha256_file, write_file
from .models import Heads, heads_by_layer
from .trace import AttentionTrace

DATA = Path(__file__).parent / "data" / "induction"
WEIGHTS_FILE, CONFIG_FILE, SCORES_FILE = "model.safetensors", "config.json", "scores.json"
# The shipped weights' SHA-256: a damaged or swapped file is refused. `mha-explainer train induction`
# prints the hash of the weights it writes; shipping new weights means updating this line.
WEIGHTS_SHA256 = "977f1184defa0dd33b55d66b83b97568e65b88ff6fdf7f5a42aeeef7e2cf6abb"

MODEL_NAME = "induction model (trained by mha-explainer: attention only, causal)"

# The vocabulary: 64 pronounceable syllables (16 consonants x 4 vowels), so that a sequence can be read
# on screen and spoken by the narrator. They are names for token ids, nothing more.
VOCAB = tuple(c + v for c in "bdfghklmnprstvwz" for v in "aeio")

# The label rule: a score at least this high, and this many times the even-spread baseline.
LABEL_SCORE = 0.4
LABEL_RATIO = 4.0
# The held-out test: this many sequences of a random segment of SEGMENT tokens, then the same again,
# drawn from a generator seeded with TEST_SEED (not the training seed).
TEST_SEQUENCES = 256
SEGMENT = 16
TEST_SEED = 20_211_222


@dataclass(frozen=True)
class InductionConfig:
    """Everything that decides the trained weights (written next to them as config.json)."""

    vocab_size: int = len(VOCAB)
    d_model: int = 128
    n_head: int = 4
    n_layer: int = 2
    n_ctx: int = 64
    seed: int = 0
    steps: int = 3000
    batch: int = 64
    lr: float = 1e-2
    weight_decay: float = 0.01
    # The base language: P(next | two previous) drawn from Dirichlet(concentration) per pair of
    # tokens; small means peaked, so the previous token carries information.
    concentration: float = 0.1
    # The repeated segment's length, drawn uniformly from this range for each training sequence.
    repeat_min: int = 8
    repeat_max: int = 32
    init_scale: float = 1.0


class InductionModel(nn.Module):
    """Token and position embeddings, ``n_layer`` causal attention blocks with residual adds, an unembedding.

    An ``AttentionModel``: its tokens are token ids ``[pos]`` (``tokenize("ba ko 3")``, see ``encode``).
    """

    name = "induction"
    display_name = MODEL_NAME
    kind = "causal"

    def __init__(self, config: InductionConfig = InductionConfig()):
        super().__init__()
        self.config = config
        self.vocab_size, self.n_layer, self.n_head, self.n_ctx = (config.vocab_size, config.n_layer, config.n_head,
                                                                  config.n_ctx)
        self.d_model, self.d_head = config.d_model, config.d_model // config.n_head
        self.trained = False  # random initial weights, until `train` or `load_induction_model` fills them
        gen = torch.Generator().manual_seed(config.seed)
        # Unit-variance embeddings (nn.Embedding's default): with small ones every head starts uniform
        # and training sits on a plateau before any head learns where to look.
        self.W_E = nn.Parameter(torch.randn(config.vocab_size, config.d_model, generator=gen) * config.init_scale)
        self.W_pos = nn.Parameter(torch.randn(config.n_ctx, config.d_model, generator=gen) * config.init_scale)
        self.blocks = nn.ModuleList(
            MultiHeadAttention(config.d_model, config.n_head, seed=config.seed + 1 + layer)
            for layer in range(config.n_layer)
        )
        self.W_U = nn.Parameter(torch.randn(config.d_model, config.vocab_size, generator=gen) / config.d_model ** 0.5)
        # Filled by load_induction_model: the held-out measurement of these weights, and its labelled heads
        # as (layer, head), 0-based.
        self.scores: InductionScores | None = None
        self.previous_token_heads: list[tuple[int, int]] = []
        self.induction_heads: list[tuple[int, int]] = []

    @property
    def device(self) -> torch.device:
        return self.W_E.device

    def __repr__(self) -> str:
        c = self.config
        return (f"InductionModel({c.n_layer} layers x {c.n_head} heads, d_model {c.d_model}, "
                f"vocab {c.vocab_size}, {self.device})")

    # -- the computation ---------------------------------------------------------------------------------

    def run(self, tokens: torch.Tensor, zero: frozenset[tuple[int, int]] | set = frozenset()):
        """(logits [.., pos, vocab], attention [.., layer, head, query_pos, key_pos]) for token ids [.., pos].

        ``zero``: heads (layer, head) whose output is zeroed (ablation): the head still attends, but
        writes nothing into the residual stream.
        """
        tokens = self._check(tokens)
        n = tokens.shape[-1]
        resid = self.W_E[tokens] + self.W_pos[:n]  # [.., pos, d_model]
        patterns = []
        for layer, block in enumerate(self.blocks):
            trace = block.trace(resid, "causal")
            heads = trace.heads  # [.., head, pos, d_head]
            dropped = [h for (l, h) in zero if l == layer]
            if dropped:
                keep = torch.ones(self.n_head, 1, 1, device=heads.device, dtype=heads.dtype)
                keep[dropped] = 0.0
                heads = heads * keep
            concat = heads.transpose(-3, -2).flatten(-2)  # [.., pos, head*d_head]
            resid = resid + concat @ block.W_O + block.b_O  # Concat(head_1..head_h) W_O + b_O
            patterns.append(trace.weights)
        return resid @ self.W_U, torch.stack(patterns, dim=-4)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.run(tokens)[0]

    def tokenize(self, text: str) -> torch.Tensor:
        """Token ids ``[pos]`` of 'ba ko 3 ba': syllables of ``VOCAB`` or ids (``encode``)."""
        return encode(text)

    @torch.no_grad()
    def attention(self, tokens_or_text, *, zero: Heads = ()) -> torch.Tensor:
        """``[layer, head, query_pos, key_pos]``: the causal attention weights for a 1-D LongTensor of token ids
        (or a text for ``tokenize``), on the CPU; ``zero``: (layer, head) pairs whose output is zeroed."""
        tokens, zero = self._sequence(tokens_or_text), frozenset(zero)
        heads_by_layer(self, zero)  # checked here: run would index out of range
        return self.run(tokens, zero=zero)[1].cpu()

    @torch.no_grad()
    def trace(self, tokens_or_text, layer: int, *, zero: Heads = ()) -> AttentionTrace:
        """Every intermediate tensor of ``layer``'s attention (0-based) on a 1-D sequence (or a text for
        ``tokenize``); tokens named by ``VOCAB``. ``zero`` as in ``attention``."""
        tokens = self._check(self._sequence(tokens_or_text))
        self._check_layer(layer)
        zeroed = heads_by_layer(self, zero)
        n = tokens.shape[-1]
        resid = self.W_E[tokens] + self.W_pos[:n]
        for below, block in enumerate(self.blocks[:layer]):
            resid = resid + without_heads(block, zeroed.get(below, ()))(resid, "causal")
        names = [VOCAB[int(t)] if self.vocab_size == len(VOCAB) else str(int(t)) for t in tokens]
        return without_heads(self.blocks[layer], zeroed.get(layer, ())).trace(resid, "causal", tokens=names).to("cpu")

    def attention_module(self, layer: int) -> MultiHeadAttention:
        """Layer ``layer``'s attention block (a copy: yours to change)."""
        self._check_layer(layer)
        return copy.deepcopy(self.blocks[layer])

    def attention_norm(self, layer: int) -> dict:
        """No LayerNorm at all (attention-only, residual stream kept as it is): the plain normalisation."""
        self._check_layer(layer)
        return {}

    def sentence_embedding(self, texts, *, zero: Heads = ()) -> torch.Tensor:
        raise NotImplementedError("the induction model has no sentence embedding: it predicts the next token.")

    def _check_layer(self, layer) -> None:
        if not isinstance(layer, int) or not 0 <= layer < self.n_layer:
            raise ValueError(f"layer {layer!r} is out of range; this model has layers 0-{self.n_layer - 1}.")

    def _sequence(self, tokens_or_text) -> torch.Tensor:
        tokens = self.tokenize(tokens_or_text) if isinstance(tokens_or_text, str) else tokens_or_text
        if isinstance(tokens, torch.Tensor) and tokens.dim() != 1:
            raise ValueError(f"tokens must be a 1-D sequence of token ids, got shape {list(tokens.shape)}.")
        return tokens

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[pos, vocab]``: the probability of each next token after each position."""
        return torch.softmax(self.run(self._check(tokens))[0].double(), dim=-1).cpu()

    def _check(self, tokens) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError("tokens must be a LongTensor of token ids.")
        if tokens.dim() == 0 or tokens.shape[-1] == 0:
            raise ValueError("the sequence is empty; give at least one token.")
        if tokens.shape[-1] > self.n_ctx:
            raise ValueError(f"the sequence has {tokens.shape[-1]} tokens; this model reads at most {self.n_ctx}.")
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= self.vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"token id {bad} is out of range; ids run from 0 to {self.vocab_size - 1}.")
        return tokens.to(self.device, torch.long)


# -- data ------------------------------------------------------------------------------------------------


def markov_table(config: InductionConfig) -> torch.Tensor:
    """``[vocab, vocab, vocab]``: P(next | the two tokens before), one Dirichlet draw per pair, from the seed."""
    import numpy as np

    v = config.vocab_size
    table = np.random.default_rng(config.seed).dirichlet(np.full(v, config.concentration), size=(v, v))
    return torch.from_numpy(table)


def training_batch(config: InductionConfig, table: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``[batch, n_ctx]`` token ids: a Markov sequence in which one segment is written again later.

    The segment's length and both places are random, so no position or offset gives the repeat away.
    """
    b, n, v = config.batch, config.n_ctx, config.vocab_size
    seq = torch.empty(b, n, dtype=torch.long)
    seq[:, :2] = torch.randint(0, v, (b, 2), generator=gen)
    for i in range(2, n):
        seq[:, i] = torch.multinomial(table[seq[:, i - 2], seq[:, i - 1]], 1, generator=gen).squeeze(-1)
    for row in range(b):
        length = int(torch.randint(config.repeat_min, config.repeat_max + 1, (1,), generator=gen))
        start = int(torch.randint(0, n - 2 * length + 1, (1,), generator=gen))
        again = int(torch.randint(start + length, n - length + 1, (1,), generator=gen))
        seq[row, again:again + length] = seq[row, start:start + length]
    return seq


def repeated_sequences(count: int = TEST_SEQUENCES, segment: int = SEGMENT, vocab_size: int = len(VOCAB),
                       seed: int = TEST_SEED) -> torch.Tensor:
    """``[count, 2 * segment]``: uniformly random segments, each followed by itself (the held-out test)."""
    gen = torch.Generator().manual_seed(seed)
    first = torch.randint(0, vocab_size, (count, segment), generator=gen)
    return torch.cat([first, first], dim=-1)


# -- training ----------------------------------------------------------------------------------------------


def train(config: InductionConfig = InductionConfig(), *, progress=None) -> InductionModel:
    """Train from scratch on CPU, seeded; ``progress(step, loss)`` is called every 100 steps."""
    torch.manual_seed(config.seed)
    model = InductionModel(config)
    table = markov_table(config)
    gen = torch.Generator().manual_seed(config.seed + 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.steps,
                                                   pct_start=0.1)
    model.train()
    for step in range(1, config.steps + 1):
        batch = training_batch(config, table, gen)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, config.vocab_size), batch[:, 1:].reshape(-1))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress is not None and (step % 100 == 0 or step == config.steps):
            progress(step, loss.item())
    model.trained = True
    return model.eval()


# -- measuring ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InductionScores:
    """What ``measure`` found (heads 0-based; ``[layer][head]`` lists; serialised as scores.json)."""

    previous_token: list[list[float]]  # mean attention from i to i - 1
    two_back: list[list[float]]  # mean attention from i to i - 2 (the language depends on the two tokens before)
    induction: list[list[float]]  # mean attention from the second copy to key i - T + 1
    previous_baseline: float  # the previous-token score of attention spread evenly over the visible tokens
    two_back_baseline: float  # the same for the two-back score
    induction_baseline: float  # the same for the induction score
    previous_token_heads: list[tuple[int, int]]
    two_back_heads: list[tuple[int, int]]
    induction_heads: list[tuple[int, int]]
    loss_first: float  # mean next-token loss (nats) over the first copy
    loss_second: float  # ... and over the second copy
    # Per position of the second copy (after its 1st, 2nd, ... token): the mean probability of the right
    # next token, and how often it is the model's top guess.
    p_by_position: list[float]
    top_by_position: list[float]
    # Each head zeroed alone: the induction heads' mean induction score, and the second-copy loss.
    zeroed_induction: list[list[float | None]]
    zeroed_loss_second: list[list[float]]
    # The circuit: the previous-token heads below the induction heads zeroed together (None: no such heads).
    circuit: dict | None
    test: dict = field(default_factory=dict)

    @property
    def induction_mean(self) -> float | None:
        """The induction heads' mean induction score, nothing zeroed."""
        return _mean_of(self.induction, self.induction_heads)

    def label(self, layer: int, head: int) -> str | None:
        """The head's measured label: "previous-token", "two-back", "induction", or None."""
        for name, heads in (("previous-token", self.previous_token_heads), ("two-back", self.two_back_heads),
                            ("induction", self.induction_heads)):
            if (layer, head) in heads:
                return name
        return None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> InductionScores:
        data = dict(data)
        for key in ("previous_token_heads", "two_back_heads", "induction_heads"):
            data[key] = [tuple(pair) for pair in data[key]]
        return cls(**data)


def label_of(score: float, baseline: float) -> bool:
    """The label rule: a head earns its label when it scores LABEL_SCORE and LABEL_RATIO times the baseline."""
    return score >= LABEL_SCORE and score >= LABEL_RATIO * baseline


@torch.no_grad()
def measure(model: InductionModel, sequences: torch.Tensor | None = None) -> InductionScores:
    """Every head's scores on ``sequences`` (default: the held-out test), the copy losses and the ablations."""
    sequences = repeated_sequences(vocab_size=model.vocab_size) if sequences is None else sequences
    segment = sequences.shape[-1] // 2
    if sequences.dim() != 2 or not torch.equal(sequences[:, :segment], sequences[:, segment:2 * segment]):
        raise ValueError("the test sequences must be [count, 2 * T]: a segment followed by the same segment.")
    sequences = sequences.to(model.device)
    found = _scores(model, sequences, segment, frozenset())
    pos = torch.arange(sequences.shape[-1], dtype=torch.float64)
    # Attention spread evenly over the i + 1 visible tokens gives each key 1 / (i + 1).
    baselines = {"previous": float((1.0 / (pos[1:] + 1)).mean()), "two_back": float((1.0 / (pos[2:] + 1)).mean()),
                 "induction": float((1.0 / (pos[segment:] + 1)).mean())}
    heads = [(l, h) for l in range(model.n_layer) for h in range(model.n_head)]
    earned = {name: [(l, h) for l, h in heads if label_of(found[name][l][h], baselines[name])] for name in baselines}
    # A head that looks one token back also scores on the stripe (key i - T + 1 is i - 1 when T = 2): the
    # positional labels come first.
    positional = set(earned["previous"]) | set(earned["two_back"])
    ind_heads = [key for key in earned["induction"] if key not in positional]
    zeroed_induction = [[None] * model.n_head for _ in range(model.n_layer)]
    zeroed_loss = [[0.0] * model.n_head for _ in range(model.n_layer)]
    for l, h in heads:
        after = _scores(model, sequences, segment, frozenset({(l, h)}))
        zeroed_induction[l][h], zeroed_loss[l][h] = _mean_of(after["induction"], ind_heads), after["losses"][1]
    # The circuit: an induction head reads what a previous-token head in an earlier layer wrote.
    feeding = [(l, h) for l, h in earned["previous"] if ind_heads and l < min(layer for layer, _ in ind_heads)]
    circuit = None
    if feeding:
        after = _scores(model, sequences, segment, frozenset(feeding))
        circuit = {"zeroed": [list(pair) for pair in feeding], "induction": _mean_of(after["induction"], ind_heads),
                   "loss_second": after["losses"][1]}
    return InductionScores(
        previous_token=found["previous"], two_back=found["two_back"], induction=found["induction"],
        previous_baseline=round(baselines["previous"], 6), two_back_baseline=round(baselines["two_back"], 6),
        induction_baseline=round(baselines["induction"], 6),
        previous_token_heads=earned["previous"], two_back_heads=[k for k in earned["two_back"]
                                                                  if k not in earned["previous"]],
        induction_heads=ind_heads,
        loss_first=found["losses"][0], loss_second=found["losses"][1],
        p_by_position=found["p_by_position"], top_by_position=found["top_by_position"],
        zeroed_induction=zeroed_induction, zeroed_loss_second=zeroed_loss, circuit=circuit,
        test={"sequences": int(sequences.shape[0]), "segment": segment},
    )


def _scores(model, sequences, segment, zero) -> dict:
    logits, attn = model.run(sequences, zero=zero)  # attn [batch, layer, head, q, k]
    n = sequences.shape[-1]

    def at_offset(queries, offset):  # [layer, head]: mean attention from each query to key query - offset
        return attn[..., queries, queries - offset].mean(dim=(0, -1))

    ar = functools.partial(torch.arange, device=sequences.device)
    found = {"previous": at_offset(ar(1, n), 1), "two_back": at_offset(ar(2, n), 2),
             "induction": at_offset(ar(segment, n), segment - 1)}
    found = {name: [[round(float(v), 6) for v in row] for row in t.cpu()] for name, t in found.items()}
    # The loss of predicting token i + 1 from the tokens up to i. First copy: predictions from positions
    # 0 .. T-2 (the next token is still in the first copy); second copy: from T .. 2T-2.
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2).double(), sequences[:, 1:], reduction="none")  # [batch, pos]
    found["losses"] = (round(float(nll[:, :segment - 1].mean()), 6), round(float(nll[:, segment:].mean()), 6))
    second = slice(segment, 2 * segment - 1)
    right = sequences[:, segment + 1:2 * segment]  # the right next token after each second-copy position
    p = torch.softmax(logits[:, second].double(), dim=-1).gather(-1, right[..., None])[..., 0]  # [batch, T - 1]
    top = logits[:, second].argmax(dim=-1) == right
    found["p_by_position"] = [round(float(v), 6) for v in p.mean(dim=0).cpu()]
    found["top_by_position"] = [round(float(v), 6) for v in top.double().mean(dim=0).cpu()]
    return found


def _mean_of(scores: list[list[float]], heads) -> float | None:
    return round(sum(scores[l][h] for l, h in heads) / len(heads), 6) if heads else None


# -- files ------------------------------------------------------------------------------------------------------


def save(model: InductionModel, scores: InductionScores, folder: str | Path, *, seconds: float | None = None) -> Path:
    """Write model.safetensors, config.json and scores.json into ``folder``; returns the weights' path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_FILE
    save_safetensors({name: p for name, p in model.state_dict().items()}, weights,
                     {"format": "pt", "model": "mha-explainer induction model"})
    config = {**asdict(model.config), "torch": torch.__version__}
    if seconds is not None:
        config["training_seconds"] = round(seconds, 1)
    _write_json(folder / CONFIG_FILE, config)
    _write_json(folder / SCORES_FILE, scores.to_json())
    return weights


def _write_json(path: Path, data: dict) -> None:
    # Through a new temporary file, never over a device, FIFO or link (files.write_file).
    write_file(path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def load_induction_model(device="cpu", folder: str | Path | None = None) -> InductionModel:
    """The shipped (or ``folder``'s) trained model, its weights checked by SHA-256 for the shipped files.

    ``scores``, ``previous_token_heads`` and ``induction_heads`` are the held-out measurement of these
    weights: scores.json beside them (written by ``train``; the tests check that ``measure`` reproduces
    it from the shipped weights), or measured now when the folder has none."""
    from safetensors.torch import load_file

    from .pretrained import ChecksumError

    folder = DATA if folder is None else Path(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"no trained induction model in {folder}; run `mha-explainer train induction`.")
    if folder == DATA and (digest := sha256_file(weights)) != WEIGHTS_SHA256:
        raise ChecksumError(f"{weights} has SHA-256 {digest}, not the shipped {WEIGHTS_SHA256}; reinstall the package.")
    fields_ = InductionConfig.__dataclass_fields__
    stored = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    config = InductionConfig(**{k: v for k, v in stored.items() if k in fields_})
    model = InductionModel(config)
    model.load_state_dict(load_file(str(weights)))
    model.trained = True
    model = model.to(resolve_device(device)).eval()
    scores = shipped_scores(folder) if (folder / SCORES_FILE).is_file() else measure(model)
    model.scores = scores
    model.previous_token_heads = list(scores.previous_token_heads)
    model.induction_heads = list(scores.induction_heads)
    return model


def shipped_scores(folder: str | Path | None = None) -> InductionScores:
    """The scores measured when the weights were trained (scores.json beside them)."""
    folder = DATA if folder is None else Path(folder)
    return InductionScores.from_json(json.loads((folder / SCORES_FILE).read_text(encoding="utf-8")))


def train_and_measure(config: InductionConfig = InductionConfig(), *, progress=None):
    """(model, scores, seconds): ``train`` then ``measure``, timed."""
    start = time.perf_counter()
    model = train(config, progress=progress)
    seconds = time.perf_counter() - start
    return model, measure(model), seconds


def uniform_loss(vocab_size: int = len(VOCAB)) -> float:
    """ln(vocab): the loss of a guess spread evenly over the vocabulary (what a random segment costs)."""
    return math.log(vocab_size)


# -- reading sequences, reporting ----------------------------------------------------------------------


# The lesson's and `inspect`'s example: a random segment of EXAMPLE_SEGMENT distinct tokens, then the same again.
EXAMPLE_SEGMENT = 7
EXAMPLE_SEED = 7
# Retraining reproduces the shipped scores within these (float results differ across machines and
# thread counts, and training amplifies the differences): per head, and for the two copy losses.
SCORE_TOLERANCE = 0.08
LOSS_TOLERANCE = 0.2


def example_sequence(segment: int = EXAMPLE_SEGMENT, seed: int = EXAMPLE_SEED,
                     vocab_size: int = len(VOCAB)) -> torch.Tensor:
    """``[2 * segment]``: ``segment`` distinct random tokens, then the same again ([A][B] ... [A][B] ...)."""
    gen = torch.Generator().manual_seed(seed)
    first = torch.randperm(vocab_size, generator=gen)[:segment]
    return torch.cat([first, first])


def encode(text: str) -> torch.Tensor:
    """'ba ko 3 ba' -> token ids: each piece a syllable of ``VOCAB`` or an id; commas or spaces between them."""
    pieces = [p for p in text.replace(",", " ").split() if p]
    if not pieces:
        raise ValueError("the sequence is empty; give at least one token (a syllable such as ba, or an id 0-63).")
    ids = []
    for piece in pieces:
        if piece.lower() in VOCAB:
            ids.append(VOCAB.index(piece.lower()))
        elif piece.lstrip("-").isascii() and piece.lstrip("-").isdigit():
            # Checked here, as text: torch cannot hold 10**20, nor Python parse 5,000 digits.
            if piece.startswith("-") or len(piece) > 6 or int(piece) >= len(VOCAB):
                raise ValueError(f"token id {piece[:12] + '…' * (len(piece) > 12)} is out of range; ids run from 0 "
                                 f"to {len(VOCAB) - 1}.")
            ids.append(int(piece))
        else:
            raise ValueError(f"token {piece!r} is neither a syllable of the vocabulary ({VOCAB[0]}, {VOCAB[1]}, ..., "
                             f"{VOCAB[-1]}) nor a token id 0-{len(VOCAB) - 1}.")
    return torch.tensor(ids, dtype=torch.long)


def decode(tokens) -> list[str]:
    return [VOCAB[int(t)] for t in tokens]


def head_table(scores: InductionScores) -> dict:
    """Every head (layer, head 0-based) with its label and measures: the JSON of `mha-explainer heads`."""
    heads = []
    for layer, row in enumerate(scores.previous_token):
        for head in range(len(row)):
            key = (layer, head)
            heads.append({"layer": layer, "head": head, "label": scores.label(*key), "measures": {
                "previous_token": scores.previous_token[layer][head],
                "two_back": scores.two_back[layer][head],
                "induction": scores.induction[layer][head],
                "zeroed_induction": scores.zeroed_induction[layer][head],
                "zeroed_loss_second": scores.zeroed_loss_second[layer][head],
            }})
    return {"model": MODEL_NAME, "heads": heads}


def differences(found: InductionScores, expected: InductionScores) -> list[str]:
    """Where ``found`` differs from ``expected`` by more than the tolerances ([] when it reproduces them)."""
    out = []
    for name in ("previous_token", "two_back", "induction"):
        a, b = getattr(found, name), getattr(expected, name)
        for layer, (row_a, row_b) in enumerate(zip(a, b)):
            for head, (x, y) in enumerate(zip(row_a, row_b)):
                if abs(x - y) > SCORE_TOLERANCE:
                    out.append(f"{name} of layer {layer + 1}, head {head + 1}: {x:.3f}, expected {y:.3f}")
    for name in ("loss_first", "loss_second"):
        x, y = getattr(found, name), getattr(expected, name)
        if abs(x - y) > LOSS_TOLERANCE:
            out.append(f"{name}: {x:.3f}, expected {y:.3f}")
    for name in ("previous_token_heads", "two_back_heads", "induction_heads"):
        if list(getattr(found, name)) != list(getattr(expected, name)):
            out.append(f"{name}: {getattr(found, name)}, expected {getattr(expected, name)}")
    return out
