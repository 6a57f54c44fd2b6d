"""A real `kgalign serve` survives every input: hypothesis over SPARQL bodies and DSL texts, and the
requests that used to kill it or answer 500; it still answers afterwards and connects nowhere."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from fault_support import ONTOLOGIES, Served, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOKEN = "fault-suite-token-0123456789"
_LB = {"url": "http://127.0.0.1:9"}  # replaced by the live listener's URL

FRAGMENTS = [
    "?s ?p ?o", "?symbol a ?t", "FILTER(?o = 1)", "OPTIONAL { ?s ?p ?o }", "BIND(1 AS ?x)", "{", "}", "(", ")",
    "[", "]", "SERVICE <{lb}/s> { }", "# c\rSERVICE <{lb}/c> { }", "\\u0053ERVICE <{lb}/u> { }", "\"", "'",
    "'''", "<", ">", "#", "\r", "\n", "\ud800", "\x00", "LOAD <{lb}/l>", "VALUES ?x { 1 }", ".", ";",
    "9" * 400, "1e999", "GRAPH ?g { ?s ?p ?o }", "UNION", "MINUS { ?s ?p ?o }", "^^", "@en", "_:b",
]
HEADS = ["SELECT * WHERE {", "ASK {", "CONSTRUCT { ?s ?p ?o } WHERE {", "select (count(*) as ?n) {", ""]


@st.composite
def sparql_bodies(draw):
    parts = draw(st.lists(st.sampled_from(FRAGMENTS), max_size=12))
    noise = draw(st.text(max_size=20))
    depth = draw(st.sampled_from([0, 0, 0, 5, 127, 129, 3_000]))
    opener = draw(st.sampled_from(["{", "(", "["]))
    closer = {"{": "}", "(": ")", "[": "]"}[opener]
    body = " ".join(p.replace("{lb}", _LB["url"]) for p in parts) + noise
    body = opener * depth + body + closer * depth
    return draw(st.sampled_from(HEADS)) + " " + body + " }"


DSL_WORDS = ["symbols", "similar", "to", "sharing", "features", "with", "of", "explain", "feature", "unstable",
             "align", "bridges", "between", "and", "or", "except", "in", "graph", "limit", "order", "by", "desc",
             "where", "min", "max", "score", ">=", "<", ",", "(", ")", ";", "Negligence", "negligence-skos",
             '"duty of care"', "<http://x/y>", "tort:Negligence", "{ ?symbol ?p ?o }", "{", "}", "9" * 5_000,
             "9" * 400, "1e999", "0", "-1", "\ud800", "# c\r", "no", "neural", "counterpart", "activating"]


@st.composite
def dsl_texts(draw):
    words = draw(st.lists(st.sampled_from(DSL_WORDS), min_size=1, max_size=12))
    text = " ".join(words)
    if draw(st.booleans()):
        k = draw(st.sampled_from([10, 300, 3_000]))
        text = "(" * k + text + ")" * k
    return text


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ws = tmp_path_factory.mktemp("served") / "ws"
    assert run_cli(["-w", str(ws), "load", str(ONTOLOGIES / "negligence-skos.ttl")]).rc == 0
    s = Served(ws, token=TOKEN).start()
    yield s
    s.stop()


def _ok(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500 or r.status_code in (503, 504), (what[:200], r.status_code, r.text[:300])
    assert r.headers.get("content-type", "").startswith(("application/", "text/")), what[:200]
    if r.status_code >= 400:
        body = r.json()
        assert "message" in body and "Traceback" not in body["message"]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=sparql_bodies(), how=st.sampled_from(["get", "form", "body", "dataset"]))
def test_sparql_bodies_never_kill_or_500(served, loopback, q, how):
    _LB["url"] = loopback.url
    raw = quote(q.encode("utf-8", "surrogatepass"))  # a client may send any bytes, surrogates too
    with httpx.Client(base_url=served.url, timeout=30) as c:
        if how == "get":
            r = c.get("/sparql?query=" + raw)
        elif how == "form":
            r = c.post("/sparql", content=("query=" + raw).encode(),
                       headers={"content-type": "application/x-www-form-urlencoded"})
        elif how == "body":
            r = c.post("/sparql", content=q.encode("utf-8", "surrogatepass"),
                       headers={"content-type": "application/sparql-query"})
        else:
            r = c.get("/sparql?default-graph-uri=urn:kgalign:graph:negligence-skos&query=" + raw)
    _ok(r, q)
    assert served.alive()
    assert loopback.connections == 0


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=dsl_texts())
def test_dsl_texts_never_kill_or_500(served, loopback, q):
    _LB["url"] = loopback.url
    with httpx.Client(base_url=served.url, timeout=30) as c:
        body = json.dumps({"query": q}).encode()
        r = c.post("/query", content=body, headers={"content-type": "application/json"})
    _ok(r, q)
    assert served.alive()
    assert loopback.connections == 0


HOSTILE = [
    ("GET", "/features/" + "9" * 5_000, {}),
    ("GET", "/features/99999999999", {}),
    ("GET", "/symbols", {"params": {"limit": "9" * 5_000}}),
    ("POST", "/query", {"content": b'{"query":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
                        "headers": {"content-type": "application/json"}}),
    ("POST", "/query", {"content": b'{"query": "unstable symbols \\ud800"}', "headers": {"content-type": "application/json"}}),
    ("POST", "/sparql", {"content": b'SELECT * { ?s ?p "\xed\xa0\x80" }', "headers": {"content-type": "application/sparql-query"}}),
    ("GET", "/sparql", {"params": {"query": "SELECT * WHERE " + "{" * 3_000 + "}" * 3_000}}),
    ("POST", "/query", {"json": {"query": "symbols where {" + "{" * 3_000 + " ?symbol ?p ?o " + "}" * 3_000 + "}"}}),
    ("POST", "/query", {"json": {"query": "unstable symbols limit " + "9" * 5_000}}),
    ("POST", "/query", {"json": {"query": "unstable symbols with stability >= " + "9" * 400}}),
]


def test_requests_that_used_to_kill_or_500_get_json_errors(served, loopback):
    with httpx.Client(base_url=served.url, timeout=60) as c:
        for method, url, kw in HOSTILE:
            r = c.request(method, url, **kw)
            _ok(r, f"{method} {url[:60]} {str(kw)[:80]}")
            assert 400 <= r.status_code < 500, (url[:60], r.status_code, r.text[:200])
        r = c.post("/sparql", content=f"# c\rLOAD <{loopback.url}/x.ttl>".encode(),
                   headers={"content-type": "application/sparql-update", "authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 403 and r.json()["error"] == "RemoteAccessRefused"
        r = c.get("/sparql", params={"query": f"SELECT * {{ # x\rSERVICE <{loopback.url}/q> {{ ?s ?p ?o }} }}",
                                     "named-graph-uri": "urn:kgalign:graph:negligence-skos"})
        assert r.status_code == 403
        assert c.get("/status").status_code == 200
    assert served.alive() and "Traceback" not in served.log_text()
    assert loopback.connections == 0


def test_a_200_kb_url_gets_an_answer_not_a_reset(served):
    """Sent on a raw socket (httpx itself refuses such a URL): a 414 JSON answer, then the server goes on."""
    import socket

    line = "GET /sparql?query=" + "a" * 200_000 + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        sock.sendall(line.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414"), head[:100]
    assert json.loads(body)["message"].startswith("the URL is")
    with httpx.Client(base_url=served.url, timeout=30) as c:
        assert c.get("/status").status_code == 200
    assert served.alive()
