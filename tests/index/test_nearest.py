"""Each symbol's cosine to its nearest other symbol (the pruning report's isolation test)."""

from __future__ import annotations

import numpy as np

from kgalign.index.vectors import nearest_other_similarity, normalise_rows


def _brute(x: np.ndarray) -> np.ndarray:
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    return s.max(1)


def _clustered(n: int, d: int, centres: int, seed: int) -> np.ndarray:
    """Sparse non-negative rows (as SAE concept vectors are) around ``centres`` sparse centres."""
    rng = np.random.default_rng(seed)
    c = rng.random((centres, d)) * (rng.random((centres, d)) < 0.05)
    x = c[rng.integers(0, centres, n)] + rng.random((n, d)) * (rng.random((n, d)) < 0.01)
    return normalise_rows(x)


def test_exact_path_is_the_brute_force_answer_and_skips_only_the_row_itself():
    x = _clustered(700, 256, 30, 0)
    x[5] = x[6]  # a duplicate row: its nearest other row is at cosine 1
    got = nearest_other_similarity(x, block=128)
    np.testing.assert_allclose(got, _brute(x), atol=1e-5)
    assert got[5] > 0.9999 and got[6] > 0.9999


def test_projected_candidates_find_the_nearest_row_and_never_overstate_it():
    x = _clustered(3000, 512, 40, 1)
    exact = _brute(x)
    approx = nearest_other_similarity(x, exact_limit=0, rank=64, candidates=16, block=256)
    assert (approx <= exact + 1e-5).all()  # always the cosine to some other row
    assert np.mean(np.abs(approx - exact) < 1e-5) >= 0.95  # measured 0.963
    assert float(np.mean(exact - approx)) < 0.002
    # unstructured rows (no low-rank structure at all): still a lower bound, and close on the whole
    r = normalise_rows(np.random.default_rng(2).random((2500, 512)) * (np.random.default_rng(3).random((2500, 512)) < 0.03))
    exact_r = _brute(r)
    approx_r = nearest_other_similarity(r, exact_limit=0, rank=64, candidates=16)
    assert (approx_r <= exact_r + 1e-5).all()
    assert float(np.median(exact_r - approx_r)) < 0.05


def test_lone_and_empty_inputs():
    assert nearest_other_similarity(np.zeros((0, 8), np.float32)).shape == (0,)
    assert nearest_other_similarity(normalise_rows(np.ones((1, 8)))).tolist() == [-1.0]
    two = normalise_rows(np.array([[1.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(nearest_other_similarity(two), [2 ** -0.5] * 2, atol=1e-6)
