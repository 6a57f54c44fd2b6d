"""The SPARQL 1.1 Protocol at /sparql: methods, content negotiation, updates, errors, real clients."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
import rdflib

CMT = "urn:kgalign:graph:cmt"
COUNT_CMT_CLASSES = f"SELECT (COUNT(?c) AS ?n) WHERE {{ GRAPH <{CMT}> {{ ?c a owl:Class FILTER(isIRI(?c)) }} }}"
SELECT_AUTHOR = f"SELECT ?c WHERE {{ GRAPH <{CMT}> {{ ?c a owl:Class FILTER(?c = <http://cmt#Author>) }} }}"
CONSTRUCT_AUTHOR = (
    f"CONSTRUCT {{ ?c ?p ?o }} WHERE {{ GRAPH <{CMT}> {{ ?c ?p ?o FILTER(?c = <http://cmt#Author>) }} }}"
)
SRJ = "application/sparql-results+json"


def _count(client) -> int:
    r = client.get("/sparql", params={"query": COUNT_CMT_CLASSES}, headers={"Accept": SRJ})
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def test_get_defaults_to_sparql_json(client):
    r = client.get("/sparql", params={"query": SELECT_AUTHOR})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(SRJ)
    body = r.json()
    assert body["head"]["vars"] == ["c"]
    assert body["results"]["bindings"] == [{"c": {"type": "uri", "value": "http://cmt#Author"}}]


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/json", "application/json"),
        ("text/csv;q=0.2, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
        ("*/*", SRJ),
    ],
)
def test_select_content_negotiation(client, accept, media):
    r = client.get("/sparql", params={"query": SELECT_AUTHOR}, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == media
    assert "Accept" in r.headers.get("vary", "")
    if media.endswith("xml"):
        ns = "{http://www.w3.org/2005/sparql-results#}"
        uris = [e.text for e in ET.fromstring(r.content).iter(f"{ns}uri")]
        assert uris == ["http://cmt#Author"]
    elif media == "text/csv":
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows == [["c"], ["http://cmt#Author"]]
    elif media == "text/tab-separated-values":
        assert r.text.splitlines() == ["?c", "<http://cmt#Author>"]
    else:
        assert r.json()["results"]["bindings"][0]["c"]["value"] == "http://cmt#Author"


@pytest.mark.parametrize(
    ("accept", "media", "rdflib_format"),
    [
        ("text/turtle", "text/turtle", "turtle"),
        ("application/n-triples", "application/n-triples", "nt"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
        ("application/ld+json", "application/ld+json", "json-ld"),
        (None, "text/turtle", "turtle"),
    ],
)
def test_construct_content_negotiation(client, accept, media, rdflib_format):
    headers = {"Accept": accept} if accept else {}
    r = client.post("/sparql", content=CONSTRUCT_AUTHOR, headers={**headers, "Content-Type": "application/sparql-query"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == media
    g = rdflib.Graph().parse(data=r.content, format=rdflib_format)
    assert (rdflib.URIRef("http://cmt#Author"), rdflib.RDF.type, rdflib.OWL.Class) in g
    assert len(g) >= 3


def test_ask_and_format_parameter(client):
    q = "ASK { GRAPH <urn:kgalign:graph:cmt> { <http://cmt#Author> a owl:Class } }"
    r = client.get("/sparql", params={"query": q})
    assert r.json() == {"head": {}, "boolean": True}
    r = client.get("/sparql", params={"query": q, "format": "xml"})
    assert r.headers["content-type"].startswith("application/sparql-results+xml")
    assert b"<boolean>true</boolean>" in r.content
    # SPARQLWrapper repeats the format under output=/results=; a graph format for a SELECT is refused.
    r = client.get("/sparql", params={"query": SELECT_AUTHOR, "output": "turtle"})
    assert r.status_code == 406
    assert r.json()["error"] == "NotAcceptable"


def test_unacceptable_accept_header_is_406_json(client):
    r = client.get("/sparql", params={"query": SELECT_AUTHOR}, headers={"Accept": "image/png"})
    assert r.status_code == 406
    body = r.json()
    assert body["error"] == "NotAcceptable" and SRJ in body["available"]


def test_post_form_and_direct_body_agree(client):
    a = client.post("/sparql", data={"query": COUNT_CMT_CLASSES}, headers={"Accept": SRJ})
    b = client.post("/sparql", content=COUNT_CMT_CLASSES.encode(), headers={"Content-Type": "application/sparql-query"})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert int(a.json()["results"]["bindings"][0]["n"]["value"]) == _count(client) > 20


def test_default_graph_uri_selects_the_dataset(client):
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?s a owl:Class }"
    whole = client.get("/sparql", params={"query": q}).json()
    only_cmt = client.get("/sparql", params={"query": q, "default-graph-uri": CMT}).json()
    n_all = int(whole["results"]["bindings"][0]["n"]["value"])
    n_cmt = int(only_cmt["results"]["bindings"][0]["n"]["value"])
    assert 0 < n_cmt < n_all


def test_syntax_error_carries_line_and_column(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE {\n  ?s ?p \n}"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "QuerySyntaxError"
    assert (body["line"], body["column"]) == (3, 2)
    assert body["context"].splitlines()[-1].strip() == "^"


def test_protocol_misuse_is_json(client):
    r = client.get("/sparql", params={"default-graph-uri": CMT})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")  # a service description
    r = client.get("/sparql", params={"update": "CLEAR ALL"})
    assert r.status_code == 405 and r.json()["allowed"] == ["POST"]
    r = client.post("/sparql", content=b"query=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"] == "UnsupportedMediaType"
    r = client.post("/sparql", data={"query": "ASK {}", "update": "CLEAR ALL"})
    assert r.status_code == 400
    r = client.post("/sparql", params={"query": "ASK {}"}, data={"query": "ASK {}"})
    assert r.status_code == 400 and "one 'query'" in r.json()["message"]


@pytest.mark.embedded_store  # writes urn:test:scratch: a remote store's dataset is kgalign's own graphs only
def test_update_needs_the_write_token(live, live_ro):
    ins = "INSERT DATA { GRAPH <urn:test:scratch> { <urn:test:a> <urn:test:p> 1 } }"
    ask = "ASK { GRAPH <urn:test:scratch> { <urn:test:a> <urn:test:p> 1 } }"
    with live.client() as c:
        r = c.post("/sparql", data={"update": ins})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = c.post("/sparql", data={"update": ins}, headers={"Authorization": "Bearer wrong-token-wrong"})
        assert r.status_code == 403
        assert c.get("/sparql", params={"query": ask}).json()["boolean"] is False
        r = c.post("/sparql", content=ins, headers={**live.auth, "Content-Type": "application/sparql-update"})
        assert r.status_code == 204, r.text
        assert c.get("/sparql", params={"query": ask}).json()["boolean"] is True
        r = c.post("/sparql", data={"update": "DROP GRAPH <urn:test:scratch>"}, headers=live.auth)
        assert r.status_code == 204
        r = c.post("/sparql", data={"update": "INSERT DATA { GRAPH <urn:x> { <urn:a> <urn:b> } }"}, headers=live.auth)
        assert r.status_code == 400 and r.json()["line"] == 1
    with live_ro.client() as c:
        r = c.post("/sparql", data={"update": ins}, headers=live.auth)
        assert r.status_code == 403 and "read-only" in r.json()["message"]


@pytest.mark.embedded_store  # kga: functions run inside the embedded store; a remote one refuses them by name
def test_kga_extension_functions_are_available(client, http_ws):
    sym = http_ws.symbols("negligence-skos")[0]
    q = f"SELECT (kga:stability(<{sym.iri}>) AS ?s) WHERE {{}}"
    r = client.get("/sparql", params={"query": q})
    assert r.status_code == 200, r.text
    value = float(r.json()["results"]["bindings"][0]["s"]["value"])
    assert value == pytest.approx(http_ws.space.stability(("negligence-skos", sym.iri)), rel=1e-5)


def test_rdflib_sparqlstore_queries_through_the_endpoint(live):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    for method in ("GET", "POST", "POST_FORM"):
        store = SPARQLStore(query_endpoint=f"{live.url}/sparql", method=method)
        g = rdflib.Graph(store=store)
        rows = list(g.query(SELECT_AUTHOR))
        assert [str(r[0]) for r in rows] == ["http://cmt#Author"], method
        assert g.query("ASK { ?s a <http://www.w3.org/2002/07/owl#Class> }").askAnswer is True
        built = g.query(CONSTRUCT_AUTHOR).graph
        assert (rdflib.URIRef("http://cmt#Author"), rdflib.RDF.type, rdflib.OWL.Class) in built
        store.close()
    # A graph named by its IRI is that graph only (rdflib sends default-graph-uri).
    named = rdflib.Graph(store=SPARQLStore(query_endpoint=f"{live.url}/sparql"), identifier=rdflib.URIRef(CMT))
    assert (rdflib.URIRef("http://cmt#Author"), rdflib.RDF.type, rdflib.OWL.Class) in named
    assert (rdflib.URIRef("http://confOf#Author"), rdflib.RDF.type, rdflib.OWL.Class) not in named


def test_sparqlwrapper_against_the_endpoint(live):
    from SPARQLWrapper import CSV, JSON, POST, TSV, TURTLE, XML, SPARQLWrapper

    sw = SPARQLWrapper(f"{live.url}/sparql")
    sw.setQuery(SELECT_AUTHOR)
    sw.setReturnFormat(JSON)
    res = sw.query().convert()
    assert res["results"]["bindings"][0]["c"]["value"] == "http://cmt#Author"
    sw.setReturnFormat(XML)  # the default format: SPARQL XML results, parsed to a DOM
    dom = sw.query().convert()
    assert [n.firstChild.data for n in dom.getElementsByTagName("uri")] == ["http://cmt#Author"]
    for fmt in (CSV, TSV):
        sw.setReturnFormat(fmt)
        assert "cmt#Author" in sw.query().convert().decode()
    sw.setMethod(POST)
    sw.setReturnFormat(JSON)
    assert sw.query().convert()["results"]["bindings"][0]["c"]["value"] == "http://cmt#Author"
    sw.setQuery(CONSTRUCT_AUTHOR)
    sw.setReturnFormat(TURTLE)
    g = rdflib.Graph().parse(data=sw.query().convert(), format="turtle")
    assert (rdflib.URIRef("http://cmt#Author"), rdflib.RDF.type, rdflib.OWL.Class) in g
    sw.setReturnFormat(XML)  # CONSTRUCT + XML = RDF/XML, converted to an rdflib Graph
    g = sw.query().convert()
    assert (rdflib.URIRef("http://cmt#Author"), rdflib.RDF.type, rdflib.OWL.Class) in g
    sw.setQuery("ASK { ?s a owl:Class }")
    sw.setReturnFormat(JSON)
    assert sw.query().convert()["boolean"] is True
    # an update through SPARQLWrapper: refused without the token, applied with it
    upd = SPARQLWrapper(f"{live.url}/sparql")
    upd.setMethod(POST)
    upd.setQuery("INSERT DATA { GRAPH <urn:test:sw> { <urn:test:x> <urn:test:p> 2 } }")
    from urllib.error import HTTPError

    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    with pytest.raises((SPARQLWrapperException, HTTPError)):
        upd.query()
    upd.addCustomHttpHeader("Authorization", f"Bearer {live.token}")
    assert upd.query().response.status == 204
    with live.client() as c:
        c.post("/sparql", data={"update": "DROP GRAPH <urn:test:sw>"}, headers=live.auth)



# -- HEAD, the service description, readable syntax errors ------------------------------------------------


def test_head_answers_like_get_without_a_body(client):
    get = client.get("/sparql", params={"query": SELECT_AUTHOR}, headers={"Accept": "text/csv"})
    head = client.head("/sparql", params={"query": SELECT_AUTHOR}, headers={"Accept": "text/csv"})
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) == len(get.content) > 0
    assert head.content == b""
    bad = client.head("/sparql", params={"query": "SELECT * WHERE {"})
    assert bad.status_code == 400 and bad.content == b""


SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
KGA = rdflib.Namespace("https://w3id.org/kgalign/vocab#")


@pytest.mark.parametrize("accept,fmt", [("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                                        (None, "turtle"), ("text/html,*/*;q=0.8", "turtle")])
def test_get_without_a_query_is_a_service_description(client, live, accept, fmt):
    r = client.get("/sparql", headers={"Accept": accept} if accept else {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == ("application/rdf+xml" if fmt == "xml" else "text/turtle")
    g = rdflib.Graph().parse(data=r.text, format=fmt)
    services = list(g.subjects(rdflib.RDF.type, SD.Service))
    assert [str(s) for s in services] == [f"{live.url}/sparql"]
    svc = services[0]
    assert (svc, SD.endpoint, svc) in g
    assert SD.SPARQL11Query in set(g.objects(svc, SD.supportedLanguage))
    assert SD.SPARQL11Update in set(g.objects(svc, SD.supportedLanguage))  # the live server takes a write token
    formats = {str(f) for f in g.objects(svc, SD.resultFormat)}
    assert "http://www.w3.org/ns/formats/SPARQL_Results_JSON" in formats
    assert "http://www.w3.org/ns/formats/Turtle" in formats
    functions = set(g.objects(svc, SD.extensionFunction))
    assert {KGA.similarity, KGA.stability, KGA.featureLabel} <= functions
    named = {str(n) for n in g.objects(None, SD.name)}
    assert CMT in named
    assert client.head("/sparql").status_code == 200


def test_service_description_of_a_read_only_server_has_no_update(live_ro):
    with live_ro.client() as c:
        g = rdflib.Graph().parse(data=c.get("/sparql", headers={"Accept": "text/turtle"}).text, format="turtle")
    langs = set(g.objects(None, SD.supportedLanguage))
    assert SD.SPARQL11Query in langs and SD.SPARQL11Update not in langs


def test_service_description_refuses_an_unwritable_accept(client):
    r = client.get("/sparql", headers={"Accept": "image/png"})
    assert r.status_code == 406 and "text/turtle" in r.json()["available"]


@pytest.mark.parametrize("query,line,found,expected", [
    ("SELECT * WHERE {\n  ?s ?p ?o ", 2, "the end of the query", "}"),
    ("SELECT * WHERE { ?s nope:p ?o }", 1, "'?o'", None),
])
def test_syntax_errors_are_readable(client, query, line, found, expected):
    body = client.get("/sparql", params={"query": query}).json()
    assert body["error"] == "QuerySyntaxError" and body["line"] == line
    assert body["message"].startswith(f"SPARQL syntax error at {found}")
    assert "[_]" not in body["message"] and "[_]" not in body["expected"]
    caret_line = body["context"].splitlines()[-1]
    assert caret_line.strip() == "^" and len(caret_line) - 1 == 2 + body["column"] - 1
    if expected:
        assert expected in body["expected"] and "expected" in body["message"]
    else:
        assert "'nope:' is not declared" in body["message"]


def test_cli_prints_a_sparql_syntax_error_as_one_line_and_a_caret(http_ws, capsys):
    from kgalign.cli import main

    rc = main(["-w", str(http_ws.path), "query", "SELECT ?s WHERE {\n  ?s ?p ?o "])
    err = capsys.readouterr().err.rstrip("\n").splitlines()
    assert rc == 5
    assert err[0].startswith("kgalign: error: line 2, column ") and "expected" in err[0] and "[_]" not in err[0]
    assert err[1].strip() == "?s ?p ?o" and err[2].strip() == "^" and len(err) == 3
