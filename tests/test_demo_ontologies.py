"""Sanity checks for the demo symbolic systems in ``ontologies/``.

Uses rdflib only (no kgalign imports): the files must parse, have a sensible
number of symbols, give every symbol a label and a definition, and the gold
alignment must only mention IRIs that exist.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, SKOS, Graph, Literal, URIRef

ONTOLOGIES = Path(__file__).resolve().parent.parent / "ontologies"
IAO_DEFINITION = URIRef("http://purl.obolibrary.org/obo/IAO_0000115")

OWL_NS = "https://example.org/tort/owl#"
SKOS_NS = "https://example.org/negligence/thesaurus/"
KG_NS = "https://example.org/liability/kg/"

# name -> (file, rdflib format, namespace, label predicates, definition predicates)
SYSTEMS = {
    "tort-owl": ("tort-owl.ttl", "turtle", OWL_NS, (RDFS.label,), (SKOS.definition, IAO_DEFINITION)),
    "negligence-skos": ("negligence-skos.ttl", "turtle", SKOS_NS, (SKOS.prefLabel,), (SKOS.definition,)),
    "liability-kg": ("liability-kg.jsonld", "json-ld", KG_NS, (RDFS.label,), (RDFS.comment,)),
}

ALLOWED_PREDICATES = {"skos:exactMatch", "skos:broadMatch", "skos:narrowMatch", "skos:relatedMatch"}

DUTY_OF_CARE = (
    OWL_NS + "DutyOfCare",
    SKOS_NS + "c0101",
    KG_NS + "careful_conduct_obligation",
)
DEAD_SYMBOL = OWL_NS + "MiscEntry17"


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    out = {}
    for name, (fname, fmt, *_rest) in SYSTEMS.items():
        g = Graph()
        g.parse(ONTOLOGIES / fname, format=fmt)
        out[name] = g
    return out


def symbols(g: Graph, ns: str) -> set[URIRef]:
    """IRIs of the system's namespace that are typed (classes, concepts, properties, individuals, rules)."""
    return {s for s in g.subjects(RDF.type, None) if isinstance(s, URIRef) and str(s).startswith(ns)}


def english(values) -> list[Literal]:
    return [v for v in values if isinstance(v, Literal) and v.language in (None, "en") and str(v).strip()]


@pytest.fixture(scope="module")
def alignment() -> list[dict[str, str]]:
    with open(ONTOLOGIES / "reference-alignment.tsv", newline="", encoding="ascii") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_files_are_ascii(name):
    (ONTOLOGIES / SYSTEMS[name][0]).read_bytes().decode("ascii")


def test_docs_and_alignment_are_ascii():
    for fname in ("README.md", "reference-alignment.tsv"):
        (ONTOLOGIES / fname).read_bytes().decode("ascii")


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_symbol_count_in_range(graphs, name):
    ns = SYSTEMS[name][2]
    n = len(symbols(graphs[name], ns))
    assert 40 <= n <= 150, f"{name}: {n} symbols"


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_symbol_has_label_and_definition(graphs, name):
    _fname, _fmt, ns, label_preds, def_preds = SYSTEMS[name]
    g = graphs[name]
    problems = []
    for s in sorted(symbols(g, ns)):
        labels = [lab for p in label_preds for lab in english(g.objects(s, p))]
        defs = [d for p in def_preds for d in english(g.objects(s, p))]
        if len(labels) != 1:
            problems.append(f"{s}: {len(labels)} labels")
        if not defs:
            problems.append(f"{s}: no definition")
    assert not problems, "\n".join(problems)


