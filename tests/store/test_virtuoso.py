"""The SPARQL endpoint store against a real Virtuoso (Debian ``virtuoso-opensource``), through the CLI.

The test starts ``virtuoso-t`` on free loopback ports in a temporary directory (its own database),
lets the anonymous SPARQL user update (``GRANT SPARQL_UPDATE``), and stops it at the end. It is
skipped, saying so, where Virtuoso is not installed. Virtuoso needs two flags at ``init``: it reads a
chunked request body as empty (``--no-chunked-uploads``), and kgalign cannot rely on one update
request being one transaction there (``--no-atomic-updates``; see the README's section on backends).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kgalign.store.managed import free_port

REPO = Path(__file__).resolve().parents[2]
ONT = REPO / "ontologies"
DEMO = ("tort-owl.ttl", "negligence-skos.ttl", "liability-kg.jsonld")

_INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
Striping = 0
[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
DirsAllowed = ., {d}
NumberOfBuffers = 4000
MaxDirtyBuffers = 3000
CheckpointInterval = 0
[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = {d}
ServerThreads = 4
MaxKeepAlives = 4
EnabledDavVSP = 0
Charset = UTF-8
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 300
"""


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    """A Virtuoso server of this test module's own: ``http://127.0.0.1:PORT``."""
    binary, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt") or shutil.which("isql")
    if binary is None or isql is None:
        pytest.skip("Virtuoso is not installed (Debian: apt-get install virtuoso-opensource)")
    d = tmp_path_factory.mktemp("virtuoso")
    sql, http = free_port(), free_port()
    (d / "virtuoso.ini").write_text(_INI.format(d=d, sql=sql, http=http))
    log = open(d / "stdout.log", "wb")
    proc = subprocess.Popen([binary, "-f", "-c", str(d / "virtuoso.ini")], cwd=d, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"virtuoso-t exited: {(d / 'stdout.log').read_text(errors='replace')[-800:]}")
            try:
                with urllib.request.urlopen(base + "/sparql?query=ASK%7B%7D", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Virtuoso did not come up within 180 s")
            time.sleep(0.5)
        subprocess.run([isql, f"127.0.0.1:{sql}", "dba", "dba", 'exec=GRANT SPARQL_UPDATE TO "SPARQL";'],
                       check=True, capture_output=True, timeout=60)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def kga(ws: Path, *args: str, ok: bool = True) -> str:
    r = subprocess.run([sys.executable, "-m", "kgalign", "-w", str(ws), *args], capture_output=True, text=True,
                       cwd=REPO, timeout=300)
    if ok:
        assert r.returncode == 0, r.stderr
    return r.stdout + r.stderr


def direct(base: str, query: str) -> list[dict]:
    """Ask Virtuoso itself (not through kgalign), over all its graphs."""
    data = urllib.parse.urlencode({"query": query}).encode()
    req = urllib.request.Request(base + "/sparql", data=data, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["results"]["bindings"]


def test_load_graphs_sparql_symbols_and_drop_on_virtuoso(virtuoso, tmp_path) -> None:
    from kgalign.api import Workspace

    ws = tmp_path / "ws"
    out = kga(ws, "init", "--sparql-endpoint", virtuoso + "/sparql", "--update-endpoint", virtuoso + "/sparql",
              "--graph-store", virtuoso + "/sparql-graph-crud", "--no-chunked-uploads", "--no-atomic-updates")
    assert virtuoso in out
    for f in DEMO:
        assert "loaded" in kga(ws, "load", str(ONT / f))
    ref = Workspace.open(tmp_path / "reference")  # the embedded store, for the same answers
    for f in DEMO:
        ref.load(ONT / f)

    remote = Workspace.open(ws)
    try:
        assert not remote.store.capabilities.supports_transactions
        assert {g.name: g.triples for g in remote.graphs()} == {g.name: g.triples for g in ref.graphs()}
        q = "SELECT ?s ?l WHERE { ?s skos:prefLabel ?l } ORDER BY ?s ?l"
        assert [tuple(r) for r in remote.sparql_raw(q)] == [tuple(r) for r in ref.sparql_raw(q)]
        assert remote.sparql_raw("ASK { ?s a owl:Class }") is True  # Virtuoso's own ASK form, read as a boolean
        assert remote.sparql_raw("ASK { ?s a <urn:nothing> }") is False

        def canon(syms):  # rows come in Virtuoso's own order: compare the multi-valued fields as sets
            return sorted((s.iri, s.graph, s.kind, s.label, *(frozenset(x) for x in (
                s.alt_labels, s.definitions, s.parents, s.children, s.synonyms, s.types, s.domains, s.ranges)))
                for s in syms)

        assert canon(remote.symbols()) == canon(ref.symbols())
        assert len(remote.symbols()) == 213
        # Blank nodes (OWL restrictions) kept their identity through the upload.
        bn = "SELECT (COUNT(*) AS ?n) WHERE { ?b ?p ?o . ?b ?q ?o2 . FILTER(isBlank(?b) && ?p != ?q) }"
        assert remote.sparql_raw(bn)[0]["n"].value == ref.sparql_raw(bn)[0]["n"].value != "0"
    finally:
        remote.close()

    # A reload replaces the graph (staging graph + MOVE), a bad file changes nothing, a drop forgets.
    assert "replaced tort-owl" in kga(ws, "load", str(ONT / "tort-owl.ttl"))
    bad = tmp_path / "negligence-skos.ttl"
    bad.write_text("@prefix ex: <http://e/> .\nex:a ex:b ;; .\n")
    assert "negligence-skos.ttl:2" in kga(ws, "load", str(bad), ok=False)
    assert "negligence-skos  513" in kga(ws, "graphs")
    kga(ws, "drop", "negligence-skos")
    listed = kga(ws, "graphs")
    assert "negligence-skos" not in listed and "tort-owl" in listed
    assert "negligence-skos" not in kga(ws, "sparql", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert "negligence-skos" not in kga(ws, "symbols")
    assert not direct(virtuoso, "SELECT * WHERE { GRAPH <urn:kgalign:graph:negligence-skos> { ?s ?p ?o } } LIMIT 1")
    staging = direct(virtuoso, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } FILTER(STRSTARTS(STR(?g), 'urn:kgalign:staging')) }")
    assert staging == []
    ref.close()


def test_a_query_only_endpoint_is_read_only(virtuoso, tmp_path) -> None:
    """Without --update-endpoint the workspace reads the server and refuses writes in one line."""
    ws = tmp_path / "ws"
    kga(ws, "init", "--sparql-endpoint", virtuoso + "/sparql")
    assert "(no results)" in kga(ws, "sparql", "SELECT ?s WHERE { ?s a <urn:kgalign:test:nothing> }")
    out = kga(ws, "load", str(ONT / "tort-owl.ttl"), ok=False)
    assert "read-only" in out and "--update-endpoint" in out and "Traceback" not in out
    out = kga(ws, "sparql", "SELECT ?s WHERE { ?s ?p }", ok=False)  # the server's syntax error, one line
    assert out.count("\n") <= 3 and "Traceback" not in out
