"""Resource endpoints: graphs, symbols, symbol pages, features, mappings, report, status."""

from __future__ import annotations

import csv
import io

import pytest
import rdflib
from server_support import EMBEDDED_GRAPH


def test_status_names_the_installed_parts(client, live):
    s = client.get("/status").json()
    assert s["read_only"] is False and s["embedded"] is True
    assert s["limits"]["max_upload"] == live.config.max_upload
    assert set(s["features"]) == {"dsl", "matcher", "report", "neural_matching"}


def test_graphs_lists_artefacts_with_counts(client, http_ws):
    graphs = {g["name"]: g for g in client.get("/graphs").json()["graphs"]}
    assert {"cmt", "confOf", "tort-owl", "negligence-skos", "liability-kg"} <= set(graphs)
    cmt = graphs["cmt"]
    assert cmt["triples"] == http_ws.store.count("urn:kgalign:graph:cmt")
    assert cmt["symbols"] == len(http_ws.symbols("cmt")) == sum(cmt["kinds"].values())
    assert cmt["format"] == "rdfxml"


def test_one_graph_as_json_and_as_rdf(client):
    d = client.get("/graphs/negligence-skos").json()
    assert d["embedded"] is True and d["embedded_symbols"] == d["symbols"]
    assert d["prefixes"]
    r = client.get("/graphs/cmt", headers={"Accept": "text/turtle"})
    assert r.headers["content-type"].startswith("text/turtle")
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    assert (rdflib.URIRef("http://cmt#Author"), rdflib.RDF.type, rdflib.OWL.Class) in g
    r = client.get("/graphs/cmt", headers={"Accept": "application/n-triples"})
    assert len(rdflib.Graph().parse(data=r.text, format="nt")) == client.get("/graphs/cmt").json()["triples"]


def test_unknown_graph_is_404_with_suggestions(client):
    r = client.get("/graphs/cmtt")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "UnknownNameError" and body["kind"] == "graph" and "cmt" in body["suggestions"]


def test_symbols_filters_and_search(client, http_ws):
    r = client.get("/symbols", params={"graph": "cmt", "kind": "class", "limit": 500}).json()
    assert r["total"] == len(http_ws.symbols("cmt", "class")) == len(r["symbols"])
    assert {s["kind"] for s in r["symbols"]} == {"class"}
    found = client.get("/symbols", params={"graph": "cmt", "q": "Author"}).json()["symbols"]
    assert found[0]["iri"] == "http://cmt#Author"
    partial = client.get("/symbols", params={"graph": "cmt", "q": "review"}).json()
    assert partial["total"] >= 3 and all("review" in (s["label"] + s["local_name"]).lower() for s in partial["symbols"])
    page = client.get("/symbols", params={"graph": "cmt", "limit": 5, "offset": 5}).json()
    assert len(page["symbols"]) == 5 and page["offset"] == 5
    bad = client.get("/symbols", params={"kind": "klass"})
    assert bad.status_code == 400 and "known kinds" in bad.json()["message"]
    assert client.get("/symbols", params={"limit": "ten"}).status_code == 400


def test_symbol_page_has_hierarchy_and_mappings(client):
    s = client.get("/symbol", params={"iri": "http://cmt#Author", "graph": "cmt"}).json()
    assert s["label"] == "author" and s["kind"] == "class"
    assert {p["iri"] for p in s["parents"]} >= {"http://cmt#User"}
    assert all(p["known"] for p in s["parents"])
    assert s["embedded"] is False and "kgalign embed" in s["neural_note"]
    mapped = {m["other"] for m in s["mappings"]}
    if mapped:  # the matcher is installed: cmt#Author maps to confOf#Author
        assert "http://confOf#Author" in mapped
        assert 0 < s["mappings"][0]["confidence"] <= 1


def test_embedded_symbol_page_has_features_and_neighbours(client, http_ws):
    sym = http_ws.symbols(EMBEDDED_GRAPH, "concept")[0]
    s = client.get("/symbol", params={"iri": sym.iri}).json()
    assert s["embedded"] is True and 0 <= s["stability"] <= 1
    space = http_ws.space
    assert [f["feature"] for f in s["features"]] == [f for f, _, _ in space.support_of((sym.graph, sym.iri))[:16]]
    assert s["features"][0]["label"] == space.feature_label(s["features"][0]["feature"])
    assert len(s["neighbours"]) == 10
    assert s["neighbours"][0]["similarity"] >= s["neighbours"][-1]["similarity"]
    assert all(n["graph"] == EMBEDDED_GRAPH for n in s["neighbours"])
    by_name = client.get(f"/symbols/{EMBEDDED_GRAPH}/{sym.local_name}").json()
    assert by_name["iri"] == sym.iri


