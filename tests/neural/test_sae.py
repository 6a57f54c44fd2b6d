"""SAE architectures, registry and SAELens-layout I/O (kgalign.neural.sae)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from kgalign.errors import ConfigError, ModelError
from kgalign.neural.sae import (
    JumpReLUSAE,
    SparseAutoencoder,
    TopKSAE,
    build_sae,
    config_from_dict,
    config_to_dict,
    get_architecture,
    known_architectures,
    load_feature_density,
    load_sae,
    make_config,
    save_sae,
)
from kgalign.neural.sae.io import CFG_FILENAME, WEIGHTS_FILENAME
from kgalign.neural.sae.jumprelu import JumpReLUFunction, StepFunction
from kgalign.neural.sae.topk import sparse_decode

D_IN, D_SAE, K = 16, 64, 4


# -- factories ------------------------------------------------------------------------------------------


def make_sae(architecture: str, *, seed: int = 0, **fields) -> SparseAutoencoder:
    """A small SAE whose biases and thresholds are random too, so that round trips test every tensor."""
    if architecture == "topk":
        fields.setdefault("k", K)
    fields.setdefault("d_in", D_IN)
    fields.setdefault("d_sae", D_SAE)
    sae = build_sae(make_config(architecture, **fields), seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        sae.b_enc.copy_(0.1 * torch.randn(sae.b_enc.shape, generator=generator))
        sae.b_dec.copy_(torch.randn(sae.b_dec.shape, generator=generator))
        if isinstance(sae, JumpReLUSAE):
            sae.threshold.copy_(torch.rand(sae.threshold.shape, generator=generator))
    return sae.eval()


def inputs(n: int = 32, d: int = D_IN, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 2.0


ARCHITECTURES = ["topk", "jumprelu", "standard"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors gain nothing from intra-op threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- configs and registry -------------------------------------------------------------------------------


def test_registry_knows_the_three_architectures():
    assert known_architectures() == ["jumprelu", "standard", "topk"]
    config_class, module_class = get_architecture("jumprelu")
    assert module_class is JumpReLUSAE and config_class.ARCHITECTURE == "jumprelu"


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        get_architecture("topK")
    message = str(info.value)
    assert "'topK'" in message and "did you mean 'topk'" in message
    assert "jumprelu, standard, topk" in message
    with pytest.raises(ConfigError, match="known: jumprelu, standard, topk"):
        make_config("gated", d_in=4, d_sae=8)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"dtype": "float8"}, "dtype must be one of 'float32'"),
        ({"normalize_activations": "layer_norm"}, "'none', 'expected_average_only_in'"),
        ({"norm_scaling_factor": 2.0}, "only used with normalize_activations='expected_average_only_in'"),
        ({"normalize_activations": "expected_average_only_in", "norm_scaling_factor": -1.0}, "positive"),
        ({"d_in": 0}, "d_in must be at least 1"),
        ({"k": 65}, "k must be at most d_sae=64"),
        ({"k": 2.5}, "k must be an integer"),
        ({"hook_layer": -1}, "hook_layer must be at least 0"),
        ({"device": "nonsense"}, "not a torch device"),
        ({"colour": "red"}, "no field(s) colour"),
    ],
)
def test_config_validation_names_the_problem(fields, fragment):
    base = {"d_in": D_IN, "d_sae": D_SAE, "k": K}
    with pytest.raises(ConfigError) as info:
        make_config("topk", **{**base, **fields})
    assert fragment in str(info.value)


def test_config_classes_check_their_architecture():
    config_class, _ = get_architecture("topk")
    with pytest.raises(ConfigError, match="is for architecture 'topk'"):
        config_class(architecture="jumprelu", d_in=4, d_sae=8)


def test_parameters_are_named_and_shaped_as_in_saelens():
    shapes = {name: tuple(t.shape) for name, t in make_sae("jumprelu").state_dict().items()}
    assert shapes == {
        "W_enc": (D_IN, D_SAE),
        "W_dec": (D_SAE, D_IN),
        "b_enc": (D_SAE,),
        "b_dec": (D_IN,),
        "threshold": (D_SAE,),
    }
    assert set(make_sae("topk").state_dict()) == {"W_enc", "W_dec", "b_enc", "b_dec"}


def test_initialisation_ties_encoder_to_unit_norm_decoder():
    sae = build_sae(make_config("topk", d_in=D_IN, d_sae=D_SAE, k=K), seed=3)
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(D_SAE))
    torch.testing.assert_close(sae.W_enc, sae.W_dec.T)
    again = build_sae(make_config("topk", d_in=D_IN, d_sae=D_SAE, k=K), seed=3)
    assert torch.equal(sae.W_dec, again.W_dec)


# -- encoding -------------------------------------------------------------------------------------------


def test_topk_keeps_exactly_the_k_largest_pre_activations():
    sae = make_sae("topk")
    with torch.no_grad():
        sae.b_enc.fill_(100.0)  # every pre-activation positive: ReLU removes nothing
    x = inputs()
    codes = sae.encode(x)
    assert ((codes != 0).sum(dim=-1) == K).all()
    hidden_pre = sae.hidden_pre(x)
    top_values, top_indices = hidden_pre.topk(K, dim=-1)
    torch.testing.assert_close(codes.gather(-1, top_indices), top_values)


def test_topk_codes_are_non_negative_and_at_most_k_per_row():
    sae = make_sae("topk")
    with torch.no_grad():
        sae.b_enc.fill_(-3.0)  # most pre-activations negative: ReLU may leave fewer than k
    codes = sae.encode(inputs(n=256))
    assert (codes >= 0).all()
    per_row = (codes > 0).sum(dim=-1)
    assert per_row.max() <= K and per_row.min() < K


def test_jumprelu_zeroes_codes_at_or_below_the_threshold():
    sae = make_sae("jumprelu")
    x = inputs(n=128)
    hidden_pre = sae.hidden_pre(x)
    codes = sae.encode(x)
    above = hidden_pre > sae.threshold
    assert (codes[~above] == 0).all()
    torch.testing.assert_close(codes[above], hidden_pre[above])
    assert above.any() and (~above).any()


def test_forward_returns_reconstruction_and_codes():
    sae = make_sae("standard")
    x = inputs()
    recon, codes = sae(x)
    torch.testing.assert_close(codes, sae.hidden_pre(x).relu())
    torch.testing.assert_close(recon, codes @ sae.W_dec + sae.b_dec)


def test_input_with_the_wrong_d_in_is_reported():
    sae = make_sae("topk")
    with pytest.raises(ModelError, match=r"shape \[3, 20\] but this SAE takes d_in=16"):
        sae.encode(torch.zeros(3, 20))
    with pytest.raises(ModelError, match="d_sae=64"):
        sae.decode(torch.zeros(3, 10))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_normalisation_factor_applies_to_raw_inputs_and_folds_exactly(architecture):
    scale = 0.25
    sae = make_sae(architecture, normalize_activations="expected_average_only_in", norm_scaling_factor=scale)
    x = inputs(n=64)
    codes = sae.encode(x)
    # encoding raw x equals encoding scaled x with the same weights and no normalisation
    plain = type(sae)(sae.cfg.replace(normalize_activations="none", norm_scaling_factor=None))
    plain.load_state_dict(sae.state_dict())
    torch.testing.assert_close(codes, plain.encode(x * scale))
    torch.testing.assert_close(sae.decode(codes), plain.decode(codes) / scale)

    folded = sae.fold_activation_norm_scaling()
    assert folded.cfg.normalize_activations == "none" and folded.cfg.norm_scaling_factor is None
    torch.testing.assert_close(folded.encode(x), codes / scale, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(folded(x)[0], sae(x)[0], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(folded.W_dec, sae.W_dec)


# -- training internals ---------------------------------------------------------------------------------


def test_sparse_decode_matches_dense_decoding_and_its_gradients():
    generator = torch.Generator().manual_seed(0)
    W_dec = torch.randn(D_SAE, D_IN, dtype=torch.float64, generator=generator, requires_grad=True)
    indices = torch.stack([torch.randperm(D_SAE, generator=generator)[:5] for _ in range(12)])
    values = torch.randn(12, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    dense = torch.zeros(12, D_SAE, dtype=torch.float64).scatter(1, indices, values)
    grad = torch.randn(12, D_IN, dtype=torch.float64, generator=generator)
    expected = dense @ W_dec
    expected_grads = torch.autograd.grad(expected, (values, W_dec), grad)
    got = sparse_decode(indices, values, W_dec)
    got_grads = torch.autograd.grad(got, (values, W_dec), grad)
    torch.testing.assert_close(got, expected)
    for a, b in zip(got_grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_topk_fast_training_step_has_the_reference_gradients():
    sae = make_sae("topk", dtype="float64")
    x = inputs(n=48).double()
    dead = torch.zeros(D_SAE, dtype=torch.bool)
    dead[::3] = True
    coefficients = {"aux_k": 0.5, "k_aux": 7}
    fast = sae.training_step(x, coefficients=coefficients, dead_mask=dead)
    fast_grads = torch.autograd.grad(fast.loss, list(sae.parameters()))
    # an input that itself requires grad takes the plain autograd path
    ref = sae.training_step(x.clone().requires_grad_(True), coefficients=coefficients, dead_mask=dead)
    ref_grads = torch.autograd.grad(ref.loss, list(sae.parameters()))
    assert set(fast.losses) == {"mse", "aux_k"}
    torch.testing.assert_close(fast.loss, ref.loss)
    for a, b in zip(fast_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(fast.recon, sae(x)[0])


def test_aux_k_loss_reaches_latents_that_never_fire():
    sae = make_sae("topk")
    with torch.no_grad():
        sae.b_enc[:32] = -50.0  # these can never enter the top k
    x = inputs(n=64)
    dead = torch.zeros(D_SAE, dtype=torch.bool)
    dead[:32] = True
    without = sae.training_step(x, coefficients={"aux_k": 0.0}, dead_mask=dead)
    (grad_without,) = torch.autograd.grad(without.loss, [sae.b_enc])
    with_aux = sae.training_step(x, coefficients={"aux_k": 1 / 32}, dead_mask=dead)
    (grad_with,) = torch.autograd.grad(with_aux.loss, [sae.b_enc])
    assert (grad_without[:32] == 0).all()
    assert (grad_with[:32] != 0).sum() >= 16
    assert (grad_with[:32] < 0).all() or (grad_with[:32] <= 0).sum() >= 16  # descent raises their biases


def test_jumprelu_straight_through_threshold_gradient():
    x = torch.tensor([[0.50, 1.00, 0.24], [0.52, 0.00, 0.26]], requires_grad=True)
    threshold = torch.tensor([0.51, 0.50, 0.25], requires_grad=True)
    bandwidth = 0.04
    out = JumpReLUFunction.apply(x, threshold, bandwidth)
    torch.testing.assert_close(out.detach(), torch.tensor([[0.0, 1.0, 0.0], [0.52, 0.0, 0.26]]))
    grad_x, grad_threshold = torch.autograd.grad(out.sum(), (x, threshold))
    torch.testing.assert_close(grad_x, torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    # -(θ/ε) · #{rows with |x - θ| < ε/2}
    torch.testing.assert_close(grad_threshold, torch.tensor([-2 * 0.51 / 0.04, 0.0, -2 * 0.25 / 0.04]))
    l0 = StepFunction.apply(x, threshold, bandwidth)
    (grad_threshold,) = torch.autograd.grad(l0.sum(), (threshold,))
    torch.testing.assert_close(grad_threshold, torch.tensor([-2 / 0.04, 0.0, -2 / 0.04]))


def test_jumprelu_l0_penalty_raises_thresholds():
    sae = make_sae("jumprelu")
    with torch.no_grad():
        sae.threshold.fill_(0.05)
    x = inputs(n=256)
    out = sae.training_step(x, coefficients={"l0": 10.0, "bandwidth": 0.5})
    (grad_threshold,) = torch.autograd.grad(out.losses["l0"], [sae.threshold])
    assert (grad_threshold <= 0).all() and (grad_threshold < 0).sum() > D_SAE // 2


# -- saving and loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_save_load_round_trip(tmp_path, architecture):
    sae = make_sae(
        architecture,
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        hook_name="blocks.4.hook_resid_post",
        hook_layer=4,
        normalize_activations="expected_average_only_in",
        norm_scaling_factor=1.5,
        metadata_extra={"context_size": 128, "prepend_bos": False},
    )
    path = save_sae(sae, tmp_path / "sae")
    assert sorted(p.name for p in path.iterdir()) == [CFG_FILENAME, WEIGHTS_FILENAME]
    loaded = load_sae(path)
    assert type(loaded) is type(sae)
    assert loaded.cfg == sae.cfg
    for name, tensor in sae.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    x = inputs()
    assert torch.equal(loaded.encode(x), sae.encode(x))
    assert torch.equal(loaded(x)[0], sae(x)[0])
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary directories left


def test_cfg_json_has_saelens_v6_layout(tmp_path):
    sae = make_sae("topk", model_name="m", hook_name="h", hook_layer=2)
    save_sae(sae, tmp_path / "sae")
    cfg = json.loads((tmp_path / "sae" / CFG_FILENAME).read_text())
    assert cfg["architecture"] == "topk"
    assert (cfg["d_in"], cfg["d_sae"], cfg["k"]) == (D_IN, D_SAE, K)
    assert cfg["dtype"] == "float32" and cfg["apply_b_dec_to_input"] is True
    assert cfg["normalize_activations"] == "none" and cfg["reshape_activations"] == "none"
    assert cfg["metadata"]["model_name"] == "m" and cfg["metadata"]["hook_name"] == "h"
    assert cfg["metadata"]["hook_layer"] == 2 and "sae_lens_version" in cfg["metadata"]


architectures = st.sampled_from(ARCHITECTURES)


@settings(max_examples=25, deadline=None)
@given(
    architecture=architectures,
    d_in=st.integers(1, 64),
    d_sae=st.integers(1, 256),
    data=st.data(),
)
def test_cfg_dict_round_trips(architecture, d_in, d_sae, data):
    fields = {
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": data.draw(st.sampled_from(["float32", "float64", "bfloat16", "float16"])),
        "apply_b_dec_to_input": data.draw(st.booleans()),
        "model_name": data.draw(st.none() | st.text(max_size=12)),
        "hook_name": data.draw(st.none() | st.text(max_size=12)),
        "hook_layer": data.draw(st.none() | st.integers(0, 40)),
        "metadata_extra": data.draw(
            st.dictionaries(st.sampled_from(["context_size", "dataset_path"]), st.integers())
        ),
    }
    if data.draw(st.booleans()):
        fields["normalize_activations"] = "expected_average_only_in"
        fields["norm_scaling_factor"] = data.draw(st.floats(1e-3, 1e3))
    if architecture == "topk":
        fields["k"] = data.draw(st.integers(1, d_sae))
    cfg = make_config(architecture, **fields)
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def write_raw_sae(directory: Path, cfg: dict, tensors: dict[str, torch.Tensor]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CFG_FILENAME).write_text(json.dumps(cfg))
    save_file(tensors, str(directory / WEIGHTS_FILENAME))
    return directory


def raw_tensors(d_in: int = D_IN, d_sae: int = D_SAE, *, threshold: bool = False) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    tensors = {
        "W_enc": torch.randn(d_in, d_sae, generator=generator),
        "W_dec": torch.randn(d_sae, d_in, generator=generator),
        "b_enc": torch.randn(d_sae, generator=generator),
        "b_dec": torch.randn(d_in, generator=generator),
    }
    if threshold:
        tensors["threshold"] = torch.rand(d_sae, generator=generator)
    return tensors


def test_loads_saelens_v5_flat_topk_config(tmp_path):
    cfg = {
        "architecture": "standard",
        "d_in": D_IN,
        "d_sae": D_SAE,
        "activation_fn_str": "topk",
        "activation_fn_kwargs": {"k": 6},
        "apply_b_dec_to_input": True,
        "finetuning_scaling_factor": False,
        "context_size": 128,
        "model_name": "gpt2",
        "hook_name": "blocks.8.hook_resid_pre",
        "hook_layer": 8,
        "hook_head_index": None,
        "prepend_bos": True,
        "dataset_path": "monology/pile-uncopyrighted",
        "normalize_activations": "none",
        "dtype": "torch.float32",
        "device": "cuda",
        "sae_lens_training_version": "3.13.0",
        "neuronpedia_id": "gpt2-small/8-res-jb",
    }
    sae = load_sae(write_raw_sae(tmp_path / "v5", cfg, raw_tensors()))
    assert isinstance(sae, TopKSAE)
    assert sae.cfg.k == 6 and sae.cfg.hook_layer == 8 and sae.cfg.model_name == "gpt2"
    assert sae.cfg.device == "cpu" and sae.cfg.dtype == "float32"
    assert sae.cfg.metadata_extra["neuronpedia_id"] == "gpt2-small/8-res-jb"
    assert ((sae.encode(inputs()) > 0).sum(dim=-1) <= 6).all()


def test_loads_saelens_v6_config_with_metadata(tmp_path):
    cfg = {
        "d_in": D_IN,
        "d_sae": D_SAE,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": False,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "model_name": "gemma-2-2b",
            "hook_name": "blocks.12.hook_resid_post",
            "sae_lens_version": "6.5.1",
            "context_size": 1024,
        },
        "architecture": "jumprelu",
    }
    tensors = raw_tensors(threshold=True)
    sae = load_sae(write_raw_sae(tmp_path / "v6", cfg, tensors))
    assert isinstance(sae, JumpReLUSAE)
    assert sae.cfg.hook_name == "blocks.12.hook_resid_post" and sae.cfg.apply_b_dec_to_input is False
    assert sae.cfg.metadata_extra == {"context_size": 1024}
    assert torch.equal(sae.threshold, tensors["threshold"])


def test_loads_gemma_scope_layout_with_null_normalisation_and_older_key_names(tmp_path):
    cfg = {
        "architecture": "jumprelu",
        "d_in": D_IN,
        "d_sae": D_SAE,
        "dtype": "float32",
        "hook_point": "blocks.5.hook_resid_post",
        "hook_point_layer": 5,
        "apply_b_dec_to_input": False,
        "normalize_activations": None,
    }
    tensors = raw_tensors()
    tensors["log_threshold"] = torch.log(torch.full((D_SAE,), 0.3))
    tensors["scaling_factor"] = torch.ones(D_SAE)
    sae = load_sae(write_raw_sae(tmp_path / "gemma", cfg, tensors))
    assert sae.cfg.hook_name == "blocks.5.hook_resid_post" and sae.cfg.hook_layer == 5
    torch.testing.assert_close(sae.threshold, torch.full((D_SAE,), 0.3))
    x = inputs()
    hidden_pre = x @ tensors["W_enc"] + tensors["b_enc"]  # no b_dec subtraction
    expected = hidden_pre.relu() * (hidden_pre > 0.3)
    torch.testing.assert_close(sae.encode(x), expected)


def test_finetuning_scaling_factor_is_folded_into_the_decoder(tmp_path):
    cfg = {"architecture": "standard", "d_in": D_IN, "d_sae": D_SAE, "finetuning_scaling_factor": True}
    tensors = raw_tensors()
    tensors["scaling_factor"] = torch.linspace(0.5, 2.0, D_SAE)
    sae = load_sae(write_raw_sae(tmp_path / "ft", cfg, tensors))
    codes = sae.encode(inputs())
    expected = (codes * tensors["scaling_factor"]) @ tensors["W_dec"] + tensors["b_dec"]
    torch.testing.assert_close(sae.decode(codes), expected, rtol=1e-4, atol=1e-4)


class _Boobytrap:
    """Unpickling this writes a marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pickle was executed"))


