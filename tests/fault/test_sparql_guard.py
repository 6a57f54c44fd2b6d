"""SERVICE and LOAD are refused on every path, by token (not by a text scan), and deep SPARQL is refused
before pyoxigraph's parser overflows its stack. A loopback listener checks that nothing connects."""

from __future__ import annotations

import pytest
from fault_support import run_cli

from kgalign.errors import KgalignError, QuerySyntaxError, RemoteAccessRefused
from kgalign.symbolic.sparql_guard import (
    MAX_SPARQL_DEPTH,
    MAX_SPARQL_OPERATORS,
    check_sparql,
    service_targets,
    set_federation,
)
from kgalign.symbolic.store import OxigraphStore

HIDDEN_SERVICE = [
    "SELECT * {{ SERVICE <{u}/a> {{ ?s ?p ?o }} }}",
    "select * {{ service silent <{u}/b> {{ ?s ?p ?o }} }}",
    "SELECT * {{ # comment\rSERVICE <{u}/c> {{ ?s ?p ?o }} }}",
    "SELECT * {{ # comment\r\nSERVICE <{u}/d> {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE<{u}/e>{{?s ?p ?o}} }}",
    "PREFIX e: <{u}/> SELECT * {{ SERVICE e:f {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE <http\\u003A//127.0.0.1:{port}/g> {{ ?s ?p ?o }} }}",
    "SELECT * {{ BIND(<{u}/h> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    "SELECT * {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{u}/i> {{ ?s ?p ?o }} }} }}",
    "ASK {{ {{ SELECT * {{ SERVICE <{u}/j> {{}} }} }} }}",
]
HIDDEN_LOAD = [
    "LOAD <{u}/a.ttl>",
    "# c\rLOAD <{u}/b.ttl> INTO GRAPH <urn:g>",
    "load silent<{u}/c.ttl>",
    "INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <{u}/d> {{ ?s ?p ?o }} }}",
]
HARMLESS = [
    'SELECT * { ?s ?p "SERVICE <http://127.0.0.1:1/> {}" }',
    "SELECT * { ?s <http://x/SERVICE> ?o }",
    "PREFIX ex: <http://e/> SELECT * { ?s ex:load ?o . ?s ex:SERVICE ?x }",
    "SELECT ?service ?load { ?service ?load ?o } # SERVICE <http://127.0.0.1:1/>",
    "SELECT * { ?s ?p '''SERVICE\n<http://127.0.0.1:1/> {}''' }",
]


def _texts(templates, lb):
    return [t.format(u=lb.url, port=lb.port) for t in templates]


def test_hidden_service_is_refused_by_the_store_and_nothing_connects(tmp_path, loopback):
    store = OxigraphStore(tmp_path / "store")
    before = store.snapshot()
    for q in _texts(HIDDEN_SERVICE, loopback):
        with pytest.raises(RemoteAccessRefused, match="SERVICE would fetch a remote URL") as e:
            store.query(q)
        assert e.value.line is not None and e.value.column is not None
    for u in _texts(HIDDEN_LOAD, loopback):
        with pytest.raises(RemoteAccessRefused, match="would fetch a remote URL"):
            store.update(u)
    assert store.snapshot() == before
    assert loopback.connections == 0


def test_harmless_mentions_are_not_refused():
    for q in HARMLESS:
        check_sparql(q)


def test_allow_list_lets_a_named_endpoint_through_and_the_listener_sees_it(tmp_path, loopback):
    """The switch works, and so does the listener the other tests rely on."""
    store = OxigraphStore(tmp_path / "store")
    old = set_federation([loopback.url + "/"])
    try:
        with pytest.raises(KgalignError):  # the listener answers nothing: the store reports the failed call
            list(store.query(f"SELECT * {{ SERVICE <{loopback.url}/ok> {{ ?s ?p ?o }} }}"))
        with pytest.raises(RemoteAccessRefused):
            store.query("SELECT * { SERVICE <http://127.0.0.2:1/other> { ?s ?p ?o } }")
        with pytest.raises(RemoteAccessRefused):  # a variable endpoint is never on a prefix allow-list
            store.query(f"SELECT * {{ BIND(<{loopback.url}/v> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}")
    finally:
        set_federation(old.allowed)
    import time

    deadline = time.monotonic() + 5
    while loopback.connections < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loopback.connections == 1


