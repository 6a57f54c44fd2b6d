"""The SAE configuration and the module every SAE architecture derives from.

Parameter names and shapes follow SAELens so that a ``sae_weights.safetensors`` written by either side loads
in the other: ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``, ``b_enc [d_sae]``, ``b_dec [d_in]`` (plus
``threshold [d_sae]`` for JumpReLU).

Every SAE works internally on *normalised* activations: when ``normalize_activations`` is
``"expected_average_only_in"`` the raw input is multiplied by ``norm_scaling_factor`` before encoding and the
reconstruction divided by it after decoding, so ``encode`` and ``decode`` always take and give raw activations.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from kgalign.errors import ConfigError, ModelError

#: dtype names accepted in ``SAEConfig.dtype`` (the spelling SAELens writes in ``cfg.json``).
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

#: Values accepted in ``SAEConfig.normalize_activations``. SAELens's ``constant_norm_rescale`` and
#: ``layer_norm`` rescale each row separately, which ``decode`` alone cannot undo; they are not supported.
NORMALIZE_ACTIVATIONS: tuple[str, ...] = ("none", "expected_average_only_in")

C = TypeVar("C", bound="SAEConfig")


def _allowed(name: str, value: object, allowed: tuple[str, ...] | list[str]) -> ConfigError:
    shown = ", ".join(repr(a) for a in allowed)
    return ConfigError(f"{name} must be one of {shown}; got {value!r}")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}; got {value}")


@dataclass(frozen=True, kw_only=True)
class SAEConfig:
    """What an SAE is: its architecture, sizes, numeric type and where its input comes from.

    Field names are SAELens's, so that ``cfg.json`` round-trips (see :mod:`kgalign.neural.sae.io`). Use the
    subclass of the architecture (``TopKSAEConfig``, ``JumpReLUSAEConfig``, ``StandardSAEConfig``) or
    :func:`kgalign.neural.sae.registry.make_config`.
    """

    #: The architecture name a subclass stands for; empty on this abstract base.
    ARCHITECTURE: ClassVar[str] = ""

    architecture: str
    d_in: int
    d_sae: int
    dtype: str = "float32"
    device: str = "cpu"
    model_name: str | None = None
    hook_name: str | None = None
    hook_layer: int | None = None
    apply_b_dec_to_input: bool = True
    normalize_activations: str = "none"
    #: Multiplier that brings raw activations to mean squared norm ``d_in``; used only with
    #: ``normalize_activations="expected_average_only_in"``. Not a SAELens field (SAELens keeps it elsewhere).
    norm_scaling_factor: float | None = None
    #: Further metadata carried through ``cfg.json`` untouched (SAELens's ``context_size``, ``prepend_bos``...).
    metadata_extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        cls = type(self)
        if not cls.ARCHITECTURE:
            raise ConfigError(
                "SAEConfig is abstract; use the config class of an architecture "
                "(kgalign.neural.sae.registry.make_config)"
            )
        if self.architecture != cls.ARCHITECTURE:
            raise ConfigError(
                f"{cls.__name__} is for architecture {cls.ARCHITECTURE!r}; got architecture={self.architecture!r}"
            )
        _check_int("d_in", self.d_in, minimum=1)
        _check_int("d_sae", self.d_sae, minimum=1)
        if self.dtype not in DTYPES:
            raise _allowed("dtype", self.dtype, list(DTYPES))
        if not isinstance(self.device, str):
            raise ConfigError(f"device must be a string such as 'cpu' or 'cuda:0'; got {self.device!r}")
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"device {self.device!r} is not a torch device (e.g. 'cpu', 'cuda:0')") from exc
        if self.hook_layer is not None:
            _check_int("hook_layer", self.hook_layer, minimum=0)
        for name in ("model_name", "hook_name"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string or None; got {value!r}")
        if not isinstance(self.apply_b_dec_to_input, bool):
            raise ConfigError(
                f"apply_b_dec_to_input must be true or false; got {self.apply_b_dec_to_input!r}"
            )
        if self.normalize_activations not in NORMALIZE_ACTIVATIONS:
            raise _allowed("normalize_activations", self.normalize_activations, NORMALIZE_ACTIVATIONS)
        factor = self.norm_scaling_factor
        if factor is not None:
            if self.normalize_activations != "expected_average_only_in":
                raise ConfigError(
                    "norm_scaling_factor is only used with normalize_activations='expected_average_only_in'; "
                    f"got normalize_activations={self.normalize_activations!r}"
                )
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
                raise ConfigError(f"norm_scaling_factor must be a finite positive number; got {factor!r}")
            if factor <= 0:
                raise ConfigError(f"norm_scaling_factor must be positive; got {factor!r}")
            object.__setattr__(self, "norm_scaling_factor", float(factor))
        if not isinstance(self.metadata_extra, Mapping):
            raise ConfigError(f"metadata_extra must be a mapping; got {type(self.metadata_extra).__name__}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def input_scale(self) -> float:
        """The factor raw activations are multiplied by before encoding (1.0 when not normalising)."""
        if self.normalize_activations == "expected_average_only_in" and self.norm_scaling_factor is not None:
            return self.norm_scaling_factor
        return 1.0

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def architecture_fields(self) -> dict[str, Any]:
        """The fields only this architecture has (e.g. ``k`` for TopK), in declaration order."""
        base = {f.name for f in dataclasses.fields(SAEConfig)}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base}


@dataclass
class TrainStepOutput:
    """What one training forward pass produced, on normalised activations.

    ``loss`` is the sum of ``losses`` and the tensor to call ``backward`` on; ``fired [d_sae]`` marks the
    latents that fired on at least one row of the batch, ``l0`` is the mean number firing per row.
    """

    recon: torch.Tensor  # [n, d_in]
    loss: torch.Tensor  # []
    losses: dict[str, torch.Tensor]
    fired: torch.Tensor  # [d_sae] bool
    l0: torch.Tensor  # []

    @classmethod
    def from_codes(
        cls, recon: torch.Tensor, codes: torch.Tensor, loss: torch.Tensor, losses: dict[str, torch.Tensor]
    ) -> TrainStepOutput:
        with torch.no_grad():
            active = codes > 0
            return cls(
                recon=recon,
                loss=loss,
                losses=losses,
                fired=active.any(dim=0),
                l0=active.sum(-1).float().mean(),
            )


class SparseAutoencoder(nn.Module, ABC):
    """A sparse autoencoder: ``encode`` maps ``[n, d_in]`` activations to non-negative sparse codes
    ``[n, d_sae]``; ``decode`` maps codes back to ``[n, d_in]``.

    Subclasses implement :meth:`activation` (pre-activations -> codes) and :meth:`training_step`.
    """

    config_class: ClassVar[type[SAEConfig]] = SAEConfig

    W_enc: nn.Parameter  # [d_in, d_sae]
    W_dec: nn.Parameter  # [d_sae, d_in]
    b_enc: nn.Parameter  # [d_sae]
    b_dec: nn.Parameter  # [d_in]

    def __init__(self, cfg: SAEConfig, *, seed: int | None = 0) -> None:
        super().__init__()
        if not isinstance(cfg, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} needs a {self.config_class.__name__}; got {type(cfg).__name__}"
            )
        self.cfg = cfg
        kw = {"dtype": cfg.torch_dtype, "device": torch.device(cfg.device)}
        self.W_enc = nn.Parameter(torch.empty(cfg.d_in, cfg.d_sae, **kw))
        self.W_dec = nn.Parameter(torch.empty(cfg.d_sae, cfg.d_in, **kw))
        self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae, **kw))
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in, **kw))
        self.reset_parameters(seed=seed)

    # -- initialisation -------------------------------------------------------------------------------

    @torch.no_grad()
    def reset_parameters(self, *, seed: int | None = 0) -> None:
        """Random unit-norm decoder rows, ``W_enc = W_dec.T``, zero biases (Gao et al. 2024, sec. A.1)."""
        generator = torch.Generator(device="cpu")
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        w = torch.randn(self.cfg.d_sae, self.cfg.d_in, generator=generator, dtype=torch.float32)
        w /= w.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        self.W_dec.copy_(w)
        self.W_enc.copy_(w.T)
        self.b_enc.zero_()
        self.b_dec.zero_()

    # -- the model --------------------------------------------------------------------------------------

    @property
    def d_in(self) -> int:
        return self.cfg.d_in

    @property
    def d_sae(self) -> int:
        return self.cfg.d_sae

    @property
    def dtype(self) -> torch.dtype:
        return self.W_enc.dtype

    @property
    def device(self) -> torch.device:
        return self.W_enc.device

    def _as_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ModelError(f"SAE input must be a torch tensor [n, {self.d_in}]; got {type(x).__name__}")
        if x.ndim < 1 or x.shape[-1] != self.d_in:
            raise ModelError(
                f"SAE input has shape {list(x.shape)} but this SAE takes d_in={self.d_in} "
                f"(expected [n, {self.d_in}])"
            )
        return x.to(device=self.device, dtype=self.dtype)

    def hidden_pre(self, x_normalized: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations ``[n, d_sae]`` of already normalised input ``[n, d_in]``."""
        sae_in = x_normalized - self.b_dec if self.cfg.apply_b_dec_to_input else x_normalized
        return sae_in @ self.W_enc + self.b_enc

    @abstractmethod
    def activation(self, hidden_pre: torch.Tensor) -> torch.Tensor:
        """Sparse non-negative codes ``[n, d_sae]`` from pre-activations ``[n, d_sae]``."""

    def decode_normalized(self, codes: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``[n, d_in]`` in normalised units from codes ``[n, d_sae]``."""
        return codes @ self.W_dec + self.b_dec

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations ``[n, d_sae]`` of raw activations ``x [n, d_in]``."""
        x = self._as_input(x)
        scale = self.cfg.input_scale
        return self.hidden_pre(x if scale == 1.0 else x * scale)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sparse codes ``[n, d_sae]`` of raw activations ``x [n, d_in]``."""
        return self.activation(self.pre_activations(x))

    def encode_positive(self, x: torch.Tensor) -> torch.Tensor:
        """Every latent whose pre-activation is positive, ``[n, d_sae]``: the encoder without its sparsity
        rule (no top-k cut, no threshold). A readout (``Readout.codes == "positive"``), not the SAE's codes:
        those are :meth:`encode`, which the reconstruction figures use."""
        return self.pre_activations(x).relu()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Raw-unit reconstruction ``[n, d_in]`` of codes ``[n, d_sae]``."""
        if not isinstance(codes, torch.Tensor) or codes.shape[-1] != self.d_sae:
            shape = list(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise ModelError(f"SAE codes have shape {shape} but this SAE has d_sae={self.d_sae}")
        recon = self.decode_normalized(codes.to(device=self.device, dtype=self.dtype))
        scale = self.cfg.input_scale
        return recon if scale == 1.0 else recon / scale

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction [n, d_in], codes [n, d_sae])`` of raw activations ``x [n, d_in]``."""
        codes = self.encode(x)
        return self.decode(codes), codes

    # -- training ---------------------------------------------------------------------------------------

    @abstractmethod
    def training_step(
        self,
        x_normalized: torch.Tensor,
        *,
        coefficients: Mapping[str, float],
        dead_mask: torch.Tensor | None = None,
    ) -> TrainStepOutput:
        """Forward pass with the architecture's training losses on normalised input ``[n, d_in]``.

        ``coefficients`` holds the current sparsity weights (``"l1"``, ``"l0"``, ``"aux_k"``...);
        ``dead_mask [d_sae]`` marks latents that have not fired recently.
        """

    def reconstruction_loss(self, recon: torch.Tensor, x_normalized: torch.Tensor) -> torch.Tensor:
        """Squared error summed over ``d_in`` and averaged over the batch (SAELens's convention)."""
        return (recon - x_normalized).pow(2).sum(dim=-1).mean()

    @torch.no_grad()
    def set_decoder_norm_to_unit_norm(self) -> None:
        """Rescale every decoder row to unit L2 norm."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12))

    @torch.no_grad()
    def remove_gradient_parallel_to_decoder_rows(self) -> None:
        """Project out of ``W_dec.grad`` the part that would only change the rows' norms."""
        if self.W_dec.grad is None:
            return
        w = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        parallel = (self.W_dec.grad * w).sum(dim=-1, keepdim=True)
        self.W_dec.grad.sub_(parallel * w)

    @torch.no_grad()
    def post_optimizer_step(self) -> None:
        """Constraints restored after each optimiser step (architectures may add their own)."""
        self.set_decoder_norm_to_unit_norm()

    @torch.no_grad()
    def _rescale_code_units(self, factor: float) -> None:
        """Divide the code units by ``factor``: pre-activations (and so codes and thresholds) shrink by it."""
        self.b_enc.div_(factor)

    @torch.no_grad()
    def fold_activation_norm_scaling(self) -> SparseAutoencoder:
        """An equivalent SAE that takes raw activations with no rescaling step (``normalize_activations='none'``).

        Decoder rows keep their norms; codes come out in raw units (the old codes divided by the factor),
        so ``codes @ W_dec + b_dec`` reconstructs raw activations directly, which SAELens expects.
        """
        scale = self.cfg.input_scale
        cfg = self.cfg.replace(normalize_activations="none", norm_scaling_factor=None)
        folded = type(self)(cfg, seed=0)
        folded.load_state_dict(self.state_dict())
        if scale != 1.0:
            # hidden_pre(raw) = (s*x - b_dec) W_enc + b_enc = s * ((x - b_dec/s) W_enc + b_enc/s)
            folded.b_dec.div_(scale)
            folded._rescale_code_units(scale)
        return folded

    def extra_repr(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.cfg.architecture_fields().items())
        return f"d_in={self.d_in}, d_sae={self.d_sae}" + (f", {extra}" if extra else "")
