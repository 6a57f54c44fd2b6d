"""Training and evaluating SAEs (kgalign.neural.train) on data with a known sparse dictionary."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from kgalign.errors import ConfigError, ModelError
from kgalign.neural.sae import build_sae, load_sae, make_config, save_sae
from kgalign.neural.train import (
    DENSITY_BIN_EDGES,
    TrainConfig,
    evaluate_sae,
    geometric_median,
    metrics_to_dict,
    train_sae,
)

D, N_TRUE, ACTIVE = 32, 64, 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors gain nothing from intra-op threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sparse_dictionary_data(n: int = 16_000, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(x [n, D], dictionary [N_TRUE, D])``: each row a combination of ``ACTIVE`` random unit directions
    with magnitudes in [0.5, 2], plus a constant offset and a little noise."""
    rng = np.random.default_rng(seed)
    dictionary = rng.normal(size=(N_TRUE, D))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    chosen = np.argsort(rng.random((n, N_TRUE)), axis=1)[:, :ACTIVE]
    codes = np.zeros((n, N_TRUE))
    np.put_along_axis(codes, chosen, rng.uniform(0.5, 2.0, (n, ACTIVE)), axis=1)
    x = codes @ dictionary + 0.01 * rng.normal(size=(n, D)) + 0.5 * rng.normal(size=D)
    return x.astype(np.float32), dictionary


@pytest.fixture(scope="module")
def synthetic() -> tuple[np.ndarray, np.ndarray]:
    return sparse_dictionary_data()


def train_config(**overrides) -> TrainConfig:
    """Small, fast settings for the synthetic data."""
    fields = {
        "d_sae": 128,
        "k": 4,
        "batch_size": 256,
        "n_steps": 600,
        "lr": 3e-3,
        "log_every": 100,
        "dead_after_tokens": 4096,
        "eval_tokens": 2000,
        "log_eval_tokens": 1000,
        "shuffle_buffer_tokens": 8192,
    }
    fields.update(overrides)
    return TrainConfig(**fields)


def recovered(sae, dictionary: np.ndarray, threshold: float = 0.9) -> int:
    """How many true directions have a decoder row with cosine similarity above ``threshold``."""
    rows = sae.W_dec.detach().double().numpy()
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return int(((dictionary @ rows.T).max(axis=1) > threshold).sum())


@pytest.fixture(scope="module")
def topk_result(synthetic):
    x, _ = synthetic
    return train_sae(train_config(), x, progress=False)


# -- training -------------------------------------------------------------------------------------------


def test_topk_learns_the_true_dictionary(synthetic, topk_result):
    _, dictionary = synthetic
    m = topk_result.metrics
    assert m.fraction_of_variance_explained > 0.9
    assert m.l0 <= 4.0
    assert recovered(topk_result.sae, dictionary) >= 56
    assert not topk_result.interrupted and topk_result.steps == 600
    assert topk_result.tokens_seen == 600 * 256
    assert len(topk_result.history) == 6 and topk_result.history[-1].step == 600
    fves = [log.fraction_of_variance_explained for log in topk_result.history]
    assert fves[-1] > fves[0]


def test_trained_sae_takes_raw_activations_with_unit_norm_decoder(synthetic, topk_result):
    x, _ = synthetic
    sae = topk_result.sae
    assert sae.cfg.normalize_activations == "none" and sae.cfg.norm_scaling_factor is None
    assert topk_result.norm_scaling_factor != 1.0
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(128), rtol=1e-4, atol=1e-4)
    again = evaluate_sae(sae, x[:4000])
    assert again.fraction_of_variance_explained > 0.9
    assert not any(p.requires_grad for p in sae.parameters())


def test_trained_sae_saves_and_loads(tmp_path, synthetic, topk_result):
    x, _ = synthetic
    loaded = load_sae(save_sae(topk_result.sae, tmp_path / "sae"))
    batch = torch.from_numpy(x[:256])
    assert torch.equal(loaded.encode(batch), topk_result.sae.encode(batch))


