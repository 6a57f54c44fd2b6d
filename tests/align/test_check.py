"""The tests of meaning and the bridge check (``kgalign check``) on the demo ontologies, with real MiniLM and the
suite's tiny SAE, in a workspace of this module's own (the check writes into it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binom

from kgalign.align.behaviour import (
    MeaningBatch,
    MeaningCheck,
    meaning_checks,
    merge_candidate_pairs,
    pull_apart_check,
)
from kgalign.align.check import CLAIM_KINDS, CheckConfig, auc, junk_labels, load_check, run_check, save_check

SMALL = CheckConfig(n_symbols=24, n_junk=12, n_links=3, n_controls=4, fve_texts=60, behaviour_budget=60.0,
                    label_synsets=120)


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_sae_dir, demo_files):
    from kgalign.api import Workspace

    w = Workspace.open(tmp_path_factory.mktemp("check-ws") / "ws")
    for f in demo_files:
        w.load(f)
    w.config.sae = str(tiny_sae_dir)
    w.save_config()
    w.embed(quiet=True)
    return w


@pytest.fixture(scope="module")
def result(ws):
    res = run_check(ws, SMALL, quiet=True)
    save_check(ws, res)
    return res


def _mc(passed: bool, null: bool, test: str = "pull-apart") -> MeaningCheck:
    return MeaningCheck(test, (("g", "a"), ("h", "b")), ("a", "b"), 1, null, 0.1, 0.0, 0.05, 2.0, 1.0, passed, 4,
                        0.5, 1.0)


def test_batch_rates_and_p_values():
    checks = [_mc(i < 6, False) for i in range(10)] + [_mc(i < 1, True) for i in range(10)]
    r = MeaningBatch(checks).rates("pull-apart")
    assert (r["passed"], r["n"], r["null_passed"], r["n_null"]) == (6, 10, 1, 10)
    assert r["false_positive_rate"] == pytest.approx(0.1)
    assert r["p_binomial"] == pytest.approx(binom.sf(5, 10, 0.1))
    assert r["ratio"] == pytest.approx(6.0) and r["meets_target"]
    # no null passing: the rate is floored at half a null, not taken as zero
    r0 = MeaningBatch([_mc(True, False), _mc(False, True), _mc(False, True)]).rates("pull-apart")
    assert r0["p_binomial"] == pytest.approx(0.25)
    assert not r0["meets_target"]


def test_auc_and_junk_labels():
    assert auc(np.array([1.0, 2.0]), np.array([0.0, 0.5])) == 1.0
    assert auc(np.array([0.0]), np.array([1.0])) == 0.0
    j = junk_labels(30, seed=3)
    assert len(set(j)) == 30 and all(len(x.split()) == 3 for x in j)
    assert j == junk_labels(30, seed=3)


def test_merge_candidates_are_cross_graph_mutual_neighbours(ws):
    pairs = merge_candidate_pairs(ws, 5)
    assert pairs
    space = ws.space
    for a, b, sim in pairs:
        assert a[0] != b[0]
        assert space.similar(a, 1, graphs={b[0]})[0][0] == b
        assert sim == pytest.approx(space.similarity(a, b), abs=1e-5)


def test_pull_apart_on_a_feature_that_does_not_fire_changes_nothing(ws, minilm, tiny_sae_dir):
    from kgalign.neural.sae.io import load_sae

    sae = load_sae(tiny_sae_dir)
    space, table = ws.space, ws.symbol_table
    a, b, _ = merge_candidate_pairs(ws, 1)[0]
    sa, sb = table.get(a[1], a[0]), table.get(b[1], b[0])
    fired = {f for k in (a, b) for f, _, _ in space.support_of(k)}
    density = space.stats.density if space.stats is not None else np.zeros(space.d_sae)
    silent = next(f for f in np.argsort(density) if int(f) not in fired)
    c = pull_apart_check(minilm, sae, space, sa, sb, int(silent), n_controls=4)
    if c.strength == 0.0:
        assert not c.passed and "changes nothing" in c.note
    # the feature they share does move the residual stream
    shared = pull_apart_check(minilm, sae, space, sa, sb, space.support_of(a)[0][0], n_controls=4)
    assert shared.strength > 0 and np.isfinite(shared.effect) and len(shared.keys) == 2


def test_meaning_checks_pair_every_real_link_with_a_null(ws):
    batch = meaning_checks(ws, n_links=2, n_controls=4)
    real = [c for c in batch.checks if c.test == "pull-apart" and not c.null]
    null = [c for c in batch.checks if c.test == "pull-apart" and c.null]
    assert real and len(null) == len(real)
    cands = {frozenset(k for k in (a, b)) for a, b, _ in merge_candidate_pairs(ws, 2)}
    assert all(frozenset(c.keys) not in cands for c in null)
    d = batch.to_dict()
    assert set(d["tests"]) == {"pull-apart", "definition-pull", "shared-pull-apart"}
    shared = [c for c in batch.checks if c.test == "shared-pull-apart"]
    assert {frozenset(c.keys) for c in shared} == {frozenset(c.keys) for c in real + null}  # same links
    assert all(c.features or not c.passed for c in shared)  # a pair sharing nothing cannot pass
    dp = [c for c in batch.checks if c.test == "definition-pull"]
    assert len(dp) % 2 == 0 and sum(c.null for c in dp) == len(dp) // 2


def test_check_measures_every_claim_kind(result, ws):
    assert [v.claim for v in result.verdicts] == [c for c in CLAIM_KINDS if result.verdict(c) is not None]
    assert {"merge", "pruning", "reconstruction"} <= {v.claim for v in result.verdicts}
    st = result.stability
    assert st["n_junk"] == 12 and 0.0 <= st["auc"] <= 1.0
    p = result.paraphrase
    assert p["n_pairs"] >= 5
    for side in ("sae", "dense"):
        assert 0.0 <= p[side]["hits_at_1"] <= p[side]["hits_at_5"] <= 1.0
    r = result.reconstruction
    assert r["n_tokens"] > 100 and r["fve"] < 1.0 and r["l0"] > 0
    assert result.labels["workspace"]["n_alive"] == len(ws.space.claimed_features())
    assert result.summary().startswith("this SAE can") and set(result.timings) >= {"stability", "behaviour"}


def test_check_is_persisted_as_json_and_rdf(result, ws):
    back = load_check(ws)
    assert back is not None and back.to_dict() == result.to_dict()
    rows = ws.sparql(
        "SELECT ?claim ?ok WHERE { GRAPH <urn:kgalign:neural> { <urn:kgalign:check> kga:verdict ?v . "
        "?v kga:claim ?claim . OPTIONAL { ?v kga:ok ?ok } } }"
    )
    claims = {str(r["claim"]) if not hasattr(r["claim"], "value") else r["claim"].value for r in rows}
    assert claims == {v.claim for v in result.verdicts}


def test_check_json_from_another_run_is_not_read(result, ws):
    p = ws.path / "neural" / "check.json"
    data = json.loads(p.read_text())
    data["run_id"] = "something-else"
    other = ws.path / "neural" / "check.other.json"
    other.write_text(json.dumps(data))
    saved = p.read_text()
    try:
        p.write_text(json.dumps(data))
        assert load_check(ws) is None
    finally:
        p.write_text(saved)
        other.unlink()
    assert load_check(ws) is not None


def test_cli_check_feature_and_server_record(result, ws, capsys):
    from kgalign.cli import main
    from kgalign.server.resources import check_record

    rec = check_record(ws)
    assert rec["checked"] and rec["summary"] == result.summary()
    f = ws.space.support_of(ws.space.keys[0])[0][0]
    assert main(["-w", str(ws.path), "feature", str(f)]) == 0
    out = capsys.readouterr().out
    assert "grounded label:" in out
    assert main(["-w", str(ws.path), "feature", str(f), "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["grounded"] is not None and data["grounded"]["feature"] == f
    assert "symbols" in data["workspace_evidence"]


def test_report_header_reads_the_saved_check(result, ws):
    from kgalign.report.check_section import bridge_check, check_html

    d = bridge_check(ws)
    assert d is not None and d["summary"] == result.summary()
    assert "checks" not in d["behaviour"]  # the report carries the rates, not every check
    assert result.summary() in check_html(d)
