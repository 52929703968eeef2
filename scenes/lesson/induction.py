"""The induction chapter's data: the project's small causal model on a repeated sequence, its heads measured.

Everything is computed here, once: the example (random tokens, a segment, then the same again), the patterns of
the strongest previous-token head and the strongest induction head on it, and the probability the model
gives each right next token the first time and the second time. The measurement on held-out sequences
(scores, copy losses, each head zeroed, the circuit) is the one shipped with the hash-checked weights
(``model.scores``: what ``mha_core.induction.measure`` gives for them, checked by the tests; reading it
keeps half a second of ablations out of every lesson build). Scenes only draw it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mha_core.induction import (
    EXAMPLE_PREFIX,
    EXAMPLE_SEGMENT,
    InductionScores,
    decode,
    example_sequence,
    uniform_loss,
)


@dataclass(frozen=True)
class Induction:
    n_layer: int
    n_head: int
    d_model: int
    vocab_size: int
    trained_sequences: int  # training steps x batch: sequences of n_ctx tokens seen in training
    n_ctx: int
    tokens: tuple[str, ...]  # the example: ``prefix`` random syllables, a segment of ``segment``, the same again
    prefix: int
    segment: int
    previous_head: tuple[int, int]  # (layer, head), 0-based: the strongest measured previous-token head
    induction_head: tuple[int, int]  # ... and the strongest measured induction head
    attention: torch.Tensor  # [layer, head, query, key]: every head's weights on the example
    query: int  # the repeated token shown up close (second copy): where induction_head's target weight is highest
    p_first: tuple[float, ...]  # per second-copy position q (next token in the sequence): P(right next token)
    p_second: tuple[float, ...]  # ... after the first copy's same token (q - segment), and after q itself
    top_second: tuple[str, ...]  # the model's most likely next token after each second-copy position
    scores: InductionScores  # the weights' held-out measurement (mha_core.induction.measure)
    guess_loss: float = uniform_loss()  # ln(vocab): a guess spread evenly over the vocabulary

    @property
    def previous_pattern(self) -> torch.Tensor:
        """[query, key]: previous_head's weights on the example."""
        return self.attention[self.previous_head]

    @property
    def induction_pattern(self) -> torch.Tensor:
        """[query, key]: induction_head's weights on the example."""
        return self.attention[self.induction_head]

    @property
    def target(self) -> int:
        """The key the induction head should read from ``query``: the token after the first occurrence."""
        return self.query - self.segment + 1

    @property
    def second_copy(self) -> range:
        """The positions of the second copy."""
        return range(self.prefix + self.segment, self.prefix + 2 * self.segment)

    @property
    def positions(self) -> range:
        """The second-copy positions whose next token is in the sequence (p_first / p_second index them)."""
        return range(self.prefix + self.segment, self.prefix + 2 * self.segment - 1)

    def p_at(self, q: int) -> tuple[float, float]:
        """(P(right next token) the first time, the second time) for second-copy position ``q``."""
        i = q - self.positions.start
        return self.p_first[i], self.p_second[i]

    def top_at(self, q: int) -> str:
        """The model's most likely next token after second-copy position ``q``."""
        return self.top_second[q - self.positions.start]


def build_induction(model) -> Induction:
    """The chapter's data from the induction model (``load_model("induction")``: its weights and measured heads)."""
    scores = model.scores
    if not scores.previous_token_heads or not scores.induction_heads:
        raise ValueError("the induction model has no measured previous-token or induction head; retrain it with "
                         "`mha-explainer train induction`.")
    ids = example_sequence()
    prefix, segment = EXAMPLE_PREFIX, EXAMPLE_SEGMENT
    attention = model.attention(ids)  # [layer, head, query, key]
    previous_head = max(scores.previous_token_heads, key=lambda lh: scores.previous_token[lh[0]][lh[1]])
    induction_head = max(scores.induction_heads, key=lambda lh: scores.induction[lh[0]][lh[1]])
    pattern = attention[induction_head]
    positions = range(prefix + segment, prefix + 2 * segment - 1)
    query = max(positions, key=lambda q: float(pattern[q, q - segment + 1]))
    p = model.predict(ids)  # [pos, vocab]: P(next token) after each position
    p_first = tuple(float(p[q - segment, ids[q + 1]]) for q in positions)
    p_second = tuple(float(p[q, ids[q + 1]]) for q in positions)
    config = model.config
    return Induction(
        n_layer=model.n_layer, n_head=model.n_head, d_model=config.d_model, vocab_size=model.vocab_size,
        trained_sequences=config.steps * config.batch, n_ctx=config.n_ctx,
        tokens=tuple(decode(ids)), prefix=prefix, segment=segment,
        previous_head=previous_head, induction_head=induction_head,
        attention=attention.detach().to("cpu", torch.float32),
        query=query, p_first=p_first, p_second=p_second,
        top_second=tuple(decode(p[q].argmax(-1, keepdim=True))[0] for q in positions),
        scores=scores,
    )
