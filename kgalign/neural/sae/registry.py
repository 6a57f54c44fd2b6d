"""The one place that maps an SAE architecture name to its config class and module class."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from kgalign.errors import ConfigError
from kgalign.neural.sae.base import SAEConfig, SparseAutoencoder
from kgalign.neural.sae.jumprelu import JumpReLUSAE, JumpReLUSAEConfig
from kgalign.neural.sae.standard import StandardSAE, StandardSAEConfig
from kgalign.neural.sae.topk import TopKSAE, TopKSAEConfig

#: architecture name -> (config class, module class)
ARCHITECTURES: dict[str, tuple[type[SAEConfig], type[SparseAutoencoder]]] = {
    "jumprelu": (JumpReLUSAEConfig, JumpReLUSAE),
    "standard": (StandardSAEConfig, StandardSAE),
    "topk": (TopKSAEConfig, TopKSAE),
}


def known_architectures() -> list[str]:
    return sorted(ARCHITECTURES)


def get_architecture(name: str) -> tuple[type[SAEConfig], type[SparseAutoencoder]]:
    """``(config class, module class)`` of an architecture; an unknown name lists the known ones.

    >>> get_architecture("topk")[1].__name__
    'TopKSAE'
    """
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        known = known_architectures()
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown SAE architecture {name!r}{hint} (known: {', '.join(known)})") from None


def make_config(architecture: str, **fields: Any) -> SAEConfig:
    """The config of ``architecture`` built from keyword fields; unknown fields are named.

    >>> make_config("topk", d_in=8, d_sae=32, k=4).k
    4
    """
    config_class, _ = get_architecture(architecture)
    allowed = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ConfigError(
            f"{architecture!r} SAE config has no field(s) {', '.join(unknown)} "
            f"(fields: {', '.join(sorted(allowed))})"
        )
    return config_class(architecture=architecture, **fields)


def build_sae(cfg: SAEConfig, *, seed: int | None = 0) -> SparseAutoencoder:
    """A freshly initialised SAE of ``cfg``'s architecture."""
    _, module_class = get_architecture(cfg.architecture)
    return module_class(cfg, seed=seed)
