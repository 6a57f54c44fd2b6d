"""Hostile clients on a real socket, on both routes (``kgalign serve`` and ``--no-threads``): a body
cut short is never run, a half-closed client gets its answer, a request the parser refuses gets 400
JSON naming why (after the answers pipelined before it), a slow client gets 408, a client that
goes away leaves no traceback, and a stopped server leaves no thread of its route behind."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from urllib.parse import quote

import pytest
from server_support import WRITE_TOKEN, ServerThread

QUICK = b"GET /sparql?query=" + quote("ASK { ?s ?p ?o }").encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
TRUE = b'{"head":{},"boolean":true}'
VALUES = " ".join(str(i) for i in range(60))
SLOW = (f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <urn:kgalign:graph:cmt> {{ ?a ?b ?c }} "
        f"GRAPH <urn:kgalign:graph:cmt> {{ ?d ?e ?f }} VALUES ?x {{ {VALUES} }} }}")


def _server(http_ws, threads: bool, **kw) -> ServerThread:
    from kgalign.server import ServerConfig, create_app

    config = ServerConfig(workspace=http_ws.path, match_neural="never", write_token=WRITE_TOKEN, **kw)
    return ServerThread(create_app(config, workspace=http_ws), threads=threads, served=True)


@pytest.fixture(scope="module", params=[True, False], ids=["threads", "loop"])
def server(request, http_ws):
    with _server(http_ws, request.param) as st:
        yield st


def _read(s: socket.socket, timeout: float = 20.0) -> bytes:
    """Everything until the server closes (or ``timeout``)."""
    s.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        out += chunk
    return out


def _alive(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(QUICK[:-2] + b"Connection: close\r\n\r\n")
        assert _read(s).endswith(TRUE)


@pytest.mark.embedded_store  # an update to a graph kgalign does not manage (a remote store's dataset leaves it out)
def test_a_body_cut_short_is_never_run(server, http_ws):
    """A client that declares more body than it sends and goes away: nothing of the body is run."""
    graph = f"urn:x:cut-{server.port}"
    body = ("update=" + quote(f"INSERT DATA {{ GRAPH <{graph}> {{ <urn:x:s> <urn:x:p> <urn:x:o> }} }}")).encode()
    head = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Authorization: Bearer " + WRITE_TOKEN.encode() + b"\r\nContent-Length: %d\r\n\r\n" % (len(body) + 50))
    try:
        for pause in (0.0, 1.3):  # gone at once (the thread route sees it), or after the thread route handed it on
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
                s.sendall(head + body)
                time.sleep(pause)
            time.sleep(0.5)
            assert not http_ws.sparql(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"), pause
        _alive(server.port)
    finally:
        http_ws.sparql_update(f"DROP SILENT GRAPH <{graph}>")


def test_a_half_closed_client_gets_its_answers(server):
    for data in (QUICK, QUICK + QUICK, QUICK.replace(b"Host: x", b"Host: x\r\nOrigin: http://o.example")):
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            out = _read(s)
        assert out.count(b"HTTP/1.1 200 ") == data.count(b"GET "), out[:300]
        assert out.endswith(TRUE)


@pytest.mark.parametrize("data, names", [
    (b"BREW /sparql HTTP/1.1\r\nHost: x\r\n\r\n", b"Invalid method"),
    (b"GET /sparql?query=\xff HTTP/1.1\r\nHost: x\r\n\r\n", b"url query"),
    (b"GET /sparql HTTP/1.1\r\nHost: x\r\nAccept: a\x00b\r\n\r\n", b"header value"),
    (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", b"Content-Length"),
    (b"GET /sparql HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n", b"head is longer than"),
])
def test_a_request_the_parser_refuses_is_400_json_naming_why(server, data, names):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(data)
        out = _read(s)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head, out[:300]
    assert body.startswith(b'{"error":"KgalignError","message":"not a valid HTTP/1.1 request: ') and names in body
    _alive(server.port)


def test_requests_pipelined_before_a_refused_one_are_answered(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(QUICK + QUICK + b"GARBAGE\r\n\r\n")
        out = _read(s)
    assert out.count(b"HTTP/1.1 200 ") == 2 and out.count(TRUE) == 2, out[:500]
    assert out.rindex(b"HTTP/1.1 400 ") > out.rindex(TRUE)


@pytest.mark.parametrize("threads", [True, False], ids=["threads", "loop"])
def test_slow_clients_get_408_and_silent_ones_are_closed(http_ws, monkeypatch, threads):
    from kgalign.server import app as app_module

    monkeypatch.setattr(app_module, "REQUEST_TIMEOUT", 1.5)
    post = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            b"Content-Length: 100\r\n\r\nASK {")
    with _server(http_ws, threads) as st:
        cases = ((b"GET /sparql?query=ASK HTTP/1.1\r\nHo", b"head"), (post, b"body"), (b"", None))
        for data, part in cases:
            with socket.create_connection(("127.0.0.1", st.port), timeout=20) as s:
                t0 = time.monotonic()
                s.sendall(data)
                out = _read(s)
                took = time.monotonic() - t0
            assert 1.0 < took < 10, (part, took)
            if part is None:
                assert out == b""  # a silent connection is closed without a word
            else:
                assert out.startswith(b"HTTP/1.1 408 "), out[:300]
                assert b"the request " + part + b" did not arrive within 1.5 s" in out
        _alive(st.port)


@pytest.mark.parametrize("threads", [True, False], ids=["threads", "loop"])
def test_clients_that_go_away_leave_no_traceback(http_ws, threads):
    """Pipelined queries that time out for a client that never reads and then resets: the
    answers find the connection gone; nothing is logged as an exception in the application."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.ERROR)
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "kgalign.server", "asyncio")]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        with _server(http_ws, threads, query_timeout=0.3, workers=8, max_pending=16) as st:
            get = b"GET /sparql?query=" + quote(SLOW).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            for wait in (0.5, 1.0):
                s = socket.create_connection(("127.0.0.1", st.port), timeout=20)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(get * 3)
                time.sleep(wait)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            time.sleep(1.5)  # the remaining answers are due by now
            _alive(st.port)
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    assert not records, [r.getMessage() for r in records]


