"""TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

Each row keeps its ``k`` largest pre-activations (ReLU'd) and zeroes the rest, so the sparsity is set
directly instead of through a penalty. Dead latents are revived by the AuxK loss: the top ``k_aux`` dead
latents reconstruct the residual error the live ones leave.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kgalign.errors import ConfigError
from kgalign.neural.sae.base import SAEConfig, SparseAutoencoder, TrainStepOutput, _check_int


@dataclass(frozen=True, kw_only=True)
class TopKSAEConfig(SAEConfig):
    """A TopK SAE: ``k`` latents fire per row.

    ``rescale_acts_by_decoder_norm`` (SAELens) ranks pre-activations multiplied by the decoder row norms;
    kgalign trains with unit-norm decoder rows, where it changes nothing.
    """

    ARCHITECTURE = "topk"

    architecture: str = "topk"
    k: int = 32
    rescale_acts_by_decoder_norm: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("k", self.k, minimum=1)
        if self.k > self.d_sae:
            raise ConfigError(f"k must be at most d_sae={self.d_sae}; got k={self.k}")
        if not isinstance(self.rescale_acts_by_decoder_norm, bool):
            raise ConfigError(
                f"rescale_acts_by_decoder_norm must be true or false; got {self.rescale_acts_by_decoder_norm!r}"
            )


def topk_codes(hidden_pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest entries of each row (ReLU'd), zero elsewhere: ``[n, d_sae] -> [n, d_sae]``."""
    values, indices = hidden_pre.topk(k, dim=-1, sorted=False)
    return torch.zeros_like(hidden_pre).scatter_(-1, indices, values.relu())


def _fast_path(*tensors: torch.Tensor) -> bool:
    return all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in tensors)


