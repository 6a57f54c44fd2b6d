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


@pytest.mark.parametrize("cfg", [
    {"architecture": "topk", "k": 7},
    {"architecture": "topk", "k": 7, "rescale_acts_by_decoder_norm": True},
    {"architecture": "jumprelu"},
])
def test_positive_codes_keep_every_positive_pre_activation(cfg):
    """The ``positive`` readout: the SAE's own codes are a subset of it, with the same values, and every other
    latent it keeps has a positive (ranked) pre-activation the sparsity rule cut."""
    cfg = dict(cfg)
    sae = build_sae(make_config(cfg.pop("architecture"), d_in=24, d_sae=96, **cfg), seed=5)
    with torch.no_grad():
        sae.W_dec.mul_(torch.linspace(0.5, 2.0, 96)[:, None])
        sae.b_enc.add_(0.05)
        if hasattr(sae, "threshold"):
            sae.threshold.fill_(0.3)
    x = np.random.default_rng(1).normal(size=(40, 24)).astype(np.float32)
    own = encode_codes(sae, x)
    pos = sparse_codes(sae, x, "positive").toarray()
    assert (pos >= 0).all() and (pos > 0).sum() > (own > 0).sum()  # more latents than the sparsity rule keeps
    kept = own > 0
    np.testing.assert_allclose(pos[kept], own[kept], rtol=1e-6)  # the SAE's codes, unchanged, among them
    if "k" in cfg:  # the cut ones rank below the k-th: positive, but not above any kept value of their row
        cut = (pos > 0) & ~kept
        row_min = np.where(kept, own, np.inf).min(1, keepdims=True)
        assert (pos[cut] <= np.broadcast_to(row_min, pos.shape)[cut] + 1e-6).all()


def test_readout_codes_round_trip_and_bad_names_are_refused():
    from kgalign.errors import EmbedError
    from kgalign.neural.concepts import Readout

    r = Readout(position="mention", centre=True, activation="log", codes="positive")
    assert r.to_dict()["codes"] == "positive"
    assert "codes" not in Readout().to_dict()  # the SAE's own codes: the original readout, unchanged in cfg.json
    with pytest.raises(EmbedError, match="readout codes must be one of sae, positive; got 'all'"):
        Readout(codes="all")


@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (3, 7), (200, 512)])
def test_the_fast_dense_to_csr_conversion_is_scipys(shape):
    """``_csr`` (the positive readout's conversion) gives scipy's own arrays: same dtypes, same order, NaN kept."""
    import scipy.sparse as sp

    from kgalign.neural.concepts import _csr

    d = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    d[d < 0.3] = 0
    if d.size:
        d.flat[0] = np.nan
    got, want = _csr(d), sp.csr_matrix(d)
    assert got.shape == want.shape
    assert got.indices.dtype == want.indices.dtype and got.indptr.dtype == want.indptr.dtype
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data, equal_nan=True)
