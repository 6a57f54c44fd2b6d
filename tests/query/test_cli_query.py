"""``kgalign query`` and ``kgalign explain`` as a user runs them on the demo workspace (opened
read-only beside the test process): every output format and the exit codes.

A few cases run as real subprocesses, started together in one module fixture (the interpreter
start-up costs seconds on a busy machine); the others call :func:`kgalign.cli.main` with the same
arguments in this process, which is the same code path after start-up.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

NEG = "https://example.org/negligence/thesaurus/"
SIMILAR = "symbols similar to DutyOfCare in graph tort-owl in graph negligence-skos limit 5"
BROADER = "symbols where { ?symbol skos:broader neg:c0100 }"

#: Cases run as subprocesses.
SUBPROCESS = ("table", "stdin", "syntax")
#: name -> (arguments after 'kgalign -w WS', stdin)
CASES: dict[str, tuple[list[str], str | None]] = {
    "table": (["query", SIMILAR], None),
    "json": (["query", SIMILAR, "--format", "json"], None),
    "csv": (["query", BROADER, "-f", "csv"], None),
    "tsv": (["query", "features of DutyOfCare in graph tort-owl limit 8", "-f", "tsv"], None),
    "sparql": (["query", "SELECT ?l WHERE { neg:c0101 skos:prefLabel ?l }", "-f", "json"], None),
    "stdin": (["query", "-q", "-", "-f", "csv"], "symbols where {\n  ?symbol skos:broader neg:c0109\n}\nlimit 2\n"),
    "explain": (["explain", f"{SIMILAR} where {{ ?symbol skos:broader ?b }}"], None),
    "syntax": (["query", "symbols simlar to DutyOfCare"], None),
    "pattern": (["query", "symbols where { ?symbol skos:broader }"], None),
    "unknown": (["query", "symbols similar to dutyofcar"], None),
    "ambiguous": (["query", "features of Claimant"], None),
    "injection": (["query", 'symbols sharing features with "x> } DROP ALL ; #"'], None),
    "evaluation": (["query", "SELECT * WHERE { SERVICE <http://localhost:1/q> { ?s ?p ?o } }"], None),
    "no_text": (["query"], None),
}


class Runs(dict):
    """Completed runs by case name, and the store's quad count before they started."""

    quads_before: int = 0


def quad_count(ws) -> int:
    return len(ws.store.snapshot())


@pytest.fixture(scope="module")
def cli(demo_ws, tmp_path_factory) -> Runs:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = Runs()
    out.quads_before = quad_count(demo_ws)
    missing = tmp_path_factory.mktemp("nowhere") / "ws"
    cases = {name: (["-w", str(demo_ws.path), *args], stdin) for name, (args, stdin) in CASES.items()}
    cases["no_workspace"] = (["-w", str(missing), "query", SIMILAR], None)
    procs = {
        name: (subprocess.Popen([sys.executable, "-m", "kgalign", *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env), stdin)
        for name, (args, stdin) in cases.items() if name in SUBPROCESS
    }
    for name, (args, _) in cases.items():
        if name not in SUBPROCESS:
            out[name] = _in_process(args)
    for name, (p, stdin) in procs.items():
        stdout, stderr = p.communicate(stdin, timeout=300)
        out[name] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def _in_process(args: list[str]) -> subprocess.CompletedProcess:
    """``kgalign ARGS`` through :func:`kgalign.cli.main`, with stdout and stderr captured."""
    from contextlib import redirect_stderr, redirect_stdout

    from kgalign.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(args)
    return subprocess.CompletedProcess(["kgalign", *args], code, stdout.getvalue(), stderr.getvalue())


def ok(cli, name: str) -> subprocess.CompletedProcess:
    r = cli[name]
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r


def failed(cli, name: str, code: int) -> str:
    """The one error message of a failed run."""
    r = cli[name]
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("kgalign: error: ")
    return r.stderr


def test_table(cli) -> None:
    r = ok(cli, "table")
    header, rule, *rows = r.stdout.splitlines()
    assert header.split()[:4] == ["symbol", "graph", "score", "iri"] and set(rule) <= {"-", " "}
    assert len(rows) == 5 and all("negligence-skos" in row for row in rows)
    assert any("Obligation of reasonable care" in row for row in rows)  # neg:c0101, the reference match
    assert "(5 rows" in r.stderr


def test_json(cli) -> None:
    data = json.loads(ok(cli, "json").stdout)
    assert data["kind"] == "symbols" and len(data["rows"]) == 5
    assert NEG + "c0101" in [row["iri"] for row in data["rows"]]
    assert data["plan"].startswith("Limit 5") and data["columns"][:4] == ["symbol", "graph", "score", "iri"]


def test_csv(cli) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(cli, "csv").stdout)))
    assert {row["iri"] for row in rows} == {NEG + "c0102", NEG + "c0103", NEG + "c0109"}
    assert {row["graph"] for row in rows} == {"negligence-skos"}


def test_tsv(cli) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(cli, "tsv").stdout), delimiter="\t"))
    assert len(rows) == 8 and list(rows[0])[:4] == ["feature", "label", "strength", "density"]
    strengths = [float(row["strength"]) for row in rows]
    assert strengths == sorted(strengths, reverse=True)
    assert any(len(row["strength"].split(".")[-1]) > 4 for row in rows)  # full precision, not the table's


def test_whole_sparql_query(cli) -> None:
    data = json.loads(ok(cli, "sparql").stdout)
    assert data["kind"] == "sparql" and data["rows"] == [{"l": "Obligation of reasonable care"}]


def test_query_from_stdin(cli) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(cli, "stdin").stdout)))
    assert len(rows) == 2
    assert {row["iri"] for row in rows} <= {NEG + c for c in ("c0101", "c0110", "c0120", "c0140")}


def test_explain(cli) -> None:
    lines = ok(cli, "explain").stdout.splitlines()
    assert lines[0] == "Limit 5"
    assert "SPARQL semi-join { ?symbol skos:broader ?b }" in lines[1]
    assert "NearestConceptVectors Duty of care" in lines[-1] and "['negligence-skos']" in lines[-1]


def test_syntax_error(cli) -> None:
    msg = failed(cli, "syntax", 5)
    first, source, caret, expected = msg.rstrip("\n").splitlines()
    assert first == "kgalign: error: line 1, column 9: unexpected 'simlar'; did you mean 'similar'?"
    assert source.strip() == "symbols simlar to DutyOfCare" and caret.index("^") == source.index("simlar")
    assert expected.startswith("expected one of:") and "similar" in expected


def test_sparql_pattern_error(cli) -> None:
    msg = failed(cli, "pattern", 5)
    assert msg.startswith("kgalign: error: line 1, column") and "SPARQL" in msg and "^" in msg


def test_unknown_and_ambiguous(cli) -> None:
    assert "did you mean 'Duty of care'" in failed(cli, "unknown", 1)
    msg = failed(cli, "ambiguous", 1)
    for graph in ("tort-owl", "liability-kg", "negligence-skos"):
        assert f"(in {graph})" in msg
    assert "unknown symbol 'x> } DROP ALL ; #'" in failed(cli, "injection", 1)


def test_other_failures(cli) -> None:
    assert "SERVICE would fetch a remote URL" in failed(cli, "evaluation", 1)
    assert "give the query text" in failed(cli, "no_text", 2)
    assert "no kgalign workspace" in failed(cli, "no_workspace", 3)


def test_store_unchanged_by_the_cli(cli, demo_ws) -> None:
    assert quad_count(demo_ws) == cli.quads_before
    assert demo_ws.graph_names() == ["liability-kg", "negligence-skos", "tort-owl"]
