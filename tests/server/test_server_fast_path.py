"""The direct route for SPARQL queries answers exactly as the full Starlette stack does.

A request with an ``Origin`` header always takes the full stack (CORS is the app's business), so
the same query with and without one compares the two paths on a real server.
"""

from __future__ import annotations

import httpx
from server_support import ServerThread

CMT = "urn:kgalign:graph:cmt"
QUERY = f"SELECT ?c WHERE {{ GRAPH <{CMT}> {{ ?c a <http://www.w3.org/2002/07/owl#Class> }} }} ORDER BY ?c LIMIT 5"
SAME_HEADERS = ("content-type", "content-length", "vary", "x-content-type-options", "referrer-policy")


def _both(c: httpx.Client, method: str, **kw) -> tuple[httpx.Response, httpx.Response]:
    fast = c.request(method, "/sparql", **kw)
    headers = {**kw.pop("headers", {}), "Origin": "http://elsewhere.example"}
    full = c.request(method, "/sparql", headers=headers, **kw)
    return fast, full


#: Requests whose answers the direct route (and the thread route) must give exactly as the app does.
ROUTE_CASES = [
        ("GET", {"params": {"query": QUERY}}),
        ("GET", {"params": {"query": QUERY, "format": "csv"}}),
        ("GET", {"params": {"query": QUERY}, "headers": {"Accept": "application/sparql-results+xml"}}),
        ("GET", {"params": {"query": QUERY}, "headers": {"Accept": "text/tab-separated-values"}}),
        ("POST", {"data": {"query": QUERY}}),
        ("POST", {"content": QUERY, "headers": {"Content-Type": "application/sparql-query"}}),
        ("POST", {"content": f"CONSTRUCT {{ ?c a ?t }} WHERE {{ GRAPH <{CMT}> {{ ?c a ?t }} }} LIMIT 3",
                  "headers": {"Content-Type": "application/sparql-query", "Accept": "application/n-triples"}}),
        ("GET", {"params": {"query": "SELECT * WHERE {"}}),                       # 400, readable
        ("GET", {"params": {"query": QUERY}, "headers": {"Accept": "image/png"}}),  # 406
        ("GET", {"params": {"query": "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}}),  # 403
        ("POST", {"data": {"query": QUERY, "update": "CLEAR ALL"}}),              # 400
        ("GET", {"params": {"query": QUERY, "default-graph-uri": "not an iri"}}),
]


def test_the_direct_route_and_the_app_answer_alike(client):
    cases = list(ROUTE_CASES)
    for method, kw in cases:
        fast, full = _both(client, method, **kw)
        assert fast.status_code == full.status_code, (method, kw, fast.text, full.text)
        assert fast.content == full.content, (method, kw)
        for h in SAME_HEADERS:
            assert fast.headers.get(h) == full.headers.get(h), (h, method, kw)


def test_a_streamed_body_over_the_limit_is_413_json(live):
    def chunks():
        for _ in range(300):
            yield b"query=" + b"x" * 1024  # 300 KB without a Content-Length; the limit is 256 KB

    with live.client() as c:
        r = c.post("/sparql", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert c.get("/sparql", params={"query": "ASK {}"}).json()["boolean"] is True


def test_cors_requests_get_cors_headers(http_ws):
    from kgalign.server import ServerConfig, create_app

    config = ServerConfig(workspace=http_ws.path, cors_origins=("http://curator.example",), match_neural="never")
    with ServerThread(create_app(config, workspace=http_ws)) as st, \
            httpx.Client(base_url=f"http://127.0.0.1:{st.port}", timeout=30) as c:
        r = c.get("/sparql", params={"query": "ASK {}"}, headers={"Origin": "http://curator.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://curator.example"
        r = c.get("/sparql", params={"query": "ASK {}"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
