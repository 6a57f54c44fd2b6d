"""Alignment formats: the OAEI Alignment API RDF, SSSOM TSV (checked with the sssom package
itself), and the mappings graph in the store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kgalign.align import (
    Alignment,
    Evidence,
    MappingCandidate,
    Matcher,
    export_to_store,
    read_alignment_rdf,
    read_from_store,
    read_sssom,
    write_alignment_rdf,
    write_sssom,
)
from kgalign.align.formats import curie_map_for, sssom_tsv
from kgalign.api import Workspace
from kgalign.errors import LoadError
from kgalign.symbolic.vocab import MAPPINGS_GRAPH

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def ws(tmp_path_factory, oaei_dir):
    w = Workspace.open(tmp_path_factory.mktemp("formats") / "ws")
    for f in ("cmt.owl", "Conference.owl", "confOf.owl"):
        w.load(oaei_dir / f)
    yield w
    w.close()


@pytest.fixture(scope="module")
def alignment(ws) -> Alignment:
    return Matcher().match(ws, "cmt", "Conference")


@pytest.fixture(scope="module")
def kinds(ws) -> dict[str, str]:
    return {s.iri: s.kind for g in ("cmt", "Conference") for s in ws.symbols(g)}


# -- Alignment API RDF ----------------------------------------------------------------------------


def test_reads_an_oaei_reference(oaei_dir):
    ref = read_alignment_rdf(oaei_dir / "cmt-confOf.rdf", source_graph="cmt", target_graph="confOf")
    assert len(ref) == 16
    assert ref.source_ontology == "http://cmt" and ref.target_ontology == "http://confOf"
    assert {m.relation for m in ref} == {"="} and {m.confidence for m in ref} == {1.0}
    assert ("http://cmt#ProgramCommitteeChair", "http://confOf#Chair_PC") in ref.pairs()
    assert ref[0].subject_graph == "cmt" and ref[0].evidence[0].kind == "external"


def test_alignment_rdf_round_trips(alignment, tmp_path):
    p = write_alignment_rdf(alignment, tmp_path / "out.rdf")
    back = read_alignment_rdf(p)
    assert back.source_ontology == "http://cmt" and back.target_ontology == "http://conference"
    assert [(m.subject, m.object, m.relation) for m in back] == [(m.subject, m.object, m.relation) for m in alignment]
    for a, b in zip(alignment, back, strict=True):
        assert b.confidence == pytest.approx(a.confidence, abs=1e-5)
    # and the written file reads like the OAEI ones (same element names, default namespace)
    text = p.read_text()
    assert "<Cell>" in text and "<entity1 rdf:resource=" in text and "<relation>=</relation>" in text


def test_alignment_rdf_keeps_relations_and_escapes(tmp_path):
    al = Alignment("a", "b", [
        MappingCandidate("http://x/a?q=1&r=2", "a", "http://y/b", "b", relation="<", confidence=0.5),
        MappingCandidate("http://x/c", "a", "http://y/d", "b", relation=">", confidence=0.25),
    ])
    back = read_alignment_rdf(write_alignment_rdf(al, tmp_path / "rel.rdf"))
    assert [(m.subject, m.relation, m.confidence) for m in back] == [
        ("http://x/a?q=1&r=2", "<", 0.5), ("http://x/c", ">", 0.25)
    ]


def test_malformed_alignment_rdf_names_line_and_column(tmp_path):
    p = tmp_path / "broken.rdf"
    p.write_text('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
                 "<Alignment>\n  <map><Cell></map>\n</rdf:RDF>\n")
    with pytest.raises(LoadError) as e:
        read_alignment_rdf(p)
    assert e.value.line == 4 and e.value.column is not None and "broken.rdf:4:" in str(e.value)


# -- SSSOM ----------------------------------------------------------------------------------------


def _sssom_cli() -> str:
    exe = shutil.which("sssom", path=str(VENV_BIN)) or shutil.which("sssom")
    if exe is None:
        pytest.skip("SSSOM CHECK SKIPPED: the 'sssom' package is not installed (pip install sssom)")
    return exe


def test_sssom_output_passes_sssom_validate(alignment, kinds, tmp_path):
    exe = _sssom_cli()
    p = write_sssom(alignment, tmp_path / "cmt-conference.sssom.tsv", kinds=kinds)
    res = subprocess.run([exe, "validate", str(p)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "error" not in res.stderr.lower(), res.stderr[-2000:]


def test_sssom_round_trips_through_sssoms_parser(alignment, kinds, tmp_path):
    pytest.importorskip("sssom", reason="SSSOM CHECK SKIPPED: the 'sssom' package is not installed")
    from sssom.parsers import parse_sssom_table

    p = write_sssom(alignment, tmp_path / "rt.sssom.tsv", kinds=kinds)
    msdf = parse_sssom_table(p)
    df = msdf.df
    assert len(df) == len(alignment)
    conv = msdf.converter
    got = {(conv.expand(r.subject_id), conv.expand(r.predicate_id), conv.expand(r.object_id)) for r in df.itertuples()}
    assert got == {(m.subject, m.predicate, m.object) for m in alignment}
    by_pair = {(conv.expand(r.subject_id), conv.expand(r.object_id)): r for r in df.itertuples()}
    for m in alignment:
        r = by_pair[m.pair]
        assert float(r.confidence) == pytest.approx(m.confidence, abs=1e-5)
        assert r.mapping_justification == m.justification
        assert r.subject_label == m.subject_label and r.object_label == m.object_label
    assert set(df.subject_type) <= {"owl class", "owl object property", "owl data property"}


def test_sssom_round_trips_through_our_reader(alignment, tmp_path):
    back = read_sssom(write_sssom(alignment, tmp_path / "ours.sssom.tsv"))
    assert [(m.subject, m.object, m.relation) for m in back] == [(m.subject, m.object, m.relation) for m in alignment]
    assert all(b.subject_label == a.subject_label for a, b in zip(alignment, back, strict=True))
    assert back[0].evidence[0].detail.startswith(alignment[0].justification)


def test_sssom_justification_follows_the_evidence():
    lex = Evidence("lexical", 1.0, "same label")
    struct = Evidence("structural", 0.8, "parents agree")
    rep = Evidence("repair", 1.0, "passed")
    assert MappingCandidate("a", "g", "b", "h", evidence=(lex, rep)).justification == "semapv:LexicalMatching"
    assert MappingCandidate("a", "g", "b", "h", evidence=(lex, struct)).justification == "semapv:CompositeMatching"
    assert MappingCandidate("a", "g", "b", "h").justification == "semapv:UnspecifiedMatching"


def test_curie_map_uses_declared_prefixes_then_graph_names():
    cmap = curie_map_for(
        ["https://example.org/tort/owl#Duty", "http://cmt#Paper", "http://other/x#y"],
        declared={"tort": "https://example.org/tort/owl#"},
        hints={"http://cmt#": "cmt"},
    )
    assert cmap["tort"] == "https://example.org/tort/owl#" and cmap["cmt"] == "http://cmt#"
    assert "http://other/x#" in cmap.values() and cmap["skos"].endswith("skos/core#")
    text = sssom_tsv(Alignment("a", "b", [MappingCandidate("http://cmt#P", "cmt", "http://o#Q", "o")]))
    assert "cmt:P\t" in text and "o:Q\t" in text


# -- the store ------------------------------------------------------------------------------------


def test_mappings_graph_round_trips_and_is_queryable(ws, alignment):
    n = export_to_store(ws, alignment)
    assert n == len(alignment)
    (back,) = read_from_store(ws)
    assert back.source_graph == "cmt" and back.target_graph == "Conference"
    assert {(m.subject, m.object, m.relation) for m in back} == {(m.subject, m.object, m.relation) for m in alignment}
    orig = {m.pair: m for m in alignment}
    for m in back:
        assert m.confidence == pytest.approx(orig[m.pair].confidence)
        assert m.evidence == orig[m.pair].evidence
        assert m.justification == orig[m.pair].justification
    rows = list(ws.sparql(
        f"SELECT ?s ?o WHERE {{ GRAPH <{MAPPINGS_GRAPH}> {{ ?s skos:exactMatch ?o }} }}"
    ))
    assert {(r["s"].value, r["o"].value) for r in rows} == alignment.pairs()
    rows = list(ws.sparql(
        f"""SELECT ?m ?c ?j WHERE {{ GRAPH <{MAPPINGS_GRAPH}> {{
            ?m a kga:Mapping ; kga:subject <http://cmt#ProgramCommittee> ; kga:confidence ?c ;
               kga:justification ?j }} }}"""
    ))
    assert len(rows) == 1 and float(rows[0]["c"].value) > 0.75
    assert rows[0]["j"].value.startswith("https://w3id.org/semapv/vocab/")


def test_reexport_replaces_only_the_same_pair_of_artefacts(ws, alignment):
    other = Matcher().match(ws, "cmt", "confOf")
    export_to_store(ws, [alignment, other])
    smaller = Alignment("cmt", "Conference", alignment.mappings[:2])
    export_to_store(ws, smaller)
    got = {(a.source_graph, a.target_graph): a for a in read_from_store(ws)}
    assert len(got[("cmt", "Conference")]) == 2
    assert got[("cmt", "confOf")].pairs() == other.pairs()
    rows = list(ws.sparql(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{MAPPINGS_GRAPH}> {{ ?s skos:exactMatch ?o }} }}"))
    assert int(rows[0]["n"].value) == len(smaller.pairs() | other.pairs())
