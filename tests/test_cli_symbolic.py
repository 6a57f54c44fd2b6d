"""The symbolic commands of the CLI: load, graphs, symbols, resolve, sparql, drop.

Most tests call ``kgalign.cli.main`` in-process (fast); a few run the real ``kgalign``
executable to check exit codes, stderr and concurrent access from another process.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kgalign.api import Workspace
from kgalign.cli import main

DATA = Path(__file__).resolve().parent / "symbolic" / "data"
KGALIGN = [sys.executable, "-m", "kgalign"]
SR = "{http://www.w3.org/2005/sparql-results#}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(list(argv))
    except SystemExit as e:  # argparse: --help, bad arguments
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A workspace holding the zoo (Turtle) and the cell ontology (OBO)."""
    path = str(tmp_path / "ws")
    rc, out, err = run(capsys, "-w", path, "load", str(DATA / "zoo.ttl"), str(DATA / "cell.obo"))
    assert rc == 0, err
    assert out.splitlines() == [
        f"loaded zoo: 44 triples from {DATA / 'zoo.ttl'} (turtle)",
        f"loaded cell: 33 triples from {DATA / 'cell.obo'} (obo)",
    ]
    return path


# -- help and exit codes ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["load", "graphs", "symbols", "resolve", "sparql", "drop"])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    rc, out, _ = run(capsys, command, "--help")
    assert rc == 0
    assert out.startswith(f"usage: kgalign {command}")


def test_main_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--help")
    assert rc == 0
    epilog = out[out.index("exit codes:"):]
    for code, name in [(0, "success"), (1, "UnknownNameError"), (2, "UsageError"), (3, "WorkspaceError"),
                       (4, "LoadError"), (5, "QuerySyntaxError"), (130, "interrupted")]:
        assert any(line.split()[:1] == [str(code)] for line in epilog.splitlines()), code
        assert name in epilog


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    assert run(capsys, "-w", ws, "symbols", "--kind", "widget")[0] == 2
    assert run(capsys, "-w", ws, "load", str(DATA / "zoo.ttl"), str(DATA / "cell.obo"), "--name", "x")[0] == 2


# -- load, graphs, symbols, resolve, drop --------------------------------------------------