def test_unfolded_training_records_the_scaling_factor(synthetic):
    x, _ = synthetic
    result = train_sae(train_config(n_steps=50, fold_activation_scaling=False), x, progress=False)
    cfg = result.sae.cfg
    assert cfg.normalize_activations == "expected_average_only_in"
    assert cfg.norm_scaling_factor == pytest.approx(result.norm_scaling_factor)
    mean_sq_norm = float((x.astype(np.float64) ** 2).sum(axis=1).mean())
    assert cfg.norm_scaling_factor == pytest.approx(math.sqrt(D / mean_sq_norm), rel=0.02)


def test_jumprelu_training_trades_l0_for_reconstruction(synthetic):
    x, _ = synthetic
    common = {
        "architecture": "jumprelu",
        "n_steps": 600,
        "jumprelu_bandwidth": 0.1,
        "jumprelu_init_threshold": 0.1,
    }
    loose = train_sae(train_config(l0_coefficient=0.01, **common), x, progress=False).metrics
    sparse = train_sae(train_config(l0_coefficient=0.2, **common), x, progress=False).metrics
    assert sparse.l0 < loose.l0 / 2
    assert sparse.fraction_of_variance_explained > 0.8
    assert loose.fraction_of_variance_explained > sparse.fraction_of_variance_explained


def test_standard_l1_training_learns(synthetic):
    x, _ = synthetic
    metrics = train_sae(
        train_config(architecture="standard", n_steps=300, l1_coefficient=0.1), x, progress=False
    ).metrics
    assert metrics.fraction_of_variance_explained > 0.8
    assert metrics.l0 < 64


def test_aux_k_revives_dead_latents(synthetic):
    x, _ = synthetic

    def kill_half(sae) -> None:
        with torch.no_grad():
            sae.b_enc[:64] = -4.0  # pre-activations this low never reach the top k

    settings = {"n_steps": 400, "dead_after_tokens": 2048}
    without = train_sae(train_config(aux_k=0, **settings), x, progress=False, init_hook=kill_half)
    with_aux = train_sae(train_config(aux_k=16, **settings), x, progress=False, init_hook=kill_half)
    assert without.metrics.dead_fraction >= 0.45
    assert with_aux.metrics.dead_fraction < without.metrics.dead_fraction - 0.2
    assert with_aux.history[-1].dead_fraction_train < without.history[-1].dead_fraction_train


def test_training_is_deterministic_for_a_seed_and_streams_memmaps(tmp_path, synthetic):
    x, _ = synthetic
    path = tmp_path / "acts.npy"
    np.save(path, x.astype(np.float16))
    mapped = np.load(path, mmap_mode="r")
    cfg = train_config(n_steps=30, log_every=10)
    from_memmap = train_sae(cfg, mapped, progress=False)
    in_memory = train_sae(cfg, np.asarray(mapped), progress=False)
    assert torch.equal(from_memmap.sae.W_enc, in_memory.sae.W_enc)
    assert from_memmap.metrics == in_memory.metrics
    other_seed = train_sae(train_config(n_steps=30, log_every=10, seed=1), mapped, progress=False)
    assert not torch.equal(other_seed.sae.W_enc, in_memory.sae.W_enc)
    # a float32 memmap is read, never written through
    path32 = tmp_path / "acts32.npy"
    np.save(path32, x)
    before = path32.read_bytes()
    train_sae(cfg, np.load(path32, mmap_mode="r"), progress=False)
    assert path32.read_bytes() == before


def test_keyboard_interrupt_returns_the_sae_so_far(synthetic):
    x, _ = synthetic

    def interrupt(log) -> None:
        if log.step == 20:
            raise KeyboardInterrupt

    result = train_sae(train_config(n_steps=100, log_every=10), x, progress=False, callback=interrupt)
    assert result.interrupted and result.steps == 20 and result.tokens_seen == 20 * 256
    torch.testing.assert_close(result.sae.W_dec.norm(dim=-1), torch.ones(128), rtol=1e-4, atol=1e-4)
    assert math.isfinite(result.metrics.fraction_of_variance_explained)


def test_callback_returning_false_stops_early(synthetic):
    x, _ = synthetic
    seen: list[int] = []

    def stop_at_30(log):
        seen.append(log.step)
        return log.step < 30

    result = train_sae(train_config(n_steps=100, log_every=10), x, progress=False, callback=stop_at_30)
    assert seen == [10, 20, 30] and result.steps == 30 and not result.interrupted


