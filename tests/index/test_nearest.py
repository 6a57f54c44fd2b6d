"""Each symbol's cosine to its nearest other symbol (the pruning report's isolation test)."""

from __future__ import annotations

import numpy as np

from kgalign.index.vectors import nearest_other_similarity, normalise_rows


def _brute(x: np.ndarray) -> np.ndarray:
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    return s.max(1)


def test_blocks_give_the_brute_force_answer_and_skip_only_the_row_itself():
    rng = np.random.default_rng(0)
    x = normalise_rows(rng.random((700, 256)) * (rng.random((700, 256)) < 0.05))
    x[5] = x[6]  # a duplicate row: its nearest other row is at cosine 1
    for block in (1, 128, 699, 4096):
        got = nearest_other_similarity(x, block=block)
        np.testing.assert_allclose(got, _brute(x), atol=1e-5)
    assert got[5] > 0.9999 and got[6] > 0.9999


def test_lone_and_empty_inputs():
    assert nearest_other_similarity(np.zeros((0, 8), np.float32)).shape == (0,)
    assert nearest_other_similarity(normalise_rows(np.ones((1, 8)))).tolist() == [-1.0]
    two = normalise_rows(np.array([[1.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(nearest_other_similarity(two), [2 ** -0.5] * 2, atol=1e-6)
