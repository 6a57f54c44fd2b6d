"""TopK SAE (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

Each row keeps its ``k`` largest pre-activations (ReLU'd) and zeroes the rest, so the sparsity is set
directly instead of through a penalty. Dead latents are revived by the AuxK loss: the top ``k_aux`` dead
latents reconstruct the residual error the live ones leave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


def sparse_decode(indices: torch.Tensor, values: torch.Tensor, W_dec: torch.Tensor) -> torch.Tensor:
    """``sum_j values[:, j] * W_dec[indices[:, j]]``: ``[n, m], [n, m], [d_sae, d_in] -> [n, d_in]``.

    The same as a dense ``codes @ W_dec`` for codes with ``m`` non-zeros per row, at ``m / d_sae`` of the cost;
    differentiable in ``values`` and ``W_dec``.
    """
    return F.embedding_bag(indices, W_dec, per_sample_weights=values, mode="sum")


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
            raise ConfigError("training a TopK SAE needs rescale_acts_by_decoder_norm=False (decoder rows are unit norm)")
        x = x_normalized
        # b_dec enters as one [d_sae] vector, so its gradient costs a vector-matrix product, not a batch one.
        hidden_pre = x @ self.W_enc + self.b_enc
        if self.cfg.apply_b_dec_to_input:
            hidden_pre = hidden_pre - self.b_dec @ self.W_enc
        values, indices = hidden_pre.topk(self.cfg.k, dim=-1, sorted=False)
        values = values.relu()
        recon = sparse_decode(indices, values, self.W_dec) + self.b_dec
        mse = self.reconstruction_loss(recon, x)
        losses = {"mse": mse}
        loss = mse

        aux_coefficient = float(coefficients.get("aux_k", 0.0))
        if dead_mask is not None and aux_coefficient > 0:
            dead = dead_mask.nonzero().flatten()
            if dead.numel() > 0:
                k_aux = int(coefficients.get("k_aux", self.d_in // 2))
                aux = self.aux_k_loss(x, recon, hidden_pre, dead, k_aux)
                losses["aux_k"] = aux_coefficient * aux
                loss = loss + losses["aux_k"]

        with torch.no_grad():
            codes = torch.zeros_like(hidden_pre).scatter_(-1, indices, values)
        return TrainStepOutput(recon=recon, codes=codes, loss=loss, losses=losses)

    def aux_k_loss(
        self,
        x: torch.Tensor,
        recon: torch.Tensor,
        hidden_pre: torch.Tensor,
        dead: torch.Tensor,
        k_aux: int,
    ) -> torch.Tensor:
        """AuxK: the top ``k_aux`` dead latents reconstruct the residual ``x - recon``; normalised MSE.

        ``x, recon [n, d_in]``, ``hidden_pre [n, d_sae]``, ``dead [n_dead]`` (latent indices).
        The dead latents' raw pre-activations are used, without ReLU, so a latent whose pre-activations
        are all negative still receives a gradient that pulls it back (as SAELens does).
        Normalised by the residual's variance as in the paper's code, so the loss is scale-free.
        """
        residual = (x - recon).detach()
        k_aux = max(1, min(k_aux, int(dead.numel())))
        dead_pre = hidden_pre.index_select(-1, dead)  # [n, n_dead]
        values, pos = dead_pre.topk(k_aux, dim=-1, sorted=False)
        aux_recon = sparse_decode(dead[pos], values, self.W_dec)
        error = (aux_recon - residual).pow(2).sum(dim=-1).mean()
        baseline = (residual - residual.mean(dim=0)).pow(2).sum(dim=-1).mean().clamp_min(1e-12)
        return error / baseline
