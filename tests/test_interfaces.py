"""CLI, DSL, HTTP and Python are translations onto one :class:`~kgalign.api.Workspace`: the same pair
gives the same alignment through each (same pairs, same confidences, neural evidence in all of them),
and after a drop no answer — DSL, ``kga:`` SPARQL functions, report, HTTP — mentions the dropped graph."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from kgalign.api import Workspace
from kgalign.cli import main

SRC, TGT = "tort-owl", "negligence-skos"
DROPPED = "negligence-skos"
TOKEN = "interfaces-test-token-0123456789"


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_files):
    """An embedded workspace of two demo systems, closed (tests copy it). The SAE is an untrained TopK
    on MiniLM's width: real vectors, cheap to make; what is tested is that every interface agrees."""
    from kgalign.neural.sae.io import save_sae
    from kgalign.neural.sae.registry import build_sae, make_config

    root = tmp_path_factory.mktemp("interfaces")
    sae = root / "sae"
    save_sae(build_sae(make_config("topk", d_in=384, d_sae=256, k=8), seed=0), sae)
    ws = Workspace.open(root / "ws")
    for f in demo_files:
        if f.stem in (SRC, TGT):
            ws.load(f)
    ws.config.sae = str(sae)
    ws.save_config()
    ws.embed(quiet=True, write_facts=True)  # the neural facts in the store on every backend
    ws.close()
    return root / "ws"


def _stability_query(ws) -> str:
    """Each symbol with its support stability: kga:stability() inside the embedded store; on a remote
    store (which refuses kga: functions) the neural graph's facts, written there on request."""
    if ws.store.capabilities.supports_extension_functions:
        return ("PREFIX kga: <https://w3id.org/kgalign/vocab#> SELECT ?s (kga:stability(?s) AS ?st) "
                "WHERE { GRAPH ?g { ?s ?p ?o } }")
    return ("PREFIX kga: <https://w3id.org/kgalign/vocab#> SELECT ?s ?st WHERE { GRAPH ?g { ?s ?p ?o } "
            "OPTIONAL { GRAPH <urn:kgalign:neural> { ?s kga:supportStability ?st } } }")


@pytest.fixture
def ws_copy(built, tmp_path):
    dest = tmp_path / "ws"
    shutil.copytree(built, dest)
    ws = Workspace.open(dest)
    yield ws
    ws.close()


def _serve(ws, token=None):
    import sys
    from pathlib import Path

    from kgalign.server import ServerConfig, create_app

    sys.path.insert(0, str(Path(__file__).parent / "server"))
    from server_support import ServerThread

    config = ServerConfig(workspace=ws.path, write_token=token, match_neural="never")
    return ServerThread(create_app(config, workspace=ws))


def _pairs(rows):
    return sorted((a, b, round(float(c), 4)) for a, b, c in rows)


def test_same_alignment_through_python_dsl_cli_and_http(ws_copy, tmp_path, capsys):
    ws = ws_copy
    py = ws.match(SRC, TGT)
    assert "neural" in py.metadata["scorers"], "an embedded workspace matches with neural evidence"
    assert "dense" in py.metadata["scorers"], "... the base model's sentence embeddings among it"
    assert any(e.kind == "neural" for m in py for e in m.evidence)
    expected = _pairs((m.subject, m.object, m.confidence) for m in py)
    assert expected

    dsl = ws.query(f"align {SRC} with {TGT}")
    assert _pairs((r.source, r.target, r.confidence) for r in dsl.rows) == expected
    assert all(r.fields["similarity"] is not None for r in dsl.rows), "the similarity column is filled"
    assert "neural" in ws.explain(f"align {SRC} with {TGT}")

    out = tmp_path / "a.tsv"
    assert main(["-w", str(ws.path), "align", SRC, TGT, "--format", "sssom", "-o", str(out)]) == 0
    from kgalign.align.formats import read_sssom

    cli = read_sssom(out)
    assert _pairs((m.subject, m.object, m.confidence) for m in cli) == expected

    with _serve(ws) as st, httpx.Client(base_url=f"http://127.0.0.1:{st.port}", timeout=120) as c:
        r = c.get("/mappings", params={"source": SRC, "target": TGT, "format": "json", "fresh": "1"})
        assert r.status_code == 200, r.text
        (al,) = r.json()["alignments"]
        got = _pairs((m["subject"], m["object"], m["confidence"]) for m in al["mappings"])
        assert got == expected
        r = c.post("/query", json={"query": f"align {SRC} with {TGT}"})
        assert _pairs((m["source_iri"], m["target_iri"], m["confidence"]) for m in r.json()["rows"]) == expected


