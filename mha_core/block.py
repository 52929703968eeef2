"""What happens right after the attention block: the residual update, then Add & Norm.

    residual = x + MultiHead(x)          (the block writes an update into the residual stream)
    normed   = LayerNorm(residual)       (post-norm, as in the original Transformer and BERT)

The toy model has no learned LayerNorm gain/bias, so ``normed`` is the plain
normalisation: each row has mean 0 and variance 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def add_and_norm(x: torch.Tensor, attn_out: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """(residual, normed), both [pos, d_model]."""
    residual = x + attn_out
    normed = F.layer_norm(residual, residual.shape[-1:], eps=eps)
    return residual, normed
