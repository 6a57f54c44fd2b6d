"""The on-disk activation cache: round trip, reuse, resume after an interruption, bounds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kgalign.errors import ConfigError, EmbedError
from kgalign.neural.harvest import TOKEN_DTYPE, ActivationCache, HarvestProgress, cache_dir_for, harvest
from kgalign.neural.model import BaseModel, ModelSpec, load_base_model

TEXTS = [
    "a member of the genus Canis that has been domesticated by man",
    "the dog barked all night",
    "feline mammal usually having thick soft fur",
    "",
    "a young person of either sex",
    "she writes books for children",
    "an edible fruit",
    "the act of swimming",
    "a projection out from one end",
    "make more intense, stronger, or more marked",
    "ok",
]


@pytest.fixture(scope="module")
def minilm() -> BaseModel:
    return load_base_model(ModelSpec())


def test_round_trip_matches_model_activations(minilm: BaseModel, tmp_path: Path) -> None:
    cache = harvest(minilm, TEXTS, tmp_path, batch_size=4, progress=False)
    assert cache.done and cache.path.parent.name == "all-minilm-l6-v2-L4"
    reopened = ActivationCache.open(cache.path)
    acts, tokens = reopened.activations, reopened.tokens
    assert isinstance(acts, np.memmap) and acts.dtype == np.float32 and acts.shape == (reopened.n_tokens, 384)
    assert tokens.dtype == TOKEN_DTYPE and len(tokens) == reopened.n_tokens
    assert reopened.texts == TEXTS
    expected = minilm.activations(TEXTS)
    n_expected = sum(int((~a.special_mask).sum()) for a in expected)
    assert reopened.n_tokens == n_expected
    for i, a in enumerate(expected):
        rows = np.flatnonzero(tokens["snippet"] == i)
        keep = ~a.special_mask
        np.testing.assert_array_equal(tokens["position"][rows], np.flatnonzero(keep))
        np.testing.assert_array_equal(tokens["token_id"][rows], a.input_ids[keep])
        np.testing.assert_array_equal(tokens["start"][rows], a.offsets[keep, 0])
        np.testing.assert_allclose(acts[rows], a.hidden[keep], atol=1e-5)
    # token rows are in text order, and the character spans point into the texts
    assert (np.diff(tokens["snippet"]) >= 0).all()
    first = tokens[0]
    assert TEXTS[first["snippet"]][first["start"] : first["end"]] == "a"
    meta = json.loads((cache.path / "meta.json").read_text())
    assert meta["done"] and meta["n_tokens"] == n_expected and meta["texts_done"] == len(TEXTS)
    assert meta["model"] == "all-MiniLM-L6-v2" and meta["layer"] == 4 and meta["tokens_per_second"] > 0
    assert np.load(cache.path / "tokens.npy").shape == (n_expected,)  # a valid .npy file


def test_completed_cache_is_reused_without_computing(
    minilm: BaseModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = harvest(minilm, TEXTS[:3], tmp_path, progress=False)

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed a finished cache")

    monkeypatch.setattr(minilm, "activations", boom)
    again = harvest(minilm, TEXTS[:3], tmp_path, progress=False)
    assert again.path == first.path and again.n_tokens == first.n_tokens
    # other texts, other settings: another key
    assert cache_dir_for(minilm, TEXTS[:2], tmp_path) != first.path
    assert cache_dir_for(minilm, TEXTS[:3], tmp_path, dtype="float16") != first.path
    assert cache_dir_for(minilm.at_layer(3), TEXTS[:3], tmp_path) != first.path


def test_resume_after_interruption_equals_uninterrupted_run(
    minilm: BaseModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = harvest(minilm, TEXTS, tmp_path / "a", batch_size=2, shard_texts=3, progress=False)

    seen: list[HarvestProgress] = []

    def interrupt(p: HarvestProgress) -> None:
        seen.append(p)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        harvest(
            minilm, TEXTS, tmp_path / "b", batch_size=2, shard_texts=3, progress=False, on_shard=interrupt
        )
    partial = ActivationCache.open(cache_dir_for(minilm, TEXTS, tmp_path / "b"))
    assert not partial.done and partial.meta["texts_done"] == 6 == seen[-1].texts_done
    assert partial.n_tokens == seen[-1].tokens_done and len(partial.activations) == partial.n_tokens
    # a kill in the middle of the next shard leaves a torn tail behind the recorded progress
    with open(partial.activations_path, "ab") as fh:
        fh.write(b"\x01" * 1000)
    with open(partial.path / "tokens.npy", "ab") as fh:
        fh.write(b"\x02" * 7)

    computed: list[str] = []
    real = minilm.activations

    def counting(texts: list[str], batch_size: int = 32) -> list:
        computed.extend(texts)
        return real(texts, batch_size=batch_size)

    monkeypatch.setattr(minilm, "activations", counting)
    resumed = harvest(minilm, TEXTS, tmp_path / "b", batch_size=2, shard_texts=3, progress=False)
    assert computed == TEXTS[6:]  # only what was missing
    assert resumed.done and resumed.n_tokens == straight.n_tokens
    np.testing.assert_array_equal(np.asarray(resumed.activations), np.asarray(straight.activations))
    np.testing.assert_array_equal(resumed.tokens, straight.tokens)
    assert resumed.activations_path.stat().st_size == straight.activations_path.stat().st_size


def test_max_tokens_and_float16_storage(minilm: BaseModel, tmp_path: Path) -> None:
    full = harvest(minilm, TEXTS, tmp_path, progress=False)
    capped = harvest(minilm, TEXTS, tmp_path, max_tokens=20, dtype="float16", shard_texts=2, progress=False)
    assert capped.done and capped.n_tokens == 20 and capped.meta["texts_done"] < len(TEXTS)
    assert capped.activations.dtype == np.float16 and capped.activations_path.suffix == ".f16"
    assert capped.activations_path.stat().st_size == 20 * 384 * 2
    np.testing.assert_allclose(capped.to_array(), full.to_array(limit=20), atol=2e-2, rtol=1e-2)
    np.testing.assert_array_equal(capped.tokens, full.tokens[:20])


def test_special_tokens_kept_on_request(minilm: BaseModel, tmp_path: Path) -> None:
    cache = harvest(minilm, TEXTS[:2], tmp_path, skip_special=False, progress=False)
    ids = cache.tokens["token_id"]
    assert ids[0] == minilm.tokenizer.cls_token_id and ids[-1] == minilm.tokenizer.sep_token_id


def test_bad_inputs(minilm: BaseModel, tmp_path: Path) -> None:
    with pytest.raises(EmbedError, match="corpus is empty"):
        harvest(minilm, [], tmp_path, progress=False)
    with pytest.raises(ConfigError, match="float32, float16"):
        harvest(minilm, TEXTS, tmp_path, dtype="int8", progress=False)
    with pytest.raises(EmbedError, match="not an activation cache"):
        ActivationCache.open(tmp_path)
