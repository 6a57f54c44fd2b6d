"""Base-model loading and residual-stream hooks, on the real default model (all-MiniLM-L6-v2) and on a
tiny random causal model written to a temporary directory."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from kgalign.errors import ConfigError, ModelError
from kgalign.neural.model import (
    DEFAULT_MODEL,
    BaseModel,
    ModelSpec,
    load_base_model,
    locate_mention,
    resolve_model_path,
)

TEXTS = ["A dog barked all night.", "hello", "the quick brown fox jumps over the lazy dog"]


@pytest.fixture(scope="module")
def minilm() -> BaseModel:
    return load_base_model(ModelSpec())


def _reference_hidden_states(
    model: BaseModel, texts: list[str]
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    enc = model.tokenizer(
        texts, padding=True, truncation=True, max_length=model.max_length, return_tensors="pt"
    )
    with torch.inference_mode():
        out = model.model(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True
        )
    return out.hidden_states, enc["attention_mask"]


# ------------------------------------------------------------------------------------------------ spec


def test_default_spec_and_model(minilm: BaseModel) -> None:
    assert minilm.name == DEFAULT_MODEL
    assert (minilm.layer, minilm.n_layers, minilm.d_model, minilm.is_causal) == (4, 6, 384, False)
    assert minilm.max_length == 256
    assert len(minilm.fingerprint) == 12


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"dtype": "int8"}, "float32, bfloat16, float16"),
        ({"layer": -1}, "layer must be"),
        ({"device": "tpu"}, "cpu, cuda"),
        ({"max_length": 1}, "max_length"),
        ({"name_or_path": " "}, "minilm"),
    ],
)
def test_spec_validation_names_allowed_values(kwargs: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        ModelSpec(**kwargs)


def test_spec_dict_round_trip() -> None:
    spec = ModelSpec("smollm2", layer=10, max_length=64)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError, match="unknown model setting"):
        ModelSpec.from_dict({"name": "x"})


def test_layer_out_of_range(minilm: BaseModel) -> None:
    with pytest.raises(ConfigError, match="between 0 .* and 6"):
        minilm.at_layer(7)


# --------------------------------------------------------------------------------------------- reading


@pytest.mark.parametrize("layer", [0, 1, 4, 6])
def test_hook_reads_hidden_states_at_layer(minilm: BaseModel, layer: int) -> None:
    """The proof that the hook reads the right tensor: it equals ``output_hidden_states[layer]``."""
    model = minilm.at_layer(layer)
    hidden_states, mask = _reference_hidden_states(model, TEXTS)
    acts = model.activations(TEXTS, batch_size=2)  # length-sorted batches, different padding
    for i, a in enumerate(acts):
        n = int(mask[i].sum())
        assert a.n_tokens == n
        assert a.hidden.dtype == np.float32 and a.hidden.shape == (n, 384)
        np.testing.assert_allclose(a.hidden, hidden_states[layer][i, :n].numpy(), atol=1e-5, rtol=1e-5)


def test_token_metadata(minilm: BaseModel) -> None:
    a = minilm.activations(["A dog barked"])[0]
    assert a.input_ids.tolist()[0] == minilm.tokenizer.cls_token_id
    assert a.special_mask.tolist() == [True, False, False, False, True]
    assert a.offsets.tolist() == [[0, 0], [0, 1], [2, 5], [6, 12], [0, 0]]
    assert a.tokens_of("dog") == [2]


def test_truncated_forward_computes_only_blocks_before_layer(minilm: BaseModel) -> None:
    calls = [0] * minilm.n_layers
    handles = [
        block.register_forward_hook(lambda m, a, o, i=i: calls.__setitem__(i, calls[i] + 1))
        for i, block in enumerate(minilm.blocks)
    ]
    try:
        minilm.at_layer(2).activations(TEXTS[:1])
        assert calls == [1, 1, 0, 0, 0, 0]
        minilm.at_layer(6).activations(TEXTS[:1])
        assert calls == [2, 2, 1, 1, 1, 1]
    finally:
        for h in handles:
            h.remove()


def test_long_text_is_truncated(minilm: BaseModel) -> None:
    a = minilm.activations(["word " * 1000])[0]
    assert a.n_tokens == 256


def test_empty_text_keeps_its_place(minilm: BaseModel) -> None:
    acts = minilm.activations(["dog", "", "cat"])
    assert [a.text for a in acts] == ["dog", "", "cat"]
    assert acts[1].n_tokens == 2  # [CLS] [SEP]


# ------------------------------------------------------------------------------------------- replacing


def test_replacement_identity_and_effect(minilm: BaseModel) -> None:
    plain = minilm.forward(TEXTS)
    same = minilm.run_with_replacement(TEXTS, lambda h: h)
    torch.testing.assert_close(same.last_hidden_state, plain.last_hidden_state)
    seen: list[tuple[int, ...]] = []

    def zero(h: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(h.shape))
        return torch.zeros_like(h)

    changed = minilm.run_with_replacement(TEXTS, zero)
    assert seen == [(3, 11, 384)]
    assert not torch.allclose(changed.last_hidden_state, plain.last_hidden_state)
    # the hook is gone afterwards
    torch.testing.assert_close(minilm.forward(TEXTS).last_hidden_state, plain.last_hidden_state)


def test_replacement_with_wrong_shape_is_a_model_error(minilm: BaseModel) -> None:
    with pytest.raises(ModelError, match="shape"):
        minilm.run_with_replacement(TEXTS, lambda h: h[:, :1])


def test_sentence_embedding(minilm: BaseModel) -> None:
    e = minilm.sentence_embedding(
        ["A dog is barking.", "A puppy barks loudly.", "Stock prices fell sharply."]
    )
    assert e.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_token_logprobs_needs_a_causal_model(minilm: BaseModel) -> None:
    with pytest.raises(ModelError, match="not a causal"):
        minilm.token_logprobs(TEXTS)


# -------------------------------------------------------------------------------------------- mentions


@pytest.mark.parametrize(
    ("text", "mention", "all_occurrences", "expected"),
    [
        ("A Dog barked", "dog", False, [2]),
        ("the cat saw a cat", "CAT", True, [2, 5]),
        ("the cat saw a cat", "cat", False, [2]),
        ("concatenate the cat", "cat", False, [3]),  # whole word preferred
        ("concatenate", "cat", False, [1]),  # substring as a fallback
        ("a domestic dog", "domestic dog", False, [2, 3]),
        ("nothing here", "dog", False, []),
        ("anything", "  ", False, []),
    ],
)
def test_locate_mention(text: str, mention: str, all_occurrences: bool, expected: list[int]) -> None:
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    offsets = [(0, 0), *words, (0, 0)]  # [CLS] words [SEP]
    assert locate_mention(text, mention, offsets, all_occurrences=all_occurrences) == expected


def test_locate_mention_on_subword_tokens(minilm: BaseModel) -> None:
    a = minilm.activations(["the unbelievably tall giraffe"])[0]
    idx = a.tokens_of("giraffe")
    assert idx and all(not a.special_mask[i] for i in idx)
    pieces = minilm.tokenizer.convert_ids_to_tokens(a.input_ids[idx].tolist())
    assert "".join(p.removeprefix("##") for p in pieces) == "giraffe"


# ------------------------------------------------------------------------------------------ bad inputs


def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=f"model directory not found: {tmp_path / 'nope'}"):
        load_base_model(ModelSpec(str(tmp_path / "nope")))


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(ModelError, match="known names: minilm, all-MiniLM-L6-v2, smollm2"):
        load_base_model(ModelSpec("bert-large-nonexistent"))


def _copy_minilm_without_weights(dest: Path) -> Path:
    src, _, _ = resolve_model_path("minilm")
    dest.mkdir()
    for f in src.iterdir():
        if f.is_file() and f.suffix != ".safetensors":
            shutil.copy(f, dest / f.name)
    return dest


def test_pickled_weights_are_refused(tmp_path: Path) -> None:
    d = _copy_minilm_without_weights(tmp_path / "pickled")
    (d / "pytorch_model.bin").write_bytes(b"not even loaded")
    with pytest.raises(ModelError, match=r"only pickled weights \(pytorch_model.bin\).*safetensors"):
        load_base_model(ModelSpec(str(d)))


def test_directory_without_config_or_weights(tmp_path: Path) -> None:
    d = _copy_minilm_without_weights(tmp_path / "noweights")
    with pytest.raises(ModelError, match="no weights"):
        load_base_model(ModelSpec(str(d)))
    (d / "config.json").unlink()
    with pytest.raises(ModelError, match="no config.json"):
        load_base_model(ModelSpec(str(d)))


def test_corrupt_weights_are_a_model_error(tmp_path: Path) -> None:
    d = _copy_minilm_without_weights(tmp_path / "corrupt")
    (d / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match=f"could not load model from {d}"):
        load_base_model(ModelSpec(str(d)))


# ------------------------------------------------------------------------------ a local causal model


def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A new directory holding MiniLM's (fast) tokenizer, for a tiny random model; torch's seed set to 0."""
    d = tmp_path_factory.mktemp(name)
    src, _, _ = resolve_model_path("minilm")
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(src / f, d / f)
    torch.manual_seed(0)
    return d


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> BaseModel:
    """A 3-block random Llama in a local directory, with MiniLM's (fast) tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    d = tiny_model_dir(tmp_path_factory, "tiny-llama")
    config = LlamaConfig(
        vocab_size=30522,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    LlamaForCausalLM(config).save_pretrained(d, safe_serialization=True)
    assert json.loads((d / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    return load_base_model(ModelSpec(str(d), layer=2))


def test_local_causal_model(tiny_llama: BaseModel) -> None:
    m = tiny_llama
    assert (
        m.is_causal
        and m.name.startswith("tiny-llama")
        and (m.n_layers, m.d_model, m.max_length) == (3, 32, 128)
    )
    hidden_states, mask = _reference_hidden_states(m, TEXTS)
    for layer in (0, 2):
        for i, a in enumerate(m.at_layer(layer).activations(TEXTS)):
            n = int(mask[i].sum())
            np.testing.assert_allclose(a.hidden, hidden_states[layer][i, :n].numpy(), atol=1e-5)


def test_last_layer_of_a_decoder_is_before_the_final_norm(tiny_llama: BaseModel) -> None:
    m = tiny_llama.at_layer(3)
    got = m.activations(TEXTS[:1])[0].hidden
    plain = m.forward(TEXTS[:1]).last_hidden_state[0].numpy()  # after the final RMSNorm
    normed = (
        torch.nn.functional.rms_norm(
            torch.from_numpy(got), (32,), m.model.model.norm.weight, m.model.config.rms_norm_eps
        )
        .detach()
        .numpy()
    )
    np.testing.assert_allclose(normed, plain, atol=1e-5)


def test_token_logprobs_and_spliced_loss(tiny_llama: BaseModel) -> None:
    m = tiny_llama
    lps = m.token_logprobs(TEXTS, batch_size=2)
    lengths = [len(e.ids) for e in m.encode(TEXTS)]
    assert [len(x) for x in lps] == [n - 1 for n in lengths]
    assert all((x <= 0).all() for x in lps)
    base = m.next_token_loss(TEXTS)
    assert base == pytest.approx(-np.concatenate(lps).mean(), rel=1e-5)
    assert m.next_token_loss(TEXTS, replace=lambda h: h) == pytest.approx(base, rel=1e-6)
    assert m.next_token_loss(TEXTS, replace=lambda h: torch.zeros_like(h)) != pytest.approx(base, rel=1e-3)