@pytest.mark.parametrize("name", ["sae.pt", "weights.pth", "model.pkl", "pytorch_model.bin"])
def test_pickles_are_refused_and_never_executed(tmp_path, name):
    directory = tmp_path / "pickled"
    directory.mkdir()
    marker = tmp_path / "executed.txt"
    (directory / name).write_bytes(pickle.dumps(_Boobytrap(marker)))
    (directory / CFG_FILENAME).write_text(
        json.dumps({"architecture": "standard", "d_in": D_IN, "d_sae": D_SAE})
    )
    with pytest.raises(ModelError) as info:
        load_sae(directory)
    message = str(info.value)
    assert name in message and "never loads pickles" in message
    assert not marker.exists()


def test_corrupt_safetensors_is_reported_with_the_file(tmp_path):
    directory = save_sae(make_sae("topk"), tmp_path / "sae")
    weights = directory / WEIGHTS_FILENAME
    weights.write_bytes(b"\x07\x00\x00\x00\x00\x00\x00\x00garbage and more garbage")
    with pytest.raises(ModelError, match=r"sae_weights\.safetensors: not a valid safetensors file"):
        load_sae(directory)


def test_truncated_safetensors_is_reported(tmp_path):
    directory = save_sae(make_sae("topk"), tmp_path / "sae")
    weights = directory / WEIGHTS_FILENAME
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        load_sae(directory)