def test_symbol_errors(client):
    r = client.get("/symbol", params={"iri": "http://cmt#Autor"})
    assert r.status_code == 404
    assert r.json()["error"] == "UnknownNameError" and r.json()["kind"] == "symbol"
    assert client.get("/symbol").status_code == 400
    r = client.get("/symbols/cmt/Nonexistent_thing")
    assert r.status_code == 404 and r.json()["error"] == "UnknownNameError"


def test_feature_page(client, http_ws):
    sym = http_ws.symbols(EMBEDDED_GRAPH, "concept")[0]
    f = http_ws.space.support_of((sym.graph, sym.iri))[0][0]
    page = client.get(f"/features/{f}", params={"limit": 5}).json()
    assert page["feature"] == f and page["label"] == http_ws.space.feature_label(f)
    assert page["claimed"] is True and page["n_symbols_loading"] >= 1
    assert 0 < len(page["symbols"]) <= 5
    assert sym.iri in {iri for (_, iri), _ in http_ws.space.symbols_activating(f, 50)}
    assert all(s["stability"] is not None for s in page["symbols"])
    assert page["density"] is not None and len(page["snippets"]) <= 5
    assert client.get("/features/99999").status_code == 404
    assert client.get("/features/x").status_code == 404


def test_feature_list(client, http_ws):
    d = client.get("/features", params={"limit": 10}).json()
    assert d["d_sae"] == http_ws.space.d_sae and len(d["features"]) == 10
    counts = [f["n_symbols_loading"] for f in d["features"]]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    assert client.get("/features", params={"sort": "nope"}).status_code == 400


def test_mappings_between_two_graphs(client):
    pytest.importorskip("kgalign.align.matcher", reason="the matcher (kgalign.align.matcher) is not installed")
    d = client.get("/mappings", params={"source": "cmt", "target": "confOf"}).json()
    assert d["origin"] == "store"  # written into the mappings graph by the fixture
    pairs = {(m["subject"], m["object"]) for m in d["alignments"][0]["mappings"]}
    assert ("http://cmt#Author", "http://confOf#Author") in pairs
    fresh = client.get("/mappings", params={"source": "confOf", "target": "cmt"})
    assert fresh.headers["x-kgalign-mappings-origin"] == "matcher"
    tsv = client.get("/mappings", params={"source": "cmt", "target": "confOf", "format": "sssom"})
    assert tsv.headers["content-type"].startswith("text/tab-separated-values")
    rows = list(csv.DictReader(io.StringIO("\n".join(ln for ln in tsv.text.splitlines() if not ln.startswith("#"))),
                               delimiter="\t"))
    assert len(rows) == len(pairs) and rows[0]["predicate_id"].startswith("skos:")
    rdf = client.get("/mappings", params={"source": "cmt", "target": "confOf"},
                     headers={"Accept": "application/rdf+xml"})
    g = rdflib.Graph().parse(data=rdf.content, format="xml")
    cells = list(g.subjects(rdflib.RDF.type, rdflib.URIRef("http://knowledgeweb.semanticweb.org/heterogeneity/alignment#Cell")))
    assert len(cells) == len(pairs)
    every = client.get("/mappings").json()
    assert every["origin"] == "store" and len(every["alignments"]) >= 1
    assert client.get("/mappings", params={"source": "cmt"}).status_code == 400
    assert client.get("/mappings", params={"source": "cmt", "target": "nope"}).status_code == 404
    assert client.get("/mappings", params={"format": "owl"}).status_code == 400


def test_report_is_html_or_a_json_501(client, live_ro):
    r = client.get("/report")
    if r.status_code == 501:
        body = r.json()
        assert body["error"] == "NotAvailable" and "kgalign.report" in body["needs"]
        pytest.skip("kgalign.report is not installed: /report answers 501 (checked)")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text[:500].lower() and "negligence" in r.text.lower()
    with live_ro.client() as c:  # built without writing to the workspace
        assert c.get("/report").status_code == 200