def test_owl_has_expected_kinds(graphs):
    from rdflib import OWL

    g = graphs["tort-owl"]
    syms = symbols(g, OWL_NS)
    kinds = Counter()
    for s in syms:
        for t in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.NamedIndividual):
            if (s, RDF.type, t) in g:
                kinds[t] += 1
    assert kinds[OWL.Class] >= 30
    assert kinds[OWL.ObjectProperty] >= 3
    assert kinds[OWL.DatatypeProperty] >= 2
    assert kinds[OWL.NamedIndividual] >= 3
    assert len(list(g.subject_objects(OWL.disjointWith))) >= 3
    assert (URIRef(OWL_NS + "DonoghueVStevenson"), RDF.type, OWL.NamedIndividual) in g
    # Both definition styles are in use.
    assert any(True for _ in g.triples((None, SKOS.definition, None)))
    assert any(True for _ in g.triples((None, IAO_DEFINITION, None)))


def test_dead_symbol_present_and_isolated(graphs, alignment):
    g = graphs["tort-owl"]
    dead = URIRef(DEAD_SYMBOL)
    assert str(g.value(dead, RDFS.label)) == "Misc Entry Seventeen"
    # Nothing points at it and it points at nothing in the namespace.
    assert not list(g.subject_predicates(dead))
    assert not [o for o in g.objects(dead, None) if str(o).startswith(OWL_NS)]
    assert all(DEAD_SYMBOL not in (r["subject_id"], r["object_id"]) for r in alignment)


def test_skos_structure(graphs):
    g = graphs["negligence-skos"]
    concepts = set(g.subjects(RDF.type, SKOS.Concept))
    assert len(concepts) >= 40
    broader = set(g.subject_objects(SKOS.broader))
    narrower = {(o, s) for s, o in g.subject_objects(SKOS.narrower)}
    assert broader == narrower
    related = set(g.subject_objects(SKOS.related))
    assert all((o, s) in related for s, o in related)
    assert all(list(g.objects(c, SKOS.altLabel)) for c in concepts)
    assert all(list(g.objects(c, SKOS.inScheme)) for c in concepts)


def test_kg_has_inline_context_and_rules(graphs):
    doc = json.loads((ONTOLOGIES / "liability-kg.jsonld").read_text(encoding="ascii"))
    assert isinstance(doc["@context"], dict), "context must be inline, not remote"
    g = graphs["liability-kg"]
    rules = set(g.subjects(RDF.type, URIRef(KG_NS + "Rule")))
    assert len(rules) >= 5
    for r in rules:
        assert english(g.objects(r, URIRef(KG_NS + "if"))), r
        assert english(g.objects(r, URIRef(KG_NS + "then"))), r


def test_alignment_iris_exist(graphs, alignment):
    known = {}
    for name, (_f, _fmt, ns, *_r) in SYSTEMS.items():
        for s in symbols(graphs[name], ns):
            known[str(s)] = name
    assert alignment, "empty alignment"
    for row in alignment:
        assert set(row) == {"subject_id", "predicate_id", "object_id", "comment"}
        assert row["predicate_id"] in ALLOWED_PREDICATES, row
        for key in ("subject_id", "object_id"):
            assert row[key] in known, f"unknown IRI {row[key]}"
        assert known[row["subject_id"]] != known[row["object_id"]], row
        assert row["comment"].strip(), row


def test_alignment_has_no_duplicates_or_conflicts(alignment):
    pairs = Counter(frozenset((r["subject_id"], r["object_id"])) for r in alignment)
    assert not [p for p, n in pairs.items() if n > 1]


def test_duty_of_care_triangle_is_exact(alignment):
    exact = {frozenset((r["subject_id"], r["object_id"])) for r in alignment if r["predicate_id"] == "skos:exactMatch"}
    a, b, c = DUTY_OF_CARE
    assert frozenset((a, b)) in exact
    assert frozenset((a, c)) in exact
    assert frozenset((b, c)) in exact


def test_each_system_has_unique_symbols(graphs, alignment):
    exact_ids = {r[k] for r in alignment if r["predicate_id"] == "skos:exactMatch" for k in ("subject_id", "object_id")}
    for name, (_f, _fmt, ns, *_r) in SYSTEMS.items():
        unique = {str(s) for s in symbols(graphs[name], ns)} - exact_ids
        assert len(unique) >= 5, name
