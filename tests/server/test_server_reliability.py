"""Concurrency and deadlines: readers during reloads see the old or the new graph, never a mix;
a query past its deadline answers 504, a full server 503, and both recover."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from server_support import ServerThread

SRJ = "application/sparql-results+json"
SWAP = "urn:kgalign:graph:swap"
COUNT_SWAP = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{SWAP}> {{ ?s ?p ?o }} }}"


def _count(c: httpx.Client) -> int:
    r = c.get("/sparql", params={"query": COUNT_SWAP}, headers={"Accept": SRJ})
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def test_readers_see_old_or_new_graph_never_a_mix(live, oaei_files):
    old_file, new_file = oaei_files / "cmt.owl", oaei_files / "confOf.owl"
    live.ws.load(old_file, name="swap")
    with live.client() as c:
        old = _count(c)
        assert old > 0
    counts: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with live.client() as c:
            while not stop.is_set():
                try:
                    counts.append(_count(c))
                except AssertionError as e:
                    errors.append(str(e))

    readers = [threading.Thread(target=reader) for _ in range(6)]
    for t in readers:
        t.start()
    loads = []
    try:
        with live.client() as c:
            for i in range(6):
                f = new_file if i % 2 == 0 else old_file
                r = c.post("/graphs", files={"file": (f.name, f.read_bytes())}, data={"name": "swap"},
                           headers=live.auth)
                loads.append(r.status_code)
                if i == 0:
                    new = r.json()["graph"]["triples"]
    finally:
        stop.set()
        for t in readers:
            t.join(30)
    live.ws.drop("swap")
    assert loads == [201] * 6
    assert not errors, errors[:3]
    assert new != old
    assert len(counts) > 20
    assert set(counts) <= {old, new}, sorted(set(counts) - {old, new})[:5]
    assert new in counts  # readers saw the swap happen


@pytest.fixture(scope="module")
def tight(http_ws):
    """A server with one worker, room for one request, and a 0.3 s query deadline."""
    from kgalign.server import ServerConfig, create_app

    config = ServerConfig(workspace=http_ws.path, query_timeout=0.3, workers=1, max_pending=1)
    with ServerThread(create_app(config, workspace=http_ws)) as st:
        yield f"http://127.0.0.1:{st.port}"


def test_deadline_is_504_and_a_full_server_503(tight):
    values = " ".join(str(i) for i in range(60))
    slow = (f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <urn:kgalign:graph:cmt> {{ ?a ?b ?c }} "
            f"GRAPH <urn:kgalign:graph:cmt> {{ ?d ?e ?f }} VALUES ?x {{ {values} }} }}")
    quick = "ASK { ?s ?p ?o }"
    with httpx.Client(base_url=tight, timeout=30) as c:
        t0 = time.monotonic()
        r = c.get("/sparql", params={"query": slow})
        assert r.status_code == 504, r.text
        assert r.json() == {"error": "QueryTimeout", "message": "the SPARQL query did not finish within 0.3 s",
                            "timeout": 0.3}
        assert time.monotonic() - t0 < 5
        # the timed-out query still holds the only worker: the next request is turned away at once
        r = c.get("/sparql", params={"query": quick})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"] == "ServerBusy"
        deadline = time.monotonic() + 60
        while True:  # and the server recovers when it ends
            r = c.get("/sparql", params={"query": quick})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200 and r.json()["boolean"] is True


def test_sparql_readers_do_not_wait_for_a_load(live, tmp_path):
    """A load holds the workspace lock while it parses; SPARQL answers all the same (from the old state)."""
    big = tmp_path / "big.ttl"
    big.write_text("".join(f"<urn:s:{i}> <urn:p> <urn:o:{i % 97}> .\n" for i in range(30_000)))
    loader = threading.Thread(target=lambda: live.ws.load(big, name="big"))
    answered_during_load = 0
    with live.client() as c:
        _count(c)  # warm
        loader.start()
        while loader.is_alive():
            r = c.get("/sparql", params={"query": "ASK { GRAPH <urn:kgalign:graph:cmt> { ?s ?p ?o } }"})
            assert r.status_code == 200
            if loader.is_alive():
                answered_during_load += 1
        loader.join()
        n = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { GRAPH <urn:kgalign:graph:big> { ?s ?p ?o } }"})
        assert n.json()["results"]["bindings"][0]["n"]["value"] == "30000"
    live.ws.drop("big")
    assert answered_during_load >= 3
