"""A small causal transformer trained by this project, to show induction heads as they really emerge.

Attention only, as in the setting where induction heads were first described (Elhage et al. 2021,
"A Mathematical Framework for Transformer Circuits"; Olsson et al. 2022, "In-context Learning and
Induction Heads"):

    resid_0     = W_E[tokens] + W_pos[:n]                                  [pos, d_model]
    resid_{l+1} = resid_l + MultiHead_l(resid_l, causal mask)              (no MLP, no LayerNorm)
    logits      = resid_L W_U                                              [pos, vocab]

Each ``MultiHead_l`` is ``mha_core.MultiHeadAttention`` with the causal mask: the same attention the
lesson teaches. The model is trained on next-token prediction over sequences of random tokens in which a
segment is written again, two to four times in a row, after a random prefix (``training_batch``). Nothing
in the objective names a head or a pattern; what each head does is measured afterwards (``measure``), on
held-out sequences of uniformly random tokens: a random prefix, a segment of T tokens (5 to 20), the same
segment again (``repeated_sequences``):

- previous-token score: mean attention from position i to i - 1 (two-back: to i - 2);
- induction score: mean attention from each token of the second copy to the token after its first
  occurrence (key i - T + 1), the definition TransformerLens uses;
- in-context learning: the loss on the second copy against the loss on the first, and the right next
  token's probability after the 1st, 2nd, ... token of the second copy: right after the first, only one
  token matches its earlier occurrence (``one_token_enough``);
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
WEIGHTS_SHA256 = "eb65f105bd3dc06e25d8b9a87b0f95638e1f9f264f171a0ee7ad5f8a654946e5"

MODEL_NAME = "induction model (trained by mha-explainer: attention only, causal)"

# The vocabulary: 64 pronounceable syllables (16 consonants x 4 vowels), so that a sequence can be read
# on screen and spoken by the narrator. They are names for token ids, nothing more.
VOCAB = tuple(c + v for c in "bdfghklmnprstvwz" for v in "aeio")

# The label rule: a score at least this high, and this many times the even-spread baseline.
LABEL_SCORE = 0.4
LABEL_RATIO = 4.0
# Matching one token is enough when the right next token's probability after the first repeated token is at
# least this share of its probability after the second.
ONE_TOKEN_SHARE = 0.5
# The held-out test: this many sequences of uniformly random tokens, a random prefix, then a segment of T tokens
# (T from SEGMENT_MIN to SEGMENT_MAX) and the same segment again, drawn from a generator seeded with TEST_SEED
# (not the training seed).
TEST_SEQUENCES = 256
SEGMENT_MIN, SEGMENT_MAX = 5, 20
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
    steps: int = 2500
    batch: int = 64
    lr: float = 1e-2
    weight_decay: float = 0.0
    # The repeated segment's length, drawn uniformly from this range for each training sequence (the tokens
    # themselves are uniformly random: only the repeat can be predicted).
    repeat_min: int = 4
    repeat_max: int = 20
    # Each training sequence holds 2 to copies_max copies of its segment, one after another.
    copies_max: int = 4
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


@dataclass(frozen=True)
class Repeats:
    """Sequences with one repeat: ``prefix`` random tokens, a random segment of ``segment`` tokens, the same
    segment again, then random tokens up to the row's end (which a causal model's earlier positions never see).

    ``tokens`` ``[count, n]``; ``prefix`` and ``segment`` ``[count]``, one per row."""

    tokens: torch.Tensor
    prefix: torch.Tensor
    segment: torch.Tensor

    def __post_init__(self):
        n, rows = self.tokens.shape[-1], (len(self.tokens),)
        if (self.tokens.dim() != 2 or self.prefix.shape != rows or self.segment.shape != rows
                or bool((self.segment < 2).any()) or bool((self.prefix < 0).any())
                or bool((self.prefix + 2 * self.segment > n).any())):
            raise ValueError("repeats need [count, n] tokens and, per row, a prefix >= 0 and a segment >= 2 that "
                             "fit twice after it.")
        for row, (p, t) in enumerate(zip(self.prefix.tolist(), self.segment.tolist())):
            if not torch.equal(self.tokens[row, p:p + t], self.tokens[row, p + t:p + 2 * t]):
                raise ValueError(f"row {row}: tokens {p + t}-{p + 2 * t - 1} do not repeat tokens {p}-{p + t - 1}.")

    @property
    def count(self) -> int:
        return int(self.tokens.shape[0])

    @classmethod
    def doubled(cls, tokens: torch.Tensor) -> Repeats:
        """``[count, 2 * T]``: a segment followed by itself, no prefix."""
        count, n = tokens.shape
        return cls(tokens, torch.zeros(count, dtype=torch.long), torch.full((count,), n // 2, dtype=torch.long))


def random_repeats(count: int, n_ctx: int, vocab_size: int, segment_min: int, segment_max: int,
                   gen: torch.Generator) -> Repeats:
    """``count`` rows of ``n_ctx`` uniformly random tokens in which a segment of T tokens (uniform in
    segment_min..segment_max) after a random prefix of 1 .. n_ctx - 2T tokens is written again right after itself."""
    if not 2 <= segment_min <= segment_max or 2 * segment_max + 1 > n_ctx:
        raise ValueError(f"segments of {segment_min}-{segment_max} tokens, twice after a prefix, do not fit in "
                         f"{n_ctx}.")
    segment = torch.randint(segment_min, segment_max + 1, (count,), generator=gen)
    room = n_ctx - 2 * segment  # the longest prefix: 1 .. room
    prefix = 1 + (torch.rand(count, generator=gen, dtype=torch.float64) * room).long()
    tokens = torch.randint(0, vocab_size, (count, n_ctx), generator=gen)
    pos = torch.arange(n_ctx)
    second = (pos >= (prefix + segment)[:, None]) & (pos < (prefix + 2 * segment)[:, None])
    source = torch.where(second, pos - segment[:, None], pos)  # the second copy reads the first
    return Repeats(tokens.gather(1, source), prefix, segment)


def training_batch(config: InductionConfig, gen: torch.Generator) -> torch.Tensor:
    """``[batch, n_ctx]`` token ids: uniformly random tokens in which a segment is written 2 to copies_max times
    in a row after a random prefix, then random tokens again. The prefix, the segment's length and the number of
    copies are random, so no position or offset gives the repeat away."""
    b, n, v = config.batch, config.n_ctx, config.vocab_size
    tokens = torch.randint(0, v, (b, n), generator=gen)
    segment = torch.randint(config.repeat_min, config.repeat_max + 1, (b,), generator=gen)
    fit = ((n - 1) // segment).clamp(max=config.copies_max)  # at least 2: 2 * repeat_max + 1 <= n_ctx
    copies = 2 + (torch.rand(b, generator=gen, dtype=torch.float64) * (fit - 1)).long()
    room = n - copies * segment
    prefix = 1 + (torch.rand(b, generator=gen, dtype=torch.float64) * room).long()
    pos = torch.arange(n)[None, :]
    inside = (pos >= prefix[:, None]) & (pos < (prefix + copies * segment)[:, None])
    source = prefix[:, None] + (pos - prefix[:, None]).remainder(segment[:, None])  # the first copy's position
    return tokens.gather(1, torch.where(inside, source, pos))


def repeated_sequences(count: int = TEST_SEQUENCES, n_ctx: int = 64, vocab_size: int = len(VOCAB),
                       seed: int = TEST_SEED, segment_min: int = SEGMENT_MIN,
                       segment_max: int = SEGMENT_MAX) -> Repeats:
    """The held-out test: ``count`` rows of uniformly random tokens, a random prefix, then a segment of T tokens
    (T uniform in segment_min..segment_max) and the same segment again, from a generator seeded with ``seed``."""
    return random_repeats(count, n_ctx, vocab_size, segment_min, segment_max, torch.Generator().manual_seed(seed))


# -- training ----------------------------------------------------------------------------------------------


def train(config: InductionConfig = InductionConfig(), *, progress=None) -> InductionModel:
    """Train from scratch on CPU, seeded; ``progress(step, loss)`` is called every 100 steps."""
    torch.manual_seed(config.seed)
    model = InductionModel(config)
    gen = torch.Generator().manual_seed(config.seed + 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.steps,
                                                   pct_start=0.1)
    model.train()
    for step in range(1, config.steps + 1):
        batch = training_batch(config, gen)
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
    def segment_range(self) -> tuple[int, int]:
        """(shortest, longest) repeated segment of the held-out test (one length: the same twice)."""
        if "segment" in self.test:  # scores measured on segments of one length, with no prefix
            return self.test["segment"], self.test["segment"]
        return self.test["segment_min"], self.test["segment_max"]

    @property
    def one_token_enough(self) -> bool:
        """Whether matching one token is enough: right after the first repeated token (whose earlier occurrence
        followed another token, so only that one token matches) the right next token already gets at least
        ONE_TOKEN_SHARE of the probability it gets after the second (two tokens matching)."""
        return self.p_by_position[0] >= ONE_TOKEN_SHARE * self.p_by_position[1]

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
def measure(model: InductionModel, sequences: Repeats | torch.Tensor | None = None) -> InductionScores:
    """Every head's scores on ``sequences`` (default: the held-out test, ``repeated_sequences``), the copy losses
    and the ablations. A plain tensor ``[count, 2 * T]`` is read as a segment followed by itself, no prefix."""
    if sequences is None:
        sequences = repeated_sequences(n_ctx=model.n_ctx, vocab_size=model.vocab_size)
    elif isinstance(sequences, torch.Tensor):
        if sequences.dim() != 2 or sequences.shape[-1] % 2:
            raise ValueError("the test sequences must be [count, 2 * T]: a segment followed by the same segment.")
        sequences = Repeats.doubled(sequences)
    found = _scores(model, sequences, frozenset())
    heads = [(l, h) for l in range(model.n_layer) for h in range(model.n_head)]
    baselines = found["baselines"]
    earned = {name: [(l, h) for l, h in heads if label_of(found[name][l][h], baselines[name])] for name in baselines}
    # A head that looks one token back also scores on the stripe (key i - T + 1 is i - 1 when T = 2): the
    # positional labels come first.
    positional = set(earned["previous"]) | set(earned["two_back"])
    ind_heads = [key for key in earned["induction"] if key not in positional]
    zeroed_induction = [[None] * model.n_head for _ in range(model.n_layer)]
    zeroed_loss = [[0.0] * model.n_head for _ in range(model.n_layer)]
    for l, h in heads:
        after = _scores(model, sequences, frozenset({(l, h)}))
        zeroed_induction[l][h], zeroed_loss[l][h] = _mean_of(after["induction"], ind_heads), after["losses"][1]
    # The circuit: an induction head reads what a previous-token head in an earlier layer wrote.
    feeding = [(l, h) for l, h in earned["previous"] if ind_heads and l < min(layer for layer, _ in ind_heads)]
    circuit = None
    if feeding:
        after = _scores(model, sequences, frozenset(feeding))
        circuit = {"zeroed": [list(pair) for pair in feeding], "induction": _mean_of(after["induction"], ind_heads),
                   "loss_second": after["losses"][1]}
    segment, prefix = sequences.segment, sequences.prefix
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
        test={"sequences": sequences.count, "segment_min": int(segment.min()), "segment_max": int(segment.max()),
              "prefix_min": int(prefix.min()), "prefix_max": int(prefix.max())},
    )


def _scores(model, sequences: Repeats, zero) -> dict:
    tokens = sequences.tokens.to(model.device)
    logits, attn = model.run(tokens, zero=zero)  # attn [batch, layer, head, q, k]
    logits, attn = logits.cpu().double(), attn.cpu().double()
    count, n = tokens.shape
    P, T = sequences.prefix[:, None], sequences.segment[:, None]  # [batch, 1]
    pos = torch.arange(n)[None, :].expand(count, n)  # [batch, pos]
    end = P + 2 * T  # the row's test ends here; what follows is filler
    second = (pos >= P + T) & (pos < end)  # the queries of the second copy

    def at(keys, queries):  # [layer, head]: mean attention from the queries to keys[b, q], over every query
        index = keys.clamp(min=0)[:, None, None, :, None].expand(-1, *attn.shape[1:3], -1, 1)
        weights = attn.gather(-1, index)[..., 0]  # [batch, layer, head, q]
        mask = queries[:, None, None, :].double()
        return (weights * mask).sum(dim=(0, -1)) / mask.sum(), queries

    found = {"previous": at(pos - 1, (pos >= 1) & (pos < end)), "two_back": at(pos - 2, (pos >= 2) & (pos < end)),
             "induction": at(pos - T + 1, second)}
    # Attention spread evenly over the i + 1 visible tokens gives each key 1 / (i + 1).
    found["baselines"] = {name: float((1.0 / (pos + 1))[queries].mean()) for name, (_, queries) in found.items()}
    for name in ("previous", "two_back", "induction"):
        found[name] = [[round(float(v), 6) for v in row] for row in found[name][0]]
    # The loss of predicting token i + 1 from the tokens up to i. First copy: predictions from positions
    # P .. P+T-2 (the next token is still in the first copy); second copy: from P+T .. P+2T-2.
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:].cpu(), reduction="none")  # [batch, pos]
    at_pos = pos[:, :-1]
    first = (at_pos >= P) & (at_pos < P + T - 1)
    repeat = (at_pos >= P + T) & (at_pos < end - 1)
    found["losses"] = (round(float(nll[first].mean()), 6), round(float(nll[repeat].mean()), 6))
    # Per position of the second copy (after its 1st, 2nd, ... token): the probability of the right next token,
    # and whether it is the top guess, averaged over the rows whose segment is that long.
    right = torch.softmax(logits[:, :-1], dim=-1).gather(-1, tokens[:, 1:].cpu()[..., None])[..., 0]  # [batch, pos]
    top = logits[:, :-1].argmax(dim=-1) == tokens[:, 1:].cpu()
    p_by, top_by = [], []
    for j in range(int(sequences.segment.max()) - 1):
        rows = torch.nonzero(sequences.segment - 1 > j)[:, 0]
        at_j = (sequences.prefix + sequences.segment + j)[rows]
        p_by.append(round(float(right[rows, at_j].mean()), 6))
        top_by.append(round(float(top[rows, at_j].double().mean()), 6))
    found["p_by_position"], found["top_by_position"] = p_by, top_by
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


# The lesson's and `inspect`'s example, shaped as the held-out test: EXAMPLE_PREFIX random tokens, a segment of
# EXAMPLE_SEGMENT more, then the same segment again; no token twice but for the repeat.
EXAMPLE_PREFIX = 2  # 2 + 6 + 6 = 14 tokens: the chapter draws them all (style.MAX_TOKENS)
EXAMPLE_SEGMENT = 6
EXAMPLE_SEED = 1
# Retraining reproduces the shipped scores within these (float results differ across machines and
# thread counts, and training amplifies the differences): per head, and for the two copy losses.
SCORE_TOLERANCE = 0.08
LOSS_TOLERANCE = 0.2


def example_sequence(segment: int = EXAMPLE_SEGMENT, seed: int = EXAMPLE_SEED, vocab_size: int = len(VOCAB),
                     prefix: int = EXAMPLE_PREFIX) -> torch.Tensor:
    """``[prefix + 2 * segment]``: ``prefix + segment`` distinct random tokens, then the last ``segment`` of them
    again (... [A][B] ... [A][B] ...)."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randperm(vocab_size, generator=gen)[:prefix + segment]
    return torch.cat([tokens, tokens[prefix:]])


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
