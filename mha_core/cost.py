"""Cost accounting from the real shapes: parameters and multiply-adds per stage.

For n tokens, width d, h heads of d_k = d / h:

    stage        multiply-adds            why
    Q, K, V      3 · n · d · d            h heads × n·d·d_k each, and h·d_k = d
    scores       h · n · n · d_k = n²·d   one n×n score matrix per head
    weighted V   h · n · n · d_k = n²·d
    W_O          n · d · d

so the totals do not depend on h: splitting into heads is (almost) free. Only
the element-wise scale and softmax (h·n² each) grow with h.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageCost:
    key: str  # a stable name for the stage ("qkv", "scores", ...): what a lesson's words look it up by
    name: str
    formula: str
    macs: int  # multiply-adds (matrix products)
    elementwise: int  # other per-element operations (scale, exp)


@dataclass(frozen=True)
class AttentionCost:
    d_model: int
    n_head: int
    n_pos: int
    bias: bool
    stages: tuple[StageCost, ...]

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    @property
    def parameters(self) -> int:
        """W_Q, W_K, W_V, W_O (4·d²) plus their biases (4·d): independent of h."""
        d = self.d_model
        return 4 * d * d + (4 * d if self.bias else 0)

    @property
    def weight_parameters(self) -> int:
        return 4 * self.d_model**2

    @property
    def total_macs(self) -> int:
        return sum(s.macs for s in self.stages)

    @property
    def total_elementwise(self) -> int:
        return sum(s.elementwise for s in self.stages)

    def single_head(self) -> "AttentionCost":
        """The same width as one full attention (h = 1), for comparison."""
        return attention_cost(self.d_model, 1, self.n_pos, bias=self.bias)


def attention_cost(d_model: int, n_head: int, n_pos: int, *, bias: bool = True) -> AttentionCost:
    if d_model % n_head:
        raise ValueError(f"n_head = {n_head} does not divide d_model = {d_model}.")
    n, d, h = n_pos, d_model, n_head
    d_k = d // h
    stages = (
        StageCost("qkv", "Q, K, V projections", "3·n·d·d", 3 * h * n * d * d_k, 0),
        StageCost("scores", "scores Q·Kᵀ", "h·n·n·d_k", h * n * n * d_k, 0),
        StageCost("softmax", "scale and softmax", "2·h·n·n", 0, 2 * h * n * n),
        StageCost("weights-v", "weights · V", "h·n·n·d_k", h * n * n * d_k, 0),
        StageCost("concat", "concatenate", "0", 0, 0),
        StageCost("output", "output projection W_O", "n·d·d", n * d * d, 0),
    )
    return AttentionCost(d_model=d, n_head=h, n_pos=n, bias=bias, stages=stages)
