"""The embed stage on the demo ontologies: real model, tiny real SAE, real FAISS, real store."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kgalign.errors import EmbedError, ModelError
from kgalign.index.vectors import VectorIndex
from kgalign.neural.concepts import embed_streams, embed_symbols, support_stability
from kgalign.neural.probing import paraphrase_contexts, probe_contexts
from kgalign.symbolic.symbols import Symbol


def key(ws, name, graph=None):
    s = ws.resolve_one(name, graph)
    return (s.graph, s.iri)


def test_every_symbol_with_text_is_placed(demo_ws):
    space = demo_ws.space
    symbols = demo_ws.symbols()
    assert len(space.keys) == len(symbols)
    assert space.table.vectors.shape == (len(symbols), space.d_sae)
    assert np.all(space.table.stability >= 0) and np.all(space.table.stability <= 1)
    # TopK: every symbol fires some features, and supports are sorted strongest first.
    for r in range(len(space.keys)):
        sup = space.table.support(r)
        assert sup, space.keys[r]
        weights = [w for _, w, _ in sup]
        assert weights == sorted(weights, reverse=True)


def test_identical_paraphrases_give_stability_one(minilm, tiny_sae_dir):
    from kgalign.neural.concepts import context_codes
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)
    ctx = paraphrase_contexts("duty of care", templates=("We consider {m}.",) * 4)
    codes = context_codes(minilm, sae, ctx)
    assert support_stability(codes) == 1.0
    # ...while different wordings around the mention do move the support a little.
    varied = context_codes(minilm, sae, paraphrase_contexts("duty of care"))
    assert 0.0 < support_stability(varied) <= 1.0


def test_related_definitions_land_closer_than_unrelated(demo_ws):
    """Duty of care in the OWL ontology vs its SKOS counterpart, against unrelated SKOS concepts."""
    space = demo_ws.space
    duty = key(demo_ws, "DutyOfCare", "tort-owl")
    skos_duty = key(demo_ws, "Obligation of reasonable care", "negligence-skos")
    unrelated = [
        (s.graph, s.iri)
        for s in demo_ws.symbols("negligence-skos")
        if s.kind == "concept" and (s.graph, s.iri) != skos_duty
    ]
    sims = [space.similarity(duty, u) for u in unrelated]
    assert space.similarity(duty, skos_duty) > float(np.median(sims))


def test_faiss_matches_brute_force(demo_ws):
    space = demo_ws.space
    unit = space._unit
    q = unit[:10]
    brute = np.argsort(-(q @ unit.T), axis=1)[:, :5]
    _, got = space.index.search(q, 5)
    for b, g, qq in zip(brute, got, q, strict=False):
        # Ties may swap order: compare the scores, not the ids.
        assert np.allclose(np.sort(unit[b] @ qq), np.sort(unit[g] @ qq), atol=1e-5)


def test_approximate_index_reaches_measured_recall():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 64))
    x = centers[rng.integers(0, 50, 6000)] + 0.3 * rng.normal(size=(6000, 64))
    idx = VectorIndex.build(x.astype(np.float32), kind="ivf", target_recall=0.95)
    assert idx.kind == "ivf"
    assert idx.recall_at_10 >= 0.95
    # Independent check on fresh queries against brute force.
    q = x[rng.choice(6000, 100, replace=False)]
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    truth = np.argsort(-(q / np.linalg.norm(q, axis=1, keepdims=True)) @ unit.T, axis=1)[:, :10]
    _, got = idx.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=False)])
    assert recall >= 0.9


def test_neural_facts_are_queryable_with_sparql(demo_ws):
    duty = key(demo_ws, "DutyOfCare", "tort-owl")
    rows = list(demo_ws.sparql(
        f"SELECT ?st WHERE {{ GRAPH <urn:kgalign:neural> {{ <{duty[1]}> kga:supportStability ?st }} }}"
    ))
    assert len(rows) == 1
    assert float(rows[0]["st"].value) == pytest.approx(demo_ws.space.stability(duty), abs=1e-5)
    top_feature = demo_ws.space.support_of(duty)[0][0]
    rows = list(demo_ws.sparql(
        f"""SELECT ?f ?w WHERE {{ <{duty[1]}> kga:activation ?a . ?a kga:feature ?f ; kga:weight ?w }}
            ORDER BY DESC(?w) LIMIT 1"""
    ))
    assert rows[0]["f"].value == f"urn:kgalign:feature:{top_feature}"
    run = list(demo_ws.sparql("SELECT ?m ?l WHERE { <urn:kgalign:run> kga:model ?m ; kga:layer ?l }"))
    assert run[0]["m"].value == "all-MiniLM-L6-v2"


@pytest.mark.embedded_store  # kga: functions run inside the embedded engine; a remote store refuses them by name
def test_sparql_extension_functions(demo_ws):
    duty = key(demo_ws, "DutyOfCare", "tort-owl")
    rows = list(demo_ws.sparql(
        f"SELECT (kga:similarity(<{duty[1]}>, <{duty[1]}>) AS ?s) (kga:stability(<{duty[1]}>) AS ?st) "
        f"(kga:sharedFeatures(<{duty[1]}>, <{duty[1]}>) AS ?n) WHERE {{}}"
    ))
    assert float(rows[0]["s"].value) == pytest.approx(1.0, abs=1e-5)
    assert float(rows[0]["st"].value) == pytest.approx(demo_ws.space.stability(duty), abs=1e-5)
    assert int(rows[0]["n"].value) == len(demo_ws.space.support_of(duty))


def test_reembedding_reuses_unchanged_graphs(demo_ws, tmp_path, demo_files, tiny_sae_dir):
    from kgalign.api import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ws.load(demo_files[0])
    ws.load(demo_files[1])
    ws.config.sae = str(tiny_sae_dir)
    ws.save_config()
    first = ws.embed(quiet=True)
    assert sorted(first.embedded) == ["negligence-skos", "tort-owl"]
    ws.load(demo_files[1])  # same content again: same hash, nothing to redo
    second = ws.embed(quiet=True)
    assert second.embedded == [] and sorted(second.reused) == ["negligence-skos", "tort-owl"]
    ws.drop("negligence-skos")
    third = ws.embed(quiet=True)
    assert {k[0] for k in ws.space.keys} == {"tort-owl"}
    assert third.n_symbols == len(ws.symbols("tort-owl"))


def test_sae_width_mismatch_is_refused_and_workspace_unchanged(tmp_path, demo_files):
    from kgalign.api import Workspace
    from kgalign.neural.sae.io import save_sae
    from kgalign.neural.sae.registry import build_sae, make_config

    bad = tmp_path / "bad-sae"
    save_sae(build_sae(make_config("topk", d_in=128, d_sae=256, k=8)), bad)
    ws = Workspace.open(tmp_path / "ws")
    ws.load(demo_files[0])
    ws.config.sae = str(bad)
    ws.save_config()
    before = ws.store.snapshot()
    with pytest.raises(ModelError, match="d_in=128"):
        ws.embed(quiet=True)
    assert ws.store.snapshot() == before
    assert not (tmp_path / "ws" / "neural" / "run.json").exists()


def test_symbol_with_no_text_is_skipped_or_refused(minilm, tiny_sae_dir):
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)
    mute = Symbol("http://x/12345", "g", "class", "12345")
    with pytest.raises(EmbedError, match="no text"):
        embed_symbols([mute], minilm, sae)
    ok = Symbol("http://x/Duty", "g", "class", "duty", definitions=("An obligation.",))
    table = embed_symbols([mute, ok], minilm, sae)
    assert table.keys == [("g", "http://x/Duty")]
    assert table.meta["skipped"] == ["http://x/12345"]


def test_probe_contexts_mark_the_mention():
    s = Symbol(
        "http://x#Breach", "g", "class", "breach of duty", alt_labels=("violation of duty",),
        definitions=("A failure to meet the standard of care.",), parents=("http://x#Wrong",),
    )
    ctxs = probe_contexts(s, {"http://x#Wrong": "civil wrong"}.get)
    kinds = {c.kind for c in ctxs}
    assert kinds == {"label", "paraphrase", "synonym", "definition", "relation"}
    for c in ctxs:
        assert c.mention.lower() in ("breach of duty", "violation of duty")
    assert any(c.text == "breach of duty is a kind of civil wrong." for c in ctxs)


def test_run_record_names_model_layer_and_sae(demo_ws, tiny_sae_dir):
    run = json.loads((demo_ws.path / "neural" / "run.json").read_text())
    assert run["model"] == "all-MiniLM-L6-v2"
    assert run["layer"] == 4
    assert run["sae_path"] == str(tiny_sae_dir)
    assert run["n_symbols"] == len(demo_ws.space.keys)


def test_token_budget_batches_cover_every_text_once_within_the_budget(minilm):
    texts = ["a"] + [f"the {w} of the law of torts, as it stands" for w in ("duty", "care", "breach")] * 7
    batches = minilm.batches(texts, 1000, max_tokens=40)
    seen = sorted(i for idx, _ in batches for i in idx)
    assert seen == list(range(len(texts)))
    for idx, items in batches:
        assert len(items) == len(idx)
        assert len(items) == 1 or len(items) * max(len(e.ids) for e in items) <= 40
    assert len(batches) > 1


def test_shared_texts_and_batching_do_not_change_codes(minilm, tiny_sae_dir):
    """Contexts sharing a text share one forward pass; each keeps its own mention span, and the codes are
    those of a one-text-at-a-time reading."""
    from kgalign.neural.concepts import context_codes_at
    from kgalign.neural.probing import ProbeContext
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)
    text = "A duty of care is owed to a neighbour."
    ctxs = [
        ProbeContext(text, 2, 14, "label"),  # "duty of care"
        ProbeContext(text, 28, 37, "label"),  # "neighbour"
        ProbeContext(text, 2, 14, "label"),
        ProbeContext("Negligence is a breach of that duty.", 0, 10, "label"),
    ]
    together = context_codes_at(minilm, sae, ctxs, ("mention", "mention_state"), max_tokens=16,
                                only={"mention_state": [True, False, True, True]})
    for i, c in enumerate(ctxs):
        alone = context_codes_at(minilm, sae, [c], ("mention", "mention_state"), max_tokens=None)
        np.testing.assert_allclose(together["mention"][i], alone["mention"][0], atol=1e-4)
        if i != 1:
            np.testing.assert_allclose(together["mention_state"][i], alone["mention_state"][0], atol=1e-4)
    assert not together["mention_state"][1].any()  # not asked for at that context
    assert not np.allclose(together["mention"][0], together["mention"][1])  # another span, another code
    np.testing.assert_allclose(together["mention"][0], together["mention"][2], atol=1e-6)


def test_sparse_codes_give_back_the_dense_rows() -> None:
    import scipy.sparse as sp

    from kgalign.neural.concepts import SparseCodes

    rng = np.random.default_rng(0)
    dense = np.where(rng.random((9, 12)) < 0.3, rng.random((9, 12)), 0.0).astype(np.float32)
    sc = SparseCodes(10, 12)  # row 9 never added: a zero row
    sc.add(np.array([4, 0, 7]), sp.csr_matrix(dense[[4, 0, 7]]))
    sc.add(np.array([1, 2, 3, 5, 6, 8]), sp.csr_matrix(dense[[1, 2, 3, 5, 6, 8]]))
    sc.freeze()
    np.testing.assert_array_equal(sc.take(range(9)), dense)
    np.testing.assert_array_equal(sc.take([8, 9, 0]), np.vstack([dense[8], np.zeros(12), dense[0]]))


def test_a_table_as_saved_is_what_loading_its_file_gives(tmp_path) -> None:
    """embed keeps the table it just wrote instead of reading it back: the kept one must be the file's."""
    from kgalign.neural.concepts import ConceptTable

    rng = np.random.default_rng(3)
    n, d = 7, 16
    t = ConceptTable([("g", f"http://x/{i}") for i in range(n)], rng.random((n, d), dtype=np.float32) * 3,
                     rng.integers(-1, d, (n, 4)).astype(np.int32), rng.random((n, 4), dtype=np.float32),
                     rng.random((n, 4), dtype=np.float32), rng.random(n, dtype=np.float32),
                     rng.random(n, dtype=np.float32), rng.integers(1, 9, n).astype(np.int32), meta={"x": 1})
    for reliability in (None, rng.random(n, dtype=np.float32)):
        t.reliability = reliability
        t.save(str(tmp_path / "t.npz"))
        loaded, kept = ConceptTable.load(str(tmp_path / "t.npz")), t.as_saved()
        assert kept.keys == loaded.keys and kept.meta == loaded.meta
        for name in ("vectors", "support_ids", "support_weights", "support_freq", "stability", "strength",
                     "n_contexts", "reliability"):
            a, b = getattr(kept, name), getattr(loaded, name)
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name
        assert not np.array_equal(kept.vectors, t.vectors)  # the file holds float16 vectors


