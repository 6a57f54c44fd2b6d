"""Loading real files of every format into their own named graphs; bad files change nothing."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgalign.errors import LoadError, UsageError
from kgalign.store import terms
from kgalign.symbolic.loaders import default_graph_name, load_file
from kgalign.symbolic.store import OxigraphStore
from kgalign.symbolic.symbols import read_symbols
from kgalign.symbolic.vocab import JOURNAL_GRAPH, PROVENANCE_GRAPH, STAGING_PREFIX, graph_iri

from .conftest import BROKEN, DATA

BASE_GRAPHS = {PROVENANCE_GRAPH, JOURNAL_GRAPH}

ZOO_FORMATS = {"zoo.ttl": "turtle", "zoo.nt": "ntriples", "zoo.rdf": "rdfxml", "zoo.jsonld": "jsonld"}


def graph_triples(store: OxigraphStore, name: str) -> set[tuple[str, str, str]]:
    return {(str(q.subject), str(q.predicate), str(q.object)) for q in store.quads(graph=graph_iri(name))}


def file_triples(path: Path, fmt: ox.RdfFormat) -> set[tuple[str, str, str]]:
    return {(str(q.subject), str(q.predicate), str(q.object)) for q in ox.parse(path=path, format=fmt)}


def named_graphs(store: OxigraphStore) -> set[str]:
    return {g.value for g in store._store.named_graphs()}


@pytest.mark.parametrize(("file", "fmt"), sorted(ZOO_FORMATS.items()))
def test_each_format_loads_into_its_own_graph_with_provenance(store: OxigraphStore, file: str, fmt: str) -> None:
    path = DATA / file
    before = datetime.now(timezone.utc) - timedelta(seconds=2)
    report = load_file(store, path, name="zoo")
    info = report.info
    assert not report.replaced
    assert (info.name, info.iri, info.format, info.source) == ("zoo", "urn:kgalign:graph:zoo", fmt, str(path))
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.triples == 44 == store.count(info.iri)
    assert info.base_iri == path.resolve().as_uri()
    assert before <= datetime.fromisoformat(info.loaded_at) <= datetime.now(timezone.utc)
    # What is stored is what the provenance graph says.
    assert store.graphs() == [info]
    assert named_graphs(store) == {info.iri, *BASE_GRAPHS}


def test_the_four_serialisations_of_one_ontology_give_the_same_graph_and_symbols(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "store")
    for file in ZOO_FORMATS:
        load_file(store, DATA / file, name=file.replace(".", "-"))
    triples = {file: graph_triples(store, file.replace(".", "-")) for file in ZOO_FORMATS}
    assert all(t == triples["zoo.ttl"] for t in triples.values())
    symbols = {
        file: [(s.iri, s.kind, s.label, s.alt_labels, s.definitions, s.parents) for s in read_symbols(store, file.replace(".", "-"))]
        for file in ZOO_FORMATS
    }
    assert all(s == symbols["zoo.ttl"] for s in symbols.values())
    assert [g.name for g in store.graphs()] == ["zoo-jsonld", "zoo-nt", "zoo-rdf", "zoo-ttl"]


def test_declared_prefixes_are_kept_per_artefact(store: OxigraphStore) -> None:
    load_file(store, DATA / "zoo.ttl")
    load_file(store, DATA / "pizza-mini.owx")
    assert store.prefixes("zoo")["zoo"] == "http://example.org/zoo#"
    assert store.prefixes("pizza-mini") == {
        "": "http://example.org/pizza#",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    }


@pytest.mark.parametrize("file", ["people.nq", "people.trig", "people.jsonld"])
def test_dataset_formats_merge_every_graph_into_the_artefact_graph(store: OxigraphStore, file: str) -> None:
    """N-Quads/TriG/JSON-LD: the default graph and each named graph all go into the artefact's graph."""
    info = load_file(store, DATA / file, name="people").info
    kg = "http://example.org/kg/"
    assert info.triples == 6  # 7 quads, one triple stated in two graphs
    assert (f"<{kg}alice>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"Alice"') in graph_triples(store, "people")
    assert (f"<{kg}alice>", f"<{kg}knows>", f"<{kg}bob>") in graph_triples(store, "people")
    # No graph of the file leaks into the store as a graph of its own...
    assert named_graphs(store) == {info.iri, *BASE_GRAPHS}
    # ...but their names are kept in the provenance.
    assert info.source_graphs == (f"{kg}graph/names", f"{kg}graph/social")
    assert store.graphs()[0].source_graphs == info.source_graphs


def test_obo_and_owlxml_load_through_their_converters(store: OxigraphStore) -> None:
    obo = load_file(store, DATA / "cell.obo").info
    owx = load_file(store, DATA / "pizza-mini.owx").info
    assert (obo.name, obo.format, obo.triples) == ("cell", "obo", 33)
    assert (owx.name, owx.format, owx.triples) == ("pizza-mini", "owlxml", 13)
    labels = {s.label for s in read_symbols(store, "cell")}
    assert {"cell", "neuron", "motor neuron", "part of", "neuron 42"} <= labels


def test_format_from_content_and_override(store: OxigraphStore, tmp_path: Path) -> None:
    no_ext = tmp_path / "zoo-without-extension"
    shutil.copy(DATA / "zoo.ttl", no_ext)
    assert load_file(store, no_ext).info.format == "turtle"
    # A Turtle file misnamed .nt fails as N-Triples (with a hint), and loads with the format given.
    with pytest.raises(LoadError, match="pass --format turtle"):
        load_file(store, BROKEN / "turtle-in.nt")
    assert load_file(store, BROKEN / "turtle-in.nt", format="turtle").info.triples == 44


def test_graph_names_default_to_the_file_stem_and_are_checked(store: OxigraphStore, tmp_path: Path) -> None:
    assert default_graph_name(Path("/x/Conference.owl")) == "Conference"
    assert default_graph_name(Path("/x/zoo.v2.ttl")) == "zoo"
    with pytest.raises(UsageError, match="invalid graph name"):
        load_file(store, DATA / "zoo.ttl", name="has space")
    with pytest.raises(UsageError):
        load_file(store, DATA / "zoo.ttl", name="x> } DROP ALL")
    assert store.graphs() == []


def test_loading_again_replaces_the_graph_exactly(store: OxigraphStore, tmp_path: Path) -> None:
    v1 = load_file(store, DATA / "zoo.ttl", name="zoo").info
    # Version 2: one class removed, one added, a label changed.
    text = (DATA / "zoo.nt").read_text()
    kept = [ln for ln in text.splitlines() if "ZooKeeper" not in ln and "PC_member" not in ln]
    kept = [ln.replace('"mammal"@en', '"mammal (updated)"@en') for ln in kept]
    kept.append('<http://example.org/zoo#Reptile> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
                '<http://www.w3.org/2002/07/owl#Class> .')
    v2_path = tmp_path / "zoo-v2.nt"
    v2_path.write_text("\n".join(kept) + "\n")
    report = load_file(store, v2_path, name="zoo")
    v2 = report.info
    assert report.replaced
    assert graph_triples(store, "zoo") == file_triples(v2_path, ox.RdfFormat.N_TRIPLES)
    assert v2.triples == store.count(v2.iri) == len(kept) != v1.triples
    assert store.graphs() == [v2]
    assert named_graphs(store) == {v2.iri, *BASE_GRAPHS}  # the staging graph is gone
    labels = {s.local_name: s.label for s in read_symbols(store, "zoo")}
    assert labels["Mammal"] == "mammal (updated)" and "Reptile" in labels and "ZooKeeper" not in labels


def test_reloading_an_ontology_with_blank_nodes(store: OxigraphStore) -> None:
    """Blank nodes get fresh ids on every parse: a reload must not keep the old ones."""
    first = load_file(store, DATA / "zoo.ttl", name="zoo").info
    owl = DATA / "restrictions.ttl"
    info = load_file(store, owl, name="zoo").info
    again = load_file(store, owl, name="zoo").info
    assert first.triples != info.triples == again.triples == store.count(info.iri) == len(
        file_triples(owl, ox.RdfFormat.TURTLE)
    )
    blank_subjects = {q.subject for q in store.quads(graph=info.iri) if isinstance(q.subject, terms.BlankNode)}
    assert len(blank_subjects) == 2


def test_each_artefact_keeps_its_own_graph(store: OxigraphStore) -> None:
    load_file(store, DATA / "zoo.ttl", name="a")
    load_file(store, DATA / "cell.obo", name="b")
    load_file(store, DATA / "zoo.ttl", name="a")
    assert [(g.name, g.triples) for g in store.graphs()] == [("a", 44), ("b", 33)]
    store.drop_artefact("a")
    assert [g.name for g in store.graphs()] == ["b"]
    assert named_graphs(store) == {graph_iri("b"), *BASE_GRAPHS}


# -- bad input ------------------------------------------------------------------------------

#: file -> (line, column, words of the message); positions checked by hand against the files.
BROKEN_FILES = {
    "unterminated-string.ttl": (4, 15, "Unexpected end of file"),
    "missing-dot.ttl": (4, 1, "A dot is expected at the end of statements"),
    "undeclared-prefix.ttl": (2, 14, "The prefix owl: has not been declared"),
    "missing-object.nt": (2, 47, "The object of a triple must be an IRI, a blank node or a literal"),
    "five-terms.nq": (2, 93, "Quads must be followed by a dot"),
    "mismatched-tag.rdf": (5, 25, "not well-formed XML: mismatched tag"),
    "truncated.rdf": (39, 3, "not well-formed XML: no element found"),
    "no-namespace.rdf": (4, 5, "XML namespaces are required in RDF/XML"),
    "bad-iri.rdf": (4, 31, "Invalid IRI code point ' '"),
    "download-error-page.owl": (2, 1, "this is an HTML page, not RDF: a failed download?"),
    "trailing-comma.jsonld": (5, 1, "Trailing commas are not allowed"),
    "unquoted-def.obo": (6, 6, "def value must start with a quoted string"),
    "term-without-id.obo": (4, 1, "tag 'name' before the stanza's id"),
    "not-an-ontology.owx": (2, 1, "not OWL/XML: the root element is <Document>"),
    "turtle-in.nt": (2, 1, "parsed as ntriples from the extension, but the content looks like turtle"),
    "json-in.ttl": (1, 1, "the content looks like jsonld: pass --format jsonld"),
    "empty.ttl": (None, None, "empty file: nothing to load"),
    "zero-triples.ttl": (None, None, "no triples: the turtle file parsed but holds nothing to load"),
}


def test_every_broken_file_is_covered() -> None:
    assert {p.name for p in BROKEN.iterdir()} == set(BROKEN_FILES)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    """A store already holding good data (including a graph named 'zoo').

    Shared by the bad-input tests: each checks that its failed load left it exactly as it was.
    """
    store = OxigraphStore(tmp_path_factory.mktemp("loaded") / "store")
    load_file(store, DATA / "zoo.ttl", name="zoo")
    load_file(store, DATA / "people.nq")
    yield store
    store.close()


@pytest.mark.parametrize("as_name", [None, "zoo"], ids=["new-graph", "replacing-zoo"])
@pytest.mark.parametrize("file", sorted(BROKEN_FILES))
def test_a_bad_file_gives_one_clear_error_and_leaves_the_store_exactly_as_before(
    loaded: OxigraphStore, file: str, as_name: str | None
) -> None:
    line, column, words = BROKEN_FILES[file]
    path = BROKEN / file
    before = loaded.snapshot()
    with pytest.raises(LoadError) as e:
        load_file(loaded, path, name=as_name)
    err = e.value
    assert (err.path, err.line, err.column) == (str(path), line, column)
    assert words in err.message
    where = f"{path}:{line}:{column}: " if line is not None else f"{path}: "
    assert str(err).startswith(where)
    assert "\n" not in str(err) and "Traceback" not in str(err)
    assert loaded.snapshot() == before


@pytest.mark.parametrize(
    ("content", "suffix", "words", "position"),
    [
        (gzip.compress(b"@prefix ex: <http://e/> . ex:a ex:b ex:c ."), ".ttl", "gzip-compressed data", (1, 1)),
        (b"PK\x03\x04\x14\x00\x00\x00", ".owl", "a ZIP archive", (1, 1)),
        (b"<http://a> <http://b> <http://c> .\n\x00\x01\x02\xff", ".nt", "binary data", (2, 1)),
        (b"\xff\xfe\x00\x00junk", ".rdf", "not well-formed XML", None),
        (b" \n\t\n", ".ttl", "only white space", (None, None)),
        (os.urandom(0), ".nt", "empty file", (None, None)),
    ],
)
def test_junk_is_refused_cleanly(
    loaded: OxigraphStore, tmp_path: Path, content: bytes, suffix: str, words: str, position: tuple | None
) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(content)
    before = loaded.snapshot()
    with pytest.raises(LoadError) as e:
        load_file(loaded, path, name="zoo")
    assert words in e.value.message
    if position is not None:
        assert (e.value.line, e.value.column) == position
    assert loaded.snapshot() == before


def test_missing_file_and_directory(loaded: OxigraphStore, tmp_path: Path) -> None:
    before = loaded.snapshot()
    with pytest.raises(LoadError, match="no such file"):
        load_file(loaded, tmp_path / "nope.ttl")
    with pytest.raises(LoadError, match="is a directory"):
        load_file(loaded, tmp_path)
    assert loaded.snapshot() == before


def test_no_staging_graph_or_journal_entry_survives_a_failed_load(loaded: OxigraphStore) -> None:
    with pytest.raises(LoadError):
        load_file(loaded, BROKEN / "unterminated-string.ttl", name="zoo")
    assert not any(g.startswith(STAGING_PREFIX) for g in named_graphs(loaded))
    assert loaded.hidden_graphs() == set()
    assert not bool(loaded.query("ASK { GRAPH ?g { ?x a kga:PendingWrite } }"))