def test_no_neural_is_stated_in_explain_and_metadata(ws_copy):
    al = ws_copy.match(SRC, TGT, neural=False)
    assert "neural" not in al.metadata["scorers"] and al.metadata["neural_left_out"]
    assert "dense" not in al.metadata["scorers"]
    assert not any(e.kind == "neural" for m in al for e in m.evidence)


def _mentions(text: str, ws_iris: set[str]) -> list[str]:
    return [i for i in ws_iris if i in text]


DSL_QUESTIONS = (
    "unstable symbols limit 200",
    "symbols with no neural counterpart",
    "symbols similar to DutyOfCare in graph tort-owl limit 200",
    "symbols sharing features with DutyOfCare in graph tort-owl limit 200",
)


def _dropped_iris(ws) -> set[str]:
    own = {s.iri for s in ws.symbols(DROPPED)}
    others = {s.iri for g in ws.graph_names() if g != DROPPED for s in ws.symbols(g)}
    return own - others


def _check_clean(answer_text: str, iris: set[str]) -> None:
    assert DROPPED not in answer_text
    assert not _mentions(answer_text, iris)


def test_python_drop_leaves_no_trace(ws_copy):
    ws = ws_copy
    iris = _dropped_iris(ws)
    before = ws.query("unstable symbols limit 500")
    assert any(r.graph == DROPPED for r in before.rows)
    ws.query("symbols similar to DutyOfCare in graph tort-owl")  # warm the caches
    ws.sparql_functions()
    assert ws.export(ws.match(SRC, TGT), "rdf") > 0  # recorded mappings with the graph on one side
    ws.drop(DROPPED)
    mappings = ws.sparql("SELECT ?s ?p ?o WHERE { GRAPH <urn:kgalign:mappings> { ?s ?p ?o } }")
    _check_clean(" ".join(str(t) for row in mappings for t in (row["s"], row["p"], row["o"])), iris)
    for q in DSL_QUESTIONS:
        _check_clean(json.dumps(ws.query(q).to_dict()), iris)
    res = ws.sparql(_stability_query(ws))
    bound = [row["s"].value for row in res if row["st"] is not None]
    assert bound and not set(bound) & iris
    neural = ws.sparql("SELECT ?s WHERE { GRAPH <urn:kgalign:neural> { ?s ?p ?o } }")
    assert not {r["s"].value for r in neural} & iris
    from kgalign.report import report_to_dict

    rep = ws.report(behaviour=False)
    _check_clean(json.dumps(report_to_dict(rep), default=str), iris)


def test_drop_all_empties_every_answer(ws_copy):
    ws = ws_copy
    ws.query("unstable symbols")
    ws.sparql_update("DROP ALL")
    assert ws.query("unstable symbols").rows == []


def test_cli_drop_leaves_no_trace(ws_copy, capsys):
    path = str(ws_copy.path)
    iris = _dropped_iris(ws_copy)
    ws_copy.close()
    assert main(["-w", path, "drop", DROPPED]) == 0
    capsys.readouterr()
    for q in DSL_QUESTIONS:
        assert main(["-w", path, "query", q, "--format", "json"]) == 0
        _check_clean(capsys.readouterr().out, iris)


def test_http_drop_leaves_no_trace(ws_copy):
    ws = ws_copy
    iris = _dropped_iris(ws)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with _serve(ws, TOKEN) as st, httpx.Client(base_url=f"http://127.0.0.1:{st.port}", timeout=120) as c:
        q = _stability_query(ws)
        warm = c.get("/sparql", params={"query": q}, headers={"Accept": "application/sparql-results+json"})
        assert warm.status_code == 200
        assert c.post("/query", json={"query": "unstable symbols limit 500"}).status_code == 200
        r = c.delete(f"/graphs/{DROPPED}", headers=auth)
        assert r.status_code == 204, r.text
        for text in DSL_QUESTIONS:
            r = c.post("/query", json={"query": text})
            assert r.status_code == 200, r.text
            _check_clean(r.text, iris)
        r = c.get("/sparql", params={"query": q}, headers={"Accept": "application/sparql-results+json"})
        bindings = r.json()["results"]["bindings"]
        assert not {b["s"]["value"] for b in bindings if "st" in b} & iris
        r = c.get("/report")
        if r.status_code == 200:
            _check_clean(r.text, iris)
