"""Standard SAE: ReLU codes and an L1 sparsity penalty (Bricken et al. 2023, "Towards Monosemanticity")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from kgalign.neural.sae.base import SAEConfig, SparseAutoencoder, TrainStepOutput


@dataclass(frozen=True, kw_only=True)
class StandardSAEConfig(SAEConfig):
    """A ReLU SAE trained with an L1 penalty."""

    ARCHITECTURE = "standard"

    architecture: str = "standard"


class StandardSAE(SparseAutoencoder):
    """ReLU SAE; parameters ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``, ``b_enc [d_sae]``, ``b_dec [d_in]``."""

    config_class = StandardSAEConfig
    cfg: StandardSAEConfig

    def activation(self, hidden_pre: torch.Tensor) -> torch.Tensor:
        return hidden_pre.relu()

    def training_step(
        self,
        x_normalized: torch.Tensor,
        *,
        coefficients: Mapping[str, float],
        dead_mask: torch.Tensor | None = None,
    ) -> TrainStepOutput:
        """MSE + ``l1`` * sum of codes weighted by their decoder row norms (Anthropic's April 2024 update)."""
        x = x_normalized
        # b_dec enters as one [d_sae] vector, so its gradient costs a vector-matrix product, not a batch one.
        bias = self.b_enc - self.b_dec @ self.W_enc if self.cfg.apply_b_dec_to_input else self.b_enc
        hidden_pre = torch.addmm(bias, x, self.W_enc)
        codes = hidden_pre.relu()
        recon = codes @ self.W_dec + self.b_dec
        mse = self.reconstruction_loss(recon, x)
        l1 = (codes * self.W_dec.norm(dim=-1)).sum(dim=-1).mean()
        losses = {"mse": mse, "l1": float(coefficients.get("l1", 0.0)) * l1}
        return TrainStepOutput.from_codes(recon, codes, mse + losses["l1"], losses)
