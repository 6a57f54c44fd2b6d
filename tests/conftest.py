"""Shared fixtures: real files, a real on-disk store, the real default model, and a tiny SAE
trained here on a small real corpus (so the suite never depends on the shipped SAE's
training run and stays within CI time)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ONTOLOGIES = REPO / "ontologies"
OAEI = REPO.parent / "shared" / "data" / "oaei-conference"
DEMO_FILES = ("tort-owl.ttl", "negligence-skos.ttl", "liability-kg.jsonld")
#: KGALIGN_TEST_BACKEND=oxigraph-server runs the suite with every new workspace on a real Oxigraph
#: server (kgalign.store.managed) instead of the embedded store.
TEST_BACKEND = os.environ.get("KGALIGN_TEST_BACKEND", "oxigraph")


# Property tests: random exploration locally (new examples every run, failures kept in .hypothesis/);
# HYPOTHESIS_PROFILE=ci (set by .ci/run) derandomizes them so that the gate is reproducible.
try:
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    _hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
except ImportError:  # the dev extras bring hypothesis; without it the property tests are not collected
    pass


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "embedded_store: needs the embedded store (skipped on another test backend)")
    if TEST_BACKEND != "oxigraph":
        os.environ["KGALIGN_STORE_BACKEND"] = TEST_BACKEND  # new workspaces, here and in CLI subprocesses


def pytest_report_header(config) -> str:
    return f"kgalign store backend for new workspaces: {TEST_BACKEND}"


def pytest_collection_modifyitems(config, items) -> None:
    if TEST_BACKEND == "oxigraph":
        return
    skip = pytest.mark.skip(reason=f"needs the embedded store (KGALIGN_TEST_BACKEND={TEST_BACKEND})")
    for item in items:
        if "embedded_store" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def oaei_dir() -> Path:
    if not OAEI.is_dir():
        pytest.skip(f"OAEI Conference data not found at {OAEI} (expected ../shared beside the repo)")
    return OAEI


@pytest.fixture(scope="session")
def demo_files() -> list[Path]:
    return [ONTOLOGIES / f for f in DEMO_FILES]


@pytest.fixture(scope="session")
def minilm():
    from kgalign.neural.model import ModelSpec, load_base_model

    return load_base_model(ModelSpec())


def _tiny_corpus(demo_files: list[Path]) -> list[str]:
    from kgalign.neural.corpus import read_rdf_literals, wordnet_corpus

    texts = list(read_rdf_literals(demo_files))
    try:
        wn = wordnet_corpus()
        for i, t in enumerate(wn):
            if i >= 800:
                break
            texts.append(t)
    except Exception:  # WordNet absent: the artefacts' own text is corpus enough for a tiny SAE
        pass
    return texts


@pytest.fixture(scope="session")
def tiny_sae_dir(tmp_path_factory, minilm, demo_files) -> Path:
    """A TopK SAE (d_sae 768, k 16) trained in seconds on the demo ontologies' text and some WordNet glosses."""
    from kgalign.neural.harvest import harvest
    from kgalign.neural.sae.io import save_sae
    from kgalign.neural.train import TrainConfig, train_sae

    root = tmp_path_factory.mktemp("tiny-sae")
    cache = harvest(minilm, _tiny_corpus(demo_files), root / "cache", progress=False)
    cfg = TrainConfig(
        architecture="topk", d_sae=768, k=16, n_steps=400, batch_size=512, seed=0, log_every=200,
        eval_tokens=2048, log_eval_tokens=1024, dead_after_tokens=20_000,
        model_name=minilm.name, hook_layer=minilm.layer,
    )
    result = train_sae(cfg, cache.activations, progress=False)
    out = root / "sae"
    save_sae(result.sae, out)
    return out


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory, tiny_sae_dir, demo_files):
    """A workspace holding the three demo systems, embedded with the tiny SAE (shared: do not modify)."""
    from kgalign.api import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("demo-ws") / "ws")
    for f in demo_files:
        ws.load(f)
    ws.config.sae = str(tiny_sae_dir)
    ws.save_config()
    # The neural facts in the store on every backend (a remote store gets them on request): the golden
    # files check the DSL's answers against SPARQL over them.
    ws.embed(quiet=True, write_facts=True)
    return ws
