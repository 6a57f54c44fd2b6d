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


def test_the_sparse_freeze_places_rows_as_the_sort_did() -> None:
    """Rows added once each move whole to their place; a row added in two pieces keeps its pieces in order."""
    import scipy.sparse as sp

    from kgalign.neural.concepts import SparseCodes

    rng = np.random.default_rng(4)
    dense = np.where(rng.random((30, 20)) < 0.25, rng.random((30, 20)) + 0.1, 0.0).astype(np.float32)
    order = rng.permutation(30)
    sc = SparseCodes(32, 20)
    for part in np.array_split(order, 4):
        sc.add(part, sp.csr_matrix(dense[part]))
    sc.freeze()
    np.testing.assert_array_equal(sc.take(range(30)), dense)
    assert (sc.length[30:] == 0).all()
    twice = SparseCodes(3, 20)  # context 1 in two pieces (features 0-9, then 10-19)
    twice.add(np.array([1, 0]), sp.csr_matrix(np.vstack([dense[1] * (np.arange(20) < 10), dense[0]])))
    twice.add(np.array([1, 2]), sp.csr_matrix(np.vstack([dense[1] * (np.arange(20) >= 10), dense[2]])))
    twice.freeze()
    np.testing.assert_array_equal(twice.take(range(3)), dense[:3])


def _reference_table(owner, para, codes, state, d, background):
    """The per-symbol loops the aggregation replaced, written plainly."""
    from kgalign.neural.concepts import SUPPORT_SIZE, support_stability
    from kgalign.neural.reliability import concept_reliability

    out = {k: [] for k in ("vectors", "ids", "weights", "freq", "stab", "strength", "rel")}
    for j in range(owner.max() + 1):
        rows = np.flatnonzero(owner == j)
        c = codes[rows]
        mean = c.sum(0) / np.float32(len(rows))
        active = np.flatnonzero(mean > 0)
        top = active[np.argsort(-mean[active], kind="stable")[:SUPPORT_SIZE]]
        ids = np.full(SUPPORT_SIZE, -1, np.int32)
        w = np.zeros(SUPPORT_SIZE, np.float32)
        f = np.zeros(SUPPORT_SIZE, np.float32)
        ids[: len(top)], w[: len(top)] = top, mean[top]
        f[: len(top)] = (c > 0).sum(0)[top].astype(np.float64) / len(rows)
        p = rows[para[rows]]
        out["vectors"].append(mean)
        out["ids"].append(ids)
        out["weights"].append(w)
        out["freq"].append(f)
        out["stab"].append(support_stability(codes[p]))
        out["strength"].append(mean.max())
        out["rel"].append(concept_reliability(state[p], background=background, scale=0.7) if len(p) else 0.0)
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_whole_step_aggregation_equals_the_per_symbol_loops(seed) -> None:
    """Supports (ties included: lower feature first), firing fractions, stabilities (one, none and many
    paraphrase contexts, empty codes) and reliabilities of a whole step at once are the per-symbol values."""
    import scipy.sparse as sp

    from kgalign.neural.concepts import SparseCodes, _aggregate, _reliabilities
    from kgalign.neural.probing import ProbeContext
    from kgalign.symbolic.symbols import Symbol

    rng = np.random.default_rng(seed)
    d, n = 96, 40
    counts = rng.integers(1, 9, n)
    counts[0] = 1
    owner = np.repeat(np.arange(n), counts)
    m = len(owner)
    para = rng.random(m) < 0.6
    para[np.flatnonzero(owner == 1)] = False  # a symbol with no paraphrase context
    # quantised values: many exact ties between features and between symbols
    codes = np.where(rng.random((m, d)) < 0.4, rng.integers(1, 4, (m, d)) / 4, 0.0).astype(np.float32)
    codes[np.flatnonzero(owner == 2)] = 0.0  # a symbol whose codes are all zero
    state = np.where(rng.random((m, d)) < 0.3, rng.random((m, d)), 0.0).astype(np.float32)
    state[~para] = 0.0
    background = rng.random(d).astype(np.float32) * 0.1
    sc, st = SparseCodes(m, d), SparseCodes(m, d)
    for part in np.array_split(rng.permutation(m), 5):
        sc.add(part, sp.csr_matrix(codes[part]))
        st.add(part, sp.csr_matrix(state[part]))
    sc.freeze()
    st.freeze()
    part_syms = [Symbol(f"http://x/{j}", "g", "class", f"s{j}") for j in range(n)]
    ctxs = [ProbeContext("t", 0, 1, "paraphrase" if p else "definition", paraphrase=bool(p)) for p in para]
    t = _aggregate(part_syms, ctxs, owner.tolist(), sc, d)
    ref = _reference_table(owner, para, codes, state, d, background)
    np.testing.assert_array_equal(t.vectors, ref["vectors"])
    np.testing.assert_array_equal(t.support_ids, ref["ids"].astype(np.int32))
    np.testing.assert_array_equal(t.support_weights, ref["weights"])
    np.testing.assert_array_equal(t.support_freq, ref["freq"])
    np.testing.assert_array_equal(t.stability, ref["stab"])
    np.testing.assert_array_equal(t.strength, ref["strength"])
    assert t.stability[1] == 0.0 and t.support_ids[2, 0] == -1
    rel = _reliabilities(st, ctxs, owner.tolist(), n, background, 0.7)
    np.testing.assert_array_equal(rel, ref["rel"])


@pytest.mark.parametrize("m", [1, 3, 16])
def test_top_entries_are_a_stable_sort_of_each_row(m) -> None:
    """Whatever order a row's entries are stored in: its m strongest positive entries, ties to the lower feature."""
    from kgalign.neural.concepts import _top_entries

    rng = np.random.default_rng(m)
    lens = rng.integers(0, 30, 25)
    indptr = np.r_[0, np.cumsum(lens)]
    cols = np.concatenate([rng.permutation(40)[:k] for k in lens]).astype(np.int64)  # unsorted within rows
    vals = (rng.integers(-1, 4, len(cols)) / 2).astype(np.float32)  # ties, zeros and negatives
    vals[indptr[7] + 2] = np.nan  # a NaN is never taken (as `> 0` never takes it)
    rows = np.array([3, 0, 24, 7, 7, 11])
    w, r, c, v = _top_entries(indptr[rows], np.diff(indptr)[rows], cols, vals, m, block=4)
    for k, row in enumerate(rows):
        dense = np.zeros(40, np.float32)
        dense[cols[indptr[row]:indptr[row + 1]]] = vals[indptr[row]:indptr[row + 1]]
        active = np.flatnonzero(dense > 0)
        top = active[np.argsort(-dense[active], kind="stable")[:m]]
        assert c[w == k].tolist() == top.tolist() and r[w == k].tolist() == list(range(len(top)))
        np.testing.assert_array_equal(v[w == k], dense[top])
