"""The block before the read computed at the needed tokens only (BaseModel._capture with ``needed``), on the
real default model (all-MiniLM-L6-v2) and on a tiny random BERT written to a temporary directory: the needed
rows equal the model's own forward, the others are zero, and any model or hook it cannot honour gets the full
forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kgalign.neural.model as km
from kgalign.neural.model import BaseModel, ModelSpec, load_base_model

TEXTS = ["A dog barked all night.", "hello", "the quick brown fox jumps over the lazy dog", "bank of a river",
         "a contract is a kind of agreement that the court enforces"]


def _batch(model: BaseModel, seed: int = 0, share: float = 0.3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    (_, items), = model.batches(TEXTS, 64)
    ids, mask = model._pad(items)
    g = torch.Generator().manual_seed(seed)
    needed = (torch.rand(ids.shape, generator=g) < share) & mask.bool()
    needed[1] = False  # a text none of whose tokens is read
    needed[0, 1] = True
    return ids, mask, needed


def _full_and_partial(model: BaseModel, ids, mask, needed) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return model._capture(ids, mask), model._capture(ids, mask, needed)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> BaseModel:
    """A 3-block random BERT in a local directory, with MiniLM's tokenizer."""
    from transformers import BertConfig, BertModel

    from tests.neural.test_model import tiny_model_dir

    d = tiny_model_dir(tmp_path_factory, "tiny-bert")
    config = BertConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                        num_attention_heads=4, max_position_embeddings=128)
    BertModel(config).save_pretrained(d, safe_serialization=True)
    return load_base_model(ModelSpec(str(d), layer=2))


@pytest.mark.parametrize("layer", [1, 3, 4, 6])
def test_needed_rows_equal_the_full_forward_on_minilm(minilm: BaseModel, layer: int) -> None:
    m = minilm.at_layer(layer)
    assert m._partial_block() == layer - 1
    ids, mask, needed = _batch(m, seed=layer)
    full, part = _full_and_partial(m, ids, mask, needed)
    np.testing.assert_allclose(part[needed].numpy(), full[needed].numpy(), rtol=1e-5, atol=1e-5)
    assert not part[~needed].any()
    assert m.model.__dict__["_kgalign_partial"][layer - 1] is True  # checked against the full forward once


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_needed_rows_equal_the_full_forward_on_a_tiny_bert(tiny_bert: BaseModel, layer: int) -> None:
    m = tiny_bert.at_layer(layer)
    for seed in range(3):
        ids, mask, needed = _batch(m, seed=seed, share=0.2 + 0.3 * seed)
        full, part = _full_and_partial(m, ids, mask, needed)
        np.testing.assert_allclose(part[needed].numpy(), full[needed].numpy(), rtol=1e-5, atol=1e-5)
        assert not part[~needed].any()


def test_the_embeddings_output_and_other_models_run_the_full_forward(minilm: BaseModel, tmp_path) -> None:
    m = minilm.at_layer(0)
    assert m._partial_block() is None
    ids, mask, needed = _batch(m)
    full, part = _full_and_partial(m, ids, mask, needed)
    assert torch.equal(full, part)


def test_a_hook_on_the_block_gets_the_full_forward(minilm: BaseModel) -> None:
    """A user's hook (or a replacement) on the block, or on the read, sees every token, as in the model's own
    forward: the partial block is not used while it is there."""
    m = minilm.at_layer(3)
    ids, mask, needed = _batch(m)
    handle = m.blocks[2].output.register_forward_hook(lambda mod, a, out: out + 1.0)
    try:
        assert m._partial_block() is None
        full, part = _full_and_partial(m, ids, mask, needed)
        assert torch.equal(full, part) and part[~needed & mask.bool()].abs().sum() > 0
    finally:
        handle.remove()
    handle = m.blocks[3].register_forward_pre_hook(lambda mod, args: None)
    try:
        assert m._partial_block() is None
    finally:
        handle.remove()
    assert m._partial_block() == 2


def test_a_layer_that_only_looks_like_bert_is_found_out(tiny_bert: BaseModel, monkeypatch) -> None:
    """The first partial block per model and block is checked against the full forward; one that disagrees
    is never used again (the full forward answers, then and after)."""
    m = tiny_bert.at_layer(2)
    verdicts = m.model.__dict__.setdefault("_kgalign_partial", {})
    saved = dict(verdicts)
    verdicts.clear()
    real = km._bert_layer_at
    monkeypatch.setattr(km, "_bert_layer_at", lambda block, x, mask, needed: real(block, x, mask, needed) * 1.01)
    try:
        ids, mask, needed = _batch(m)
        full, part = _full_and_partial(m, ids, mask, needed)
        assert torch.equal(full, part)
        assert verdicts[1] is False and m._partial_block() is None
    finally:
        verdicts.clear()
        verdicts.update(saved)


def test_the_model_in_training_mode_runs_the_full_forward(tiny_bert: BaseModel) -> None:
    m = tiny_bert
    m.model.train()
    try:
        assert m._partial_block() is None
    finally:
        m.model.eval()
    assert m._partial_block() == m.layer - 1


def test_probing_codes_match_the_full_forward(minilm: BaseModel, monkeypatch) -> None:
    """Embed's readout (the shipped SAE, mention and mention-state positions) with and without the partial
    block: the same codes to float rounding."""
    from kgalign.neural.concepts import context_codes_at
    from kgalign.neural.probing import ProbeContext
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(km.Path(km.__file__).parents[1] / "data" / "sae" / "minilm-l6-topk")
    contexts = []
    for text in TEXTS:
        word = text.split()[-1].strip(".")
        contexts.append(ProbeContext(text, text.index(word), text.index(word) + len(word), "label", False))
    contexts.append(ProbeContext(TEXTS[2], 0, len(TEXTS[2]), "label", True))
    positions = ("mention", "mention_state")
    part = context_codes_at(minilm, sae, contexts, positions)
    monkeypatch.setattr(km, "PARTIAL_LAST_BLOCK", False)
    full = context_codes_at(minilm, sae, contexts, positions)
    for p in positions:
        assert part[p].any(axis=1).all()
        np.testing.assert_allclose(part[p], full[p], rtol=1e-4, atol=1e-5)
