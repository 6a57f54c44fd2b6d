"""The Symbol model on real ontologies: kinds, labels, synonyms, definitions, parents, children.

Expected counts are computed independently with rdflib (from the files, not the store), and a
few are hard numbers checked by hand.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, URIRef

from kgalign.symbolic.loaders import load_file
from kgalign.symbolic.store import OxigraphStore
from kgalign.symbolic.symbols import (
    KINDS,
    Symbol,
    derive_label,
    name_key,
    normalise,
    read_symbols,
    split_words,
)

from .conftest import DATA, OAEI_ONTOLOGIES, REPO

STANDARD = (str(RDF), str(RDFS), str(OWL), "http://www.w3.org/2001/XMLSchema#", str(SKOS))


def rdflib_kinds(path: Path, fmt: str) -> Counter[str]:
    """Symbols per kind, counted with rdflib by the rules kgalign documents (most specific kind wins)."""
    g = rdflib.Graph()
    g.parse(path, format=fmt)

    def own(nodes) -> set[URIRef]:
        return {n for n in nodes if isinstance(n, URIRef) and not str(n).startswith(STANDARD)}

    def typed(*types: URIRef) -> set[URIRef]:
        return own(s for t in types for s in g.subjects(RDF.type, t))

    by_kind = {
        "concept": typed(SKOS.Concept),
        "class": typed(OWL.Class, RDFS.Class) | own(g.subjects(RDFS.subClassOf)) | own(g.objects(None, RDFS.subClassOf)),
        "object_property": typed(OWL.ObjectProperty, OWL.TransitiveProperty, OWL.SymmetricProperty,
                                 OWL.InverseFunctionalProperty),
        "data_property": typed(OWL.DatatypeProperty),
        "annotation_property": typed(OWL.AnnotationProperty),
        "property": typed(RDF.Property, OWL.FunctionalProperty),
        "individual": typed(OWL.NamedIndividual) | own(
            s for s, t in g.subject_objects(RDF.type) if t == OWL.Thing or not str(t).startswith(STANDARD)
        ),
    }
    counts: Counter[str] = Counter()
    taken: set[URIRef] = set()
    for kind in ("concept", "class", "object_property", "data_property", "annotation_property", "property", "individual"):
        counts[kind] = len(by_kind[kind] - taken)
        taken |= by_kind[kind]
    return +counts


def kinds_of(symbols: list[Symbol]) -> Counter[str]:
    return Counter(s.kind for s in symbols)


# -- label derivation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "label"),
    [
        ("Regular_author", "regular author"),
        ("hasSubjectArea", "has subject area"),
        ("PC_member", "PC member"),
        ("PCMember", "PC member"),
        ("Contribution_1th-author", "contribution 1th author"),
        ("Meta-Reviewer", "meta reviewer"),
        ("c0101", "c 0101"),
        ("already spaced", "already spaced"),
        ("___", "___"),
    ],
)
def test_derive_label(local: str, label: str) -> None:
    assert derive_label(local) == label


def test_split_words_normalise_and_name_key() -> None:
    assert split_words("ProgramCommitteeMember") == ["Program", "Committee", "Member"]
    assert normalise("Program_committee") == normalise("ProgramCommittee") == "program committee"
    assert name_key("Program_committee") == name_key("PROGRAM-COMMITTEE") == name_key("pRoGrAm CoMmItTeE")
    assert name_key("İstanbul") == name_key("i̇STANBUL".lower()) and name_key("ı") == name_key("I")


# -- the zoo: every kind, every kind of label ----------------------------------------------


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Symbol]:
    store = OxigraphStore(tmp_path_factory.mktemp("zoo") / "store")
    load_file(store, DATA / "zoo.ttl")
    symbols = {s.local_name: s for s in read_symbols(store, "zoo")}
    store.close()
    return symbols


def test_zoo_symbols_by_kind(zoo: dict[str, Symbol]) -> None:
    by_kind: dict[str, set[str]] = {}
    for s in zoo.values():
        by_kind.setdefault(s.kind, set()).add(s.local_name)
    assert by_kind == {
        "class": {"Animal", "Mammal", "Big_cat", "ZooKeeper", "PC_member"},
        "object_property": {"hasKeeper", "hasHeadKeeper"},  # ObjectProperty wins over FunctionalProperty
        "data_property": {"weightKg"},
        "annotation_property": {"curatorNote"},
        "individual": {"shere_khan", "baloo"},  # baloo only has a class of its own as type
        "concept": {"Habitat", "Savanna", "Jungle"},
    }
    # Neither the ontology IRI nor the concept scheme nor the datatype are symbols.
    assert rdflib_kinds(DATA / "zoo.ttl", "turtle") == kinds_of(list(zoo.values()))
    assert set(kinds_of(list(zoo.values()))) <= set(KINDS)


def test_zoo_labels_synonyms_and_definitions(zoo: dict[str, Symbol]) -> None:
    animal, mammal, big_cat = zoo["Animal"], zoo["Mammal"], zoo["Big_cat"]
    assert (animal.label, animal.alt_labels, animal.label_derived) == ("animal", ("Tier",), False)  # English first
    assert animal.definition == "A living organism that feeds on organic matter."  # skos:definition
    assert mammal.alt_labels == ("mammalian",)  # skos:altLabel
    assert mammal.definitions == ("A warm-blooded vertebrate animal.",)  # IAO:0000115
    assert (big_cat.label, big_cat.label_derived) == ("big cat", True)
    assert big_cat.alt_labels == ("panthera", "wild cat")  # oboInOwl exact, then related synonyms
    assert big_cat.definitions == ("A large wild cat.",)  # rdfs:comment
    assert big_cat.names == ("big cat", "panthera", "wild cat")
    assert zoo["Habitat"].label == "habitat" and zoo["Habitat"].alt_labels == ("biotope",)  # skos:prefLabel
    assert zoo["shere_khan"].label == "Shere Khan"
    assert zoo["PC_member"].label == "PC member" and zoo["ZooKeeper"].label == "zoo keeper"


def test_zoo_parents_and_children(zoo: dict[str, Symbol]) -> None:
    z = "http://example.org/zoo#"
    assert zoo["Mammal"].parents == (z + "Animal",) and zoo["Mammal"].children == (z + "Big_cat",)
    assert zoo["Animal"].parents == () and zoo["Animal"].children == (z + "Mammal",)
    assert zoo["hasHeadKeeper"].parents == (z + "hasKeeper",)  # rdfs:subPropertyOf
    assert zoo["hasKeeper"].children == (z + "hasHeadKeeper",)
    # skos:broader and skos:narrower both make parents and children.
    assert zoo["Savanna"].parents == (z + "Habitat",) and zoo["Jungle"].parents == (z + "Habitat",)
    assert set(zoo["Habitat"].children) == {z + "Savanna", z + "Jungle"}
    assert zoo["hasKeeper"].domains == (z + "Animal",) and zoo["hasKeeper"].ranges == (z + "ZooKeeper",)
    assert zoo["shere_khan"].types == (z + "Big_cat",)


def test_symbol_to_dict_round_trips_the_fields(zoo: dict[str, Symbol]) -> None:
    d = zoo["Big_cat"].to_dict()
    assert d["label"] == "big cat" and d["alt_labels"] == ["panthera", "wild cat"] and d["kind"] == "class"
    def back(v):  # JSON lists back to tuples (synonyms are (scope, text) pairs)
        return tuple(back(x) for x in v) if isinstance(v, list) else v

    assert Symbol(**{k: back(v) for k, v in d.items()}) == zoo["Big_cat"]


# -- the OAEI Conference ontologies -------------------------------------------------------


def test_all_seven_oaei_conference_ontologies_load(oaei_store: OxigraphStore, oaei_dir: Path) -> None:
    infos = {g.name: g for g in oaei_store.graphs()}
    assert sorted(infos) == sorted(OAEI_ONTOLOGIES)
    for name, info in infos.items():
        assert info.format == "rdfxml" and info.source == str(oaei_dir / f"{name}.owl")
        assert info.triples == oaei_store.count(info.iri) == len(rdflib.Graph().parse(oaei_dir / f"{name}.owl", format="xml"))


@pytest.mark.parametrize("name", OAEI_ONTOLOGIES)
def test_oaei_symbol_counts_per_kind_match_rdflib(oaei_store: OxigraphStore, oaei_dir: Path, name: str) -> None:
    assert kinds_of(read_symbols(oaei_store, name)) == rdflib_kinds(oaei_dir / f"{name}.owl", "xml")


def test_oaei_hard_numbers(oaei_store: OxigraphStore) -> None:
    # cmt.owl declares 88 named things with rdf:ID (grep -c 'rdf:ID=' cmt.owl): 29 classes,
    # 49 object properties and 10 datatype properties, and no individuals.
    assert kinds_of(read_symbols(oaei_store, "cmt")) == Counter(
        {"class": 29, "object_property": 49, "data_property": 10}
    )
    assert kinds_of(read_symbols(oaei_store, "Conference")) == Counter(
        {"class": 59, "object_property": 46, "data_property": 18}
    )
    edas = kinds_of(read_symbols(oaei_store, "edas"))
    assert edas["individual"] == 114 and edas["class"] == 103


def test_oaei_known_symbols(oaei_store: OxigraphStore) -> None:
    conference = {s.local_name: s for s in read_symbols(oaei_store, "Conference")}
    ra = conference["Regular_author"]
    assert (ra.iri, ra.graph, ra.kind) == ("http://conference#Regular_author", "Conference", "class")
    assert (ra.label, ra.label_derived) == ("regular author", True)
    assert ra.parents == ("http://conference#Conference_contributor",)
    assert set(ra.children) == {"http://conference#Contribution_1th-author", "http://conference#Contribution_co-author"}

    cmt = {s.local_name: s for s in read_symbols(oaei_store, "cmt")}
    assert set(cmt["Author"].parents) == {"http://cmt#User", "http://cmt#ConferenceMember"}
    assert set(cmt["Author"].children) == {"http://cmt#Co-author", "http://cmt#AuthorNotReviewer"}
    assert cmt["Meta-Reviewer"].parents == ("http://cmt#Reviewer",)
    assert cmt["Meta-Reviewer"].definition.startswith("A special type of Reviewer.")
    has_author = cmt["hasAuthor"]
    assert (has_author.kind, has_author.label) == ("object_property", "has author")
    assert (has_author.domains, has_author.ranges) == (("http://cmt#Paper",), ("http://cmt#Author",))
    assert "Regular_author" not in cmt  # cmt has Author, not Regular_author


# -- the demo systems ---------------------------------------------------------------------

DEMO = {"tort-owl.ttl": "turtle", "negligence-skos.ttl": "turtle", "liability-kg.jsonld": "json-ld"}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    files = [REPO / "ontologies" / f for f in DEMO]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"demo ontologies not present yet: {', '.join(missing)}")
    store = OxigraphStore(tmp_path_factory.mktemp("demo") / "store")
    for f in files:
        load_file(store, f)
    yield store
    store.close()


@pytest.mark.parametrize("file", sorted(DEMO))
def test_demo_systems_load_with_the_symbols_rdflib_finds(demo_store: OxigraphStore, file: str) -> None:
    name = file.split(".")[0]
    symbols = read_symbols(demo_store, name)
    assert kinds_of(symbols) == rdflib_kinds(REPO / "ontologies" / file, DEMO[file])
    assert all(s.label for s in symbols)


def test_demo_duty_of_care(demo_store: OxigraphStore) -> None:
    """The running example of ontologies/README.md: each system names the duty of care differently."""
    by_iri = {s.iri: s for g in ("tort-owl", "negligence-skos", "liability-kg") for s in read_symbols(demo_store, g)}
    owl = by_iri["https://example.org/tort/owl#DutyOfCare"]
    skos = by_iri["https://example.org/negligence/thesaurus/c0101"]
    kg = by_iri["https://example.org/liability/kg/careful_conduct_obligation"]
    assert (owl.kind, skos.kind) == ("class", "concept")
    assert all(s.definitions for s in (owl, skos, kg))
    assert skos.label_derived is False  # opaque local name, real prefLabel
