"""What happens right after the attention block: the residual update, then Add & Norm.

    residual = x + MultiHead(x)          (the block writes an update into the residual stream)
    normed   = LayerNorm(residual)       (post-norm, as in the original Transformer and BERT)

LayerNorm(r) = (r - mean(r)) / sqrt(var(r) + eps) * gain + bias, per row. A trained model
has its own gain and bias (MiniLM: ``MiniLM.attention_norm(layer)``); the toy model has none,
so its ``normed`` is the plain normalisation: each row has mean 0 and variance 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def add_and_norm(x: torch.Tensor, attn_out: torch.Tensor, eps: float = 1e-5, *, gain: torch.Tensor | None = None,
                 bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(residual, normed), both [pos, d_model]; ``gain``/``bias`` [d_model]: the model's own LayerNorm."""
    residual = x + attn_out
    normed = F.layer_norm(residual, residual.shape[-1:], gain, bias, eps=eps)
    return residual, normed