def test_service_targets_come_from_the_algebra_with_prefixes_resolved():
    q = "PREFIX e: <http://a.example/> SELECT * { SERVICE e:x { ?s ?p ?o } SERVICE ?v { } }"
    assert service_targets(q) == ["http://a.example/x", None]
    assert service_targets("LOAD <http://b.example/d.ttl>", update=True) == ["http://b.example/d.ttl"]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE " + "{" * 3_000 + " ?s ?p ?o " + "}" * 3_000,
        "SELECT * { ?s ?p ?o FILTER(" + "(" * 5_000 + "1" + ")" * 5_000 + ") }",
        "SELECT * { ?s ?p ?o BIND(" + "CONCAT(" * 1_000 + '"a"' + ")" * 1_000 + " AS ?x) }",
        "SELECT * { ?s ?p ?o " + " ".join(f"BIND({i} AS ?x{i})" for i in range(3_000)) + " }",
        "SELECT * { ?s ?p ?o " + " ".join(["MINUS { ?s ?p ?o }"] * 3_000) + " }",
        "SELECT * { ?s ?p ?o FILTER(" + " || ".join(["true"] * 10_000) + ") }",
        "SELECT * { ?s ?p " + "[ <http://e/p> " * 1_000 + "1" + " ]" * 1_000 + " }",
    ],
    ids=["braces", "parens", "calls", "binds", "minus", "or-chain", "bnodes"],
)
def test_sparql_that_overflowed_the_parser_is_refused_with_a_position(tmp_path, query):
    store = OxigraphStore(tmp_path / "store")
    with pytest.raises(QuerySyntaxError) as e:
        store.query(query)
    assert e.value.line == 1 and e.value.column is not None
    assert str(MAX_SPARQL_DEPTH) in str(e.value) or f"{MAX_SPARQL_OPERATORS:,}" in str(e.value)


def test_just_under_the_bounds_still_runs(tmp_path):
    store = OxigraphStore(tmp_path / "store")
    k = MAX_SPARQL_DEPTH - 2
    assert list(store.query("SELECT * WHERE " + "{" * k + " ?s ?p ?o " + "}" * k)) == []


def test_lone_surrogate_is_a_syntax_error_not_a_crash(tmp_path):
    store = OxigraphStore(tmp_path / "store")
    with pytest.raises(QuerySyntaxError, match="surrogate"):
        store.query("SELECT * { ?s ?p '\ud800' }")


def test_cli_sparql_refusals_are_one_line(small_ws, loopback, tmp_path):
    ws = str(small_ws.path)
    deep = "SELECT * WHERE " + "{" * 3_000 + "}" * 3_000
    r = run_cli(["-w", ws, "sparql", deep])
    assert r.rc == 5 and "more than 128 deep" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) <= 3  # the message, and at most a short context and caret
    r = run_cli(["-w", ws, "sparql", f"SELECT * {{ # x\rSERVICE <{loopback.url}/q> {{ ?s ?p ?o }} }}"])
    assert r.rc == 1 and "SERVICE would fetch a remote URL" in r.err
    assert len(r.err.strip().splitlines()) == 1
    q = tmp_path / "q.rq"
    q.write_text(f"SELECT * {{ SERVICE <{loopback.url}/f> {{ ?s ?p ?o }} }}")
    r = run_cli(["-w", ws, "sparql", "-q", str(q)])
    assert r.rc == 1 and "SERVICE" in r.err
    r = run_cli(["-w", ws, "query", f"symbols where {{ # c\rSERVICE <{loopback.url}/dsl> {{ }} ?symbol ?p ?o }}"])
    assert r.rc == 1 and "SERVICE would fetch" in r.err
    assert loopback.connections == 0
