"""The store: atomic graph writes, hidden graphs, recovery after a crash at any point, kill -9,
sharing one directory between handles and processes, SPARQL errors with positions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgalign.api import Workspace
from kgalign.errors import QuerySyntaxError, WorkspaceError
from kgalign.store import terms
from kgalign.symbolic.loaders import load_file
from kgalign.symbolic.store import OxigraphStore
from kgalign.symbolic.vocab import JOURNAL_GRAPH, PROVENANCE_GRAPH, STAGING_PREFIX, graph_iri

from .conftest import DATA

BASE_GRAPHS = {PROVENANCE_GRAPH, JOURNAL_GRAPH}

EX = "http://example.org/gen/"


def q(i: int, graph: str) -> ox.Quad:
    return ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p"), ox.Literal(f"v{i}"), ox.NamedNode(graph))


def write_ntriples(path: Path, n: int, tag: str) -> Path:
    with open(path, "w") as f:
        for i in range(n):
            f.write(f'<{EX}s{i // 4}> <{EX}p{i % 4}> "{tag} {i}" .\n')
    return path


def staging_graphs(store: OxigraphStore) -> list[str]:
    return [g.value for g in store._store.named_graphs() if g.value.startswith(STAGING_PREFIX)]


def pending_entries(store: OxigraphStore) -> int:
    return len(list(store._store.quads_for_pattern(None, None, ox.NamedNode("https://w3id.org/kgalign/vocab#PendingWrite"),
                                                ox.NamedNode(JOURNAL_GRAPH))))


def assert_clean(store: OxigraphStore) -> None:
    assert staging_graphs(store) == []
    assert pending_entries(store) == 0
    assert store.hidden_graphs() == set()


# -- atomic writes --------------------------------------------------------------------------


def test_a_first_write_is_invisible_until_it_commits(store: OxigraphStore) -> None:
    target = graph_iri("gen")
    seen: dict[str, object] = {}

    def fill(g: ox.NamedNode) -> None:
        assert g.value == target  # a first write goes straight into the target graph...
        store._store.extend([q(i, target) for i in range(10)])
        # ...which nobody sees while it is written.
        seen["has_graph"] = store.has_graph(target)
        seen["count"] = store.count(target)
        seen["union"] = len(list(store.query("SELECT * { ?s ?p ?o }")))
        seen["graph"] = len(list(store.query(f"SELECT * {{ GRAPH <{target}> {{ ?s ?p ?o }} }}")))
        seen["quads"] = len(list(store.quads(graph=target))) + len(list(store.quads()))

    assert store.write_graph(target, fill) == 10
    assert seen == {"has_graph": False, "count": 0, "union": 0, "graph": 0, "quads": 0}
    assert store.count(target) == 10 and store.has_graph(target)
    assert_clean(store)


def test_a_replacement_shows_the_old_graph_until_it_commits(store: OxigraphStore) -> None:
    target = graph_iri("gen")
    store.write_graph(target, lambda g: store._store.extend([q(i, g.value) for i in range(10)]))
    seen: dict[str, object] = {}

    def fill(g: ox.NamedNode) -> None:
        assert g.value.startswith(STAGING_PREFIX)
        store._store.extend([q(i, g.value) for i in range(5, 25)])
        seen["count"] = store.count(target)
        seen["union"] = len(list(store.query("SELECT DISTINCT ?s { ?s ?p ?o }")))

    assert store.write_graph(target, fill) == 20
    assert seen == {"count": 10, "union": 10}
    assert {x.subject.value for x in store.quads(graph=target)} == {f"{EX}s{i}" for i in range(5, 25)}
    assert_clean(store)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("first", [True, False], ids=["first-write", "replacement"])
def test_a_failed_write_changes_nothing(store: OxigraphStore, exc: BaseException, first: bool) -> None:
    target = graph_iri("gen")
    if not first:
        store.write_graph(target, lambda g: store._store.extend([q(i, g.value) for i in range(10)]))
    before = store.snapshot()

    def fill(g: ox.NamedNode) -> None:
        store._store.extend([q(i, g.value) for i in range(100)])
        raise exc

    with pytest.raises(type(exc)):
        store.write_graph(target, fill)
    assert store.snapshot() == before
    assert_clean(store)


def test_a_rejected_result_changes_nothing(store: OxigraphStore) -> None:
    before = store.snapshot()

    def check(n: int) -> None:
        raise ValueError(f"{n} is not enough")

    with pytest.raises(ValueError, match="3 is not enough"):
        store.write_graph(graph_iri("gen"), lambda g: store._store.extend([q(i, g.value) for i in range(3)]), check=check)
    assert store.snapshot() == before


def kq(i: int, graph: str) -> terms.Quad:
    """The quad ``q`` builds, in kgalign's own terms (what the Store protocol takes and returns)."""
    return terms.Quad(terms.NamedNode(f"{EX}s{i}"), terms.NamedNode(f"{EX}p"), terms.Literal(f"v{i}"), terms.NamedNode(graph))


