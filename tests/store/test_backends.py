"""The same workspace operations on the embedded store and on a real Oxigraph server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgalign.errors import KgalignError, LoadError
from kgalign.store import Store
from kgalign.store.terms import BlankNode, Literal, NamedNode, Triples

REPO = Path(__file__).resolve().parents[2]
ONT = REPO / "ontologies"
DEMO = ("tort-owl.ttl", "negligence-skos.ttl", "liability-kg.jsonld")


def load_demo(ws) -> None:
    for f in DEMO:
        ws.load(ONT / f)


def test_the_store_is_a_store(backend_ws) -> None:
    assert isinstance(backend_ws.store, Store)
    caps = backend_ws.store.capabilities
    assert caps.embedded == (backend_ws.store.backend == "oxigraph")
    assert caps.supports_extension_functions == caps.embedded


def test_load_graphs_symbols_and_sparql(backend_ws) -> None:
    ws = backend_ws
    load_demo(ws)
    infos = {g.name: g for g in ws.graphs()}
    assert sorted(infos) == ["liability-kg", "negligence-skos", "tort-owl"]
    assert infos["tort-owl"].triples == 382 and infos["liability-kg"].format == "jsonld"
    assert ws.store.count(infos["tort-owl"].iri) == 382
    assert ws.store.prefixes("tort-owl")  # the file's declared prefixes are kept
    syms = ws.symbols()
    assert len(syms) == 213
    sym = ws.resolve_one("duty of care")
    assert sym.graph == "tort-owl" and sym.definitions
    rows = ws.sparql_raw("SELECT ?c ?l WHERE { ?c a owl:Class ; rdfs:label ?l } ORDER BY ?c LIMIT 3")
    assert rows.variables == ["c", "l"] and len(rows) == 3
    assert all(isinstance(r["c"], NamedNode) and isinstance(r["l"], Literal) for r in rows)
    assert ws.sparql_raw("ASK { ?s a skos:Concept }") is True
    graph = ws.sparql_raw("CONSTRUCT { ?s a owl:Class } WHERE { ?s a owl:Class }")
    assert isinstance(graph, Triples) and len(graph) > 10
    # Blank nodes (OWL restrictions) come back as kgalign's own terms.
    assert any(isinstance(q.subject, BlankNode) for q in ws.store.quads(graph=infos["tort-owl"].iri))


def test_both_backends_answer_alike(backend_ws, tmp_path) -> None:
    """A canonical digest of the answers, compared with the embedded store's (computed here too)."""
    from kgalign.api import Workspace
    from kgalign.query.engine import run

    ws = backend_ws
    load_demo(ws)
    local = Workspace.open(tmp_path / "reference")
    load_demo(local)
    q = "SELECT ?s ?l WHERE { ?s skos:prefLabel ?l } ORDER BY ?s ?l"
    assert [tuple(r) for r in ws.sparql_raw(q)] == [tuple(r) for r in local.sparql_raw(q)]
    assert [s.to_dict() for s in ws.symbols()] == [s.to_dict() for s in local.symbols()]
    dsl = 'symbols in graph tort-owl where { ?symbol a owl:Class }'
    assert run(ws, dsl).rows == run(local, dsl).rows
    local.close()


def test_streamed_rows_are_the_selected_rows(backend_ws) -> None:
    """``select_iter`` (the symbol reads) yields exactly ``select``'s rows; an abandoned stream
    leaves the store answering; a syntax error keeps its position in the user's text."""
    from kgalign.errors import QuerySyntaxError

    ws = backend_ws
    load_demo(ws)
    q = "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert list(ws.store.select_iter(q)) == list(ws.store.select(q))
    assert len(list(ws.store.select_iter(q))) > 500
    everything = list(ws.store.select(q))
    it = ws.store.select_iter(q)
    first = next(it)
    assert ws.store.ask("ASK { ?s a owl:Class }")  # another request while the rows are still arriving
    assert [first, *it] == everything
    it = ws.store.select_iter(q)
    first = next(it)
    it.close()  # abandoned after one row
    assert first["s"] is not None and ws.store.select("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")[0]["n"].value
    with pytest.raises(QuerySyntaxError) as e:
        list(ws.store.select_iter("SELECT ?s WHERE {\n  ?s ?p }"))
    assert e.value.line == 2


def test_a_failed_load_changes_nothing(backend_ws, tmp_path) -> None:
    ws = backend_ws
    ws.load(ONT / "tort-owl.ttl")
    before = ws.store.snapshot()
    bad = tmp_path / "tort-owl.ttl"
    bad.write_text("@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:a ex:b ;; .\n")
    with pytest.raises(LoadError) as e:
        ws.load(bad)
    assert e.value.line == 3
    assert ws.store.snapshot() == before
    assert [g.triples for g in ws.graphs()] == [382]