def test_missing_tensor_is_named(tmp_path):
    tensors = raw_tensors()
    del tensors["b_enc"]
    cfg = {"architecture": "topk", "d_in": D_IN, "d_sae": D_SAE, "k": K}
    with pytest.raises(ModelError, match=r"missing tensor\(s\) b_enc needed by a topk SAE"):
        load_sae(write_raw_sae(tmp_path / "s", cfg, tensors))
    cfg = {"architecture": "jumprelu", "d_in": D_IN, "d_sae": D_SAE}
    with pytest.raises(ModelError, match=r"missing tensor\(s\) threshold"):
        load_sae(write_raw_sae(tmp_path / "j", cfg, raw_tensors()))


def test_d_in_mismatch_between_cfg_and_weights_is_reported(tmp_path):
    cfg = {"architecture": "topk", "d_in": 32, "d_sae": D_SAE, "k": K}
    with pytest.raises(ModelError) as info:
        load_sae(write_raw_sae(tmp_path / "s", cfg, raw_tensors()))
    assert "tensor 'W_enc' has shape [16, 64] but cfg.json (d_in=32, d_sae=64) needs [32, 64]" in str(
        info.value
    )


def test_bad_cfg_json_is_reported_with_position(tmp_path):
    directory = save_sae(make_sae("topk"), tmp_path / "sae")
    (directory / CFG_FILENAME).write_text('{"architecture": "topk",\n  "d_in": }')
    with pytest.raises(ModelError, match=r"cfg\.json:2:11: not valid JSON: Expecting value"):
        load_sae(directory)
    (directory / CFG_FILENAME).write_text(json.dumps({"architecture": "gated", "d_in": 4, "d_sae": 8}))
    with pytest.raises(ModelError, match="unknown SAE architecture 'gated'"):
        load_sae(directory)
    (directory / CFG_FILENAME).write_text(json.dumps({"architecture": "topk", "d_in": 4, "d_sae": 8}))
    with pytest.raises(ModelError, match="needs 'k'"):
        load_sae(directory)