def test_replace_graph_and_an_empty_replacement(store: OxigraphStore) -> None:
    g = "urn:kgalign:neural"
    assert store.replace_graph(g, [kq(i, "urn:elsewhere") for i in range(4)]) == 4
    assert store.count(g) == 4
    store.replace_graph(g, [kq(i, g) for i in range(2, 6)])
    assert {x.subject.value for x in store.quads(graph=g)} == {f"{EX}s{i}" for i in range(2, 6)}
    assert all(isinstance(x, terms.Quad) and isinstance(x.object, terms.Literal) for x in store.quads(graph=g))
    store.replace_graph(g, [])
    assert not store.has_graph(g) and store.count(g) == 0
    assert_clean(store)


def test_drop_artefact_removes_graph_and_provenance(store: OxigraphStore) -> None:
    load_file(store, DATA / "zoo.ttl")
    load_file(store, DATA / "cell.obo")
    store.drop_artefact("zoo")
    assert [g.name for g in store.graphs()] == ["cell"]
    assert not store.has_graph(graph_iri("zoo")) and store.prefixes("zoo") == {}
    assert_clean(store)


# -- crashes at every step ------------------------------------------------------------------

CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import pyoxigraph as ox
    from kgalign.symbolic.store import OxigraphStore
    from kgalign.symbolic.loaders import load_file

    class Crashing:
        \"\"\"The real store, except that loading writes 50 quads and then the process dies.\"\"\"

        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def crash(self, *args, to_graph=None, **kw):
            s, p = ox.NamedNode("http://crash/s"), ox.NamedNode("http://crash/p")
            self.real.extend([ox.Quad(s, p, ox.Literal(str(i)), to_graph) for i in range(50)])
            os._exit(0)

        load = bulk_load = crash

    store_path, file, point = sys.argv[1:4]
    store = OxigraphStore(store_path)
    if point == "during-fill":
        store._handle.store = Crashing(store._store)
    elif point == "after-commit":
        OxigraphStore._drop_quads = lambda self, graph: os._exit(0)
    load_file(store, file, name="zoo")
    os._exit(3)  # reached only when the crash point is never hit
    """
)


@pytest.mark.parametrize("point", ["during-fill", "after-commit"])
@pytest.mark.parametrize("first", [True, False], ids=["first-load", "replacement"])
def test_a_crash_at_any_step_leaves_the_old_graph_or_the_new_one(tmp_path: Path, point: str, first: bool) -> None:
    """A process dies (os._exit: no cleanup at all) inside the load; the next open recovers."""
    store_path = tmp_path / "store"
    old = new = None
    with OxigraphStore(store_path) as store:
        if not first:
            old = load_file(store, DATA / "zoo.ttl", name="zoo").info
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(store_path), str(DATA / "zoo.nt"), point],
        capture_output=True, text=True, timeout=120,
    )
    if point == "after-commit" and first:
        assert proc.returncode == 3  # a first load has no staging graph to drop: it completed
    else:
        assert proc.returncode == 0, proc.stderr
    # A reader that opens before anyone recovers sees no half-written graph.
    with OxigraphStore(store_path, read_only=True) as reader:
        infos = reader.graphs()
        assert all(reader.count(i.iri) == i.triples for i in infos)
        assert not any("crash" in str(x.subject) for x in reader.quads())
    with OxigraphStore(store_path) as store:  # opening for writing recovers
        assert_clean(store)
        infos = store.graphs()
        if point == "during-fill":
            assert infos == ([] if first else [old])
        else:
            assert [i.triples for i in infos] == [44] and infos[0].format == "ntriples"
            new = infos[0]
        for i in infos:
            assert store.count(i.iri) == i.triples
        assert {g.value for g in store._store.named_graphs()} == {*BASE_GRAPHS, *(i.iri for i in infos)}
        assert new is None or new != old


@pytest.mark.slow
@pytest.mark.embedded_store  # kill -9 inside the embedded store's load (the remote store's: tests/store)
@pytest.mark.parametrize(("first", "delay"), [(False, 0.3), (False, 0.8), (True, 0.5)],
                         ids=["replacement-0.3s", "replacement-0.8s", "first-load-0.5s"])
def test_kill_9_in_the_middle_of_a_big_load(tmp_path: Path, first: bool, delay: float) -> None:
    """kill -9 a process loading 300k triples over an older version: the graph is the old one
    or the new one, complete, and nothing of the load is left behind."""
    ws_path = tmp_path / "ws"
    big = write_ntriples(tmp_path / "big.nt", 300_000, "new")
    small = write_ntriples(tmp_path / "small.nt", 1_000, "old")
    old = None
    with Workspace.open(ws_path) as ws:
        if not first:
            old = ws.load(small, name="big").info
    script = textwrap.dedent(
        f"""
        from kgalign.api import Workspace
        ws = Workspace.open({str(ws_path)!r})
        print("loading", flush=True)
        ws.load({str(big)!r}, name="big")
        print("done", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "loading"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Workspace.open(ws_path) as ws:
        store = ws.store
        assert_clean(store)
        infos = {i.name: i for i in ws.graphs()}
        if "big" not in infos:
            assert first  # a killed first load leaves no graph...
            assert {g.value for g in store._store.named_graphs()} == BASE_GRAPHS
            return
        info = infos["big"]
        assert store.count(info.iri) == info.triples
        if old is not None and info.sha256 == old.sha256:
            assert info == old and info.triples == 1_000
            tags = {x.object.value.split()[0] for x in store.quads(graph=info.iri)}
            assert tags == {"old"}
        else:
            assert info.triples == 300_000  # ...or the whole new one
        assert {g.value for g in store._store.named_graphs()} == {*BASE_GRAPHS, info.iri}


# -- sharing the directory ------------------------------------------------------------------


def test_opening_twice_in_one_process_shares_one_handle(tmp_path: Path) -> None:
    a = OxigraphStore(tmp_path / "store")
    b = OxigraphStore(tmp_path / "store")
    load_file(a, DATA / "zoo.ttl")
    assert [g.name for g in b.graphs()] == ["zoo"]
    ro = OxigraphStore(tmp_path / "store", read_only=True)
    assert [g.name for g in ro.graphs()] == ["zoo"]
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.drop_artefact("zoo")
    for s in (ro, a):
        s.close()
    assert [g.name for g in b.graphs()] == ["zoo"]  # still open through b
    b.close()
    with pytest.raises(WorkspaceError, match="closed"):
        b.graphs()
    # Every handle is closed: another process can now open the store for writing.
    code = f"from kgalign.symbolic.store import OxigraphStore; print(OxigraphStore({str(tmp_path / 'store')!r}).graphs()[0].name)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "zoo", out.stderr


def test_a_second_writer_process_gets_a_clear_error(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    code = f"from kgalign.symbolic.store import OxigraphStore; OxigraphStore({str(tmp_path / 'store')!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "WorkspaceError" in out.stderr and "is another kgalign process writing to it?" in out.stderr
    store.close()


def test_read_only_open_of_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no store at"):
        OxigraphStore(tmp_path / "nothing", read_only=True)


# -- SPARQL ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "line", "column"),
    [
        ("SELECT ?s WHERE { ?s a owl:Class  LIMIT 3", 1, 42),
        ("SELECT ?s\nWHERE {\n  ?s ?p\n}", 4, 2),
        ("SELECT ?s WHERE { ?s a nope:Class }", 1, 34),
        ('PREFIX ex: <http://e/>\nSELECT ?x WHERE {\n  ?x ex:p "unterminated }\n', 3, 26),
    ],
)
def test_sparql_syntax_errors_carry_the_parser_position(store: OxigraphStore, query: str, line: int, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as e:
        store.query(query)
    assert (e.value.line, e.value.column) == (line, column)
    msg = e.value.message  # one readable line (kgalign.symbolic.sparql_errors), never the grammar dump
    assert "\n" not in msg and len(msg) < 200
    assert msg.startswith("SPARQL syntax error") or msg.startswith("the prefix 'nope:' is not declared")
    assert e.value.context().splitlines()[-1] == "  " + " " * (column - 1) + "^"


def test_sparql_update_errors_and_read_only_updates(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    with pytest.raises(QuerySyntaxError) as e:
        store.update("INSERT DATA { <http://a> <http://b> }")
    assert e.value.line == 1
    store.close()
    ro = OxigraphStore(tmp_path / "store", read_only=True)
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.update("INSERT DATA { <http://a> <http://b> <http://c> }")


def test_replace_graph_in_bulk(store: OxigraphStore) -> None:
    g = "urn:kgalign:neural"
    store.replace_graph(g, (kq(i, g) for i in range(21_000)))  # above the one-transaction size
    store.replace_graph(g, (kq(i, g) for i in range(1_000, 22_000)))
    assert store.count(g) == 21_000
    assert {x.subject.value for x in store.quads(terms.NamedNode(f"{EX}s21999"), None, None, g)} == {f"{EX}s21999"}
    assert not list(store.quads(terms.NamedNode(f"{EX}s0"), None, None, g))
    assert_clean(store)
