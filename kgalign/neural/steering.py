"""Interventions on the residual stream through the SAE: suppress or amplify one feature, nothing else.

An edit of the SAE codes ``c = encode(h)`` is spliced into the model at the SAE's layer as

    h  ↦  decode(edit(c)) + (h − decode(c))

that is, the edited reconstruction plus the SAE's reconstruction error, so that only what the edit changes
changes: a no-op edit gives back ``h`` exactly (the error add-back cancels the reconstruction), whereas
splicing the bare reconstruction ``decode(c)`` would also inject the SAE's error into the model. Every SAE
kgalign knows decodes linearly (``(c @ W_dec + b_dec) / scale``), so the splice is computed as
``h + decode(edit(c)) − decode(c)``, which is the same quantity with no rounding at all for a no-op.

Stages: an :class:`Intervention` (what happens to one feature's code: ``suppress`` to 0, ``amplify`` by a
factor, ``add`` an amount) → a code edit ``[n, d_sae] -> [n, d_sae]`` (:meth:`Intervention.code_edit`) →
a replacement function for :meth:`BaseModel.replacing` / ``sentence_embedding(replace=...)`` /
``token_logprobs(replace=...)`` (:func:`sae_splice`), restricted to the positions of a token mask
(:func:`token_mask`: a mention's tokens, or every real token).

:class:`MatchedSplice` runs one feature's edit and its random-feature controls in one padded batch: row
``i`` gets the edit of ``feature`` itself, no edit, or the *same code change* applied along another
feature's decoder direction rescaled to ``feature``'s decoder norm — a control of exactly the same strength
(the same ``‖Δh‖`` at every edited token).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kgalign.errors import ConfigError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from kgalign.neural.model import BaseModel
    from kgalign.neural.sae.base import SparseAutoencoder

__all__ = [
    "OPS",
    "CodeEdit",
    "Intervention",
    "MatchedSplice",
    "SetSplice",
    "sae_splice",
    "token_mask",
]

#: What an :class:`Intervention` does to a feature's code ``c``: ``suppress`` sets it to 0, ``amplify``
#: multiplies it by ``value``, ``add`` adds ``value`` (in code units, e.g. α · the feature's max activation).
OPS: tuple[str, ...] = ("suppress", "amplify", "add")

#: A function from codes ``[n, d_sae]`` to edited codes ``[n, d_sae]``.
CodeEdit = Callable[["torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class Intervention:
    """What happens to one feature's code.

    >>> Intervention("suppress").new_code(3.0), Intervention("amplify", 4.0).new_code(3.0)
    (0.0, 12.0)
    >>> Intervention("boost")
    Traceback (most recent call last):
    ...
    kgalign.errors.ConfigError: op must be one of 'suppress', 'amplify', 'add'; got 'boost'
    """

    op: str = "suppress"
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ConfigError(f"op must be one of {', '.join(repr(o) for o in OPS)}; got {self.op!r}")
        if not np.isfinite(self.value):
            raise ConfigError(f"value must be a finite number; got {self.value!r}")

    def new_code(self, c):  # noqa: ANN001, ANN201 - float or tensor in, same out
        """The edited code of ``c`` (a number or a tensor of codes of this one feature)."""
        if self.op == "suppress":
            return c * 0.0
        if self.op == "amplify":
            return c * self.value
        return c + self.value

    def code_edit(self, features: int | Sequence[int]) -> CodeEdit:
        """A code edit applying this intervention to ``features`` and leaving every other code as it is."""
        idx = [int(features)] if isinstance(features, (int, np.integer)) else [int(f) for f in features]

        def edit(codes: torch.Tensor) -> torch.Tensor:
            out = codes.clone()
            out[..., idx] = self.new_code(codes[..., idx])
            return out

        return edit


def identity_edit(codes: torch.Tensor) -> torch.Tensor:
    """The no-op code edit."""
    return codes


def token_mask(
    model: BaseModel, texts: Sequence[str], spans: Sequence[tuple[int, int] | None] | None = None
) -> np.ndarray:
    """``[n_texts, t_max]`` bool: the tokens to edit in the padded batch :meth:`BaseModel.forward` builds.

    ``spans[i]`` is the character span ``(start, end)`` of the mention in ``texts[i]`` (its overlapping
    tokens are marked) or ``None`` for every real (non-special) token; ``spans=None`` marks every real
    token of every text. A mention truncated away marks nothing.
    """
    encs = model.encode(list(texts))
    if not encs:
        return np.zeros((0, 0), bool)
    t_max = max(len(e.ids) for e in encs)
    mask = np.zeros((len(encs), t_max), bool)
    for i, e in enumerate(encs):
        offs = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
        real = (offs[:, 1] > offs[:, 0]) & ~np.asarray(e.special, dtype=bool)
        span = None if spans is None else spans[i]
        if span is None:
            mask[i, : len(e.ids)] = real
        else:
            s, t = span
            mask[i, : len(e.ids)] = real & (offs[:, 0] < t) & (offs[:, 1] > s)
    return mask


def _as_mask(mask: np.ndarray | torch.Tensor | None, hidden: torch.Tensor) -> torch.Tensor:
    import torch

    b, t = hidden.shape[0], hidden.shape[1]
    if mask is None:
        return torch.ones((b, t), dtype=torch.bool, device=hidden.device)
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask).to(torch.bool)
    if m.ndim != 2 or m.shape[0] != b or m.shape[1] > t:
        raise ModelError(
            f"the token mask has shape {tuple(m.shape)} but the residual stream is [{b}, {t}, d]; "
            "build it with token_mask() from the same texts, in one batch"
        )
    if m.shape[1] < t:  # the batch was padded further than the mask
        m = torch.nn.functional.pad(m, (0, t - m.shape[1]))
    return m.to(hidden.device)


def sae_splice(
    sae: SparseAutoencoder,
    edit: CodeEdit = identity_edit,
    mask: np.ndarray | torch.Tensor | None = None,
    *,
    add_error: bool = True,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A replacement ``hidden [b, t, d] -> [b, t, d]`` that splices ``edit`` through the SAE.

    At the positions of ``mask [b, t]`` (every position when ``None``) the residual stream becomes
    ``decode(edit(encode(h))) + (h − decode(encode(h)))``; elsewhere it is left alone. With
    ``add_error=False`` it becomes the bare edited reconstruction ``decode(edit(encode(h)))`` (what
    "SAE-spliced loss" measures; not an intervention on one feature only).
    """
    import torch

    def replace(hidden: torch.Tensor) -> torch.Tensor:
        m = _as_mask(mask, hidden)
        if not bool(m.any()):
            return hidden
        h = hidden[m]  # [n, d]
        with torch.inference_mode():
            codes = sae.encode(h)
            if add_error:
                new = h + (sae.decode(edit(codes)) - sae.decode(codes)).to(h.dtype)
            else:
                new = sae.decode(edit(codes)).to(h.dtype)
        out = hidden.clone()
        out[m] = new
        return out

    return replace