def test_reload_replaces_and_drop_forgets(backend_ws, tmp_path) -> None:
    ws = backend_ws
    load_demo(ws)
    small = tmp_path / "small.ttl"
    small.write_text("@prefix ex: <http://e/> .\nex:a a <http://www.w3.org/2002/07/owl#Class> .\n")
    rep = ws.load(small, name="tort-owl")
    assert rep.replaced and rep.info.triples == 1
    assert ws.store.count(rep.info.iri) == 1
    ws.drop("tort-owl")
    assert "tort-owl" not in ws.graph_names()
    assert not ws.store.has_graph(rep.info.iri)
    # No answer mentions the dropped graph: not its IRI, not its symbols.
    rows = ws.sparql_raw("SELECT ?g ?s WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert all("tort-owl" not in str(r["g"]) and "http://e/a" != r["s"].value for r in rows)
    assert not [s for s in ws.symbols() if s.graph == "tort-owl"]
    assert not ws.sparql_raw("ASK { <http://e/a> ?p ?o }")


def test_mappings_graph_round_trip(backend_ws) -> None:
    """Writing a whole graph (what embed and align do) through the protocol."""
    from kgalign.store.terms import Triple

    ws = backend_ws
    g = "urn:kgalign:mappings"
    t = [Triple(NamedNode(f"http://e/s{i}"), NamedNode("http://e/p"), Literal(str(i))) for i in range(50)]
    assert ws.store.replace_graph(g, t) == 50
    assert ws.store.replace_graph(g, t[:10]) == 10
    assert ws.store.count(g) == 10 and ws.store.has_graph(g)
    assert ws.sparql_raw(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}")[0]["n"].value == "10"


def test_service_is_refused_on_both(backend_ws) -> None:
    with pytest.raises(KgalignError, match="SERVICE"):
        backend_ws.sparql("SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")


def test_syntax_errors_keep_their_position(backend_ws) -> None:
    from kgalign.errors import QuerySyntaxError

    with pytest.raises(QuerySyntaxError) as e:
        backend_ws.sparql("SELECT ?s\nWHERE { ?s ?p }")
    assert e.value.line == 2
    assert e.value.expected  # what would have parsed: the same list on both backends
    with pytest.raises(QuerySyntaxError) as e:
        backend_ws.sparql("SELECT * WHERE {\n  ?s ?p ?o ")
    assert e.value.line == 2 and "}" in e.value.expected and "end of the query" in e.value.message


def test_the_cli_on_a_server(server_store_config, tmp_path) -> None:
    """kgalign init --sparql-endpoint, then load, graphs, symbols, sparql and drop against it."""
    ws = tmp_path / "ws"
    cfg = server_store_config
    env = {**os.environ, "KGALIGN_WORKSPACE": str(ws)}

    def kga(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kgalign", *args], capture_output=True, text=True, env=env,
                              timeout=120)

    r = kga("init", "--sparql-endpoint", cfg["query_endpoint"], "--update-endpoint", cfg["update_endpoint"],
            "--graph-store", cfg["graph_store"])
    assert r.returncode == 0, r.stderr
    assert cfg["query_endpoint"] in r.stdout
    assert '"backend": "sparql"' in (ws / "workspace.json").read_text()
    assert not (ws / "store").exists()  # the RDF lives on the server
    r = kga("load", str(ONT / "tort-owl.ttl"))
    assert r.returncode == 0 and "loaded tort-owl: 382 triples" in r.stdout, r.stderr
    r = kga("graphs", "-f", "json")
    assert '"tort-owl"' in r.stdout
    r = kga("sparql", "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <urn:kgalign:graph:tort-owl> { ?s ?p ?o } }", "-f", "csv")
    assert r.stdout.split() == ["n", "382"], r.stderr
    r = kga("symbols", "-g", "tort-owl", "-f", "json")
    assert r.returncode == 0 and "Duty of care" in r.stdout
    r = kga("drop", "tort-owl")
    assert r.returncode == 0
    r = kga("graphs", "-f", "json")
    assert "tort-owl" not in r.stdout


def test_kga_functions_are_refused_by_name_on_a_server(server_store_config, tmp_path) -> None:
    from kgalign.store.remote import EndpointConfig, SparqlStore

    store = SparqlStore(EndpointConfig.from_dict(server_store_config))
    fn = {"https://w3id.org/kgalign/vocab#similarity": lambda a, b: None}
    with pytest.raises(KgalignError, match=r"kga:similarity\(\) is a kgalign extension function.*cannot call it"):
        store.query("SELECT ?a WHERE { ?a ?p ?b FILTER(kga:similarity(?a, ?b) > 0.5) }", custom_functions=fn)
    # Mentioned only in a string: not a call.
    assert store.query('SELECT ?a WHERE { ?a ?p "kga:similarity(x)" }', custom_functions=fn) == []
    store.close()


def test_an_unreachable_endpoint_is_named(tmp_path) -> None:
    from kgalign.store.remote import EndpointConfig, SparqlStore
    from tests.store.oxigraph_server import free_port

    url = f"http://127.0.0.1:{free_port()}/query"
    store = SparqlStore(EndpointConfig(query_endpoint=url, timeout=5), read_only=True)
    with pytest.raises(KgalignError, match=f"cannot reach the SPARQL endpoint {url}"):
        store.graphs()


def test_redirects_are_not_followed(tmp_path) -> None:
    """A server answering 302 to another host: kgalign says so and does not go there."""
    import http.server
    import threading

    from kgalign.store.remote import EndpointConfig, SparqlStore

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    t = threading.Thread(target=srv.handle_request, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{srv.server_port}/sparql"
    store = SparqlStore(EndpointConfig(query_endpoint=url, timeout=5), read_only=True)
    with pytest.raises(KgalignError, match="redirected .*127.0.0.2.*does not follow redirects"):
        store.graphs()
    t.join(5)
    srv.server_close()


def test_an_update_after_the_server_dropped_an_idle_connection(tmp_path) -> None:
    """Oxigraph server closes a kept-alive connection after a minute idle; the next update (never
    retried: it is not idempotent) must go over a new connection, not fail on the dead one."""
    import http.server
    import threading
    import time

    from kgalign.store.remote import EndpointConfig, SparqlStore

    updates: list[bytes] = []

    class OneRequestPerConnection(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive as far as the client can tell...

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers["Content-Type"] == "application/sparql-update":
                updates.append(body)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                data = b'{"head": {"vars": ["x"]}, "results": {"bindings": []}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            self.close_connection = True  # ...then the server drops it, unannounced, like an idle timeout

        def log_message(self, *a) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OneRequestPerConnection)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/sparql"
        store = SparqlStore(EndpointConfig(query_endpoint=url, update_endpoint=url, timeout=5))  # recover(): a query
        for i in range(3):
            time.sleep(0.2)  # the server has closed the previous connection by now
            store.update(f"INSERT DATA {{ <urn:a> <urn:b> {i} }}")
        assert len(updates) == 3
        store.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_managed_server_never_takes_a_port_just_released() -> None:
    """A test (or user) takes a port with bind(0), releases it and starts `kgalign serve` on it; the
    kernel hands the same port out again at once, so the managed Oxigraph server (started first, by the
    serve process opening its workspace) must draw from elsewhere or it answers in kgalign's place."""
    from kgalign.store.managed import SERVER_PORTS, free_port, server_port

    for _ in range(20):
        released = free_port()
        port = server_port()
        assert port != released and port in SERVER_PORTS


def test_unknown_backend_lists_the_known_ones(tmp_path) -> None:
    from kgalign.store import open_store

    with pytest.raises(KgalignError, match="unknown store backend 'qlever'; known backends: oxigraph, oxigraph-server, sparql"):
        open_store({"backend": "qlever"}, tmp_path)


def test_a_killed_remote_load_is_invisible_and_recovered(server_store_config, tmp_path) -> None:
    """kill -9 between the upload and the commit: nothing shows, and the next writer clears it."""
    import json

    from kgalign.store.remote import EndpointConfig, SparqlStore

    cfg = EndpointConfig.from_dict(server_store_config)
    store = SparqlStore(cfg)
    store.load_graph(_parsed(ONT / "tort-owl.ttl", "tort-owl"))
    before = store.snapshot()
    script = f"""
import json, os, signal
from kgalign.store.remote import EndpointConfig, SparqlStore
store = SparqlStore(EndpointConfig.from_dict(json.loads({json.dumps(json.dumps(server_store_config))})))
for target in ("urn:kgalign:graph:zoo", "urn:kgalign:graph:tort-owl"):  # a first load, and a reload
    write = target if target.endswith("zoo") else "urn:kgalign:staging:killed"
    store._journal(write, target)
    store._upload(write, [b'<http://e/killed> <http://e/p> "x" .\\n'], "test")
os.kill(os.getpid(), signal.SIGKILL)
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    # Half-written graphs are invisible to every read.
    assert [g.name for g in store.graphs()] == ["tort-owl"]
    assert not store.ask("ASK { <http://e/killed> ?p ?o }")
    assert store.count("urn:kgalign:graph:tort-owl") == 382
    # The next writer (a store opened for writing) drops them: the server is as before.
    SparqlStore(cfg).close()
    assert store.snapshot() == before
    store.close()


def _parsed(path: Path, name: str):
    from kgalign.store.base import ParsedGraph

    return ParsedGraph(name=name, source=str(path), format_name="turtle", media_type="text/turtle",
                       sha256="0" * 64, path=path)
