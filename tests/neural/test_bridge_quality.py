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
    spec = importlib.util.spec_from_file_location("bridge_quality", BENCH)
    mod = importlib.util.module_from_spec(spec)
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
    assert concept_reliability(codes) == 1.0
    # everything explained by the background: nothing specific left
    assert concept_reliability(codes, background=codes[0]) == 0.0
