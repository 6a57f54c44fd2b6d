"""Sparse autoencoders: architectures, SAELens-compatible I/O.

>>> from kgalign.neural.sae import make_config, build_sae
>>> sae = build_sae(make_config("topk", d_in=16, d_sae=64, k=4))
>>> import torch
>>> codes = sae.encode(torch.randn(3, 16))
>>> tuple(codes.shape), int((codes > 0).sum(dim=-1).max()) <= 4
((3, 64), True)
"""

from __future__ import annotations

from kgalign.neural.sae.base import SAEConfig, SparseAutoencoder, TrainStepOutput
from kgalign.neural.sae.io import config_from_dict, config_to_dict, load_feature_density, load_sae, save_sae
from kgalign.neural.sae.jumprelu import JumpReLUSAE, JumpReLUSAEConfig
from kgalign.neural.sae.registry import (
    ARCHITECTURES,
    build_sae,
    get_architecture,
    known_architectures,
    make_config,
)
from kgalign.neural.sae.standard import StandardSAE, StandardSAEConfig
from kgalign.neural.sae.topk import TopKSAE, TopKSAEConfig

__all__ = [
    "ARCHITECTURES",
    "JumpReLUSAE",
    "JumpReLUSAEConfig",
    "SAEConfig",
    "SparseAutoencoder",
    "StandardSAE",
    "StandardSAEConfig",
    "TopKSAE",
    "TopKSAEConfig",
    "TrainStepOutput",
    "build_sae",
    "config_from_dict",
    "config_to_dict",
    "get_architecture",
    "known_architectures",
    "load_feature_density",
    "load_sae",
    "make_config",
    "save_sae",
]