def _symbols(n: int) -> list[Symbol]:
    words = ["duty", "breach", "harm", "court", "river", "bank", "contract", "tort", "judge", "claim", "fee", "law"]
    return [Symbol(f"http://x/{i}", "g", "class", f"{words[i % len(words)]} {i}",
                   definitions=(f"A kind of {words[(i * 5) % len(words)]} seen in case {i}.",)) for i in range(n)]


def test_steps_run_ahead_of_the_aggregation_without_changing_a_bit(minilm, tiny_sae_dir):
    """The forward streams run across step boundaries (the next step's forwards while the last is
    aggregated; two streams finish a step's batches in any order): the same table, bit for bit, as one step
    after another on the caller's thread; progress only grows."""
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)
    symbols = _symbols(23)
    seen: list[tuple[int, int]] = []
    a = embed_symbols(symbols, minilm, sae, chunk=5, ahead=True, progress=lambda d, t: seen.append((d, t)))
    # On as many torch threads as each stream has: a matrix product of a few rows (the partial last block's)
    # may round differently on another thread count, in the last bit.
    threads = torch.get_num_threads()
    torch.set_num_threads(embed_streams(threads)[1])
    try:
        b = embed_symbols(symbols, minilm, sae, chunk=5, ahead=False)
    finally:
        torch.set_num_threads(threads)
    assert a.keys == b.keys == [("g", s.iri) for s in symbols]
    for name in ("vectors", "support_ids", "support_weights", "support_freq", "stability", "strength", "n_contexts"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.reliability_or_nan(), b.reliability_or_nan(), equal_nan=True)
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 23 and {t for _, t in seen} == {23}
    # steps of 5 and one step of all: the same concepts (batches differ, so only float noise)
    c = embed_symbols(symbols, minilm, sae, chunk=100, ahead=True)
    np.testing.assert_allclose(a.vectors, c.vectors, rtol=1e-4, atol=1e-5)


