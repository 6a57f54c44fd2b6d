"""/query: the kgalign query language over HTTP (JSON in, JSON out, positioned errors)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import pytest
from server_support import EMBEDDED_GRAPH

from kgalign.errors import QuerySyntaxError


def _dsl_run():
    return getattr(importlib.import_module("kgalign.query"), "run", None)


def test_without_the_executor_the_endpoint_is_501_json(client, monkeypatch):
    from kgalign.server import integrations

    if _dsl_run() is not None:  # the executor is installed: take it away for this request
        real = integrations._attr
        monkeypatch.setattr(integrations, "_attr", lambda m, n: None if (m, n) == ("kgalign.query", "run")
                            else real(m, n))
    r = client.post("/query", json={"query": "unstable symbols limit 3"})
    assert r.status_code == 501
    body = r.json()
    assert body["error"] == "NotAvailable" and body["needs"] == "kgalign.query.run"
    assert client.get("/status").json()["features"]["dsl"] is False


@dataclass
class StandInResult:
    """The shape kgalign.query.run returns: columns, rows (dicts), to_dict()."""

    columns: list[str]
    rows: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"columns": self.columns, "rows": self.rows, "kind": "symbols"}


def test_endpoint_contract_with_a_stand_in_executor(client, http_ws, monkeypatch):
    """The translation layer: /query is Workspace.query behind HTTP (a stand-in answers here)."""

    def run(ws, text):
        if text.startswith("bad"):
            raise QuerySyntaxError("unexpected token", text=text, line=2, column=5, expected=["symbols", "features"])
        syms = ws.symbols(EMBEDDED_GRAPH)[:3]
        return StandInResult(["symbol", "label", "stability"],
                             [{"symbol": s.iri, "label": s.label, "stability": ws.space.stability((s.graph, s.iri))}
                              for s in syms])

    monkeypatch.setattr(http_ws, "query", lambda text: run(http_ws, text))
    r = client.post("/query", json={"query": "unstable symbols limit 3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["symbol", "label", "stability"] and len(body["rows"]) == 3
    assert body["kind"] == "symbols" and body["elapsed_ms"] >= 0
    assert client.get("/query", params={"query": "unstable symbols"}).json()["rows"] == body["rows"]
    r = client.post("/query", json={"query": "bad\nquery here"})
    assert r.status_code == 400
    err = r.json()
    assert (err["error"], err["line"], err["column"]) == ("QuerySyntaxError", 2, 5)
    assert err["message"] == "unexpected token" and err["expected"] == ["features", "symbols"]
    assert err["context"].splitlines()[-1] == "      ^"
    r = client.post("/query", content=b'{"query": "x",\n  oops}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and (r.json()["error"], r.json()["line"], r.json()["column"]) == ("BadJSON", 2, 3)
    assert client.post("/query", json={"q": "x"}).status_code == 400
    assert client.post("/query", json=["x"]).status_code == 400
    assert client.post("/query", content=b"query=x", headers={"Content-Type": "text/plain"}).status_code == 415


def test_real_dsl_over_http(client, http_ws):
    if _dsl_run() is None:
        pytest.skip("kgalign.query.run is not written yet (the DSL executor, another engineer's issue): "
                    "/query answers 501 until it lands; this test then runs against the real thing")
    sym = http_ws.symbols(EMBEDDED_GRAPH, "concept")[0]
    r = client.post("/query", json={"query": f"features of <{sym.iri}> limit 5"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] and 0 < len(body["rows"]) <= 5
    r = client.post("/query", json={"query": "unstable symbols limit 3"})
    assert r.status_code == 200 and len(r.json()["rows"]) <= 3
    r = client.post("/query", json={"query": "symbols simlar to Author"})
    assert r.status_code == 400
    err = r.json()
    assert err["error"] == "QuerySyntaxError" and err["line"] == 1 and err["column"] >= 1
