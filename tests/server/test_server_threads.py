"""The per-connection thread route (what ``kgalign serve`` runs) answers plain SPARQL queries exactly as
the app does, keeps the deadline (504 while other clients are served), the bound (503) and the limits,
and hands every other request, with the bytes already read, to the app on the event loop."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pytest
from server_support import WRITE_TOKEN, ServerThread
from test_server_fast_path import ROUTE_CASES, SAME_HEADERS

VALUES = " ".join(str(i) for i in range(60))
SLOW = (f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <urn:kgalign:graph:cmt> {{ ?a ?b ?c }} "
        f"GRAPH <urn:kgalign:graph:cmt> {{ ?d ?e ?f }} VALUES ?x {{ {VALUES} }} }}")
QUICK = "ASK { ?s ?p ?o }"


def _server(http_ws, **kw):
    from kgalign.server import ServerConfig, create_app

    config = ServerConfig(workspace=http_ws.path, match_neural="never", **kw)
    return ServerThread(create_app(config, workspace=http_ws), threads=True)


@pytest.fixture(scope="module")
def threaded(http_ws):
    with _server(http_ws, write_token=WRITE_TOKEN, max_body=256 * 1024) as st:
        yield st


def _raw(port: int, data: bytes, *, pause: float = 0.0, split: int | None = None, want: int = 1) -> bytes:
    """Send ``data`` on a fresh socket (in two parts ``pause`` s apart when ``split``); read ``want`` answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        if split is not None:
            s.sendall(data[:split])
            time.sleep(pause)
            s.sendall(data[split:])
        else:
            s.sendall(data)
        out = b""
        while out.count(b"HTTP/1.1 ") < want or not _complete(out, want):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def _complete(out: bytes, want: int) -> bool:
    """Whether ``out`` holds ``want`` whole responses (each with a Content-Length)."""
    rest = out
    for _ in range(want):
        head, sep, body = rest.partition(b"\r\n\r\n")
        if not sep:
            return False
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        if len(body) < length:
            return False
        rest = body[length:]
    return True


def test_the_thread_route_and_the_app_answer_alike(threaded):
    cases = [*ROUTE_CASES, ("GET", {"params": {"query": "SELECT ?x WHERE { BIND(\"caf\u00e9 \u2603\" AS ?x) }"}})]
    front = threaded.server.front
    url = f"http://127.0.0.1:{threaded.port}"
    # a request with an Origin header takes its connection to the app: one client for each route
    with httpx.Client(base_url=url, timeout=60) as c, httpx.Client(base_url=url, timeout=60) as app:
        for method, kw in cases:
            before = front.answered
            fast = c.request(method, "/sparql", **kw)
            assert front.answered == before + 1, (method, kw)  # answered on the connection's thread
            full = app.request(method, "/sparql", **{**kw, "headers": {**kw.get("headers", {}),
                                                                        "Origin": "http://elsewhere.example"}})
            assert front.answered == before + 1  # ... and this one by the app
            assert fast.status_code == full.status_code, (method, kw, fast.text, full.text)
            assert fast.content == full.content, (method, kw)
            for h in (*SAME_HEADERS, "date"):
                assert (fast.headers.get(h) is None) == (full.headers.get(h) is None), (h, method, kw)
                if h != "date":
                    assert fast.headers.get(h) == full.headers.get(h), (h, method, kw)


@pytest.mark.embedded_store  # writes urn:x:threads: a remote store's dataset is kgalign's own graphs only
def test_other_requests_on_a_connection_go_to_the_app(threaded, http_ws):
    """An update, the service description, a chunked body: answered by the app, in order, on the
    same connection; the route's own answers before them are unchanged."""
    port = threaded.port
    q = b"query=" + QUICK.replace(" ", "+").encode()
    post = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(q), q))
    update = b"INSERT DATA { GRAPH <urn:x:threads> { <urn:x:a> <urn:x:b> <urn:x:c> } }"
    upd = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-update\r\n"
           b"Authorization: Bearer " + WRITE_TOKEN.encode() + b"\r\nContent-Length: %d\r\n\r\n%s" % (len(update), update))
    desc = b"GET /sparql HTTP/1.1\r\nHost: x\r\nAccept: text/turtle\r\n\r\n"
    chunked = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(q), q))
    handed = threaded.server.front.handed
    out = _raw(port, post + post + upd + post + desc + chunked, want=6)
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]
    assert statuses == [200, 200, 204, 200, 200, 200], out
    assert out.count(b'{"head":{},"boolean":true}') == 4, out[:2000]
    assert b"sd:Service" in out
    assert threaded.server.front.handed == handed + 1
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            r = c.get("/sparql", params={"query": "ASK { GRAPH <urn:x:threads> { <urn:x:a> ?p ?o } }"})
            assert r.json()["boolean"] is True  # the thread route sees the app's write
    finally:
        http_ws.sparql_update("DROP SILENT GRAPH <urn:x:threads>")


