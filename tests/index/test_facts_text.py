"""The neural facts written as N-Triples text (what embed writes) are the graph neural_quads describes."""

from __future__ import annotations

from collections import Counter

from kgalign.index.facts import FACT_TOP, neural_lines, neural_quads
from kgalign.index.space import ConceptSpace
from kgalign.store.terms import BlankNode
from kgalign.symbolic.store import OxigraphStore


def _canonical(store: OxigraphStore, graph: str) -> Counter:
    """The graph's triples with each blank node replaced by the set of what is said about it."""
    quads = list(store.quads(graph=graph))
    about: dict[str, list] = {}
    for q in quads:
        if isinstance(q.subject, BlankNode):
            about.setdefault(q.subject.value, []).append((str(q.predicate), str(q.object)))
    name = {b: tuple(sorted(v)) for b, v in about.items()}
    out = Counter()
    for q in quads:
        s = name[q.subject.value] if isinstance(q.subject, BlankNode) else str(q.subject)
        o = name[q.object.value] if isinstance(q.object, BlankNode) else str(q.object)
        out[(s, str(q.predicate), o)] += 1
    return out


def test_neural_lines_write_the_same_graph_as_neural_quads(demo_ws, tmp_path):
    space = ConceptSpace.open(demo_ws.path)
    store = OxigraphStore(tmp_path / "store")
    try:
        n_objects = store.replace_graph("urn:test:objects", neural_quads(space))
        n_text = store.replace_graph_text("urn:test:text", neural_lines(space))
        assert n_text == n_objects > len(space.keys) * 2
        a, b = _canonical(store, "urn:test:objects"), _canonical(store, "urn:test:text")
        assert a == b
        # every symbol's activations are separate nodes: no two symbols share one
        assert sum(1 for (_, p, _) in b if p.endswith("#activation>")) <= len(space.keys) * FACT_TOP
        # a second write replaces the first (the bulk path too: a large graph)
        many = [f"<urn:x:{i}> <urn:x:p> \"{i}\" .\n" for i in range(30_000)]
        assert store.replace_graph_text("urn:test:text", many) == 30_000
        assert store.count("urn:test:text") == 30_000
    finally:
        store.close()