def test_missing_directory_or_files(tmp_path):
    with pytest.raises(ModelError, match="no such SAE directory"):
        load_sae(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no sae_weights.safetensors"):
        load_sae(tmp_path / "empty")


def test_save_replaces_an_sae_directory_but_not_other_directories(tmp_path):
    target = tmp_path / "sae"
    save_sae(make_sae("topk", seed=1), target)
    second = make_sae("jumprelu", seed=2)
    save_sae(second, target)
    assert isinstance(load_sae(target), JumpReLUSAE)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError, match="refusing to replace"):
        save_sae(second, workspace)
    assert (workspace / "notes.txt").read_text() == "keep me"


def test_failed_save_leaves_the_previous_sae_and_no_temporary_files(tmp_path):
    target = tmp_path / "sae"
    first = make_sae("topk", seed=1)
    save_sae(first, target)
    with pytest.raises(ModelError, match="feature_density has 3 values"):
        save_sae(make_sae("topk", seed=2), target, feature_density=torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sae"]
    assert torch.equal(load_sae(target).W_enc, first.W_enc)


def test_feature_density_round_trips_as_saelens_sparsity(tmp_path):
    density = torch.tensor([0.0, 1e-4, 0.5] + [0.01] * (D_SAE - 3))
    target = save_sae(make_sae("topk"), tmp_path / "sae", feature_density=density)
    loaded = load_feature_density(target)
    assert loaded is not None and loaded[0] == 0
    torch.testing.assert_close(loaded, density, rtol=1e-4, atol=1e-9)
    assert load_feature_density(save_sae(make_sae("topk"), tmp_path / "other")) is None


def test_loaded_sae_is_for_inference_on_the_requested_device(tmp_path):
    loaded = load_sae(save_sae(make_sae("topk"), tmp_path / "sae"), device="cpu")
    assert loaded.cfg.device == "cpu" and loaded.W_enc.device.type == "cpu"
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    assert not loaded.encode(inputs()).requires_grad


def test_bfloat16_sae_round_trips(tmp_path):
    sae = make_sae("topk", dtype="bfloat16")
    loaded = load_sae(save_sae(sae, tmp_path / "sae"))
    assert loaded.W_enc.dtype == torch.bfloat16
    assert torch.equal(loaded.W_dec, sae.W_dec)
    x = inputs()
    assert torch.equal(loaded.encode(x), sae.encode(x))


def test_encode_accepts_leading_batch_dimensions():
    sae = make_sae("topk")
    x = inputs(n=12).reshape(3, 4, D_IN)
    codes = sae.encode(x)
    assert codes.shape == (3, 4, D_SAE)
    torch.testing.assert_close(codes.reshape(12, D_SAE), sae.encode(x.reshape(12, D_IN)))
    assert np.isfinite(codes.detach().numpy()).all()
