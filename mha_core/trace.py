"""AttentionTrace: every intermediate tensor of one multi-head attention pass.

Shape convention (TransformerLens-style; a leading ``batch`` axis is present
only when the input had one):

    name      shape                         math                       TransformerLens hook
    --------  ----------------------------  -------------------------  --------------------
    x         [pos, d_model]                X                          hook_resid_pre / ln1 out
    q         [head, pos, d_head]           Q_i = X W_Q^(i) + b_Q^(i)  hook_q  ([pos, head, d_head])
    k         [head, pos, d_head]           K_i = X W_K^(i) + b_K^(i)  hook_k
    v         [head, pos, d_head]           V_i = X W_V^(i) + b_V^(i)  hook_v
    scores    [head, query_pos, key_pos]    Q_i K_iᵀ                   (none: TL stores it scaled)
    scaled    [head, query_pos, key_pos]    Q_i K_iᵀ / √d_k            hook_attn_scores (unmasked)
    masked    [head, query_pos, key_pos]    scaled, -inf where masked  hook_attn_scores
    weights   [head, query_pos, key_pos]    softmax(masked) per row    hook_pattern
    heads     [head, pos, d_head]           head_i = A_i V_i           hook_z ([pos, head, d_head])
    concat    [pos, d_model]                Concat(head_1..head_h)     hook_z flattened
    output    [pos, d_model]                Concat(...) W_O + b_O      hook_attn_out / hook_result summed

TransformerLens puts ``head`` after ``pos`` for q/k/v/z; we put it first so that
``trace.q[i]`` is head i's whole matrix, which is what the lesson draws.
``mask`` is ``[query_pos, key_pos]`` booleans, True = "may attend" (None = all).
``CONVENTIONS`` is this table as data (the CLI prints it; saved files carry it).
Torch is imported when a trace is used, not when this module is (the CLI reads
``CONVENTIONS`` without paying for torch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: Tensor fields, in the order the computation produces them.
STAGES = ("x", "q", "k", "v", "scores", "scaled", "masked", "weights", "heads", "concat", "output")

#: The axes of every traced tensor (the table above), by name.
CONVENTIONS = {
    "x": "[pos, d_model]",
    "q": "[head, pos, d_head]",
    "k": "[head, pos, d_head]",
    "v": "[head, pos, d_head]",
    "scores": "[head, query_pos, key_pos]",
    "scaled": "[head, query_pos, key_pos]",
    "masked": "[head, query_pos, key_pos]",
    "weights": "[head, query_pos, key_pos]",
    "heads": "[head, pos, d_head]",
    "concat": "[pos, d_model]",
    "output": "[pos, d_model]",
    "mask": "[query_pos, key_pos]",
}


@dataclass(frozen=True)
class AttentionTrace:
    x: torch.Tensor
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    scores: torch.Tensor
    scaled: torch.Tensor
    masked: torch.Tensor
    weights: torch.Tensor
    heads: torch.Tensor
    concat: torch.Tensor
    output: torch.Tensor
    mask: torch.Tensor | None = None
    tokens: tuple[str, ...] | None = None
    meta: dict = field(default_factory=dict)

    @property
    def n_head(self) -> int:
        return self.q.shape[-3]

    @property
    def d_head(self) -> int:
        return self.q.shape[-1]

    @property
    def d_model(self) -> int:
        return self.x.shape[-1]

    @property
    def n_pos(self) -> int:
        return self.x.shape[-2]

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every stage by name (plus ``mask`` when there is one), in computation order."""
        out = {name: getattr(self, name) for name in STAGES}
        if self.mask is not None:
            out["mask"] = self.mask
        return out

    def to(self, *args, **kwargs) -> "AttentionTrace":
        """A copy with every tensor moved/cast like ``Tensor.to``."""
        import torch

        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                moved_value = value.to(*args, **kwargs)
                # The mask follows the device but stays boolean.
                value = value.to(moved_value.device) if f.name == "mask" else moved_value
            moved[f.name] = value
        return AttentionTrace(**moved)

    def save(self, path) -> None:
        """Write every tensor to a safetensors file, the same bytes for the same trace.

        Metadata: ``tokens`` (joined by U+001F), ``convention`` (a JSON object: tensor name ->
        its axes, from ``CONVENTIONS``, with ``batch`` first where the tensor has that axis),
        and ``self.meta``'s items as text.
        """
        from .files import save_safetensors

        tensors = self.tensors()
        convention = {}
        for name, tensor in tensors.items():
            axes = CONVENTIONS[name]
            convention[name] = axes.replace("[", "[batch, ", 1) if tensor.dim() == axes.count(",") + 2 else axes
        metadata = {str(k): str(v) for k, v in self.meta.items()}
        metadata["tokens"] = "\x1f".join(self.tokens or ())
        metadata["convention"] = json.dumps(convention, ensure_ascii=False)
        save_safetensors(tensors, path, metadata)
