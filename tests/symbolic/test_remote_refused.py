"""No SPARQL text makes kgalign fetch a remote URL: SERVICE and LOAD are refused before evaluation."""

from __future__ import annotations

import pytest

from kgalign.errors import KgalignError
from kgalign.symbolic.store import OxigraphStore, remote_operation


@pytest.mark.parametrize(
    "text,op",
    [
        ("SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }", "SERVICE"),
        ("select * { service silent <http://x/> { ?s ?p ?o } }", "SERVICE"),
        ("LOAD <http://example.org/data.ttl> INTO GRAPH <urn:g>", "LOAD"),
        ('SELECT * { ?s ?p "SERVICE LOAD" } # SERVICE in a comment', None),
        ("SELECT * { ?s <http://x/SERVICE> ?o }", None),
        ("PREFIX ex: <http://e/> SELECT * { ?s ex:load ?o }", None),
    ],
)
def test_remote_operations_are_found_outside_strings_iris_and_comments(text, op):
    assert remote_operation(text) == op


def test_store_refuses_service_and_load_and_stays_unchanged(tmp_path):
    store = OxigraphStore(tmp_path / "store")
    store.update('INSERT DATA { GRAPH <urn:g> { <http://a> <http://p> "x" } }')
    before = store.snapshot()
    with pytest.raises(KgalignError, match="SERVICE would fetch a remote URL"):
        store.query("SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }")
    with pytest.raises(KgalignError, match="LOAD would fetch a remote URL"):
        store.update("LOAD <http://127.0.0.1:1/data.ttl> INTO GRAPH <urn:g>")
    assert store.snapshot() == before