def _by_latent(indices: torch.Tensor, d_sae: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Regroup the non-zeros of ``indices [n, m]`` by latent: ``(crow [d_sae+1], rows [n*m], order [n*m])``.

    ``order`` lists the flat positions latent by latent (stable), ``rows`` their row numbers and ``crow`` the
    CSR row pointers of the transposed ``[d_sae, n]`` pattern. numpy's stable sort is a radix sort on 16-bit
    keys: orders of magnitude faster than torch's CPU sort for these sizes.
    """
    flat = indices.reshape(-1)
    keys = flat.numpy().astype(np.int16 if d_sae <= np.iinfo(np.int16).max else np.int32)
    order = torch.from_numpy(np.argsort(keys, kind="stable"))
    crow = torch.zeros(d_sae + 1, dtype=torch.int64)
    torch.cumsum(torch.bincount(flat, minlength=d_sae), dim=0, out=crow[1:])
    return crow, order // indices.shape[1], order


def _csr(
    crow: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, cols, values, shape, check_invariants=False)


def _decode_backward(
    grad: torch.Tensor, indices: torch.Tensor, values: torch.Tensor, W_dec: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of ``sum_j values[:, j] * W_dec[indices[:, j]]`` given ``grad [n, d_in]``.

    Returns ``(grad_values [n, m], grad_W_dec [d_sae, d_in], crow, rows, order)``; the last three let the
    caller reuse the by-latent grouping for the encoder's gradient.
    """
    n, m = indices.shape
    d_sae = W_dec.shape[0]
    row_ptr = torch.arange(0, n * m + 1, m, dtype=torch.int64)
    pattern = _csr(row_ptr, indices.reshape(-1), values.reshape(-1), (n, d_sae))
    grad_values = torch.sparse.sampled_addmm(pattern, grad, W_dec.T, beta=0.0).values().view(n, m)
    crow, rows, order = _by_latent(indices, d_sae)
    grad_W_dec = _csr(crow, rows, values.reshape(-1)[order], (d_sae, n)) @ grad
    return grad_values, grad_W_dec, crow, rows, order


class _SparseDecode(torch.autograd.Function):
    """``[n, m] indices, [n, m] values, [d_sae, d_in] W_dec -> [n, d_in]``, with a sparse backward."""

    @staticmethod
    def forward(ctx: Any, indices: torch.Tensor, values: torch.Tensor, W_dec: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(indices, values, W_dec)
        return F.embedding_bag(indices, W_dec, per_sample_weights=values, mode="sum")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor]:
        indices, values, W_dec = ctx.saved_tensors
        grad_values, grad_W_dec, *_ = _decode_backward(grad.contiguous(), indices, values, W_dec)
        return None, grad_values, grad_W_dec


def sparse_decode(indices: torch.Tensor, values: torch.Tensor, W_dec: torch.Tensor) -> torch.Tensor:
    """``sum_j values[:, j] * W_dec[indices[:, j]]``: ``[n, m], [n, m], [d_sae, d_in] -> [n, d_in]``.

    The same as a dense ``codes @ W_dec`` for codes with ``m`` non-zeros per row, at ``m / d_sae`` of the
    cost; differentiable in ``values`` and ``W_dec``.
    """
    if _fast_path(values, W_dec):
        return _SparseDecode.apply(indices, values, W_dec)
    return F.embedding_bag(indices, W_dec, per_sample_weights=values, mode="sum")


class _TopKAutoencode(torch.autograd.Function):
    """TopK encode + sparse decode in one step with a sparse backward (CPU training fast path).

    ``x [n, d_in]`` (no gradient), ``W_enc [d_in, d_sae]``, ``bias [d_sae]`` (``b_enc - b_dec @ W_enc``),
    ``W_dec [d_sae, d_in]`` -> ``(recon without b_dec [n, d_in], values [n, k], indices [n, k])``.
    The encoder's gradient touches only the k selected latents per row, so it costs ``n·k·d_in`` instead of
    the ``n·d_sae·d_in`` of a dense backward.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, W_enc: torch.Tensor, bias: torch.Tensor, W_dec: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden_pre = torch.addmm(bias, x, W_enc)
        values, indices = hidden_pre.topk(k, dim=-1, sorted=False)
        del hidden_pre
        values = values.relu_()
        recon = F.embedding_bag(indices, W_dec, per_sample_weights=values, mode="sum")
        ctx.save_for_backward(x, W_dec, values, indices)
        ctx.mark_non_differentiable(values, indices)
        return recon, values, indices

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor, _grad_values: Any, _grad_indices: Any
    ) -> tuple[None, torch.Tensor, torch.Tensor, torch.Tensor, None]:
        x, W_dec, values, indices = ctx.saved_tensors
        d_sae = W_dec.shape[0]
        grad_values, grad_W_dec, crow, rows, order = _decode_backward(
            grad.contiguous(), indices, values, W_dec
        )
        grad_pre = (grad_values * (values > 0)).reshape(-1)
        grad_W_enc = (_csr(crow, rows, grad_pre[order], (d_sae, x.shape[0])) @ x).T
        grad_bias = torch.zeros(d_sae, dtype=grad.dtype).index_add_(0, indices.reshape(-1), grad_pre)
        return None, grad_W_enc, grad_bias, grad_W_dec, None


class TopKSAE(SparseAutoencoder):
    """TopK SAE; parameters ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``, ``b_enc [d_sae]``, ``b_dec [d_in]``."""

    config_class = TopKSAEConfig
    cfg: TopKSAEConfig

    def _ranked(self, hidden_pre: torch.Tensor) -> torch.Tensor:
        if self.cfg.rescale_acts_by_decoder_norm:
            return hidden_pre * self.W_dec.norm(dim=-1)
        return hidden_pre

    def activation(self, hidden_pre: torch.Tensor) -> torch.Tensor:
        """Exactly the ``k`` largest pre-activations of each row survive (then ReLU)."""
        return topk_codes(self._ranked(hidden_pre), self.cfg.k)

    def encode_topk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`encode` of raw activations ``x [n, d_in]`` without the dense ``[n, d_sae]`` matrix:
        ``(values [n, k], indices [n, k])``, the ``k`` codes of each row (ReLU'd) and their latents."""
        values, indices = self._ranked(self.pre_activations(x)).topk(self.cfg.k, dim=-1, sorted=False)
        return values.relu(), indices

    def encode_positive(self, x: torch.Tensor) -> torch.Tensor:
        """The values :meth:`encode` ranks, every positive one kept (no top-k cut)."""
        return self._ranked(self.pre_activations(x)).relu()

    def decode_normalized(self, codes: torch.Tensor) -> torch.Tensor:
        if self.cfg.rescale_acts_by_decoder_norm:
            codes = codes / self.W_dec.norm(dim=-1)
        return codes @ self.W_dec + self.b_dec

    def training_step(
        self,
        x_normalized: torch.Tensor,
        *,
        coefficients: Mapping[str, float],
        dead_mask: torch.Tensor | None = None,
    ) -> TrainStepOutput:
        """MSE plus, when some latents are dead and ``coefficients["aux_k"] > 0``, the AuxK loss.

        ``coefficients["k_aux"]`` is how many dead latents take part (default ``d_in // 2``).
        """
        if self.cfg.rescale_acts_by_decoder_norm:
            raise ConfigError(
                "training a TopK SAE needs rescale_acts_by_decoder_norm=False (decoder rows are unit norm)"
            )
        x = x_normalized
        # b_dec enters as one [d_sae] vector, so its gradient costs a vector-matrix product, not a batch one.
        bias = self.b_enc - self.b_dec @ self.W_enc if self.cfg.apply_b_dec_to_input else self.b_enc
        if _fast_path(x, self.W_enc) and not x.requires_grad:
            decoded, values, indices = _TopKAutoencode.apply(x, self.W_enc, bias, self.W_dec, self.cfg.k)
        else:
            values, indices = torch.addmm(bias, x, self.W_enc).topk(self.cfg.k, dim=-1, sorted=False)
            values = values.relu()
            decoded = F.embedding_bag(indices, self.W_dec, per_sample_weights=values, mode="sum")
        recon = decoded + self.b_dec
        mse = self.reconstruction_loss(recon, x)
        losses = {"mse": mse}
        loss = mse

        aux_coefficient = float(coefficients.get("aux_k", 0.0))
        if dead_mask is not None and aux_coefficient > 0:
            dead = dead_mask.nonzero().flatten()
            if dead.numel() > 0:
                k_aux = int(coefficients.get("k_aux", self.d_in // 2))
                aux = self.aux_k_loss(x, recon, bias, dead, k_aux)
                losses["aux_k"] = aux_coefficient * aux
                loss = loss + losses["aux_k"]

        with torch.no_grad():
            fired = torch.zeros(self.d_sae, dtype=torch.bool, device=x.device)
            fired[indices[values > 0]] = True
            l0 = (values > 0).sum(dim=-1).float().mean()
        return TrainStepOutput(recon=recon, loss=loss, losses=losses, fired=fired, l0=l0)

    def aux_k_loss(
        self,
        x: torch.Tensor,
        recon: torch.Tensor,
        bias: torch.Tensor,
        dead: torch.Tensor,
        k_aux: int,
    ) -> torch.Tensor:
        """AuxK: the top ``k_aux`` dead latents reconstruct the residual ``x - recon``; normalised MSE.

        ``x, recon [n, d_in]``, ``bias [d_sae]`` (the encoder bias with ``b_dec`` folded in), ``dead [n_dead]``
        (latent indices). The dead latents' raw pre-activations are used, without ReLU, so a latent whose
        pre-activations are all negative still receives a gradient that pulls it back (as SAELens does).
        Normalised by the residual's variance as in the paper's code, so the loss is scale-free.
        """
        residual = (x - recon).detach()
        k_aux = max(1, min(k_aux, int(dead.numel())))
        dead_pre = torch.addmm(bias.index_select(0, dead), x, self.W_enc.index_select(1, dead))  # [n, n_dead]
        values, pos = dead_pre.topk(k_aux, dim=-1, sorted=False)
        aux_recon = sparse_decode(dead[pos], values, self.W_dec)
        error = (aux_recon - residual).pow(2).sum(dim=-1).mean()
        baseline = (residual - residual.mean(dim=0)).pow(2).sum(dim=-1).mean().clamp_min(1e-12)
        return error / baseline