def test_a_text_shared_across_steps_is_forwarded_once_and_handed_on(minilm, tiny_sae_dir, monkeypatch):
    """Symbols of different steps that share context texts (one label twice, one definition twice): each
    distinct text is forwarded once in the whole embed, by the first step using it; the later step gets the
    codes handed on. Twins (same label and definition) in steps far apart get the very same vector; the
    table is the same as with one step for all, and the same bit for bit on either path."""
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)
    symbols = _symbols(14)
    twin = Symbol("http://x/twin", "g", "class", symbols[1].label, definitions=symbols[1].definitions)
    echo = Symbol("http://x/echo", "g", "class", "solicitor", definitions=symbols[3].definitions)
    symbols[9:9] = [twin, echo]
    texts_of = [[c.text for c in probe_contexts(s)] for s in symbols]
    per_step = sum(len({t for ts in texts_of[i : i + 4] for t in ts}) for i in range(0, len(symbols), 4))
    distinct = len({t for ts in texts_of for t in ts})
    assert per_step > distinct  # steps of 4 share texts: before, they were forwarded once per step

    forwarded: list[str] = []
    batches = minilm.batches

    def counting(texts, *a, **k):
        forwarded.extend(texts)
        return batches(texts, *a, **k)

    monkeypatch.setattr(minilm, "batches", counting)
    threads = torch.get_num_threads()
    a = embed_symbols(symbols, minilm, sae, chunk=4, ahead=True)
    assert sorted(forwarded) == sorted({t for ts in texts_of for t in ts})  # every text once, none twice
    torch.set_num_threads(embed_streams(threads)[1])
    try:
        b = embed_symbols(symbols, minilm, sae, chunk=4, ahead=False)
    finally:
        torch.set_num_threads(threads)
    for name in ("vectors", "support_ids", "support_weights", "support_freq", "stability", "strength", "n_contexts"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.reliability_or_nan(), b.reliability_or_nan(), equal_nan=True)
    assert a.keys == [(s.graph, s.iri) for s in symbols]
    i, j = a.keys.index(("g", symbols[1].iri)), a.keys.index(("g", twin.iri))
    assert np.array_equal(a.vectors[i], a.vectors[j]) and a.stability[i] == a.stability[j]
    c = embed_symbols(symbols, minilm, sae, chunk=100, ahead=True)
    np.testing.assert_allclose(a.vectors, c.vectors, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.stability, c.stability, atol=1e-6)


def test_an_interrupted_embed_leaves_no_worker_behind(minilm, tiny_sae_dir):
    import threading

    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)

    def stop(done: int, total: int) -> None:
        if done >= 6:
            raise KeyboardInterrupt

    import torch

    threads = torch.get_num_threads()
    with pytest.raises(KeyboardInterrupt):
        embed_symbols(_symbols(23), minilm, sae, chunk=5, ahead=True, progress=stop)
    assert not [t for t in threading.enumerate() if t.name == "kgalign-forward" or t.name.startswith("kgalign-plan")]
    assert torch.get_num_threads() == threads  # the streams' thread share is given back
