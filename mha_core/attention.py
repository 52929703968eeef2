"""Multi-head attention, written as the paper writes it.

    head_i       = softmax(Q_i K_iᵀ / √d_k) V_i,   Q_i = X W_Q^(i), K_i = X W_K^(i), V_i = X W_V^(i)
    MultiHead(X) = Concat(head_1, ..., head_h) W_O

Weights are stored full width (W_Q ∈ R^{d×d}, row-vector convention: X W) and
the per-head matrices W_Q^(i) ∈ R^{d×d_k} are *views* of column blocks of them:
one big projection and h small ones are the same numbers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .sizes import divisors, or_list
from .trace import AttentionTrace

MaskLike = torch.Tensor | str | None


class MultiHeadAttention(nn.Module):
    def __init__(
        self,
        d_model: int,
        n_head: int,
        *,
        bias: bool = True,
        seed: int | None = None,
        device=None,
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        for name, value in (("d_model", d_model), ("n_head", n_head)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if d_model % n_head:
            raise ValueError(
                f"n_head = {n_head} does not divide d_model = {d_model}; "
                f"pick {or_list(divisors(d_model))}."
            )
        self.d_model = d_model
        self.n_head = n_head
        self.d_head = d_model // n_head  # d_k = d_v = d / h
        factory = {"device": device, "dtype": dtype or torch.float32}
        self.W_Q = nn.Parameter(torch.empty(d_model, d_model, **factory))
        self.W_K = nn.Parameter(torch.empty(d_model, d_model, **factory))
        self.W_V = nn.Parameter(torch.empty(d_model, d_model, **factory))
        self.W_O = nn.Parameter(torch.empty(d_model, d_model, **factory))
        if bias:
            self.b_Q = nn.Parameter(torch.empty(d_model, **factory))
            self.b_K = nn.Parameter(torch.empty(d_model, **factory))
            self.b_V = nn.Parameter(torch.empty(d_model, **factory))
            self.b_O = nn.Parameter(torch.empty(d_model, **factory))
        else:
            self.b_Q = self.b_K = self.b_V = self.b_O = None
        self.reset_parameters(seed)

    @property
    def bias(self) -> bool:
        return self.b_Q is not None

    def reset_parameters(self, seed: int | None = None) -> None:
        """Xavier-uniform weights and small uniform biases, from a private generator."""
        gen = torch.Generator(device="cpu")
        gen.manual_seed(0 if seed is None else seed)
        bound = math.sqrt(6.0 / (2 * self.d_model))
        with torch.no_grad():
            for w in (self.W_Q, self.W_K, self.W_V, self.W_O):
                w.copy_(_uniform(w.shape, bound, gen))
            if self.bias:
                for b in (self.b_Q, self.b_K, self.b_V, self.b_O):
                    b.copy_(_uniform(b.shape, 0.1, gen))

    # -- per-head views ---------------------------------------------------

    def head_weights(self, name: str) -> torch.Tensor:
        """W_Q / W_K / W_V as ``[head, d_model, d_head]``: head i is W[:, i·d_k:(i+1)·d_k].

        W_O as ``[head, d_head, d_model]``: head i's block of rows. Views, not copies.
        """
        w = {"Q": self.W_Q, "K": self.W_K, "V": self.W_V, "O": self.W_O}[name.upper().removeprefix("W_")]
        if name.upper().endswith("O"):
            return w.view(self.n_head, self.d_head, self.d_model)
        return w.view(self.d_model, self.n_head, self.d_head).permute(1, 0, 2)

    # -- the computation --------------------------------------------------

    def forward(self, x: torch.Tensor, mask: MaskLike = None) -> torch.Tensor:
        """The plain path: the block's output only (exactly ``trace(x, mask).output``)."""
        return self._attend(x, mask, keep=False)

    def trace(self, x: torch.Tensor, mask: MaskLike = None, tokens=None) -> AttentionTrace:
        """The teaching path: the output plus every intermediate tensor."""
        trace = self._attend(x, mask, keep=True)
        if tokens is not None:
            trace = AttentionTrace(**{**trace.__dict__, "tokens": tuple(tokens)})
        return trace

    def _attend(self, x: torch.Tensor, mask: MaskLike, keep: bool):
        if x.dim() not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be [pos, {self.d_model}] or [batch, pos, {self.d_model}], got {list(x.shape)}.")
        n = x.shape[-2]
        allowed = resolve_mask(mask, n, x.device)

        q = self._split(self._project(x, self.W_Q, self.b_Q))  # [.., head, pos, d_head]
        k = self._split(self._project(x, self.W_K, self.b_K))
        v = self._split(self._project(x, self.W_V, self.b_V))

        scores = q @ k.transpose(-1, -2)  # [.., head, query_pos, key_pos]
        scaled = scores / math.sqrt(self.d_head)
        if allowed is None:
            masked = scaled
            weights = torch.softmax(masked, dim=-1)
        else:
            masked = scaled.masked_fill(~allowed, float("-inf"))
            weights = torch.softmax(masked, dim=-1)
            # A query that may attend to nothing gets all-zero weights, never NaN
            # (the "safe softmax" of scaled_dot_product_attention).
            weights = weights.masked_fill(~allowed.any(dim=-1, keepdim=True), 0.0)

        heads = weights @ v  # [.., head, pos, d_head]
        concat = heads.transpose(-3, -2).flatten(-2)  # [.., pos, head·d_head] = [.., pos, d_model]
        output = self._project(concat, self.W_O, self.b_O)
        if not keep:
            return output
        return AttentionTrace(
            x=x, q=q, k=k, v=v, scores=scores, scaled=scaled, masked=masked, weights=weights,
            heads=heads, concat=concat, output=output, mask=allowed,
            meta={"d_model": self.d_model, "n_head": self.n_head, "d_head": self.d_head},
        )

    @staticmethod
    def _project(x, w, b):
        return x @ w if b is None else x @ w + b

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        # [.., pos, d_model] -> [.., pos, head, d_head] -> [.., head, pos, d_head]
        return t.unflatten(-1, (self.n_head, self.d_head)).transpose(-3, -2)

    # -- interop with torch.nn.MultiheadAttention --------------------------

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Copy an ``nn.MultiheadAttention``'s weights exactly (it stores Wᵀ, packed as [W_q; W_k; W_v])."""
        if not module._qkv_same_embed_dim:
            raise ValueError("from_torch needs kdim == vdim == embed_dim.")
        d = module.embed_dim
        w = module.in_proj_weight
        mha = cls(d, module.num_heads, bias=module.in_proj_bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            mha.W_Q.copy_(w[:d].T)
            mha.W_K.copy_(w[d : 2 * d].T)
            mha.W_V.copy_(w[2 * d :].T)
            mha.W_O.copy_(module.out_proj.weight.T)
            if mha.bias:
                mha.b_Q.copy_(module.in_proj_bias[:d])
                mha.b_K.copy_(module.in_proj_bias[d : 2 * d])
                mha.b_V.copy_(module.in_proj_bias[2 * d :])
                mha.b_O.copy_(module.out_proj.bias)
        return mha

    def to_torch(self, *, batch_first: bool = True) -> nn.MultiheadAttention:
        """An ``nn.MultiheadAttention`` holding exactly these weights."""
        w = self.W_Q
        module = nn.MultiheadAttention(
            self.d_model, self.n_head, bias=self.bias, batch_first=batch_first, device=w.device, dtype=w.dtype
        )
        with torch.no_grad():
            module.in_proj_weight.copy_(torch.cat([self.W_Q.T, self.W_K.T, self.W_V.T], dim=0))
            module.out_proj.weight.copy_(self.W_O.T)
            if self.bias:
                module.in_proj_bias.copy_(torch.cat([self.b_Q, self.b_K, self.b_V]))
                module.out_proj.bias.copy_(self.b_O)
        return module


def resolve_mask(mask: MaskLike, n: int, device) -> torch.Tensor | None:
    """None, "causal" or a boolean tensor broadcastable to (n, n) -> bool [.., n, n] (True = may attend)."""
    if mask is None:
        return None
    if isinstance(mask, str):
        if mask != "causal":
            raise ValueError(f'mask must be None, "causal" or a boolean tensor, got {mask!r}.')
        return torch.ones(n, n, dtype=torch.bool, device=device).tril()
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be None, \"causal\" or a boolean tensor (True = may attend).")
    # Checked by hand: torch.broadcast_shapes pulls in sympy (a second's import) on first use.
    if mask.dim() < 1 or any(size not in (1, n) for size in mask.shape[-2:]):
        raise ValueError(f"mask of shape {list(mask.shape)} does not broadcast to ({n}, {n}).")
    mask = mask.to(device)
    # A per-sequence mask [batch, q, k] must skip the head axis of [batch, head, q, k].
    return mask.unsqueeze(-3) if mask.dim() == 3 else mask


def _uniform(shape, bound: float, gen: torch.Generator) -> torch.Tensor:
    # Drawn in float64 on the CPU so every device and dtype starts from the same numbers.
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