def test_a_slow_or_partial_request_is_answered_by_the_app(threaded):
    q = b"query=" + QUICK.replace(" ", "+").encode()
    post = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(q), q))
    for split in (10, post.index(b"\r\n\r\n") + 6):  # inside the head, inside the body
        handed = threaded.server.front.handed
        out = _raw(threaded.port, post, split=split, pause=1.5)
        assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b'{"head":{},"boolean":true}'), out
        assert threaded.server.front.handed == handed + 1


def test_limits_are_the_apps(threaded):
    with httpx.Client(base_url=f"http://127.0.0.1:{threaded.port}", timeout=30) as c:
        r = c.post("/sparql", content=b"query=" + b"x" * 300_000,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
        r = c.get("/sparql", params={"query": QUICK})
        assert r.status_code == 200
    out = _raw(threaded.port, b"GET /sparql?query=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 414 ") and b'"error"' in out, out[:300]


def test_a_slow_query_is_504_while_other_clients_are_served(http_ws):
    with _server(http_ws, query_timeout=0.5, workers=2, max_pending=4) as st:
        url = f"http://127.0.0.1:{st.port}"
        answer: dict = {}

        def slow() -> None:
            with httpx.Client(base_url=url, timeout=60) as c:
                t0 = time.monotonic()
                answer["r"] = c.get("/sparql", params={"query": SLOW})
                answer["s"] = time.monotonic() - t0

        t = threading.Thread(target=slow)
        served = 0
        with httpx.Client(base_url=url, timeout=30) as c:
            c.get("/sparql", params={"query": QUICK})
            t.start()
            while t.is_alive():
                r = c.get("/sparql", params={"query": QUICK})
                assert r.status_code == 200 and r.json()["boolean"] is True
                served += 1
            t.join()
        r = answer["r"]
        assert r.status_code == 504, r.text
        assert r.json() == {"error": "QueryTimeout", "message": "the SPARQL query did not finish within 0.5 s",
                            "timeout": 0.5}
        assert r.headers["connection"] == "close" and r.headers["x-content-type-options"] == "nosniff"
        assert answer["s"] < 5
        assert served >= 3  # others were answered while the slow query ran


def test_a_full_server_is_503_and_recovers(http_ws):
    with _server(http_ws, query_timeout=0.3, workers=1, max_pending=1) as st, \
            httpx.Client(base_url=f"http://127.0.0.1:{st.port}", timeout=30) as c:
        r = c.get("/sparql", params={"query": SLOW})
        assert r.status_code == 504, r.text
        # the timed-out query still holds the only place: the next request is turned away at once
        r = c.get("/sparql", params={"query": QUICK})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"] == "ServerBusy"
        deadline = time.monotonic() + 60
        while True:
            r = c.get("/sparql", params={"query": QUICK})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200 and r.json()["boolean"] is True
        assert st.server.front.answered >= 3


def test_silent_and_partial_connections_do_not_starve_others(threaded):
    """More idle and slow-head connections than the route has threads: queries are still answered."""
    socks = [socket.create_connection(("127.0.0.1", threaded.port), timeout=30) for _ in range(70)]
    try:
        for s in socks[:35]:
            s.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Le")
        with httpx.Client(base_url=f"http://127.0.0.1:{threaded.port}", timeout=30) as c:
            assert c.get("/sparql", params={"query": QUICK}).json()["boolean"] is True
            time.sleep(1.5)  # the silent and slow ones have gone to the loop by now
            before = threaded.server.front.answered
        with httpx.Client(base_url=f"http://127.0.0.1:{threaded.port}", timeout=30) as c:
            for _ in range(3):
                assert c.get("/sparql", params={"query": QUICK}).json()["boolean"] is True
        assert threaded.server.front.answered == before + 3  # a new connection gets a thread again
    finally:
        for s in socks:
            s.close()
