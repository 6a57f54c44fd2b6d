"""benchmarks/bridge_quality.py --quick on the tiny SAE: every section runs and its figures are sane."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np

from kgalign.neural.reliability import Reliability, concept_reliability, from_figures

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bridge_quality.py"


def _bench():
    import sys

    if "bridge_quality" in sys.modules:
        return sys.modules["bridge_quality"]
    spec = importlib.util.spec_from_file_location("bridge_quality", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bridge_quality"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_on_the_tiny_sae(tiny_sae_dir, tmp_path, capsys):
    bq = _bench()
    out = tmp_path / "bq.json"
    rc = bq.main(["--quick", "--sae", str(tiny_sae_dir), "--no-conference", "--cache", str(tmp_path / "cache"),
                  "--json", str(out), "--variants", "mention/none/0,mention/idf/1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "synonym AUC" in printed and "| configuration |" in printed
    results = json.loads(out.read_text())
    assert len(results) == 2
    for res in results:
        c = res["continuity"]
        for k in ("auc_sae_cosine", "auc_dense_cosine", "auc_sae_jaccard"):
            assert 0.0 <= c[k] <= 1.0
        # synonyms of held-out synsets are nearer than random pairs for the dense states of MiniLM
        assert c["auc_dense_cosine"] > 0.6
        assert 0.0 <= res["dead"] <= 1.0
        assert not math.isnan(res["reconstruction"]["heldout_wordnet"]["fve"])
        rel = from_figures(res)
        assert rel.measured and 0.0 <= rel.weight("similar") <= 1.0
    # the cache makes a second run reuse the dense states (same figures)
    rc = bq.main(["--quick", "--sae", str(tiny_sae_dir), "--no-conference", "--cache", str(tmp_path / "cache"),
                  "--json", str(tmp_path / "again.json"), "--variants", "mention/none/0"])
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["continuity"] == results[0]["continuity"]


def test_auc_and_hits():
    bq = _bench()
    assert bq.auc([3, 4], [1, 2]) == 1.0
    assert bq.auc([1, 2], [1, 2]) == 0.5
    sim = np.array([[0.9, 0.1], [0.8, 0.2]])
    assert bq.hits(sim, np.array([0, 1]), ks=(1,)) == {1: 0.5}


def test_reliability_weights():
    r = Reliability(auc={"similar": 0.9, "stable": 0.4}, dense_auc={"similar": 0.95})
    assert math.isclose(r.weight("similar"), 0.8)
    assert r.weight("stable") == 0.0  # below chance counts as nothing
    assert r.weight("shared_feature") == 0.5  # not measured: unknown
    assert r.dense_better("similar")
    assert not Reliability().measured
    codes = np.array([[1.0, 0, 2.0], [1.0, 0, 2.0], [1.0, 0, 2.0]])
    far = concept_reliability(codes, background=np.zeros(3), scale=1.0)
    assert 0.5 < far < 1.0
    # everything explained by the background: nothing specific left
    assert concept_reliability(codes, background=codes[0], scale=1.0) == 0.0


def test_recorded_readout_is_used_when_embedding(tiny_sae_dir, tmp_path, minilm):
    """An SAE that records a readout (cfg.json + readout.safetensors) is embedded that way, with reliability."""
    import shutil

    from kgalign.neural.concepts import embed_symbols, readout_of
    from kgalign.neural.recipe import readout_vectors, write_readout
    from kgalign.neural.sae.io import load_feature_density, load_sae
    from kgalign.symbolic.symbols import Symbol

    sae_dir = tmp_path / "sae"
    shutil.copytree(tiny_sae_dir, sae_dir)
    plain = load_sae(sae_dir)
    assert readout_of(plain).position == "mention" and readout_of(plain).background is None
    density = load_feature_density(sae_dir)
    dens = density.numpy() if density is not None else np.full(plain.d_sae, 0.01, np.float32)
    vectors = readout_vectors(minilm, plain, "mention", dens, n_background=8)
    write_readout(sae_dir, {"position": "mention", "weighting": "idf", "centre": True}, vectors)
    sae = load_sae(sae_dir)
    r = readout_of(sae)
    assert (r.weighting, r.centre) == ("idf", True) and r.background is not None and r.reliability_scale > 0
    syms = [Symbol("http://x#Car", "g", "class", "car"), Symbol("http://x#Q", "g", "class", "Misc Entry Seventeen")]
    plain_t = embed_symbols(syms, minilm, plain)
    t = embed_symbols(syms, minilm, sae)
    assert t.meta["readout"] == {"position": "mention", "weighting": "idf", "centre": True}
    assert not np.allclose(t.vectors, plain_t.vectors)  # centred and idf-weighted
    assert t.reliability is not None and np.all((t.reliability >= 0) & (t.reliability < 1))
    assert np.isnan(plain_t.reliability_or_nan()).all()
    t.save(str(tmp_path / "t.npz"))
    from kgalign.neural.concepts import ConceptTable

    back = ConceptTable.load(str(tmp_path / "t.npz"))
    assert np.allclose(back.reliability, t.reliability)
