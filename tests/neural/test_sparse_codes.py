"""The sparse code path embed reads (kgalign.neural.concepts.sparse_codes) gives exactly the SAE's codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgalign.neural.concepts import encode_codes, sparse_codes
from kgalign.neural.sae.registry import build_sae, make_config


@pytest.mark.parametrize("cfg", [
    {"architecture": "topk", "k": 7},
    {"architecture": "topk", "k": 7, "rescale_acts_by_decoder_norm": True},
    {"architecture": "standard"},
    {"architecture": "jumprelu"},
])
def test_sparse_codes_equal_the_dense_encode(cfg):
    cfg = dict(cfg)
    sae = build_sae(make_config(cfg.pop("architecture"), d_in=24, d_sae=96, **cfg), seed=3)
    with torch.no_grad():
        sae.W_dec.mul_(torch.linspace(0.5, 2.0, 96)[:, None])  # unequal decoder norms: rescaling matters
        sae.b_enc.add_(0.05)
    x = np.random.default_rng(0).normal(size=(50, 24)).astype(np.float32)
    dense = encode_codes(sae, x)
    got = sparse_codes(sae, x)
    assert got.shape == dense.shape
    np.testing.assert_allclose(got.toarray(), dense, rtol=1e-6, atol=1e-7)
    assert (got.data != 0).all()  # no stored zeros: a context's support is its stored entries
    if "k" in cfg:
        assert (np.diff(got.indptr) <= 7).all()