def test_progress_bar_runs(synthetic, capsys):
    x, _ = synthetic
    train_sae(train_config(n_steps=10, log_every=5), x, progress=True)
    err = capsys.readouterr().err
    assert "train topk SAE" in err and "fve=" in err and "dead=" in err


# -- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"architecture": "gatd"}, "unknown SAE architecture 'gatd'"),
        ({"b_dec_init": "median"}, "b_dec_init must be one of 'geometric_median', 'mean', 'zeros'"),
        ({"normalize_activations": "layer_norm"}, "'expected_average_only_in', 'none'"),
        ({"lr": 0}, "lr must be a positive number"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"lr_decay_fraction": 1.5}, "between 0 and 1"),
        ({"dtype": "int8"}, "dtype must be one of"),
    ],
)
def test_train_config_validation(fields, fragment):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**fields)
    assert fragment in str(info.value)


def test_train_config_sizes_and_data_checks(synthetic):
    x, _ = synthetic
    assert TrainConfig().resolved_d_sae(384) == 3072
    assert TrainConfig(d_sae=100).resolved_d_sae(384) == 100
    with pytest.raises(ConfigError, match="k must be at most d_sae=16"):
        train_sae(TrainConfig(d_sae=16, k=32), x, progress=False)
    with pytest.raises(ModelError, match="fewer than one batch"):
        train_sae(train_config(batch_size=4096), x[:1000], progress=False)
    with pytest.raises(ModelError, match="2-D"):
        train_sae(train_config(), x[0], progress=False)
    json.dumps(TrainConfig().to_dict())


# -- evaluation -----------------------------------------------------------------------------------------


def identity_sae(d: int):
    """A TopK SAE with decoder rows ±e_i and k = d: it reconstructs every input exactly."""
    sae = build_sae(make_config("topk", d_in=d, d_sae=2 * d, k=d))
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_dec.copy_(torch.cat([eye, -eye]))
        sae.W_enc.copy_(sae.W_dec.T)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


def test_evaluate_exact_reconstruction():
    x = np.random.default_rng(0).normal(size=(1000, 8)).astype(np.float32)
    m = evaluate_sae(identity_sae(8), x, batch_size=128)
    assert m.fraction_of_variance_explained == pytest.approx(1.0)
    assert m.mse == pytest.approx(0.0, abs=1e-10)
    assert m.l0 == pytest.approx(8.0)  # one of +e_i / -e_i fires per dimension
    assert m.dead_fraction == 0.0 and m.n_tokens == 1000
    np.testing.assert_allclose(m.feature_density, 0.5, atol=0.06)


def test_evaluate_counts_dead_latents_and_builds_the_density_histogram():
    x = np.abs(np.random.default_rng(0).normal(size=(500, 8))).astype(np.float32)  # -e_i never fires
    m = evaluate_sae(identity_sae(8), torch.from_numpy(x), max_tokens=400)
    assert m.n_tokens == 400 and m.dead_fraction == 0.5
    assert sum(m.density_counts) == 8 and len(m.density_counts) == len(DENSITY_BIN_EDGES) - 1
    assert m.density_counts[-1] == 8  # every live latent fires on every token: log10(1) falls in the top bin
    d = metrics_to_dict(m)
    assert json.loads(json.dumps(d)) == d and "feature_density" not in d
    assert len(metrics_to_dict(m, include_feature_density=True)["feature_density"]) == 16


def test_evaluate_mean_prediction_explains_nothing():
    x = np.random.default_rng(1).normal(size=(2000, 4)).astype(np.float32) + 3.0
    sae = build_sae(make_config("topk", d_in=4, d_sae=8, k=1))
    with torch.no_grad():
        sae.W_dec.zero_()
        sae.b_dec.copy_(torch.from_numpy(x.mean(axis=0)))
    assert evaluate_sae(sae, x).fraction_of_variance_explained == pytest.approx(0.0, abs=1e-6)


def test_evaluate_rejects_mismatched_activations():
    with pytest.raises(ModelError, match="activations have d_in=5 but the SAE takes d_in=8"):
        evaluate_sae(identity_sae(8), np.zeros((10, 5), np.float32))


def test_geometric_median_resists_outliers():
    points = torch.cat([torch.zeros(99, 3), torch.full((1, 3), 1000.0)])
    assert geometric_median(points).abs().max() < 1.0
    assert points.mean(dim=0).abs().max() > 9.0