class MatchedSplice:
    """One feature's edit and its same-strength controls, one row of the batch each.

    ``targets[i]`` for row ``i``: ``None`` leaves the row alone; ``feature`` splices the intervention on
    ``feature`` (exactly :func:`sae_splice` with ``intervention.code_edit(feature)``); any other feature
    ``g`` adds the same per-token code change ``Δc = new_code(c_feature) − c_feature`` along ``g``'s decoder
    direction rescaled to ``feature``'s decoder norm, so the residual stream moves by the same ``‖Δh‖`` at
    every edited token, only in another direction.

    After a forward pass, :attr:`applied_norm` ``[b]`` holds each row's ``Σ_tokens ‖Δh‖`` and
    :attr:`codes` the feature's codes at the edited tokens of each row.
    """

    def __init__(
        self,
        sae: SparseAutoencoder,
        feature: int,
        intervention: Intervention,
        targets: Sequence[int | None],
        mask: np.ndarray,
    ) -> None:
        import torch

        d_sae = int(sae.W_dec.shape[0])
        if not 0 <= int(feature) < d_sae:
            raise ConfigError(f"feature must be between 0 and {d_sae - 1}; got {feature}")
        for g in targets:
            if g is not None and not 0 <= int(g) < d_sae:
                raise ConfigError(f"control feature must be between 0 and {d_sae - 1}; got {g}")
        if len(targets) != mask.shape[0]:
            raise ModelError(f"{len(targets)} row targets for a token mask of {mask.shape[0]} rows")
        self.sae = sae
        self.feature = int(feature)
        self.intervention = intervention
        self.targets = list(targets)
        self.mask = mask
        w = sae.W_dec.detach()
        scale = float(sae.cfg.input_scale)
        norm_f = w[self.feature].norm()
        rows = []
        for g in self.targets:
            if g is None:
                rows.append(torch.zeros_like(w[0]))
            elif int(g) == self.feature:
                rows.append(w[self.feature] / scale)
            else:
                rows.append(w[int(g)] * (norm_f / w[int(g)].norm().clamp_min(1e-12)) / scale)
        self.directions = torch.stack(rows)  # [b, d_in]
        self.applied_norm = np.zeros(len(self.targets), np.float64)
        self.codes: list[np.ndarray] = [np.zeros(0, np.float32) for _ in self.targets]

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        import torch

        m = _as_mask(self.mask, hidden)
        edit_rows = torch.tensor([g is not None for g in self.targets], dtype=torch.bool, device=m.device)
        m = m & edit_rows[:, None]
        if not bool(m.any()):
            return hidden
        h = hidden[m]  # [n, d]
        row_of = m.nonzero()[:, 0]  # [n]
        with torch.inference_mode():
            c = self.sae.encode(h)[:, self.feature]  # [n]
            dc = self.intervention.new_code(c) - c  # [n]
            dirs = self.directions.to(device=h.device, dtype=h.dtype)[row_of]  # [n, d]
            delta = dc.to(h.dtype)[:, None] * dirs
        norms = delta.norm(dim=-1).double().cpu().numpy()
        rows = row_of.cpu().numpy()
        self.applied_norm = np.bincount(rows, weights=norms, minlength=len(self.targets))
        cs = c.float().cpu().numpy()
        self.codes = [cs[rows == i] for i in range(len(self.targets))]
        out = hidden.clone()
        out[m] = h + delta
        return out