def test_load_again_replaces_and_graphs_lists_provenance(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, _ = run(capsys, "-w", ws, "load", str(DATA / "zoo.nt"), "--name", "zoo")
    assert (rc, out.strip()) == (0, f"replaced zoo: 44 triples from {DATA / 'zoo.nt'} (ntriples)")
    rc, out, _ = run(capsys, "-w", ws, "graphs", "-f", "json")
    graphs = {g["name"]: g for g in json.loads(out)}
    assert graphs["zoo"]["format"] == "ntriples" and graphs["zoo"]["triples"] == 44 and graphs["zoo"]["symbols"] == 14
    assert graphs["cell"]["iri"] == "urn:kgalign:graph:cell"
    rc, out, _ = run(capsys, "-w", ws, "graphs", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == ["cell", "zoo"]
    rc, out, _ = run(capsys, "-w", ws, "graphs")
    assert out.splitlines()[0].split() == ["name", "triples", "symbols", "format", "source", "loaded_at", "iri"]


def test_load_of_a_dataset_says_its_graphs_were_merged(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, _ = run(capsys, "-w", ws, "load", str(DATA / "people.trig"))
    assert out.strip() == f"loaded people: 6 triples from {DATA / 'people.trig'} (trig; its 2 named graph(s) merged into one)"


def test_load_with_format_override(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    bad = str(DATA / "broken" / "turtle-in.nt")
    rc, _, err = run(capsys, "-w", ws, "load", bad)
    assert rc == 4 and "pass --format turtle" in err
    rc, out, _ = run(capsys, "-w", ws, "load", bad, "--format", "turtle", "--name", "zoo2")
    assert rc == 0 and out.startswith("loaded zoo2: 44 triples")


def test_symbols_filters_and_formats(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, _ = run(capsys, "-w", ws, "symbols", "-g", "zoo", "--kind", "class", "-f", "json")
    classes = json.loads(out)
    assert rc == 0 and len(classes) == 5
    assert {c["label"] for c in classes} == {"animal", "mammal", "big cat", "zoo keeper", "PC member"}
    rc, out, _ = run(capsys, "-w", ws, "symbols", "-g", "cell", "-f", "tsv")
    assert out.splitlines()[0].split("\t")[:4] == ["iri", "graph", "kind", "label"]
    rc, _, err = run(capsys, "-w", ws, "symbols", "-g", "zooo")
    assert rc == 1 and "unknown graph 'zooo'; did you mean 'zoo'" in err


def test_resolve(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, _ = run(capsys, "-w", ws, "resolve", "BIG-CAT", "-f", "json")
    assert rc == 0 and [s["iri"] for s in json.loads(out)] == ["http://example.org/zoo#Big_cat"]
    rc, out, _ = run(capsys, "-w", ws, "resolve", "nerve cell")  # an OBO synonym
    assert rc == 0 and "http://purl.obolibrary.org/obo/CL_0000540" in out
    rc, out, _ = run(capsys, "-w", ws, "resolve", "zoo:Habitat", "-g", "zoo", "-f", "csv")
    assert rc == 0 and list(csv.DictReader(io.StringIO(out)))[0]["kind"] == "concept"
    rc, out, err = run(capsys, "-w", ws, "resolve", "mamal")
    assert (rc, out) == (1, "")
    assert err.startswith("kgalign: error: unknown symbol 'mamal'; did you mean 'mammal'") and err.count("\n") == 1


def test_drop(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    assert run(capsys, "-w", ws, "drop", "cell")[:2] == (0, "dropped cell\n")
    rc, _, err = run(capsys, "-w", ws, "drop", "cell")
    assert rc == 1 and "unknown graph 'cell'" in err
    assert [g["name"] for g in json.loads(run(capsys, "-w", ws, "graphs", "-f", "json")[1])] == ["zoo"]


def test_a_bad_file_gives_one_line_exit_4_and_changes_nothing(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    before = run(capsys, "-w", ws, "graphs", "-f", "json")[1]
    bad = DATA / "broken" / "unterminated-string.ttl"
    rc, out, err = run(capsys, "-w", ws, "load", str(bad), "--name", "zoo")
    assert rc == 4 and out == ""
    assert err == f"kgalign: error: {bad}:4:15: Unexpected end of file\n"
    assert run(capsys, "-w", ws, "graphs", "-f", "json")[1] == before


def test_a_missing_workspace_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _, err = run(capsys, "-w", str(tmp_path / "none"), "graphs")
    assert rc == 3 and "no kgalign workspace at" in err


@pytest.mark.embedded_store  # a store/ directory; one writer per store
def test_default_workspace_is_dot_kgalign_and_env_overrides_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KGALIGN_WORKSPACE", raising=False)
    assert run(capsys, "load", str(DATA / "zoo.ttl"))[0] == 0
    assert (tmp_path / ".kgalign" / "store").is_dir()
    monkeypatch.setenv("KGALIGN_WORKSPACE", str(tmp_path / "elsewhere"))
    assert run(capsys, "load", str(DATA / "cell.obo"))[0] == 0
    assert [g["name"] for g in json.loads(run(capsys, "graphs", "-f", "json")[1])] == ["cell"]
    assert [g.name for g in Workspace.open(tmp_path / ".kgalign", read_only=True).graphs()] == ["zoo"]


# -- sparql ---------------------------------------------------------------------------------

SELECT = """PREFIX zoo: <http://example.org/zoo#>
SELECT ?c ?label WHERE { GRAPH ?g { ?c rdfs:subClassOf zoo:Animal . OPTIONAL { ?c rdfs:label ?label } } }"""


def test_sparql_json_follows_the_w3c_results_format(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, _ = run(capsys, "-w", ws, "sparql", SELECT, "-f", "json")
    assert rc == 0
    doc = json.loads(out)
    assert set(doc) == {"head", "results"} and doc["head"]["vars"] == ["c", "label"]
    bindings = doc["results"]["bindings"]
    assert bindings == [{
        "c": {"type": "uri", "value": "http://example.org/zoo#Mammal"},
        "label": {"type": "literal", "value": "mammal", "xml:lang": "en"},
    }]
    rc, out, _ = run(capsys, "-w", ws, "sparql", "SELECT ?w WHERE { ?s zoo:weightKg ?w } ",  "-f", "json")
    assert rc == 5  # zoo: is not a standard prefix
    rc, out, _ = run(capsys, "-w", ws, "sparql", "SELECT ?w ?b WHERE { ?s <http://example.org/zoo#weightKg> ?w }", "-f", "json")
    doc = json.loads(out)
    assert doc["head"]["vars"] == ["w", "b"]
    assert doc["results"]["bindings"] == [{"w": {"type": "literal", "value": "300.5",
                                                 "datatype": "http://www.w3.org/2001/XMLSchema#decimal"}}]
    rc, out, _ = run(capsys, "-w", ws, "sparql", "ASK { ?s a skos:Concept }", "-f", "json")
    assert json.loads(out) == {"head": {}, "boolean": True}


def test_sparql_table_csv_tsv_and_xml(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, _ = run(capsys, "-w", ws, "sparql", SELECT)
    assert rc == 0 and out.splitlines()[0].split() == ["c", "label"] and "http://example.org/zoo#Mammal" in out
    rc, out, _ = run(capsys, "-w", ws, "sparql", SELECT, "-f", "csv")
    assert list(csv.reader(io.StringIO(out))) == [["c", "label"], ["http://example.org/zoo#Mammal", "mammal"]]
    rc, out, _ = run(capsys, "-w", ws, "sparql", SELECT, "-f", "tsv")
    assert out.splitlines()[1].split("\t") == ["<http://example.org/zoo#Mammal>", '"mammal"@en']
    rc, out, _ = run(capsys, "-w", ws, "sparql", SELECT, "-f", "xml")
    root = ET.fromstring(out)
    assert [v.get("name") for v in root.find(f"{SR}head")] == ["c", "label"]
    assert len(root.find(f"{SR}results")) == 1
    rc, out, _ = run(capsys, "-w", ws, "sparql", "ASK { ?s a owl:Thing }")
    assert (rc, out) == (0, "false\n")


def test_sparql_construct(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    q = "CONSTRUCT { ?c a owl:Class } WHERE { ?c rdfs:subClassOf <http://example.org/zoo#Mammal> }"
    rc, out, _ = run(capsys, "-w", ws, "sparql", q, "-f", "ntriples")
    assert (rc, out) == (0, "<http://example.org/zoo#Big_cat> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                            "<http://www.w3.org/2002/07/owl#Class> .\n")
    rc, out, _ = run(capsys, "-w", ws, "sparql", q, "-f", "json")
    (node,) = json.loads(out)  # JSON-LD
    assert node["@id"] == "http://example.org/zoo#Big_cat"
    assert node["http://www.w3.org/1999/02/22-rdf-syntax-ns#type"] == [{"@id": "http://www.w3.org/2002/07/owl#Class"}]
    rc, _, err = run(capsys, "-w", ws, "sparql", q, "-f", "csv")
    assert rc == 2 and "CONSTRUCT or DESCRIBE result is a graph" in err
    rc, _, err = run(capsys, "-w", ws, "sparql", SELECT, "-f", "turtle")
    assert rc == 2 and "is for CONSTRUCT and DESCRIBE results" in err


def test_sparql_from_a_file_or_stdin(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    qf = tmp_path / "q.rq"
    qf.write_text(SELECT)
    rc, out, _ = run(capsys, "-w", ws, "sparql", "-q", str(qf), "-f", "csv")
    assert rc == 0 and "zoo#Mammal" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("ASK { ?s ?p ?o }"))
    assert run(capsys, "-w", ws, "sparql", "-q", "-")[1] == "true\n"
    rc, _, err = run(capsys, "-w", ws, "sparql", "-q", str(tmp_path / "missing.rq"))
    assert rc == 2 and err.strip() == f"kgalign: error: cannot read the query file {tmp_path / 'missing.rq'}: No such file or directory"
    assert run(capsys, "-w", ws, "sparql", SELECT, "-q", str(qf))[0] == 2
    assert run(capsys, "-w", ws, "sparql")[0] == 2


def test_sparql_syntax_error_exit_5_with_position_and_caret(capsys: pytest.CaptureFixture[str], ws: str) -> None:
    rc, out, err = run(capsys, "-w", ws, "sparql", "SELECT ?s\nWHERE {\n  ?s ?p\n}")
    assert rc == 5 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("kgalign: error: line 4, column 2: SPARQL syntax error") and "expected" in lines[0]
    assert lines[1:3] == ["  }", "   ^"]


# -- the real executable and concurrent access ----------------------------------------------


def test_the_executable_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    ok = subprocess.run([*KGALIGN, "-w", ws, "load", str(DATA / "zoo.ttl")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = DATA / "broken" / "mismatched-tag.rdf"
    res = subprocess.run([*KGALIGN, "-w", ws, "load", str(bad)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 4
    assert res.stderr == f"kgalign: error: {bad}:5:25: not well-formed XML: mismatched tag\n"
    assert "Traceback" not in res.stdout + res.stderr


@pytest.mark.embedded_store  # a store/ directory; one writer per store
def test_cli_reads_while_python_holds_the_workspace_open_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    with Workspace.open(path) as ws:
        ws.load(DATA / "zoo.ttl")
        ws2 = Workspace.open(path)  # opening twice in one process works too
        ws2.load(DATA / "cell.obo")
        graphs = subprocess.run([*KGALIGN, "-w", str(path), "graphs", "-f", "json"], capture_output=True, text=True, timeout=120)
        assert graphs.returncode == 0, graphs.stderr
        assert [g["name"] for g in json.loads(graphs.stdout)] == ["cell", "zoo"]
        ask = subprocess.run([*KGALIGN, "-w", str(path), "sparql", "ASK { ?s rdfs:label \"mammal\"@en }"],
                             capture_output=True, text=True, timeout=120)
        assert ask.stdout == "true\n"
        # Writing from a second process is refused with a clear message, exit 3.
        load = subprocess.run([*KGALIGN, "-w", str(path), "load", str(DATA / "zoo.nt")], capture_output=True, text=True, timeout=120)
        assert load.returncode == 3 and "is another kgalign process writing to it?" in load.stderr
        # The Python side still works, and sees its own writes.
        assert [g.name for g in ws.graphs()] == ["cell", "zoo"]
        ws2.close()