def _route_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name in ("kgalign-conn", "kgalign-accept", "kgalign-watchdog") and t.is_alive()]


def test_a_stopped_server_leaves_no_thread_of_its_route(http_ws):
    """Idle kept-alive connections, a half-sent request and a client that reads nothing: after
    the server stops, none of the route's threads is left (they would outlive the test run)."""
    before = _route_threads()
    st = _server(http_ws, True).__enter__()
    socks = []
    try:
        for _ in range(3):  # kept alive after an answer
            s = socket.create_connection(("127.0.0.1", st.port), timeout=20)
            s.sendall(QUICK)
            assert s.recv(65536).endswith(TRUE)
            socks.append(s)
        s = socket.create_connection(("127.0.0.1", st.port), timeout=20)
        s.sendall(QUICK[:20])  # a head in the making (still on its thread for a second)
        socks.append(s)
        s = socket.create_connection(("127.0.0.1", st.port), timeout=20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        big = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <urn:kgalign:graph:cmt> { ?s ?p ?o } }"
        s.sendall((b"GET /sparql?query=" + quote(big).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n") * 400)
        socks.append(s)  # answers it never reads: a thread blocked in send
        time.sleep(0.3)
        assert len(_route_threads()) >= len(before) + 5
        # not daemons: the interpreter waits for a query still running on one before it finalizes
        assert not any(t.daemon for t in threading.enumerate() if t.name == "kgalign-conn")
        t0 = time.monotonic()
        st.__exit__(None, None, None)
        took = time.monotonic() - t0
        assert _route_threads() == before  # (before the clients close: they would end the threads)
        assert took < 10
    finally:
        st.__exit__(None, None, None)
        for s in socks:
            s.close()


def test_a_body_declared_over_the_limit_is_413_even_if_it_never_comes(server):
    """Content-Length over the limit and then silence: 413 within the drain's seconds, not a wait."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        t0 = time.monotonic()
        s.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                  b"Content-Length: 999999999\r\n\r\nASK {")
        out = _read(s)
        took = time.monotonic() - t0
    assert out.startswith(b"HTTP/1.1 413 ") and b'"error":"PayloadTooLarge"' in out, out[:300]
    assert took < 10
    _alive(server.port)
