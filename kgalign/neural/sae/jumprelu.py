"""JumpReLU SAE (Rajamanoharan et al. 2024, "Jumping Ahead: Improving Reconstruction Fidelity with JumpReLU
Sparse Autoencoders"), the architecture of Gemma Scope.

A latent fires only when its pre-activation exceeds its own learned ``threshold [d_sae]``. Training
penalises L0 directly; the step function has no useful derivative, so the threshold learns through
straight-through estimators whose pseudo-derivative is a rectangle kernel of width ``bandwidth``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from kgalign.neural.sae.base import SAEConfig, SparseAutoencoder, TrainStepOutput


@dataclass(frozen=True, kw_only=True)
class JumpReLUSAEConfig(SAEConfig):
    """A JumpReLU SAE; its thresholds are a parameter (``threshold`` in ``sae_weights.safetensors``)."""

    ARCHITECTURE = "jumprelu"

    architecture: str = "jumprelu"


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    """The kernel K(u) = 1 on (-1/2, 1/2), 0 elsewhere."""
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class JumpReLUFunction(torch.autograd.Function):
    """``x * H(x - threshold)``; gradient to ``x`` where it fired, pseudo-gradient to ``threshold``.

    d/dθ ≈ -(θ / ε) K((x - θ) / ε) (the paper's eq. 11); ``x [n, d_sae]``, ``threshold [d_sae]``.
    """

    @staticmethod
    def forward(x: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:  # type: ignore[override]
        return x * (x > threshold).to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, threshold, bandwidth = inputs
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:  # type: ignore[override]
        x, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_x = (x > threshold).to(x.dtype) * grad_output
        kernel = _rectangle((x - threshold) / eps)
        grad_threshold = (-(threshold / eps) * kernel * grad_output).sum(dim=0)
        return grad_x, grad_threshold, None


class StepFunction(torch.autograd.Function):
    """``H(x - threshold)``; pseudo-gradient -(1/ε) K((x - θ)/ε) to the threshold only (the paper's eq. 12)."""

    @staticmethod
    def forward(x: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:  # type: ignore[override]
        return (x > threshold).to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, threshold, bandwidth = inputs
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[None, torch.Tensor, None]:  # type: ignore[override]
        x, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_threshold = (-(1.0 / eps) * _rectangle((x - threshold) / eps) * grad_output).sum(dim=0)
        return None, grad_threshold, None


class JumpReLUSAE(SparseAutoencoder):
    """JumpReLU SAE; parameters as the base plus ``threshold [d_sae]``."""

    config_class = JumpReLUSAEConfig
    cfg: JumpReLUSAEConfig

    threshold: torch.nn.Parameter  # [d_sae]

    def __init__(
        self, cfg: JumpReLUSAEConfig, *, seed: int | None = 0, init_threshold: float = 0.001
    ) -> None:
        self._init_threshold = init_threshold
        super().__init__(cfg, seed=seed)

    @torch.no_grad()
    def reset_parameters(self, *, seed: int | None = 0) -> None:
        super().reset_parameters(seed=seed)
        if not hasattr(self, "threshold"):
            self.threshold = torch.nn.Parameter(
                torch.empty(self.cfg.d_sae, dtype=self.cfg.torch_dtype, device=torch.device(self.cfg.device))
            )
        self.threshold.fill_(self._init_threshold)

    def activation(self, hidden_pre: torch.Tensor) -> torch.Tensor:
        """``relu(hidden_pre)`` where ``hidden_pre > threshold``, else 0 (Gemma Scope's definition)."""
        return hidden_pre.relu() * (hidden_pre > self.threshold).to(hidden_pre.dtype)

    def training_step(
        self,
        x_normalized: torch.Tensor,
        *,
        coefficients: Mapping[str, float],
        dead_mask: torch.Tensor | None = None,
    ) -> TrainStepOutput:
        """MSE + ``l0`` * L0 (through the step function's pseudo-derivative).

        Coefficients: ``"l0"`` (sparsity weight), ``"bandwidth"`` (ε of the kernel, default 0.05) and
        optionally ``"pre_act"``: Anthropic's pre-activation loss, ``relu(θ - pre)`` on dead latents only,
        which pushes them back towards firing.
        """
        bandwidth = float(coefficients.get("bandwidth", 0.05))
        x = x_normalized
        # b_dec enters as one [d_sae] vector, so its gradient costs a vector-matrix product, not a batch one.
        bias = self.b_enc - self.b_dec @ self.W_enc if self.cfg.apply_b_dec_to_input else self.b_enc
        hidden_pre = torch.addmm(bias, x, self.W_enc)
        codes = JumpReLUFunction.apply(hidden_pre, self.threshold, bandwidth)
        recon = codes @ self.W_dec + self.b_dec
        mse = self.reconstruction_loss(recon, x)
        l0 = StepFunction.apply(hidden_pre, self.threshold, bandwidth).sum(dim=-1).mean()
        losses = {"mse": mse, "l0": float(coefficients.get("l0", 0.0)) * l0}
        pre_act_coefficient = float(coefficients.get("pre_act", 0.0))
        if pre_act_coefficient > 0 and dead_mask is not None and bool(dead_mask.any()):
            gap = (self.threshold - hidden_pre).relu() * dead_mask.to(hidden_pre.dtype)
            losses["pre_act"] = pre_act_coefficient * gap.sum(dim=-1).mean()
        loss = sum(losses.values(), torch.zeros((), dtype=mse.dtype, device=mse.device))
        return TrainStepOutput.from_codes(recon, codes, loss, losses)

    @torch.no_grad()
    def post_optimizer_step(self) -> None:
        super().post_optimizer_step()
        self.threshold.clamp_(min=0.0)

    @torch.no_grad()
    def _rescale_code_units(self, factor: float) -> None:
        super()._rescale_code_units(factor)
        self.threshold.div_(factor)