class SetSplice:
    """A *set* of features suppressed (or otherwise edited) at once, and same-strength controls, one row each.

    ``targets[i]`` for row ``i``: ``None`` leaves the row alone; a sequence of directions ``g_j`` (one per
    feature ``f_j`` of ``features``) adds, at every edited token, ``Σ_j Δc_j · d(g_j)`` where
    ``Δc_j = new_code(c_{f_j}) − c_{f_j}`` is the edit of ``f_j``'s own code and ``d(g)`` is ``g``'s decoder
    direction rescaled to ``f_j``'s decoder norm. ``g_j = f_j`` for every ``j`` is the edit of the set itself
    (exactly :func:`sae_splice` with ``intervention.code_edit(features)``); random ``g_j`` give a control that
    moves every token by the same per-feature amounts along other directions.

    After a forward pass :attr:`applied_norm` ``[b]`` holds each row's ``Σ_tokens ‖Δh‖``.
    """

    def __init__(
        self,
        sae: SparseAutoencoder,
        features: Sequence[int],
        intervention: Intervention,
        targets: Sequence[Sequence[int] | None],
        mask: np.ndarray,
    ) -> None:
        import torch

        d_sae = int(sae.W_dec.shape[0])
        self.features = [int(f) for f in features]
        if not self.features:
            raise ConfigError("a set edit needs at least one feature")
        for g in [*self.features, *(x for t in targets if t is not None for x in t)]:
            if not 0 <= int(g) < d_sae:
                raise ConfigError(f"feature must be between 0 and {d_sae - 1}; got {g}")
        if len(targets) != mask.shape[0]:
            raise ModelError(f"{len(targets)} row targets for a token mask of {mask.shape[0]} rows")
        for t in targets:
            if t is not None and len(t) != len(self.features):
                raise ConfigError(f"a control set needs {len(self.features)} directions; got {len(t)}")
        self.sae, self.intervention, self.targets, self.mask = sae, intervention, list(targets), mask
        w = sae.W_dec.detach()
        scale = float(sae.cfg.input_scale)
        norm_f = w[self.features].norm(dim=-1)  # [k]
        rows = []
        for t in self.targets:
            if t is None:
                rows.append(torch.zeros((len(self.features), w.shape[1]), dtype=w.dtype))
            else:
                g = torch.as_tensor([int(x) for x in t])
                rows.append(w[g] * (norm_f / w[g].norm(dim=-1).clamp_min(1e-12))[:, None] / scale)
        self.directions = torch.stack(rows)  # [b, k, d_in]
        self.applied_norm = np.zeros(len(self.targets), np.float64)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        import torch

        m = _as_mask(self.mask, hidden)
        edit_rows = torch.tensor([t is not None for t in self.targets], dtype=torch.bool, device=m.device)
        m = m & edit_rows[:, None]
        if not bool(m.any()):
            return hidden
        h = hidden[m]  # [n, d]
        row_of = m.nonzero()[:, 0]
        with torch.inference_mode():
            c = self.sae.encode(h)[:, self.features]  # [n, k]
            dc = self.intervention.new_code(c) - c  # [n, k]
            dirs = self.directions.to(device=h.device, dtype=h.dtype)[row_of]  # [n, k, d]
            delta = (dc.to(h.dtype)[:, :, None] * dirs).sum(1)
        norms = delta.norm(dim=-1).double().cpu().numpy()
        self.applied_norm = np.bincount(row_of.cpu().numpy(), weights=norms, minlength=len(self.targets))
        out = hidden.clone()
        out[m] = h + delta
        return out
